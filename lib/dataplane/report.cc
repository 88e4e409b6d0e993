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
  const std::shared_ptr<const CounterSnapshot> snapshot = Collect();
  const CounterSnapshot& c = *snapshot;
  const Policy& policy = *c.policy;
  std::string out;
  for (int s = 0; s < kSides; ++s) {
    const CounterSnapshot::Port& p = c.ports[s];
    absl::StrAppend(
        &out, absl::StrFormat("port %s: rx=%d tx=%d rx_missed=%d rx_errors=%d tx_errors=%d\n",
                              SideName(static_cast<Side>(s)), p.rx, p.tx, p.rx_missed, p.rx_errors,
                              p.tx_errors));
  }
  for (size_t i = 0; i < c.workers.size(); ++i) {
    const CounterSnapshot::Worker& w = c.workers[i];
    absl::StrAppend(
        &out, absl::StrFormat("worker %d (lcore %d): rx wan=%d lan=%d, tx wan=%d lan=%d, "
                              "classified=%d, cycles/pkt=%.1f, missteered=%d, handed-in=%d, "
                              "rss-mismatch=%d, idle-sleeps=%d, events-lost=%d, "
                              "state-events-lost=%d, state-stalls=%d\n",
                              i, w.lcore, w.rx[0], w.rx[1], w.tx[0], w.tx[1], w.classified,
                              w.cycles_per_packet(), w.missteered, w.handed_in, w.rss_mismatch,
                              w.idle_sleeps, w.events_lost, w.state_events_lost, w.state_stalls));
  }
  if (const uint64_t shared_lost = c.Sum(&CounterSnapshot::Worker::shared_lost); shared_lost != 0) {
    absl::StrAppend(
        &out, "sync: ", shared_lost,
        " shared-list changes lost on full worker rings (the next resync heals Redis)\n");
  }
  std::string drop_line;
  for (size_t r = 1; r < kDropReasonCount; ++r) {
    if (c.drops[r] != 0) {
      absl::StrAppend(&drop_line, " ", kDropReasonNames[r], "=", c.drops[r]);
    }
  }
  absl::StrAppend(&out, "drops:", drop_line.empty() ? " none" : drop_line, "\n");
  for (size_t r = 0; r < c.rules.size(); ++r) {
    absl::StrAppend(&out, absl::StrFormat("rule %d: packets=%d bytes=%d%s\n", r, c.rules[r].packets,
                                          c.rules[r].bytes,
                                          policy.rules()[r].spec.disabled ? " (disabled)" : ""));
  }
  if (c.conntrack && policy.uses_conntrack()) {
    absl::StrAppend(&out, absl::StrFormat("conntrack: entries=%d created=%d evicted=%d\n", c.flows,
                                          c.flows_created, c.flows_evicted));
  }
  for (size_t l = 0; l < c.lists.size(); ++l) {
    absl::StrAppend(
        &out, absl::StrFormat("list %s: entries=%d added=%d evicted=%d\n", policy.lists()[l].name,
                              c.lists[l].entries, c.lists[l].added, c.lists[l].evicted));
  }
  for (size_t i = 0; i < c.spa.size(); ++i) {
    absl::StrAppend(&out, "spa ", policy.spa()[i].name, ": accepts=", c.spa[i].accepts,
                    " rejects:");
    for (size_t r = 1; r < kSpaRejectCount; ++r) {
      absl::StrAppend(&out, " ", SpaRejectName(static_cast<SpaReject>(r)), "=",
                      c.spa[i].rejects[r]);
    }
    out += "\n";
  }
  return out;
}

}  // namespace knockgate
