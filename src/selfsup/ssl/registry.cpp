// Maps recipe method names to implementations; a new method adds one line here.
#include "selfsup/core/error.h"
#include "selfsup/ssl/method.h"
#include "selfsup/ssl/methods/moco.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

std::shared_ptr<Method> make_method(const Recipe& recipe, int64_t in_channels) {
  const auto& name = recipe.method.name;
  if (name == "moco") return std::make_shared<Moco>(recipe, in_channels);
  throw Error("method.name: unknown method '" + name + "' (expected moco)");
}

}  // namespace selfsup::ssl
