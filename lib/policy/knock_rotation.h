// Rotating knock sequences: a [[knock]] with a secret knocks on ports that
// change every period. For period number P = floor(Unix seconds / period),
// the ports are drawn from HMAC-SHA256(secret, P as 8 bytes big-endian ||
// counter as 4 bytes big-endian), counter 0, 1, ...: each digest is read as
// sixteen big-endian 16-bit values v, and v gives the port
// lo + v mod (hi - lo + 1) unless v falls in the last, partial stretch of
// 65536 (v >= 65536 - 65536 mod n: no bias), or the port is one a rule
// serves, or the sequence has it already. The README states the same
// algorithm for clients written elsewhere.
//
// The gate accepts the current and the previous period's port at each step.
// KnockRotation keeps, per knock, four slots tagged with their period; the
// control side fills the one before, the current and the next ahead of time,
// so the packet path switches periods by its own clock with no publication
// and no packet lost at the boundary.
#pragma once

#include <array>
#include <atomic>
#include <bitset>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "policy/model.h"

namespace knockgate {

using PortMask = std::bitset<65536>;

inline constexpr size_t kMaxRotatingSteps = 16;
// A rotating knock's port-range, less the ports rules serve, holds at least
// this many ports (a sequence drawn from a handful is guessed, not derived).
inline constexpr uint32_t kMinRotatingPorts = 256;

// Ports some rule serves, which a rotating sequence never uses: every port
// of an enabled rule's (not negated) dst-port, other than rotating steps',
// and every enabled [[spa]] section's port.
PortMask ServedPorts(const Config& config);

// The ports of `steps` steps for period `period_number`, as the header says.
// Fails only when the range leaves fewer than `steps` ports or none is found
// in 4,096 digests (not with kMinRotatingPorts left).
absl::StatusOr<std::vector<uint16_t>> DeriveKnockPorts(absl::string_view secret,
                                                       uint64_t period_number, uint16_t lo,
                                                       uint16_t hi, size_t steps,
                                                       const PortMask& excluded);

// The period number at a Unix time in ns.
inline uint64_t KnockPeriodAt(Nanos unix_ns, Nanos period) { return unix_ns / period; }

class KnockRotation {
 public:
  explicit KnockRotation(const Config& config);
  KnockRotation(const KnockRotation&) = delete;
  KnockRotation& operator=(const KnockRotation&) = delete;

  size_t size() const { return knocks_.size(); }
  const RotatingKnock& knock(size_t k) const { return knocks_[k]->spec; }
  // By [[knock]] name, or -1.
  int Find(absl::string_view name) const;
  // The sequence of knock `k` in period `period_number`.
  absl::StatusOr<std::vector<uint16_t>> PortsAt(size_t k, uint64_t period_number) const;

  // The packet path: whether `port` is step `step` of knock `k` in the
  // current or the previous period at `unix_now`. Reads only.
  bool Matches(size_t k, size_t step, uint16_t port, Nanos unix_now) const {
    const Knock& knock = *knocks_[k];
    const uint64_t p = KnockPeriodAt(unix_now, knock.spec.period);
    return SlotHas(knock, p, step, port) || (p > 0 && SlotHas(knock, p - 1, step, port));
  }

  // The control side (one thread at a time): makes the slots of the
  // previous, the current and the next period hold their ports. Cheap when
  // they do already.
  void Advance(Nanos unix_now);

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    std::atomic<uint64_t> period{kEmpty};
    std::array<std::atomic<uint16_t>, kMaxRotatingSteps> ports{};
  };
  struct alignas(64) Knock {
    RotatingKnock spec;
    std::array<Slot, 4> slots;  // by period number & 3
  };
  // A seqlock read: the slot's tag before and after the port agree.
  static bool SlotHas(const Knock& knock, uint64_t p, size_t step, uint16_t port) {
    const Slot& s = knock.slots[p & 3];
    if (s.period.load(std::memory_order_acquire) != p) {
      return false;
    }
    const uint16_t v = s.ports[step].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    return s.period.load(std::memory_order_relaxed) == p && v == port;
  }
  void Fill(Knock& knock, uint64_t p);
  absl::StatusOr<std::vector<uint16_t>> Derive(const RotatingKnock& r,
                                               uint64_t period_number) const;

  std::vector<std::unique_ptr<Knock>> knocks_;
  PortMask excluded_;
};

}  // namespace knockgate
