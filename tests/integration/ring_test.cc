// The dataplane on net_ring ports driven from this process: three workers on a
// 2-vCPU machine, in RSS mode (the test fills RX queues as a NIC's RSS would,
// with DPDK's rte_softrss and a redirection table, or deliberately wrong) and
// in dispatcher mode (one queue per port). Knock windows and grant expiry run
// on the dataplane's own clock with short timeouts; reloads run under traffic.
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_thash.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "classify/event_text.h"
#include "control/metrics.h"
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
  static constexpr int kRingSize = 4096;

  RingLab(const std::string& tag, int queues) {
    // Enough mbufs for every ring of the lab to be full at once, plus a
    // worker's bursts: a worker held by the main lcore leaves its RX ring full
    // while the LAN TX ring (never drained during a run) fills up, and a pool
    // smaller than both made the feeder's allocation fail (seen under ASan).
    const unsigned mbufs = static_cast<unsigned>(kSides * 2 * queues * kRingSize + 1024);
    pool_ =
        rte_pktmbuf_pool_create(("pool_" + tag).c_str(), mbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    EXPECT_NE(pool_, nullptr);
    for (int s = 0; s < kSides; ++s) {
      RingPort& p = ports_[s];
      for (int q = 0; q < queues; ++q) {
        for (auto* v : {&p.rx, &p.tx}) {
          const std::string n = absl::StrCat(tag, s, v == &p.rx ? "rx" : "tx", q);
          v->push_back(rte_ring_create(n.c_str(), kRingSize, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
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

  // Feed, but waits while the queue is full (a worker that takes no packets
  // leaves them there, as a NIC would): at most `patience`.
  void FeedWaiting(Side side, int queue, const std::vector<uint8_t>& frame,
                   std::chrono::seconds patience = std::chrono::seconds(60)) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(),
                frame.size());
    const auto deadline = Clock::now() + patience;
    while (rte_ring_enqueue(ports_[static_cast<int>(side)].rx[queue], m) != 0) {
      ASSERT_LT(Clock::now(), deadline) << "the queue stayed full";
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
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

// A NIC's RSS as the test models it, independently of knockgate's table-driven
// hash: DPDK's bit-by-bit Toeplitz over the L3 source (WAN) or destination
// (LAN) with the key knockgate programs, and a 512-entry redirection table
// filled round robin.
uint16_t NicQueue(const IpAddress& addr, int queues) {
  uint32_t tuple[4];
  const uint32_t words = addr.family == Family::kIpv4 ? 1 : 4;
  for (uint32_t i = 0; i < words; ++i) {
    uint32_t be;
    std::memcpy(&be, addr.bytes.data() + 4 * i, 4);
    tuple[i] = rte_be_to_cpu_32(be);
  }
  const uint32_t hash = rte_softrss(tuple, words, SteeringTable::kKey);
  return static_cast<uint16_t>((hash % 512) % static_cast<uint32_t>(queues));
}
uint16_t NicQueue(Side side, const std::vector<uint8_t>& frame, int queues) {
  ParsedPacket p;
  if (ParsePacket(frame, p) != DropReason::kNone || p.family == Family::kNone) {
    return 0;
  }
  return NicQueue(side == Side::kWan ? p.src : p.dst, queues);
}

TEST(RingTest, TableToeplitzAgreesWithDpdkSoftRss) {
  const SteeringTable table(3, 512);
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    IpAddress a;
    a.family = i % 2 ? Family::kIpv4 : Family::kIpv6;
    for (int b = 0; b < (a.family == Family::kIpv4 ? 4 : 16); ++b) {
      a.bytes[b] = static_cast<uint8_t>(rng());
    }
    ASSERT_EQ(table.OwnerOf(a), NicQueue(a, 3)) << a.ToString();
  }
}

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

// A dataplane on `text`, launched; null (with a failure recorded) if it cannot be.
std::unique_ptr<Dataplane> StartPlane(const std::string& text) {
  absl::StatusOr<Config> config = LoadConfig(text, "ring.toml");
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) {
    return nullptr;
  }
  absl::StatusOr<std::shared_ptr<const Policy>> policy = Policy::Compile(*config);
  EXPECT_TRUE(policy.ok()) << policy.status();
  if (!policy.ok()) {
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<Dataplane>> dp = Dataplane::Create(*config, *policy);
  EXPECT_TRUE(dp.ok()) << dp.status();
  if (!dp.ok()) {
    return nullptr;
  }
  std::cout << (*dp)->ModeLine() << "\n";
  EXPECT_TRUE((*dp)->Launch().ok());
  return *std::move(dp);
}

// A reload builder that compiles `text` against the running policy.
ReloadBuilder ReloadTo(std::string text) {
  return [text = std::move(text)](const Policy& running) -> absl::StatusOr<ReloadPlan> {
    absl::StatusOr<Config> c = LoadConfig(text, "reload.toml");
    if (!c.ok()) {
      return c.status();
    }
    absl::StatusOr<std::shared_ptr<const Policy>> p = Policy::Compile(*c, running);
    if (!p.ok()) {
      return p.status();
    }
    return ReloadPlan{*p, std::make_shared<const Config>(*std::move(c)), "reloaded"};
  };
}

void RunScenario(const std::string& tag, const std::string& steering, int queues,
                 SteeringMode want_mode) {
  RingLab lab(tag, queues);
  const std::string text = absl::StrReplaceAll(kConfig, {{"WAN_NAME", lab.name(Side::kWan)},
                                                         {"LAN_NAME", lab.name(Side::kLan)},
                                                         {"STEERING", steering}});
  std::unique_ptr<Dataplane> dp = StartPlane(text);
  ASSERT_NE(dp, nullptr);
  Dataplane& plane = *dp;
  ASSERT_EQ(plane.mode(), want_mode);

  std::mutex mu;
  std::map<std::string, std::set<int>> workers_of;  // address -> workers that added it
  std::atomic<bool> done{false};
  std::atomic<bool> reload_requested{false};
  std::atomic<bool> reload_done{false};
  absl::Status reload_status;
  uint64_t fed = 0;

  // The queue a NIC's RSS would pick for a WAN frame from `src`.
  auto queue_for = [&](const std::string& src) {
    return queues == 1 ? 0 : NicQueue(*ParseIpAddress(src), kWorkers);
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
    if (reload_requested.load() && !reload_done.load() && !plane.reload_in_flight()) {
      reload_requested.store(false);
      const absl::Status started = plane.StartReload(
          ReloadTo(absl::StrReplaceAll(text, {{"dst-port = 555", "dst-port = 556"}})),
          [&](const absl::Status& st, const std::string& message) {
            reload_status = st;
            std::cout << message << "\n";
            reload_done.store(true);
          });
      EXPECT_TRUE(started.ok()) << started;
    }
    return done.load();
  };
  hooks.on_event = [&](const Policy&, const Event& e) {
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
    EXPECT_EQ(*workers_of[c].begin(), NicQueue(*ParseIpAddress(c), kWorkers));
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

// --- One trace, four ways of steering it ---------------------------------

constexpr char kTraceConfig[] = R"(
[interfaces]
wan = "WAN_NAME"
lan = "LAN_NAME"
[dataplane]
workers = WORKERS
mbufs = 32768
idle-sleep = "20us"
steering = "STEERING"
[policy]
wan-default = "drop"
[[address-list]]
list = "trusted"
address = "203.0.113.0/24"
[[filter]]
action = "accept"
connection-state = "established,related"
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "trusted"
[[filter]]
action = "add-src-to-address-list"
address-list = "blacklist"
address-list-timeout = "1h"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = 23
[[filter]]
action = "drop"
in-interface-list = "WAN"
src-address-list = "blacklist"
[[knock]]
name = "k"
steps = ["tcp:888", "tcp:555", "udp:222"]
window = "1h"
grant-timeout = "1h"
)";

struct TracePacket {
  Side side;
  std::vector<uint8_t> frame;
};
using TraceStep = std::vector<TracePacket>;

std::vector<uint8_t> IcmpErrorAbout(const std::string& router, const std::string& to,
                                    const std::vector<uint8_t>& quoted) {
  testing::PacketSpec s;
  s.protocol = ParseIpAddress(router)->family == Family::kIpv6 ? 58 : 1;
  s.icmp_type = s.protocol == 58 ? 1 : 3;  // destination unreachable
  s.src = router;
  s.dst = to;
  const size_t ip = ParseIpAddress(router)->family == Family::kIpv6 ? 40 : 20;
  s.payload.assign(quoted.begin() + 14, quoted.begin() + 14 + ip + 8);
  return testing::BuildPacket(s);
}

// Knocks from many clients, sent step by step as real clients do; trusted
// flows; a blacklisting; LAN-initiated flows and their replies; ICMP errors
// about them and about nothing; IPv4 and IPv6. Every frame is unique, so a
// forwarded frame names the packet it was.
std::vector<TraceStep> BuildTrace() {
  using testing::TcpPacket;
  using testing::UdpPacket;
  std::vector<std::string> clients;
  for (int i = 0; i < 30; ++i) {
    clients.push_back(absl::StrCat("198.51.100.", 10 + i));
  }
  for (int i = 0; i < 8; ++i) {
    clients.push_back(absl::StrFormat("2001:db8:%x::%x", 7 + i, 3 * i + 1));
  }
  const std::string server = "192.0.2.10";
  const std::string server6 = "2001:db8:ffff::10";
  auto to = [&](const std::string& c) {
    return c.find(':') == std::string::npos ? server : server6;
  };
  uint16_t sport = 20000;
  std::vector<TraceStep> trace(7);
  for (size_t i = 0; i < clients.size(); ++i) {
    const std::string& c = clients[i];
    if (i % 5 != 4) {  // every fifth client never knocks
      trace[0].push_back({Side::kWan, TcpPacket(c, sport++, to(c), 888)});
      trace[1].push_back({Side::kWan, TcpPacket(c, sport++, to(c), 555)});
      if (i % 7 != 3) {  // and some stop before the last step
        trace[2].push_back({Side::kWan, UdpPacket(c, sport++, to(c), 222, "k")});
      }
    }
    if (i % 6 == 1) {  // some knock on telnet as well and are jailed
      trace[3].push_back({Side::kWan, TcpPacket(c, sport++, to(c), 23)});
    }
    trace[4].push_back({Side::kWan, TcpPacket(c, sport++, to(c), 80)});
  }
  for (int i = 0; i < 12; ++i) {
    trace[3].push_back(
        {Side::kWan, TcpPacket(absl::StrCat("203.0.113.", 1 + 17 * i), sport++, server, 443)});
  }
  // LAN hosts open flows to WAN servers; the replies come back.
  const std::string lan = "192.0.2.50";
  const std::string lan6 = "2001:db8:ffff::50";
  for (int i = 0; i < 16; ++i) {
    const bool v6 = i % 4 == 3;
    const std::string remote =
        v6 ? absl::StrFormat("2001:db8:77::%x", i + 1) : absl::StrCat("198.18.", i, ".", 9 + i);
    const std::string& host = v6 ? lan6 : lan;
    const uint16_t p = static_cast<uint16_t>(30000 + i);
    const std::vector<uint8_t> syn = TcpPacket(host, p, remote, 443);
    trace[5].push_back({Side::kLan, syn});
    trace[5].push_back({Side::kLan, UdpPacket(host, p, remote, 53, "q")});
    trace[6].push_back({Side::kWan, TcpPacket(remote, 443, host, p, 0x12)});
    trace[6].push_back({Side::kWan, UdpPacket(remote, 53, host, p, "a")});
    trace[6].push_back({Side::kWan, TcpPacket(remote, 443, host, p + 100, 0x12)});  // no flow
    trace[6].push_back({Side::kWan, IcmpErrorAbout(v6 ? "2001:db8:99::1" : "10.9.9.9", host, syn)});
    trace[6].push_back({Side::kWan, IcmpErrorAbout(v6 ? "2001:db8:99::1" : "10.9.9.9", host,
                                                   TcpPacket(host, p + 200, remote, 443))});
  }
  return trace;
}

struct TraceResult {
  std::vector<bool> forwarded;                          // per packet, in trace order
  std::set<std::pair<std::string, std::string>> lists;  // (list, address)
  uint64_t missteered = 0;
  uint64_t handed_in = 0;
  bool each_address_in_one_shard = true;
};

enum class Feed { kOneWorker, kNicRss, kWrongQueues, kDispatcher };

TraceResult RunTrace(const std::string& tag, Feed feed) {
  const int workers = feed == Feed::kOneWorker ? 1 : kWorkers;
  const int queues = feed == Feed::kNicRss || feed == Feed::kWrongQueues ? kWorkers : 1;
  RingLab lab(tag, queues);
  const std::string text = absl::StrReplaceAll(
      kTraceConfig, {{"WAN_NAME", lab.name(Side::kWan)},
                     {"LAN_NAME", lab.name(Side::kLan)},
                     {"WORKERS", absl::StrCat(workers)},
                     {"STEERING", feed == Feed::kDispatcher ? "dispatcher" : "rss"}});
  TraceResult result;
  std::unique_ptr<Dataplane> dp = StartPlane(text);
  if (dp == nullptr) {
    return result;
  }
  Dataplane& plane = *dp;

  const std::vector<TraceStep> trace = BuildTrace();
  // Keyed by the frame's bytes as a string: GCC 12 misreads std::vector's
  // ordering as an overread in release builds.
  std::unordered_map<std::string, size_t> index;
  std::atomic<bool> done{false};
  std::thread feeder([&] {
    std::mt19937 rng(5);
    uint64_t fed = 0;
    for (const TraceStep& step : trace) {
      for (const TracePacket& p : step) {
        index[std::string(p.frame.begin(), p.frame.end())] = index.size();
        int q = 0;
        if (feed == Feed::kNicRss) {
          q = NicQueue(p.side, p.frame, queues);
        } else if (feed == Feed::kWrongQueues) {
          q = static_cast<int>(rng() % queues);
        }
        lab.Feed(p.side, q, p.frame);
        ++fed;
      }
      // Each packet is classified once, by its owner.
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      for (;;) {
        uint64_t classified = 0;
        for (size_t w = 0; w < plane.worker_count(); ++w) {
          classified += plane.worker(w).counters().classified.Get();
        }
        if (classified >= fed || Clock::now() > deadline) {
          EXPECT_EQ(classified, fed) << "the dataplane did not classify every frame";
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    done.store(true);
  });
  MainLoopHooks hooks;
  hooks.should_stop = [&] { return done.load(); };
  hooks.on_event = [](const Policy&, const Event&) {};
  plane.RunMain(hooks);
  feeder.join();
  std::cout << plane.CountersReport();

  result.forwarded.assign(index.size(), false);
  for (Side side : {Side::kWan, Side::kLan}) {
    for (const std::vector<uint8_t>& f : lab.Drain(side)) {
      const auto it = index.find(std::string(f.begin(), f.end()));
      EXPECT_NE(it, index.end()) << "a frame left that nobody sent";
      if (it != index.end()) {
        result.forwarded[it->second] = true;
      }
    }
  }
  std::map<std::pair<std::string, std::string>, int> shards;
  for (size_t w = 0; w < plane.worker_count(); ++w) {
    const Worker& worker = plane.worker(w);
    result.missteered += worker.counters().missteered.Get();
    result.handed_in += worker.counters().handed_in.Get();
    worker.lists().ForEachMember(plane.clock().Now(), [&](const IpAddress& a, ListId l, Nanos) {
      const auto key = std::make_pair(plane.policy().lists()[l].name, a.ToString());
      result.lists.insert(key);
      ++shards[key];
    });
  }
  for (const auto& [key, n] : shards) {
    result.each_address_in_one_shard = result.each_address_in_one_shard && n == 1;
  }
  return result;
}

// The property: whatever the steering, one trace gives every packet the same
// verdict and leaves the same list contents, each address in one shard.
TEST(RingTest, SteeringNeverChangesAVerdict) {
  const TraceResult one = RunTrace("t1", Feed::kOneWorker);
  const TraceResult nic = RunTrace("tn", Feed::kNicRss);
  const TraceResult wrong = RunTrace("tw", Feed::kWrongQueues);
  const TraceResult disp = RunTrace("td", Feed::kDispatcher);

  // The reference itself behaves: knocked clients, trusted sources, replies
  // and related errors pass; the rest does not.
  const size_t passed = std::count(one.forwarded.begin(), one.forwarded.end(), true);
  EXPECT_GT(passed, 100u);
  EXPECT_LT(passed, one.forwarded.size() - 50);
  EXPECT_TRUE(one.lists.count({"secured", "198.51.100.10"}));
  EXPECT_TRUE(one.lists.count({"secured", "2001:db8:7::1"}));
  EXPECT_TRUE(one.lists.count({"blacklist", "198.51.100.11"}));
  EXPECT_FALSE(one.lists.count({"secured", "198.51.100.14"}));  // never knocked

  const std::pair<const char*, const TraceResult*> runs[] = {
      {"nic rss", &nic}, {"wrong queues", &wrong}, {"dispatcher", &disp}};
  for (const auto& [name, r] : runs) {
    SCOPED_TRACE(name);
    ASSERT_EQ(r->forwarded.size(), one.forwarded.size());
    for (size_t i = 0; i < one.forwarded.size(); ++i) {
      EXPECT_EQ(r->forwarded[i], one.forwarded[i]) << "packet " << i;
    }
    EXPECT_EQ(r->lists, one.lists);
    EXPECT_TRUE(r->each_address_in_one_shard);
    EXPECT_EQ(r->missteered, r->handed_in);
  }
  // A NIC that hashes the outer address misplaces only ICMP errors (32 here).
  EXPECT_LE(nic.missteered, 32u);
  EXPECT_GT(wrong.missteered, 100u) << "the wrong queues did put packets on the wrong workers";
  EXPECT_EQ(disp.missteered, 0u);
}

// --- Reloads under traffic -------------------------------------------------

constexpr char kReloadFull[] = R"(
[interfaces]
wan = "WAN_NAME"
lan = "LAN_NAME"
[dataplane]
workers = 3
mbufs = 32768
idle-sleep = "20us"
steering = "dispatcher"
[policy]
wan-default = "drop"
[[address-list]]
list = "trusted"
address = "203.0.113.0/24"
[[filter]]
action = "log"
log-prefix = "web"
in-interface-list = "WAN"
protocol = "tcp"
dst-port = 80
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "trusted"
[[filter]]
action = "passthrough"
protocol = "udp"
[[knock]]
name = "k"
steps = ["tcp:888", "tcp:555"]
window = "1h"
grant-timeout = "1h"
)";

// The second policy has fewer rules and no log rule where the first has one.
std::string ReducedPolicy(const std::string& full) {
  return absl::StrReplaceAll(
      full, {{"action = \"log\"\nlog-prefix = \"web\"\n", "action = \"passthrough\"\n"},
             {"[[filter]]\naction = \"passthrough\"\nprotocol = \"udp\"\n", ""}});
}

TEST(RingTest, HundredReloadsUnderTraffic) {
  RingLab lab("rl", 1);
  const std::string full = absl::StrReplaceAll(
      kReloadFull, {{"WAN_NAME", lab.name(Side::kWan)}, {"LAN_NAME", lab.name(Side::kLan)}});
  const std::string reduced = ReducedPolicy(full);
  ASSERT_NE(full, reduced);
  std::unique_ptr<Dataplane> dp = StartPlane(full);
  ASSERT_NE(dp, nullptr);
  Dataplane& plane = *dp;

  constexpr int kReloads = 100;
  constexpr int kGranted = 12;
  std::atomic<int> reloads_done{0};
  std::atomic<bool> knocked{false};
  std::atomic<bool> done{false};
  std::vector<std::string> failures;
  uint64_t log_events = 0;
  uint64_t add_events = 0;
  std::set<uint64_t> generations;
  std::atomic<uint64_t> fed{0};
  uint64_t crossed = 0;  // frames to 80 and 443 that left on the LAN
  auto CountTo = [](const std::vector<std::vector<uint8_t>>& frames) {
    return SourcesTo(frames, 80).size() + SourcesTo(frames, 443).size();
  };

  std::thread traffic([&] {
    for (uint16_t port : {888, 555}) {
      for (int i = 0; i < kGranted; ++i) {
        lab.FeedWaiting(Side::kWan, 0, Syn(Client(10 + i), port));
        ++fed;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    knocked.store(true);
    // Granted clients, trusted sources and log-rule hits until every reload
    // is through; each frame unique (source port), each must cross. The
    // feeder waits for room in the RX ring, as a NIC's sender would be paced:
    // on a loaded machine under ASan the worker can fall behind, and a frame
    // the lab could not enqueue is no loss of the gateway's.
    uint16_t sport = 1;
    while (reloads_done.load() < kReloads) {
      crossed += CountTo(lab.Drain(Side::kLan));  // before the port's ring fills
      for (int i = 0; i < kGranted; ++i) {
        lab.FeedWaiting(Side::kWan, 0, testing::TcpPacket(Client(10 + i), sport, kServer, 80));
        lab.FeedWaiting(Side::kWan, 0,
                        testing::TcpPacket(absl::StrCat("203.0.113.", 1 + i), sport, kServer, 443));
        fed += 2;
      }
      ++sport;
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    done.store(true);
  });
  // Scrapes meanwhile, as the metrics server and telemetry do (under
  // AddressSanitizer in the test command): a snapshot's rule counters are
  // its generation's, so within a generation they never go back.
  std::atomic<int> scrapes{0};
  std::thread scraper([&] {
    std::map<uint64_t, uint64_t> packets_of;
    while (!done.load()) {
      const std::shared_ptr<const CounterSnapshot> s = plane.Counters();
      ASSERT_NE(s, nullptr);
      ASSERT_EQ(s->rules.size(), s->policy->rules().size());
      uint64_t packets = 0;
      for (const RuleCounter& r : s->rules) {
        packets += r.packets;
      }
      EXPECT_GE(packets, packets_of[s->generation]) << "generation " << s->generation;
      packets_of[s->generation] = packets;
      const std::string text = PrometheusText(plane, {});
      EXPECT_NE(text.find("knockgate_rule_packets_total{rule=\"0\""), std::string::npos);
      ++scrapes;
    }
  });

  MainLoopHooks hooks;
  int started = 0;
  hooks.should_stop = [&] {
    if (knocked.load() && started < kReloads && !plane.reload_in_flight()) {
      const std::string& text = started % 2 == 0 ? reduced : full;
      ++started;
      const absl::Status s =
          plane.StartReload(ReloadTo(text), [&](const absl::Status& st, const std::string&) {
            if (!st.ok()) {
              failures.push_back(std::string(st.message()));
            }
            ++reloads_done;
          });
      if (!s.ok()) {
        failures.push_back(std::string(s.message()));
      }
    }
    return done.load();
  };
  hooks.on_event = [&](const Policy& made_by, const Event& e) {
    generations.insert(e.generation);
    if (e.rule >= made_by.rules().size()) {
      failures.push_back(
          absl::StrCat("event names rule ", e.rule, " of a policy with ", made_by.rules().size()));
      return;
    }
    const CompiledRule& rule = made_by.rules()[e.rule];
    const std::string line = FormatEvent(made_by, e, "T");
    if (e.type == EventType::kLog) {
      ++log_events;
      if (!rule.log || line.find("prefix=\"web\"") == std::string::npos) {
        failures.push_back("a log event names a rule that does not log: " + line);
      }
    } else {
      ++add_events;
      if (rule.target_list != e.list) {
        failures.push_back("a list-add event names a rule that fills another list: " + line);
      }
    }
  };
  plane.RunMain(hooks);
  traffic.join();
  scraper.join();
  std::cout << plane.CountersReport() << scrapes.load() << " scrapes during the reloads\n";

  EXPECT_EQ(reloads_done.load(), kReloads);
  EXPECT_GT(scrapes.load(), 20);
  for (const std::string& f : failures) {
    ADD_FAILURE() << f;
  }
  EXPECT_EQ(add_events, 2u * kGranted);
  EXPECT_GT(log_events, 0u);
  EXPECT_GT(generations.size(), 10u) << "events came from many policies";
  uint64_t classified = 0;
  for (size_t w = 0; w < plane.worker_count(); ++w) {
    classified += plane.worker(w).counters().classified.Get();
  }
  EXPECT_EQ(classified, fed.load());
  // Every granted client's and trusted source's packet crossed.
  crossed += CountTo(lab.Drain(Side::kLan));
  EXPECT_EQ(crossed, fed.load() - 2 * kGranted);
}

// An edited [conntrack] timeout is applied by a reload: a flow opened after
// it lives by the new timeout (flows opened before keep theirs until their
// next packet).
TEST(RingTest, ReloadAppliesConntrackTimeouts) {
  RingLab lab("ct", 1);
  const std::string text =
      absl::StrReplaceAll(R"(
[interfaces]
wan = "WAN_NAME"
lan = "LAN_NAME"
[dataplane]
mbufs = 32768
[conntrack]
udp-timeout = "30s"
[[filter]]
action = "accept"
connection-state = "established,related"
)",
                          {{"WAN_NAME", lab.name(Side::kWan)}, {"LAN_NAME", lab.name(Side::kLan)}});
  std::unique_ptr<Dataplane> dp = StartPlane(text);
  ASSERT_NE(dp, nullptr);
  Dataplane& plane = *dp;

  const std::string host = "192.0.2.50";
  std::atomic<uint64_t> fed{0};
  std::atomic<bool> reload{false};
  std::atomic<bool> reloaded{false};
  std::atomic<bool> done{false};
  auto send = [&](Side side, const std::vector<uint8_t>& frame) {
    lab.Feed(side, 0, frame);
    ++fed;
    while (plane.worker(0).counters().classified.Get() < fed.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  std::vector<std::vector<uint8_t>> lan;
  std::thread scenario([&] {
    send(Side::kLan, testing::UdpPacket(host, 4000, "198.18.0.1", 53, "q"));  // before
    reload.store(true);
    while (!reloaded.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    send(Side::kLan, testing::UdpPacket(host, 4001, "198.18.0.2", 53, "q"));  // after
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    send(Side::kWan, testing::UdpPacket("198.18.0.1", 53, host, 4000, "a"));
    send(Side::kWan, testing::UdpPacket("198.18.0.2", 53, host, 4001, "a"));
    lan = lab.Drain(Side::kLan);
    done.store(true);
  });
  MainLoopHooks hooks;
  hooks.should_stop = [&] {
    if (reload.exchange(false)) {
      EXPECT_TRUE(plane
                      .StartReload(ReloadTo(absl::StrReplaceAll(text, {{"\"30s\"", "\"1s\""}})),
                                   [&](const absl::Status& st, const std::string&) {
                                     EXPECT_TRUE(st.ok()) << st;
                                     reloaded.store(true);
                                   })
                      .ok());
    }
    return done.load();
  };
  hooks.on_event = [](const Policy&, const Event&) {};
  plane.RunMain(hooks);
  scenario.join();
  const std::multiset<std::string> from = [&] {
    std::multiset<std::string> out;
    for (const auto& f : lan) {
      ParsedPacket p;
      if (ParsePacket(f, p) == DropReason::kNone) {
        out.insert(p.src.ToString());
      }
    }
    return out;
  }();
  EXPECT_EQ(from.count("198.18.0.1"), 1u) << "a flow from before keeps its 30 s";
  EXPECT_EQ(from.count("198.18.0.2"), 0u) << "a flow from after the reload ends after 1 s";
}

// SIGHUP with a hostile file (a key 50,000 parts deep, which crashed toml++)
// is refused with its position, and the gateway keeps forwarding.
TEST(RingTest, HostileReloadKeepsTheRunningPolicy) {
  RingLab lab("hr", 1);
  const std::string text = absl::StrReplaceAll(kConfig, {{"WAN_NAME", lab.name(Side::kWan)},
                                                         {"LAN_NAME", lab.name(Side::kLan)},
                                                         {"workers = 3", "workers = 1"},
                                                         {"STEERING", "auto"}});
  std::unique_ptr<Dataplane> dp = StartPlane(text);
  ASSERT_NE(dp, nullptr);
  Dataplane& plane = *dp;
  std::vector<std::string> parts(50000, "a");
  absl::Status result = absl::UnknownError("no answer");
  std::atomic<bool> answered{false};
  std::atomic<bool> done{false};
  bool started = false;
  uint64_t fed = 0;
  std::vector<std::vector<uint8_t>> lan;
  std::thread traffic([&] {
    while (!answered.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (uint16_t port : {888, 555, 222, 80}) {
      lab.Feed(Side::kWan, 0, Syn(Client(5), port));
      ++fed;
      while (plane.worker(0).counters().classified.Get() < fed) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    lan = lab.Drain(Side::kLan);
    done.store(true);
  });
  MainLoopHooks hooks;
  hooks.should_stop = [&] {
    if (!started) {
      started = true;
      EXPECT_TRUE(plane
                      .StartReload(ReloadTo(text + absl::StrJoin(parts, ".") + " = 1\n"),
                                   [&](const absl::Status& st, const std::string&) {
                                     result = st;
                                     answered.store(true);
                                   })
                      .ok());
    }
    return done.load();
  };
  hooks.on_event = [](const Policy&, const Event&) {};
  plane.RunMain(hooks);
  traffic.join();
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.message()), ::testing::HasSubstr("a key of more than 32"));
  EXPECT_EQ(SourcesTo(lan, 80).count(Client(5)), 1u) << "the running policy still knocks open";
}

// --- State changes under a flood of chatter ---------------------------------

// The main lcore is held (a busy host deschedules it, or the log is slow)
// while a worker takes a spoofed flood at the first knock port, one knock
// step event a packet, far more than the chatter ring holds, and 20,000 full
// knocks, each a grant: more than the state ring holds. Every grant reaches
// the event hook, in order; the flood's steps are what is lost, and counted;
// the worker stopped taking packets while its state ring was full.
TEST(RingTest, GrantsAreNeverLostToAFloodOfKnockSteps) {
  RingLab lab("grants", 1);
  const std::string text = absl::StrReplaceAll(
      kConfig, {{"WAN_NAME", lab.name(Side::kWan)},
                {"LAN_NAME", lab.name(Side::kLan)},
                {"workers = 3", "workers = 1"},
                {"STEERING", "auto"},
                {"address-list-timeout = \"1s\"", "address-list-timeout = \"5m\""},
                {"address-list-timeout = \"3s\"", "address-list-timeout = \"1h\""}});
  std::unique_ptr<Dataplane> dp = StartPlane(text);
  ASSERT_NE(dp, nullptr);
  Dataplane& plane = *dp;
  const WorkerCounters& counters = plane.worker(0).counters();
  constexpr int kClients = 20000;
  constexpr int kFloodPerClient = 5;
  static_assert(kClients > Worker::kStateRing, "more grants than the state ring holds");
  auto client = [](int i) {
    return absl::StrCat("10.", 100 + i / 65536, ".", i / 256 % 256, ".", i % 256);
  };

  std::atomic<bool> hold{true};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> fed{0};
  std::thread feeder([&] {
    std::mt19937 rng(7);
    for (int i = 0; i < kClients; ++i) {
      for (int f = 0; f < kFloodPerClient; ++f) {
        const uint32_t spoofed = 0xAC000000u | (rng() & 0x00FFFFFFu);  // 172.x.y.z
        lab.FeedWaiting(Side::kWan, 0, Syn(IpAddress::V4(spoofed).ToString(), 888));
      }
      for (uint16_t port : {888, 555, 222}) {
        lab.FeedWaiting(Side::kWan, 0, Syn(client(i), port));
      }
      fed += kFloodPerClient + 3;
    }
  });
  // Lets the main lcore go once the worker has stopped taking packets.
  std::thread watcher([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (counters.state_stalls.Get() == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    hold.store(false);
  });
  std::thread stopper([&] {
    feeder.join();
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (counters.classified.Get() < fed.load() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    done.store(true);
  });

  std::vector<std::string> granted;
  uint64_t steps = 0;
  const int secured = plane.policy().FindList("secured");
  MainLoopHooks hooks;
  hooks.should_stop = [&] { return done.load(); };
  hooks.on_event = [&](const Policy&, const Event& e) {
    while (hold.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (e.type == EventType::kListAdd && e.list == secured) {
      EXPECT_TRUE(e.state);
      granted.push_back(e.address.ToString());
    } else {
      EXPECT_FALSE(e.state);
      ++steps;
    }
  };
  plane.RunMain(hooks);
  watcher.join();
  stopper.join();
  std::cout << plane.CountersReport();
  EXPECT_EQ(counters.classified.Get(), fed.load());
  EXPECT_GT(counters.state_stalls.Get(), 0u) << "the worker never waited for the main lcore";
  EXPECT_GT(counters.events_lost.Get(), 0u) << "the flood never overflowed the chatter ring";
  EXPECT_EQ(counters.state_events_lost.Get(), 0u);
  ASSERT_EQ(granted.size(), static_cast<size_t>(kClients)) << "grants were lost";
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(granted[i], client(i)) << "grant " << i << " out of order";
  }
  std::cout << "knock-step events delivered: " << steps << ", lost: " << counters.events_lost.Get()
            << "\n";
}

// --- An SPA grant for another worker's address ----------------------------

// Without require-source-address, fwknop -a names the address to open, which
// RSS steers to another worker than the packet's source. The verifier hands
// the grant to the owner's control ring; the owner's replay cache sees every
// replay of it, from any source.
TEST(RingTest, SpaGrantForAnotherWorkersAddress) {
  RingLab lab("spa", kWorkers);
  const std::string text = absl::StrCat(R"(
[interfaces]
wan = ")",
                                        lab.name(Side::kWan), R"("
lan = ")",
                                        lab.name(Side::kLan), R"("
[dataplane]
workers = 3
mbufs = 32768
idle-sleep = "20us"
steering = "rss"
[policy]
wan-default = "drop"
[[filter]]
action = "accept"
in-interface-list = "WAN"
src-address-list = "secured"
[[spa]]
name = "ssh"
key-file = ")",
                                        KNOCKGATE_SOURCE_ROOT, R"(/tests/data/spa/keys.txt"
require-source-address = false
# The checked-in packets were made once; an age limit of a century keeps them
# fresh (the stale check has unit tests of its own).
max-age = "36500d"
access = ["tcp/22"]
)");
  std::unique_ptr<Dataplane> dp = StartPlane(text);
  ASSERT_NE(dp, nullptr);
  Dataplane& plane = *dp;
  std::string message;
  {
    std::ifstream in(KNOCKGATE_SOURCE_ROOT "/tests/data/spa/vectors.tsv");
    std::string line;
    while (std::getline(in, line) && message.empty()) {
      if (line.rfind("accept\t", 0) == 0) {
        message = line.substr(line.rfind('\t') + 1);
      }
    }
  }
  ASSERT_FALSE(message.empty());
  const std::string granted = "10.77.0.2";  // what the message's -a named
  const int owner = NicQueue(*ParseIpAddress(granted), kWorkers);
  // A source on each worker's queue (the owner's last).
  std::vector<std::string> others;
  for (int w : {(owner + 1) % kWorkers, (owner + 2) % kWorkers, owner}) {
    for (int i = 1;; ++i) {
      const std::string a = absl::StrCat("203.0.113.", i);
      if (NicQueue(*ParseIpAddress(a), kWorkers) == w) {
        others.push_back(a);
        break;
      }
    }
  }
  ASSERT_EQ(others.size(), static_cast<size_t>(kWorkers));

  std::mutex mu;
  std::vector<std::string> events;
  std::atomic<int> spa_events{0};
  std::atomic<bool> done{false};
  std::vector<std::vector<uint8_t>> lan;
  auto wait_events = [&](int n) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (spa_events.load() < n && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(spa_events.load(), n);
  };
  std::thread scenario([&] {
    auto ssh = [&] { lab.Feed(Side::kWan, owner, Syn(granted, 22)); };
    ssh();  // shut before
    while (plane.worker(owner).counters().classified.Get() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    lab.Feed(Side::kWan, NicQueue(*ParseIpAddress(others[0]), kWorkers),
             testing::UdpPacket(others[0], 40000, kServer, 62201, message));
    wait_events(1);
    ssh();
    // The same packet from the other foreign worker's source, then from a
    // source of the owner's own (not the granted address: the accept rule
    // before the section would pass it): both replays.
    lab.Feed(Side::kWan, NicQueue(*ParseIpAddress(others[1]), kWorkers),
             testing::UdpPacket(others[1], 40001, kServer, 62201, message));
    wait_events(2);
    lab.Feed(Side::kWan, owner, testing::UdpPacket(others[2], 40002, kServer, 62201, message));
    wait_events(3);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (SourcesTo(lan, 22).empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      for (auto& f : lab.Drain(Side::kLan)) {
        lan.push_back(std::move(f));
      }
    }
    done.store(true);
  });
  MainLoopHooks hooks;
  hooks.should_stop = [&] { return done.load(); };
  hooks.on_event = [&](const Policy& policy, const Event& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(FormatEvent(policy, e, "T"));
    spa_events += e.type == EventType::kSpaGrant || e.type == EventType::kSpaReject;
  };
  plane.RunMain(hooks);
  scenario.join();
  std::cout << plane.CountersReport();
  for (const std::string& e : events) {
    std::cout << e << "\n";
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0],
            absl::StrCat("T spa-grant user=ssh list=secured address=10.77.0.2 timeout=30m "
                         "worker=",
                         owner, " WAN udp ", others[0], " > 192.0.2.10"));
  EXPECT_THAT(events[1], ::testing::StartsWith(
                             absl::StrCat("T spa-reject user=ssh reason=replay worker=", owner,
                                          " WAN udp ", others[1], " > ")));
  EXPECT_THAT(events[2], ::testing::StartsWith(
                             absl::StrCat("T spa-reject user=ssh reason=replay worker=", owner,
                                          " WAN udp ", others[2], " > ")));
  EXPECT_EQ(SourcesTo(lan, 22).size(), 1u) << "shut before the grant, open after it";
  EXPECT_TRUE(plane.worker(owner).lists().Contains(
      *ParseIpAddress(granted), static_cast<ListId>(plane.policy_snapshot()->FindList("secured")),
      plane.clock().Now()));
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
