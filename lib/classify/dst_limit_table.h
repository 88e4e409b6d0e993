// RouterOS's dst-limit on the data path: a token bucket per flow in a
// fixed-capacity table, in the shard that owns the flow's WAN-side address.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/token_bucket.h"
#include "net/ip_address.h"
#include "policy/model.h"

namespace knockgate {

// The fields of a packet a dst-limit mode names, with the rule, as five words.
struct DstLimitKey {
  uint64_t w[5] = {};
  static DstLimitKey Of(uint16_t rule, DstLimitMode mode, const IpAddress& src,
                        const IpAddress& dst, uint16_t dst_port);
  bool operator==(const DstLimitKey& o) const {
    return w[0] == o.w[0] && w[1] == o.w[1] && w[2] == o.w[2] && w[3] == o.w[3] && w[4] == o.w[4];
  }
};

// Fixed capacity, owned by one worker: a flow's bucket lives in one set of
// kWays slots chosen by its hash. A new flow takes a free slot of its set,
// else one idle past its rule's expire, else the one idle longest (counted
// in `evicted`: that flow starts again with a full bucket).
class DstLimitTable {
 public:
  static constexpr uint32_t kWays = 4;
  struct Stats {
    uint64_t flows = 0;    // flows given a bucket
    uint64_t evicted = 0;  // flows forgotten before their expire
  };

  static absl::StatusOr<std::unique_ptr<DstLimitTable>> Create(uint32_t capacity);
  static uint64_t MemoryFor(uint32_t capacity);

  bool Take(const DstLimitKey& key, const RateSpec& spec, Nanos expire, double cost, Nanos now);
  const Stats& stats() const { return stats_; }

 private:
  struct alignas(64) Slot {
    DstLimitKey key;
    TokenBucket bucket;
    Nanos expire = 0;
    bool used = false;
  };
  explicit DstLimitTable(uint32_t sets);

  std::vector<Slot> slots_;
  uint64_t set_mask_;
  Stats stats_;
};

}  // namespace knockgate
