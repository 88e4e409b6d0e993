-- Helpers for knockgate's pktgen scripts (run by perf/pktgen/run-memif.sh,
-- which sets KG_OUT, a folder it reads, and KG_PKTGEN_DIR, this folder).
local M = {}

function M.out(name) return (os.getenv("KG_OUT") or "/tmp") .. "/" .. name end

-- Runs pktgen CLI lines (for what its Lua API lacks, such as TCP flags).
function M.cli(lines)
  local path = M.out("cli.cmd")
  local f = assert(io.open(path, "w"))
  f:write(lines, "\n")
  f:close()
  pktgen.run("cmd", path, "")  -- 23.03 counts three arguments, reads two
end

-- Starts `port` and waits until it has sent its count. A counted start keeps
-- the port busy for a while (pktgen rebuilds its mbufs); a start issued
-- meanwhile is silently ignored, so every counted start must wait here.
function M.send(port, timeout_ms)
  pktgen.start(port)
  local waited = 0
  pktgen.delay(20)
  while pktgen.isSending(port)[tonumber(port)] == "y" and waited < (timeout_ms or 60000) do
    pktgen.delay(20)
    waited = waited + 20
  end
end

-- Starts `port` (continuous) and stops it once it has sent `n` frames or
-- after `timeout_s`; notes the rates pktgen saw each second on the way.
M.rates = {}
function M.run_until(port, n, timeout_s)
  local p = tonumber(port)
  pktgen.start(port)
  local started = os.time()
  while pktgen.portStats(port, "port")[p].opackets < n and os.time() - started < timeout_s do
    pktgen.delay(1000)
    local tx = pktgen.portStats(port, "rate")[p].pkts_tx
    local rx = pktgen.portStats("1", "rate")[1].pkts_rx
    M.rates[#M.rates + 1] = string.format("tx %d/s rx(port 1) %d/s", tx, rx)
  end
  pktgen.stop(port)
end

-- Writes both ports' totals for run-memif.sh, then waits until it has
-- stopped knockgate (memif counters reset when a peer leaves) and quits.
function M.finish()
  pktgen.delay(2000)  -- pktgen reads its ports' counters once a second
  local tmp = M.out("pktgen-totals.tmp")
  local f = assert(io.open(tmp, "w"))
  for p = 0, 1 do
    local s = pktgen.portStats(tostring(p), "port")[p]
    f:write(string.format("pktgen port %d: tx=%d rx=%d tx_errors=%d rx_errors=%d rx_missed=%d\n",
                          p, s.opackets, s.ipackets, s.oerrors, s.ierrors, s.imissed))
  end
  for i, r in ipairs(M.rates) do
    f:write(string.format("pktgen second %d: %s\n", i, r))
  end
  f:close()
  os.rename(tmp, M.out("pktgen-totals.txt"))
  while io.open(M.out("done")) == nil do
    pktgen.delay(100)
  end
  pktgen.quit()
end

return M
