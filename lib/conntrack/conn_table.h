// Connection tracking for one worker: flows keyed by their WAN-side and
// LAN-side endpoints, with RouterOS's states and timeouts, in a fixed table.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/hash.h"
#include "packet/parser.h"
#include "policy/model.h"

namespace knockgate {

// A flow as seen from the gate: the remote (WAN-side) end and the local
// (LAN-side) end, whichever side opened it. Five aligned 8-byte words, so
// hashing and comparing are five loads each.
struct alignas(8) FlowKey {
  std::array<uint8_t, 16> remote{};  // IpAddress::bytes
  std::array<uint8_t, 16> local{};
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
  uint8_t protocol = 0;
  Family family = Family::kNone;
  uint16_t zero = 0;  // keeps the last word fully defined

  static constexpr size_t kWords = 5;
  uint64_t Word(size_t i) const {
    uint64_t w;
    std::memcpy(&w, reinterpret_cast<const uint8_t*>(this) + 8 * i, 8);
    return w;
  }
  bool operator==(const FlowKey& o) const {
    uint64_t diff = 0;
    for (size_t i = 0; i < kWords; ++i) {
      diff |= Word(i) ^ o.Word(i);
    }
    return diff == 0;
  }
};
static_assert(sizeof(FlowKey) == 8 * FlowKey::kWords);

// The flow key of a packet arriving on `in`.
inline FlowKey FlowOf(const ParsedPacket& pkt, InterfaceList in) {
  FlowKey k;
  const bool from_wan = in == InterfaceList::kWan;
  k.remote = from_wan ? pkt.src.bytes : pkt.dst.bytes;
  k.local = from_wan ? pkt.dst.bytes : pkt.src.bytes;
  if (IsIcmpEcho(pkt)) {
    k.remote_port = k.local_port = pkt.icmp_id;
  } else if (pkt.has_ports) {
    k.remote_port = from_wan ? pkt.src_port : pkt.dst_port;
    k.local_port = from_wan ? pkt.dst_port : pkt.src_port;
  }
  k.protocol = pkt.protocol;
  k.family = pkt.family;
  return k;
}
// The flow of the packet an ICMP error quotes.
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
    FlowHint hint;
    FillHint(pkt, in, hint);
    return Lookup(pkt, in, now, hint);
  }
  // A packet's flow key and its hash, computed once per packet: a burst
  // prefetches with it and then looks up with it.
  struct FlowHint {
    FlowKey key;
    uint64_t hash = 0;
  };
  // Filled in place: a hint built elsewhere and copied in would be read back
  // whole before its narrow stores retire (a store-forwarding stall).
  static void FillHint(const ParsedPacket& pkt, InterfaceList in, FlowHint& h) {
    h.key = FlowOf(pkt, in);
    h.hash = Hash(h.key);
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
  // One cache line: a hit reads the key, the expiry and the state together.
  struct alignas(64) Entry {
    FlowKey key;
    Nanos expiry = 0;
    uint32_t heap_pos = 0;
    TcpState tcp = TcpState::kNone;
    InterfaceList opened_from = InterfaceList::kLan;
    bool seen_reply = false;
    bool fin_from[2] = {false, false};
  };

  explicit ConnTable(const ConntrackConfig& config);
  static uint64_t Hash(const FlowKey& k) {
    return HashWords(reinterpret_cast<const uint8_t*>(&k), FlowKey::kWords, 0);
  }
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
