// Table sizes from the same formulas the tables allocate by, and the host's
// memory from /proc/meminfo.
#include "classify/worker_memory.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "classify/dst_limit_table.h"
#include "classify/frag_table.h"
#include "conntrack/conn_table.h"
#include "lists/address_table.h"

namespace knockgate {
namespace {

double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

std::string WorkerMemory::Describe(uint32_t workers) const {
  return absl::StrFormat(
      "memory: %.1f MiB per worker (lists %.1f, conntrack %.1f, fragments %.1f%s MiB), %.1f MiB "
      "for %d worker%s",
      MiB(total()), MiB(lists), MiB(conntrack), MiB(fragments),
      dst_limit == 0 ? "" : absl::StrFormat(", dst-limit %.1f", MiB(dst_limit)),
      MiB(total() * workers), workers, workers == 1 ? "" : "s");
}

WorkerMemory WorkerMemoryOf(const Policy& policy) {
  WorkerMemory m;
  const std::vector<uint32_t> caps = policy.ListCapacities();
  m.lists = AddressTable::MemoryFor(caps);
  m.fragments = FragTable::MemoryFor();
  if (policy.uses_conntrack()) {
    m.conntrack = ConnTable::MemoryFor(policy.conntrack().capacity);
  }
  if (policy.uses_dst_limit()) {
    m.dst_limit = DstLimitTable::MemoryFor(policy.dst_limit_capacity());
  }
  return m;
}

absl::Status CheckMemoryFits(const WorkerMemory& m, uint32_t workers, uint64_t available,
                             const std::string& what) {
  if (available == 0 || m.total() * workers <= available) {
    return absl::OkStatus();
  }
  return absl::ResourceExhaustedError(
      absl::StrFormat("%s, more than this machine's %s of %.1f MiB: lower [lists] capacity, "
                      "[conntrack] capacity or [dataplane] workers",
                      m.Describe(workers), what, MiB(available)));
}

uint64_t MemInfoBytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    uint64_t kib = 0;
    if (fields >> name >> kib && name == key + ":") {
      return kib * 1024;
    }
  }
  return 0;
}

}  // namespace knockgate
