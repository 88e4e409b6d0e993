// The counter collector: one snapshot of everything, read on the main lcore
// from the blocks of the published generation, published whole to any
// thread that asks (counters.h).
#include <rte_ethdev.h>

#include <chrono>

#include "common/counter_word.h"
#include "dataplane/dataplane.h"

namespace knockgate {

std::shared_ptr<const CounterSnapshot> Dataplane::Collect() const {
  auto s = std::make_shared<CounterSnapshot>();
  s->generation = published_generation_;  // policy_'s: written by this thread only
  s->policy = policy_;
  const Policy& policy = *policy_;
  for (int side = 0; side < kSides; ++side) {
    rte_eth_stats st{};
    rte_eth_stats_get(ports_[side].port_id, &st);
    s->ports[side] = {st.ipackets, st.opackets, st.imissed, st.ierrors, st.oerrors};
  }
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    s->drops[r] = dispatch_drops_[r];
  }
  s->rules.resize(policy.rules().size());
  s->lists.resize(policy.lists().size());
  s->spa.resize(policy.spa().size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    const Worker& w = *workers_[i];
    const WorkerCounters& c = w.counters();
    CounterSnapshot::Worker& row = s->workers.emplace_back();
    row.lcore = lcores_[i];
    for (int side = 0; side < kSides; ++side) {
      row.rx[side] = c.rx[side].Get();
      row.tx[side] = c.tx[side].Get();
    }
    row.classified = c.classified.Get();
    row.classify_cycles = c.classify_cycles.Get();
    row.missteered = c.missteered.Get();
    row.handed_in = c.handed_in.Get();
    row.rss_mismatch = c.rss_mismatch.Get();
    row.idle_sleeps = c.idle_sleeps.Get();
    row.events_lost = c.events_lost.Get();
    row.state_events_lost = c.state_events_lost.Get();
    row.state_stalls = c.state_stalls.Get();
    row.shared_lost = c.shared_lost.Get();
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      s->drops[r] += c.drops[r].Get();
    }
    if (i < blocks_.rules.size()) {
      const std::span<const RuleCounter> rules = blocks_.rules[i];
      for (size_t r = 0; r < rules.size() && r < s->rules.size(); ++r) {
        s->rules[r].packets += ReadCount(rules[r].packets);
        s->rules[r].bytes += ReadCount(rules[r].bytes);
      }
    }
    if (i < blocks_.spa.size()) {
      const std::span<const SpaCounters> spa = blocks_.spa[i];
      for (size_t k = 0; k < spa.size() && k < s->spa.size(); ++k) {
        s->spa[k].accepts += ReadCount(spa[k].accepts);
        for (size_t r = 0; r < kSpaRejectCount; ++r) {
          s->spa[k].rejects[r] += ReadCount(spa[k].rejects[r]);
        }
      }
    }
    const AddressTable& t = w.lists();
    for (size_t l = 0; l < s->lists.size() && l < t.list_count(); ++l) {
      const AddressTable::ListStats& st = t.stats(static_cast<ListId>(l));
      s->lists[l].entries += st.size;
      s->lists[l].added += st.added;
      s->lists[l].evicted += st.evicted;
    }
    if (const ConnTable* ct = w.conntrack()) {
      s->conntrack = true;
      s->flows += ct->stats().size;
      s->flows_created += ct->stats().created;
      s->flows_evicted += ct->stats().evicted;
    }
    if (const FragTable* f = w.fragments()) {
      s->fragments.firsts += f->stats().firsts;
      s->fragments.passed += f->stats().passed;
      s->fragments.dropped += f->stats().dropped;
      s->fragments.evicted += f->stats().evicted;
    }
  }
  for (size_t l = 0; l < s->lists.size(); ++l) {
    s->lists[l].capacity = uint64_t{policy.lists()[l].capacity} * workers_.size();
  }
  return s;
}

void Dataplane::AnswerCounters(bool final) {
  const uint64_t asked = counters_asked_.load(std::memory_order_acquire);
  if (!final && asked == answered_main_) {
    return;
  }
  answered_main_ = asked;
  std::shared_ptr<const CounterSnapshot> s = Collect();
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_ = std::move(s);
    counters_answered_ = asked;
    counters_final_ = counters_final_ || final;
  }
  counters_cv_.notify_all();
}

std::shared_ptr<const CounterSnapshot> Dataplane::Counters() const {
  std::unique_lock<std::mutex> lock(counters_mu_);
  if (counters_final_) {
    return counters_;
  }
  const uint64_t want = counters_asked_.fetch_add(1, std::memory_order_acq_rel) + 1;
  counters_cv_.wait_for(lock, std::chrono::seconds(1),
                        [&] { return counters_final_ || counters_answered_ >= want; });
  return counters_;
}

}  // namespace knockgate
