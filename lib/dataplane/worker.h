// A worker lcore: owns one RX/TX queue per port (or a pair of rings from the
// dispatcher), the address-list shard of the WAN-side addresses steered to it,
// its counters and its event ring. Nothing in it is shared for writing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "classify/classifier_shard.h"
#include "dataplane/clock.h"
#include "dataplane/port.h"

struct rte_mbuf;
struct rte_rcu_qsbr;
struct rte_ring;

namespace knockgate {

// A counter with one writer: plain loads and stores (no read-modify-write),
// so the writer pays nothing and a reader on another lcore never sees a tear.
class Counter {
 public:
  void Add(uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// datapath: wo (once per burst), control: ro
struct alignas(64) WorkerCounters {
  Counter rx[kSides];
  Counter tx[kSides];
  Counter drops[kDropReasonCount];
  Counter classify_cycles;
  Counter classified;    // packets this worker owned and classified
  Counter missteered;    // arrived here, owned by another worker, handed over to it
  Counter handed_in;     // handed over to this worker by another
  Counter rss_mismatch;  // the NIC's hash differed from the software Toeplitz hash
  Counter events_lost;   // chatter (knock steps, log rules, SPA rejects) with no room
  Counter
      state_events_lost;  // state changes with no room: only past Policy::state_events_per_packet's
                          // bound (more than 1,024 add-* rules one packet can match)
  Counter state_stalls;   // polls skipped: the state-change ring had no room for a burst's
  Counter shared_lost;    // [sync]'s shared-list changes its ring could not take
  Counter idle_sleeps;
  Counter loops;  // a heartbeat: every pass of the loop, busy or idle (the watchdog reads it)
};

// Where a worker's packets come from and go to.
struct WorkerIo {
  uint16_t port[kSides] = {0, 0};
  uint16_t rx_queue[kSides] = {0, 0};
  uint16_t tx_queue[kSides] = {0, 0};
  // Dispatcher mode: packets arriving on a side come in on in[side]; packets
  // to transmit on a side go out on out[side]. Null in RSS mode.
  rte_ring* in[kSides] = {nullptr, nullptr};
  rte_ring* out[kSides] = {nullptr, nullptr};
  // RSS mode with several workers: every worker's hand-over rings (multi
  // producer, single consumer), [worker * kSides + side]; a packet that
  // arrived at the wrong worker goes to its owner's ring for its side.
  // Null otherwise.
  rte_ring* const* handover = nullptr;
  // The owner of each hash, set with `handover`.
  const SteeringTable* steering = nullptr;
  bool check_rss_hash = false;  // the ports deliver the NIC's hash
};

// A new policy and everything a worker needs to switch to it without
// allocating: built by the control plane, swapped in by the worker at a
// housekeeping tick, and afterwards holding the old ones for the control
// plane to free.
struct PolicyUpdate {
  uint64_t generation = 0;
  std::shared_ptr<const Policy> policy;
  std::vector<RuleCounter> rule_counters;
  std::vector<TokenBucket> limits;  // the new rules' limit buckets, full
  std::unique_ptr<Layer7Scanner> layer7;
  std::unique_ptr<SpaState> spa;  // the new sections' verifiers (the replay cache stays)
};

// A request from a control thread to one worker, answered between two
// bursts: only the worker touches its shard. The requester owns it, posts it
// with Worker::Post and waits for `done` (a worker handing over an SPA grant
// does not wait: it reuses the request once `done`); the worker allocates
// nothing.
struct ControlRequest {
  // kListApply: entries[0, count) added with their absolute expiry (or
  // removed), each in its own list: [sync]'s batches.
  // kSpaReplayDump, kSpaReplayRestore: the SPA replay cache's digests, for
  // the state file, in `digests`.
  enum class Kind : uint8_t {
    kListAdd,
    kListRemove,
    kListDump,
    kSpaGrant,
    kListApply,
    kSpaReplayDump,
    kSpaReplayRestore,
  };
  struct Entry {
    IpAddress address;
    Nanos expiry = 0;     // kNever: until removed or restart
    ListId list = 0;      // kListApply
    bool remove = false;  // kListApply
  };
  static constexpr size_t kDumpChunk = 512;
  static constexpr size_t kDigestChunk = 64;

  Kind kind = Kind::kListDump;
  EventOrigin origin = EventOrigin::kCtl;  // stamped on the events of what it changes
  ListId list = 0;
  IpAddress address;       // add, remove
  Nanos timeout = kNever;  // add
  size_t cursor = 0;       // dump: where to start; on return, where to go on
  SpaHandoff spa;          // spa grant: from the worker that verified it
  // Answers.
  bool changed = false;  // add: a new entry or a later expiry; remove: it was a member
  bool more = false;     // dump: entries remain past `cursor`
  size_t count = 0;      // dump: entries filled; apply: entries given
  Nanos now = 0;         // the worker's clock when it answered
  std::array<Entry, kDumpChunk> entries;
  std::array<SpaReplayCache::Slot, kDigestChunk> digests;
  std::atomic<bool> done{false};  // worker: wo (release), requester: ro (acquire)
};

class Worker {
 public:
  static constexpr uint16_t kMaxBurst = 512;
  static constexpr uint32_t kIdlePollsBeforeSleep = 256;
  static constexpr unsigned kControlRing = 64;    // requests waiting, a power of two
  static constexpr unsigned kControlPerTick = 4;  // answered between two bursts
  static constexpr size_t kHandoffSlots = 16;     // SPA grants on their way to other workers
  static constexpr unsigned kEventRing = 4096;    // chatter waiting for the main lcore
  static constexpr unsigned kStateRing = 16384;   // state changes waiting for it

  // Builds the worker's list shard, layer-7 scratch and event ring on the
  // control plane; nothing is allocated once Run starts.
  // `qsbr`: the grace-period variable this worker reports to, registered
  // with its id as thread id.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(
      uint16_t id, std::shared_ptr<const Policy> policy, const DataplaneConfig& config,
      const WorkerIo& io, const TscClock& clock, const std::atomic<bool>& stop, rte_rcu_qsbr* qsbr);
  ~Worker();

  // The lcore's main loop; returns when `stop` is set.
  int Run();

  // control: hands `update` to the worker; it switches between two bursts
  // and then reports a quiescent state on its grace-period variable. From
  // then on it reads only update->generation, and nothing of an update
  // offered earlier: the control plane frees an update only after a later
  // one's grace period.
  void Offer(PolicyUpdate* update) { update_.store(update, std::memory_order_release); }

  // control, any thread: queues `r` for the worker, which answers it between
  // two bursts (set r.done). False when the ring is full (64 waiting).
  bool Post(ControlRequest* r);

  uint16_t id() const { return id_; }
  const WorkerCounters& counters() const { return counters_; }
  rte_ring* event_ring() const { return events_ring_; }   // chatter
  rte_ring* state_ring() const { return state_ring_; }    // state changes (IsStateChange)
  rte_ring* shared_ring() const { return shared_ring_; }  // Events of shared-list changes
  // control: read only after the worker has stopped.
  const std::vector<RuleCounter>& rule_counters() const { return state_.rule_counters; }
  const AddressTable& lists() const { return *shard_->lists; }
  const ConnTable* conntrack() const { return shard_->conntrack.get(); }
  const DstLimitTable* dst_limits() const { return shard_->dst_limits.get(); }
  const FragTable* fragments() const { return shard_->fragments.get(); }
  const SpaState* spa() const { return shard_->spa.get(); }
  // Before Launch, with several workers: every worker by id, and who owns an
  // address, so that an SPA grant for another shard goes to its owner.
  void SetPeers(std::span<Worker* const> peers, const SteeringTable* owners);

 private:
  Worker(uint16_t id, std::shared_ptr<const Policy> policy, const DataplaneConfig& config,
         const WorkerIo& io, const TscClock& clock, const std::atomic<bool>& stop,
         rte_rcu_qsbr* qsbr, std::unique_ptr<ClassifierShard> shard);

  uint16_t Receive(Side side, rte_mbuf** pkts, uint16_t max);
  // Whether the state ring can take a whole burst's state changes (a
  // buffer's worth); reads the ring only when the room counted down runs low.
  bool HasStateRoom();
  // Classifies a burst that arrived on `side` and sends what passes to the
  // other side; hands what another worker owns to that worker. Returns how
  // many it forwarded.
  uint16_t ProcessBurst(Side side, std::span<rte_mbuf*> pkts, Nanos now);
  // Counts packets whose NIC hash differs from the software one.
  void CheckRssHashes(std::span<rte_mbuf* const> pkts);
  void HandOver(Side side, rte_mbuf* m, uint16_t owner);
  uint16_t Transmit(Side side, rte_mbuf** pkts, uint16_t n);
  // Sends the buffered events on, each class to its ring.
  void FlushEvents();
  // Answers what control threads and other workers posted, a few requests per tick.
  void ServeControl(Nanos now);
  // One add (for `timeout`) or removal in this worker's shard, with its event.
  bool ApplyListChange(bool add, const IpAddress& address, ListId list, Nanos timeout,
                       EventOrigin origin, Nanos now);
  // Posts this burst's SPA grants for other shards to their owners' control
  // rings, each in a free handoff slot; refuses (reason=budget) what finds none.
  void PostHandoffs();
  // Switches to an offered policy, if any (the RCU quiescent point).
  void MaybeSwitchPolicy();

  const uint16_t id_;
  std::shared_ptr<const Policy> policy_;
  std::atomic<PolicyUpdate*> update_{nullptr};  // datapath: ro, control: wo
  const DataplaneConfig config_;
  const WorkerIo io_;
  const TscClock& clock_;
  const std::atomic<bool>& stop_;  // datapath: ro, control: wo
  rte_rcu_qsbr* const qsbr_;       // datapath: reports quiescence, control: checks

  std::unique_ptr<ClassifierShard> shard_;
  ClassifierState& state_;            // shard_->state
  rte_ring* events_ring_ = nullptr;   // single producer (this worker), single consumer (main)
  rte_ring* state_ring_ = nullptr;    // the same, for state changes
  rte_ring* shared_ring_ = nullptr;   // the same, for [sync]'s shared-list changes only
  uint32_t state_room_ = 0;           // free slots of state_ring_ at least
  uint16_t burst_limit_ = 1;          // packets at once: their state changes fit a buffer
  rte_ring* control_ring_ = nullptr;  // ControlRequest*: many producers, this worker consumes
  WorkerCounters counters_;
  std::vector<Worker*> peers_;  // by id; empty with one worker
  // Requests this worker posts to others (SPA handoffs); a slot is free once
  // its owner answered. Allocated in Create.
  std::unique_ptr<ControlRequest[]> handoffs_;
  bool handoff_posted_[kHandoffSlots] = {};

  // Burst buffers, members so that nothing is allocated per burst.
  rte_mbuf* rx_[kMaxBurst];
  rte_mbuf* fwd_[kMaxBurst];
  rte_mbuf* drop_[kMaxBurst];
  std::span<const uint8_t> frames_[kMaxBurst];
  ParsedPacket parsed_[kMaxBurst];
  Decision decisions_[kMaxBurst];
  uint32_t steer_hash_[kMaxBurst];
  uint64_t drop_counts_[kDropReasonCount] = {};
};

}  // namespace knockgate
