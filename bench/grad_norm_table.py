#!/usr/bin/env python3
"""Summarises runs/NAME/grad_norms.csv of each run given: per layer group the median gradient norm,
the largest, and the number of spikes (a step whose norm exceeds 5x the median of the 20 steps
before it); with the run's last loss and kNN from metrics.csv. Prints a Markdown table."""
import csv
import statistics
import sys


def spikes(values, window=20, factor=5.0):
    return sum(1 for i in range(window, len(values))
               if values[i] > factor * statistics.median(values[i - window:i]))


print("| run | layer group | median grad norm | max | spikes (>5x the previous 20 steps' median) | last loss | kNN top-1 |")
print("|---|---|---|---|---|---|---|")
for run in sys.argv[1:]:
    with open(f"{run}/grad_norms.csv") as f:
        rows = list(csv.DictReader(f))
    with open(f"{run}/metrics.csv") as f:
        last = list(csv.DictReader(f))[-1]
    knn = f"{100 * float(last['knn_top1']):.2f}" if last.get("knn_top1") else "-"
    for group in [g for g in rows[0] if g != "step"]:
        values = [float(r[group]) for r in rows]
        print(f"| {run.split('/')[-1]} | {group} | {statistics.median(values):.3g} | {max(values):.3g} | "
              f"{spikes(values)} | {float(last['loss']):.3f} | {knn} |")
