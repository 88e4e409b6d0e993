// Flow table: linear probing with backward-shift deletion, a min-heap on
// expiry for eviction and reclamation, and a small TCP state machine.
#include "conntrack/conn_table.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/index_heap.h"
#include "common/open_addressing.h"

namespace knockgate {
namespace {

bool IsTcp(const ParsedPacket& p) { return p.protocol == ip_proto::kTcp; }

}  // namespace

FlowKey QuotedFlowOf(const ParsedPacket& pkt, InterfaceList in) {
  // The quoted packet travelled the other way: an error arriving on the WAN
  // quotes a packet that left through it (its destination is the remote end).
  const bool quoted_from_lan = in == InterfaceList::kWan;
  FlowKey k;
  k.Set(quoted_from_lan ? pkt.inner_dst : pkt.inner_src,
        quoted_from_lan ? pkt.inner_src : pkt.inner_dst,
        FlowKey::Tail(quoted_from_lan ? pkt.inner_dst_port : pkt.inner_src_port,
                      quoted_from_lan ? pkt.inner_src_port : pkt.inner_dst_port, pkt.inner_protocol,
                      pkt.family));
  return k;
}

absl::StatusOr<std::unique_ptr<ConnTable>> ConnTable::Create(const ConntrackConfig& config) {
  if (config.capacity == 0 || config.capacity >= (1u << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("conntrack capacity ", config.capacity, " is out of range"));
  }
  return std::unique_ptr<ConnTable>(new ConnTable(config));
}

ConnTable::ConnTable(const ConntrackConfig& config) : config_(config) {
  entries_.resize(config.capacity);
  heap_.reserve(config.capacity);
  free_.reserve(config.capacity);
  for (uint32_t e = config.capacity; e > 0; --e) {
    free_.push_back(e - 1);
  }
  const uint64_t slots = SlotsFor(config.capacity);
  slots_.assign(slots, kEmpty);
  slot_mask_ = slots - 1;
}

TcpState ConnTable::tcp_state(const FlowKey& key, Nanos now) const {
  const uint32_t e = Find(key, now);
  return e == kEmpty ? TcpState::kNone : entries_[e].tcp;
}

Nanos ConnTable::InitialTimeout(const ParsedPacket& pkt) const {
  if (IsTcp(pkt)) {
    return config_.tcp_syn_sent_timeout;
  }
  if (pkt.protocol == ip_proto::kUdp) {
    return config_.udp_timeout;
  }
  if (pkt.protocol == ip_proto::kIcmp || pkt.protocol == ip_proto::kIcmpv6) {
    return config_.icmp_timeout;
  }
  return config_.generic_timeout;
}

void ConnTable::Advance(Entry& e, const ParsedPacket& pkt, InterfaceList in, Nanos now) {
  const uint32_t index = static_cast<uint32_t>(&e - entries_.data());
  const bool reply = in != e.opened_from;
  e.seen_reply = e.seen_reply || reply;
  Nanos timeout = 0;
  if (!IsTcp(pkt)) {
    timeout = pkt.protocol == ip_proto::kUdp
                  ? (e.seen_reply ? config_.udp_stream_timeout : config_.udp_timeout)
                  : InitialTimeout(pkt);
  } else {
    const uint8_t f = pkt.tcp_flags;
    if (f & tcp_flag::kRst) {
      e.tcp = TcpState::kClose;
    } else if (f & tcp_flag::kFin) {
      e.fin_from |= static_cast<uint8_t>(1u << static_cast<int>(in));
      e.tcp = e.fin_from == 0x3 ? TcpState::kTimeWait : TcpState::kFinWait;
    } else if (e.tcp == TcpState::kSynSent && reply && (f & tcp_flag::kSyn) &&
               (f & tcp_flag::kAck)) {
      e.tcp = TcpState::kSynReceived;
    } else if (e.tcp == TcpState::kSynReceived && !reply && (f & tcp_flag::kAck)) {
      e.tcp = TcpState::kEstablished;
    }
    switch (e.tcp) {
      case TcpState::kSynSent:
        timeout = config_.tcp_syn_sent_timeout;
        break;
      case TcpState::kSynReceived:
        timeout = config_.tcp_syn_received_timeout;
        break;
      case TcpState::kEstablished:
      case TcpState::kNone:
        timeout = config_.tcp_established_timeout;
        break;
      case TcpState::kFinWait:
        timeout = config_.tcp_fin_wait_timeout;
        break;
      case TcpState::kTimeWait:
        timeout = config_.tcp_time_wait_timeout;
        break;
      case TcpState::kClose:
        timeout = config_.tcp_close_timeout;
        break;
    }
  }
  SetExpiry(index, now + timeout);
}

void ConnTable::Insert(const FlowKey& k, InterfaceList from, const ParsedPacket& pkt, Nanos now) {
  if (const uint32_t stale = FindAny(k); stale != kEmpty) {
    Erase(stale);  // the same flow, expired but not reclaimed yet
    ++stats_.expired;
  }
  if (free_.empty()) {
    // Full: the flow closest to expiring goes first, once flows extended
    // since they were keyed are re-keyed (bounded, so one insert never
    // stalls the worker).
    for (size_t i = 0; i < kEvictFixups && FixTop(); ++i) {
    }
    const uint32_t victim = heap_.front();
    ++(entries_[victim].expiry > now ? stats_.evicted : stats_.expired);
    Erase(victim);
  }
  const uint32_t e = free_.back();
  free_.pop_back();
  Entry& entry = entries_[e];
  entry = Entry{};
  entry.key = k;
  entry.opened_from = from;
  entry.tcp = IsTcp(pkt) ? TcpState::kSynSent : TcpState::kNone;
  entry.expiry = now + InitialTimeout(pkt);
  entry.heap_key = entry.expiry;
  uint64_t i = Hash(k) & slot_mask_;
  while (slots_[i] != kEmpty) {
    i = (i + 1) & slot_mask_;
  }
  slots_[i] = e;
  heap_.push_back(e);
  entry.heap_pos = static_cast<uint32_t>(heap_.size() - 1);
  SiftUp(entry.heap_pos);
  ++stats_.created;
  stats_.size = static_cast<uint32_t>(heap_.size());
}

void ConnTable::Erase(uint32_t e) {
  EraseFromProbeRun(slots_, slot_mask_, kEmpty, Hash(entries_[e].key), e,
                    [this](uint32_t r) { return Hash(entries_[r].key); });
  const uint32_t pos = entries_[e].heap_pos;
  const uint32_t last = heap_.back();
  heap_.pop_back();
  if (last != e) {
    HeapSet(pos, last);
    SiftUp(pos);
    SiftDown(entries_[last].heap_pos);
  }
  free_.push_back(e);
  stats_.size = static_cast<uint32_t>(heap_.size());
}

size_t ConnTable::Reclaim(Nanos now, size_t budget) {
  size_t freed = 0;
  for (size_t steps = 0;
       steps < budget && !heap_.empty() && entries_[heap_.front()].heap_key <= now; ++steps) {
    if (FixTop()) {
      continue;  // extended since it was keyed: still live
    }
    Erase(heap_.front());
    ++stats_.expired;
    ++freed;
  }
  return freed;
}

bool ConnTable::FixTop() {
  Entry& top = entries_[heap_.front()];
  if (top.heap_key == top.expiry) {
    return false;
  }
  top.heap_key = top.expiry;
  SiftDown(0);
  return true;
}

void ConnTable::SetExpiry(uint32_t e, Nanos expiry) {
  Entry& entry = entries_[e];
  entry.expiry = expiry;
  // Later: nothing to do, heap_key stays a lower bound. Earlier (a closing
  // TCP state): the heap must see it now.
  if (expiry < entry.heap_key) {
    entry.heap_key = expiry;
    SiftUp(entry.heap_pos);
  }
}

void ConnTable::HeapSet(uint32_t pos, uint32_t e) {
  heap_[pos] = e;
  entries_[e].heap_pos = pos;
}

void ConnTable::SiftUp(uint32_t pos) {
  HeapSiftUp(
      heap_, pos, [&](uint32_t e) { return entries_[e].heap_key; },
      [&](uint32_t e, uint32_t p) { entries_[e].heap_pos = p; });
}

void ConnTable::SiftDown(uint32_t pos) {
  HeapSiftDown(
      heap_, pos, [&](uint32_t e) { return entries_[e].heap_key; },
      [&](uint32_t e, uint32_t p) { entries_[e].heap_pos = p; });
}

}  // namespace knockgate
