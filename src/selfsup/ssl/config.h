// The recipe's `method` section (task ssl): the method's name, its heads, and one settings section
// per registered method (method.moco, method.dino, ...), each defined in ssl/methods/<name>.h.
#pragma once

#include <string>

#include "selfsup/core/config.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

struct HeadConfig {
  int64_t layers = 2;  // 1 = a single Linear (MoCo v1)
  int64_t hidden_dim = 512;
  int64_t out_dim = 128;
  std::string norm = "none";  // batch | layer | group_ws | none, after each hidden Linear
  bool last_bn = false;       // BatchNorm without affine after the last Linear
  void visit(config::Visitor& v);
};

struct MethodConfig : config::DynamicSectionOf<MethodConfig> {
  static constexpr const char* kSection = "method";
  std::string name = "moco";
  HeadConfig projector;
  HeadConfig predictor;  // BYOL, SimSiam, MoCo v3
  config::SectionSet settings;  // one section per registered method, with its defaults until read

  MethodConfig();  // adds every registered method's settings section
  // A method's settings by their type: get<MocoConfig>().
  template <class T>
  T& get() const { return settings.get<T>(T::kSection); }
  void visit(config::Visitor& v) override;
};

// Shorthands for the two lookups every method does.
inline const MethodConfig& method_config(const Recipe& r) { return r.section<MethodConfig>(); }
template <class T>
const T& method_settings(const Recipe& r) { return method_config(r).get<T>(); }

// The checks every method shares: its heads are well formed.
void check_heads(const Recipe& r, const RecipeCheck& check);
// The predictor maps a projection onto the other view's projection (BYOL, SimSiam, MoCo v3).
void check_predictor_matches_projector(const Recipe& r, const RecipeCheck& check);

}  // namespace selfsup::ssl
