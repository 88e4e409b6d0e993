// Where knockgate's control threads run (the ctl server, the state saver,
// [sync], the metrics server, a reload's builder): on the CPUs where no lcore
// polls, when there are any; otherwise on every CPU at the lowest priority,
// taking the time the lcores leave. Decided once at start from the lcores'
// layout; every control thread places itself first thing.
#pragma once

#include <string>
#include <vector>

namespace knockgate {

// `lcore_cpus`: the CPUs some lcore runs on; `online`: the CPUs this
// process may use. Returns the line the start-up log prints.
std::string SetControlCpus(const std::vector<int>& lcore_cpus, const std::vector<int>& online);

// The calling thread: onto the control CPUs (lowest priority where they are
// shared with lcores), named `name` (15 characters at most, as ps shows it).
void PlaceControlThread(const char* name);

// For threads a library starts (libmicrohttpd's): while it lives, the
// calling thread has the control CPUs and `name`, so that a thread it starts
// inherits both; then it is put back. (The started thread lowers its own
// priority with PlaceControlThread once it runs code of ours.)
class AsControlThread {
 public:
  explicit AsControlThread(const char* name);
  ~AsControlThread();
  AsControlThread(const AsControlThread&) = delete;
  AsControlThread& operator=(const AsControlThread&) = delete;

 private:
  struct Saved;
  Saved* saved_;
};

// "1,3" style, for logs and tests.
std::string CpuListText(const std::vector<int>& cpus);

}  // namespace knockgate
