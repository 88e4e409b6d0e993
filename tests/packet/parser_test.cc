// Parser cases as a table: {description, frame, expected drop reason, expected
// fields}. Malformed frames must map to their named reason, never crash.
#include "packet/parser.h"

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <random>

#include "support/packet_builder.h"

namespace knockgate {
namespace {

using testing::BuildArp;
using testing::BuildPacket;
using testing::PacketSpec;

constexpr size_t kL3 = 14;  // untagged

std::vector<uint8_t> Mutated(PacketSpec spec, std::function<void(std::vector<uint8_t>&)> fn) {
  std::vector<uint8_t> f = BuildPacket(spec);
  fn(f);
  return f;
}

PacketSpec V6(PacketSpec s) {
  s.src = "2001:db8::7";
  s.dst = "2001:db8:1::10";
  return s;
}

PacketSpec Udp(PacketSpec s, std::string payload) {
  s.protocol = 17;
  s.payload = std::move(payload);
  return s;
}

// Hop-by-hop (8 bytes) then destination options (8 bytes), then TCP.
std::vector<uint8_t> HopThenDest() { return {60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0}; }

struct ParseCase {
  const char* description;
  std::vector<uint8_t> frame;
  DropReason expected;
  std::function<void(const ParsedPacket&)> check = nullptr;
};

std::vector<ParseCase> Cases() {
  PacketSpec tcp;
  tcp.dst_port = 888;
  std::vector<ParseCase> cases = {
      {"ipv4 tcp syn", BuildPacket(tcp), DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.family, Family::kIpv4);
         EXPECT_EQ(p.src.ToString(), "198.51.100.7");
         EXPECT_EQ(p.dst.ToString(), "192.0.2.10");
         EXPECT_EQ(p.protocol, 6);
         EXPECT_TRUE(p.has_ports);
         EXPECT_EQ(p.src_port, 40000);
         EXPECT_EQ(p.dst_port, 888);
         EXPECT_EQ(p.tcp_flags, 0x02);
         EXPECT_FALSE(p.fragment);
       }},
      {"ipv4 with options", BuildPacket([] {
         PacketSpec s;
         s.ipv4_options = {1, 1, 1, 0};  // NOP NOP NOP EOL
         s.dst_port = 222;
         return s;
       }()),
       DropReason::kNone, [](const ParsedPacket& p) { EXPECT_EQ(p.dst_port, 222); }},
      {"ipv4 udp payload excludes ethernet padding", BuildPacket(Udp({}, "passphrase/\n")),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.payload_offset, kL3 + 20 + 8);
         EXPECT_EQ(p.payload_length, 12);
       }},
      {"ipv4 first fragment keeps its ports", BuildPacket([] {
         PacketSpec s;
         s.more_fragments = true;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_TRUE(p.fragment);
         EXPECT_FALSE(p.later_fragment);
         EXPECT_TRUE(p.has_ports);
       }},
      {"ipv4 later fragment has no ports", BuildPacket([] {
         PacketSpec s;
         s.frag_offset = 185;
         s.dst_port = 888;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_TRUE(p.later_fragment);
         EXPECT_FALSE(p.has_ports);
         EXPECT_EQ(p.dst_port, 0);
       }},
      {"802.1q tagged", BuildPacket([] {
         PacketSpec s;
         s.vlan_tpids = {0x8100};
         s.dst_port = 555;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.vlan_tags, 1);
         EXPECT_EQ(p.l3_offset, 18);
         EXPECT_EQ(p.dst_port, 555);
       }},
      {"qinq tagged", BuildPacket([] {
         PacketSpec s;
         s.vlan_tpids = {0x88A8, 0x8100};
         s.dst_port = 555;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.vlan_tags, 2);
         EXPECT_EQ(p.dst_port, 555);
       }},
      {"ipv6 tcp", BuildPacket(V6(tcp)), DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.family, Family::kIpv6);
         EXPECT_EQ(p.src.ToString(), "2001:db8::7");
         EXPECT_EQ(p.dst_port, 888);
       }},
      {"ipv6 extension chain then tcp", BuildPacket([&] {
         PacketSpec s = V6(tcp);
         s.ipv6_ext = HopThenDest();
         s.ipv6_first_next = 0;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.protocol, 6);
         EXPECT_EQ(p.dst_port, 888);
       }},
      {"ipv6 later fragment has no ports", BuildPacket([&] {
         PacketSpec s = V6(tcp);
         s.ipv6_ext = {6, 0, 0x05, 0x00, 0, 0, 0, 1};  // offset 160 bytes
         s.ipv6_first_next = 44;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_TRUE(p.later_fragment);
         EXPECT_FALSE(p.has_ports);
       }},
      {"ipv6 first fragment keeps its ports", BuildPacket([&] {
         PacketSpec s = V6(tcp);
         s.ipv6_ext = {6, 0, 0x00, 0x01, 0, 0, 0, 1};  // offset 0, M=1
         s.ipv6_first_next = 44;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_TRUE(p.fragment);
         EXPECT_FALSE(p.later_fragment);
         EXPECT_EQ(p.dst_port, 888);
       }},
      {"icmp echo", BuildPacket([] {
         PacketSpec s;
         s.protocol = 1;
         return s;
       }()),
       DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.icmp_type, 8);
         EXPECT_FALSE(p.has_ports);
       }},
      {"icmpv6 echo", BuildPacket([] {
         PacketSpec s = V6({});
         s.protocol = 58;
         return s;
       }()),
       DropReason::kNone, [](const ParsedPacket& p) { EXPECT_EQ(p.icmp_type, 128); }},
      {"arp is non-ip", BuildArp(), DropReason::kNone,
       [](const ParsedPacket& p) {
         EXPECT_EQ(p.family, Family::kNone);
         EXPECT_EQ(p.ethertype, 0x0806);
       }},

      // Malformed frames.
      {"shorter than ethernet", std::vector<uint8_t>(10, 0), DropReason::kTruncatedL2},
      {"vlan tag cut short",
       [] {
         std::vector<uint8_t> f(15, 0);  // a TPID and one byte of its tag
         f[12] = 0x81;
         return f;
       }(),
       DropReason::kTruncatedL2},
      {"three vlan tags", BuildPacket([] {
         PacketSpec s;
         s.vlan_tpids = {0x88A8, 0x8100, 0x8100};
         return s;
       }()),
       DropReason::kTooManyVlanTags},
      {"ipv4 header cut short", Mutated({}, [](auto& f) { f.resize(kL3 + 10); }),
       DropReason::kTruncatedIpv4},
      {"ipv4 ihl below 5", Mutated({}, [](auto& f) { f[kL3] = 0x44; }), DropReason::kBadIpv4Header},
      {"ipv6 version under the ipv4 ethertype", Mutated({}, [](auto& f) { f[kL3] = 0x65; }),
       DropReason::kBadIpv4Header},
      {"ipv4 ihl beyond the frame",
       Mutated({},
               [](auto& f) {
                 f[kL3] = 0x4f;
                 f.resize(kL3 + 40);
               }),
       DropReason::kTruncatedIpv4},
      {"ipv4 total length beyond the frame",
       Mutated({},
               [](auto& f) {
                 f[kL3 + 2] = 0x05;
                 f[kL3 + 3] = 0xdc;
               }),
       DropReason::kBadIpv4Length},
      {"ipv4 total length below the header",
       Mutated({},
               [](auto& f) {
                 f[kL3 + 2] = 0;
                 f[kL3 + 3] = 12;
               }),
       DropReason::kBadIpv4Length},
      {"tcp header cut by the ip length",
       Mutated({},
               [](auto& f) {
                 f[kL3 + 2] = 0;
                 f[kL3 + 3] = 30;
               }),
       DropReason::kTruncatedL4},
      {"tcp data offset below 5", Mutated({}, [](auto& f) { f[kL3 + 20 + 12] = 0x40; }),
       DropReason::kBadL4Header},
      {"tcp data offset beyond the packet", Mutated({}, [](auto& f) { f[kL3 + 20 + 12] = 0xf0; }),
       DropReason::kTruncatedL4},
      {"udp length below 8", Mutated(Udp({}, "x"), [](auto& f) { f[kL3 + 20 + 5] = 4; }),
       DropReason::kBadL4Header},
      {"udp length beyond the packet",
       Mutated(Udp({}, "x"), [](auto& f) { f[kL3 + 20 + 5] = 200; }), DropReason::kBadL4Header},
      {"tiny first fragment cannot hold the tcp header",
       Mutated(
           [] {
             PacketSpec s;
             s.more_fragments = true;
             return s;
           }(),
           [](auto& f) {
             f[kL3 + 2] = 0;
             f[kL3 + 3] = 28;
           }),
       DropReason::kTinyFragment},
      {"ipv6 header cut short", Mutated(V6({}), [](auto& f) { f.resize(kL3 + 30); }),
       DropReason::kTruncatedIpv6},
      {"ipv6 payload length beyond the frame", Mutated(V6({}), [](auto& f) { f[kL3 + 4] = 0x10; }),
       DropReason::kBadIpv6Length},
      {"ipv6 jumbo (zero payload length)",
       Mutated(V6({}),
               [](auto& f) {
                 f[kL3 + 4] = 0;
                 f[kL3 + 5] = 0;
               }),
       DropReason::kBadIpv6Length},
      {"ipv6 extension header runs off the end", BuildPacket([&] {
         PacketSpec s = V6(tcp);
         s.ipv6_ext = {6, 8, 1, 4, 0, 0, 0, 0};  // claims 72 bytes
         s.ipv6_first_next = 0;
         return s;
       }()),
       DropReason::kIpv6ExtChain},
      {"ipv6 extension chain too long", BuildPacket([&] {
         PacketSpec s = V6(tcp);
         for (int i = 0; i < 9; ++i) {
           s.ipv6_ext.insert(s.ipv6_ext.end(), {uint8_t(i == 8 ? 6 : 60), 0, 1, 4, 0, 0, 0, 0});
         }
         s.ipv6_first_next = 60;
         return s;
       }()),
       DropReason::kIpv6ExtChain},
  };
  return cases;
}

TEST(ParserTest, Table) {
  for (const ParseCase& c : Cases()) {
    SCOPED_TRACE(c.description);
    ParsedPacket p;
    EXPECT_EQ(DropReasonName(ParsePacket(c.frame, p)), DropReasonName(c.expected));
    if (c.check && c.expected == DropReason::kNone) {
      c.check(p);
    }
  }
}

// A frame copied flush against an unmapped page: a read one byte past its end
// faults at once, with or without a sanitizer.
class GuardedFrame {
 public:
  GuardedFrame() {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(m, MAP_FAILED);
    base_ = static_cast<uint8_t*>(m);
    EXPECT_EQ(mprotect(base_ + page_, page_, PROT_NONE), 0);
  }
  ~GuardedFrame() { munmap(base_, 2 * page_); }
  std::span<const uint8_t> Place(std::span<const uint8_t> bytes) {
    uint8_t* at = base_ + page_ - bytes.size();
    std::memcpy(at, bytes.data(), bytes.size());
    return {at, bytes.size()};
  }

 private:
  size_t page_ = 0;
  uint8_t* base_ = nullptr;
};

// Every prefix of every table frame parses to a verdict without reading past
// it: each prefix ends at an unmapped page.
TEST(ParserTest, EveryTruncationIsSafe) {
  PacketSpec s = V6({});
  s.ipv6_ext = HopThenDest();
  s.ipv6_first_next = 0;
  s.vlan_tpids = {0x8100};
  std::vector<std::vector<uint8_t>> frames = {BuildPacket(s), BuildPacket(Udp({}, "passphrase/")),
                                              BuildPacket(PacketSpec{})};
  for (const ParseCase& c : Cases()) {
    frames.push_back(c.frame);
  }
  GuardedFrame guard;
  for (const std::vector<uint8_t>& full : frames) {
    for (size_t n = 0; n <= full.size(); ++n) {
      const std::span<const uint8_t> cut = guard.Place(std::span(full).first(n));
      ParsedPacket p;
      const DropReason r = ParsePacket(cut, p);
      if (r == DropReason::kNone && p.family != Family::kNone) {
        // A clean parse never points past what it was given.
        EXPECT_LE(p.payload_offset + p.payload_length, n) << "length " << n;
      }
      ParsedPacket g;
      detail::ParsePacketGeneral(cut, g);
    }
  }
}

// ParsePacket takes a straight-line path for untagged IPv4 TCP/UDP; it must
// agree with the general parser field for field, on good frames and on
// frames with a header byte or the length changed.
TEST(ParserTest, CommonPathAgreesWithTheGeneralParser) {
  std::mt19937 rng(11);
  size_t clean = 0;
  for (int i = 0; i < 20000; ++i) {
    PacketSpec s;
    s.protocol = rng() % 2 ? 6 : 17;
    s.src_port = static_cast<uint16_t>(rng());
    s.dst_port = static_cast<uint16_t>(rng());
    s.tcp_flags = static_cast<uint8_t>(rng());
    s.payload.assign(rng() % 40, 'p');
    if (rng() % 8 == 0) {
      s.ipv4_options.assign(4 * (1 + rng() % 3), 1);  // NOPs
    }
    if (rng() % 8 == 0) {
      s.more_fragments = true;
    }
    std::vector<uint8_t> f = BuildPacket(s);
    switch (rng() % 4) {
      case 0:
        break;  // as built
      case 1:   // one byte of the Ethernet, IP or L4 header changed
        f[rng() % std::min<size_t>(f.size(), 14 + 20 + 20)] = static_cast<uint8_t>(rng());
        break;
      case 2:  // cut short, or padded as Ethernet does
        f.resize(rng() % 2 ? rng() % f.size() : f.size() + rng() % 20, 0);
        break;
      case 3:  // TCP data offset or UDP length changed
        f[14 + 20 + (s.protocol == 6 ? 12 : 5)] = static_cast<uint8_t>(rng());
        break;
    }
    ParsedPacket fast;
    ParsedPacket general;
    const DropReason a = ParsePacket(f, fast);
    const DropReason b = detail::ParsePacketGeneral(f, general);
    ASSERT_EQ(DropReasonName(a), DropReasonName(b)) << "case " << i;
    if (a != DropReason::kNone) {
      continue;
    }
    ++clean;
    SCOPED_TRACE(i);
    EXPECT_EQ(fast.family, general.family);
    EXPECT_EQ(fast.ethertype, general.ethertype);
    EXPECT_EQ(fast.vlan_tags, general.vlan_tags);
    EXPECT_EQ(fast.protocol, general.protocol);
    EXPECT_EQ(fast.fragment, general.fragment);
    EXPECT_EQ(fast.later_fragment, general.later_fragment);
    EXPECT_EQ(fast.has_ports, general.has_ports);
    EXPECT_EQ(fast.tcp_flags, general.tcp_flags);
    EXPECT_EQ(fast.icmp_type, general.icmp_type);
    EXPECT_EQ(fast.icmp_code, general.icmp_code);
    EXPECT_EQ(fast.icmp_id, general.icmp_id);
    EXPECT_EQ(fast.icmp_error, general.icmp_error);
    EXPECT_EQ(fast.src_port, general.src_port);
    EXPECT_EQ(fast.dst_port, general.dst_port);
    EXPECT_EQ(fast.l3_offset, general.l3_offset);
    EXPECT_EQ(fast.payload_offset, general.payload_offset);
    EXPECT_EQ(fast.payload_length, general.payload_length);
    EXPECT_TRUE(fast.src == general.src);
    EXPECT_TRUE(fast.dst == general.dst);
  }
  EXPECT_GT(clean, 10000u);  // most cases parse, so the fields are compared
}

}  // namespace
}  // namespace knockgate
