// The test runner: registers the built-in tasks (as the selfsup program does), then runs the tests.
#include <gtest/gtest.h>

#include "selfsup/builtin.h"
#include "selfsup/core/runtime.h"

int main(int argc, char** argv) {
  selfsup::use_best_blas_kernels(argv);
  ::testing::InitGoogleTest(&argc, argv);
  selfsup::register_builtin();
  return RUN_ALL_TESTS();
}
