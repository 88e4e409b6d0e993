// [[hook]]: the config, which events a hook hears, the environment its
// command gets, and the pool that runs it (real processes: /bin/sh, sleep).
#include "control/hook_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "policy/config_loader.h"

namespace knockgate {
namespace {

using std::chrono::milliseconds;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

HookSection Hook(uint8_t on, std::vector<std::string> command, Nanos timeout = kNanosPerSecond,
                 std::vector<std::string> lists = {}) {
  HookSection h;
  h.on = on;
  h.command = std::move(command);
  h.timeout = timeout;
  h.lists = std::move(lists);
  return h;
}

HookEvent Grant(const std::string& address, const std::string& list = "secured") {
  HookEvent e;
  e.kind = hook_on::kGrant;
  e.list = list;
  e.address = address;
  e.expires = 1796135813;
  return e;
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/kg-hook-", getpid(), "-", name);
}

TEST(HookRunnerTest, TheEnvironmentNamesTheEvent) {
  HookEvent e;
  e.kind = hook_on::kSpaGrant;
  e.list = "secured";
  e.address = "2001:db8::7";
  e.expires = 1796135813;
  e.user = "alice";
  EXPECT_EQ(HookEnvironment(e),
            (std::vector<std::string>{"KNOCKGATE_EVENT=spa-grant", "KNOCKGATE_LIST=secured",
                                      "KNOCKGATE_ADDRESS=2001:db8::7",
                                      "KNOCKGATE_EXPIRES=1796135813", "KNOCKGATE_USER=alice"}));
}

TEST(HookRunnerTest, ACommandGetsTheEventInItsEnvironmentWithoutAShell) {
  const std::string out = TempPath("env");
  std::remove(out.c_str());
  // argv, not a shell line: the address is one argument however it reads.
  HookRunner runner(
      {Hook(hook_on::kGrant, {"/bin/sh", "-c", "env | grep ^KNOCKGATE_ | sort > \"$0\"", out},
            kNanosPerSecond, {"secured"})});
  runner.Offer(Grant("198.51.100.7", "blacklist"));  // another list: not heard
  runner.Offer(Grant("198.51.100.7"));
  ASSERT_TRUE(runner.WaitIdle(milliseconds(5000)));
  EXPECT_EQ(Read(out),
            "KNOCKGATE_ADDRESS=198.51.100.7\nKNOCKGATE_EVENT=grant\n"
            "KNOCKGATE_EXPIRES=1796135813\nKNOCKGATE_LIST=secured\nKNOCKGATE_USER=\n");
  EXPECT_EQ(runner.counters().runs.load(), 1u);
  EXPECT_EQ(runner.counters().failed.load(), 0u);
  std::remove(out.c_str());
}

TEST(HookRunnerTest, ASlowHookIsKilledAtItsTimeoutWhileOthersRun) {
  const std::string out = TempPath("fast");
  std::remove(out.c_str());
  HookRunner runner(
      {Hook(hook_on::kJail, {"/bin/sh", "-c", "sleep 30 & sleep 30"}, kNanosPerSecond / 2),
       Hook(hook_on::kGrant, {"/bin/sh", "-c", "echo $KNOCKGATE_ADDRESS >> \"$0\"", out})});
  HookEvent jail = Grant("203.0.113.9", "blacklist");
  jail.kind = hook_on::kJail;
  runner.Offer(jail);
  for (int i = 1; i <= 5; ++i) {
    runner.Offer(Grant(absl::StrCat("198.51.100.", i)));
  }
  // The grants' runs end while the jail's still sleeps.
  for (int i = 0; i < 200 && Read(out).size() < 5 * 13; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(runner.counters().timed_out.load(), 0u);
  std::vector<std::string> got = absl::StrSplit(Read(out), '\n', absl::SkipEmpty());
  std::sort(got.begin(), got.end());  // three threads run them, in any order
  EXPECT_EQ(got, (std::vector<std::string>{"198.51.100.1", "198.51.100.2", "198.51.100.3",
                                           "198.51.100.4", "198.51.100.5"}));
  ASSERT_TRUE(runner.WaitIdle(milliseconds(5000)));
  EXPECT_EQ(runner.counters().timed_out.load(), 1u);
  EXPECT_EQ(runner.counters().runs.load(), 6u);
  const std::vector<std::string> report = runner.TakeReport();
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0],
            "hook 0 (/bin/sh): 0 failed, 1 killed at timeout; last: killed at its "
            "timeout of 500ms");
  EXPECT_TRUE(runner.TakeReport().empty()) << "a report says each trouble once";
  std::remove(out.c_str());
}

TEST(HookRunnerTest, FailuresAreCountedAndReported) {
  HookRunner runner({Hook(hook_on::kGrant, {"/bin/sh", "-c", "exit 3"}),
                     Hook(hook_on::kGrant, {"/nonexistent/knockgate-hook"})});
  runner.Offer(Grant("198.51.100.7"));
  ASSERT_TRUE(runner.WaitIdle(milliseconds(5000)));
  EXPECT_EQ(runner.counters().failed.load(), 2u);
  const std::vector<std::string> report = runner.TakeReport();
  ASSERT_EQ(report.size(), 2u);
  EXPECT_EQ(report[0], "hook 0 (/bin/sh): 1 failed, 0 killed at timeout; last: exited 3");
  EXPECT_NE(report[1].find("could not start /nonexistent/knockgate-hook: "), std::string::npos)
      << report[1];
}

TEST(HookRunnerTest, AFloodQueuesABoundedNumberAndNeverWaits) {
  // One runner thread, room for 8 runs; each run sleeps 10 s (killed at
  // stop). Offering 100 returns while the first still sleeps.
  const auto start = std::chrono::steady_clock::now();
  {
    HookRunner runner({Hook(hook_on::kGrant, {"/bin/sleep", "10"}, 20 * kNanosPerSecond)}, 1, 8);
    for (int i = 0; i < 100; ++i) {
      runner.Offer(Grant(absl::StrCat("198.51.100.", i)));
    }
    const uint64_t dropped = runner.counters().dropped.load();
    EXPECT_GE(dropped, 91u);  // 100 - 8 queued - at most 1 taken by the thread
    EXPECT_LE(dropped, 92u);
  }  // stop: the running sleep is killed, the queue dropped
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10))
      << "stopping waited for a hook instead of killing it";
}

class HookPolicyTest : public ::testing::Test {
 protected:
  void Load(const std::string& extra) {
    std::ifstream in(KNOCKGATE_SOURCE_ROOT "/conf/knockgate.toml");
    std::stringstream s;
    s << in.rdbuf();
    auto c = LoadConfig(
        absl::StrReplaceAll(s.str(), {{"disabled = true", "disabled = false"}}) + extra, "k.toml");
    ASSERT_TRUE(c.ok()) << c.status();
    policy_ = std::move(Policy::Compile(*c)).value();
  }
  Event Add(const char* list, uint16_t rule = 0) {
    Event e;
    e.type = EventType::kListAdd;
    e.list = static_cast<uint8_t>(policy_->FindList(list));
    e.rule = rule;
    return e;
  }
  std::shared_ptr<const Policy> policy_;
};

TEST_F(HookPolicyTest, EachEventIsAGrantAJailOrNothing) {
  Load("");
  EXPECT_EQ(HookKindOf(*policy_, Add("secured")), hook_on::kGrant);
  EXPECT_EQ(HookKindOf(*policy_, Add("blacklist")), hook_on::kJail);  // a drop rule reads it
  EXPECT_EQ(HookKindOf(*policy_, Add("888")), 0);                     // a knock step
  Event ctl = Add("888", Event::kNoRule);  // knockgate ctl adds to a step list: a grant
  EXPECT_EQ(HookKindOf(*policy_, ctl), hook_on::kGrant);
  Event e = Add("secured");
  e.type = EventType::kListRemove;
  EXPECT_EQ(HookKindOf(*policy_, e), hook_on::kRemove);
  e.type = EventType::kListExpire;
  EXPECT_EQ(HookKindOf(*policy_, e), hook_on::kExpire);
  e.type = EventType::kSpaReject;
  EXPECT_EQ(HookKindOf(*policy_, e), 0);
  e.type = EventType::kLog;
  EXPECT_EQ(HookKindOf(*policy_, e), 0);
}

TEST_F(HookPolicyTest, OnlyWatchedListsReportExpiries) {
  Load(
      "\n[[hook]]\non = [\"expire\"]\nlist = \"secured\"\ncommand = [\"/bin/true\"]\n"
      "[[hook]]\non = [\"grant\"]\ncommand = [\"/bin/true\"]\n");
  EXPECT_EQ(policy_->expiry_watch(), ListMask{1} << policy_->FindList("secured"));
  Load("");
  EXPECT_EQ(policy_->expiry_watch(), 0u);
}

TEST(HookConfigTest, ErrorsNameFileLineColumnAndKey) {
  const std::string base = R"([[filter]]
action = "accept"
src-address-list = "secured"
)";
  struct Case {
    std::string hook;
    std::string error;
  };
  const Case cases[] = {
      {"[[hook]]\non = [\"grant\", \"knock\"]\ncommand = [\"/bin/true\"]\n",
       "k.toml:5:6: on: \"knock\": expected grant, expire, remove, jail or spa-grant"},
      {"[[hook]]\non = [\"grant\"]\n", "k.toml:4:1: command: missing"},
      {"[[hook]]\non = [\"grant\"]\ncommand = \"/bin/true --x\"\n", "k.toml:6:11: command: "},
      {"[[hook]]\non = [\"grant\"]\nlist = [\"secure\"]\ncommand = [\"/bin/true\"]\n",
       "k.toml:6:8: list: no rule, [[spa]] or [[address-list]] names list \"secure\""},
      {"[[hook]]\non = [\"grant\"]\ncommand = [\"/bin/true\"]\ntimeout = \"2h\"\n",
       "k.toml:7:11: timeout: expected a duration from \"1ms\" to \"1h\""},
      {"[[hook]]\non = [\"grant\"]\ncommand = [\"/bin/true\"]\nshell = true\n",
       "k.toml:7:1: shell"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hook);
    auto config = LoadConfig(base + c.hook, "k.toml");
    ASSERT_FALSE(config.ok());
    EXPECT_NE(std::string(config.status().message()).find(c.error), std::string::npos)
        << config.status();
  }
  auto good = LoadConfig(base +
                             "[[hook]]\non = [\"grant\", \"expire\"]\nlist = \"secured\"\n"
                             "command = [\"/usr/local/bin/notify\", \"--grant\"]\n",
                         "k.toml");
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_EQ(good->hooks.size(), 1u);
  EXPECT_EQ(good->hooks[0].on, hook_on::kGrant | hook_on::kExpire);
  EXPECT_EQ(good->hooks[0].timeout, 5 * kNanosPerSecond);
  EXPECT_EQ(good->hooks[0].command, (std::vector<std::string>{"/usr/local/bin/notify", "--grant"}));
}

}  // namespace
}  // namespace knockgate
