// Offline replay: a pcap's frames through parser and classifier, with capture
// timestamps as the clock. The closest thing to the gateway that needs no NIC.
#pragma once

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "policy/policy.h"

namespace knockgate {

// Classifies every frame of `pcap_path` as WAN-arriving and writes one line per
// packet and per event to `out`, then the rule and drop counters.
absl::Status ReplayPcap(const Policy& policy, const std::string& pcap_path, std::ostream& out);

}  // namespace knockgate
