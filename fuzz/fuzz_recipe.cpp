// Recipe YAML plus `key=value` overrides (one per line after a line "%%"), parsed and validated as
// `selfsup train` does. An accepted recipe, written out resolved, must parse to the same YAML again
// (the copy stored in a checkpoint is how a run is resumed and evaluated).
#include <sstream>
#include <vector>

#include "fuzz_input.h"
#include "selfsup/builtin.h"
#include "selfsup/train/recipe.h"

using namespace selfsup;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  register_builtin();  // the recipe sections of every task
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::split_at(fuzz::as_text(data, size), "\n%%\n");
  const std::string text(parts.first);
  std::vector<std::string> overrides;
  std::istringstream lines{std::string(parts.second)};
  for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  Recipe recipe;
  if (!fuzz::parses([&] { recipe = parse_recipe(text, "fuzz.yaml", overrides); })) return 0;
  const auto yaml = recipe_to_yaml(recipe);
  std::string again;
  if (!fuzz::parses([&] { again = recipe_to_yaml(parse_recipe(yaml, "resolved.yaml")); }))
    fuzz::finding("an accepted recipe's resolved YAML is refused:\n" + yaml);
  if (again != yaml) fuzz::finding("resolved YAML changes when parsed again:\n" + yaml + "\n---\n" + again);
  return 0;
}
