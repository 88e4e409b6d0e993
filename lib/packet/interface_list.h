// The side a packet arrived on, named as RouterOS's interface lists. Steering,
// conntrack and the rules all key on it.
#pragma once

#include <cstdint>

namespace knockgate {

enum class InterfaceList : uint8_t { kWan = 0, kLan = 1 };

inline const char* InterfaceListName(InterfaceList l) {
  return l == InterfaceList::kWan ? "WAN" : "LAN";
}

}  // namespace knockgate
