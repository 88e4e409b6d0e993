// Address lists: exact expiry, refresh keeping the later expiry, per-list
// capacity and eviction, static prefixes, and bounded reclamation of 1M entries.
#include "lists/address_table.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <random>

#include "lists/static_lists.h"

namespace knockgate {
namespace {

constexpr Nanos kS = kNanosPerSecond;

IpAddress V4(uint32_t host_order) { return IpAddress::V4(host_order); }

std::unique_ptr<AddressTable> Table(std::vector<uint32_t> caps) {
  absl::StatusOr<std::unique_ptr<AddressTable>> t = AddressTable::Create(caps);
  EXPECT_TRUE(t.ok()) << t.status();
  return std::move(t).value();
}

TEST(AddressTableTest, ExpiryIsExactBeforeReclaim) {
  auto t = Table({16});
  const IpAddress a = V4(0xC6336407);
  t->Add(a, 0, 100 * kS, 30 * kS);
  EXPECT_TRUE(t->Contains(a, 0, 100 * kS));
  EXPECT_TRUE(t->Contains(a, 0, 130 * kS - 1));
  EXPECT_FALSE(t->Contains(a, 0, 130 * kS));  // nothing reclaimed yet
  EXPECT_EQ(t->records_in_use(), 1u);
  EXPECT_EQ(t->Reclaim(130 * kS, 10), 1u);
  EXPECT_EQ(t->records_in_use(), 0u);
}

TEST(AddressTableTest, RefreshKeepsTheLaterExpiry) {
  auto t = Table({16});
  const IpAddress a = V4(1);
  EXPECT_EQ(t->Add(a, 0, 0, 1000 * 60 * kS), AddressTable::AddResult::kAdded);  // 1000m jail
  EXPECT_EQ(t->Add(a, 0, 10 * kS, 60 * kS), AddressTable::AddResult::kKept);    // 1m scan rule
  EXPECT_EQ(t->ExpiryOf(a, 0, 10 * kS), 60000 * kS);
  EXPECT_EQ(t->Add(a, 0, 20 * kS, 70000 * kS), AddressTable::AddResult::kRefreshed);
  EXPECT_EQ(t->ExpiryOf(a, 0, 20 * kS), 70020 * kS);
  // none-dynamic stays none-dynamic.
  EXPECT_EQ(t->Add(a, 0, 30 * kS, kNever), AddressTable::AddResult::kRefreshed);
  EXPECT_EQ(t->Add(a, 0, 40 * kS, 5 * kS), AddressTable::AddResult::kKept);
  EXPECT_EQ(t->ExpiryOf(a, 0, 1'000'000 * kS), kNever);
}

TEST(AddressTableTest, ExpiredEntryComesBackAsNew) {
  auto t = Table({16});
  t->Add(V4(1), 0, 0, 5 * kS);
  EXPECT_EQ(t->Add(V4(1), 0, 6 * kS, 5 * kS), AddressTable::AddResult::kAdded);
  EXPECT_TRUE(t->Contains(V4(1), 0, 10 * kS));
  EXPECT_FALSE(t->Contains(V4(1), 0, 11 * kS));
}

// Refreshes do not touch the heap; the heap catches up when a refreshed
// member reaches its old expiry, so nothing live is ever reclaimed.
TEST(AddressTableTest, RefreshedMemberSurvivesItsOldExpiry) {
  auto t = Table({16});
  t->Add(V4(1), 0, 0, 10 * kS);
  t->Add(V4(2), 0, 0, 15 * kS);
  EXPECT_EQ(t->Add(V4(1), 0, 8 * kS, 10 * kS), AddressTable::AddResult::kRefreshed);  // to 18 s
  EXPECT_EQ(t->Reclaim(12 * kS, 16), 0u);  // re-keys 1, frees nothing
  EXPECT_TRUE(t->Contains(V4(1), 0, 17 * kS));
  EXPECT_EQ(t->Reclaim(16 * kS, 16), 1u);  // 2 expired at 15 s
  EXPECT_FALSE(t->Contains(V4(2), 0, 16 * kS));
  EXPECT_EQ(t->Reclaim(17 * kS, 16), 0u);
  EXPECT_EQ(t->Reclaim(18 * kS, 16), 1u);
  EXPECT_EQ(t->records_in_use(), 0u);
}

// An insert into a full list still evicts the true soonest expiry, whatever
// refreshes did to the order the heap last saw.
TEST(AddressTableTest, EvictionSeesThroughRefreshes) {
  auto t = Table({3});
  t->Add(V4(1), 0, 0, 10 * kS);
  t->Add(V4(2), 0, 0, 20 * kS);
  t->Add(V4(3), 0, 0, 30 * kS);
  t->Add(V4(1), 0, 5 * kS, 60 * kS);  // 1 now lasts longest
  EXPECT_EQ(t->Add(V4(4), 0, 6 * kS, 60 * kS), AddressTable::AddResult::kAdded);
  EXPECT_TRUE(t->Contains(V4(1), 0, 6 * kS));
  EXPECT_FALSE(t->Contains(V4(2), 0, 6 * kS));  // evicted: it expired soonest
  EXPECT_TRUE(t->Contains(V4(3), 0, 6 * kS));
  EXPECT_EQ(t->stats(0).evicted, 1u);
}

TEST(AddressTableTest, OneRecordHoldsEveryList) {
  auto t = Table({16, 16, 16});
  const IpAddress a = V4(7);
  t->Add(a, 0, 0, 30 * kS);
  t->Add(a, 2, 0, 60 * kS);
  EXPECT_EQ(t->records_in_use(), 1u);
  const uint32_t r = t->Find(a);
  ASSERT_NE(r, AddressTable::kNoRecord);
  EXPECT_EQ(t->Membership(r, 10 * kS), 0b101u);
  EXPECT_EQ(t->Membership(r, 40 * kS), 0b100u);
  EXPECT_EQ(t->Find(V4(8)), AddressTable::kNoRecord);
}

TEST(AddressTableTest, FloodIntoAStageNeverEvictsAGrant) {
  // list 0: a knock stage (small), list 1: the grant list.
  auto t = Table({100, 10});
  const IpAddress granted = V4(0x0A000001);
  t->Add(granted, 0, 0, 30 * kS);
  t->Add(granted, 1, 0, 1800 * kS);
  for (uint32_t i = 0; i < 100'000; ++i) {
    t->Add(V4(0x40000000 + i), 0, i, 30 * kS);
  }
  EXPECT_TRUE(t->Contains(granted, 1, 200'000));
  EXPECT_EQ(t->stats(0).size, 100u);
  EXPECT_EQ(t->stats(1).size, 1u);
  EXPECT_EQ(t->stats(0).evicted, 100'000u - 99u);
  EXPECT_EQ(t->stats(1).evicted, 0u);
  // The stage kept the newest entries: soonest expiry goes first.
  EXPECT_TRUE(t->Contains(V4(0x40000000 + 99'999), 0, 200'000));
  EXPECT_FALSE(t->Contains(V4(0x40000000), 0, 200'000));
}

TEST(AddressTableTest, EvictsSoonestExpiryFirst) {
  auto t = Table({3});
  t->Add(V4(1), 0, 0, 300 * kS);
  t->Add(V4(2), 0, 0, 100 * kS);
  t->Add(V4(3), 0, 0, kNever);
  t->Add(V4(4), 0, 0, 200 * kS);
  EXPECT_FALSE(t->Contains(V4(2), 0, 1));
  EXPECT_TRUE(t->Contains(V4(1), 0, 1));
  EXPECT_TRUE(t->Contains(V4(3), 0, 1));
  EXPECT_TRUE(t->Contains(V4(4), 0, 1));
}

TEST(AddressTableTest, Ipv6AndIpv4AreDistinct) {
  auto t = Table({8});
  uint8_t v6[16] = {};
  v6[0] = 0x0a;  // same first four bytes as 10.0.0.0
  t->Add(IpAddress::V6(v6), 0, 0, kNever);
  EXPECT_FALSE(t->Contains(V4(0x0A000000), 0, 1));
  EXPECT_TRUE(t->Contains(IpAddress::V6(v6), 0, 1));
}

TEST(AddressTableTest, RejectsBadShapes) {
  EXPECT_FALSE(AddressTable::Create(std::vector<uint32_t>(65, 1)).ok());
  EXPECT_FALSE(AddressTable::Create(std::vector<uint32_t>{4, 0}).ok());
}

// A million entries expiring at once are reclaimed in steps of at most the
// budget; afterwards occupancy is zero, lookups still work, and the heap holds
// exactly what it held before the fill (malloc's own count, not sizeof).
TEST(AddressTableTest, ReclaimsAMillionInBoundedSteps) {
  constexpr uint32_t kEntries = 1'000'000;
  constexpr size_t kBudget = 256;
  auto t = Table({kEntries, 1024});
  const size_t heap_before = mallinfo2().uordblks;
  for (uint32_t i = 0; i < kEntries; ++i) {
    t->Add(V4(i), 0, 0, 60 * kS);
  }
  t->Add(V4(0xFFFFFFFF), 1, 0, kNever);
  EXPECT_EQ(t->records_in_use(), kEntries + 1);
  EXPECT_EQ(t->Reclaim(59 * kS, kBudget), 0u);  // nothing due yet

  size_t steps = 0;
  size_t total = 0;
  for (;;) {
    const size_t freed = t->Reclaim(60 * kS, kBudget);
    ASSERT_LE(freed, kBudget);
    if (freed == 0) {
      break;
    }
    total += freed;
    ++steps;
  }
  EXPECT_EQ(total, kEntries);
  EXPECT_EQ(steps, (kEntries + kBudget - 1) / kBudget);
  EXPECT_EQ(t->records_in_use(), 1u);
  EXPECT_EQ(t->stats(0).size, 0u);
  EXPECT_EQ(t->stats(0).expired, kEntries);
  EXPECT_TRUE(t->Contains(V4(0xFFFFFFFF), 1, 61 * kS));
  EXPECT_EQ(mallinfo2().uordblks, heap_before);
  // And the table takes a full load again without growing.
  for (uint32_t i = 0; i < kEntries; ++i) {
    t->Add(V4(i + 7), 0, 61 * kS, 60 * kS);
  }
  EXPECT_EQ(t->records_in_use(), kEntries + 1);
  EXPECT_EQ(mallinfo2().uordblks, heap_before);
}

TEST(StaticListsTest, MatchesPrefixesOfBothFamilies) {
  StaticLists s;
  s.Add(*ParseCidr("203.0.113.0/24"), 1);
  s.Add(*ParseCidr("203.0.113.128/25"), 2);
  s.Add(*ParseCidr("2001:db8::/32"), 1);
  s.Add(*ParseCidr("192.0.2.1"), 3);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("203.0.113.200")), 0b110u);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("203.0.113.5")), 0b010u);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("203.0.114.5")), 0u);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("2001:db8:ffff::1")), 0b010u);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("2001:db9::1")), 0u);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("192.0.2.1")), 0b1000u);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("192.0.2.2")), 0u);
}

// Thousands of prefixes of one length (the table grows), a /0, a /128, and
// the same prefix in two lists.
TEST(StaticListsTest, ManyPrefixesAndTheExtremeLengths) {
  StaticLists s;
  for (uint32_t i = 0; i < 5000; ++i) {
    s.Add(Cidr{V4(0x0A000000u + (i << 8)), 24}, 4);  // 10.0.0.0/24, 10.0.1.0/24, ...
  }
  s.Add(*ParseCidr("10.0.7.0/24"), 5);
  s.Add(*ParseCidr("::/0"), 6);
  s.Add(*ParseCidr("2001:db8::7"), 7);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("10.0.7.9")), (1u << 4) | (1u << 5));
  EXPECT_EQ(s.Lookup(*ParseIpAddress("10.19.135.255")), 1u << 4);  // prefix 4999
  EXPECT_EQ(s.Lookup(*ParseIpAddress("10.19.136.1")), 0u);         // prefix 5000: none
  EXPECT_EQ(s.Lookup(*ParseIpAddress("2001:db8::7")), (1u << 6) | (1u << 7));
  EXPECT_EQ(s.Lookup(*ParseIpAddress("2001:db8::8")), 1u << 6);
  EXPECT_EQ(s.Lookup(*ParseIpAddress("11.0.0.1")), 0u);
}

// Lists too small for what is added: evictions move memberships around the
// shared index space; whatever the table still reports must be what the model
// says, each list within its capacity, every address findable.
TEST(AddressTableTest, EvictionKeepsChainsConsistent) {
  std::mt19937 rng(13);
  std::unique_ptr<AddressTable> t = Table({5, 17, 3, 40, 9, 1, 12, 25});
  // The latest expiry ever asked for, and the last one: an evicted member
  // comes back with the last.
  std::map<std::pair<uint32_t, ListId>, Nanos> model;
  std::map<std::pair<uint32_t, ListId>, Nanos> last;
  Nanos now = kS;
  for (int step = 0; step < 60000; ++step) {
    const uint32_t a = 0x0A000000u + rng() % 120;
    const ListId list = static_cast<ListId>(rng() % 8);
    const Nanos timeout = (1 + rng() % 30) * kS;
    t->Add(V4(a), list, now, timeout);
    Nanos& e = model[{a, list}];
    e = std::max(e > now ? e : 0, now + timeout);
    last[{a, list}] = now + timeout;
    if (rng() % 3 == 0) {
      now += (rng() % 2) * kS;
      t->Reclaim(now, rng() % 8);
    }
    if (step % 500 == 0) {
      std::map<ListId, size_t> per_list;
      t->ForEachMember(now, [&](const IpAddress& addr, ListId l, Nanos expiry) {
        const uint32_t key = static_cast<uint32_t>(addr.bytes[0]) << 24 |
                             static_cast<uint32_t>(addr.bytes[1]) << 16 |
                             static_cast<uint32_t>(addr.bytes[2]) << 8 | addr.bytes[3];
        ++per_list[l];
        const auto want = model.find(std::make_pair(key, l));
        ASSERT_NE(want, model.end()) << "step " << step;
        ASSERT_LE(expiry, want->second) << "step " << step;
        ASSERT_GE(expiry, last[want->first]) << "step " << step;
        ASSERT_EQ(t->ExpiryOf(addr, l, now), expiry);
      });
      for (const auto& [l, n] : per_list) {
        ASSERT_LE(n, t->stats(l).capacity);
      }
    }
  }
}

// What one figure of /proc/self/smaps_rollup ("Rss", "AnonHugePages") says,
// in bytes.
uint64_t SmapsBytes(const std::string& key) {
  std::ifstream f("/proc/self/smaps_rollup");  // a header line, then "Key:   N kB" lines
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with(key + ":")) {
      return std::stoull(line.substr(key.size() + 1)) * 1024;
    }
  }
  return 0;
}

// The address space this process has mapped, in bytes (/proc/self/statm).
uint64_t MappedBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// Memory is linear in the sum of the capacities: 64 lists cost what one
// list of the same total costs, and what Create maps is what MemoryFor says
// (--check and the start-up line print it), give or take the rounding of
// each big array to whole 2 MiB pages.
TEST(AddressTableTest, MemoryLinearInTheSumOfCapacities) {
  const std::vector<uint32_t> many(64, 16384);
  const std::vector<uint32_t> one(1, 64 * 16384);
  EXPECT_EQ(AddressTable::MemoryFor(many), AddressTable::MemoryFor(one));
  EXPECT_LT(AddressTable::MemoryFor(many), 64u * 16384u * 64u);  // under 64 bytes an entry
  const uint64_t mapped_before = MappedBytes();
  const uint64_t malloc_before = mallinfo2().uordblks + mallinfo2().hblkhd;
  {
    std::unique_ptr<AddressTable> t = Table(many);
    const uint64_t malloced = mallinfo2().uordblks + mallinfo2().hblkhd - malloc_before;
    if (malloced == 0) {
      // The small arrays (each list's heap) come from malloc, which a
      // sanitizer's allocator serves from memory it mapped before.
      GTEST_SKIP() << "malloc does not report its use here (a sanitizer's allocator)";
    }
    const uint64_t used = MappedBytes() - mapped_before + malloced;
    EXPECT_GE(used, AddressTable::MemoryFor(many));
    EXPECT_LT(used, AddressTable::MemoryFor(many) * 12 / 10);
  }
}

// The big arrays sit on huge pages where the kernel gives them to madvised
// memory: a lookup at random in a table of 10^6 entries would otherwise miss
// the TLB nearly every time.
TEST(AddressTableTest, BigArraysAreOnHugePages) {
  if (!TransparentHugePagesOn()) {
    GTEST_SKIP() << "transparent huge pages are off in this kernel";
  }
  const uint64_t before = SmapsBytes("AnonHugePages");
  std::unique_ptr<AddressTable> t = Table({1u << 20});
  const uint64_t after = SmapsBytes("AnonHugePages");
  // Keys (16 MiB), memberships (32 MiB) and the index (8 MiB) are touched at
  // creation; most of them must be huge pages.
  EXPECT_GE(after - before, uint64_t{32} << 20) << "AnonHugePages " << before << " -> " << after;
}

// Many lists, many addresses in several lists each: every membership the
// table reports, and none other, is one the model expects.
// A slot carries a tag of its address's hash above the record (11 bits
// with 2^20 records): among a million addresses tags collide often, so both
// the tag test and the key comparison behind it decide lookups, and the
// backward shift of an eviction moves tagged slots.
TEST(AddressTableTest, TaggedSlotsFindEveryAddressThroughEvictions) {
  constexpr uint32_t kCapacity = 1u << 20;
  constexpr uint32_t kExtra = 1u << 18;
  std::unique_ptr<AddressTable> t = Table({kCapacity});
  auto address = [](uint32_t i) { return V4(0x80000000u | (i * 2654435761u >> 1)); };
  // Each later address expires later, so the inserts past capacity evict the
  // first kExtra in order.
  for (uint32_t i = 0; i < kCapacity + kExtra; ++i) {
    ASSERT_EQ(t->Add(address(i), 0, kS, kS + i), AddressTable::AddResult::kAdded);
  }
  EXPECT_EQ(t->stats(0).evicted, kExtra);
  for (uint32_t i = 0; i < kCapacity + kExtra; ++i) {
    ASSERT_EQ(t->Find(address(i)) != AddressTable::kNoRecord, i >= kExtra) << i;
  }
  // And addresses never added are absent, however their tags fall.
  for (uint32_t i = 0; i < kExtra; ++i) {
    ASSERT_EQ(t->Find(V4(0x0B000000u + i)), AddressTable::kNoRecord) << i;
  }
}

TEST(AddressTableTest, MembershipChainsAgreeWithAModel) {
  std::mt19937 rng(9);
  std::unique_ptr<AddressTable> t = Table(std::vector<uint32_t>(12, 400));
  std::map<std::pair<uint32_t, ListId>, Nanos> model;  // (address, list) -> expiry
  Nanos now = kS;
  for (int step = 0; step < 40000; ++step) {
    const uint32_t a = 0x0A000000u + rng() % 300;
    const ListId list = static_cast<ListId>(rng() % 12);
    const Nanos timeout = (1 + rng() % 50) * kS;
    t->Add(V4(a), list, now, timeout);
    Nanos& e = model[{a, list}];
    e = std::max(e > now ? e : 0, now + timeout);
    if (rng() % 4 == 0) {
      now += (rng() % 3) * kS;
      t->Reclaim(now, rng() % 40);
    }
    if (step % 1000 == 0) {
      size_t live = 0;
      for (const auto& [key, expiry] : model) {
        SCOPED_TRACE(step);
        ASSERT_EQ(t->ExpiryOf(V4(key.first), key.second, now), expiry > now ? expiry : 0);
        live += expiry > now;
      }
      size_t seen = 0;
      t->ForEachMember(now, [&](const IpAddress& addr, ListId l, Nanos expiry) {
        ++seen;
        const auto it = model.find({static_cast<uint32_t>(addr.bytes[0]) << 24 |
                                        static_cast<uint32_t>(addr.bytes[1]) << 16 |
                                        static_cast<uint32_t>(addr.bytes[2]) << 8 | addr.bytes[3],
                                    l});
        ASSERT_NE(it, model.end());
        EXPECT_EQ(it->second, expiry);
      });
      EXPECT_EQ(seen, live);
    }
  }
}

}  // namespace
}  // namespace knockgate
