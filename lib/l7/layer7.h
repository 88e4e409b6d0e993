// The classifier's view of layer-7 matching: a payload in, the set of
// [[layer7-protocol]] ids that matched out. Hyperscan implements it (hyperscan.h).
#pragma once

#include <cstdint>
#include <span>

namespace knockgate {

// Bit i set: layer7 protocol i matched.
using Layer7Mask = uint64_t;
inline constexpr size_t kMaxLayer7Protocols = 64;

// One per worker (it owns scratch space); Scan runs on the data path, so an
// implementation must not allocate, lock or throw there.
class Layer7Scanner {
 public:
  virtual ~Layer7Scanner() = default;
  virtual Layer7Mask Scan(std::span<const uint8_t> payload) = 0;
};

}  // namespace knockgate
