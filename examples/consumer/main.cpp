// Embeds a batch with a selfsup backbone built from a recipe: the library used from another project.
#include <iostream>

#include "selfsup/builtin.h"
#include "selfsup/models/resnet.h"
#include "selfsup/train/recipe.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: consumer RECIPE" << std::endl;
    return 2;
  }
  selfsup::register_builtin();  // the tasks and their recipe sections
  const auto recipe = selfsup::load_recipe(argv[1]);
  auto backbone = selfsup::models::make_backbone(recipe.model, 1);
  backbone->eval();
  const auto features = backbone->forward(torch::rand({4, 1, 28, 28}));
  std::cout << "features " << features.size(0) << "x" << features.size(1) << std::endl;
  return features.size(1) == backbone->output_dim() ? 0 : 1;
}
