// The /knockgate/ telemetry commands. They run on DPDK's telemetry thread:
// counters are read live (each has one writer), list entries come from the
// workers through their control rings, never from their memory. Keys hold
// only [A-Za-z0-9_/] (22.11's rule), so names and addresses go in values;
// 22.11 nests dicts and plain arrays in a dict, not arrays of dicts, so
// rules and lists are keyed "rule/N" and "list/N" by their index.
#include "control/telemetry.h"

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "control/list_control.h"

namespace knockgate {
namespace {

// The one gateway these commands describe (DPDK's callbacks carry no context),
// and how many callbacks are reading it: UnregisterTelemetry waits them out.
std::atomic<const Dataplane*> g_plane{nullptr};
std::atomic<int> g_readers{0};

// A callback's hold on the gateway, null once it is going away.
class Hold {
 public:
  Hold() { g_readers.fetch_add(1); }
  ~Hold() { g_readers.fetch_sub(1); }
  const Dataplane* plane() const { return g_plane.load(); }
};

constexpr size_t kRulesPerPage = 48;  // a reply holds at most 16 KB

rte_tel_data* NewDict() {
  rte_tel_data* d = rte_tel_data_alloc();
  if (d != nullptr) {
    rte_tel_data_start_dict(d);
  }
  return d;
}

int Fail(rte_tel_data* d, const std::string& why) {
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "error", why.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
  return 0;
}

int Info(const char*, const char*, rte_tel_data* d) {
  const Hold hold;
  const Dataplane* p = hold.plane();
  if (p == nullptr) {
    return Fail(d, "knockgate is stopping");
  }
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "version", KNOCKGATE_VERSION_STRING);
  rte_tel_data_add_dict_string(d, "config", p->config().path.c_str());
  rte_tel_data_add_dict_u64(d, "generation", p->policy_generation());
  rte_tel_data_add_dict_string(d, "steering",
                               p->mode() == SteeringMode::kRss          ? "rss"
                               : p->mode() == SteeringMode::kDispatcher ? "dispatcher"
                                                                        : "single");
  rte_tel_data_add_dict_int(d, "workers", static_cast<int>(p->worker_count()));
  rte_tel_data_add_dict_u64(d, "rules", p->policy_snapshot()->rules().size());
  return 0;
}

int Stats(const char*, const char*, rte_tel_data* d) {
  const Hold hold;
  const Dataplane* p = hold.plane();
  const std::shared_ptr<const CounterSnapshot> snapshot = p != nullptr ? p->Counters() : nullptr;
  if (snapshot == nullptr) {
    return Fail(d, "knockgate is stopping");
  }
  const CounterSnapshot& c = *snapshot;
  rte_tel_data_start_dict(d);
  for (Side side : {Side::kWan, Side::kLan}) {
    const CounterSnapshot::Port& st = c.ports[static_cast<int>(side)];
    rte_tel_data* port = NewDict();
    rte_tel_data_add_dict_u64(port, "rx", st.rx);
    rte_tel_data_add_dict_u64(port, "tx", st.tx);
    rte_tel_data_add_dict_u64(port, "rx_missed", st.rx_missed);
    rte_tel_data_add_dict_u64(port, "rx_errors", st.rx_errors);
    rte_tel_data_add_dict_u64(port, "tx_errors", st.tx_errors);
    rte_tel_data_add_dict_container(d, side == Side::kWan ? "port/wan" : "port/lan", port, 0);
  }
  for (size_t i = 0; i < c.workers.size(); ++i) {
    const CounterSnapshot::Worker& row = c.workers[i];
    rte_tel_data* w = NewDict();
    rte_tel_data_add_dict_u64(w, "rx_wan", row.rx[0]);
    rte_tel_data_add_dict_u64(w, "rx_lan", row.rx[1]);
    rte_tel_data_add_dict_u64(w, "tx_wan", row.tx[0]);
    rte_tel_data_add_dict_u64(w, "tx_lan", row.tx[1]);
    rte_tel_data_add_dict_u64(w, "classified", row.classified);
    rte_tel_data_add_dict_u64(w, "cycles_per_packet",
                              row.classified == 0 ? 0 : row.classify_cycles / row.classified);
    rte_tel_data_add_dict_u64(w, "missteered", row.missteered);
    rte_tel_data_add_dict_u64(w, "handed_in", row.handed_in);
    rte_tel_data_add_dict_u64(w, "rss_mismatch", row.rss_mismatch);
    rte_tel_data_add_dict_u64(w, "events_lost", row.events_lost);
    rte_tel_data_add_dict_u64(w, "state_events_lost", row.state_events_lost);
    rte_tel_data_add_dict_u64(w, "state_stalls", row.state_stalls);
    rte_tel_data_add_dict_u64(w, "idle_sleeps", row.idle_sleeps);
    rte_tel_data_add_dict_container(d, absl::StrCat("worker/", i).c_str(), w, 0);
  }
  rte_tel_data* by_reason = NewDict();
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    rte_tel_data_add_dict_u64(by_reason, DropReasonName(static_cast<DropReason>(r)), c.drops[r]);
  }
  rte_tel_data_add_dict_container(d, "drops", by_reason, 0);
  rte_tel_data_add_dict_u64(d, "events_lost", c.Sum(&CounterSnapshot::Worker::events_lost));
  rte_tel_data_add_dict_u64(d, "state_events_lost",
                            c.Sum(&CounterSnapshot::Worker::state_events_lost));
  rte_tel_data_add_dict_u64(d, "state_stalls", c.Sum(&CounterSnapshot::Worker::state_stalls));
  rte_tel_data_add_dict_u64(d, "generation", c.generation);
  return 0;
}

// /knockgate/rules[,PAGE]: kRulesPerPage rules a page, from page 0.
int Rules(const char*, const char* params, rte_tel_data* d) {
  const Hold hold;
  const Dataplane* p = hold.plane();
  if (p == nullptr) {
    return Fail(d, "knockgate is stopping");
  }
  size_t page = 0;
  if (params != nullptr && *params != '\0' && !absl::SimpleAtoi(params, &page)) {
    return Fail(d, "usage: /knockgate/rules[,PAGE]");
  }
  const std::shared_ptr<const CounterSnapshot> snapshot = p->Counters();
  if (snapshot == nullptr) {
    return Fail(d, "knockgate is stopping");
  }
  const Policy* policy = snapshot->policy.get();
  const size_t n = policy->rules().size();
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "page", page);
  rte_tel_data_add_dict_u64(d, "pages",
                            std::max<size_t>(1, (n + kRulesPerPage - 1) / kRulesPerPage));
  for (size_t i = page * kRulesPerPage; i < n && i < (page + 1) * kRulesPerPage; ++i) {
    const uint64_t packets = snapshot->rules[i].packets;
    const uint64_t bytes = snapshot->rules[i].bytes;
    const FilterRule& spec = policy->rules()[i].spec;
    rte_tel_data* r = NewDict();
    rte_tel_data_add_dict_u64(r, "index", i);
    rte_tel_data_add_dict_string(r, "action", ActionName(spec.action));
    rte_tel_data_add_dict_u64(r, "packets", packets);
    rte_tel_data_add_dict_u64(r, "bytes", bytes);
    rte_tel_data_add_dict_int(r, "disabled", spec.disabled ? 1 : 0);
    rte_tel_data_add_dict_string(r, "comment",
                                 spec.comment.substr(0, RTE_TEL_MAX_STRING_LEN - 1).c_str());
    rte_tel_data_add_dict_container(d, absl::StrCat("rule/", i).c_str(), r, 0);
  }
  return 0;
}

int Lists(const char*, const char*, rte_tel_data* d) {
  const Hold hold;
  const Dataplane* p = hold.plane();
  const std::shared_ptr<const CounterSnapshot> snapshot = p != nullptr ? p->Counters() : nullptr;
  if (snapshot == nullptr) {
    return Fail(d, "knockgate is stopping");
  }
  rte_tel_data_start_dict(d);
  for (size_t l = 0; l < snapshot->lists.size(); ++l) {
    const CounterSnapshot::List& list = snapshot->lists[l];
    rte_tel_data* one = NewDict();
    rte_tel_data_add_dict_string(one, "name", snapshot->policy->lists()[l].name.c_str());
    rte_tel_data_add_dict_u64(one, "entries", list.entries);
    rte_tel_data_add_dict_u64(one, "capacity", list.capacity);
    rte_tel_data_add_dict_u64(one, "inserts", list.added);
    rte_tel_data_add_dict_u64(one, "evictions", list.evicted);
    rte_tel_data_add_dict_container(d, absl::StrCat("list/", l).c_str(), one, 0);
  }
  return 0;
}

// /knockgate/list,NAME[,PAGE]
int List(const char*, const char* params, rte_tel_data* d) {
  const Hold hold;
  const Dataplane* p = hold.plane();
  if (p == nullptr) {
    return Fail(d, "knockgate is stopping");
  }
  std::vector<std::string> args = absl::StrSplit(params == nullptr ? "" : params, ',');
  size_t page = 0;
  if (args.empty() || args[0].empty() || args.size() > 2 ||
      (args.size() == 2 && !absl::SimpleAtoi(args[1], &page))) {
    return Fail(d, "usage: /knockgate/list,NAME[,PAGE]");
  }
  absl::StatusOr<ListPage> lp = ListPageOf(*p, args[0], page);
  if (!lp.ok()) {
    return Fail(d, std::string(lp.status().message()));
  }
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "page", page);
  rte_tel_data_add_dict_u64(d, "pages", lp->pages);
  rte_tel_data* addresses = rte_tel_data_alloc();
  rte_tel_data* remaining = rte_tel_data_alloc();
  rte_tel_data* statics = rte_tel_data_alloc();
  rte_tel_data_start_array(addresses, RTE_TEL_STRING_VAL);
  rte_tel_data_start_array(remaining, RTE_TEL_INT_VAL);
  rte_tel_data_start_array(statics, RTE_TEL_STRING_VAL);
  for (size_t i = 0; i < lp->addresses.size(); ++i) {
    rte_tel_data_add_array_string(addresses, lp->addresses[i].c_str());
    rte_tel_data_add_array_int(
        remaining, static_cast<int>(std::min<int64_t>(lp->remaining_s[i], 2'000'000'000)));
  }
  for (const std::string& s : lp->statics) {
    rte_tel_data_add_array_string(statics, s.c_str());
  }
  rte_tel_data_add_dict_container(d, "address", addresses, 0);
  rte_tel_data_add_dict_container(d, "remaining_s", remaining, 0);
  rte_tel_data_add_dict_container(d, "static", statics, 0);
  return 0;
}

// /knockgate/spa: per section accepts and rejects by reason.
int Spa(const char*, const char*, rte_tel_data* d) {
  const Hold hold;
  const Dataplane* p = hold.plane();
  const std::shared_ptr<const CounterSnapshot> snapshot = p != nullptr ? p->Counters() : nullptr;
  if (snapshot == nullptr) {
    return Fail(d, "knockgate is stopping");
  }
  const Policy* policy = snapshot->policy.get();
  const std::vector<SpaCounters>& totals = snapshot->spa;
  rte_tel_data_start_dict(d);
  for (size_t i = 0; i < totals.size(); ++i) {
    rte_tel_data* one = NewDict();
    rte_tel_data_add_dict_string(one, "name", policy->spa()[i].name.c_str());
    rte_tel_data_add_dict_u64(one, "accepts", totals[i].accepts);
    for (size_t r = 1; r < kSpaRejectCount; ++r) {
      std::string key = absl::StrCat("reject_", SpaRejectName(static_cast<SpaReject>(r)));
      std::replace(key.begin(), key.end(), '-', '_');
      rte_tel_data_add_dict_u64(one, key.c_str(), totals[i].rejects[r]);
    }
    rte_tel_data_add_dict_container(d, absl::StrCat("spa/", i).c_str(), one, 0);
  }
  return 0;
}

}  // namespace

void RegisterTelemetry(const Dataplane* plane) {
  static bool registered = false;  // DPDK keeps commands until the process ends
  g_plane.store(plane);
  if (registered) {
    return;
  }
  registered = true;
  rte_telemetry_register_cmd("/knockgate/info", Info,
                             "Version, config file, policy generation, steering, workers.");
  rte_telemetry_register_cmd("/knockgate/stats", Stats,
                             "Per port, per worker and per drop reason counters, live.");
  rte_telemetry_register_cmd("/knockgate/rules", Rules,
                             "Per rule packets, bytes, action, comment. Parameter: page.");
  rte_telemetry_register_cmd("/knockgate/lists", Lists,
                             "Per list entries, capacity, inserts, evictions.");
  rte_telemetry_register_cmd("/knockgate/spa", Spa,
                             "Per [[spa]] section accepts and rejects by reason.");
  rte_telemetry_register_cmd("/knockgate/list", List,
                             "One list's entries, 128 a page. Parameters: name[,page].");
}

void UnregisterTelemetry() {
  g_plane.store(nullptr);
  while (g_readers.load() != 0) {
    std::this_thread::yield();
  }
}

}  // namespace knockgate
