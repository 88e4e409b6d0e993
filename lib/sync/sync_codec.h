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
};

// One shared-list change as the gateways tell each other:
// "add|del LIST ADDRESS EXPIRY_MS NODE".
struct SyncMessage {
  bool remove = false;
  std::string list;
  IpAddress address;
  int64_t expiry_ms = 0;  // Unix ms; 0: no timeout
  std::string node;       // the gateway it started on
};

// PREFIX:e:LIST:ADDRESS, the address as RFC 5952 text.
std::string EntryKey(absl::string_view prefix, absl::string_view list, const IpAddress& address);
// The list and address of a key EntryKey made; an error for anything else.
absl::StatusOr<std::pair<std::string, IpAddress>> ParseEntryKey(absl::string_view prefix,
                                                                absl::string_view key);
// The SCAN pattern of every entry key under `prefix`.
std::string EntryPattern(absl::string_view prefix);
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

// The server-side scripts, run with EVALSHA. kAddScript keeps the later
// expiry atomically, as a local re-add does, for up to kAddsPerCall entries:
// KEYS = {entry key..., channel}, ARGV = {expiry ms, message, ...} in the
// keys' order; for each it sets the key (PXAT the expiry, or no expiry for
// 0) and publishes the message only when that moved the expiry later or
// created the key. It returns how many it changed.
// kDelScript deletes the key and publishes: KEYS as above, ARGV = {message}.
inline constexpr size_t kAddsPerCall = 64;
extern const char kAddScript[];
extern const char kDelScript[];

}  // namespace knockgate
