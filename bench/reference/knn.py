"""Weighted kNN classification in plain PyTorch, as the MoCo CIFAR demo / InstDisc protocol does it:
60,000 train and 10,000 test features of dimension 128 (the ResNet-18 width 0.25 features of
Fashion-MNIST), L2-normalised, k = 200, votes weighted by exp(cosine / 0.1), 10 classes, test
features in chunks of 256 (what `selfsup bench knn` times: eval::knn_predict). Random features from
seed 0; the timing does not depend on their values.

Checked against selfsup: `selfsup bench knn --dump F` writes its features, labels and predictions;
`--check F` recomputes the predictions here and compares them."""
import time

import torch
import torch.nn.functional as F

import common


def knn_predict(train, train_labels, test, classes=10, k=200, tau=0.1, chunk=256):
    bank = F.normalize(train, dim=1)
    queries = F.normalize(test, dim=1)
    out = []
    for start in range(0, queries.shape[0], chunk):
        sim = queries[start:start + chunk] @ bank.t()
        top_sim, top_idx = sim.topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], classes).scatter_add_(1, train_labels[top_idx], (top_sim / tau).exp())
        out.append(votes.argmax(1))
    return torch.cat(out)


def main():
    args = common.parse_args(__doc__)
    n, m, d = 60000, 10000, 128
    train, test = torch.randn(n, d), torch.randn(m, d)
    labels = torch.randint(0, 10, (n,))
    if args.check:
        tensors, _ = common.read_safetensors(args.check)
        train, test, labels = tensors["train"], tensors["test"], tensors["train_labels"]
        same = torch.equal(knn_predict(train, labels, test), tensors["predictions"])
        print(f"check: predictions {'SAME' if same else 'DIFFERENT'}")
        if not same:
            raise SystemExit(1)
    with torch.inference_mode():
        seconds = common.time_steps(lambda: knn_predict(train, labels, test), args.steps, args.warmup)
    common.report("knn", args, m, seconds, 0)


if __name__ == "__main__":
    main()
