// Readers for the IDX format of MNIST / Fashion-MNIST (gzip-compressed or raw) into an
// in-memory ImageDataset.
#pragma once

#include "selfsup/data/dataset.h"

#include <string>
#include <vector>

namespace selfsup::data {

// images: N x 1 x H x W uint8; labels: N int64. Every label must index class_names; when
// class_names is empty they are named "0".."max label". Throws selfsup::Error naming the file.
ImageDataset load_idx(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names);

// root holds {train,t10k}-{images-idx3,labels-idx1}-ubyte, each with or without ".gz".
ImageDataset load_mnist_like(const std::string& root, bool train,
                             std::vector<std::string> class_names);

std::vector<std::string> fashion_mnist_classes();
std::vector<std::string> mnist_classes();

}  // namespace selfsup::data
