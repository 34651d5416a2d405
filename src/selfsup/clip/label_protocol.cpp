#include "selfsup/clip/label_protocol.h"

#include <map>

#include "selfsup/eval/retrieval.h"

namespace selfsup::clip {
namespace {

// The ranks of the queries where keep is true (the others count as skipped).
std::vector<int64_t> only(std::vector<int64_t> ranks, const torch::Tensor& keep) {
  const auto k = keep.to(torch::kBool).contiguous();
  const auto* p = k.data_ptr<bool>();
  for (size_t i = 0; i < ranks.size(); ++i)
    if (!p[i]) ranks[i] = 0;
  return ranks;
}

}  // namespace

LabelQueries label_queries(const data::CaptionDataset& test) {
  LabelQueries q;
  if (test.image_label.empty()) return q;
  std::map<std::string, int64_t> index;
  std::vector<int64_t> of_image, first_image;
  for (const auto& label : test.image_label) {
    const auto [it, added] = index.emplace(label, static_cast<int64_t>(q.texts.size()));
    if (added) {
      q.texts.push_back(label);
      first_image.push_back(static_cast<int64_t>(of_image.size()));
    }
    of_image.push_back(it->second);
  }
  q.of_image = torch::tensor(of_image, torch::kLong);
  q.first_image = torch::tensor(first_image, torch::kLong);
  return q;
}

nlohmann::json label_protocol(const torch::Tensor& images, const torch::Tensor& label_texts, const data::CaptionDataset& test,
                              const LabelQueries& q) {
  const auto n_texts = static_cast<int64_t>(q.texts.size());
  const auto text_ids = torch::arange(n_texts, torch::kLong);
  // Each label's emoji (without tone) and whether it was held out: those of its first image.
  const auto text_base = test.image_base_group.index_select(0, q.first_image);

  const auto t2i = eval::best_positive_ranks(label_texts, images, text_ids, q.of_image);
  const auto i2t = eval::best_positive_ranks(images, label_texts, q.of_image, text_ids);
  nlohmann::json j;
  j["queries"] = n_texts;
  j["text_to_image"] = eval::to_json(eval::summarize_ranks(t2i));
  j["image_to_text"] = eval::to_json(eval::summarize_ranks(i2t));
  j["any_tone_r1"] = {
      {"text_to_image", eval::summarize_ranks(eval::best_positive_ranks(label_texts, images, text_base, test.image_base_group)).r1},
      {"image_to_text", eval::summarize_ranks(eval::best_positive_ranks(images, label_texts, test.image_base_group, text_base)).r1}};
  if (test.image_unseen.defined() && test.image_unseen.any().item<bool>()) {
    const auto text_unseen = test.image_unseen.index_select(0, q.first_image);
    j["unseen"] = {{"queries", text_unseen.sum().item<int64_t>()},
                   {"text_to_image", eval::to_json(eval::summarize_ranks(only(t2i, text_unseen)))},
                   {"image_to_text", eval::to_json(eval::summarize_ranks(only(i2t, test.image_unseen)))}};
  }
  return j;
}

}  // namespace selfsup::clip
