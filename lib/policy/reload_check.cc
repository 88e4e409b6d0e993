// The reload decision: section by section, positions in the file ignored.
#include "policy/reload_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace knockgate {

std::vector<std::string> RestartNeeded(const Config& a, const Policy& running_policy,
                                       const Config& b, const Policy& next_policy,
                                       const RunningTables& tables) {
  std::vector<std::string> out;
  auto section = [&out](bool same, const char* name) {
    if (!same) {
      out.push_back(name);
    }
  };
  section(a.eal.args == b.eal.args, "[eal]");
  section(a.interfaces.wan == b.interfaces.wan && a.interfaces.lan == b.interfaces.lan,
          "[interfaces]");
  const DataplaneConfig& x = a.dataplane;
  const DataplaneConfig& y = b.dataplane;
  section(x.workers == y.workers && x.burst == y.burst && x.mbufs == y.mbufs &&
              x.idle_sleep == y.idle_sleep && x.steering == y.steering &&
              x.stats_interval == y.stats_interval,
          "[dataplane]");
  section(a.log.file == b.log.file && a.log.rate == b.log.rate && a.log.burst == b.log.burst,
          "[log]");
  section(a.control.socket == b.control.socket, "[control]");
  section(a.state.file == b.state.file && a.state.interval == b.state.interval &&
              a.state.lists == b.state.lists,
          "[state]");
  section(a.metrics.listen == b.metrics.listen, "[metrics]");
  const SyncConfig& s = a.sync;
  const SyncConfig& t = b.sync;
  section(s.redis == t.redis && s.sentinels == t.sentinels && s.master == t.master &&
              s.username == t.username && s.password == t.password && s.lists == t.lists &&
              s.prefix == t.prefix && s.node == t.node && s.resync_interval == t.resync_interval,
          "[sync]");
  section(a.conntrack.capacity == b.conntrack.capacity, "[conntrack] capacity");
  section(a.hooks.size() == b.hooks.size() &&
              std::equal(a.hooks.begin(), a.hooks.end(), b.hooks.begin(),
                         [](const HookSection& x, const HookSection& y) {
                           return x.on == y.on && x.lists == y.lists && x.command == y.command &&
                                  x.timeout == y.timeout;
                         }),
          "[[hook]]");
  section(a.dst_limit.capacity == b.dst_limit.capacity, "[dst-limit] capacity");

  // The lists' tables: ids stay by name, sizes are fixed at start.
  const std::vector<ListInfo>& now = running_policy.lists();
  const std::vector<ListInfo>& next = next_policy.lists();
  for (size_t i = 0; i < next.size(); ++i) {
    if (i >= now.size()) {
      out.push_back(absl::StrCat("address list \"", next[i].name, "\" is new"));
    } else if (next[i].capacity != now[i].capacity) {
      out.push_back(absl::StrCat("the capacity of list \"", next[i].name, "\" (", now[i].capacity,
                                 " -> ", next[i].capacity, ")"));
    }
  }
  if (next_policy.uses_conntrack() && !tables.conntrack) {
    out.push_back("connection-state rules (connection tracking was off at start)");
  }
  if (next_policy.uses_dst_limit() && !tables.dst_limit) {
    out.push_back("dst-limit rules (no dst-limit table at start)");
  }
  return out;
}

std::string RestartLine(const std::vector<std::string>& needed) {
  return absl::StrCat("changes that need a restart, so nothing was applied: ",
                      absl::StrJoin(needed, ", "));
}

}  // namespace knockgate
