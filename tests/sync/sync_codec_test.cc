// [sync]'s wire text and expiry arithmetic, without Redis.
#include "sync/sync_codec.h"

#include <gtest/gtest.h>

#include "classify/classifier.h"

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
  EXPECT_EQ(EventsChannel("kg"), "kg:events");
}

TEST(SyncCodecTest, MessagesRoundTripAndRejectWhatIsMalformed) {
  SyncMessage m{false, "secured", Ip("fd77::2"), 1796134013123, "gw1:4242"};
  EXPECT_EQ(EncodeMessage(m), "add secured fd77::2 1796134013123 gw1:4242");
  auto back = ParseMessage(EncodeMessage(m));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->remove);
  EXPECT_EQ(back->list, "secured");
  EXPECT_EQ(back->address, Ip("fd77::2"));
  EXPECT_EQ(back->expiry_ms, 1796134013123);
  EXPECT_EQ(back->node, "gw1:4242");
  auto del = ParseMessage("del blacklist 10.0.0.9 0 b");
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->remove);
  for (const char* bad :
       {"", "add secured 10.0.0.1 5", "put secured 10.0.0.1 5 n", "add secured 10.0.0.300 5 n",
        "add secured 10.0.0.1 -5 n", "add secured 10.0.0.1 5x n", "add  10.0.0.1 5 n",
        "add secured 10.0.0.1 5 n extra"}) {
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

TEST(SyncCodecTest, RefreshesAreNewsOnlyWhenTheyMoveTheExpiryEnough) {
  const Nanos s = kNanosPerSecond;
  // 30 m timeout: 1% is 18 s.
  EXPECT_FALSE(RefreshIsNews(100 * s, 117 * s, 1800 * s));
  EXPECT_TRUE(RefreshIsNews(100 * s, 119 * s, 1800 * s));
  // 30 s timeout: 1% is 0.3 s, so the 1 s floor rules.
  EXPECT_FALSE(RefreshIsNews(100 * s, 100 * s + s, 30 * s));
  EXPECT_TRUE(RefreshIsNews(100 * s, 102 * s, 30 * s));
  // To no timeout from one: news; none to none: not.
  EXPECT_TRUE(RefreshIsNews(100 * s, kNever, kNever));
  EXPECT_FALSE(RefreshIsNews(kNever, kNever, kNever));
}

}  // namespace
}  // namespace knockgate
