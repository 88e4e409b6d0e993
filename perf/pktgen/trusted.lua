-- A trusted flow at full speed: sources 10.1.0.1-10.1.255.254 (the static
-- "trusted" list of perf/pktgen/knockgate.toml) to the LAN server on
-- tcp/443, 64-byte frames, until pktgen has sent 2,000,000. pktgen's range
-- mode builds each frame once per mbuf, so the flow cycles through about a
-- pool's worth of sources (~24,576), all trusted.
-- Expected outcome (perf/pktgen/run-memif.sh checks it): knockgate drops
-- none of what it takes in by a rule or the default, and pktgen's port 1
-- receives every frame knockgate sends to the LAN. What knockgate could not
-- take in (its RX ring full) shows as the difference between pktgen's port 0
-- TX and knockgate's WAN RX; what it could not hand to pktgen's port 1 (that
-- port's ring full: both processes share two CPUs here) as tx_full drops.
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;" ..
               (os.getenv("KG_PKTGEN_DIR") or ".") .. "/?.lua;"
require "Pktgen"
local kg = require "kg"

local wan = "0"
pktgen.range.dst_mac(wan, "start", "02:00:00:00:00:01")
pktgen.range.src_ip(wan, "start", "10.1.0.1")
pktgen.range.src_ip(wan, "inc", "0.0.0.1")
pktgen.range.src_ip(wan, "min", "10.1.0.1")
pktgen.range.src_ip(wan, "max", "10.1.255.254")
pktgen.range.dst_ip(wan, "start", "192.0.2.10")
pktgen.range.dst_ip(wan, "inc", "0.0.0.0")
pktgen.range.dst_ip(wan, "min", "192.0.2.10")
pktgen.range.dst_ip(wan, "max", "192.0.2.10")
pktgen.range.ip_proto(wan, "tcp")
pktgen.range.dst_port(wan, "start", 443)
pktgen.range.dst_port(wan, "inc", 0)
pktgen.range.dst_port(wan, "min", 443)
pktgen.range.dst_port(wan, "max", 443)
pktgen.range.pkt_size(wan, "start", 64)
pktgen.range.pkt_size(wan, "inc", 0)
pktgen.range.pkt_size(wan, "min", 64)
pktgen.range.pkt_size(wan, "max", 64)
pktgen.set_range(wan, "on")
pktgen.set(wan, "rate", 100)
kg.run_until(wan, 2000000, 60)
kg.finish()
