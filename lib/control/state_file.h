// The state file: dynamic list entries with their absolute expiry, so grants
// and jails survive a restart. Text, versioned, one entry a line:
//
//   knockgate-state 1
//   # any comment line
//   LIST<TAB>ADDRESS<TAB>EXPIRY
//   !spa-replay<TAB>ADDRESS<TAB>EXPIRY<TAB>DIGEST
//
// EXPIRY is the wall-clock time (Unix nanoseconds) the entry leaves its list,
// or "never" (none-dynamic, and ctl adds without a timeout). A "!spa-replay"
// line (no list's name starts with "!") is an accepted SPA message's digest
// (64 hex digits), kept until EXPIRY by the owner of the grant's ADDRESS, so
// that a message captured before a restart cannot be replayed after it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/nanos.h"
#include "net/ip_address.h"

namespace knockgate {

struct StateEntry {
  std::string list;
  IpAddress address;
  Nanos expiry_wall = kNever;  // Unix nanoseconds, or kNever
};

struct StateDigest {
  std::array<uint8_t, 32> digest{};
  IpAddress address;
  Nanos expiry_wall = 0;  // Unix nanoseconds
};

inline constexpr char kStateMagic[] = "knockgate-state 1";
inline constexpr char kSpaReplayLine[] = "!spa-replay";

std::string FormatState(const std::vector<StateEntry>& entries,
                        const std::vector<StateDigest>& digests, const std::string& comment);

// Streams a state file, one entry at a time to `each`, holding no more of it
// than a line. Any line that does not parse (a foreign file, another version,
// a truncated last line) fails with "PATH:LINE: what was wrong", after `each`
// saw the lines before it: a caller keeps what it got until this returns ok.
using StateEntryFn =
    std::function<void(absl::string_view list, const IpAddress& address, Nanos expiry_wall)>;
using StateDigestFn = std::function<void(const StateDigest&)>;
absl::Status ReadState(std::istream& in, absl::string_view path, const StateEntryFn& each,
                       const StateDigestFn& digest = nullptr);

// The whole of `text`, all or nothing (ReadState on a string).
absl::StatusOr<std::vector<StateEntry>> ParseState(absl::string_view text, absl::string_view path);

// Writes `text` to a temporary file beside `path`, fsyncs it, renames it
// over `path` and fsyncs the directory: a crash leaves the old file or the new.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view text);

}  // namespace knockgate
