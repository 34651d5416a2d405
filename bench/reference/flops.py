"""Counts the floating-point operations of a training step, layer by layer, as they execute.

Every convolution and matrix product that runs inside `FlopCounter()` is counted (2 FLOPs per
multiply-add): its forward cost, plus one forward-sized product in the backward pass for each
operand that requires a gradient (the input gradient and the weight gradient of a layer are each
one product of the forward's size; a layer under no_grad, such as a momentum encoder, costs
nothing in backward; the first layer, whose input needs no gradient, costs one). Element-wise
work (BatchNorm, activations, the optimiser) is left out: it is memory-bound and small in FLOPs.

    with FlopCounter() as fc:
        loss = step_forward(batch)
    print(fc.forward, fc.backward, fc.total)
"""
import math

import torch
from torch.overrides import TorchFunctionMode

MATMULS = {"matmul", "mm", "bmm", "linear", "addmm", "baddbmm", "__matmul__"}
CONVS = {"conv1d", "conv2d", "conv3d"}


def _needs_grad(t):
    return isinstance(t, torch.Tensor) and t.requires_grad and torch.is_grad_enabled()


class FlopCounter(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.forward = 0
        self.backward = 0

    @property
    def total(self):
        return self.forward + self.backward

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        if name in MATMULS:
            a, b = (args[1], args[2]) if name in ("addmm", "baddbmm") else (args[0], args[1])
            inner = a.shape[-1]
            flops = 2 * out.numel() * inner
            operands = (a, b)
        elif name in CONVS:
            x, w = args[0], args[1]
            flops = 2 * out.numel() * w.shape[1] * math.prod(w.shape[2:])
            operands = (x, w)
        else:
            return out
        self.forward += flops
        self.backward += flops * sum(_needs_grad(t) for t in operands)
        return out
