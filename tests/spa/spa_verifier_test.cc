// SPA verification on packets the real fwknop client (2.6.10) made, with the
// clock faked to their time (tests/data/spa/make-vectors.sh made them).
#include "spa/spa_verifier.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_split.h"

namespace knockgate {
namespace {

struct Vector {
  uint64_t timestamp = 0;
  std::string payload;
};

class SpaVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream keys(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/keys.txt");
    std::stringstream text;
    text << keys.rdbuf();
    auto parsed = ParseSpaKeyFile(text.str());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    keys_ = *parsed;
    std::ifstream in(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/vectors.tsv");
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      ASSERT_EQ(f.size(), 3u) << line;
      vectors_[f[0]] = Vector{std::stoull(f[1]), f[2]};
    }
    ASSERT_GE(vectors_.size(), 10u);
  }
  SpaReject Check(const std::string& name, const std::string& source = "10.77.0.2",
                  int64_t clock_offset_s = 0, SpaPolicy policy = {}) {
    auto v = SpaVerifier::Create(keys_, policy);
    EXPECT_TRUE(v.ok()) << v.status();
    const Vector& vec = vectors_.at(name);
    return Payload(**v, vec.payload, vec.timestamp + clock_offset_s, source);
  }
  SpaReject Payload(SpaVerifier& v, const std::string& payload, int64_t now_s,
                    const std::string& source = "10.77.0.2") {
    return v.Verify(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()),
        *ParseIpAddress(source), static_cast<Nanos>(now_s) * kNanosPerSecond, message_);
  }
  SpaKeys keys_;
  std::map<std::string, Vector> vectors_;
  SpaMessage message_;
};

TEST_F(SpaVerifierTest, AcceptsWhatTheRealClientSends) {
  EXPECT_EQ(Check("accept"), SpaReject::kNone);
  EXPECT_EQ(message_.address, *ParseIpAddress("10.77.0.2"));
  EXPECT_EQ(message_.client_timeout, 0u);
  EXPECT_EQ(message_.timestamp, vectors_["accept"].timestamp);
  EXPECT_EQ(Check("client-timeout"), SpaReject::kNone);
  EXPECT_EQ(message_.client_timeout, 60u);
  EXPECT_EQ(Check("two-ports"), SpaReject::kNone);
  // The inner digest's type is told by its length, as fwknopd does.
  EXPECT_EQ(Check("md5-digest"), SpaReject::kNone);
  EXPECT_EQ(Check("sha512-digest"), SpaReject::kNone);
}

TEST_F(SpaVerifierTest, WrongKeys) {
  EXPECT_EQ(Check("wrong-keys"), SpaReject::kHmac);
  // Right HMAC key, wrong encryption key: it decrypts to noise.
  EXPECT_EQ(Check("wrong-enc-key"), SpaReject::kFormat);
}

TEST_F(SpaVerifierTest, WrongHmac) {
  std::string p = vectors_["accept"].payload;
  p[p.size() - 5] = p[p.size() - 5] == 'A' ? 'B' : 'A';
  auto v = *SpaVerifier::Create(keys_, {});
  EXPECT_EQ(Payload(*v, p, vectors_["accept"].timestamp), SpaReject::kHmac);
  std::string body = vectors_["accept"].payload;
  body[20] = body[20] == 'A' ? 'B' : 'A';  // the ciphertext, not the tag
  EXPECT_EQ(Payload(*v, body, vectors_["accept"].timestamp), SpaReject::kHmac);
}

TEST_F(SpaVerifierTest, StaleAndFuture) {
  // The clients' clocks were 10 minutes off; max-age is 120 s either way.
  EXPECT_EQ(Check("past-10m", "10.77.0.2", 600), SpaReject::kStale);
  EXPECT_EQ(Check("future-10m", "10.77.0.2", -600), SpaReject::kStale);
  EXPECT_EQ(Check("accept", "10.77.0.2", 119), SpaReject::kNone);
  EXPECT_EQ(Check("accept", "10.77.0.2", 121), SpaReject::kStale);
  EXPECT_EQ(Check("accept", "10.77.0.2", -121), SpaReject::kStale);
  SpaPolicy lenient;
  lenient.max_age = 900 * kNanosPerSecond;
  EXPECT_EQ(Check("past-10m", "10.77.0.2", 600, lenient), SpaReject::kNone);
}

TEST_F(SpaVerifierTest, WrongSource) {
  EXPECT_EQ(Check("accept", "10.77.0.3"), SpaReject::kSource);
  SpaPolicy any_source;
  any_source.require_source_address = false;
  EXPECT_EQ(Check("accept", "10.77.0.3", 0, any_source), SpaReject::kNone);
  EXPECT_EQ(message_.address, *ParseIpAddress("10.77.0.2"));  // the grant is for the inner one
}

// fwknop -s sends 0.0.0.0: "use my packet's source". fwknopd grants the
// packet's address, or refuses when the address inside is required.
TEST_F(SpaVerifierTest, SourceFromPacket) {
  EXPECT_EQ(Check("source-from-packet", "10.77.0.9"), SpaReject::kSource);
  SpaPolicy any_source;
  any_source.require_source_address = false;
  ASSERT_EQ(Check("source-from-packet", "10.77.0.9", 0, any_source), SpaReject::kNone);
  EXPECT_EQ(message_.address, *ParseIpAddress("10.77.0.9"));
  ASSERT_EQ(Check("source-from-packet", "2001:db8::9", 0, any_source), SpaReject::kNone);
  EXPECT_EQ(message_.address, *ParseIpAddress("2001:db8::9"));
}

TEST_F(SpaVerifierTest, AccessNotAllowed) {
  SpaPolicy ssh_only;
  ssh_only.access = {{6, 22}};
  EXPECT_EQ(Check("accept", "10.77.0.2", 0, ssh_only), SpaReject::kNone);
  EXPECT_EQ(Check("access-8080", "10.77.0.2", 0, ssh_only), SpaReject::kAccess);
  EXPECT_EQ(Check("two-ports", "10.77.0.2", 0, ssh_only), SpaReject::kAccess);
  ssh_only.access.push_back({6, 8080});
  EXPECT_EQ(Check("two-ports", "10.77.0.2", 0, ssh_only), SpaReject::kNone);
}

TEST_F(SpaVerifierTest, DamagedPackets) {
  auto v = *SpaVerifier::Create(keys_, {});
  const std::string& p = vectors_["accept"].payload;
  const int64_t t = static_cast<int64_t>(vectors_["accept"].timestamp);
  EXPECT_EQ(Payload(*v, p.substr(0, p.size() - 1), t), SpaReject::kHmac);     // truncated
  EXPECT_EQ(Payload(*v, p.substr(0, 100), t), SpaReject::kFormat);            // too short
  EXPECT_EQ(Payload(*v, p + std::string(1400, 'A'), t), SpaReject::kFormat);  // over-long
  std::string not_b64 = p;
  not_b64[30] = '*';
  EXPECT_EQ(Payload(*v, not_b64, t), SpaReject::kFormat);
  std::string with_newline = p + "\n";
  EXPECT_EQ(Payload(*v, with_newline, t), SpaReject::kFormat);
  EXPECT_EQ(Payload(*v, std::string(200, 'A'), t), SpaReject::kHmac);
  // The verifier is reusable after any of these.
  EXPECT_EQ(Payload(*v, p, t), SpaReject::kNone);
}

TEST_F(SpaVerifierTest, ReplayKeyIsTheDataDigest) {
  ASSERT_EQ(Check("accept"), SpaReject::kNone);
  const auto first = message_.digest;
  ASSERT_EQ(Check("accept"), SpaReject::kNone);
  EXPECT_EQ(message_.digest,
            first);  // the same packet: the same key (the caller's cache refuses it)
  ASSERT_EQ(Check("client-timeout"), SpaReject::kNone);
  EXPECT_NE(message_.digest, first);
}

TEST(SpaKeyFileTest, ReadsFwknopKeyLines) {
  auto keys = ParseSpaKeyFile(
      "KEY_BASE64: ZYKeGX5pAqEiw837oH+3S0LWDHYPRp5t3LbqOj6RQZc=\n"
      "HMAC_KEY_BASE64:  umI/k2DvkGNq3QyeAzvBrzOE76l8CWe9rEdGpljnS1XUws"
      "XNs8+2hgdLfTwcJqoIra0qTbXWu7qJF+gXfLeZ/w==\n");
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->key.size(), 32u);
  EXPECT_EQ(keys->hmac_key.size(), 64u);
  EXPECT_FALSE(ParseSpaKeyFile("KEY_BASE64: abc\n").ok());
  EXPECT_FALSE(ParseSpaKeyFile("KEY_BASE64: a*c\nHMAC_KEY_BASE64: abcd\n").ok());
}

}  // namespace
}  // namespace knockgate
