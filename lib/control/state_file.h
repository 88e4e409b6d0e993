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

// All or nothing: any line that does not parse (a foreign file, another
// version, a truncated last line) fails the whole file with
// "PATH:LINE: what was wrong".
absl::StatusOr<std::vector<StateEntry>> ParseState(absl::string_view text, absl::string_view path);

// Writes `text` to a temporary file beside `path`, fsyncs it, renames it
// over `path` and fsyncs the directory: a crash leaves the old file or the new.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view text);

}  // namespace knockgate
