#include "selfsup/train/recipe.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"
#include "selfsup/models/heads.h"

namespace selfsup {

void HeadConfig::visit(config::Visitor& v) {
  v("layers", layers, "Linear layers: 1 = a single Linear (MoCo v1), 2 = Linear-ReLU-Linear (MoCo v2 / SimCLR)");
  v("hidden_dim", hidden_dim, "width of the hidden layers");
  v("out_dim", out_dim, "embedding dimension the loss sees");
  v("norm", norm, "normalisation after each hidden Linear: batch, layer, group_ws (GroupNorm + weight-standardised Linears) or none");
  v("last_bn", last_bn, "BatchNorm without affine after the last Linear (SimSiam projector)");
}

void MocoConfig::visit(config::Visitor& v) {
  v("queue_size", queue_size, "K, keys in the FIFO dictionary (a multiple of the batch size)");
  v("temperature", temperature, "tau of the InfoNCE softmax (v1: 0.07, v2: 0.2)");
  v("momentum", momentum, "m of the key encoder EMA at the start of training");
  v("momentum_final", momentum_final, "m at the end; values above `momentum` ramp on a cosine (MoCo v3 style)");
  v("symmetric", symmetric, "also swap the views and average the two losses (MoCo CIFAR demo: +2-3% kNN)");
  v("shuffle_bn", shuffle_bn, "shuffle the key batch across BN splits so BN cannot leak the positive pair");
  v("bn_splits", bn_splits, "BatchNorm sub-batches simulating that many GPUs (1 = ordinary BN)");
}

void InstDiscConfig::visit(config::Visitor& v) {
  v("negatives", negatives, "NCE noise samples drawn from the memory bank per image (0 = full softmax over the bank)");
  v("temperature", temperature, "tau of the bank scores v.f/tau (paper: 0.07)");
  v("bank_momentum", bank_momentum, "m of the bank update v <- norm(m v + (1-m) f) (authors' code: 0.5)");
  v("proximal", proximal, "lambda of the proximal term lambda ||f - v||^2 (0 = off)");
  v("z_momentum", z_momentum, "NCE normalisation constant Z: 0 = estimated on the first batch and fixed (authors' code), m > 0 = moving average with momentum m of the per-batch estimate");
}

void InvaSpreadConfig::visit(config::Visitor& v) {
  v("temperature", temperature, "tau of the instance softmax (paper: 0.1)");
}

void SimClrConfig::visit(config::Visitor& v) {
  v("temperature", temperature, "tau of NT-Xent (SimCLR: 0.1-0.5; solo-learn CIFAR: 0.2)");
  v("queue_size", queue_size, "SimCLR v2 memory: > 0 adds a momentum encoder whose keys are queued as extra negatives");
  v("momentum", momentum, "EMA momentum of that encoder");
  v("eval_head_layers", eval_head_layers, "evaluate / fine-tune from this many projector layers on top of the backbone (SimCLR v2: 1)");
}

void ByolConfig::visit(config::Visitor& v) {
  v("momentum", momentum, "target EMA momentum at the start (BYOL: 0.996; small data: 0.99)");
  v("momentum_final", momentum_final, "momentum at the end, reached on a cosine ramp (BYOL: 1.0)");
}

void MocoV3Config::visit(config::Visitor& v) {
  v("temperature", temperature, "softmax temperature; the loss is scaled by 2*temperature (official: 0.2 ViT, 1.0 ResNet-50)");
  v("momentum", momentum, "key-encoder momentum at the start of training (official: 0.99)");
  v("momentum_final", momentum_final, "momentum at the end, reached on a cosine ramp (official --moco-m-cos: 1)");
}

void DinoConfig::visit(config::Visitor& v) {
  v("out_dim", out_dim, "K, the number of prototypes the head outputs logits for (official: 65536 ViT, lightly CIFAR: 2048)");
  v("hidden_dim", hidden_dim, "hidden width of the head's MLP");
  v("bottleneck_dim", bottleneck_dim, "width of the L2-normalised bottleneck before the prototypes");
  v("head_layers", head_layers, "Linear layers of the head's MLP (GELU between)");
  v("head_batch_norm", head_batch_norm, "BatchNorm after each hidden Linear of the head (official: off)");
  v("norm_last_layer", norm_last_layer, "keep the prototypes at unit norm (official default; more stable)");
  v("freeze_last_layer_epochs", freeze_last_layer_epochs, "the prototypes get no update during the first N epochs");
  v("student_temperature", student_temperature, "student softmax temperature (0.1)");
  v("teacher_temperature_start", teacher_temperature_start, "teacher temperature at epoch 0 (0.04)");
  v("teacher_temperature", teacher_temperature, "teacher temperature after the warm-up (<= 0.07; sharpening)");
  v("teacher_warmup_epochs", teacher_warmup_epochs, "epochs of the linear teacher-temperature warm-up (official ViT-S: 30)");
  v("center_momentum", center_momentum, "EMA momentum of the centre subtracted from the teacher's logits (0.9)");
  v("momentum", momentum, "teacher EMA momentum at the start (official 0.996; 0.9995 at batch 256 on ImageNet)");
  v("momentum_final", momentum_final, "teacher momentum at the end, reached on a cosine ramp (1)");
}

void SwavConfig::visit(config::Visitor& v) {
  v("prototypes", prototypes, "K, the number of prototypes (official: 3000 ImageNet; lightly CIFAR: 512)");
  v("temperature", temperature, "softmax temperature of the swapped prediction (0.1)");
  v("epsilon", epsilon, "Sinkhorn entropy regularisation (0.05; lower it, e.g. 0.03, if the loss stalls at ln K)");
  v("sinkhorn_iterations", sinkhorn_iterations, "Sinkhorn-Knopp normalisation rounds (3)");
  v("queue_size", queue_size, "embeddings of past batches kept per global crop and added to the assignment batch (0 = none; official: 3840)");
  v("queue_start_epoch", queue_start_epoch, "epoch (0-based) from which the queue is filled; it is used once full");
  v("freeze_prototypes_steps", freeze_prototypes_steps, "the prototypes get no update during the first N steps (official: 5005)");
}

void CpcConfig::visit(config::Visitor& v) {
  v("patch_size", patch_size, "side of the square patches the image is cut into (CPC v1: 64 of 256 px)");
  v("patch_stride", patch_stride, "step between patches (CPC v1: half the patch, i.e. 50% overlap)");
  v("context", context, "autoregressive context network down the grid: gru (per column, top to bottom) | conv (masked convolutions)");
  v("context_layers", context_layers, "number of masked convolution layers (context: conv)");
  v("predict_steps", predict_steps, "predict the patches 1..k rows below each context position (CPC v1 images: up to 5)");
  v("temperature", temperature, "InfoNCE temperature on the L2-normalised predictions and patch embeddings");
}

void CmcConfig::visit(config::Visitor& v) {
  v("color_space", color_space, "lab (CIE L*a*b*, CMC's choice) | rgb: the colour space the channel groups index");
  v("channel_groups", channel_groups, "one entry per view, listing its channels, e.g. [\"0\", \"1,2\"] = L vs ab; each view has its own encoder and projector");
  v("temperature", temperature, "softmax temperature of the pairwise InfoNCE (CMC: 0.07)");
}

void SimSiamConfig::visit(config::Visitor& v) {
  v("fix_predictor_lr", fix_predictor_lr, "keep the predictor at the base lr instead of the schedule (official --fix-pred-lr)");
}

void BarlowConfig::visit(config::Visitor& v) {
  v("lambda", lambda, "weight of the off-diagonal terms (paper: 0.0051)");
  v("scale_loss", scale_loss, "multiplies the whole loss (solo-learn: 0.1 at 2048 dims)");
}

void MethodConfig::visit(config::Visitor& v) {
  v("name", name, "self-supervised method: moco, moco_v3, dino, swav, cpc, cmc, instdisc, invaspread, simclr, byol, simsiam, barlow_twins");
  v.section("projector", projector, "projection head on top of the backbone (used for the loss only)");
  v.section("predictor", predictor, "prediction head on top of the projector (byol, simsiam, moco_v3)");
  v.section("moco", moco, "MoCo v1/v2 settings");
  v.section("moco_v3", moco_v3, "MoCo v3 settings");
  v.section("dino", dino, "DINO settings (its head is configured here, not in method.projector)");
  v.section("swav", swav, "SwAV settings (method.projector is the head before the prototypes)");
  v.section("cpc", cpc, "CPC settings (image patches, context network, prediction)");
  v.section("cmc", cmc, "CMC settings (views = channel groups of a colour image, one encoder each)");
  v.section("instdisc", instdisc, "InstDisc settings");
  v.section("invaspread", invaspread, "InvaSpread settings");
  v.section("simclr", simclr, "SimCLR v1/v2 settings");
  v.section("byol", byol, "BYOL settings");
  v.section("simsiam", simsiam, "SimSiam settings");
  v.section("barlow", barlow, "Barlow Twins settings");
}

void ClipTextConfig::visit(config::Visitor& v) {
  v("tokenizer", tokenizer, "sentencepiece (a subword vocabulary trained on the training captions) or wordpiece (BERT's vocab.txt)");
  v("vocab", vocab, "wordpiece: path of BERT's vocab.txt (required); sentencepiece: a trained .model file (empty = train one)");
  v("vocab_size", vocab_size, "sentencepiece: vocabulary size to train");
  v("max_length", max_length, "tokens per caption including [CLS] and [SEP]; longer captions are truncated");
  v("dim", dim, "text Transformer width (DistilBERT-base: 768)");
  v("layers", layers, "Transformer blocks (DistilBERT: 6)");
  v("heads", heads, "attention heads (DistilBERT: 12)");
  v("hidden_dim", hidden_dim, "feed-forward width (DistilBERT: 3072)");
  v("max_positions", max_positions, "position embeddings (DistilBERT: 512; at least max_length)");
  v("dropout", dropout, "dropout in the text Transformer (DistilBERT: 0.1)");
  v("pretrained", pretrained, "DistilBERT weights (.safetensors, Hugging Face names) to start the text encoder from");
  v("lr_scale", lr_scale, "the text encoder's learning rate relative to train.optimizer.lr (the seed: 1e-5 / 1e-3 for a pretrained one)");
}

void ClipConfig::visit(config::Visitor& v) {
  v("embed_dim", embed_dim, "dimension of the shared image-text space (the seed: 256)");
  v("projection_dropout", projection_dropout, "dropout in both projection heads (the seed: 0.1)");
  v("loss", loss, "multi_positive (normalised, learnable scale, all captions of an image are positives), soft_target (the seed blog's loss, for comparison) or siglip");
  v("temperature", temperature, "initial temperature: logit scale = 1 / temperature (CLIP: 0.07; SigLIP: 0.1)");
  v("learn_temperature", learn_temperature, "learn the logit scale (clamped at max_logit_scale)");
  v("max_logit_scale", max_logit_scale, "upper clamp of the learnt logit scale (CLIP: 100)");
  v("siglip_bias", siglip_bias, "siglip: initial logit bias (the paper: -10)");
  v("soft_target_temperature", soft_target_temperature, "soft_target: the seed's fixed temperature (1.0)");
  v("image_pretrained", image_pretrained, "backbone weights to start the image encoder from: torchvision (ResNet) or timm (ViT) names, a .pt file saved as torch.save(dict(model.state_dict()), path) or a .safetensors file; fc.* / head.* are skipped");
  v.section("text", text, "tokenizer and text encoder (DistilBERT architecture, CLS pooling)");
  v("zeroshot_templates", zeroshot_templates, "prompts for zero-shot classification; {} is replaced by the class name");
  v("eval_every", eval_every, "epochs between retrieval evaluations on the test split (0 = only at the end)");
}

void DiffusionConfig::visit(config::Visitor& v) {
  v("timesteps", timesteps, "T, the number of noising steps (DDPM: 1000)");
  v("schedule", schedule, "linear (DDPM; beta_start/beta_end are for T = 1000 and scaled by 1000 / T) or cosine (improved DDPM)");
  v("beta_start", beta_start, "linear schedule: the first beta (DDPM: 1e-4)");
  v("beta_end", beta_end, "linear schedule: the last beta (DDPM: 0.02)");
  v("prediction", prediction, "what the U-Net predicts: eps (the noise, DDPM), x0 (the clean image) or v (Salimans & Ho)");
  v("p_uncond", p_uncond, "classifier-free training: probability that a label is replaced by the null class (Ho & Salimans: 0.1-0.2)");
  v("ema_decay", ema_decay, "decay of the EMA copy of the weights that sampling uses (warmed up as min(decay, (1+n)/(10+n)))");
  v.section("unet", unet, "the denoiser (task diffusion) or the noisy classifier's down path (task noisy_classifier)");
  v("sample_every", sample_every, "task diffusion: write runs/NAME/samples_epoch_N.png every N epochs (0 = only samples.png at the end)");
  v("preview_guidance", preview_guidance, "guidance scale s of those sample grids");
  v("preview_steps", preview_steps, "DDIM steps of those sample grids");
}

void AugmentConfig::visit(config::Visitor& v) {
  v.list("views", views, "one augmentation pipeline per view (MoCo uses two; the first one's mean/std also normalise evaluation images)");
}

void TrainConfig::visit(config::Visitor& v) {
  v("epochs", epochs, "passes over the training set");
  v("batch_size", batch_size, "images per step (the last incomplete batch of an epoch is dropped)");
  v.section("optimizer", optimizer, "optimiser");
  v.section("schedule", schedule, "learning-rate schedule");
  v("grad_clip", grad_clip, "clip the global gradient norm to this value (0 = off)");
  v("grad_norms", grad_norms, "write each step's gradient norm per layer group (before clipping) to runs/NAME/grad_norms.csv");
  v("checkpoint_every", checkpoint_every, "write runs/NAME/checkpoint.pt every N epochs (and always at the end)");
  v("knn_every", knn_every, "run the kNN evaluation every N epochs and log it (0 = only at the end)");
  v("log_every", log_every, "steps between progress lines when the output is not a terminal");
  v("stop_after_epochs", stop_after_epochs, "stop (with a checkpoint) after this many epochs of this invocation, keeping the schedule of `epochs` (0 = run to the end); for time-sliced training");
}

void KnnConfig::visit(config::Visitor& v) {
  v("k", k, "neighbours that vote (InstDisc / MoCo protocol: 200)");
  v("temperature", temperature, "votes are weighted by exp(cosine / temperature) (0.1)");
}

void LinearConfig::visit(config::Visitor& v) {
  v("epochs", epochs, "epochs of logistic regression on the frozen, standardised features");
  v("batch_size", batch_size, "mini-batch size of the logistic regression");
  v("lr", lr, "Adam learning rate (cosine-decayed)");
  v("weight_decay", weight_decay, "L2 penalty on the classifier weights");
}

void FinetuneConfig::visit(config::Visitor& v) {
  v("at_end", at_end, "also fine-tune when training ends (and the random-init baseline: supervised training from scratch on the same labels)");
  v("label_fraction", label_fraction, "fraction of each class's training labels used (SimCLR: 0.01 and 0.1)");
  v("epochs", epochs, "epochs over the labelled subset");
  v("batch_size", batch_size, "images per step");
  v("lr", lr, "SGD (momentum 0.9, Nesterov) learning rate, cosine-decayed to 0");
  v("weight_decay", weight_decay, "weight decay on weights (not biases / norms)");
}

void EvalConfig::visit(config::Visitor& v) {
  v.section("knn", knn, "weighted kNN on L2-normalised backbone features");
  v.section("linear", linear, "linear probe on frozen backbone features");
  v.section("finetune", finetune, "fine-tuning of the whole encoder + a linear classifier on a fraction of the labels (selfsup eval finetune)");
  v("at_end", at_end, "evaluate (kNN + linear) when training ends");
  v("baselines", baselines, "at the end, also evaluate raw pixels and the randomly initialised network");
  v("batch_size", batch_size, "images per forward pass when extracting features");
  v("image_size", image_size, "evaluate at this square size (0 = the dataset's own size, whatever the training crops were)");
}

void Recipe::visit(config::Visitor& v) {
  v("task", task, "what to train: ssl (self-supervised image pretraining, method section), clip (image-text, clip section), diffusion (class-conditional DDPM with classifier-free training, diffusion section), noisy_classifier (p(y | x_t, t) for classifier guidance) or classifier (a supervised classifier, e.g. the judge of generated samples)");
  v("name", name, "run name: outputs go to run_dir/name/");
  v("seed", seed, "seed of every random choice (init, shuffling, augmentation, BN shuffle)");
  v("threads", threads, "LibTorch intra-op threads (0 = all cores)");
  v("device", device, "cpu, cuda or cuda:N");
  v("run_dir", run_dir, "folder holding one sub-folder per run");
  v.section("data", data, "training and evaluation data");
  v.section("model", model, "backbone network");
  v.section("augment", augment, "augmentation pipelines");
  v.section("method", method, "self-supervised method and its heads (task: ssl)");
  v.section("clip", clip, "image-text model and loss (task: clip)");
  v.section("diffusion", diffusion, "noise schedule, denoiser and sampling previews (tasks: diffusion, noisy_classifier)");
  v.section("train", train, "optimisation");
  v.section("eval", eval, "evaluation protocol");
}

namespace {

template <class Fail>
void validate_clip(const Recipe& r, const Fail& fail) {
  const auto& c = r.clip;
  const auto& t = c.text;
  if (r.data.dataset != "emoji" && r.data.dataset != "flickr8k")
    fail("data.dataset", "task clip needs image-caption data: emoji or flickr8k, got '" + r.data.dataset + "'");
  if (augment::count_views(r.augment.views) != 1) fail("augment.views", "task clip uses exactly one view");
  if (c.loss != "multi_positive" && c.loss != "soft_target" && c.loss != "siglip")
    fail("clip.loss", "expected multi_positive, soft_target or siglip, got '" + c.loss + "'");
  if (c.embed_dim < 1) fail("clip.embed_dim", "expected a positive dimension");
  if (c.temperature <= 0 || c.soft_target_temperature <= 0) fail("clip.temperature", "expected a positive temperature");
  if (c.max_logit_scale < 1) fail("clip.max_logit_scale", "expected a value >= 1");
  if (c.projection_dropout < 0 || c.projection_dropout >= 1) fail("clip.projection_dropout", "expected a value in [0, 1)");
  if (c.eval_every < 0) fail("clip.eval_every", "expected 0 (only at the end) or a positive number of epochs");
  if (t.tokenizer != "sentencepiece" && t.tokenizer != "wordpiece")
    fail("clip.text.tokenizer", "expected sentencepiece or wordpiece, got '" + t.tokenizer + "'");
  if (t.tokenizer == "wordpiece" && t.vocab.empty()) fail("clip.text.vocab", "wordpiece needs BERT's vocab.txt");
  if (t.vocab_size < 16) fail("clip.text.vocab_size", "expected at least 16");
  if (t.max_length < 3) fail("clip.text.max_length", "expected at least 3 ([CLS], one token, [SEP])");
  if (t.max_positions < t.max_length) fail("clip.text.max_positions", "expected at least clip.text.max_length");
  if (t.dim < 1 || t.layers < 1 || t.heads < 1 || t.hidden_dim < 1 || t.dim % t.heads != 0)
    fail("clip.text", "expected positive dim, layers, heads, hidden_dim with dim divisible by heads");
  if (t.dropout < 0 || t.dropout >= 1) fail("clip.text.dropout", "expected a value in [0, 1)");
  for (const auto& tpl : c.zeroshot_templates)
    if (tpl.find("{}") == std::string::npos) fail("clip.zeroshot_templates", "'" + tpl + "' has no {} for the class name");
}

template <class Fail>
void validate_diffusion(const Recipe& r, const Fail& fail) {
  const auto& d = r.diffusion;
  if (augment::count_views(r.augment.views) != 1) fail("augment.views", "task " + r.task + " uses exactly one view");
  const auto& view = r.augment.views[0];
  if (r.task != "classifier") {
    for (double m : view.mean)
      if (m != 0.5) fail("augment.views.0.mean", "diffusion works on images scaled to [-1, 1]: expected 0.5");
    for (double s : view.std)
      if (s != 0.5) fail("augment.views.0.std", "diffusion works on images scaled to [-1, 1]: expected 0.5");
  }
  if (d.timesteps < 2) fail("diffusion.timesteps", "expected at least 2");
  if (d.schedule != "linear" && d.schedule != "cosine")
    fail("diffusion.schedule", "expected linear or cosine, got '" + d.schedule + "'");
  if (d.beta_start <= 0 || d.beta_end < d.beta_start || d.beta_end >= 1)
    fail("diffusion.beta_start", "expected 0 < beta_start <= beta_end < 1");
  if (d.prediction != "eps" && d.prediction != "x0" && d.prediction != "v")
    fail("diffusion.prediction", "expected eps, x0 or v, got '" + d.prediction + "'");
  if (d.p_uncond < 0 || d.p_uncond >= 1) fail("diffusion.p_uncond", "expected a probability in [0, 1)");
  if (d.ema_decay < 0 || d.ema_decay >= 1) fail("diffusion.ema_decay", "expected a value in [0, 1)");
  if (d.sample_every < 0) fail("diffusion.sample_every", "expected 0 (only at the end) or a positive number of epochs");
  if (d.preview_steps < 1 || d.preview_steps > d.timesteps)
    fail("diffusion.preview_steps", "expected 1..diffusion.timesteps");
}

}  // namespace

void validate(const Recipe& r, const std::string& origin) {
  auto fail = [&](const std::string& key, const std::string& what) { throw Error(origin + ": " + key + ": " + what); };
  if (r.train.epochs <= 0) fail("train.epochs", "expected a positive number of epochs");
  if (r.train.batch_size <= 1) fail("train.batch_size", "expected at least 2 images per batch");
  if (r.train.checkpoint_every <= 0) fail("train.checkpoint_every", "expected a positive number of epochs");
  if (r.augment.views.empty()) fail("augment.views", "expected at least one view");
  for (size_t i = 0; i < r.augment.views.size(); ++i)
    augment::validate(r.augment.views[i], "augment.views." + std::to_string(i));
  if (r.task == "clip") return validate_clip(r, fail);
  if (r.task == "diffusion" || r.task == "noisy_classifier" || r.task == "classifier") return validate_diffusion(r, fail);
  if (r.task != "ssl")
    fail("task", "expected ssl, clip, diffusion, noisy_classifier or classifier, got '" + r.task + "'");
  const auto& name = r.method.name;
  const int64_t views = augment::count_views(r.augment.views);
  auto need_views = [&](int64_t n) {
    if (views != n)
      fail("augment.views", name + " needs exactly " + std::to_string(n) + (n == 1 ? " view" : " views"));
  };
  auto check_momentum = [&](const std::string& key, double m) {
    if (m < 0 || m > 1) fail(key, "expected a value in [0, 1]");
  };
  auto check_temperature = [&](const std::string& key, double t) {
    if (t <= 0) fail(key, "expected a positive temperature");
  };
  if (name == "moco") {
    const auto& m = r.method.moco;
    need_views(2);
    if (m.queue_size <= 0 || m.queue_size % r.train.batch_size != 0)
      fail("method.moco.queue_size", "expected a positive multiple of train.batch_size (" +
                                          std::to_string(r.train.batch_size) + ")");
    if (m.bn_splits <= 0 || r.train.batch_size % m.bn_splits != 0)
      fail("method.moco.bn_splits", "expected a divisor of train.batch_size");
    check_momentum("method.moco.momentum", m.momentum);
    check_momentum("method.moco.momentum_final", m.momentum_final);
    check_temperature("method.moco.temperature", m.temperature);
  } else if (name == "moco_v3") {
    need_views(2);
    check_momentum("method.moco_v3.momentum", r.method.moco_v3.momentum);
    check_momentum("method.moco_v3.momentum_final", r.method.moco_v3.momentum_final);
    check_temperature("method.moco_v3.temperature", r.method.moco_v3.temperature);
  } else if (name == "dino") {
    const auto& d = r.method.dino;
    if (views < 2) fail("augment.views", "dino needs at least the two global crops (then any local crops)");
    std::vector<int64_t> sizes;  // crop size of each view, repeats expanded
    for (const auto& view : r.augment.views) sizes.insert(sizes.end(), view.repeat, view.crop.size);
    if (sizes.size() >= 2 && sizes[0] != sizes[1])
      fail("augment.views", "dino: the two global crops (the first two views) must have the same size");
    if (d.out_dim < 1 || d.hidden_dim < 1 || d.bottleneck_dim < 1 || d.head_layers < 1)
      fail("method.dino", "expected positive out_dim, hidden_dim, bottleneck_dim and head_layers");
    check_temperature("method.dino.student_temperature", d.student_temperature);
    check_temperature("method.dino.teacher_temperature", d.teacher_temperature);
    check_temperature("method.dino.teacher_temperature_start", d.teacher_temperature_start);
    if (d.teacher_warmup_epochs < 0 || d.freeze_last_layer_epochs < 0)
      fail("method.dino", "expected teacher_warmup_epochs and freeze_last_layer_epochs >= 0");
    if (d.center_momentum < 0 || d.center_momentum >= 1) fail("method.dino.center_momentum", "expected a value in [0, 1)");
    check_momentum("method.dino.momentum", d.momentum);
    check_momentum("method.dino.momentum_final", d.momentum_final);
  } else if (name == "swav") {
    const auto& w = r.method.swav;
    if (views < 2) fail("augment.views", "swav needs at least the two global crops (then any local crops)");
    if (w.prototypes < 2) fail("method.swav.prototypes", "expected at least 2");
    check_temperature("method.swav.temperature", w.temperature);
    if (w.epsilon <= 0) fail("method.swav.epsilon", "expected a positive value");
    if (w.sinkhorn_iterations < 1) fail("method.swav.sinkhorn_iterations", "expected at least 1");
    if (w.queue_size < 0 || (w.queue_size > 0 && w.queue_size % r.train.batch_size != 0))
      fail("method.swav.queue_size", "expected 0 or a positive multiple of train.batch_size (" +
                                          std::to_string(r.train.batch_size) + ")");
    if (w.queue_start_epoch < 0 || w.freeze_prototypes_steps < 0)
      fail("method.swav", "expected queue_start_epoch and freeze_prototypes_steps >= 0");
  } else if (name == "cpc") {
    const auto& c = r.method.cpc;
    need_views(1);
    if (c.patch_size < 1 || c.patch_stride < 1) fail("method.cpc.patch_size", "expected positive patch_size and patch_stride");
    if (c.context != "gru" && c.context != "conv") fail("method.cpc.context", "expected gru or conv, got '" + c.context + "'");
    if (c.context_layers < 1) fail("method.cpc.context_layers", "expected at least 1");
    if (c.predict_steps < 1) fail("method.cpc.predict_steps", "expected at least 1");
    check_temperature("method.cpc.temperature", c.temperature);
    const int64_t size = r.augment.views[0].crop.size;
    if (size > 0 && (size < c.patch_size || (size - c.patch_size) / c.patch_stride < c.predict_steps))
      fail("method.cpc.predict_steps", "a " + std::to_string(size) + " px crop gives " +
                                            std::to_string(size < c.patch_size ? 0 : (size - c.patch_size) / c.patch_stride + 1) +
                                            " rows of patches: too few to predict " + std::to_string(c.predict_steps) + " rows ahead");
  } else if (name == "cmc") {
    const auto& c = r.method.cmc;
    need_views(1);
    if (c.color_space != "lab" && c.color_space != "rgb")
      fail("method.cmc.color_space", "expected lab or rgb, got '" + c.color_space + "'");
    if (c.channel_groups.size() < 2) fail("method.cmc.channel_groups", "expected at least two views");
    check_temperature("method.cmc.temperature", c.temperature);
  } else if (name == "instdisc") {
    const auto& m = r.method.instdisc;
    need_views(1);
    if (m.negatives < 0) fail("method.instdisc.negatives", "expected 0 (full softmax) or a positive count");
    check_temperature("method.instdisc.temperature", m.temperature);
    check_momentum("method.instdisc.bank_momentum", m.bank_momentum);
    if (m.proximal < 0) fail("method.instdisc.proximal", "expected a value >= 0");
    if (m.z_momentum < 0 || m.z_momentum >= 1) fail("method.instdisc.z_momentum", "expected a value in [0, 1)");
  } else if (name == "invaspread") {
    need_views(2);
    check_temperature("method.invaspread.temperature", r.method.invaspread.temperature);
  } else if (name == "simclr") {
    const auto& m = r.method.simclr;
    need_views(2);
    check_temperature("method.simclr.temperature", m.temperature);
    if (m.queue_size < 0 || (m.queue_size > 0 && m.queue_size < 2 * r.train.batch_size))
      fail("method.simclr.queue_size", "expected 0 (no memory) or at least two batches (" +
                                            std::to_string(2 * r.train.batch_size) + ")");
    check_momentum("method.simclr.momentum", m.momentum);
    if (m.eval_head_layers < 0 || m.eval_head_layers >= r.method.projector.layers)
      fail("method.simclr.eval_head_layers", "expected 0 to projector.layers - 1 (" +
                                                  std::to_string(r.method.projector.layers - 1) + ")");
  } else if (name == "byol") {
    need_views(2);
    check_momentum("method.byol.momentum", r.method.byol.momentum);
    check_momentum("method.byol.momentum_final", r.method.byol.momentum_final);
  } else if (name == "simsiam") {
    need_views(2);
  } else if (name == "barlow_twins") {
    need_views(2);
    if (r.method.barlow.lambda < 0) fail("method.barlow.lambda", "expected a value >= 0");
  } else {
    fail("method.name", "unknown method '" + name + "' (expected one of " + kMethodNames + ")");
  }
  if ((name == "byol" || name == "simsiam" || name == "moco_v3") && r.method.predictor.out_dim != r.method.projector.out_dim)
    fail("method.predictor.out_dim", "expected the projector's out_dim (" + std::to_string(r.method.projector.out_dim) +
                                         "): the predictor maps a projection onto the other view's projection");
  for (const char* head : {"projector", "predictor"}) {
    const auto& h = std::string(head) == "projector" ? r.method.projector : r.method.predictor;
    const std::string key = std::string("method.") + head;
    if (h.layers < 1) fail(key + ".layers", "expected at least 1");
    if (h.out_dim < 1 || (h.layers > 1 && h.hidden_dim < 1)) fail(key, "expected positive hidden_dim and out_dim");
    models::check_head_norm(h.norm, origin + ": " + key + ".norm");
  }
  if (r.eval.knn.k <= 0) fail("eval.knn.k", "expected a positive k");
  const auto& ft = r.eval.finetune;
  if (ft.label_fraction <= 0 || ft.label_fraction > 1) fail("eval.finetune.label_fraction", "expected a value in (0, 1]");
  if (ft.epochs <= 0 || ft.batch_size <= 1) fail("eval.finetune", "expected positive epochs and batch_size > 1");
}

Recipe parse_recipe(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(origin + ": line " + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!overrides.empty()) root = config::expand_aliases(root);
  for (const auto& o : overrides) config::apply_override(root, o);
  Recipe recipe;
  config::from_yaml(root, recipe, origin);
  validate(recipe, origin);
  return recipe;
}

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open recipe file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_recipe(text.str(), path, overrides);
}

std::string recipe_to_yaml(Recipe recipe) { return config::to_yaml(recipe); }

}  // namespace selfsup
