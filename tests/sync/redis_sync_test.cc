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
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"

namespace knockgate {
namespace {

using Clock = std::chrono::steady_clock;

// One command's reply as text ("" for nil or an error; integers in decimal).
std::string RunOn(redisContext* c, const std::string& command) {
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
    } else if (r->type == REDIS_REPLY_ARRAY) {  // words joined by spaces
      for (size_t i = 0; i < r->elements; ++i) {
        if (r->element[i]->type == REDIS_REPLY_STRING) {
          absl::StrAppend(&out, out.empty() ? "" : " ",
                          absl::string_view(r->element[i]->str, r->element[i]->len));
        }
      }
    }
    freeReplyObject(r);
  }
  redisFree(c);
  return out;
}

class RedisServer {
 public:
  // `extra`: more redis-server options (ACL users, say).
  explicit RedisServer(std::string extra = "")
      : dir_(absl::StrCat("/tmp/kg-redis-test-", getpid())), extra_(std::move(extra)) {
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
                     "--daemonize yes --pidfile ", dir_, "/pid --logfile ", dir_, "/log ", extra_);
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
    return RunOn(redisConnectUnix(socket().c_str()), command);
  }

 private:
  std::string dir_;
  std::string extra_;
};

// One gateway's engine, with hooks that record. With `local_lists` the
// hooks also keep `local` as a dataplane's lists would: what is applied is
// added to it or taken out of it.
struct Gateway {
  Gateway(const std::string& socket, const std::string& node, Nanos resync_interval = 0,
          bool local_lists = false, std::vector<ListChange> start_with = {})
      : Gateway(
            [&] {
              SyncConfig c;
              c.redis = "unix://" + socket;
              c.node = node;
              c.resync_interval = resync_interval;
              return c;
            }(),
            local_lists, std::move(start_with)) {}
  // Any [sync] config (its lists are set here).
  Gateway(SyncConfig c, bool local_lists, std::vector<ListChange> start_with = {}) {
    local = std::move(start_with);
    config = std::move(c);
    config.lists = {"secured", "blacklist"};
    RedisSync::Hooks h;
    h.apply = [this, local_lists](std::span<const ListChange> c) {
      std::lock_guard<std::mutex> lock(mu);
      applied.insert(applied.end(), c.begin(), c.end());
      for (const ListChange& x : c) {
        if (local_lists) {
          SetLocal(x.list, x.address, x.remove ? std::nullopt : std::optional(x.expiry_wall));
        }
      }
      return absl::OkStatus();
    };
    h.tombstone_lifetime = [](const std::string&) { return 30 * kNanosPerSecond; };
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
  // Under mu: sets (or, without an expiry, removes) a local entry.
  void SetLocal(const std::string& list, const IpAddress& a, std::optional<Nanos> expiry) {
    std::erase_if(local, [&](const ListChange& l) { return l.list == list && l.address == a; });
    if (expiry) {
      local.push_back({list, a, *expiry, false});
    }
  }
  bool HasLocal(const std::string& list, const IpAddress& a) {
    std::lock_guard<std::mutex> lock(mu);
    return std::any_of(local.begin(), local.end(),
                       [&](const ListChange& l) { return l.list == list && l.address == a; });
  }
  // What a rule or ctl does on this gateway: the lists change at once, the
  // change is offered to [sync].
  void Add(const IpAddress& a, Nanos expiry, Nanos at = WallNow()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      SetLocal("secured", a, expiry);
    }
    sync->Offer({"secured", a, expiry, false, at});
  }
  void Remove(const IpAddress& a, Nanos at = WallNow()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      SetLocal("secured", a, std::nullopt);
    }
    sync->Offer({"secured", a, 0, true, at});
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
  a.sync->Offer({"secured", Ip("198.51.100.7"), ten_min, false, now});
  ASSERT_TRUE(b.WaitFor([&] { return b.Applied() == 1; }));
  {
    std::lock_guard<std::mutex> lock(b.mu);
    EXPECT_EQ(b.applied[0].list, "secured");
    EXPECT_EQ(b.applied[0].address, Ip("198.51.100.7"));
    EXPECT_EQ(ExpiryMsOf(b.applied[0].expiry_wall), ExpiryMsOf(ten_min));
  }
  const std::string key = "knockgate:e:secured:198.51.100.7";
  // The value: expiry and the change's time, both Unix ms.
  EXPECT_EQ(redis.Run("GET " + key), absl::StrCat(ExpiryMsOf(ten_min), " ", ChangedMsOf(now)));
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
  EXPECT_EQ(redis.Run("GET " + key), absl::StrCat(ExpiryMsOf(ten_min), " ", ChangedMsOf(now)));
  EXPECT_EQ(redis.Run("GET knockgate:e:blacklist:2001:db8::66"), "0 0");
  EXPECT_EQ(redis.Run("PTTL knockgate:e:blacklist:2001:db8::66"), "-1");  // no timeout
  EXPECT_EQ(a.sync->counters().published.load(), 2u);
  EXPECT_EQ(a.Applied(), 0u) << "a gateway never applies its own messages";

  // A removal deletes the key, leaves a tombstone and is told.
  a.sync->Offer({"secured", Ip("198.51.100.7"), 0, true, WallNow()});
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

IpAddress Nth(int i) { return Ip(absl::StrCat("10.8.", i / 256, ".", i % 256).c_str()); }

// The removal bug the tombstones end: 60 removals spread over four resync
// intervals, each right after its add reached the other gateway. None may
// come back on either gateway or in Redis.
TEST(RedisSyncTest, RemovalsStickAcrossPeriodicResyncs) {
  RedisServer redis;
  constexpr Nanos kResync = 100'000'000;  // 0.1 s
  Gateway a(redis.socket(), "a", kResync, true);
  Gateway b(redis.socket(), "b", kResync, true);
  ASSERT_TRUE(a.Connected());
  ASSERT_TRUE(b.Connected());
  const Nanos later = WallNow() + 600 * kNanosPerSecond;
  for (int i = 0; i < 60; ++i) {
    a.Add(Nth(i), later);
  }
  ASSERT_TRUE(b.WaitFor([&] { return b.HasLocal("secured", Nth(59)); }));
  for (int i = 0; i < 60; ++i) {
    a.Remove(Nth(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(7));  // 60 x 7 ms: four intervals
  }
  std::this_thread::sleep_for(std::chrono::nanoseconds(3 * kResync));
  int back = 0;
  for (int i = 0; i < 60; ++i) {
    back += a.HasLocal("secured", Nth(i)) + b.HasLocal("secured", Nth(i)) +
            (redis.Run("EXISTS " + EntryKey("knockgate", "secured", Nth(i))) == "1");
    EXPECT_EQ(redis.Run("EXISTS " + TombstoneKey("knockgate", "secured", Nth(i))), "1") << i;
  }
  EXPECT_EQ(back, 0) << "removed entries came back";
  EXPECT_GE(a.sync->counters().resyncs.load(), 4u);
}

TEST(RedisSyncTest, AGatewayCutOffDuringARemovalDropsItAndRepublishesNothing) {
  RedisServer redis;
  const Nanos later = WallNow() + 600 * kNanosPerSecond;
  Gateway a(redis.socket(), "a", 0, true);
  ASSERT_TRUE(a.Connected());
  a.Add(Ip("198.51.100.9"), later, WallNow() - kNanosPerSecond);
  ASSERT_TRUE(a.WaitFor([&] { return a.sync->counters().published.load() == 1; }));
  // b held the grant, then lost its link to Redis (no engine) while a removed it.
  const std::vector<ListChange> held = {{"secured", Ip("198.51.100.9"), later, false}};
  a.Remove(Ip("198.51.100.9"));
  const std::string tombstone = TombstoneKey("knockgate", "secured", Ip("198.51.100.9"));
  ASSERT_TRUE(a.WaitFor([&] { return redis.Run("EXISTS " + tombstone) == "1"; }));
  // The tombstone lives as long as the entry it removed could have (10 min).
  EXPECT_GT(std::stoll(redis.Run("PTTL " + tombstone)), 590'000);
  Gateway b(redis.socket(), "b", 0, true, held);  // the link is back
  ASSERT_TRUE(b.Connected());
  EXPECT_TRUE(b.WaitFor([&] { return !b.HasLocal("secured", Ip("198.51.100.9")); }))
      << "b drops what was removed while it was away";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(redis.Run("EXISTS " + EntryKey("knockgate", "secured", Ip("198.51.100.9"))), "0")
      << "b republished a removed entry";
  EXPECT_FALSE(a.HasLocal("secured", Ip("198.51.100.9")));
}

TEST(RedisSyncTest, AFreshKnockAfterARemovalWinsAndAStaleAddDoesNot) {
  RedisServer redis;
  Gateway a(redis.socket(), "a", 0, true);
  Gateway b(redis.socket(), "b", 0, true);
  ASSERT_TRUE(a.Connected());
  ASSERT_TRUE(b.Connected());
  const Nanos later = WallNow() + 600 * kNanosPerSecond;
  const Nanos before = WallNow() - 10 * kNanosPerSecond;
  a.Add(Ip("192.0.2.44"), later, before);
  ASSERT_TRUE(b.WaitFor([&] { return b.HasLocal("secured", Ip("192.0.2.44")); }));
  a.Remove(Ip("192.0.2.44"));
  ASSERT_TRUE(b.WaitFor([&] { return !b.HasLocal("secured", Ip("192.0.2.44")); }));
  const std::string key = EntryKey("knockgate", "secured", Ip("192.0.2.44"));
  const std::string tombstone = TombstoneKey("knockgate", "secured", Ip("192.0.2.44"));
  // An add made before the removal (a message late on its way) is refused.
  b.sync->Offer({"secured", Ip("192.0.2.44"), later, false, before + kNanosPerSecond});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(redis.Run("EXISTS " + key), "0");
  EXPECT_EQ(redis.Run("EXISTS " + tombstone), "1");
  EXPECT_FALSE(a.HasLocal("secured", Ip("192.0.2.44")));
  // The client knocks again on b: the new grant wins everywhere.
  b.Add(Ip("192.0.2.44"), later);
  EXPECT_TRUE(a.WaitFor([&] { return a.HasLocal("secured", Ip("192.0.2.44")); }));
  EXPECT_EQ(redis.Run("EXISTS " + key), "1");
  EXPECT_EQ(redis.Run("EXISTS " + tombstone), "0");
}

// Redis 6+ ACL users: the right user shares; a wrong password is one clear
// line, never the password, and no crash; the default user cannot write.
TEST(RedisSyncTest, AnAclUserSharesAndAWrongPasswordIsAClearErrorWithoutThePassword) {
  // The README's user: its prefix, its channel, and the commands it needs.
  RedisServer redis(
      "--user default on nopass -@all +ping --user gw on '>s3cret-pw' '~knockgate:*' "
      "'&knockgate:events' +@read +@write +@scripting +@pubsub +@connection +scan +info +role");
  auto as = [&](const std::string& node, const std::string& password) {
    SyncConfig c;
    c.redis = "unix://" + redis.socket();
    c.node = node;
    c.username = "gw";
    c.password = password;
    return c;
  };
  Gateway a(as("a", "s3cret-pw"), false);
  Gateway b(as("b", "s3cret-pw"), false);
  Gateway wrong(as("w", "not-the-pw"), false);
  ASSERT_TRUE(a.Connected());
  ASSERT_TRUE(b.Connected());
  a.sync->Offer(
      {"secured", Ip("198.51.100.70"), WallNow() + 600 * kNanosPerSecond, false, WallNow()});
  ASSERT_TRUE(b.WaitFor([&] { return b.Applied() == 1; }));
  ASSERT_TRUE(wrong.WaitFor([&] {
    std::lock_guard<std::mutex> lock(wrong.mu);
    return !wrong.log.empty();
  }));
  EXPECT_FALSE(wrong.sync->counters().connected.load());
  std::lock_guard<std::mutex> lock(wrong.mu);
  EXPECT_NE(wrong.log[0].find("cannot reach Redis"), std::string::npos) << wrong.log[0];
  EXPECT_NE(wrong.log[0].find("WRONGPASS"), std::string::npos) << wrong.log[0];
  EXPECT_EQ(wrong.log[0].find("not-the-pw"), std::string::npos) << "the password is never logged";
  EXPECT_EQ(wrong.sync->Report().find("not-the-pw"), std::string::npos);
  EXPECT_EQ(redis.Run("SET x 1"), "") << "the default user cannot write";
}

// A primary, its replica and one redis-sentinel on loopback TCP: both
// gateways find the primary through the sentinel, and keep sharing after it
// is killed and the sentinel promotes the replica.
class SentinelLab {
 public:
  SentinelLab() : dir_(absl::StrCat("/tmp/kg-sentinel-test-", getpid())) {
    base_ = 20000 + getpid() % 20000;
    std::system(absl::StrCat("rm -rf ", dir_, "; mkdir -p ", dir_).c_str());
    for (int i = 0; i < 2; ++i) {
      std::system(
          absl::StrCat("redis-server --port ", base_ + i, " --bind 127.0.0.1 --save '' ",
                       "--appendonly no --repl-diskless-sync-delay 0 --daemonize yes --dir ", dir_,
                       " --pidfile ", dir_, "/r", i, ".pid --logfile ", dir_, "/r", i, ".log",
                       i == 1 ? absl::StrCat(" --replicaof 127.0.0.1 ", base_) : "")
              .c_str());
    }
    std::ofstream(dir_ + "/sentinel.conf")
        << "port " << base_ + 2 << "\nbind 127.0.0.1\ndaemonize yes\npidfile " << dir_
        << "/s.pid\nlogfile " << dir_ << "/s.log\ndir " << dir_
        << "\nsentinel monitor kgmaster 127.0.0.1 " << base_
        << " 1\nsentinel down-after-milliseconds kgmaster 500\n"
           "sentinel failover-timeout kgmaster 5000\n";
  }
  ~SentinelLab() {
    std::system(absl::StrCat("for p in ", dir_, "/*.pid; do kill $(cat $p) 2>/dev/null; done; ",
                             "sleep 0.2; rm -rf ", dir_)
                    .c_str());
  }
  // Starts the sentinel once the replica is in sync, so its first look sees both.
  bool StartSentinel() {
    if (!Until([&] {
          return Run(base_ + 1, "INFO replication").find("master_link_status:up") !=
                 std::string::npos;
        })) {
      return false;
    }
    std::system(absl::StrCat("redis-sentinel ", dir_, "/sentinel.conf").c_str());
    return Until(
        [&] { return Run(base_ + 2, "INFO sentinel").find("slaves=1") != std::string::npos; },
        20000);
  }
  void KillPrimary() { std::system(absl::StrCat("kill -9 $(cat ", dir_, "/r0.pid)").c_str()); }
  std::string PrimaryPort() {
    const std::string a = Run(base_ + 2, "SENTINEL get-master-addr-by-name kgmaster");
    return a.substr(a.find(' ') + 1);
  }
  std::string Url() const { return absl::StrCat("sentinel://127.0.0.1:", base_ + 2, "/kgmaster"); }
  int base() const { return base_; }
  std::string Run(int port, const std::string& command) {
    return RunOn(redisConnect("127.0.0.1", port), command);
  }
  static bool Until(const std::function<bool()>& done, int ms = 10000) {
    for (int waited = 0; !done(); waited += 50) {
      if (waited > ms) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

 private:
  std::string dir_;
  int base_ = 0;
};

TEST(RedisSyncTest, BothGatewaysKeepSharingAfterASentinelFailover) {
  SentinelLab lab;
  ASSERT_TRUE(lab.StartSentinel()) << "redis-sentinel (scripts/install-deps.sh installs it)";
  auto via_sentinel = [&](const std::string& node) {
    SyncConfig c;
    c.redis = lab.Url();
    c.sentinels = {{"127.0.0.1", static_cast<uint16_t>(lab.base() + 2)}};
    c.master = "kgmaster";
    c.node = node;
    return c;
  };
  Gateway a(via_sentinel("a"), true);
  Gateway b(via_sentinel("b"), true);
  ASSERT_TRUE(a.Connected());
  ASSERT_TRUE(b.Connected());
  const Nanos later = WallNow() + 600 * kNanosPerSecond;
  a.Add(Ip("203.0.113.5"), later);
  ASSERT_TRUE(b.WaitFor([&] { return b.Applied() == 1; }));

  lab.KillPrimary();
  ASSERT_TRUE(SentinelLab::Until(
      [&] { return lab.PrimaryPort() == std::to_string(lab.base() + 1); }, 30000))
      << "the sentinel promoted the replica";
  // Both reconnect to the new primary and share again, either way.
  b.Add(Ip("203.0.113.6"), later);
  EXPECT_TRUE(a.WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(a.mu);
        return std::any_of(a.applied.begin(), a.applied.end(),
                           [](const ListChange& c) { return c.address == Ip("203.0.113.6"); });
      },
      30000));
  EXPECT_EQ(lab.Run(lab.base() + 1, "EXISTS knockgate:e:secured:203.0.113.6"), "1");
  // Replication is asynchronous: a write just before the kill may be lost
  // with the old primary, and the gateways' resync writes it again.
  EXPECT_TRUE(SentinelLab::Until(
      [&] { return lab.Run(lab.base() + 1, "EXISTS knockgate:e:secured:203.0.113.5") == "1"; }));
  EXPECT_GE(a.sync->counters().errors.load(), 1u);
}

}  // namespace
}  // namespace knockgate
