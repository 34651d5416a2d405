#!/usr/bin/env python3
"""Prints the docs/results.md table from run folders (runs/NAME/metrics.json)."""
import json
import sys


def pct(d, key):
    return f"{100 * d[key]:.2f}" if d and key in d else "-"


print("| run | method | backbone | epochs | train time | img/s | data wait (loader busy) | kNN top-1 | linear top-1 |")
print("|---|---|---|---|---|---|---|---|---|")
baseline = None
for run in sys.argv[1:]:
    m = json.load(open(f"{run}/metrics.json"))
    t = m.get("train_seconds_this_invocation", 0)
    print(f"| {m['name']} | {m['method']} | {m['backbone']} | {m['epochs']} | {t / 60:.1f} min "
          f"| {m.get('images_per_second', 0):.0f} | {100 * m.get('data_wait_share', 0):.1f}% ({100 * m.get('loader_busy_share', 0):.0f}%) "
          f"| {pct(m.get('eval'), 'knn_top1')} | {pct(m.get('eval'), 'linear_top1')} |")
    baseline = baseline or m.get("baselines")
if baseline:
    for label, key in (("random init", "random_init"), ("raw pixels", "raw_pixels")):
        print(f"| {label} | - | - | - | - | - | - | {pct(baseline[key], 'knn_top1')} | {pct(baseline[key], 'linear_top1')} |")
