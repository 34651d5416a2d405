// CMC (Tian, Krishnan & Isola 2019, "Contrastive Multiview Coding"): the views of an image are
// different sensors of the same scene — here channel groups of a colour image, by default the
// luminance L and the chrominance ab of CIE Lab, as in the paper's ImageNet experiments. Each view
// has its own encoder and linear projection; every pair of views is contrasted in both directions
// with in-batch negatives (the paper's "full graph"; its memory bank of negatives is not
// implemented):
//   L = mean over pairs (a, b), a != b, of CE( z_a z_b^T / tau, own image )
// The recipe's view supplies the augmented RGB image in [0, 1] (mean 0, std 1); the conversion to
// Lab happens here, so evaluation images go through the same path.
#include "selfsup/ssl/methods/cmc.h"

#include "selfsup/augment/ops.h"
#include "selfsup/core/error.h"
#include "selfsup/core/distributed.h"
#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

#include <sstream>

namespace selfsup::ssl {

void CmcConfig::visit(config::Visitor& v) {
  v("color_space", color_space, "lab (CIE L*a*b*, CMC's choice) | rgb: the colour space the channel groups index");
  v("channel_groups", channel_groups, "one entry per view, listing its channels, e.g. [\"0\", \"1,2\"] = L vs ab; each view has its own encoder and projector");
  v("temperature", temperature, "softmax temperature of the pairwise InfoNCE (CMC: 0.07)", config::positive);
}

void CmcConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 1, "cmc");
  if (color_space != "lab" && color_space != "rgb")
    check.fail("method.cmc.color_space", "expected lab or rgb, got '" + color_space + "'");
  if (channel_groups.size() < 2) check.fail("method.cmc.channel_groups", "expected at least two views");
  check.temperature("method.cmc.temperature", temperature);
}


std::vector<std::vector<int64_t>> parse_channel_groups(const std::vector<std::string>& groups, int64_t channels) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& g : groups) {
    std::vector<int64_t> channels_of_view;
    std::stringstream ss(g);
    for (std::string item; std::getline(ss, item, ',');) {
      size_t used = 0;
      int64_t c = -1;
      try {
        c = std::stoll(item, &used);
      } catch (const std::exception&) {
      }
      if (used == 0 || c < 0 || c >= channels)
        throw Error("method.cmc.channel_groups: '" + g + "': expected channel numbers 0.." + std::to_string(channels - 1) +
                    " separated by commas (the data has " + std::to_string(channels) + " channels)");
      channels_of_view.push_back(c);
    }
    if (channels_of_view.empty()) throw Error("method.cmc.channel_groups: an empty view");
    out.push_back(channels_of_view);
  }
  return out;
}

MultiViewEncoder::MultiViewEncoder(const Recipe& recipe, std::vector<std::vector<int64_t>> groups, bool lab)
    : groups_(std::move(groups)), lab_(lab) {
  encoders_ = register_module("encoders", torch::nn::ModuleList());
  auto model = recipe.model;
  model.in_channels = 0;
  for (const auto& g : groups_) encoders_->push_back(models::make_backbone(model, static_cast<int64_t>(g.size())));
}

std::vector<torch::Tensor> MultiViewEncoder::split(const torch::Tensor& x) const {
  const auto space = lab_ ? augment::rgb_to_lab(x) : x;
  std::vector<torch::Tensor> out;
  for (const auto& g : groups_)
    out.push_back(space.index_select(1, torch::tensor(g, torch::TensorOptions().dtype(torch::kLong).device(x.device()))));
  return out;
}

torch::Tensor MultiViewEncoder::forward(torch::Tensor x) {
  const auto inputs = split(x);
  std::vector<torch::Tensor> features;
  for (size_t i = 0; i < inputs.size(); ++i) features.push_back(encoder(i).forward(inputs[i]));
  return torch::cat(features, 1);
}

int64_t MultiViewEncoder::output_dim() const {
  int64_t d = 0;
  for (const auto& e : *encoders_) d += e->as<models::Backbone>()->output_dim();
  return d;
}

Cmc::Cmc(const Recipe& recipe, int64_t in_channels) : config_(method_settings<CmcConfig>(recipe)) {
  if (in_channels != 3)
    throw Error("method.name: cmc splits a colour image into channel groups, but the data has " +
                std::to_string(in_channels) + " channel(s)");
  encoders_ = register_module(
      "encoders", std::make_shared<MultiViewEncoder>(recipe, parse_channel_groups(config_.channel_groups, 3),
                                                     config_.color_space == "lab"));
  projectors_ = register_module("projectors", torch::nn::ModuleList());
  for (size_t i = 0; i < encoders_->views(); ++i)
    projectors_->push_back(make_head(method_config(recipe).projector, encoders_->encoder(i).output_dim()));
}

StepOutput Cmc::training_step(const data::Batch& batch, StepContext& ctx) {
  const auto inputs = encoders_->split(batch.views.at(0));
  std::vector<torch::Tensor> z;
  for (size_t i = 0; i < inputs.size(); ++i)
    z.push_back(dist::gather_batch_with_grad(  // several processes: negatives from the global batch
        l2_normalize(projectors_[i]->as<models::MlpHead>()->forward(encoders_->encoder(i).forward(inputs[i])))));
  torch::Tensor loss;
  int64_t pairs = 0;
  for (size_t a = 0; a < z.size(); ++a)
    for (size_t b = 0; b < z.size(); ++b) {
      if (a == b) continue;
      const auto term = info_nce_in_batch(z[a], z[b], config_.temperature);
      loss = pairs++ ? loss + term : term;
    }
  StepOutput out{loss / static_cast<double>(pairs), {}};
  {
    torch::NoGradGuard no_grad;
    const auto target = torch::arange(z[0].size(0), torch::TensorOptions().dtype(torch::kLong).device(z[0].device()));
    out.logs["acc"] = top1_accuracy(torch::mm(z[0], z[1].t()), target);
  }
  out.logs["spread"] = embedding_spread(z[0]);
  return out;
}

}  // namespace selfsup::ssl
