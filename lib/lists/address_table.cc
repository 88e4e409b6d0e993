// Flat arrays sized at creation: keys, per-list expiries and heap positions,
// a linear-probing index, and one expiry heap per list.
#include "lists/address_table.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/index_heap.h"
#include "common/open_addressing.h"

namespace knockgate {

absl::StatusOr<std::unique_ptr<AddressTable>> AddressTable::Create(
    std::span<const uint32_t> capacities) {
  if (capacities.size() > kMaxLists) {
    return absl::InvalidArgumentError(
        absl::StrCat(capacities.size(), " address lists; at most ", kMaxLists, " are supported"));
  }
  uint64_t total = 0;
  for (uint32_t c : capacities) {
    if (c == 0) {
      return absl::InvalidArgumentError("every address list needs a capacity of at least 1");
    }
    total += c;
  }
  if (total >= (1ULL << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("address lists hold ", total, " entries in all; at most 2^31 are supported"));
  }
  return std::unique_ptr<AddressTable>(new AddressTable(capacities));
}

AddressTable::AddressTable(std::span<const uint32_t> capacities) : lists_(capacities.size()) {
  // Each membership needs at most one record, so records never run out
  // before a list does.
  size_t records = 0;
  for (size_t i = 0; i < capacities.size(); ++i) {
    lists_[i].stats.capacity = capacities[i];
    lists_[i].heap.reserve(capacities[i]);
    records += capacities[i];
  }
  keys_.resize(records);
  stamps_.assign(records * lists_.size(), Stamp{});
  heap_pos_.assign(records * lists_.size(), 0);
  member_count_.assign(records, 0);
  free_records_.reserve(records);
  for (size_t r = records; r > 0; --r) {
    free_records_.push_back(static_cast<uint32_t>(r - 1));
  }
  size_t slots = 16;
  while (slots < records * 2) {
    slots <<= 1;
  }
  slots_.assign(slots, kNoRecord);
  slot_mask_ = slots - 1;
}

ListMask AddressTable::Membership(uint32_t record, Nanos now) const {
  ListMask mask = 0;
  const Stamp* s = &stamps_[record * lists_.size()];
  for (size_t l = 0; l < lists_.size(); ++l) {
    mask |= static_cast<ListMask>(s[l].expiry > now) << l;
  }
  return mask;
}

bool AddressTable::Contains(const IpAddress& addr, ListId list, Nanos now) const {
  return ExpiryOf(addr, list, now) != 0;
}

Nanos AddressTable::ExpiryOf(const IpAddress& addr, ListId list, Nanos now) const {
  const uint32_t r = Find(addr);
  if (r == kNoRecord || Expiry(r, list) <= now) {
    return 0;
  }
  return Expiry(r, list);
}

AddressTable::AddResult AddressTable::Add(const IpAddress& addr, ListId list, Nanos now,
                                          Nanos timeout) {
  const Nanos expiry = timeout >= kNever - now ? kNever : now + timeout;
  List& l = lists_[list];
  uint32_t r = Find(addr);
  if (r != kNoRecord && Expiry(r, list) != 0) {
    const Nanos old = Expiry(r, list);
    if (old > now && old >= expiry) {
      return AddResult::kKept;
    }
    // Later, never earlier: the heap key stays a lower bound and the heap
    // stays valid without a sift (see FixTop).
    ExpiryRef(r, list) = expiry;
    if (old > now) {
      return AddResult::kRefreshed;
    }
    // An expired entry not yet reclaimed comes back as a new member.
    ++l.stats.added;
    return AddResult::kAdded;
  }
  if (l.heap.size() == l.stats.capacity) {
    // The soonest to expire: re-key refreshed members until the top is
    // current. Bounded, so one insert never stalls the worker: past the
    // bound the top (refreshed, but still among the least recently) goes.
    for (size_t i = 0; i < kEvictFixups && FixTop(list); ++i) {
    }
    const uint32_t victim = l.heap.front();
    ++(Expiry(victim, list) > now ? l.stats.evicted : l.stats.expired);
    // `r`, if any, is not in this list, so it is not the victim.
    RemoveMember(victim, list);
  }
  if (r == kNoRecord) {
    r = InsertRecord(addr);
  }
  ExpiryRef(r, list) = expiry;
  HeapKey(r, list) = expiry;
  ++member_count_[r];
  l.heap.push_back(r);
  HeapPos(r, list) = static_cast<uint32_t>(l.heap.size() - 1);
  SiftUp(list, static_cast<uint32_t>(l.heap.size() - 1));
  ++l.stats.added;
  l.stats.size = static_cast<uint32_t>(l.heap.size());
  return AddResult::kAdded;
}

size_t AddressTable::Reclaim(Nanos now, size_t budget) {
  size_t freed = 0;
  size_t steps = 0;
  for (size_t n = 0; n < lists_.size() && steps < budget; ++n) {
    const ListId list = static_cast<ListId>((reclaim_cursor_ + n) % lists_.size());
    List& l = lists_[list];
    while (steps < budget && !l.heap.empty() && HeapKey(l.heap.front(), list) <= now) {
      ++steps;
      if (FixTop(list)) {
        continue;  // refreshed since it was keyed: still a member
      }
      RemoveMember(l.heap.front(), list);
      ++l.stats.expired;
      ++freed;
    }
  }
  if (!lists_.empty()) {
    reclaim_cursor_ = (reclaim_cursor_ + 1) % lists_.size();
  }
  return freed;
}

bool AddressTable::FixTop(ListId list) {
  const uint32_t top = lists_[list].heap.front();
  if (HeapKey(top, list) == Expiry(top, list)) {
    return false;
  }
  HeapKey(top, list) = Expiry(top, list);
  SiftDown(list, 0);
  return true;
}

uint32_t AddressTable::InsertRecord(const IpAddress& addr) {
  const uint32_t r = free_records_.back();
  free_records_.pop_back();
  keys_[r] = addr;
  uint64_t i = Hash(addr) & slot_mask_;
  while (slots_[i] != kNoRecord) {
    i = (i + 1) & slot_mask_;
  }
  slots_[i] = r;
  ++records_in_use_;
  return r;
}

void AddressTable::EraseRecord(uint32_t record) {
  EraseFromProbeRun(slots_, slot_mask_, kNoRecord, Hash(keys_[record]), record,
                    [this](uint32_t r) { return Hash(keys_[r]); });
  free_records_.push_back(record);
  --records_in_use_;
}

void AddressTable::RemoveMember(uint32_t record, ListId list) {
  List& l = lists_[list];
  const uint32_t pos = HeapPos(record, list);
  const uint32_t last = l.heap.back();
  l.heap.pop_back();
  if (last != record) {
    HeapSet(list, pos, last);
    SiftUp(list, pos);
    SiftDown(list, HeapPos(last, list));
  }
  ExpiryRef(record, list) = 0;
  l.stats.size = static_cast<uint32_t>(l.heap.size());
  if (--member_count_[record] == 0) {
    EraseRecord(record);
  }
}

void AddressTable::HeapSet(ListId list, uint32_t pos, uint32_t record) {
  lists_[list].heap[pos] = record;
  HeapPos(record, list) = pos;
}

void AddressTable::SiftUp(ListId list, uint32_t pos) {
  HeapSiftUp(
      lists_[list].heap, pos, [&](uint32_t r) { return HeapKey(r, list); },
      [&](uint32_t r, uint32_t p) { HeapPos(r, list) = p; });
}

void AddressTable::SiftDown(ListId list, uint32_t pos) {
  HeapSiftDown(
      lists_[list].heap, pos, [&](uint32_t r) { return HeapKey(r, list); },
      [&](uint32_t r, uint32_t p) { HeapPos(r, list) = p; });
}

}  // namespace knockgate
