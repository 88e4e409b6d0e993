// Anonymous mappings aligned to 2 MiB with MADV_HUGEPAGE (see huge_pages.h).
#include "common/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <fstream>
#include <new>
#include <string>

namespace knockgate {

void* MapHugeArray(size_t bytes) {
  // Over-map by one huge page, then trim to an aligned run of `bytes`.
  const size_t span = bytes + kHugePageBytes;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    throw std::bad_alloc();
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (aligned > start) {
    munmap(raw, aligned - start);
  }
  const uintptr_t end = start + span;
  if (end > aligned + bytes) {
    munmap(reinterpret_cast<void*>(aligned + bytes), end - (aligned + bytes));
  }
  void* p = reinterpret_cast<void*>(aligned);
  // Advice only: where the kernel has transparent huge pages off, the array
  // stays on 4 KiB pages and works the same, slower.
  madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

void UnmapHugeArray(void* p, size_t bytes) { munmap(p, bytes); }

bool TransparentHugePagesOn() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(f, line);
  return line.find("[always]") != std::string::npos || line.find("[madvise]") != std::string::npos;
}

}  // namespace knockgate
