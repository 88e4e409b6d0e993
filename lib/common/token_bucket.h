// A token bucket with a rate in tokens per nanosecond, as RouterOS's limit
// and dst-limit matchers spend it (tokens are packets, or bits in bit mode).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "common/nanos.h"

namespace knockgate {

// A rate as a bucket spends it: tokens are packets (or bits in bit mode).
struct RateSpec {
  double per_ns = 0;    // tokens refilled per nanosecond
  double capacity = 1;  // the burst; a full bucket always lets one packet through
  bool bits = false;

  // count per interval with `burst`, this worker's 1/`share` of it.
  static RateSpec Of(uint64_t count, Nanos interval, uint64_t burst, bool bits, uint32_t share) {
    RateSpec s;
    const double n = std::max<uint32_t>(share, 1);
    s.per_ns = static_cast<double>(count) / static_cast<double>(interval) / n;
    s.capacity = std::max(1.0, static_cast<double>(burst) / n);
    s.bits = bits;
    return s;
  }
  double CostOf(size_t frame_bytes) const { return bits ? 8.0 * frame_bytes : 1.0; }
};

struct TokenBucket {
  double tokens = 0;
  Nanos last = 0;
  bool primed = false;  // full at its first packet

  // Refills for the time since the last call and takes `cost` if it is there
  // (a full bucket takes any cost). Whether it did.
  bool Take(const RateSpec& s, double cost, Nanos now) {
    if (!primed) {
      tokens = s.capacity;
      primed = true;
    } else if (now > last) {
      tokens = std::min(s.capacity, tokens + static_cast<double>(now - last) * s.per_ns);
    }
    last = std::max(last, now);
    if (tokens >= cost || tokens >= s.capacity) {
      tokens = std::max(0.0, tokens - cost);
      return true;
    }
    return false;
  }
};

}  // namespace knockgate
