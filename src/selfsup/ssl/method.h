// The interface every self-supervised method implements: a train::Model (a batch of augmented views
// -> loss and logs; momentum updates after the optimiser step) whose backbone() evaluation uses.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "selfsup/data/loader.h"
#include "selfsup/models/backbone.h"
#include "selfsup/train/task.h"

namespace selfsup {
struct Recipe;
}

namespace selfsup::ssl {

using StepContext = train::StepContext;
using StepOutput = train::StepOutput;

class Method : public train::Model {
 public:
  virtual std::shared_ptr<models::Backbone> backbone() = 0;
  // The network kNN / linear / fine-tune evaluation uses (SimCLR v2: backbone + first projector
  // layer). backbone() stays the plain encoder that `selfsup export` writes.
  virtual std::shared_ptr<models::Backbone> eval_encoder() { return backbone(); }
};

}  // namespace selfsup::ssl
