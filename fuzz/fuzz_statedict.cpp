// PyTorch state-dict files (`torch.save(dict(...))` / `selfsup export --format pt`): LibTorch's zip
// archive with a pickled dict of tensors, read as `model.pretrained` and `import` read it.
#include "fuzz_input.h"
#include "selfsup/models/state_dict.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::write_file("state_dict.pt", fuzz::as_text(data, size));
  fuzz::parses([&] {
    for (const auto& [name, tensor] : models::load_state_dict_pt(path))
      if (!tensor.defined()) fuzz::finding("tensor '" + name + "' is undefined");
  });
  return 0;
}
