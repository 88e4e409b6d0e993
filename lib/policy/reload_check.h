// What a reload can apply, decided once: from one comparison of the running
// config and policy with the new ones. A section is applied whole or not at
// all; what the running tables and threads cannot follow needs a restart.
#pragma once

#include <string>
#include <vector>

#include "policy/model.h"
#include "policy/policy.h"

namespace knockgate {

// Tables a gateway built at start, which a reload cannot add.
struct RunningTables {
  bool conntrack = false;  // a connection table (some rule matched connection-state)
  bool dst_limit = false;  // a dst-limit flow table
};

// Every change from `running` to `next` that needs a restart, one entry
// each ("[metrics]", "address list \"x\" is new", ...); empty when the
// reload can be applied whole. Applied live: [policy], [[filter]],
// [[knock]], [[layer7-protocol]], [[spa]], [address-list] entries, lists
// (not their capacities), [conntrack] timeouts.
std::vector<std::string> RestartNeeded(const Config& running, const Policy& running_policy,
                                       const Config& next, const Policy& next_policy,
                                       const RunningTables& tables);

// The one line a refused reload says: "changes that need a restart, so
// nothing was applied: [metrics], [state]".
std::string RestartLine(const std::vector<std::string>& needed);

}  // namespace knockgate
