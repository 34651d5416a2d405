#!/usr/bin/env python3
"""Writes an ImageNet-like test collection: JPEG photos of varying size in class folders, the same
images as WebDataset shards (written by Python's tarfile, independently of selfsup's writer) and a
CSV image-caption list. Content: a smooth two-colour gradient with a few textured shapes, the class
being the kind of the largest shape, so the images decode like photos (not like noise) and carry a
learnable label.

  make_images.py OUT [--count 20000] [--min 400x300] [--max 800x600] [--quality 90]
                     [--shard-size 1000] [--seed 0] [--jobs 2]

OUT/folder/<class>/<index>.jpg, OUT/shards/train-000000.tar ..., OUT/images.tsv (filepath<TAB>title).
"""
import argparse
import io
import os
import random
import tarfile
from multiprocessing import Pool

from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["circle", "square", "triangle", "cross", "ring", "bar", "diamond", "dots"]
COLOURS = {"red": (200, 40, 40), "green": (40, 160, 60), "blue": (40, 70, 200), "yellow": (230, 200, 40),
           "purple": (130, 50, 160), "orange": (240, 130, 30), "grey": (128, 128, 128), "white": (240, 240, 240)}


def draw_shape(d, kind, cx, cy, r, fill):
    if kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif kind == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    elif kind == "cross":
        d.rectangle([cx - r, cy - r // 4, cx + r, cy + r // 4], fill=fill)
        d.rectangle([cx - r // 4, cy - r, cx + r // 4, cy + r], fill=fill)
    elif kind == "ring":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(2, r // 4))
    elif kind == "bar":
        d.rectangle([cx - r, cy - r // 3, cx + r, cy + r // 3], fill=fill)
    elif kind == "diamond":
        d.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=fill)
    else:
        for k in range(9):
            ox, oy = (k % 3 - 1) * r * 2 // 3, (k // 3 - 1) * r * 2 // 3
            d.ellipse([cx + ox - r // 5, cy + oy - r // 5, cx + ox + r // 5, cy + oy + r // 5], fill=fill)


def make(args):
    index, seed, min_wh, max_wh, quality = args
    rng = random.Random(seed * 1_000_003 + index)
    w, h = rng.randint(min_wh[0], max_wh[0]), rng.randint(min_wh[1], max_wh[1])
    label = index % len(CLASSES)
    names = list(COLOURS)
    bg1, bg2, fg = rng.sample(names, 3)
    grad = Image.linear_gradient("L").resize((w, h)).rotate(rng.uniform(0, 360), expand=False, fillcolor=128)
    img = Image.composite(Image.new("RGB", (w, h), COLOURS[bg1]), Image.new("RGB", (w, h), COLOURS[bg2]), grad)
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):  # small distractors of other kinds
        draw_shape(d, rng.choice(CLASSES), rng.randint(0, w), rng.randint(0, h), rng.randint(2, max(3, min(w, h) // 10)),
                   COLOURS[rng.choice(names)])
    r = rng.randint(min(w, h) // 6, min(w, h) // 3)
    draw_shape(d, CLASSES[label], rng.randint(r, w - r), rng.randint(r, h - r), r, COLOURS[fg])
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    noise = Image.effect_noise((w, h), rng.uniform(8, 24)).convert("RGB")  # sensor-like grain
    img = Image.blend(img, noise, 0.08)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    caption = f"a {fg} {CLASSES[label]} on a {bg1} and {bg2} background"
    return index, label, out.getvalue(), caption


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--min", default="400x300")
    p.add_argument("--max", default="800x600")
    p.add_argument("--quality", type=int, default=90)
    p.add_argument("--shard-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=os.cpu_count())
    a = p.parse_args()
    min_wh = tuple(int(v) for v in a.min.split("x"))
    max_wh = tuple(int(v) for v in a.max.split("x"))
    for c in CLASSES:
        os.makedirs(os.path.join(a.out, "folder", c), exist_ok=True)
    os.makedirs(os.path.join(a.out, "shards"), exist_ok=True)
    rows, shard = ["filepath\ttitle"], None
    with Pool(a.jobs) as pool:
        jobs = ((i, a.seed, min_wh, max_wh, a.quality) for i in range(a.count))
        for index, label, data, caption in pool.imap(make, jobs, chunksize=64):
            rel = os.path.join("folder", CLASSES[label], f"{index:07d}.jpg")
            with open(os.path.join(a.out, rel), "wb") as f:
                f.write(data)
            rows.append(f"{rel}\t{caption}")
            if index % a.shard_size == 0:
                if shard:
                    shard.close()
                shard = tarfile.open(os.path.join(a.out, "shards", f"train-{index // a.shard_size:06d}.tar"), "w",
                                     format=tarfile.USTAR_FORMAT)
            for ext, payload in (("jpg", data), ("txt", caption.encode()), ("cls", str(label).encode())):
                info = tarfile.TarInfo(f"{index:07d}.{ext}")
                info.size = len(payload)
                shard.addfile(info, io.BytesIO(payload))
            if index % 1000 == 999:
                print(f"{index + 1}/{a.count}", flush=True)
    if shard:
        shard.close()
    with open(os.path.join(a.out, "images.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
