// Process wiring for the gateway. Signals arrive through a signalfd that the
// main lcore polls, so there is no handler and no global flag.
#include "run.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "absl/strings/str_format.h"
#include "classify/event_text.h"
#include "classify/worker_memory.h"
#include "control/log_limiter.h"
#include "dataplane/dataplane.h"
#include "policy/config_loader.h"

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

bool SameRestartOnlySections(const Config& a, const Config& b) {
  const DataplaneConfig& x = a.dataplane;
  const DataplaneConfig& y = b.dataplane;
  return a.eal.args == b.eal.args && a.interfaces.wan == b.interfaces.wan &&
         a.interfaces.lan == b.interfaces.lan && x.workers == y.workers && x.burst == y.burst &&
         x.mbufs == y.mbufs && x.idle_sleep == y.idle_sleep && x.steering == y.steering &&
         x.stats_interval == y.stats_interval && a.log.file == b.log.file &&
         a.log.rate == b.log.rate && a.log.burst == b.log.burst &&
         a.conntrack.capacity == b.conntrack.capacity;
}

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
    if (!SameRestartOnlySections(running, *config)) {
      plan.message +=
          "\nknockgate: changes to [eal], [interfaces], [dataplane], [log] or the conntrack "
          "capacity take effect at the next restart";
    }
    plan.policy = *std::move(next);
    return plan;
  };
}

void PrintReloadResult(const absl::Status& status, const std::string& message) {
  if (status.ok()) {
    std::cout << message << std::endl;
  } else {
    std::cout << "knockgate: reload failed, keeping the running policy: " << status.message()
              << std::endl;
  }
}

}  // namespace

int RunGateway(const Config& config, std::shared_ptr<const Policy> policy,
               const std::vector<std::string>& eal_args) {
  Signals signals;
  std::vector<std::string> args = {"knockgate"};
  args.insert(args.end(), eal_args.begin(), eal_args.end());
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
    std::cout << "knockgate: running; SIGINT or SIGTERM stops" << std::endl;

    Dataplane& plane = **dp;
    LogLimiter limiter(config.log.rate, config.log.burst, plane.clock().Now());
    auto write_summary = [&](bool force) {
      const Nanos now = plane.clock().Now();
      if (std::string s = limiter.TakeSummary(now, force); !s.empty()) {
        log << WallTime(plane.wall_start() + now) << " " << s << std::endl;
      }
    };
    MainLoopHooks hooks;
    hooks.should_stop = [&] {
      write_summary(false);
      for (int sig = signals.Poll(); sig != 0; sig = signals.Poll()) {
        if (sig == SIGHUP) {
          if (absl::Status s = plane.StartReload(ReloadFromFile(config), PrintReloadResult);
              !s.ok()) {
            PrintReloadResult(s, "");
          }
          continue;
        }
        std::cout << "knockgate: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping"
                  << std::endl;
        return true;
      }
      return false;
    };
    // Counters count every event; the log writes what its rate allows.
    hooks.on_event = [&](const Policy& made_by, const Event& e) {
      if (limiter.Admit(made_by, e, EventMatters(made_by, e), e.at)) {
        log << FormatEvent(made_by, e, WallTime(plane.wall_start() + e.at)) << "\n";
        log.flush();
      }
    };
    hooks.stats_interval = config.dataplane.stats_interval;
    hooks.on_stats = [&] { std::cout << plane.CountersReport() << std::flush; };
    plane.RunMain(hooks);
    write_summary(true);
    std::cout << "final counters:\n"
              << plane.CountersReport() << "  log: " << limiter.written()
              << " event lines written, " << limiter.suppressed() << " suppressed by [log] rate"
              << std::endl;
  }
  rte_eal_cleanup();
  return 0;
}

}  // namespace knockgate
