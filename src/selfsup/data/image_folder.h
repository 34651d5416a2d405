// Loads a torchvision-style ImageFolder tree (root/<class>/<image>) of PNG/JPEG/BMP files into
// an in-memory ImageDataset.
#pragma once

#include "selfsup/data/dataset.h"

#include <string>
#include <vector>

namespace selfsup::data {

// Classes are the sorted subfolder names (label = position), files are taken in sorted order
// and non-image files are skipped. Every image is decoded to `channels` (1 or 3; 0 = gray
// first image -> 1, else 3) and resized bilinearly (antialiased) to size x size; size 0 keeps
// the size, which must then be the same for all images. Transparent pixels come out on white.
// Throws selfsup::Error naming the file.
ImageDataset load_image_folder(const std::string& root, int64_t size, int64_t channels);

// The files of a tree and their labels, without reading any image (as load_image_folder lists them).
struct ImageFolderFiles {
  std::vector<std::string> class_names;
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
};
ImageFolderFiles list_image_folder_files(const std::string& root);

// The class names of a tree (its sorted, non-hidden subfolders) without reading any image.
std::vector<std::string> image_folder_classes(const std::string& root);

}  // namespace selfsup::data
