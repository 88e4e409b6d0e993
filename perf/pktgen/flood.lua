-- knockgate random-source flood: 16M source addresses (10.0.0.0/8) hitting
-- closed ports 1-1024, 64-byte frames at line rate. The gate should forward
-- none of it (port 1 RX stays 0) while it keeps up: compare the gate's own
-- counters (rx, drops wan_default) with port 0's TX.
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local wan = "0"
pktgen.range.dst_mac(wan, "start", "02:00:00:00:00:01")
pktgen.range.src_ip(wan, "start", "10.0.0.1")
pktgen.range.src_ip(wan, "inc", "0.0.0.1")
pktgen.range.src_ip(wan, "min", "10.0.0.1")
pktgen.range.src_ip(wan, "max", "10.255.255.254")
pktgen.range.dst_ip(wan, "start", "192.0.2.10")
pktgen.range.dst_ip(wan, "inc", "0.0.0.0")
pktgen.range.dst_ip(wan, "min", "192.0.2.10")
pktgen.range.dst_ip(wan, "max", "192.0.2.10")
pktgen.range.ip_proto(wan, "tcp")
pktgen.range.dst_port(wan, "start", 1)
pktgen.range.dst_port(wan, "inc", 1)
pktgen.range.dst_port(wan, "min", 1)
pktgen.range.dst_port(wan, "max", 1024)
pktgen.range.pkt_size(wan, "start", 64)
pktgen.range.pkt_size(wan, "inc", 0)
pktgen.range.pkt_size(wan, "min", 64)
pktgen.range.pkt_size(wan, "max", 64)
pktgen.set_range(wan, "on")
pktgen.set(wan, "rate", 100)
pktgen.start(wan)
