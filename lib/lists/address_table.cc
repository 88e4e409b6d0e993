// Flat arrays sized at creation: addresses and memberships in one index
// space (a record's first membership shares its index), a linear-probing
// index, and one expiry heap per list.
#include "lists/address_table.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/index_heap.h"
#include "common/open_addressing.h"

namespace knockgate {
namespace {}  // namespace

uint64_t AddressTable::TotalCapacity(std::span<const uint32_t> capacities) {
  uint64_t total = 0;
  for (uint32_t c : capacities) {
    total += c;
  }
  return total;
}

uint64_t AddressTable::MemoryFor(std::span<const uint32_t> capacities) {
  // Each membership needs at most one record, so records never run out
  // before a list does: both arrays hold the sum of the capacities.
  const uint64_t n = TotalCapacity(capacities);
  return n * (sizeof(IpAddress) + sizeof(Member) + sizeof(uint32_t)) +
         SlotsFor(n) * sizeof(uint32_t);
}

absl::StatusOr<std::unique_ptr<AddressTable>> AddressTable::Create(
    std::span<const uint32_t> capacities) {
  if (capacities.size() > kMaxLists) {
    return absl::InvalidArgumentError(
        absl::StrCat(capacities.size(), " address lists; at most ", kMaxLists, " are supported"));
  }
  for (uint32_t c : capacities) {
    if (c == 0 || c > kMaxListCapacity) {
      return absl::InvalidArgumentError(absl::StrCat("every address list needs a capacity of 1 to ",
                                                     kMaxListCapacity, ", not ", c));
    }
  }
  if (TotalCapacity(capacities) >= (1ULL << 31)) {
    return absl::InvalidArgumentError(absl::StrCat("address lists hold ", TotalCapacity(capacities),
                                                   " entries in all; at most 2^31 are supported"));
  }
  return std::unique_ptr<AddressTable>(new AddressTable(capacities));
}

AddressTable::AddressTable(std::span<const uint32_t> capacities) : lists_(capacities.size()) {
  const uint64_t total = TotalCapacity(capacities);
  for (size_t i = 0; i < capacities.size(); ++i) {
    lists_[i].stats.capacity = capacities[i];
    lists_[i].heap.reserve(capacities[i]);
  }
  keys_.resize(total);
  members_.resize(total);
  for (uint64_t i = 0; i < total; ++i) {
    members_[i] = Member{0, 0, kNone, 0, i + 1 < total ? static_cast<uint32_t>(i + 1) : kNone, 0};
  }
  free_ = total > 0 ? 0 : kNone;
  const uint64_t slots = SlotsFor(total);
  slots_.assign(slots, kEmptySlot);
  slot_mask_ = slots - 1;
  // The fewest low bits that hold every record with all-ones left over, so
  // no tagged slot equals kEmptySlot (total < 2^31: one tag bit at least).
  record_bits_ = 1;
  while (record_bits_ < total) {
    record_bits_ = record_bits_ << 1 | 1;
  }
}

ListMask AddressTable::Membership(uint32_t record, Nanos now) const {
  ListMask mask = 0;
  for (uint32_t m = record; m != kNone; m = members_[m].next) {
    const Member& mb = members_[m];
    mask |= static_cast<ListMask>(mb.expiry > now) << ListOf(mb);
  }
  return mask;
}

bool AddressTable::Contains(const IpAddress& addr, ListId list, Nanos now) const {
  return ExpiryOf(addr, list, now) != 0;
}

Nanos AddressTable::ExpiryOf(const IpAddress& addr, ListId list, Nanos now) const {
  const uint32_t r = Find(addr);
  const uint32_t m = r == kNoRecord ? kNone : MemberOf(r, list);
  if (m == kNone || members_[m].expiry <= now) {
    return 0;
  }
  return members_[m].expiry;
}

bool AddressTable::Remove(const IpAddress& addr, ListId list, Nanos now) {
  const uint32_t r = Find(addr);
  const uint32_t m = r == kNoRecord ? kNone : MemberOf(r, list);
  if (m == kNone) {
    return false;
  }
  const bool live = members_[m].expiry > now;
  RemoveMember(m);
  return live;
}

AddressTable::AddResult AddressTable::Add(const IpAddress& addr, ListId list, Nanos now,
                                          Nanos timeout, Nanos* previous) {
  const Nanos expiry = ExpiryAt(now, timeout);
  List& l = lists_[list];
  const uint64_t hash = Hash(addr);
  uint32_t r = Find(addr, hash);
  const uint32_t existing = r == kNoRecord ? kNone : MemberOf(r, list);
  if (existing != kNone) {
    const Nanos old = members_[existing].expiry;
    if (old > now && old >= expiry) {
      return AddResult::kKept;
    }
    // Later, never earlier: the heap key stays a lower bound and the heap
    // stays valid without a sift (see FixTop).
    members_[existing].expiry = expiry;
    if (old > now) {
      if (previous != nullptr) {
        *previous = old;
      }
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
    ++(members_[victim].expiry > now ? l.stats.evicted : l.stats.expired);
    // `r`, if any, is not in this list, so the victim is not its membership;
    // the victim's record may go, and `r` keeps its own.
    RemoveMember(victim);
  }
  if (r == kNoRecord) {
    // A new record: its index holds this first membership.
    r = TakeIndex();
    keys_[r] = addr;
    members_[r] =
        Member{expiry, expiry, r, uint32_t{list} << kPosBits, kNone, static_cast<uint32_t>(hash)};
    uint64_t i = hash & slot_mask_;
    while (slots_[i] != kEmptySlot) {
      i = (i + 1) & slot_mask_;
    }
    slots_[i] = SlotTag(hash) | r;
    ++records_in_use_;
    HeapPush(list, r);
  } else {
    // A later membership: chained after the record's first.
    const uint32_t m = TakeIndex();
    members_[m] =
        Member{expiry, expiry, r, uint32_t{list} << kPosBits, members_[r].next, members_[r].hash};
    members_[r].next = m;
    HeapPush(list, m);
  }
  ++l.stats.added;
  l.stats.size = static_cast<uint32_t>(l.heap.size());
  if (l.heap.size() == l.stats.capacity) {
    PrefetchNextVictim(l);
  }
  return AddResult::kAdded;
}

void AddressTable::PrefetchNextVictim(const List& l) const {
  const Member& top = members_[l.heap.front()];
  __builtin_prefetch(&slots_[top.hash & slot_mask_]);
  __builtin_prefetch(&keys_[top.record], 1);
}

void AddressTable::HeapPush(ListId list, uint32_t m) {
  HugeVector<uint32_t>& heap = lists_[list].heap;
  SetHeapPos(m, static_cast<uint32_t>(heap.size()));
  heap.push_back(m);
  SiftUp(list, static_cast<uint32_t>(heap.size() - 1));
}

size_t AddressTable::Reclaim(Nanos now, size_t budget, ListMask watch) {
  size_t freed = 0;
  size_t steps = 0;
  for (size_t n = 0; n < lists_.size() && steps < budget; ++n) {
    const ListId list = static_cast<ListId>((reclaim_cursor_ + n) % lists_.size());
    List& l = lists_[list];
    while (steps < budget && !l.heap.empty() && members_[l.heap.front()].heap_key <= now) {
      ++steps;
      if (FixTop(list)) {
        continue;  // refreshed since it was keyed: still a member
      }
      if ((watch >> list) & 1) [[unlikely]] {
        const Member& mb = members_[l.heap.front()];
        expired_.push_back(Expired{keys_[mb.record], list, mb.expiry});
      }
      RemoveMember(l.heap.front());
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
  Member& top = members_[lists_[list].heap.front()];
  if (top.heap_key == top.expiry) {
    return false;
  }
  top.heap_key = top.expiry;
  SiftDown(list, 0);
  return true;
}

void AddressTable::EraseRecord(uint32_t record) {
  EraseFromProbeRun(
      slots_, slot_mask_, kEmptySlot, members_[record].hash, record,
      [this](uint32_t r) { return members_[r].hash; }, record_bits_);
  --records_in_use_;
}

void AddressTable::RemoveMember(uint32_t m) {
  const uint32_t record = members_[m].record;
  {
    List& l = lists_[ListOf(members_[m])];
    const uint32_t pos = HeapPos(members_[m]);
    const uint32_t last = l.heap.back();
    l.heap.pop_back();
    if (last != m) {
      l.heap[pos] = last;
      SetHeapPos(last, pos);
      SiftUp(ListOf(members_[m]), pos);
      SiftDown(ListOf(members_[m]), HeapPos(members_[last]));
    }
    l.stats.size = static_cast<uint32_t>(l.heap.size());
  }
  if (m != record) {
    // A later membership: unlink it from the chain (a few at most).
    uint32_t prev = record;
    while (members_[prev].next != m) {
      prev = members_[prev].next;
    }
    members_[prev].next = members_[m].next;
    FreeIndex(m);
    return;
  }
  const uint32_t second = members_[record].next;
  if (second == kNone) {
    EraseRecord(record);  // its last membership
    FreeIndex(record);
    return;
  }
  // The record's first membership went: its second moves into the record's
  // index, and its heap entry follows it.
  members_[record] = members_[second];
  lists_[ListOf(members_[record])].heap[HeapPos(members_[record])] = record;
  FreeIndex(second);
}

void AddressTable::SiftUp(ListId list, uint32_t pos) {
  HeapSiftUp(
      lists_[list].heap, pos, [&](uint32_t m) { return members_[m].heap_key; },
      [&](uint32_t m, uint32_t p) { SetHeapPos(m, p); });
}

void AddressTable::SiftDown(ListId list, uint32_t pos) {
  HeapSiftDown(
      lists_[list].heap, pos, [&](uint32_t m) { return members_[m].heap_key; },
      [&](uint32_t m, uint32_t p) { SetHeapPos(m, p); });
}

}  // namespace knockgate
