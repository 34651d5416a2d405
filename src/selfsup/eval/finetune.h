// Fine-tuning evaluation (SimCLR's semi-supervised protocol): the whole encoder plus a new linear
// classifier are trained on a class-balanced fraction of the training labels, then scored on the
// test set. With a randomly initialised encoder this is supervised training from scratch on the
// same labels — the baseline that shows what the pretraining is worth.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/dataset.h"
#include "selfsup/models/backbone.h"

namespace selfsup::eval {

struct FinetuneOptions {
  double label_fraction = 0.1;  // of each class's training images
  int64_t epochs = 10;
  int64_t batch_size = 256;
  std::string optimizer = "sgd";  // sgd (momentum 0.9, Nesterov) | adamw; cosine to 0
  double lr = 0.05;
  double backbone_lr_scale = 1.0;  // the encoder's lr relative to the classifier's
  double weight_decay = 5e-4;
  std::vector<std::string> classes;  // only these classes (by name), relabelled in this order; empty: all
  uint64_t seed = 0;
  bool test_every_epoch = false;  // measure test accuracy after every epoch (for the curves), not only at the end
};

struct FinetuneEpoch {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0, lr = 0;
  double test_acc = NAN;  // NaN unless test_every_epoch (or the last epoch)
};

struct FinetuneResult {
  double top1 = 0;       // test top-1 after the last epoch
  double best_top1 = 0;  // best test top-1 over the measured epochs
  std::vector<FinetuneEpoch> epochs;
  int64_t train_images = 0, test_images = 0, classes = 0;
};

// The class-balanced labelled subset: ceil(fraction * count) images of each class, chosen with
// `seed`. Sorted indices into the training set.
torch::Tensor labelled_subset(const torch::Tensor& labels, int64_t num_classes, double fraction, uint64_t seed);

// Trains `encoder` in place (callers restore its weights if they need them) with random resized
// crops (scale 0.5-1) and flips in `view`'s normalisation; test top-1 in [0, 1] on un-augmented
// test images, and per epoch the training loss and accuracy. `view` is the evaluation view (its
// crop.size is the input size). Throws selfsup::Error for an unknown class name or optimizer.
FinetuneResult finetune(models::Backbone& encoder, const data::ImageDataset& train, const data::ImageDataset& test,
                        const augment::ViewConfig& view, torch::Device device, const FinetuneOptions& options);

}  // namespace selfsup::eval
