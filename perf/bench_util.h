// Shared helpers for the benchmarks: TSC reads for cycles-per-packet counters
// and frame builders that do not depend on the test tree.
#pragma once

#include <x86intrin.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/ip_address.h"

namespace knockgate::perf {

inline uint64_t Cycles() { return __rdtsc(); }

// An Ethernet/IPv4 frame from `src` to 192.0.2.10, TCP SYN (protocol 6) or UDP
// (17) to `dport`, carrying `payload`, padded to `size` bytes.
std::vector<uint8_t> Frame(uint32_t src, uint8_t protocol, uint16_t dport,
                           const std::string& payload, size_t size, uint8_t tcp_flags = 0x02,
                           uint16_t sport = 40000, uint32_t dst = 0xC000020A);

}  // namespace knockgate::perf
