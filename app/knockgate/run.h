// The gateway itself: EAL, the dataplane, signals, the event log and counters.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/policy.h"

namespace knockgate {

// Starts EAL with `eal_args`, runs the dataplane until SIGINT or SIGTERM,
// prints the final counters and returns the process exit status.
int RunGateway(const Config& config, std::shared_ptr<const Policy> policy,
               const std::vector<std::string>& eal_args);

}  // namespace knockgate
