// The seed recipe (conf/knockgate.toml), packet by packet with fake time.
// Each scenario is a table of {description, packet, time, expected verdict,
// expected list additions}, run against a fresh worker state.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "classify/classifier_shard.h"
#include "classify/event_text.h"
#include "policy/config_loader.h"
#include "support/packet_builder.h"

namespace knockgate {
namespace {

using testing::BuildArp;
using testing::BuildPacket;
using testing::PacketSpec;

constexpr Nanos kS = kNanosPerSecond;
constexpr char kClient[] = "198.51.100.7";
constexpr char kOther[] = "198.51.100.99";
constexpr char kServer[] = "192.0.2.10";

std::string ShippedConfig() {
  std::ifstream in(KNOCKGATE_SOURCE_ROOT "/conf/knockgate.toml");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Step {
  const char* description;
  Nanos at;
  std::vector<uint8_t> frame;
  Verdict verdict;
  DropReason reason = DropReason::kNone;
  std::vector<std::string> added = {};  // "LIST ADDRESS" for each list add
  InterfaceList in = InterfaceList::kWan;
};

std::vector<uint8_t> Tcp(const char* src, uint16_t dport, const char* dst = kServer,
                         uint16_t sport = 40000) {
  return testing::TcpPacket(src, sport, dst, dport);
}

std::vector<uint8_t> Udp(const char* src, uint16_t dport, std::string payload) {
  return testing::UdpPacket(src, 40000, kServer, dport, std::move(payload));
}

class SeedTest : public ::testing::Test {
 protected:
  void Load(const std::string& text) {
    absl::StatusOr<Config> config = LoadConfig(text, "knockgate.toml");
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::shared_ptr<const Policy>> policy = Policy::Compile(*config);
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
    auto shard = ClassifierShard::Create(*policy_);
    ASSERT_TRUE(shard.ok()) << shard.status();
    shard_ = std::move(shard).value();
    state_ = &shard_->state;
    lists_ = shard_->lists.get();
  }
  void LoadShipped() { Load(ShippedConfig()); }
  void LoadWithBlacklists() {
    Load(absl::StrReplaceAll(ShippedConfig(), {{"disabled = true", "disabled = false"}}));
  }

  Decision Send(const std::vector<uint8_t>& frame, Nanos at,
                InterfaceList in = InterfaceList::kWan) {
    ParsedPacket pkt;
    const DropReason bad = ParsePacket(frame, pkt);
    if (bad != DropReason::kNone) {
      return Decision{Verdict::kDrop, bad};
    }
    lists_->Reclaim(at, 64);
    return Classify(*policy_, *state_, frame, pkt, in, at);
  }

  void Run(const std::vector<Step>& steps) {
    for (const Step& s : steps) {
      SCOPED_TRACE(s.description);
      state_->events.Clear();
      const Decision d = Send(s.frame, s.at, s.in);
      EXPECT_EQ(d.verdict, s.verdict);
      EXPECT_STREQ(DropReasonName(d.reason), DropReasonName(s.reason));
      std::vector<std::string> added;
      for (const Event& e : state_->events.events()) {
        if (e.type == EventType::kListAdd) {
          added.push_back(policy_->lists()[e.list].name + " " + e.address.ToString());
        }
      }
      EXPECT_EQ(added, s.added);
    }
  }

  bool In(const char* list, const char* addr, Nanos at) {
    return lists_->Contains(*ParseIpAddress(addr), static_cast<ListId>(policy_->FindList(list)),
                            at);
  }

  std::shared_ptr<const Policy> policy_;
  std::unique_ptr<ClassifierShard> shard_;
  ClassifierState* state_ = nullptr;  // shard_->state
  AddressTable* lists_ = nullptr;     // shard_->lists
};

constexpr Verdict kAccept = Verdict::kAccept;
constexpr Verdict kDrop = Verdict::kDrop;
constexpr DropReason kWan = DropReason::kWanDefault;

TEST_F(SeedTest, RightOrderGrantsAndGrantEndsAfter30m) {
  LoadShipped();
  const std::string c = kClient;
  Run({
      {"closed before knocking", 0, Tcp(kClient, 80), kDrop, kWan},
      {"knock 888", 1 * kS, Tcp(kClient, 888), kDrop, kWan, {"888 " + c}},
      {"knock 555", 2 * kS, Tcp(kClient, 555), kDrop, kWan, {"555 " + c}},
      // As in RouterOS, rules after an add see the list the packet just
      // joined: the last knock itself is accepted by the secured rule.
      {"knock 222", 3 * kS, Tcp(kClient, 222), kAccept, DropReason::kNone, {"secured " + c}},
      {"open after the knock", 4 * kS, Tcp(kClient, 80), kAccept},
      {"any port, any protocol", 5 * kS, Udp(kClient, 53, "q"), kAccept},
      {"still open just before 30m", 3 * kS + 1800 * kS - 1, Tcp(kClient, 80), kAccept},
      // A new connection (another source port): the last one is still tracked.
      {"closed at 30m", 3 * kS + 1800 * kS, Tcp(kClient, 80, kServer, 40001), kDrop, kWan},
  });
  EXPECT_EQ(state_->rule_counters[8].packets, 4u);
  EXPECT_EQ(state_->rule_counters[4].packets, 1u);
  EXPECT_EQ(state_->rule_counters[4].bytes, Tcp(kClient, 888).size());
}

// A knock sequence is a secret: by default no event line names the ports a
// client knocked; the rule's index and comment name the step. With
// [log] show-ports = true the flow shows them.
TEST_F(SeedTest, EventLinesNameStepsNotPorts) {
  auto knock = [this](Nanos at) {
    state_->events.Clear();
    Send(Tcp(kClient, 888), at);
    EXPECT_EQ(state_->events.events().size(), 1u);
    return FormatEvent(*policy_, state_->events.events().back(), "T");
  };
  LoadShipped();
  EXPECT_EQ(knock(kS),
            "T list-add rule=4 list=888 address=198.51.100.7 timeout=30s worker=0 WAN tcp "
            "198.51.100.7 > 192.0.2.10 comment=\"knock 1\"");
  Load(absl::StrReplaceAll(ShippedConfig(), {{"[log]\n", "[log]\nshow-ports = true\n"}}));
  EXPECT_EQ(knock(kS),
            "T list-add rule=4 list=888 address=198.51.100.7 timeout=30s worker=0 WAN tcp "
            "198.51.100.7:40000 > 192.0.2.10:888 comment=\"knock 1\"");
}

TEST_F(SeedTest, WrongOrderDoesNotGrant) {
  LoadShipped();
  const std::string c = kClient;
  Run({
      {"555 first", 0, Tcp(kClient, 555), kDrop, kWan},
      {"then 888", 1 * kS, Tcp(kClient, 888), kDrop, kWan, {"888 " + c}},
      {"then 222", 2 * kS, Tcp(kClient, 222), kDrop, kWan},
      {"still closed", 3 * kS, Tcp(kClient, 80), kDrop, kWan},
  });
  EXPECT_FALSE(In("secured", kClient, 3 * kS));
}

TEST_F(SeedTest, MissingStepDoesNotGrant) {
  LoadShipped();
  Run({
      {"888", 0, Tcp(kClient, 888), kDrop, kWan, {std::string("888 ") + kClient}},
      {"skip 555, 222", 1 * kS, Tcp(kClient, 222), kDrop, kWan},
      {"closed", 2 * kS, Tcp(kClient, 80), kDrop, kWan},
  });
}

TEST_F(SeedTest, StepAfterItsWindowDoesNotGrant) {
  LoadShipped();
  const std::string c = kClient;
  Run({
      {"888", 0, Tcp(kClient, 888), kDrop, kWan, {"888 " + c}},
      {"555 at 29s is in time", 29 * kS, Tcp(kClient, 555), kDrop, kWan, {"555 " + c}},
      {"222 at 60s is 31s late", 60 * kS, Tcp(kClient, 222), kDrop, kWan},
      {"closed", 61 * kS, Tcp(kClient, 80), kDrop, kWan},
  });
  EXPECT_FALSE(In("555", kClient, 60 * kS));
}

TEST_F(SeedTest, AnotherSourceDoesNotFinishTheSequence) {
  LoadShipped();
  const std::string c = kClient;
  Run({
      {"888 from client", 0, Tcp(kClient, 888), kDrop, kWan, {"888 " + c}},
      {"555 from client", 1 * kS, Tcp(kClient, 555), kDrop, kWan, {"555 " + c}},
      {"222 from another address", 2 * kS, Tcp(kOther, 222), kDrop, kWan},
      {"other stays closed", 3 * kS, Tcp(kOther, 80), kDrop, kWan},
      {"client not granted either", 3 * kS, Tcp(kClient, 80), kDrop, kWan},
  });
}

TEST_F(SeedTest, PassphraseKnock) {
  LoadShipped();
  const std::string c = kClient;
  Run({
      {"wrong passphrase", 0, Udp(kClient, 888, "password/\n"), kDrop, kWan},
      {"padded passphrase", 0, Udp(kClient, 888, "xpassphrase/\n"), kDrop, kWan},
      {"truncated passphrase", 0, Udp(kClient, 888, "passphrase"), kDrop, kWan},
      {"two trailing newlines", 0, Udp(kClient, 888, "passphrase/\n\n"), kDrop, kWan},
      {"echo passphrase/ | nc -u",
       1 * kS,
       Udp(kClient, 888, "passphrase/\n"),
       kDrop,
       kWan,
       {"888 " + c}},
      {"then 555", 2 * kS, Tcp(kClient, 555), kDrop, kWan, {"555 " + c}},
      {"then 222", 3 * kS, Tcp(kClient, 222), kAccept, DropReason::kNone, {"secured " + c}},
  });
  EXPECT_EQ(state_->layer7_scans, 5u);
}

TEST_F(SeedTest, PassphraseIsCaseInsensitiveAsInRouterOs) {
  LoadShipped();
  Run({{"upper case",
        0,
        Udp(kClient, 888, "PassPhrase/"),
        kDrop,
        kWan,
        {std::string("888 ") + kClient}}});
}

TEST_F(SeedTest, LaterFragmentNeverMatchesAPortRule) {
  LoadShipped();
  state_->fragments = nullptr;  // the rules alone, without the fragment table
  PacketSpec s;
  s.src = kClient;
  s.dst = kServer;
  s.dst_port = 888;  // the bytes are there, but at a non-zero offset they are data
  s.frag_offset = 100;
  Run({{"fragment at offset 800 to 'port 888'", 0, BuildPacket(s), kDrop, kWan}});
  EXPECT_FALSE(In("888", kClient, 1));
}

TEST_F(SeedTest, LaterIpv6FragmentNeverMatchesAPortRule) {
  LoadShipped();
  state_->fragments = nullptr;  // the rules alone, without the fragment table
  PacketSpec s;
  s.src = "2001:db8::7";
  s.dst = "2001:db8:1::10";
  s.dst_port = 888;
  s.ipv6_ext = {6, 0, 0x05, 0x00, 0, 0, 0, 1};  // fragment header, offset 160
  s.ipv6_first_next = 44;
  Run({{"ipv6 fragment at offset 160 to 'port 888'", 0, BuildPacket(s), kDrop, kWan}});
  s.ipv6_ext = {6, 0, 0x00, 0x01, 0, 0, 0, 1};  // the first fragment does knock
  Run({{"first ipv6 fragment to port 888", 0, BuildPacket(s), kDrop, kWan, {"888 2001:db8::7"}}});
}

// Fragments under the shipped recipe, as a NIC delivers them (nothing
// reassembled): later fragments take their first fragment's verdict.
class FragmentTest : public SeedTest {
 protected:
  void SetUp() override {
    LoadShipped();
    frags_ = shard_->fragments.get();
  }
  FragTable* frags_ = nullptr;  // the shard's
};

// Fragment `offset` (8-byte units) of datagram `id` carrying `s`'s header:
// IPv4 flags, or an IPv6 fragment header.
std::vector<uint8_t> Fragment(PacketSpec s, uint16_t id, uint16_t offset, bool more) {
  s.payload.assign(64, 'x');
  if (ParseIpAddress(s.src)->family == Family::kIpv6) {
    const uint16_t off = static_cast<uint16_t>(offset << 3 | (more ? 1 : 0));
    s.ipv6_ext = {s.protocol, 0, uint8_t(off >> 8), uint8_t(off),
                  0,          0, uint8_t(id >> 8),  uint8_t(id)};
    s.ipv6_first_next = 44;
  } else {
    s.ip_id = id;
    s.frag_offset = offset;
    s.more_fragments = more;
  }
  return BuildPacket(s);
}

std::vector<uint8_t> UdpFragment(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                 uint16_t id, uint16_t offset, bool more) {
  PacketSpec s;
  s.protocol = 17;
  s.src = src;
  s.dst = dst;
  s.src_port = sport;
  s.dst_port = dport;
  return Fragment(s, id, offset, more);
}

std::vector<uint8_t> TcpFragment(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                                 uint8_t flags, uint16_t id, uint16_t offset, bool more) {
  PacketSpec s;
  s.src = src;
  s.dst = dst;
  s.src_port = sport;
  s.dst_port = dport;
  s.tcp_flags = flags;
  return Fragment(s, id, offset, more);
}

constexpr InterfaceList kLan = InterfaceList::kLan;

TEST_F(FragmentTest, Ipv4RepliesInAndOutOfOrder) {
  const char* host = kServer;  // a LAN host
  const char* remote = "198.51.100.53";
  Run({
      {"a LAN host asks",
       0,
       testing::UdpPacket(host, 5353, remote, 53, "q"),
       kAccept,
       DropReason::kNone,
       {},
       kLan},
      {"first fragment of the reply", 1, UdpFragment(remote, host, 53, 5353, 7, 0, true), kAccept},
      {"middle fragment", 2, UdpFragment(remote, host, 53, 5353, 7, 185, true), kAccept},
      {"last fragment", 3, UdpFragment(remote, host, 53, 5353, 7, 370, false), kAccept},
      {"another reply: last fragment before its first is not held", 4,
       UdpFragment(remote, host, 53, 5353, 8, 370, false), kDrop, DropReason::kFragmentBeforeFirst},
      {"its first fragment", 5, UdpFragment(remote, host, 53, 5353, 8, 0, true), kAccept},
      {"its middle fragment after the first", 6, UdpFragment(remote, host, 53, 5353, 8, 185, true),
       kAccept},
      {"the same id from another source is another datagram", 7,
       UdpFragment(kOther, host, 53, 5353, 7, 185, true), kDrop, DropReason::kFragmentBeforeFirst},
      {"unsolicited first fragment from the WAN", 8,
       UdpFragment(kOther, host, 40000, 5353, 9, 0, true), kDrop, DropReason::kWanDefault},
      {"its later fragment", 9, UdpFragment(kOther, host, 40000, 5353, 9, 185, false), kDrop,
       DropReason::kFragmentOfDropped},
      {"a later fragment past the timeout", FragTable::kTimeout + 2,
       UdpFragment(remote, host, 53, 5353, 7, 185, true), kDrop, DropReason::kFragmentBeforeFirst},
  });
}

TEST_F(FragmentTest, Ipv6RepliesInAndOutOfOrder) {
  const char* host = "2001:db8:1::10";
  const char* remote = "2001:db8::53";
  Run({
      {"a LAN host asks",
       0,
       testing::UdpPacket(host, 5353, remote, 53, "q"),
       kAccept,
       DropReason::kNone,
       {},
       kLan},
      {"last fragment first", 1, UdpFragment(remote, host, 53, 5353, 0x4455, 300, false), kDrop,
       DropReason::kFragmentBeforeFirst},
      {"first fragment", 2, UdpFragment(remote, host, 53, 5353, 0x4455, 0, true), kAccept},
      {"middle fragment", 3, UdpFragment(remote, host, 53, 5353, 0x4455, 150, true), kAccept},
      {"unsolicited first fragment", 4, UdpFragment("2001:db8::99", host, 1, 5353, 5, 0, true),
       kDrop, DropReason::kWanDefault},
      {"its later fragment", 5, UdpFragment("2001:db8::99", host, 1, 5353, 5, 150, false), kDrop,
       DropReason::kFragmentOfDropped},
  });
}

TEST_F(FragmentTest, KnownAttacksAreDroppedAndCounted) {
  const char* host = kServer;
  const char* remote = "198.51.100.80";
  PacketSpec tiny;
  tiny.src = remote;
  tiny.more_fragments = true;
  std::vector<uint8_t> tiny_frame = BuildPacket(tiny);
  tiny_frame[14 + 2] = 0;
  tiny_frame[14 + 3] = 28;  // 8 bytes of TCP header in the first fragment
  Run({
      {"RFC 1858: a first fragment too short for the TCP header", 0, tiny_frame, kDrop,
       DropReason::kTinyFragment},
      {"a LAN host opens a TCP connection",
       1,
       Tcp(host, 443, remote, 30000),
       kAccept,
       DropReason::kNone,
       {},
       kLan},
      {"the reply's first fragment", 2, TcpFragment(remote, host, 443, 30000, 0x12, 21, 0, true),
       kAccept},
      {"RFC 3128: a fragment at offset 8 rewrites the TCP header", 3,
       TcpFragment(remote, host, 443, 30000, 0x12, 21, 1, true), kDrop,
       DropReason::kFragmentOverlap},
      {"a fragment past the header", 4, TcpFragment(remote, host, 443, 30000, 0x12, 21, 3, false),
       kAccept},
      {"an overlapping fragment of an unseen datagram", 5,
       TcpFragment(remote, host, 443, 30000, 0x12, 22, 2, false), kDrop,
       DropReason::kFragmentOverlap},
  });
  EXPECT_EQ(frags_->stats().dropped, 2u);
  EXPECT_EQ(frags_->stats().passed, 1u);
}

TEST_F(SeedTest, DisabledBlacklistRulesAreSkipped) {
  LoadShipped();
  Run({
      {"bad port 666", 0, Tcp(kClient, 666), kDrop, kWan},
      {"scan port 22", 0, Tcp(kClient, 22), kDrop, kWan},
  });
  EXPECT_FALSE(In("blacklist", kClient, 1));
  EXPECT_EQ(state_->rule_counters[2].packets, 0u);
}

TEST_F(SeedTest, EnabledBlacklistJailsAndDrops) {
  LoadWithBlacklists();
  const std::string c = kClient;
  Run({
      {"bad port 666", 0, Tcp(kClient, 666), kDrop, kWan, {"blacklist " + c}},
      {"knock 888 is dropped by the blacklist first", 1 * kS, Tcp(kClient, 888), kDrop,
       DropReason::kRule},
  });
  EXPECT_FALSE(In("888", kClient, 2 * kS));
  // The 1m scan rule never shortens the 1000m jail.
  Run({{"scan port 22 while jailed", 2 * kS, Tcp(kClient, 22), kDrop, DropReason::kRule}});
  EXPECT_TRUE(In("blacklist", kClient, 1000 * 60 * kS - 1));
  EXPECT_FALSE(In("blacklist", kClient, 1000 * 60 * kS));
}

TEST_F(SeedTest, ScanSlowingPortsSpareSecuredSources) {
  LoadWithBlacklists();
  const std::string c = kClient;
  const std::string o = kOther;
  Run({
      {"888", 0, Tcp(kClient, 888), kDrop, kWan, {"888 " + c}},
      {"555", 1 * kS, Tcp(kClient, 555), kDrop, kWan, {"555 " + c}},
      {"222", 2 * kS, Tcp(kClient, 222), kAccept, DropReason::kNone, {"secured " + c}},
      {"secured source uses ssh", 3 * kS, Tcp(kClient, 22), kAccept},
      {"secured source uses 10000-60000", 3 * kS, Tcp(kClient, 30000), kAccept},
      {"a scanner hitting ssh is blacklisted",
       4 * kS,
       Tcp(kOther, 22),
       kDrop,
       kWan,
       {"blacklist " + o}},
      {"and then dropped by rule 0", 5 * kS, Tcp(kOther, 888), kDrop, DropReason::kRule},
      {"for one minute", 4 * kS + 60 * kS, Tcp(kOther, 888), kDrop, kWan, {"888 " + o}},
  });
  EXPECT_FALSE(In("blacklist", kClient, 4 * kS));
}

TEST_F(SeedTest, LanSideAndNonIp) {
  LoadShipped();
  Run({
      {"lan host reaches out",
       0,
       Tcp(kServer, 443, kClient),
       kAccept,
       DropReason::kNone,
       {},
       InterfaceList::kLan},
      {"arp is bridged", 0, BuildArp(), kAccept},
      {"ipv6 neighbour solicitation is bridged like arp", 0,
       [] {
         PacketSpec s;
         s.src = "fe80::1";
         s.dst = "ff02::1:ff00:10";
         s.protocol = 58;
         s.icmp_type = 135;
         return BuildPacket(s);
       }(),
       kAccept},
      {"an ipv6 echo from the wan is not", 0,
       [] {
         PacketSpec s;
         s.src = "2001:db8::7";
         s.dst = "2001:db8:1::10";
         s.protocol = 58;
         return BuildPacket(s);
       }(),
       kDrop, kWan},
  });
}

TEST_F(SeedTest, NonIpDropWhenConfigured) {
  Load("[policy]\nnon-ip = \"drop\"\nlan-default = \"drop\"\n");
  Run({
      {"arp dropped", 0, BuildArp(), kDrop, DropReason::kNonIp},
      {"lan default drop",
       0,
       Tcp(kServer, 443, kClient),
       kDrop,
       DropReason::kLanDefault,
       {},
       InterfaceList::kLan},
  });
}

// RouterOS matchers beyond the seed: negation, static lists, dst lists,
// add-dst, passthrough/log, tcp-flags, family.
TEST_F(SeedTest, MatchersAndActions) {
  Load(R"(
[[address-list]]
list = "trusted"
address = "203.0.113.0/24"
[[filter]]
action = "log"
log-prefix = "syn"
protocol = "tcp"
tcp-flags = "syn,!ack"
dst-port = "8080"
[[filter]]
action = "add-dst-to-address-list"
address-list = "contacted"
address-list-timeout = "10s"
in-interface-list = "LAN"
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "trusted"
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "contacted"
family = "ip"
[[filter]]
action = "drop"
in-interface-list = "!WAN"
dst-address = "!192.0.2.0/24"
protocol = "udp"
)");
  PacketSpec synack;
  synack.src = "198.51.100.1";
  synack.dst_port = 8080;
  synack.tcp_flags = 0x12;
  Run({
      {"static list source", 0, Tcp("203.0.113.9", 80), kAccept},
      {"unknown source", 0, Tcp("198.51.100.1", 80), kDrop, kWan},
      {"lan host contacts it",
       0,
       Tcp(kServer, 80, "198.51.100.1"),
       kAccept,
       DropReason::kNone,
       {"contacted 198.51.100.1"},
       InterfaceList::kLan},
      {"reply allowed by dst-list", 1 * kS, Tcp("198.51.100.1", 80), kAccept},
      {"syn-ack does not match syn,!ack", 1 * kS, BuildPacket(synack), kAccept},
      {"udp from lan to outside 192.0.2.0/24 dropped",
       1 * kS,
       [] {
         PacketSpec s;
         s.src = kServer;
         s.dst = "198.51.100.1";
         s.protocol = 17;
         return BuildPacket(s);
       }(),
       kDrop,
       DropReason::kRule,
       {},
       InterfaceList::kLan},
      {"expired after 10s", 11 * kS, Tcp("198.51.100.1", 80), kDrop, kWan},
  });
  EXPECT_EQ(state_->rule_counters[0].packets, 0u);
  state_->events.Clear();
  synack.tcp_flags = 0x02;
  Send(BuildPacket(synack), 12 * kS);
  ASSERT_EQ(state_->events.events().size(), 1u);
  EXPECT_EQ(state_->events.events()[0].type, EventType::kLog);
  EXPECT_EQ(state_->rule_counters[0].packets, 1u);
}

TEST_F(SeedTest, CandidateTablesSkipRulesForOtherPorts) {
  LoadShipped();
  // tcp/888 can only meet the conntrack, knock-1 and accept rules (disabled
  // ones never).
  RuleSet set = policy_->Candidates(6, true, 888);
  EXPECT_EQ(set[0], 1u | (1u << 4) | (1u << 8));
  set = policy_->Candidates(17, true, 888);
  EXPECT_EQ(set[0], 1u | (1u << 5) | (1u << 8));
  set = policy_->Candidates(1, false, 0);
  EXPECT_EQ(set[0], 1u | (1u << 8));
}

// The state/interface/family prefilter leaves exactly the rules whose own
// matchers would pass, negated ones included.
TEST_F(SeedTest, AllowedSetsFollowStateInterfaceAndFamily) {
  Load(R"(
[[filter]]
action = "accept"
connection-state = "established,related"
[[filter]]
action = "drop"
connection-state = "!new"
in-interface-list = "WAN"
[[filter]]
action = "accept"
family = "ipv6"
in-interface-list = "!WAN"
[[filter]]
action = "accept"
src-address = "192.0.2.0/24"
)");
  auto allowed = [&](InterfaceList in, uint8_t state, Family family) {
    return policy_->Allowed(in, state, family)[0];
  };
  EXPECT_EQ(allowed(InterfaceList::kWan, conn_state::kEstablished, Family::kIpv4), 0b1011u);
  EXPECT_EQ(allowed(InterfaceList::kWan, conn_state::kNew, Family::kIpv4), 0b1000u);
  EXPECT_EQ(allowed(InterfaceList::kWan, conn_state::kInvalid, Family::kIpv6), 0b0010u);
  EXPECT_EQ(allowed(InterfaceList::kLan, conn_state::kNew, Family::kIpv6), 0b0100u);
  EXPECT_EQ(allowed(InterfaceList::kLan, conn_state::kRelated, Family::kIpv4), 0b1001u);
  EXPECT_EQ(allowed(InterfaceList::kLan, conn_state::kUntracked, Family::kIpv4), 0b1000u);
}

TEST(Layer7Test, HyperscanErrorNamesTheProtocol) {
  absl::StatusOr<Config> config =
      LoadConfig("[[layer7-protocol]]\nname = \"bad\"\nregexp = \"(unclosed\"\n", "l7.toml");
  ASSERT_TRUE(config.ok());
  absl::StatusOr<std::shared_ptr<const Policy>> policy = Policy::Compile(*config);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(std::string(policy.status().message()),
              ::testing::StartsWith("l7.toml:3:10: layer7-protocol \"bad\": "));
}

TEST(Layer7Test, CaseSensitiveWhenAsked) {
  absl::StatusOr<Config> config = LoadConfig(
      "[[layer7-protocol]]\nname = \"a\"\nregexp = \"^Open$\"\ncase-sensitive = true\n"
      "[[layer7-protocol]]\nname = \"b\"\nregexp = \"^open$\"\n",
      "l7.toml");
  ASSERT_TRUE(config.ok());
  auto policy = Policy::Compile(*config);
  ASSERT_TRUE(policy.ok());
  auto scanner = HyperscanScanner::Create(*(*policy)->layer7_database());
  ASSERT_TRUE(scanner.ok());
  auto scan = [&](std::string s) {
    return (*scanner)->Scan({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  EXPECT_EQ(scan("Open"), 0b11u);
  EXPECT_EQ(scan("OPEN\n"), 0b10u);
  EXPECT_EQ(scan("open!"), 0u);
}

// Anchored literals take a fast path; it must say exactly what Hyperscan
// says, for every payload near a passphrase and for junk.
TEST(Layer7Test, LiteralFastPathAgreesWithHyperscan) {
  const std::vector<Layer7Protocol> protocols = {
      {"seed", "^passphrase/$", false, {}},          {"upper", "^Knock-Knock 42$", false, {}},
      {"exact", "^S3cret:Door@gate_~#%$", true, {}}, {"short", "^a$", false, {}},
      {"prefix", "^passphrase$", false, {}},
  };
  auto db = HyperscanDatabase::Compile(protocols, "l7.toml");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_EQ((*db)->literals().size(), protocols.size()) << "all five are literals";
  auto scanner = HyperscanScanner::Create(**db);
  ASSERT_TRUE(scanner.ok());

  std::vector<std::string> payloads = {"", "\n", "a", "A\n", "a\n\n", "\na"};
  for (const Layer7Protocol& p : protocols) {
    const std::string lit = p.regexp.substr(1, p.regexp.size() - 2);
    std::string flipped = lit;
    for (char& c : flipped) {
      c = std::isupper(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c))
                                                      : static_cast<char>(std::toupper(c));
    }
    for (const std::string& base : {lit, flipped}) {
      for (const char* tail : {"", "\n", "\r\n", "\n\n", " ", "x", "\0"}) {
        payloads.push_back(base + std::string(tail, tail[0] == '\0' ? 1 : std::strlen(tail)));
        payloads.push_back("x" + base + tail);
        payloads.push_back(base.substr(0, base.size() - 1) + tail);
      }
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s = payloads[rng() % payloads.size()];
    if (!s.empty()) {
      s[rng() % s.size()] = static_cast<char>(rng() % 256);  // one byte changed
    }
    payloads.push_back(s);
  }
  int matches = 0;
  for (const std::string& s : payloads) {
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    const Layer7Mask fast = (*scanner)->Scan(bytes);
    EXPECT_EQ(fast, (*scanner)->ScanWithHyperscan(bytes)) << absl::CHexEscape(s);
    matches += fast != 0;
  }
  EXPECT_GT(matches, 10);  // the set exercises matches, not only misses
}

TEST(Layer7Test, PatternsWithRegexSyntaxUseHyperscan) {
  for (const char* re : {"^pass.word$", "^pass(word)?$", "passphrase", "^pass\\/$", "^a|b$"}) {
    EXPECT_FALSE(HyperscanDatabase::AnchoredLiteral(re).has_value()) << re;
  }
  EXPECT_EQ(HyperscanDatabase::AnchoredLiteral("^passphrase/$"), "passphrase/");
  const std::vector<Layer7Protocol> mixed = {{"lit", "^open$", false, {}},
                                             {"re", "^op.n$", false, {}}};
  auto db = HyperscanDatabase::Compile(mixed, "l7.toml");
  ASSERT_TRUE(db.ok());
  EXPECT_TRUE((*db)->literals().empty());
  auto scanner = HyperscanScanner::Create(**db);
  ASSERT_TRUE(scanner.ok());
  const std::string s = "OPEN\n";
  EXPECT_EQ((*scanner)->Scan({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0b11u);
}

}  // namespace
}  // namespace knockgate

namespace knockgate {
namespace {

// The same recipe written as a [[knock]] section behaves like the rules.
class KnockSectionTest : public SeedTest {};

constexpr char kKnockSection[] = R"(
[[layer7-protocol]]
name = "pass"
regexp = "^passphrase/$"
[[knock]]
name = "seed"
steps = ["tcp:888", "tcp:555", "tcp:222"]
window = "30s"
grant-list = "secured"
grant-timeout = "30m"
[[knock]]
name = "phrase"
steps = [{ step = "udp:888", layer7-protocol = "pass" }, "tcp:555"]
grant-list = "secured"
)";

TEST_F(KnockSectionTest, ExpandsToTheSeedsRules) {
  Load(kKnockSection);
  const std::string c = kClient;
  Run({
      {"closed", 0, Tcp(kClient, 80), kDrop, kWan},
      {"888", 1 * kS, Tcp(kClient, 888), kDrop, kWan, {"seed-1 " + c}},
      {"555", 2 * kS, Tcp(kClient, 555), kDrop, kWan, {"seed-2 " + c}},
      {"222", 3 * kS, Tcp(kClient, 222), kAccept, DropReason::kNone, {"secured " + c}},
      {"open", 4 * kS, Tcp(kClient, 80), kAccept},
      {"wrong order from another", 5 * kS, Tcp(kOther, 555), kDrop, kWan},
      {"passphrase step",
       6 * kS,
       Udp(kOther, 888, "passphrase/\n"),
       kDrop,
       kWan,
       {std::string("phrase-1 ") + kOther}},
      {"then 555 grants",
       7 * kS,
       Tcp(kOther, 555),
       kAccept,
       DropReason::kNone,
       {std::string("secured ") + kOther}},
  });
  const std::string described = policy_->Describe();
  EXPECT_NE(described.find("address-list=seed-1 address-list-timeout=30s in-interface-list=WAN "
                           "protocol=tcp dst-port=888 comment=\"knock seed step 1/3\""),
            std::string::npos)
      << described;
  EXPECT_NE(described.find("dst-port=888 layer7-protocol=pass comment=\"knock phrase step 1/2\""),
            std::string::npos);
}

}  // namespace
}  // namespace knockgate
