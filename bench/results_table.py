#!/usr/bin/env python3
"""Prints the docs/results.md table from run folders (runs/NAME/metrics.json; the fine-tune column
from runs/NAME/finetune.json and runs/finetune_random_init.json, written by bench/fmnist_finetune.sh)."""
import csv
import json
import sys


def train_time(run):
    """(seconds, images/s) over all epochs of metrics.csv (right for resumed runs too)."""
    with open(f"{run}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r["epoch_seconds"]) for r in rows)
    images = sum(float(r["images_per_s"]) * float(r["epoch_seconds"]) for r in rows)
    return seconds, images / seconds


def pct(d, key):
    return f"{100 * d[key]:.2f}" if d and key in d else "-"


def finetune(path):
    try:
        return pct(json.load(open(path)), "finetune_top1")
    except FileNotFoundError:
        return "-"


print("| run | method | backbone | epochs | train time | img/s | data wait (loader busy) | kNN top-1 | linear top-1 | fine-tune top-1 (10% labels) |")
print("|---|---|---|---|---|---|---|---|---|---|")
baseline = None
for run in sys.argv[1:]:
    m = json.load(open(f"{run}/metrics.json"))
    t, ips = train_time(run)
    print(f"| {m['name']} | {m['method']} | {m['backbone']} | {m['epochs']} | {t / 60:.1f} min "
          f"| {ips:.0f} | {100 * m.get('data_wait_share', 0):.1f}% ({100 * m.get('loader_busy_share', 0):.0f}%) "
          f"| {pct(m.get('eval'), 'knn_top1')} | {pct(m.get('eval'), 'linear_top1')} | {finetune(f'{run}/finetune.json')} |")
    baseline = baseline or m.get("baselines")
if baseline:
    runs_dir = sys.argv[1].rsplit("/", 1)[0]
    for label, key, ft in (("random init", "random_init", finetune(f"{runs_dir}/finetune_random_init.json")),
                           ("raw pixels", "raw_pixels", "-")):
        print(f"| {label} | - | - | - | - | - | - | {pct(baseline[key], 'knn_top1')} | {pct(baseline[key], 'linear_top1')} | {ft} |")
