#include "selfsup/clip/label_protocol.h"

#include <map>
#include <sstream>

#include "selfsup/core/error.h"
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

nlohmann::json label_protocol(const torch::Tensor& similarity, const data::CaptionDataset& test, const LabelQueries& q) {
  const auto n_texts = static_cast<int64_t>(q.texts.size());
  const auto text_ids = torch::arange(n_texts, torch::kLong);
  // Each label's emoji (without tone) and whether it was held out: those of its first image.
  const auto text_base = test.image_base_group.index_select(0, q.first_image);
  const auto by_image = similarity.t();

  const auto t2i = eval::best_positive_ranks(similarity, text_ids, q.of_image);
  const auto i2t = eval::best_positive_ranks(by_image, q.of_image, text_ids);
  nlohmann::json j;
  j["queries"] = n_texts;
  j["text_to_image"] = eval::to_json(eval::summarize_ranks(t2i));
  j["image_to_text"] = eval::to_json(eval::summarize_ranks(i2t));
  j["any_tone_r1"] = {
      {"text_to_image", eval::summarize_ranks(eval::best_positive_ranks(similarity, text_base, test.image_base_group)).r1},
      {"image_to_text", eval::summarize_ranks(eval::best_positive_ranks(by_image, test.image_base_group, text_base)).r1}};
  if (test.image_unseen.defined() && test.image_unseen.any().item<bool>()) {
    const auto text_unseen = test.image_unseen.index_select(0, q.first_image);
    j["unseen"] = {{"queries", text_unseen.sum().item<int64_t>()},
                   {"text_to_image", eval::to_json(eval::summarize_ranks(only(t2i, text_unseen)))},
                   {"image_to_text", eval::to_json(eval::summarize_ranks(only(i2t, test.image_unseen)))}};
  }
  return j;
}

torch::Tensor pixel_label_similarity(const data::CaptionDataset& train, const data::CaptionDataset& test, const LabelQueries& q) {
  torch::NoGradGuard no_grad;
  const auto& a = train.images.images;
  const auto& b = test.images.images;
  if (a.sizes().slice(1) != b.sizes().slice(1)) {
    std::ostringstream m;
    m << "raw-pixel baseline: training images " << a.sizes() << " and test images " << b.sizes() << " differ in size";
    throw Error(m.str());
  }
  const auto train_px = a.flatten(1).to(torch::kFloat);
  const auto mean = train_px.mean(0, true);
  const auto unit = [&](const torch::Tensor& x) { return torch::nn::functional::normalize((x - mean), {}); };
  const auto cos = torch::matmul(unit(b.flatten(1).to(torch::kFloat)), unit(train_px).t());  // N_test x N_train

  // The training images of each label (a few: one per artist), then the best of them, one column
  // per label; a label with fewer images takes a column of -2 (below any cosine) for the missing ones.
  std::map<std::string, std::vector<int64_t>> images_of;
  for (size_t i = 0; i < train.image_label.size(); ++i) images_of[train.image_label[i]].push_back(static_cast<int64_t>(i));
  const int64_t none = a.size(0);
  const auto padded = torch::cat({cos, torch::full({cos.size(0), 1}, -2.0f)}, 1);
  auto best = torch::full({b.size(0), static_cast<int64_t>(q.texts.size())}, -2.0f);
  for (size_t r = 0;; ++r) {
    std::vector<int64_t> column;  // the r-th training image of each label
    bool any = false;
    for (const auto& label : q.texts) {
      const auto it = images_of.find(label);
      const bool has = it != images_of.end() && r < it->second.size();
      column.push_back(has ? it->second[r] : none);
      any = any || has;
    }
    if (!any) break;
    best = torch::maximum(best, padded.index_select(1, torch::tensor(column, torch::kLong)));
  }
  return best.t().contiguous();
}

}  // namespace selfsup::clip
