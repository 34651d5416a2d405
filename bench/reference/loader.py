#!/usr/bin/env python3
"""The PyTorch side of bench/data_throughput.sh: what a user would write for the same loader as
bench/data/loader_bench.yaml - torchvision's ImageFolder (PIL decode), RandomResizedCrop(224,
scale=(0.2, 1)), RandomHorizontalFlip, ColorJitter(0.4, 0.4, 0.4, 0.1) applied with p=0.8,
ToTensor and Normalize, batched by a DataLoader with N worker processes. Prints images/s over
BATCHES batches after one warm-up batch.

  loader.py ROOT [--workers 2] [--batch-size 256] [--batches 20] [--size 224]
"""
import argparse
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--size", type=int, default=224)
    a = p.parse_args()
    torch.manual_seed(0)
    t = transforms.Compose([
        transforms.RandomResizedCrop(a.size, scale=(0.2, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.RandomApply([transforms.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(a.root, transform=t)
    loader = DataLoader(ds, batch_size=a.batch_size, shuffle=True, num_workers=a.workers, drop_last=True,
                        persistent_workers=a.workers > 0, prefetch_factor=4 if a.workers > 0 else 2)
    it = iter(loader)
    next(it)  # warm-up: workers started
    start = time.perf_counter()
    for _ in range(a.batches):
        x, _ = next(it)
    seconds = time.perf_counter() - start
    print(f"pytorch loader: {a.batches * a.batch_size / seconds:.1f} images/s ({a.batches} batches of {a.batch_size}, "
          f"{a.workers} workers, torch {torch.__version__})")


if __name__ == "__main__":
    main()
