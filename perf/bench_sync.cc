// [sync]'s speed against a real redis-server that this program starts on a
// Unix socket: gateway A's sync engine publishes, gateway B's applies into a
// running dataplane (one worker on net_null ports) through the workers'
// control rings, as knockgate does. Prints:
//  - propagation latency, A's Offer to the entry being in B's worker shard
//    (B's apply returned), p50 and p99 over paced single changes;
//  - sync throughput: a burst of changes published by A and applied by B,
//    entries a second end to end; and B's resync of the same keys at start.
// Usage: bench_sync [CHANGES] (default 200000). Not a test: it measures.
#include <rte_eal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "control/list_control.h"
#include "dataplane/dataplane.h"
#include "null_plane.h"
#include "policy/config_loader.h"
#include "sync/redis_sync.h"

namespace knockgate {
namespace {

using Clock = std::chrono::steady_clock;

IpAddress Nth(uint32_t i) {  // 10.x.y.z from a sequence number
  IpAddress a;
  a.family = Family::kIpv4;
  a.bytes[0] = 10;
  a.bytes[1] = static_cast<uint8_t>(i >> 16);
  a.bytes[2] = static_cast<uint8_t>(i >> 8);
  a.bytes[3] = static_cast<uint8_t>(i);
  return a;
}
uint32_t Index(const IpAddress& a) { return (a.bytes[1] << 16) | (a.bytes[2] << 8) | a.bytes[3]; }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

int Run(uint32_t changes) {
  const std::string dir = absl::StrCat("/tmp/kg-bench-sync-", getpid());
  const std::string sock = dir + "/redis.sock";
  std::system(absl::StrCat("mkdir -p ", dir).c_str());
  const std::string start = absl::StrCat("redis-server --port 0 --unixsocket ", sock,
                                         " --save '' --appendonly no --daemonize yes --pidfile ",
                                         dir, "/redis.pid --logfile ", dir, "/redis.log");
  if (std::system(start.c_str()) != 0) {
    std::cerr << "bench_sync: cannot start redis-server\n";
    return 1;
  }
  for (int i = 0; i < 50 && access(sock.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  absl::StatusOr<Config> config = LoadConfig(absl::StrCat(R"(
[interfaces]
wan = "net_null0"
lan = "net_null1"
[dataplane]
workers = 1
mbufs = 16384
idle-sleep = "20us"
[lists.capacity-per-list]
secured = )",
                                                          2 * changes + 1024, R"(
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "secured"
[sync]
redis = "unix://)",
                                                          sock, R"("
lists = ["secured"]
)"),
                                             "bench_sync.toml");
  if (!config.ok()) {
    std::cerr << config.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<NullPlane>> running = NullPlane::Start(*config);
  if (!running.ok()) {
    std::cerr << "bench_sync: " << running.status() << "\n";
    return 1;
  }
  Dataplane& dp = (*running)->plane();

  // B: applies into the dataplane and notes when each change took effect.
  std::vector<Clock::time_point> offered(changes + 1);
  std::vector<Clock::time_point> effective(changes + 1);
  std::atomic<uint64_t> applied{0};
  auto hooks_for = [&](bool is_b) {
    RedisSync::Hooks h;
    h.apply = [&, is_b](std::span<const ListChange> c) -> absl::Status {
      if (!is_b) {
        return absl::OkStatus();
      }
      absl::Status s = ApplyListChanges(dp, c, EventOrigin::kSync).status();
      const Clock::time_point now = Clock::now();
      for (const ListChange& x : c) {
        effective[std::min<uint32_t>(Index(x.address), changes)] = now;
      }
      applied += c.size();
      return s;
    };
    h.local_entries = [] { return std::vector<ListChange>{}; };
    h.wall_now = WallNow;
    h.log = [](const std::string& line) { std::cerr << "bench_sync: " << line << "\n"; };
    return h;
  };
  SyncConfig a_cfg = config->sync;
  a_cfg.node = "bench-a";
  SyncConfig b_cfg = config->sync;
  b_cfg.node = "bench-b";
  auto a = RedisSync::Start(a_cfg, hooks_for(false));
  auto b = RedisSync::Start(b_cfg, hooks_for(true));
  while (!(*a)->counters().connected.load() || !(*b)->counters().connected.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const Nanos hour = 3600 * kNanosPerSecond;

  // Latency: one change at a time, 2 ms apart.
  constexpr uint32_t kPaced = 2000;
  std::vector<double> latency_us;
  for (uint32_t i = 1; i <= kPaced; ++i) {
    const uint64_t before = applied.load();
    offered[i] = Clock::now();
    (*a)->Offer({"secured", Nth(i), WallNow() + hour, false});
    while (applied.load() == before) {
      std::this_thread::yield();
    }
    latency_us.push_back(
        std::chrono::duration<double, std::micro>(effective[i] - offered[i]).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::printf(
      "propagation A->B (offer to in B's shard), %u single changes: p50 %.0f us, p90 %.0f "
      "us, p99 %.0f us, max %.0f us\n",
      kPaced, Percentile(latency_us, 0.5), Percentile(latency_us, 0.9),
      Percentile(latency_us, 0.99), Percentile(latency_us, 1.0));

  // Throughput: a burst, offered as fast as A's queue takes it.
  const uint64_t base = applied.load();
  const auto t0 = Clock::now();
  for (uint32_t i = kPaced + 1; i <= changes; ++i) {
    while (true) {
      const uint64_t dropped = (*a)->counters().dropped.load();
      (*a)->Offer({"secured", Nth(i), WallNow() + hour, false});
      if ((*a)->counters().dropped.load() == dropped) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // queue full: retry
    }
  }
  const uint64_t want = base + (changes - kPaced);
  while (applied.load() < want) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "throughput A->B, %u changes published by A and applied by B: %.2f s, %.0f "
      "entries/s\n",
      changes - kPaced, secs, (changes - kPaced) / secs);

  // Resync: a third gateway starting against the keys now in Redis.
  b->reset();
  const uint64_t before_resync = applied.load();
  SyncConfig c_cfg = config->sync;
  c_cfg.node = "bench-c";
  const auto t1 = Clock::now();
  auto c = RedisSync::Start(c_cfg, hooks_for(true));
  while (!(*c)->counters().connected.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double rs = std::chrono::duration<double>(Clock::now() - t1).count();
  const uint64_t got = applied.load() - before_resync;
  std::printf("resync at start: %llu keys scanned and applied in %.2f s, %.0f entries/s\n",
              static_cast<unsigned long long>(got), rs, static_cast<double>(got) / rs);
  a->reset();
  c->reset();
  (*running)->Stop();
  const ListId secured = static_cast<ListId>(dp.policy().FindList("secured"));
  std::printf("B's worker holds %u entries of secured (of %u changes)\n",
              dp.worker(0).lists().stats(secured).size, changes);
  running->reset();
  std::system(absl::StrCat("kill $(cat ", dir, "/redis.pid); rm -rf ", dir).c_str());
  return 0;
}

}  // namespace
}  // namespace knockgate

int main(int argc, char** argv) {
  const uint32_t changes = argc > 1 ? static_cast<uint32_t>(std::atoi(argv[1])) : 200000;
  if (!knockgate::InitNullEal("bench_sync", 1)) {
    std::cerr << "EAL init failed\n";
    return 1;
  }
  const int rc = knockgate::Run(changes);
  rte_eal_cleanup();
  return rc;
}
