// Big data-path tables on huge pages. A worker's address lists, flow table and
// fragment table are tens of MiB touched at random: on 4 KiB pages nearly
// every lookup also misses the TLB. Arrays of 2 MiB or more are mapped on
// their own, aligned to 2 MiB, and given to transparent huge pages with
// madvise(MADV_HUGEPAGE) before they are first touched, which works with or
// without the EAL's hugepages (and with --no-huge). Smaller arrays come from
// the ordinary allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace knockgate {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// Maps `bytes` (a multiple of kHugePageBytes) aligned to kHugePageBytes and
// advises huge pages for them; throws std::bad_alloc when it cannot map.
void* MapHugeArray(size_t bytes);
void UnmapHugeArray(void* p, size_t bytes);

// Whether the kernel gives huge pages to madvised memory
// (/sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise").
bool TransparentHugePagesOn();

template <typename T>
struct HugePageAllocator {
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding converts implicitly

  static size_t MappedBytes(size_t n) {
    return (n * sizeof(T) + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  }
  T* allocate(size_t n) {
    if (n * sizeof(T) < kHugePageBytes) {
      return static_cast<T*>(::operator new(n * sizeof(T)));
    }
    return static_cast<T*>(MapHugeArray(MappedBytes(n)));
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePageBytes) {
      ::operator delete(p);
      return;
    }
    UnmapHugeArray(p, MappedBytes(n));
  }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

// A table array: std::vector on huge pages once it reaches 2 MiB.
template <typename T>
using HugeVector = std::vector<T, HugePageAllocator<T>>;

}  // namespace knockgate
