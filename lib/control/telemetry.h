// DPDK telemetry commands for a running gateway, so Debian's
// `dpdk-telemetry.py -f PREFIX` shows it live: /knockgate/info, /stats,
// /rules, /lists and /list,NAME[,PAGE].
#pragma once

#include "dataplane/dataplane.h"

namespace knockgate {

// DPDK's callbacks take no context, so one gateway per process is served:
// `plane` until UnregisterTelemetry (after which the commands answer an error).
void RegisterTelemetry(const Dataplane* plane);
void UnregisterTelemetry();

}  // namespace knockgate
