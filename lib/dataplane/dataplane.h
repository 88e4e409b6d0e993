// The appliance's dataplane: ports, mempool, steering (RSS or dispatcher),
// workers on their lcores, and the main lcore's share of the work.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/port.h"
#include "dataplane/worker.h"
#include "policy/policy.h"

struct rte_mbuf;
struct rte_mempool;

namespace knockgate {

enum class SteeringMode : uint8_t {
  kSingle,      // one worker: it owns queue 0 of each port
  kRss,         // each worker owns RX queue i; the port (or its feeder) steers
  kDispatcher,  // the main lcore reads queue 0 and spreads packets over rings
};

struct MainLoopHooks {
  std::function<bool()> should_stop;           // polled about every millisecond
  std::function<void(const Event&)> on_event;  // each worker event, in arrival order
  std::function<void()> on_stats = nullptr;    // every stats_interval, if set
  Nanos stats_interval = 0;
};

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
  // Runs the main lcore's loop (dispatcher, events, stats) until
  // hooks.should_stop() is true, then stops and joins the workers and drains
  // their last events.
  void RunMain(const MainLoopHooks& hooks);
  void StopWorkers();

  // Hot reload: publishes `next` to every worker, which switches between two
  // bursts; returns once all have (RCU-style quiescence), keeping every list
  // entry and flow. Refuses, keeping the running policy, a policy whose lists
  // or capacities differ in a way the tables cannot follow (those need a
  // restart). Main lcore only.
  absl::Status Reload(std::shared_ptr<const Policy> next);

  // One line saying how packets reach workers, for the start-up log.
  std::string ModeLine() const;
  // Per-port, per-worker, per-drop-reason counters; rule counters and list
  // sizes too once the workers have stopped.
  std::string CountersReport() const;

  SteeringMode mode() const { return mode_; }
  size_t worker_count() const { return workers_.size(); }
  const Worker& worker(size_t i) const { return *workers_[i]; }
  uint16_t port_id(Side side) const { return ports_[static_cast<int>(side)].port_id; }
  const TscClock& clock() const { return clock_; }
  const Policy& policy() const { return *policy_; }
  // The worker that owns the WAN-side address of a frame arriving on `side`.
  uint16_t SteerFrame(Side side, std::span<const uint8_t> frame) const;
  // Wall-clock nanoseconds (CLOCK_REALTIME) at TscClock's zero.
  Nanos wall_start() const { return wall_start_; }

 private:
  Dataplane(const Config& config, std::shared_ptr<const Policy> policy);
  absl::Status Setup();
  uint32_t PollDispatcher();
  size_t DrainEvents(const std::function<void(const Event&)>& sink);

  const Config config_;
  std::shared_ptr<const Policy> policy_;
  TscClock clock_;
  Nanos wall_start_ = 0;
  SteeringMode mode_ = SteeringMode::kSingle;
  bool hash_offload_ = false;
  PortCaps ports_[kSides];
  bool port_started_[kSides] = {false, false};
  rte_mempool* pool_ = nullptr;
  std::vector<rte_ring*> rings_;  // dispatcher mode: in/out per worker per side
  std::vector<WorkerIo> io_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<unsigned> lcores_;
  std::atomic<bool> stop_{false};                       // datapath: ro, control: wo
  uint64_t generation_ = 0;                             // of the last policy offered to workers
  std::vector<std::unique_ptr<PolicyUpdate>> updates_;  // one per worker, in flight
  bool launched_ = false;

  // Dispatcher burst buffers (main lcore only), allocated once in Setup.
  std::vector<rte_mbuf*> steer_buf_;  // per worker, `burst` slots
  std::vector<uint16_t> steer_counts_;
  // Dispatcher counters (main lcore only).
  uint64_t dispatched_[kSides] = {0, 0};
  uint64_t dispatch_drops_[kDropReasonCount] = {};
  uint64_t dispatch_tx_[kSides] = {0, 0};
};

}  // namespace knockgate
