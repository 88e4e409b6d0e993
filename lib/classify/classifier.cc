// Rule evaluation. List membership and layer 7 are computed lazily, once per
// packet, and only if a candidate rule asks for them.
#include "classify/classifier.h"

#include <algorithm>
#include <bit>

#include "common/counter_word.h"

namespace knockgate {
namespace {

// Per-packet facts computed on first use.
class Facts {
 public:
  // `wan_side`: WanSideAddress(pkt, in), the key of this worker's lists;
  // `wan_side_hash`: its AddressTable::Hash, if the caller has it. The other
  // end of the packet is looked up as it stands (a LAN address has entries
  // only with one worker, or in static lists).
  Facts(const Policy& policy, ClassifierState& state, std::span<const uint8_t> frame,
        const ParsedPacket& pkt, InterfaceList in, Nanos now, const IpAddress& wan_side,
        const uint64_t* wan_side_hash)
      : policy_(policy),
        state_(state),
        frame_(frame),
        pkt_(pkt),
        now_(now),
        src_(in == InterfaceList::kWan ? wan_side : pkt.src),
        dst_(in == InterfaceList::kWan ? pkt.dst : wan_side),
        src_hash_(in == InterfaceList::kWan ? wan_side_hash : nullptr),
        dst_hash_(in == InterfaceList::kWan ? nullptr : wan_side_hash) {}

  // The addresses list matchers and add-*-to-address-list actions use.
  const IpAddress& src() const { return src_; }
  const IpAddress& dst() const { return dst_; }

  ListMask SrcLists() {
    if (!have_src_) {
      src_lists_ = Lists(src_, src_hash_);
      have_src_ = true;
    }
    return src_lists_;
  }
  ListMask DstLists() {
    if (!have_dst_) {
      dst_lists_ = Lists(dst_, dst_hash_);
      have_dst_ = true;
    }
    return dst_lists_;
  }
  Layer7Mask Layer7() {
    if (!have_l7_) {
      have_l7_ = true;
      if (state_.layer7 != nullptr && !pkt_.later_fragment) {
        ++state_.layer7_scans;
        l7_ = state_.layer7->Scan(frame_.subspan(pkt_.payload_offset, pkt_.payload_length));
      }
    }
    return l7_;
  }
  // A list add changes what later rules see for this packet.
  void Invalidate() { have_src_ = have_dst_ = false; }

 private:
  ListMask Lists(const IpAddress& addr, const uint64_t* hash) const {
    ListMask mask = policy_.static_lists().Lookup(addr);
    const uint32_t record = state_.lists->Find(addr, hash ? *hash : AddressTable::Hash(addr));
    if (record != AddressTable::kNoRecord) {
      mask |= state_.lists->Membership(record, now_);
    }
    return mask;
  }

  const Policy& policy_;
  ClassifierState& state_;
  std::span<const uint8_t> frame_;
  const ParsedPacket& pkt_;
  Nanos now_;
  const IpAddress& src_;
  const IpAddress& dst_;
  const uint64_t* src_hash_;
  const uint64_t* dst_hash_;
  bool have_src_ = false;
  bool have_dst_ = false;
  bool have_l7_ = false;
  ListMask src_lists_ = 0;
  ListMask dst_lists_ = 0;
  Layer7Mask l7_ = 0;
};

bool InList(ListMask mask, int list) { return (mask >> list) & 1; }

// The matchers CompiledRule::slow flags: ports, TCP flags, addresses.
bool SlowMatches(const FilterRule& r, uint8_t slow, const ParsedPacket& pkt) {
  // A packet without ports (a later fragment, ICMP) never matches a port rule,
  // negated or not.
  if ((slow & CompiledRule::kSlowSrcPort) &&
      (!pkt.has_ports || r.src_port->value.Contains(pkt.src_port) == r.src_port->negated)) {
    return false;
  }
  if ((slow & CompiledRule::kSlowDstPort) &&
      (!pkt.has_ports || r.dst_port->value.Contains(pkt.dst_port) == r.dst_port->negated)) {
    return false;
  }
  if ((slow & CompiledRule::kSlowTcpFlags) &&
      (!pkt.has_ports || (pkt.tcp_flags & r.tcp_flags->must_set) != r.tcp_flags->must_set ||
       (pkt.tcp_flags & r.tcp_flags->must_clear) != 0)) {
    return false;
  }
  if ((slow & CompiledRule::kSlowSrcAddress) &&
      r.src_address->value.Contains(pkt.src) == r.src_address->negated) {
    return false;
  }
  if ((slow & CompiledRule::kSlowDstAddress) &&
      r.dst_address->value.Contains(pkt.dst) == r.dst_address->negated) {
    return false;
  }
  return true;
}

// The checks Policy::Candidates and Policy::Allowed left: ports, flags,
// addresses, lists, layer 7. `decided`: the kSlow* bits the candidate tables
// already settled for this packet.
bool Matches(const CompiledRule& c, const ParsedPacket& pkt, uint8_t decided, Facts& facts) {
  const uint8_t slow = c.slow & static_cast<uint8_t>(~decided);
  if (slow != 0 && !SlowMatches(c.spec, slow, pkt)) {
    return false;
  }
  if (c.src_list != kNoId &&
      InList(facts.SrcLists(), c.src_list) == ((c.negated & CompiledRule::kNegSrcList) != 0)) {
    return false;
  }
  if (c.dst_list != kNoId &&
      InList(facts.DstLists(), c.dst_list) == ((c.negated & CompiledRule::kNegDstList) != 0)) {
    return false;
  }
  if (c.layer7 != kNoId &&
      InList(facts.Layer7(), c.layer7) == ((c.negated & CompiledRule::kNegLayer7) != 0)) {
    return false;
  }
  return true;
}

// limit and dst-limit, asked after every other matcher: a bucket is spent
// only by packets the rest of the rule let through. Out of line: rate rules
// are few, and the common path should not carry their code.
[[gnu::noinline]] bool WithinRate(const CompiledRule& c, int rule, ClassifierState& state,
                                  const IpAddress& src, const IpAddress& dst, uint16_t dst_port,
                                  size_t frame_bytes, Nanos now) {
  if (c.spec.limit) {
    const bool took = state.limits[rule].Take(c.limit_rate, c.limit_rate.CostOf(frame_bytes), now);
    if (took == c.spec.limit->negated) {
      return false;
    }
  }
  if (c.spec.dst_limit) {
    if (state.dst_limits == nullptr) {
      return false;  // never: a reload that brings dst-limit in needs a restart
    }
    const DstLimitMatch& m = *c.spec.dst_limit;
    const DstLimitKey key =
        DstLimitKey::Of(static_cast<uint16_t>(rule), m.mode, src, dst, dst_port);
    if (state.dst_limits->Take(key, c.dst_limit_rate, m.expire, 1.0, now) == m.negated) {
      return false;
    }
  }
  return true;
}

Event MakeEvent(EventType type, int rule, const ParsedPacket& pkt, InterfaceList in, Nanos now,
                const ClassifierState& state) {
  Event e;
  e.worker = state.worker_id;
  e.generation = state.generation;
  e.type = type;
  e.in = in;
  e.rule = static_cast<uint16_t>(rule);  // Policy::Compile caps rules at kMaxRules
  e.protocol = pkt.protocol;
  e.src_port = pkt.src_port;
  e.dst_port = pkt.dst_port;
  e.at = now;
  e.src = pkt.src;
  e.dst = pkt.dst;
  return e;
}

// Counts and logs a refusal of section `section`'s packet, whose event
// (spa-grant or spa-reject so far) is `e`.
void RejectSpa(ClassifierState& state, size_t section, Event e, SpaReject r) {
  CountUp(state.spa->counters[section].rejects[static_cast<size_t>(r)]);
  e.type = EventType::kSpaReject;
  e.spa_reason = static_cast<uint8_t>(r);
  e.list = Event::kNoList;
  e.state = false;  // chatter (IsStateChange)
  state.events.Push(e);
}

// An SPA message's replay check and grant, in the shard that owns `h`'s
// address (the verifier's own, or another's through its control ring).
void GrantSpa(const Policy& policy, ClassifierState& state, const SpaHandoff& h, Nanos now) {
  const CompiledSpa& c = policy.spa()[h.section];
  Event e = h.event;
  e.worker = state.worker_id;
  e.generation = state.generation;  // a reload may have come between verifier and owner
  e.list = static_cast<uint8_t>(c.list);
  SpaReject r = SpaReject::kNone;
  switch (state.spa->replay.Insert(h.digest, h.replay_until, state.wall_offset + now, e.address)) {
    case SpaReplayCache::Result::kSeen:
      r = SpaReject::kReplay;
      break;
    case SpaReplayCache::Result::kFull:
      r = SpaReject::kCacheFull;
      break;
    case SpaReplayCache::Result::kNew:
      break;
  }
  if (r != SpaReject::kNone) {
    RejectSpa(state, h.section, e, r);
    return;
  }
  CountUp(state.spa->counters[h.section].accepts);
  // A granted client's next message refreshes its grant, as any re-add does.
  e.refresh = state.lists->Add(e.address, static_cast<ListId>(c.list), now, e.timeout) ==
              AddressTable::AddResult::kRefreshed;
  Emit(policy, state, e);
  NoteIfShared(policy, state, e);
}

// Whether section `c` tries packets from `src` (fwknopd's SOURCE).
bool TakesSource(const CompiledSpa& c, const IpAddress& src) {
  if (c.source.empty()) {
    return true;
  }
  return std::any_of(c.source.begin(), c.source.end(),
                     [&src](const Cidr& p) { return p.Contains(src); });
}

// One packet to an [[spa]] port, whose first enabled section is `first`:
// its users' keys are tried in file order (those whose `source` takes the
// packet), each HMAC taking a token from the port's verify budget, until
// one matches; then that user's checks, the replay check and the grant here
// or, for an address another worker owns, a handoff to it. Out of line: SPA
// packets are rare next to the traffic.
[[gnu::noinline]] void HandleSpa(const Policy& policy, ClassifierState& state,
                                 std::span<const uint8_t> frame, const ParsedPacket& pkt,
                                 InterfaceList in, Nanos now, size_t first) {
  SpaState& spa = *state.spa;
  const std::vector<CompiledSpa>& sections = policy.spa();
  const std::span<const uint8_t> payload = frame.subspan(pkt.payload_offset, pkt.payload_length);
  SpaMessage m;
  // Refusals before a user's keys decide are the port's first section's:
  // format, budget, hmac (keys tried, none matched), source (no user's
  // `source` takes the packet).
  size_t section = first;
  SpaReject r = SpaReject::kFormat;
  if (SpaVerifier::WellFormed(payload)) {
    r = SpaReject::kSource;
    for (size_t s = first; s < sections.size(); ++s) {
      const CompiledSpa& c = sections[s];
      if (c.disabled || c.port != pkt.dst_port || c.in != in || !TakesSource(c, pkt.src)) {
        continue;
      }
      if (!spa.budgets[first].Take(spa.budget_rates[first], 1.0, now)) {
        r = SpaReject::kBudget;
        break;
      }
      if (spa.verifiers[s]->HmacMatches(payload)) {
        section = s;
        r = spa.verifiers[s]->Open(payload, pkt.src, state.wall_offset + now, m);
        break;
      }
      r = SpaReject::kHmac;
    }
  }
  const CompiledSpa& c = sections[section];
  SpaHandoff h;
  h.section = static_cast<uint8_t>(section);
  h.event = MakeEvent(EventType::kSpaReject, Event::kNoRule, pkt, in, now, state);
  h.event.spa = static_cast<uint8_t>(section);
  if (r != SpaReject::kNone) {
    RejectSpa(state, section, h.event, r);
    return;
  }
  h.event.type = EventType::kSpaGrant;
  h.event.list = static_cast<uint8_t>(c.list);
  h.event.address = m.address;
  // The client's timeout (fwknop -f) is honoured up to the section's.
  const Nanos asked = Nanos{m.client_timeout} * kNanosPerSecond;
  h.event.timeout = asked != 0 && asked < c.grant_timeout ? asked : c.grant_timeout;
  h.digest = m.digest;
  // Kept until the message is too old to pass the age check anyway, on the
  // gateway's clock (the message's own time may be in its future).
  const Nanos wall = state.wall_offset + now;
  h.replay_until = std::max(m.timestamp * kNanosPerSecond, wall) + c.checks.max_age;
  h.owner = state.spa_owners != nullptr ? state.spa_owners->OwnerOf(m.address) : state.worker_id;
  if (h.owner == state.worker_id) {
    GrantSpa(policy, state, h, now);
  } else if (!state.spa_handoffs.Push(h)) {
    RefuseSpaHandoff(state, h);
  }
}

// The [[spa]] section that consumes `pkt` (UDP to its port from its side),
// or -1.
int SpaSectionOf(const Policy& policy, const ParsedPacket& pkt, InterfaceList in) {
  if (pkt.protocol != ip_proto::kUdp || !pkt.has_ports) {
    return -1;
  }
  const std::vector<CompiledSpa>& sections = policy.spa();
  for (size_t s = 0; s < sections.size(); ++s) {
    if (!sections[s].disabled && sections[s].in == in && sections[s].port == pkt.dst_port) {
      return static_cast<int>(s);
    }
  }
  return -1;
}

// The filter proper: rules in order, then the interface default.
Decision Evaluate(const Policy& policy, ClassifierState& state, std::span<const uint8_t> frame,
                  const ParsedPacket& pkt, InterfaceList in, uint8_t ct_state, Nanos now,
                  const uint64_t* list_hash) {
  const PolicyDefaults& defaults = policy.defaults();
  Facts facts(policy, state, frame, pkt, in, now, WanSideAddress(pkt, in), list_hash);
  const RuleSet candidates = policy.Candidates(pkt.protocol, pkt.has_ports, pkt.dst_port);
  const RuleSet allowed = policy.Allowed(in, ct_state, pkt.family);
  // TCP and UDP candidates are looked up by destination port.
  const uint8_t decided =
      pkt.has_ports && (pkt.protocol == ip_proto::kTcp || pkt.protocol == ip_proto::kUdp)
          ? CompiledRule::kSlowDstPort
          : 0;
  const std::vector<CompiledRule>& rules = policy.rules();
  for (size_t w = 0; w < candidates.size(); ++w) {
    for (uint64_t bits = candidates[w] & allowed[w]; bits != 0; bits &= bits - 1) {
      const int i = static_cast<int>(w * 64 + std::countr_zero(bits));
      const CompiledRule& c = rules[i];
      if (!Matches(c, pkt, decided, facts)) {
        continue;
      }
      // A rotating knock's step: the candidate tables matched its range.
      if ((c.slow & CompiledRule::kSlowRotating) != 0 &&
          !policy.rotation()->Matches(static_cast<size_t>(c.spec.rotating), c.spec.rotating_step,
                                      pkt.dst_port, state.wall_offset + now)) {
        continue;
      }
      if ((c.slow & CompiledRule::kSlowRate) != 0 &&
          !WithinRate(c, i, state, facts.src(), facts.dst(), pkt.dst_port, frame.size(), now)) {
        continue;
      }
      // An accept never carries an SPA packet past its verification (a drop
      // still wins: a blacklisted source costs no HMAC).
      if (c.action == Action::kAccept && state.spa != nullptr && SpaSectionOf(policy, pkt, in) >= 0)
          [[unlikely]] {
        continue;
      }
      RuleCounter& counter = state.rule_counters[i];
      CountUp(counter.packets);
      CountUp(counter.bytes, frame.size());
      const Action action = c.action;
      if (c.log) {
        state.events.Push(MakeEvent(EventType::kLog, i, pkt, in, now, state));  // chatter
      }
      switch (action) {
        case Action::kAccept:
          return Decision{Verdict::kAccept, DropReason::kNone, i};
        case Action::kDrop:
          return Decision{Verdict::kDrop, DropReason::kRule, i};
        case Action::kAddSrcToAddressList:
        case Action::kAddDstToAddressList: {
          const IpAddress& addr =
              action == Action::kAddSrcToAddressList ? facts.src() : facts.dst();
          const ListId list = static_cast<ListId>(c.target_list);
          const Nanos timeout = c.address_list_timeout;
          Nanos before = 0;
          const AddressTable::AddResult added = state.lists->Add(addr, list, now, timeout, &before);
          if (added == AddressTable::AddResult::kAdded ||
              (added == AddressTable::AddResult::kRefreshed && c.target_shared &&
               RefreshIsNews(before, ExpiryAt(now, timeout), timeout))) {
            Event e = MakeEvent(EventType::kListAdd, i, pkt, in, now, state);
            e.list = list;
            e.timeout = timeout;
            e.address = addr;
            e.refresh = added == AddressTable::AddResult::kRefreshed;
            Emit(policy, state, e);
            if (c.target_shared) [[unlikely]] {
              state.shared_changes.Push(e);
            }
          }
          facts.Invalidate();
          break;
        }
        case Action::kLog:
        case Action::kPassthrough:
          break;
      }
    }
  }
  // [[spa]] sections stand after every rule: what they match is consumed.
  if (state.spa != nullptr) [[unlikely]] {
    const int s = SpaSectionOf(policy, pkt, in);
    if (s >= 0) {
      HandleSpa(policy, state, frame, pkt, in, now, static_cast<size_t>(s));
      return Decision{Verdict::kDrop, DropReason::kSpa};
    }
  }
  if (in == InterfaceList::kWan) {
    return defaults.wan_default == Verdict::kAccept
               ? Decision{Verdict::kAccept}
               : Decision{Verdict::kDrop, DropReason::kWanDefault};
  }
  return defaults.lan_default == Verdict::kAccept
             ? Decision{Verdict::kAccept}
             : Decision{Verdict::kDrop, DropReason::kLanDefault};
}

}  // namespace

namespace {

// Inlined into both callers: the common path must not pay a call for the
// fragment check in front of it.
[[gnu::always_inline]] inline Decision ClassifyUnfragmented(
    const Policy& policy, ClassifierState& state, std::span<const uint8_t> frame,
    const ParsedPacket& pkt, InterfaceList in, Nanos now, const PacketHint* hint) {
  // ARP and its IPv6 counterpart are bridged (or not) by the non-ip policy,
  // before any rule: they carry no knock and no service.
  if (pkt.family == Family::kNone || IsNeighbourDiscovery(pkt)) {
    return policy.defaults().non_ip == Verdict::kAccept
               ? Decision{Verdict::kAccept}
               : Decision{Verdict::kDrop, DropReason::kNonIp};
  }
  const uint64_t* list_hash = hint != nullptr ? &hint->list_hash : nullptr;
  if (state.conntrack == nullptr) {
    return Evaluate(policy, state, frame, pkt, in, conn_state::kUntracked, now, list_hash);
  }
  PacketHint own;
  if (hint == nullptr) {
    ConnTable::FillHint(pkt, in, own.flow);
    hint = &own;
  }
  const ConnLookup look = state.conntrack->Lookup(pkt, now, hint->flow);
  const Decision d = Evaluate(policy, state, frame, pkt, in, look.state, now, list_hash);
  state.conntrack->Update(look, pkt, in, d.verdict == Verdict::kAccept, now);
  return d;
}

// A later fragment gets its first fragment's verdict; a first fragment's
// verdict is remembered for them. Out of line: fragments are rare.
[[gnu::noinline]] Decision ClassifyFragment(const Policy& policy, ClassifierState& state,
                                            std::span<const uint8_t> frame, const ParsedPacket& pkt,
                                            InterfaceList in, Nanos now, const PacketHint* hint) {
  if (state.fragments == nullptr) {
    return ClassifyUnfragmented(policy, state, frame, pkt, in, now, hint);
  }
  if (pkt.later_fragment) {
    const DropReason r = state.fragments->Later(pkt, now);
    return r == DropReason::kNone ? Decision{Verdict::kAccept} : Decision{Verdict::kDrop, r};
  }
  const Decision d = ClassifyUnfragmented(policy, state, frame, pkt, in, now, hint);
  state.fragments->RecordFirst(pkt, d.verdict, now);
  return d;
}

// Classify with the hashes a burst computed already (or null: computed here).
Decision ClassifyHinted(const Policy& policy, ClassifierState& state,
                        std::span<const uint8_t> frame, const ParsedPacket& pkt, InterfaceList in,
                        Nanos now, const PacketHint* hint) {
  if (pkt.fragment) [[unlikely]] {
    return ClassifyFragment(policy, state, frame, pkt, in, now, hint);
  }
  return ClassifyUnfragmented(policy, state, frame, pkt, in, now, hint);
}

// Packets `base`..`base + n` that another worker owns become kMissteered;
// every IP packet's Toeplitz hash goes to state.steer_hash.
void MarkMissteered(const ClassifierState& state, std::span<const ParsedPacket> pkts,
                    std::span<Decision> out, size_t base, size_t n, InterfaceList in) {
  for (size_t i = base; i < base + n; ++i) {
    if (out[i].reason != DropReason::kNone || pkts[i].family == Family::kNone) {
      continue;
    }
    const uint32_t rss = state.steering->Hash(WanSideAddress(pkts[i], in));
    state.steer_hash[i] = rss;
    if (state.steering->Owner(rss) != state.worker_id) {
      out[i] = Decision{Verdict::kDrop, DropReason::kMissteered};
    }
  }
}

}  // namespace

Decision Classify(const Policy& policy, ClassifierState& state, std::span<const uint8_t> frame,
                  const ParsedPacket& pkt, InterfaceList in, Nanos now) {
  return ClassifyHinted(policy, state, frame, pkt, in, now, nullptr);
}

void ApplySpaHandoff(const Policy& policy, ClassifierState& state, const SpaHandoff& h, Nanos now) {
  // A reload between the verifier and here may have taken the section away.
  if (state.spa != nullptr && h.section < policy.spa().size() &&
      !policy.spa()[h.section].disabled) {
    GrantSpa(policy, state, h, now);
  } else {
    RefuseSpaHandoff(state, h);
  }
}

void RefuseSpaHandoff(ClassifierState& state, const SpaHandoff& h) {
  if (state.spa != nullptr && h.section < state.spa->counters.size()) {
    RejectSpa(state, h.section, h.event, SpaReject::kBudget);
  }
}

size_t ClassifyBurst(const Policy& policy, ClassifierState& state,
                     std::span<const std::span<const uint8_t>> frames, std::span<ParsedPacket> pkts,
                     std::span<Decision> out, InterfaceList in, Nanos now) {
  // In chunks, so prefetches land just ahead of their use.
  constexpr size_t kChunk = ClassifierState::kChunk;
  PacketHint* hints = state.hints.data();
  size_t accepted = 0;
  for (size_t base = 0; base < frames.size(); base += kChunk) {
    const size_t n = std::min(kChunk, frames.size() - base);
    for (size_t i = base; i < base + n; ++i) {
      const DropReason bad = ParsePacket(frames[i], pkts[i]);
      out[i] = Decision{bad == DropReason::kNone ? Verdict::kAccept : Verdict::kDrop, bad};
    }
    if (state.steering != nullptr) {
      MarkMissteered(state, pkts, out, base, n, in);
    }
    // The WAN-side address is the one the lists and the flow table are keyed by.
    for (size_t i = base; i < base + n; ++i) {
      if (out[i].reason != DropReason::kNone || pkts[i].family == Family::kNone) {
        continue;
      }
      PacketHint& h = hints[i - base];
      h.list_hash = AddressTable::Hash(WanSideAddress(pkts[i], in));
      state.lists->Prefetch(h.list_hash);
      if (state.conntrack != nullptr) {
        ConnTable::FillHint(pkts[i], in, h.flow);
        state.conntrack->Prefetch(h.flow);
      }
    }
    for (size_t i = base; i < base + n; ++i) {
      if (out[i].reason == DropReason::kNone) {
        const bool hinted = pkts[i].family != Family::kNone;
        out[i] = ClassifyHinted(policy, state, frames[i], pkts[i], in, now,
                                hinted ? &hints[i - base] : nullptr);
      }
      accepted += out[i].verdict == Verdict::kAccept;
    }
  }
  return accepted;
}

}  // namespace knockgate
