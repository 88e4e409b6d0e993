// The compiled, immutable policy: rules in order with list and layer7 ids,
// candidate-rule tables per protocol and port, static list prefixes, defaults.
#pragma once

#include <array>
#include <bit>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/token_bucket.h"
#include "l7/hyperscan.h"
#include "lists/address_table.h"
#include "lists/static_lists.h"
#include "policy/knock_rotation.h"
#include "policy/model.h"
#include "spa/spa_verifier.h"

namespace knockgate {

inline constexpr int kNoId = -1;
// Rules after [[knock]] expansion, disabled ones included: an event names its
// rule in 16 bits, 0xFFFF meaning none.
inline constexpr size_t kMaxRules = 65535;

// A rule as the packet path reads it: the checks every packet makes come
// first, as masks that pass when the matcher is absent, so they share one
// cache line; the rest are flagged in `slow` and read from `spec`.
struct alignas(64) CompiledRule {
  static constexpr uint8_t kSlowSrcPort = 1;
  static constexpr uint8_t kSlowDstPort = 2;  // decided by the candidate tables for TCP/UDP
  static constexpr uint8_t kSlowTcpFlags = 4;
  static constexpr uint8_t kSlowSrcAddress = 8;
  static constexpr uint8_t kSlowDstAddress = 16;
  static constexpr uint8_t kSlowRate = 32;  // limit or dst-limit: checked after every other matcher
  static constexpr uint8_t kSlowRotating = 64;  // a rotating knock's step: the port of its period
  static constexpr uint8_t kNegSrcList = 1;
  static constexpr uint8_t kNegDstList = 2;
  static constexpr uint8_t kNegLayer7 = 4;

  uint8_t ct_pass = 0xFF;  // connection states (conn_state bits) that pass
  uint8_t in_pass = 0x3;   // bit per InterfaceList that passes
  // The one family this rule can match (from `family` or an address), or kNone.
  Family family = Family::kNone;
  uint8_t slow = 0;     // kSlow* bits: matchers checked against spec
  uint8_t negated = 0;  // kNeg* bits for the list and layer7 matchers
  Action action = Action::kAccept;
  bool log = false;            // a log event when it matches (log = true, or action log)
  bool target_shared = false;  // target_list is a [sync] shared list (fills the padding)
  int src_list = kNoId;
  int dst_list = kNoId;
  int target_list = kNoId;  // add-*-to-address-list
  int layer7 = kNoId;
  Nanos address_list_timeout = kNever;
  // Neither the protocol nor ct_pass, in_pass and family need a check on the
  // packet path: Candidates() and Allowed() leave out the rules they refuse.
  FilterRule spec;  // as written
  // limit: one worker's share of the rate (the gateway holds the whole);
  // dst-limit: the rate of each flow (a flow is one worker's).
  RateSpec limit_rate;
  RateSpec dst_limit_rate;

  // Derives every field from `r` but the list and layer7 ids; `workers`
  // share a limit's rate.
  CompiledRule(const FilterRule& r, uint32_t workers);
};

struct ListInfo {
  std::string name;
  uint32_t capacity = 0;
  uint32_t static_entries = 0;
  uint32_t filled_by_rules = 0;  // enabled add-* rules naming it
  // An enabled add-* rule needs membership in it (a knock stage, a scan
  // counter): adds to it are steps. Adds to any other list are grants or
  // jails, the log lines kept longest under a flood.
  bool step = false;
  // An enabled drop rule needs membership in it: adds to it are jails (for
  // [[hook]] on = "jail"; other adds that are no step are grants).
  bool jail = false;
  bool shared = false;  // [sync] lists: its changes go to the other gateways
  // Written to the state file: those [state] lists names, or by default every
  // list that is not a step (grants and jails; a knock step lives seconds,
  // and a flood fills it with a million spoofed sources).
  bool saved = false;
};

// A [[spa]] section as the classifier reads it; the keys are decoded and
// never printed.
struct CompiledSpa {
  std::string name;  // the user this section's keys belong to
  uint16_t port = 62201;
  InterfaceList in = InterfaceList::kWan;
  int list = kNoId;  // the grant list
  Nanos grant_timeout = 0;
  uint32_t verify_rate = 0;
  std::vector<Cidr> source;  // sources whose packets try these keys (empty: any)
  bool disabled = false;
  SpaKeys keys;
  SpaPolicy checks;
  std::string comment;
};

// Rule indices as a bitset, one bit per rule in file order.
using RuleSet = std::span<const uint64_t>;

class Policy {
 public:
  // Never fails on a Config that LoadConfig accepted, except for Hyperscan
  // rejecting a pattern and limits (64 lists, 64 layer7 protocols).
  static absl::StatusOr<std::shared_ptr<const Policy>> Compile(const Config& config);
  // For a hot reload: lists keep the ids they have in `previous` (by name),
  // and lists it has but `config` no longer names keep theirs too, so every
  // live entry stays where it is. New names get the next ids.
  static absl::StatusOr<std::shared_ptr<const Policy>> Compile(const Config& config,
                                                               const Policy& previous);

  const std::vector<CompiledRule>& rules() const { return rules_; }
  const std::vector<ListInfo>& lists() const { return lists_; }
  const std::vector<CompiledSpa>& spa() const { return spa_; }
  const std::vector<Layer7Protocol>& layer7_protocols() const { return layer7_; }
  const HyperscanDatabase* layer7_database() const { return layer7_db_.get(); }
  const StaticLists& static_lists() const { return static_lists_; }
  // The enabled [[address-list]] entries, for printing.
  const std::vector<std::pair<Cidr, ListId>>& static_entries() const { return static_entries_; }
  const PolicyDefaults& defaults() const { return defaults_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Whether any enabled rule matches on connection-state (else conntrack is off).
  bool uses_conntrack() const { return uses_conntrack_; }
  // Whether any enabled rule has a dst-limit (else no flow table for it).
  bool uses_dst_limit() const { return uses_dst_limit_; }
  // Whether event lines show the flow's ports ([log] show-ports).
  bool show_ports() const { return show_ports_; }
  // Lists whose expiries a [[hook]] hears (workers report only those).
  ListMask expiry_watch() const { return expiry_watch_; }
  // The most state-change events (grants, jails, SPA grants) one packet can
  // make: a worker takes no more packets at once than its room for them.
  uint32_t state_events_per_packet() const { return state_events_per_packet_; }
  uint32_t dst_limit_capacity() const { return dst_limit_capacity_; }
  const ConntrackConfig& conntrack() const { return conntrack_; }
  // The rotating knocks' port slots, or null. The packet path reads them;
  // the control side (the main lcore, or --replay at its packets' time)
  // advances them as the periods turn, hence not const.
  KnockRotation* rotation() const { return rotation_.get(); }
  int FindList(absl::string_view name) const;
  // The longest timeout an enabled rule or [[spa]] section gives an add to
  // list `id` (kNever if one adds without a timeout; 0 if none adds).
  Nanos LongestAddTimeout(int id) const;
  // Capacities by list id, for AddressTable::Create.
  std::vector<uint32_t> ListCapacities() const;

  // Rules that may match a packet of `protocol`, with ports when `has_ports`
  // (then by `dst_port`). Disabled rules are never candidates.
  RuleSet Candidates(uint8_t protocol, bool has_ports, uint16_t dst_port) const {
    if (has_ports) {
      if (protocol == 6 || protocol == 17) {
        const PortTable& t = port_tables_[protocol == 6 ? 0 : 1];
        return Set(t.sets, t.by_port[dst_port]);
      }
      return Set(by_protocol_, protocol);
    }
    return Set(portless_by_protocol_, protocol);
  }

  // Rules whose connection-state, in-interface-list and family matchers let
  // a packet with this state (one conn_state bit) and family through.
  // Intersected with Candidates(), what is left needs only the slow, list and
  // layer7 checks.
  RuleSet Allowed(InterfaceList in, uint8_t ct_state, Family family) const {
    return Set(allowed_, AllowedIndex(in, ct_state, family));
  }

  // The --check report: rules, lists, layer7 patterns, warnings.
  std::string Describe() const;

 private:
  struct PortTable {
    std::vector<uint16_t> by_port;  // 65536 entries, index into sets
    std::vector<uint64_t> sets;     // distinct rule sets, words_ each
  };

  Policy() = default;
  static absl::StatusOr<std::shared_ptr<const Policy>> CompileImpl(const Config& config,
                                                                   const Policy* previous);
  RuleSet Set(const std::vector<uint64_t>& sets, size_t index) const {
    return RuleSet(sets.data() + index * words_, words_);
  }
  void BuildCandidateTables();
  static constexpr size_t kStateBits = 5;  // conn_state::kNew .. kUntracked
  static size_t AllowedIndex(InterfaceList in, uint8_t ct_state, Family family) {
    return (static_cast<size_t>(in) * kStateBits +
            static_cast<size_t>(std::countr_zero(ct_state))) *
               2 +
           (family == Family::kIpv6 ? 1 : 0);
  }

  std::vector<CompiledRule> rules_;
  std::vector<ListInfo> lists_;
  std::vector<CompiledSpa> spa_;
  std::vector<Layer7Protocol> layer7_;
  std::unique_ptr<const HyperscanDatabase> layer7_db_;
  std::unique_ptr<KnockRotation> rotation_;
  StaticLists static_lists_;
  std::vector<std::pair<Cidr, ListId>> static_entries_;
  PolicyDefaults defaults_;
  ConntrackConfig conntrack_;
  bool uses_conntrack_ = false;
  bool uses_dst_limit_ = false;
  bool show_ports_ = false;
  ListMask expiry_watch_ = 0;
  uint32_t state_events_per_packet_ = 0;
  uint32_t dst_limit_capacity_ = 0;
  std::vector<std::string> warnings_;
  std::string path_;

  size_t words_ = 0;
  std::array<PortTable, 2> port_tables_;        // tcp, udp
  std::vector<uint64_t> by_protocol_;           // 256 sets: port-bearing, not tcp/udp
  std::vector<uint64_t> portless_by_protocol_;  // 256 sets: packets without ports
  std::vector<uint64_t> allowed_;               // by AllowedIndex
};

}  // namespace knockgate
