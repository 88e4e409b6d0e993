// The config loader's front door: bounds on a file's size and nesting checked
// by a plain scan before toml++ sees it. toml++ recurses once per dotted-key
// segment, so a key 50,000 segments deep (100 KB) overflowed the stack.
#pragma once

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/read_file.h"

namespace knockgate {

inline constexpr size_t kMaxConfigBytes = kMaxInputFileBytes;
// Dotted-key segments, table-header segments, and arrays or inline tables
// inside one another.
inline constexpr int kMaxConfigDepth = 32;

// OK, or an error "PATH:LINE:COL: KEY: ..." for the first bound `text`
// breaks. Does not validate TOML: what it lets through, toml++ judges.
absl::Status CheckConfigShape(absl::string_view text, absl::string_view path);

}  // namespace knockgate
