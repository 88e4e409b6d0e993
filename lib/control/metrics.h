// Prometheus metrics: the gateway's counters in the text exposition format,
// served at GET /metrics by libmicrohttpd on a control thread of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dataplane/dataplane.h"
#include "sync/redis_sync.h"

struct MHD_Daemon;

namespace knockgate {

// Counters the app keeps itself (the log limiter's), added to each scrape.
struct AppCounters {
  std::function<uint64_t()> log_lines_written;
  std::function<uint64_t()> log_lines_suppressed;
  const SyncCounters* sync = nullptr;  // with [sync]; outlives the server
};

// The whole exposition, read live (each counter has one writer).
std::string PrometheusText(const Dataplane& plane, const AppCounters& app);

class MetricsServer {
 public:
  // `listen`: "127.0.0.1:9641", "[::1]:9641" or "0.0.0.0:9641".
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              const Dataplane& plane,
                                                              AppCounters app);
  ~MetricsServer();

 private:
  MetricsServer(const Dataplane& plane, AppCounters app) : plane_(plane), app_(std::move(app)) {}
  static int Answer(void* self, void* connection, const char* url, const char* method);

  const Dataplane& plane_;
  AppCounters app_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace knockgate
