// [sync]'s engine against a real redis-server that the test starts on a Unix
// socket: the script keeps the later expiry and tells only what changed, a
// gateway never applies its own messages, a late starter resyncs from the
// keys, and a Redis that restarted empty is refilled from local entries.
// The hooks stand in for the dataplane (they record what they are given).
#include "sync/redis_sync.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"

namespace knockgate {
namespace {

using Clock = std::chrono::steady_clock;

class RedisServer {
 public:
  RedisServer() : dir_(absl::StrCat("/tmp/kg-redis-test-", getpid())) {
    std::system(absl::StrCat("mkdir -p ", dir_).c_str());
    Start();
  }
  ~RedisServer() {
    Stop();
    std::system(absl::StrCat("rm -rf ", dir_).c_str());
  }
  void Start() {
    const std::string cmd =
        absl::StrCat("redis-server --port 0 --unixsocket ", socket(), " --save '' --appendonly no ",
                     "--daemonize yes --pidfile ", dir_, "/pid --logfile ", dir_, "/log");
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "redis-server (scripts/install-deps.sh installs it)";
    for (int i = 0; i < 100 && !Ping(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(Ping());
  }
  void Stop() {
    std::system(absl::StrCat("kill $(cat ", dir_, "/pid 2>/dev/null) 2>/dev/null").c_str());
    for (int i = 0; i < 100 && access(socket().c_str(), F_OK) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::string socket() const { return dir_ + "/redis.sock"; }
  bool Ping() { return Run("PING") == "PONG"; }
  // One command's reply as text ("" for nil or an error; integers in decimal).
  std::string Run(const std::string& command) {
    redisContext* c = redisConnectUnix(socket().c_str());
    if (c == nullptr || c->err != 0) {
      redisFree(c);
      return "";
    }
    auto* r = static_cast<redisReply*>(redisCommand(c, command.c_str()));
    std::string out;
    if (r != nullptr) {
      if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        out.assign(r->str, r->len);
      } else if (r->type == REDIS_REPLY_INTEGER) {
        out = std::to_string(r->integer);
      }
      freeReplyObject(r);
    }
    redisFree(c);
    return out;
  }

 private:
  std::string dir_;
};

// One gateway's engine, with hooks that record.
struct Gateway {
  Gateway(const std::string& socket, const std::string& node, Nanos resync_interval = 0) {
    config.redis = "unix://" + socket;
    config.lists = {"secured", "blacklist"};
    config.node = node;
    config.resync_interval = resync_interval;
    RedisSync::Hooks h;
    h.apply = [this](std::span<const ListChange> c) {
      std::lock_guard<std::mutex> lock(mu);
      applied.insert(applied.end(), c.begin(), c.end());
      return absl::OkStatus();
    };
    h.local_entries = [this]() -> absl::StatusOr<std::vector<ListChange>> {
      std::lock_guard<std::mutex> lock(mu);
      return local;
    };
    h.wall_now = WallNow;
    h.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu);
      log.push_back(line);
    };
    sync = std::move(RedisSync::Start(config, h)).value();
  }
  size_t Applied() {
    std::lock_guard<std::mutex> lock(mu);
    return applied.size();
  }
  bool WaitFor(const std::function<bool()>& done, int ms = 10000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
    while (!done()) {
      if (Clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  bool Connected() {
    return WaitFor([this] { return sync->counters().connected.load(); });
  }

  SyncConfig config;
  std::mutex mu;
  std::vector<ListChange> applied;
  std::vector<ListChange> local;
  std::vector<std::string> log;
  std::unique_ptr<RedisSync> sync;
};

IpAddress Ip(const char* t) { return *ParseIpAddress(t); }

TEST(RedisSyncTest, TheLaterExpiryWinsAndOnlyChangesAreTold) {
  RedisServer redis;
  Gateway a(redis.socket(), "a");
  Gateway b(redis.socket(), "b");
  ASSERT_TRUE(a.Connected());
  ASSERT_TRUE(b.Connected());
  const Nanos now = WallNow();
  const Nanos ten_min = now + 600 * kNanosPerSecond;
  a.sync->Offer({"secured", Ip("198.51.100.7"), ten_min, false});
  ASSERT_TRUE(b.WaitFor([&] { return b.Applied() == 1; }));
  {
    std::lock_guard<std::mutex> lock(b.mu);
    EXPECT_EQ(b.applied[0].list, "secured");
    EXPECT_EQ(b.applied[0].address, Ip("198.51.100.7"));
    EXPECT_EQ(ExpiryMsOf(b.applied[0].expiry_wall), ExpiryMsOf(ten_min));
  }
  const std::string key = "knockgate:e:secured:198.51.100.7";
  EXPECT_EQ(redis.Run("GET " + key), std::to_string(ExpiryMsOf(ten_min)));
  const int64_t pttl = std::stoll(redis.Run("PTTL " + key));
  EXPECT_GT(pttl, 590'000);
  EXPECT_LE(pttl, 600'000);

  // An earlier expiry changes nothing and tells nobody.
  a.sync->Offer({"secured", Ip("198.51.100.7"), now + 60 * kNanosPerSecond, false});
  // A later one for another address proves the earlier one went through first.
  a.sync->Offer({"blacklist", Ip("2001:db8::66"), kNever, false});
  ASSERT_TRUE(b.WaitFor([&] { return b.Applied() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(b.Applied(), 2u);
  EXPECT_EQ(redis.Run("GET " + key), std::to_string(ExpiryMsOf(ten_min)));
  EXPECT_EQ(redis.Run("GET knockgate:e:blacklist:2001:db8::66"), "0");
  EXPECT_EQ(redis.Run("PTTL knockgate:e:blacklist:2001:db8::66"), "-1");  // no timeout
  EXPECT_EQ(a.sync->counters().published.load(), 2u);
  EXPECT_EQ(a.Applied(), 0u) << "a gateway never applies its own messages";

  // A removal deletes the key and is told.
  a.sync->Offer({"secured", Ip("198.51.100.7"), 0, true});
  ASSERT_TRUE(b.WaitFor([&] { return b.Applied() == 3; }));
  {
    std::lock_guard<std::mutex> lock(b.mu);
    EXPECT_TRUE(b.applied[2].remove);
  }
  EXPECT_EQ(redis.Run("EXISTS " + key), "0");
}

TEST(RedisSyncTest, ALateStarterResyncsAndAnEmptyRedisIsRefilled) {
  RedisServer redis;
  Gateway a(redis.socket(), "a");
  ASSERT_TRUE(a.Connected());
  const Nanos later = WallNow() + 600 * kNanosPerSecond;
  for (int i = 1; i <= 300; ++i) {
    a.sync->Offer(
        {"secured", Ip(absl::StrCat("10.9.", i / 256, ".", i % 256).c_str()), later, false});
  }
  ASSERT_TRUE(a.WaitFor([&] { return a.sync->counters().published.load() == 300; }));
  redis.Run("SET knockgate:e:knock1:10.0.0.1 0");  // a list this gateway does not share

  Gateway c(redis.socket(), "c");
  ASSERT_TRUE(c.Connected());
  EXPECT_EQ(c.Applied(), 300u) << "the keys, scanned at connect; not knock1's";

  // Redis restarts empty; a's local lists hold what it had.
  {
    std::lock_guard<std::mutex> lock(a.mu);
    a.local = {{"secured", Ip("10.9.0.1"), later, false},
               {"888", Ip("10.9.0.2"), later, false}};  // not shared: stays out
  }
  redis.Stop();
  ASSERT_TRUE(a.WaitFor([&] { return !a.sync->counters().connected.load(); }));
  redis.Start();
  ASSERT_TRUE(a.Connected());
  ASSERT_TRUE(a.WaitFor([&] { return redis.Run("EXISTS knockgate:e:secured:10.9.0.1") == "1"; }));
  EXPECT_EQ(redis.Run("EXISTS knockgate:e:888:10.9.0.2"), "0");
  EXPECT_GE(a.sync->counters().errors.load(), 1u);
  EXPECT_GE(a.sync->counters().resyncs.load(), 2u);
  std::lock_guard<std::mutex> lock(a.mu);
  size_t outages = 0;
  for (const std::string& l : a.log) {
    outages += l.find("lost Redis") != std::string::npos;
  }
  EXPECT_EQ(outages, 1u) << "one line per outage, however many retries";
}

// A change that never reached a gateway (a full ring or queue, counted) is
// healed by the periodic resync, without waiting for an outage.
TEST(RedisSyncTest, APeriodicResyncHealsWhatWasMissed) {
  RedisServer redis;
  Gateway a(redis.socket(), "a", 300'000'000);  // every 0.3 s
  ASSERT_TRUE(a.Connected());
  EXPECT_EQ(a.Applied(), 0u);
  // Written without a message, as if the message had been lost.
  const int64_t ms = ExpiryMsOf(WallNow() + 600 * kNanosPerSecond);
  redis.Run(absl::StrCat("SET knockgate:e:blacklist:203.0.113.66 ", ms, " PXAT ", ms));
  ASSERT_TRUE(a.WaitFor([&] { return a.Applied() == 1; }, 3000));
  std::lock_guard<std::mutex> lock(a.mu);
  EXPECT_EQ(a.applied[0].address, Ip("203.0.113.66"));
  EXPECT_GE(a.sync->counters().resyncs.load(), 2u);
}

}  // namespace
}  // namespace knockgate
