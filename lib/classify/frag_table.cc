// A ring of entries (the next insert takes the oldest) indexed by linear
// probing, with exact expiry on lookup.
#include "classify/frag_table.h"

#include "absl/strings/str_cat.h"
#include "common/open_addressing.h"

namespace knockgate {
namespace {

// The L4 header bytes a fragment must not overlap, when the first fragment
// did not say: the smallest header of the protocol.
uint16_t MinimalL4Header(uint8_t protocol) {
  switch (protocol) {
    case ip_proto::kTcp:
      return 20;
    case ip_proto::kUdp:
    case ip_proto::kIcmp:
    case ip_proto::kIcmpv6:
      return 8;
    default:
      return 0;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<FragTable>> FragTable::Create(uint32_t capacity) {
  if (capacity == 0 || capacity >= (1u << 30)) {
    return absl::InvalidArgumentError(absl::StrCat("fragment table capacity ", capacity));
  }
  return std::unique_ptr<FragTable>(new FragTable(capacity));
}

uint64_t FragTable::MemoryFor(uint32_t capacity) {
  return uint64_t{capacity} * sizeof(Entry) + uint64_t{SlotsFor(capacity)} * sizeof(uint32_t);
}

FragTable::FragTable(uint32_t capacity) : entries_(capacity) {
  const uint64_t slots = SlotsFor(capacity);
  slots_.assign(slots, kEmpty);
  slot_mask_ = slots - 1;
}

uint64_t FragTable::KeyOf(const ParsedPacket& pkt, FlowKey& k) {
  const uint64_t tail = uint64_t{pkt.frag_id} | uint64_t{pkt.protocol} << 32 |
                        uint64_t{static_cast<uint8_t>(pkt.family)} << 40;
  k.Set(pkt.src, pkt.dst, tail);
  return FlowKey::Hash(pkt.src.bytes.data(), pkt.dst.bytes.data(), tail);
}

uint32_t FragTable::Find(const FlowKey& k, uint64_t hash) const {
  for (uint64_t i = hash & slot_mask_;; i = (i + 1) & slot_mask_) {
    const uint32_t e = slots_[i];
    if (e == kEmpty || entries_[e].key == k) {
      return e;
    }
  }
}

void FragTable::Erase(uint32_t e) {
  EraseFromProbeRun(slots_, slot_mask_, kEmpty, entries_[e].key.Hash(), e,
                    [this](uint32_t x) { return entries_[x].key.Hash(); });
  entries_[e].expiry = 0;
}

void FragTable::RecordFirst(const ParsedPacket& pkt, Verdict verdict, Nanos now) {
  FlowKey k;
  const uint64_t hash = KeyOf(pkt, k);
  if (const uint32_t e = Find(k, hash); e != kEmpty) {
    // A repeated first fragment: the datagram keeps the verdict it got first.
    if (entries_[e].expiry > now) {
      return;
    }
    Erase(e);
  }
  const uint32_t e = next_;
  next_ = (next_ + 1) % static_cast<uint32_t>(entries_.size());
  if (entries_[e].expiry != 0) {
    stats_.evicted += entries_[e].expiry > now;
    Erase(e);
  }
  Entry& entry = entries_[e];
  entry.key = k;
  entry.expiry = now + kTimeout;
  entry.l4_header = pkt.frag_l4_header;
  entry.verdict = verdict;
  uint64_t i = hash & slot_mask_;
  while (slots_[i] != kEmpty) {
    i = (i + 1) & slot_mask_;
  }
  slots_[i] = e;
  ++stats_.firsts;
}

DropReason FragTable::Later(const ParsedPacket& pkt, Nanos now) {
  FlowKey k;
  const uint64_t hash = KeyOf(pkt, k);
  const uint32_t e = Find(k, hash);
  const bool known = e != kEmpty && entries_[e].expiry > now;
  const uint16_t header = known ? entries_[e].l4_header : MinimalL4Header(pkt.protocol);
  DropReason r = DropReason::kNone;
  if (uint32_t{pkt.frag_offset} * 8 < header) {
    r = DropReason::kFragmentOverlap;
  } else if (!known) {
    r = DropReason::kFragmentBeforeFirst;
  } else if (entries_[e].verdict != Verdict::kAccept) {
    r = DropReason::kFragmentOfDropped;
  }
  ++(r == DropReason::kNone ? stats_.passed : stats_.dropped);
  return r;
}

}  // namespace knockgate
