// Shared helpers for the benchmarks: TSC reads for cycles-per-packet counters
// and frames from the tests' packet builder.
#pragma once

#include <x86intrin.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/ip_address.h"
#include "support/packet_builder.h"

namespace knockgate::perf {

inline uint64_t Cycles() { return __rdtsc(); }

// An Ethernet/IPv4 frame (tests/support's builder) from `src` to `dst`:
// TCP (protocol 6) with `tcp_flags`, or UDP (17), carrying `payload`.
inline std::vector<uint8_t> Frame(uint32_t src, uint8_t protocol, uint16_t dport,
                                  const std::string& payload, uint8_t tcp_flags = 0x02,
                                  uint16_t sport = 40000, uint32_t dst = 0xC000020A) {
  const std::string from = IpAddress::V4(src).ToString();
  const std::string to = IpAddress::V4(dst).ToString();
  return protocol == 6 ? testing::TcpPacket(from, sport, to, dport, tcp_flags)
                       : testing::UdpPacket(from, sport, to, dport, payload);
}

}  // namespace knockgate::perf
