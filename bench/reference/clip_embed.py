#!/usr/bin/env python3
"""CLIP image-embedding throughput in plain PyTorch: what `selfsup embed` does per batch
(src/selfsup/clip/embed.cpp, augment/pipeline.cpp prepare_eval): uint8 images to float in [0, 1],
normalised with the recipe's mean/std 0.5, the image tower (recipes/clip_emoji.yaml's ResNet-18,
small stem, width 0.25, on 3x32x32) and its projection head in eval mode (BatchNorm running
statistics, no dropout), then L2-normalised; under torch.inference_mode() (selfsup uses a
NoGradGuard). Batch 512, the recipe's eval.batch_size (`selfsup embed` defaults to --batch-size 256).

  clip_embed.py [--threads 2] [--steps 20] [--warmup 3] [--batch-size 512] [--json FILE]

Checked (2026-12-02); --check takes a selfsup checkpoint here, not a bench dump:
  parameters: the image tower + projection have 799504 (the whole model's 1555729 are clip_step.py's
  check against selfsup).
  embeddings: a checkpoint of recipes/clip_emoji.yaml trained for 10 steps (so the BatchNorm
  running statistics are not the initial ones); 64 random 32x32 RGB PNGs embedded by `selfsup embed`
  and by this script with the checkpoint's weights (read by torch.jit.load):
      selfsup train recipes/clip_emoji.yaml threads=2 run_dir=/tmp/ss_ref_runs name=clip_check \\
          train.stop_after_steps=10 train.schedule.warmup_epochs=0
      clip_embed.py --check /tmp/ss_ref_runs/clip_check/checkpoint.pt   # writes the PNGs, prints the embed command
  -> largest |difference| 6.7e-08 over the 64 x 256 embedding values (with train-mode BatchNorm: 0.08).
"""
import json
import os
import struct

import torch
import torch.nn.functional as F

from clip_step import Clip
from common import count_flops, count_parameters, parse_args, report, time_steps

MEAN, STD = 0.5, 0.5  # recipes/clip_emoji.yaml's view


def embed(model, images_u8):
    x = (images_u8.float() / 255 - MEAN) / STD
    return F.normalize(model.encode_images(x), dim=1)


def read_index(path):
    """selfsup's index file: "SSIDX001", u64 header size, JSON header, count x dim float32."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[8:16])[0]
    header = json.loads(data[16:16 + n])
    rows = torch.frombuffer(bytearray(data[16 + n:]), dtype=torch.float32).view(header["count"], header["dim"])
    return rows, header["paths"]


def check(checkpoint, n=64):
    from torchvision.io import read_image, write_png
    folder = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "embed_check")
    index = os.path.join(folder, "index.bin")
    if not os.path.exists(index):
        os.makedirs(folder, exist_ok=True)
        images = torch.randint(0, 256, (n, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
        for i, image in enumerate(images):  # 32x32 already: selfsup decodes them without resizing
            write_png(image, os.path.join(folder, f"{i:03d}.png"))
        raise SystemExit(f"run\n  selfsup embed --checkpoint {checkpoint} --images {folder} --out {index}\n"
                         "and this command again")
    model = Clip()
    archive = torch.jit.load(checkpoint)  # a LibTorch archive: the weights are its "model.*" buffers
    weights = {k[len("model."):]: v for k, v in archive.named_buffers() if k.startswith("model.")}
    model.load_state_dict(weights)
    theirs, paths = read_index(index)
    with torch.inference_mode():
        ours = embed(model.eval(), torch.stack([read_image(p) for p in paths]))
    diff = (ours - theirs).abs().max().item()
    tower = count_parameters(list(model.image_encoder.parameters()) + list(model.image_projection.parameters()))
    print(f"check: image tower + projection {tower} parameters; largest |difference| {diff:.2e} over "
          f"{ours.numel()} embedding values -> {'SAME' if diff < 1e-5 else 'DIFFERENT'}")
    if diff >= 1e-5:
        raise SystemExit(1)


def main():
    args = parse_args(__doc__.split("\n")[0], batch=512)
    if args.check:
        return check(args.check)
    model = Clip().eval()
    images = torch.randint(0, 256, (args.batch_size, 3, 32, 32), dtype=torch.uint8)

    def step():
        with torch.inference_mode():
            return embed(model, images)

    params = list(model.image_encoder.parameters()) + list(model.image_projection.parameters())
    flops = count_flops(step, args.batch_size)
    seconds = time_steps(step, args.steps, args.warmup)
    report("pytorch clip_emoji embed", args, args.batch_size, seconds, count_parameters(params), flops)


if __name__ == "__main__":
    main()
