// Turns TOML text into a Config, or one error naming FILE:LINE:COL: KEY.
// A pure function of its input, so every error class is tested from strings.
#pragma once

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "policy/model.h"

namespace knockgate {

// Parses and validates `text`; `path` only labels errors. Every key, value and
// cross-reference (layer7 names, family against addresses, ports against
// protocol) is checked here, so a Config that loads is whole.
absl::StatusOr<Config> LoadConfig(absl::string_view text, absl::string_view path);

// Reads the file and calls LoadConfig.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// The keys a [[filter]] table accepts (RouterOS's names, plus `family`).
const std::vector<absl::string_view>& FilterKeys();

}  // namespace knockgate
