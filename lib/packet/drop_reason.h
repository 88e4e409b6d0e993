// Every reason a packet is dropped, counted per worker and shown to the user.
// Parser reasons come first; policy reasons after them.
#pragma once

#include <array>
#include <cstdint>

namespace knockgate {

enum class DropReason : uint8_t {
  kNone = 0,
  kTruncatedL2,          // shorter than an Ethernet header or a VLAN tag
  kTooManyVlanTags,      // more than QinQ's two tags
  kTruncatedIpv4,        // shorter than 20 bytes or than its IHL
  kBadIpv4Header,        // version not 4, or IHL < 5
  kBadIpv4Length,        // total length beyond the frame or below the header
  kTruncatedIpv6,        // shorter than the 40-byte fixed header
  kBadIpv6Header,        // version not 6
  kBadIpv6Length,        // payload length beyond the frame, or zero (jumbogram)
  kIpv6ExtChain,         // extension header chain runs off the end or is too long
  kTruncatedL4,          // TCP/UDP/ICMP header cut short
  kBadL4Header,          // TCP data offset < 5, UDP length below 8 or beyond the packet
  kRule,                 // a drop rule matched
  kWanDefault,           // no rule accepted a WAN-arriving packet
  kLanDefault,           // no rule accepted a LAN-arriving packet and lan-default is drop
  kNonIp,                // non-IP frame with non-ip = "drop"
  kTxFull,               // the egress queue did not take it
  kRingFull,             // dispatcher mode: the worker's ring was full
  kMissteered,           // arrived at a worker that does not own it: handed over, not dropped
  kHandoverFull,         // the owner's hand-over ring was full
  kTinyFragment,         // a first fragment too short for its L4 header (RFC 1858)
  kFragmentOverlap,      // a later fragment overlapping the L4 header (RFC 3128)
  kFragmentOfDropped,    // a later fragment of a datagram whose first was dropped
  kFragmentBeforeFirst,  // a later fragment whose first fragment has not been seen
  kSpa,                  // consumed by an [[spa]] section, granted or not
  kCount,
};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);

// Stable snake_case names, as counters and telemetry print them.
inline constexpr std::array<const char*, kDropReasonCount> kDropReasonNames = {
    "none",
    "truncated_l2",
    "too_many_vlan_tags",
    "truncated_ipv4",
    "bad_ipv4_header",
    "bad_ipv4_length",
    "truncated_ipv6",
    "bad_ipv6_header",
    "bad_ipv6_length",
    "ipv6_ext_chain",
    "truncated_l4",
    "bad_l4_header",
    "rule",
    "wan_default",
    "lan_default",
    "non_ip",
    "tx_full",
    "ring_full",
    "missteered",
    "handover_full",
    "tiny_fragment",
    "fragment_overlap",
    "fragment_of_dropped",
    "fragment_before_first",
    "spa",
};

inline const char* DropReasonName(DropReason r) { return kDropReasonNames[static_cast<size_t>(r)]; }

// Whether the parser gave this reason (the packet's fields are incomplete).
inline bool IsParseReason(DropReason r) {
  return (r >= DropReason::kTruncatedL2 && r <= DropReason::kBadL4Header) ||
         r == DropReason::kTinyFragment;
}

}  // namespace knockgate

static_assert(knockgate::kDropReasonNames.back() != nullptr, "a DropReason has no name");
