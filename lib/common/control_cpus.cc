// The control threads' CPUs: computed once, applied by each thread to itself.
#include "common/control_cpus.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace knockgate {
namespace {

struct Placement {
  cpu_set_t cpus;
  bool shared = false;  // with lcores: run at the lowest priority
  bool set = false;
};
Placement g_placement;  // written once at start, before any control thread

}  // namespace

struct AsControlThread::Saved {
  cpu_set_t cpus;
  char name[16] = {};
};

std::string CpuListText(const std::vector<int>& cpus) { return absl::StrJoin(cpus, ","); }

std::string SetControlCpus(const std::vector<int>& lcore_cpus, const std::vector<int>& online) {
  std::vector<int> free;
  for (int c : online) {
    if (std::find(lcore_cpus.begin(), lcore_cpus.end(), c) == lcore_cpus.end()) {
      free.push_back(c);
    }
  }
  const bool shared = free.empty();
  const std::vector<int>& use = shared ? online : free;
  CPU_ZERO(&g_placement.cpus);
  for (int c : use) {
    if (c >= 0 && c < CPU_SETSIZE) {
      CPU_SET(c, &g_placement.cpus);
    }
  }
  g_placement.shared = shared;
  g_placement.set = !use.empty();
  return shared ? absl::StrCat("control threads on CPUs ", CpuListText(use),
                               " at the lowest priority: an lcore polls on every CPU")
                : absl::StrCat("control threads on CPUs ", CpuListText(use),
                               ", where no lcore polls (lcores on ", CpuListText(lcore_cpus), ")");
}

void PlaceControlThread(const char* name) {
  pthread_setname_np(pthread_self(), name);
  if (!g_placement.set) {
    return;  // no EAL (tests of the control plane alone): where the creator runs
  }
  pthread_setaffinity_np(pthread_self(), sizeof(g_placement.cpus), &g_placement.cpus);
  const id_t tid = static_cast<id_t>(syscall(SYS_gettid));
  setpriority(PRIO_PROCESS, tid, g_placement.shared ? 19 : 0);
}

// Affinity and name only: a priority lowered here could not be raised back
// without CAP_SYS_NICE (the started thread lowers its own, PlaceControlThread).
AsControlThread::AsControlThread(const char* name) : saved_(new Saved) {
  pthread_getaffinity_np(pthread_self(), sizeof(saved_->cpus), &saved_->cpus);
  pthread_getname_np(pthread_self(), saved_->name, sizeof(saved_->name));
  pthread_setname_np(pthread_self(), name);
  if (g_placement.set) {
    pthread_setaffinity_np(pthread_self(), sizeof(g_placement.cpus), &g_placement.cpus);
  }
}

AsControlThread::~AsControlThread() {
  pthread_setname_np(pthread_self(), saved_->name);
  pthread_setaffinity_np(pthread_self(), sizeof(saved_->cpus), &saved_->cpus);
  delete saved_;
}

}  // namespace knockgate
