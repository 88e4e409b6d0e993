// Connection tracking through the classifier: LAN-opened flows let their
// replies in as established, ICMP errors about them as related, everything
// else from the WAN stays out; states and timeouts follow RouterOS.
#include <gtest/gtest.h>

#include "classify/classifier.h"
#include "policy/config_loader.h"
#include "support/packet_builder.h"

namespace knockgate {
namespace {

using testing::BuildPacket;
using testing::PacketSpec;

constexpr Nanos kS = kNanosPerSecond;
constexpr char kLanHost[] = "192.0.2.10";
constexpr char kRemote[] = "198.51.100.1";
constexpr InterfaceList kWan = InterfaceList::kWan;
constexpr InterfaceList kLan = InterfaceList::kLan;

constexpr char kPolicy[] = R"(
[conntrack]
capacity = CAPACITY
[[filter]]
action = "accept"
connection-state = "established,related"
[[filter]]
action = "drop"
connection-state = "invalid"
in-interface-list = "WAN"
)";

std::vector<uint8_t> Tcp(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                         uint8_t flags) {
  return testing::TcpPacket(src, sport, dst, dport, flags);
}

std::vector<uint8_t> Udp(const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  return testing::UdpPacket(src, sport, dst, dport, "q");
}

// An ICMP error from `router` to `to`, quoting `quoted` (a whole frame).
std::vector<uint8_t> IcmpError(const char* router, const char* to,
                               const std::vector<uint8_t>& quoted) {
  PacketSpec s;
  s.protocol = 1;
  s.icmp_type = 3;  // destination unreachable
  s.src = router;
  s.dst = to;
  s.payload.assign(quoted.begin() + 14, quoted.begin() + 14 + 28);
  return BuildPacket(s);
}

constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kSynAck = 0x12;
constexpr uint8_t kAck = 0x10;
constexpr uint8_t kFinAck = 0x11;

class ConntrackTest : public ::testing::Test {
 protected:
  void SetUp() override { Load(1024); }
  void Load(int capacity) {
    std::string text = kPolicy;
    text.replace(text.find("CAPACITY"), 8, std::to_string(capacity));
    auto config = LoadConfig(text, "ct.toml");
    ASSERT_TRUE(config.ok()) << config.status();
    auto policy = Policy::Compile(*config);
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
    ASSERT_TRUE(policy_->uses_conntrack());
    lists_ = std::move(AddressTable::Create(policy_->ListCapacities())).value();
    conntrack_ = std::move(ConnTable::Create(policy_->conntrack())).value();
    state_ = std::make_unique<ClassifierState>();
    state_->lists = lists_.get();
    state_->conntrack = conntrack_.get();
    state_->rule_counters.resize(policy_->rules().size());
  }
  Decision Send(const std::vector<uint8_t>& frame, InterfaceList in, Nanos at) {
    ParsedPacket pkt;
    EXPECT_EQ(ParsePacket(frame, pkt), DropReason::kNone);
    conntrack_->Reclaim(at, 64);
    return Classify(*policy_, *state_, frame, pkt, in, at);
  }
  bool Passes(const std::vector<uint8_t>& frame, InterfaceList in, Nanos at) {
    return Send(frame, in, at).verdict == Verdict::kAccept;
  }

  std::shared_ptr<const Policy> policy_;
  std::unique_ptr<AddressTable> lists_;
  std::unique_ptr<ConnTable> conntrack_;
  std::unique_ptr<ClassifierState> state_;
};

TEST_F(ConntrackTest, RepliesToLanFlowsAreEstablished) {
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kSyn), kLan, 0));
  const Decision reply = Send(Tcp(kRemote, 80, kLanHost, 50000, kSynAck), kWan, 1);
  EXPECT_EQ(reply.verdict, Verdict::kAccept);
  EXPECT_EQ(reply.rule, 0);
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kAck), kLan, 2));
  EXPECT_TRUE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kAck), kWan, 3));
  EXPECT_EQ(conntrack_->stats().created, 1u);
}

TEST_F(ConntrackTest, UnsolicitedWanTrafficStaysOut) {
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kSyn), kLan, 0));
  // The same remote host opening its own connection to the LAN: new, dropped.
  const Decision d = Send(Tcp(kRemote, 80, kLanHost, 22, kSyn), kWan, 1);
  EXPECT_EQ(d.verdict, Verdict::kDrop);
  EXPECT_EQ(d.reason, DropReason::kWanDefault);
  // A stray ACK of no known flow is invalid.
  const Decision ack = Send(Tcp(kRemote, 443, kLanHost, 50001, kAck), kWan, 1);
  EXPECT_EQ(ack.reason, DropReason::kRule);
  EXPECT_EQ(ack.rule, 1);
}

TEST_F(ConntrackTest, IcmpErrorsAboutAFlowAreRelated) {
  const std::vector<uint8_t> out = Udp(kLanHost, 5353, kRemote, 53);
  EXPECT_TRUE(Passes(out, kLan, 0));
  const Decision related = Send(IcmpError("203.0.113.1", kLanHost, out), kWan, 1);
  EXPECT_EQ(related.verdict, Verdict::kAccept);
  EXPECT_EQ(related.rule, 0);
  // An error quoting a packet the gate never passed is invalid.
  const Decision stray =
      Send(IcmpError("203.0.113.1", kLanHost, Udp(kLanHost, 9999, kRemote, 53)), kWan, 1);
  EXPECT_EQ(stray.verdict, Verdict::kDrop);
}

TEST_F(ConntrackTest, UdpTimeoutsFollowRouterOs) {
  EXPECT_TRUE(Passes(Udp(kLanHost, 5353, kRemote, 53), kLan, 0));
  EXPECT_TRUE(Passes(Udp(kRemote, 53, kLanHost, 5353), kWan, 9 * kS));  // within udp-timeout 10s
  // Replies seen: udp-stream-timeout (3m) now applies.
  EXPECT_TRUE(Passes(Udp(kRemote, 53, kLanHost, 5353), kWan, 9 * kS + 179 * kS));
  EXPECT_FALSE(Passes(Udp(kRemote, 53, kLanHost, 5353), kWan, 9 * kS + 179 * kS + 181 * kS));
}

TEST_F(ConntrackTest, UnansweredUdpExpiresAfterTenSeconds) {
  EXPECT_TRUE(Passes(Udp(kLanHost, 5353, kRemote, 53), kLan, 0));
  EXPECT_FALSE(Passes(Udp(kRemote, 53, kLanHost, 5353), kWan, 10 * kS));
}

TEST_F(ConntrackTest, TcpCloseShortensTheTimeout) {
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kSyn), kLan, 0));
  EXPECT_TRUE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kSynAck), kWan, 1));
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kAck), kLan, 2));
  FlowKey key = FlowOf(
      [&] {
        ParsedPacket p;
        ParsePacket(Tcp(kLanHost, 50000, kRemote, 80, kAck), p);
        return p;
      }(),
      kLan);
  EXPECT_EQ(conntrack_->tcp_state(key, 3), TcpState::kEstablished);
  // Established lasts a day.
  EXPECT_TRUE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kAck), kWan, 3600 * kS));
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kFinAck), kLan, 3601 * kS));
  EXPECT_EQ(conntrack_->tcp_state(key, 3601 * kS), TcpState::kFinWait);
  EXPECT_TRUE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kFinAck), kWan, 3602 * kS));
  EXPECT_EQ(conntrack_->tcp_state(key, 3602 * kS), TcpState::kTimeWait);
  EXPECT_FALSE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kAck), kWan, 3613 * kS));
}

TEST_F(ConntrackTest, AnUnansweredSynAgesOutInFiveSeconds) {
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kSyn), kLan, 0));
  EXPECT_FALSE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kSynAck), kWan, 5 * kS));
}

TEST_F(ConntrackTest, FullTableEvictsTheSoonestToExpire) {
  Load(4);
  // One established flow (a day), then a flood of half-open ones (5 s each).
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kSyn), kLan, 0));
  EXPECT_TRUE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kSynAck), kWan, 1));
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kAck), kLan, 2));
  for (uint16_t port = 1; port <= 20; ++port) {
    Passes(Tcp(kLanHost, static_cast<uint16_t>(60000 + port), kRemote, 80, kSyn), kLan, 3 + port);
  }
  EXPECT_EQ(conntrack_->stats().size, 4u);
  EXPECT_EQ(conntrack_->stats().evicted, 17u);
  EXPECT_TRUE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kAck), kWan, 100)) << "established survives";
}

// Packets that extend a flow leave the expiry heap alone; the flow must
// still outlive its first timeout, and go when it falls silent.
TEST_F(ConntrackTest, AFlowKeptBusyOutlivesItsFirstTimeout) {
  EXPECT_TRUE(Passes(Udp(kLanHost, 5353, kRemote, 53), kLan, 0));  // 10 s until answered
  for (Nanos t = 5 * kS; t <= 60 * kS; t += 5 * kS) {
    EXPECT_TRUE(Passes(Udp(kRemote, 53, kLanHost, 5353), kWan, t)) << t / kS << " s";
  }
  EXPECT_EQ(conntrack_->stats().size, 1u);
  EXPECT_EQ(conntrack_->stats().expired, 0u);
  // Answered: udp-stream, 3 minutes after the last packet.
  conntrack_->Reclaim(60 * kS + 180 * kS - 1, 64);
  EXPECT_EQ(conntrack_->stats().size, 1u);
  conntrack_->Reclaim(60 * kS + 180 * kS, 64);
  EXPECT_EQ(conntrack_->stats().size, 0u);
  EXPECT_EQ(conntrack_->stats().expired, 1u);
}

// A timeout that shrinks (an established flow closing) is seen by the heap at
// once: the flow is reclaimed on time, not a day later.
TEST_F(ConntrackTest, AClosedFlowIsReclaimedOnTime) {
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kSyn), kLan, 0));
  EXPECT_TRUE(Passes(Tcp(kRemote, 80, kLanHost, 50000, kSynAck), kWan, 1));
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kAck), kLan, 2));
  EXPECT_TRUE(Passes(Tcp(kLanHost, 50000, kRemote, 80, kFinAck), kLan, 10 * kS));
  EXPECT_TRUE(
      Passes(Tcp(kRemote, 80, kLanHost, 50000, kFinAck), kWan, 11 * kS));  // time-wait, 10 s
  conntrack_->Reclaim(21 * kS - 1, 64);
  EXPECT_EQ(conntrack_->stats().size, 1u);
  conntrack_->Reclaim(21 * kS, 64);
  EXPECT_EQ(conntrack_->stats().size, 0u);
}

// A full table evicts the flow that truly expires soonest, even when packets
// have extended the flow the heap last saw first.
TEST_F(ConntrackTest, EvictionSeesThroughExtendedFlows) {
  Load(2);
  EXPECT_TRUE(Passes(Udp(kLanHost, 1001, kRemote, 53), kLan, 0));       // until 10 s
  EXPECT_TRUE(Passes(Udp(kLanHost, 1002, kRemote, 53), kLan, 1 * kS));  // until 11 s
  EXPECT_TRUE(Passes(Udp(kRemote, 53, kLanHost, 1001), kWan, 2 * kS));  // 1001: until 182 s
  EXPECT_TRUE(Passes(Udp(kLanHost, 1003, kRemote, 53), kLan, 3 * kS));  // evicts 1002
  EXPECT_EQ(conntrack_->stats().evicted, 1u);
  EXPECT_TRUE(Passes(Udp(kRemote, 53, kLanHost, 1001), kWan, 4 * kS));
  EXPECT_FALSE(Passes(Udp(kRemote, 53, kLanHost, 1002), kWan, 4 * kS));
}

TEST_F(ConntrackTest, LaterFragmentsAreUntracked) {
  PacketSpec s;
  s.src = kRemote;
  s.dst = kLanHost;
  s.frag_offset = 100;
  EXPECT_FALSE(Passes(BuildPacket(s), kWan, 0));
  auto config =
      LoadConfig("[[filter]]\naction = \"accept\"\nconnection-state = \"untracked\"\n", "u.toml");
  ASSERT_TRUE(config.ok());
  policy_ = *Policy::Compile(*config);
  state_->rule_counters.resize(policy_->rules().size());
  EXPECT_EQ(Send(BuildPacket(s), kWan, 0).rule, 0);
}

}  // namespace
}  // namespace knockgate
