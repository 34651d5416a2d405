// The self-supervised methods a recipe can name (method.name). Adding a method: write
// ssl/methods/<name>.{h,cpp} (its settings struct and its Method class) and add one line to the
// list in registry.cpp; docs/architecture.md walks through it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

struct MethodType {
  std::string name;     // method.name
  std::string section;  // its settings section, method.<section>
  std::string doc;      // one line for the recipe reference
  std::function<std::unique_ptr<config::DynamicSection>()> make_settings;
  // The method's own checks of a recipe that names it (views, its settings).
  std::function<void(const Recipe&, const RecipeCheck&)> validate;
  // `train_images`: size of the training set (InstDisc keeps a memory-bank row per image).
  std::function<std::shared_ptr<Method>(const Recipe&, int64_t in_channels, int64_t train_images)> build;
};

// The entry of a method class M: M::kName, M::Config (its settings, with kSection, kDoc and
// validate(recipe, check)), and a constructor M(recipe, in_channels[, train_images]).
template <class M>
MethodType method_type() {
  using Config = typename M::Config;
  return {M::kName, Config::kSection, Config::kDoc, [] { return std::make_unique<Config>(); },
          [](const Recipe& r, const RecipeCheck& check) {
            r.section<MethodConfig>().get<Config>().validate(r, check);
          },
          [](const Recipe& r, int64_t in_channels, int64_t train_images) -> std::shared_ptr<Method> {
            if constexpr (std::is_constructible_v<M, const Recipe&, int64_t, int64_t>)
              return std::make_shared<M>(r, in_channels, train_images);
            else
              return std::make_shared<M>(r, in_channels);
          }};
}

// Every method, in the order the recipe reference lists them.
const std::vector<MethodType>& method_types();
// "moco, moco_v3, ...", for messages and docs.
std::string method_names();
// The method called `name`, or nullptr.
const MethodType* find_method_type(const std::string& name);

// Builds the method named in the recipe for images with `in_channels` channels.
std::shared_ptr<Method> make_method(const Recipe& recipe, int64_t in_channels, int64_t train_images = 0);

// Validates the method section of a recipe for task ssl (method.name, the method's own checks,
// the heads).
void validate_method(const Recipe& recipe, const RecipeCheck& check);

}  // namespace selfsup::ssl
