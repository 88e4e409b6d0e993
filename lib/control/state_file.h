// The state file: dynamic list entries with their absolute expiry, so grants
// and jails survive a restart. Text, versioned, one entry a line:
//
//   knockgate-state 1
//   # any comment line
//   LIST<TAB>ADDRESS<TAB>EXPIRY
//
// EXPIRY is the wall-clock time (Unix nanoseconds) the entry leaves its list,
// or "never" (none-dynamic, and ctl adds without a timeout).
#pragma once

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

inline constexpr char kStateMagic[] = "knockgate-state 1";

std::string FormatState(const std::vector<StateEntry>& entries, const std::string& comment);

// Streams a state file, one entry at a time to `each`, holding no more of it
// than a line. Any line that does not parse (a foreign file, another version,
// a truncated last line) fails with "PATH:LINE: what was wrong", after `each`
// saw the lines before it: a caller keeps what it got until this returns ok.
using StateEntryFn =
    std::function<void(absl::string_view list, const IpAddress& address, Nanos expiry_wall)>;
absl::Status ReadState(std::istream& in, absl::string_view path, const StateEntryFn& each);

// The whole of `text`, all or nothing (ReadState on a string).
absl::StatusOr<std::vector<StateEntry>> ParseState(absl::string_view text, absl::string_view path);

// Writes `text` to a temporary file beside `path`, fsyncs it, renames it
// over `path` and fsyncs the directory: a crash leaves the old file or the new.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view text);

}  // namespace knockgate
