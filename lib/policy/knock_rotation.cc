// Port derivation for rotating knocks and the slots the packet path reads.
#include "policy/knock_rotation.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace knockgate {

PortMask ServedPorts(const Config& config) {
  PortMask served;
  for (const FilterRule& r : config.filters) {
    if (r.disabled || r.rotating >= 0 || !r.dst_port || r.dst_port->negated) {
      continue;
    }
    for (const auto& [lo, hi] : r.dst_port->value.ranges) {
      for (uint32_t p = lo; p <= hi; ++p) {
        served.set(p);
      }
    }
  }
  for (const SpaSection& s : config.spa) {
    if (!s.disabled) {
      served.set(s.port);
    }
  }
  return served;
}

absl::StatusOr<std::vector<uint16_t>> DeriveKnockPorts(absl::string_view secret,
                                                       uint64_t period_number, uint16_t lo,
                                                       uint16_t hi, size_t steps,
                                                       const PortMask& excluded) {
  const uint32_t n = static_cast<uint32_t>(hi) - lo + 1;
  const uint32_t limit = 65536 - 65536 % n;  // values at or past it would favour low ports
  std::vector<uint16_t> ports;
  ports.reserve(steps);
  for (uint32_t counter = 0; counter < 4096 && ports.size() < steps; ++counter) {
    uint8_t msg[12];
    for (int i = 0; i < 8; ++i) {
      msg[i] = static_cast<uint8_t>(period_number >> (56 - 8 * i));
    }
    for (int i = 0; i < 4; ++i) {
      msg[8 + i] = static_cast<uint8_t>(counter >> (24 - 8 * i));
    }
    uint8_t digest[32];
    size_t len = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(), msg,
                  sizeof(msg), digest, sizeof(digest), &len) == nullptr ||
        len != sizeof(digest)) {
      return absl::InternalError("HMAC-SHA256 failed (OpenSSL)");
    }
    for (size_t i = 0; i + 1 < sizeof(digest) && ports.size() < steps; i += 2) {
      const uint32_t v = static_cast<uint32_t>(digest[i]) << 8 | digest[i + 1];
      if (v >= limit) {
        continue;
      }
      const auto port = static_cast<uint16_t>(lo + v % n);
      if (excluded.test(port) || std::find(ports.begin(), ports.end(), port) != ports.end()) {
        continue;
      }
      ports.push_back(port);
    }
  }
  if (ports.size() < steps) {
    return absl::FailedPreconditionError(absl::StrCat("no ", steps,
                                                      " distinct free ports found in ", lo, "-", hi,
                                                      " for period ", period_number));
  }
  return ports;
}

KnockRotation::KnockRotation(const Config& config) : excluded_(ServedPorts(config)) {
  for (const RotatingKnock& r : config.rotating_knocks) {
    auto k = std::make_unique<Knock>();
    k->spec = r;
    knocks_.push_back(std::move(k));
  }
}

int KnockRotation::Find(absl::string_view name) const {
  for (size_t k = 0; k < knocks_.size(); ++k) {
    if (knocks_[k]->spec.name == name) {
      return static_cast<int>(k);
    }
  }
  return -1;
}

absl::StatusOr<std::vector<uint16_t>> KnockRotation::PortsAt(size_t k,
                                                             uint64_t period_number) const {
  return Derive(knocks_[k]->spec, period_number);
}

absl::StatusOr<std::vector<uint16_t>> KnockRotation::Derive(const RotatingKnock& r,
                                                            uint64_t period_number) const {
  return DeriveKnockPorts(r.secret, period_number, r.port_lo, r.port_hi, r.protocols.size(),
                          excluded_);
}

void KnockRotation::Fill(Knock& knock, uint64_t p) {
  Slot& s = knock.slots[p & 3];
  if (s.period.load(std::memory_order_relaxed) == p) {
    return;
  }
  const absl::StatusOr<std::vector<uint16_t>> ports = Derive(knock.spec, p);
  // Writer's half of the seqlock: the tag is void while the ports change.
  s.period.store(kEmpty, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  if (!ports.ok()) {
    return;  // stays empty: nothing matches (the config check makes this unreachable)
  }
  for (size_t i = 0; i < ports->size(); ++i) {
    s.ports[i].store((*ports)[i], std::memory_order_relaxed);
  }
  s.period.store(p, std::memory_order_release);
}

void KnockRotation::Advance(Nanos unix_now) {
  for (auto& k : knocks_) {
    const uint64_t p = KnockPeriodAt(unix_now, k->spec.period);
    for (uint64_t q = p == 0 ? 0 : p - 1; q <= p + 1; ++q) {
      Fill(*k, q);
    }
  }
}

}  // namespace knockgate
