// RouterOS script (.rsc) → knockgate TOML, for operators bringing a MikroTik
// firewall over. Anything it cannot express is an error, never dropped.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace knockgate {

// Translates `/ip firewall filter`, `/ip firewall layer7-protocol`,
// `/ip firewall address-list` and their `/ipv6` forms (menu lines followed by
// `add` lines, or `/menu add ...` on one line, with `/` or spaces in the
// menu path), `\` continuations, quoted values with RouterOS escapes and
// `#` comments. Errors read "PATH:LINE: WORD: why". The result is checked
// with LoadConfig before it is returned.
absl::StatusOr<std::string> ImportRouterOs(absl::string_view text, absl::string_view path);

}  // namespace knockgate
