// RouterOS value syntax, text in and value out: port lists, protocols, actions,
// tcp-flags, connection states. Pure functions; the loader adds the position.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "policy/model.h"

namespace knockgate {

// A RouterOS port list: "22", "21,22,8291,10000-60000". Ports are 1..65535.
absl::StatusOr<PortSet> ParsePortSet(absl::string_view text);

// A protocol name ("tcp", "udp", "icmp", "icmpv6", ...) or number 0..255.
absl::StatusOr<uint8_t> ParseProtocol(absl::string_view text);
const char* ProtocolName(uint8_t proto);  // nullptr when it has no name

// accept, drop, add-src-to-address-list, add-dst-to-address-list, log, passthrough.
absl::StatusOr<Action> ParseAction(absl::string_view text);

// "syn,!ack": distinct flags, each optionally negated.
absl::StatusOr<TcpFlagsMatch> ParseTcpFlags(absl::string_view text);

// "established,related" or "!new": conn_state bits, the whole list negatable.
absl::StatusOr<Negatable<uint8_t>> ParseConnectionState(absl::string_view text);

// limit: "count[/time],burst[:packet|bit]", e.g. "50/5s,2:packet"; count
// and burst take k, M, G (x1000) as bit rates do; time defaults to 1s.
absl::StatusOr<LimitMatch> ParseLimit(absl::string_view text);

// dst-limit: "count[/time],burst,mode[/expire]", e.g. "10/1m,5,src-address/1m";
// expire defaults to 10m.
absl::StatusOr<DstLimitMatch> ParseDstLimit(absl::string_view text);

// idle-sleep: "0" busy-polls; else a duration up to 1s, "us" allowed.
absl::StatusOr<Nanos> ParseIdleSleep(absl::string_view text);

}  // namespace knockgate
