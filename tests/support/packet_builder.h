// Builds Ethernet frames byte by byte for table-driven tests: IPv4/IPv6, TCP,
// UDP, ICMP, VLAN tags, fragments. Checksums are left zero: nothing reads them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/ip_address.h"

namespace knockgate::testing {

struct PacketSpec {
  std::string src = "198.51.100.7";
  std::string dst = "192.0.2.10";
  uint8_t protocol = 6;  // tcp
  uint16_t src_port = 40000;
  uint16_t dst_port = 80;
  uint8_t tcp_flags = 0x02;  // SYN
  std::string payload;
  std::vector<uint16_t> vlan_tpids;  // outermost first, e.g. {0x88A8, 0x8100}
  uint16_t frag_offset = 0;          // in 8-byte units
  bool more_fragments = false;
  uint16_t ip_id = 0x1234;            // IPv4 identification
  std::vector<uint8_t> ipv4_options;  // a multiple of 4 bytes
  std::vector<uint8_t> ipv6_ext;      // raw extension headers, with next-header
                                      // bytes already chained; the first one's
                                      // type goes in ipv6_first_next
  uint8_t ipv6_first_next = 0;
  uint8_t icmp_type = 8;
};

// A complete, consistent frame for `spec`; IPv4 or IPv6 by the address family.
std::vector<uint8_t> BuildPacket(const PacketSpec& spec);

// The common cases: a TCP segment (SYN unless told) and a UDP datagram.
std::vector<uint8_t> TcpPacket(const std::string& src, uint16_t sport, const std::string& dst,
                               uint16_t dport, uint8_t flags = 0x02);
std::vector<uint8_t> UdpPacket(const std::string& src, uint16_t sport, const std::string& dst,
                               uint16_t dport, std::string payload);

// An ARP request frame.
std::vector<uint8_t> BuildArp();

}  // namespace knockgate::testing
