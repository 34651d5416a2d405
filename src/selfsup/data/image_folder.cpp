#include "selfsup/data/image_folder.h"

#include "selfsup/core/error.h"
#include "selfsup/data/decode.h"

#include <algorithm>
#include <filesystem>

namespace selfsup::data {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> sorted_entries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const bool hidden = entry.path().filename().string().rfind('.', 0) == 0;
    if (!hidden && entry.is_directory() == want_dirs) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ImageFolderFiles list_image_folder_files(const std::string& root) {
  if (!fs::is_directory(root)) throw Error(root + ": no such directory");
  ImageFolderFiles list;
  for (const auto& dir : sorted_entries(root, true)) {
    const auto label = static_cast<int64_t>(list.class_names.size());
    list.class_names.push_back(dir.filename().string());
    const size_t before = list.paths.size();
    for (const auto& file : sorted_entries(dir, false)) {
      if (!is_image_file(file.string())) continue;
      list.paths.push_back(file.string());
      list.labels.push_back(label);
    }
    // A class without images would still take a label: every accuracy would be off by a class.
    if (list.paths.size() == before)
      throw Error(dir.string() + ": empty class folder: expected .png/.jpg/.jpeg/.bmp files (remove the folder or add images)");
  }
  if (list.class_names.empty())
    throw Error(root + ": no class folders: expected root/<class>/<image files>");
  if (list.paths.empty())
    throw Error(root + ": no images: expected .png/.jpg/.jpeg/.bmp files in class folders");
  return list;
}

std::vector<std::string> image_folder_classes(const std::string& root) {
  if (!fs::is_directory(root)) throw Error(root + ": no such directory");
  std::vector<std::string> names;
  for (const auto& dir : sorted_entries(root, true)) names.push_back(dir.filename().string());
  return names;
}

ImageDataset load_image_folder(const std::string& root, int64_t size, int64_t channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw Error(root + ": channels " + std::to_string(channels) + ": expected 0, 1 or 3");
  if (size < 0) throw Error(root + ": size " + std::to_string(size) + ": expected >= 0");
  auto list = list_image_folder_files(root);
  ImageDataset ds;
  ds.images = decode_images(list.paths, size, channels);
  ds.labels = torch::tensor(list.labels, torch::kLong);
  ds.class_names = std::move(list.class_names);
  ds.source = root;
  return ds;
}

}  // namespace selfsup::data
