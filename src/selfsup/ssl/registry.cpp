#include "selfsup/ssl/registry.h"

#include "selfsup/core/error.h"
#include "selfsup/ssl/methods/barlow_twins.h"
#include "selfsup/ssl/methods/byol.h"
#include "selfsup/ssl/methods/cmc.h"
#include "selfsup/ssl/methods/cpc.h"
#include "selfsup/ssl/methods/dino.h"
#include "selfsup/ssl/methods/instdisc.h"
#include "selfsup/ssl/methods/invaspread.h"
#include "selfsup/ssl/methods/moco.h"
#include "selfsup/ssl/methods/moco_v3.h"
#include "selfsup/ssl/methods/simclr.h"
#include "selfsup/ssl/methods/simsiam.h"
#include "selfsup/ssl/methods/swav.h"

namespace selfsup::ssl {

const std::vector<MethodType>& method_types() {
  // One line per method.
  static const std::vector<MethodType> types{
      method_type<Moco>(),   method_type<MocoV3>(),     method_type<Dino>(),    method_type<Swav>(),
      method_type<Cpc>(),    method_type<Cmc>(),        method_type<InstDisc>(), method_type<InvaSpread>(),
      method_type<SimClr>(), method_type<Byol>(),       method_type<SimSiam>(), method_type<BarlowTwins>(),
  };
  return types;
}

std::string method_names() {
  std::string names;
  for (const auto& t : method_types()) names += (names.empty() ? "" : ", ") + t.name;
  return names;
}

const MethodType* find_method_type(const std::string& name) {
  for (const auto& t : method_types())
    if (t.name == name) return &t;
  return nullptr;
}

namespace {

std::string unknown_method(const std::string& name) {
  return "unknown method '" + name + "' (expected one of " + method_names() + ")";
}

}  // namespace

std::shared_ptr<Method> make_method(const Recipe& recipe, int64_t in_channels, int64_t train_images) {
  const auto& name = method_config(recipe).name;
  const auto* type = find_method_type(name);
  if (!type) throw Error("method.name: " + unknown_method(name));
  return type->build(recipe, in_channels, train_images);
}

void validate_method(const Recipe& recipe, const RecipeCheck& check) {
  const auto& name = method_config(recipe).name;
  const auto* type = find_method_type(name);
  if (!type) check.fail("method.name", unknown_method(name));
  type->validate(recipe, check);
  check_heads(recipe, check);
}

}  // namespace selfsup::ssl
