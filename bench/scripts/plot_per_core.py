#!/usr/bin/env python3
"""Plots issue 17's per-core rows from bench/results/per_core.csv (written by per_core.sh).

The bars are one run (the last, or --after RUN_ID); with --before RUN_ID that run's ratios are
drawn as hollow markers, so a change shows as before and after. The black tick is each row's
goal. Usage: plot_per_core.py CSV OUT.png [--after RUN_ID] [--before RUN_ID]
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    args = sys.argv[1:]
    path, out = args[0], args[1]
    opts = dict(zip(args[2::2], args[3::2]))
    rows = list(csv.DictReader(open(path)))
    runs = list(dict.fromkeys(r["run_id"] for r in rows))
    after = opts.get("--after", runs[-1])
    before = opts.get("--before")
    now = [r for r in rows if r["run_id"] == after]
    then = {(r["row"], r["pipeline"]): float(r["ratio"]) for r in rows if r["run_id"] == before}
    fig, ax = plt.subplots(figsize=(9, 8))
    ys = list(range(len(now)))
    ratios = [float(r["ratio"]) for r in now]
    goals = [float(r["goal"]) for r in now]
    colors = ["tab:green" if r["met"] == "True" else "tab:orange" for r in now]
    ax.barh(ys, ratios, color=colors, label=f"{now[0]['commit']} (met: green)")
    if then:
        xs = [then.get((r["row"], r["pipeline"])) for r in now]
        pts = [(x, y) for x, y in zip(xs, ys) if x is not None]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], facecolors="none",
                   edgecolors="tab:blue", s=40, zorder=3, label=f"before ({before})")
    ax.scatter(goals, ys, marker="|", s=220, color="black", zorder=4, label="goal")
    ax.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_yticks(ys, [f"{r['row']} P={r['pipeline']}" for r in now], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("usher / redis-server, operations per server-CPU-second")
    ax.set_title(f"Issue 17's rows, usher with no flags ({now[0]['cores']} cores)")
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
