// The library's composition root: registers every built-in task (ssl with all methods, clip,
// diffusion, noisy_classifier, classifier) and their recipe sections. Call it once before reading a
// recipe; later calls do nothing. The selfsup program and the tests call it at start-up.
#pragma once

namespace selfsup {

void register_builtin();

}  // namespace selfsup
