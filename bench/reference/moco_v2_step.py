"""MoCo v2 training step in plain PyTorch: what `selfsup bench step recipes/moco_v2_fmnist.yaml`
times, with the benchmark's overrides (bench/vs_pytorch.sh): ResNet-18 small stem width 0.25 on
1x28x28 views, 2-layer MLP projector 128-512-128, queue 4096, tau 0.1, m 0.99, symmetric loss,
shuffle-BN simulated with SplitBatchNorm over 8 sub-batches, SGD lr 0.06 momentum 0.9 wd 5e-4.

Checked against selfsup (bench/vs_pytorch.sh --check): the same 831,600 trainable parameters and
the same first-step loss from selfsup's dumped weights, batch and generator seed."""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from models import MlpHead, SmallResNet18, sgd_param_groups


class MoCo(nn.Module):
    def __init__(self, queue_size=4096, dim=128, tau=0.1, m=0.99, bn_splits=8):
        super().__init__()
        self.tau, self.m = tau, m
        self.encoder = SmallResNet18(bn_splits=bn_splits)
        self.projector = MlpHead(self.encoder.feature_dim, 512, dim)
        self.key_encoder = copy.deepcopy(self.encoder)
        self.key_projector = copy.deepcopy(self.projector)
        for p in list(self.key_encoder.parameters()) + list(self.key_projector.parameters()):
            p.requires_grad = False
        self.queue = nn.Module()
        self.queue.register_buffer("keys", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.queue.register_buffer("pointer", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def momentum_update(self):
        for online, key in ((self.encoder, self.key_encoder), (self.projector, self.key_projector)):
            for po, pk in zip(online.parameters(), key.parameters()):
                pk.mul_(self.m).add_(po, alpha=1 - self.m)

    @torch.no_grad()
    def key(self, x, gen):
        perm = torch.randperm(x.shape[0], generator=gen)  # shuffle-BN
        k = F.normalize(self.key_projector(self.key_encoder(x[perm])), dim=1)
        return k[torch.argsort(perm)]

    def loss(self, q, k, queue):
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], 1) / self.tau
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long))

    def forward(self, x1, x2, gen):
        self.momentum_update()
        queue = self.queue.keys.clone()
        q1 = F.normalize(self.projector(self.encoder(x1)), dim=1)
        k2 = self.key(x2, gen)
        q2 = F.normalize(self.projector(self.encoder(x2)), dim=1)
        k1 = self.key(x1, gen)
        return 0.5 * (self.loss(q1, k2, queue) + self.loss(q2, k1, queue)), torch.cat([k2, k1])

    @torch.no_grad()
    def enqueue(self, keys):
        ptr, n = int(self.queue.pointer), keys.shape[0]
        self.queue.keys[ptr:ptr + n] = keys
        self.queue.pointer.fill_((ptr + n) % self.queue.keys.shape[0])


def main():
    args = common.parse_args(__doc__)
    model = MoCo()
    b = args.batch_size
    x1, x2, seed = torch.randn(b, 1, 28, 28), torch.randn(b, 1, 28, 28), 0
    if args.check:
        tensors, meta = common.read_safetensors(args.check)
        common.load_dumped(model, tensors)
        x1, x2, seed = tensors["view.0"], tensors["view.1"], int(meta["generator_seed"])
    opt = torch.optim.SGD(sgd_param_groups(model, 5e-4), lr=0.06, momentum=0.9)
    model.train()

    def step():
        loss, keys = model(x1, x2, torch.Generator().manual_seed(seed))
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.enqueue(keys)
        return loss.item()

    if args.check:
        common.report_check(step(), float(meta["loss"]))
    params = common.count_parameters(model.parameters())
    flops = common.count_flops(lambda: model(x1, x2, torch.Generator().manual_seed(seed)), b)
    common.report("moco_v2", args, b, common.time_steps(step, args.steps, args.warmup), params, flops)


if __name__ == "__main__":
    main()
