// Dataplane assembly and the main lcore's loop. Everything that can fail does
// so in Create, before a single packet moves.
#include "dataplane/dataplane.h"

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <ctime>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace knockgate {
namespace {

constexpr unsigned kRingSize = 1024;
constexpr unsigned kMempoolCache = 256;

int LaunchWorker(void* arg) { return static_cast<Worker*>(arg)->Run(); }

absl::StatusOr<rte_ring*> CreateRing(const std::string& name, unsigned flags) {
  rte_ring* r = rte_ring_create(name.c_str(), kRingSize, static_cast<int>(rte_socket_id()), flags);
  if (r == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create ring ", name, ": ", rte_strerror(rte_errno)));
  }
  return r;
}

}  // namespace

Dataplane::Dataplane(const Config& config, std::shared_ptr<const Policy> policy)
    : config_(config),
      running_config_(std::make_shared<const Config>(config)),
      policy_(std::move(policy)) {
  policies_[0] = policy_;
}

absl::StatusOr<std::unique_ptr<Dataplane>> Dataplane::Create(const Config& config,
                                                             std::shared_ptr<const Policy> policy) {
  std::unique_ptr<Dataplane> dp(new Dataplane(config, std::move(policy)));
  KG_RETURN_IF_ERROR(dp->Setup());
  return dp;
}

absl::Status Dataplane::Setup() {
  const DataplaneConfig& dc = config_.dataplane;
  const uint16_t workers = static_cast<uint16_t>(dc.workers);
  const std::string names[kSides] = {config_.interfaces.wan, config_.interfaces.lan};
  for (int s = 0; s < kSides; ++s) {
    if (names[s].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("[interfaces] ", s == 0 ? "wan" : "lan", " is not set"));
    }
    KG_ASSIGN_OR_RETURN(ports_[s], ProbePort(names[s]));
  }
  if (ports_[0].port_id == ports_[1].port_id) {
    return absl::InvalidArgumentError("[interfaces] wan and lan name the same port");
  }

  // lcores: the main one plus one per worker.
  for (unsigned lcore = rte_get_next_lcore(-1, 1, 0); lcore < RTE_MAX_LCORE;
       lcore = rte_get_next_lcore(lcore, 1, 0)) {
    lcores_.push_back(lcore);
  }
  if (lcores_.size() < workers) {
    return absl::InvalidArgumentError(
        absl::StrCat(workers, " workers need ", workers + 1,
                     " lcores (the main one and one per worker); EAL has ", rte_lcore_count(),
                     ": give more with -l or --lcores (e.g. --lcores 0@0,1@1,2@1)"));
  }
  lcores_.resize(workers);
  KG_RETURN_IF_ERROR(ChooseSteering(workers));

  // Mempool: every RX descriptor can hold an mbuf, and so can every TX
  // descriptor, every ring slot, each lcore's cache and each burst in flight.
  const bool rss = mode_ == SteeringMode::kRss;
  const uint16_t queues = rss ? workers : 1;
  const uint64_t rings =
      mode_ == SteeringMode::kDispatcher ? 2ull * kSides * workers : (rss ? kSides * workers : 0);
  const uint64_t needed = 2ull * kSides * queues * kDescriptorsPerQueue + rings * kRingSize +
                          (workers + 1ull) * (kMempoolCache + 3ull * dc.burst);
  if (dc.mbufs < needed) {
    return absl::InvalidArgumentError(
        absl::StrCat("[dataplane] mbufs = ", dc.mbufs, " is too small for ", workers,
                     " workers in this mode: ", "at least ", needed, " are needed"));
  }
  pool_ = rte_pktmbuf_pool_create("kg_mbufs", dc.mbufs, kMempoolCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                  static_cast<int>(rte_socket_id()));
  if (pool_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create a mempool of ", dc.mbufs, " mbufs: ", rte_strerror(rte_errno),
                     " (lower [dataplane] mbufs or give EAL more memory with -m)"));
  }

  for (int s = 0; s < kSides; ++s) {
    PortSetup setup;
    setup.rx_queues = queues;
    setup.tx_queues = queues;
    setup.rss = hash_offload_ ? steering_.get() : nullptr;
    setup.side = static_cast<Side>(s);
    KG_RETURN_IF_ERROR(StartPort(ports_[s], setup, pool_, names[s]));
    port_started_[s] = true;
  }

  const size_t qsbr_size = rte_rcu_qsbr_get_memsize(workers);
  qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("kg_qsbr", qsbr_size, RTE_CACHE_LINE_SIZE));
  if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, workers) != 0) {
    return absl::ResourceExhaustedError("cannot allocate the reload grace-period state");
  }

  io_.resize(workers);
  steer_buf_.assign(static_cast<size_t>(workers) * dc.burst, nullptr);
  steer_counts_.assign(workers, 0);
  if (rss && workers > 1) {
    for (uint16_t w = 0; w < workers; ++w) {
      for (int s = 0; s < kSides; ++s) {
        KG_ASSIGN_OR_RETURN(rte_ring * r,
                            CreateRing(absl::StrCat("kg_hand_", w, "_", s), RING_F_SC_DEQ));
        handover_.push_back(r);
      }
    }
  }
  for (uint16_t w = 0; w < workers; ++w) {
    WorkerIo& io = io_[w];
    if (!handover_.empty()) {
      io.handover = handover_.data();
      io.steering = steering_.get();
      io.check_rss_hash = hash_offload_ && ports_[0].rss_hash_offload && ports_[1].rss_hash_offload;
    }
    for (int s = 0; s < kSides; ++s) {
      io.port[s] = ports_[s].port_id;
      io.rx_queue[s] = rss ? w : 0;
      io.tx_queue[s] = rss ? w : 0;
      if (mode_ != SteeringMode::kDispatcher) {
        continue;
      }
      KG_ASSIGN_OR_RETURN(
          io.in[s], CreateRing(absl::StrCat("kg_in_", w, "_", s), RING_F_SP_ENQ | RING_F_SC_DEQ));
      rings_.push_back(io.in[s]);
      KG_ASSIGN_OR_RETURN(
          io.out[s], CreateRing(absl::StrCat("kg_out_", w, "_", s), RING_F_SP_ENQ | RING_F_SC_DEQ));
      rings_.push_back(io.out[s]);
    }
    KG_ASSIGN_OR_RETURN(std::unique_ptr<Worker> worker,
                        Worker::Create(w, policy_, dc, io, clock_, stop_, qsbr_));
    workers_.push_back(std::move(worker));
  }
  std::vector<Worker*> peers;
  for (const auto& w : workers_) {
    peers.push_back(w.get());
  }
  for (const auto& w : workers_) {
    w->SetPeers(peers, steering_.get());
  }
  return absl::OkStatus();
}

Dataplane::~Dataplane() {
  StopWorkers();
  JoinReloadBuilder();
  for (int s = 0; s < kSides; ++s) {
    if (port_started_[s]) {
      StopPort(ports_[s].port_id);
    }
  }
  for (const std::vector<rte_ring*>* rings : {&rings_, &handover_}) {
    for (rte_ring* r : *rings) {
      // Anything still queued goes back to the pool before the ring goes.
      void* m;
      while (rte_ring_dequeue(r, &m) == 0) {
        rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
      }
      rte_ring_free(r);
    }
  }
  workers_.clear();
  rte_free(qsbr_);
  rte_mempool_free(pool_);
}

absl::Status Dataplane::Launch() {
  // The counter blocks workers start with (a reload brings others).
  for (const auto& w : workers_) {
    blocks_.rules.emplace_back(w->rule_counters());
    blocks_.spa.emplace_back(w->spa() != nullptr ? std::span<const SpaCounters>(w->spa()->counters)
                                                 : std::span<const SpaCounters>());
  }
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_ = Collect();  // for a request before the main loop runs
  }
  for (size_t w = 0; w < workers_.size(); ++w) {
    if (int rc = rte_eal_remote_launch(LaunchWorker, workers_[w].get(), lcores_[w]); rc != 0) {
      stop_.store(true);
      rte_eal_mp_wait_lcore();
      return absl::InternalError(absl::StrCat("cannot launch worker ", w, " on lcore ", lcores_[w],
                                              ": ", rte_strerror(-rc)));
    }
  }
  launched_ = true;
  return absl::OkStatus();
}

void Dataplane::StopWorkers() {
  if (!launched_) {
    return;
  }
  stop_.store(true, std::memory_order_relaxed);
  rte_eal_mp_wait_lcore();
  launched_ = false;
}

void Dataplane::RunMain(const MainLoopHooks& hooks) {
  const uint64_t check_every = clock_.hz() / 1000;  // ~1 ms
  uint64_t next_check = 0;
  Nanos next_stats = hooks.stats_interval ? clock_.Now() + hooks.stats_interval : kNever;
  Nanos next_clock_tick = 0;
  uint32_t idle = 0;
  uint64_t last_pass = rte_rdtsc();
  for (;;) {
    const uint32_t moved = mode_ == SteeringMode::kDispatcher ? PollDispatcher() : 0;
    const uint64_t tsc = rte_rdtsc();
    if (reload_in_flight()) {
      reload_.longest_gap_tsc = std::max(reload_.longest_gap_tsc, tsc - last_pass);
    }
    last_pass = tsc;
    if (tsc >= next_check) {
      next_check = tsc + check_every;
      DrainEvents(hooks);
      PollReload(hooks);
      AnswerCounters(false);
      if (hooks.should_stop()) {
        break;
      }
      // Unix time follows CLOCK_REALTIME within a second of a step.
      if (clock_.Now() >= next_clock_tick) {
        clock_.Tick();
        next_clock_tick = clock_.Now() + kClockTick;
      }
      // Rotating knocks: each period's ports are in place a period before
      // it begins, in every generation a worker may still read.
      for (const auto& [generation, policy] : policies_) {
        if (policy->rotation() != nullptr) {
          policy->rotation()->Advance(clock_.UnixNow());
        }
      }
      if (clock_.Now() >= next_stats && hooks.on_stats) {
        hooks.on_stats();
        next_stats = clock_.Now() + hooks.stats_interval;
      }
    }
    if (moved == 0 && ++idle >= Worker::kIdlePollsBeforeSleep) {
      const Nanos sleep = mode_ == SteeringMode::kDispatcher ? config_.dataplane.idle_sleep
                                                             : 1'000'000;  // nothing else to do
      if (sleep != 0) {
        rte_delay_us_sleep(std::max<unsigned>(1, static_cast<unsigned>(sleep / 1000)));
      }
    } else if (moved != 0) {
      idle = 0;
    }
  }
  StopWorkers();
  if (mode_ == SteeringMode::kDispatcher) {
    PollDispatcher();  // flush what workers passed on their way out
  }
  DrainEvents(hooks);
  // A reload still building or in its grace period is abandoned: a worker
  // that stopped first never switched, and the report reads its policy.
  JoinReloadBuilder();
  AnswerCounters(true);  // the last counters, for whoever asks until exit
}

absl::Status Dataplane::Ask(uint16_t w, ControlRequest& r, Nanos timeout) const {
  if (w >= workers_.size() || !launched_ || stop_.load(std::memory_order_relaxed)) {
    return absl::UnavailableError("the dataplane is not running");
  }
  r.done.store(false, std::memory_order_relaxed);
  if (!workers_[w]->Post(&r)) {
    return absl::UnavailableError(absl::StrCat("worker ", w, "'s control ring is full"));
  }
  const Nanos deadline = clock_.Now() + timeout;
  while (!r.done.load(std::memory_order_acquire)) {
    if (clock_.Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("worker ", w, " did not answer"));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return absl::OkStatus();
}

size_t Dataplane::DrainEvents(const MainLoopHooks& hooks) {
  Event batch[64];
  size_t total = 0;
  auto drain = [&](rte_ring* ring, const std::function<void(const Policy&, const Event&)>& to) {
    unsigned n;
    while ((n = rte_ring_dequeue_burst_elem(ring, batch, sizeof(Event), 64, nullptr)) > 0) {
      for (unsigned i = 0; i < n; ++i) {
        const auto p = policies_.find(batch[i].generation);
        // Every generation a worker can still stamp is kept (publish.cc).
        if (p != policies_.end() && to) {
          to(*p->second, batch[i]);
        }
      }
      total += n;
    }
  };
  // State changes first: a worker waits for room on that ring.
  for (const auto& w : workers_) {
    drain(w->shared_ring(), hooks.on_shared_change);
    drain(w->state_ring(), hooks.on_event);
    drain(w->event_ring(), hooks.on_event);
  }
  return total;
}

}  // namespace knockgate
