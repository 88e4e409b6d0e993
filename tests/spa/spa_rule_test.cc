// [[spa]] sections under the classifier, on packets the real fwknop client
// made: where they stand among the rules, grants, rejects and their events.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "classify/classifier_shard.h"
#include "classify/event_text.h"
#include "packet/parser.h"
#include "policy/config_loader.h"
#include "support/packet_builder.h"

namespace knockgate {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class SpaRuleTest : public ::testing::Test {
 protected:
  void Load(const std::string& extra = "", const std::string& spa_extra = "") {
    const std::string config = absl::StrCat(extra, R"(
[[filter]]
chain = "input"
action = "accept"
in-interface-list = "WAN"
protocol = "tcp"
src-address-list = "secured"

[[spa]]
name = "ssh"
key-file = ")",
                                            KNOCKGATE_SOURCE_ROOT, R"(/tests/data/spa/keys.txt"
grant-timeout = "30m"
access = ["tcp/22"]
)",
                                            spa_extra);
    auto c = LoadConfig(config, "t.toml");
    ASSERT_TRUE(c.ok()) << c.status();
    auto p = Policy::Compile(*c);
    ASSERT_TRUE(p.ok()) << p.status();
    policy_ = *p;
    shard_ = std::move(ClassifierShard::Create(*policy_)).value();
    const std::vector<std::string> lines = absl::StrSplit(
        Read(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/vectors.tsv"), '\n', absl::SkipEmpty());
    for (const std::string& line : lines) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      vectors_[f[0]] = {std::stoull(f[1]), f[2]};
    }
    // The gateway's clock reads the accept vector's time at 1000 s.
    shard_->state.wall_offset = vectors_["accept"].first * kNanosPerSecond - kT0;
  }
  Decision Send(const std::string& payload, const std::string& src = "10.77.0.2",
                uint16_t port = 62201, Nanos at = kT0) {
    return SendTo(*shard_, payload, src, port, at);
  }
  Decision SendTo(ClassifierShard& shard, const std::string& payload, const std::string& src,
                  uint16_t port = 62201, Nanos at = kT0) {
    frame_ = testing::UdpPacket(src, 40000, "192.0.2.10", port, payload);
    ParsedPacket pkt;
    EXPECT_EQ(ParsePacket(frame_, pkt), DropReason::kNone);
    shard.state.events.Clear();
    return Classify(*policy_, shard.state, frame_, pkt, InterfaceList::kWan, at);
  }
  Verdict SendTcp(const std::string& src, uint16_t port) {
    frame_ = testing::TcpPacket(src, 40000, "192.0.2.10", port);
    ParsedPacket pkt;
    EXPECT_EQ(ParsePacket(frame_, pkt), DropReason::kNone);
    return Classify(*policy_, shard_->state, frame_, pkt, InterfaceList::kWan, kT0).verdict;
  }
  std::string LastEvent() {
    auto events = shard_->state.events.events();
    return events.empty() ? "" : FormatEvent(*policy_, events.back(), "T");
  }
  bool Secured(const std::string& addr, Nanos at = kT0) {
    return shard_->lists->Contains(*ParseIpAddress(addr),
                                   static_cast<ListId>(policy_->FindList("secured")), at);
  }
  static constexpr Nanos kT0 = 1000 * kNanosPerSecond;
  std::shared_ptr<const Policy> policy_;
  std::unique_ptr<ClassifierShard> shard_;
  std::map<std::string, std::pair<uint64_t, std::string>> vectors_;
  std::vector<uint8_t> frame_;
};

TEST_F(SpaRuleTest, AGrantOpensTheRulesThatReadItsList) {
  Load();
  EXPECT_EQ(SendTcp("10.77.0.2", 22), Verdict::kDrop);  // shut before
  const Decision d = Send(vectors_["accept"].second);
  EXPECT_EQ(d.verdict, Verdict::kDrop);  // consumed, never forwarded
  EXPECT_EQ(d.reason, DropReason::kSpa);
  EXPECT_EQ(LastEvent(),
            "T spa-grant user=ssh list=secured address=10.77.0.2 timeout=30m worker=0 WAN udp "
            "10.77.0.2 > 192.0.2.10");
  EXPECT_TRUE(Secured("10.77.0.2"));
  EXPECT_FALSE(Secured("10.77.0.2", kT0 + 1801 * kNanosPerSecond));
  EXPECT_EQ(SendTcp("10.77.0.2", 22), Verdict::kAccept);
  EXPECT_EQ(shard_->spa->counters[0].accepts, 1u);
}

TEST_F(SpaRuleTest, TheClientsTimeoutIsHonouredUpToTheSections) {
  Load();
  const uint64_t ts = vectors_["client-timeout"].first;
  shard_->state.wall_offset = ts * kNanosPerSecond - kT0;
  Send(vectors_["client-timeout"].second);
  EXPECT_TRUE(Secured("10.77.0.2", kT0 + 59 * kNanosPerSecond));
  EXPECT_FALSE(Secured("10.77.0.2", kT0 + 61 * kNanosPerSecond));  // fwknop -f 60
}

TEST_F(SpaRuleTest, RejectsAreCountedAndLoggedByReason) {
  Load();
  struct Case {
    const char* what;
    std::string payload;
    const char* src;
    const char* reason;
  };
  std::string forged = vectors_["accept"].second;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  const Case cases[] = {
      {"not base64", "not an spa packet at all, far too short", "10.77.0.2", "format"},
      {"wrong HMAC", forged, "10.77.0.2", "hmac"},
      {"other keys", vectors_["wrong-keys"].second, "10.77.0.2", "hmac"},
      {"ten minutes old", vectors_["past-10m"].second, "10.77.0.2", "stale"},
      {"from another source", vectors_["accept"].second, "10.77.0.3", "source"},
      {"access not allowed (tcp/8080 too)", vectors_["two-ports"].second, "10.77.0.2", "access"},
      {"accepted", vectors_["accept"].second, "10.77.0.2", "none"},
      {"replayed", vectors_["accept"].second, "10.77.0.2", "replay"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const Decision d = Send(c.payload, c.src);
    EXPECT_EQ(d.reason, DropReason::kSpa);
    if (std::string(c.reason) == "none") {
      EXPECT_NE(LastEvent().find("spa-grant"), std::string::npos) << LastEvent();
    } else {
      EXPECT_NE(LastEvent().find(absl::StrCat("spa-reject user=ssh reason=", c.reason, " ")),
                std::string::npos)
          << LastEvent();
    }
  }
  const SpaCounters& n = shard_->spa->counters[0];
  EXPECT_EQ(n.accepts, 1u);
  EXPECT_EQ(n.rejects[static_cast<size_t>(SpaReject::kAccess)], 1u);
  EXPECT_EQ(n.rejects[static_cast<size_t>(SpaReject::kHmac)], 2u);
  EXPECT_EQ(n.rejects[static_cast<size_t>(SpaReject::kReplay)], 1u);
  EXPECT_FALSE(Secured("10.77.0.3"));
}

TEST_F(SpaRuleTest, AFilterRuleBeforeItSeesThePacketFirst) {
  Load(R"([[filter]]
chain = "input"
action = "drop"
in-interface-list = "WAN"
src-address = "10.77.0.2"
)");
  EXPECT_EQ(Send(vectors_["accept"].second).reason, DropReason::kRule);  // the blacklist wins
  EXPECT_FALSE(Secured("10.77.0.2"));
  EXPECT_EQ(shard_->spa->counters[0].accepts, 0u);
}

// The recipe's "accept secured sources" rule stands before the section: a
// granted client's next SPA packet must still be verified, not forwarded,
// and a valid one refreshes the grant.
TEST_F(SpaRuleTest, AnAcceptBeforeItNeverForwardsAnSpaPacket) {
  Load(R"([[filter]]
chain = "input"
action = "accept"
in-interface-list = "WAN"
src-address-list = "secured"
)");
  // A one-minute grant (the client-timeout vector: fwknop -f 60).
  shard_->state.wall_offset = vectors_["client-timeout"].first * kNanosPerSecond - kT0;
  ASSERT_EQ(Send(vectors_["client-timeout"].second).reason, DropReason::kSpa);
  ASSERT_TRUE(Secured("10.77.0.2"));
  EXPECT_EQ(SendTcp("10.77.0.2", 22), Verdict::kAccept);  // the accept rule works
  std::string forged = vectors_["two-ports"].second;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  const Decision d = Send(forged, "10.77.0.2", 62201, kT0 + 5 * kNanosPerSecond);
  EXPECT_EQ(d.verdict, Verdict::kDrop);
  EXPECT_EQ(d.reason, DropReason::kSpa);
  EXPECT_EQ(shard_->state.rule_counters[0].packets, 1u);  // the TCP packet, not the SPA ones
  EXPECT_EQ(shard_->spa->counters[0].rejects[static_cast<size_t>(SpaReject::kHmac)], 1u);
  // 30 s on, a valid message asking for no timeout of its own (30 m)
  // refreshes the grant, as any re-add would.
  const Nanos later = kT0 + 30 * kNanosPerSecond;
  shard_->state.wall_offset = vectors_["accept"].first * kNanosPerSecond - later;
  EXPECT_EQ(Send(vectors_["accept"].second, "10.77.0.2", 62201, later).reason, DropReason::kSpa);
  EXPECT_EQ(LastEvent(),
            "T spa-grant user=ssh list=secured address=10.77.0.2 timeout=30m refresh=yes worker=0 "
            "WAN udp 10.77.0.2 > 192.0.2.10");
  EXPECT_TRUE(Secured("10.77.0.2", later + 1799 * kNanosPerSecond));
  EXPECT_FALSE(Secured("10.77.0.2", later + 1801 * kNanosPerSecond));
  EXPECT_EQ(shard_->spa->counters[0].accepts, 2u);
}

// fwknop -s asks for the packet's source: granted to it when the section
// does not require the address inside.
TEST_F(SpaRuleTest, SourceFromPacketGrantsThePacketsSource) {
  Load("", "require-source-address = false\n");
  shard_->state.wall_offset = vectors_["source-from-packet"].first * kNanosPerSecond - kT0;
  EXPECT_EQ(Send(vectors_["source-from-packet"].second, "10.77.0.9").reason, DropReason::kSpa);
  EXPECT_TRUE(Secured("10.77.0.9"));
  EXPECT_FALSE(Secured("0.0.0.0"));
}

TEST_F(SpaRuleTest, AForgedFloodSpendsTheBudgetNotTheGrants) {
  Load();
  // A budget of 2 a second: the third forged packet in a second is not verified.
  auto c = LoadConfig(absl::StrCat("[[spa]]\nname = \"x\"\nverify-rate = 2\nkey-file = \"",
                                   KNOCKGATE_SOURCE_ROOT, "/tests/data/spa/keys.txt\"\n"),
                      "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  policy_ = *Policy::Compile(*c);
  shard_ = std::move(ClassifierShard::Create(*policy_)).value();
  shard_->state.wall_offset = vectors_["accept"].first * kNanosPerSecond - kT0;
  std::string forged = vectors_["accept"].second;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  for (int i = 0; i < 10; ++i) {
    Send(forged);
  }
  EXPECT_EQ(shard_->spa->counters[0].rejects[static_cast<size_t>(SpaReject::kHmac)], 2u);
  EXPECT_EQ(shard_->spa->counters[0].rejects[static_cast<size_t>(SpaReject::kBudget)], 8u);
}

TEST(SpaConfigTest, KeysAreRequiredAndNeverPrinted) {
  auto c = LoadConfig(
      "[[spa]]\nname = \"x\"\nkey-base64 = \"ZYKeGX5pAqEiw837oH+3S0LWDHYPRp5t3LbqOj6RQZc=\"\n",
      "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("there is no unauthenticated mode"),
            std::string::npos);
  auto bad = LoadConfig("[[spa]]\nname = \"x\"\nkey-base64 = \"sekrit*\"\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(std::string(bad.status().message()).find("sekrit"), std::string::npos);
  auto good = LoadConfig(absl::StrCat("[[spa]]\nname = \"x\"\nkey-file = \"", KNOCKGATE_SOURCE_ROOT,
                                      "/tests/data/spa/keys.txt\"\n"),
                         "t.toml");
  ASSERT_TRUE(good.ok()) << good.status();
  const std::string described = (*Policy::Compile(*good))->Describe();
  EXPECT_NE(described.find("name=x port=udp/62201"), std::string::npos) << described;
  EXPECT_EQ(described.find("ZYKeGX5p"), std::string::npos);
}

TEST(SpaConfigTest, SourceIsAddressesOrPrefixesOrAny) {
  const std::string head = absl::StrCat("[[spa]]\nname = \"x\"\nkey-file = \"",
                                        KNOCKGATE_SOURCE_ROOT, "/tests/data/spa/keys.txt\"\n");
  auto bad = LoadConfig(head + "source = [\"10.0.0.0/8\", \"nowhere\"]\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("t.toml:4:25: source: \"nowhere\""),
            std::string::npos)
      << bad.status();
  auto good = LoadConfig(head + "source = [\"10.0.0.0/8\", \"2001:db8::1\"]\n", "t.toml");
  ASSERT_TRUE(good.ok()) << good.status();
  const std::string described = (*Policy::Compile(*good))->Describe();
  EXPECT_NE(described.find("source=10.0.0.0/8,2001:db8::1/128"), std::string::npos) << described;
  auto any = LoadConfig(head + "source = \"ANY\"\n", "t.toml");
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_NE((*Policy::Compile(*any))->Describe().find("source=any"), std::string::npos);
}

// A second user on the same port: the checked-in OTHER keys, with which
// the `wrong-keys` vector was made (tcp/22 for 10.77.0.2).
std::string Bob(const std::string& more) {
  std::string key;
  std::string hmac;
  for (absl::string_view line :
       absl::StrSplit(Read(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/keys.txt"), '\n')) {
    if (absl::ConsumePrefix(&line, "OTHER_KEY_BASE64: ")) {
      key = std::string(line);
    } else if (absl::ConsumePrefix(&line, "OTHER_HMAC_KEY_BASE64: ")) {
      hmac = std::string(line);
    }
  }
  return absl::StrCat("\n[[spa]]\nname = \"bob\"\nkey-base64 = \"", key, "\"\nhmac-key-base64 = \"",
                      hmac, "\"\ngrant-timeout = \"10m\"\n", more);
}

TEST_F(SpaRuleTest, UsersOnOnePortEachGetInWithTheirOwnKeys) {
  Load("", Bob("access = [\"tcp/22\"]\n"));
  shard_->state.wall_offset = vectors_["wrong-keys"].first * kNanosPerSecond - kT0;
  EXPECT_EQ(Send(vectors_["wrong-keys"].second).reason, DropReason::kSpa);
  EXPECT_EQ(LastEvent(),
            "T spa-grant user=bob list=secured address=10.77.0.2 timeout=10m worker=0 WAN udp "
            "10.77.0.2 > 192.0.2.10");
  shard_->state.wall_offset = vectors_["accept"].first * kNanosPerSecond - kT0;
  Send(vectors_["accept"].second);
  EXPECT_NE(LastEvent().find("T spa-grant user=ssh list=secured address=10.77.0.2 timeout=30m"),
            std::string::npos)
      << LastEvent();
  EXPECT_EQ(shard_->spa->counters[0].accepts, 1u);
  EXPECT_EQ(shard_->spa->counters[1].accepts, 1u);
  // Nobody's keys: both tried, refused as hmac on the port's first user.
  std::string forged = vectors_["accept"].second;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  Send(forged);
  EXPECT_NE(LastEvent().find("spa-reject user=ssh reason=hmac "), std::string::npos) << LastEvent();
}

TEST_F(SpaRuleTest, AUsersAccessIsTheirsAlone) {
  // bob may open tcp/8080 only; his message asks for tcp/22, which ssh's
  // section would allow: refused as access, in bob's name.
  Load("", Bob("access = [\"tcp/8080\"]\n"));
  shard_->state.wall_offset = vectors_["wrong-keys"].first * kNanosPerSecond - kT0;
  Send(vectors_["wrong-keys"].second);
  EXPECT_NE(LastEvent().find("spa-reject user=bob reason=access "), std::string::npos)
      << LastEvent();
  EXPECT_EQ(shard_->spa->counters[1].rejects[static_cast<size_t>(SpaReject::kAccess)], 1u);
  EXPECT_FALSE(Secured("10.77.0.2"));
}

TEST_F(SpaRuleTest, SourceNarrowsWhichUsersAPacketTries) {
  // bob only from 198.51.100.0/24: his packet from 10.77.0.2 never meets his
  // keys, and no other user's match.
  Load("", Bob("source = [\"198.51.100.0/24\"]\n"));
  shard_->state.wall_offset = vectors_["wrong-keys"].first * kNanosPerSecond - kT0;
  Send(vectors_["wrong-keys"].second);
  EXPECT_NE(LastEvent().find("spa-reject user=ssh reason=hmac "), std::string::npos) << LastEvent();
  EXPECT_EQ(shard_->spa->counters[1].accepts, 0u);
  // A source no user takes is refused as source, before any HMAC.
  Load("", "source = \"203.0.113.0/24\"\n");
  Send(vectors_["accept"].second);
  EXPECT_NE(LastEvent().find("spa-reject user=ssh reason=source "), std::string::npos)
      << LastEvent();
  EXPECT_FALSE(Secured("10.77.0.2"));
}

TEST_F(SpaRuleTest, TheVerifyBudgetCountsHmacsNotPackets) {
  // Three users on the port, a budget of 4 HMACs a second: a forged packet
  // costs three, so the second one in the second is cut off at its second
  // HMAC and refused as budget.
  Load("", absl::StrCat("verify-rate = 4\n", Bob(""),
                        absl::StrReplaceAll(Bob(""), {{"\"bob\"", "\"carol\""}})));
  std::string forged = vectors_["accept"].second;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  Send(forged);
  EXPECT_NE(LastEvent().find("reason=hmac "), std::string::npos) << LastEvent();
  Send(forged);
  EXPECT_NE(LastEvent().find("spa-reject user=ssh reason=budget "), std::string::npos)
      << LastEvent();
  const SpaCounters& n = shard_->spa->counters[0];
  EXPECT_EQ(n.rejects[static_cast<size_t>(SpaReject::kHmac)], 1u);
  EXPECT_EQ(n.rejects[static_cast<size_t>(SpaReject::kBudget)], 1u);
}

// Without require-source-address the address a message grants need not be
// its packet's source, so with several workers it may belong to another
// worker's shard: the verifier hands the grant over, and the owner keeps the
// replay cache for it, whichever worker a replay reaches.
TEST_F(SpaRuleTest, AGrantForAnotherShardGoesToItsOwnerWhichCatchesReplays) {
  Load("[dataplane]\nworkers = 2\n", "require-source-address = false\n");
  const SteeringTable owners(2, 512);
  const IpAddress granted = *ParseIpAddress("10.77.0.2");
  const uint16_t owner_id = owners.OwnerOf(granted);
  std::unique_ptr<ClassifierShard> shards[2];
  for (uint8_t id : {0, 1}) {
    shards[id] = std::move(ClassifierShard::Create(*policy_, id)).value();
    shards[id]->state.spa_owners = &owners;
    shards[id]->state.wall_offset = shard_->state.wall_offset;
  }
  ClassifierShard& owner = *shards[owner_id];
  ClassifierShard& verifier = *shards[1 - owner_id];
  // A source of each worker's own (what RSS would steer to it).
  auto source_of = [&](uint16_t w) {
    for (int i = 1;; ++i) {
      const std::string a = absl::StrCat("203.0.113.", i);
      if (owners.OwnerOf(*ParseIpAddress(a)) == w) {
        return a;
      }
    }
  };
  const std::string far_source = source_of(1 - owner_id);
  const std::string near_source = source_of(owner_id);
  const ListId secured = static_cast<ListId>(policy_->FindList("secured"));
  const std::string& msg = vectors_["accept"].second;

  EXPECT_EQ(SendTo(verifier, msg, far_source).reason, DropReason::kSpa);
  EXPECT_FALSE(verifier.lists->Contains(granted, secured, kT0)) << "not the verifier's shard";
  EXPECT_TRUE(verifier.state.events.events().empty()) << "the owner tells the grant";
  ASSERT_EQ(verifier.state.spa_handoffs.items().size(), 1u);
  const SpaHandoff h = verifier.state.spa_handoffs.items()[0];
  verifier.state.spa_handoffs.Clear();
  EXPECT_EQ(h.owner, owner_id);
  EXPECT_EQ(h.event.address, granted);

  ApplySpaHandoff(*policy_, owner.state, h, kT0 + 1000);
  EXPECT_TRUE(owner.lists->Contains(granted, secured, kT0 + 1000));
  ASSERT_EQ(owner.state.events.events().size(), 1u);
  EXPECT_EQ(FormatEvent(*policy_, owner.state.events.events()[0], "T"),
            absl::StrCat("T spa-grant user=ssh list=secured address=10.77.0.2 timeout=30m worker=",
                         owner_id, " WAN udp ", far_source, " > 192.0.2.10"));
  EXPECT_EQ(owner.spa->counters[0].accepts, 1u);
  EXPECT_EQ(verifier.spa->counters[0].accepts, 0u);

  // The same packet again from a source the owner handles: its own cache.
  SendTo(owner, msg, near_source);
  EXPECT_EQ(owner.spa->counters[0].rejects[static_cast<size_t>(SpaReject::kReplay)], 1u);
  // And through the verifier once more: handed over, caught at the owner.
  SendTo(verifier, msg, far_source);
  ASSERT_EQ(verifier.state.spa_handoffs.items().size(), 1u);
  owner.state.events.Clear();
  ApplySpaHandoff(*policy_, owner.state, verifier.state.spa_handoffs.items()[0], kT0 + 2000);
  verifier.state.spa_handoffs.Clear();
  EXPECT_EQ(owner.spa->counters[0].rejects[static_cast<size_t>(SpaReject::kReplay)], 2u);
  EXPECT_NE(FormatEvent(*policy_, owner.state.events.events()[0], "T")
                .find("spa-reject user=ssh reason=replay"),
            std::string::npos);

  // More handoffs in one burst than the buffer holds: the rest are refused.
  for (size_t i = 0; i <= HandoffBuffer::kCapacity; ++i) {
    SendTo(verifier, msg, far_source);
  }
  EXPECT_EQ(verifier.state.spa_handoffs.items().size(), HandoffBuffer::kCapacity);
  EXPECT_EQ(verifier.spa->counters[0].rejects[static_cast<size_t>(SpaReject::kBudget)], 1u);
}

}  // namespace
}  // namespace knockgate
