// Address lists at 1K to 10M entries: lookup hit and miss, insert (at
// capacity, so each insert evicts), refresh, bytes per entry from the
// process's resident memory, and reclamation while a million entries expire.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <random>

#include "bench_util.h"
#include "lists/address_table.h"

namespace knockgate::perf {
namespace {

constexpr Nanos kS = kNanosPerSecond;

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0;
  size_t pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

struct Filled {
  std::unique_ptr<AddressTable> table;
  double bytes_per_entry = 0;
  uint32_t n = 0;
};

// One table per size, filled once: a 10M fill is itself a second of work.
Filled& TableOf(uint32_t n) {
  static std::map<uint32_t, Filled> tables;
  Filled& f = tables[n];
  if (!f.table) {
    const size_t before = ResidentBytes();
    const std::vector<uint32_t> caps = {n};
    f.table = std::move(AddressTable::Create(caps)).value();
    for (uint32_t i = 0; i < n; ++i) {
      f.table->Add(IpAddress::V4(i * 2654435761u), 0, 0, 3600 * kS);
    }
    f.bytes_per_entry = static_cast<double>(ResidentBytes() - before) / n;
    f.n = n;
  }
  return f;
}

void Report(benchmark::State& bm, const Filled& f, uint64_t cycles) {
  bm.SetItemsProcessed(bm.iterations());
  bm.counters["bytes/entry"] = f.bytes_per_entry;
  bm.counters["cycles/op"] = static_cast<double>(cycles) / static_cast<double>(bm.iterations());
}

void BM_LookupHit(benchmark::State& bm) {
  Filled& f = TableOf(static_cast<uint32_t>(bm.range(0)));
  std::mt19937 rng(1);
  uint64_t found = 0;
  const uint64_t start = Cycles();
  for (auto _ : bm) {
    const uint32_t r = f.table->Find(IpAddress::V4((rng() % f.n) * 2654435761u));
    found += f.table->Membership(r, kS) != 0;
  }
  Report(bm, f, Cycles() - start);
  benchmark::DoNotOptimize(found);
}

void BM_LookupMiss(benchmark::State& bm) {
  Filled& f = TableOf(static_cast<uint32_t>(bm.range(0)));
  std::mt19937 rng(2);
  uint64_t found = 0;
  const uint64_t start = Cycles();
  for (auto _ : bm) {
    found +=
        f.table->Find(IpAddress::V4((rng() % f.n) * 2654435761u + 1)) != AddressTable::kNoRecord;
  }
  Report(bm, f, Cycles() - start);
  benchmark::DoNotOptimize(found);
}

void BM_Refresh(benchmark::State& bm) {
  Filled& f = TableOf(static_cast<uint32_t>(bm.range(0)));
  std::mt19937 rng(3);
  Nanos now = kS;
  const uint64_t start = Cycles();
  for (auto _ : bm) {
    f.table->Add(IpAddress::V4((rng() % f.n) * 2654435761u), 0, now++, 3600 * kS);
  }
  Report(bm, f, Cycles() - start);
}

// New addresses into a full list: every insert evicts the soonest expiry.
void BM_InsertAtCapacity(benchmark::State& bm) {
  const uint32_t n = static_cast<uint32_t>(bm.range(0));
  const std::vector<uint32_t> caps = {n};
  auto table = std::move(AddressTable::Create(caps)).value();
  uint32_t next = 0;
  for (; next < n; ++next) {
    table->Add(IpAddress::V4(next * 2654435761u), 0, next, 30 * kS);
  }
  const uint64_t start = Cycles();
  for (auto _ : bm) {
    table->Add(IpAddress::V4(next * 2654435761u), 0, next, 30 * kS);
    ++next;
  }
  bm.SetItemsProcessed(bm.iterations());
  bm.counters["cycles/op"] =
      static_cast<double>(Cycles() - start) / static_cast<double>(bm.iterations());
}

// A worker loop while a million entries expire at once: each iteration is a
// burst of 32 lookups and one bounded reclaim step (kReclaimStep), as Worker::Run does.
// Reports iteration-time percentiles and the longest reclaim step.
void BM_LoopDuringMassExpiry(benchmark::State& bm) {
  constexpr uint32_t kEntries = 1'000'000;
  const std::vector<uint32_t> caps = {kEntries};
  std::vector<double> loop_ns;
  double longest_step_ns = 0;
  const double ns_per_cycle = [] {
    const uint64_t c0 = Cycles();
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50)) {
    }
    return 50e6 / static_cast<double>(Cycles() - c0);
  }();
  for (auto _ : bm) {
    bm.PauseTiming();
    auto table = std::move(AddressTable::Create(caps)).value();
    for (uint32_t i = 0; i < kEntries; ++i) {
      table->Add(IpAddress::V4(i * 2654435761u), 0, 0, 60 * kS);
    }
    loop_ns.clear();
    loop_ns.reserve(kEntries / kReclaimStep + 1);
    std::mt19937 rng(4);
    bm.ResumeTiming();
    const Nanos now = 61 * kS;  // everything has expired
    uint64_t hits = 0;
    for (;;) {
      const uint64_t t0 = Cycles();
      for (int i = 0; i < 32; ++i) {
        hits +=
            table->Find(IpAddress::V4((rng() % kEntries) * 2654435761u)) != AddressTable::kNoRecord;
      }
      const uint64_t t1 = Cycles();
      const size_t freed = table->Reclaim(now, kReclaimStep);
      const uint64_t t2 = Cycles();
      loop_ns.push_back(static_cast<double>(t2 - t0) * ns_per_cycle);
      longest_step_ns = std::max(longest_step_ns, static_cast<double>(t2 - t1) * ns_per_cycle);
      if (freed == 0) {
        break;
      }
    }
    benchmark::DoNotOptimize(hits);
  }
  std::sort(loop_ns.begin(), loop_ns.end());
  auto pct = [&](double p) { return loop_ns[static_cast<size_t>(p * (loop_ns.size() - 1))]; };
  bm.counters["loop_p50_ns"] = pct(0.5);
  bm.counters["loop_p99_ns"] = pct(0.99);
  bm.counters["loop_p99.9_ns"] = pct(0.999);
  bm.counters["loop_max_ns"] = loop_ns.back();
  bm.counters["longest_reclaim_step_ns"] = longest_step_ns;
  bm.counters["steps"] = static_cast<double>(loop_ns.size());
}

// What reporting expiries to a [[hook]] costs the reclaim path: a million
// entries that all expired, reclaimed in kReclaimStep steps, with the list
// watched (each freed entry's address, list and expiry kept for the worker,
// which empties them after each step) or not. Held constant: the entries,
// their order, the clock. ns per freed entry.
void BM_ReclaimExpired(benchmark::State& bm) {
  constexpr uint32_t kEntries = 1'000'000;
  const ListMask watch = bm.range(0) != 0 ? 1 : 0;
  const std::vector<uint32_t> caps = {kEntries};
  uint64_t freed = 0;
  uint64_t reported = 0;
  for (auto _ : bm) {
    bm.PauseTiming();
    auto table = std::move(AddressTable::Create(caps)).value();
    for (uint32_t i = 0; i < kEntries; ++i) {
      table->Add(IpAddress::V4(i * 2654435761u), 0, 0, 60 * kS);
    }
    bm.ResumeTiming();
    for (size_t n = 1; n != 0;) {
      n = table->Reclaim(61 * kS, kReclaimStep, watch);
      freed += n;
      reported += table->expired().size();
      table->ClearExpired();
    }
  }
  if (freed != static_cast<uint64_t>(bm.iterations()) * kEntries ||
      reported != (watch != 0 ? freed : 0)) {
    bm.SkipWithError("not every entry was freed (and reported when watched)");
  }
  bm.counters["ns/entry"] = benchmark::Counter(
      static_cast<double>(freed), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_LookupHit)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_LookupMiss)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_Refresh)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_InsertAtCapacity)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Arg(10'000'000);
BENCHMARK(BM_LoopDuringMassExpiry)->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReclaimExpired)
    ->ArgName("watch")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace knockgate::perf

BENCHMARK_MAIN();
