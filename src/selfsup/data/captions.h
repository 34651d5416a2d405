// Image-caption datasets for CLIP: images in memory (an ImageDataset) plus their captions, tied
// together by content ids, and the Flickr8k loader (the CLIP seed's data). Emoji: emoji.h.
#pragma once

#include "selfsup/data/dataset.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::data {

// N images and M captions. Image i and caption j are a positive pair iff
// image_group[i] == caption_group[j]; every image has at least one positive caption and every
// caption at least one positive image (validate() checks it). Several images can share a content
// id (the same emoji drawn by different artists) and several captions do (Flickr8k's five per
// image), so retrieval and the loss must treat groups, not indices, as the truth.
//
// Content ids are stable across splits and filters of the same source: the id of an image or
// emoji does not depend on which split, artists or variants were loaded, so ids from a training
// set and a held-out set can be compared. They are therefore not dense 0..K-1.
struct CaptionDataset {
  ImageDataset images;  // N x 3 x S x S uint8; labels = category index (-1 if none)
  std::vector<std::string> paths;     // N: the file each image came from
  torch::Tensor image_group;          // N int64 content id
  std::vector<std::string> captions;  // M
  torch::Tensor caption_group;        // M int64 content id the caption describes
  std::string source;                 // where it came from, for messages and reports
  // Emoji only (empty otherwise; data/emoji.h): each image's plain label ("waving hand: medium
  // skin tone"), the content id of its emoji without skin tone, and whether its emoji was held out
  // of training (data.unseen_names).
  std::vector<std::string> image_label;  // N
  torch::Tensor image_base_group;        // N int64
  torch::Tensor image_unseen;            // N bool

  int64_t num_images() const { return images.size(); }
  int64_t num_captions() const { return static_cast<int64_t>(captions.size()); }
  // Distinct content ids among the images.
  int64_t num_groups() const;
  // N x M bool: image i and caption j describe the same content.
  torch::Tensor positives() const;
  // Throws selfsup::Error (naming source) when the sizes disagree or an image or a caption has
  // no positive.
  void validate() const;
};

// Flickr8k as the Kaggle download (and the CLIP seed) lays it out:
//   root/Images/ (or root/images/)  the JPEG files
//   root/captions.txt               CSV with header `image,caption`, five rows per image
//   root/captions.csv               or the seed's variant with header `image,caption,id`
// (captions.txt wins when both exist). Fields follow RFC 4180: a caption may be "quoted", contain
// commas and "" for a quote. split is "train", "val" or "test": Karpathy's
// Flickr_8k.{trainImages,devImages,testImages}.txt (one file name a line) when present in root,
// else a seeded 80/20 train/val split of the images like the seed's np.random.seed(42) (same
// proportions, not numpy's exact draw; "test" then is an error). Images and captions keep the
// captions file's order; content id = the image's position in that file (first appearance).
// labels are -1 and class_names empty. image_size > 0 (the photos differ in size).
// Throws selfsup::Error naming the file and line for a missing or malformed captions file, a
// caption naming an image that does not exist, or a split file listing an uncaptioned image.
CaptionDataset load_flickr8k(const std::string& root, const std::string& split, int64_t image_size);

}  // namespace selfsup::data
