// Static [[address-list]] entries: CIDR prefixes of both families, each tagged
// with the lists it belongs to. Built once by the compiler, read-only after.
#pragma once

#include <cstdint>
#include <vector>

#include "common/hash.h"
#include "lists/address_table.h"
#include "net/ip_address.h"

namespace knockgate {

class StaticLists {
 public:
  void Add(const Cidr& cidr, ListId list);
  // The lists whose static prefixes contain `addr`. One probe per distinct
  // prefix length present in that family, longest first; nothing at all for
  // a family without static entries.
  ListMask Lookup(const IpAddress& addr) const {
    const std::vector<Length>& by_len = addr.family == Family::kIpv4 ? v4_ : v6_;
    return by_len.empty() ? 0 : Lookup(addr, by_len);
  }
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  // An open-addressing set of the prefixes of one length, keyed by the
  // masked address as two words.
  struct Slot {
    uint64_t key[2] = {0, 0};
    ListMask lists = 0;  // 0: empty (a stored prefix is in at least one list)
  };
  struct Length {
    int bits = 0;
    uint64_t mask[2] = {0, 0};  // in memory (network) byte order
    std::vector<Slot> slots;    // a power of two, at most half full
    size_t size = 0;
  };

  static uint64_t Hash(const uint64_t key[2]) {
    return HashWords(reinterpret_cast<const uint8_t*>(key), 2, 0);
  }
  // The slot holding `key`, or the empty slot where it would go.
  static const Slot& Probe(const Length& l, const uint64_t key[2]);
  static Slot& Probe(Length& l, const uint64_t key[2]);
  static ListMask Lookup(const IpAddress& addr, const std::vector<Length>& by_len);

  std::vector<Length> v4_;
  std::vector<Length> v6_;
};

}  // namespace knockgate
