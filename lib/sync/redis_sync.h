// [sync]: shared lists kept in one Redis for every gateway. One control
// thread does all the Redis work, on two connections (hiredis 0.14: a
// subscribed connection cannot write): it publishes what this gateway's
// rules and operators changed, applies what others changed, and after every
// (re)connect subscribes, scans, applies, and fills Redis with what it
// lacks. The dataplane never waits for it: changes reach it through a
// bounded queue, and what it applies goes to the workers through their
// control rings (the callbacks).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "policy/model.h"
#include "sync/sync_codec.h"

struct redisContext;

namespace knockgate {

struct SyncCounters {                  // written by the sync thread (and Offer), read anywhere
  std::atomic<uint64_t> published{0};  // local changes sent to Redis
  std::atomic<uint64_t> applied{0};    // remote changes put into the lists
  std::atomic<uint64_t> dropped{0};    // local changes the full queue refused
  std::atomic<uint64_t> errors{0};     // failed connects and broken connections
  std::atomic<uint64_t> resyncs{0};    // completed (re)connect resyncs
  std::atomic<bool> connected{false};
  std::atomic<uint64_t> queued{0};  // local changes waiting to be published
  // From another gateway's change to its arrival here, the last message's
  // (Unix ms on both clocks: negative when the other's runs ahead); kNoLag
  // before the first.
  static constexpr int64_t kNoLag = INT64_MIN;
  std::atomic<int64_t> lag_ms{kNoLag};
};

class RedisSync {
 public:
  static constexpr size_t kQueueCapacity = 1 << 16;  // local changes waiting to be published
  static constexpr size_t kPipeline = 512;           // commands sent before reading replies

  struct Hooks {
    // Puts other gateways' changes into the lists (origin: sync).
    std::function<absl::Status(std::span<const ListChange>)> apply;
    // Every local entry of the shared lists, for filling Redis.
    std::function<absl::StatusOr<std::vector<ListChange>>()> local_entries;
    // The wall clock, Unix ns.
    std::function<Nanos()> wall_now;
    // One line for the log.
    std::function<void(const std::string&)> log;
    // How long a removal's tombstone must outlive it: the longest timeout
    // that an add to `list` can have (unset: kDefaultTombstoneLifetime).
    std::function<Nanos(const std::string& list)> tombstone_lifetime;
  };
  static constexpr Nanos kDefaultTombstoneLifetime = 24 * 3600 * kNanosPerSecond;
  // Local removals are remembered this long, so that a resync or message in
  // flight since before one cannot undo it.
  static constexpr Nanos kRemovalMemory = 60 * kNanosPerSecond;

  // Starts the thread; it connects in the background (and keeps retrying).
  static absl::StatusOr<std::unique_ptr<RedisSync>> Start(const SyncConfig& config, Hooks hooks);
  ~RedisSync();

  // Main lcore: queues a local change of a shared list; never blocks. A full
  // queue drops it and counts it (the next resync heals it).
  void Offer(ListChange change);

  const SyncCounters& counters() const { return counters_; }
  const std::string& node() const { return node_; }
  // "sync: connected to R as NODE, published P, applied A, dropped D, errors E, resyncs S".
  std::string Report() const;

 private:
  RedisSync(const SyncConfig& config, Hooks hooks);
  void Loop();
  // One connected session: returns when a connection breaks or on stop.
  absl::Status Session();
  absl::Status Connect();
  // Where the primary is: the tcp:// address, or what a sentinel says.
  absl::StatusOr<std::pair<std::string, int>> Primary();
  void Disconnect();
  absl::Status Resync();
  absl::Status Publish(std::vector<ListChange>& batch);
  absl::Status ReadMessages(std::vector<ListChange>& out);
  absl::Status Apply(std::vector<ListChange>& changes);
  // Whether an add (changed at `changed`) to `key` is older than a local removal.
  bool RemovedSince(const std::string& key, Nanos changed);
  // A SCAN of every key under `pattern`, each key with its GET value.
  absl::Status ScanValues(const std::string& pattern,
                          const std::function<void(absl::string_view, absl::string_view)>& each);
  bool Wait(int timeout_ms);  // polls the subscriber and the wake-up fd

  const SyncConfig config_;
  const Hooks hooks_;
  const std::string node_;
  const std::string channel_;
  SyncCounters counters_;

  std::mutex mu_;
  std::vector<ListChange> queue_;  // guarded by mu_
  // Entry key -> when this gateway removed it, for kRemovalMemory; guarded by mu_.
  std::unordered_map<std::string, Nanos> removed_;
  int wake_fd_ = -1;  // eventfd: the queue has work, or stop
  std::atomic<bool> stop_{false};

  // Sync thread only.
  redisContext* cmd_ = nullptr;
  redisContext* sub_ = nullptr;
  std::string add_sha_;
  std::string del_sha_;
  std::thread thread_;
};

}  // namespace knockgate
