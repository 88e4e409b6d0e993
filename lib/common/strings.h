// Debian's Abseil 20220623 has its own absl::string_view, distinct from
// std::string_view: this is the one place the two meet (toml++ hands out std).
// And the one way a piece of a hostile file is quoted in an error line.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace knockgate {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// `s` as it can stand in a one-line message: bytes outside printable ASCII
// as \xNN, at most `max` characters of the original, then "...".
inline std::string Excerpt(absl::string_view s, size_t max = 40) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) {
    out += "...";
  }
  return out;
}

}  // namespace knockgate
