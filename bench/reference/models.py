"""The PyTorch modules the SSL reference scripts share, written as a PyTorch user would: torchvision's
ResNet with the small-image stem, the official MoCo CIFAR demo's SplitBatchNorm, an MLP head. Names
equal selfsup's state-dict names, so `--check` can load selfsup's weights by name."""
from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, ResNet


class SplitBatchNorm(nn.BatchNorm2d):
    """BatchNorm over `splits` sub-batches (one per simulated GPU), the MoCo CIFAR demo's trick:
    view N x C x ... as (N/s) x (s*C) x ... and normalise with the statistics repeated s times."""

    def __init__(self, num_features, splits=1):
        super().__init__(num_features)
        self.splits = splits

    def forward(self, x):
        if not self.training or self.splits == 1:
            return super().forward(x)
        n, c = x.shape[:2]
        s = self.splits
        mean, var = self.running_mean.repeat(s), self.running_var.repeat(s)
        y = F.batch_norm(x.reshape(n // s, c * s, *x.shape[2:]), mean, var, self.weight.repeat(s), self.bias.repeat(s),
                         True, self.momentum, self.eps)
        with torch.no_grad():
            self.running_mean.copy_(mean.view(s, c).mean(0))
            self.running_var.copy_(var.view(s, c).mean(0))
            self.num_batches_tracked.add_(1)
        return y.view(x.shape)


class SmallResNet18(ResNet):
    """ResNet-18, 3x3 stride-1 stem without max-pool, channels 64*width..., no fc (pooled features)."""

    def __init__(self, width=0.25, in_channels=1, bn_splits=1):
        nn.Module.__init__(self)
        c = int(round(64 * width))
        self._norm_layer = partial(SplitBatchNorm, splits=bn_splits)
        self.inplanes, self.dilation, self.groups, self.base_width = c, 1, 1, 64
        self.conv1 = nn.Conv2d(in_channels, c, 3, 1, 1, bias=False)
        self.bn1, self.relu, self.maxpool = self._norm_layer(c), nn.ReLU(inplace=True), nn.Identity()
        self.layer1 = self._make_layer(BasicBlock, c, 2)
        self.layer2 = self._make_layer(BasicBlock, 2 * c, 2, stride=2)
        self.layer3 = self._make_layer(BasicBlock, 4 * c, 2, stride=2)
        self.layer4 = self._make_layer(BasicBlock, 8 * c, 2, stride=2)
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Identity()
        self.feature_dim = 8 * c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class MlpHead(nn.Module):
    """Linear -> ReLU -> Linear (selfsup's projector with norm "none"), as `layers.0` / `layers.2`."""

    def __init__(self, in_dim, hidden_dim=512, out_dim=128):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))

    def forward(self, x):
        return self.layers(x)


def sgd_param_groups(model, weight_decay):
    """selfsup's SGD: no weight decay on biases and normalisation parameters (ndim <= 1)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
