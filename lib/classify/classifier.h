// RouterOS filter semantics over a parsed packet: rules in order, passthrough
// list and log actions, terminal accept/drop, then the interface default.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "classify/dst_limit_table.h"
#include "classify/frag_table.h"
#include "classify/spa_state.h"
#include "conntrack/conn_table.h"
#include "l7/layer7.h"
#include "lists/address_table.h"
#include "packet/parser.h"
#include "packet/steering.h"
#include "policy/policy.h"

namespace knockgate {

struct Decision {
  Verdict verdict = Verdict::kDrop;
  DropReason reason = DropReason::kNone;  // kNone when forwarded
  int rule = kNoId;                       // the terminal rule, if one decided
};

enum class EventType : uint8_t {
  kListAdd,     // an address joined a list it was not in (knock step, grant, jail)
  kLog,         // a log rule, or a rule with log = true, matched
  kListRemove,  // knockgate ctl took an address out of a list
  kSpaGrant,    // an [[spa]] section granted an address (list = the grant list)
  kSpaReject,   // an [[spa]] section refused a packet (spa_reason says why)
  kListExpire,  // an entry of a list a [[hook]] watches for expiries expired
};

// Who made a list change: [sync] passes on only rule and ctl changes, so a
// change that came from another gateway (or from the state file) is not
// echoed back.
enum class EventOrigin : uint8_t { kRule, kCtl, kState, kSync };

// Produced on the data path as plain data; the control plane turns it into
// text with the policy of `generation`, the one whose rules made it.
struct Event {
  static constexpr uint16_t kNoRule = 0xFFFF;  // rule indices stop below it (kMaxRules)
  static constexpr uint8_t kNoList = 0xFF;
  EventType type = EventType::kLog;
  InterfaceList in = InterfaceList::kWan;
  uint8_t list = kNoList;  // kListAdd: the list joined
  uint8_t worker = 0;      // the worker whose shard holds the address
  uint8_t protocol = 0;
  uint8_t spa = 0;         // kSpaGrant, kSpaReject: the section
  uint8_t spa_reason = 0;  // kSpaReject: a SpaReject
  EventOrigin origin = EventOrigin::kRule;
  bool refresh = false;  // kListAdd: a member whose expiry moved later (shared lists only)
  bool state = false;    // a state change (IsStateChange), set by Emit
  uint16_t rule = kNoRule;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint64_t generation = 0;  // of the policy that made it
  Nanos at = 0;
  Nanos timeout = kNever;  // kListAdd: the list entry's timeout
  IpAddress address;       // kListAdd: the address added
  IpAddress src;
  IpAddress dst;
};

// Events come in two classes. State changes an operator acts on (a grant
// or jail: an add to a list that is no rule's step; an SPA grant; a removal;
// every change knockgate ctl or [sync] makes) travel on a path where they are
// never dropped: a worker takes no more packets than it has room for their
// events. Everything else is chatter (knock steps, log rules, SPA rejects):
// bounded, dropped and counted when its path is full.
inline bool IsStateChange(const Policy& policy, const Event& e) {
  switch (e.type) {
    case EventType::kSpaGrant:
    case EventType::kListRemove:
      return true;
    case EventType::kListAdd:
      return e.rule == Event::kNoRule || e.list >= policy.lists().size() ||
             !policy.lists()[e.list].step;
    case EventType::kLog:
    case EventType::kSpaReject:
    case EventType::kListExpire:  // chatter: a mass expiry must not stall a worker
      return false;
  }
  return false;
}

// Events of one burst, in order, drained by the caller between bursts. Each
// class has its own room: chatter that finds none is dropped and counted;
// state changes find room as long as the burst was sized to it
// (Policy::state_events_per_packet); past that they are counted apart.
class EventBuffer {
 public:
  static constexpr size_t kChatterCapacity = 256;
  static constexpr size_t kStateCapacity = 1024;
  void Push(const Event& e) {
    size_t& used = e.state ? state_ : chatter_;
    if (used < (e.state ? kStateCapacity : kChatterCapacity)) {
      ++used;
      events_[size_++] = e;
    } else {
      ++(e.state ? state_dropped_ : dropped_);
    }
  }
  std::span<const Event> events() const { return {events_.data(), size_}; }
  void Clear() { size_ = state_ = chatter_ = 0; }
  uint64_t dropped() const { return dropped_; }              // chatter
  uint64_t state_dropped() const { return state_dropped_; }  // never, with bursts sized to it

 private:
  std::array<Event, kChatterCapacity + kStateCapacity> events_;
  size_t size_ = 0;
  size_t state_ = 0;
  size_t chatter_ = 0;
  uint64_t dropped_ = 0;
  uint64_t state_dropped_ = 0;
};

// A verified SPA message whose grant belongs to another worker's shard (the
// address in it is not the packet's source: require-source-address = false).
// The verifying worker hands it over; the owner checks its replay cache and
// grants (ApplySpaHandoff). The same message always names the same address,
// so its replays always meet the same owner's cache, from any source.
struct SpaHandoff {
  uint16_t owner = 0;                // the worker whose shard holds event.address
  uint8_t section = 0;               // the [[spa]] section, of event.generation's policy
  std::array<uint8_t, 32> digest{};  // for the replay cache
  Nanos replay_until = 0;            // wall clock: until when the digest is kept
  Event event;  // the spa-grant as the verifier saw it (address, timeout, list)
};

// Handoffs of one burst, drained by the worker after it. Full: the message
// is refused (spa-reject reason=budget) rather than granted unchecked.
class HandoffBuffer {
 public:
  static constexpr size_t kCapacity = 32;
  bool Push(const SpaHandoff& h) {
    if (size_ == kCapacity) {
      return false;
    }
    items_[size_++] = h;
    return true;
  }
  std::span<const SpaHandoff> items() const { return {items_.data(), size_}; }
  bool empty() const { return size_ == 0; }
  void Clear() { size_ = 0; }

 private:
  std::array<SpaHandoff, kCapacity> items_;
  size_t size_ = 0;
};

// Whether a refresh of a shared list's member is worth telling the other
// gateways. The step is max(1 s, 1% of the timeout): the expiry is told
// each time it crosses into a later step, so a refresh that moves it by
// more than a step always is, and a stream of small refreshes (a scanner
// that keeps hitting a jail port) is told about once a step, never every
// packet, and the others' copy is never more than a step behind. (Comparing
// each move with the step would never tell a stream of small ones.)
inline bool RefreshIsNews(Nanos old_expiry, Nanos new_expiry, Nanos timeout) {
  if (new_expiry == kNever || old_expiry == kNever) {
    return new_expiry != old_expiry;
  }
  const Nanos step = std::max<Nanos>(kNanosPerSecond, timeout == kNever ? 0 : timeout / 100);
  return new_expiry / step != old_expiry / step;
}

struct RuleCounter {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

// What a burst computes once per packet before classifying it.
struct PacketHint {
  ConnTable::FlowHint flow;  // when conntrack is on
  uint64_t list_hash;        // AddressTable::Hash of the WAN-side address
};

// Everything one worker's classification writes. Owned by that worker.
struct ClassifierState {
  static constexpr size_t kChunk = 32;     // packets hinted and prefetched together
  AddressTable* lists = nullptr;           // this worker's shard
  Layer7Scanner* layer7 = nullptr;         // null when the policy has no layer7 protocols
  ConnTable* conntrack = nullptr;          // null when no rule matches connection-state
  FragTable* fragments = nullptr;          // null: later fragments go through the rules
  std::vector<RuleCounter> rule_counters;  // sized to the policy's rules by the control plane
  EventBuffer events;
  uint64_t layer7_scans = 0;
  uint8_t worker_id = 0;    // stamped on events
  uint64_t generation = 0;  // of the policy being applied, stamped on events
  // Scratch for ClassifyBurst, kept here so a burst does not initialise it.
  std::array<PacketHint, kChunk> hints;
  // Set where packets may reach the wrong worker (several workers on RSS
  // queues): a packet another worker owns is not classified but marked
  // kMissteered; its Toeplitz hash, which names the owner, goes to steer_hash.
  const SteeringTable* steering = nullptr;
  uint32_t* steer_hash = nullptr;  // one per frame of a burst, when steering is set
  SpaState* spa = nullptr;         // null when the policy has no [[spa]]
  // Set with several workers: who owns an address an SPA message grants.
  const SteeringTable* spa_owners = nullptr;
  Nanos wall_offset = 0;  // wall clock (Unix ns) at the clock's zero, for SPA timestamps
  // Rate matchers, last so the hot fields above keep their places.
  std::vector<TokenBucket> limits;      // per rule (limit matchers), sized like rule_counters
  DstLimitTable* dst_limits = nullptr;  // null when no rule has a dst-limit
  HandoffBuffer spa_handoffs;           // SPA grants for other workers' shards, this burst
  // Changes of [sync]'s shared lists, this burst: copies of their events,
  // kept apart so that a flood of other events cannot crowd them out.
  EventBuffer shared_changes;
};

// Every event leaves the classifier (and a worker's control answers) here:
// classed, then buffered.
inline void Emit(const Policy& policy, ClassifierState& state, Event e) {
  e.state = IsStateChange(policy, e);
  state.events.Push(e);
}

// Pushes `e` (a list add, refresh, removal or SPA grant) to the shared-list
// changes too when its list is shared.
inline void NoteIfShared(const Policy& policy, ClassifierState& state, const Event& e) {
  if (e.list < policy.lists().size() && policy.lists()[e.list].shared) [[unlikely]] {
    state.shared_changes.Push(e);
  }
}

// Decides one packet that ParsePacket accepted. `frame` is the whole frame
// the parse offsets refer to; `now` is the injected clock.
Decision Classify(const Policy& policy, ClassifierState& state, std::span<const uint8_t> frame,
                  const ParsedPacket& pkt, InterfaceList in, Nanos now);

// A burst as a worker runs it: parses every frame, prefetches the list and
// conntrack slots each packet will probe so the misses overlap, then
// classifies in order. `pkts` and `out` hold at least frames.size() entries;
// out[i] is frame i's decision (a malformed frame: kDrop with its reason).
// Returns how many frames were accepted.
size_t ClassifyBurst(const Policy& policy, ClassifierState& state,
                     std::span<const std::span<const uint8_t>> frames, std::span<ParsedPacket> pkts,
                     std::span<Decision> out, InterfaceList in, Nanos now);

// The owner's half of an SPA grant another worker verified: the replay
// check, then the grant, its counters and its event (spa-grant, or spa-reject
// reason=replay|cache-full).
void ApplySpaHandoff(const Policy& policy, ClassifierState& state, const SpaHandoff& h, Nanos now);

// What the verifier counts when it cannot hand a grant over (no room on the
// way to the owner): a spa-reject with reason=budget, in `state`.
void RefuseSpaHandoff(ClassifierState& state, const SpaHandoff& h);

}  // namespace knockgate
