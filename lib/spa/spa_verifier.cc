// SPA verification as fwknop's lib/fko_*.c and fwknopd define it, with
// OpenSSL 3 primitives fetched once per verifier.
#include "spa/spa_verifier.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
// OpenSSL 3.0's EVP digests allocate a context on every init (measured: one
// allocation per EVP_DigestInit_ex2, two per EVP_MAC_init). The low-level
// digest functions are deprecated in 3.0 but present throughout 3.x, use
// the same SHA-NI code, and work on plain structs: no allocation, and HMAC's
// padded-key states can be computed once and copied.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace knockgate {
namespace {

constexpr char kSaltedB64[] = "U2FsdGVkX1";  // base64 of "Salted__", stripped by the client
constexpr size_t kSaltedB64Len = sizeof(kSaltedB64) - 1;
constexpr size_t kHmacB64Len = 43;  // SHA-256, base64 without '='
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63, or -1 outside the alphabet.
constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

// Base64 without padding into `out` (at least 4/3 of in, rounded up).
size_t EncodeBase64NoPad(const uint8_t* in, size_t n, char* out) {
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  if (n - i == 1) {
    const uint32_t v = uint32_t{in[i]} << 16;
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
  }
  return o;
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool DecodeField(absl::string_view s, std::vector<uint8_t>& out) {
  return DecodeBase64(
             std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()), out) &&
         !out.empty();
}

}  // namespace

const char* SpaRejectName(SpaReject r) {
  static constexpr const char* kNames[] = {"none",   "format", "hmac",   "stale",     "source",
                                           "access", "replay", "budget", "cache-full"};
  return kNames[static_cast<size_t>(r)];
}

bool DecodeBase64(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  size_t n = in.size();
  while (n > 0 && in[n - 1] == '=') {
    --n;
  }
  if (n % 4 == 1) {
    return false;
  }
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const int8_t v = kDecode[in[i]];
    if (v < 0) {
      return false;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return true;
}

absl::StatusOr<SpaKeys> ParseSpaKeyFile(const std::string& text) {
  SpaKeys keys;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    std::vector<uint8_t>* target = nullptr;
    if (absl::ConsumePrefix(&line, "KEY_BASE64")) {
      target = &keys.key;
    } else if (absl::ConsumePrefix(&line, "HMAC_KEY_BASE64")) {
      target = &keys.hmac_key;
    } else {
      continue;
    }
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumePrefix(&line, ":");
    line = absl::StripAsciiWhitespace(line);
    if (!DecodeBase64(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(line.data()), line.size()),
            *target) ||
        target->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(target == &keys.key ? "KEY_BASE64" : "HMAC_KEY_BASE64", " is not base64"));
    }
  }
  if (keys.key.empty() || keys.hmac_key.empty()) {
    return absl::InvalidArgumentError(
        "expected both KEY_BASE64: and HMAC_KEY_BASE64: lines (as fwknop --key-gen prints)");
  }
  return keys;
}

// OpenSSL's objects, fetched and created once.
struct SpaVerifier::Contexts {
  EVP_CIPHER* aes = nullptr;
  EVP_CIPHER_CTX* cipher = nullptr;

  ~Contexts() {
    EVP_CIPHER_CTX_free(cipher);
    EVP_CIPHER_free(aes);
  }
};

SpaVerifier::SpaVerifier(SpaKeys keys, SpaPolicy policy)
    : keys_(std::move(keys)),
      policy_(std::move(policy)),
      ctx_(std::make_unique<Contexts>()),
      cipher_(kMaxData),
      plain_(kMaxData + 32),
      text_(kMaxData + kSaltedB64Len + 1) {
  field_.reserve(kMaxData);
}

SpaVerifier::~SpaVerifier() = default;

absl::StatusOr<std::unique_ptr<SpaVerifier>> SpaVerifier::Create(SpaKeys keys, SpaPolicy policy) {
  if (keys.key.empty() || keys.key.size() > 32 || keys.hmac_key.empty()) {
    return absl::InvalidArgumentError(
        "an SPA key must be 1..32 bytes and the HMAC key non-empty (fwknop --key-gen)");
  }
  std::unique_ptr<SpaVerifier> v(new SpaVerifier(std::move(keys), std::move(policy)));
  Contexts& c = *v->ctx_;
  c.aes = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  c.cipher = EVP_CIPHER_CTX_new();
  const uint8_t zero[48] = {};
  if (c.aes == nullptr || c.cipher == nullptr ||
      EVP_DecryptInit_ex2(c.cipher, c.aes, zero, zero + 32, nullptr) != 1) {
    return absl::InternalError("OpenSSL lacks AES-256-CBC");
  }
  // HMAC's padded keys (RFC 2104), hashed once: a packet copies the states.
  std::array<uint8_t, SHA256_CBLOCK> block{};
  const std::vector<uint8_t>& k = v->keys_.hmac_key;
  if (k.size() > block.size()) {
    SHA256_CTX x;
    SHA256_Init(&x);
    SHA256_Update(&x, k.data(), k.size());
    SHA256_Final(block.data(), &x);
  } else {
    std::copy(k.begin(), k.end(), block.begin());
  }
  std::array<uint8_t, SHA256_CBLOCK> ipad;
  std::array<uint8_t, SHA256_CBLOCK> opad;
  for (size_t i = 0; i < block.size(); ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  SHA256_Init(&v->inner_);
  SHA256_Update(&v->inner_, ipad.data(), ipad.size());
  SHA256_Init(&v->outer_);
  SHA256_Update(&v->outer_, opad.data(), opad.size());
  return v;
}

bool SpaVerifier::WellFormed(std::span<const uint8_t> payload) {
  // 1. Format: length and alphabet.
  const size_t n = payload.size();
  if (n < kMinData || n > kMaxData) {
    return false;
  }
  for (uint8_t b : payload) {
    if (kDecode[b] < 0) {
      return false;
    }
  }
  return true;
}

bool SpaVerifier::HmacMatches(std::span<const uint8_t> payload) const {
  // 2. HMAC-SHA256 over the ciphertext's base64 with "Salted__"'s put back,
  // from the padded-key states computed once; compared in constant time.
  const size_t data_len = payload.size() - kHmacB64Len;
  uint8_t inner[SHA256_DIGEST_LENGTH];
  uint8_t mac[SHA256_DIGEST_LENGTH];
  char mac_b64[48];
  SHA256_CTX h = inner_;
  SHA256_Update(&h, kSaltedB64, kSaltedB64Len);
  SHA256_Update(&h, payload.data(), data_len);
  SHA256_Final(inner, &h);
  h = outer_;
  SHA256_Update(&h, inner, sizeof(inner));
  SHA256_Final(mac, &h);
  return EncodeBase64NoPad(mac, sizeof(mac), mac_b64) == kHmacB64Len &&
         CRYPTO_memcmp(mac_b64, payload.data() + data_len, kHmacB64Len) == 0;
}

SpaReject SpaVerifier::Verify(std::span<const uint8_t> payload, const IpAddress& source, Nanos now,
                              SpaMessage& out) {
  if (!WellFormed(payload)) {
    return SpaReject::kFormat;
  }
  if (!HmacMatches(payload)) {
    return SpaReject::kHmac;
  }
  return Open(payload, source, now, out);
}

SpaReject SpaVerifier::Open(std::span<const uint8_t> payload, const IpAddress& source, Nanos now,
                            SpaMessage& out) {
  Contexts& c = *ctx_;
  const size_t data_len = payload.size() - kHmacB64Len;
  // 3. Decrypt: "Salted__" + salt + AES-256-CBC; key and IV from MD5 chains.
  std::memcpy(text_.data(), kSaltedB64, kSaltedB64Len);
  std::memcpy(text_.data() + kSaltedB64Len, payload.data(), data_len);
  if (!DecodeBase64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text_.data()),
                                             kSaltedB64Len + data_len),
                    cipher_) ||
      cipher_.size() < 32 || (cipher_.size() - 16) % 16 != 0 ||
      std::memcmp(cipher_.data(), "Salted__", 8) != 0) {
    return SpaReject::kFormat;
  }
  const uint8_t* salt = cipher_.data() + 8;
  uint8_t kiv[48];
  for (int round = 0; round < 3; ++round) {
    MD5_CTX m5;
    MD5_Init(&m5);
    if (round > 0) {
      MD5_Update(&m5, kiv + (round - 1) * 16, 16);
    }
    MD5_Update(&m5, keys_.key.data(), keys_.key.size());
    MD5_Update(&m5, salt, 8);
    MD5_Final(kiv + round * 16, &m5);
  }
  int out1 = 0;
  int out2 = 0;
  const int ct_len = static_cast<int>(cipher_.size() - 16);
  // The cipher was set at Create: re-keying with it null allocates nothing.
  if (EVP_DecryptInit_ex2(c.cipher, nullptr, kiv, kiv + 32, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(c.cipher, 0) != 1 ||
      EVP_DecryptUpdate(c.cipher, plain_.data(), &out1, cipher_.data() + 16, ct_len) != 1 ||
      EVP_DecryptFinal_ex(c.cipher, plain_.data() + out1, &out2) != 1) {
    return SpaReject::kFormat;
  }
  size_t pt_len = static_cast<size_t>(out1 + out2);
  // fwknopd tolerates bad padding: strip it only when it is consistent.
  if (pt_len > 0) {
    const uint8_t pad = plain_[pt_len - 1];
    if (pad > 0 && pad <= 16 && pad <= pt_len &&
        std::all_of(plain_.begin() + static_cast<long>(pt_len - pad),
                    plain_.begin() + static_cast<long>(pt_len),
                    [pad](uint8_t b) { return b == pad; })) {
      pt_len -= pad;
    }
  }
  // 4. Fields: rand:user:time:version:type:message[:nat][:server_auth][:timeout]:digest.
  const absl::string_view text(reinterpret_cast<const char*>(plain_.data()), pt_len);
  const size_t last = text.rfind(':');
  if (text.size() < 17 || text[16] != ':' || !AllDigits(text.substr(0, 16)) ||
      last == absl::string_view::npos) {
    return SpaReject::kFormat;
  }
  const absl::string_view encoded = text.substr(0, last);
  const absl::string_view digest = text.substr(last + 1);
  int digest_index = -1;
  switch (digest.size()) {
    case 22:
      digest_index = 0;
      break;
    case 27:
      digest_index = 1;
      break;
    case 43:
      digest_index = 2;
      break;
    case 64:
      digest_index = 3;
      break;
    case 86:
      digest_index = 4;
      break;
    default:
      return SpaReject::kFormat;
  }
  uint8_t md[SHA512_DIGEST_LENGTH];
  char md_b64[96];
  size_t md_len = 0;
  const auto* in = reinterpret_cast<const uint8_t*>(encoded.data());
  // Init/Update/Final on stack states: 3.0's one-shot MD5()/SHA256() go
  // through EVP_Q_digest, which allocates.
  switch (digest_index) {
    case 0: {
      MD5_CTX x;
      MD5_Init(&x);
      MD5_Update(&x, in, encoded.size());
      MD5_Final(md, &x);
      md_len = MD5_DIGEST_LENGTH;
      break;
    }
    case 1: {
      SHA_CTX x;
      SHA1_Init(&x);
      SHA1_Update(&x, in, encoded.size());
      SHA1_Final(md, &x);
      md_len = SHA_DIGEST_LENGTH;
      break;
    }
    case 2: {
      SHA256_CTX x;
      SHA256_Init(&x);
      SHA256_Update(&x, in, encoded.size());
      SHA256_Final(md, &x);
      md_len = SHA256_DIGEST_LENGTH;
      break;
    }
    case 3: {
      SHA512_CTX x;
      SHA384_Init(&x);
      SHA384_Update(&x, in, encoded.size());
      SHA384_Final(md, &x);
      md_len = SHA384_DIGEST_LENGTH;
      break;
    }
    default: {
      SHA512_CTX x;
      SHA512_Init(&x);
      SHA512_Update(&x, in, encoded.size());
      SHA512_Final(md, &x);
      md_len = SHA512_DIGEST_LENGTH;
      break;
    }
  }
  if (EncodeBase64NoPad(md, md_len, md_b64) != digest.size() ||
      std::memcmp(md_b64, digest.data(), digest.size()) != 0) {
    return SpaReject::kFormat;
  }
  absl::string_view f[10];
  size_t fields = 0;
  for (absl::string_view part : absl::StrSplit(encoded, ':')) {
    if (fields == 10) {
      return SpaReject::kFormat;
    }
    f[fields++] = part;
  }
  uint32_t type = 0;
  uint64_t timestamp = 0;
  if (fields < 6 || f[1].empty() || f[1].size() > 64 || !DecodeField(f[1], field_) ||
      !AllDigits(f[2]) || f[2].size() > 12 || !absl::SimpleAtoi(f[2], &timestamp) || f[3].empty() ||
      f[3].size() > 8 || !AllDigits(f[4]) || !absl::SimpleAtoi(f[4], &type) || type == 0 ||
      type > 6 || f[5].size() > 512 || !DecodeField(f[5], field_)) {
    return SpaReject::kFormat;  // type 0 is a command message: never run here
  }
  const bool nat = type == 2 || type == 4 || type == 5 || type == 6;
  const bool has_timeout = type == 3 || type == 4 || type == 6;
  const size_t fixed = 6 + (nat ? 1 : 0) + (has_timeout ? 1 : 0);
  if (fields != fixed && fields != fixed + 1) {  // the one optional field: server auth
    return SpaReject::kFormat;
  }
  out.client_timeout = 0;
  if (has_timeout &&
      (!AllDigits(f[fields - 1]) || !absl::SimpleAtoi(f[fields - 1], &out.client_timeout))) {
    return SpaReject::kFormat;
  }
  // The message: "ADDRESS,proto/port[,proto/port...]".
  const absl::string_view message(reinterpret_cast<const char*>(field_.data()), field_.size());
  const size_t comma = message.find(',');
  absl::StatusOr<IpAddress> address = comma == absl::string_view::npos
                                          ? absl::InvalidArgumentError("")
                                          : ParseIpAddress(message.substr(0, comma));
  if (!address.ok()) {
    return SpaReject::kFormat;
  }
  // 5. Age, either way.
  const Nanos at = timestamp * kNanosPerSecond;
  if ((now > at ? now - at : at - now) > policy_.max_age) {
    return SpaReject::kStale;
  }
  // 6. Source. 0.0.0.0 (fwknop -s, or ::) stands for "my packet's source":
  // fwknopd grants the packet's address then, and refuses the message when
  // the address inside is required.
  const bool use_source = *address == IpAddress{.family = address->family};
  if (policy_.require_source_address && (use_source || !(*address == source))) {
    return SpaReject::kSource;
  }
  if (use_source) {
    *address = source;
  }
  // 7. Access: every port asked for must be allowed; NAT is not offered.
  if (nat) {
    return SpaReject::kAccess;
  }
  for (absl::string_view item : absl::StrSplit(message.substr(comma + 1), ',')) {
    const size_t slash = item.find('/');
    uint32_t port = 0;
    const absl::string_view proto = item.substr(0, slash);
    const uint8_t number = proto == "tcp" ? 6 : proto == "udp" ? 17 : proto == "icmp" ? 1 : 0;
    if (slash == absl::string_view::npos || number == 0 ||
        !absl::SimpleAtoi(item.substr(slash + 1), &port) || port > 65535) {
      return SpaReject::kFormat;
    }
    if (!policy_.access.empty() &&
        std::find(policy_.access.begin(), policy_.access.end(),
                  std::pair<uint8_t, uint16_t>{number, static_cast<uint16_t>(port)}) ==
            policy_.access.end()) {
      return SpaReject::kAccess;
    }
  }
  // The replay key: SHA-256 over the packet's data, as fwknopd keeps it.
  SHA256_CTX replay;
  SHA256_Init(&replay);
  SHA256_Update(&replay, payload.data(), payload.size());
  SHA256_Final(out.digest.data(), &replay);
  out.address = *address;
  out.timestamp = timestamp;
  return SpaReject::kNone;
}

}  // namespace knockgate

#pragma GCC diagnostic pop
