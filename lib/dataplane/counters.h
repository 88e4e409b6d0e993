// One reading of every counter the gateway keeps, taken on the main lcore
// and published whole (Dataplane::Collect, Dataplane::Counters). The stop
// report, ctl stats, Prometheus metrics and DPDK telemetry all render from
// it, so they count the same things the same way.
//
// Why the main lcore: a reload swaps each worker's rule and SPA counter
// blocks for new ones, and only the main lcore frees the old ones, after the
// grace period. It reads the blocks of the published generation, which stay
// allocated until it switches to the next ones itself. Other threads get an
// immutable snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "classify/classifier.h"
#include "classify/frag_table.h"
#include "classify/spa_state.h"
#include "dataplane/port.h"
#include "packet/drop_reason.h"
#include "policy/policy.h"

namespace knockgate {

struct CounterSnapshot {
  struct Port {
    uint64_t rx = 0, tx = 0, rx_missed = 0, rx_errors = 0, tx_errors = 0;
  };
  struct Worker {
    unsigned lcore = 0;
    uint64_t rx[kSides] = {0, 0};
    uint64_t tx[kSides] = {0, 0};
    uint64_t classified = 0;
    uint64_t classify_cycles = 0;
    uint64_t missteered = 0;  // handed over to their owner
    uint64_t handed_in = 0;
    uint64_t rss_mismatch = 0;
    uint64_t idle_sleeps = 0;
    uint64_t events_lost = 0;        // chatter
    uint64_t state_events_lost = 0;  // state changes (never, within the policy's bound)
    uint64_t state_stalls = 0;
    uint64_t shared_lost = 0;  // [sync]'s shared-list changes
    double cycles_per_packet() const {
      return classified == 0
                 ? 0.0
                 : static_cast<double>(classify_cycles) / static_cast<double>(classified);
    }
  };
  struct List {
    uint64_t entries = 0;   // members, expired ones not yet reclaimed included
    uint64_t capacity = 0;  // all workers
    uint64_t added = 0;
    uint64_t evicted = 0;
  };

  uint64_t generation = 0;
  std::shared_ptr<const Policy> policy;  // of `generation`: names rules, lists, sections
  Port ports[kSides];
  std::vector<Worker> workers;
  std::array<uint64_t, kDropReasonCount> drops{};  // the dispatcher's and every worker's
  std::vector<RuleCounter> rules;                  // per rule of `policy`, all workers
  std::vector<List> lists;                         // per list of `policy`
  bool conntrack = false;                          // a connection table runs
  uint64_t flows = 0, flows_created = 0, flows_evicted = 0;
  FragTable::Stats fragments;
  std::vector<SpaCounters> spa;  // per [[spa]] section of `policy`

  // Sums over the workers.
  uint64_t Sum(uint64_t Worker::*field) const {
    uint64_t n = 0;
    for (const Worker& w : workers) {
      n += w.*field;
    }
    return n;
  }
};

}  // namespace knockgate
