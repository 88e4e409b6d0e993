// RouterOS durations ("30s", "1h30m", "1d", "00:30:00", "none-dynamic") as nanoseconds.
// Timeouts travel as plain integers so the data path can add them to a TSC-derived clock.
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "common/nanos.h"

namespace knockgate {

// Parses a RouterOS duration. Units w, d, h, m, s and ms combine in any order
// ("1h30m", "1d2h"); a trailing "HH:MM:SS" adds to them ("1d00:30:00"); a bare
// number is seconds. "none-dynamic" yields kNever. Zero is rejected: a list
// entry that expires as it is added is never what the operator meant.
absl::StatusOr<Nanos> ParseDuration(absl::string_view text);

// Formats the way RouterOS prints timeouts: "30s", "1h30m", "none-dynamic".
std::string FormatDuration(Nanos d);

}  // namespace knockgate
