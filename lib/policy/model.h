// The configuration as written: one struct per TOML section, keys named as in RouterOS.
// Produced by the loader (config_loader.h), consumed by the policy compiler.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/source_pos.h"
#include "conntrack/conntrack_config.h"
#include "l7/layer7_protocol.h"
#include "net/ip_address.h"
#include "packet/interface_list.h"
#include "packet/tcp_flag.h"
#include "policy/duration.h"

namespace knockgate {

// Any matcher value with RouterOS's leading "!".
template <typename T>
struct Negatable {
  T value;
  bool negated = false;
};

enum class Action : uint8_t {
  kAccept,
  kDrop,
  kAddSrcToAddressList,
  kAddDstToAddressList,
  kLog,
  kPassthrough,
};
const char* ActionName(Action a);

enum class Chain : uint8_t { kInput, kForward };

// Port ranges, inclusive, each within 1..65535.
struct PortSet {
  std::vector<std::pair<uint16_t, uint16_t>> ranges;

  bool Contains(uint16_t port) const {
    for (const auto& [lo, hi] : ranges) {
      if (port >= lo && port <= hi) {
        return true;
      }
    }
    return false;
  }
  std::string ToString() const;
};

// RouterOS tcp-flags: listed flags must be set, "!flag" ones must be clear.
struct TcpFlagsMatch {
  uint8_t must_set = 0;
  uint8_t must_clear = 0;
  std::string ToString() const;
};

// RouterOS `limit`: "count[/time],burst:packet|bit". The rule matches while
// a token bucket of `burst` (packets or bits) refilled at count per interval
// has enough left for the packet.
struct LimitMatch {
  uint64_t count = 0;
  Nanos interval = kNanosPerSecond;
  uint64_t burst = 0;
  bool bits = false;  // mode bit: the packet costs its length in bits
  bool negated = false;
  std::string ToString() const;
};

// What identifies a flow for `dst-limit`, RouterOS's modes.
enum class DstLimitMode : uint8_t {
  kDstAddress,
  kDstPort,
  kSrcAddress,
  kSrcAndDstAddresses,
  kDstAddressAndPort,
  kAddressesAndDstPort,
};
const char* DstLimitModeName(DstLimitMode m);

// RouterOS `dst-limit`: "count[/time],burst,mode[/expire]": a `limit` per
// flow, the flow named by `mode`; a flow idle for `expire` may be forgotten.
struct DstLimitMatch {
  uint64_t count = 0;
  Nanos interval = kNanosPerSecond;
  uint64_t burst = 0;
  DstLimitMode mode = DstLimitMode::kSrcAddress;
  Nanos expire = 600 * kNanosPerSecond;  // RouterOS's default, 10m
  bool negated = false;
  std::string ToString() const;
};

struct FilterRule {
  SourcePos pos;  // the [[filter]] header
  Chain chain = Chain::kForward;
  Action action = Action::kAccept;

  // Matchers; an absent one always holds.
  std::optional<Negatable<InterfaceList>> in_interface_list;
  std::optional<Negatable<Family>> family;
  std::optional<Negatable<uint8_t>> protocol;
  std::optional<Negatable<PortSet>> src_port;
  std::optional<Negatable<PortSet>> dst_port;
  std::optional<TcpFlagsMatch> tcp_flags;
  std::optional<Negatable<Cidr>> src_address;
  std::optional<Negatable<Cidr>> dst_address;
  std::optional<Negatable<std::string>> src_address_list;
  std::optional<Negatable<std::string>> dst_address_list;
  std::optional<Negatable<std::string>> layer7_protocol;
  std::optional<Negatable<uint8_t>> connection_state;  // conn_state bits
  std::optional<LimitMatch> limit;
  std::optional<DstLimitMatch> dst_limit;
  SourcePos src_address_list_pos;
  SourcePos dst_address_list_pos;
  SourcePos layer7_protocol_pos;
  SourcePos dst_limit_pos;

  // Action parameters and annotations.
  std::string address_list;
  SourcePos address_list_pos;
  Nanos address_list_timeout = kNever;
  bool log = false;  // RouterOS log=yes: also emit a log event when the rule matches
  std::string log_prefix;
  std::string comment;
  bool disabled = false;
  // A step of a rotating [[knock]] (Config::rotating_knocks[rotating]): its
  // dst-port is the knock's port-range, and the port of step `rotating_step`
  // for the current or the previous period is the one that matches.
  int rotating = -1;
  uint8_t rotating_step = 0;
};

// A [[knock]] with a secret: its ports change every period (knock_rotation.h).
struct RotatingKnock {
  std::string name;
  std::string secret;                   // the HMAC key's bytes; never printed
  Nanos period = 30 * kNanosPerSecond;  // whole seconds
  uint16_t port_lo = 10000;
  uint16_t port_hi = 60000;
  std::vector<uint8_t> protocols;  // per step: 6 (tcp) or 17 (udp)
  SourcePos pos;
};

struct StaticAddress {
  std::string list;
  Cidr address;
  std::string comment;
  bool disabled = false;
  SourcePos pos;
};

struct EalConfig {
  std::vector<std::string> args;
};

struct InterfacesConfig {
  std::string wan;
  std::string lan;
};

// How packets reach the worker that owns their WAN-side address.
enum class Steering : uint8_t {
  kAuto,        // RSS where both ports offer it, else the dispatcher
  kRss,         // each worker reads its own RX queue; the port (or its feeder) steers
  kDispatcher,  // one RX queue per port; the main lcore spreads packets by hash
};

struct DataplaneConfig {
  uint32_t workers = 1;
  uint32_t burst = 32;
  uint32_t mbufs = 65536;
  Nanos idle_sleep = 20'000;  // 0 busy-polls
  Steering steering = Steering::kAuto;
  Nanos stats_interval = 0;  // 0: counters only on exit
};

// Per worker: the flows dst-limit rules keep a bucket for.
struct DstLimitConfig {
  uint32_t capacity = 65536;
};

// Dynamic list entries saved across restarts; off when `file` is empty.
struct StateConfig {
  std::string file;
  Nanos interval = 10 * kNanosPerSecond;
  // The lists saved; unset: every list that is not a knock step (ListInfo::step).
  std::optional<std::vector<std::string>> lists;
  std::vector<SourcePos> list_pos;
};

// Prometheus's /metrics; off when `listen` is empty.
struct MetricsConfig {
  std::string listen;  // "127.0.0.1:9641"
};

// [sync]: lists shared with other gateways through Redis; off when `redis`
// is empty.
struct SyncConfig {
  // "unix:///run/redis/redis.sock", "tcp://HOST:PORT" or
  // "sentinel://HOST:PORT[,HOST:PORT...]/MASTER" (then `sentinels` and `master`).
  std::string redis;
  std::vector<std::pair<std::string, uint16_t>> sentinels;
  std::string master;
  std::string username;            // a Redis 6+ ACL user; empty: the default user
  std::string password;            // inline or from password-file; never printed
  std::vector<std::string> lists;  // the shared lists
  std::vector<SourcePos> list_pos;
  std::string prefix = "knockgate";  // key namespace
  std::string node;                  // empty: HOSTNAME:PID, filled at start
  // Also resync this often while connected (0: only at connect), so that a
  // change lost on a full ring or queue is healed without waiting for an outage.
  Nanos resync_interval = 300 * kNanosPerSecond;
  bool enabled() const { return !redis.empty(); }
};

struct ControlConfig {
  std::string socket = "/run/knockgate/control.sock";  // knockgate ctl's Unix socket
};

struct LogConfig {
  std::string file;     // empty: events go to stdout
  uint32_t rate = 100;  // event lines per second on average; 0: no limit
  uint32_t burst = 200;
  // Event lines show the flow's ports: off by default, as the ports of a
  // knock sequence are its secret.
  bool show_ports = false;
};

enum class Verdict : uint8_t { kDrop = 0, kAccept = 1 };

struct PolicyDefaults {
  Verdict wan_default = Verdict::kDrop;
  Verdict lan_default = Verdict::kAccept;
  Verdict non_ip = Verdict::kAccept;  // "forward"
};

// A [[knock]] section's first step list takes a spoofed flood's every
// packet: at 1 Mpps on one worker its entries live capacity / 1e6 seconds,
// so 2^20 keeps a knocker with a second between steps (57 MiB a worker).
inline constexpr uint32_t kFirstKnockStepCapacity = 1 << 20;

struct ListsConfig {
  uint32_t capacity = 65536;                   // per list, per worker
  std::map<std::string, uint32_t> capacities;  // [lists.capacity-per-list]
  // Step lists of [[knock]] sections (their `capacity`, or the defaults).
  std::map<std::string, uint32_t> knock_capacities;

  // capacity-per-list names a list exactly, so it wins; then [[knock]]; then capacity.
  uint32_t CapacityOf(const std::string& list) const {
    if (auto it = capacities.find(list); it != capacities.end()) {
      return it->second;
    }
    if (auto it = knock_capacities.find(list); it != knock_capacities.end()) {
      return it->second;
    }
    return capacity;
  }
};

// A [[spa]] section: fwknop single packet authorization on one UDP port,
// granting into an address list the rules read.
// Events and handoffs name a section in one byte.
inline constexpr size_t kMaxSpaSections = 256;

struct SpaSection {
  SourcePos pos;
  std::string name;
  uint16_t port = 62201;  // fwknop's
  InterfaceList in = InterfaceList::kWan;
  std::string key_base64;  // never printed
  std::string hmac_key_base64;
  std::string grant_list = "secured";
  Nanos grant_timeout = 1800 * kNanosPerSecond;
  Nanos max_age = 120 * kNanosPerSecond;
  bool require_source_address = true;
  std::vector<std::pair<uint8_t, uint16_t>> access;  // empty: any
  // fwknopd's SOURCE: the packets whose source lies here are tried against
  // this section's keys (empty: any source).
  std::vector<Cidr> source;
  uint32_t verify_rate = 20000;  // HMACs per second per worker, per port
  std::string comment;
  bool disabled = false;
};

// What a [[hook]] runs on (a bit each).
namespace hook_on {
inline constexpr uint8_t kGrant = 1;      // an add to a list that is no step and no jail
inline constexpr uint8_t kExpire = 2;     // a watched list's entry expired
inline constexpr uint8_t kRemove = 4;     // knockgate ctl or [sync] took an entry out
inline constexpr uint8_t kJail = 8;       // an add to a list an enabled drop rule reads
inline constexpr uint8_t kSpaGrant = 16;  // an [[spa]] grant
inline constexpr uint8_t kAll[] = {kGrant, kExpire, kRemove, kJail, kSpaGrant};
}  // namespace hook_on

// "grant", "expire", "remove", "jail", "spa-grant" for a hook_on bit (the
// config's and the KNOCKGATE_EVENT names); "?" for anything else.
const char* HookOnName(uint8_t bit);

// A [[hook]]: a command run (without a shell) when something happens.
struct HookSection {
  SourcePos pos;
  uint8_t on = 0;                  // hook_on bits
  std::vector<std::string> lists;  // empty: every list
  SourcePos lists_pos;
  std::vector<std::string> command;  // argv; command[0] is looked up in PATH
  Nanos timeout = 5 * kNanosPerSecond;
};

struct Config {
  std::string path;
  EalConfig eal;
  InterfacesConfig interfaces;
  DataplaneConfig dataplane;
  PolicyDefaults policy;
  ListsConfig lists;
  LogConfig log;
  ControlConfig control;
  StateConfig state;
  MetricsConfig metrics;
  SyncConfig sync;
  ConntrackConfig conntrack;
  DstLimitConfig dst_limit;
  std::vector<Layer7Protocol> layer7_protocols;
  std::vector<StaticAddress> static_addresses;
  std::vector<FilterRule> filters;
  std::vector<SpaSection> spa;
  std::vector<HookSection> hooks;
  std::vector<RotatingKnock> rotating_knocks;  // their steps are in `filters`
};

}  // namespace knockgate
