// The data path's clock: the TSC read once per burst, scaled to nanoseconds
// since the dataplane started (no division, no syscall), at a rate measured
// against CLOCK_MONOTONIC_RAW; Unix time through an offset that the main
// lcore re-samples from CLOCK_REALTIME every second (common/clock_sync.h).
#pragma once

#include <rte_cycles.h>
#include <time.h>

#include "common/clock_sync.h"
#include "policy/duration.h"

namespace knockgate {

class TscClock {
 public:
  TscClock() : sync_(&Read, rte_get_tsc_hz()) {}
  Nanos Now() const { return sync_.ToNanos(rte_rdtsc()); }
  // Unix ns of clock time `t`, and back (kNever stays kNever).
  Nanos UnixAt(Nanos t) const { return sync_.UnixAt(t); }
  Nanos ClockAt(Nanos unix) const { return sync_.ClockAt(unix); }
  Nanos UnixNow() const { return UnixAt(Now()); }
  Nanos unix_offset() const { return sync_.unix_offset(); }
  uint64_t hz() const { return sync_.hz(); }
  // Main lcore, once a second (Dataplane::RunMain).
  void Tick() { sync_.Tick(); }

 private:
  static Nanos Get(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + static_cast<Nanos>(ts.tv_nsec);
  }
  static ClockReading Read() {
    ClockReading r;
    r.counter_before = rte_rdtsc();
    r.raw = Get(CLOCK_MONOTONIC_RAW);
    r.real = Get(CLOCK_REALTIME);
    r.counter_after = rte_rdtsc();
    return r;
  }

  ClockSync sync_;
};

}  // namespace knockgate
