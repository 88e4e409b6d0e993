// The dataplane on net_ring ports driven from this process: three workers on a
// 2-vCPU machine, in RSS mode (the test fills RX queues as a NIC's RSS would,
// with rte_softrss) and in dispatcher mode (one queue per port). Knock windows
// and grant expiry run on the dataplane's own clock with short timeouts.
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "dataplane/dataplane.h"
#include "policy/config_loader.h"
#include "support/packet_builder.h"

namespace knockgate {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWorkers = 3;
constexpr char kServer[] = "192.0.2.10";

constexpr char kConfig[] = R"(
[interfaces]
wan = "WAN_NAME"
lan = "LAN_NAME"
[dataplane]
workers = 3
mbufs = 32768
idle-sleep = "20us"
steering = "STEERING"
[policy]
wan-default = "drop"
[[filter]]
action = "add-src-to-address-list"
address-list = "888"
address-list-timeout = "1s"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = 888
[[filter]]
action = "add-src-to-address-list"
address-list = "555"
address-list-timeout = "1s"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = 555
src-address-list = "888"
[[filter]]
action = "add-src-to-address-list"
address-list = "secured"
address-list-timeout = "3s"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = 222
src-address-list = "555"
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "secured"
)";

struct RingPort {
  std::vector<rte_ring*> rx;
  std::vector<rte_ring*> tx;
  uint16_t port = 0;
  std::string name;
};

class RingLab {
 public:
  RingLab(const std::string& tag, int queues) {
    pool_ =
        rte_pktmbuf_pool_create(("pool_" + tag).c_str(), 8192, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    EXPECT_NE(pool_, nullptr);
    for (int s = 0; s < kSides; ++s) {
      RingPort& p = ports_[s];
      for (int q = 0; q < queues; ++q) {
        for (auto* v : {&p.rx, &p.tx}) {
          const std::string n = absl::StrCat(tag, s, v == &p.rx ? "rx" : "tx", q);
          v->push_back(rte_ring_create(n.c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
        }
      }
      const int id = rte_eth_from_rings(absl::StrCat(tag, s == 0 ? "wan" : "lan").c_str(),
                                        p.rx.data(), queues, p.tx.data(), queues, 0);
      EXPECT_GE(id, 0);
      p.port = static_cast<uint16_t>(id);
      char name[RTE_ETH_NAME_MAX_LEN];
      rte_eth_dev_get_name_by_port(p.port, name);
      p.name = name;
    }
  }
  ~RingLab() {
    for (RingPort& p : ports_) {
      for (auto* v : {&p.rx, &p.tx}) {
        for (rte_ring* r : *v) {
          rte_ring_free(r);
        }
      }
    }
    rte_mempool_free(pool_);
  }

  const std::string& name(Side s) const { return ports_[static_cast<int>(s)].name; }

  // Puts `frame` on RX queue `queue` of the port on `side`.
  void Feed(Side side, int queue, const std::vector<uint8_t>& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                frame.size());
    ASSERT_EQ(rte_ring_enqueue(ports_[static_cast<int>(side)].rx[queue], m), 0);
  }

  // Everything transmitted on `side` so far, as frames.
  std::vector<std::vector<uint8_t>> Drain(Side side) {
    std::vector<std::vector<uint8_t>> frames;
    for (rte_ring* r : ports_[static_cast<int>(side)].tx) {
      void* obj;
      while (rte_ring_dequeue(r, &obj) == 0) {
        rte_mbuf* m = static_cast<rte_mbuf*>(obj);
        const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
        frames.emplace_back(d, d + m->data_len);
        rte_pktmbuf_free(m);
      }
    }
    return frames;
  }

 private:
  rte_mempool* pool_ = nullptr;
  RingPort ports_[kSides];
};

std::string Client(int i) { return absl::StrCat("198.51.100.", i); }

std::vector<uint8_t> Syn(const std::string& src, uint16_t dport) {
  return testing::TcpPacket(src, 40000, kServer, dport);
}

// Source addresses of frames sent to `dport`.
std::multiset<std::string> SourcesTo(const std::vector<std::vector<uint8_t>>& frames,
                                     uint16_t dport) {
  std::multiset<std::string> out;
  for (const auto& f : frames) {
    ParsedPacket p;
    if (ParsePacket(f, p) == DropReason::kNone && p.dst_port == dport) {
      out.insert(p.src.ToString());
    }
  }
  return out;
}

void RunScenario(const std::string& tag, const std::string& steering, int queues,
                 SteeringMode want_mode) {
  RingLab lab(tag, queues);
  const std::string text = absl::StrReplaceAll(kConfig, {{"WAN_NAME", lab.name(Side::kWan)},
                                                         {"LAN_NAME", lab.name(Side::kLan)},
                                                         {"STEERING", steering}});
  absl::StatusOr<Config> config = LoadConfig(text, "ring.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto policy = Policy::Compile(*config);
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto dp = Dataplane::Create(*config, *policy);
  ASSERT_TRUE(dp.ok()) << dp.status();
  Dataplane& plane = **dp;
  ASSERT_EQ(plane.mode(), want_mode);
  std::cout << plane.ModeLine() << "\n";
  ASSERT_TRUE(plane.Launch().ok());

  std::mutex mu;
  std::map<std::string, std::set<int>> workers_of;  // address -> workers that added it
  std::atomic<bool> done{false};
  std::atomic<bool> reload_requested{false};
  std::atomic<bool> reload_done{false};
  absl::Status reload_status;
  uint64_t fed = 0;

  // The queue a NIC's RSS would pick for a WAN frame from `src`.
  auto queue_for = [&](const std::string& src) {
    return queues == 1 ? 0 : WorkerForHash(SteeringHash(*ParseIpAddress(src)), kWorkers);
  };
  auto feed = [&](const std::string& src, uint16_t dport) {
    lab.Feed(Side::kWan, queue_for(src), Syn(src, dport));
    ++fed;
  };
  // Waits until the workers have taken in everything fed so far.
  auto settle = [&] {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      uint64_t rx = 0;
      for (size_t w = 0; w < plane.worker_count(); ++w) {
        rx += plane.worker(w).counters().classified.Get();
      }
      if (rx >= fed || Clock::now() > deadline) {
        EXPECT_EQ(rx, fed) << "the dataplane did not take in every frame";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };

  std::thread scenario([&] {
    constexpr int kClients = 24;
    for (uint16_t port : {888, 555, 222, 80}) {
      for (int i = 0; i < kClients; ++i) {
        feed(Client(10 + i), port);
      }
      settle();
    }
    const auto granted_at = Clock::now();
    feed("198.51.100.250", 80);  // never knocked
    settle();
    std::vector<std::vector<uint8_t>> lan = lab.Drain(Side::kLan);
    std::multiset<std::string> open = SourcesTo(lan, 80);
    EXPECT_EQ(open.size(), static_cast<size_t>(kClients)) << "every knocked client gets through";
    EXPECT_EQ(open.count("198.51.100.250"), 0u);
    EXPECT_EQ(SourcesTo(lan, 222).size(), static_cast<size_t>(kClients));

    // A late step: 555 after the 1 s window of 888 closed.
    feed("198.51.100.200", 888);
    settle();
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    feed("198.51.100.200", 555);
    feed("198.51.100.200", 222);
    feed("198.51.100.200", 80);
    settle();
    lan = lab.Drain(Side::kLan);
    EXPECT_EQ(SourcesTo(lan, 80).count("198.51.100.200"), 0u) << "a late knock stays closed";

    // The 3 s grant ends.
    std::this_thread::sleep_until(granted_at + std::chrono::milliseconds(3300));
    feed(Client(10), 80);
    settle();
    lan = lab.Drain(Side::kLan);
    EXPECT_EQ(SourcesTo(lan, 80).count(Client(10)), 0u) << "the grant has expired";

    // Hot reload with every worker running: the second knock moves to 556.
    reload_requested.store(true);
    while (!reload_done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (int i = 0; i < 6; ++i) {  // clients spread over the workers
      feed(Client(100 + i), 888);
    }
    settle();
    for (int i = 0; i < 6; ++i) {
      feed(Client(100 + i), 556);
    }
    settle();
    for (int i = 0; i < 6; ++i) {
      feed(Client(100 + i), 222);
      feed(Client(100 + i), 80);
    }
    settle();
    lan = lab.Drain(Side::kLan);
    EXPECT_EQ(SourcesTo(lan, 80).size(), 6u) << "every worker runs the reloaded sequence";
    done.store(true);
  });

  MainLoopHooks hooks;
  hooks.should_stop = [&] {
    if (reload_requested.load() && !reload_done.load()) {
      auto next_config = LoadConfig(
          absl::StrReplaceAll(text, {{"dst-port = 555", "dst-port = 556"}}), "ring.toml");
      auto next = Policy::Compile(*next_config, plane.policy());
      reload_status = next.ok() ? plane.Reload(*next) : next.status();
      reload_done.store(true);
    }
    return done.load();
  };
  hooks.on_event = [&](const Event& e) {
    std::lock_guard<std::mutex> lock(mu);
    workers_of[e.address.ToString()].insert(e.worker);
  };
  plane.RunMain(hooks);
  scenario.join();
  EXPECT_TRUE(reload_status.ok()) << reload_status;
  std::cout << plane.CountersReport();

  // Each client's knocks all met one worker: the one its hash names.
  std::set<int> used;
  for (int i = 0; i < 24; ++i) {
    const std::string c = Client(10 + i);
    ASSERT_EQ(workers_of[c].size(), 1u) << c << " was handled by more than one worker";
    EXPECT_EQ(*workers_of[c].begin(), WorkerForHash(SteeringHash(*ParseIpAddress(c)), kWorkers));
    used.insert(*workers_of[c].begin());
  }
  EXPECT_EQ(used.size(), static_cast<size_t>(kWorkers)) << "clients spread over every worker";
  for (size_t w = 0; w < plane.worker_count(); ++w) {
    EXPECT_GT(plane.worker(w).counters().rx[0].Get(), 0u) << "worker " << w << " got no traffic";
  }
}

TEST(RingTest, RssQueuesThreeWorkers) { RunScenario("rss", "rss", kWorkers, SteeringMode::kRss); }

TEST(RingTest, DispatcherThreeWorkers) {
  RunScenario("disp", "auto", 1, SteeringMode::kDispatcher);
}

}  // namespace
}  // namespace knockgate

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string prefix = "kgring" + std::to_string(getpid());
  std::vector<std::string> args = {
      "ring_test",   "--no-huge",      "-m",   "512",      "--no-pci",
      "--no-shconf", "--file-prefix",  prefix, "--lcores", "0@0,1@1,2@1,3@1",
      "--log-level", "lib.eal:warning"};
  std::vector<char*> eal;
  for (std::string& a : args) {
    eal.push_back(a.data());
  }
  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
    std::cerr << "EAL init failed\n";
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
