// Event wording: a list add reads as a knock step, a grant or a blacklisting by
// what the rule does next to that list; operators grep these lines.
#include "classify/event_text.h"

#include "absl/strings/str_cat.h"
#include "policy/value_parsers.h"

namespace knockgate {
namespace {

std::string Endpoint(const IpAddress& a, uint16_t port, bool has_port) {
  if (!has_port) {
    return a.ToString();
  }
  return a.family == Family::kIpv6 ? absl::StrCat("[", a.ToString(), "]:", port)
                                   : absl::StrCat(a.ToString(), ":", port);
}

// "WAN tcp 10.77.0.2 > 192.0.2.10": where a packet came in, and its flow;
// with `show_ports` ([log] show-ports), "WAN tcp 10.77.0.2:40000 >
// 192.0.2.10:888". The ports of a knock sequence are its secret: by default
// no event line names them (the rule's index and comment name the step).
std::string FlowText(const Event& e, bool show_ports) {
  const char* proto = ProtocolName(e.protocol);
  const bool ports = show_ports && (e.src_port != 0 || e.dst_port != 0);
  return absl::StrCat(
      InterfaceListName(e.in), " ", proto ? proto : std::to_string(e.protocol).c_str(), " ",
      Endpoint(e.src, e.src_port, ports), " > ", Endpoint(e.dst, e.dst_port, ports));
}

}  // namespace

std::string FormatEvent(const Policy& policy, const Event& e, const std::string& time) {
  if (e.type == EventType::kSpaGrant || e.type == EventType::kSpaReject) {
    const std::string flow = FlowText(e, policy.show_ports());
    const std::string name = e.spa < policy.spa().size() ? policy.spa()[e.spa].name : "?";
    if (e.type == EventType::kSpaReject) {
      return absl::StrCat(time, " spa-reject user=", name,
                          " reason=", SpaRejectName(static_cast<SpaReject>(e.spa_reason)),
                          " worker=", static_cast<int>(e.worker), " ", flow);
    }
    return absl::StrCat(time, " spa-grant user=", name, " list=", policy.lists()[e.list].name,
                        " address=", e.address.ToString(), " timeout=", FormatDuration(e.timeout),
                        e.refresh ? " refresh=yes" : "", " worker=", static_cast<int>(e.worker),
                        " ", flow);
  }
  if (e.rule == Event::kNoRule) {  // knockgate ctl, the state file or [sync], not a packet
    const std::string list = e.list < policy.lists().size() ? policy.lists()[e.list].name : "?";
    if (e.type == EventType::kListExpire) {
      return absl::StrCat(time, " list-expire list=", list, " address=", e.address.ToString(),
                          " worker=", static_cast<int>(e.worker));
    }
    static constexpr const char* kBy[] = {"rule", "ctl", "state", "sync"};
    const char* by = kBy[static_cast<size_t>(e.origin) & 3];
    return e.type == EventType::kListRemove
               ? absl::StrCat(time, " list-remove by=", by, " list=", list,
                              " address=", e.address.ToString(),
                              " worker=", static_cast<int>(e.worker))
               : absl::StrCat(time, " list-add by=", by, " list=", list,
                              " address=", e.address.ToString(),
                              " timeout=", FormatDuration(e.timeout),
                              " worker=", static_cast<int>(e.worker));
  }
  const CompiledRule& rule = policy.rules()[e.rule];
  const std::string flow = FlowText(e, policy.show_ports());
  if (e.type == EventType::kLog) {
    return absl::StrCat(time, " log rule=", e.rule,
                        rule.spec.log_prefix.empty() ? "" : " prefix=\"", rule.spec.log_prefix,
                        rule.spec.log_prefix.empty() ? "" : "\"", " ", flow);
  }
  return absl::StrCat(time, e.refresh ? " list-refresh rule=" : " list-add rule=", e.rule,
                      " list=", policy.lists()[e.list].name, " address=", e.address.ToString(),
                      " timeout=", FormatDuration(e.timeout),
                      " worker=", static_cast<int>(e.worker), " ", flow,
                      rule.spec.comment.empty() ? "" : " comment=\"", rule.spec.comment,
                      rule.spec.comment.empty() ? "" : "\"");
}

}  // namespace knockgate
