// RouterOS duration forms, their round trip through FormatDuration, and the
// forms that must be refused.
#include "policy/duration.h"

#include <gtest/gtest.h>

namespace knockgate {
namespace {

constexpr Nanos kS = kNanosPerSecond;

TEST(DurationTest, RouterOsForms) {
  const std::pair<const char*, Nanos> cases[] = {
      {"30s", 30 * kS},         {"30m", 1800 * kS},         {"1000m", 60000 * kS},
      {"1h30m", 5400 * kS},     {"1d", 86400 * kS},         {"1w", 604800 * kS},
      {"00:30:00", 1800 * kS},  {"1d00:30:00", 88200 * kS}, {"90", 90 * kS},
      {"1500ms", 1500'000'000}, {"none-dynamic", kNever},
  };
  for (const auto& [text, want] : cases) {
    absl::StatusOr<Nanos> d = ParseDuration(text);
    ASSERT_TRUE(d.ok()) << text << ": " << d.status();
    EXPECT_EQ(*d, want) << text;
  }
}

TEST(DurationTest, Rejects) {
  for (const char* bad :
       {"", "0", "0s", "30x", "m", "1:2", "00:61:00", "1h 30m", "-5s", "30s5", "1000000000000w"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(DurationTest, Formats) {
  EXPECT_EQ(FormatDuration(30 * kS), "30s");
  EXPECT_EQ(FormatDuration(5400 * kS), "1h30m");
  EXPECT_EQ(FormatDuration(60000 * kS), "16h40m");
  EXPECT_EQ(FormatDuration(kNever), "none-dynamic");
}

}  // namespace
}  // namespace knockgate
