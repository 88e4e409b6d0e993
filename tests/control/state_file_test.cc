// The state file's format: a round trip, and every damaged form refused
// whole with its line, so nothing is ever half-loaded.
#include "control/state_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace knockgate {
namespace {

using ::testing::StartsWith;

std::vector<StateEntry> Sample() {
  return {{"secured", *ParseIpAddress("10.77.0.3"), kNever},
          {"888", *ParseIpAddress("2001:db8::7"), 1764597000123456789ULL},
          {"blacklist", *ParseIpAddress("203.0.113.66"), 1}};
}

std::string ErrorOf(const std::string& text) {
  auto r = ParseState(text, "s.state");
  return r.ok() ? "" : std::string(r.status().message());
}

TEST(StateFileTest, RoundTrip) {
  const std::string text = FormatState(Sample(), {}, "written by a test");
  EXPECT_THAT(text, StartsWith("knockgate-state 1\n# written by a test\n"));
  auto back = ParseState(text, "s.state");
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*back)[i].list, Sample()[i].list);
    EXPECT_EQ((*back)[i].address, Sample()[i].address);
    EXPECT_EQ((*back)[i].expiry_wall, Sample()[i].expiry_wall);
  }
  EXPECT_TRUE(ParseState("knockgate-state 1\n", "s.state")->empty());
}

TEST(StateFileTest, DamagedFilesAreRefusedWholeWithTheirLine) {
  const std::string good = FormatState(Sample(), {}, "x");
  EXPECT_EQ(ErrorOf(""),
            "s.state:1: not a knockgate state file (expected \"knockgate-state 1\", "
            "found \"\")");
  EXPECT_THAT(ErrorOf("[eal]\nargs = []\n"), StartsWith("s.state:1: not a knockgate state file"));
  EXPECT_THAT(ErrorOf("knockgate-state 2\n"), StartsWith("s.state:1: not a knockgate state file"));
  EXPECT_EQ(ErrorOf(good.substr(0, good.size() - 5)), "s.state:6: truncated (no end of line)");
  EXPECT_THAT(
      ErrorOf("knockgate-state 1\nsecured\t10.77.0.300\tnever\n"),
      StartsWith("s.state:2: expected LIST<TAB>ADDRESS<TAB>EXPIRY, found \"secured\\x0910"));
  EXPECT_THAT(ErrorOf("knockgate-state 1\nsecured\t10.77.0.3\tsoon\n"), StartsWith("s.state:2: "));
  EXPECT_THAT(ErrorOf("knockgate-state 1\nsecured 10.77.0.3 never\n"), StartsWith("s.state:2: "));
  EXPECT_THAT(ErrorOf("knockgate-state 1\n\t10.77.0.3\tnever\n"), StartsWith("s.state:2: "));
  EXPECT_THAT(ErrorOf(std::string("knockgate-state 1\n\x01\xff\n", 21)), StartsWith("s.state:2: "));
}

TEST(StateFileTest, SpaReplayDigestsRoundTripBesideTheEntries) {
  StateDigest d;
  for (size_t i = 0; i < d.digest.size(); ++i) {
    d.digest[i] = static_cast<uint8_t>(0xf0 ^ i);
  }
  d.address = *ParseIpAddress("10.77.0.2");
  d.expiry_wall = 1764597000123456789ULL;
  const std::string text = FormatState(Sample(), {d}, "x");
  EXPECT_THAT(text, ::testing::HasSubstr("!spa-replay\t10.77.0.2\t1764597000123456789\tf0f1f2f3"));
  std::istringstream in(text);
  size_t entries = 0;
  std::vector<StateDigest> back;
  ASSERT_TRUE(ReadState(
                  in, "s.state", [&](absl::string_view, const IpAddress&, Nanos) { ++entries; },
                  [&](const StateDigest& x) { back.push_back(x); })
                  .ok());
  EXPECT_EQ(entries, Sample().size());
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].digest, d.digest);
  EXPECT_EQ(back[0].address, d.address);
  EXPECT_EQ(back[0].expiry_wall, d.expiry_wall);
  // A damaged digest fails the whole file like any other line.
  EXPECT_THAT(ErrorOf("knockgate-state 1\n!spa-replay\t10.77.0.2\t5\tf0f1\n"),
              StartsWith("s.state:2: expected !spa-replay<TAB>ADDRESS<TAB>EXPIRY<TAB>DIGEST"));
  EXPECT_THAT(ErrorOf(absl::StrCat("knockgate-state 1\n!spa-replay\t10.77.0.2\t5\t",
                                   std::string(64, 'g'), "\n")),
              StartsWith("s.state:2: expected !spa-replay"));
}

TEST(StateFileTest, WritesAtomically) {
  const std::string dir = ::testing::TempDir() + "/kg-state-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/lists.state";
  ASSERT_TRUE(WriteFileAtomically(path, "knockgate-state 1\n").ok());
  ASSERT_TRUE(WriteFileAtomically(path, FormatState(Sample(), {}, "x")).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), FormatState(Sample(), {}, "x"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_FALSE(WriteFileAtomically(dir + "/no/such/dir/x", "y").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace knockgate
