// The hook pool: a bounded queue, a few threads, posix_spawn without a
// shell, and a pidfd (or a short poll) to wait for each run up to its timeout.
#include "control/hook_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/control_cpus.h"
#include "policy/duration.h"

extern char** environ;

namespace knockgate {

uint8_t HookKindOf(const Policy& policy, const Event& e) {
  switch (e.type) {
    case EventType::kSpaGrant:
      return hook_on::kSpaGrant;
    case EventType::kListRemove:
      return hook_on::kRemove;
    case EventType::kListExpire:
      return hook_on::kExpire;
    case EventType::kListAdd: {
      if (e.list >= policy.lists().size()) {
        return 0;
      }
      const ListInfo& l = policy.lists()[e.list];
      if (l.step && e.rule != Event::kNoRule) {
        return 0;  // a knock step: chatter
      }
      return l.jail ? hook_on::kJail : hook_on::kGrant;
    }
    case EventType::kLog:
    case EventType::kSpaReject:
      return 0;
  }
  return 0;
}

HookEvent HookEventOf(const Policy& policy, const Event& e, uint8_t kind, Nanos unix_at) {
  HookEvent h;
  h.kind = kind;
  h.list = e.list < policy.lists().size() ? policy.lists()[e.list].name : "";
  h.address = e.address.ToString();
  const Nanos expires = kind == hook_on::kExpire                          ? unix_at
                        : kind == hook_on::kRemove || e.timeout == kNever ? 0
                                                                          : unix_at + e.timeout;
  h.expires = (expires + kNanosPerSecond - 1) / kNanosPerSecond;
  if (kind == hook_on::kSpaGrant && e.spa < policy.spa().size()) {
    h.user = policy.spa()[e.spa].name;
  }
  return h;
}

std::vector<std::string> HookEnvironment(const HookEvent& e) {
  return {absl::StrCat("KNOCKGATE_EVENT=", HookOnName(e.kind)),
          absl::StrCat("KNOCKGATE_LIST=", e.list), absl::StrCat("KNOCKGATE_ADDRESS=", e.address),
          absl::StrCat("KNOCKGATE_EXPIRES=", e.expires), absl::StrCat("KNOCKGATE_USER=", e.user)};
}

HookRunner::HookRunner(std::vector<HookSection> hooks, size_t concurrency, size_t queue_capacity)
    : hooks_(std::move(hooks)), capacity_(queue_capacity), trouble_(hooks_.size()) {
  for (size_t i = 0; i < concurrency; ++i) {
    threads_.emplace_back([this] {
      PlaceControlThread("kg-hook");
      Work();
    });
  }
}

HookRunner::~HookRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
    for (pid_t group : children_) {
      kill(-group, SIGKILL);
    }
  }
  wake_.notify_all();
  for (std::thread& t : threads_) {
    t.join();
  }
}

void HookRunner::Offer(const HookEvent& e) {
  size_t queued = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < hooks_.size(); ++i) {
      const HookSection& h = hooks_[i];
      if ((h.on & e.kind) == 0 || (!h.lists.empty() && std::find(h.lists.begin(), h.lists.end(),
                                                                 e.list) == h.lists.end())) {
        continue;
      }
      if (queue_.size() >= capacity_) {
        counters_.dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      queue_.push_back(Job{i, e});
      ++queued;
    }
  }
  for (size_t i = 0; i < queued; ++i) {
    wake_.notify_one();
  }
}

void HookRunner::Work() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    Run(job);
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_;
    }
    idle_.notify_all();
  }
}

namespace {

// Waits for `pid` up to `deadline`; true with its status if it ended.
bool WaitFor(pid_t pid, std::chrono::steady_clock::time_point deadline, int& status) {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) {
      if (fd >= 0) {
        close(fd);
      }
      return true;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (fd >= 0) {
        close(fd);
      }
      return false;
    }
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count() + 1, 1000)));
    } else {
      usleep(2000);  // no pidfd (kernel before 5.3): a short poll
    }
  }
}

}  // namespace

void HookRunner::Run(const Job& job) {
  const HookSection& h = hooks_[job.hook];
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "KNOCKGATE_", 10) != 0) {
      env.emplace_back(*e);
    }
  }
  for (std::string& v : HookEnvironment(job.event)) {
    env.push_back(std::move(v));
  }
  std::vector<char*> envp;
  for (std::string& v : env) {
    envp.push_back(v.data());
  }
  envp.push_back(nullptr);
  std::vector<std::string> args = h.command;
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  for (int fd = 0; fd <= 2; ++fd) {
    posix_spawn_file_actions_addopen(&files, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group (killed whole at the timeout), no signal blocked,
  // the gateway's signals at their defaults.
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      rc = ECANCELED;
    } else {
      rc = posix_spawnp(&pid, argv[0], &files, &attr, argv.data(), envp.data());
      if (rc == 0) {
        children_.push_back(pid);
      }
    }
  }
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  counters_.runs.fetch_add(1, std::memory_order_relaxed);
  if (rc != 0) {
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
    Note(job.hook, false, absl::StrCat("could not start ", h.command[0], ": ", std::strerror(rc)));
    return;
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(h.timeout);
  const bool ended = WaitFor(pid, deadline, status);
  if (!ended) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    children_.erase(std::find(children_.begin(), children_.end(), pid));
  }
  if (!ended) {
    counters_.timed_out.fetch_add(1, std::memory_order_relaxed);
    Note(job.hook, true, absl::StrCat("killed at its timeout of ", FormatDuration(h.timeout)));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
    Note(job.hook, false, absl::StrCat("exited ", WEXITSTATUS(status)));
  } else if (WIFSIGNALED(status)) {
    counters_.failed.fetch_add(1, std::memory_order_relaxed);
    Note(job.hook, false, absl::StrCat("ended by signal ", WTERMSIG(status)));
  }
}

void HookRunner::Note(size_t hook, bool timed_out, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  Trouble& t = trouble_[hook];
  ++(timed_out ? t.timed_out : t.failed);
  t.last = what;
}

std::vector<std::string> HookRunner::TakeReport() {
  std::vector<std::string> lines;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < trouble_.size(); ++i) {
    Trouble& t = trouble_[i];
    if (t.failed == 0 && t.timed_out == 0) {
      continue;
    }
    lines.push_back(absl::StrCat("hook ", i, " (", hooks_[i].command[0], "): ", t.failed,
                                 " failed, ", t.timed_out, " killed at timeout; last: ", t.last));
    t = Trouble{};
  }
  return lines;
}

std::string HookRunner::CountersReport() const {
  return absl::StrCat("hooks: runs=", counters_.runs.load(), " failed=", counters_.failed.load(),
                      " timed-out=", counters_.timed_out.load(),
                      " dropped=", counters_.dropped.load(), "\n");
}

bool HookRunner::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, timeout, [this] { return queue_.empty() && running_ == 0; });
}

}  // namespace knockgate
