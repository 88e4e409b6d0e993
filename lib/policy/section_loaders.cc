// The plain [[...]] and [...] sections: eal, interfaces, dataplane, policy,
// lists, log, conntrack, layer7-protocol, address-list. Each checks its keys.
#include "policy/section_loaders.h"

#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "policy/value_parsers.h"

namespace knockgate {
namespace {

absl::StatusOr<Verdict> VerdictValue(const TomlReader& in, const toml::node& v,
                                     absl::string_view key, absl::string_view pass_word) {
  KG_ASSIGN_OR_RETURN(std::string s, in.String(v, key));
  if (s == pass_word) {
    return Verdict::kAccept;
  }
  if (s == "drop") {
    return Verdict::kDrop;
  }
  return in.Error(v, key,
                  absl::StrCat("expected \"", pass_word, "\" or \"drop\", got \"", s, "\""));
}

// "HOST:PORT" ("[V6]:PORT" too): the host (brackets off) and the port.
std::optional<std::pair<std::string, uint16_t>> HostPort(absl::string_view text) {
  const size_t colon = text.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(text.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return std::nullopt;
  }
  absl::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::pair<std::string, uint16_t>(std::string(host), static_cast<uint16_t>(port));
}

// An array of list names, each with where it stands (for later checks).
absl::Status ListNames(const TomlReader& in, const toml::node& v, absl::string_view name,
                       std::vector<std::string>& names, std::vector<SourcePos>& pos) {
  const toml::array* arr = v.as_array();
  if (arr == nullptr) {
    return in.WrongType(v, name, "an array of list names such as [\"secured\", \"blacklist\"]");
  }
  for (const toml::node& item : *arr) {
    KG_ASSIGN_OR_RETURN(std::string list, in.String(item, name));
    names.push_back(std::move(list));
    pos.push_back(PosOf(item.source()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadEal(const TomlReader& in, const toml::key& key, const toml::node& node,
                     Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  for (auto&& [k, v] : *t) {
    if (ToAbsl(k.str()) != "args") {
      return in.UnknownKey(k, {"args"});
    }
    const toml::array* arr = v.as_array();
    if (arr == nullptr) {
      return in.WrongType(v, "args", "an array of strings");
    }
    for (const toml::node& a : *arr) {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(a, "args"));
      config.eal.args.push_back(std::move(s));
    }
  }
  return absl::OkStatus();
}

absl::Status LoadInterfaces(const TomlReader& in, const toml::key& key, const toml::node& node,
                            Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  for (auto&& [k, v] : *t) {
    std::string* field = nullptr;
    if (ToAbsl(k.str()) == "wan") {
      field = &config.interfaces.wan;
    } else if (ToAbsl(k.str()) == "lan") {
      field = &config.interfaces.lan;
    } else {
      return in.UnknownKey(k, {"wan", "lan"});
    }
    KG_ASSIGN_OR_RETURN(*field, in.String(v, ToAbsl(k.str())));
    if (field->empty()) {
      return in.Error(v, ToAbsl(k.str()), "expected a DPDK device name (PCI address or vdev name)");
    }
  }
  return absl::OkStatus();
}

absl::Status LoadDataplane(const TomlReader& in, const toml::key& key, const toml::node& node,
                           Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  DataplaneConfig& d = config.dataplane;
  for (auto&& [k, v] : *t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "workers") {
      KG_ASSIGN_OR_RETURN(d.workers, in.Integer(v, name, 1, 64));
    } else if (name == "burst") {
      KG_ASSIGN_OR_RETURN(d.burst, in.Integer(v, name, 1, 512));
    } else if (name == "mbufs") {
      KG_ASSIGN_OR_RETURN(d.mbufs, in.Integer(v, name, 1024, 1 << 26));
    } else if (name == "idle-sleep") {
      KG_ASSIGN_OR_RETURN(std::string s, in.StringOrInteger(v, name, "a duration"));
      KG_ASSIGN_OR_RETURN(d.idle_sleep, in.Checked(v, name, ParseIdleSleep(s)));
    } else if (name == "steering") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      if (s == "auto") {
        d.steering = Steering::kAuto;
      } else if (s == "rss") {
        d.steering = Steering::kRss;
      } else if (s == "dispatcher") {
        d.steering = Steering::kDispatcher;
      } else {
        return in.Error(
            v, name, absl::StrCat("expected \"auto\", \"rss\" or \"dispatcher\", got \"", s, "\""));
      }
    } else if (name == "stats-interval") {
      KG_ASSIGN_OR_RETURN(std::string s, in.StringOrInteger(v, name, "a duration"));
      if (s == "0") {
        d.stats_interval = 0;
      } else {
        absl::StatusOr<Nanos> interval = ParseDuration(s);
        if (!interval.ok() || *interval == kNever) {
          return in.Error(v, name, "expected \"0\" (off) or a duration such as \"10s\"");
        }
        d.stats_interval = *interval;
      }
    } else {
      return in.UnknownKey(
          k, {"workers", "burst", "mbufs", "idle-sleep", "steering", "stats-interval"});
    }
  }
  return absl::OkStatus();
}

absl::Status LoadPolicyDefaults(const TomlReader& in, const toml::key& key, const toml::node& node,
                                Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  PolicyDefaults& p = config.policy;
  for (auto&& [k, v] : *t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "wan-default") {
      KG_ASSIGN_OR_RETURN(p.wan_default, VerdictValue(in, v, name, "accept"));
    } else if (name == "lan-default") {
      KG_ASSIGN_OR_RETURN(p.lan_default, VerdictValue(in, v, name, "accept"));
    } else if (name == "non-ip") {
      KG_ASSIGN_OR_RETURN(p.non_ip, VerdictValue(in, v, name, "forward"));
    } else {
      return in.UnknownKey(k, {"wan-default", "lan-default", "non-ip"});
    }
  }
  return absl::OkStatus();
}

absl::Status LoadLists(const TomlReader& in, const toml::key& key, const toml::node& node,
                       Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  constexpr int64_t kMaxCapacity = 1 << 26;
  for (auto&& [k, v] : *t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "capacity") {
      KG_ASSIGN_OR_RETURN(config.lists.capacity, in.Integer(v, name, 1, kMaxCapacity));
    } else if (name == "capacity-per-list") {
      KG_ASSIGN_OR_RETURN(const toml::table* per, in.Table(k, v));
      for (auto&& [list, cap] : *per) {
        KG_ASSIGN_OR_RETURN(config.lists.capacities[std::string(ToAbsl(list.str()))],
                            in.Integer(cap, ToAbsl(list.str()), 1, kMaxCapacity));
      }
    } else {
      return in.UnknownKey(k, {"capacity", "capacity-per-list"});
    }
  }
  return absl::OkStatus();
}

absl::Status LoadDstLimit(const TomlReader& in, const toml::key& key, const toml::node& node,
                          Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  for (auto&& [k, v] : *t) {
    if (ToAbsl(k.str()) != "capacity") {
      return in.UnknownKey(k, {"capacity"});
    }
    KG_ASSIGN_OR_RETURN(config.dst_limit.capacity, in.Integer(v, "capacity", 1, 1 << 24));
  }
  return absl::OkStatus();
}

absl::Status LoadMetrics(const TomlReader& in, const toml::key& key, const toml::node& node,
                         Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  for (auto&& [k, v] : *t) {
    if (ToAbsl(k.str()) != "listen") {
      return in.UnknownKey(k, {"listen"});
    }
    KG_ASSIGN_OR_RETURN(config.metrics.listen, in.String(v, "listen"));
    const size_t colon = config.metrics.listen.rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(config.metrics.listen.substr(colon + 1), &port) || port == 0 ||
        port > 65535) {
      return in.Error(v, "listen",
                      absl::StrCat("expected ADDRESS:PORT such as \"127.0.0.1:9641\" or "
                                   "\"[::1]:9641\", got \"",
                                   config.metrics.listen, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status LoadState(const TomlReader& in, const toml::key& key, const toml::node& node,
                       Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  for (auto&& [k, v] : *t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "file") {
      KG_ASSIGN_OR_RETURN(config.state.file, in.String(v, name));
    } else if (name == "interval") {
      KG_ASSIGN_OR_RETURN(config.state.interval, in.Duration(v, name));
      if (config.state.interval == kNever) {
        return in.Error(v, name, "expected a duration such as \"10s\"");
      }
    } else if (name == "lists") {
      config.state.lists.emplace();
      KG_RETURN_IF_ERROR(ListNames(in, v, name, *config.state.lists, config.state.list_pos));
    } else {
      return in.UnknownKey(k, {"file", "interval", "lists"});
    }
  }
  return absl::OkStatus();
}

absl::Status LoadSync(const TomlReader& in, const toml::key& key, const toml::node& node,
                      Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  SyncConfig& s = config.sync;
  for (auto&& [k, v] : *t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "redis") {
      KG_ASSIGN_OR_RETURN(s.redis, in.String(v, name));
      absl::string_view url = s.redis;
      bool ok = false;
      if (absl::StartsWith(url, "unix://")) {
        ok = url.size() > 7 && url[7] == '/' && url.size() <= 7 + 107;
      } else if (absl::StartsWith(url, "tcp://")) {
        ok = HostPort(url.substr(6)).has_value();
      } else if (absl::ConsumePrefix(&url, "sentinel://")) {
        const size_t slash = url.find('/');
        ok = slash != absl::string_view::npos && slash + 1 < url.size();
        for (absl::string_view hp : absl::StrSplit(url.substr(0, ok ? slash : 0), ',')) {
          std::optional<std::pair<std::string, uint16_t>> at = HostPort(hp);
          ok = ok && at.has_value();
          if (at) {
            s.sentinels.push_back(*std::move(at));
          }
        }
        if (ok) {
          s.master = std::string(url.substr(slash + 1));
        }
      }
      if (!ok) {
        return in.Error(v, name,
                        absl::StrCat("expected \"unix:///PATH\", \"tcp://HOST:PORT\" or "
                                     "\"sentinel://HOST:PORT[,HOST:PORT...]/MASTER\", got \"",
                                     s.redis, "\""));
      }
    } else if (name == "username") {
      KG_ASSIGN_OR_RETURN(s.username, in.String(v, name));
      if (s.username.empty() || s.username.find_first_of(" \t\r\n") != std::string::npos) {
        return in.Error(v, name, "expected a Redis ACL user name without spaces");
      }
    } else if (name == "password" || name == "password-file") {
      if (!s.password.empty()) {
        return in.Error(v, name, "give password or password-file, not both");
      }
      KG_ASSIGN_OR_RETURN(std::string text, name == "password-file"
                                                ? in.FileText(v, name, "password file")
                                                : in.String(v, name));
      if (text.empty()) {  // never quote a password, not even a bad one
        return in.Error(v, name, "expected a password, found an empty one");
      }
      s.password = std::move(text);
    } else if (name == "resync-interval") {
      KG_ASSIGN_OR_RETURN(s.resync_interval, in.Duration(v, name));
      if (s.resync_interval == kNever) {
        return in.Error(v, name, "expected a duration such as \"5m\" (\"0\": only at connect)");
      }
    } else if (name == "prefix" || name == "node") {
      KG_ASSIGN_OR_RETURN(std::string text, in.String(v, name));
      if (text.empty() || text.find_first_of(" \t\r\n") != std::string::npos) {
        return in.Error(v, name, "expected a non-empty name without spaces");
      }
      (name == "prefix" ? s.prefix : s.node) = text;
    } else if (name == "lists") {
      KG_RETURN_IF_ERROR(ListNames(in, v, name, s.lists, s.list_pos));
      for (size_t i = 0; i < s.lists.size(); ++i) {
        if (s.lists[i].empty() || s.lists[i].find_first_of(": \t\r\n") != std::string::npos) {
          return in.Error(s.list_pos[i], name,
                          absl::StrCat("\"", s.lists[i],
                                       "\": a shared list's name cannot be empty or "
                                       "hold ':' or spaces (it is part of a Redis key)"));
        }
      }
    } else {
      return in.UnknownKey(k, {"redis", "username", "password", "password-file", "lists", "prefix",
                               "node", "resync-interval"});
    }
  }
  if (s.redis.empty()) {
    return in.Error(PosOf(t->source()), "redis",
                    "missing: [sync] needs the Redis to share through");
  }
  return absl::OkStatus();
}

absl::Status LoadControl(const TomlReader& in, const toml::key& key, const toml::node& node,
                         Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  for (auto&& [k, v] : *t) {
    if (ToAbsl(k.str()) != "socket") {
      return in.UnknownKey(k, {"socket"});
    }
    KG_ASSIGN_OR_RETURN(config.control.socket, in.String(v, "socket"));
    if (config.control.socket.empty() || config.control.socket.size() > 107) {
      return in.Error(v, "socket", "expected a Unix socket path of 1..107 bytes");
    }
  }
  return absl::OkStatus();
}

absl::Status LoadLog(const TomlReader& in, const toml::key& key, const toml::node& node,
                     Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  for (auto&& [k, v] : *t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "file") {
      KG_ASSIGN_OR_RETURN(config.log.file, in.String(v, name));
    } else if (name == "rate") {
      KG_ASSIGN_OR_RETURN(config.log.rate, in.Integer(v, name, 0, 1'000'000));
    } else if (name == "burst") {
      KG_ASSIGN_OR_RETURN(config.log.burst, in.Integer(v, name, 1, 1'000'000));
    } else if (name == "show-ports") {
      KG_ASSIGN_OR_RETURN(config.log.show_ports, in.Bool(v, name));
    } else {
      return in.UnknownKey(k, {"file", "rate", "burst", "show-ports"});
    }
  }
  return absl::OkStatus();
}

absl::Status LoadLayer7(const TomlReader& in, const toml::table& t, Config& config) {
  Layer7Protocol p;
  bool have_regexp = false;
  for (auto&& [k, v] : t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "name") {
      KG_ASSIGN_OR_RETURN(p.name, in.String(v, name));
      if (p.name.empty()) {
        return in.Error(v, name, "expected a non-empty name");
      }
      for (const Layer7Protocol& other : config.layer7_protocols) {
        if (other.name == p.name) {
          return in.Error(v, name,
                          absl::StrCat("layer7-protocol \"", p.name,
                                       "\" is already defined at line ", other.pos.line));
        }
      }
    } else if (name == "regexp") {
      KG_ASSIGN_OR_RETURN(p.regexp, in.String(v, name));
      p.pos = PosOf(v.source());
      have_regexp = true;
    } else if (name == "case-sensitive") {
      KG_ASSIGN_OR_RETURN(p.case_sensitive, in.Bool(v, name));
    } else if (name == "comment") {
      KG_RETURN_IF_ERROR(in.String(v, name).status());
    } else {
      return in.UnknownKey(k, {"name", "regexp", "case-sensitive", "comment"});
    }
  }
  if (p.name.empty()) {
    return in.Error(PosOf(t.source()), "name", "missing: every [[layer7-protocol]] needs a name");
  }
  if (!have_regexp || p.regexp.empty()) {
    return in.Error(PosOf(t.source()), "regexp",
                    "missing: every [[layer7-protocol]] needs a non-empty regexp");
  }
  config.layer7_protocols.push_back(std::move(p));
  return absl::OkStatus();
}

absl::Status LoadStaticAddress(const TomlReader& in, const toml::table& t, Config& config) {
  StaticAddress a;
  a.pos = PosOf(t.source());
  bool have_address = false;
  for (auto&& [k, v] : t) {
    const absl::string_view name = ToAbsl(k.str());
    if (name == "list") {
      KG_ASSIGN_OR_RETURN(a.list, in.String(v, name));
      if (a.list.empty()) {
        return in.Error(v, name, "expected a non-empty list name");
      }
    } else if (name == "address") {
      KG_ASSIGN_OR_RETURN(std::string s, in.String(v, name));
      absl::StatusOr<Cidr> cidr = ParseCidr(s);
      if (!cidr.ok()) {
        return in.Error(v, name, cidr.status().message());
      }
      a.address = *cidr;
      have_address = true;
    } else if (name == "comment") {
      KG_ASSIGN_OR_RETURN(a.comment, in.String(v, name));
    } else if (name == "disabled") {
      KG_ASSIGN_OR_RETURN(a.disabled, in.Bool(v, name));
    } else {
      return in.UnknownKey(k, {"list", "address", "comment", "disabled"});
    }
  }
  if (a.list.empty()) {
    return in.Error(a.pos, "list", "missing: every [[address-list]] entry needs a list name");
  }
  if (!have_address) {
    return in.Error(a.pos, "address", "missing: every [[address-list]] entry needs an address");
  }
  config.static_addresses.push_back(std::move(a));
  return absl::OkStatus();
}

absl::Status LoadConntrack(const TomlReader& in, const toml::key& key, const toml::node& node,
                           Config& config) {
  KG_ASSIGN_OR_RETURN(const toml::table* t, in.Table(key, node));
  ConntrackConfig& c = config.conntrack;
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
      KG_ASSIGN_OR_RETURN(c.capacity, in.Integer(v, name, 1, 1 << 26));
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
      return in.UnknownKey(k, valid);
    }
    KG_ASSIGN_OR_RETURN(std::string s, in.StringOrInteger(v, name, "a duration"));
    absl::StatusOr<Nanos> d = ParseDuration(s);
    if (!d.ok() || *d == kNever) {
      return in.Error(v, name, "expected a duration such as \"10s\" or \"1d\"");
    }
    *field = *d;
  }
  return absl::OkStatus();
}

}  // namespace knockgate
