// RouterOS import: the seed's commands compile to exactly the shipped recipe's
// rules; every form the importer cannot express fails with its line and word.
#include "policy/routeros_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "policy/config_loader.h"
#include "policy/policy.h"

namespace knockgate {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The rule and list lines of --check, without comments, line numbers and
// list capacities (a deployment's sizing, which RouterOS scripts do not carry).
std::vector<std::string> Compiled(const std::string& toml) {
  auto config = LoadConfig(toml, "x.toml");
  EXPECT_TRUE(config.ok()) << config.status();
  auto policy = Policy::Compile(*config);
  EXPECT_TRUE(policy.ok()) << policy.status();
  std::vector<std::string> lines;
  std::stringstream text((*policy)->Describe());
  const std::regex noise(R"( comment="[^"]*"|  \(line \d+\)| capacity=\d+)");
  for (std::string line; std::getline(text, line);) {
    if (line.rfind("   ", 0) == 0 || line.rfind("  ", 0) == 0) {
      lines.push_back(std::regex_replace(line, noise, ""));
    }
  }
  return lines;
}

std::string ErrorOf(const std::string& rsc) {
  absl::StatusOr<std::string> out = ImportRouterOs(rsc, "x.rsc");
  return out.ok() ? "" : std::string(out.status().message());
}

TEST(RouterOsImportTest, SeedCommandsCompileToTheShippedRecipe) {
  absl::StatusOr<std::string> imported =
      ImportRouterOs(ReadFile(KNOCKGATE_SOURCE_ROOT "/tests/data/seed.rsc"), "seed.rsc");
  ASSERT_TRUE(imported.ok()) << imported.status();
  const std::vector<std::string> got = Compiled(*imported);
  const std::vector<std::string> want =
      Compiled(ReadFile(KNOCKGATE_SOURCE_ROOT "/conf/knockgate.toml"));
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(got, want);
}

TEST(RouterOsImportTest, FormsAndDefaults) {
  absl::StatusOr<std::string> out = ImportRouterOs(
      "# a comment\n"
      "/ipv6 firewall filter\n"
      "add chain=input src-address=2001:db8::/32 comment=\"say \\\"hi\\\" \\\\ \\$x\"\n"
      "/ip firewall address-list add list=trusted address=203.0.113.0/24\n"
      "/ip/firewall/filter\n"
      "add chain=input protocol=tcp \\\n"
      "    dst-port=22 action=drop log=yes\n",
      "x.rsc");
  ASSERT_TRUE(out.ok()) << out.status();
  auto config = LoadConfig(*out, "x.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->filters.size(), 2u);
  EXPECT_EQ(config->filters[0].action, Action::kAccept) << "RouterOS's default action";
  EXPECT_EQ(config->filters[0].family->value, Family::kIpv6);
  EXPECT_EQ(config->filters[0].comment, "say \"hi\" \\ $x");
  EXPECT_EQ(config->filters[1].action, Action::kDrop);
  EXPECT_TRUE(config->filters[1].log);
  EXPECT_FALSE(config->filters[1].family.has_value());
  ASSERT_EQ(config->static_addresses.size(), 1u);
  EXPECT_EQ(config->static_addresses[0].list, "trusted");
}

TEST(RouterOsImportTest, RateLimitMatchers) {
  absl::StatusOr<std::string> out = ImportRouterOs(
      "/ip firewall filter\n"
      "add action=accept chain=input protocol=icmp limit=50/5s,2:packet\n"
      "add action=drop chain=input protocol=tcp dst-port=22 in-interface-list=WAN \\\n"
      "    dst-limit=!10/1m,5,src-address/1m\n",
      "x.rsc");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("limit = \"50/5s,2:packet\""));
  auto config = LoadConfig(*out, "x.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->filters.size(), 2u);
  ASSERT_TRUE(config->filters[0].limit.has_value());
  EXPECT_EQ(config->filters[0].limit->ToString(), "50/5s,2:packet");
  ASSERT_TRUE(config->filters[1].dst_limit.has_value());
  EXPECT_EQ(config->filters[1].dst_limit->ToString(), "!10/1m,5,src-address/1m");
  EXPECT_THAT(ErrorOf("/ip firewall filter\nadd chain=input limit=50/5s:packet\n"),
              StartsWith("x.rsc:2: limit: \"50/5s:packet\": expected count[/time],burst"));
}

TEST(RouterOsImportTest, UnsupportedMatcherNamesLineAndWord) {
  EXPECT_EQ(ErrorOf("/ip firewall filter\nadd chain=input in-interface=ether1 action=drop\n"),
            "x.rsc:2: in-interface: not supported by knockgate (no equivalent matcher or "
            "parameter)");
}

TEST(RouterOsImportTest, UnsupportedAction) {
  EXPECT_THAT(ErrorOf("/ip firewall filter add chain=input action=reject\n"),
              StartsWith("x.rsc:1: action=reject: action not supported"));
}

TEST(RouterOsImportTest, FindIsRefused) {
  EXPECT_THAT(ErrorOf("/ip firewall filter\nadd place-before=[find comment=x] action=drop\n"),
              StartsWith("x.rsc:2: [find comment=x]: [find ...] and other scripting"));
}

TEST(RouterOsImportTest, OtherCommandsAndMenus) {
  EXPECT_THAT(ErrorOf("/ip firewall filter\nset 0 disabled=no\n"),
              StartsWith("x.rsc:2: set: only 'add' commands"));
  EXPECT_THAT(ErrorOf("/ip firewall nat\nadd chain=srcnat action=masquerade\n"),
              StartsWith("x.rsc:2: /ip firewall nat: menu not supported"));
}

TEST(RouterOsImportTest, ValueErrorsMapBackToTheScriptLine) {
  EXPECT_EQ(ErrorOf("/ip firewall filter\n\nadd chain=input protocol=tcp \\\n  dst-port=70000\n"),
            "x.rsc:3: dst-port: \"70000\": expected ports 1..65535 or ranges like "
            "\"10000-60000\", separated by commas");
  EXPECT_THAT(ErrorOf("/ip firewall filter add chain=output action=drop\n"),
              StartsWith("x.rsc:1: chain: expected \"input\" or \"forward\""));
}

TEST(RouterOsImportTest, UnterminatedQuote) {
  EXPECT_THAT(ErrorOf("/ip firewall filter add chain=input comment=\"oops\n"),
              StartsWith("x.rsc:1: comment: unterminated quoted value"));
}

}  // namespace
}  // namespace knockgate
