// Maps recipe method names to implementations; a new method adds one line here (and its checks
// in validate(), train/recipe.cpp).
#include "selfsup/core/error.h"
#include "selfsup/ssl/method.h"
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
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

std::shared_ptr<Method> make_method(const Recipe& recipe, int64_t in_channels, int64_t train_images) {
  const auto& name = recipe.method.name;
  if (name == "moco") return std::make_shared<Moco>(recipe, in_channels);
  if (name == "moco_v3") return std::make_shared<MocoV3>(recipe, in_channels);
  if (name == "dino") return std::make_shared<Dino>(recipe, in_channels);
  if (name == "swav") return std::make_shared<Swav>(recipe, in_channels);
  if (name == "cpc") return std::make_shared<Cpc>(recipe, in_channels);
  if (name == "cmc") return std::make_shared<Cmc>(recipe, in_channels);
  if (name == "instdisc") return std::make_shared<InstDisc>(recipe, in_channels, train_images);
  if (name == "invaspread") return std::make_shared<InvaSpread>(recipe, in_channels);
  if (name == "simclr") return std::make_shared<SimClr>(recipe, in_channels);
  if (name == "byol") return std::make_shared<Byol>(recipe, in_channels);
  if (name == "simsiam") return std::make_shared<SimSiam>(recipe, in_channels);
  if (name == "barlow_twins") return std::make_shared<BarlowTwins>(recipe, in_channels);
  throw Error("method.name: unknown method '" + name + "' (expected one of " + kMethodNames + ")");
}

}  // namespace selfsup::ssl
