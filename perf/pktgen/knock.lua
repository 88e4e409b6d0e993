-- knockgate knock sequence: one client knocks tcp/888, 555, 222 (one SYN-sized
-- frame each, 100 ms apart), then sends a trusted flow to tcp/443 that the
-- gate should now forward. Port 0 is cabled to the gate's WAN port, port 1 to
-- its LAN port. Edit the MACs and addresses; run: pktgen ... -f knock.lua
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local wan, client, server = "0", "198.51.100.7", "192.0.2.10"
pktgen.set_mac(wan, "dst", "02:00:00:00:00:01")   -- the LAN server's MAC (bump in the wire)
pktgen.set_ipaddr(wan, "src", client .. "/24")
pktgen.set_ipaddr(wan, "dst", server)
pktgen.set_proto(wan, "tcp")
pktgen.set(wan, "size", 64)
pktgen.set(wan, "sport", 40000)
pktgen.set(wan, "count", 1)

for _, port in ipairs({888, 555, 222}) do
  pktgen.set(wan, "dport", port)
  pktgen.start(wan)
  pktgen.delay(100)
end

-- Granted: the flow now crosses to port 1.
pktgen.set(wan, "dport", 443)
pktgen.set(wan, "count", 0)      -- continuous
pktgen.set(wan, "rate", 100)
pktgen.start(wan)
