"""What every PyTorch reference script shares: arguments, the timing loop, the FLOP count,
reading a `selfsup bench step --dump` file, and the result lines bench/vs_pytorch.sh parses.

Each script does exactly what one selfsup recipe's training step (or evaluation) does, with the
same model, batch, loss and optimiser, written the way a PyTorch user would write it."""
import argparse
import json
import statistics
import struct
import time

import torch

from flops import FlopCounter

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32,
          "U8": torch.uint8, "BF16": torch.bfloat16, "F16": torch.float16, "BOOL": torch.bool}


def parse_args(description, batch=256):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--steps", type=int, default=20, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--batch-size", type=int, default=batch)
    p.add_argument("--check", metavar="DUMP", help="a `selfsup bench step --dump` file: load its weights and batch, "
                   "compute the first step's loss and compare")
    p.add_argument("--json", metavar="FILE", help="also write the result here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    return args


def read_safetensors(path):
    """The tensors and metadata of a safetensors file (no dependency on the safetensors package)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        buf = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if end > begin else torch.empty(0, dtype=DTYPES[e["dtype"]])
        tensors[name] = t.reshape(e["shape"])
    return tensors, meta


def load_dumped(model, tensors):
    """Loads the dump's "model.*" tensors into `model` (strict: every name and shape must match)."""
    state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"weights do not match the selfsup model: missing {missing[:5]}, unexpected {unexpected[:5]}")


def report_check(loss, expected, tolerance=2e-6):
    """Same loss within `tolerance`, relative (selfsup writes the loss with 9 significant digits)."""
    diff = abs(loss - expected)
    ok = diff <= tolerance * max(1.0, abs(expected))
    print(f"check: loss {loss:.6f}, selfsup {expected:.6f}, |difference| {diff:.2e} -> {'SAME' if ok else 'DIFFERENT'}")
    if not ok:
        raise SystemExit(1)


def count_parameters(params):
    return sum(p.numel() for p in params if p.requires_grad)


def count_flops(forward_loss, batch_size):
    """FLOPs per image of one step: runs `forward_loss()` under the counter (no backward is run;
    the backward products are counted from which operands need gradients)."""
    with FlopCounter() as fc:
        forward_loss()
    return fc.forward / batch_size, fc.backward / batch_size


def time_steps(step, steps, warmup):
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def report(name, args, batch_size, median_seconds, parameters, flops=None):
    ips = batch_size / median_seconds
    print(f"{name}: parameters {parameters}, batch {batch_size}, {args.threads} threads, "
          f"median step {1000 * median_seconds:.1f} ms")
    result = {"name": name, "images_per_second": ips, "median_seconds": median_seconds, "parameters": parameters,
              "batch_size": batch_size, "threads": args.threads}
    if flops:
        fwd, bwd = flops
        print(f"flops/image: {fwd + bwd:.4g} (forward {fwd:.4g}, backward {bwd:.4g}); "
              f"achieved {ips * (fwd + bwd) / 1e9:.1f} GFLOP/s")
        result.update(flops_forward=fwd, flops_backward=bwd)
    print(f"images/s: {ips:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
