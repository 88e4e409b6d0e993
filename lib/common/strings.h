// Debian's Abseil 20220623 has its own absl::string_view, distinct from
// std::string_view: this is the one place the two meet (toml++ hands out std).
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace knockgate {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace knockgate
