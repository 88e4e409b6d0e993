// [sync]'s wire text and expiry arithmetic, without Redis.
#include "sync/sync_codec.h"

#include <gtest/gtest.h>

#include "classify/classifier_shard.h"
#include "classify/event_text.h"
#include "packet/parser.h"
#include "policy/config_loader.h"
#include "support/packet_builder.h"

namespace knockgate {
namespace {

IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

TEST(SyncCodecTest, KeysNameListAndAddressWithIpv6AsRfc5952) {
  EXPECT_EQ(EntryKey("knockgate", "secured", Ip("10.77.0.2")), "knockgate:e:secured:10.77.0.2");
  EXPECT_EQ(EntryKey("kg", "blacklist", Ip("2001:0db8:0000:0000:0000:0000:0000:0001")),
            "kg:e:blacklist:2001:db8::1");
  EXPECT_EQ(EntryKey("kg", "x", Ip("fd77:0:0:1:0:0:0:10")), "kg:e:x:fd77:0:0:1::10");
  auto k = ParseEntryKey("kg", "kg:e:blacklist:2001:db8::1");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->first, "blacklist");
  EXPECT_EQ(k->second, Ip("2001:db8::1"));
  EXPECT_FALSE(ParseEntryKey("kg", "other:e:secured:10.0.0.1").ok());
  EXPECT_FALSE(ParseEntryKey("kg", "kg:e:secured").ok());
  EXPECT_FALSE(ParseEntryKey("kg", "kg:e::10.0.0.1").ok());
  EXPECT_FALSE(ParseEntryKey("kg", "kg:e:secured:not-an-address").ok());
  EXPECT_EQ(EntryPattern("kg"), "kg:e:*");
  EXPECT_EQ(TombstoneKey("kg", "secured", Ip("10.0.0.1")), "kg:t:secured:10.0.0.1");
  EXPECT_EQ(EntryPattern("kg", 't'), "kg:t:*");
  auto t = ParseEntryKey("kg", "kg:t:secured:fd77::2", 't');
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->first, "secured");
  EXPECT_EQ(t->second, Ip("fd77::2"));
  EXPECT_FALSE(ParseEntryKey("kg", "kg:t:secured:fd77::2").ok());  // not an entry
  auto v = ParseEntryValue("1796134013123 1796132213100");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->expiry_ms, 1796134013123);
  EXPECT_EQ(v->changed_ms, 1796132213100);
  auto bare = ParseEntryValue("0");  // before tombstones: no change time
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->expiry_ms, 0);
  EXPECT_EQ(bare->changed_ms, 0);
  for (const char* bad : {"", "x", "5 y", "5 6 7", "-1 5", "5 -1"}) {
    EXPECT_FALSE(ParseEntryValue(bad).ok()) << bad;
  }
  EXPECT_EQ(EventsChannel("kg"), "kg:events");
}

TEST(SyncCodecTest, MessagesRoundTripAndRejectWhatIsMalformed) {
  SyncMessage m{false, "secured", Ip("fd77::2"), 1796134013123, "gw1:4242", 1796132213100};
  EXPECT_EQ(EncodeMessage(m), "add secured fd77::2 1796134013123 gw1:4242 1796132213100");
  auto back = ParseMessage(EncodeMessage(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->remove);
  EXPECT_EQ(back->list, "secured");
  EXPECT_EQ(back->address, Ip("fd77::2"));
  EXPECT_EQ(back->expiry_ms, 1796134013123);
  EXPECT_EQ(back->node, "gw1:4242");
  EXPECT_EQ(back->changed_ms, 1796132213100);
  auto del = ParseMessage("del blacklist 10.0.0.9 0 b 17");
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->remove);
  EXPECT_EQ(del->changed_ms, 17);
  // From a gateway before tombstones: no change time, older than any.
  auto old = ParseMessage("del blacklist 10.0.0.9 0 b");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->changed_ms, 0);
  for (const char* bad :
       {"", "add secured 10.0.0.1 5", "put secured 10.0.0.1 5 n", "add secured 10.0.0.300 5 n",
        "add secured 10.0.0.1 -5 n", "add secured 10.0.0.1 5x n", "add  10.0.0.1 5 n",
        "add secured 10.0.0.1 5 n extra", "add secured 10.0.0.1 5 n -3",
        "add secured 10.0.0.1 5 n 3 extra"}) {
    EXPECT_FALSE(ParseMessage(bad).ok()) << bad;
  }
}

TEST(SyncCodecTest, ExpiryIsUnixMillisecondsRoundedUpAndZeroIsNone) {
  EXPECT_EQ(ExpiryMsOf(kNever), 0);
  EXPECT_EQ(ExpiryWallOf(0), kNever);
  EXPECT_EQ(ExpiryMsOf(1'796'134'013'000'000'000), 1'796'134'013'000);
  EXPECT_EQ(ExpiryMsOf(1'796'134'013'000'000'001), 1'796'134'013'001);  // never earlier
  EXPECT_EQ(ExpiryWallOf(1'796'134'013'001), 1'796'134'013'001'000'000u);
}

// Two gateways whose clocks differ: each turns the absolute expiry into time
// left on its own clock, so an entry ends at one instant everywhere, give or
// take the clocks' difference (which is why the README asks for NTP).
TEST(SyncCodecTest, AbsoluteExpiryEndsAtOneInstantOnClocksThatDisagree) {
  const Nanos a_wall = 1'796'134'000'000'000'000;  // gateway A's clock now
  const Nanos timeout = 300 * kNanosPerSecond;
  const int64_t ms = ExpiryMsOf(a_wall + timeout);
  for (Nanos skew : {Nanos{0}, Nanos{250'000'000}}) {  // B runs 250 ms ahead
    const Nanos b_wall = a_wall + skew;
    const Nanos left_on_b = ExpiryWallOf(ms) - b_wall;
    EXPECT_EQ(left_on_b, timeout - skew);
  }
  // Published late (A's message took 2 s to arrive): still the same instant.
  EXPECT_EQ(ExpiryWallOf(ms) - (a_wall + 2 * kNanosPerSecond), timeout - 2 * kNanosPerSecond);
}

TEST(SyncCodecTest, RefreshesAreToldOncePerStepOfTheirExpiry) {
  const Nanos s = kNanosPerSecond;
  // 30 m timeout: the step is 1%, 18 s. A move of more than a step is news.
  EXPECT_TRUE(RefreshIsNews(100 * s, 119 * s, 1800 * s));
  EXPECT_TRUE(RefreshIsNews(101 * s, 120 * s, 1800 * s));
  // Within one step, not.
  EXPECT_FALSE(RefreshIsNews(108 * s, 125 * s, 1800 * s));
  // A refresh every second for ten minutes is told about once per 18 s.
  int told = 0;
  Nanos expiry = 1800 * s;
  for (Nanos t = 1; t <= 600; ++t) {
    const Nanos next = t * s + 1800 * s;
    told += RefreshIsNews(expiry, next, 1800 * s);
    expiry = next;
  }
  EXPECT_GE(told, 600 / 18 - 1);
  EXPECT_LE(told, 600 / 18 + 1);
  // 30 s timeout: 1% is 0.3 s, so the 1 s floor rules.
  EXPECT_FALSE(RefreshIsNews(100 * s + s / 4, 100 * s + s / 2, 30 * s));
  EXPECT_TRUE(RefreshIsNews(100 * s, 102 * s, 30 * s));
  // To no timeout from one: news; none to none: not.
  EXPECT_TRUE(RefreshIsNews(100 * s, kNever, kNever));
  EXPECT_FALSE(RefreshIsNews(kNever, kNever, kNever));
}

// What the workers pass to [sync]: adds to shared lists (and refreshes worth
// telling), in a buffer of their own beside the events; nothing of lists
// that are not shared.
TEST(SharedChangesTest, AddsAndNewsworthyRefreshesOfSharedListsOnly) {
  auto config = LoadConfig(R"(
[[filter]]
action = "add-src-to-address-list"
address-list = "888"
address-list-timeout = "30s"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = 888
[[filter]]
action = "add-src-to-address-list"
address-list = "blacklist"
address-list-timeout = "1h"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = 23
[sync]
redis = "unix:///r.sock"
lists = ["blacklist"]
)",
                           "t.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto policy = Policy::Compile(*config);
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto shard = std::move(ClassifierShard::Create(**policy)).value();
  ClassifierState& state = shard->state;
  auto send = [&](uint16_t port, Nanos at) {
    const std::vector<uint8_t> frame =
        testing::TcpPacket("198.51.100.9", 40000, "192.0.2.10", port);
    ParsedPacket pkt;
    ASSERT_EQ(ParsePacket(frame, pkt), DropReason::kNone);
    Classify(**policy, state, frame, pkt, InterfaceList::kWan, at);
  };
  const Nanos s = kNanosPerSecond;
  send(888, 1 * s);  // a knock step: not shared
  EXPECT_EQ(state.events.events().size(), 1u);
  EXPECT_TRUE(state.shared_changes.events().empty());
  send(23, 2 * s);  // a jail: shared
  ASSERT_EQ(state.shared_changes.events().size(), 1u);
  EXPECT_EQ(FormatEvent(**policy, state.shared_changes.events()[0], "T"),
            "T list-add rule=1 list=blacklist address=198.51.100.9 timeout=1h worker=0 WAN tcp "
            "198.51.100.9 > 192.0.2.10");
  // The step is 1% of an hour, 36 s: the expiry (2 s + 1 h = 3,602 s) reaches
  // the next multiple of 36 s (3,636 s) with a refresh at 36 s.
  send(23, 20 * s);  // within the step: not news, not logged
  EXPECT_EQ(state.shared_changes.events().size(), 1u);
  EXPECT_EQ(state.events.events().size(), 2u);
  send(23, 30 * s);
  EXPECT_EQ(state.shared_changes.events().size(), 1u);
  send(23, 40 * s);  // into the next step: news, logged as a refresh
  ASSERT_EQ(state.shared_changes.events().size(), 2u);
  EXPECT_TRUE(state.shared_changes.events()[1].refresh);
  EXPECT_NE(FormatEvent(**policy, state.events.events().back(), "T").find("list-refresh rule=1"),
            std::string::npos);
}

}  // namespace
}  // namespace knockgate
