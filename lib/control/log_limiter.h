// Chatter's event lines under a token bucket, so a spoofed flood cannot fill
// the disk; state changes (IsStateChange: grants, jails, SPA grants, ctl and
// [sync] changes) are always written. What is held back is counted and
// summarised once a second; log rules' lines go after knock steps and SPA
// rejects. Counters never pass through here.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "classify/classifier.h"
#include "common/nanos.h"

namespace knockgate {

class LogLimiter {
 public:
  // `rate` lines per second on average, `burst` at once; rate 0: no limit.
  LogLimiter(uint32_t rate, uint32_t burst, Nanos now);

  // Whether the line of `e` may be written at `now`; if not, it is counted
  // for the next summary. A state change always is (and spends nothing); a
  // log rule's line may spend the whole bucket; other chatter only what lies
  // above a reserve of a quarter of the burst, so a flood of knock steps
  // leaves lines for log rules.
  bool Admit(const Policy& policy, const Event& e, Nanos now);

  // A second after the first line held back since the last summary:
  // "suppressed N list-add events (M to list 888, ...) and K other events
  // in the last 1.0s (...)". Empty otherwise. `force` ignores the second (exit).
  std::string TakeSummary(Nanos now, bool force = false);

  // Any thread (the metrics server reads them).
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  uint64_t suppressed() const { return suppressed_.load(std::memory_order_relaxed); }

 private:
  static constexpr Nanos kSummaryInterval = kNanosPerSecond;
  void Refill(Nanos now);

  const uint32_t rate_;
  const uint32_t burst_;
  // Tokens in billionths, so a refill of `elapsed` ns adds elapsed * rate.
  const uint64_t capacity_;
  const uint64_t reserve_;
  uint64_t tokens_;
  Nanos last_refill_;
  Nanos first_held_ = 0;  // the first line held back since the last summary
  // One writer (the main lcore): plain load and store, read from anywhere.
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> suppressed_{0};
  void Count(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Held back since the last summary.
  uint64_t held_ = 0;
  uint64_t held_others_ = 0;
  uint64_t held_log_rules_ = 0;
  std::array<uint64_t, 256> held_by_list_{};
  std::array<std::string, 256> list_names_;
};

}  // namespace knockgate
