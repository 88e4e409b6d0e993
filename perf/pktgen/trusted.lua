-- knockgate trusted flow at line rate: sources 10.1.0.1-10.1.255.254 (the
-- static "trusted" list of perf/harness.toml, written by perf/throughput.py)
-- to the LAN server on tcp/443, 64-byte frames. Every frame should cross the
-- gate: compare port 1's RX with port 0's TX for zero-loss throughput.
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

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
pktgen.start(wan)
