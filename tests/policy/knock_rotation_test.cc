// Rotating knock sequences: the port derivation against fixed vectors from a
// second implementation (tests/e2e/knock_ref.py, Python's hmac), the
// [[knock]] keys and their errors, and the classifier opening on the current
// and the previous period's sequence and refusing it two periods later.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "classify/classifier_shard.h"
#include "packet/parser.h"
#include "policy/config_loader.h"
#include "policy/knock_rotation.h"
#include "policy/policy.h"
#include "support/packet_builder.h"

namespace knockgate {
namespace {

constexpr Nanos kS = kNanosPerSecond;

std::vector<uint16_t> Derive(const std::string& secret, uint64_t period, uint16_t lo, uint16_t hi,
                             size_t steps, std::vector<uint16_t> excluded = {}) {
  PortMask mask;
  for (uint16_t p : excluded) {
    mask.set(p);
  }
  absl::StatusOr<std::vector<uint16_t>> ports =
      DeriveKnockPorts(secret, period, lo, hi, steps, mask);
  EXPECT_TRUE(ports.ok()) << ports.status();
  return ports.value_or(std::vector<uint16_t>{});
}

// Produced by `python3 tests/e2e/knock_ref.py SECRET PERIOD LO HI STEPS
// [EXCLUDED]`, which follows the README's text with Python's hmac module.
TEST(KnockDerivationTest, FixedVectorsFromAnIndependentImplementation) {
  using V = std::vector<uint16_t>;
  EXPECT_EQ(Derive("0123456789abcdef-knock", 0, 10000, 60000, 3), (V{32897, 12471, 49503}));
  EXPECT_EQ(Derive("0123456789abcdef-knock", 58000000, 10000, 60000, 3), (V{24155, 58350, 28885}));
  EXPECT_EQ(Derive("correct horse battery staple", 58000001, 10000, 60000, 4),
            (V{45133, 55305, 23010, 31908}));
  // Served ports are skipped and the draw goes on.
  EXPECT_EQ(Derive("correct horse battery staple", 58000001, 10000, 60000, 4, {45133, 23010}),
            (V{55305, 31908, 44296, 34829}));
  // A small range: values past 65,400 are thrown away (no bias), repeats too.
  EXPECT_EQ(Derive("correct horse battery staple", 58000001, 1000, 1299, 16),
            (V{1033, 1005, 1119, 1110, 1246, 1191, 1000, 1008, 1210, 1109, 1096, 1229, 1092, 1115,
               1182, 1048}));
}

TEST(KnockDerivationTest, PeriodsDifferAndAreDistinctWithinASequence) {
  int same_first = 0;
  for (uint64_t p = 0; p < 200; ++p) {
    const std::vector<uint16_t> a = Derive("another secret of some length", p, 10000, 60000, 5);
    const std::vector<uint16_t> b = Derive("another secret of some length", p + 2, 10000, 60000, 5);
    ASSERT_EQ(a.size(), 5u);
    EXPECT_EQ(std::set<uint16_t>(a.begin(), a.end()).size(), 5u);
    for (uint16_t port : a) {
      EXPECT_GE(port, 10000);
      EXPECT_LE(port, 60000);
    }
    same_first += a[0] == b[0] ? 1 : 0;
  }
  EXPECT_LE(same_first, 1);
}

absl::StatusOr<Config> Load(const std::string& text) { return LoadConfig(text, "t.toml"); }

constexpr char kRotating[] = R"([[filter]]
action = "accept"
protocol = "tcp"
dst-port = "10000-10100,22"
in-interface-list = "WAN"
src-address-list = "secured"
[[spa]]
name = "alice"
port = 10200
key-base64 = "c2VjcmV0IGtleQ=="
hmac-key-base64 = "aG1hYyBrZXkgb2YgZW5vdWdoIGxlbmd0aA=="
[[knock]]
name = "rot"
secret = "0123456789abcdef-knock"
period = "10s"
port-range = "10000-10999"
steps = ["tcp", "udp", "tcp"]
grant-timeout = "1m"
)";

TEST(RotatingKnockConfigTest, StepsKnockTheRangeAndServedPortsAreNeverDrawn) {
  absl::StatusOr<Config> config = Load(kRotating);
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->rotating_knocks.size(), 1u);
  const RotatingKnock& k = config->rotating_knocks[0];
  EXPECT_EQ(k.period, 10 * kS);
  EXPECT_EQ(k.protocols, (std::vector<uint8_t>{6, 17, 6}));
  int steps = 0;
  for (const FilterRule& r : config->filters) {
    if (r.rotating == 0) {
      EXPECT_EQ(r.rotating_step, steps);
      EXPECT_EQ(r.dst_port->value.ToString(), "10000-10999");
      ++steps;
    }
  }
  EXPECT_EQ(steps, 3);
  const PortMask served = ServedPorts(*config);
  EXPECT_TRUE(served.test(10000) && served.test(10100) && served.test(22) && served.test(10200));
  EXPECT_FALSE(served.test(10101));
  const KnockRotation rotation(*config);
  for (uint64_t p = 0; p < 500; ++p) {
    const std::vector<uint16_t> ports = *rotation.PortsAt(0, p);
    for (uint16_t port : ports) {
      EXPECT_TRUE(port > 10100 && port <= 10999 && port != 10200) << port;
    }
  }
}

TEST(RotatingKnockConfigTest, DefaultsAreThreeTcpStepsEveryThirtySeconds) {
  absl::StatusOr<Config> config = Load(R"([[knock]]
name = "r"
secret = "0123456789abcdef"
)");
  ASSERT_TRUE(config.ok()) << config.status();
  const RotatingKnock& k = config->rotating_knocks.at(0);
  EXPECT_EQ(k.period, 30 * kS);
  EXPECT_EQ(k.port_lo, 10000);
  EXPECT_EQ(k.port_hi, 60000);
  EXPECT_EQ(k.protocols, (std::vector<uint8_t>{6, 6, 6}));
}

TEST(RotatingKnockConfigTest, ErrorsNameTheLineAndKeyAndNeverTheSecret) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"[[knock]]\nname = \"r\"\nsecret = \"short-one\"\n",
       "t.toml:3:10: secret: expected a secret of at least 16 bytes"},
      {"[[knock]]\nname = \"r\"\nsecret = \"0123456789abcdef\"\nperiod = \"5s\"\n",
       "t.toml:4:10: period: expected whole seconds"},
      {"[[knock]]\nname = \"r\"\nsecret = \"0123456789abcdef\"\nport-range = \"1000-1100\"\n",
       "t.toml:4:14: port-range: \"1000-1100\": expected \"LO-HI\""},
      {"[[knock]]\nname = \"r\"\nsecret = \"0123456789abcdef\"\nsteps = [\"tcp:888\"]\n",
       "t.toml:4:10: steps: a rotating knock's steps name their protocol alone"},
      {"[[knock]]\nname = \"r\"\nsteps = [\"tcp\", \"udp\"]\n",
       "t.toml:3:17: steps: a step without a port knocks a rotating sequence"},
      {"[[knock]]\nname = \"r\"\nsteps = [\"tcp:888\"]\nperiod = \"30s\"\n",
       "t.toml:4:10: secret: missing"},
      {"[[knock]]\nname = \"r\"\nsecret = \"0123456789abcdef\"\nsecret-file = \"/x\"\n",
       "give secret or secret-file, not both"},
      {"[[filter]]\naction = \"accept\"\nprotocol = \"tcp\"\ndst-port = \"10000-10900\"\n"
       "[[knock]]\nname = \"r\"\nsecret = \"0123456789abcdef\"\nport-range = \"10000-11000\"\n",
       "t.toml:5:1: port-range: 10000-11000 keeps 100 ports once the ports rules serve are out"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Config> config = Load(c.text);
    ASSERT_FALSE(config.ok()) << c.text;
    EXPECT_NE(config.status().message().find(c.expected), std::string::npos)
        << config.status().message();
    EXPECT_EQ(config.status().message().find("0123456789abcdef"), std::string::npos);
  }
}

TEST(RotatingKnockConfigTest, SecretFileIsReadAndItsNewlineStripped) {
  const std::string path = ::testing::TempDir() + "/knock.secret";
  std::ofstream(path) << "0123456789abcdef-knock\n";
  absl::StatusOr<Config> config = Load("[[knock]]\nname = \"r\"\nsecret-file = \"" + path + "\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->rotating_knocks.at(0).secret, "0123456789abcdef-knock");
}

class RotatingKnockClassifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Config> config = Load(kRotating);
    ASSERT_TRUE(config.ok()) << config.status();
    policy_ = *Policy::Compile(*config);
    shard_ = std::move(ClassifierShard::Create(*policy_)).value();
    secured_ = policy_->FindList("secured");
    rotation_ = policy_->rotation();
    ASSERT_NE(rotation_, nullptr);
  }

  // Knocks `ports` (tcp, udp, tcp) from `src` at Unix time `unix_ns`, the
  // gateway's clock there; whether `src` is then in secured.
  bool Knock(const std::string& src, const std::vector<uint16_t>& ports, Nanos unix_ns) {
    rotation_->Advance(unix_ns);
    shard_->state.wall_offset = 0;
    const std::vector<uint8_t> protocols = rotation_->knock(0).protocols;
    for (size_t i = 0; i < ports.size(); ++i) {
      std::vector<uint8_t> frame = protocols[i] == 6
                                       ? testing::TcpPacket(src, 40000, "192.0.2.10", ports[i])
                                       : testing::UdpPacket(src, 40000, "192.0.2.10", ports[i], "");
      ParsedPacket pkt;
      EXPECT_EQ(ParsePacket(frame, pkt), DropReason::kNone);
      Classify(*policy_, shard_->state, frame, pkt, InterfaceList::kWan, unix_ns + i);
    }
    const IpAddress addr = *ParseIpAddress(src);
    const uint32_t record = shard_->state.lists->Find(addr);
    return record != AddressTable::kNoRecord &&
           ((shard_->state.lists->Membership(record, unix_ns + 10) >> secured_) & 1) != 0;
  }

  std::shared_ptr<const Policy> policy_;
  std::unique_ptr<ClassifierShard> shard_;
  KnockRotation* rotation_ = nullptr;
  int secured_ = -1;
};

TEST_F(RotatingKnockClassifyTest, CurrentAndPreviousPeriodOpenAReplayTwoPeriodsLaterDoesNot) {
  const Nanos t0 = 1'790'000'003 * kS;  // 3 s into period 179,000,000
  const uint64_t p = KnockPeriodAt(t0, 10 * kS);
  const std::vector<uint16_t> now = *rotation_->PortsAt(0, p);
  EXPECT_TRUE(Knock("198.51.100.1", now, t0));
  // Sent just before the boundary, arriving after it: the previous period's.
  EXPECT_TRUE(Knock("198.51.100.2", now, t0 + 8 * kS));
  // The same packets two periods later are refused; that period's own open.
  EXPECT_FALSE(Knock("198.51.100.3", now, t0 + 20 * kS));
  EXPECT_TRUE(Knock("198.51.100.4", *rotation_->PortsAt(0, p + 2), t0 + 20 * kS));
  // The next period's sequence, ahead of its time, is not yet accepted.
  EXPECT_FALSE(Knock("198.51.100.5", *rotation_->PortsAt(0, p + 3), t0 + 20 * kS));
  // The right ports in the wrong order open nothing.
  EXPECT_FALSE(Knock("198.51.100.6", {now[2], now[1], now[0]}, t0));
}

TEST_F(RotatingKnockClassifyTest, TheSlotsFollowTheClockAcrossManyPeriods) {
  // Advance is what the main lcore runs each millisecond: a long run of
  // periods, each opened by its own sequence at its first and last second.
  const Nanos t0 = 1'790'000'000 * kS;
  for (int i = 0; i < 50; ++i) {
    const Nanos start = t0 + i * 10 * kS;
    const std::vector<uint16_t> ports = *rotation_->PortsAt(0, KnockPeriodAt(start, 10 * kS));
    EXPECT_TRUE(Knock("203.0.113." + std::to_string(i + 1), ports, start));
    EXPECT_TRUE(Knock("203.0.113." + std::to_string(i + 101), ports, start + 9 * kS));
  }
}

}  // namespace
}  // namespace knockgate
