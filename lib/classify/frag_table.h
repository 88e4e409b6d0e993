// Later IP fragments carry no ports, so nothing in them can be matched the way
// their first fragment was. Nothing reassembles in front of the gate (a NIC
// does not), so each worker remembers, per datagram, the verdict its first
// fragment got and gives it to the fragments that follow.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/huge_pages.h"
#include "conntrack/conn_table.h"
#include "packet/parser.h"
#include "policy/model.h"

namespace knockgate {

// Fixed capacity; owned by one worker. A datagram is keyed by source,
// destination, protocol and identification (IPv4's IP ID, IPv6's fragment
// identification). Its entry lives kTimeout from its first fragment; when the
// table is full the oldest entry goes (with one timeout for all, the oldest
// is also the soonest to expire).
class FragTable {
 public:
  static constexpr uint32_t kCapacity = 4096;  // datagrams in flight per worker
  static constexpr Nanos kTimeout = 10 * kNanosPerSecond;

  struct Stats {
    uint64_t firsts = 0;   // first fragments remembered
    uint64_t passed = 0;   // later fragments given an accept
    uint64_t dropped = 0;  // later fragments dropped (any reason)
    uint64_t evicted = 0;  // entries pushed out before their timeout
  };

  static absl::StatusOr<std::unique_ptr<FragTable>> Create(uint32_t capacity = kCapacity);
  static uint64_t MemoryFor(uint32_t capacity = kCapacity);

  // After a first fragment (offset 0, more to come) was classified.
  void RecordFirst(const ParsedPacket& pkt, Verdict verdict, Nanos now);
  // The decision for a later fragment: its first fragment's verdict, or a
  // drop with the reason (overlapping the L4 header, first dropped, first
  // not seen: fragments that arrive before their first are not held).
  DropReason Later(const ParsedPacket& pkt, Nanos now);

  const Stats& stats() const { return stats_; }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Entry {
    FlowKey key;
    Nanos expiry = 0;        // 0: free
    uint16_t l4_header = 0;  // bytes of L4 header the first fragment held
    Verdict verdict = Verdict::kDrop;
  };

  explicit FragTable(uint32_t capacity);
  static uint64_t KeyOf(const ParsedPacket& pkt, FlowKey& k);
  uint32_t Find(const FlowKey& k, uint64_t hash) const;
  void Erase(uint32_t e);

  // On huge pages (common/huge_pages.h).
  HugeVector<Entry> entries_;
  HugeVector<uint32_t> slots_;
  uint64_t slot_mask_ = 0;
  uint32_t next_ = 0;  // the entry the next first fragment takes (oldest first)
  Stats stats_;
};

}  // namespace knockgate
