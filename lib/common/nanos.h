// Time on the injected clock, in nanoseconds. Every folder keeps time this
// way, so it lives below all of them.
#pragma once

#include <cstdint>
#include <limits>

namespace knockgate {

using Nanos = uint64_t;
inline constexpr Nanos kNanosPerSecond = 1'000'000'000ULL;
// An expiry that never comes: RouterOS's "none-dynamic" (kept until restart).
inline constexpr Nanos kNever = std::numeric_limits<Nanos>::max();

}  // namespace knockgate
