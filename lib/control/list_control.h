// knockgate ctl's list commands against a running gateway: each goes to the
// worker that owns the address (or to every worker, for a print) through its
// control ring, so no control thread ever touches a shard.
#pragma once

#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "control/state_file.h"
#include "dataplane/dataplane.h"
#include "sync/sync_codec.h"

namespace knockgate {

// One list's entries, or every list's when `name` is empty, as RouterOS's
// `/ip firewall address-list print`: list, address, time left (or
// "none-dynamic", or "static" for [[address-list]] entries).
absl::StatusOr<std::string> ListPrint(const Dataplane& plane, absl::string_view name);

// Adds `address` to `name` for `timeout` (kNever: until removed).
absl::StatusOr<std::string> ListAdd(const Dataplane& plane, absl::string_view name,
                                    absl::string_view address, Nanos timeout);

// Takes `address` out of `name` at once; a static entry cannot be removed.
absl::StatusOr<std::string> ListRemove(const Dataplane& plane, absl::string_view name,
                                       absl::string_view address);

// Every dynamic entry of every list (or of the lists the state file saves),
// with its expiry as wall-clock time.
enum class ListSelection : uint8_t { kAll, kSaved };
absl::StatusOr<std::vector<StateEntry>> SnapshotLists(const Dataplane& plane, ListSelection which);

// Changes in wall-clock time, as the state file and [sync] carry them, each
// put into (or taken out of) its owner's shard, in chunks per worker; adds
// already expired and lists not configured are skipped. Events carry `origin`.
struct ApplyCounts {
  size_t applied = 0;
  size_t expired = 0;
  size_t unknown_list = 0;
};
absl::StatusOr<ApplyCounts> ApplyListChanges(const Dataplane& plane,
                                             std::span<const ListChange> changes,
                                             EventOrigin origin);

// Writes the saved lists' entries and the SPA replay digests to the state file at `path` atomically
// (state_file.h), with `comment` in its header; returns how many it holds.
absl::StatusOr<size_t> SaveStateFile(const Dataplane& plane, const std::string& path,
                                     const std::string& comment);

// Streams the state file at `path` back into the lists, each entry into its
// owner's shard with the time it has left. Only the lists' capacities bound
// what is held: past a list's capacity in a worker, the entries soonest to
// expire give way (counted). Expired entries and those of lists no longer
// configured are skipped. Nothing is applied unless the whole file parses
// (a DataLoss error names the line). Restored entries make no events.
struct RestoreCounts {
  size_t restored = 0;
  size_t expired = 0;
  size_t unknown_list = 0;
  size_t over_capacity = 0;
  size_t spa_digests = 0;  // accepted SPA messages that stay refused as replays
};
absl::StatusOr<RestoreCounts> RestoreStateFile(const Dataplane& plane, const std::string& path);

// One list's entries, page `page` of kPageSize, for telemetry.
struct ListPage {
  static constexpr size_t kPageSize = 128;
  size_t pages = 0;
  std::vector<std::string> addresses;
  std::vector<int64_t> remaining_s;  // -1: none-dynamic
  std::vector<std::string> statics;  // [[address-list]] prefixes (on page 0)
};
absl::StatusOr<ListPage> ListPageOf(const Dataplane& plane, absl::string_view name, size_t page);

}  // namespace knockgate
