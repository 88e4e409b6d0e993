// The reload decision on the shipped recipe: each section edited alone is
// either applied (empty answer) or named as needing a restart; positions in
// the file never count.
#include "policy/reload_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "policy/config_loader.h"

namespace knockgate {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string Shipped() {
  std::ifstream in(KNOCKGATE_SOURCE_ROOT "/conf/knockgate.toml");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ReloadCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    text_ = Shipped();
    running_ = *LoadConfig(text_, "running.toml");
    policy_ = *Policy::Compile(running_);
  }
  // What a reload to `text` would need a restart for.
  // `tables`: as the shipped recipe starts (its established rule: conntrack).
  std::vector<std::string> To(const std::string& text, RunningTables tables = {.conntrack = true}) {
    absl::StatusOr<Config> next = LoadConfig(text, "next.toml");
    EXPECT_TRUE(next.ok()) << next.status();
    absl::StatusOr<std::shared_ptr<const Policy>> p = Policy::Compile(*next, *policy_);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!next.ok() || !p.ok()) {
      return {"(did not load)"};
    }
    return RestartNeeded(running_, *policy_, *next, **p, tables);
  }
  std::string With(const std::string& from, const std::string& to) {
    const std::string out = absl::StrReplaceAll(text_, {{from, to}});
    EXPECT_NE(out, text_) << from << " is not in the shipped config";
    return out;
  }
  std::string Appended(const std::string& section) { return absl::StrCat(text_, "\n", section); }

  std::string text_;
  Config running_;
  std::shared_ptr<const Policy> policy_;
};

TEST_F(ReloadCheckTest, RulesListsAndTimeoutsApply) {
  EXPECT_THAT(To(text_), IsEmpty());
  EXPECT_THAT(To("# moved down a line\n" + text_), IsEmpty());  // positions never count
  EXPECT_THAT(To(With("dst-port = \"555\"", "dst-port = \"5555\"")), IsEmpty());
  EXPECT_THAT(To(With("wan-default = \"drop\"", "wan-default = \"accept\"")), IsEmpty());
  EXPECT_THAT(To(With("regexp = \"^passphrase/$\"", "regexp = \"^other/$\"")), IsEmpty());
  EXPECT_THAT(To(Appended("[conntrack]\nudp-timeout = \"20s\"\n")), IsEmpty());
  EXPECT_THAT(To(Appended("[[address-list]]\nlist = \"secured\"\naddress = \"192.0.2.7\"\n")),
              IsEmpty());
}

TEST_F(ReloadCheckTest, EachRuntimeSectionNeedsARestart) {
  EXPECT_THAT(To(With("\"-m\", \"512\"", "\"-m\", \"1024\"")), ElementsAre("[eal]"));
  EXPECT_THAT(To(With("lan = \"net_af_packet1\"", "lan = \"net_af_packet2\"")),
              ElementsAre("[interfaces]"));
  EXPECT_THAT(To(With("burst = 32", "burst = 64")), ElementsAre("[dataplane]"));
  EXPECT_THAT(To(With("idle-sleep = \"20us\"", "idle-sleep = \"0\"")), ElementsAre("[dataplane]"));
  EXPECT_THAT(To(With("rate = 100", "rate = 10")), ElementsAre("[log]"));
  EXPECT_THAT(To(With("socket = \"/run/knockgate/control.sock\"", "socket = \"/tmp/x.sock\"")),
              ElementsAre("[control]"));
  EXPECT_THAT(To(Appended("[state]\nfile = \"/tmp/x.state\"\n")), ElementsAre("[state]"));
  EXPECT_THAT(To(Appended("[metrics]\nlisten = \"127.0.0.1:9641\"\n")), ElementsAre("[metrics]"));
  EXPECT_THAT(To(Appended("[sync]\nredis = \"tcp://127.0.0.1:6379\"\nlists = [\"secured\"]\n")),
              ElementsAre("[sync]"));
  EXPECT_THAT(To(Appended("[conntrack]\ncapacity = 1024\n")), ElementsAre("[conntrack] capacity"));
  EXPECT_THAT(To(Appended("[dst-limit]\ncapacity = 1024\n")), ElementsAre("[dst-limit] capacity"));
}

TEST_F(ReloadCheckTest, EverySectionIsNamedInOneAnswer) {
  const std::string text =
      Appended("[metrics]\nlisten = \"127.0.0.1:9641\"\n[state]\nfile = \"/tmp/x.state\"\n");
  const std::vector<std::string> needed =
      To(absl::StrReplaceAll(text, {{"burst = 32", "burst = 64"}}));
  EXPECT_THAT(needed, ElementsAre("[dataplane]", "[state]", "[metrics]"));
  EXPECT_EQ(RestartLine(needed),
            "changes that need a restart, so nothing was applied: [dataplane], [state], [metrics]");
}

TEST_F(ReloadCheckTest, TablesBuiltAtStart) {
  EXPECT_THAT(To(With("\"888\" = 1048576", "\"888\" = 2048")),
              ElementsAre("the capacity of list \"888\" (1048576 -> 2048)"));
  EXPECT_THAT(To(Appended("[[filter]]\nchain = \"input\"\naction = \"add-src-to-address-list\"\n"
                          "address-list = \"jail\"\nprotocol = \"tcp\"\ndst-port = \"23\"\n")),
              ElementsAre("address list \"jail\" is new"));
  // The recipe's established rule needs the connection table it has.
  EXPECT_THAT(To(text_, {.conntrack = false}),
              ElementsAre("connection-state rules (connection tracking was off at start)"));
  EXPECT_THAT(To(text_, {.conntrack = true}), IsEmpty());
}

}  // namespace
}  // namespace knockgate
