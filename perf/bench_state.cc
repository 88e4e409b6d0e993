// The state file's speed at scale: a running dataplane (net_null ports) with
// ENTRIES grants across WORKERS workers is saved and restored through the same
// functions knockgate uses at a stop and a start. Prints the time and the
// process's peak resident memory after each.
// Usage: bench_state [ENTRIES] [WORKERS] (default 1000000 1). Not a test: it measures.
#include <rte_eal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "control/list_control.h"
#include "dataplane/dataplane.h"
#include "null_plane.h"
#include "policy/config_loader.h"

namespace knockgate {
namespace {

using Clock = std::chrono::steady_clock;

// VmHWM: the peak resident set so far, MiB.
double PeakMiB() {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmHWM:") {
      double kb = 0;
      in >> kb;
      return kb / 1024;
    }
  }
  return 0;
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int Run(uint32_t entries, uint32_t workers) {
  absl::StatusOr<Config> config = LoadConfig(absl::StrCat(R"(
[interfaces]
wan = "net_null0"
lan = "net_null1"
[dataplane]
workers = )",
                                                          workers, R"(
mbufs = 16384
idle-sleep = "20us"
[lists.capacity-per-list]
secured = )",
                                                          entries + entries / 4 + 1024, R"(
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "secured"
)"),
                                             "bench_state.toml");
  if (!config.ok()) {
    std::cerr << config.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<NullPlane>> running = NullPlane::Start(*config);
  if (!running.ok()) {
    std::cerr << "bench_state: " << running.status() << "\n";
    return 1;
  }
  Dataplane& dp = (*running)->plane();

  // The file a gateway with `entries` grants, an hour left each, would save.
  const std::string path = absl::StrCat("/tmp/kg-bench-state-", getpid(), ".state");
  {
    std::ofstream out(path);
    out << kStateMagic << "\n";
    const Nanos hour = dp.clock().UnixNow() + 3600 * kNanosPerSecond;
    for (uint32_t i = 0; i < entries; ++i) {
      out << "secured\t" << 10 + (i >> 24) << "." << ((i >> 16) & 255) << "." << ((i >> 8) & 255)
          << "." << (i & 255) << "\t" << hour + i << "\n";
    }
    if (!out.good()) {
      std::cerr << "bench_state: cannot write " << path << "\n";
      return 1;
    }
  }
  const double base = PeakMiB();
  int rc = 0;
  Clock::time_point t = Clock::now();
  {  // reading alone, for where the time goes
    std::ifstream in(path);
    size_t n = 0;
    if (!ReadState(in, path, [&](absl::string_view, const IpAddress&, Nanos) { ++n; }).ok() ||
        n != entries) {
      std::cerr << "bench_state: the file did not read back\n";
      return 1;
    }
  }
  const double read_s = Since(t);
  t = Clock::now();
  absl::StatusOr<RestoreCounts> restored = RestoreStateFile(dp, path);
  const double restore_s = Since(t);
  const double restore_peak = PeakMiB();
  t = Clock::now();
  absl::StatusOr<size_t> saved = SaveStateFile(dp, path, "bench_state");
  const double save_s = Since(t);
  if (!restored.ok() || !saved.ok() || restored->restored != entries || *saved != entries) {
    std::cerr << "bench_state: restored " << (restored.ok() ? restored->restored : 0) << ", saved "
              << (saved.ok() ? *saved : 0) << " of " << entries << ": "
              << (restored.ok() ? saved.status() : restored.status()) << "\n";
    rc = 1;
  }
  std::printf(
      "entries=%u workers=%u read=%.3fs restore=%.3fs (%.0f entries/s) save=%.3fs (%.0f entries/s) "
      "peak_rss: before=%.0fMiB after_restore=%.0fMiB after_save=%.0fMiB\n",
      entries, workers, read_s, restore_s, entries / restore_s, save_s, entries / save_s, base,
      restore_peak, PeakMiB());
  // What one chunk costs worker 0 between two bursts: round trips of a dump
  // chunk and of an apply chunk (re-adds), the fastest of 200 each (the
  // fastest is its work, a ring's hop and the requester's 50 us poll).
  auto r = std::make_unique<ControlRequest>();
  const ListId secured = static_cast<ListId>(dp.policy().FindList("secured"));
  double dump_us = 1e9;
  double apply_us = 1e9;
  for (int i = 0; i < 200 && rc == 0; ++i) {
    r->kind = ControlRequest::Kind::kListDump;
    r->list = secured;
    r->cursor = static_cast<size_t>(i) * ControlRequest::kDumpChunk % (entries / 2);
    t = Clock::now();
    if (!dp.Ask(0, *r).ok()) {
      r.release();
      return 1;
    }
    dump_us = std::min(dump_us, Since(t) * 1e6);
    for (size_t k = 0; k < r->count; ++k) {  // the same entries, an hour on
      r->entries[k] = {r->entries[k].address, r->entries[k].expiry + 3600 * kNanosPerSecond,
                       secured, false};
    }
    r->kind = ControlRequest::Kind::kListApply;
    r->origin = EventOrigin::kState;
    t = Clock::now();
    if (!dp.Ask(0, *r).ok()) {
      r.release();
      return 1;
    }
    apply_us = std::min(apply_us, Since(t) * 1e6);
  }
  std::printf("one chunk of %zu entries, round trip to worker 0: dump %.1f us, apply %.1f us\n",
              ControlRequest::kDumpChunk, dump_us, apply_us);
  std::remove(path.c_str());
  return rc;
}

}  // namespace
}  // namespace knockgate

int main(int argc, char** argv) {
  const uint32_t entries =
      argc > 1 ? static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 1'000'000;
  const uint32_t workers = argc > 2 ? static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10)) : 1;
  if (!knockgate::InitNullEal("bench_state", workers)) {
    std::cerr << "bench_state: EAL init failed\n";
    return 1;
  }
  const int rc = knockgate::Run(entries, workers);
  rte_eal_cleanup();
  return rc;
}
