// RouterOS's limit and dst-limit with fake time: the bucket alone, the
// per-flow table, and both as filter matchers on byte-level packets.
#include <gtest/gtest.h>

#include "classify/classifier_shard.h"
#include "classify/dst_limit_table.h"
#include "common/token_bucket.h"
#include "packet/parser.h"
#include "policy/config_loader.h"
#include "support/packet_builder.h"

namespace knockgate {
namespace {

using testing::BuildPacket;
using testing::PacketSpec;

constexpr Nanos kS = kNanosPerSecond;
constexpr Nanos kMs = kNanosPerSecond / 1000;

// How many of `n` packets of `bytes` offered evenly over [from, from + span) pass `b`.
int Offer(TokenBucket& b, const RateSpec& s, int n, Nanos from, Nanos span, size_t bytes = 64) {
  int passed = 0;
  for (int i = 0; i < n; ++i) {
    passed += b.Take(s, s.CostOf(bytes), from + span * i / n) ? 1 : 0;
  }
  return passed;
}

TEST(TokenBucketTest, BurstThenRateAsRouterOsLimit) {
  const RateSpec s = RateSpec::Of(50, 5 * kS, 2, false, 1);  // limit=50/5s,2:packet
  TokenBucket b;
  EXPECT_EQ(Offer(b, s, 10, 0, 0), 2);         // the burst
  EXPECT_EQ(Offer(b, s, 10, 50 * kMs, 0), 0);  // 10 a second: half a packet in 50 ms
  EXPECT_EQ(Offer(b, s, 10, 100 * kMs, 0), 1);
  // 1000 pps for a minute: 10 a second get through.
  EXPECT_NEAR(Offer(b, s, 60000, kS, 60 * kS), 600, 2);
}

TEST(TokenBucketTest, BitModeCostsTheFrameInBits) {
  const RateSpec s = RateSpec::Of(1'000'000, kS, 64'000, true, 1);  // limit=1M,64k:bit
  TokenBucket b;
  EXPECT_EQ(Offer(b, s, 100, 0, 0, 1500), 5);  // 64000 / 12000 bits
  // 1e7 bits / 12000 in ten seconds, and the burst the idle second refilled.
  EXPECT_NEAR(Offer(b, s, 10000, kS, 10 * kS, 1500), 833 + 5, 2);
  // A frame bigger than the burst still passes a full bucket, then waits for it.
  const RateSpec tiny = RateSpec::Of(8000, kS, 100, true, 1);
  TokenBucket t;
  EXPECT_EQ(Offer(t, tiny, 3, 0, 0, 1500), 1);
}

TEST(TokenBucketTest, WorkersShareTheRateSoTheGatewayHoldsIt) {
  const RateSpec whole = RateSpec::Of(100, kS, 20, false, 1);
  const RateSpec quarter = RateSpec::Of(100, kS, 20, false, 4);
  TokenBucket one;
  TokenBucket four[4];
  int alone = Offer(one, whole, 100000, 0, 10 * kS);
  int together = 0;
  for (TokenBucket& b : four) {
    together += Offer(b, quarter, 25000, 0, 10 * kS);  // each worker sees a quarter
  }
  EXPECT_NEAR(alone, 1020, 2);
  EXPECT_NEAR(together, 1020, 4);
}

TEST(DstLimitTableTest, EachFlowHasItsOwnBucket) {
  auto table = *DstLimitTable::Create(1024);
  const RateSpec s = RateSpec::Of(1, kS, 2, false, 1);
  const IpAddress a = *ParseIpAddress("198.51.100.1");
  const IpAddress b = *ParseIpAddress("198.51.100.2");
  const IpAddress server = *ParseIpAddress("192.0.2.10");
  const IpAddress other = *ParseIpAddress("192.0.2.11");
  auto take = [&](uint16_t rule, DstLimitMode mode, const IpAddress& src, const IpAddress& dst,
                  uint16_t port, Nanos at) {
    return table->Take(DstLimitKey::Of(rule, mode, src, dst, port), s, 60 * kS, 1, at);
  };
  const DstLimitMode src_mode = DstLimitMode::kSrcAddress;
  EXPECT_TRUE(take(0, src_mode, a, server, 22, 0));
  EXPECT_TRUE(take(0, src_mode, a, other, 23, 0));  // src-address: the rest is not the flow
  EXPECT_FALSE(take(0, src_mode, a, server, 22, 0));
  EXPECT_TRUE(take(0, src_mode, b, server, 22, 0));  // another source, a full bucket
  EXPECT_TRUE(take(1, src_mode, a, server, 22, 0));  // another rule, another bucket
  const DstLimitMode port_mode = DstLimitMode::kAddressesAndDstPort;
  EXPECT_TRUE(take(0, port_mode, a, server, 22, 0));
  EXPECT_TRUE(take(0, port_mode, a, server, 22, 0));
  EXPECT_FALSE(take(0, port_mode, a, server, 22, 0));
  EXPECT_TRUE(take(0, port_mode, a, server, 80, 0));
  EXPECT_TRUE(take(0, src_mode, a, server, 22, kS));  // refilled
  EXPECT_EQ(table->stats().flows, 5u);
  EXPECT_EQ(table->stats().evicted, 0u);
}

TEST(DstLimitTableTest, FullTableForgetsIdleFlowsFirstAndCountsLiveOnes) {
  auto table = *DstLimitTable::Create(4);  // one set of four
  const RateSpec s = RateSpec::Of(1, 60 * kS, 1, false, 1);
  auto take = [&](int host, Nanos at, Nanos expire) {
    const IpAddress src = IpAddress::V4(std::array<uint8_t, 4>{10, 0, 0, uint8_t(host)}.data());
    return table->Take(DstLimitKey::Of(0, DstLimitMode::kSrcAddress, src, src, 0), s, expire, 1,
                       at);
  };
  EXPECT_TRUE(take(0, 0, 10 * kS));
  for (int h = 1; h < 4; ++h) {
    EXPECT_TRUE(take(h, h * kS, 100 * kS));
  }
  EXPECT_FALSE(take(3, 4 * kS, 100 * kS));  // still remembered: its bucket is empty
  // Host 0 has been idle past its expire at 11s: it makes room, uncounted.
  EXPECT_TRUE(take(4, 11 * kS, 100 * kS));
  EXPECT_EQ(table->stats().evicted, 0u);
  // No flow idle past its expire: the idle-longest (host 1) goes, counted,
  // and comes back with a full bucket.
  EXPECT_TRUE(take(5, 12 * kS, 100 * kS));
  EXPECT_EQ(table->stats().evicted, 1u);
  EXPECT_FALSE(take(3, 12 * kS, 100 * kS));  // host 3 kept its empty bucket
  EXPECT_TRUE(take(1, 13 * kS, 100 * kS));
}

// The matchers in rules, under the classifier, as a gateway runs them.
class RateRuleTest : public ::testing::Test {
 protected:
  void Load(const std::string& text) {
    auto config = LoadConfig(text, "t.toml");
    ASSERT_TRUE(config.ok()) << config.status();
    auto policy = Policy::Compile(*config);
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
    shard_ = std::move(ClassifierShard::Create(*policy_)).value();
  }
  Verdict Send(const PacketSpec& spec, Nanos at) {
    const std::vector<uint8_t> frame = BuildPacket(spec);
    ParsedPacket pkt;
    EXPECT_EQ(ParsePacket(frame, pkt), DropReason::kNone);
    return Classify(*policy_, shard_->state, frame, pkt, InterfaceList::kWan, at).verdict;
  }
  int Accepted(const PacketSpec& spec, int n, Nanos from, Nanos span) {
    int accepted = 0;
    for (int i = 0; i < n; ++i) {
      accepted += Send(spec, from + span * i / n) == Verdict::kAccept ? 1 : 0;
    }
    return accepted;
  }
  std::shared_ptr<const Policy> policy_;
  std::unique_ptr<ClassifierShard> shard_;
};

TEST_F(RateRuleTest, PingUnderLimitThenTheDefaultDrop) {
  Load(R"([[filter]]
action = "accept"
protocol = "icmp"
limit = "50/5s,2:packet"
)");
  PacketSpec ping;
  ping.protocol = 1;
  EXPECT_EQ(Accepted(ping, 10, 0, 0), 2);
  // 10 a second, and the burst the idle second refilled.
  const int steady = Accepted(ping, 1000, kS, 10 * kS);
  EXPECT_NEAR(steady, 100 + 2, 1);
  // Packets the rule's other matchers refuse spend nothing.
  PacketSpec syn;
  EXPECT_EQ(Accepted(syn, 1000, 20 * kS, kS), 0);
  EXPECT_EQ(Accepted(ping, 10, 21 * kS, 0), 2);
  EXPECT_EQ(shard_->state.rule_counters[0].packets, 2u + steady + 2);
}

TEST_F(RateRuleTest, NegatedLimitDropsWhatIsOverTheRate) {
  Load(R"([[filter]]
action = "drop"
protocol = "icmp"
limit = "!10,5:packet"
[policy]
wan-default = "accept"
)");
  PacketSpec ping;
  ping.protocol = 1;
  EXPECT_EQ(Accepted(ping, 100, 0, 0), 5);
  EXPECT_NEAR(Accepted(ping, 1000, kS, 10 * kS), 100 + 5, 1);
}

TEST_F(RateRuleTest, DstLimitPerSourceLeavesOtherSourcesAlone) {
  Load(R"([[filter]]
action = "accept"
protocol = "tcp"
dst-port = 22
dst-limit = "10/1m,5,src-address/1m"
)");
  PacketSpec a;
  a.dst_port = 22;
  PacketSpec b = a;
  b.src = "198.51.100.8";
  EXPECT_EQ(Accepted(a, 100, 0, 0), 5);
  EXPECT_EQ(Accepted(b, 3, 0, 0), 3);
  EXPECT_NEAR(Accepted(a, 600, kS, 60 * kS), 10, 1);
  ASSERT_NE(shard_->dst_limits, nullptr);
  EXPECT_EQ(shard_->dst_limits->stats().flows, 2u);
}

}  // namespace
}  // namespace knockgate
