// Min-heap helpers shared by the address lists and the flow table: the heap
// holds entry indices, ordered by a key each table keeps with the entry, and
// each entry records its own position so it can be moved or removed. A heap
// is any vector of uint32_t (std::vector, HugeVector).
//
// Four children a node (kHeapArity): a sift down through a million entries
// takes 10 levels instead of 20, and the four children's keys load in
// parallel, so a full list's eviction waits on half as many rounds of cache
// misses (issue 22: bench_classify's new-source flood).
#pragma once

#include <cstdint>
#include <vector>

namespace knockgate {

inline constexpr uint32_t kHeapArity = 4;

// Moves heap[pos] up to its place. `key(e)` is entry e's key; `set_pos(e, p)`
// records that entry e now sits at heap[p] (it is called for every move).
template <typename Heap, typename KeyFn, typename SetPosFn>
void HeapSiftUp(Heap& heap, uint32_t pos, KeyFn key, SetPosFn set_pos) {
  const uint32_t e = heap[pos];
  const auto k = key(e);
  while (pos > 0) {
    const uint32_t parent = (pos - 1) / kHeapArity;
    if (key(heap[parent]) <= k) {
      break;
    }
    heap[pos] = heap[parent];
    set_pos(heap[pos], pos);
    pos = parent;
  }
  heap[pos] = e;
  set_pos(e, pos);
}

// Moves heap[pos] down to its place; the same callbacks as HeapSiftUp.
template <typename Heap, typename KeyFn, typename SetPosFn>
void HeapSiftDown(Heap& heap, uint32_t pos, KeyFn key, SetPosFn set_pos) {
  const uint32_t n = static_cast<uint32_t>(heap.size());
  const uint32_t e = heap[pos];
  const auto k = key(e);
  for (;;) {
    const uint32_t first = kHeapArity * pos + 1;
    if (first >= n) {
      break;
    }
    // The least of the children: their keys are independent loads.
    const uint32_t last = first + kHeapArity < n ? first + kHeapArity : n;
    uint32_t child = first;
    auto least = key(heap[first]);
    for (uint32_t c = first + 1; c < last; ++c) {
      const auto kc = key(heap[c]);
      if (kc < least) {
        least = kc;
        child = c;
      }
    }
    if (least >= k) {
      break;
    }
    heap[pos] = heap[child];
    set_pos(heap[pos], pos);
    pos = child;
  }
  heap[pos] = e;
  set_pos(e, pos);
}

}  // namespace knockgate
