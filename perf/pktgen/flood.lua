-- A spoofed first-step flood: a million TCP SYNs to tcp/888, each from a
-- different source in 10.16.0.0/12 (clear of the trusted 10.1.0.0/16), replayed from a pcap that
-- perf/pktgen/make_flood_pcap.py writes (run-memif.sh makes it and passes it
-- to pktgen as -s 0:PCAP). It means to hit the knock port: every source
-- becomes an entry of list 888, so knockgate's list counters count the
-- distinct sources. No other port is touched.
-- Expected outcome (perf/pktgen/run-memif.sh checks it): list 888 counts at
-- least 1,000,000 additions (distinct sources; the shipped capacity 2^20
-- holds them all without eviction), nothing crosses to pktgen's port 1, and
-- nobody reaches the secured list.
package.path = package.path .. ";?.lua;test/?.lua;app/?.lua;" ..
               (os.getenv("KG_PKTGEN_DIR") or ".") .. "/?.lua;"
require "Pktgen"
local kg = require "kg"

local wan = "0"
pktgen.pcap(wan, "on")
pktgen.set(wan, "rate", 100)
kg.run_until(wan, 1000000, 90)
kg.finish()
