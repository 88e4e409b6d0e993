// Dataplane assembly and the main lcore's loop. Everything that can fail does
// so in Create, before a single packet moves.
#include "dataplane/dataplane.h"

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <array>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "packet/parser.h"

namespace knockgate {
namespace {

constexpr unsigned kRingSize = 1024;
constexpr unsigned kMempoolCache = 256;

const char* SideName(Side s) { return s == Side::kWan ? "wan" : "lan"; }

Nanos WallNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<Nanos>(ts.tv_sec) * kNanosPerSecond + static_cast<Nanos>(ts.tv_nsec);
}

int LaunchWorker(void* arg) { return static_cast<Worker*>(arg)->Run(); }

// A minimal Ethernet + IPv4 frame from `src` to `dst`, for the start-up check.
std::array<uint8_t, 34> ProbeFrame(uint32_t src, uint32_t dst) {
  std::array<uint8_t, 34> f{};
  f[12] = 0x08;
  f[14] = 0x45;
  f[17] = 20;   // total length: the header alone
  f[22] = 64;   // TTL
  f[23] = 253;  // protocol: experimental, no L4 header to read
  for (int i = 0; i < 4; ++i) {
    f[26 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    f[30 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  return f;
}

}  // namespace

Dataplane::Dataplane(const Config& config, std::shared_ptr<const Policy> policy)
    : config_(config), policy_(std::move(policy)), wall_start_(WallNow()) {}

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
          absl::StrCat("[interfaces] ", SideName(static_cast<Side>(s)), " is not set"));
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

  auto queues_ok = [&](int s) {
    return ports_[s].max_rx_queues >= workers && ports_[s].max_tx_queues >= workers;
  };
  if (workers == 1) {
    mode_ = SteeringMode::kSingle;
  } else if (dc.steering == Steering::kDispatcher) {
    mode_ = SteeringMode::kDispatcher;
  } else if (dc.steering == Steering::kRss) {
    for (int s = 0; s < kSides; ++s) {
      if (!queues_ok(s)) {
        return absl::InvalidArgumentError(
            absl::StrCat("steering = \"rss\" needs ", workers, " rx and tx queues on port ",
                         names[s], " (", ports_[s].driver, " offers ", ports_[s].max_rx_queues,
                         " rx, ", ports_[s].max_tx_queues, " tx); use steering = \"dispatcher\""));
      }
    }
    mode_ = SteeringMode::kRss;
  } else {
    const bool rss = ports_[0].rss_l3 && ports_[1].rss_l3 && queues_ok(0) && queues_ok(1);
    mode_ = rss ? SteeringMode::kRss : SteeringMode::kDispatcher;
  }
  hash_offload_ = mode_ == SteeringMode::kRss && ports_[0].rss_l3 && ports_[1].rss_l3;

  // Mempool: every RX descriptor can hold an mbuf, and so can every TX
  // descriptor, every ring slot, each lcore's cache and each burst in flight.
  const uint16_t queues = mode_ == SteeringMode::kRss ? workers : 1;
  const uint64_t rings = mode_ == SteeringMode::kDispatcher ? 2ull * kSides * workers : 0;
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
    setup.rss = hash_offload_;
    setup.side = static_cast<Side>(s);
    setup.workers = workers;
    KG_RETURN_IF_ERROR(StartPort(ports_[s], setup, pool_, names[s]));
    port_started_[s] = true;
  }

  io_.resize(workers);
  steer_buf_.assign(static_cast<size_t>(workers) * dc.burst, nullptr);
  steer_counts_.assign(workers, 0);
  for (uint16_t w = 0; w < workers; ++w) {
    WorkerIo& io = io_[w];
    for (int s = 0; s < kSides; ++s) {
      io.port[s] = ports_[s].port_id;
      io.rx_queue[s] = mode_ == SteeringMode::kRss ? w : 0;
      io.tx_queue[s] = mode_ == SteeringMode::kRss ? w : 0;
      if (mode_ != SteeringMode::kDispatcher) {
        continue;
      }
      for (const char* dir : {"in", "out"}) {
        const std::string name = absl::StrCat("kg_", dir, "_", w, "_", s);
        rte_ring* r = rte_ring_create(name.c_str(), kRingSize, static_cast<int>(rte_socket_id()),
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (r == nullptr) {
          return absl::ResourceExhaustedError(
              absl::StrCat("cannot create ring ", name, ": ", rte_strerror(rte_errno)));
        }
        rings_.push_back(r);
        (std::string(dir) == "in" ? io.in[s] : io.out[s]) = r;
      }
    }
    KG_ASSIGN_OR_RETURN(std::unique_ptr<Worker> worker,
                        Worker::Create(w, policy_, dc, io, clock_, stop_));
    workers_.push_back(std::move(worker));
  }

  // The same address must land on the same worker whichever port it crosses:
  // as the source of a WAN frame and as the destination of a LAN frame. Check
  // it through the steering path itself, for a spread of addresses.
  if (mode_ != SteeringMode::kSingle) {
    for (uint32_t i = 0; i < 64; ++i) {
      const uint32_t remote = 0xC6336400u + i * 2654435761u;
      const uint32_t local = 0xC000020Au;
      if (SteerFrame(Side::kWan, ProbeFrame(remote, local)) !=
          SteerFrame(Side::kLan, ProbeFrame(local, remote))) {
        return absl::InternalError(
            absl::StrCat("steering check failed: ", IpAddress::V4(remote).ToString(),
                         " hashes to different workers on WAN and LAN"));
      }
    }
  }
  return absl::OkStatus();
}

Dataplane::~Dataplane() {
  StopWorkers();
  for (int s = 0; s < kSides; ++s) {
    if (port_started_[s]) {
      StopPort(ports_[s].port_id);
    }
  }
  for (rte_ring* r : rings_) {
    // Anything still queued goes back to the pool before the ring goes.
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) {
      rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    }
    rte_ring_free(r);
  }
  workers_.clear();
  rte_mempool_free(pool_);
}

absl::Status Dataplane::Launch() {
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

uint16_t Dataplane::SteerFrame(Side side, std::span<const uint8_t> frame) const {
  ParsedPacket pkt;
  if (ParsePacket(frame, pkt) != DropReason::kNone || pkt.family == Family::kNone) {
    return 0;  // malformed and non-IP frames: worker 0 counts or bridges them
  }
  // An ICMP error belongs with the flow it quotes (the router that sent it
  // is not the WAN-side end of that flow).
  const IpAddress& wan_side = pkt.icmp_error ? (side == Side::kWan ? pkt.inner_dst : pkt.inner_src)
                                             : (side == Side::kWan ? pkt.src : pkt.dst);
  return WorkerForHash(SteeringHash(wan_side), static_cast<uint16_t>(workers_.size()));
}

uint32_t Dataplane::PollDispatcher() {
  const uint16_t workers = static_cast<uint16_t>(workers_.size());
  const uint16_t burst = static_cast<uint16_t>(config_.dataplane.burst);
  rte_mbuf* pkts[Worker::kMaxBurst];
  rte_mbuf** const per_worker = steer_buf_.data();  // workers x burst, sized in Setup
  uint16_t* const counts = steer_counts_.data();
  uint32_t moved = 0;
  for (int s = 0; s < kSides; ++s) {
    const Side side = static_cast<Side>(s);
    const uint16_t n = rte_eth_rx_burst(ports_[s].port_id, 0, pkts, burst);
    if (n > 0) {
      std::fill(counts, counts + workers, 0);
      for (uint16_t i = 0; i < n; ++i) {
        const std::span<const uint8_t> frame(rte_pktmbuf_mtod(pkts[i], const uint8_t*),
                                             pkts[i]->data_len);
        const uint16_t w = SteerFrame(side, frame);
        per_worker[w * burst + counts[w]++] = pkts[i];
      }
      for (uint16_t w = 0; w < workers; ++w) {
        if (counts[w] == 0) {
          continue;
        }
        const unsigned queued = rte_ring_enqueue_burst(
            io_[w].in[s], reinterpret_cast<void**>(per_worker + w * burst), counts[w], nullptr);
        if (queued < counts[w]) {
          rte_pktmbuf_free_bulk(per_worker + w * burst + queued, counts[w] - queued);
          dispatch_drops_[static_cast<size_t>(DropReason::kRingFull)] += counts[w] - queued;
        }
      }
      dispatched_[s] += n;
      moved += n;
    }
    // What workers passed for this side leaves through its single TX queue.
    for (uint16_t w = 0; w < workers; ++w) {
      const unsigned got =
          rte_ring_dequeue_burst(io_[w].out[s], reinterpret_cast<void**>(pkts), burst, nullptr);
      if (got == 0) {
        continue;
      }
      const uint16_t sent =
          rte_eth_tx_burst(ports_[s].port_id, 0, pkts, static_cast<uint16_t>(got));
      if (sent < got) {
        rte_pktmbuf_free_bulk(pkts + sent, got - sent);
        dispatch_drops_[static_cast<size_t>(DropReason::kTxFull)] += got - sent;
      }
      dispatch_tx_[s] += sent;
      moved += got;
    }
  }
  return moved;
}

size_t Dataplane::DrainEvents(const std::function<void(const Event&)>& sink) {
  Event batch[64];
  size_t total = 0;
  for (const auto& w : workers_) {
    unsigned n;
    while ((n = rte_ring_dequeue_burst_elem(w->event_ring(), batch, sizeof(Event), 64, nullptr)) >
           0) {
      for (unsigned i = 0; i < n; ++i) {
        sink(batch[i]);
      }
      total += n;
    }
  }
  return total;
}

void Dataplane::RunMain(const MainLoopHooks& hooks) {
  const uint64_t check_every = clock_.hz() / 1000;  // ~1 ms
  uint64_t next_check = 0;
  Nanos next_stats = hooks.stats_interval ? clock_.Now() + hooks.stats_interval : kNever;
  uint32_t idle = 0;
  for (;;) {
    const uint32_t moved = mode_ == SteeringMode::kDispatcher ? PollDispatcher() : 0;
    const uint64_t tsc = rte_rdtsc();
    if (tsc >= next_check) {
      next_check = tsc + check_every;
      DrainEvents(hooks.on_event);
      if (hooks.should_stop()) {
        break;
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
  DrainEvents(hooks.on_event);
}

absl::Status Dataplane::Reload(std::shared_ptr<const Policy> next) {
  const std::vector<ListInfo>& now_lists = policy_->lists();
  const std::vector<ListInfo>& next_lists = next->lists();
  if (next_lists.size() > now_lists.size()) {
    return absl::FailedPreconditionError(absl::StrCat("address list \"",
                                                      next_lists[now_lists.size()].name,
                                                      "\" is new: adding lists needs a restart"));
  }
  for (size_t i = 0; i < next_lists.size(); ++i) {
    if (next_lists[i].capacity != now_lists[i].capacity) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the capacity of list \"", next_lists[i].name, "\" changed (", now_lists[i].capacity,
          " -> ", next_lists[i].capacity, "): capacities need a restart"));
    }
  }
  if (next->uses_conntrack() && !workers_.empty() && workers_[0]->conntrack() == nullptr) {
    return absl::FailedPreconditionError(
        "connection-state rules appear: connection tracking needs a restart to start");
  }
  // Everything a worker needs is built here, so switching allocates nothing.
  ++generation_;
  updates_.clear();
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto u = std::make_unique<PolicyUpdate>();
    u->generation = generation_;
    u->policy = next;
    u->rule_counters.resize(next->rules().size());
    if (next->layer7_database() != nullptr) {
      KG_ASSIGN_OR_RETURN(u->layer7, HyperscanScanner::Create(*next->layer7_database()));
    }
    updates_.push_back(std::move(u));
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->Offer(updates_[i].get());
  }
  // Quiescence: every worker has switched (or none is running).
  const uint64_t deadline = rte_rdtsc() + clock_.hz() * 5;
  for (const auto& w : workers_) {
    while (launched_ && w->switched_generation() != generation_) {
      if (rte_rdtsc() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("worker ", w->id(), " did not take the new policy within 5 s"));
      }
      rte_pause();
    }
  }
  policy_ = std::move(next);
  for (const auto& w : workers_) {
    w->Offer(nullptr);
  }
  updates_.clear();  // the old policies, counters and scanners go here
  return absl::OkStatus();
}

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
      absl::StrAppend(&out, hash_offload_
                                ? "rss (the NICs hash the L3 source on WAN, destination on LAN)"
                                : "rss queues without hash offload (the ports' feeder steers)");
      break;
    case SteeringMode::kDispatcher:
      absl::StrAppend(&out,
                      "dispatcher (one RX queue per port; the main lcore spreads packets "
                      "to workers by the hash of the WAN-side address)");
      break;
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
  for (size_t i = 0; i < workers_.size(); ++i) {
    const WorkerCounters& c = workers_[i]->counters();
    const uint64_t classified = c.classified.Get();
    absl::StrAppend(
        &out, absl::StrFormat("worker %d (lcore %d): rx wan=%d lan=%d, tx wan=%d lan=%d, "
                              "classified=%d, cycles/pkt=%.1f, idle-sleeps=%d, events-lost=%d\n",
                              i, lcores_[i], c.rx[0].Get(), c.rx[1].Get(), c.tx[0].Get(),
                              c.tx[1].Get(), classified,
                              classified ? static_cast<double>(c.classify_cycles.Get()) /
                                               static_cast<double>(classified)
                                         : 0.0,
                              c.idle_sleeps.Get(), c.events_lost.Get()));
    for (size_t r = 0; r < kDropReasonCount; ++r) {
      drops[r] += c.drops[r].Get();
    }
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
        packets += w->rule_counters()[r].packets;
        bytes += w->rule_counters()[r].bytes;
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
  return out;
}

}  // namespace knockgate
