#include "selfsup/clip/zero_shot.h"

#include <algorithm>

#include "selfsup/clip/embed.h"
#include "selfsup/core/tensor.h"

namespace selfsup::clip {

std::string fill_template(const std::string& tpl, const std::string& name) {
  std::string out = tpl;
  for (size_t at = out.find("{}"); at != std::string::npos; at = out.find("{}", at + name.size()))
    out.replace(at, 2, name);
  return out;
}

torch::Tensor class_embeddings(ClipModel& model, const Tokenizer& tokenizer, const std::vector<std::string>& classes,
                               const std::vector<std::string>& templates, int64_t max_length, torch::Device device) {
  std::vector<std::string> prompts;
  for (const auto& name : classes)
    for (const auto& tpl : templates) prompts.push_back(fill_template(tpl, name));
  const auto emb = embed_texts(model, tokenizer, prompts, max_length, device);  // (C * T) x E
  const auto per_class = emb.view({static_cast<int64_t>(classes.size()), static_cast<int64_t>(templates.size()), -1});
  return l2_normalize(per_class.mean(1));
}

ZeroShotResult zero_shot_accuracy(const torch::Tensor& image_emb, const torch::Tensor& class_emb, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  ZeroShotResult r;
  const auto scores = torch::matmul(image_emb, class_emb.t());  // N x C
  r.predictions = scores.argmax(1);
  const auto keep = labels >= 0;
  const auto n = keep.sum().item<double>();
  if (n == 0) return r;
  const auto k = std::min<int64_t>(5, class_emb.size(0));
  const auto top = std::get<1>(scores.topk(k, 1));                      // N x k
  const auto hit = top == labels.view({-1, 1});                         // N x k
  r.top1 = (hit.select(1, 0) & keep).sum().item<double>() / n;
  r.top5 = (hit.any(1) & keep).sum().item<double>() / n;
  return r;
}

}  // namespace selfsup::clip
