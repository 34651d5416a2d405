#!/usr/bin/env python3
"""One training step of recipes/clip_emoji.yaml (as it was until 2026-12-06; bench/vs_pytorch.sh sets
selfsup to those settings) in plain PyTorch, as selfsup's trainer runs it
(src/selfsup/clip/model.cpp, train/step.cpp): ResNet-18 (small stem, width 0.25) on 3x32x32 and a
2-layer DistilBERT-style text encoder (dim 128, 4 heads, FFN 512, 24 tokens, vocabulary 2000), each
with the seed's projection head into a 256-d space; one caption per image drawn from the step's
generator; the multi_positive loss with a learnt logit scale (clamped to [0, log 100] after the
step); AdamW lr 1e-3, weight decay 0.05 on tensors with more than one dimension only, constant lr
(as `selfsup bench step`); batch 256. Also the step's logs (accuracy, scale, spread), as selfsup
computes them every step. Parameter and buffer names are selfsup's, so its state dict loads as is.

  clip_step.py [--threads 2] [--steps 20] [--warmup 3] [--batch-size 256] [--json FILE]

Timing runs on a fixed random batch and a random caption table (token ids do not change the cost).

Checked (2026-12-02):
  trainable parameters: selfsup 1555729, this script 1555729.
  loss: the emoji captions are tokenised by a SentencePiece model selfsup trains on its own
  caption list, which Python cannot rebuild without reimplementing the emoji loader, so the check
  swaps the data for a stand-in that both sides read identically: 600 emoji PNGs with 1-3 captions
  each in Flickr8k's layout and a 2000-word WordPiece vocab.txt whose words are whole tokens (so
  Python knows the ids without a tokenizer). The model, the loss and the caption draw are the
  recipe's (the optimiser only acts after the loss); dropout is set to 0 on both sides (LibTorch's dropout draws from the global generator,
  not from the step's). Every row of that batch has one positive, so the multi-positive mask is the
  identity there.
      clip_step.py --check /tmp/clipcheck/dump.safetensors   # writes the stand-in, prints the command
      selfsup bench step recipes/clip_emoji.yaml ... --dump /tmp/clipcheck/dump.safetensors
      clip_step.py --check /tmp/clipcheck/dump.safetensors   # compares
  -> loss 5.559440, selfsup 5.559441, |difference| 8.6e-07. The check allows 2e-6 (relative; selfsup
  writes the loss with 9 significant digits): at initialisation the loss is close to log(256) whatever the
  text, and drawing other captions moves it by only 1e-4 to 2.5e-4 (another generator seed: 2.5e-4;
  always an image's first caption: 9e-5; no padding mask: 1.5e-4), which a looser tolerance would miss.
"""
import math
import os
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import count_flops, count_parameters, load_dumped, parse_args, read_safetensors, report, report_check, time_steps

# recipes/clip_emoji.yaml and the clip section's defaults (src/selfsup/clip/config.h)
EMBED_DIM, PROJECTION_DROPOUT, TEMPERATURE, MAX_LOGIT_SCALE = 256, 0.1, 0.07, 100.0
VOCAB, MAX_LENGTH, DIM, LAYERS, HEADS, HIDDEN, POSITIONS, TEXT_DROPOUT, PAD = 2000, 24, 128, 2, 4, 512, 32, 0.1, 0
LR, WEIGHT_DECAY = 1e-3, 0.05


# Image tower: torchvision's ResNet-18 layout and names, 3x3 stride-1 stem without max-pool,
# widths 64..512 scaled by 0.25 (selfsup models/resnet.cpp).
def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv(cin, cout, 3, stride), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = conv(cout, cout, 3), nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout)) if stride != 1 or cin != cout else None

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    def __init__(self, width=0.25, in_channels=3):
        super().__init__()
        w = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        self.conv1, self.bn1 = conv(in_channels, w[0], 3), nn.BatchNorm2d(w[0])
        cin = w[0]
        for i, (c, stride) in enumerate(zip(w, (1, 2, 2, 2))):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, c, stride), BasicBlock(c, c, 1)))
            cin = c
        self.output_dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean((2, 3))


# Text tower: DistilBERT's post-norm blocks with Hugging Face's names, CLS pooling
# (selfsup models/text_transformer.cpp).
class Embeddings(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB, DIM, padding_idx=PAD)
        self.position_embeddings = nn.Embedding(POSITIONS, DIM)
        self.LayerNorm = nn.LayerNorm(DIM, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1])
        return self.dropout(self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(positions)))


class Attention(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.q_lin, self.k_lin, self.v_lin, self.out_lin = (nn.Linear(DIM, DIM) for _ in range(4))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, keep):
        b, length, d = x.shape
        heads = lambda t: t.view(b, length, HEADS, d // HEADS).transpose(1, 2)  # noqa: E731
        q = heads(self.q_lin(x)) / math.sqrt(d // HEADS)
        scores = torch.matmul(q, heads(self.k_lin(x)).transpose(2, 3))
        scores = scores.masked_fill(~keep.view(b, 1, 1, length), torch.finfo(scores.dtype).min)  # padding keys
        context = torch.matmul(self.dropout(scores.softmax(-1)), heads(self.v_lin(x)))
        return self.out_lin(context.transpose(1, 2).reshape(b, length, d))


class FFN(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.lin1, self.lin2, self.dropout = nn.Linear(DIM, HIDDEN), nn.Linear(HIDDEN, DIM), nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.lin2(F.gelu(self.lin1(x))))


class Block(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.attention, self.sa_layer_norm = Attention(dropout), nn.LayerNorm(DIM, eps=1e-12)
        self.ffn, self.output_layer_norm = FFN(dropout), nn.LayerNorm(DIM, eps=1e-12)

    def forward(self, x, keep):
        x = self.sa_layer_norm(self.attention(x, keep) + x)
        return self.output_layer_norm(self.ffn(x) + x)


class TextTransformer(nn.Module):
    def __init__(self, dropout):
        super().__init__()
        self.embeddings = Embeddings(dropout)
        self.transformer = nn.Module()  # HF nests the blocks as transformer.layer.i
        self.transformer.layer = nn.ModuleList(Block(dropout) for _ in range(LAYERS))
        for m in self.modules():  # Hugging Face's init
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.embeddings.word_embeddings.weight[PAD].zero_()

    def forward(self, ids, mask):
        x, keep = self.embeddings(ids), mask.bool()
        for block in self.transformer.layer:
            x = block(x, keep)
        return x[:, 0]  # the [CLS] position


class ProjectionHead(nn.Module):
    """The seed's head: p = Linear(x); LayerNorm(p + Dropout(Linear(GELU(p))))."""

    def __init__(self, cin, dropout):
        super().__init__()
        self.projection, self.fc = nn.Linear(cin, EMBED_DIM), nn.Linear(EMBED_DIM, EMBED_DIM)
        self.dropout, self.layer_norm = nn.Dropout(dropout), nn.LayerNorm(EMBED_DIM)

    def forward(self, x):
        p = self.projection(x)
        return self.layer_norm(p + self.dropout(self.fc(F.gelu(p))))


class Clip(nn.Module):
    def __init__(self, projection_dropout=PROJECTION_DROPOUT, text_dropout=TEXT_DROPOUT):
        super().__init__()
        self.image_encoder = ResNet18()
        self.text_encoder = TextTransformer(text_dropout)
        self.image_projection = ProjectionHead(self.image_encoder.output_dim, projection_dropout)
        self.text_projection = ProjectionHead(DIM, projection_dropout)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / TEMPERATURE)))
        self.logit_bias = nn.Parameter(torch.tensor(-10.0), requires_grad=False)  # SigLIP's; unused here

    def encode_images(self, images):
        return self.image_projection(self.image_encoder(images))

    def encode_texts(self, ids, mask):
        return self.text_projection(self.text_encoder(ids, mask))


def multi_positive_ce(logits, positives):
    """Cross-entropy of each row against the uniform distribution over its positives."""
    targets = positives.float()
    return -(targets / targets.sum(1, keepdim=True).clamp_min(1) * logits.log_softmax(1)).sum(1).mean()


def clip_loss(model, images, captions, groups, generator):
    """The loss (and logs) of selfsup's ClipModel::training_step. `captions` = (ids, mask, first,
    count): every caption's tokens and, per image of the batch, the range of its captions."""
    ids, mask, first, count = captions
    u = torch.rand(len(images), generator=generator, dtype=torch.float64)  # one caption per image
    pick = first + (u * count).long()
    image_emb = model.encode_images(images)
    text_emb = model.encode_texts(ids[pick], mask[pick])
    positives = groups[:, None] == groups[None, :]  # the same content (emoji) counts as a match
    scale = model.logit_scale.exp()
    logits = scale * F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).t()
    loss = 0.5 * (multi_positive_ce(logits, positives) + multi_positive_ce(logits.t(), positives.t()))
    with torch.no_grad():
        n = F.normalize(image_emb, dim=1)
        sims = n @ F.normalize(text_emb, dim=1).t()
        logs = {"acc": positives.gather(1, sims.argmax(1, keepdim=True)).float().mean().item(),
                "scale": scale.item(), "spread": n.std(0).mean().item() * math.sqrt(n.shape[1])}
    return loss, logs


def adamw(model):
    """selfsup's groups: no weight decay on tensors of one dimension or none (biases, norms, scale)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW([{"params": [p for p in params if p.dim() > 1], "weight_decay": WEIGHT_DECAY},
                              {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}], lr=LR)


def random_captions(batch, per_image=3):
    """A caption table like the emoji one: each image has 1..per_image captions of 3..24 tokens."""
    count = torch.randint(1, per_image + 1, (batch,))
    first = torch.cumsum(count, 0) - count
    m = int(count.sum())
    lengths = torch.randint(3, MAX_LENGTH + 1, (m, 1))
    mask = (torch.arange(MAX_LENGTH)[None, :] < lengths).long()
    ids = torch.randint(4, VOCAB, (m, MAX_LENGTH)) * mask  # [PAD] = 0 after the end
    return ids, mask, first, count


# --- the check's stand-in data (see the docstring) ---
def write_check_data(folder, images=600):
    source = "/usr/local/share/selfsup/emoji/emoji-datasource-apple/img/apple/64"
    files = sorted(os.listdir(source))[:images]
    os.makedirs(os.path.join(folder, "Images"), exist_ok=True)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [a + b + c for a in letters for b in letters for c in letters][:VOCAB - 4]
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + words) + "\n")
    rng = random.Random(0)
    with open(os.path.join(folder, "captions.txt"), "w") as f:
        f.write("image,caption\n")
        for i, name in enumerate(files):
            link = os.path.join(folder, "Images", name)
            if not os.path.exists(link):
                os.symlink(os.path.join(source, name), link)
            for _ in range(1 + i % 3):  # some captions longer than 22 words: truncated
                f.write(f"{name},{' '.join(rng.choice(words) for _ in range(rng.randint(1, 30)))}\n")
    with open(os.path.join(folder, "Flickr_8k.trainImages.txt"), "w") as f:
        f.write("\n".join(files) + "\n")


def read_check_captions(folder):
    """captions.txt as selfsup's Flickr8k loader and caption table see it: one content id per image
    in order of appearance, captions in file order, tokenised as [CLS] words[:22] [SEP] [PAD]..."""
    with open(os.path.join(folder, "vocab.txt")) as f:
        vocab = {w: i for i, w in enumerate(f.read().split("\n"))}
    image_ids, ids, mask, first, count = {}, [], [], [], []
    with open(os.path.join(folder, "captions.txt")) as f:
        for n, line in enumerate(f.read().splitlines()[1:]):
            image, caption = line.split(",")
            if image not in image_ids:
                image_ids[image] = len(image_ids)
                first.append(n)
                count.append(0)
            count[-1] += 1
            tokens = [vocab["[CLS]"]] + [vocab[w] for w in caption.split()][:MAX_LENGTH - 2] + [vocab["[SEP]"]]
            ids.append(tokens + [PAD] * (MAX_LENGTH - len(tokens)))
            mask.append([1] * len(tokens) + [0] * (MAX_LENGTH - len(tokens)))
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(first), torch.tensor(count)


def check(dump):
    folder = os.path.dirname(os.path.abspath(dump))
    if not os.path.exists(os.path.join(folder, "captions.txt")):
        write_check_data(folder)
        raise SystemExit(
            f"wrote the check's stand-in data to {folder}; now run\n  selfsup bench step recipes/clip_emoji.yaml threads=2 "
            f"data.dataset=flickr8k data.root={folder} clip.text.tokenizer=wordpiece clip.text.vocab={folder}/vocab.txt "
            f"clip.embed_dim=256 train.optimizer.weight_decay=0.05 "
            f"clip.projection_dropout=0 clip.text.dropout=0 --steps 1 --warmup 0 --dump {dump}\nand this command again")
    tensors, meta = read_safetensors(dump)
    model = Clip(projection_dropout=0.0, text_dropout=0.0)
    load_dumped(model, tensors)
    ids, mask, first, count = read_check_captions(folder)
    indices = tensors["indices"]  # content id = index: every image of the stand-in is in the train split
    captions = (ids, mask, first[indices], count[indices])
    generator = torch.Generator().manual_seed(int(meta["generator_seed"]))
    loss, _ = clip_loss(model.train(), tensors["view.0"], captions, indices, generator)
    report_check(loss.item(), float(meta["loss"]))


def main():
    args = parse_args(__doc__.split("\n")[0], batch=256)
    if args.check:
        return check(args.check)
    model = Clip().train()
    optimizer = adamw(model)
    b = args.batch_size
    images = torch.randn(b, 3, 32, 32)
    captions = random_captions(b)
    groups = torch.randint(0, b // 2, (b,))  # some images share a content id, as the three artists' drawings do
    state = {"step": 0}

    def step():
        generator = torch.Generator().manual_seed(state["step"])  # a generator per step, as the trainer
        state["step"] += 1
        loss, _ = clip_loss(model, images, captions, groups, generator)
        loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))

    flops = count_flops(lambda: clip_loss(model, images, captions, groups, torch.Generator().manual_seed(0)), b)
    seconds = time_steps(step, args.steps, args.warmup)
    report("pytorch clip_emoji step", args, b, seconds, count_parameters(model.parameters()), flops)


if __name__ == "__main__":
    main()
