// Linear-probing index helpers shared by the address lists and the flow table:
// slots hold entry indices (or an empty marker) in a power-of-two array.
#pragma once

#include <cstdint>
#include <vector>

namespace knockgate {

// Index slots for `entries`: a power of two, at most half full (a probe past
// a slot costs a load of that entry's key).
inline uint64_t SlotsFor(uint64_t entries) {
  uint64_t slots = 16;
  while (slots < entries * 2) {
    slots <<= 1;
  }
  return slots;
}

// Removes `entry` from `slots` by backward-shift deletion: later members of
// its probe run move into the gap, so lookups never meet tombstones.
// `home(e)` is the slot entry e hashes to. A slot holds an entry index in
// the bits of `index_bits` (the rest may carry a tag that moves with it).
template <typename Slots, typename HomeFn>
void EraseFromProbeRun(Slots& slots, uint64_t mask, uint32_t empty, uint64_t start, uint32_t entry,
                       HomeFn home, uint32_t index_bits = UINT32_MAX) {
  uint64_t i = start & mask;
  while ((slots[i] & index_bits) != entry) {
    i = (i + 1) & mask;
  }
  for (uint64_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    const uint32_t e = slots[j];
    if (e == empty) {
      break;
    }
    const uint64_t h = home(e & index_bits) & mask;
    // Move e into the gap at i unless its home lies in (i, j].
    const bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (!stays) {
      slots[i] = e;
      i = j;
    }
  }
  slots[i] = empty;
}

}  // namespace knockgate
