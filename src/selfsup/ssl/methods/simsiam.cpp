// SimSiam (Chen & He 2021, "Exploring Simple Siamese Representation Learning"): both views go
// through the same backbone and projector (whose last layer is a BatchNorm without affine, as in
// the official builder); a predictor MLP maps one view's projection to the other's, which is
// treated as a constant (stop-gradient):
//   L = -cos(p1, sg(z2)) / 2 - cos(p2, sg(z1)) / 2.
// The predictor's learning rate is kept fixed (method.simsiam.fix_predictor_lr, the official
// --fix-pred-lr). Collapse shows as the loss going to -1 at once and the spread to 0.
#include "selfsup/ssl/methods/simsiam.h"

#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void SimSiamConfig::visit(config::Visitor& v) {
  v("fix_predictor_lr", fix_predictor_lr, "keep the predictor at the base lr instead of the schedule (official --fix-pred-lr)");
}

void SimSiamConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 2, "simsiam");
  check_predictor_matches_projector(r, check);
}


SimSiam::SimSiam(const Recipe& recipe, int64_t in_channels) : config_(method_settings<SimSiamConfig>(recipe)) {
  const auto& m = method_config(recipe);
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(m.projector, encoder_->output_dim()));
  predictor_ = register_module("predictor", make_head(m.predictor, m.projector.out_dim));
}

std::vector<train::NamedParameter> SimSiam::optimizer_parameters() {
  auto params = train::trainable_parameters(*this);
  for (auto& p : params)
    if (config_.fix_predictor_lr && p.name.rfind("predictor.", 0) == 0) p.fixed_lr = true;
  return params;
}

StepOutput SimSiam::training_step(const data::Batch& batch, StepContext&) {
  const auto z1 = projector_->forward(encoder_->forward(batch.views.at(0)));
  const auto z2 = projector_->forward(encoder_->forward(batch.views.at(1)));
  const auto p1 = predictor_->forward(z1), p2 = predictor_->forward(z2);
  StepOutput out{0.5 * (negative_cosine(p1, z2.detach()) + negative_cosine(p2, z1.detach())), {}};
  out.logs["spread"] = embedding_spread(z1);
  return out;
}

}  // namespace selfsup::ssl
