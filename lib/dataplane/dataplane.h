// The appliance's dataplane: ports, mempool, steering (RSS or dispatcher),
// workers on their lcores, policy publication, and the main lcore's loop.
// Its member functions live in one file per job: dataplane.cc (assembly),
// steering.cc (who gets which packet), publish.cc (hot reload), report.cc
// (the start-up line and counters).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/counters.h"
#include "dataplane/port.h"
#include "dataplane/worker.h"
#include "policy/policy.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_rcu_qsbr;

namespace knockgate {

enum class SteeringMode : uint8_t {
  kSingle,      // one worker: it owns queue 0 of each port
  kRss,         // each worker owns RX queue i; the port (or its feeder) steers
  kDispatcher,  // the main lcore reads queue 0 and spreads packets over rings
};

struct MainLoopHooks {
  std::function<bool()> should_stop;  // polled about every millisecond
  // Each worker event, in arrival order, with the policy that made it.
  std::function<void(const Policy&, const Event&)> on_event;
  // Each change of a [sync] shared list (a rule's or SPA's add or refresh, a
  // ctl add or removal), from the workers' rings of their own.
  std::function<void(const Policy&, const Event&)> on_shared_change;
  std::function<void()> on_stats = nullptr;  // every stats_interval, if set
  Nanos stats_interval = 0;
};

// What a reload's builder returns: the new policy, and the line to print once
// every worker runs it.
struct ReloadPlan {
  std::shared_ptr<const Policy> policy;
  std::shared_ptr<const Config> config;  // the one `policy` was compiled from
  std::string message;
};
// Runs on a control thread, given the running policy (which stays put while
// a reload is in flight). Loads and compiles; never touches worker state.
using ReloadBuilder = std::function<absl::StatusOr<ReloadPlan>(const Policy& running)>;
// Called on the main lcore when the reload has ended: the error that kept the
// running policy, or the plan's message with timings appended.
using ReloadDone = std::function<void(const absl::Status& status, const std::string& message)>;

class Dataplane {
 public:
  // EAL must be up. Probes both ports, picks the steering mode, creates the
  // mempool, rings and workers, and starts the ports. Fails with one clear
  // message on anything missing: a port, lcores, memory, a queue.
  static absl::StatusOr<std::unique_ptr<Dataplane>> Create(const Config& config,
                                                           std::shared_ptr<const Policy> policy);
  ~Dataplane();

  // Starts every worker on its lcore.
  absl::Status Launch();
  // Runs the main lcore's loop (dispatcher, events, reloads, stats) until
  // hooks.should_stop() is true, then stops and joins the workers and drains
  // their last events.
  void RunMain(const MainLoopHooks& hooks);
  void StopWorkers();

  // Hot reload, main lcore only. `build` runs on a control thread, and so
  // does preparing what each worker needs (counters, layer-7 scratch); the
  // main lcore keeps dispatching. RunMain then offers the new policy to every
  // worker, which switches between two bursts; once all have passed a
  // quiescent point (rte_rcu_qsbr) and their old events are drained, the old
  // policy is released and `done` is called. List entries and flows stay. A
  // policy whose lists or capacities the tables cannot follow is refused
  // (`done` says why). Fails at once if a reload is still in flight.
  absl::Status StartReload(ReloadBuilder build, ReloadDone done);
  bool reload_in_flight() const { return reload_.phase != ReloadPhase::kIdle; }

  // Main lcore only: every counter now, in one snapshot (counters.h).
  std::shared_ptr<const CounterSnapshot> Collect() const;
  // Any thread: a snapshot the main lcore collects after this call (within
  // about a millisecond). Waits at most a second; then, or once the gateway
  // has stopped, the last one there is.
  std::shared_ptr<const CounterSnapshot> Counters() const;

  // One line saying how packets reach workers, for the start-up log.
  std::string ModeLine() const;
  // Main lcore only: per-port, per-worker, per-drop-reason, per-rule,
  // per-list and per-SPA-section counters, rendered from Collect().
  std::string CountersReport() const;

  SteeringMode mode() const { return mode_; }
  size_t worker_count() const { return workers_.size(); }
  const Worker& worker(size_t i) const { return *workers_[i]; }
  uint16_t port_id(Side side) const { return ports_[static_cast<int>(side)].port_id; }
  const TscClock& clock() const { return clock_; }
  // The running policy (main lcore, or a reload's builder).
  const Policy& policy() const { return *policy_; }
  // The running policy, from any thread (control threads).
  std::shared_ptr<const Policy> policy_snapshot() const {
    std::lock_guard<std::mutex> lock(policy_mu_);
    return policy_;
  }
  uint64_t policy_generation() const {
    std::lock_guard<std::mutex> lock(policy_mu_);
    return published_generation_;
  }
  const Config& config() const { return config_; }
  // The worker whose shard holds `address` (a WAN-side address).
  uint16_t OwnerOf(const IpAddress& address) const {
    return steering_ ? steering_->OwnerOf(address) : 0;
  }
  // Control threads: posts `r` to worker `w` and waits for its answer, at
  // most `timeout` (a worker answers between two bursts, within about a
  // millisecond). On a timeout `r` stays the worker's: the caller must leak it.
  absl::Status Ask(uint16_t w, ControlRequest& r, Nanos timeout = 2 * kNanosPerSecond) const;
  // The worker that owns the WAN-side address of a frame arriving on `side`.
  uint16_t SteerFrame(Side side, std::span<const uint8_t> frame) const;

 private:
  // How often the main lcore re-samples the clock's offset to Unix time.
  static constexpr Nanos kClockTick = kNanosPerSecond / 2;
  enum class ReloadPhase : uint8_t { kIdle, kBuilding, kGrace };
  struct PreparedReload {
    std::shared_ptr<const Policy> policy;
    std::shared_ptr<const Config> config;
    std::string message;
    std::vector<std::unique_ptr<PolicyUpdate>> updates;  // one per worker
  };
  struct Reload {
    ReloadPhase phase = ReloadPhase::kIdle;
    std::thread builder;
    std::atomic<bool> built{false};  // builder: wo, main: ro
    absl::StatusOr<PreparedReload> result = absl::UnknownError("not built");
    ReloadDone done;
    uint64_t token = 0;  // the grace period that publication started
    uint64_t started_tsc = 0;
    uint64_t build_tsc = 0;
    uint64_t longest_gap_tsc = 0;  // between two passes of the main loop meanwhile
  };

  Dataplane(const Config& config, std::shared_ptr<const Policy> policy);
  absl::Status Setup();
  // steering.cc
  absl::Status ChooseSteering(uint16_t workers);
  uint32_t PollDispatcher();
  // publish.cc
  absl::StatusOr<PreparedReload> PrepareReload(const ReloadBuilder& build) const;
  void PollReload(const MainLoopHooks& hooks);
  void JoinReloadBuilder();
  size_t DrainEvents(const MainLoopHooks& hooks);
  // collect.cc: answers Counters() requests (main lcore, every check);
  // `final`: the workers have stopped, later requests need not wait.
  void AnswerCounters(bool final);

  const Config config_;  // as started
  // The config the running policy came from: what a reload compares with
  // (reload_check.h). Main lcore, and a reload's builder while it runs.
  std::shared_ptr<const Config> running_config_;
  mutable std::mutex policy_mu_;  // control threads read policy_; main writes it at a reload
  std::shared_ptr<const Policy> policy_;
  uint64_t published_generation_ = 0;  // policy_'s, under policy_mu_
  TscClock clock_;                     // main lcore ticks it; workers and control threads read it
  SteeringMode mode_ = SteeringMode::kSingle;
  std::string steering_note_;  // why this mode, for the start-up line
  bool hash_offload_ = false;  // the NICs steer by hash and report it
  std::unique_ptr<SteeringTable> steering_;
  PortCaps ports_[kSides];
  bool port_started_[kSides] = {false, false};
  rte_mempool* pool_ = nullptr;
  std::vector<rte_ring*> rings_;     // dispatcher mode: in/out per worker per side
  std::vector<rte_ring*> handover_;  // RSS mode: [worker * kSides + side]
  std::vector<WorkerIo> io_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<unsigned> lcores_;
  std::atomic<bool> stop_{false};  // datapath: ro, control: wo
  rte_rcu_qsbr* qsbr_ = nullptr;   // datapath: reports quiescence, control: checks
  bool launched_ = false;

  // Policy publication (main lcore only, but for the builder thread's part
  // of reload_). Generation g's policy stays in policies_ until no event
  // made under it can still arrive.
  uint64_t generation_ = 0;
  std::map<uint64_t, std::shared_ptr<const Policy>> policies_;
  // The updates workers were last offered: freed only after the next
  // reload's grace period, since a worker reads their generation each tick.
  std::vector<std::unique_ptr<PolicyUpdate>> offered_;
  Reload reload_;

  // Each worker's rule and SPA counter blocks of the published generation,
  // and those of a reload in its grace period (main lcore only): swapped at
  // the grace period's end, before the blocks they replace are freed.
  struct CounterBlocks {
    std::vector<std::span<const RuleCounter>> rules;  // per worker
    std::vector<std::span<const SpaCounters>> spa;    // per worker
  };
  CounterBlocks blocks_;
  CounterBlocks pending_blocks_;
  // Counters(): requests counted, snapshots published whole.
  mutable std::atomic<uint64_t> counters_asked_{0};
  mutable std::mutex counters_mu_;
  mutable std::condition_variable counters_cv_;
  std::shared_ptr<const CounterSnapshot> counters_;  // under counters_mu_
  uint64_t counters_answered_ = 0;                   // under counters_mu_
  bool counters_final_ = false;                      // under counters_mu_
  uint64_t answered_main_ = 0;                       // main lcore's copy of counters_answered_

  // Dispatcher burst buffers (main lcore only), allocated once in Setup.
  std::vector<rte_mbuf*> steer_buf_;  // per worker, `burst` slots
  std::vector<uint16_t> steer_counts_;
  // Dispatcher counters (main lcore only).
  uint64_t dispatched_[kSides] = {0, 0};
  uint64_t dispatch_drops_[kDropReasonCount] = {};
  uint64_t dispatch_tx_[kSides] = {0, 0};
};

}  // namespace knockgate
