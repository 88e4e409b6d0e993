// Time on the injected clock, in nanoseconds. Every folder keeps time this
// way, so it lives below all of them.
#pragma once

#include <cstdint>
#include <ctime>
#include <limits>

namespace knockgate {

using Nanos = uint64_t;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000ULL;
// An expiry that never comes: RouterOS's "none-dynamic" (kept until restart).
inline constexpr Nanos kNever = std::numeric_limits<Nanos>::max();

// The wall clock (CLOCK_REALTIME) in Unix nanoseconds: not the injected
// clock, for what must agree with other machines (SPA timestamps, [sync]).
inline Nanos WallNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + static_cast<Nanos>(ts.tv_nsec);
}

// When an entry added at `now` for `timeout` expires (kNever: it does not).
inline constexpr Nanos ExpiryAt(Nanos now, Nanos timeout) {
  return timeout >= kNever - now ? kNever : now + timeout;
}

}  // namespace knockgate
