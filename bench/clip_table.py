#!/usr/bin/env python3
"""Prints the CLIP rows of docs/results.md from run folders (runs/NAME/metrics.json + metrics.csv):
held-out retrieval recall@K both ways, zero-shot accuracy, time and images/s, and the text->image
R@10 curve over the evaluated epochs."""
import csv
import json
import sys

print("| run | loss | epochs | train time | img/s | text→image R@1 / R@5 / R@10 | image→text R@1 / R@5 / R@10 | median rank t→i / i→t | zero-shot top-1 / top-5 |")
print("|---|---|---|---|---|---|---|---|---|")
curves = []
for run in sys.argv[1:]:
    m = json.load(open(f"{run}/metrics.json"))
    with open(f"{run}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r["epoch_seconds"]) for r in rows)
    ips = sum(float(r["images_per_s"]) * float(r["epoch_seconds"]) for r in rows) / seconds
    e = m["eval"]
    t, i = e["retrieval"]["text_to_image"], e["retrieval"]["image_to_text"]
    r = lambda d: " / ".join(f"{100 * d[k]:.1f}" for k in ("r1", "r5", "r10"))
    z = e.get("zeroshot", {})
    loss = m["backbone"].rsplit("loss ", 1)[-1]
    print(f"| {m['name']} | {loss} | {m['epochs']} | {seconds / 60:.1f} min | {ips:.0f} | {r(t)} | {r(i)} "
          f"| {t['median_rank']:.0f} / {i['median_rank']:.0f} "
          f"| {100 * z.get('top1', 0):.1f} / {100 * z.get('top5', 0):.1f} |")
    curve = [f"{r['epoch']}: {100 * float(r['t2i_r10']):.1f}" for r in rows if r.get("t2i_r10")]
    curves.append(f"{m['name']}: text→image R@10 by epoch — " + ", ".join(curve))
print()
for c in curves:
    print(c)
