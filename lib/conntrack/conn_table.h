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
#include "common/huge_pages.h"
#include "common/open_addressing.h"
#include "conntrack/conntrack_config.h"
#include "packet/parser.h"
#include "packet/steering.h"
#include "packet/tcp_flag.h"

namespace knockgate {

// A flow as seen from the gate: the remote (WAN-side) end and the local
// (LAN-side) end, whichever side opened it. Five 8-byte words, each written
// whole: a key assembled from narrow stores and then hashed or copied stalls
// store-to-load forwarding.
struct FlowKey {
  // remote address, local address (IpAddress::bytes each), then Tail().
  std::array<uint64_t, 5> words{};

  static uint64_t Tail(uint16_t remote_port, uint16_t local_port, uint8_t protocol, Family family) {
    return uint64_t{remote_port} | uint64_t{local_port} << 16 | uint64_t{protocol} << 32 |
           uint64_t{static_cast<uint8_t>(family)} << 40;
  }
  void Set(const IpAddress& remote, const IpAddress& local, uint64_t tail) {
    std::memcpy(&words[0], remote.bytes.data(), 16);
    std::memcpy(&words[2], local.bytes.data(), 16);
    words[4] = tail;
  }
  // The table hash of a key with these parts, from where they already are.
  static uint64_t Hash(const uint8_t* remote, const uint8_t* local, uint64_t tail) {
    return HashWords(local, 2, HashWords(remote, 2, tail));
  }
  uint64_t Hash() const {
    return Hash(reinterpret_cast<const uint8_t*>(&words[0]),
                reinterpret_cast<const uint8_t*>(&words[2]), words[4]);
  }
  bool operator==(const FlowKey&) const = default;
};

// The flow key of a packet arriving on `in`, and its hash. Its remote end is
// WanSideAddress(pkt, in) for every packet FlowOf is used for (an ICMP
// error's flow is QuotedFlowOf's), without that function's ICMP test.
inline uint64_t FlowOf(const ParsedPacket& pkt, InterfaceList in, FlowKey& k) {
  const bool from_wan = in == InterfaceList::kWan;
  const IpAddress& remote = from_wan ? pkt.src : pkt.dst;
  const IpAddress& local = from_wan ? pkt.dst : pkt.src;
  uint16_t remote_port = 0;
  uint16_t local_port = 0;
  if (IsIcmpEcho(pkt)) {
    remote_port = local_port = pkt.icmp_id;
  } else if (pkt.has_ports) {
    remote_port = from_wan ? pkt.src_port : pkt.dst_port;
    local_port = from_wan ? pkt.dst_port : pkt.src_port;
  }
  const uint64_t tail = FlowKey::Tail(remote_port, local_port, pkt.protocol, pkt.family);
  k.Set(remote, local, tail);
  return FlowKey::Hash(remote.bytes.data(), local.bytes.data(), tail);
}
inline FlowKey FlowOf(const ParsedPacket& pkt, InterfaceList in) {
  FlowKey k;
  FlowOf(pkt, in, k);
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
  const FlowKey* key = nullptr;            // the hint's key when new
};

// Fixed capacity; nothing on the data path allocates. When the table is full,
// a new flow evicts the flow that would expire soonest (counted), so a flood
// of half-open connections ages out before established ones, whose timeouts
// are far longer. Owned by one worker.
class ConnTable {
 public:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Stats {
    uint64_t created = 0;
    uint64_t evicted = 0;
    uint64_t expired = 0;
    uint32_t size = 0;
  };

  static absl::StatusOr<std::unique_ptr<ConnTable>> Create(const ConntrackConfig& config);
  // What Create allocates for `capacity` flows, in bytes.
  static uint64_t MemoryFor(uint32_t capacity) {
    return capacity * (sizeof(Entry) + 2 * sizeof(uint32_t)) +
           SlotsFor(capacity) * sizeof(uint32_t);
  }

  // A packet's flow key and its hash, computed once per packet: a burst
  // prefetches with it and then looks up with it.
  struct FlowHint {
    FlowKey key;
    uint64_t hash = 0;
  };
  // Filled in place: a hint built elsewhere and copied in would be read back
  // whole before its narrow stores retire (a store-forwarding stall).
  // An ICMP error's hint is the flow it quotes.
  static void FillHint(const ParsedPacket& pkt, InterfaceList in, FlowHint& h) {
    if (pkt.icmp_error) [[unlikely]] {
      h.key = QuotedFlowOf(pkt, in);
      h.hash = h.key.Hash();
      return;
    }
    h.hash = FlowOf(pkt, in, h.key);
  }
  void Prefetch(const FlowHint& hint) const { __builtin_prefetch(&slots_[hint.hash & slot_mask_]); }
  // Classifies `pkt`, whose FillHint is `hint`: established
  // (a packet of a known flow), related (an ICMP error about one), new (could
  // open a flow), invalid (a TCP segment or echo reply of no known flow), or
  // untracked (a later fragment: no ports to find its flow by). The result
  // refers to `hint`, which must outlive it.
  ConnLookup Lookup(const ParsedPacket& pkt, Nanos now, const FlowHint& hint) const {
    ConnLookup look;
    if (pkt.later_fragment) {
      return look;  // untracked
    }
    if (pkt.icmp_error) {
      look.state =
          Find(hint.key, hint.hash, now) != kEmpty ? conn_state::kRelated : conn_state::kInvalid;
      return look;
    }
    look.entry = Find(hint.key, hint.hash, now);
    if (look.entry != kEmpty) {
      look.state = conn_state::kEstablished;
      return look;
    }
    look.key = &hint.key;
    look.state = NewOrInvalid(pkt);
    return look;
  }
  // After the filter: a new flow is created only if its first packet was
  // accepted; a known flow's state and timeout advance with every packet.
  void Update(const ConnLookup& look, const ParsedPacket& pkt, InterfaceList in, bool accepted,
              Nanos now) {
    if (look.state == conn_state::kEstablished) {
      Advance(entries_[look.entry], pkt, in, now);
    } else if (look.state == conn_state::kNew && accepted) {
      Insert(*look.key, in, pkt, now);
    }
  }
  // Frees expired flows, doing at most `budget` heap steps (a free, or
  // re-keying a flow extended since it was keyed). Returns how many it freed.
  size_t Reclaim(Nanos now, size_t budget);

  // A reload's timeouts: flows take them at their next packet. The capacity
  // stays (it sized the table).
  void SetTimeouts(const ConntrackConfig& config) {
    const uint32_t capacity = config_.capacity;
    config_ = config;
    config_.capacity = capacity;
  }

  const Stats& stats() const { return stats_; }
  TcpState tcp_state(const FlowKey& key, Nanos now) const;

 private:
  // One cache line: a hit reads the key, the expiry and the state together.
  struct alignas(64) Entry {
    FlowKey key;
    Nanos expiry = 0;
    // What the heap orders by: a lower bound of expiry. A packet that only
    // extends its flow's timeout leaves the heap alone; the flow is re-keyed
    // when it reaches the top (FixTop).
    Nanos heap_key = 0;
    uint32_t heap_pos = 0;
    TcpState tcp = TcpState::kNone;
    InterfaceList opened_from = InterfaceList::kLan;
    bool seen_reply = false;
    uint8_t fin_from = 0;  // bit per InterfaceList that sent a FIN
  };
  static_assert(sizeof(Entry) == 64);
  // Re-keyings an insert into a full table may do to find the soonest expiry.
  static constexpr size_t kEvictFixups = 16;

  explicit ConnTable(const ConntrackConfig& config);
  static uint64_t Hash(const FlowKey& k) { return k.Hash(); }
  uint32_t Find(const FlowKey& k, Nanos now) const { return Find(k, Hash(k), now); }
  uint32_t Find(const FlowKey& k, uint64_t hash, Nanos now) const {
    const uint32_t e = FindAny(k, hash);
    // Exact: a flow past its timeout is gone even before Reclaim frees it.
    return e != kEmpty && entries_[e].expiry > now ? e : kEmpty;
  }
  uint32_t FindAny(const FlowKey& k) const { return FindAny(k, Hash(k)); }
  // Live or expired-but-unreclaimed.
  uint32_t FindAny(const FlowKey& k, uint64_t hash) const {
    for (uint64_t i = hash & slot_mask_;; i = (i + 1) & slot_mask_) {
      const uint32_t e = slots_[i];
      if (e == kEmpty || entries_[e].key == k) {
        return e;
      }
    }
  }
  // A packet of no known flow: new if it could open one, else invalid (a TCP
  // segment other than a bare SYN, an echo reply).
  static uint8_t NewOrInvalid(const ParsedPacket& pkt) {
    if (pkt.protocol == ip_proto::kTcp) {
      return (pkt.tcp_flags & (tcp_flag::kSyn | tcp_flag::kAck | tcp_flag::kRst)) == tcp_flag::kSyn
                 ? conn_state::kNew
                 : conn_state::kInvalid;
    }
    return IsIcmpEcho(pkt) && !IsIcmpEchoRequest(pkt) ? conn_state::kInvalid : conn_state::kNew;
  }
  void Insert(const FlowKey& k, InterfaceList from, const ParsedPacket& pkt, Nanos now);
  void Erase(uint32_t e);
  void SetExpiry(uint32_t e, Nanos expiry);
  bool FixTop();
  void SiftUp(uint32_t pos);
  void SiftDown(uint32_t pos);
  void HeapSet(uint32_t pos, uint32_t e);
  Nanos InitialTimeout(const ParsedPacket& pkt) const;
  void Advance(Entry& e, const ParsedPacket& pkt, InterfaceList in, Nanos now);

  ConntrackConfig config_;
  // On huge pages (common/huge_pages.h).
  HugeVector<Entry> entries_;
  HugeVector<uint32_t> free_;
  HugeVector<uint32_t> heap_;  // entries, min-heap on expiry
  HugeVector<uint32_t> slots_;
  uint64_t slot_mask_ = 0;
  Stats stats_;
};

}  // namespace knockgate
