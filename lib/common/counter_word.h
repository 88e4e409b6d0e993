// A counter word with one writer (its worker) that the main lcore's
// collector reads while it runs: relaxed atomic accesses, which compile to
// the plain loads and stores a single writer needs anyway.
#pragma once

#include <atomic>
#include <cstdint>

namespace knockgate {

inline void CountUp(uint64_t& word, uint64_t n = 1) {
  std::atomic_ref<uint64_t>(word).store(word + n, std::memory_order_relaxed);
}

inline uint64_t ReadCount(const uint64_t& word) {
  return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(word)).load(std::memory_order_relaxed);
}

}  // namespace knockgate
