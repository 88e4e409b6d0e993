// The Toeplitz hash NICs use for RSS, computed from per-byte tables: a 4-byte
// IPv4 address costs four table loads instead of a loop over its 32 bits, so a
// worker can afford to check on every packet where the NIC should have put it.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace knockgate {

class ToeplitzHash {
 public:
  // The longest input: an IPv6 address. Its hash reads the first 20 key bytes.
  static constexpr size_t kMaxInput = 16;

  // `key` must hold at least kMaxInput + 4 bytes; later bytes are never read.
  explicit ToeplitzHash(std::span<const uint8_t> key) {
    for (size_t pos = 0; pos < kMaxInput; ++pos) {
      for (uint32_t byte = 0; byte < 256; ++byte) {
        uint32_t h = 0;
        for (int bit = 0; bit < 8; ++bit) {
          if (byte & (0x80u >> bit)) {
            h ^= KeyWindow(key, pos * 8 + static_cast<size_t>(bit));
          }
        }
        table_[pos][byte] = h;
      }
    }
  }

  // The hash of `len` bytes in network order (4 for IPv4, 16 for IPv6).
  uint32_t Hash(const uint8_t* data, size_t len) const {
    uint32_t h = 0;
    for (size_t i = 0; i < len; ++i) {
      h ^= table_[i][data[i]];
    }
    return h;
  }

 private:
  // The 32 key bits starting at bit `bit`, most significant first.
  static uint32_t KeyWindow(std::span<const uint8_t> key, size_t bit) {
    uint64_t w = 0;
    for (size_t i = 0; i < 5; ++i) {
      w = w << 8 | key[bit / 8 + i];
    }
    return static_cast<uint32_t>(w >> (8 - bit % 8));
  }

  std::array<std::array<uint32_t, 256>, kMaxInput> table_{};
};

}  // namespace knockgate
