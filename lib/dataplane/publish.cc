// Policy publication: a reload is built on a control thread, offered to every
// worker by the main lcore, and retired after an RCU grace period, so no
// worker ever reads freed memory and no event is formatted with the wrong
// policy.
#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/control_cpus.h"
#include "common/status_macros.h"
#include "dataplane/dataplane.h"
#include "policy/reload_check.h"

namespace knockgate {

absl::Status Dataplane::StartReload(ReloadBuilder build, ReloadDone done) {
  if (reload_in_flight()) {
    return absl::UnavailableError("a reload is still in progress");
  }
  reload_.phase = ReloadPhase::kBuilding;
  reload_.done = std::move(done);
  reload_.built.store(false, std::memory_order_relaxed);
  reload_.started_tsc = rte_rdtsc();
  reload_.longest_gap_tsc = 0;
  reload_.builder = std::thread([this, build = std::move(build)] {
    PlaceControlThread("kg-reload");
    reload_.result = PrepareReload(build);
    reload_.build_tsc = rte_rdtsc() - reload_.started_tsc;
    reload_.built.store(true, std::memory_order_release);
  });
  return absl::OkStatus();
}

absl::StatusOr<Dataplane::PreparedReload> Dataplane::PrepareReload(
    const ReloadBuilder& build) const {
  KG_ASSIGN_OR_RETURN(ReloadPlan plan, build(*policy_));
  if (plan.config == nullptr) {
    return absl::InternalError("a reload plan without the config its policy came from");
  }
  // The one decision (reload_check.h): applied whole, or refused whole.
  const RunningTables tables{!workers_.empty() && workers_[0]->conntrack() != nullptr,
                             !workers_.empty() && workers_[0]->dst_limits() != nullptr};
  if (const std::vector<std::string> restart =
          RestartNeeded(*running_config_, *policy_, *plan.config, *plan.policy, tables);
      !restart.empty()) {
    return absl::FailedPreconditionError(RestartLine(restart));
  }
  // Everything a worker needs is built here, so switching allocates nothing.
  PreparedReload out;
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto u = std::make_unique<PolicyUpdate>();
    u->generation = generation_ + 1;
    u->policy = plan.policy;
    u->rule_counters.resize(plan.policy->rules().size());
    u->limits.resize(plan.policy->rules().size());
    if (plan.policy->layer7_database() != nullptr) {
      KG_ASSIGN_OR_RETURN(u->layer7, HyperscanScanner::Create(*plan.policy->layer7_database()));
    }
    if (!plan.policy->spa().empty()) {
      KG_ASSIGN_OR_RETURN(u->spa, SpaState::Create(*plan.policy));
    }
    out.updates.push_back(std::move(u));
  }
  out.policy = std::move(plan.policy);
  out.config = std::move(plan.config);
  out.message = std::move(plan.message);
  return out;
}

void Dataplane::PollReload(const MainLoopHooks& hooks) {
  if (reload_.phase == ReloadPhase::kBuilding) {
    if (!reload_.built.load(std::memory_order_acquire)) {
      return;
    }
    reload_.builder.join();
    if (!reload_.result.ok()) {
      reload_.phase = ReloadPhase::kIdle;
      reload_.done(reload_.result.status(), "");
      return;
    }
    // Publish: each worker takes its update at its next tick.
    ++generation_;
    policies_[generation_] = reload_.result->policy;
    pending_blocks_ = {};
    for (const auto& u : reload_.result->updates) {  // their buffers stay put in the swap
      pending_blocks_.rules.emplace_back(u->rule_counters);
      pending_blocks_.spa.emplace_back(u->spa != nullptr
                                           ? std::span<const SpaCounters>(u->spa->counters)
                                           : std::span<const SpaCounters>());
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->Offer(reload_.result->updates[i].get());
    }
    reload_.token = rte_rcu_qsbr_start(qsbr_);
    reload_.phase = ReloadPhase::kGrace;
    return;
  }
  if (reload_.phase != ReloadPhase::kGrace ||
      rte_rcu_qsbr_check(qsbr_, reload_.token, false) != 1) {
    return;
  }
  // Every worker has switched and flushed the events of the old policy, and
  // none holds a pointer into the updates offered before this one.
  DrainEvents(hooks);
  {
    std::lock_guard<std::mutex> lock(policy_mu_);
    policy_ = reload_.result->policy;
    published_generation_ = generation_;
  }
  running_config_ = reload_.result->config;
  std::erase_if(policies_, [&](const auto& p) { return p.first != generation_; });
  blocks_ = std::move(pending_blocks_);           // before the blocks they replace are freed below
  offered_ = std::move(reload_.result->updates);  // frees the previous reload's
  for (const auto& u : offered_) {
    // What the worker swapped out: the old policy, counters and scratch.
    u->policy.reset();
    u->layer7.reset();
    std::vector<RuleCounter>().swap(u->rule_counters);
    std::vector<TokenBucket>().swap(u->limits);
  }
  reload_.phase = ReloadPhase::kIdle;
  const double us_per_tsc = 1e6 / static_cast<double>(clock_.hz());
  reload_.done(absl::OkStatus(),
               absl::StrFormat("%s (built in %.1f ms on a control thread; longest main-loop "
                               "pause meanwhile %.0f us)",
                               reload_.result->message, reload_.build_tsc * us_per_tsc / 1000,
                               reload_.longest_gap_tsc * us_per_tsc));
}

void Dataplane::JoinReloadBuilder() {
  if (reload_.builder.joinable()) {
    reload_.builder.join();
  }
  if (reload_.phase != ReloadPhase::kIdle) {
    reload_.phase = ReloadPhase::kIdle;
    reload_.done(absl::AbortedError("the gateway stopped before the reload finished"), "");
  }
}

}  // namespace knockgate
