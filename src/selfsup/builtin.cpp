#include "selfsup/builtin.h"

#include <mutex>

#include "selfsup/clip/task.h"
#include "selfsup/diffusion/task.h"
#include "selfsup/ssl/task.h"

namespace selfsup {

void register_builtin() {
  static std::once_flag once;
  // The order is the order of the recipe's sections and of the task names in messages.
  std::call_once(once, [] {
    ssl::register_task();
    clip::register_task();
    diffusion::register_tasks();
  });
}

}  // namespace selfsup
