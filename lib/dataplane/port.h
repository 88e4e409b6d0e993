// One DPDK ethdev found by name and started with the queues knockgate needs,
// using RSS only where the port can hash on one L3 address alone.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "packet/steering.h"
#include "policy/model.h"

struct rte_mempool;

namespace knockgate {

enum class Side : uint8_t { kWan = 0, kLan = 1 };
inline constexpr int kSides = 2;
inline Side Other(Side s) { return s == Side::kWan ? Side::kLan : Side::kWan; }
inline InterfaceList ToInterfaceList(Side s) {
  return s == Side::kWan ? InterfaceList::kWan : InterfaceList::kLan;
}

struct PortCaps {
  uint16_t port_id = 0;
  uint16_t max_rx_queues = 0;
  uint16_t max_tx_queues = 0;
  // Can hash IPv4 and IPv6 on one L3 address alone (source or destination)
  // with a power-of-two redirection table; else rss_missing says what lacks.
  bool rss_l3 = false;
  std::string rss_missing;
  uint16_t reta_size = 0;
  uint8_t hash_key_size = 0;
  bool rss_hash_offload = false;  // delivers the hash in mbuf->hash.rss
  std::string driver;
};

// Looks `name` up (a PCI address or a vdev name) and reads its capabilities.
absl::StatusOr<PortCaps> ProbePort(const std::string& name);

// Descriptors per RX and per TX queue (the PMD may adjust them down).
inline constexpr uint16_t kDescriptorsPerQueue = 1024;

struct PortSetup {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  // When set, RSS on the L3 source (WAN) or destination (LAN) only, IPv4 and
  // IPv6 types only (an L4 port in the hash would split a client over
  // workers), the redirection table filled from this table's owners.
  const SteeringTable* rss = nullptr;
  Side side = Side::kWan;
};

// Configures, sets up queues from `pool` and starts the port in promiscuous mode.
absl::Status StartPort(const PortCaps& caps, const PortSetup& setup, rte_mempool* pool,
                       const std::string& name);
void StopPort(uint16_t port_id);

}  // namespace knockgate
