// RouterOS duration grammar: [N unit]... [HH:MM:SS], or a bare number of seconds.
// Kept separate from the loader so the importer can share it.
#include "policy/duration.h"

#include <cctype>

#include "absl/strings/str_cat.h"

namespace knockgate {
namespace {

absl::Status Invalid(absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", text,
      "\" is not a duration (e.g. \"30s\", \"30m\", \"1h30m\", \"1d\", \"1w\", \"00:30:00\", "
      "\"none-dynamic\")"));
}

// Reads digits at `pos`; false if there are none or the value overflows.
bool ReadNumber(absl::string_view s, size_t& pos, uint64_t& out) {
  const size_t start = pos;
  out = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
    if (out > 1'000'000'000ULL) {
      return false;
    }
    out = out * 10 + static_cast<uint64_t>(s[pos] - '0');
    ++pos;
  }
  return pos > start;
}

}  // namespace

absl::StatusOr<Nanos> ParseDuration(absl::string_view text) {
  if (text == "none-dynamic" || text == "none-static") {
    return kNever;
  }
  if (text.empty()) {
    return Invalid(text);
  }
  // Whole seconds are accumulated in a wide type, milliseconds separately.
  unsigned __int128 total_ms = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    uint64_t n = 0;
    const size_t num_start = pos;
    if (!ReadNumber(text, pos, n)) {
      return Invalid(text);
    }
    if (pos == text.size()) {
      if (num_start != 0) {
        return Invalid(text);  // "30s5": a unit is missing
      }
      // A bare number is seconds ("30"), as RouterOS reads it.
      total_ms += static_cast<unsigned __int128>(n) * 1000;
      break;
    }
    if (text[pos] == ':') {
      // HH:MM:SS must be the last part.
      uint64_t hh = n, mm = 0, ss = 0;
      pos = num_start;
      ReadNumber(text, pos, hh);
      if (pos >= text.size() || text[pos] != ':') {
        return Invalid(text);
      }
      ++pos;
      if (!ReadNumber(text, pos, mm) || pos >= text.size() || text[pos] != ':') {
        return Invalid(text);
      }
      ++pos;
      if (!ReadNumber(text, pos, ss) || pos != text.size() || mm > 59 || ss > 59) {
        return Invalid(text);
      }
      total_ms += static_cast<unsigned __int128>(hh * 3600 + mm * 60 + ss) * 1000;
      break;
    }
    uint64_t unit_ms = 0;
    if (text.substr(pos, 2) == "ms") {
      unit_ms = 1;
      pos += 2;
    } else {
      switch (text[pos]) {
        case 'w':
          unit_ms = 7ULL * 24 * 3600 * 1000;
          break;
        case 'd':
          unit_ms = 24ULL * 3600 * 1000;
          break;
        case 'h':
          unit_ms = 3600ULL * 1000;
          break;
        case 'm':
          unit_ms = 60ULL * 1000;
          break;
        case 's':
          unit_ms = 1000;
          break;
        default:
          return Invalid(text);
      }
      ++pos;
    }
    total_ms += static_cast<unsigned __int128>(n) * unit_ms;
  }
  // Anything beyond ~100 years is a typo, not a timeout.
  constexpr uint64_t kMaxMs = 100ULL * 365 * 24 * 3600 * 1000;
  if (total_ms == 0 || total_ms > kMaxMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": a timeout must be more than 0 and at most 100 years"));
  }
  return static_cast<Nanos>(total_ms) * 1'000'000ULL;
}

std::string FormatDuration(Nanos d) {
  if (d == kNever) {
    return "none-dynamic";
  }
  uint64_t ms = d / 1'000'000ULL;
  std::string out;
  const struct {
    uint64_t ms;
    const char* unit;
  } kUnits[] = {{7ULL * 86400000, "w"}, {86400000, "d"}, {3600000, "h"},
                {60000, "m"},           {1000, "s"},     {1, "ms"}};
  for (const auto& u : kUnits) {
    if (ms >= u.ms) {
      absl::StrAppend(&out, ms / u.ms, u.unit);
      ms %= u.ms;
    }
  }
  return out.empty() ? "0s" : out;
}

}  // namespace knockgate
