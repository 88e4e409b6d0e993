// Config → Policy: resolves names to ids, compiles layer 7, and precomputes
// which rules a packet of each protocol and destination port can match.
#include "policy/policy.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "policy/value_parsers.h"

namespace knockgate {
namespace {

// A section's `lists` key names a list the policy does not have.
absl::Status UnknownList(absl::string_view path, SourcePos at, absl::string_view what,
                         absl::string_view list) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ":", at.line, ":", at.column, ": lists: ", what, " \"", list,
                   "\", which no rule, [[knock]], [[spa]] or [[address-list]] uses"));
}

bool AllowsProtocol(const FilterRule& r, uint8_t proto) {
  return !r.protocol || ((r.protocol->value == proto) != r.protocol->negated);
}

bool AllowsDstPort(const FilterRule& r, uint16_t port) {
  return !r.dst_port || (r.dst_port->value.Contains(port) != r.dst_port->negated);
}

bool NeedsPorts(const FilterRule& r) { return r.src_port || r.dst_port || r.tcp_flags; }

// The bits of `all` that pass a matcher on `value_bits`, negated or not.
uint8_t PassMask(bool negated, uint8_t all, uint8_t value_bits) {
  return negated ? static_cast<uint8_t>(all & ~value_bits) : value_bits;
}

}  // namespace

CompiledRule::CompiledRule(const FilterRule& r, uint32_t workers) : action(r.action), spec(r) {
  constexpr uint8_t kAllStates = conn_state::kNew | conn_state::kEstablished |
                                 conn_state::kRelated | conn_state::kInvalid |
                                 conn_state::kUntracked;
  if (r.connection_state) {
    ct_pass = PassMask(r.connection_state->negated, kAllStates, r.connection_state->value);
  }
  if (r.in_interface_list) {
    in_pass = PassMask(r.in_interface_list->negated, 0x3,
                       static_cast<uint8_t>(1u << static_cast<int>(r.in_interface_list->value)));
  }
  if (r.family) {
    const bool v4 = (r.family->value == Family::kIpv4) != r.family->negated;
    family = v4 ? Family::kIpv4 : Family::kIpv6;
  } else if (r.src_address) {
    family = r.src_address->value.prefix.family;
  } else if (r.dst_address) {
    family = r.dst_address->value.prefix.family;
  }
  slow |= r.src_port ? kSlowSrcPort : 0;
  slow |= r.dst_port ? kSlowDstPort : 0;
  slow |= r.tcp_flags ? kSlowTcpFlags : 0;
  slow |= r.src_address ? kSlowSrcAddress : 0;
  slow |= r.dst_address ? kSlowDstAddress : 0;
  slow |= r.limit || r.dst_limit ? kSlowRate : 0;
  slow |= r.rotating >= 0 ? kSlowRotating : 0;
  if (r.limit) {
    limit_rate =
        RateSpec::Of(r.limit->count, r.limit->interval, r.limit->burst, r.limit->bits, workers);
  }
  if (r.dst_limit) {
    dst_limit_rate =
        RateSpec::Of(r.dst_limit->count, r.dst_limit->interval, r.dst_limit->burst, false, 1);
  }
  negated |= r.src_address_list && r.src_address_list->negated ? kNegSrcList : 0;
  negated |= r.dst_address_list && r.dst_address_list->negated ? kNegDstList : 0;
  negated |= r.layer7_protocol && r.layer7_protocol->negated ? kNegLayer7 : 0;
  log = r.log || r.action == Action::kLog;
  address_list_timeout = r.address_list_timeout;
}

namespace {

std::string Neg(bool negated) { return negated ? "!" : ""; }

// One rule in RouterOS's print form: key=value pairs in a fixed order.
std::string DescribeRule(const FilterRule& r) {
  std::string out = absl::StrCat("chain=", r.chain == Chain::kInput ? "input" : "forward",
                                 " action=", ActionName(r.action));
  if (!r.address_list.empty()) {
    absl::StrAppend(&out, " address-list=", r.address_list,
                    " address-list-timeout=", FormatDuration(r.address_list_timeout));
  }
  if (r.in_interface_list) {
    absl::StrAppend(&out, " in-interface-list=", Neg(r.in_interface_list->negated),
                    InterfaceListName(r.in_interface_list->value));
  }
  if (r.family) {
    absl::StrAppend(&out, " family=", Neg(r.family->negated),
                    r.family->value == Family::kIpv4 ? "ip" : "ipv6");
  }
  if (r.protocol) {
    const char* name = ProtocolName(r.protocol->value);
    absl::StrAppend(&out, " protocol=", Neg(r.protocol->negated),
                    name ? std::string(name) : std::to_string(r.protocol->value));
  }
  if (r.src_port) {
    absl::StrAppend(&out, " src-port=", Neg(r.src_port->negated), r.src_port->value.ToString());
  }
  if (r.dst_port) {
    absl::StrAppend(&out, " dst-port=", Neg(r.dst_port->negated), r.dst_port->value.ToString());
  }
  if (r.tcp_flags) {
    absl::StrAppend(&out, " tcp-flags=", r.tcp_flags->ToString());
  }
  if (r.src_address) {
    absl::StrAppend(&out, " src-address=", Neg(r.src_address->negated),
                    r.src_address->value.ToString());
  }
  if (r.dst_address) {
    absl::StrAppend(&out, " dst-address=", Neg(r.dst_address->negated),
                    r.dst_address->value.ToString());
  }
  if (r.limit) {
    absl::StrAppend(&out, " limit=", r.limit->ToString());
  }
  if (r.dst_limit) {
    absl::StrAppend(&out, " dst-limit=", r.dst_limit->ToString());
  }
  if (r.src_address_list) {
    absl::StrAppend(&out, " src-address-list=", Neg(r.src_address_list->negated),
                    r.src_address_list->value);
  }
  if (r.dst_address_list) {
    absl::StrAppend(&out, " dst-address-list=", Neg(r.dst_address_list->negated),
                    r.dst_address_list->value);
  }
  if (r.layer7_protocol) {
    absl::StrAppend(&out, " layer7-protocol=", Neg(r.layer7_protocol->negated),
                    r.layer7_protocol->value);
  }
  if (r.connection_state) {
    static constexpr const char* kNames[] = {"new", "established", "related", "invalid",
                                             "untracked"};
    std::string states;
    for (int bit = 0; bit < 5; ++bit) {
      if (r.connection_state->value & (1u << bit)) {
        absl::StrAppend(&states, states.empty() ? "" : ",", kNames[bit]);
      }
    }
    absl::StrAppend(&out, " connection-state=", Neg(r.connection_state->negated), states);
  }
  if (r.log) {
    absl::StrAppend(&out, " log=yes");
  }
  if (!r.log_prefix.empty()) {
    absl::StrAppend(&out, " log-prefix=\"", r.log_prefix, "\"");
  }
  if (!r.comment.empty()) {
    absl::StrAppend(&out, " comment=\"", r.comment, "\"");
  }
  return out;
}

}  // namespace

Nanos Policy::LongestAddTimeout(int id) const {
  Nanos longest = 0;
  for (const CompiledRule& r : rules_) {
    if (r.target_list == id && !r.spec.disabled) {
      longest = std::max(longest, r.address_list_timeout);
    }
  }
  for (const CompiledSpa& s : spa_) {
    if (s.list == id && !s.disabled) {
      longest = std::max(longest, s.grant_timeout);
    }
  }
  return longest;
}

int Policy::FindList(absl::string_view name) const {
  for (size_t i = 0; i < lists_.size(); ++i) {
    if (lists_[i].name == name) {
      return static_cast<int>(i);
    }
  }
  return kNoId;
}

std::vector<uint32_t> Policy::ListCapacities() const {
  std::vector<uint32_t> caps;
  for (const ListInfo& l : lists_) {
    caps.push_back(l.capacity);
  }
  return caps;
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Compile(const Config& config) {
  return CompileImpl(config, nullptr);
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Compile(const Config& config,
                                                              const Policy& previous) {
  return CompileImpl(config, &previous);
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::CompileImpl(const Config& config,
                                                                  const Policy* previous) {
  std::shared_ptr<Policy> p(new Policy());
  if (previous != nullptr) {
    for (const ListInfo& l : previous->lists_) {
      p->lists_.push_back(ListInfo{l.name, config.lists.CapacityOf(l.name), 0, 0});
    }
  }
  p->path_ = config.path;
  p->defaults_ = config.policy;
  p->show_ports_ = config.log.show_ports;
  p->conntrack_ = config.conntrack;
  p->dst_limit_capacity_ = config.dst_limit.capacity;
  p->layer7_ = config.layer7_protocols;
  if (!config.rotating_knocks.empty()) {
    p->rotation_ = std::make_unique<KnockRotation>(config);
    p->rotation_->Advance(WallNow());
  }
  const std::string& path = config.path;

  // List ids in order of first mention, so they are stable across reloads of
  // the same file.
  auto list_id = [&](const std::string& name, SourcePos at) -> absl::StatusOr<int> {
    if (int id = p->FindList(name); id != kNoId) {
      return id;
    }
    if (p->lists_.size() == kMaxLists) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", at.line, ":", at.column, ": address-list: \"", name, "\" is list ",
          kMaxLists + 1, "; at most ", kMaxLists, " lists are supported"));
    }
    p->lists_.push_back(ListInfo{name, config.lists.CapacityOf(name), 0, 0});
    return static_cast<int>(p->lists_.size() - 1);
  };

  for (const StaticAddress& a : config.static_addresses) {
    KG_ASSIGN_OR_RETURN(const int id, list_id(a.list, a.pos));
    if (!a.disabled) {
      p->static_lists_.Add(a.address, static_cast<ListId>(id));
      p->static_entries_.emplace_back(a.address, static_cast<ListId>(id));
      ++p->lists_[id].static_entries;
    }
  }
  if (config.filters.size() > kMaxRules) {
    const SourcePos at = config.filters[kMaxRules].pos;
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", at.line, ":", at.column, ": filter: rule ", kMaxRules + 1, " of ",
                     config.filters.size(), " (after [[knock]] expansion); at most ", kMaxRules,
                     " rules are supported"));
  }
  p->rules_.reserve(config.filters.size());
  for (const FilterRule& r : config.filters) {
    CompiledRule c(r, config.dataplane.workers);  // all but the ids, which need the names
    if (r.src_address_list) {
      KG_ASSIGN_OR_RETURN(c.src_list, list_id(r.src_address_list->value, r.src_address_list_pos));
    }
    if (r.dst_address_list) {
      KG_ASSIGN_OR_RETURN(c.dst_list, list_id(r.dst_address_list->value, r.dst_address_list_pos));
    }
    if (!r.address_list.empty()) {
      KG_ASSIGN_OR_RETURN(c.target_list, list_id(r.address_list, r.address_list_pos));
      if (!r.disabled) {
        ++p->lists_[c.target_list].filled_by_rules;
      }
    }
    if (r.layer7_protocol) {
      for (size_t i = 0; i < config.layer7_protocols.size(); ++i) {
        if (config.layer7_protocols[i].name == r.layer7_protocol->value) {
          c.layer7 = static_cast<int>(i);
        }
      }
    }
    p->uses_conntrack_ = p->uses_conntrack_ || (r.connection_state && !r.disabled);
    p->uses_dst_limit_ = p->uses_dst_limit_ || (r.dst_limit && !r.disabled);
    p->rules_.push_back(std::move(c));
  }

  for (const SpaSection& sec : config.spa) {
    CompiledSpa c;
    c.name = sec.name;
    c.port = sec.port;
    c.in = sec.in;
    c.grant_timeout = sec.grant_timeout;
    c.verify_rate = sec.verify_rate;
    c.disabled = sec.disabled;
    c.comment = sec.comment;
    c.checks.max_age = sec.max_age;
    c.checks.require_source_address = sec.require_source_address;
    c.checks.access = sec.access;
    c.source = sec.source;
    KG_ASSIGN_OR_RETURN(c.list, list_id(sec.grant_list, sec.pos));
    KG_ASSIGN_OR_RETURN(
        c.keys, ParseSpaKeyFile(absl::StrCat("KEY_BASE64: ", sec.key_base64,
                                             "\nHMAC_KEY_BASE64: ", sec.hmac_key_base64, "\n")));
    if (!sec.disabled) {
      ++p->lists_[c.list].filled_by_rules;
    }
    p->spa_.push_back(std::move(c));
  }

  for (size_t i = 0; i < config.sync.lists.size(); ++i) {
    const int id = p->FindList(config.sync.lists[i]);
    if (id == kNoId) {
      return UnknownList(path, config.sync.list_pos[i], "[sync] shares", config.sync.lists[i]);
    }
    p->lists_[id].shared = true;
  }
  for (CompiledRule& c : p->rules_) {
    c.target_shared = c.target_list != kNoId && p->lists_[c.target_list].shared;
  }
  KG_ASSIGN_OR_RETURN(p->layer7_db_, HyperscanDatabase::Compile(config.layer7_protocols, path));

  // Lists that enabled rules read but nothing fills are always empty.
  for (const CompiledRule& c : p->rules_) {
    if (c.spec.disabled) {
      continue;
    }
    for (const auto& [id, neg] : {std::pair{c.src_list, CompiledRule::kNegSrcList},
                                  std::pair{c.dst_list, CompiledRule::kNegDstList}}) {
      if (id != kNoId && (c.negated & neg) == 0) {
        if (c.target_list != kNoId) {
          p->lists_[id].step = true;
        }
        if (c.action == Action::kDrop) {
          p->lists_[id].jail = true;
        }
      }
    }
    const std::pair<int, SourcePos> reads[] = {{c.src_list, c.spec.src_address_list_pos},
                                               {c.dst_list, c.spec.dst_address_list_pos}};
    for (const auto& [id, at] : reads) {
      if (id == kNoId) {
        continue;
      }
      const ListInfo& l = p->lists_[id];
      if (l.static_entries == 0 && l.filled_by_rules == 0) {
        p->warnings_.push_back(absl::StrCat(
            path, ":", at.line, ":", at.column, ": address list \"", l.name,
            "\" is never filled (no static entry, no enabled rule adds to it): it stays empty"));
      }
    }
  }
  for (const auto& [name, cap] : config.lists.capacities) {
    if (p->FindList(name) == kNoId) {
      p->warnings_.push_back(absl::StrCat(path, ": lists.capacity-per-list names \"", name,
                                          "\", which no rule or entry uses"));
    }
  }

  // After the steps are known.
  for (ListInfo& l : p->lists_) {
    l.saved = !config.state.lists && !l.step;
  }
  for (const HookSection& h : config.hooks) {
    if ((h.on & hook_on::kExpire) == 0) {
      continue;
    }
    for (size_t id = 0; id < p->lists_.size(); ++id) {
      if (h.lists.empty() ||
          std::find(h.lists.begin(), h.lists.end(), p->lists_[id].name) != h.lists.end()) {
        p->expiry_watch_ |= ListMask{1} << id;
      }
    }
  }
  // A packet makes at most one event per add-* rule it matches (an add to a
  // step list is chatter, not a state change) and one SPA grant.
  p->state_events_per_packet_ = p->spa_.empty() ? 0 : 1;
  for (const CompiledRule& c : p->rules_) {
    if (!c.spec.disabled && c.target_list != kNoId && !p->lists_[c.target_list].step) {
      ++p->state_events_per_packet_;
    }
  }
  if (config.state.lists) {
    for (size_t i = 0; i < config.state.lists->size(); ++i) {
      const int id = p->FindList((*config.state.lists)[i]);
      if (id == kNoId) {
        return UnknownList(path, config.state.list_pos[i], "[state] saves",
                           (*config.state.lists)[i]);
      }
      p->lists_[id].saved = true;
    }
  }

  p->BuildCandidateTables();
  return std::shared_ptr<const Policy>(std::move(p));
}

void Policy::BuildCandidateTables() {
  words_ = (rules_.size() + 63) / 64;
  if (words_ == 0) {
    words_ = 1;  // keep spans non-empty and indexable
  }
  auto set_bit = [](std::vector<uint64_t>& sets, size_t words, size_t index, size_t rule) {
    sets[index * words + rule / 64] |= uint64_t{1} << (rule % 64);
  };

  by_protocol_.assign(256 * words_, 0);
  portless_by_protocol_.assign(256 * words_, 0);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const FilterRule& r = rules_[i].spec;
    if (r.disabled) {
      continue;
    }
    for (int proto = 0; proto < 256; ++proto) {
      if (!AllowsProtocol(r, static_cast<uint8_t>(proto))) {
        continue;
      }
      set_bit(by_protocol_, words_, proto, i);
      if (!NeedsPorts(r)) {
        set_bit(portless_by_protocol_, words_, proto, i);
      }
    }
  }

  allowed_.assign(2 * kStateBits * 2 * words_, 0);
  for (InterfaceList in : {InterfaceList::kWan, InterfaceList::kLan}) {
    for (size_t bit = 0; bit < kStateBits; ++bit) {
      for (Family family : {Family::kIpv4, Family::kIpv6}) {
        const uint8_t state = static_cast<uint8_t>(1u << bit);
        for (size_t i = 0; i < rules_.size(); ++i) {
          const CompiledRule& c = rules_[i];
          if ((c.ct_pass & state) != 0 && ((c.in_pass >> static_cast<int>(in)) & 1) != 0 &&
              (c.family == Family::kNone || c.family == family)) {
            set_bit(allowed_, words_, AllowedIndex(in, state, family), i);
          }
        }
      }
    }
  }

  // Port tables by a sweep over the ports where some rule's dst-port starts or
  // stops matching: between two such ports the candidate set is constant, so
  // the work grows with the rules' ranges, not with 65,536 x rules.
  const uint8_t kPortProtocols[2] = {6, 17};
  for (int t = 0; t < 2; ++t) {
    PortTable& table = port_tables_[t];
    table.by_port.assign(65536, 0);
    table.sets.clear();
    std::vector<uint64_t> set(words_, 0);
    std::map<uint32_t, std::vector<uint32_t>> flips;  // port -> rules whose match changes there
    for (size_t i = 0; i < rules_.size(); ++i) {
      const FilterRule& r = rules_[i].spec;
      if (r.disabled || !AllowsProtocol(r, kPortProtocols[t])) {
        continue;
      }
      if (AllowsDstPort(r, 0)) {
        set[i / 64] |= uint64_t{1} << (i % 64);
      }
      if (!r.dst_port) {
        continue;
      }
      std::vector<uint32_t> edges;
      for (const auto& [lo, hi] : r.dst_port->value.ranges) {
        edges.push_back(lo);
        edges.push_back(uint32_t{hi} + 1);
      }
      std::sort(edges.begin(), edges.end());
      edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
      for (uint32_t e : edges) {
        if (e > 0 && e < 65536 &&
            AllowsDstPort(r, static_cast<uint16_t>(e)) !=
                AllowsDstPort(r, static_cast<uint16_t>(e - 1))) {
          flips[e].push_back(static_cast<uint32_t>(i));
        }
      }
    }
    std::map<std::vector<uint64_t>, uint16_t> seen;
    auto it = flips.begin();
    for (uint32_t port = 0; port < 65536;) {
      const uint32_t next = it == flips.end() ? 65536 : it->first;
      const auto [found, inserted] = seen.emplace(set, static_cast<uint16_t>(seen.size()));
      if (inserted) {
        table.sets.insert(table.sets.end(), set.begin(), set.end());
      }
      std::fill(table.by_port.begin() + port, table.by_port.begin() + next, found->second);
      port = next;
      if (it != flips.end()) {
        for (uint32_t i : it->second) {
          set[i / 64] ^= uint64_t{1} << (i % 64);
        }
        ++it;
      }
    }
  }
}

std::string Policy::Describe() const {
  std::string out = absl::StrCat(
      "config ", path_, ": ", rules_.size(), " rules, ", lists_.size(), " address lists, ",
      layer7_.size(), " layer7 protocols\n",
      "policy: wan-default=", defaults_.wan_default == Verdict::kAccept ? "accept" : "drop",
      " lan-default=", defaults_.lan_default == Verdict::kAccept ? "accept" : "drop",
      " non-ip=", defaults_.non_ip == Verdict::kAccept ? "forward" : "drop", "\n");
  absl::StrAppend(&out, "\nlayer7-protocols:\n");
  for (size_t i = 0; i < layer7_.size(); ++i) {
    absl::StrAppend(&out, absl::StrFormat("  %2d name=%s regexp=\"%s\"%s\n", i, layer7_[i].name,
                                          layer7_[i].regexp,
                                          layer7_[i].case_sensitive ? " case-sensitive" : ""));
  }
  absl::StrAppend(&out,
                  "\naddress lists (saved: in the state file; [state] lists names them, by "
                  "default every list but knock steps):\n");
  for (size_t i = 0; i < lists_.size(); ++i) {
    const ListInfo& l = lists_[i];
    absl::StrAppend(
        &out,
        absl::StrFormat("  %2d %-16s capacity=%u static=%u filled-by-rules=%u%s%s%s\n", i, l.name,
                        l.capacity, l.static_entries, l.filled_by_rules, l.step ? " step" : "",
                        l.shared ? " shared" : "", l.saved ? " saved" : ""));
  }
  if (!spa_.empty()) {
    absl::StrAppend(&out,
                    "\nspa (after the filter rules; keys not shown; sections on one port are "
                    "its users, tried in order, under the first one's verify-rate):\n");
    for (size_t i = 0; i < spa_.size(); ++i) {
      const CompiledSpa& c = spa_[i];
      std::string access;
      for (const auto& [proto, port] : c.checks.access) {
        absl::StrAppend(&access, access.empty() ? "" : ",", proto == 6 ? "tcp/" : "udp/", port);
      }
      std::string source;
      for (const Cidr& p : c.source) {
        absl::StrAppend(&source, source.empty() ? "" : ",", p.ToString());
      }
      absl::StrAppend(
          &out, absl::StrFormat("  %2d %sname=%s port=udp/%d in-interface-list=%s grant-list=%s "
                                "grant-timeout=%s max-age=%s require-source-address=%s "
                                "access=%s source=%s verify-rate=%d\n",
                                i, c.disabled ? "X " : "", c.name, c.port, InterfaceListName(c.in),
                                lists_[c.list].name, FormatDuration(c.grant_timeout),
                                FormatDuration(c.checks.max_age),
                                c.checks.require_source_address ? "yes" : "no",
                                access.empty() ? "any" : access, source.empty() ? "any" : source,
                                c.verify_rate));
    }
  }
  if (rotation_ != nullptr) {
    absl::StrAppend(&out,
                    "\nrotating knocks (secrets not shown; each step's port comes from the "
                    "secret and the period, never one a rule serves; the current and the "
                    "previous period's sequences are accepted):\n");
    for (size_t k = 0; k < rotation_->size(); ++k) {
      const RotatingKnock& r = rotation_->knock(k);
      std::string steps;
      for (uint8_t proto : r.protocols) {
        absl::StrAppend(&steps, steps.empty() ? "" : ",", proto == 6 ? "tcp" : "udp");
      }
      absl::StrAppend(
          &out, absl::StrFormat("  %2d name=%s steps=%s period=%s port-range=%d-%d\n", k, r.name,
                                steps, FormatDuration(r.period), r.port_lo, r.port_hi));
    }
  }
  absl::StrAppend(&out, "\nfilter rules:\n");
  for (size_t i = 0; i < rules_.size(); ++i) {
    absl::StrAppend(
        &out, absl::StrFormat("  %2d %s%s  (line %d)\n", i, rules_[i].spec.disabled ? "X " : "",
                              DescribeRule(rules_[i].spec), rules_[i].spec.pos.line));
  }
  if (!warnings_.empty()) {
    absl::StrAppend(&out, "\nwarnings:\n");
    for (const std::string& w : warnings_) {
      absl::StrAppend(&out, "  warning: ", w, "\n");
    }
  }
  return out;
}

}  // namespace knockgate
