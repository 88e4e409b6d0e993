// What one worker's tables take (address lists, flows, fragments), computed
// from the policy before anything is allocated: --check and the start-up line
// print it, and a gateway that cannot hold it refuses to start instead of
// dying in the allocator or the OOM killer.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "policy/policy.h"

namespace knockgate {

struct WorkerMemory {
  uint64_t lists = 0;
  uint64_t conntrack = 0;
  uint64_t fragments = 0;
  uint64_t dst_limit = 0;  // named in Describe only when a rule has a dst-limit
  uint64_t total() const { return lists + conntrack + fragments + dst_limit; }
  // "memory: 12.0 MiB per worker (lists 8.0, conntrack 4.0, fragments 0.1 MiB), 24.0 MiB for 2
  // workers"
  std::string Describe(uint32_t workers) const;
};

WorkerMemory WorkerMemoryOf(const Policy& policy);

// Refuses `workers` workers' tables when they exceed `available` bytes
// (`what` names that figure, e.g. "MemAvailable").
absl::Status CheckMemoryFits(const WorkerMemory& m, uint32_t workers, uint64_t available,
                             const std::string& what);

// A /proc/meminfo figure in bytes ("MemTotal", "MemAvailable"), or 0 if unknown.
uint64_t MemInfoBytes(const std::string& key);

}  // namespace knockgate
