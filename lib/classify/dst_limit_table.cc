// The per-flow buckets behind dst-limit.
#include "classify/dst_limit_table.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/hash.h"

namespace knockgate {

DstLimitKey DstLimitKey::Of(uint16_t rule, DstLimitMode mode, const IpAddress& src,
                            const IpAddress& dst, uint16_t dst_port) {
  const bool use_src = mode == DstLimitMode::kSrcAddress ||
                       mode == DstLimitMode::kSrcAndDstAddresses ||
                       mode == DstLimitMode::kAddressesAndDstPort;
  const bool use_dst =
      mode == DstLimitMode::kDstAddress || mode == DstLimitMode::kSrcAndDstAddresses ||
      mode == DstLimitMode::kDstAddressAndPort || mode == DstLimitMode::kAddressesAndDstPort;
  const bool use_port = mode == DstLimitMode::kDstPort ||
                        mode == DstLimitMode::kDstAddressAndPort ||
                        mode == DstLimitMode::kAddressesAndDstPort;
  DstLimitKey k;
  if (use_src) {
    std::memcpy(&k.w[0], src.bytes.data(), 16);
  }
  if (use_dst) {
    std::memcpy(&k.w[2], dst.bytes.data(), 16);
  }
  k.w[4] = uint64_t{rule} | (uint64_t{use_port ? dst_port : uint16_t{0}} << 16) |
           (uint64_t{use_src ? static_cast<uint8_t>(src.family) : uint8_t{0}} << 32) |
           (uint64_t{use_dst ? static_cast<uint8_t>(dst.family) : uint8_t{0}} << 40);
  return k;
}

absl::StatusOr<std::unique_ptr<DstLimitTable>> DstLimitTable::Create(uint32_t capacity) {
  if (capacity == 0) {
    return absl::InvalidArgumentError("dst-limit capacity must be at least 1");
  }
  const uint32_t sets = std::bit_ceil(std::max<uint32_t>(1, (capacity + kWays - 1) / kWays));
  return std::unique_ptr<DstLimitTable>(new DstLimitTable(sets));
}

uint64_t DstLimitTable::MemoryFor(uint32_t capacity) {
  const uint32_t sets = std::bit_ceil(std::max<uint32_t>(1, (capacity + kWays - 1) / kWays));
  return uint64_t{sets} * kWays * sizeof(Slot);
}

DstLimitTable::DstLimitTable(uint32_t sets) : slots_(uint64_t{sets} * kWays), set_mask_(sets - 1) {}

bool DstLimitTable::Take(const DstLimitKey& key, const RateSpec& spec, Nanos expire, double cost,
                         Nanos now) {
  const uint64_t hash = HashWords(reinterpret_cast<const uint8_t*>(key.w), 5, 0);
  Slot* set = &slots_[((hash >> 32) & set_mask_) * kWays];
  Slot* room = nullptr;
  for (uint32_t i = 0; i < kWays; ++i) {
    Slot& s = set[i];
    if (s.used && s.key == key) {
      return s.bucket.Take(spec, cost, now);
    }
    // Free first, then idle past its expire, then idle longest.
    const auto rank = [now](const Slot& x) {
      return !x.used ? 0 : now >= x.bucket.last + x.expire ? 1 : 2;
    };
    if (room == nullptr || rank(s) < rank(*room) ||
        (rank(s) == rank(*room) && s.bucket.last < room->bucket.last)) {
      room = &s;
    }
  }
  if (room->used && now < room->bucket.last + room->expire) {
    ++stats_.evicted;
  }
  ++stats_.flows;
  *room = Slot{};
  room->key = key;
  room->expire = expire;
  room->used = true;
  return room->bucket.Take(spec, cost, now);
}

}  // namespace knockgate
