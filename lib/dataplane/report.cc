// What the operator reads: the start-up line saying how packets reach workers
// (and why), and the counters per port, worker, drop reason, rule and list.
#include <rte_ethdev.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dataplane/dataplane.h"

namespace knockgate {
namespace {

const char* SideName(Side s) { return s == Side::kWan ? "wan" : "lan"; }

}  // namespace

std::string Dataplane::ModeLine() const {
  const size_t n = workers_.size();
  std::string lcores;
  for (unsigned l : lcores_) {
    absl::StrAppend(&lcores, lcores.empty() ? "" : ",", l);
  }
  std::string out = absl::StrCat("dataplane: wan=", config_.interfaces.wan, " (", ports_[0].driver,
                                 ") lan=", config_.interfaces.lan, " (", ports_[1].driver, "), ", n,
                                 " worker(s) on lcore(s) ", lcores, ", steering: ");
  switch (mode_) {
    case SteeringMode::kSingle:
      absl::StrAppend(&out, "single worker (queue 0 of each port)");
      break;
    case SteeringMode::kRss:
      absl::StrAppend(
          &out,
          hash_offload_
              ? absl::StrCat("rss (the NICs hash the L3 source on WAN, destination on LAN, into ",
                             steering_->buckets(), " buckets; workers check and hand over)")
              : "rss queues without hash offload (the ports' feeder steers; workers check and "
                "hand over)");
      break;
    case SteeringMode::kDispatcher:
      absl::StrAppend(&out,
                      "dispatcher (one RX queue per port; the main lcore spreads packets "
                      "to workers by the hash of the WAN-side address)");
      break;
  }
  if (!steering_note_.empty()) {
    absl::StrAppend(&out, ": ", steering_note_);
  }
  return out;
}

std::string Dataplane::CountersReport() const {
  std::string out;
  for (int s = 0; s < kSides; ++s) {
    rte_eth_stats st{};
    rte_eth_stats_get(ports_[s].port_id, &st);
    absl::StrAppend(
        &out, absl::StrFormat("port %s: rx=%d tx=%d rx_missed=%d rx_errors=%d tx_errors=%d\n",
                              SideName(static_cast<Side>(s)), st.ipackets, st.opackets, st.imissed,
                              st.ierrors, st.oerrors));
  }
  uint64_t drops[kDropReasonCount] = {};
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    drops[r] = dispatch_drops_[r];
  }
  uint64_t shared_lost = 0;
  for (size_t i = 0; i < workers_.size(); ++i) {
    const WorkerCounters& c = workers_[i]->counters();
    const uint64_t classified = c.classified.Get();
    absl::StrAppend(&out,
                    absl::StrFormat("worker %d (lcore %d): rx wan=%d lan=%d, tx wan=%d lan=%d, "
                                    "classified=%d, cycles/pkt=%.1f, missteered=%d, handed-in=%d, "
                                    "rss-mismatch=%d, idle-sleeps=%d, events-lost=%d, "
                                    "state-events-lost=%d, state-stalls=%d\n",
                                    i, lcores_[i], c.rx[0].Get(), c.rx[1].Get(), c.tx[0].Get(),
                                    c.tx[1].Get(), classified,
                                    classified ? static_cast<double>(c.classify_cycles.Get()) /
                                                     static_cast<double>(classified)
                                               : 0.0,
                                    c.missteered.Get(), c.handed_in.Get(), c.rss_mismatch.Get(),
                                    c.idle_sleeps.Get(), c.events_lost.Get(),
                                    c.state_events_lost.Get(), c.state_stalls.Get()));
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      drops[r] += c.drops[r].Get();
    }
    shared_lost += c.shared_lost.Get();
  }
  if (shared_lost != 0) {
    absl::StrAppend(
        &out, "sync: ", shared_lost,
        " shared-list changes lost on full worker rings (the next resync heals Redis)\n");
  }
  std::string drop_line;
  for (size_t r = 1; r < kDropReasonCount; ++r) {
    if (drops[r] != 0) {
      absl::StrAppend(&drop_line, " ", kDropReasonNames[r], "=", drops[r]);
    }
  }
  absl::StrAppend(&out, "drops:", drop_line.empty() ? " none" : drop_line, "\n");
  if (!launched_) {
    const auto& rules = policy_->rules();
    for (size_t r = 0; r < rules.size(); ++r) {
      uint64_t packets = 0;
      uint64_t bytes = 0;
      for (const auto& w : workers_) {
        if (r < w->rule_counters().size()) {  // a worker stopped before a reload reached it
          packets += w->rule_counters()[r].packets;
          bytes += w->rule_counters()[r].bytes;
        }
      }
      absl::StrAppend(&out, absl::StrFormat("rule %d: packets=%d bytes=%d%s\n", r, packets, bytes,
                                            rules[r].spec.disabled ? " (disabled)" : ""));
    }
    uint64_t flows = 0;
    uint64_t created = 0;
    uint64_t evicted = 0;
    for (const auto& w : workers_) {
      if (const ConnTable* ct = w->conntrack()) {
        flows += ct->stats().size;
        created += ct->stats().created;
        evicted += ct->stats().evicted;
      }
    }
    if (policy_->uses_conntrack()) {
      absl::StrAppend(&out, absl::StrFormat("conntrack: entries=%d created=%d evicted=%d\n", flows,
                                            created, evicted));
    }
    const auto& lists = policy_->lists();
    for (size_t l = 0; l < lists.size(); ++l) {
      uint64_t size = 0;
      uint64_t added = 0;
      uint64_t evicted = 0;
      for (const auto& w : workers_) {
        const auto& st = w->lists().stats(static_cast<ListId>(l));
        size += st.size;
        added += st.added;
        evicted += st.evicted;
      }
      absl::StrAppend(&out, absl::StrFormat("list %s: entries=%d added=%d evicted=%d\n",
                                            lists[l].name, size, added, evicted));
    }
  }
  const std::vector<SpaCounters> spa = SpaTotals();
  for (size_t i = 0; i < spa.size() && i < policy_->spa().size(); ++i) {
    absl::StrAppend(&out, "spa ", policy_->spa()[i].name, ": accepts=", spa[i].accepts,
                    " rejects:");
    for (size_t r = 1; r < kSpaRejectCount; ++r) {
      absl::StrAppend(&out, " ", SpaRejectName(static_cast<SpaReject>(r)), "=", spa[i].rejects[r]);
    }
    out += "\n";
  }
  return out;
}

std::vector<SpaCounters> Dataplane::SpaTotals() const {
  std::vector<SpaCounters> total;
  for (const auto& w : workers_) {
    const SpaState* s = w->spa();
    if (s == nullptr) {
      continue;
    }
    total.resize(std::max(total.size(), s->counters.size()));
    for (size_t i = 0; i < s->counters.size(); ++i) {
      total[i].accepts += s->counters[i].accepts;
      for (size_t r = 0; r < kSpaRejectCount; ++r) {
        total[i].rejects[r] += s->counters[i].rejects[r];
      }
    }
  }
  return total;
}

}  // namespace knockgate
