// [sync]'s text: Redis keys and pub/sub messages, and the expiry arithmetic
// between wall-clock nanoseconds and the Unix milliseconds Redis keeps.
// Pure: no Redis here, so every rule of the format has a unit test.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/nanos.h"
#include "net/ip_address.h"

namespace knockgate {

// A list change in wall-clock time: an add (with its expiry) or a removal,
// as the state file, knockgate ctl and [sync] carry them.
struct ListChange {
  std::string list;
  IpAddress address;
  Nanos expiry_wall = kNever;  // Unix ns; kNever: no timeout
  bool remove = false;
  // When the change was made (Unix ns; 0: not known, older than any): a
  // fleet keeps the last writer's word, a removal's against an add's.
  Nanos changed_wall = 0;
};

// One shared-list change as the gateways tell each other:
// "add|del LIST ADDRESS EXPIRY_MS NODE CHANGED_MS".
struct SyncMessage {
  bool remove = false;
  std::string list;
  IpAddress address;
  int64_t expiry_ms = 0;   // Unix ms; 0: no timeout
  std::string node;        // the gateway it started on
  int64_t changed_ms = 0;  // Unix ms of the change (0 from gateways before tombstones)
};

// PREFIX:e:LIST:ADDRESS, the address as RFC 5952 text: an entry, holding
// "EXPIRY_MS CHANGED_MS" (EntryValue), expiring with the entry.
std::string EntryKey(absl::string_view prefix, absl::string_view list, const IpAddress& address);
// PREFIX:t:LIST:ADDRESS: a tombstone, holding the removal's Unix ms, kept at
// least as long as any entry it could cancel.
std::string TombstoneKey(absl::string_view prefix, absl::string_view list,
                         const IpAddress& address);
// The list and address of a key EntryKey (or TombstoneKey, with `kind` 't')
// made; an error for anything else.
absl::StatusOr<std::pair<std::string, IpAddress>> ParseEntryKey(absl::string_view prefix,
                                                                absl::string_view key,
                                                                char kind = 'e');
// The SCAN pattern of every entry key (or tombstone key) under `prefix`.
std::string EntryPattern(absl::string_view prefix, char kind = 'e');

// An entry key's value: "EXPIRY_MS CHANGED_MS" (a bare "EXPIRY_MS", from
// gateways before tombstones, reads as changed at 0).
struct EntryValue {
  int64_t expiry_ms = 0;
  int64_t changed_ms = 0;
};
absl::StatusOr<EntryValue> ParseEntryValue(absl::string_view text);
// PREFIX:events, the pub/sub channel.
std::string EventsChannel(absl::string_view prefix);

std::string EncodeMessage(const SyncMessage& m);
absl::StatusOr<SyncMessage> ParseMessage(absl::string_view text);

// Wall-clock expiry (Unix ns, kNever: none) to Redis's Unix ms (0: none),
// rounded up so that no gateway drops an entry before its owner would.
int64_t ExpiryMsOf(Nanos expiry_wall);
// And back; an expiry at or before the Unix epoch is not representable and
// reads as 1 ns (long expired).
Nanos ExpiryWallOf(int64_t expiry_ms);

// Unix ns to ms and back, for change times and lifetimes (0 stays 0).
int64_t ChangedMsOf(Nanos changed_wall);
Nanos ChangedWallOf(int64_t changed_ms);

// The server-side scripts, run with EVALSHA; the last writer wins, by the
// change times the gateways stamp (their clocks under NTP).
// kAddScript, for up to kAddsPerCall entries: KEYS = {entry key, tombstone
// key, ..., channel}, ARGV = {expiry ms, changed ms, message, ...} in the
// keys' order. An add no later than the entry's tombstone is refused; a
// later one removes the tombstone. Otherwise it keeps the later expiry
// atomically, as a local re-add does: it sets the key (PXAT the expiry, or
// no expiry for 0) and publishes the message only when that moved the
// expiry later or created the key. It returns how many it changed.
// kDelScript: KEYS = {entry key, tombstone key, channel}, ARGV = {removed
// ms, tombstone lifetime ms, message}. An entry changed after the removal
// stays (it returns 0). Otherwise the tombstone is set (unless a later one
// stands), to expire at the later of removed + lifetime and the entry's own
// expiry (never, for an entry without one), the entry deleted and the
// message published (it returns 1).
inline constexpr size_t kAddsPerCall = 64;
extern const char kAddScript[];
extern const char kDelScript[];

}  // namespace knockgate
