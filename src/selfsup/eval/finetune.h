// Fine-tuning evaluation (SimCLR's semi-supervised protocol): the whole encoder plus a new linear
// classifier are trained on a class-balanced fraction of the training labels, then scored on the
// test set. With a randomly initialised encoder this is supervised training from scratch on the
// same labels — the baseline that shows what the pretraining is worth.
#pragma once

#include <torch/torch.h>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/dataset.h"
#include "selfsup/models/backbone.h"

namespace selfsup::eval {

struct FinetuneOptions {
  double label_fraction = 0.1;  // of each class's training images
  int64_t epochs = 10;
  int64_t batch_size = 256;
  double lr = 0.05;  // SGD, momentum 0.9, Nesterov, cosine to 0
  double weight_decay = 5e-4;
  uint64_t seed = 0;
};

// The class-balanced labelled subset: ceil(fraction * count) images of each class, chosen with
// `seed`. Sorted indices into the training set.
torch::Tensor labelled_subset(const torch::Tensor& labels, int64_t num_classes, double fraction, uint64_t seed);

// Trains `encoder` in place (callers restore its weights if they need them) with random resized
// crops (scale 0.5-1) and flips in `view`'s normalisation; returns test top-1 in [0, 1] on
// un-augmented test images. `view` is the evaluation view (its crop.size is the input size).
double finetune_accuracy(models::Backbone& encoder, const data::ImageDataset& train, const data::ImageDataset& test,
                         const augment::ViewConfig& view, torch::Device device, const FinetuneOptions& options);

}  // namespace selfsup::eval
