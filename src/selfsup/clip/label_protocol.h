// The label protocol for emoji retrieval: one text query per test image — its plain label,
// "waving hand: medium skin tone" — against every test image, and every test image against the
// labels of all test images; R@1/5/10 both ways, R@1 counting any skin tone of the right emoji as a
// hit (most errors are the same emoji in another tone), and the same restricted to the emoji held
// out of training (data.unseen_names). The protocol of the PyTorch CLIP written for comparison in
// docs/results.md; the caption protocol (every caption of every test image) is eval/retrieval.h.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "selfsup/data/captions.h"

namespace selfsup::clip {

struct LabelQueries {
  std::vector<std::string> texts;  // the distinct labels of the test images, in order of appearance
  torch::Tensor of_image;          // N int64: each image's label's index in texts
  torch::Tensor first_image;       // texts.size() int64: the first image with each label
};

// Empty texts when the dataset has no labels (anything but emoji).
LabelQueries label_queries(const data::CaptionDataset& test);

// similarity: texts.size() x N, each label's score for each test image (for CLIP the dot products
// of the L2-normalised embeddings). JSON:
// {"queries", "text_to_image": {r1, r5, r10, mean_rank, median_rank, queries}, "image_to_text": {...},
//  "any_tone_r1": {"text_to_image", "image_to_text"}, "unseen": {same as the first three}}
// ("unseen" only when some test images are marked unseen).
nlohmann::json label_protocol(const torch::Tensor& similarity, const data::CaptionDataset& test, const LabelQueries& queries);

// The raw-pixel baseline of the protocol: a label's score for a test image is the best cosine
// similarity between that image and the training images with the label (pixels centred by the
// training mean) — matching the held-out artist's drawing to the other artists' drawings. Labels
// without training images (held out, data.unseen_names) score below everything. texts.size() x N.
torch::Tensor pixel_label_similarity(const data::CaptionDataset& train, const data::CaptionDataset& test,
                                     const LabelQueries& queries);

}  // namespace selfsup::clip
