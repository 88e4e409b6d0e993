// Dynamic address lists of one worker: one record per address holds its expiry
// in every list, so a packet costs one hash probe however many lists rules name.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/hash.h"
#include "net/ip_address.h"
#include "policy/duration.h"

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

  // `capacities[i]` is list i's capacity; at most kMaxLists lists, each >= 1.
  static absl::StatusOr<std::unique_ptr<AddressTable>> Create(std::span<const uint32_t> capacities);

  AddressTable(const AddressTable&) = delete;
  AddressTable& operator=(const AddressTable&) = delete;

  static uint64_t Hash(const IpAddress& a) {
    return HashWords(a.bytes.data(), 2, static_cast<uint64_t>(a.family));
  }
  // The record of `addr`, or kNoRecord. The one probe a packet pays.
  uint32_t Find(const IpAddress& addr) const { return Find(addr, Hash(addr)); }
  // The same, with Hash(addr) computed already (a burst hashes each packet once).
  uint32_t Find(const IpAddress& addr, uint64_t hash) const {
    for (uint64_t i = hash & slot_mask_;; i = (i + 1) & slot_mask_) {
      const uint32_t r = slots_[i];
      if (r == kNoRecord || keys_[r] == addr) {
        return r;
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
  // Re-adding keeps the later expiry.
  AddResult Add(const IpAddress& addr, ListId list, Nanos now, Nanos timeout);

  // Frees memberships that expired at or before `now`, doing at most
  // `budget` heap steps (a free, or re-keying a refreshed member that reached
  // the top). Returns how many it freed.
  size_t Reclaim(Nanos now, size_t budget);

  // Calls fn(address, list, expiry) for every live membership at `now`
  // (control plane, on a stopped worker's table or its own thread).
  template <typename Fn>
  void ForEachMember(Nanos now, Fn fn) const {
    for (size_t l = 0; l < lists_.size(); ++l) {
      for (uint32_t r : lists_[l].heap) {
        if (Expiry(r, static_cast<ListId>(l)) > now) {
          fn(keys_[r], static_cast<ListId>(l), Expiry(r, static_cast<ListId>(l)));
        }
      }
    }
  }

  size_t list_count() const { return lists_.size(); }
  size_t records_in_use() const { return records_in_use_; }
  const ListStats& stats(ListId list) const { return lists_[list].stats; }

 private:
  // Re-keyings an insert into a full list may do to find the soonest expiry.
  static constexpr size_t kEvictFixups = 16;

  struct List {
    std::vector<uint32_t> heap;  // records, min-heap on their heap key in this list
    ListStats stats;
  };

  explicit AddressTable(std::span<const uint32_t> capacities);

  Nanos& ExpiryRef(uint32_t record, ListId list) {
    return stamps_[record * lists_.size() + list].expiry;
  }
  Nanos& HeapKey(uint32_t record, ListId list) {
    return stamps_[record * lists_.size() + list].heap_key;
  }
  Nanos Expiry(uint32_t record, ListId list) const {
    return stamps_[record * lists_.size() + list].expiry;
  }
  uint32_t& HeapPos(uint32_t record, ListId list) {
    return heap_pos_[record * lists_.size() + list];
  }

  uint32_t InsertRecord(const IpAddress& addr);
  void EraseRecord(uint32_t record);
  // Removes `record` from `list`; frees the record when it was its last list.
  void RemoveMember(uint32_t record, ListId list);
  // Re-keys the top of `list`'s heap if a refresh left its key behind its
  // expiry. Returns whether it did.
  bool FixTop(ListId list);
  void SiftUp(ListId list, uint32_t pos);
  void SiftDown(ListId list, uint32_t pos);
  void HeapSet(ListId list, uint32_t pos, uint32_t record);

  std::vector<List> lists_;
  // Per record; record r's per-list fields start at r * lists_.size().
  std::vector<IpAddress> keys_;
  // A membership's times side by side: Reclaim reads both.
  struct Stamp {
    Nanos expiry = 0;    // 0: not a member
    Nanos heap_key = 0;  // what the heap orders by: <= expiry
  };
  std::vector<Stamp> stamps_;
  std::vector<uint32_t> heap_pos_;
  std::vector<uint8_t> member_count_;
  std::vector<uint32_t> free_records_;
  size_t records_in_use_ = 0;
  // Open addressing with linear probing and backward-shift deletion.
  std::vector<uint32_t> slots_;
  uint64_t slot_mask_ = 0;
  size_t reclaim_cursor_ = 0;  // list Reclaim starts from, for fairness
};

}  // namespace knockgate
