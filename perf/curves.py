#!/usr/bin/python3
"""Cost as the work grows: draws perf/curves.png from bench_classify's
BM_Curve* rows and the throughput harness's runs with 1 and 2 workers, and
writes the markdown section that perf/report.py puts into RESULTS.md.
Usage: curves.py OUT_DIR CURVES_PNG   (prints the section)
OUT_DIR holds what perf/run_all.sh collects: bench_classify.json and
workers-N.json (perf/throughput.py --workers N).
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CLASSES = {0: "trusted", 1: "unknown-source drop", 2: "stage-one knock"}


def medians(path):
    """bench_classify's rows by run name: the median aggregate where the run
    had repetitions, else the single run."""
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        rows[b.get("run_name", b["name"])] = b
    return data.get("context", {}), rows


def series(rows, prefix):
    """[(x, cycles/pkt, Mpps)] of the rows named prefix + 'ARG:X', by X."""
    out = []
    for name, b in rows.items():
        if not name.startswith(prefix):
            continue
        x = int(name[len(prefix):].split("/")[0].split(":")[1])
        out.append((x, b["cycles/pkt"], b["items_per_second"] / 1e6))
    return sorted(out)


def workers_runs(out_dir):
    runs = []
    for n in range(1, 65):
        path = os.path.join(out_dir, "workers-%d.json" % n)
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
            r = data["results"][0]
            runs.append((n, r["knockgate_mpps"], data.get("cpus")))
    return runs


def section(out_dir, png_path):
    context, rows = medians(os.path.join(out_dir, "bench_classify.json"))
    mhz = context.get("mhz_per_cpu") or 2600
    fill = {c: series(rows, "BM_CurveFill/class:%d/" % c) for c in CLASSES}
    rules = series(rows, "BM_CurveRules/")
    l7 = series(rows, "BM_CurveLayer7/")
    ct = series(rows, "BM_CurveConntrack/")
    workers = workers_runs(out_dir)

    fig, axes = plt.subplots(1, 5, figsize=(25, 4.5))

    def cycles_axis(ax, title, xlabel):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("cycles/pkt (bursts of 32)")
        ax.grid(True, which="both", alpha=0.3)
        # The same figure as classification Mpps on one core at the TSC rate.
        def mpps(v):
            return mhz / np.maximum(v, 1e-9)

        ax.secondary_yaxis("right", functions=(mpps, mpps)).set_ylabel(
            "classification Mpps at %.0f MHz" % mhz)

    ax = axes[0]
    for c, label in CLASSES.items():
        pts = fill[c]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
    ax.set_xscale("symlog", linthresh=1e4)
    cycles_axis(ax, "fill of list 888", "entries in list 888")
    ax.legend()
    for ax, pts, title, xlabel in ((axes[1], rules, "rules a packet must test", "rules"),
                                   (axes[2], l7, "layer-7 patterns (l7 knock)", "patterns"),
                                   (axes[3], ct, "established flows (replies)", "flows")):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-")
        ax.set_xscale("log")
        if ax is axes[1]:
            ax.set_yscale("log")
        cycles_axis(ax, title, xlabel)
    ax = axes[4]
    if workers:
        ax.plot([w[0] for w in workers], [w[1] for w in workers], "o-",
                label="measured here (%d vCPUs)" % workers[0][2])
        one = workers[0][1]
        ax.plot([1, 8], [one, 8 * one], "--", label="per-core model with RSS (n x one worker)")
        ax.axhline(14.88, color="grey", lw=0.8, ls=":", label="10G line, 64 B")
        ax.legend()
    ax.set_title("workers (trusted, 64 B, harness)")
    ax.set_xlabel("workers")
    ax.set_ylabel("Mpps (RX)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path, dpi=80)

    md = ["## Cost as the work grows (perf/curves.png)", "",
          "`bench_classify`'s `BM_Curve*` rows: the shipped recipe, bursts of 32, one dimension "
          "grown at a time (cycles per packet, and what that is in Mpps of classification alone "
          "on one core). Workers: the throughput harness, trusted profile, 64-byte frames.", "",
          "![cost against list fill, rules, layer-7 patterns, flows and workers](%s)"
          % os.path.basename(png_path), ""]
    md += ["| list 888 fill | " + " | ".join(CLASSES.values()) + " |",
           "|---|" + "---|" * len(CLASSES)]
    for i, (x, _, _) in enumerate(fill[0]):
        md.append("| %s | %s |" % (format(x, ","), " | ".join(
            "%.0f cycles (%.1f Mpps)" % (fill[c][i][1], fill[c][i][2]) for c in CLASSES)))
    md.append("")
    for title, pts, unit in (("rules every trusted packet tests", rules, "rules"),
                             ("layer-7 patterns (layer-7 knock)", l7, "patterns"),
                             ("established flows (conntrack replies)", ct, "flows")):
        md += ["| %s | cycles/pkt | Mpps |" % title, "|---|---|---|"]
        md += ["| %s %s | %.0f | %.2f |" % (format(x, ","), unit, c, m) for x, c, m in pts]
        md.append("")
    if len(rules) >= 2:
        (x0, c0, _), (x1, c1, _) = rules[-2], rules[-1]
        md += ["Rules grow linearly at about %.1f cycles per rule the packet must test (%s -> %s "
               "rules). Rules that a port or protocol rules out cost nothing: the candidate "
               "tables drop them before the loop." % ((c1 - c0) / (x1 - x0), format(x0, ","),
                                                       format(x1, ",")), ""]
    if workers:
        md += ["| workers | Mpps (trusted, 64 B) |", "|---|---|"]
        md += ["| %d | %.2f |" % (n, m) for n, m, _ in workers]
        md += ["", "This machine has %d vCPUs: one worker and the main lcore use both. With more "
               "than one worker the vdevs (no RSS) run the dispatcher: the main lcore reads the "
               "port and spreads packets over the workers, and the workers share a CPU, so the "
               "second worker measures contention, not scaling." % workers[0][2],
               "The per-core model: with RSS each worker owns its queue, its lists and its "
               "flows, and shares no line with another (counters and events go to the main "
               "lcore through per-worker blocks and rings), so n workers forward n times one "
               "worker's rate: 8 workers on RSS queues about %.0f Mpps. It stops at the NIC and "
               "PCIe (about 148.8 Mpps is a 100G line at 64 B), at memory bandwidth for the "
               "list and flow tables (60 MiB a worker at the shipped list sizes), and, without "
               "RSS, at the dispatcher: one lcore's receive, hash and ring enqueue for every "
               "packet." % (8 * workers[0][1]), ""]
    return md


def main():
    out_dir, png = sys.argv[1:3]
    print("\n".join(section(out_dir, png)))


if __name__ == "__main__":
    main()
