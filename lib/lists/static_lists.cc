// One exact-match table per prefix length: static sets are small and have few
// distinct lengths, so this beats a trie on both code and cache.
#include "lists/static_lists.h"

#include <algorithm>

namespace knockgate {

void StaticLists::Add(const Cidr& cidr, ListId list) {
  std::vector<Length>& by_len = cidr.prefix.family == Family::kIpv4 ? v4_ : v6_;
  auto it = std::find_if(by_len.begin(), by_len.end(),
                         [&](const Length& l) { return l.bits == cidr.length; });
  if (it == by_len.end()) {
    by_len.push_back(Length{cidr.length, {}});
    it = by_len.end() - 1;
  }
  it->prefixes[cidr.prefix] |= ListMask{1} << list;
  std::sort(by_len.begin(), by_len.end(),
            [](const Length& a, const Length& b) { return a.bits > b.bits; });
}

ListMask StaticLists::Lookup(const IpAddress& addr, const std::vector<Length>& by_len) {
  ListMask mask = 0;
  for (const Length& l : by_len) {
    if (auto it = l.prefixes.find(addr.Masked(l.bits)); it != l.prefixes.end()) {
      mask |= it->second;
    }
  }
  return mask;
}

}  // namespace knockgate
