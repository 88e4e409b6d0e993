// The counter's rate, refined against CLOCK_MONOTONIC_RAW, and the offset to
// CLOCK_REALTIME, re-sampled by a control thread (clock_sync.h).
#include "common/clock_sync.h"

#include <utility>

namespace knockgate {
namespace {

uint64_t MultOf(double hz) {
  return static_cast<uint64_t>(static_cast<double>(kNanosPerSecond) * 4294967296.0 / hz);
}

uint64_t Midpoint(const ClockReading& r) {
  return r.counter_before + (r.counter_after - r.counter_before) / 2;
}

}  // namespace

ClockSync::ClockSync(Reader read, uint64_t nominal_hz) : read_(std::move(read)) {
  anchor_ = Sample();
  scales_[0] = {Midpoint(anchor_), 0, MultOf(static_cast<double>(nominal_hz))};
  used_ = 1;
  scale_.store(&scales_[0], std::memory_order_release);
  hz_.store(nominal_hz, std::memory_order_relaxed);
  offset_.store(anchor_.real, std::memory_order_relaxed);
}

ClockReading ClockSync::Sample() const {
  ClockReading best = read_();
  for (int i = 1; i < kTries; ++i) {
    const ClockReading r = read_();
    if (r.counter_after - r.counter_before < best.counter_after - best.counter_before) {
      best = r;
    }
  }
  return best;
}

void ClockSync::PublishRate(uint64_t counter, double hz) {
  Scale& s = scales_[used_++];
  s = {counter, ToNanos(counter), MultOf(hz)};
  scale_.store(&s, std::memory_order_release);
  hz_.store(static_cast<uint64_t>(hz + 0.5), std::memory_order_relaxed);
}

void ClockSync::Tick() {
  const ClockReading r = Sample();
  const uint64_t counter = Midpoint(r);
  const Nanos since = r.raw > anchor_.raw ? r.raw - anchor_.raw : 0;
  if (since >= next_refine_ && next_refine_ <= kRefineUntil && used_ < kScales &&
      counter > Midpoint(anchor_)) {
    PublishRate(counter, static_cast<double>(counter - Midpoint(anchor_)) * 1e9 /
                             static_cast<double>(since));
    while (next_refine_ <= since) {
      next_refine_ *= 2;
    }
  }
  const Nanos t = ToNanos(counter);
  offset_.store(r.real > t ? r.real - t : 0, std::memory_order_relaxed);
}

}  // namespace knockgate
