#!/usr/bin/env python3
"""One training step of recipes/diffusion_cfg_fmnist.yaml in plain PyTorch, as selfsup's trainer
runs it (src/selfsup/diffusion/model.cpp, models/unet.cpp, train/step.cpp): the GroupNorm U-Net
(16-32-64 channels, one residual block per level, attention on the 7x7 level, scale-shift time +
class embedding); t uniform over the T = 1000 steps of the linear schedule (betas 1e-4..0.02),
x_t = sqrt(abar) x0 + sqrt(1 - abar) noise; the label replaced by the null class with p = 0.1
(classifier-free guidance); MSE to the noise; gradients clipped to norm 1; AdamW lr 1e-3 without
weight decay, constant lr (as `selfsup bench step`); the EMA copy updated with
min(0.999, (1 + n) / (10 + n)). Batch 128 of 1x28x28 images in [-1, 1]. Parameter names are
selfsup's ("net.*", "ema.*"), so its state dict loads as is.

  diffusion_step.py [--threads 2] [--steps 20] [--warmup 3] [--batch-size 128] [--json FILE]

Checked (2026-12-02):
  trainable parameters: selfsup 717633, this script 717633 (the EMA copy is not trained).
  loss: `selfsup bench step recipes/diffusion_cfg_fmnist.yaml threads=2 --steps 1 --warmup 0
  --dump /tmp/diff.safetensors`, then `diffusion_step.py --check /tmp/diff.safetensors`: the same
  weights and batch, t, noise and label dropout drawn from the dumped generator seed in selfsup's
  order -> loss 1.005179, selfsup 1.005179, |difference| 1.7e-07. What this proves is limited: the
  U-Net's output layer starts at zero, so the first loss is mean(noise^2) and only checks the noise
  draw (which follows the t draw). Once, with diffusion.prediction=v on both sides (the target then
  depends on t), the loss was 0.766636 vs selfsup 0.766636 (another seed: 0.777270). The U-Net
  itself, with trained weights, conditional and null class, is checked by ddim_step.py --check
  (identical sampled pixels).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import count_flops, count_parameters, load_dumped, parse_args, read_safetensors, report, report_check, time_steps

# recipes/diffusion_cfg_fmnist.yaml
CHANNELS, CHANNEL_MULT, RES_BLOCKS, ATTENTION_SIDES, HEADS, GROUPS, DROPOUT = 16, (1, 2, 4), 1, (7,), 4, 8, 0.0
T, BETA_START, BETA_END, P_UNCOND, EMA_DECAY = 1000, 1e-4, 0.02, 0.1, 0.999
LR, GRAD_CLIP, IMAGE_SIDE, IMAGE_CHANNELS, CLASSES = 1e-3, 1.0, 28, 1, 10


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1)


def zero_init(m):
    nn.init.zeros_(m.weight)
    nn.init.zeros_(m.bias)
    return m


def timestep_embedding(t, dim):
    """DDPM's sinusoidal embedding, [cos | sin] halves."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], 1)


class ResBlock(nn.Module):
    """GroupNorm, SiLU, conv; scale-shift of the second norm by the embedding; SiLU, dropout, conv."""

    def __init__(self, cin, cout, emb_dim):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(GROUPS, cin), conv3x3(cin, cout)
        self.emb_proj = nn.Linear(emb_dim, 2 * cout)
        self.norm2, self.dropout = nn.GroupNorm(GROUPS, cout), nn.Dropout(DROPOUT)
        self.conv2 = zero_init(conv3x3(cout, cout))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb_proj(F.silu(emb))[:, :, None, None].chunk(2, 1)
        h = self.conv2(self.dropout(F.silu(self.norm2(h) * (1 + scale) + shift)))
        return (self.skip(x) if self.skip is not None else x) + h


class SpatialAttention(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.norm = nn.GroupNorm(GROUPS, channels)
        self.qkv, self.proj = nn.Conv2d(channels, 3 * channels, 1), zero_init(nn.Conv2d(channels, channels, 1))

    def forward(self, x):
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, HEADS, c // HEADS, h * w).unbind(1)
        attn = torch.softmax(torch.matmul(q.transpose(-2, -1), k) / math.sqrt(c // HEADS), -1)
        return x + self.proj(torch.matmul(v, attn.transpose(-2, -1)).reshape(b, c, h, w))


class Trunk(nn.Module):
    """Time and class embedding, the down path and the middle blocks; collects the skips."""

    def __init__(self):
        super().__init__()
        self.emb_dim = 4 * CHANNELS
        self.time1, self.time2 = nn.Linear(CHANNELS, self.emb_dim), nn.Linear(self.emb_dim, self.emb_dim)
        self.class_embed = nn.Embedding(CLASSES + 1, self.emb_dim)  # row CLASSES: the null class
        self.conv_in = conv3x3(IMAGE_CHANNELS, CHANNELS)
        self.down, self.push, self.skip_widths = nn.ModuleList(), [], [CHANNELS]
        width, side = CHANNELS, IMAGE_SIDE
        for level, mult in enumerate(CHANNEL_MULT):
            for _ in range(RES_BLOCKS):
                self.down.append(ResBlock(width, CHANNELS * mult, self.emb_dim))
                width = CHANNELS * mult
                if side in ATTENTION_SIDES:
                    self.push.append(False)
                    self.down.append(SpatialAttention(width))
                self.push.append(True)
                self.skip_widths.append(width)
            if level + 1 < len(CHANNEL_MULT):
                self.down.append(conv3x3(width, width, 2))
                self.push.append(True)
                self.skip_widths.append(width)
                side //= 2
        self.mid1 = ResBlock(width, width, self.emb_dim)
        self.mid_attn = SpatialAttention(width)
        self.mid2 = ResBlock(width, width, self.emb_dim)
        self.width, self.side = width, side

    def forward(self, x, t, y):
        emb = self.time2(F.silu(self.time1(timestep_embedding(t, CHANNELS)))) + self.class_embed(y)
        h = self.conv_in(x)
        skips = [h]
        for block, push in zip(self.down, self.push):
            h = block(h, emb) if isinstance(block, ResBlock) else block(h)
            if push:
                skips.append(h)
        return self.mid2(self.mid_attn(self.mid1(h, emb)), emb), skips, emb


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = Trunk()
        self.up = nn.ModuleList()
        widths, width, side = list(self.trunk.skip_widths), self.trunk.width, self.trunk.side
        for level in reversed(range(len(CHANNEL_MULT))):
            for _ in range(RES_BLOCKS + 1):
                self.up.append(ResBlock(width + widths.pop(), CHANNELS * CHANNEL_MULT[level], self.trunk.emb_dim))
                width = CHANNELS * CHANNEL_MULT[level]
                if side in ATTENTION_SIDES:
                    self.up.append(SpatialAttention(width))
            if level > 0:
                self.up.append(conv3x3(width, width))  # after 2x nearest upsampling
                side *= 2
        self.norm_out = nn.GroupNorm(GROUPS, width)
        self.conv_out = zero_init(conv3x3(width, IMAGE_CHANNELS))

    def forward(self, x, t, y):
        h, skips, emb = self.trunk(x, t, y)
        for block in self.up:
            if isinstance(block, ResBlock):
                h = block(torch.cat([h, skips.pop()], 1), emb)
            elif isinstance(block, SpatialAttention):
                h = block(h)
            else:
                h = block(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))


class Diffusion(nn.Module):
    """The trained network and its EMA copy (what sampling uses), as selfsup's DiffusionModel."""

    def __init__(self):
        super().__init__()
        self.net, self.ema = UNet(), UNet()
        self.ema.load_state_dict(self.net.state_dict())
        self.ema.requires_grad_(False)
        betas = torch.linspace(BETA_START * 1000 / T, BETA_END * 1000 / T, T, dtype=torch.float64).clamp_max(0.999)
        self.alphas_cumprod = torch.cumprod(1 - betas, 0)  # float64, as selfsup's schedule


def diffusion_loss(model, x0, labels, generator):
    """selfsup's DiffusionModel::training_step: the draws in its order from the step's generator."""
    t = torch.randint(0, T, (len(x0),), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    dropped = torch.rand(len(x0), generator=generator) < P_UNCOND
    y = torch.where(dropped, torch.full_like(labels, CLASSES), labels)
    abar = model.alphas_cumprod[t].float().view(-1, 1, 1, 1)
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    return F.mse_loss(model.net(x_t, t, y), noise)  # eps-prediction


def check(dump):
    tensors, meta = read_safetensors(dump)
    model = Diffusion()
    load_dumped(model, tensors)
    generator = torch.Generator().manual_seed(int(meta["generator_seed"]))
    loss = diffusion_loss(model.train(), tensors["view.0"], tensors["labels"], generator)
    report_check(loss.item(), float(meta["loss"]))


def main():
    args = parse_args(__doc__.split("\n")[0], batch=128)
    if args.check:
        return check(args.check)
    model = Diffusion().train()
    params = [p for p in model.parameters() if p.requires_grad]
    # selfsup's groups (no decay on tensors of one dimension or none); the recipe's decay is 0 anyway
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() > 1]},
                                   {"params": [p for p in params if p.dim() <= 1]}], lr=LR, weight_decay=0.0)
    b = args.batch_size
    x0 = torch.rand(b, IMAGE_CHANNELS, IMAGE_SIDE, IMAGE_SIDE) * 2 - 1
    labels = torch.randint(0, CLASSES, (b,))
    state = {"step": 0}

    def step():
        n = state["step"]
        state["step"] += 1
        loss = diffusion_loss(model, x0, labels, torch.Generator().manual_seed(n))  # a generator per step
        loss.item()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        optimizer.step()
        decay = min(EMA_DECAY, (1 + n) / (10 + n))
        with torch.no_grad():
            for e, p in zip(model.ema.parameters(), model.net.parameters()):
                e.mul_(decay).add_(p, alpha=1 - decay)

    flops = count_flops(lambda: diffusion_loss(model, x0, labels, torch.Generator().manual_seed(0)), b)
    seconds = time_steps(step, args.steps, args.warmup)
    report("pytorch diffusion_cfg_fmnist step", args, b, seconds, count_parameters(model.parameters()), flops)


if __name__ == "__main__":
    main()
