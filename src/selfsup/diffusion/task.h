// The diffusion family as trainer tasks: diffusion (the class-conditional denoiser),
// noisy_classifier (for classifier guidance) and classifier (the judge).
#pragma once

#include "selfsup/diffusion/config.h"
#include "selfsup/train/task.h"

namespace selfsup::diffusion {

// Registers the recipe's diffusion section and the tasks diffusion, noisy_classifier and classifier
// (selfsup::register_builtin() calls it).
void register_tasks();

}  // namespace selfsup::diffusion
