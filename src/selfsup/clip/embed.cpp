#include "selfsup/clip/embed.h"

#include <algorithm>

#include "selfsup/core/progress.h"
#include "selfsup/core/tensor.h"

namespace selfsup::clip {

torch::Tensor embed_images(ClipModel& model, const torch::Tensor& images_u8, const augment::ViewConfig& view,
                           torch::Device device, int64_t batch_size, bool progress) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t n = images_u8.size(0);
  std::unique_ptr<Progress> bar;
  const int64_t batches = (n + batch_size - 1) / batch_size;
  if (progress) bar = std::make_unique<Progress>("embedding", batches, batches / 4 + 1);
  std::vector<torch::Tensor> out;
  for (int64_t begin = 0, step = 0; begin < n; begin += batch_size) {
    const auto x = augment::prepare_eval(images_u8.slice(0, begin, std::min(n, begin + batch_size)), view, device);
    out.push_back(l2_normalize(model.encode_images(x)).cpu());
    if (bar) bar->update(++step, std::to_string(std::min(n, begin + batch_size)) + " images");
  }
  if (bar) bar->finish(std::to_string(n) + " images");
  model.train(was_training);
  return out.empty() ? torch::empty({0, 0}) : torch::cat(out);
}

torch::Tensor embed_texts(ClipModel& model, const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                          int64_t max_length, torch::Device device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> out;
  for (size_t begin = 0; begin < texts.size(); begin += static_cast<size_t>(batch_size)) {
    const std::vector<std::string> chunk(texts.begin() + static_cast<std::ptrdiff_t>(begin),
                                         texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), begin + batch_size)));
    const auto tokens = tokenizer.encode(chunk, max_length);
    out.push_back(l2_normalize(model.encode_texts(tokens.ids.to(device), tokens.mask.to(device))).cpu());
  }
  model.train(was_training);
  return out.empty() ? torch::empty({0, 0}) : torch::cat(out);
}

}  // namespace selfsup::clip
