// Who owns a packet: its WAN-side address, and the worker that address belongs
// to. Steering (NIC RSS or the dispatcher), list lookups and inserts, conntrack
// and prefetch hints all take the key from WanSideAddress, and the worker from
// SteeringTable::Owner, so they cannot disagree.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/toeplitz.h"
#include "packet/interface_list.h"
#include "packet/parser.h"

namespace knockgate {

// The address whose worker holds a packet's state: the source of a packet
// arriving on the WAN, the destination of one arriving on the LAN; for an
// ICMP error, the WAN-side end of the flow it quotes (the router that sent
// the error is nobody's client). Only meaningful for IP packets.
inline const IpAddress& WanSideAddress(const ParsedPacket& p, InterfaceList in) {
  if (p.icmp_error) [[unlikely]] {
    return in == InterfaceList::kWan ? p.inner_dst : p.inner_src;
  }
  return in == InterfaceList::kWan ? p.src : p.dst;
}

// The RSS key both ports are programmed with (the Microsoft key, repeated to
// the length a port asks for) and the owner of each hash: bucket
// `hash % buckets` belongs to worker `bucket % workers`, which is also how
// each port's redirection table is filled. Immutable once built.
class SteeringTable {
 public:
  static constexpr uint32_t kDefaultBuckets = 512;  // where no NIC sets the size
  static constexpr uint8_t kKey[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                       0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                       0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                       0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

  // `buckets`: a power of two (a NIC's redirection table size).
  SteeringTable(uint16_t workers, uint32_t buckets) : hash_(kKey), owner_(buckets) {
    for (uint32_t b = 0; b < buckets; ++b) {
      owner_[b] = static_cast<uint16_t>(b % workers);
    }
    mask_ = buckets - 1;
  }

  // The key as a port of `size` bytes is programmed with.
  static std::vector<uint8_t> KeyOfSize(size_t size) {
    std::vector<uint8_t> key(size);
    for (size_t i = 0; i < size; ++i) {
      key[i] = kKey[i % sizeof(kKey)];
    }
    return key;
  }

  // What the NIC computes for an address as the whole hash input.
  uint32_t Hash(const IpAddress& a) const {
    return hash_.Hash(a.bytes.data(), a.family == Family::kIpv6 ? 16 : 4);
  }
  uint16_t Owner(uint32_t hash) const { return owner_[hash & mask_]; }
  uint16_t OwnerOf(const IpAddress& a) const { return Owner(Hash(a)); }
  uint32_t buckets() const { return mask_ + 1; }

 private:
  ToeplitzHash hash_;
  std::vector<uint16_t> owner_;  // the redirection table
  uint32_t mask_ = 0;
};

}  // namespace knockgate
