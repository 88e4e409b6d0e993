// The burst loop: receive, parse, classify, forward or free, per side; then
// housekeeping between bursts (list reclamation, events, idle backoff).
#include "dataplane/worker.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace knockgate {

static_assert(sizeof(Event) % 4 == 0, "rte_ring elements are multiples of 4 bytes");

namespace {

// Packets a worker takes at once under `policy`: their state changes fit
// one event buffer, so none is ever dropped on its way out.
uint16_t BurstLimit(const Policy& policy, uint32_t burst) {
  const uint32_t per = std::max<uint32_t>(policy.state_events_per_packet(), 1);
  return static_cast<uint16_t>(
      std::clamp<uint32_t>(static_cast<uint32_t>(EventBuffer::kStateCapacity) / per, 1, burst));
}

}  // namespace

Worker::Worker(uint16_t id, std::shared_ptr<const Policy> policy, const DataplaneConfig& config,
               const WorkerIo& io, const TscClock& clock, const std::atomic<bool>& stop,
               rte_rcu_qsbr* qsbr, std::unique_ptr<ClassifierShard> shard)
    : id_(id),
      policy_(std::move(policy)),
      config_(config),
      io_(io),
      clock_(clock),
      stop_(stop),
      qsbr_(qsbr),
      shard_(std::move(shard)),
      state_(shard_->state),
      burst_limit_(BurstLimit(*policy_, config.burst)) {}

Worker::~Worker() {
  rte_ring_free(events_ring_);
  rte_ring_free(state_ring_);
  rte_ring_free(shared_ring_);
  rte_ring_free(control_ring_);
}

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(
    uint16_t id, std::shared_ptr<const Policy> policy, const DataplaneConfig& config,
    const WorkerIo& io, const TscClock& clock, const std::atomic<bool>& stop, rte_rcu_qsbr* qsbr) {
  if (config.burst > kMaxBurst) {
    return absl::InvalidArgumentError(absl::StrCat("burst ", config.burst, " exceeds ", kMaxBurst));
  }
  if (int rc = rte_rcu_qsbr_thread_register(qsbr, id); rc != 0) {
    return absl::InternalError(absl::StrCat(
        "worker ", id, ": cannot register for grace periods: ", rte_strerror(rte_errno)));
  }
  KG_ASSIGN_OR_RETURN(std::unique_ptr<ClassifierShard> shard,
                      ClassifierShard::Create(*policy, static_cast<uint8_t>(id)));
  std::unique_ptr<Worker> w(
      new Worker(id, policy, config, io, clock, stop, qsbr, std::move(shard)));
  w->handoffs_ = std::make_unique<ControlRequest[]>(kHandoffSlots);
  w->state_.steering = io.steering;
  w->state_.steer_hash = w->steer_hash_;
  const std::string ring_name = absl::StrCat("kg_events_", id);
  w->events_ring_ = rte_ring_create_elem(ring_name.c_str(), sizeof(Event), kEventRing,
                                         SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  w->state_ring_ = rte_ring_create_elem(absl::StrCat("kg_state_", id).c_str(), sizeof(Event),
                                        kStateRing, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  w->shared_ring_ = rte_ring_create_elem(absl::StrCat("kg_shared_", id).c_str(), sizeof(Event),
                                         4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (w->events_ring_ == nullptr || w->state_ring_ == nullptr || w->shared_ring_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("worker ", id, ": cannot create its event ring: ", rte_strerror(rte_errno)));
  }
  w->control_ring_ = rte_ring_create(absl::StrCat("kg_control_", id).c_str(), kControlRing,
                                     SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (w->control_ring_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("worker ", id, ": cannot create its control ring: ", rte_strerror(rte_errno)));
  }
  return w;
}

uint16_t Worker::Receive(Side side, rte_mbuf** pkts, uint16_t max) {
  const int s = static_cast<int>(side);
  if (io_.in[s] != nullptr) {
    return static_cast<uint16_t>(
        rte_ring_dequeue_burst(io_.in[s], reinterpret_cast<void**>(pkts), max, nullptr));
  }
  return rte_eth_rx_burst(io_.port[s], io_.rx_queue[s], pkts, max);
}

bool Worker::HasStateRoom() {
  if (state_room_ >= EventBuffer::kStateCapacity) [[likely]] {
    return true;
  }
  state_room_ = rte_ring_free_count(state_ring_);
  return state_room_ >= EventBuffer::kStateCapacity;
}

uint16_t Worker::Transmit(Side side, rte_mbuf** pkts, uint16_t n) {
  const int s = static_cast<int>(side);
  if (io_.out[s] != nullptr) {
    return static_cast<uint16_t>(
        rte_ring_enqueue_burst(io_.out[s], reinterpret_cast<void**>(pkts), n, nullptr));
  }
  return rte_eth_tx_burst(io_.port[s], io_.tx_queue[s], pkts, n);
}

uint16_t Worker::ProcessBurst(Side side, std::span<rte_mbuf*> pkts, Nanos now) {
  const Policy& policy = *policy_;
  const InterfaceList in = ToInterfaceList(side);
  const uint64_t start = rte_rdtsc();
  uint16_t n_fwd = 0;
  uint16_t n_drop = 0;
  uint16_t n_away = 0;
  for (size_t i = 0; i < pkts.size(); ++i) {
    frames_[i] =
        std::span<const uint8_t>(rte_pktmbuf_mtod(pkts[i], const uint8_t*), pkts[i]->data_len);
    rte_prefetch0(frames_[i].data());
  }
  ClassifyBurst(policy, state_, std::span(frames_, pkts.size()), std::span(parsed_, pkts.size()),
                std::span(decisions_, pkts.size()), in, now);
  if (!state_.spa_handoffs.empty()) [[unlikely]] {
    PostHandoffs();
  }
  for (size_t i = 0; i < pkts.size(); ++i) {
    const Decision& d = decisions_[i];
    if (d.verdict == Verdict::kAccept) {
      fwd_[n_fwd++] = pkts[i];
    } else if (d.reason == DropReason::kMissteered) [[unlikely]] {
      HandOver(side, pkts[i], io_.steering->Owner(steer_hash_[i]));
      ++n_away;
    } else {
      drop_[n_drop++] = pkts[i];
      ++drop_counts_[static_cast<size_t>(d.reason)];
    }
  }
  counters_.classify_cycles.Add(rte_rdtsc() - start);
  counters_.classified.Add(pkts.size() - n_away);
  if (io_.check_rss_hash) {
    CheckRssHashes(pkts);
  }

  const uint16_t sent = n_fwd == 0 ? 0 : Transmit(Other(side), fwd_, n_fwd);
  if (sent < n_fwd) {
    // Whatever the queue did not take is still ours to free.
    rte_pktmbuf_free_bulk(fwd_ + sent, n_fwd - sent);
    drop_counts_[static_cast<size_t>(DropReason::kTxFull)] += n_fwd - sent;
  }
  if (n_drop > 0) {
    rte_pktmbuf_free_bulk(drop_, n_drop);
  }
  counters_.tx[static_cast<int>(Other(side))].Add(sent);
  FlushEvents();  // the next burst's state changes find the buffer empty
  return sent;
}

void Worker::HandOver(Side side, rte_mbuf* m, uint16_t owner) {
  rte_ring* ring = io_.handover[owner * kSides + static_cast<int>(side)];
  if (rte_ring_mp_enqueue(ring, m) != 0) {
    rte_pktmbuf_free(m);
    ++drop_counts_[static_cast<size_t>(DropReason::kHandoverFull)];
    return;
  }
  counters_.missteered.Add(1);
}

void Worker::CheckRssHashes(std::span<rte_mbuf* const> pkts) {
  uint64_t mismatched = 0;
  for (size_t i = 0; i < pkts.size(); ++i) {
    const ParsedPacket& p = parsed_[i];
    const DropReason r = decisions_[i].reason;
    // steer_hash_ holds the WAN-side address's hash for every IP packet that
    // parsed; an ICMP error's is the quoted address's, which the NIC cannot see.
    const bool hashed = p.family != Family::kNone && !p.icmp_error && !IsParseReason(r);
    if (hashed && (pkts[i]->ol_flags & RTE_MBUF_F_RX_RSS_HASH) != 0 &&
        pkts[i]->hash.rss != steer_hash_[i]) {
      ++mismatched;
    }
  }
  if (mismatched != 0) {
    counters_.rss_mismatch.Add(mismatched);
  }
}

void Worker::FlushEvents() {
  const std::span<const Event> events = state_.events.events();
  // In runs of one class, in order, each to its ring.
  for (size_t i = 0, j = 0; i < events.size(); i = j) {
    const bool state = events[i].state;
    for (j = i + 1; j < events.size() && events[j].state == state; ++j) {
    }
    const unsigned n = static_cast<unsigned>(j - i);
    const unsigned queued = rte_ring_enqueue_burst_elem(state ? state_ring_ : events_ring_,
                                                        &events[i], sizeof(Event), n, nullptr);
    if (state) {
      state_room_ -= std::min(state_room_, queued);
    }
    if (queued != n) [[unlikely]] {
      (state ? counters_.state_events_lost : counters_.events_lost).Add(n - queued);
    }
  }
  state_.events.Clear();
  const std::span<const Event> shared = state_.shared_changes.events();
  if (!shared.empty()) [[unlikely]] {
    const unsigned queued = rte_ring_enqueue_burst_elem(
        shared_ring_, shared.data(), sizeof(Event), static_cast<unsigned>(shared.size()), nullptr);
    counters_.shared_lost.Add(shared.size() - queued);
    state_.shared_changes.Clear();
  }
}

bool Worker::ApplyListChange(bool add, const IpAddress& address, ListId list, Nanos timeout,
                             EventOrigin origin, Nanos now) {
  AddressTable& lists = *shard_->lists;
  if (list >= policy_->lists().size()) {
    return false;  // a reload took the list away meanwhile
  }
  const bool changed =
      add ? lists.Add(address, list, now, timeout) != AddressTable::AddResult::kKept
          : lists.Remove(address, list, now);
  // A restore of a million entries is one line in the log, not a million
  // events crowding out the ring (list_control.h).
  if (changed && origin != EventOrigin::kState) {
    Event e;
    e.type = add ? EventType::kListAdd : EventType::kListRemove;
    e.origin = origin;
    e.worker = static_cast<uint8_t>(id_);
    e.generation = state_.generation;
    e.list = list;
    e.address = address;
    e.timeout = timeout;
    e.at = now;
    Emit(*policy_, state_, e);
    if (origin == EventOrigin::kCtl) {  // [sync] passes on operators' changes, not its own
      NoteIfShared(*policy_, state_, e);
    }
  }
  return changed;
}

bool Worker::Post(ControlRequest* r) { return rte_ring_mp_enqueue(control_ring_, r) == 0; }

void Worker::SetPeers(std::span<Worker* const> peers, const SteeringTable* owners) {
  peers_.assign(peers.begin(), peers.end());
  state_.spa_owners = peers_.size() > 1 ? owners : nullptr;
}

void Worker::PostHandoffs() {
  size_t slot = 0;
  for (const SpaHandoff& h : state_.spa_handoffs.items()) {
    while (slot < kHandoffSlots && handoff_posted_[slot] &&
           !handoffs_[slot].done.load(std::memory_order_acquire)) {
      ++slot;
    }
    if (slot == kHandoffSlots || h.owner >= peers_.size()) {
      RefuseSpaHandoff(state_, h);
      continue;
    }
    ControlRequest& r = handoffs_[slot];
    r.kind = ControlRequest::Kind::kSpaGrant;
    r.spa = h;
    r.done.store(false, std::memory_order_relaxed);
    handoff_posted_[slot] = peers_[h.owner]->Post(&r);
    if (!handoff_posted_[slot]) {
      RefuseSpaHandoff(state_, h);
    }
  }
  state_.spa_handoffs.Clear();
}

void Worker::ServeControl(Nanos now) {
  // One request at a time, each only with room for its state changes (a
  // kListApply makes up to kDumpChunk): the rest wait on the ring.
  void* posted = nullptr;
  for (unsigned i = 0;
       i < kControlPerTick && HasStateRoom() && rte_ring_sc_dequeue(control_ring_, &posted) == 0;
       ++i) {
    auto* r = static_cast<ControlRequest*>(posted);
    AddressTable& lists = *shard_->lists;
    switch (r->kind) {
      case ControlRequest::Kind::kListAdd:
      case ControlRequest::Kind::kListRemove: {
        const bool add = r->kind == ControlRequest::Kind::kListAdd;
        r->changed = ApplyListChange(add, r->address, r->list, r->timeout, r->origin, now);
        break;
      }
      case ControlRequest::Kind::kListApply:
        r->changed = false;
        for (size_t k = 0; k < r->count; ++k) {
          const ControlRequest::Entry& en = r->entries[k];
          if (!en.remove && en.expiry != kNever && en.expiry <= now) {
            continue;  // expired on its way
          }
          r->changed |=
              ApplyListChange(!en.remove, en.address, en.list,
                              en.expiry == kNever ? kNever : en.expiry - now, r->origin, now);
        }
        break;
      case ControlRequest::Kind::kSpaReplayDump:
        r->count = 0;
        if (shard_->spa != nullptr) {
          r->cursor = shard_->spa->replay.Dump(
              r->cursor, ControlRequest::kDigestChunk, state_.wall_offset + now,
              [r](const SpaReplayCache::Slot& s) { r->digests[r->count++] = s; });
        }
        r->more = shard_->spa != nullptr && r->cursor < SpaReplayCache::kCapacity;
        break;
      case ControlRequest::Kind::kSpaReplayRestore:
        r->changed = false;
        for (size_t k = 0; shard_->spa != nullptr && k < r->count; ++k) {
          const SpaReplayCache::Slot& s = r->digests[k];
          r->changed |= shard_->spa->replay.Insert(s.digest, s.expiry, state_.wall_offset + now,
                                                   s.address) == SpaReplayCache::Result::kNew;
        }
        break;
      case ControlRequest::Kind::kSpaGrant:
        ApplySpaHandoff(*policy_, state_, r->spa, now);
        break;
      case ControlRequest::Kind::kListDump:
        r->count = 0;
        r->cursor = lists.DumpList(r->list, r->cursor, ControlRequest::kDumpChunk, now,
                                   [r](const IpAddress& a, Nanos expiry) {
                                     r->entries[r->count++] = {a, expiry};
                                   });
        r->more = r->cursor < lists.stats(r->list).size;
        break;
    }
    FlushEvents();
    r->now = now;
    r->done.store(true, std::memory_order_release);
  }
}

void Worker::MaybeSwitchPolicy() {
  PolicyUpdate* u = update_.load(std::memory_order_acquire);
  if (u == nullptr || u->generation == state_.generation) {
    return;
  }
  // Events of the old policy leave first: they carry its generation, and the
  // control plane keeps that policy until it has formatted them.
  FlushEvents();
  // Swaps, not copies: the worker allocates and frees nothing here.
  std::swap(policy_, u->policy);
  state_.generation = u->generation;
  burst_limit_ = BurstLimit(*policy_, config_.burst);
  if (shard_->conntrack) {
    shard_->conntrack->SetTimeouts(policy_->conntrack());
  }
  state_.dst_limits = policy_->uses_dst_limit() ? shard_->dst_limits.get() : nullptr;
  if (u->spa != nullptr) {
    if (shard_->spa == nullptr) {
      std::swap(shard_->spa, u->spa);
    } else {  // new sections, the same replay cache
      std::swap(shard_->spa->verifiers, u->spa->verifiers);
      std::swap(shard_->spa->budgets, u->spa->budgets);
      std::swap(shard_->spa->budget_rates, u->spa->budget_rates);
      std::swap(shard_->spa->counters, u->spa->counters);
    }
  }
  state_.spa = policy_->spa().empty() ? nullptr : shard_->spa.get();
  std::swap(state_.rule_counters, u->rule_counters);
  std::swap(state_.limits, u->limits);
  if (u->layer7 != nullptr || policy_->layer7_database() == nullptr) {
    std::swap(shard_->layer7, u->layer7);
  }
  state_.layer7 = policy_->layer7_database() != nullptr ? shard_->layer7.get() : nullptr;
}

int Worker::Run() {
  uint32_t idle_polls = 0;
  uint64_t events_dropped_seen = 0;
  uint64_t shared_dropped_seen = 0;
  uint64_t state_dropped_seen = 0;
  rte_ring* const* handover = io_.handover != nullptr ? io_.handover + id_ * kSides : nullptr;
  rte_rcu_qsbr_thread_online(qsbr_, id_);
  while (!stop_.load(std::memory_order_relaxed)) {
    const Nanos now = clock_.Now();
    state_.wall_offset = clock_.unix_offset();  // follows CLOCK_REALTIME (clock.h)
    uint32_t received = 0;
    for (Side side : {Side::kWan, Side::kLan}) {
      // A state change is never dropped: with no room for a burst's, take
      // no packets (they wait in the NIC's queue) until the main lcore reads.
      if (!HasStateRoom()) [[unlikely]] {
        counters_.state_stalls.Add(1);
        break;
      }
      const uint16_t n = Receive(side, rx_, burst_limit_);
      if (n != 0) {
        received += n;
        counters_.rx[static_cast<int>(side)].Add(n);
        ProcessBurst(side, std::span<rte_mbuf*>(rx_, n), now);
      }
      if (handover != nullptr && HasStateRoom()) {
        const uint16_t h = static_cast<uint16_t>(
            rte_ring_sc_dequeue_burst(handover[static_cast<int>(side)],
                                      reinterpret_cast<void**>(rx_), burst_limit_, nullptr));
        if (h != 0) {
          received += h;
          counters_.handed_in.Add(h);
          ProcessBurst(side, std::span<rte_mbuf*>(rx_, h), now);
        }
      }
    }
    if (received != 0) {
      for (size_t r = 0; r < kDropReasonCount; ++r) {
        if (drop_counts_[r] != 0) {
          counters_.drops[r].Add(drop_counts_[r]);
          drop_counts_[r] = 0;
        }
      }
      if (state_.events.dropped() != events_dropped_seen) {
        counters_.events_lost.Add(state_.events.dropped() - events_dropped_seen);
        events_dropped_seen = state_.events.dropped();
      }
      if (state_.events.state_dropped() != state_dropped_seen) [[unlikely]] {
        counters_.state_events_lost.Add(state_.events.state_dropped() - state_dropped_seen);
        state_dropped_seen = state_.events.state_dropped();
      }
      if (state_.shared_changes.dropped() != shared_dropped_seen) [[unlikely]] {
        counters_.shared_lost.Add(state_.shared_changes.dropped() - shared_dropped_seen);
        shared_dropped_seen = state_.shared_changes.dropped();
      }
      idle_polls = 0;
    } else if (++idle_polls >= kIdlePollsBeforeSleep && config_.idle_sleep != 0) {
      // Share a small host politely: nothing arrived for a while.
      rte_delay_us_sleep(std::max<unsigned>(1, static_cast<unsigned>(config_.idle_sleep / 1000)));
      counters_.idle_sleeps.Add(1);
    }
    MaybeSwitchPolicy();
    ServeControl(now);
    counters_.loops.Add(1);
    rte_rcu_qsbr_quiescent(qsbr_, id_);  // holds no reference into an offered update
    shard_->Reclaim(now, kReclaimStep, policy_.get());
    if (!state_.events.events().empty()) [[unlikely]] {
      FlushEvents();  // expiries a [[hook]] watches
    }
  }
  ServeControl(clock_.Now());  // a requester never waits on a stopped worker's ring
  FlushEvents();
  rte_rcu_qsbr_thread_offline(qsbr_, id_);
  return 0;
}

}  // namespace knockgate
