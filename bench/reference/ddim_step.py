#!/usr/bin/env python3
"""One DDIM sampling step of the recipes/diffusion_cfg_fmnist.yaml U-Net in plain PyTorch, as
selfsup's sampler runs it (src/selfsup/diffusion/sampler.cpp) under `selfsup sample`'s defaults:
classifier-free guidance s = 3 with the conditional and unconditional passes as one doubled batch
(cat([x, x]), labels cat([y, null])), eps = eps_uncond + s (eps_cond - eps_uncond); the x0
estimate clamped to [-1, 1] and eps recomputed from it; eta = 0, so no noise is drawn. Eval mode,
under torch.inference_mode() (selfsup uses a NoGradGuard). The step timed is the middle one of the
50 that `selfsup sample` takes (its cost does not depend on t).

Batch: 100 images, what `selfsup sample` generates by default (10 per class, one chunk as its
--batch-size is 250), so the network sees 200 per step. images/s = images advanced by one step per
second; the FLOPs line counts both passes.

  ddim_step.py [--threads 2] [--steps 20] [--warmup 3] [--batch-size 100] [--json FILE]

Checked (2026-12-02); --check takes a selfsup checkpoint here, not a bench dump:
  parameters: the U-Net has 717633, as selfsup's (diffusion_step.py's parameter check).
  sampling: a checkpoint trained for 30 steps (so that the zero-initialised output layers are no
  longer zero); `selfsup sample --class 7 -n 16 --steps 20 --seed 0 --scale 1` against this step
  iterated over the same 20 timesteps from the same noise (seed mix_seed(0, 0), as selfsup's
  generate), with the checkpoint's EMA weights read by torch.jit.load:
      selfsup train recipes/diffusion_cfg_fmnist.yaml threads=2 run_dir=/tmp/ss_ref_runs name=ddim_check \\
          train.stop_after_steps=30 train.schedule.warmup_epochs=0 train.optimizer.lr=0.01
      ddim_step.py --check /tmp/ss_ref_runs/ddim_check/checkpoint.pt   # prints the sample command, then compares
  -> 0 of the 12544 pixels differ (uint8; 3167 of them are neither 0 nor 255). With guidance 2.5
  instead of 3, 3917 differ, by up to 207.
"""
import math
import os

import torch

from common import count_flops, count_parameters, parse_args, report, time_steps
from diffusion_step import CLASSES, IMAGE_CHANNELS, IMAGE_SIDE, Diffusion

GUIDANCE, SAMPLING_STEPS = 3.0, 50  # `selfsup sample` defaults


def guided_eps(net, x, t, y, s):
    """Classifier-free guidance with both passes in one batch (selfsup's guided_output)."""
    cond, uncond = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, CLASSES)])).chunk(2)
    return uncond + s * (cond - uncond)


def ddim_step(net, x, t, a_t, a_prev, y, s=GUIDANCE):
    """x_t -> x_prev (eta = 0). a_t, a_prev: alpha-bar at t and at the previous visited timestep."""
    eps = guided_eps(net, x, torch.full((len(x),), t, dtype=torch.long), y, s)
    abar = torch.tensor(a_t, dtype=torch.float32)
    x0 = ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1)
    eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
    return math.sqrt(a_prev) * x0 + math.sqrt(max(0.0, 1 - a_prev)) * eps


def sampling_timesteps(steps, total=1000):
    """`steps` timesteps evenly spaced over 0..T-1, rounded, ascending (selfsup's sampling_timesteps)."""
    out = []
    for i in range(steps):
        t = math.floor((total - 1) if steps == 1 else i * (total - 1) / (steps - 1) + 0.5)  # llround, values >= 0
        if not out or out[-1] != t:
            out.append(t)
    return out


def splitmix64(x):
    m = (1 << 64) - 1
    x = (x + 0x9E3779B97F4A7C15) & m
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


def check(checkpoint, label=7, n=16, steps=20):
    png = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "ddim_check.png")
    if not os.path.exists(png):
        raise SystemExit(f"run\n  selfsup sample --checkpoint {checkpoint} --class {label} -n {n} --steps {steps} "
                         f"--seed 0 --scale 1 --out {png}\nand this command again")
    from torchvision.io import read_image
    model = Diffusion()
    archive = torch.jit.load(checkpoint)  # a LibTorch archive: the weights are its "model.*" buffers
    weights = {k[len("model.ema."):]: v for k, v in archive.named_buffers() if k.startswith("model.ema.")}
    model.ema.load_state_dict(weights)
    net = model.ema.eval()
    seed = splitmix64(splitmix64(splitmix64(0) ^ 0) ^ 0)  # mix_seed(seed 0, chunk 0)
    x = torch.randn((n, IMAGE_CHANNELS, IMAGE_SIDE, IMAGE_SIDE), generator=torch.Generator().manual_seed(seed))
    y = torch.full((n,), label, dtype=torch.long)
    ts, abar = sampling_timesteps(steps), model.alphas_cumprod.tolist()
    with torch.inference_mode():
        for i in reversed(range(len(ts))):
            x = ddim_step(net, x, ts[i], abar[ts[i]], abar[ts[i - 1]] if i > 0 else 1.0, y)
    ours = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0]
    grid, side, columns = read_image(png)[0], IMAGE_SIDE, math.ceil(math.sqrt(n))  # 2-pixel gaps between tiles
    theirs = torch.stack([grid[2 + (i // columns) * (side + 2):][:side, 2 + (i % columns) * (side + 2):][:, :side]
                          for i in range(n)])
    diff = (ours.int() - theirs.int()).abs()
    print(f"check: {int((diff > 0).sum())} of {diff.numel()} pixels differ (uint8), largest difference {int(diff.max())}")
    if diff.max() > 1:
        raise SystemExit(1)


def main():
    args = parse_args(__doc__.split("\n")[0], batch=100)
    if args.check:
        return check(args.check)
    model = Diffusion()
    net = model.ema.eval()  # sampling uses the EMA weights
    b = args.batch_size
    x = torch.randn(b, IMAGE_CHANNELS, IMAGE_SIDE, IMAGE_SIDE)
    y = torch.arange(CLASSES).repeat_interleave(b // CLASSES + 1)[:b]
    ts = sampling_timesteps(SAMPLING_STEPS)
    i = len(ts) // 2
    a_t, a_prev = model.alphas_cumprod[ts[i]].item(), model.alphas_cumprod[ts[i - 1]].item()

    def step():
        with torch.inference_mode():
            return ddim_step(net, x, ts[i], a_t, a_prev, y)

    flops = count_flops(step, b)
    seconds = time_steps(step, args.steps, args.warmup)
    report("pytorch ddim step (cfg)", args, b, seconds, count_parameters(model.net.parameters()), flops)


if __name__ == "__main__":
    main()
