// One worker's classification state and the tables behind it, made in one
// place for the gateway's workers, --replay, the tests, the benchmark and the fuzzer.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "classify/classifier.h"

namespace knockgate {

struct ClassifierShard {
  // Sizes every table from `policy`: list capacities, the flow table (only
  // when a rule matches connection-state), a layer-7 scratch (only when the
  // policy has layer7 protocols), the fragment table. `state` points at them.
  static absl::StatusOr<std::unique_ptr<ClassifierShard>> Create(const Policy& policy,
                                                                 uint8_t worker_id = 0);

  std::unique_ptr<AddressTable> lists;
  std::unique_ptr<Layer7Scanner> layer7;
  std::unique_ptr<ConnTable> conntrack;
  std::unique_ptr<FragTable> fragments;
  std::unique_ptr<DstLimitTable> dst_limits;  // when a rule has a dst-limit
  std::unique_ptr<SpaState> spa;              // when the policy has [[spa]] sections
  ClassifierState state;

 private:
  void EmitExpired(const Policy& policy, Nanos now);

 public:
  // Reclaims expired list entries and flows, at most `budget` of each. With
  // `policy`, an expiry in a list its [[hook]]s watch becomes a list-expire
  // event (chatter: a mass expiry never stalls the worker).
  void Reclaim(Nanos now, size_t budget, const Policy* policy = nullptr) {
    const ListMask watch = policy != nullptr ? policy->expiry_watch() : 0;
    lists->Reclaim(now, budget, watch);
    if (!lists->expired().empty()) [[unlikely]] {
      EmitExpired(*policy, now);
    }
    if (conntrack) {
      conntrack->Reclaim(now, budget);
    }
  }
};

}  // namespace knockgate
