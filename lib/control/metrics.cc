// /metrics: names follow Prometheus conventions (base units, _total for
// counters); a rule's label is its index as --check prints it.
#include "control/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <rte_ethdev.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/control_cpus.h"

namespace knockgate {
namespace {

// A label value with \, " and newlines escaped.
std::string Label(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Help(std::string& out, const char* name, const char* type, const char* help) {
  absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

std::string PrometheusText(const Dataplane& plane, const AppCounters& app) {
  const std::shared_ptr<const CounterSnapshot> snapshot = plane.Counters();
  if (snapshot == nullptr) {
    return "# knockgate: no counters yet\n";
  }
  const CounterSnapshot& c = *snapshot;
  const Policy& policy = *c.policy;
  std::string out;
  Help(out, "knockgate_port_packets_total", "counter", "Packets through each port, from the NIC.");
  for (Side side : {Side::kWan, Side::kLan}) {
    const CounterSnapshot::Port& p = c.ports[static_cast<int>(side)];
    const char* port = side == Side::kWan ? "wan" : "lan";
    absl::StrAppend(&out, "knockgate_port_packets_total{port=\"", port, "\",direction=\"rx\"} ",
                    p.rx, "\n", "knockgate_port_packets_total{port=\"", port,
                    "\",direction=\"tx\"} ", p.tx, "\n");
  }
  Help(out, "knockgate_drops_total", "counter", "Packets dropped, by reason.");
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    absl::StrAppend(&out, "knockgate_drops_total{reason=\"",
                    DropReasonName(static_cast<DropReason>(r)), "\"} ", c.drops[r], "\n");
  }
  std::string cycles;
  std::string handovers;
  std::string classified;
  for (size_t w = 0; w < c.workers.size(); ++w) {
    const CounterSnapshot::Worker& row = c.workers[w];
    absl::StrAppend(&cycles, "knockgate_worker_cycles_per_packet{worker=\"", w, "\"} ",
                    row.classified == 0 ? 0 : row.classify_cycles / row.classified, "\n");
    absl::StrAppend(&classified, "knockgate_worker_packets_total{worker=\"", w, "\"} ",
                    row.classified, "\n");
    absl::StrAppend(&handovers, "knockgate_handovers_total{worker=\"", w, "\"} ", row.missteered,
                    "\n");
  }
  Help(out, "knockgate_worker_packets_total", "counter", "Packets each worker classified.");
  out += classified;
  Help(out, "knockgate_worker_cycles_per_packet", "gauge",
       "Average TSC cycles a worker spent classifying a packet.");
  out += cycles;
  Help(out, "knockgate_handovers_total", "counter",
       "Packets a worker received but another owned, handed over to it.");
  out += handovers;
  Help(out, "knockgate_fragments_total", "counter",
       "IP fragments: first fragments remembered, later ones passed or dropped, entries "
       "evicted.");
  absl::StrAppend(&out, "knockgate_fragments_total{result=\"first\"} ", c.fragments.firsts, "\n",
                  "knockgate_fragments_total{result=\"passed\"} ", c.fragments.passed, "\n",
                  "knockgate_fragments_total{result=\"dropped\"} ", c.fragments.dropped, "\n",
                  "knockgate_fragments_total{result=\"evicted\"} ", c.fragments.evicted, "\n");
  Help(out, "knockgate_events_lost_total", "counter",
       "Events a worker dropped for want of room, by class: chatter (knock steps, log rules, SPA "
       "rejects) under a flood; state changes (grants, jails) never, unless one packet can match "
       "more than 1,024 add rules.");
  absl::StrAppend(&out, "knockgate_events_lost_total{class=\"chatter\"} ",
                  c.Sum(&CounterSnapshot::Worker::events_lost), "\n",
                  "knockgate_events_lost_total{class=\"state\"} ",
                  c.Sum(&CounterSnapshot::Worker::state_events_lost), "\n");
  Help(out, "knockgate_event_stalls_total", "counter",
       "Polls in which a worker took no packets: its ring of state changes had no room for a "
       "burst's (the main lcore was behind).");
  absl::StrAppend(&out, "knockgate_event_stalls_total ",
                  c.Sum(&CounterSnapshot::Worker::state_stalls), "\n");

  std::string rule_bytes;
  Help(out, "knockgate_rule_packets_total", "counter",
       "Packets each rule matched (restarts at a reload).");
  for (size_t i = 0; i < c.rules.size(); ++i) {
    const std::string labels =
        absl::StrCat("{rule=\"", i, "\",comment=\"", Label(policy.rules()[i].spec.comment), "\"} ");
    absl::StrAppend(&out, "knockgate_rule_packets_total", labels, c.rules[i].packets, "\n");
    absl::StrAppend(&rule_bytes, "knockgate_rule_bytes_total", labels, c.rules[i].bytes, "\n");
  }
  Help(out, "knockgate_rule_bytes_total", "counter", "Bytes each rule matched.");
  out += rule_bytes;

  std::string capacities;
  std::string inserts;
  std::string evictions;
  Help(out, "knockgate_list_entries", "gauge", "Entries in each address list, all workers.");
  for (size_t l = 0; l < c.lists.size(); ++l) {
    const std::string label = absl::StrCat("{list=\"", Label(policy.lists()[l].name), "\"} ");
    absl::StrAppend(&out, "knockgate_list_entries", label, c.lists[l].entries, "\n");
    absl::StrAppend(&capacities, "knockgate_list_capacity", label, c.lists[l].capacity, "\n");
    absl::StrAppend(&inserts, "knockgate_list_inserts_total", label, c.lists[l].added, "\n");
    absl::StrAppend(&evictions, "knockgate_list_evictions_total", label, c.lists[l].evicted, "\n");
  }
  Help(out, "knockgate_list_capacity", "gauge", "Entries each address list holds, all workers.");
  out += capacities;
  Help(out, "knockgate_list_inserts_total", "counter", "Addresses added to each list.");
  out += inserts;
  Help(out, "knockgate_list_evictions_total", "counter",
       "Entries pushed out of each full list by an insert.");
  out += evictions;
  if (!c.spa.empty()) {
    Help(out, "knockgate_spa_accepts_total", "counter", "SPA packets that granted access.");
    for (size_t i = 0; i < c.spa.size(); ++i) {
      absl::StrAppend(&out, "knockgate_spa_accepts_total{spa=\"", Label(policy.spa()[i].name),
                      "\"} ", c.spa[i].accepts, "\n");
    }
    Help(out, "knockgate_spa_rejects_total", "counter", "SPA packets refused, by reason.");
    for (size_t i = 0; i < c.spa.size(); ++i) {
      for (size_t r = 1; r < kSpaRejectCount; ++r) {
        absl::StrAppend(&out, "knockgate_spa_rejects_total{spa=\"", Label(policy.spa()[i].name),
                        "\",reason=\"", SpaRejectName(static_cast<SpaReject>(r)), "\"} ",
                        c.spa[i].rejects[r], "\n");
      }
    }
  }
  Help(out, "knockgate_policy_generation", "gauge", "Reloads applied since start.");
  absl::StrAppend(&out, "knockgate_policy_generation ", c.generation, "\n");
  if (app.log_lines_written) {
    Help(out, "knockgate_log_lines_total", "counter",
         "Event lines written to the log, and held back by its rate limit.");
    absl::StrAppend(&out, "knockgate_log_lines_total{result=\"written\"} ", app.log_lines_written(),
                    "\n", "knockgate_log_lines_total{result=\"suppressed\"} ",
                    app.log_lines_suppressed(), "\n");
  }
  if (app.sync != nullptr) {
    const SyncCounters& s = *app.sync;
    Help(out, "knockgate_sync_changes_total", "counter",
         "Shared-list changes published to Redis, applied from it, dropped on a full queue, "
         "and lost on a full worker ring.");
    absl::StrAppend(&out, "knockgate_sync_changes_total{result=\"published\"} ", s.published.load(),
                    "\nknockgate_sync_changes_total{result=\"applied\"} ", s.applied.load(),
                    "\nknockgate_sync_changes_total{result=\"dropped\"} ", s.dropped.load(),
                    "\nknockgate_sync_changes_total{result=\"lost\"} ",
                    c.Sum(&CounterSnapshot::Worker::shared_lost), "\n");
    Help(out, "knockgate_sync_errors_total", "counter",
         "Failed connects to Redis and broken connections.");
    absl::StrAppend(&out, "knockgate_sync_errors_total ", s.errors.load(), "\n");
    Help(out, "knockgate_sync_resyncs_total", "counter", "Completed (re)connect resyncs.");
    absl::StrAppend(&out, "knockgate_sync_resyncs_total ", s.resyncs.load(), "\n");
    Help(out, "knockgate_sync_queue_length", "gauge",
         "Local shared-list changes waiting to be published to Redis.");
    absl::StrAppend(&out, "knockgate_sync_queue_length ", s.queued.load(), "\n");
    if (const int64_t lag = s.lag_ms.load(); lag != SyncCounters::kNoLag) {
      Help(out, "knockgate_sync_lag_seconds", "gauge",
           "From another gateway's change to its arrival here, the last one's (on both "
           "gateways' clocks: negative when the other's runs ahead).");
      absl::StrAppend(&out, "knockgate_sync_lag_seconds ", static_cast<double>(lag) / 1000, "\n");
    }
    Help(out, "knockgate_sync_connected", "gauge", "1 while connected to Redis.");
    absl::StrAppend(&out, "knockgate_sync_connected ", s.connected.load() ? 1 : 0, "\n");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    const Dataplane& plane,
                                                                    AppCounters app) {
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  const bool v6 = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (v6) {
    host = host.substr(1, host.size() - 2);
  }
  sockaddr_storage addr{};
  bool ok = colon != std::string::npos && absl::SimpleAtoi(listen.substr(colon + 1), &port) &&
            port > 0 && port < 65536;
  if (ok && v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    ok = inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) == 1;
  } else if (ok) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    ok = inet_pton(AF_INET, host.c_str(), &a->sin_addr) == 1;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "[metrics] listen = \"", listen, "\": expected ADDRESS:PORT such as 127.0.0.1:9641"));
  }
  std::unique_ptr<MetricsServer> s(new MetricsServer(plane, std::move(app)));
  const AsControlThread placed("kg-metrics");  // libmicrohttpd's thread inherits it
  s->daemon_ = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0),
      static_cast<uint16_t>(port), nullptr, nullptr,
      [](void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
         const char*, size_t*, void**) -> MHD_Result {
        return static_cast<MHD_Result>(Answer(cls, connection, url, method));
      },
      s.get(), MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr),
      MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, ": ", std::strerror(errno)));
  }
  return s;
}

int MetricsServer::Answer(void* self, void* connection, const char* url, const char* method) {
  thread_local bool placed = false;
  if (!placed) {  // libmicrohttpd's thread, at its first request: its priority too
    PlaceControlThread("kg-metrics");
    placed = true;
  }
  auto* s = static_cast<MetricsServer*>(self);
  auto* c = static_cast<MHD_Connection*>(connection);
  const bool found = std::strcmp(url, "/metrics") == 0;
  const bool get = std::strcmp(method, "GET") == 0 || std::strcmp(method, "HEAD") == 0;
  std::string body = !found ? "not found: try /metrics\n"
                     : !get ? "only GET\n"
                            : PrometheusText(s->plane_, s->app_);
  MHD_Response* r =
      MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(
      r, "Content-Type",
      found && get ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8");
  const MHD_Result result = MHD_queue_response(c,
                                               !found ? MHD_HTTP_NOT_FOUND
                                               : !get ? MHD_HTTP_METHOD_NOT_ALLOWED
                                                      : MHD_HTTP_OK,
                                               r);
  MHD_destroy_response(r);
  return result;
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);
  }
}

}  // namespace knockgate
