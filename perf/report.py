#!/usr/bin/python3
"""Writes perf/RESULTS.md, perf/RESULTS.png and perf/curves.png from what
perf/run_all.sh collects (Google Benchmark JSON, perf/throughput.py's JSON,
bench_sync's and run-memif.sh's output), checking each goal of issue 22 (and
those of issue 5 that still stand) against the numbers rather than by hand.
Usage: report.py OUT_DIR RESULTS_MD RESULTS_PNG
"""
import json
import os
import platform
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import curves  # noqa: E402


bench = curves.medians


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def dpdk_version():
    try:
        return subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def main():
    out, md_path, png_path = sys.argv[1:4]
    _, cls = bench(os.path.join(out, "bench_classify.json"))
    _, lists = bench(os.path.join(out, "bench_lists.json"))
    _, l7 = bench(os.path.join(out, "bench_l7.json"))
    _, spa = bench(os.path.join(out, "bench_spa.json"))
    with open(os.path.join(out, "throughput.json")) as f:
        tput = json.load(f)

    md = ["# knockgate performance results", "",
          "Regenerate everything with `perf/run_all.sh` (about 40 minutes; with `PKTGEN` set it "
          "also runs the pktgen scripts over memif). Machine: %s, %d vCPUs "
          "(shared, not isolated); DPDK %s; kernel %s; the `build/` tree (debugoptimized). "
          "Figures are medians of repetitions; "
          "the throughput ratio compares knockgate with testpmd measured in the same run, "
          "alternated A B A B. Every figure below comes from one run of that script, on the "
          "recipe exactly as shipped (`conf/knockgate.toml`: list 888 at 2^20 entries)."
          % (cpu_model(), os.cpu_count(), dpdk_version(), platform.release()), ""]

    md += ["## Classification (perf/bench_classify.cc)", "",
           "Parser + classifier on the shipped recipe with its blacklists enabled. `/1`: one packet "
           "at a time; `/32`: a burst through `ClassifyBurst` (what a worker runs: parse all, "
           "prefetch table slots, classify).", "",
           "| traffic class | ns/pkt (1) | cycles/pkt (1) | ns/pkt (32) | cycles/pkt (32) |",
           "|---|---|---|---|---|"]
    names = [("BM_Trusted", "trusted flow"), ("BM_UnknownDrop", "unknown-source drop"),
             ("BM_StageOneKnock", "stage-one knock"), ("BM_Layer7Knock", "layer-7 knock"),
             ("BM_Blacklisted", "blacklisted source"), ("BM_ConntrackReply", "conntrack reply")]
    cycles32 = {}
    for key, label in names:
        one, burst = cls[key + "/1"], cls[key + "/32"]
        cycles32[key] = burst["cycles/pkt"]
        md.append("| %s | %.1f | %.0f | %.1f | %.0f |" % (
            label, one["real_time"], one["cycles/pkt"], burst["real_time"] / 32, burst["cycles/pkt"]))
    md.append("")
    md += ["With list `888` holding 10^6 entries (the fill issue 22's classification goals are "
           "stated at), bursts of 32, and the new-source flood: every packet a spoofed SYN at 888 "
           "from a source never seen, list `888` full at its shipped 2^20, every packet an insert "
           "that evicts.", "",
           "| traffic class | ns/pkt (32) | cycles/pkt (32) |", "|---|---|---|"]
    for key, label in names:
        full = cls.get("RunWithFullList/%s_888full" % key[3:])
        if full:
            md.append("| %s, 888 at 10^6 | %.1f | %.0f |" % (label, full["real_time"] / 32,
                                                           full["cycles/pkt"]))
    flood = cls.get("BM_NewSourceFlood")
    if flood:
        md.append("| new-source flood, 888 full (%.2f evictions/pkt) | %.1f | %.0f |" % (
            flood["evictions/pkt"], flood["real_time"] / 32, flood["cycles/pkt"]))
    md.append("")

    md += ["## Address lists (perf/bench_lists.cc)", "",
           "One list of N entries. bytes/entry is the process's resident memory growth while "
           "creating and filling the table, divided by N (not `sizeof`).", "",
           "| entries | lookup hit ns | lookup miss ns | refresh ns | insert at capacity ns | bytes/entry |",
           "|---|---|---|---|---|---|"]
    for n in (1000, 100000, 1000000, 10000000):
        hit = lists.get("BM_LookupHit/%d" % n)
        miss = lists.get("BM_LookupMiss/%d" % n)
        ref = lists.get("BM_Refresh/%d" % n)
        ins = lists.get("BM_InsertAtCapacity/%d" % n)
        md.append("| %s | %.1f | %.1f | %.1f | %s | %.1f |" % (
            format(n, ","), hit["real_time"], miss["real_time"], ref["real_time"],
            "%.1f" % ins["real_time"] if ins else "-", hit["bytes/entry"]))
    loop = next(v for k, v in lists.items() if k.startswith("BM_LoopDuringMassExpiry"))
    md += ["", "While 1,000,000 entries expire at once, a worker-loop iteration (a burst of 32 "
           "lookups and one reclaim step of at most kReclaimStep = 16 entries): p50 %.1f µs, p99 %.1f µs, "
           "p99.9 %.1f µs, max %.1f µs; longest single reclaim step %.1f µs; %d steps." % (
               loop["loop_p50_ns"] / 1e3, loop["loop_p99_ns"] / 1e3, loop["loop_p99.9_ns"] / 1e3,
               loop["loop_max_ns"] / 1e3, loop["longest_reclaim_step_ns"] / 1e3, loop["steps"]), ""]

    md += ["## Layer 7 (perf/bench_l7.cc)", "",
           "64-byte payloads, case-insensitive, in two forms. *Anchored*: the payload is the "
           "passphrase, as the seed's `^passphrase/$` (62-character passphrases sharing a "
           "`knock-NNNNNN-` prefix). *Unanchored*: a random 16-character token anywhere in the "
           "payload (here inside an HTTP request line), as RouterOS matches a layer7 regexp "
           "without `^`/`$`. Every engine stops at the first match. PCRE2 with JIT: all patterns "
           "in one alternation, match data allocated once. std::regex: one object per pattern "
           "(libstdc++ cannot compile a 10,000-way alternation in reasonable time).", "",
           "| form | patterns | payload | Hyperscan ns | PCRE2-JIT ns | std::regex ns | best baseline / Hyperscan |",
           "|---|---|---|---|---|---|---|"]
    speedup100 = {}
    for anchored in (1, 0):
        form = "anchored" if anchored else "unanchored"
        for n in (1, 100, 10000):
            for m in (1, 0):
                key = "patterns:%d/match:%d/anchored:%d" % (n, m, anchored)
                hs = l7["BM_Hyperscan/" + key]["real_time"]
                pc = l7.get("BM_Pcre2Jit/" + key)
                pc_t = pc["real_time"] if pc and not pc.get("error_occurred") else None
                sr = l7["BM_StdRegex/" + key]["real_time"]
                best = min(t for t in (pc_t, sr) if t is not None)
                if n == 100:
                    speedup100[(form, m)] = best / hs
                md.append("| %s | %s | %s | %.1f | %s | %.1f | %.2f× |" % (
                    form, format(n, ","), "match" if m else "no match", hs,
                    "%.1f" % pc_t if pc_t is not None else "fails to compile", sr, best / hs))
    md.append("")

    md += ["## Throughput (perf/throughput.py)", "",
           "net_pcap (infinite_rx) → one forwarding lcore → net_null; RX Mpps read over DPDK "
           "telemetry for %gs after warm-up, median of %d alternated rounds. testpmd runs io "
           "forwarding (no inspection); knockgate runs the shipped recipe plus a static trusted "
           "list. The pcap PMD's per-packet copy dominates testpmd's figure." % (
               tput["seconds"], tput["rounds"]), "",
           "| profile | frame | knockgate Mpps | testpmd Mpps | ratio | knockgate cycles/pkt |",
           "|---|---|---|---|---|---|"]
    for r in tput["results"]:
        md.append("| %s | %d B | %.2f | %.2f | %.2f | %s |" % (
            r["profile"], r["size"], r["knockgate_mpps"], r["testpmd_mpps"], r["ratio"],
            "%.0f" % r["kg_cycles_per_pkt"] if r["kg_cycles_per_pkt"] else "?"))
    md.append("")

    md += ["## SPA (perf/bench_spa.cc)", "",
           "One fwknop message (tests/data/spa) through the verifier: what an accepted packet, a "
           "forged one (one byte of the HMAC changed) and a non-base64 one cost a worker.", "",
           "| message | ns | cycles |", "|---|---|---|"]
    for key, label in (("BM_SpaAccepted", "accepted"), ("BM_SpaForged", "forged (HMAC refused)"),
                       ("BM_SpaNotBase64", "not base64 (format refused)")):
        if key in spa:
            md.append("| %s | %.0f | %.0f |" % (label, spa[key]["real_time"],
                                               spa[key]["cycles/pkt"]))
    md.append("")

    sync_txt = os.path.join(out, "bench_sync.txt")
    md += ["## Sync (perf/bench_sync.cc)", "",
           "Two gateways' sync engines and a real `redis-server` on a Unix socket; B applies into "
           "a running dataplane (one worker, net_null ports) through its control rings.", ""]
    if os.path.exists(sync_txt):
        lines = [line.rstrip() for line in open(sync_txt)
                 if re.match(r"(propagation|throughput|resync|B's worker)", line)]
        md += ["```"] + lines + ["```", ""]
    else:
        md += ["Not run.", ""]

    md += ["## pktgen over memif (perf/pktgen/run-memif.sh)", "",
           "pktgen 23.03.0 on two memif client ports against knockgate's memif server ports, "
           "each script's expected outcome checked (`ok`/`FAIL`).", ""]
    memif = [n for n in ("knock", "trusted", "flood")
             if os.path.exists(os.path.join(out, "memif-%s.txt" % n))]
    if memif:
        for n in memif:
            text = open(os.path.join(out, "memif-%s.txt" % n)).read().splitlines()
            keep = [line for line in text if re.match(r"(pktgen |ok |FAIL|port |list 888)", line)]
            md += ["`%s.lua`:" % n, "", "```"] + keep + ["```", ""]
    else:
        md += ["Not run in this run (PKTGEN unset: pktgen is not a Debian package; README, "
               "building pktgen).", ""]

    md += curves.section(out, os.path.join(os.path.dirname(png_path), "curves.png"))

    # Goals, judged from the numbers above.
    ratios64 = {r["profile"]: r["ratio"] for r in tput["results"] if r["size"] == 64}
    bytes10m = lists["BM_LookupHit/10000000"]["bytes/entry"]
    mpps64 = {r["profile"]: r["knockgate_mpps"] for r in tput["results"] if r["size"] == 64}
    slowest = min(mpps64, key=mpps64.get)
    worst = min(ratios64, key=ratios64.get)
    full = {key: cls["RunWithFullList/%s_888full" % key[3:]]["cycles/pkt"] for key, _ in names}
    flood_mpps = flood["items_per_second"] / 1e6 if flood else 0.0
    goals = [
        ("every 64-byte profile (%s) at or above 14.88 Mpps on one worker" % ", ".join(mpps64),
         min(mpps64.values()) >= 14.88,
         "slowest: %s %.2f Mpps" % (slowest, mpps64[slowest])),
        ("new-source flood at a full 2^20 list: at least 7.4 Mpps per worker "
         "(classification alone, bench_classify)", flood_mpps >= 7.4,
         "%.2f Mpps (%.0f cycles/pkt)" % (flood_mpps, flood["cycles/pkt"] if flood else 0)),
        ("classification with 888 at 10^6: unknown-source drop ≤ 45 cycles",
         full["BM_UnknownDrop"] <= 45, "%.0f cycles" % full["BM_UnknownDrop"]),
        ("classification with 888 at 10^6: trusted ≤ 55 cycles", full["BM_Trusted"] <= 55,
         "%.0f cycles" % full["BM_Trusted"]),
        ("classification with 888 at 10^6: stage-one knock ≤ 80 cycles",
         full["BM_StageOneKnock"] <= 80, "%.0f cycles" % full["BM_StageOneKnock"]),
        ("classification with 888 at 10^6: layer-7 knock ≤ 90 cycles",
         full["BM_Layer7Knock"] <= 90, "%.0f cycles" % full["BM_Layer7Knock"]),
        ("knockgate ≥ 0.6 × testpmd io on every 64-byte profile", min(ratios64.values()) >= 0.6,
         "worst: %s %.2f" % (worst, ratios64[worst])),
        ("Hyperscan ≥ 10× the best of std::regex and PCRE2-JIT on 100 anchored passphrases",
         min(speedup100[("anchored", 1)], speedup100[("anchored", 0)]) >= 10,
         "%.2f× (match), %.2f× (no match)" % (speedup100[("anchored", 1)],
                                              speedup100[("anchored", 0)])),
        ("Hyperscan ≥ 10× the best of std::regex and PCRE2-JIT on 100 unanchored tokens",
         min(speedup100[("unanchored", 1)], speedup100[("unanchored", 0)]) >= 10,
         "%.2f× (match), %.2f× (no match)" % (speedup100[("unanchored", 1)],
                                              speedup100[("unanchored", 0)])),
        ("10M entries per worker at ≤ 64 bytes each", bytes10m <= 64, "%.1f bytes/entry" % bytes10m),
        ("p99.9 worker loop < 50 µs while 1M entries expire", loop["loop_p99.9_ns"] < 50e3,
         "p99.9 %.1f µs" % (loop["loop_p99.9_ns"] / 1e3)),
    ]
    md += ["## Goals", "",
           "Issue 22's goals first, then those of issue 5 that still stand. A missed goal's "
           "profile (where the cycles go, measured) and what would close it are in the notes "
           "below.", "", "| goal | met | measured |", "|---|---|---|"]
    for goal, met, figure in goals:
        md.append("| %s | %s | %s |" % (goal, "yes" if met else "**no**", figure))
    md += ["", "![knockgate and testpmd by profile and frame size](RESULTS.png)", ""]
    notes = os.path.join(os.path.dirname(md_path), "RESULTS-notes.md")
    if os.path.exists(notes):
        md += [open(notes).read()]
    with open(md_path, "w") as f:
        f.write("\n".join(md))

    # The plot: Mpps by profile, one panel per frame size.
    sizes = sorted({r["size"] for r in tput["results"]})
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 4), sharey=False)
    if len(sizes) == 1:
        axes = [axes]
    for ax, size in zip(axes, sizes):
        rows = [r for r in tput["results"] if r["size"] == size]
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r["testpmd_mpps"] for r in rows], 0.4, label="testpmd io")
        ax.bar([i + 0.2 for i in x], [r["knockgate_mpps"] for r in rows], 0.4, label="knockgate")
        ax.set_xticks(list(x))
        ax.set_xticklabels([r["profile"] for r in rows])
        ax.set_title("%d-byte frames" % size)
        ax.set_ylabel("Mpps (one forwarding lcore)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)


if __name__ == "__main__":
    main()
