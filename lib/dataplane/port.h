// One DPDK ethdev found by name and started with the queues knockgate needs,
// using RSS and checksum offloads only where the port reports them.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
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
  bool rss_l3 = false;  // can hash on the L3 address alone (src or dst)
  std::string driver;
};

// Looks `name` up (a PCI address or a vdev name) and reads its capabilities.
absl::StatusOr<PortCaps> ProbePort(const std::string& name);

// Descriptors per RX and per TX queue (the PMD may adjust them down).
inline constexpr uint16_t kDescriptorsPerQueue = 1024;

struct PortSetup {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  bool rss = false;  // hash on the L3 source (WAN) or destination (LAN)
  Side side = Side::kWan;
  uint16_t workers = 1;  // RETA spreads hash buckets over this many queues
};

// Configures, sets up queues from `pool` and starts the port in promiscuous mode.
absl::Status StartPort(const PortCaps& caps, const PortSetup& setup, rte_mempool* pool,
                       const std::string& name);
void StopPort(uint16_t port_id);

// The RSS key both ports are programmed with, and the software hash that
// reproduces what the NIC computes for one address.
uint32_t SteeringHash(const IpAddress& addr);

}  // namespace knockgate
