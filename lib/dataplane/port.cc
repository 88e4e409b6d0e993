// ethdev setup: queue counts, descriptor rings, RSS on one L3 address with a
// RETA that maps hash buckets round-robin onto workers.
#include "dataplane/port.h"

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_thash.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace knockgate {
namespace {

// The Microsoft Toeplitz key: with a single address as the whole input tuple,
// WAN source and LAN destination of the same address hash alike under it.
constexpr uint8_t kRssKey[40] = {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
                                 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
                                 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
                                 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

absl::Status PortError(const std::string& name, absl::string_view what, int rc) {
  return absl::InternalError(
      absl::StrCat("port ", name, ": ", what, " failed: ", rte_strerror(-rc)));
}

}  // namespace

uint32_t SteeringHash(const IpAddress& addr) {
  uint32_t tuple[4];
  const int words = addr.family == Family::kIpv4 ? 1 : 4;
  for (int i = 0; i < words; ++i) {
    uint32_t be;
    std::memcpy(&be, addr.bytes.data() + 4 * i, 4);
    tuple[i] = rte_be_to_cpu_32(be);
  }
  return rte_softrss(tuple, static_cast<uint32_t>(words), kRssKey);
}

absl::StatusOr<PortCaps> ProbePort(const std::string& name) {
  PortCaps caps;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &caps.port_id) != 0) {
    std::string known;
    uint16_t id;
    RTE_ETH_FOREACH_DEV(id) {
      char n[RTE_ETH_NAME_MAX_LEN];
      if (rte_eth_dev_get_name_by_port(id, n) == 0) {
        absl::StrAppend(&known, known.empty() ? "" : ", ", n);
      }
    }
    return absl::NotFoundError(absl::StrCat(
        "port \"", name, "\" not found (ports present: ", known.empty() ? "none" : known, ")"));
  }
  rte_eth_dev_info info;
  if (int rc = rte_eth_dev_info_get(caps.port_id, &info); rc != 0) {
    return PortError(name, "rte_eth_dev_info_get", rc);
  }
  caps.max_rx_queues = info.max_rx_queues;
  caps.max_tx_queues = info.max_tx_queues;
  caps.driver = info.driver_name ? info.driver_name : "?";
  const uint64_t want = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_IPV6;
  caps.rss_l3 = (info.flow_type_rss_offloads & want) == want &&
                (info.flow_type_rss_offloads & RTE_ETH_RSS_L3_SRC_ONLY) != 0 &&
                (info.flow_type_rss_offloads & RTE_ETH_RSS_L3_DST_ONLY) != 0 && info.reta_size > 0;
  return caps;
}

absl::Status StartPort(const PortCaps& caps, const PortSetup& setup, rte_mempool* pool,
                       const std::string& name) {
  const uint16_t port = caps.port_id;
  rte_eth_dev_info info;
  if (int rc = rte_eth_dev_info_get(port, &info); rc != 0) {
    return PortError(name, "rte_eth_dev_info_get", rc);
  }
  rte_eth_conf conf{};
  if (setup.rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(kRssKey);
    conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(kRssKey);
    const uint64_t l3 =
        setup.side == Side::kWan ? RTE_ETH_RSS_L3_SRC_ONLY : RTE_ETH_RSS_L3_DST_ONLY;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    conf.rx_adv_conf.rss_conf.rss_hf |= l3;
  }
  if (int rc = rte_eth_dev_configure(port, setup.rx_queues, setup.tx_queues, &conf); rc != 0) {
    return PortError(
        name,
        absl::StrCat("configure with ", setup.rx_queues, " rx and ", setup.tx_queues, " tx queues"),
        rc);
  }
  uint16_t rxd = kDescriptorsPerQueue;
  uint16_t txd = kDescriptorsPerQueue;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd); rc != 0) {
    return PortError(name, "descriptor adjustment", rc);
  }
  const int socket = rte_eth_dev_socket_id(port);
  const unsigned sock = socket < 0 ? 0u : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < setup.rx_queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(port, q, rxd, sock, nullptr, pool); rc != 0) {
      absl::Status s = PortError(name, absl::StrCat("rx queue ", q, " setup"), rc);
      if (caps.driver == "net_pcap") {
        // infinite_rx loads the whole capture into mbufs at setup.
        return absl::Status(s.code(), absl::StrCat(s.message(),
                                                   " (with infinite_rx, [dataplane] mbufs must "
                                                   "hold every packet of the pcap as well)"));
      }
      return s;
    }
  }
  for (uint16_t q = 0; q < setup.tx_queues; ++q) {
    if (int rc = rte_eth_tx_queue_setup(port, q, txd, sock, nullptr); rc != 0) {
      return PortError(name, absl::StrCat("tx queue ", q, " setup"), rc);
    }
  }
  if (int rc = rte_eth_dev_start(port); rc != 0) {
    return PortError(name, "start", rc);
  }
  if (setup.rss && info.reta_size > 0) {
    // Hash bucket i goes to queue i % workers.
    std::vector<rte_eth_rss_reta_entry64> reta(info.reta_size / RTE_ETH_RETA_GROUP_SIZE + 1);
    for (uint16_t i = 0; i < info.reta_size; ++i) {
      auto& group = reta[i / RTE_ETH_RETA_GROUP_SIZE];
      group.mask |= uint64_t{1} << (i % RTE_ETH_RETA_GROUP_SIZE);
      group.reta[i % RTE_ETH_RETA_GROUP_SIZE] = static_cast<uint16_t>(i % setup.workers);
    }
    if (int rc = rte_eth_dev_rss_reta_update(port, reta.data(), info.reta_size); rc != 0) {
      return PortError(name, "RSS redirection table update", rc);
    }
  }
  // Promiscuous mode: a bump in the wire forwards frames for every MAC.
  rte_eth_promiscuous_enable(port);
  return absl::OkStatus();
}

void StopPort(uint16_t port_id) {
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
}

}  // namespace knockgate
