// Header parsing on a byte span: Ethernet, 802.1Q/QinQ, IPv4, IPv6, TCP, UDP, ICMP.
// Reads only within the span; anything inconsistent comes back as a DropReason.
#pragma once

#include <cstdint>
#include <span>

#include "net/ip_address.h"
#include "packet/drop_reason.h"

namespace knockgate {

namespace ip_proto {
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kIcmpv6 = 58;
}  // namespace ip_proto

struct ParsedPacket {
  Family family = Family::kNone;  // kNone: a non-IP frame (ARP, LLDP, ...)
  uint16_t ethertype = 0;         // innermost, after VLAN tags
  uint8_t vlan_tags = 0;
  uint8_t protocol = 0;         // L4 protocol (IPv6: after the extension headers)
  bool fragment = false;        // any fragment of a larger datagram
  bool later_fragment = false;  // not the first: carries no L4 header at all
  bool has_ports = false;       // TCP, UDP, SCTP, UDP-Lite or DCCP with a full header
  uint8_t tcp_flags = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint16_t icmp_id = 0;     // echo request/reply identifier
  bool icmp_error = false;  // an ICMP error whose quoted packet parsed (below)
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t l3_offset = 0;
  uint16_t payload_offset = 0;  // the L4 payload, bounded by the IP length
  uint16_t payload_length = 0;  // (not Ethernet padding)
  IpAddress src;
  IpAddress dst;
  // The packet an ICMP error quotes, as it was sent (for conntrack "related"
  // and for steering by the address inside).
  uint8_t inner_protocol = 0;
  uint16_t inner_src_port = 0;
  uint16_t inner_dst_port = 0;
  IpAddress inner_src;
  IpAddress inner_dst;
  // Set for fragments only (after the fields every packet uses): the
  // datagram's identification (IPv4's 16-bit IP ID, IPv6's 32-bit fragment
  // header identification), this fragment's offset in 8-byte units, and
  // whether more follow.
  bool more_fragments = false;
  uint16_t frag_offset = 0;
  uint16_t frag_l4_header = 0;  // a first fragment: the bytes of its L4 header
  uint32_t frag_id = 0;
};

inline bool IsIcmpEcho(const ParsedPacket& p) {
  return (p.protocol == ip_proto::kIcmp && (p.icmp_type == 8 || p.icmp_type == 0)) ||
         (p.protocol == ip_proto::kIcmpv6 && (p.icmp_type == 128 || p.icmp_type == 129));
}
inline bool IsIcmpEchoRequest(const ParsedPacket& p) {
  return (p.protocol == ip_proto::kIcmp && p.icmp_type == 8) ||
         (p.protocol == ip_proto::kIcmpv6 && p.icmp_type == 128);
}

// IPv6 neighbour discovery (router/neighbour solicitation and advertisement,
// redirect): IPv6's ARP, which a bridge must pass for IPv6 to work at all.
inline bool IsNeighbourDiscovery(const ParsedPacket& p) {
  return p.family == Family::kIpv6 && p.protocol == ip_proto::kIcmpv6 && !p.fragment &&
         p.icmp_type >= 133 && p.icmp_type <= 137;
}

// Parses `frame` into `out`. Returns DropReason::kNone for a well-formed
// packet, IP or not; otherwise the reason it must be dropped, and then only
// `family` and the fields the parser reached are meaningful. The inner_*
// fields are meaningful only when icmp_error is set.
DropReason ParsePacket(std::span<const uint8_t> frame, ParsedPacket& out);

namespace detail {
// Every case, without ParsePacket's straight-line path for untagged IPv4
// TCP/UDP: the reference that path is tested against.
DropReason ParsePacketGeneral(std::span<const uint8_t> frame, ParsedPacket& out);
}  // namespace detail

}  // namespace knockgate
