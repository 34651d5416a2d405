"""SimCLR training step in plain PyTorch: what `selfsup bench step recipes/simclr_fmnist.yaml` times:
ResNet-18 small stem width 0.25 on two 1x20x20 views encoded as one batch of 512, projector
Linear(128, 512, no bias) -> BatchNorm -> ReLU -> Linear(512, 128), NT-Xent at tau 0.2 over the
2N x 2N similarities, SGD lr 0.06 momentum 0.9 wd 5e-4.

Checked against selfsup (bench/vs_pytorch.sh --check): the same trainable parameter count and the
same first-step loss from selfsup's dumped weights and batch."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from models import SmallResNet18, sgd_param_groups


class SimCLR(nn.Module):
    def __init__(self, tau=0.2):
        super().__init__()
        self.tau = tau
        self.encoder = SmallResNet18()
        d = self.encoder.feature_dim
        self.projector = nn.Module()
        self.projector.layers = nn.Sequential(nn.Linear(d, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
                                              nn.Linear(512, 128))

    def forward(self, x1, x2):
        n = x1.shape[0]
        z = F.normalize(self.projector.layers(self.encoder(torch.cat([x1, x2]))), dim=1)
        sim = z @ z.t() / self.tau
        sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        targets = torch.cat([torch.arange(n) + n, torch.arange(n)])
        return F.cross_entropy(sim, targets)


def main():
    args = common.parse_args(__doc__)
    model = SimCLR()
    b = args.batch_size
    x1, x2 = torch.randn(b, 1, 20, 20), torch.randn(b, 1, 20, 20)
    if args.check:
        tensors, meta = common.read_safetensors(args.check)
        common.load_dumped(model, tensors)
        x1, x2 = tensors["view.0"], tensors["view.1"]
    opt = torch.optim.SGD(sgd_param_groups(model, 5e-4), lr=0.06, momentum=0.9)
    model.train()

    def step():
        loss = model(x1, x2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    if args.check:
        common.report_check(step(), float(meta["loss"]))
    flops = common.count_flops(lambda: model(x1, x2), b)
    common.report("simclr", args, b, common.time_steps(step, args.steps, args.warmup),
                  common.count_parameters(model.parameters()), flops)


if __name__ == "__main__":
    main()
