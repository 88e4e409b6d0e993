// Which worker gets which packet, checkable against DESIGN.md §3 in one place:
// the mode (one worker, NIC RSS, or the main lcore dispatching), the table of
// owners the NICs' redirection tables and the dispatcher both follow, and the
// dispatcher itself. Workers re-check ownership on RSS queues (worker.cc).
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "dataplane/dataplane.h"
#include "packet/parser.h"

namespace knockgate {

absl::Status Dataplane::ChooseSteering(uint16_t workers) {
  const DataplaneConfig& dc = config_.dataplane;
  const std::string names[kSides] = {config_.interfaces.wan, config_.interfaces.lan};
  auto queues_missing = [&](int s) -> std::string {
    if (ports_[s].max_rx_queues >= workers && ports_[s].max_tx_queues >= workers) {
      return "";
    }
    return absl::StrCat("port ", names[s], " (", ports_[s].driver, ") offers ",
                        ports_[s].max_rx_queues, " rx and ", ports_[s].max_tx_queues,
                        " tx queues, not ", workers);
  };
  auto rss_missing = [&](int s) -> std::string {
    return ports_[s].rss_l3 ? ""
                            : absl::StrCat("port ", names[s], " (", ports_[s].driver, ") has ",
                                           ports_[s].rss_missing);
  };
  uint32_t buckets = SteeringTable::kDefaultBuckets;
  if (workers == 1) {
    mode_ = SteeringMode::kSingle;
  } else if (dc.steering == Steering::kDispatcher) {
    mode_ = SteeringMode::kDispatcher;
    steering_note_ = "steering = \"dispatcher\"";
  } else if (dc.steering == Steering::kRss) {
    for (int s = 0; s < kSides; ++s) {
      if (std::string why = queues_missing(s); !why.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("steering = \"rss\": ", why, "; use steering = \"dispatcher\""));
      }
    }
    mode_ = SteeringMode::kRss;
    hash_offload_ = ports_[0].rss_l3 && ports_[1].rss_l3;
    if (!hash_offload_) {
      steering_note_ = rss_missing(ports_[0].rss_l3 ? 1 : 0);
    }
  } else {
    std::string why;
    for (int s = 0; s < kSides && why.empty(); ++s) {
      why = rss_missing(s);
      if (why.empty()) {
        why = queues_missing(s);
      }
    }
    mode_ = why.empty() ? SteeringMode::kRss : SteeringMode::kDispatcher;
    hash_offload_ = why.empty();
    steering_note_ = why;
  }
  if (hash_offload_) {
    // Both redirection tables are filled from one table of owners; where the
    // sizes differ, the smaller (powers of two: it divides the larger) rules.
    buckets = std::min(ports_[0].reta_size, ports_[1].reta_size);
  }
  steering_ = std::make_unique<SteeringTable>(workers, buckets);
  return absl::OkStatus();
}

uint16_t Dataplane::SteerFrame(Side side, std::span<const uint8_t> frame) const {
  ParsedPacket pkt;
  if (ParsePacket(frame, pkt) != DropReason::kNone || pkt.family == Family::kNone) {
    return 0;  // malformed and non-IP frames: worker 0 counts or bridges them
  }
  return steering_->OwnerOf(WanSideAddress(pkt, ToInterfaceList(side)));
}

uint32_t Dataplane::PollDispatcher() {
  const uint16_t workers = static_cast<uint16_t>(workers_.size());
  const uint16_t burst = static_cast<uint16_t>(config_.dataplane.burst);
  rte_mbuf* pkts[Worker::kMaxBurst];
  rte_mbuf** const per_worker = steer_buf_.data();  // workers x burst, sized in Setup
  uint16_t* const counts = steer_counts_.data();
  uint32_t moved = 0;
  for (int s = 0; s < kSides; ++s) {
    const Side side = static_cast<Side>(s);
    const uint16_t n = rte_eth_rx_burst(ports_[s].port_id, 0, pkts, burst);
    if (n > 0) {
      std::fill(counts, counts + workers, 0);
      for (uint16_t i = 0; i < n; ++i) {
        const std::span<const uint8_t> frame(rte_pktmbuf_mtod(pkts[i], const uint8_t*),
                                             pkts[i]->data_len);
        const uint16_t w = SteerFrame(side, frame);
        per_worker[w * burst + counts[w]++] = pkts[i];
      }
      for (uint16_t w = 0; w < workers; ++w) {
        if (counts[w] == 0) {
          continue;
        }
        const unsigned queued = rte_ring_enqueue_burst(
            io_[w].in[s], reinterpret_cast<void**>(per_worker + w * burst), counts[w], nullptr);
        if (queued < counts[w]) {
          rte_pktmbuf_free_bulk(per_worker + w * burst + queued, counts[w] - queued);
          dispatch_drops_[static_cast<size_t>(DropReason::kRingFull)] += counts[w] - queued;
        }
      }
      dispatched_[s] += n;
      moved += n;
    }
    // What workers passed for this side leaves through its single TX queue.
    for (uint16_t w = 0; w < workers; ++w) {
      const unsigned got =
          rte_ring_dequeue_burst(io_[w].out[s], reinterpret_cast<void**>(pkts), burst, nullptr);
      if (got == 0) {
        continue;
      }
      const uint16_t sent =
          rte_eth_tx_burst(ports_[s].port_id, 0, pkts, static_cast<uint16_t>(got));
      if (sent < got) {
        rte_pktmbuf_free_bulk(pkts + sent, got - sent);
        dispatch_drops_[static_cast<size_t>(DropReason::kTxFull)] += got - sent;
      }
      dispatch_tx_[s] += sent;
      moved += got;
    }
  }
  return moved;
}

}  // namespace knockgate
