#include "selfsup/data/image_folder.h"

#include "selfsup/core/error.h"

#include <stb_image.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <thread>

namespace selfsup::data {
namespace {

namespace fs = std::filesystem;

struct FileList {
  std::vector<std::string> class_names;
  std::vector<std::string> paths;
  std::vector<int64_t> labels;
};

bool is_image_file(const fs::path& path) {
  auto ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool want_dirs) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const bool hidden = entry.path().filename().string().rfind('.', 0) == 0;
    if (!hidden && entry.is_directory() == want_dirs) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

FileList list_files(const std::string& root) {
  if (!fs::is_directory(root)) throw Error(root + ": no such directory");
  FileList list;
  for (const auto& dir : sorted_entries(root, true)) {
    const auto label = static_cast<int64_t>(list.class_names.size());
    list.class_names.push_back(dir.filename().string());
    for (const auto& file : sorted_entries(dir, false)) {
      if (!is_image_file(file)) continue;
      list.paths.push_back(file.string());
      list.labels.push_back(label);
    }
  }
  if (list.class_names.empty())
    throw Error(root + ": no class folders: expected root/<class>/<image files>");
  if (list.paths.empty())
    throw Error(root + ": no images: expected .png/.jpg/.jpeg/.bmp files in class folders");
  return list;
}

[[noreturn]] void throw_undecodable(const std::string& path) {
  throw Error(path + ": cannot decode image: " + stbi_failure_reason());
}

struct Geometry {
  int64_t channels, height, width;
};

// Output geometry from the first image's header, so the result can be allocated up front.
Geometry plan_geometry(const std::string& first, int64_t size, int64_t channels) {
  int w = 0, h = 0, c = 0;
  if (!stbi_info(first.c_str(), &w, &h, &c)) throw_undecodable(first);
  if (channels == 0) channels = c <= 2 ? 1 : 3;  // gray or gray+alpha -> 1
  return {channels, size > 0 ? size : h, size > 0 ? size : w};
}

torch::Tensor resize(const torch::Tensor& chw, int64_t height, int64_t width) {
  namespace F = torch::nn::functional;
  auto out = F::interpolate(chw.unsqueeze(0).to(torch::kFloat),
                            F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{height, width})
                                .mode(torch::kBilinear)
                                .align_corners(false)
                                .antialias(true));
  return out.squeeze(0).round_().clamp_(0, 255).to(torch::kUInt8);
}

// Decodes one file into out (C x H x W uint8).
void decode_into(const std::string& path, const Geometry& g, bool resize_to_fit,
                 torch::Tensor out) {
  int w = 0, h = 0, c = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load(path.c_str(), &w, &h, &c, static_cast<int>(g.channels)), stbi_image_free);
  if (!pixels) throw_undecodable(path);
  auto hwc = torch::from_blob(pixels.get(), {h, w, g.channels}, torch::kUInt8);
  auto chw = hwc.permute({2, 0, 1});
  if (h == g.height && w == g.width) {
    out.copy_(chw);
  } else if (resize_to_fit) {
    out.copy_(resize(chw, g.height, g.width));
  } else {
    std::ostringstream msg;
    msg << path << ": image is " << h << "x" << w << ": expected " << g.height << "x" << g.width
        << " like the first image (or pass a size to resize)";
    throw Error(msg.str());
  }
}

// Decodes on a couple of threads; the error of the first failing file (in list order) wins,
// so the message does not depend on thread timing.
void decode_all(const std::vector<std::string>& paths, const Geometry& g, bool resize_to_fit,
                torch::Tensor images) {
  const auto n = static_cast<int64_t>(paths.size());
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> first_error{std::numeric_limits<int64_t>::max()};
  std::vector<std::exception_ptr> errors(paths.size());
  auto work = [&] {
    torch::NoGradGuard no_grad;
    for (int64_t i = next++; i < n && i < first_error.load(); i = next++) {
      try {
        decode_into(paths[i], g, resize_to_fit, images[i]);
      } catch (...) {
        errors[i] = std::current_exception();
        int64_t seen = first_error.load();
        while (i < seen && !first_error.compare_exchange_weak(seen, i)) {
        }
      }
    }
  };
  const int64_t threads =
      std::min<int64_t>(n, std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 4));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (first_error.load() < n) std::rethrow_exception(errors[first_error.load()]);
}

}  // namespace

ImageDataset load_image_folder(const std::string& root, int64_t size, int64_t channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw Error(root + ": channels " + std::to_string(channels) + ": expected 0, 1 or 3");
  if (size < 0) throw Error(root + ": size " + std::to_string(size) + ": expected >= 0");
  auto list = list_files(root);
  const auto g = plan_geometry(list.paths.front(), size, channels);
  const auto n = static_cast<int64_t>(list.paths.size());
  ImageDataset ds;
  ds.images = torch::empty({n, g.channels, g.height, g.width}, torch::kUInt8);
  decode_all(list.paths, g, size > 0, ds.images);
  ds.labels = torch::tensor(list.labels, torch::kLong);
  ds.class_names = std::move(list.class_names);
  ds.source = root;
  return ds;
}

}  // namespace selfsup::data
