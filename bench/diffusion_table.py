#!/usr/bin/env python3
"""Prints the guided-diffusion rows of docs/results.md: the three training runs (time, images/s,
final numbers) and the guidance sweep (runs/guidance_sweep/samples.json).
Usage: diffusion_table.py JUDGE_RUN DIFFUSION_RUN NOISY_RUN SWEEP_DIR"""
import csv
import json
import sys

judge, diffusion, noisy, sweep = sys.argv[1:5]


def timing(run):
    with open(f"{run}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    seconds = sum(float(r["epoch_seconds"]) for r in rows)
    ips = sum(float(r["images_per_s"]) * float(r["epoch_seconds"]) for r in rows) / seconds
    return len(rows), seconds, ips, rows


print("| run | epochs | train time | img/s | final |")
print("|---|---|---|---|---|")
for run in (judge, diffusion, noisy):
    m = json.load(open(f"{run}/metrics.json"))
    epochs, seconds, ips, rows = timing(run)
    e = m.get("eval", {})
    if "test_top1" in e:
        final = f"test top-1 {100 * e['test_top1']:.2f}%"
    elif "test_top1_by_t" in e:
        final = "test top-1 by t: " + ", ".join(f"t={t} {100 * a:.1f}%" for t, a in sorted(e["test_top1_by_t"].items(), key=lambda kv: int(kv[0])))
    else:
        final = f"loss {float(rows[-1]['loss']):.4f} (epoch 1: {float(rows[0]['loss']):.4f})"
    print(f"| {m['name']} | {epochs} | {seconds / 60:.1f} min | {ips:.0f} | {final} |")

s = json.load(open(f"{sweep}/samples.json"))
print()
print(f"Judge accuracy on the real test images: {100 * s['judge_test_accuracy']:.2f}%. Real images, same protocol: "
      f"Fréchet distance {s['real_frechet']:.2f} (training images vs test), within-class distance {s['real_within_class']:.2f}.")
print()
print("| guidance | scale | judge accuracy | Fréchet distance | within-class distance | sampling img/s |")
print("|---|---|---|---|---|---|")
for r in s["settings"]:
    kind = "classifier-free s" if r["kind"] == "cfg" else "classifier γ (s = 0)"
    print(f"| {kind} | {r['scale']:g} | {100 * r['judge_accuracy']:.1f}% | {r['frechet']:.2f} | {r['within_class']:.2f} | {r['images_per_second']:.1f} |")
