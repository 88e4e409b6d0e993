// SPA per worker: verifiers made from the policy's sections, the replay cache.
#include "classify/spa_state.h"

#include <cstring>

#include "common/status_macros.h"

namespace knockgate {

SpaReplayCache::Result SpaReplayCache::Insert(const std::array<uint8_t, 32>& digest, Nanos expiry,
                                              Nanos now, const IpAddress& address) {
  uint64_t h;
  std::memcpy(&h, digest.data(), sizeof(h));
  Slot* free = nullptr;
  for (size_t i = 0; i < kProbes; ++i) {
    Slot& s = slots_[(h + i) & (kCapacity - 1)];
    if (s.expiry > now && s.digest == digest) {
      return Result::kSeen;
    }
    if (free == nullptr && s.expiry <= now) {
      free = &s;
    }
  }
  if (free == nullptr) {
    return Result::kFull;
  }
  free->digest = digest;
  free->expiry = expiry;
  free->address = address;
  return Result::kNew;
}

absl::StatusOr<std::unique_ptr<SpaState>> SpaState::Create(const Policy& policy) {
  auto s = std::make_unique<SpaState>();
  for (const CompiledSpa& c : policy.spa()) {
    std::unique_ptr<SpaVerifier> v;
    if (!c.disabled) {
      KG_ASSIGN_OR_RETURN(v, SpaVerifier::Create(c.keys, c.checks));
    }
    s->verifiers.push_back(std::move(v));
    // verify-rate a second, a second's worth at once.
    s->budget_rates.push_back(
        RateSpec::Of(c.verify_rate, kNanosPerSecond, c.verify_rate, false, 1));
  }
  s->budgets.resize(policy.spa().size());
  s->counters.resize(policy.spa().size());
  return s;
}

}  // namespace knockgate
