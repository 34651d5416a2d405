#include "selfsup/ssl/config.h"

#include "selfsup/models/heads.h"
#include "selfsup/ssl/registry.h"

namespace selfsup::ssl {

void HeadConfig::visit(config::Visitor& v) {
  v("layers", layers, "Linear layers: 1 = a single Linear (MoCo v1), 2 = Linear-ReLU-Linear (MoCo v2 / SimCLR)", config::at_least_one);
  v("hidden_dim", hidden_dim, "width of the hidden layers", config::at_least_one);
  v("out_dim", out_dim, "embedding dimension the loss sees", config::at_least_one);
  v("norm", norm, "normalisation after each hidden Linear: batch, layer, group_ws (GroupNorm + weight-standardised Linears) or none");
  v("last_bn", last_bn, "BatchNorm without affine after the last Linear (SimSiam projector)");
}

MethodConfig::MethodConfig() {
  for (const auto& type : method_types()) settings.add(type.section, type.doc, type.make_settings());
}

void MethodConfig::visit(config::Visitor& v) {
  static const std::string name_doc = "self-supervised method: " + method_names();
  v("name", name, name_doc.c_str());
  v.section("projector", projector, "projection head on top of the backbone (used for the loss only)");
  v.section("predictor", predictor, "prediction head on top of the projector (byol, simsiam, moco_v3)");
  settings.visit(v);
}

void check_heads(const Recipe& r, const RecipeCheck& check) {
  const auto& m = method_config(r);
  for (const char* head : {"projector", "predictor"}) {
    const auto& h = std::string(head) == "projector" ? m.projector : m.predictor;
    const std::string key = std::string("method.") + head;
    if (h.layers < 1) check.fail(key + ".layers", "expected at least 1");
    if (h.out_dim < 1 || (h.layers > 1 && h.hidden_dim < 1)) check.fail(key, "expected positive hidden_dim and out_dim");
    models::check_head_norm(h.norm, check.origin + ": " + key + ".norm");
  }
}

void check_predictor_matches_projector(const Recipe& r, const RecipeCheck& check) {
  const auto& m = method_config(r);
  if (m.predictor.out_dim != m.projector.out_dim)
    check.fail("method.predictor.out_dim", "expected the projector's out_dim (" + std::to_string(m.projector.out_dim) +
                                               "): the predictor maps a projection onto the other view's projection");
}

}  // namespace selfsup::ssl
