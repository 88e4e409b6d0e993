// Binary min-heap helpers shared by the address lists and the flow table: the
// heap holds entry indices, ordered by a key each table keeps with the entry,
// and each entry records its own position so it can be moved or removed. A
// heap is any vector of uint32_t (std::vector, HugeVector).
#pragma once

#include <cstdint>
#include <vector>

namespace knockgate {

// Moves heap[pos] up to its place. `key(e)` is entry e's key; `set_pos(e, p)`
// records that entry e now sits at heap[p] (it is called for every move).
template <typename Heap, typename KeyFn, typename SetPosFn>
void HeapSiftUp(Heap& heap, uint32_t pos, KeyFn key, SetPosFn set_pos) {
  const uint32_t e = heap[pos];
  const auto k = key(e);
  while (pos > 0) {
    const uint32_t parent = (pos - 1) / 2;
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
    uint32_t child = 2 * pos + 1;
    if (child >= n) {
      break;
    }
    if (child + 1 < n && key(heap[child + 1]) < key(heap[child])) {
      ++child;
    }
    if (key(heap[child]) >= k) {
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
