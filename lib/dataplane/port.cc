// ethdev setup: queue counts, descriptor rings, RSS on one L3 address with a
// redirection table that gives each hash bucket to the worker owning it.
#include "dataplane/port.h"

#include <rte_byteorder.h>
#include <rte_ethdev.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace knockgate {
namespace {

absl::Status PortError(const std::string& name, absl::string_view what, int rc) {
  return absl::InternalError(
      absl::StrCat("port ", name, ": ", what, " failed: ", rte_strerror(-rc)));
}

}  // namespace

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
  caps.reta_size = info.reta_size;
  caps.hash_key_size = info.hash_key_size;
  caps.rss_hash_offload = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH) != 0;
  const uint64_t hf = info.flow_type_rss_offloads;
  if (info.reta_size == 0 || (hf & (RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_IPV6)) == 0) {
    caps.rss_missing = "no RSS";
  } else if ((hf & RTE_ETH_RSS_IPV4) == 0 || (hf & RTE_ETH_RSS_IPV6) == 0) {
    caps.rss_missing = "no RSS for both IPv4 and IPv6";
  } else if ((hf & RTE_ETH_RSS_L3_SRC_ONLY) == 0 || (hf & RTE_ETH_RSS_L3_DST_ONLY) == 0) {
    caps.rss_missing = "no RSS on one L3 address alone (L3_SRC_ONLY/L3_DST_ONLY)";
  } else if ((info.reta_size & (info.reta_size - 1)) != 0) {
    caps.rss_missing =
        absl::StrCat("a redirection table of ", info.reta_size, " entries, not a power of two");
  } else if (info.hash_key_size != 0 && info.hash_key_size < ToeplitzHash::kMaxInput + 4) {
    caps.rss_missing = absl::StrCat("an RSS key of ", info.hash_key_size, " bytes");
  }
  caps.rss_l3 = caps.rss_missing.empty();
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
  std::vector<uint8_t> key;
  if (setup.rss != nullptr) {
    key = SteeringTable::KeyOfSize(info.hash_key_size != 0 ? info.hash_key_size
                                                           : sizeof(SteeringTable::kKey));
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
    // IP types only: with TCP or UDP types the NIC would hash the ports too,
    // whatever L3_*_ONLY says, and one client's knocks would meet different
    // workers.
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP & info.flow_type_rss_offloads) |
        (setup.side == Side::kWan ? RTE_ETH_RSS_L3_SRC_ONLY : RTE_ETH_RSS_L3_DST_ONLY);
    if (caps.rss_hash_offload) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;  // workers compare it with theirs
    }
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
  if (setup.rss != nullptr && info.reta_size > 0) {
    // Bucket i goes to the worker that owns it, as the workers check it.
    std::vector<rte_eth_rss_reta_entry64> reta(info.reta_size / RTE_ETH_RETA_GROUP_SIZE + 1);
    for (uint16_t i = 0; i < info.reta_size; ++i) {
      auto& group = reta[i / RTE_ETH_RETA_GROUP_SIZE];
      group.mask |= uint64_t{1} << (i % RTE_ETH_RETA_GROUP_SIZE);
      group.reta[i % RTE_ETH_RETA_GROUP_SIZE] = setup.rss->Owner(i);
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
