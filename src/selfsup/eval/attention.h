// DINO's attention pictures: where the last block's class token looks, per head, over the input.
#pragma once

#include <torch/torch.h>

#include "selfsup/augment/pipeline.h"
#include "selfsup/models/vit.h"

namespace selfsup::eval {

// One row per image: the input, the class token's attention averaged over heads, then each head's,
// as heat maps over the input, every tile enlarged `scale` times. `images_u8` (N x C x H x W) are
// prepared with `view`'s evaluation transform (resize to crop.size when set, normalisation).
// Returns a 3 x H' x W' image in [0, 1] for io::write_png.
torch::Tensor attention_figure(models::Vit& vit, const torch::Tensor& images_u8, const augment::ViewConfig& view,
                               int64_t scale, torch::Device device);

}  // namespace selfsup::eval
