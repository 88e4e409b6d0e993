// The data path's clock: TSC read once per burst, scaled to nanoseconds since
// the dataplane started with a fixed-point multiply (no division, no syscall).
#pragma once

#include <rte_cycles.h>

#include "policy/duration.h"

namespace knockgate {

class TscClock {
 public:
  TscClock() : start_(rte_rdtsc()), hz_(rte_get_tsc_hz()) {
    mult_ = static_cast<uint64_t>((static_cast<unsigned __int128>(kNanosPerSecond) << 32) / hz_);
  }
  Nanos Now() const { return ToNanos(rte_rdtsc() - start_); }
  Nanos ToNanos(uint64_t cycles) const {
    return static_cast<Nanos>((static_cast<unsigned __int128>(cycles) * mult_) >> 32);
  }
  uint64_t hz() const { return hz_; }

 private:
  uint64_t start_;
  uint64_t hz_;
  uint64_t mult_;
};

}  // namespace knockgate
