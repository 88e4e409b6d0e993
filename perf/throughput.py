#!/usr/bin/python3
"""Side-by-side throughput: knockgate against dpdk-testpmd (io forwarding).

Both replay the same pcap from net_pcap (infinite_rx=1) on one forwarding
lcore, out to net_null (no-rx=1), alternated A B A B; each side's RX rate is
read over DPDK telemetry (/ethdev/stats) across a fixed window after warm-up.
Prints and writes Mpps per side, their ratio (medians of the rounds), and
knockgate's own classification cycles per packet.
Usage: throughput.py KNOCKGATE PCAP_DIR OUT_JSON [--seconds S] [--rounds R]
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MBUFS = 16384  # the pcap (4096) + 2x1024 RX/TX descriptors per port + caches and bursts


def harness_config(path, spa_verify_rate=20000, workers=1):
    """The shipped recipe on net_pcap0 -> net_null0, busy-polling, plus a
    static "trusted" list for the trusted-flow profile and an [[spa]]
    section (the test keys) for the forged-SPA flood."""
    with open(os.path.join(ROOT, "conf", "knockgate.toml")) as f:
        text = f.read()
    text = text.replace('"net_af_packet0"', '"net_pcap0"').replace('"net_af_packet1"', '"net_null0"')
    text = text.replace("mbufs = 65536", "mbufs = %d" % MBUFS)
    text = text.replace("workers = 1\n", "workers = %d\n" % workers)
    text = re.sub(r'idle-sleep = "20us".*', 'idle-sleep = "0"\nstats-interval = "1s"', text)
    text += ('\n[[address-list]]\nlist = "trusted"\naddress = "10.1.0.0/16"\n\n'
             '[[filter]]\naction = "accept"\nin-interface-list = "WAN"\nsrc-address-list = "trusted"\n')
    text += ('\n[[spa]]\nname = "harness"\nkey-file = "%s"\nverify-rate = %d\n'
             % (os.path.join(ROOT, "tests", "data", "spa", "keys.txt"), spa_verify_rate))
    with open(path, "w") as f:
        f.write(text)


def telemetry_ipackets(prefix, port=0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
    s.recv(1024)
    s.send(("/ethdev/stats,%d" % port).encode())
    stats = json.loads(s.recv(65536))["/ethdev/stats"]
    s.close()
    return stats["ipackets"]


def wait_socket(prefix, proc, timeout=20):
    path = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        if os.path.exists(path):
            try:
                telemetry_ipackets(prefix)
                return True
            except (OSError, KeyError, ValueError):
                pass
        time.sleep(0.1)
    return False


def measure(cmd, prefix, seconds, log):
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            if not wait_socket(prefix, proc):
                raise RuntimeError("%s did not come up; see %s" % (cmd[0], log))
            time.sleep(1.5)  # warm-up
            a, ta = telemetry_ipackets(prefix), time.time()
            time.sleep(seconds)
            b, tb = telemetry_ipackets(prefix), time.time()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    subprocess.run(["rm", "-rf", "/var/run/dpdk/" + prefix])
    return (b - a) / (tb - ta) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("knockgate")
    ap.add_argument("pcaps")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profiles", default="trusted,flood,knock,l7knock,mix,spaflood")
    ap.add_argument("--sizes", default="64,512,1518")
    ap.add_argument("--spa-verify-rate", type=int, default=20000,
                    help="verify-rate of the harness's [[spa]] section (per worker, a second)")
    ap.add_argument("--workers", type=int, default=1,
                    help="knockgate workers; more than one runs the dispatcher (vdevs have no "
                         "RSS), lcore i on CPU min(i, CPUs - 1)")
    ap.add_argument("--no-testpmd", action="store_true", help="measure knockgate alone")
    args = ap.parse_args()
    workdir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(workdir, exist_ok=True)
    config = os.path.join(workdir, "harness.toml")
    harness_config(config, args.spa_verify_rate, args.workers)
    cpus = os.cpu_count() or 1
    lcores = ",".join("%d@%d" % (i, min(i, cpus - 1)) for i in range(args.workers + 1))
    eal = ["--lcores", lcores, "--no-huge", "-m", "1024", "--no-pci"]
    results = []
    for size in args.sizes.split(","):
        for profile in args.profiles.split(","):
            pcap = os.path.join(args.pcaps, "%s-%s.pcap" % (profile, size))
            vdevs = ["--vdev", "net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "--vdev", "net_null0,no-rx=1"]
            rates = {"knockgate": [], "testpmd": []}
            cycles = []
            for r in range(args.rounds):
                for tool in ("knockgate",) if args.no_testpmd else ("knockgate", "testpmd"):
                    prefix = "kgperf-%s-%d" % (tool, os.getpid())
                    log = os.path.join(workdir, "%s-%s-%s-%d.log" % (tool, profile, size, r))
                    if tool == "knockgate":
                        cmd = [args.knockgate] + eal + ["--file-prefix", prefix] + vdevs + \
                            ["--", "--config", config]
                    else:
                        cmd = ["dpdk-testpmd"] + eal + ["--file-prefix", prefix] + vdevs + \
                            ["--", "--forward-mode=io", "--nb-cores=1", "--total-num-mbufs=%d" % MBUFS,
                             "--stats-period", "60"]
                    rates[tool].append(measure(cmd, prefix, args.seconds, log))
                    if tool == "knockgate":
                        found = re.findall(r"cycles/pkt=([0-9.]+)", open(log).read())
                        if found:
                            cycles.append(float(found[-1]))
            kg = statistics.median(rates["knockgate"])
            tp = statistics.median(rates["testpmd"]) if rates["testpmd"] else 0.0
            row = {"profile": profile, "size": int(size), "knockgate_mpps": kg, "testpmd_mpps": tp,
                   "ratio": kg / tp if tp else 0.0, "kg_cycles_per_pkt": statistics.median(cycles) if cycles else None,
                   "knockgate_runs": rates["knockgate"], "testpmd_runs": rates["testpmd"]}
            results.append(row)
            print("%-8s %4s B  knockgate %6.2f Mpps  testpmd %6.2f Mpps  ratio %.2f  knockgate %s cycles/pkt"
                  % (profile, size, kg, tp, row["ratio"],
                     "%.0f" % row["kg_cycles_per_pkt"] if cycles else "?"), flush=True)
    with open(args.out, "w") as f:
        json.dump({"results": results, "seconds": args.seconds, "rounds": args.rounds,
                   "workers": args.workers, "cpus": cpus}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
