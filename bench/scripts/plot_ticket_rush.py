#!/usr/bin/env python3
"""Plots one ticket-rush invocation from bench/results/ticket_rush_summary.csv.

Left: operations per server-CPU-second for the whole mix, per pipeline depth, usher vs Redis.
Right: p99 latency per operation type, one panel per pipeline depth.

Usage: plot_ticket_rush.py SUMMARY.csv [--run RUN_ID] [--out docs/img/ticket_rush.png]
(default run: the last one in the file). Needs matplotlib (pip install matplotlib).
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OPS = ["join", "poll", "seat", "admit"]
COLORS = {
    "redis/script": "#c0392b",
    "redis/zrank": "#e67e22",
    "usher-t1/native": "#2471a3",
    "usher-t2/native": "#5dade2",
    "usher-t1/script": "#7d3c98",
}
NAMES = {
    "redis/script": "Redis 7.0.15, seed scripts (EVALSHA)",
    "redis/zrank": "Redis 7.0.15, scripts; polls ZRANK+ZCARD",
    "usher-t1/native": "usher --threads 1, native",
    "usher-t2/native": "usher --threads 2, native",
    "usher-t1/script": "usher --threads 1, seed scripts",
}


def num(v):
    return float(v) if v not in ("", None) else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("summary")
    ap.add_argument("--run")
    ap.add_argument("--out", default="docs/img/ticket_rush.png")
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.summary)))
    if not rows:
        sys.exit("empty summary")
    run = args.run or rows[-1]["run_id"]
    rows = [r for r in rows if r["run_id"] == run]
    if not rows:
        sys.exit(f"no rows for run {run}")
    labels = list(dict.fromkeys(r["label"] for r in rows))
    pipelines = sorted({int(r["pipeline"]) for r in rows})
    by = {(r["label"], int(r["pipeline"])): r for r in rows}
    ops = [op for op in OPS if any(num(r[f"{op}_ops"]) > 0 for r in rows)]

    fig, axes = plt.subplots(1, 1 + len(pipelines), figsize=(5.5 + 4.5 * len(pipelines), 4.8))
    width = 0.8 / len(labels)

    ax = axes[0]
    for i, label in enumerate(labels):
        xs, ys = [], []
        for j, p in enumerate(pipelines):
            r = by.get((label, p))
            if r and r["ops_per_server_cpu_s"]:
                xs.append(j + (i - (len(labels) - 1) / 2) * width)
                ys.append(num(r["ops_per_server_cpu_s"]) / 1000)
        bars = ax.bar(xs, ys, width, color=COLORS.get(label), label=NAMES.get(label, label))
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(pipelines)), [f"P={p}" for p in pipelines])
    ax.set_ylabel("thousand ops per server-CPU-second")
    ax.set_title("Whole mix: ops per server-CPU-second")

    for k, p in enumerate(pipelines):
        ax = axes[1 + k]
        for i, label in enumerate(labels):
            r = by.get((label, p))
            if not r:
                continue
            xs = [j + (i - (len(labels) - 1) / 2) * width for j in range(len(ops))]
            ys = [num(r[f"{op}_p99_us"]) / 1000 for op in ops]
            bars = ax.bar(xs, ys, width, color=COLORS.get(label))
            ax.bar_label(bars, fmt="%.1f", fontsize=6)
        ax.set_xticks(range(len(ops)), ops)
        ax.set_ylabel("p99 latency, ms")
        ax.set_title(f"p99 per operation, P={p}")

    mix = rows[0]["mix"].replace(";", ", ")
    fig.suptitle(
        f"Ticket rush {run}: {rows[0]['runs']} runs each (median), mix {mix}, "
        f"{rows[0]['cores']}-core VM shared with the client",
        fontsize=10,
    )
    fig.legend(loc="lower center", ncol=min(len(labels), 5), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
