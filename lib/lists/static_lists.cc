// One exact-match table per prefix length: static sets are small and have few
// distinct lengths, so this beats a trie on both code and cache.
#include "lists/static_lists.h"

#include <algorithm>
#include <cstring>

namespace knockgate {

const StaticLists::Slot& StaticLists::Probe(const Length& l, const uint64_t key[2]) {
  const uint64_t m = l.slots.size() - 1;
  for (uint64_t i = Hash(key) & m;; i = (i + 1) & m) {
    const Slot& s = l.slots[i];
    if (s.lists == 0 || (s.key[0] == key[0] && s.key[1] == key[1])) {
      return s;
    }
  }
}

StaticLists::Slot& StaticLists::Probe(Length& l, const uint64_t key[2]) {
  return const_cast<Slot&>(Probe(static_cast<const Length&>(l), key));
}

void StaticLists::Add(const Cidr& cidr, ListId list) {
  std::vector<Length>& by_len = cidr.prefix.family == Family::kIpv4 ? v4_ : v6_;
  auto it = std::find_if(by_len.begin(), by_len.end(),
                         [&](const Length& l) { return l.bits == cidr.length; });
  if (it == by_len.end()) {
    Length l;
    l.bits = cidr.length;
    IpAddress ones;
    ones.bytes.fill(0xff);
    std::memcpy(l.mask, ones.Masked(cidr.length).bytes.data(), 16);
    l.slots.resize(16);
    by_len.push_back(std::move(l));
    it = by_len.end() - 1;
  }
  if (2 * (it->size + 1) > it->slots.size()) {
    std::vector<Slot> old = std::move(it->slots);
    it->slots.assign(old.size() * 2, Slot{});
    for (const Slot& s : old) {
      if (s.lists != 0) {
        Probe(*it, s.key) = s;
      }
    }
  }
  uint64_t key[2];
  std::memcpy(key, cidr.prefix.bytes.data(), 16);  // already masked
  Slot& slot = Probe(*it, key);
  if (slot.lists == 0) {
    ++it->size;
    slot.key[0] = key[0];
    slot.key[1] = key[1];
  }
  slot.lists |= ListMask{1} << list;
  std::sort(by_len.begin(), by_len.end(),
            [](const Length& a, const Length& b) { return a.bits > b.bits; });
}

ListMask StaticLists::Lookup(const IpAddress& addr, const std::vector<Length>& by_len) {
  uint64_t words[2];
  std::memcpy(words, addr.bytes.data(), 16);
  ListMask mask = 0;
  for (const Length& l : by_len) {
    const uint64_t key[2] = {words[0] & l.mask[0], words[1] & l.mask[1]};
    mask |= Probe(l, key).lists;  // 0 from an empty slot
  }
  return mask;
}

}  // namespace knockgate
