// Dynamic address lists of one worker: one record per address, found with one
// hash probe however many lists rules name, heads a short chain of its
// memberships, so memory is linear in the sum of the lists' capacities.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/hash.h"
#include "common/huge_pages.h"
#include "common/nanos.h"
#include "net/ip_address.h"

namespace knockgate {

using ListId = uint8_t;
inline constexpr size_t kMaxLists = 64;
// A bit per list id.
using ListMask = uint64_t;
// Heap steps (a membership or flow freed, or one re-keyed after a refresh) a
// worker does between two bursts. Each costs a few cache misses (heap, index,
// record); 16 keeps a worker-loop iteration short while a million entries
// expire at once and still frees millions a second (perf/RESULTS.md).
inline constexpr size_t kReclaimStep = 16;

// Fixed-capacity table sized at creation; nothing on its data path allocates.
//
// - Lookups are exact: an entry whose expiry has passed is absent at once,
//   whether or not Reclaim has freed it yet.
// - Each list has its own capacity, counted by membership. An insert into a
//   full list evicts that list's entry with the soonest expiry and touches no
//   other list, so a flood into a knock stage never pushes out a grant.
// - Each list keeps its members in a binary min-heap. The same heap answers
//   "what expires next" for Reclaim and "what goes first" for eviction.
// - Refreshing is O(1): a membership's expiry only ever moves later, so the
//   heap is ordered by a key that may lag it (a lower bound), and a member is
//   re-keyed only when it reaches the top. A source that knocks again and
//   again costs one sift per timeout, not one per packet.
//
// Owned by one worker; not thread-safe.
class AddressTable {
 public:
  static constexpr uint32_t kNoRecord = UINT32_MAX;

  enum class AddResult : uint8_t {
    kAdded,      // was not a member
    kRefreshed,  // was a member; its expiry moved later
    kKept,       // was a member with a later (or no) expiry; unchanged
  };

  struct ListStats {
    uint32_t capacity = 0;
    uint32_t size = 0;  // members, including expired ones not yet reclaimed
    uint64_t added = 0;
    uint64_t evicted = 0;  // pushed out by an insert into a full list
    uint64_t expired = 0;  // reclaimed after expiry
  };

  // The largest capacity of one list (a heap position takes 26 bits).
  static constexpr uint32_t kMaxListCapacity = 1u << 26;

  // `capacities[i]` is list i's capacity; at most kMaxLists lists, each in
  // 1..kMaxListCapacity.
  static absl::StatusOr<std::unique_ptr<AddressTable>> Create(std::span<const uint32_t> capacities);
  // What Create allocates for these capacities, in bytes.
  static uint64_t MemoryFor(std::span<const uint32_t> capacities);

  AddressTable(const AddressTable&) = delete;
  AddressTable& operator=(const AddressTable&) = delete;

  static uint64_t Hash(const IpAddress& a) {
    return HashWords(a.bytes.data(), 2, static_cast<uint64_t>(a.family));
  }
  // The record of `addr`, or kNoRecord. The one probe a packet pays.
  uint32_t Find(const IpAddress& addr) const { return Find(addr, Hash(addr)); }
  // The same, with Hash(addr) computed already (a burst hashes each packet once).
  uint32_t Find(const IpAddress& addr, uint64_t hash) const {
    const uint32_t tag = SlotTag(hash);
    for (uint64_t i = hash & slot_mask_;; i = (i + 1) & slot_mask_) {
      const uint32_t s = slots_[i];
      if (s == kEmptySlot) {
        return kNoRecord;
      }
      // The tag settles most mismatches without loading the record's key.
      if ((s & ~record_bits_) == tag && keys_[s & record_bits_] == addr) {
        return s & record_bits_;
      }
    }
  }
  // Starts loading the index slot Find will read first, so a burst can
  // overlap its cache misses.
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & slot_mask_]); }
  // Lists `record` is a live member of at `now`.
  ListMask Membership(uint32_t record, Nanos now) const;
  bool Contains(const IpAddress& addr, ListId list, Nanos now) const;
  // The expiry of `addr` in `list` (kNever for none-dynamic), or 0 if absent.
  Nanos ExpiryOf(const IpAddress& addr, ListId list, Nanos now) const;

  // Adds `addr` to `list` until now + timeout (kNever: until restart).
  // Re-adding keeps the later expiry; on kRefreshed, `previous` (if given)
  // gets the expiry it had.
  AddResult Add(const IpAddress& addr, ListId list, Nanos now, Nanos timeout,
                Nanos* previous = nullptr);

  // Takes `addr` out of `list` at once. Whether it was a live member.
  bool Remove(const IpAddress& addr, ListId list, Nanos now);

  // Up to `max` live members of `list` from heap position `from` on, as
  // fn(address, expiry); returns the position to go on from (the list's
  // size when done). Positions move as members come and go between calls,
  // so a dump in pieces may miss or repeat an entry that changed meanwhile.
  template <typename Fn>
  size_t DumpList(ListId list, size_t from, size_t max, Nanos now, Fn fn) const {
    const HugeVector<uint32_t>& heap = lists_[list].heap;
    size_t i = from;
    for (size_t taken = 0; i < heap.size() && taken < max; ++i) {
      const Member& mb = members_[heap[i]];
      if (mb.expiry > now) {
        fn(keys_[mb.record], mb.expiry);
        ++taken;
      }
    }
    return i;
  }

  // Frees memberships that expired at or before `now`, doing at most
  // `budget` heap steps (a free, or re-keying a refreshed member that reached
  // the top). Returns how many it freed. Those of the lists in `watch` are
  // kept in expired() until ClearExpired.
  size_t Reclaim(Nanos now, size_t budget, ListMask watch = 0);
  struct Expired {
    IpAddress address;
    ListId list = 0;
    Nanos expiry = 0;
  };
  std::span<const Expired> expired() const { return expired_; }
  void ClearExpired() { expired_.clear(); }

  // Calls fn(address, list, expiry) for every live membership at `now`
  // (control plane, on a stopped worker's table or its own thread).
  template <typename Fn>
  void ForEachMember(Nanos now, Fn fn) const {
    for (const List& l : lists_) {
      for (uint32_t m : l.heap) {
        const Member& mb = members_[m];
        if (mb.expiry > now) {
          fn(keys_[mb.record], ListOf(mb), mb.expiry);
        }
      }
    }
  }

  size_t list_count() const { return lists_.size(); }
  size_t records_in_use() const { return records_in_use_; }
  const ListStats& stats(ListId list) const { return lists_[list].stats; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  // Re-keyings an insert into a full list may do to find the soonest expiry.
  static constexpr size_t kEvictFixups = 16;
  static constexpr uint32_t kPosBits = 26;
  static constexpr uint32_t kPosMask = (1u << kPosBits) - 1;

  // One address in one list, 32 bytes (two to a cache line; packed: this
  // array is most of the table's memory).
  //
  // Records and memberships share one index space: record r's first
  // membership is members_[r] (so a lookup loads the key and the first
  // membership in parallel, both indexed by r), and its other memberships
  // are chained from there through indices no record uses. Every index in
  // use holds one membership, so the sum of the capacities always suffices.
  // Free indices are chained through `next`.
  struct __attribute__((packed)) Member {
    Nanos expiry;       // 0: not a member
    Nanos heap_key;     // what the list's heap orders by: <= expiry
    uint32_t record;    // the address's record
    uint32_t pos_list;  // heap position (low kPosBits) and list id (high bits)
    uint32_t next;      // the record's next membership, or kNone
    // The low half of Hash(address), the same in each of a record's
    // memberships: an eviction finds the victim's index slot from the member
    // it already holds, without loading the victim's key.
    uint32_t hash;
  };
  static_assert(sizeof(Member) == 32);

  struct List {
    HugeVector<uint32_t> heap;  // members, min-heap on heap_key
    ListStats stats;
  };

  explicit AddressTable(std::span<const uint32_t> capacities);
  static uint64_t TotalCapacity(std::span<const uint32_t> capacities);

  static ListId ListOf(const Member& m) { return static_cast<ListId>(m.pos_list >> kPosBits); }
  static uint32_t HeapPos(const Member& m) { return m.pos_list & kPosMask; }
  void SetHeapPos(uint32_t m, uint32_t pos) {
    members_[m].pos_list = (members_[m].pos_list & ~kPosMask) | pos;
  }
  // `record`'s membership in `list`, or kNone.
  uint32_t MemberOf(uint32_t record, ListId list) const {
    for (uint32_t m = record; m != kNone; m = members_[m].next) {
      if (ListOf(members_[m]) == list) {
        return m;
      }
    }
    return kNone;
  }

  uint32_t TakeIndex() {
    const uint32_t i = free_;
    free_ = members_[i].next;
    return i;
  }
  void FreeIndex(uint32_t i) {
    members_[i].expiry = 0;
    members_[i].next = free_;
    free_ = i;
  }
  // Puts member `m` (already filled in) on its list's heap.
  void HeapPush(ListId list, uint32_t m);
  void EraseRecord(uint32_t record);
  // Once `list` is full, every insert evicts its heap's top: starts loading
  // the lines that eviction will touch (the top's index slot, its key) while
  // the worker classifies the next packets.
  void PrefetchNextVictim(const List& l) const;
  // Removes member `m` from its list and its record; frees the record when
  // it was its last membership.
  void RemoveMember(uint32_t m);
  // Re-keys the top of `list`'s heap if a refresh left its key behind its
  // expiry. Returns whether it did.
  bool FixTop(ListId list);
  void SiftUp(ListId list, uint32_t pos);
  void SiftDown(ListId list, uint32_t pos);

  std::vector<List> lists_;
  // The big arrays are on huge pages (common/huge_pages.h).
  HugeVector<IpAddress> keys_;  // by record
  HugeVector<Member> members_;  // by index: a record's first membership, or a later one
  uint32_t free_ = kNone;       // free indices, chained through Member::next
  size_t records_in_use_ = 0;
  // Open addressing with linear probing and backward-shift deletion, at most
  // half full. A slot holds its record in the low bits (record_bits_: as
  // few as the records need, with all-ones never a record) and a tag of the
  // address's hash in the bits above, so a probe past another address's
  // slot rarely loads that address's key.
  static constexpr uint32_t kEmptySlot = UINT32_MAX;
  uint32_t SlotTag(uint64_t hash) const {
    return static_cast<uint32_t>(hash >> 32) & ~record_bits_;
  }
  HugeVector<uint32_t> slots_;
  uint64_t slot_mask_ = 0;
  uint32_t record_bits_ = UINT32_MAX;
  size_t reclaim_cursor_ = 0;     // list Reclaim starts from, for fairness
  std::vector<Expired> expired_;  // of watched lists, since ClearExpired
};

}  // namespace knockgate
