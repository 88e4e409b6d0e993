// Static [[address-list]] entries: CIDR prefixes of both families, each tagged
// with the lists it belongs to. Built once by the compiler, read-only after.
#pragma once

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lists/address_table.h"
#include "net/ip_address.h"

namespace knockgate {

template <typename H>
H AbslHashValue(H h, const IpAddress& a) {
  return H::combine(std::move(h), a.bytes, a.family);
}

class StaticLists {
 public:
  void Add(const Cidr& cidr, ListId list);
  // The lists whose static prefixes contain `addr`. One hash probe per distinct
  // prefix length present in that family, longest first.
  ListMask Lookup(const IpAddress& addr) const {
    const std::vector<Length>& by_len = addr.family == Family::kIpv4 ? v4_ : v6_;
    return by_len.empty() ? 0 : Lookup(addr, by_len);
  }
  bool empty() const { return v4_.empty() && v6_.empty(); }

 private:
  struct Length {
    int bits;
    absl::flat_hash_map<IpAddress, ListMask> prefixes;
  };
  static ListMask Lookup(const IpAddress& addr, const std::vector<Length>& by_len);

  std::vector<Length> v4_;
  std::vector<Length> v6_;
};

}  // namespace knockgate
