// A [[knock]] section expands to the filter rules one would write by hand:
// one add-src-to-address-list rule per step, then the grant's accept. With a
// secret, its steps knock on ports that rotate (knock_rotation.h).
#include "policy/section_loaders.h"

#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "policy/knock_rotation.h"
#include "policy/value_parsers.h"

namespace knockgate {

// A [[knock]] section: ordered steps, a window per step, a grant list and
// its timeout. Expands to the filter rules one would write by hand.
absl::Status LoadKnock(const TomlReader& in, const toml::table& t, std::vector<FilterRule>& rules,
                       Config& config) {
  ListsConfig& lists = config.lists;
  const SourcePos pos = PosOf(t.source());
  std::string name;
  std::string grant_list = "secured";
  std::string comment;
  Nanos window = 30 * kNanosPerSecond;
  Nanos grant_timeout = 1800 * kNanosPerSecond;
  InterfaceList side = InterfaceList::kWan;
  bool accept = true;
  bool disabled = false;
  std::optional<uint32_t> capacity;  // of every step list
  // Rotating: a secret, its period and the ports it draws from.
  RotatingKnock rotating;
  const toml::node* secret_node = nullptr;
  const toml::node* rotation_node = nullptr;  // period or port-range, which need a secret
  struct Step {
    uint8_t protocol;
    uint16_t port;  // 0: "tcp" or "udp" alone, a rotating step
    std::string layer7;
    SourcePos pos;
  };
  std::vector<Step> steps;
  const toml::node* portless_step = nullptr;
  const toml::node* ported_step = nullptr;
  auto parse_step = [&](const toml::node& v, absl::string_view text) -> absl::StatusOr<Step> {
    Step step{0, 0, "", PosOf(v.source())};
    std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
    uint32_t port = 0;
    if (parts.size() == 1 && (parts[0] == "tcp" || parts[0] == "udp")) {
      step.protocol = parts[0] == "tcp" ? 6 : 17;
      portless_step = &v;
      return step;
    }
    if (parts.size() != 2 || (parts[0] != "tcp" && parts[0] != "udp") ||
        !absl::SimpleAtoi(parts[1], &port) || port < 1 || port > 65535) {
      return in.Error(v, "steps",
                      absl::StrCat("\"", text,
                                   "\": expected \"tcp:PORT\" or \"udp:PORT\" with a port "
                                   "1..65535 (or \"tcp\" or \"udp\" alone with a secret)"));
    }
    ported_step = &v;
    step.protocol = parts[0] == "tcp" ? 6 : 17;
    step.port = static_cast<uint16_t>(port);
    return step;
  };
  for (auto&& [k, v] : t) {
    const absl::string_view key = ToAbsl(k.str());
    if (key == "name") {
      KG_ASSIGN_OR_RETURN(name, in.String(v, key));
    } else if (key == "steps") {
      const toml::array* arr = v.as_array();
      if (arr == nullptr || arr->empty()) {
        return in.WrongType(v, key, "a non-empty array of steps");
      }
      for (const toml::node& item : *arr) {
        if (const auto* str = item.as_string()) {
          KG_ASSIGN_OR_RETURN(Step step, parse_step(item, ToAbsl(str->get())));
          steps.push_back(step);
        } else if (const toml::table* tab = item.as_table()) {
          const toml::node* port = tab->get("step");
          if (port == nullptr || !port->is_string()) {
            return in.Error(item, "steps",
                            "an inline step needs step = \"tcp:PORT\" or \"udp:PORT\"");
          }
          KG_ASSIGN_OR_RETURN(Step step, parse_step(*port, ToAbsl(port->as_string()->get())));
          for (auto&& [sk, sv] : *tab) {
            if (ToAbsl(sk.str()) == "layer7-protocol") {
              KG_ASSIGN_OR_RETURN(step.layer7, in.String(sv, "layer7-protocol"));
              step.pos = PosOf(sv.source());
            } else if (ToAbsl(sk.str()) != "step") {
              return in.UnknownKey(sk, {"step", "layer7-protocol"});
            }
          }
          steps.push_back(step);
        } else {
          return in.WrongType(
              item, key, "a step: \"tcp:PORT\" or { step = \"udp:PORT\", layer7-protocol = ... }");
        }
      }
    } else if (key == "window") {
      KG_ASSIGN_OR_RETURN(window, in.Duration(v, key));
    } else if (key == "grant-list") {
      KG_ASSIGN_OR_RETURN(grant_list, in.String(v, key));
    } else if (key == "grant-timeout") {
      KG_ASSIGN_OR_RETURN(grant_timeout, in.Duration(v, key));
    } else if (key == "in-interface-list") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, key));
      if (s != "WAN" && s != "LAN") {
        return in.Error(v, key, absl::StrCat("expected \"WAN\" or \"LAN\", got \"", s, "\""));
      }
      side = s == "WAN" ? InterfaceList::kWan : InterfaceList::kLan;
    } else if (key == "accept") {
      KG_ASSIGN_OR_RETURN(accept, in.Bool(v, key));
    } else if (key == "capacity") {
      KG_ASSIGN_OR_RETURN(capacity, in.Integer(v, key, 1, 1 << 26));
    } else if (key == "comment") {
      KG_ASSIGN_OR_RETURN(comment, in.String(v, key));
    } else if (key == "disabled") {
      KG_ASSIGN_OR_RETURN(disabled, in.Bool(v, key));
    } else if (key == "secret" || key == "secret-file") {
      if (secret_node != nullptr) {
        return in.Error(v, key, "give secret or secret-file, not both");
      }
      secret_node = &v;
      KG_ASSIGN_OR_RETURN(std::string text, key == "secret-file"
                                                ? in.FileText(v, key, "knock secret file")
                                                : in.String(v, key));
      if (text.size() < 16) {  // never quote a secret, not even a short one
        return in.Error(v, key, "expected a secret of at least 16 bytes");
      }
      rotating.secret = std::move(text);
    } else if (key == "period") {
      rotation_node = &v;
      KG_ASSIGN_OR_RETURN(rotating.period, in.Duration(v, key));
      if (rotating.period % kNanosPerSecond != 0 || rotating.period < 10 * kNanosPerSecond ||
          rotating.period > 86400 * kNanosPerSecond) {
        return in.Error(v, key, "expected whole seconds from \"10s\" to \"1d\"");
      }
    } else if (key == "port-range") {
      rotation_node = &v;
      KG_ASSIGN_OR_RETURN(const std::string text, in.String(v, key));
      const absl::StatusOr<PortSet> set = ParsePortSet(text);
      const uint32_t lo = set.ok() && set->ranges.size() == 1 ? set->ranges[0].first : 0;
      const uint32_t hi = set.ok() && set->ranges.size() == 1 ? set->ranges[0].second : 0;
      if (lo == 0 || hi < lo + kMinRotatingPorts - 1) {
        return in.Error(v, key,
                        absl::StrCat("\"", text,
                                     "\": expected \"LO-HI\" within 1..65535 holding at "
                                     "least ",
                                     kMinRotatingPorts, " ports"));
      }
      rotating.port_lo = static_cast<uint16_t>(lo);
      rotating.port_hi = static_cast<uint16_t>(hi);
    } else {
      return in.UnknownKey(k, {"name", "steps", "window", "grant-list", "grant-timeout",
                               "in-interface-list", "accept", "capacity", "comment", "disabled",
                               "secret", "secret-file", "period", "port-range"});
    }
  }
  if (name.empty()) {
    return in.Error(pos, "name", "missing: every [[knock]] needs a name");
  }
  const bool rotates = secret_node != nullptr;
  if (!rotates && rotation_node != nullptr) {
    return in.Error(*rotation_node, "secret",
                    "missing: period and port-range belong to a rotating knock, which needs "
                    "secret or secret-file");
  }
  if (!rotates && portless_step != nullptr) {
    return in.Error(*portless_step, "steps",
                    "a step without a port knocks a rotating sequence: add secret or secret-file");
  }
  if (rotates && ported_step != nullptr) {
    return in.Error(*ported_step, "steps",
                    "a rotating knock's steps name their protocol alone (\"tcp\" or \"udp\"): "
                    "its ports come from the secret");
  }
  if (rotates && steps.empty()) {
    steps.assign(3, Step{6, 0, "", pos});  // three TCP steps
  }
  if (steps.empty()) {
    return in.Error(pos, "steps", "missing: every [[knock]] needs its steps");
  }
  if (rotates) {
    if (steps.size() > kMaxRotatingSteps) {
      return in.Error(pos, "steps",
                      absl::StrCat("a rotating knock has at most ", kMaxRotatingSteps, " steps"));
    }
    rotating.name = name;
    rotating.pos = pos;
    for (const Step& s : steps) {
      rotating.protocols.push_back(s.protocol);
    }
  }
  const int rotating_index = rotates ? static_cast<int>(config.rotating_knocks.size()) : -1;
  for (size_t i = 0; i < steps.size(); ++i) {
    FilterRule r;
    r.pos = pos;
    r.chain = Chain::kInput;
    r.action = Action::kAddSrcToAddressList;
    r.in_interface_list = Negatable<InterfaceList>{side, false};
    r.protocol = Negatable<uint8_t>{steps[i].protocol, false};
    if (rotates) {
      r.dst_port = Negatable<PortSet>{PortSet{{{rotating.port_lo, rotating.port_hi}}}, false};
      r.rotating = rotating_index;
      r.rotating_step = static_cast<uint8_t>(i);
    } else {
      r.dst_port = Negatable<PortSet>{PortSet{{{steps[i].port, steps[i].port}}}, false};
    }
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
    if (!last && (capacity || i == 0)) {
      lists.knock_capacities[r.address_list] = capacity.value_or(kFirstKnockStepCapacity);
    }
    r.address_list_pos = pos;
    r.address_list_timeout = last ? grant_timeout : window;
    r.comment = absl::StrCat("knock ", name, " step ", i + 1, "/", steps.size(),
                             rotates ? " (rotating)" : "", comment.empty() ? "" : ": ", comment);
    r.disabled = disabled;
    rules.push_back(std::move(r));
  }
  if (accept) {
    FilterRule r;
    r.pos = pos;
    r.chain = Chain::kInput;
    r.action = Action::kAccept;
    r.in_interface_list = Negatable<InterfaceList>{side, false};
    r.src_address_list = Negatable<std::string>{grant_list, false};
    r.src_address_list_pos = pos;
    r.comment = absl::StrCat("knock ", name, ": ", grant_list, " sources pass");
    r.disabled = disabled;
    rules.push_back(std::move(r));
  }
  if (rotates) {
    config.rotating_knocks.push_back(std::move(rotating));
  }
  return absl::OkStatus();
}

}  // namespace knockgate
