// [[hook]] commands: run when a grant, a jail, a removal, an SPA grant or an
// expiry happens, on a pool of control threads, never on the data path. A
// run is an argv started without a shell, its environment the gateway's
// plus KNOCKGATE_EVENT, _LIST, _ADDRESS, _EXPIRES and _USER, stdin and
// output on /dev/null, in a process group of its own that is killed whole at
// the hook's timeout. At most a fixed number run at once; the queue before
// them is bounded, and what finds it full is dropped and counted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "classify/classifier.h"
#include "policy/model.h"
#include "policy/policy.h"

namespace knockgate {

// What a hook hears about.
struct HookEvent {
  uint8_t kind = 0;  // one hook_on bit
  std::string list;
  std::string address;
  int64_t expires = 0;  // Unix seconds; 0: no expiry
  std::string user;     // an SPA grant's user (its [[spa]] section)
};

// The hook_on kind of event `e` made by `policy`, or 0 for what no hook
// hears (a knock step, a log line, an SPA refusal). An add to a list that
// an enabled drop rule reads is a jail, any other add that is no step a
// grant (knockgate ctl and [sync] adds too); removals by ctl or [sync] are
// `remove`, an [[spa]] grant `spa-grant`, an expiry `expire`.
uint8_t HookKindOf(const Policy& policy, const Event& e);

// What a hook hears of `e` (of kind `kind`) that happened at Unix time
// `unix_at`: its list, address, expiry (for an expiry: when it expired) and
// user.
HookEvent HookEventOf(const Policy& policy, const Event& e, uint8_t kind, Nanos unix_at);

// The variables a hook's command gets, as NAME=VALUE.
std::vector<std::string> HookEnvironment(const HookEvent& e);

class HookRunner {
 public:
  static constexpr size_t kConcurrency = 4;
  static constexpr size_t kQueueCapacity = 1024;

  struct Counters {
    std::atomic<uint64_t> runs{0};       // started
    std::atomic<uint64_t> failed{0};     // could not start, or exited non-zero / by a signal
    std::atomic<uint64_t> timed_out{0};  // killed at the hook's timeout
    std::atomic<uint64_t> dropped{0};    // found the queue full
  };

  explicit HookRunner(std::vector<HookSection> hooks, size_t concurrency = kConcurrency,
                      size_t queue_capacity = kQueueCapacity);
  // Kills what still runs and waits for the threads.
  ~HookRunner();
  HookRunner(const HookRunner&) = delete;
  HookRunner& operator=(const HookRunner&) = delete;

  // Queues a run of every hook that listens to `e` (its kind and list).
  // Never blocks on a hook: for the main lcore.
  void Offer(const HookEvent& e);

  // What went wrong since the last call, one line per hook at most (the
  // log's rate limit for hooks: the main lcore asks once a second).
  std::vector<std::string> TakeReport();
  // "hooks: runs=N failed=N timed-out=N dropped=N".
  std::string CountersReport() const;
  const Counters& counters() const { return counters_; }
  // Waits until nothing is queued or running (tests); false at `timeout`.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct Job {
    size_t hook = 0;
    HookEvent event;
  };
  struct Trouble {  // per hook, since the last report
    uint64_t failed = 0;
    uint64_t timed_out = 0;
    std::string last;  // the last failure, in words
  };
  void Work();
  void Run(const Job& job);
  void Note(size_t hook, bool timed_out, const std::string& what);

  const std::vector<HookSection> hooks_;
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<pid_t> children_;  // process groups now running, to kill at stop
  std::vector<Trouble> trouble_;
  Counters counters_;
  std::vector<std::thread> threads_;
};

}  // namespace knockgate
