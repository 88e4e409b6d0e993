// Bounds-checked header walk. Every read is preceded by a length check against
// the span or the IP-declared length, whichever is shorter.
#include "packet/parser.h"

namespace knockgate {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88A8;
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr int kMaxVlanTags = 2;
constexpr int kMaxIpv6ExtHeaders = 8;

inline uint16_t Load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

bool CarriesPorts(uint8_t proto) {
  return proto == ip_proto::kTcp || proto == ip_proto::kUdp || proto == 132 /* sctp */ ||
         proto == 136 /* udp-lite */ || proto == 33 /* dccp */;
}

bool IsIcmpErrorType(uint8_t type, bool v6) {
  return v6 ? (type >= 1 && type <= 4)
            : (type == 3 || type == 4 || type == 5 || type == 11 || type == 12);
}

// Reads the packet an ICMP error quotes: its IP header and the first 8 bytes
// after it (enough for ports). A quote cut short leaves icmp_error false.
void ParseIcmpQuote(const uint8_t* q, size_t len, bool v6, ParsedPacket& out) {
  if (!IsIcmpErrorType(out.icmp_type, v6)) {
    return;
  }
  size_t ip_len = 0;
  if (!v6) {
    if (len < 20 || (q[0] >> 4) != 4 || (q[0] & 0x0f) < 5) {
      return;
    }
    ip_len = static_cast<size_t>(q[0] & 0x0f) * 4;
    if (len < ip_len) {
      return;
    }
    out.inner_src = IpAddress::V4(q + 12);
    out.inner_dst = IpAddress::V4(q + 16);
    out.inner_protocol = q[9];
  } else {
    if (len < 40 || (q[0] >> 4) != 6) {
      return;
    }
    ip_len = 40;
    out.inner_src = IpAddress::V6(q + 8);
    out.inner_dst = IpAddress::V6(q + 24);
    out.inner_protocol = q[6];
  }
  out.inner_src_port = 0;
  out.inner_dst_port = 0;
  if (CarriesPorts(out.inner_protocol) && len >= ip_len + 4) {
    out.inner_src_port = Load16(q + ip_len);
    out.inner_dst_port = Load16(q + ip_len + 2);
  } else if ((out.inner_protocol == ip_proto::kIcmp || out.inner_protocol == ip_proto::kIcmpv6) &&
             len >= ip_len + 8) {
    out.inner_src_port = out.inner_dst_port = Load16(q + ip_len + 4);  // echo id
  }
  out.icmp_error = true;
}

// Parses the L4 header at `l4` (length `len`, already bounded by the IP length).
DropReason ParseL4(const uint8_t* l4, size_t len, size_t l4_offset, ParsedPacket& out) {
  const uint8_t proto = out.protocol;
  size_t header = 0;
  // A first fragment must hold the whole L4 header (RFC 1858): one that does
  // not would let a later fragment supply ports and flags no rule saw.
  const DropReason short_header =
      out.fragment ? DropReason::kTinyFragment : DropReason::kTruncatedL4;
  if (proto == ip_proto::kTcp) {
    if (len < 20) {
      return short_header;
    }
    header = static_cast<size_t>(l4[12] >> 4) * 4;
    if (header < 20) {
      return DropReason::kBadL4Header;
    }
    if (header > len) {
      return short_header;
    }
    out.tcp_flags = l4[13];
  } else if (proto == ip_proto::kUdp) {
    if (len < 8) {
      return short_header;
    }
    const uint16_t udp_len = Load16(l4 + 4);
    // A first fragment holds only part of the datagram the UDP length covers.
    if (udp_len < 8 || (!out.fragment && udp_len > len)) {
      return DropReason::kBadL4Header;
    }
    header = 8;
    if (!out.fragment) {
      len = udp_len;
    }
  } else if (CarriesPorts(proto)) {
    header = proto == 132 ? 12 : (proto == 33 ? 12 : 8);
    if (len < header) {
      return short_header;
    }
  } else if (proto == ip_proto::kIcmp || proto == ip_proto::kIcmpv6) {
    if (len < (out.fragment ? 8 : 4)) {
      return short_header;
    }
    out.icmp_type = l4[0];
    out.icmp_code = l4[1];
    header = len < 8 ? len : 8;
    if (len >= 8) {
      out.icmp_id = Load16(l4 + 4);
      ParseIcmpQuote(l4 + 8, len - 8, proto == ip_proto::kIcmpv6, out);
    }
  }
  if (CarriesPorts(proto)) {
    out.has_ports = true;
    out.src_port = Load16(l4);
    out.dst_port = Load16(l4 + 2);
  }
  out.payload_offset = static_cast<uint16_t>(l4_offset + header);
  out.payload_length = static_cast<uint16_t>(len - header);
  if (out.fragment) {
    out.frag_l4_header = static_cast<uint16_t>(header);
  }
  return DropReason::kNone;
}

DropReason ParseIpv4(std::span<const uint8_t> frame, size_t off, ParsedPacket& out) {
  if (frame.size() - off < 20) {
    return DropReason::kTruncatedIpv4;
  }
  const uint8_t* ip = frame.data() + off;
  if ((ip[0] >> 4) != 4) {
    return DropReason::kBadIpv4Header;
  }
  const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  if (ihl < 20) {
    return DropReason::kBadIpv4Header;
  }
  if (ihl > frame.size() - off) {
    return DropReason::kTruncatedIpv4;
  }
  const size_t total = Load16(ip + 2);
  if (total < ihl || total > frame.size() - off) {
    return DropReason::kBadIpv4Length;
  }
  out.family = Family::kIpv4;
  out.src = IpAddress::V4(ip + 12);
  out.dst = IpAddress::V4(ip + 16);
  out.protocol = ip[9];
  const uint16_t frag = Load16(ip + 6);
  const uint16_t frag_offset = frag & 0x1fff;
  const bool more_fragments = (frag & 0x2000) != 0;
  out.fragment = more_fragments || frag_offset != 0;
  out.later_fragment = frag_offset != 0;
  if (out.fragment) {
    out.more_fragments = more_fragments;
    out.frag_offset = frag_offset;
    out.frag_id = Load16(ip + 4);
  }
  if (out.later_fragment) {
    out.payload_offset = static_cast<uint16_t>(off + ihl);
    out.payload_length = static_cast<uint16_t>(total - ihl);
    return DropReason::kNone;
  }
  return ParseL4(ip + ihl, total - ihl, off + ihl, out);
}

DropReason ParseIpv6(std::span<const uint8_t> frame, size_t off, ParsedPacket& out) {
  if (frame.size() - off < 40) {
    return DropReason::kTruncatedIpv6;
  }
  const uint8_t* ip = frame.data() + off;
  if ((ip[0] >> 4) != 6) {
    return DropReason::kBadIpv6Header;
  }
  const size_t payload_len = Load16(ip + 4);
  if (payload_len == 0 || payload_len > frame.size() - off - 40) {
    return DropReason::kBadIpv6Length;
  }
  out.family = Family::kIpv6;
  out.src = IpAddress::V6(ip + 8);
  out.dst = IpAddress::V6(ip + 24);
  const size_t end = off + 40 + payload_len;
  size_t pos = off + 40;
  uint8_t next = ip[6];
  for (int n = 0;; ++n) {
    const bool extension = next == 0 || next == 43 || next == 44 || next == 60 || next == 51 ||
                           next == 135 || next == 139 || next == 140;
    if (!extension) {
      break;
    }
    if (n == kMaxIpv6ExtHeaders || end - pos < 8) {
      return DropReason::kIpv6ExtChain;
    }
    const uint8_t* h = frame.data() + pos;
    size_t len = 0;
    if (next == 44) {
      len = 8;
      const uint16_t frag_offset = Load16(h + 2) >> 3;
      out.fragment = true;
      out.later_fragment = out.later_fragment || frag_offset != 0;
      out.more_fragments = (h[3] & 1) != 0;
      out.frag_offset = frag_offset;
      out.frag_id = static_cast<uint32_t>(Load16(h + 4)) << 16 | Load16(h + 6);
    } else if (next == 51) {
      len = (static_cast<size_t>(h[1]) + 2) * 4;
    } else {
      len = (static_cast<size_t>(h[1]) + 1) * 8;
    }
    if (len > end - pos) {
      return DropReason::kIpv6ExtChain;
    }
    next = h[0];
    pos += len;
    if (out.later_fragment) {
      break;
    }
  }
  out.protocol = next;
  if (out.later_fragment || next == 59 /* no next header */) {
    out.payload_offset = static_cast<uint16_t>(pos);
    out.payload_length = static_cast<uint16_t>(end - pos);
    return DropReason::kNone;
  }
  return ParseL4(frame.data() + pos, end - pos, pos, out);
}

// Resets what every packet sets. The addresses are written by the IP parsers
// (and cleared for non-IP frames), the quote fields only under icmp_error:
// zeroing the whole struct per packet showed up in profiles.
void ResetHead(ParsedPacket& out) {
  out.family = Family::kNone;
  out.ethertype = 0;
  out.vlan_tags = 0;
  out.protocol = 0;
  out.fragment = false;
  out.later_fragment = false;
  out.has_ports = false;
  out.tcp_flags = 0;
  out.icmp_type = 0;
  out.icmp_code = 0;
  out.icmp_id = 0;
  out.icmp_error = false;
  out.src_port = 0;
  out.dst_port = 0;
  out.l3_offset = 0;
  out.payload_offset = 0;
  out.payload_length = 0;
}

// The common case in one straight line: untagged Ethernet, IPv4 without
// options or fragmentation, a TCP or UDP header that fits. Sets every field
// the general parser would and returns true, or returns false having written
// nothing the general parser does not overwrite. detail::ParsePacketGeneral
// is the reference (tests/packet/parser_test.cc compares the two).
bool ParseCommonIpv4(std::span<const uint8_t> frame, ParsedPacket& out) {
  constexpr size_t kL3 = 14;
  constexpr size_t kL4 = kL3 + 20;
  const uint8_t* f = frame.data();
  if (frame.size() < kL4 + 8 || Load16(f + 12) != kEtherIpv4 || f[kL3] != 0x45 ||
      (Load16(f + kL3 + 6) & 0x3fff) != 0) {
    return false;
  }
  const size_t total = Load16(f + kL3 + 2);
  if (total < 20 + 8 || total > frame.size() - kL3) {
    return false;
  }
  const uint8_t proto = f[kL3 + 9];
  const uint8_t* l4 = f + kL4;
  size_t len = total - 20;
  size_t header = 0;
  uint8_t flags = 0;
  if (proto == ip_proto::kTcp) {
    // `len` bounds every read: the frame holds at least kL3 + total bytes.
    if (len < 20) {
      return false;
    }
    header = static_cast<size_t>(l4[12] >> 4) * 4;
    if (header < 20 || header > len) {
      return false;
    }
    flags = l4[13];
  } else if (proto == ip_proto::kUdp) {
    const size_t udp_len = Load16(l4 + 4);
    if (udp_len < 8 || udp_len > len) {
      return false;
    }
    header = 8;
    len = udp_len;
  } else {
    return false;
  }
  ResetHead(out);
  out.family = Family::kIpv4;
  out.ethertype = kEtherIpv4;
  out.protocol = proto;
  out.has_ports = true;
  out.tcp_flags = flags;
  out.src_port = Load16(l4);
  out.dst_port = Load16(l4 + 2);
  out.l3_offset = kL3;
  out.payload_offset = static_cast<uint16_t>(kL4 + header);
  out.payload_length = static_cast<uint16_t>(len - header);
  out.src = IpAddress::V4(f + kL3 + 12);
  out.dst = IpAddress::V4(f + kL3 + 16);
  return true;
}

}  // namespace

DropReason ParsePacket(std::span<const uint8_t> frame, ParsedPacket& out) {
  if (ParseCommonIpv4(frame, out)) {
    return DropReason::kNone;
  }
  return detail::ParsePacketGeneral(frame, out);
}

namespace detail {

DropReason ParsePacketGeneral(std::span<const uint8_t> frame, ParsedPacket& out) {
  ResetHead(out);
  if (frame.size() < 14) {
    return DropReason::kTruncatedL2;
  }
  size_t off = 12;
  uint16_t type = Load16(frame.data() + off);
  while (type == kEtherVlan || type == kEtherQinQ || type == kEtherQinQOld) {
    if (out.vlan_tags == kMaxVlanTags) {
      return DropReason::kTooManyVlanTags;
    }
    if (frame.size() < off + 6) {
      return DropReason::kTruncatedL2;
    }
    ++out.vlan_tags;
    off += 4;
    type = Load16(frame.data() + off);
  }
  off += 2;
  out.ethertype = type;
  out.l3_offset = static_cast<uint16_t>(off);
  if (type == kEtherIpv4) {
    return ParseIpv4(frame, off, out);
  }
  if (type == kEtherIpv6) {
    return ParseIpv6(frame, off, out);
  }
  out.src = IpAddress{};
  out.dst = IpAddress{};
  return DropReason::kNone;
}

}  // namespace detail
}  // namespace knockgate
