// Fast hashing of fixed-size keys for the data path's tables: CRC32C over
// 8-byte words (one instruction each with SSE4.2, which DPDK requires anyway),
// then a multiply to spread the bits across the table index.
#pragma once

#include <nmmintrin.h>

#include <cstdint>
#include <cstring>

namespace knockgate {

inline uint64_t HashWords(const uint8_t* data, size_t words, uint64_t seed) {
  uint64_t crc = seed;
  for (size_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, data + 8 * i, 8);
    crc = _mm_crc32_u64(crc, w);
  }
  return crc * 0x9E3779B97F4A7C15ULL;
}

}  // namespace knockgate
