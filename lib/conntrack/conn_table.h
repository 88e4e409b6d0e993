// Connection tracking for one worker: flows keyed by their WAN-side and
// LAN-side endpoints, with RouterOS's states and timeouts, in a fixed table.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "packet/parser.h"
#include "policy/model.h"

namespace knockgate {

// A flow as seen from the gate: the remote (WAN-side) end and the local
// (LAN-side) end, whichever side opened it.
struct FlowKey {
  IpAddress remote;
  IpAddress local;
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
  uint8_t protocol = 0;
  bool operator==(const FlowKey&) const = default;
};

// The flow key of a packet arriving on `in`, and of the packet an ICMP error quotes.
FlowKey FlowOf(const ParsedPacket& pkt, InterfaceList in);
FlowKey QuotedFlowOf(const ParsedPacket& pkt, InterfaceList in);

enum class TcpState : uint8_t {
  kNone,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait,
  kTimeWait,
  kClose
};

// What conntrack says of one packet, before the filter decides it.
struct ConnLookup {
  uint8_t state = conn_state::kUntracked;  // one conn_state bit
  uint32_t entry = UINT32_MAX;             // the flow's slot when established
  FlowKey key;
};

// Fixed capacity; nothing on the data path allocates. When the table is full,
// a new flow evicts the flow that would expire soonest (counted), so a flood
// of half-open connections ages out before established ones, whose timeouts
// are far longer. Owned by one worker.
class ConnTable {
 public:
  struct Stats {
    uint64_t created = 0;
    uint64_t evicted = 0;
    uint64_t expired = 0;
    uint32_t size = 0;
  };

  static absl::StatusOr<std::unique_ptr<ConnTable>> Create(const ConntrackConfig& config);

  // Classifies `pkt` arriving on `in`: established (a packet of a known
  // flow), related (an ICMP error about one), new (could open a flow),
  // invalid (a TCP segment or echo reply of no known flow), or untracked
  // (a later fragment: no ports to find its flow by).
  ConnLookup Lookup(const ParsedPacket& pkt, InterfaceList in, Nanos now) const {
    return Lookup(pkt, in, now, Hint(pkt, in));
  }
  // A packet's flow key and its hash, computed once per packet: a burst
  // prefetches with it and then looks up with it.
  struct FlowHint {
    FlowKey key;
    uint64_t hash;
  };
  static FlowHint Hint(const ParsedPacket& pkt, InterfaceList in) {
    FlowHint h{FlowOf(pkt, in), 0};
    h.hash = Hash(h.key);
    return h;
  }
  void Prefetch(const FlowHint& hint) const { __builtin_prefetch(&slots_[hint.hash & slot_mask_]); }
  ConnLookup Lookup(const ParsedPacket& pkt, InterfaceList in, Nanos now,
                    const FlowHint& hint) const;
  // After the filter: a new flow is created only if its first packet was
  // accepted; a known flow's state and timeout advance with every packet.
  void Update(const ConnLookup& look, const ParsedPacket& pkt, InterfaceList in, bool accepted,
              Nanos now);
  // Frees at most `budget` expired flows.
  size_t Reclaim(Nanos now, size_t budget);

  const Stats& stats() const { return stats_; }
  TcpState tcp_state(const FlowKey& key, Nanos now) const;

 private:
  struct Entry {
    FlowKey key;
    Nanos expiry = 0;
    uint32_t heap_pos = 0;
    TcpState tcp = TcpState::kNone;
    InterfaceList opened_from = InterfaceList::kLan;
    bool seen_reply = false;
    bool fin_from[2] = {false, false};
  };

  explicit ConnTable(const ConntrackConfig& config);
  static uint64_t Hash(const FlowKey& k);
  uint32_t Find(const FlowKey& k, Nanos now) const { return Find(k, Hash(k), now); }
  uint32_t Find(const FlowKey& k, uint64_t hash, Nanos now) const;
  uint32_t FindAny(const FlowKey& k) const { return FindAny(k, Hash(k)); }
  // Live or expired-but-unreclaimed.
  uint32_t FindAny(const FlowKey& k, uint64_t hash) const;
  void Insert(const FlowKey& k, InterfaceList from, const ParsedPacket& pkt, Nanos now);
  void Erase(uint32_t e);
  void SetExpiry(uint32_t e, Nanos expiry);
  void SiftUp(uint32_t pos);
  void SiftDown(uint32_t pos);
  void HeapSet(uint32_t pos, uint32_t e);
  Nanos InitialTimeout(const ParsedPacket& pkt) const;
  void Advance(Entry& e, const ParsedPacket& pkt, InterfaceList in, Nanos now);

  ConntrackConfig config_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> heap_;  // entries, min-heap on expiry
  std::vector<uint32_t> slots_;
  uint64_t slot_mask_ = 0;
  Stats stats_;
};

}  // namespace knockgate
