-- knockgate's knock sequence through pktgen: one client, 198.51.100.7, sends
-- one SYN each to tcp/888, 555 and 222 (100 ms apart), then 1,000 SYNs to
-- tcp/443 at 1% of the link rate. Port 0 is the gate's WAN side, port 1 its
-- LAN side.
-- Expected outcome (perf/pktgen/run-memif.sh checks it): knockgate logs
-- 198.51.100.7 joining lists 888, 555 and secured, and pktgen's port 1
-- receives 1,001 frames: the 1,000 SYNs to tcp/443 and the knock on 222,
-- which the grant it makes lets through (as in RouterOS: the add rule does
-- not end evaluation, the secured rule below it accepts).
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;" ..
               (os.getenv("KG_PKTGEN_DIR") or ".") .. "/?.lua;"
require "Pktgen"
local kg = require "kg"

local wan = "0"
pktgen.set_mac(wan, "dst", "02:00:00:00:00:01")  -- bump in the wire: any MAC crosses
pktgen.set_ipaddr(wan, "src", "198.51.100.7/24")
pktgen.set_ipaddr(wan, "dst", "192.0.2.10")
pktgen.set_proto(wan, "tcp")
kg.cli("set 0 tcp flag clr all\nset 0 tcp flag set syn")  -- pktgen sends ACK by default
pktgen.set(wan, "size", 64)
pktgen.set(wan, "sport", 40000)
pktgen.set(wan, "rate", 1)

for _, port in ipairs({888, 555, 222}) do
  pktgen.set(wan, "dport", port)
  pktgen.set(wan, "count", 1)
  kg.send(wan)
  pktgen.delay(100)
end

-- Granted: the flow now crosses to port 1.
pktgen.set(wan, "dport", 443)
pktgen.set(wan, "count", 1000)
kg.send(wan)
kg.finish()
