// TOML → Config with toml++, checking every key against DESIGN.md section 2.
// Errors carry toml++ source positions: "FILE:LINE:COL: KEY: what was expected".
#include "policy/config_loader.h"

#include "policy/config_shape.h"

#include <toml++/toml.h>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/read_file.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace knockgate {
namespace {

struct ProtocolEntry {
  const char* name;
  uint8_t number;
};
// The names RouterOS accepts for `protocol`, by IANA number.
constexpr ProtocolEntry kProtocols[] = {
    {"icmp", 1},        {"igmp", 2},        {"ggp", 3},        {"ip-encap", 4},
    {"st", 5},          {"tcp", 6},         {"egp", 8},        {"pup", 12},
    {"udp", 17},        {"hmp", 20},        {"xns-idp", 22},   {"rdp", 27},
    {"ipv6-encap", 41}, {"ipv6-route", 43}, {"ipv6-frag", 44}, {"rsvp", 46},
    {"gre", 47},        {"ipsec-esp", 50},  {"ipsec-ah", 51},  {"icmpv6", 58},
    {"ipv6-nonxt", 59}, {"ipv6-opts", 60},  {"rspf", 73},      {"vmtp", 81},
    {"ospf", 89},       {"ipip", 94},       {"etherip", 97},   {"encap", 98},
    {"pim", 103},       {"vrrp", 112},      {"l2tp", 115},     {"sctp", 132},
    {"udp-lite", 136},  {"dccp", 33},
};

// Keys accepted in each section, for "unknown key" errors that say what is valid.
const std::vector<absl::string_view> kTopKeys = {
    "eal",       "interfaces",      "dataplane",    "policy", "lists", "log",
    "conntrack", "layer7-protocol", "address-list", "filter", "knock"};
const std::vector<absl::string_view> kFilterKeys = {"chain",
                                                    "action",
                                                    "in-interface-list",
                                                    "family",
                                                    "protocol",
                                                    "src-port",
                                                    "dst-port",
                                                    "tcp-flags",
                                                    "src-address",
                                                    "dst-address",
                                                    "src-address-list",
                                                    "dst-address-list",
                                                    "layer7-protocol",
                                                    "connection-state",
                                                    "address-list",
                                                    "address-list-timeout",
                                                    "log",
                                                    "log-prefix",
                                                    "comment",
                                                    "disabled"};

SourcePos PosOf(const toml::source_region& r) {
  return SourcePos{static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
}

absl::string_view TypeName(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

class Loader {
 public:
  explicit Loader(absl::string_view path) : path_(path) {}

  absl::StatusOr<Config> Load(absl::string_view text) {
    KG_RETURN_IF_ERROR(CheckConfigShape(text, path_));
    toml::table root;
    try {
      root = toml::parse(std::string_view(text.data(), text.size()), std::string(path_));
    } catch (const toml::parse_error& e) {
      const SourcePos pos = PosOf(e.source());
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ":", pos.line, ":", pos.column, ": toml: ", ToAbsl(e.description())));
    }
    config_.path = std::string(path_);
    for (auto&& [key, node] : root) {
      const absl::string_view k = ToAbsl(key.str());
      if (k == "eal") {
        KG_RETURN_IF_ERROR(LoadEal(key, node));
      } else if (k == "interfaces") {
        KG_RETURN_IF_ERROR(LoadInterfaces(key, node));
      } else if (k == "dataplane") {
        KG_RETURN_IF_ERROR(LoadDataplane(key, node));
      } else if (k == "policy") {
        KG_RETURN_IF_ERROR(LoadPolicyDefaults(key, node));
      } else if (k == "lists") {
        KG_RETURN_IF_ERROR(LoadLists(key, node));
      } else if (k == "log") {
        KG_RETURN_IF_ERROR(LoadLog(key, node));
      } else if (k == "conntrack") {
        KG_RETURN_IF_ERROR(LoadConntrack(key, node));
      } else if (k == "layer7-protocol") {
        KG_RETURN_IF_ERROR(
            ForEachTable(key, node, [this](const toml::table& t) { return LoadLayer7(t); }));
      } else if (k == "address-list") {
        KG_RETURN_IF_ERROR(
            ForEachTable(key, node, [this](const toml::table& t) { return LoadStaticAddress(t); }));
      } else if (k == "filter") {
        KG_RETURN_IF_ERROR(
            ForEachTable(key, node, [this](const toml::table& t) { return LoadFilter(t); }));
      } else if (k == "knock") {
        KG_RETURN_IF_ERROR(
            ForEachTable(key, node, [this](const toml::table& t) { return LoadKnock(t); }));
      } else {
        return UnknownKey(key, kTopKeys);
      }
    }
    // [[knock]] sections run after the [[filter]] rules, so a blacklist drop
    // written as a filter still comes first.
    config_.filters.insert(config_.filters.end(), knock_rules_.begin(), knock_rules_.end());
    KG_RETURN_IF_ERROR(CheckCrossReferences());
    return std::move(config_);
  }

 private:
  absl::Status Error(SourcePos pos, absl::string_view key, absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ":", pos.line, ":", pos.column, ": ", key, ": ", what));
  }
  absl::Status Error(const toml::node& n, absl::string_view key, absl::string_view what) const {
    return Error(PosOf(n.source()), key, what);
  }
  absl::Status UnknownKey(const toml::key& key, const std::vector<absl::string_view>& valid) const {
    return Error(PosOf(key.source()), ToAbsl(key.str()),
                 absl::StrCat("unknown key (expected one of: ", absl::StrJoin(valid, ", "), ")"));
  }
  absl::Status WrongType(const toml::node& n, absl::string_view key,
                         absl::string_view expected) const {
    return Error(n, key, absl::StrCat("expected ", expected, ", got ", TypeName(n)));
  }

  absl::StatusOr<const toml::table*> Table(const toml::key& key, const toml::node& n) const {
    if (const toml::table* t = n.as_table()) {
      return t;
    }
    return WrongType(n, ToAbsl(key.str()), "a table");
  }

  template <typename Fn>
  absl::Status ForEachTable(const toml::key& key, const toml::node& n, Fn fn) {
    const toml::array* arr = n.as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      return WrongType(n, ToAbsl(key.str()),
                       absl::StrCat("an array of tables ([[", ToAbsl(key.str()), "]])"));
    }
    for (const toml::node& element : *arr) {
      KG_RETURN_IF_ERROR(fn(*element.as_table()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const toml::node& n, absl::string_view key) const {
    if (const auto* s = n.as_string()) {
      return s->get();
    }
    return WrongType(n, key, "a string");
  }

  absl::StatusOr<bool> Bool(const toml::node& n, absl::string_view key) const {
    if (const auto* b = n.as_boolean()) {
      return b->get();
    }
    return WrongType(n, key, "a boolean (true or false)");
  }

  absl::StatusOr<uint32_t> Integer(const toml::node& n, absl::string_view key, int64_t lo,
                                   int64_t hi) const {
    const auto* i = n.as_integer();
    if (i == nullptr) {
      return WrongType(n, key, absl::StrCat("an integer ", lo, "..", hi));
    }
    if (i->get() < lo || i->get() > hi) {
      return Error(n, key, absl::StrCat("expected an integer ", lo, "..", hi, ", got ", i->get()));
    }
    return static_cast<uint32_t>(i->get());
  }

  // A string, or an integer written bare (ports, protocol numbers, seconds).
  absl::StatusOr<std::string> StringOrInteger(const toml::node& n, absl::string_view key,
                                              absl::string_view expected) const {
    if (const auto* s = n.as_string()) {
      return s->get();
    }
    if (const auto* i = n.as_integer()) {
      return std::to_string(i->get());
    }
    return WrongType(n, key, expected);
  }

  absl::Status LoadEal(const toml::key& key, const toml::node& node) {
    KG_ASSIGN_OR_RETURN(const toml::table* t, Table(key, node));
    for (auto&& [k, v] : *t) {
      if (ToAbsl(k.str()) != "args") {
        return UnknownKey(k, {"args"});
      }
      const toml::array* arr = v.as_array();
      if (arr == nullptr) {
        return WrongType(v, "args", "an array of strings");
      }
      for (const toml::node& a : *arr) {
        KG_ASSIGN_OR_RETURN(std::string s, String(a, "args"));
        config_.eal.args.push_back(std::move(s));
      }
    }
    return absl::OkStatus();
  }

  absl::Status LoadInterfaces(const toml::key& key, const toml::node& node) {
    KG_ASSIGN_OR_RETURN(const toml::table* t, Table(key, node));
    for (auto&& [k, v] : *t) {
      std::string* field = nullptr;
      if (ToAbsl(k.str()) == "wan") {
        field = &config_.interfaces.wan;
      } else if (ToAbsl(k.str()) == "lan") {
        field = &config_.interfaces.lan;
      } else {
        return UnknownKey(k, {"wan", "lan"});
      }
      KG_ASSIGN_OR_RETURN(*field, String(v, ToAbsl(k.str())));
      if (field->empty()) {
        return Error(v, ToAbsl(k.str()), "expected a DPDK device name (PCI address or vdev name)");
      }
    }
    return absl::OkStatus();
  }

  absl::Status LoadDataplane(const toml::key& key, const toml::node& node) {
    KG_ASSIGN_OR_RETURN(const toml::table* t, Table(key, node));
    DataplaneConfig& d = config_.dataplane;
    for (auto&& [k, v] : *t) {
      const absl::string_view name = ToAbsl(k.str());
      if (name == "workers") {
        KG_ASSIGN_OR_RETURN(d.workers, Integer(v, name, 1, 64));
      } else if (name == "burst") {
        KG_ASSIGN_OR_RETURN(d.burst, Integer(v, name, 1, 512));
      } else if (name == "mbufs") {
        KG_ASSIGN_OR_RETURN(d.mbufs, Integer(v, name, 1024, 1 << 26));
      } else if (name == "idle-sleep") {
        KG_ASSIGN_OR_RETURN(std::string s, StringOrInteger(v, name, "a duration"));
        KG_ASSIGN_OR_RETURN(d.idle_sleep, ParseIdleSleep(v, s));
      } else if (name == "steering") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        if (s == "auto") {
          d.steering = Steering::kAuto;
        } else if (s == "rss") {
          d.steering = Steering::kRss;
        } else if (s == "dispatcher") {
          d.steering = Steering::kDispatcher;
        } else {
          return Error(
              v, name,
              absl::StrCat("expected \"auto\", \"rss\" or \"dispatcher\", got \"", s, "\""));
        }
      } else if (name == "stats-interval") {
        KG_ASSIGN_OR_RETURN(std::string s, StringOrInteger(v, name, "a duration"));
        if (s == "0") {
          d.stats_interval = 0;
        } else {
          absl::StatusOr<Nanos> interval = ParseDuration(s);
          if (!interval.ok() || *interval == kNever) {
            return Error(v, name, "expected \"0\" (off) or a duration such as \"10s\"");
          }
          d.stats_interval = *interval;
        }
      } else {
        return UnknownKey(
            k, {"workers", "burst", "mbufs", "idle-sleep", "steering", "stats-interval"});
      }
    }
    return absl::OkStatus();
  }

  // "0" busy-polls; otherwise a RouterOS duration, with "us" allowed as well.
  absl::StatusOr<Nanos> ParseIdleSleep(const toml::node& v, absl::string_view s) const {
    if (s == "0") {
      return Nanos{0};
    }
    if (absl::ConsumeSuffix(&s, "us")) {
      uint32_t us = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), us);
      if (ec == std::errc() && end == s.data() + s.size() && us > 0 && us <= 1'000'000) {
        return Nanos{us} * 1000;
      }
    } else if (absl::StatusOr<Nanos> d = ParseDuration(s); d.ok() && *d <= kNanosPerSecond) {
      return *d;
    }
    return Error(v, "idle-sleep",
                 "expected \"0\" (busy-poll) or a duration up to 1s such as \"20us\" or \"1ms\"");
  }

  absl::StatusOr<Verdict> VerdictValue(const toml::node& v, absl::string_view key,
                                       absl::string_view pass_word) const {
    KG_ASSIGN_OR_RETURN(std::string s, String(v, key));
    if (s == pass_word) {
      return Verdict::kAccept;
    }
    if (s == "drop") {
      return Verdict::kDrop;
    }
    return Error(v, key, absl::StrCat("expected \"", pass_word, "\" or \"drop\", got \"", s, "\""));
  }

  absl::Status LoadPolicyDefaults(const toml::key& key, const toml::node& node) {
    KG_ASSIGN_OR_RETURN(const toml::table* t, Table(key, node));
    PolicyDefaults& p = config_.policy;
    for (auto&& [k, v] : *t) {
      const absl::string_view name = ToAbsl(k.str());
      if (name == "wan-default") {
        KG_ASSIGN_OR_RETURN(p.wan_default, VerdictValue(v, name, "accept"));
      } else if (name == "lan-default") {
        KG_ASSIGN_OR_RETURN(p.lan_default, VerdictValue(v, name, "accept"));
      } else if (name == "non-ip") {
        KG_ASSIGN_OR_RETURN(p.non_ip, VerdictValue(v, name, "forward"));
      } else {
        return UnknownKey(k, {"wan-default", "lan-default", "non-ip"});
      }
    }
    return absl::OkStatus();
  }

  absl::Status LoadLists(const toml::key& key, const toml::node& node) {
    KG_ASSIGN_OR_RETURN(const toml::table* t, Table(key, node));
    constexpr int64_t kMaxCapacity = 1 << 26;
    for (auto&& [k, v] : *t) {
      const absl::string_view name = ToAbsl(k.str());
      if (name == "capacity") {
        KG_ASSIGN_OR_RETURN(config_.lists.capacity, Integer(v, name, 1, kMaxCapacity));
      } else if (name == "capacity-per-list") {
        KG_ASSIGN_OR_RETURN(const toml::table* per, Table(k, v));
        for (auto&& [list, cap] : *per) {
          KG_ASSIGN_OR_RETURN(config_.lists.capacities[std::string(ToAbsl(list.str()))],
                              Integer(cap, ToAbsl(list.str()), 1, kMaxCapacity));
        }
      } else {
        return UnknownKey(k, {"capacity", "capacity-per-list"});
      }
    }
    return absl::OkStatus();
  }

  absl::Status LoadLog(const toml::key& key, const toml::node& node) {
    KG_ASSIGN_OR_RETURN(const toml::table* t, Table(key, node));
    for (auto&& [k, v] : *t) {
      if (ToAbsl(k.str()) != "file") {
        return UnknownKey(k, {"file"});
      }
      KG_ASSIGN_OR_RETURN(config_.log.file, String(v, "file"));
    }
    return absl::OkStatus();
  }

  absl::Status LoadLayer7(const toml::table& t) {
    Layer7Protocol p;
    bool have_regexp = false;
    for (auto&& [k, v] : t) {
      const absl::string_view name = ToAbsl(k.str());
      if (name == "name") {
        KG_ASSIGN_OR_RETURN(p.name, String(v, name));
        if (p.name.empty()) {
          return Error(v, name, "expected a non-empty name");
        }
        for (const Layer7Protocol& other : config_.layer7_protocols) {
          if (other.name == p.name) {
            return Error(v, name,
                         absl::StrCat("layer7-protocol \"", p.name,
                                      "\" is already defined at line ", other.pos.line));
          }
        }
      } else if (name == "regexp") {
        KG_ASSIGN_OR_RETURN(p.regexp, String(v, name));
        p.pos = PosOf(v.source());
        have_regexp = true;
      } else if (name == "case-sensitive") {
        KG_ASSIGN_OR_RETURN(p.case_sensitive, Bool(v, name));
      } else if (name == "comment") {
        KG_RETURN_IF_ERROR(String(v, name).status());
      } else {
        return UnknownKey(k, {"name", "regexp", "case-sensitive", "comment"});
      }
    }
    if (p.name.empty()) {
      return Error(PosOf(t.source()), "name", "missing: every [[layer7-protocol]] needs a name");
    }
    if (!have_regexp || p.regexp.empty()) {
      return Error(PosOf(t.source()), "regexp",
                   "missing: every [[layer7-protocol]] needs a non-empty regexp");
    }
    config_.layer7_protocols.push_back(std::move(p));
    return absl::OkStatus();
  }

  absl::Status LoadStaticAddress(const toml::table& t) {
    StaticAddress a;
    a.pos = PosOf(t.source());
    bool have_address = false;
    for (auto&& [k, v] : t) {
      const absl::string_view name = ToAbsl(k.str());
      if (name == "list") {
        KG_ASSIGN_OR_RETURN(a.list, String(v, name));
        if (a.list.empty()) {
          return Error(v, name, "expected a non-empty list name");
        }
      } else if (name == "address") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        absl::StatusOr<Cidr> cidr = ParseCidr(s);
        if (!cidr.ok()) {
          return Error(v, name, cidr.status().message());
        }
        a.address = *cidr;
        have_address = true;
      } else if (name == "comment") {
        KG_ASSIGN_OR_RETURN(a.comment, String(v, name));
      } else if (name == "disabled") {
        KG_ASSIGN_OR_RETURN(a.disabled, Bool(v, name));
      } else {
        return UnknownKey(k, {"list", "address", "comment", "disabled"});
      }
    }
    if (a.list.empty()) {
      return Error(a.pos, "list", "missing: every [[address-list]] entry needs a list name");
    }
    if (!have_address) {
      return Error(a.pos, "address", "missing: every [[address-list]] entry needs an address");
    }
    config_.static_addresses.push_back(std::move(a));
    return absl::OkStatus();
  }

  // Splits off RouterOS's leading "!".
  static absl::string_view StripNegation(absl::string_view s, bool& negated) {
    negated = absl::ConsumePrefix(&s, "!");
    return s;
  }

  absl::Status LoadFilter(const toml::table& t) {
    FilterRule r;
    r.pos = PosOf(t.source());
    bool have_action = false;
    bool have_list_param = false;
    SourcePos timeout_pos;
    bool have_timeout = false;
    for (auto&& [k, v] : t) {
      const absl::string_view name = ToAbsl(k.str());
      bool neg = false;
      if (name == "chain") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        if (s == "input") {
          r.chain = Chain::kInput;
        } else if (s == "forward") {
          r.chain = Chain::kForward;
        } else {
          return Error(v, name,
                       absl::StrCat("expected \"input\" or \"forward\", got \"", s,
                                    "\" (a bridge has no traffic of its own to output or route)"));
        }
      } else if (name == "action") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        KG_ASSIGN_OR_RETURN(r.action, ParseAction(v, s));
        have_action = true;
      } else if (name == "in-interface-list") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        const absl::string_view val = StripNegation(s, neg);
        if (val == "WAN") {
          r.in_interface_list = Negatable<InterfaceList>{InterfaceList::kWan, neg};
        } else if (val == "LAN") {
          r.in_interface_list = Negatable<InterfaceList>{InterfaceList::kLan, neg};
        } else {
          return Error(v, name, absl::StrCat("expected \"WAN\" or \"LAN\", got \"", s, "\""));
        }
      } else if (name == "family") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        const absl::string_view val = StripNegation(s, neg);
        if (val == "ip") {
          r.family = Negatable<Family>{Family::kIpv4, neg};
        } else if (val == "ipv6") {
          r.family = Negatable<Family>{Family::kIpv6, neg};
        } else {
          return Error(v, name, absl::StrCat("expected \"ip\" or \"ipv6\", got \"", s, "\""));
        }
      } else if (name == "protocol") {
        KG_ASSIGN_OR_RETURN(std::string s, StringOrInteger(v, name, "a protocol name or number"));
        absl::StatusOr<uint8_t> proto = ParseProtocol(StripNegation(s, neg));
        if (!proto.ok()) {
          return Error(v, name, proto.status().message());
        }
        r.protocol = Negatable<uint8_t>{*proto, neg};
      } else if (name == "src-port" || name == "dst-port") {
        KG_ASSIGN_OR_RETURN(std::string s, StringOrInteger(v, name, "a port list"));
        absl::StatusOr<PortSet> ports = ParsePortSet(StripNegation(s, neg));
        if (!ports.ok()) {
          return Error(v, name, ports.status().message());
        }
        (name == "src-port" ? r.src_port : r.dst_port) = Negatable<PortSet>{*ports, neg};
      } else if (name == "tcp-flags") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        KG_ASSIGN_OR_RETURN(r.tcp_flags, ParseTcpFlags(v, s));
      } else if (name == "src-address" || name == "dst-address") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        absl::StatusOr<Cidr> cidr = ParseCidr(StripNegation(s, neg));
        if (!cidr.ok()) {
          return Error(v, name, cidr.status().message());
        }
        (name == "src-address" ? r.src_address : r.dst_address) = Negatable<Cidr>{*cidr, neg};
      } else if (name == "src-address-list" || name == "dst-address-list" ||
                 name == "layer7-protocol") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        const std::string val(StripNegation(s, neg));
        if (val.empty()) {
          return Error(v, name, "expected a name, optionally with a leading \"!\"");
        }
        if (name == "src-address-list") {
          r.src_address_list = Negatable<std::string>{val, neg};
          r.src_address_list_pos = PosOf(v.source());
        } else if (name == "dst-address-list") {
          r.dst_address_list = Negatable<std::string>{val, neg};
          r.dst_address_list_pos = PosOf(v.source());
        } else {
          r.layer7_protocol = Negatable<std::string>{val, neg};
          r.layer7_protocol_pos = PosOf(v.source());
        }
      } else if (name == "connection-state") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, name));
        KG_ASSIGN_OR_RETURN(r.connection_state, ParseConnectionState(v, s));
      } else if (name == "address-list") {
        KG_ASSIGN_OR_RETURN(r.address_list, String(v, name));
        if (r.address_list.empty()) {
          return Error(v, name, "expected a non-empty list name");
        }
        r.address_list_pos = PosOf(v.source());
        have_list_param = true;
      } else if (name == "address-list-timeout") {
        KG_ASSIGN_OR_RETURN(std::string s, StringOrInteger(v, name, "a duration"));
        absl::StatusOr<Nanos> d = ParseDuration(s);
        if (!d.ok()) {
          return Error(v, name, d.status().message());
        }
        r.address_list_timeout = *d;
        timeout_pos = PosOf(v.source());
        have_timeout = true;
      } else if (name == "log") {
        KG_ASSIGN_OR_RETURN(r.log, Bool(v, name));
      } else if (name == "log-prefix") {
        KG_ASSIGN_OR_RETURN(r.log_prefix, String(v, name));
      } else if (name == "comment") {
        KG_ASSIGN_OR_RETURN(r.comment, String(v, name));
      } else if (name == "disabled") {
        KG_ASSIGN_OR_RETURN(r.disabled, Bool(v, name));
      } else {
        return UnknownKey(k, kFilterKeys);
      }
    }
    if (!have_action) {
      return Error(r.pos, "action",
                   "missing: every [[filter]] needs an action (accept, drop, "
                   "add-src-to-address-list, add-dst-to-address-list, log, passthrough)");
    }
    const bool adds =
        r.action == Action::kAddSrcToAddressList || r.action == Action::kAddDstToAddressList;
    if (adds && !have_list_param) {
      return Error(
          r.pos, "address-list",
          absl::StrCat("missing: action \"", ActionName(r.action), "\" needs a list name"));
    }
    if (!adds && have_list_param) {
      return Error(r.address_list_pos, "address-list",
                   "only add-src-to-address-list and add-dst-to-address-list take a list");
    }
    if (!adds && have_timeout) {
      return Error(timeout_pos, "address-list-timeout",
                   "only add-src-to-address-list and add-dst-to-address-list take a timeout");
    }
    KG_RETURN_IF_ERROR(CheckRuleConsistency(t, r));
    config_.filters.push_back(std::move(r));
    return absl::OkStatus();
  }

  // A [[knock]] section: ordered steps, a window per step, a grant list and
  // its timeout. Expands to the filter rules one would write by hand.
  absl::Status LoadKnock(const toml::table& t) {
    const SourcePos pos = PosOf(t.source());
    std::string name;
    std::string grant_list = "secured";
    std::string comment;
    Nanos window = 30 * kNanosPerSecond;
    Nanos grant_timeout = 1800 * kNanosPerSecond;
    InterfaceList in = InterfaceList::kWan;
    bool accept = true;
    bool disabled = false;
    struct Step {
      uint8_t protocol;
      uint16_t port;
      std::string layer7;
      SourcePos pos;
    };
    std::vector<Step> steps;
    auto duration = [&](const toml::node& v, absl::string_view key) -> absl::StatusOr<Nanos> {
      KG_ASSIGN_OR_RETURN(std::string text, StringOrInteger(v, key, "a duration"));
      absl::StatusOr<Nanos> d = ParseDuration(text);
      if (!d.ok()) {
        return Error(v, key, d.status().message());
      }
      return *d;
    };
    auto parse_step = [&](const toml::node& v, absl::string_view text) -> absl::StatusOr<Step> {
      Step step{0, 0, "", PosOf(v.source())};
      std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
      uint32_t port = 0;
      if (parts.size() != 2 || (parts[0] != "tcp" && parts[0] != "udp") ||
          !absl::SimpleAtoi(parts[1], &port) || port < 1 || port > 65535) {
        return Error(v, "steps",
                     absl::StrCat("\"", text,
                                  "\": expected \"tcp:PORT\" or \"udp:PORT\" with a port "
                                  "1..65535"));
      }
      step.protocol = parts[0] == "tcp" ? 6 : 17;
      step.port = static_cast<uint16_t>(port);
      return step;
    };
    for (auto&& [k, v] : t) {
      const absl::string_view key = ToAbsl(k.str());
      if (key == "name") {
        KG_ASSIGN_OR_RETURN(name, String(v, key));
      } else if (key == "steps") {
        const toml::array* arr = v.as_array();
        if (arr == nullptr || arr->empty()) {
          return WrongType(v, key, "a non-empty array of steps");
        }
        for (const toml::node& item : *arr) {
          if (const auto* str = item.as_string()) {
            KG_ASSIGN_OR_RETURN(Step step, parse_step(item, ToAbsl(str->get())));
            steps.push_back(step);
          } else if (const toml::table* tab = item.as_table()) {
            const toml::node* port = tab->get("step");
            if (port == nullptr || !port->is_string()) {
              return Error(item, "steps",
                           "an inline step needs step = \"tcp:PORT\" or \"udp:PORT\"");
            }
            KG_ASSIGN_OR_RETURN(Step step, parse_step(*port, ToAbsl(port->as_string()->get())));
            for (auto&& [sk, sv] : *tab) {
              if (ToAbsl(sk.str()) == "layer7-protocol") {
                KG_ASSIGN_OR_RETURN(step.layer7, String(sv, "layer7-protocol"));
                step.pos = PosOf(sv.source());
              } else if (ToAbsl(sk.str()) != "step") {
                return UnknownKey(sk, {"step", "layer7-protocol"});
              }
            }
            steps.push_back(step);
          } else {
            return WrongType(
                item, key,
                "a step: \"tcp:PORT\" or { step = \"udp:PORT\", layer7-protocol = ... }");
          }
        }
      } else if (key == "window") {
        KG_ASSIGN_OR_RETURN(window, duration(v, key));
      } else if (key == "grant-list") {
        KG_ASSIGN_OR_RETURN(grant_list, String(v, key));
      } else if (key == "grant-timeout") {
        KG_ASSIGN_OR_RETURN(grant_timeout, duration(v, key));
      } else if (key == "in-interface-list") {
        KG_ASSIGN_OR_RETURN(std::string s, String(v, key));
        if (s != "WAN" && s != "LAN") {
          return Error(v, key, absl::StrCat("expected \"WAN\" or \"LAN\", got \"", s, "\""));
        }
        in = s == "WAN" ? InterfaceList::kWan : InterfaceList::kLan;
      } else if (key == "accept") {
        KG_ASSIGN_OR_RETURN(accept, Bool(v, key));
      } else if (key == "comment") {
        KG_ASSIGN_OR_RETURN(comment, String(v, key));
      } else if (key == "disabled") {
        KG_ASSIGN_OR_RETURN(disabled, Bool(v, key));
      } else {
        return UnknownKey(k, {"name", "steps", "window", "grant-list", "grant-timeout",
                              "in-interface-list", "accept", "comment", "disabled"});
      }
    }
    if (name.empty()) {
      return Error(pos, "name", "missing: every [[knock]] needs a name");
    }
    if (steps.empty()) {
      return Error(pos, "steps", "missing: every [[knock]] needs its steps");
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      FilterRule r;
      r.pos = pos;
      r.chain = Chain::kInput;
      r.action = Action::kAddSrcToAddressList;
      r.in_interface_list = Negatable<InterfaceList>{in, false};
      r.protocol = Negatable<uint8_t>{steps[i].protocol, false};
      r.dst_port = Negatable<PortSet>{PortSet{{{steps[i].port, steps[i].port}}}, false};
      if (i > 0) {
        r.src_address_list = Negatable<std::string>{absl::StrCat(name, "-", i), false};
        r.src_address_list_pos = pos;
      }
      if (!steps[i].layer7.empty()) {
        r.layer7_protocol = Negatable<std::string>{steps[i].layer7, false};
        r.layer7_protocol_pos = steps[i].pos;
      }
      const bool last = i + 1 == steps.size();
      r.address_list = last ? grant_list : absl::StrCat(name, "-", i + 1);
      r.address_list_pos = pos;
      r.address_list_timeout = last ? grant_timeout : window;
      r.comment = absl::StrCat("knock ", name, " step ", i + 1, "/", steps.size(),
                               comment.empty() ? "" : ": ", comment);
      r.disabled = disabled;
      knock_rules_.push_back(std::move(r));
    }
    if (accept) {
      FilterRule r;
      r.pos = pos;
      r.chain = Chain::kInput;
      r.action = Action::kAccept;
      r.in_interface_list = Negatable<InterfaceList>{in, false};
      r.src_address_list = Negatable<std::string>{grant_list, false};
      r.src_address_list_pos = pos;
      r.comment = absl::StrCat("knock ", name, ": ", grant_list, " sources pass");
      r.disabled = disabled;
      knock_rules_.push_back(std::move(r));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Action> ParseAction(const toml::node& v, absl::string_view s) const {
    static constexpr std::pair<absl::string_view, Action> kActions[] = {
        {"accept", Action::kAccept},
        {"drop", Action::kDrop},
        {"add-src-to-address-list", Action::kAddSrcToAddressList},
        {"add-dst-to-address-list", Action::kAddDstToAddressList},
        {"log", Action::kLog},
        {"passthrough", Action::kPassthrough},
    };
    for (const auto& [word, action] : kActions) {
      if (s == word) {
        return action;
      }
    }
    return Error(v, "action",
                 absl::StrCat("unknown action \"", s,
                              "\" (expected accept, drop, add-src-to-address-list, "
                              "add-dst-to-address-list, log or passthrough)"));
  }

  absl::StatusOr<Negatable<uint8_t>> ParseConnectionState(const toml::node& v,
                                                          absl::string_view s) const {
    static constexpr std::pair<absl::string_view, uint8_t> kStates[] = {
        {"new", conn_state::kNew},
        {"established", conn_state::kEstablished},
        {"related", conn_state::kRelated},
        {"invalid", conn_state::kInvalid},
        {"untracked", conn_state::kUntracked},
    };
    Negatable<uint8_t> m{0, false};
    m.negated = absl::ConsumePrefix(&s, "!");
    for (absl::string_view part : absl::StrSplit(s, ',')) {
      uint8_t bit = 0;
      for (const auto& [word, state] : kStates) {
        if (part == word) {
          bit = state;
        }
      }
      if (bit == 0) {
        return Error(v, "connection-state",
                     absl::StrCat("\"", s,
                                  "\": expected a comma list of new, established, related, "
                                  "invalid, untracked, optionally negated with a leading \"!\""));
      }
      m.value |= bit;
    }
    return m;
  }

  absl::Status LoadConntrack(const toml::key& key, const toml::node& node) {
    KG_ASSIGN_OR_RETURN(const toml::table* t, Table(key, node));
    ConntrackConfig& c = config_.conntrack;
    const std::pair<absl::string_view, Nanos*> timeouts[] = {
        {"tcp-syn-sent-timeout", &c.tcp_syn_sent_timeout},
        {"tcp-syn-received-timeout", &c.tcp_syn_received_timeout},
        {"tcp-established-timeout", &c.tcp_established_timeout},
        {"tcp-fin-wait-timeout", &c.tcp_fin_wait_timeout},
        {"tcp-time-wait-timeout", &c.tcp_time_wait_timeout},
        {"tcp-close-timeout", &c.tcp_close_timeout},
        {"udp-timeout", &c.udp_timeout},
        {"udp-stream-timeout", &c.udp_stream_timeout},
        {"icmp-timeout", &c.icmp_timeout},
        {"generic-timeout", &c.generic_timeout},
    };
    for (auto&& [k, v] : *t) {
      const absl::string_view name = ToAbsl(k.str());
      if (name == "capacity") {
        KG_ASSIGN_OR_RETURN(c.capacity, Integer(v, name, 1, 1 << 26));
        continue;
      }
      Nanos* field = nullptr;
      for (const auto& [word, f] : timeouts) {
        if (name == word) {
          field = f;
        }
      }
      if (field == nullptr) {
        std::vector<absl::string_view> valid = {"capacity"};
        for (const auto& [word, f] : timeouts) {
          valid.push_back(word);
        }
        return UnknownKey(k, valid);
      }
      KG_ASSIGN_OR_RETURN(std::string s, StringOrInteger(v, name, "a duration"));
      absl::StatusOr<Nanos> d = ParseDuration(s);
      if (!d.ok() || *d == kNever) {
        return Error(v, name, "expected a duration such as \"10s\" or \"1d\"");
      }
      *field = *d;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<TcpFlagsMatch> ParseTcpFlags(const toml::node& v, absl::string_view s) const {
    static constexpr std::pair<absl::string_view, uint8_t> kFlags[] = {
        {"fin", tcp_flag::kFin}, {"syn", tcp_flag::kSyn}, {"rst", tcp_flag::kRst},
        {"psh", tcp_flag::kPsh}, {"ack", tcp_flag::kAck}, {"urg", tcp_flag::kUrg},
        {"ece", tcp_flag::kEce}, {"cwr", tcp_flag::kCwr},
    };
    TcpFlagsMatch m;
    for (absl::string_view part : absl::StrSplit(s, ',')) {
      bool neg = false;
      part = StripNegation(part, neg);
      uint8_t bit = 0;
      for (const auto& [word, flag] : kFlags) {
        if (part == word) {
          bit = flag;
        }
      }
      if (bit == 0 || ((m.must_set | m.must_clear) & bit) != 0) {
        return Error(v, "tcp-flags",
                     absl::StrCat("\"", s,
                                  "\": expected a comma list of distinct flags fin, syn, rst, psh, "
                                  "ack, urg, ece, cwr, each optionally negated with \"!\""));
      }
      (neg ? m.must_clear : m.must_set) |= bit;
    }
    return m;
  }

  // Checks that need the whole rule: ports and flags against the protocol, and
  // the family against the addresses.
  absl::Status CheckRuleConsistency(const toml::table& t, const FilterRule& r) const {
    const bool tcp = r.protocol && !r.protocol->negated && r.protocol->value == 6;
    const bool udp_like = r.protocol && !r.protocol->negated &&
                          (r.protocol->value == 17 || r.protocol->value == 132 ||
                           r.protocol->value == 136 || r.protocol->value == 33);
    for (const char* key : {"src-port", "dst-port"}) {
      if (t.contains(key) && !tcp && !udp_like) {
        return Error(*t.get(key), key,
                     "ports need protocol = \"tcp\", \"udp\", \"sctp\", \"udp-lite\" or \"dccp\"");
      }
    }
    if (r.tcp_flags && !tcp) {
      return Error(*t.get("tcp-flags"), "tcp-flags", "tcp-flags need protocol = \"tcp\"");
    }
    std::optional<Family> family;
    if (r.family) {
      family = r.family->negated
                   ? (r.family->value == Family::kIpv4 ? Family::kIpv6 : Family::kIpv4)
                   : r.family->value;
    }
    for (const char* key : {"src-address", "dst-address"}) {
      const auto& addr = absl::string_view(key) == "src-address" ? r.src_address : r.dst_address;
      if (!addr) {
        continue;
      }
      if (family && *family != addr->value.prefix.family) {
        return Error(*t.get(key), key,
                     absl::StrCat("address family does not match family = \"",
                                  *family == Family::kIpv4 ? "ip" : "ipv6", "\""));
      }
      family = addr->value.prefix.family;
    }
    if (r.protocol && !r.protocol->negated && family) {
      const uint8_t p = r.protocol->value;
      if ((p == 1 && *family == Family::kIpv6) || (p == 58 && *family == Family::kIpv4)) {
        return Error(*t.get("protocol"), "protocol",
                     p == 1 ? "icmp is IPv4's; IPv6 rules use \"icmpv6\""
                            : "icmpv6 is IPv6's; IPv4 rules use \"icmp\"");
      }
    }
    return absl::OkStatus();
  }

  // References that may point forward in the file (a rule naming a layer7
  // protocol defined below it) are resolved once everything is read.
  absl::Status CheckCrossReferences() const {
    // Lists are sharded by the WAN-side address (DESIGN.md section 3). A rule
    // that could add a LAN-side address cannot be sharded over several workers.
    if (config_.dataplane.workers > 1) {
      for (const FilterRule& r : config_.filters) {
        if (r.disabled || (r.action != Action::kAddSrcToAddressList &&
                           r.action != Action::kAddDstToAddressList)) {
          continue;
        }
        // The side a packet must arrive on for the added address to be WAN-side.
        const InterfaceList needed =
            r.action == Action::kAddSrcToAddressList ? InterfaceList::kWan : InterfaceList::kLan;
        const bool only_needed = r.in_interface_list && ((r.in_interface_list->value == needed) !=
                                                         r.in_interface_list->negated);
        if (!only_needed) {
          return Error(
              r.pos, "action",
              absl::StrCat(ActionName(r.action), " here can add LAN-side addresses to \"",
                           r.address_list, "\", which cannot be sharded over ",
                           config_.dataplane.workers, " workers: add in-interface-list = \"",
                           InterfaceListName(needed), "\" or set workers = 1"));
        }
      }
    }
    for (const FilterRule& r : config_.filters) {
      if (!r.layer7_protocol) {
        continue;
      }
      bool found = false;
      for (const Layer7Protocol& p : config_.layer7_protocols) {
        found = found || p.name == r.layer7_protocol->value;
      }
      if (!found) {
        return Error(
            r.layer7_protocol_pos, "layer7-protocol",
            absl::StrCat("no [[layer7-protocol]] is named \"", r.layer7_protocol->value, "\""));
      }
    }
    return absl::OkStatus();
  }

  absl::string_view path_;
  Config config_;
  std::vector<FilterRule> knock_rules_;  // from [[knock]], appended after [[filter]]
};

}  // namespace

const std::vector<absl::string_view>& FilterKeys() { return kFilterKeys; }

absl::StatusOr<PortSet> ParsePortSet(absl::string_view text) {
  PortSet set;
  auto parse_port = [](absl::string_view s, uint16_t& out) {
    uint32_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 65535) {
      return false;
    }
    out = static_cast<uint16_t>(v);
    return true;
  };
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    const size_t dash = part.find('-');
    uint16_t lo = 0;
    uint16_t hi = 0;
    const bool ok = dash == absl::string_view::npos ? parse_port(part, lo) && parse_port(part, hi)
                                                    : parse_port(part.substr(0, dash), lo) &&
                                                          parse_port(part.substr(dash + 1), hi);
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text,
                       "\": expected ports 1..65535 or ranges like \"10000-60000\", "
                       "separated by commas"));
    }
    if (lo > hi) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text, "\": range ", lo, "-", hi, " runs backwards"));
    }
    set.ranges.emplace_back(lo, hi);
  }
  return set;
}

absl::StatusOr<uint8_t> ParseProtocol(absl::string_view text) {
  for (const ProtocolEntry& p : kProtocols) {
    if (text == p.name) {
      return p.number;
    }
  }
  if (text == "ipv6-icmp") {
    return uint8_t{58};
  }
  uint32_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size() && n <= 255) {
    return static_cast<uint8_t>(n);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown protocol \"", text,
                   "\" (expected a name such as tcp, udp, icmp, icmpv6, gre, or a number 0..255)"));
}

const char* ProtocolName(uint8_t proto) {
  for (const ProtocolEntry& p : kProtocols) {
    if (p.number == proto) {
      return p.name;
    }
  }
  return nullptr;
}

absl::StatusOr<Config> LoadConfig(absl::string_view text, absl::string_view path) {
  return Loader(path).Load(text);
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  KG_ASSIGN_OR_RETURN(const std::string text, ReadFileBounded(path, "config file"));
  return LoadConfig(text, path);
}

}  // namespace knockgate
