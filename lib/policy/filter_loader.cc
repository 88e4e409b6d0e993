// A [[filter]] table to a FilterRule: RouterOS's keys and values, then the
// checks that need the whole rule (ports against protocol, family against addresses).
#include "policy/section_loaders.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "policy/value_parsers.h"

namespace knockgate {
namespace {

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
                                                    "limit",
                                                    "dst-limit",
                                                    "address-list",
                                                    "address-list-timeout",
                                                    "log",
                                                    "log-prefix",
                                                    "comment",
                                                    "disabled"};

// Checks that need the whole rule: ports and flags against the protocol, and
// the family against the addresses.
absl::Status CheckRuleConsistency(const TomlReader& in, const toml::table& t, const FilterRule& r) {
  const bool tcp = r.protocol && !r.protocol->negated && r.protocol->value == 6;
  const bool udp_like = r.protocol && !r.protocol->negated &&
                        (r.protocol->value == 17 || r.protocol->value == 132 ||
                         r.protocol->value == 136 || r.protocol->value == 33);
  for (const char* key : {"src-port", "dst-port"}) {
    if (t.contains(key) && !tcp && !udp_like) {
      return in.Error(*t.get(key), key,
                      "ports need protocol = \"tcp\", \"udp\", \"sctp\", \"udp-lite\" or \"dccp\"");
    }
  }
  if (r.tcp_flags && !tcp) {
    return in.Error(*t.get("tcp-flags"), "tcp-flags", "tcp-flags need protocol = \"tcp\"");
  }
  std::optional<Family> family;
  if (r.family) {
    family = r.family->negated ? (r.family->value == Family::kIpv4 ? Family::kIpv6 : Family::kIpv4)
                               : r.family->value;
  }
  for (const char* key : {"src-address", "dst-address"}) {
    const auto& addr = absl::string_view(key) == "src-address" ? r.src_address : r.dst_address;
    if (!addr) {
      continue;
    }
    if (family && *family != addr->value.prefix.family) {
      return in.Error(*t.get(key), key,
                      absl::StrCat("address family does not match family = \"",
                                   *family == Family::kIpv4 ? "ip" : "ipv6", "\""));
    }
    family = addr->value.prefix.family;
  }
  if (r.protocol && !r.protocol->negated && family) {
    const uint8_t p = r.protocol->value;
    if ((p == 1 && *family == Family::kIpv6) || (p == 58 && *family == Family::kIpv4)) {
      return in.Error(*t.get("protocol"), "protocol",
                      p == 1 ? "icmp is IPv4's; IPv6 rules use \"icmpv6\""
                             : "icmpv6 is IPv6's; IPv4 rules use \"icmp\"");
    }
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<absl::string_view>& FilterKeys() { return kFilterKeys; }

absl::Status LoadFilter(const TomlReader& in, const toml::table& t, Config& config) {
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
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      if (s == "input") {
        r.chain = Chain::kInput;
      } else if (s == "forward") {
        r.chain = Chain::kForward;
      } else {
        return in.Error(v, name,
                        absl::StrCat("expected \"input\" or \"forward\", got \"", s,
                                     "\" (a bridge has no traffic of its own to output or route)"));
      }
    } else if (name == "action") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      KG_ASSIGN_OR_RETURN(r.action, in.Checked(v, name, ParseAction(s)));
      have_action = true;
    } else if (name == "in-interface-list") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      const absl::string_view val = StripNegation(s, neg);
      if (val == "WAN") {
        r.in_interface_list = Negatable<InterfaceList>{InterfaceList::kWan, neg};
      } else if (val == "LAN") {
        r.in_interface_list = Negatable<InterfaceList>{InterfaceList::kLan, neg};
      } else {
        return in.Error(v, name, absl::StrCat("expected \"WAN\" or \"LAN\", got \"", s, "\""));
      }
    } else if (name == "family") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      const absl::string_view val = StripNegation(s, neg);
      if (val == "ip") {
        r.family = Negatable<Family>{Family::kIpv4, neg};
      } else if (val == "ipv6") {
        r.family = Negatable<Family>{Family::kIpv6, neg};
      } else {
        return in.Error(v, name, absl::StrCat("expected \"ip\" or \"ipv6\", got \"", s, "\""));
      }
    } else if (name == "protocol") {
      KG_ASSIGN_OR_RETURN(std::string s, in.StringOrInteger(v, name, "a protocol name or number"));
      absl::StatusOr<uint8_t> proto = ParseProtocol(StripNegation(s, neg));
      if (!proto.ok()) {
        return in.Error(v, name, proto.status().message());
      }
      r.protocol = Negatable<uint8_t>{*proto, neg};
    } else if (name == "src-port" || name == "dst-port") {
      KG_ASSIGN_OR_RETURN(std::string s, in.StringOrInteger(v, name, "a port list"));
      absl::StatusOr<PortSet> ports = ParsePortSet(StripNegation(s, neg));
      if (!ports.ok()) {
        return in.Error(v, name, ports.status().message());
      }
      (name == "src-port" ? r.src_port : r.dst_port) = Negatable<PortSet>{*ports, neg};
    } else if (name == "tcp-flags") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      KG_ASSIGN_OR_RETURN(r.tcp_flags, in.Checked(v, name, ParseTcpFlags(s)));
    } else if (name == "src-address" || name == "dst-address") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      absl::StatusOr<Cidr> cidr = ParseCidr(StripNegation(s, neg));
      if (!cidr.ok()) {
        return in.Error(v, name, cidr.status().message());
      }
      (name == "src-address" ? r.src_address : r.dst_address) = Negatable<Cidr>{*cidr, neg};
    } else if (name == "src-address-list" || name == "dst-address-list" ||
               name == "layer7-protocol") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      const std::string val(StripNegation(s, neg));
      if (val.empty()) {
        return in.Error(v, name, "expected a name, optionally with a leading \"!\"");
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
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      KG_ASSIGN_OR_RETURN(r.connection_state, in.Checked(v, name, ParseConnectionState(s)));
    } else if (name == "limit") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      KG_ASSIGN_OR_RETURN(r.limit, in.Checked(v, name, ParseLimit(s)));
    } else if (name == "dst-limit") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      KG_ASSIGN_OR_RETURN(r.dst_limit, in.Checked(v, name, ParseDstLimit(s)));
      r.dst_limit_pos = PosOf(v.source());
    } else if (name == "address-list") {
      KG_ASSIGN_OR_RETURN(r.address_list, in.String(v, name));
      if (r.address_list.empty()) {
        return in.Error(v, name, "expected a non-empty list name");
      }
      r.address_list_pos = PosOf(v.source());
      have_list_param = true;
    } else if (name == "address-list-timeout") {
      KG_ASSIGN_OR_RETURN(r.address_list_timeout, in.Duration(v, name));
      timeout_pos = PosOf(v.source());
      have_timeout = true;
    } else if (name == "log") {
      KG_ASSIGN_OR_RETURN(r.log, in.Bool(v, name));
    } else if (name == "log-prefix") {
      KG_ASSIGN_OR_RETURN(r.log_prefix, in.String(v, name));
    } else if (name == "comment") {
      KG_ASSIGN_OR_RETURN(r.comment, in.String(v, name));
    } else if (name == "disabled") {
      KG_ASSIGN_OR_RETURN(r.disabled, in.Bool(v, name));
    } else {
      return in.UnknownKey(k, kFilterKeys);
    }
  }
  if (!have_action) {
    return in.Error(r.pos, "action",
                    "missing: every [[filter]] needs an action (accept, drop, "
                    "add-src-to-address-list, add-dst-to-address-list, log, passthrough)");
  }
  const bool adds =
      r.action == Action::kAddSrcToAddressList || r.action == Action::kAddDstToAddressList;
  if (adds && !have_list_param) {
    return in.Error(
        r.pos, "address-list",
        absl::StrCat("missing: action \"", ActionName(r.action), "\" needs a list name"));
  }
  if (!adds && have_list_param) {
    return in.Error(r.address_list_pos, "address-list",
                    "only add-src-to-address-list and add-dst-to-address-list take a list");
  }
  if (!adds && have_timeout) {
    return in.Error(timeout_pos, "address-list-timeout",
                    "only add-src-to-address-list and add-dst-to-address-list take a timeout");
  }
  KG_RETURN_IF_ERROR(CheckRuleConsistency(in, t, r));
  config.filters.push_back(std::move(r));
  return absl::OkStatus();
}

}  // namespace knockgate
