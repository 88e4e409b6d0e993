// The log's rate limit with fake time: the burst, the rate, grants and jails
// always written while knock steps are held back, log rules' reserve, and the
// once-a-second summary.
#include "control/log_limiter.h"

#include <gtest/gtest.h>

#include "classify/event_text.h"
#include "policy/config_loader.h"

namespace knockgate {
namespace {

constexpr char kConfig[] = R"(
[[knock]]
name = "k"
steps = ["tcp:888", "tcp:555", "tcp:222"]

[[filter]]
action = "add-src-to-address-list"
address-list = "jail"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = "23"
)";

class LogLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = LoadConfig(kConfig, "t.toml");
    ASSERT_TRUE(config.ok()) << config.status();
    auto policy = Policy::Compile(*config);
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
  }
  Event AddTo(const char* list) const {
    Event e;
    e.type = EventType::kListAdd;
    e.rule = 0;  // made by a rule (kNoRule: by knockgate ctl)
    e.list = static_cast<uint8_t>(policy_->FindList(list));
    return e;
  }
  // Offers `n` events spread evenly over [from, from + span); returns how many were admitted.
  int Offer(LogLimiter& l, Event e, int n, Nanos from, Nanos span) const {
    e.state = IsStateChange(*policy_, e);  // as Emit classes it
    int admitted = 0;
    for (int i = 0; i < n; ++i) {
      admitted += l.Admit(*policy_, e, from + span * i / n) ? 1 : 0;
    }
    return admitted;
  }
  std::shared_ptr<const Policy> policy_;
};

TEST_F(LogLimiterTest, GrantsJailsAndOperatorsChangesAreStateChanges) {
  EXPECT_FALSE(IsStateChange(*policy_, AddTo("k-1")));
  EXPECT_FALSE(IsStateChange(*policy_, AddTo("k-2")));
  EXPECT_TRUE(IsStateChange(*policy_, AddTo("secured")));
  EXPECT_TRUE(IsStateChange(*policy_, AddTo("jail")));
  Event log;
  log.rule = 0;
  EXPECT_FALSE(IsStateChange(*policy_, log));  // a log rule's: chatter
  Event by_ctl = AddTo("k-1");
  by_ctl.rule = Event::kNoRule;
  EXPECT_TRUE(IsStateChange(*policy_, by_ctl));  // an operator's (or [sync]'s)
  by_ctl.type = EventType::kListRemove;
  EXPECT_TRUE(IsStateChange(*policy_, by_ctl));
  Event spa;
  spa.type = EventType::kSpaGrant;
  EXPECT_TRUE(IsStateChange(*policy_, spa));
  spa.type = EventType::kSpaReject;
  EXPECT_FALSE(IsStateChange(*policy_, spa));
}

TEST_F(LogLimiterTest, BurstThenRate) {
  LogLimiter l(100, 200, 0);
  // At once: the burst less the reserve kept for grants and jails.
  EXPECT_EQ(Offer(l, AddTo("k-1"), 1000, 0, 0), 150);
  // Then 100 a second, however many are offered (and the 100 the idle second refilled).
  const int per_10s = Offer(l, AddTo("k-1"), 100000, kNanosPerSecond, 10 * kNanosPerSecond);
  EXPECT_GE(per_10s, 1090);
  EXPECT_LE(per_10s, 1101);
  EXPECT_EQ(l.written(), 150u + per_10s);
  EXPECT_EQ(l.suppressed(), 101000u - l.written());
}

TEST_F(LogLimiterTest, GrantsAndJailsPassWhileAFloodOfStepsIsHeldBack) {
  LogLimiter l(100, 200, 0);
  int grants = 0;
  int steps = 0;
  for (int s = 0; s < 10; ++s) {
    const Nanos at = s * kNanosPerSecond;
    steps += Offer(l, AddTo("k-1"), 100000, at, kNanosPerSecond / 2);
    grants += Offer(l, AddTo("secured"), 20, at + kNanosPerSecond / 2, kNanosPerSecond / 4);
    grants += Offer(l, AddTo("jail"), 20, at + 3 * kNanosPerSecond / 4, kNanosPerSecond / 4);
  }
  EXPECT_EQ(grants, 400);  // none held back
  EXPECT_GT(steps, 0);
  EXPECT_LE(steps, 200 + 100 * 10);  // the chatter stays under its rate
}

TEST_F(LogLimiterTest, LogRulesKeepAReserveAgainstAFloodOfSteps) {
  LogLimiter l(100, 200, 0);
  Event log;
  log.rule = 0;
  int logs = 0;
  for (int s = 0; s < 10; ++s) {
    const Nanos at = s * kNanosPerSecond;
    Offer(l, AddTo("k-1"), 100000, at, kNanosPerSecond / 2);
    logs += Offer(l, log, 20, at + kNanosPerSecond / 2, kNanosPerSecond / 2);
  }
  EXPECT_EQ(logs, 200);
}

TEST_F(LogLimiterTest, SummaryOncePerSecondByList) {
  LogLimiter l(10, 10, 0);
  Offer(l, AddTo("k-1"), 9, 0, 0);                    // 8 written (2 of 10 kept in reserve), 1 held
  EXPECT_EQ(l.TakeSummary(kNanosPerSecond / 2), "");  // not a second since the first held
  Offer(l, AddTo("k-1"), 100, kNanosPerSecond / 2, 0);
  Offer(l, AddTo("k-2"), 20, kNanosPerSecond / 2, 0);
  Event log;
  log.rule = 0;
  Offer(l, log, 5, kNanosPerSecond / 2, 0);
  const std::string s = l.TakeSummary(kNanosPerSecond);
  EXPECT_EQ(s,
            "suppressed 116 list-add events (96 to list k-1, 20 to list k-2) and 3 other events "
            "in the last 1.0s (log rate 10/s, burst 10; 3 of them log rules; grants and jails are "
            "never held back)");
  EXPECT_EQ(l.TakeSummary(3 * kNanosPerSecond), "");  // nothing held since
  EXPECT_EQ(l.written(), 15u);  // 8, then 5 refilled in half a second, then 2 from the reserve
  EXPECT_EQ(l.suppressed(), 119u);
}

TEST_F(LogLimiterTest, ExitSummaryAndNoLimit) {
  LogLimiter l(1, 1, 0);
  EXPECT_EQ(Offer(l, AddTo("jail"), 3, 0, 0), 3);
  Offer(l, AddTo("k-1"), 3, 0, 0);
  EXPECT_EQ(l.TakeSummary(1, /*force=*/true).substr(0, 47),
            "suppressed 2 list-add events (2 to list k-1) an");  // the bucket held one
  LogLimiter unlimited(0, 1, 0);
  EXPECT_EQ(Offer(unlimited, AddTo("k-1"), 100000, 0, 0), 100000);
  EXPECT_EQ(unlimited.TakeSummary(10 * kNanosPerSecond, true), "");
}

}  // namespace
}  // namespace knockgate
