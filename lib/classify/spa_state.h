// One worker's SPA: a verifier per [[spa]] section (its OpenSSL scratch), a
// verify budget per section, the digests of accepted messages (replay), and
// counters. Owned by the worker; the control plane builds it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/token_bucket.h"
#include "policy/policy.h"
#include "spa/spa_verifier.h"

namespace knockgate {

inline constexpr size_t kSpaRejectCount = static_cast<size_t>(SpaReject::kCount);

struct SpaCounters {  // datapath: wo, control: ro (read live)
  uint64_t accepts = 0;
  std::array<uint64_t, kSpaRejectCount> rejects{};
};

// The digests of accepted messages, each kept until its message's timestamp
// is older than max-age (after that the message is stale anyway). Fixed
// capacity: when a digest finds no free slot among its probes the message
// is refused (cache-full) rather than forgetting one that could then be
// replayed. Only messages that passed the HMAC get here, so only a key
// holder can fill it.
class SpaReplayCache {
 public:
  static constexpr size_t kCapacity = 4096;
  static constexpr size_t kProbes = 16;
  enum class Result : uint8_t { kNew, kSeen, kFull };
  struct Slot {
    std::array<uint8_t, 32> digest{};
    Nanos expiry = 0;   // wall clock; free once past
    IpAddress address;  // the grant's: its owner keeps the digest (state file)
  };
  SpaReplayCache() : slots_(kCapacity) {}
  Result Insert(const std::array<uint8_t, 32>& digest, Nanos expiry, Nanos now,
                const IpAddress& address);
  // Live slots from `cursor` on, at most `max` of them to `out`; returns
  // where to go on (kCapacity: done). For the state file.
  template <typename F>
  size_t Dump(size_t cursor, size_t max, Nanos now, F&& out) const {
    for (; cursor < kCapacity && max != 0; ++cursor) {
      if (slots_[cursor].expiry > now) {
        out(slots_[cursor]);
        --max;
      }
    }
    return cursor;
  }

 private:
  std::vector<Slot> slots_;
};

struct SpaState {
  // Verifiers, budgets and counters by section of `policy` (null verifier: disabled).
  static absl::StatusOr<std::unique_ptr<SpaState>> Create(const Policy& policy);

  std::vector<std::unique_ptr<SpaVerifier>> verifiers;
  std::vector<TokenBucket> budgets;
  std::vector<RateSpec> budget_rates;
  std::vector<SpaCounters> counters;
  SpaReplayCache replay;  // kept across reloads
};

}  // namespace knockgate
