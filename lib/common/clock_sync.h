// The data path's clock and its link to Unix time: cycles of a counter (the
// TSC) scaled to nanoseconds at a rate measured against CLOCK_MONOTONIC_RAW,
// and an offset to CLOCK_REALTIME that a control thread re-samples, so that
// durations stay monotonic and cheap while Unix times follow NTP and date -s.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "common/nanos.h"

namespace knockgate {

// One reading of the three clocks, the counter read before and after the
// other two (the tighter the bracket, the better the pairing).
struct ClockReading {
  uint64_t counter_before = 0;
  uint64_t counter_after = 0;
  Nanos raw = 0;   // CLOCK_MONOTONIC_RAW
  Nanos real = 0;  // CLOCK_REALTIME, Unix ns
};

class ClockSync {
 public:
  // Reads the three clocks once; injected so that tests can step and drift them.
  using Reader = std::function<ClockReading()>;
  // How many readings each sample takes; the tightest bracket is kept.
  static constexpr int kTries = 5;
  // The rate is refined when the time since the anchor doubles, up to this.
  static constexpr Nanos kRefineUntil = 64 * kNanosPerSecond;

  // `nominal_hz`: the counter's rate as first assumed (DPDK's estimate),
  // used until the first refinement a second later.
  ClockSync(Reader read, uint64_t nominal_hz);
  ClockSync(const ClockSync&) = delete;
  ClockSync& operator=(const ClockSync&) = delete;

  // Any thread, lock-free: nanoseconds since the start at counter value `c`.
  // Continuous and monotonic across refinements of the rate.
  Nanos ToNanos(uint64_t c) const {
    const Scale* s = scale_.load(std::memory_order_acquire);
    if (c <= s->base_counter) [[unlikely]] {
      return s->base_nanos;  // a counter read just before a refinement
    }
    return s->base_nanos +
           static_cast<Nanos>((static_cast<unsigned __int128>(c - s->base_counter) * s->mult) >>
                              32);
  }
  // Any thread: Unix ns at clock time 0 (add a clock time for Unix time).
  Nanos unix_offset() const { return offset_.load(std::memory_order_relaxed); }
  // Unix ns of clock time `t` (kNever stays kNever).
  Nanos UnixAt(Nanos t) const { return t == kNever ? kNever : unix_offset() + t; }
  // Clock time of Unix ns `unix` (0 for what lies before the clock's zero).
  Nanos ClockAt(Nanos unix) const {
    const Nanos o = unix_offset();
    return unix == kNever ? kNever : unix > o ? unix - o : 0;
  }
  // The counter's rate as now measured, cycles per second.
  uint64_t hz() const { return hz_.load(std::memory_order_relaxed); }

  // One control thread, at least once a second: re-samples the offset to
  // CLOCK_REALTIME and, during the first kRefineUntil, the counter's rate.
  void Tick();

 private:
  struct Scale {
    uint64_t base_counter = 0;
    Nanos base_nanos = 0;
    uint64_t mult = 0;  // ns per cycle, 32.32 fixed point
  };
  // One per refinement (1, 2, 4 ... 64 s): never reused, so a reader holding
  // an old one reads it whole without a lock.
  static constexpr int kScales = 8;

  ClockReading Sample() const;
  void PublishRate(uint64_t counter, double hz);

  Reader read_;
  Scale scales_[kScales];
  int used_ = 0;                     // control: rw
  std::atomic<const Scale*> scale_;  // datapath: ro, control: wo
  std::atomic<Nanos> offset_{0};     // datapath: ro, control: wo
  std::atomic<uint64_t> hz_{0};
  ClockReading anchor_;                  // for the rate: the first sample
  Nanos next_refine_ = kNanosPerSecond;  // raw time since the anchor
};

}  // namespace knockgate
