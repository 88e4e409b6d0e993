// For the benchmarks that need a running gateway (bench_sync, bench_state):
// EAL on net_null ports without hugepages, and a dataplane whose main lcore
// loop runs on a thread of its own until the object goes.
#pragma once

#include <rte_eal.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "dataplane/dataplane.h"

namespace knockgate {

// EAL for `workers` workers sharing CPU 1 (the main lcore on CPU 0).
inline bool InitNullEal(const std::string& name, uint32_t workers) {
  std::string lcores = "0@0";
  for (uint32_t w = 1; w <= workers; ++w) {
    absl::StrAppend(&lcores, ",", w, "@1");
  }
  std::vector<std::string> args = {name,
                                   "--no-huge",
                                   "-m",
                                   "1024",
                                   "--no-pci",
                                   "--no-shconf",
                                   "--file-prefix",
                                   absl::StrCat("kg", name, getpid()),
                                   "--lcores",
                                   lcores,
                                   "--vdev",
                                   "net_null0,no-rx=1",
                                   "--vdev",
                                   "net_null1,no-rx=1",
                                   "--log-level",
                                   "lib.eal:warning"};
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  return rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0;
}

class NullPlane {
 public:
  static absl::StatusOr<std::unique_ptr<NullPlane>> Start(const Config& config) {
    absl::StatusOr<std::shared_ptr<const Policy>> policy = Policy::Compile(config);
    if (!policy.ok()) {
      return policy.status();
    }
    absl::StatusOr<std::unique_ptr<Dataplane>> plane = Dataplane::Create(config, *policy);
    if (!plane.ok()) {
      return plane.status();
    }
    if (absl::Status s = (*plane)->Launch(); !s.ok()) {
      return s;
    }
    return std::unique_ptr<NullPlane>(new NullPlane(*std::move(plane)));
  }
  ~NullPlane() {
    Stop();
    plane_.reset();
  }
  // Stops the main loop and the workers (what a worker holds stays readable).
  void Stop() {
    stop_.store(true);
    if (main_.joinable()) {
      main_.join();
    }
  }
  Dataplane& plane() { return *plane_; }

 private:
  explicit NullPlane(std::unique_ptr<Dataplane> plane) : plane_(std::move(plane)) {
    main_ = std::thread([this] {
      MainLoopHooks hooks;
      hooks.should_stop = [this] { return stop_.load(); };
      plane_->RunMain(hooks);
    });
  }

  std::unique_ptr<Dataplane> plane_;
  std::atomic<bool> stop_{false};
  std::thread main_;
};

}  // namespace knockgate
