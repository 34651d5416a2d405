#include "selfsup/train/task.h"

#include "selfsup/clip/task.h"
#include "selfsup/core/error.h"
#include "selfsup/diffusion/task.h"
#include "selfsup/ssl/task.h"
#include "selfsup/train/recipe.h"

namespace selfsup::train {

std::unique_ptr<Task> make_task(const Recipe& recipe, torch::Device device,
                                const std::map<std::string, std::string>& extras) {
  if (recipe.task == "ssl") return ssl::make_ssl_task(recipe, device);
  if (recipe.task == "clip") return clip::make_clip_task(recipe, device, extras);
  if (recipe.task == "diffusion" || recipe.task == "noisy_classifier" || recipe.task == "classifier")
    return diffusion::make_diffusion_task(recipe, device);
  throw Error("task: unknown task '" + recipe.task + "' (expected ssl, clip, diffusion, noisy_classifier or classifier)");
}

}  // namespace selfsup::train
