// Training checkpoints (LibTorch's zip archive holding the recipe, counters, weights, their hash and
// the optimiser state): the metadata and stored recipe as every command reads them first, then the
// weights and optimiser state into the model the seeds were written from.
#include "checkpoint_model.h"
#include "fuzz_input.h"
#include "selfsup/builtin.h"
#include "selfsup/train/checkpoint.h"

using namespace selfsup;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  register_builtin();  // the recipe sections of every task
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::write_file("checkpoint.pt", fuzz::as_text(data, size));
  fuzz::parses([&] { train::open_run(path, "ssl", "an SSL recipe"); });
  static fuzz::CheckpointState state;
  fuzz::parses([&] { train::load_checkpoint(path, *state.model, &state.optimizer); });
  return 0;
}
