// The one factory for a worker's classifier state and its tables.
#include "classify/classifier_shard.h"

#include "common/status_macros.h"
#include "l7/hyperscan.h"

namespace knockgate {

absl::StatusOr<std::unique_ptr<ClassifierShard>> ClassifierShard::Create(const Policy& policy,
                                                                         uint8_t worker_id) {
  auto s = std::make_unique<ClassifierShard>();
  KG_ASSIGN_OR_RETURN(s->lists, AddressTable::Create(policy.ListCapacities()));
  if (policy.layer7_database() != nullptr) {
    KG_ASSIGN_OR_RETURN(s->layer7, HyperscanScanner::Create(*policy.layer7_database()));
  }
  if (policy.uses_conntrack()) {
    KG_ASSIGN_OR_RETURN(s->conntrack, ConnTable::Create(policy.conntrack()));
  }
  KG_ASSIGN_OR_RETURN(s->fragments, FragTable::Create());
  if (!policy.spa().empty()) {
    KG_ASSIGN_OR_RETURN(s->spa, SpaState::Create(policy));
  }
  if (policy.uses_dst_limit()) {
    KG_ASSIGN_OR_RETURN(s->dst_limits, DstLimitTable::Create(policy.dst_limit_capacity()));
  }
  s->state.lists = s->lists.get();
  s->state.layer7 = s->layer7.get();
  s->state.conntrack = s->conntrack.get();
  s->state.fragments = s->fragments.get();
  s->state.rule_counters.resize(policy.rules().size());
  s->state.limits.resize(policy.rules().size());
  s->state.dst_limits = s->dst_limits.get();
  s->state.spa = s->spa.get();
  s->state.worker_id = worker_id;
  return s;
}

void ClassifierShard::EmitExpired(const Policy& policy, Nanos now) {
  for (const AddressTable::Expired& x : lists->expired()) {
    Event e;
    e.type = EventType::kListExpire;
    e.worker = state.worker_id;
    e.generation = state.generation;
    e.origin = EventOrigin::kRule;
    e.list = x.list;
    e.address = x.address;
    e.at = now;
    Emit(policy, state, e);
  }
  lists->ClearExpired();
}

}  // namespace knockgate
