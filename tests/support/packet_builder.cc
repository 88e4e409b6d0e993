// Frame assembly for tests: headers appended in wire order, lengths patched
// once the payload is known.
#include "support/packet_builder.h"

#include <cstring>

namespace knockgate::testing {
namespace {

void Put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

std::vector<uint8_t> L4(const PacketSpec& s, bool v6) {
  std::vector<uint8_t> l4;
  if (s.protocol == 6) {
    Put16(l4, s.src_port);
    Put16(l4, s.dst_port);
    l4.insert(l4.end(), {0, 0, 0, 1, 0, 0, 0, 0, 0x50, s.tcp_flags, 0xff, 0xff, 0, 0, 0, 0});
  } else if (s.protocol == 17) {
    Put16(l4, s.src_port);
    Put16(l4, s.dst_port);
    Put16(l4, static_cast<uint16_t>(8 + s.payload.size()));
    Put16(l4, 0);
  } else if (s.protocol == 1 || s.protocol == 58) {
    l4.insert(l4.end(), {static_cast<uint8_t>(v6 && s.icmp_type == 8 ? 128 : s.icmp_type), 0, 0, 0,
                         0, 1, 0, 1});
  }
  l4.insert(l4.end(), s.payload.begin(), s.payload.end());
  return l4;
}

}  // namespace

std::vector<uint8_t> BuildPacket(const PacketSpec& s) {
  const IpAddress src = *ParseIpAddress(s.src);
  const IpAddress dst = *ParseIpAddress(s.dst);
  const bool v6 = src.family == Family::kIpv6;
  std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
  for (uint16_t tpid : s.vlan_tpids) {
    Put16(f, tpid);
    Put16(f, 100);
  }
  Put16(f, v6 ? 0x86DD : 0x0800);
  const std::vector<uint8_t> l4 = L4(s, v6);
  if (!v6) {
    const size_t ihl = 20 + s.ipv4_options.size();
    const uint16_t frag =
        static_cast<uint16_t>((s.more_fragments ? 0x2000 : 0) | (s.frag_offset & 0x1fff));
    f.push_back(static_cast<uint8_t>(0x40 | (ihl / 4)));
    f.push_back(0);
    Put16(f, static_cast<uint16_t>(ihl + l4.size()));
    Put16(f, s.ip_id);
    Put16(f, frag);
    f.push_back(64);
    f.push_back(s.protocol);
    Put16(f, 0);
    f.insert(f.end(), src.bytes.begin(), src.bytes.begin() + 4);
    f.insert(f.end(), dst.bytes.begin(), dst.bytes.begin() + 4);
    f.insert(f.end(), s.ipv4_options.begin(), s.ipv4_options.end());
  } else {
    f.insert(f.end(), {0x60, 0, 0, 0});
    Put16(f, static_cast<uint16_t>(s.ipv6_ext.size() + l4.size()));
    f.push_back(s.ipv6_ext.empty() ? s.protocol : s.ipv6_first_next);
    f.push_back(64);
    f.insert(f.end(), src.bytes.begin(), src.bytes.end());
    f.insert(f.end(), dst.bytes.begin(), dst.bytes.end());
    f.insert(f.end(), s.ipv6_ext.begin(), s.ipv6_ext.end());
  }
  f.insert(f.end(), l4.begin(), l4.end());
  while (f.size() < 60) {
    f.push_back(0);  // Ethernet padding, beyond the IP length
  }
  return f;
}

std::vector<uint8_t> TcpPacket(const std::string& src, uint16_t sport, const std::string& dst,
                               uint16_t dport, uint8_t flags) {
  PacketSpec s;
  s.src = src;
  s.dst = dst;
  s.src_port = sport;
  s.dst_port = dport;
  s.tcp_flags = flags;
  return BuildPacket(s);
}

std::vector<uint8_t> UdpPacket(const std::string& src, uint16_t sport, const std::string& dst,
                               uint16_t dport, std::string payload) {
  PacketSpec s;
  s.protocol = 17;
  s.src = src;
  s.dst = dst;
  s.src_port = sport;
  s.dst_port = dport;
  s.payload = std::move(payload);
  return BuildPacket(s);
}

std::vector<uint8_t> BuildArp() {
  constexpr uint8_t kHead[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0,
                               0x01, 0x08, 0x06, 0,    1,    0x08, 0,    6, 4, 0, 1};
  // Sized first and written in place: growing a vector built from a braced
  // list trips GCC 12's -Warray-bounds in release builds.
  std::vector<uint8_t> f(60, 0);
  std::memcpy(f.data(), kHead, sizeof(kHead));
  return f;
}

}  // namespace knockgate::testing
