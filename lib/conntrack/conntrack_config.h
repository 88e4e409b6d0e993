// RouterOS's /ip firewall connection tracking settings and its connection
// states, as the flow table reads them and the config names them.
#pragma once

#include <cstdint>

#include "common/nanos.h"

namespace knockgate {

// RouterOS's timeouts, with its defaults.
struct ConntrackConfig {
  uint32_t capacity = 262144;  // connections per worker
  Nanos tcp_syn_sent_timeout = 5 * kNanosPerSecond;
  Nanos tcp_syn_received_timeout = 5 * kNanosPerSecond;
  Nanos tcp_established_timeout = 86400 * kNanosPerSecond;
  Nanos tcp_fin_wait_timeout = 10 * kNanosPerSecond;
  Nanos tcp_time_wait_timeout = 10 * kNanosPerSecond;
  Nanos tcp_close_timeout = 10 * kNanosPerSecond;
  Nanos udp_timeout = 10 * kNanosPerSecond;
  Nanos udp_stream_timeout = 180 * kNanosPerSecond;
  Nanos icmp_timeout = 10 * kNanosPerSecond;
  Nanos generic_timeout = 600 * kNanosPerSecond;
};

// connection-state values, one bit each.
namespace conn_state {
inline constexpr uint8_t kNew = 1;
inline constexpr uint8_t kEstablished = 2;
inline constexpr uint8_t kRelated = 4;
inline constexpr uint8_t kInvalid = 8;
inline constexpr uint8_t kUntracked = 16;
}  // namespace conn_state

}  // namespace knockgate
