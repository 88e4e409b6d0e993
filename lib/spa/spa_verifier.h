// fwknop-compatible single packet authorization (FKO protocol 3.0.0,
// Rijndael + HMAC-SHA256), verified the way fwknopd does: format, HMAC in
// constant time, AES-256-CBC decryption, the fields and their digest, then
// age, source and access. One verifier per worker: its OpenSSL contexts are
// made once and reused, so a packet allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <openssl/sha.h>

#include "absl/status/statusor.h"
#include "common/nanos.h"
#include "net/ip_address.h"

namespace knockgate {

// Why a packet was refused, in the order the checks run.
enum class SpaReject : uint8_t {
  kNone,
  kFormat,  // length, base64 alphabet, or a field that does not parse
  kHmac,
  kStale,   // the timestamp is further than max-age from the clock, either way
  kSource,  // the address inside is not the packet's source
  kAccess,  // the requested access is not among `access`
  kReplay,  // decided by the caller's digest cache
  kBudget,  // decided by the caller's verify-rate
  kCacheFull,
  kCount,
};
const char* SpaRejectName(SpaReject r);

struct SpaKeys {
  std::vector<uint8_t> key;       // Rijndael key, decoded from KEY_BASE64
  std::vector<uint8_t> hmac_key;  // decoded from HMAC_KEY_BASE64
};

struct SpaPolicy {
  Nanos max_age = 120 * kNanosPerSecond;
  bool require_source_address = true;
  // "tcp/22" style; empty: any access the message asks for.
  std::vector<std::pair<uint8_t, uint16_t>> access;
};

// What an accepted message asks for.
struct SpaMessage {
  IpAddress address;                 // the address to grant (fwknop's -a)
  uint32_t client_timeout = 0;       // seconds, 0: none asked (fwknop -f)
  std::array<uint8_t, 32> digest{};  // SHA-256 of the packet's data: the replay key
  uint64_t timestamp = 0;            // seconds since the epoch, from the message
};

class SpaVerifier {
 public:
  static constexpr size_t kMinData = 120;  // shorter than any real message
  static constexpr size_t kMaxData = 1500;

  static absl::StatusOr<std::unique_ptr<SpaVerifier>> Create(SpaKeys keys, SpaPolicy policy);
  ~SpaVerifier();
  SpaVerifier(const SpaVerifier&) = delete;
  SpaVerifier& operator=(const SpaVerifier&) = delete;

  // Checks one UDP payload from `source` at wall-clock `now` (Unix ns).
  // Replay and budget are the caller's; everything else is decided here.
  // The same as WellFormed, HmacMatches, then Open.
  SpaReject Verify(std::span<const uint8_t> payload, const IpAddress& source, Nanos now,
                   SpaMessage& out);

  // The steps of Verify, for a port whose users each have a verifier: the
  // format once, then each user's HMAC until one matches (the cost of a
  // forged packet), then that user's decryption and checks.
  // Length and base64 alphabet: no key needed.
  static bool WellFormed(std::span<const uint8_t> payload);
  // Whether the HMAC is this key's. Needs WellFormed(payload).
  bool HmacMatches(std::span<const uint8_t> payload) const;
  // Decrypts and checks a payload whose HMAC matched (format, age, source,
  // access).
  SpaReject Open(std::span<const uint8_t> payload, const IpAddress& source, Nanos now,
                 SpaMessage& out);

 private:
  struct Contexts;
  SpaVerifier(SpaKeys keys, SpaPolicy policy);

  const SpaKeys keys_;
  const SpaPolicy policy_;
  std::unique_ptr<Contexts> ctx_;
  // SHA-256 states after the HMAC key's padded blocks (RFC 2104).
  SHA256state_st inner_{};
  SHA256state_st outer_{};
  // Scratch, sized for kMaxData once (decoding clears, never shrinks).
  std::vector<uint8_t> cipher_;
  std::vector<uint8_t> plain_;
  std::vector<char> text_;
  std::vector<uint8_t> field_;  // a decoded field (the username, then the message)
};

// Decodes base64 with or without '=' padding (fwknop strips it). False on
// any character outside the alphabet.
bool DecodeBase64(std::span<const uint8_t> in, std::vector<uint8_t>& out);

// Parses "KEY_BASE64: ..." and "HMAC_KEY_BASE64: ..." lines (fwknop's
// access.conf and --key-gen output).
absl::StatusOr<SpaKeys> ParseSpaKeyFile(const std::string& text);

}  // namespace knockgate
