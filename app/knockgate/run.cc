// Process wiring for the gateway. Signals arrive through a signalfd that the
// main lcore polls, so there is no handler and no global flag.
#include "run.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_pdump.h>
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "classify/event_text.h"
#include "classify/worker_memory.h"
#include "common/control_cpus.h"
#include "control/ctl_socket.h"
#include "control/hook_runner.h"
#include "control/list_control.h"
#include "control/log_limiter.h"
#include "control/metrics.h"
#include "control/sd_notify.h"
#include "control/state_file.h"
#include "control/telemetry.h"
#include "dataplane/dataplane.h"
#include "policy/config_loader.h"
#include "policy/duration.h"
#include "sync/redis_sync.h"

namespace knockgate {
namespace {

std::string WallTime(Nanos wall) {
  const time_t secs = static_cast<time_t>(wall / kNanosPerSecond);
  tm utc;
  gmtime_r(&secs, &utc);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
  return absl::StrFormat("%s.%06dZ", buf, (wall % kNanosPerSecond) / 1000);
}

// SIGINT, SIGTERM and SIGHUP, blocked in every thread and read from a signalfd.
class Signals {
 public:
  Signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);  // before EAL starts its threads
    fd_ = signalfd(-1, &set_, SFD_NONBLOCK | SFD_CLOEXEC);
  }
  ~Signals() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  // The pending signal, or 0.
  int Poll() {
    signalfd_siginfo info;
    if (fd_ >= 0 && read(fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      return static_cast<int>(info.ssi_signo);
    }
    return 0;
  }

 private:
  sigset_t set_;
  int fd_ = -1;
};

// SIGHUP's builder, run on the reload's control thread: re-reads the config
// file and compiles it against the running policy. Any error keeps the
// running policy and the line says why.
ReloadBuilder ReloadFromFile(const Config& running) {
  return [&running](const Policy& policy) -> absl::StatusOr<ReloadPlan> {
    absl::StatusOr<Config> config = LoadConfigFile(running.path);
    if (!config.ok()) {
      return config.status();
    }
    absl::StatusOr<std::shared_ptr<const Policy>> next = Policy::Compile(*config, policy);
    if (!next.ok()) {
      return next.status();
    }
    ReloadPlan plan;
    plan.message = absl::StrFormat("knockgate: reloaded %s: %d rules; list entries kept",
                                   running.path, (*next)->rules().size());
    for (const std::string& w : (*next)->warnings()) {
      plan.message += "\nwarning: " + w;
    }
    plan.policy = *std::move(next);
    plan.config = std::make_shared<const Config>(*std::move(config));
    return plan;
  };
}

void PrintReloadResult(const absl::Status& status, const std::string& message) {
  if (status.ok()) {
    std::cout << message << std::endl;
  } else {
    std::cout << "knockgate: reload failed, keeping the running config: " << status.message()
              << std::endl;
  }
}

// `list print [NAME]`, `list add NAME ADDRESS [--timeout D]`, `list remove NAME ADDRESS`.
absl::StatusOr<std::string> ListCommand(const Dataplane& plane, const std::vector<std::string>& a) {
  if (a[1] == "print" && a.size() <= 3) {
    return ListPrint(plane, a.size() == 3 ? a[2] : "");
  }
  if (a[1] == "add" && (a.size() == 4 || (a.size() == 6 && a[4] == "--timeout"))) {
    Nanos timeout = kNever;
    if (a.size() == 6) {
      absl::StatusOr<Nanos> d = ParseDuration(a[5]);
      if (!d.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("--timeout: ", d.status().message()));
      }
      timeout = *d;
    }
    return ListAdd(plane, a[2], a[3], timeout);
  }
  if (a[1] == "remove" && a.size() == 4) {
    return ListRemove(plane, a[2], a[3]);
  }
  return absl::InvalidArgumentError(
      "expected list print [NAME], list add NAME ADDRESS [--timeout DURATION] or list remove "
      "NAME ADDRESS");
}

// Puts the state file's entries back; a damaged file is reported and set
// aside (renamed), never fatal and never half-loaded.
void RestoreState(const Dataplane& plane, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::cout << "knockgate: state file " << path << " not found: lists start empty" << std::endl;
    return;
  }
  absl::StatusOr<RestoreCounts> counts = RestoreStateFile(plane, path);
  if (absl::IsDataLoss(counts.status())) {
    const std::string aside = absl::StrCat(path, ".bad-", time(nullptr));
    std::filesystem::rename(path, aside, ec);
    std::cout << "knockgate: state file unusable, set aside as " << aside
              << ", lists start empty: " << counts.status().message() << std::endl;
    return;
  }
  if (!counts.ok()) {
    std::cout << "knockgate: restoring " << path << " stopped: " << counts.status().message()
              << std::endl;
    return;
  }
  std::cout << "knockgate: restored " << counts->restored << " list entries from " << path << " ("
            << counts->expired << " expired meanwhile, " << counts->unknown_list
            << " of lists no longer configured, " << counts->over_capacity
            << " soonest to expire dropped over the lists' capacity) and " << counts->spa_digests
            << " SPA replay digests" << std::endl;
}

// Writes every dynamic entry to the state file; says so only when that
// starts or stops failing, so a full disk is one line, not one a second.
class StateSaver {
 public:
  StateSaver(const Dataplane& plane, const StateConfig& config) : plane_(plane), config_(config) {
    if (!config_.file.empty()) {
      thread_ = std::thread([this] { Loop(); });
    }
  }
  ~StateSaver() { Stop(); }
  // Stops the periodic saves and saves once more (workers still running).
  void Stop() {
    if (!thread_.joinable()) {
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
    Save();
  }

 private:
  void Loop() {
    PlaceControlThread("kg-state");
    std::unique_lock<std::mutex> lock(mu_);
    while (!wake_.wait_for(lock, std::chrono::nanoseconds(config_.interval),
                           [this] { return stop_; })) {
      lock.unlock();
      Save();
      lock.lock();
    }
  }
  void Save() {
    const absl::Status s = SaveStateFile(plane_, config_.file,
                                         absl::StrCat("written by knockgate ", KNOCKGATE_VERSION,
                                                      " at ", WallTime(plane_.clock().UnixNow())))
                               .status();
    if (s.ok() != last_ok_) {
      std::cout << (s.ok() ? absl::StrCat("knockgate: state file ", config_.file, " written again")
                           : absl::StrCat("knockgate: cannot save the state file: ", s.message()))
                << std::endl;
      last_ok_ = s.ok();
    }
  }

  const Dataplane& plane_;
  const StateConfig config_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool last_ok_ = true;
  std::thread thread_;
};

// Whether dpdk-dumpcap can attach, and how, for the start-up log.
std::string CaptureLine(const std::vector<std::string>& eal, bool pdump) {
  std::string prefix = "rte";
  for (size_t i = 0; i < eal.size(); ++i) {
    if (eal[i] == "--no-huge" || eal[i] == "--in-memory" || eal[i] == "--no-shconf") {
      return absl::StrCat("knockgate: packet capture off: EAL runs with ", eal[i],
                          ", and dpdk-dumpcap needs shared hugepages");
    }
    if (eal[i] == "--file-prefix" && i + 1 < eal.size()) {
      prefix = eal[i + 1];
    } else if (eal[i].rfind("--file-prefix=", 0) == 0) {
      prefix = eal[i].substr(strlen("--file-prefix="));
    }
  }
  return pdump ? absl::StrCat("knockgate: packet capture: dpdk-dumpcap --file-prefix=", prefix,
                              " -i PORT -w FILE.pcapng")
               : "knockgate: packet capture off: rte_pdump_init failed";
}

// Work that must run on the main lcore (a reload, counters read with the
// running policy), posted by control threads, which wait for the result.
class MainTasks {
 public:
  // Control thread: runs `task` on the main lcore and waits for the text it
  // hands to `reply`, at most `timeout`.
  absl::StatusOr<std::string> Run(
      std::function<void(std::function<void(absl::StatusOr<std::string>)>)> task,
      std::chrono::seconds timeout) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<std::string>>>();
    std::future<absl::StatusOr<std::string>> result = promise->get_future();
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back([task = std::move(task), promise] {
        task([promise](absl::StatusOr<std::string> r) { promise->set_value(std::move(r)); });
      });
    }
    if (result.wait_for(timeout) != std::future_status::ready) {
      return absl::DeadlineExceededError("the gateway did not answer in time");
    }
    return result.get();
  }
  // Main lcore: runs what was posted.
  void Poll() {
    std::deque<std::function<void()>> now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      now.swap(tasks_);
    }
    for (auto& t : now) {
      t();
    }
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void()>> tasks_;
};

// [sync]'s thread, wired to the workers' control rings.
std::unique_ptr<RedisSync> StartSync(const Config& config, const Dataplane& plane) {
  RedisSync::Hooks hooks;
  hooks.apply = [&plane](std::span<const ListChange> changes) {
    return ApplyListChanges(plane, changes, EventOrigin::kSync).status();
  };
  hooks.local_entries = [&plane]() -> absl::StatusOr<std::vector<ListChange>> {
    absl::StatusOr<std::vector<StateEntry>> entries = SnapshotLists(plane, ListSelection::kAll);
    if (!entries.ok()) {
      return entries.status();
    }
    std::vector<ListChange> out;
    out.reserve(entries->size());
    for (StateEntry& e : *entries) {
      out.push_back({std::move(e.list), e.address, e.expiry_wall, false});
    }
    return out;
  };
  hooks.wall_now = [&plane] { return plane.clock().UnixNow(); };
  // A tombstone outlives every copy of what it removed: the longest timeout
  // an add to the list can have, and a minute for the clocks' disagreement.
  hooks.tombstone_lifetime = [&plane](const std::string& list) {
    const std::shared_ptr<const Policy> policy = plane.policy_snapshot();
    const Nanos longest = policy->LongestAddTimeout(policy->FindList(list));
    return longest == kNever || longest == 0 ? RedisSync::kDefaultTombstoneLifetime
                                             : longest + 60 * kNanosPerSecond;
  };
  hooks.log = [](const std::string& line) { std::cout << "knockgate: " << line << std::endl; };
  absl::StatusOr<std::unique_ptr<RedisSync>> sync = RedisSync::Start(config.sync, hooks);
  if (!sync.ok()) {
    std::cout << "knockgate: warning: no [sync]: " << sync.status().message() << std::endl;
    return nullptr;
  }
  std::cout << "knockgate: sync: sharing " << absl::StrJoin(config.sync.lists, ", ") << " through "
            << config.sync.redis << " as " << (*sync)->node() << std::endl;
  return *std::move(sync);
}

// The change a shared list's event stands for (the workers pass on only rule,
// SPA and ctl changes of shared lists: not the state file's, not other gateways').
ListChange SharedChange(const Policy& policy, const Event& e, const TscClock& clock) {
  return ListChange{policy.lists()[e.list].name, e.address, clock.UnixAt(ExpiryAt(e.at, e.timeout)),
                    e.type == EventType::kListRemove, clock.UnixAt(e.at)};
}

// The CPUs this process may use (its affinity before EAL pins the main
// thread to the main lcore's CPU).
std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) {
        cpus.push_back(c);
      }
    }
  }
  return cpus;
}

// The CPUs some lcore (the main one included) runs on.
std::vector<int> LcoreCpus() {
  std::vector<int> cpus;
  unsigned lcore = 0;
  RTE_LCORE_FOREACH(lcore) {
    const rte_cpuset_t set = rte_lcore_cpuset(lcore);
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set) && std::find(cpus.begin(), cpus.end(), c) == cpus.end()) {
        cpus.push_back(c);
      }
    }
  }
  std::sort(cpus.begin(), cpus.end());
  return cpus;
}

}  // namespace

int RunGateway(const Config& config, std::shared_ptr<const Policy> policy,
               const std::vector<std::string>& eal_args) {
  const std::vector<int> allowed = AllowedCpus();
  Signals signals;
  std::vector<std::string> args = {"knockgate"};
  args.insert(args.end(), eal_args.begin(), eal_args.end());
  // A running gateway is found by its file prefix (dpdk-telemetry.py -f,
  // dpdk-dumpcap): a known one unless the arguments name their own.
  if (std::none_of(args.begin(), args.end(),
                   [](const std::string& a) { return a.rfind("--file-prefix", 0) == 0; })) {
    args.push_back("--file-prefix");
    args.push_back("knockgate");
  }
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    std::cerr << "knockgate: EAL initialisation failed: " << rte_strerror(rte_errno)
              << " (EAL arguments: from "
              << (eal_args.empty() ? "none" : "the command line or [eal].args") << ")\n";
    return 1;
  }
  // dpdk-dumpcap attaches as a secondary process, which needs the primary
  // on shared hugepages; rte_pdump_init succeeds either way, so say which.
  const bool pdump = rte_pdump_init() == 0;
  std::cout << CaptureLine(args, pdump) << std::endl;
  // Before any control thread starts: each places itself by it.
  std::cout << "knockgate: " << SetControlCpus(LcoreCpus(), allowed) << std::endl;
  {
    const WorkerMemory memory = WorkerMemoryOf(*policy);
    if (absl::Status s = CheckMemoryFits(memory, config.dataplane.workers,
                                         MemInfoBytes("MemAvailable"), "MemAvailable");
        !s.ok()) {
      std::cerr << "knockgate: " << s.message() << "\n";
      rte_eal_cleanup();
      return 1;
    }
    absl::StatusOr<std::unique_ptr<Dataplane>> dp = Dataplane::Create(config, policy);
    if (!dp.ok()) {
      std::cerr << "knockgate: " << dp.status().message() << "\n";
      rte_eal_cleanup();
      return 1;
    }
    std::ofstream log_file;
    if (!config.log.file.empty()) {
      log_file.open(config.log.file, std::ios::app);
      if (!log_file) {
        std::cerr << "knockgate: cannot open log file " << config.log.file << "\n";
        rte_eal_cleanup();
        return 1;
      }
    }
    std::ostream& log = config.log.file.empty() ? std::cout : log_file;
    std::cout << (*dp)->ModeLine() << "\n"
              << "dataplane: " << memory.Describe(config.dataplane.workers) << std::endl;
    if (absl::Status s = (*dp)->Launch(); !s.ok()) {
      std::cerr << "knockgate: " << s.message() << "\n";
      rte_eal_cleanup();
      return 1;
    }
    Dataplane& plane = **dp;
    MainTasks main_tasks;
    const SystemdNotifier notifier;
    auto status_line = [&] {
      return absl::StrCat("forwarding: ", plane.worker_count(), " worker(s), ",
                          plane.policy().rules().size(), " rules, policy generation ",
                          plane.policy_generation());
    };
    // SIGHUP's and ctl's reloads: systemd hears RELOADING=1, then READY=1.
    auto reload = [&](std::function<void(absl::StatusOr<std::string>)> reply) {
      notifier.Send("RELOADING=1");
      absl::Status started = plane.StartReload(
          ReloadFromFile(config), [&, reply](const absl::Status& s, const std::string& message) {
            PrintReloadResult(s, message);
            notifier.Send(absl::StrCat("READY=1\nSTATUS=",
                                       s.ok() ? status_line() : "reload failed, policy kept"));
            reply(s.ok() ? absl::StatusOr<std::string>(message + "\n") : s);
          });
      if (!started.ok()) {
        PrintReloadResult(started, "");
        notifier.Send("READY=1");
        reply(started);
      }
    };
    absl::StatusOr<std::unique_ptr<CtlServer>> ctl = CtlServer::Start(
        config.control.socket,
        [&](const std::vector<std::string>& a) -> absl::StatusOr<std::string> {
          if (a.size() >= 2 && a[0] == "list") {
            return ListCommand(plane, a);
          }
          if (a.size() == 1 && a[0] == "stats") {
            return main_tasks.Run([&](auto reply) { reply(plane.CountersReport()); },
                                  std::chrono::seconds(5));
          }
          if (a.size() == 1 && a[0] == "reload") {
            return main_tasks.Run(reload, std::chrono::seconds(60));
          }
          return absl::InvalidArgumentError(absl::StrCat(
              "unknown command \"", absl::StrJoin(a, " "),
              "\" (list print [NAME], list add NAME ADDRESS [--timeout D], list remove NAME "
              "ADDRESS, stats, reload)"));
        });
    if (ctl.ok()) {
      std::cout << "knockgate: control socket " << config.control.socket << std::endl;
    } else {
      // Forwarding matters more than the socket: say so and run on.
      std::cout << "knockgate: warning: no control socket, knockgate ctl will not reach this "
                   "gateway: "
                << ctl.status().message() << std::endl;
    }
    RegisterTelemetry(&plane);
    if (!config.state.file.empty()) {
      RestoreState(plane, config.state.file);
    }
    StateSaver saver(plane, config.state);
    std::unique_ptr<RedisSync> sync = config.sync.enabled() ? StartSync(config, plane) : nullptr;
    std::cout << "knockgate: running; SIGINT or SIGTERM stops" << std::endl;
    LogLimiter limiter(config.log.rate, config.log.burst, plane.clock().Now());
    std::unique_ptr<HookRunner> hooks_run =
        config.hooks.empty() ? nullptr : std::make_unique<HookRunner>(config.hooks);
    Nanos hook_report_at = 0;
    std::unique_ptr<MetricsServer> metrics;
    if (!config.metrics.listen.empty()) {
      absl::StatusOr<std::unique_ptr<MetricsServer>> m = MetricsServer::Start(
          config.metrics.listen, plane,
          {[&] { return limiter.written(); }, [&] { return limiter.suppressed(); },
           sync != nullptr ? &sync->counters() : nullptr});
      if (m.ok()) {
        metrics = *std::move(m);
        std::cout << "knockgate: metrics at http://" << config.metrics.listen << "/metrics"
                  << std::endl;
      } else {
        std::cout << "knockgate: warning: no metrics: " << m.status().message() << std::endl;
      }
    }
    notifier.Send(absl::StrCat("READY=1\nSTATUS=", status_line()));
    // The watchdog pings only while every worker's loop goes round: an idle
    // gateway is healthy, a stuck worker stops the pings and systemd acts.
    std::vector<uint64_t> loops_seen(plane.worker_count(), 0);
    Nanos next_ping = 0;
    auto watchdog = [&] {
      const Nanos now = plane.clock().Now();
      if (notifier.watchdog_interval() == 0 || now < next_ping) {
        return;
      }
      next_ping = now + notifier.watchdog_interval();
      bool all_moved = true;
      for (size_t w = 0; w < plane.worker_count(); ++w) {
        const uint64_t loops = plane.worker(w).counters().loops.Get();
        all_moved = all_moved && loops != loops_seen[w];
        loops_seen[w] = loops;
      }
      if (all_moved) {
        notifier.Send("WATCHDOG=1");
      }
    };

    auto write_summary = [&](bool force) {
      const Nanos now = plane.clock().Now();
      if (std::string s = limiter.TakeSummary(now, force); !s.empty()) {
        log << WallTime(plane.clock().UnixAt(now)) << " " << s << std::endl;
      }
      // Hooks that failed or were killed: a line per hook, once a second.
      if (hooks_run != nullptr && (force || now - hook_report_at >= kNanosPerSecond)) {
        hook_report_at = now;
        for (const std::string& line : hooks_run->TakeReport()) {
          log << WallTime(plane.clock().UnixAt(now)) << " " << line << std::endl;
        }
      }
    };
    MainLoopHooks hooks;
    hooks.should_stop = [&] {
      log.flush();  // what DrainEvents wrote just before
      write_summary(false);
      main_tasks.Poll();
      watchdog();
      for (int sig = signals.Poll(); sig != 0; sig = signals.Poll()) {
        if (sig == SIGHUP) {
          reload([](const absl::StatusOr<std::string>&) {});
          continue;
        }
        std::cout << "knockgate: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping"
                  << std::endl;
        notifier.Send("STOPPING=1");
        saver.Stop();  // the last save, while the workers can still answer
        return true;
      }
      return false;
    };
    // Counters count every event; the log writes what its rate allows.
    // Shared-list changes come on rings of their own, outside the log's rate limit.
    hooks.on_shared_change = [&](const Policy& made_by, const Event& e) {
      if (sync != nullptr) {
        sync->Offer(SharedChange(made_by, e, plane.clock()));
      }
    };
    // Lines are flushed once per pass over the rings (should_stop), not per
    // line: a burst of state changes is written at the pace of the file.
    hooks.on_event = [&](const Policy& made_by, const Event& e) {
      if (hooks_run != nullptr) {  // every event a hook hears, whatever the log's rate
        if (const uint8_t kind = HookKindOf(made_by, e); kind != 0) {
          hooks_run->Offer(HookEventOf(made_by, e, kind, plane.clock().UnixAt(e.at)));
        }
      }
      if (limiter.Admit(made_by, e, e.at)) {
        log << FormatEvent(made_by, e, WallTime(plane.clock().UnixAt(e.at))) << "\n";
      }
    };
    hooks.stats_interval = config.dataplane.stats_interval;
    hooks.on_stats = [&] { std::cout << plane.CountersReport() << std::flush; };
    plane.RunMain(hooks);
    metrics.reset();  // reads the sync counters
    const std::string sync_report = sync != nullptr ? sync->Report() : "";
    write_summary(true);  // the hooks' last troubles, before they stop
    const std::string hook_report = hooks_run != nullptr ? hooks_run->CountersReport() : "";
    hooks_run.reset();  // kills what still runs
    sync.reset();
    UnregisterTelemetry();
    if (ctl.ok()) {
      ctl->reset();  // before the workers' shards go
    }
    write_summary(true);
    std::cout << "final counters:\n"
              << plane.CountersReport() << sync_report << hook_report
              << "log: " << limiter.written() << " event lines written, " << limiter.suppressed()
              << " suppressed by [log] rate" << std::endl;
  }
  rte_pdump_uninit();
  rte_eal_cleanup();
  return 0;
}

}  // namespace knockgate
