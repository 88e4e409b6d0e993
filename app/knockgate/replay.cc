// libpcap reader feeding the pure core. Verdict lines read like a firewall log:
// time, frame number, flow, verdict and reason.
#include "replay.h"

#include <pcap/pcap.h>

#include <array>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "classify/classifier_shard.h"
#include "classify/event_text.h"
#include "common/status_macros.h"
#include "policy/value_parsers.h"

namespace knockgate {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

std::string FlowText(const ParsedPacket& p) {
  if (p.family == Family::kNone) {
    return absl::StrFormat("non-ip ethertype=0x%04x", p.ethertype);
  }
  const char* proto = ProtocolName(p.protocol);
  std::string out = absl::StrCat(proto ? proto : std::to_string(p.protocol).c_str(), " ");
  if (p.has_ports) {
    absl::StrAppend(&out, p.src.ToString(), ":", p.src_port, " > ", p.dst.ToString(), ":",
                    p.dst_port);
  } else {
    absl::StrAppend(&out, p.src.ToString(), " > ", p.dst.ToString());
  }
  if (p.later_fragment) {
    absl::StrAppend(&out, " (fragment)");
  }
  return out;
}

std::string Seconds(Nanos t) { return absl::StrFormat("%11.6f", static_cast<double>(t) / 1e9); }

}  // namespace

absl::Status ReplayPcap(const Policy& policy, const std::string& pcap_path, std::ostream& out) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> pcap(pcap_open_offline_with_tstamp_precision(
      pcap_path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
  if (!pcap) {
    return absl::NotFoundError(absl::StrCat(pcap_path, ": ", errbuf));
  }
  if (pcap_datalink(pcap.get()) != DLT_EN10MB) {
    return absl::InvalidArgumentError(absl::StrCat(pcap_path, ": not an Ethernet capture"));
  }
  KG_ASSIGN_OR_RETURN(std::unique_ptr<ClassifierShard> shard, ClassifierShard::Create(policy));
  ClassifierState* state = &shard->state;

  std::array<uint64_t, kDropReasonCount> drops{};
  uint64_t frames = 0;
  uint64_t forwarded = 0;
  Nanos first = 0;
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(pcap.get(), &hdr, &data)) == 1) {
    const Nanos now = static_cast<Nanos>(hdr->ts.tv_sec) * kNanosPerSecond +
                      static_cast<Nanos>(hdr->ts.tv_usec);  // nanosecond precision
    if (frames++ == 0) {
      first = now;
    }
    if (policy.rotation() != nullptr) {
      policy.rotation()->Advance(now);  // the capture's time is the clock (wall_offset 0)
    }
    const std::span<const uint8_t> frame(data, hdr->caplen);
    ParsedPacket pkt;
    Decision d;
    if (DropReason bad = ParsePacket(frame, pkt); bad != DropReason::kNone) {
      d = Decision{Verdict::kDrop, bad};
    } else {
      d = Classify(policy, *state, frame, pkt, InterfaceList::kWan, now);
    }
    shard->Reclaim(now, kReclaimStep);
    const std::string time = Seconds(now - first);
    out << time << " #" << frames << " WAN " << FlowText(pkt) << " -> "
        << (d.verdict == Verdict::kAccept ? "forward" : "drop");
    if (d.reason != DropReason::kNone) {
      out << " (" << DropReasonName(d.reason) << ")";
    }
    if (d.rule != kNoId) {
      out << " rule=" << d.rule;
    }
    out << "\n";
    for (const Event& e : state->events.events()) {
      out << FormatEvent(policy, e, time) << "\n";
    }
    state->events.Clear();
    ++(d.verdict == Verdict::kAccept ? forwarded : drops[static_cast<size_t>(d.reason)]);
  }

  if (rc != PCAP_ERROR_BREAK) {
    // A truncated record or an absurd length: libpcap says which; it is not
    // the end of the capture.
    return absl::DataLossError(
        absl::StrCat(pcap_path, ": record ", frames + 1, ": ", pcap_geterr(pcap.get())));
  }
  out << "\nframes=" << frames << " forwarded=" << forwarded << "\n";
  for (size_t r = 1; r < kDropReasonCount; ++r) {
    if (drops[r] != 0) {
      out << "drop " << kDropReasonNames[r] << "=" << drops[r] << "\n";
    }
  }
  for (size_t i = 0; i < policy.rules().size(); ++i) {
    const RuleCounter& c = state->rule_counters[i];
    out << absl::StrFormat("rule %2d packets=%d bytes=%d%s\n", i, c.packets, c.bytes,
                           policy.rules()[i].spec.disabled ? " (disabled)" : "");
  }
  return absl::OkStatus();
}

}  // namespace knockgate
