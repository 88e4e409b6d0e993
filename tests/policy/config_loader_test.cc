// Config errors, one test per class, each asserting FILE:LINE:COL: KEY; and
// the shapes that must load (every matcher, negation, integers for ports).
#include "policy/config_loader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "policy/config_shape.h"
#include "policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace knockgate {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Loads `text` as "t.toml" and returns the error message ("" if it loaded).
std::string ErrorOf(const std::string& text) {
  absl::StatusOr<Config> c = LoadConfig(text, "t.toml");
  return c.ok() ? "" : std::string(c.status().message());
}

constexpr char kKnock[] = R"([[filter]]
chain = "input"
action = "add-src-to-address-list"
address-list = "888"
address-list-timeout = "30s"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = "888"
)";

TEST(ConfigLoaderTest, LoadsTheDesignExample) {
  absl::StatusOr<Config> c = LoadConfig(R"([eal]
args = ["-l", "0-1", "--no-huge"]
[interfaces]
wan = "net_af_packet0"
lan = "net_af_packet1"
[dataplane]
workers = 2
burst = 64
mbufs = 8192
idle-sleep = "0"
[policy]
wan-default = "drop"
lan-default = "accept"
non-ip = "forward"
[[layer7-protocol]]
name = "pass"
regexp = "^passphrase/$"
[[address-list]]
list = "secured"
address = "203.0.113.0/24"
[[filter]]
chain = "input"
action = "add-src-to-address-list"
address-list = "888"
address-list-timeout = "30s"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = "888"
src-address-list = "!secured"
layer7-protocol = "pass"
disabled = false
)",
                                        "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->eal.args.size(), 3u);
  EXPECT_EQ(c->interfaces.wan, "net_af_packet0");
  EXPECT_EQ(c->dataplane.workers, 2u);
  EXPECT_EQ(c->dataplane.idle_sleep, 0u);
  ASSERT_EQ(c->filters.size(), 1u);
  const FilterRule& r = c->filters[0];
  EXPECT_EQ(r.action, Action::kAddSrcToAddressList);
  EXPECT_EQ(r.address_list_timeout, 30 * kNanosPerSecond);
  ASSERT_TRUE(r.src_address_list.has_value());
  EXPECT_TRUE(r.src_address_list->negated);
  EXPECT_EQ(r.src_address_list->value, "secured");
  EXPECT_TRUE(r.dst_port->value.Contains(888));
  EXPECT_FALSE(r.dst_port->value.Contains(889));
  ASSERT_EQ(c->static_addresses.size(), 1u);
  EXPECT_EQ(c->static_addresses[0].address.ToString(), "203.0.113.0/24");
}

TEST(ConfigLoaderTest, LoadsEveryMatcherWithNegation) {
  absl::StatusOr<Config> c = LoadConfig(R"([[filter]]
action = "log"
log-prefix = "scan"
comment = "every matcher"
in-interface-list = "!LAN"
family = "ipv6"
protocol = 6
src-port = 1024
dst-port = "!21,22,10000-60000"
tcp-flags = "syn,!ack"
src-address = "!2001:db8::/32"
dst-address = "2001:db8:1::10"
dst-address-list = "!servers"
log = true
)",
                                        "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  const FilterRule& r = c->filters[0];
  EXPECT_EQ(r.chain, Chain::kForward);
  EXPECT_TRUE(r.in_interface_list->negated);
  EXPECT_EQ(r.family->value, Family::kIpv6);
  EXPECT_EQ(r.protocol->value, 6);
  EXPECT_TRUE(r.src_port->value.Contains(1024));
  EXPECT_TRUE(r.dst_port->negated);
  EXPECT_EQ(r.dst_port->value.ranges.size(), 3u);
  EXPECT_EQ(r.tcp_flags->must_set, tcp_flag::kSyn);
  EXPECT_EQ(r.tcp_flags->must_clear, tcp_flag::kAck);
  EXPECT_TRUE(r.src_address->negated);
  EXPECT_EQ(r.dst_address->value.length, 128);
  EXPECT_TRUE(r.dst_address_list->negated);
  EXPECT_TRUE(r.log);
  EXPECT_EQ(r.log_prefix, "scan");
}

TEST(ConfigLoaderTest, TomlSyntaxError) {
  EXPECT_THAT(ErrorOf("[policy]\nwan-default = \n"), StartsWith("t.toml:2:"));
}

TEST(ConfigLoaderTest, UnknownTopLevelKey) {
  EXPECT_THAT(ErrorOf("\n[polcy]\n"), StartsWith("t.toml:2:2: polcy: unknown key"));
}

TEST(ConfigLoaderTest, UnknownFilterKey) {
  EXPECT_THAT(ErrorOf(std::string(kKnock) + "dst-prot = \"22\"\n"),
              StartsWith("t.toml:9:1: dst-prot: unknown key (expected one of: chain, action"));
}

TEST(ConfigLoaderTest, WrongType) {
  EXPECT_EQ(ErrorOf("[[filter]]\naction = \"accept\"\ndisabled = \"yes\"\n"),
            "t.toml:3:12: disabled: expected a boolean (true or false), got a string");
  EXPECT_EQ(ErrorOf("[dataplane]\nworkers = \"2\"\n"),
            "t.toml:2:11: workers: expected an integer 1..64, got a string");
}

TEST(ConfigLoaderTest, FilterMustBeArrayOfTables) {
  EXPECT_THAT(ErrorOf("[filter]\naction = \"accept\"\n"),
              StartsWith("t.toml:1:1: filter: expected an array of tables ([[filter]])"));
}

TEST(ConfigLoaderTest, BadDuration) {
  EXPECT_THAT(ErrorOf(R"([[filter]]
action = "add-src-to-address-list"
address-list = "x"
address-list-timeout = "30 minutes"
)"),
              StartsWith("t.toml:4:24: address-list-timeout: \"30 minutes\" is not a duration"));
  EXPECT_THAT(ErrorOf(R"([[filter]]
action = "add-src-to-address-list"
address-list = "x"
address-list-timeout = "0s"
)"),
              StartsWith("t.toml:4:24: address-list-timeout:"));
}

TEST(ConfigLoaderTest, BadPortLists) {
  for (const char* bad : {"\"0\"", "70000", "\"5000-3000\"", "\"22,\"", "\"ssh\""}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        ErrorOf(std::string("[[filter]]\naction = \"drop\"\nprotocol = \"tcp\"\ndst-port = ") +
                bad + "\n"),
        StartsWith("t.toml:4:12: dst-port: "));
  }
  EXPECT_THAT(
      ErrorOf("[[filter]]\naction = \"drop\"\nprotocol = \"tcp\"\nsrc-port = \"5000-3000\"\n"),
      HasSubstr("range 5000-3000 runs backwards"));
}

TEST(ConfigLoaderTest, PortsNeedTcpOrUdp) {
  EXPECT_EQ(ErrorOf("[[filter]]\naction = \"drop\"\ndst-port = \"22\"\n"),
            "t.toml:3:12: dst-port: ports need protocol = \"tcp\", \"udp\", \"sctp\", "
            "\"udp-lite\" or \"dccp\"");
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"drop\"\nprotocol = \"udp\"\ntcp-flags = \"syn\"\n"),
              StartsWith("t.toml:4:13: tcp-flags: tcp-flags need protocol = \"tcp\""));
}

TEST(ConfigLoaderTest, BadTcpFlags) {
  EXPECT_THAT(
      ErrorOf("[[filter]]\naction = \"drop\"\nprotocol = \"tcp\"\ntcp-flags = \"syn,bogus\"\n"),
      StartsWith("t.toml:4:13: tcp-flags: \"syn,bogus\""));
}

TEST(ConfigLoaderTest, BadCidr) {
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"drop\"\nsrc-address = \"10.0.0.0/33\"\n"),
              StartsWith("t.toml:3:15: src-address: \"10.0.0.0/33\": prefix length must be 0..32"));
  EXPECT_THAT(ErrorOf("[[address-list]]\nlist = \"x\"\naddress = \"10.0.0.300\"\n"),
              StartsWith("t.toml:3:11: address: "));
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"drop\"\ndst-address = \"10.0.0.1/8\"\n"),
              HasSubstr("did you mean 10.0.0.0/8?"));
}

TEST(ConfigLoaderTest, FamilyMismatch) {
  EXPECT_THAT(
      ErrorOf("[[filter]]\naction = \"drop\"\nfamily = \"ipv6\"\nsrc-address = \"10.0.0.0/8\"\n"),
      StartsWith("t.toml:4:15: src-address: address family does not match family = \"ipv6\""));
}

TEST(ConfigLoaderTest, UnknownProtocol) {
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"drop\"\nprotocol = \"tpc\"\n"),
              StartsWith("t.toml:3:12: protocol: unknown protocol \"tpc\""));
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"drop\"\nprotocol = 300\n"),
              StartsWith("t.toml:3:12: protocol: unknown protocol \"300\""));
}

TEST(ConfigLoaderTest, UnknownAction) {
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"reject\"\n"),
              StartsWith("t.toml:2:10: action: unknown action \"reject\""));
}

TEST(ConfigLoaderTest, MissingAction) {
  EXPECT_THAT(ErrorOf("\n\n[[filter]]\nchain = \"input\"\n"),
              StartsWith("t.toml:3:1: action: missing: every [[filter]] needs an action"));
}

TEST(ConfigLoaderTest, UnknownInterfaceList) {
  EXPECT_EQ(ErrorOf("[[filter]]\naction = \"drop\"\nin-interface-list = \"wan0\"\n"),
            "t.toml:3:21: in-interface-list: expected \"WAN\" or \"LAN\", got \"wan0\"");
}

TEST(ConfigLoaderTest, OutputAndPreroutingChains) {
  for (const char* chain : {"output", "prerouting"}) {
    SCOPED_TRACE(chain);
    EXPECT_THAT(ErrorOf(std::string("[[filter]]\nchain = \"") + chain + "\"\naction = \"drop\"\n"),
                StartsWith("t.toml:2:9: chain: expected \"input\" or \"forward\""));
  }
}

TEST(ConfigLoaderTest, UnknownLayer7Protocol) {
  EXPECT_EQ(ErrorOf("[[filter]]\naction = \"drop\"\nprotocol = \"udp\"\nlayer7-protocol = \"pas\"\n"
                    "[[layer7-protocol]]\nname = \"pass\"\nregexp = \"^passphrase/$\"\n"),
            "t.toml:4:19: layer7-protocol: no [[layer7-protocol]] is named \"pas\"");
}

TEST(ConfigLoaderTest, DuplicateLayer7Name) {
  EXPECT_EQ(ErrorOf("[[layer7-protocol]]\nname = \"pass\"\nregexp = \"a\"\n"
                    "[[layer7-protocol]]\nname = \"pass\"\nregexp = \"b\"\n"),
            "t.toml:5:8: name: layer7-protocol \"pass\" is already defined at line 3");
}

TEST(ConfigLoaderTest, AddActionNeedsList) {
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"add-src-to-address-list\"\n"),
              StartsWith("t.toml:1:1: address-list: missing"));
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"drop\"\naddress-list = \"x\"\n"),
              StartsWith("t.toml:3:16: address-list: only add-src-to-address-list"));
}

TEST(ConfigLoaderTest, ConnectionState) {
  absl::StatusOr<Config> c = LoadConfig(
      "[[filter]]\naction = \"accept\"\nconnection-state = \"established,related\"\n"
      "[[filter]]\naction = \"drop\"\nconnection-state = \"!new\"\n"
      "[conntrack]\ntcp-established-timeout = \"1h\"\ncapacity = 1000\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->filters[0].connection_state->value, conn_state::kEstablished | conn_state::kRelated);
  EXPECT_TRUE(c->filters[1].connection_state->negated);
  EXPECT_EQ(c->conntrack.tcp_established_timeout, 3600 * kNanosPerSecond);
  EXPECT_EQ(c->conntrack.capacity, 1000u);
  EXPECT_THAT(ErrorOf("[[filter]]\naction = \"accept\"\nconnection-state = \"established,open\"\n"),
              StartsWith("t.toml:3:20: connection-state: \"established,open\": expected"));
  EXPECT_THAT(ErrorOf("[conntrack]\nudp-timeout = \"soon\"\n"),
              StartsWith("t.toml:2:15: udp-timeout: expected a duration"));
  EXPECT_THAT(ErrorOf("[conntrack]\ntcp-timeout = \"5s\"\n"),
              StartsWith("t.toml:2:1: tcp-timeout: unknown key"));
}

TEST(ConfigLoaderTest, OutOfRangeDataplaneValues) {
  EXPECT_EQ(ErrorOf("[dataplane]\nworkers = 0\n"),
            "t.toml:2:11: workers: expected an integer 1..64, got 0");
  EXPECT_THAT(ErrorOf("[dataplane]\nidle-sleep = \"fast\"\n"),
              StartsWith("t.toml:2:14: idle-sleep: expected \"0\" (busy-poll) or a duration"));
}

TEST(ConfigLoaderTest, IdleSleepForms) {
  for (const auto& [text, nanos] : std::vector<std::pair<std::string, Nanos>>{
           {"\"20us\"", 20'000}, {"\"1ms\"", 1'000'000}, {"\"0\"", 0}, {"0", 0}}) {
    absl::StatusOr<Config> c = LoadConfig("[dataplane]\nidle-sleep = " + text + "\n", "t.toml");
    ASSERT_TRUE(c.ok()) << text << ": " << c.status();
    EXPECT_EQ(c->dataplane.idle_sleep, nanos) << text;
  }
}

TEST(ConfigLoaderTest, LanSideListsNeedOneWorker) {
  const std::string rule =
      "[[filter]]\naction = \"add-dst-to-address-list\"\naddress-list = \"seen\"\n";
  EXPECT_EQ(ErrorOf("[dataplane]\nworkers = 2\n" + rule),
            "t.toml:3:1: action: add-dst-to-address-list here can add LAN-side addresses to "
            "\"seen\", which cannot be sharded over 2 workers: add in-interface-list = \"LAN\" "
            "or set workers = 1");
  EXPECT_EQ(ErrorOf("[dataplane]\nworkers = 2\n" + rule + "in-interface-list = \"LAN\"\n"), "");
  EXPECT_EQ(ErrorOf("[dataplane]\nworkers = 1\n" + rule), "");
  std::string knock_from_lan = kKnock;
  knock_from_lan.replace(knock_from_lan.find("\"WAN\""), 5, "\"!WAN\"");
  EXPECT_THAT(ErrorOf("[dataplane]\nworkers = 3\n" + knock_from_lan),
              HasSubstr("add-src-to-address-list here can add LAN-side addresses"));
  EXPECT_EQ(ErrorOf(std::string("[dataplane]\nworkers = 3\n") + kKnock), "");
}

TEST(ConfigLoaderTest, LimitAndDstLimitInRouterOsSyntax) {
  struct Case {
    const char* key;
    const char* value;
    const char* printed;  // as --check prints it, "" when it must be refused
  };
  const Case cases[] = {
      {"limit", "50/5s,2:packet", "limit=50/5s,2:packet"},
      {"limit", "10,5", "limit=10/1s,5:packet"},
      {"limit", "1M/1s,64k:bit", "limit=1000000/1s,64000:bit"},
      {"limit", "!100/1m,10:packet", "limit=!100/1m,10:packet"},
      {"limit", "0/1s,5:packet", ""},
      {"limit", "50/5s", ""},
      {"limit", "50/5s,2:byte", ""},
      {"limit", "50/none-dynamic,2", ""},
      {"dst-limit", "10/1m,5,src-address/1m", "dst-limit=10/1m,5,src-address/1m"},
      {"dst-limit", "3,1,addresses-and-dst-port", "dst-limit=3/1s,1,addresses-and-dst-port/10m"},
      {"dst-limit", "10/1m,5,src-addresses", ""},
      {"dst-limit", "10/1m,5", ""},
      {"dst-limit", "10/1m,5,dst-port/0s", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.key, " = ", c.value));
    const std::string text =
        absl::StrCat("[[filter]]\naction = \"accept\"\n", c.key, " = \"", c.value, "\"\n");
    absl::StatusOr<Config> config = LoadConfig(text, "t.toml");
    if (*c.printed == '\0') {
      ASSERT_FALSE(config.ok());
      EXPECT_THAT(std::string(config.status().message()),
                  StartsWith(absl::StrCat("t.toml:3:", strlen(c.key) + 4, ": ", c.key, ": \"",
                                          c.value, "\": expected count[/time],burst")));
      continue;
    }
    ASSERT_TRUE(config.ok()) << config.status();
    auto policy = Policy::Compile(*config);
    ASSERT_TRUE(policy.ok());
    EXPECT_THAT((*policy)->Describe(), HasSubstr(c.printed));
  }
}

TEST(ConfigLoaderTest, DstLimitModesThatCannotBeShardedNeedOneWorker) {
  auto rule = [](const char* mode, const char* in) {
    return absl::StrCat("[dataplane]\nworkers = 2\n[[filter]]\naction = \"accept\"\n", in,
                        "dst-limit = \"10,5,", mode, "\"\n");
  };
  EXPECT_EQ(ErrorOf(rule("dst-port", "in-interface-list = \"WAN\"\n")),
            "t.toml:6:13: dst-limit: mode dst-port keys flows by port alone, which cannot be "
            "sharded over 2 workers: use addresses-and-dst-port or set workers = 1");
  EXPECT_EQ(ErrorOf(rule("src-address", "")),
            "t.toml:5:13: dst-limit: mode src-address here can key flows by a LAN-side address, "
            "which cannot be sharded over 2 workers: add in-interface-list = \"WAN\" or set "
            "workers = 1");
  EXPECT_EQ(ErrorOf(rule("src-address", "in-interface-list = \"WAN\"\n")), "");
  EXPECT_THAT(ErrorOf(rule("dst-address-and-port", "in-interface-list = \"WAN\"\n")),
              HasSubstr("add in-interface-list = \"LAN\""));
  EXPECT_EQ(ErrorOf(rule("dst-address", "in-interface-list = \"!WAN\"\n")), "");
  EXPECT_EQ(ErrorOf(rule("src-and-dst-addresses", "")), "");
  EXPECT_EQ(ErrorOf(rule("addresses-and-dst-port", "")), "");
  EXPECT_EQ(ErrorOf(absl::StrReplaceAll(rule("dst-port", ""), {{"workers = 2", "workers = 1"}})),
            "");
}

TEST(ConfigLoaderTest, KnockSectionErrors) {
  EXPECT_EQ(ErrorOf("[[knock]]\nname = \"k\"\nsteps = [\"tcp:888\", \"sctp:9\"]\n"),
            "t.toml:3:21: steps: \"sctp:9\": expected \"tcp:PORT\" or \"udp:PORT\" with a port "
            "1..65535 (or \"tcp\" or \"udp\" alone with a secret)");
  EXPECT_THAT(ErrorOf("[[knock]]\nname = \"k\"\nsteps = [\"tcp:0\"]\n"),
              StartsWith("t.toml:3:10: steps: \"tcp:0\""));
  EXPECT_THAT(ErrorOf("[[knock]]\nsteps = [\"tcp:1\"]\n"), StartsWith("t.toml:1:1: name: missing"));
  EXPECT_THAT(ErrorOf("[[knock]]\nname = \"k\"\nwindow = \"soon\"\nsteps = [\"tcp:1\"]\n"),
              StartsWith("t.toml:3:10: window: "));
  EXPECT_EQ(ErrorOf("[[knock]]\nname = \"k\"\nsteps = [{ step = \"udp:1\", layer7-protocol = "
                    "\"nope\" }]\n"),
            "t.toml:3:46: layer7-protocol: no [[layer7-protocol]] is named \"nope\"");
  EXPECT_THAT(ErrorOf("[[knock]]\nname = \"k\"\nsteps = [\"tcp:1\"]\ngrant = \"x\"\n"),
              StartsWith("t.toml:4:1: grant: unknown key"));
}

TEST(ConfigLoaderTest, KnockSectionExpansion) {
  absl::StatusOr<Config> c = LoadConfig(
      "[[filter]]\naction = \"drop\"\nsrc-address-list = \"blacklist\"\n"
      "[[knock]]\nname = \"ssh\"\nsteps = [\"tcp:7000\", \"udp:8000\"]\nwindow = \"10s\"\n"
      "grant-timeout = \"1h\"\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->filters.size(), 4u);
  EXPECT_EQ(c->filters[0].action, Action::kDrop) << "filters come first";
  EXPECT_EQ(c->filters[1].address_list, "ssh-1");
  EXPECT_EQ(c->filters[1].address_list_timeout, 10 * kNanosPerSecond);
  EXPECT_FALSE(c->filters[1].src_address_list.has_value());
  EXPECT_EQ(c->filters[2].protocol->value, 17);
  EXPECT_EQ(c->filters[2].src_address_list->value, "ssh-1");
  EXPECT_EQ(c->filters[2].address_list, "secured");
  EXPECT_EQ(c->filters[2].address_list_timeout, 3600 * kNanosPerSecond);
  EXPECT_EQ(c->filters[3].action, Action::kAccept);
  EXPECT_EQ(c->filters[3].src_address_list->value, "secured");
}

TEST(ConfigLoaderTest, KnockStepCapacities) {
  auto capacities = [](const std::string& extra) {
    auto config = LoadConfig(
        "[[knock]]\nname = \"k\"\nsteps = [\"tcp:1\", \"tcp:2\", \"tcp:3\"]\n" + extra, "t.toml");
    EXPECT_TRUE(config.ok()) << config.status();
    auto policy = Policy::Compile(*config);
    std::map<std::string, uint32_t> out;
    for (const ListInfo& l : (*policy)->lists()) {
      out[l.name] = l.capacity;
    }
    return out;
  };
  // The first step takes a flood's every packet; later steps and the grant do not.
  EXPECT_EQ(capacities(""),
            (std::map<std::string, uint32_t>{
                {"k-1", kFirstKnockStepCapacity}, {"k-2", 65536}, {"secured", 65536}}));
  EXPECT_EQ(capacities("capacity = 5000\n[lists]\ncapacity = 100\n"),
            (std::map<std::string, uint32_t>{{"k-1", 5000}, {"k-2", 5000}, {"secured", 100}}));
  // capacity-per-list names the list, so it wins, wherever it stands.
  EXPECT_EQ(capacities("capacity = 5000\n[lists.capacity-per-list]\nk-1 = 7\n"),
            (std::map<std::string, uint32_t>{{"k-1", 7}, {"k-2", 5000}, {"secured", 65536}}));
  EXPECT_THAT(ErrorOf("[[knock]]\nname = \"k\"\nsteps = [\"tcp:1\"]\ncapacity = 0\n"),
              StartsWith("t.toml:4:12: capacity: expected an integer 1..67108864"));
}

TEST(ConfigLoaderTest, ShippedConfigLoads) {
  absl::StatusOr<Config> c = LoadConfigFile(KNOCKGATE_SOURCE_ROOT "/conf/knockgate.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->filters.size(), 9u);
  EXPECT_EQ(c->layer7_protocols.size(), 1u);
}

TEST(ConfigLoaderTest, MissingFile) {
  absl::StatusOr<Config> c = LoadConfigFile("/nonexistent/knockgate.toml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("/nonexistent/knockgate.toml"));
}

}  // namespace
}  // namespace knockgate

namespace knockgate {
namespace {

// Events name their rule in 16 bits: the compiler refuses rule 65,536, counted
// after [[knock]] expansion, at the position of the first rule too many.
TEST(PolicyLimitsTest, RuleCountCappedAfterKnockExpansion) {
  std::string text;
  for (size_t i = 0; i + 1 < kMaxRules; ++i) {
    text += "[[filter]]\naction = \"accept\"\n";
  }
  absl::StatusOr<Config> fits = LoadConfig(text, "t.toml");
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_TRUE(Policy::Compile(*fits).ok());  // 65,534 rules

  text += "[[knock]]\nname = \"k\"\nsteps = [\"tcp:1\"]\n";  // two rules: 65,536
  absl::StatusOr<Config> over = LoadConfig(text, "t.toml");
  ASSERT_TRUE(over.ok()) << over.status();
  absl::StatusOr<std::shared_ptr<const Policy>> p = Policy::Compile(*over);
  ASSERT_FALSE(p.ok());
  const int knock_line = static_cast<int>(2 * (kMaxRules - 1) + 1);
  EXPECT_THAT(std::string(p.status().message()),
              StartsWith(absl::StrCat("t.toml:", knock_line, ":")));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("at most 65535 rules"));
}

}  // namespace
}  // namespace knockgate

namespace knockgate {
namespace {

// The per-port candidate tables are built by a sweep over range edges; every
// port of every rule must agree with the rule's own dst-port matcher.
TEST(PolicyLimitsTest, PortTablesAgreeWithEveryRuleOnEveryPort) {
  std::mt19937 rng(7);
  std::string text;
  for (int i = 0; i < 70; ++i) {
    text += absl::StrCat("[[filter]]\naction = \"accept\"\nprotocol = \"",
                         rng() % 3 == 0 ? "udp" : "tcp", "\"\n");
    if (rng() % 5 == 0) {
      continue;  // every port
    }
    std::string ports = rng() % 3 == 0 ? "!" : "";
    for (uint32_t k = 0, n = 1 + rng() % 4; k < n; ++k) {
      const uint32_t lo = rng() % 3 == 0 ? rng() % 65536 : rng() % 1200;
      const uint32_t hi = std::min<uint32_t>(65535, lo + (rng() % 2 ? 0 : rng() % 500));
      absl::StrAppend(&ports, k ? "," : "", lo, lo == hi ? "" : absl::StrCat("-", hi));
    }
    text += absl::StrCat("dst-port = \"", ports, "\"\n");
  }
  absl::StatusOr<Config> c = LoadConfig(text, "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::shared_ptr<const Policy>> p = Policy::Compile(*c);
  ASSERT_TRUE(p.ok()) << p.status();
  const std::vector<CompiledRule>& rules = (*p)->rules();
  for (uint8_t proto : {uint8_t{6}, uint8_t{17}}) {
    for (uint32_t port = 0; port < 65536; ++port) {
      const RuleSet set = (*p)->Candidates(proto, true, static_cast<uint16_t>(port));
      for (size_t i = 0; i < rules.size(); ++i) {
        const FilterRule& r = rules[i].spec;
        const bool want = r.protocol->value == proto &&
                          (!r.dst_port || r.dst_port->value.Contains(static_cast<uint16_t>(port)) !=
                                              r.dst_port->negated);
        ASSERT_EQ(((set[i / 64] >> (i % 64)) & 1) != 0, want)
            << "rule " << i << " port " << port << " protocol " << int{proto};
      }
    }
  }
}

}  // namespace
}  // namespace knockgate

namespace knockgate {
namespace {

// The front door: bounds checked before toml++ parses (it recursed once per
// dotted segment and overflowed the stack on a 100 KB key).
TEST(ConfigShapeTest, DeepKeysHeadersAndValuesAreRefusedWithTheirPosition) {
  std::vector<std::string> parts(50000, "a");
  EXPECT_THAT(ErrorOf(absl::StrCat("[policy]\n", absl::StrJoin(parts, "."), " = 1\n")),
              StartsWith("t.toml:2:1: a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a....: a key of more "
                         "than 32 dotted parts"));
  EXPECT_THAT(ErrorOf(absl::StrCat("[", absl::StrJoin(parts, "."), "]\n")),
              StartsWith("t.toml:1:1: "));
  EXPECT_THAT(ErrorOf(absl::StrCat("x = ", std::string(40, '['), std::string(40, ']'), "\n")),
              StartsWith("t.toml:1:37: x: arrays and inline tables nested more than 32 deep"));
  // At the bound itself the loader answers as it always did.
  const std::vector<std::string> at_bound(32, "k");
  EXPECT_THAT(ErrorOf(absl::StrCat(absl::StrJoin(at_bound, "."), " = 1\n")),
              HasSubstr("k: unknown"));
  EXPECT_THAT(ErrorOf(absl::StrCat("x = ", std::string(32, '['), std::string(32, ']'), "\n")),
              Not(HasSubstr("nested more than")));
}

TEST(ConfigShapeTest, StringsAndCommentsAreNotStructure) {
  const std::string dots(100, '.');
  const std::string brackets(100, '[');
  absl::StatusOr<Config> c = LoadConfig(
      absl::StrCat("# ", brackets, dots, "\n[[layer7-protocol]]\nname = \"", dots, "\"\nregexp = '",
                   brackets, "'\ncomment = \"\"\"\n", brackets, "\n\"\"\"\n"),
      "t.toml");
  // Only the regexp itself is wrong (Hyperscan's business, not the scanner's).
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST(ConfigShapeTest, FilesOver16MiBAreRefusedBeforeParsing) {
  const std::string huge(kMaxConfigBytes + 1, '#');
  EXPECT_THAT(ErrorOf(huge), StartsWith("t.toml:1:1: (file): 16777217 bytes; a config may hold "
                                        "at most 16 MiB"));
}

}  // namespace
}  // namespace knockgate

namespace knockgate {
namespace {

TEST(SyncConfigTest, ASectionLoadsAndItsErrorsNameTheirPlace) {
  absl::StatusOr<Config> c = LoadConfig(absl::StrCat(kKnock, R"(
[sync]
redis = "tcp://[fd00::5]:6379"
password = "s3cret"
lists = ["888"]
prefix = "site1"
node = "gw1"
resync-interval = "1m"
)"),
                                        "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->sync.redis, "tcp://[fd00::5]:6379");
  EXPECT_EQ(c->sync.lists, std::vector<std::string>{"888"});
  EXPECT_EQ(c->sync.prefix, "site1");
  EXPECT_EQ(c->sync.node, "gw1");
  EXPECT_EQ(c->sync.resync_interval, 60 * kNanosPerSecond);
  auto policy = Policy::Compile(*c);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT((*policy)->Describe(), HasSubstr("888              capacity="));
  EXPECT_THAT((*policy)->Describe(), HasSubstr(" shared"));

  EXPECT_THAT(ErrorOf("[sync]\nredis = \"redis://h:1\"\n"),
              StartsWith("t.toml:2:9: redis: expected \"unix:///PATH\", \"tcp://HOST:PORT\" or "
                         "\"sentinel://HOST:PORT[,HOST:PORT...]/MASTER\""));
  EXPECT_THAT(ErrorOf("[sync]\nredis = \"tcp://h:70000\"\n"), StartsWith("t.toml:2:9: redis:"));
  EXPECT_THAT(ErrorOf("[sync]\nlists = [\"secured\"]\n"), StartsWith("t.toml:1:1: redis: missing"));
  EXPECT_THAT(ErrorOf("[sync]\nredis = \"unix:///r.sock\"\nlists = [\"a:b\"]\n"),
              StartsWith("t.toml:3:10: lists:"));
  EXPECT_THAT(ErrorOf("[sync]\nredis = \"unix:///r.sock\"\nnodes = \"x\"\n"),
              StartsWith("t.toml:3:1: nodes:"));

  absl::StatusOr<Config> unknown = LoadConfig(
      absl::StrCat(kKnock, "[sync]\nredis = \"unix:///r.sock\"\nlists = [\"secured\"]\n"),
      "t.toml");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  auto refused = Policy::Compile(*unknown);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              StartsWith("t.toml:11:10: lists: [sync] shares \"secured\", which no rule"));
}

}  // namespace
}  // namespace knockgate

namespace knockgate {
namespace {

// A knock with a jail: steps k-1 and k-2 lead on, secured and jail do not.
constexpr char kRecipe[] = R"(
[[knock]]
name = "k"
steps = ["tcp:888", "tcp:555", "tcp:222"]

[[filter]]
action = "add-src-to-address-list"
address-list = "jail"
address-list-timeout = "1d"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = "23"
)";

std::string SavedLists(const std::string& text) {
  absl::StatusOr<Config> c = LoadConfig(text, "t.toml");
  if (!c.ok()) {
    return std::string(c.status().message());
  }
  auto policy = Policy::Compile(*c);
  if (!policy.ok()) {
    return std::string(policy.status().message());
  }
  std::string saved;
  for (const ListInfo& l : (*policy)->lists()) {
    if (l.saved) {
      absl::StrAppend(&saved, saved.empty() ? "" : " ", l.name);
    }
  }
  EXPECT_THAT((*policy)->Describe(), HasSubstr("saved: in the state file"));
  return saved;
}

TEST(SyncConfigTest, SentinelsAclUsersAndPasswordFiles) {
  const std::string dir = ::testing::TempDir() + "/kg-sync-pw-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/pw") << "s3cret-from-file\n";
  absl::StatusOr<Config> c = LoadConfig(absl::StrCat(R"([sync]
redis = "sentinel://10.0.0.5:26379,[fd00::6]:26380/kgmaster"
username = "gw1"
password-file = ")",
                                                     dir, R"(/pw"
)"),
                                        "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->sync.sentinels.size(), 2u);
  EXPECT_EQ(c->sync.sentinels[0], (std::pair<std::string, uint16_t>("10.0.0.5", 26379)));
  EXPECT_EQ(c->sync.sentinels[1], (std::pair<std::string, uint16_t>("fd00::6", 26380)));
  EXPECT_EQ(c->sync.master, "kgmaster");
  EXPECT_EQ(c->sync.username, "gw1");
  EXPECT_EQ(c->sync.password, "s3cret-from-file");  // without its newline

  for (const char* bad : {"sentinel://h:1", "sentinel://h:1/", "sentinel://h/m",
                          "sentinel://h:1,/m", "sentinel://h:70000/m"}) {
    EXPECT_THAT(ErrorOf(absl::StrCat("[sync]\nredis = \"", bad, "\"\n")),
                StartsWith("t.toml:2:9: redis: expected"))
        << bad;
  }
  EXPECT_THAT(ErrorOf("[sync]\nusername = \"a b\"\n"), StartsWith("t.toml:2:12: username:"));
  const std::string missing = ErrorOf("[sync]\npassword-file = \"/nonexistent/pw\"\n");
  EXPECT_THAT(missing, StartsWith("t.toml:2:17: password-file: /nonexistent/pw"));
  EXPECT_THAT(ErrorOf(absl::StrCat("[sync]\npassword = \"x\"\npassword-file = \"", dir, "/pw\"\n")),
              StartsWith("t.toml:3:17: password-file: give password or password-file, not both"));
  // A bad password is refused without being quoted.
  const std::string empty = ErrorOf("[sync]\npassword = \"\"\n");
  EXPECT_THAT(empty, StartsWith("t.toml:2:12: password: expected a password"));
  std::filesystem::remove_all(dir);
}

TEST(StateConfigTest, SavesGrantsAndJailsButNotKnockStepsUnlessToldWhich) {
  // By default: every list but the steps (their entries live seconds, and a
  // spoofed flood fills them with a million sources).
  EXPECT_EQ(SavedLists(kRecipe), "jail secured");
  EXPECT_EQ(SavedLists(absl::StrCat(kRecipe, "[state]\nlists = [\"jail\", \"k-1\"]\n")),
            "jail k-1");
  EXPECT_EQ(SavedLists(absl::StrCat(kRecipe, "[state]\nlists = []\n")), "");
  EXPECT_THAT(SavedLists(absl::StrCat(kRecipe, "[state]\nlists = [\"jial\"]\n")),
              StartsWith("t.toml:14:10: lists: [state] saves \"jial\", which no rule"));
  EXPECT_THAT(ErrorOf("[state]\nlists = \"secured\"\n"), StartsWith("t.toml:2:9: lists:"));
  EXPECT_THAT(ErrorOf("[state]\nlists = [1]\n"), StartsWith("t.toml:2:10: lists:"));
  EXPECT_THAT(ErrorOf("[state]\nlist = []\n"), StartsWith("t.toml:2:1: list:"));
}

}  // namespace
}  // namespace knockgate
