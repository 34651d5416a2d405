#include "selfsup/train/task.h"

#include "selfsup/core/error.h"
#include "selfsup/train/recipe.h"

namespace selfsup::train {
namespace {

std::vector<TaskType>& task_types() {
  static std::vector<TaskType> types;
  return types;
}

}  // namespace

void register_task_type(TaskType type) {
  if (find_task_type(type.name)) throw Error("task '" + type.name + "' is registered twice");
  task_types().push_back(std::move(type));
}

const TaskType* find_task_type(const std::string& name) {
  for (const auto& t : task_types())
    if (t.name == name) return &t;
  return nullptr;
}

std::string task_type_names() {
  const auto& types = task_types();
  if (types.empty()) return "a registered task (none is: call selfsup::register_builtin() first)";
  std::string names;
  for (size_t i = 0; i < types.size(); ++i)
    names += (i == 0 ? "" : i + 1 == types.size() ? " or " : ", ") + types[i].name;
  return names;
}

std::unique_ptr<Task> make_task(const Recipe& recipe, torch::Device device, const Extras& extras) {
  const auto* type = find_task_type(recipe.task);
  if (!type) throw Error("task: unknown task '" + recipe.task + "' (expected " + task_type_names() + ")");
  return type->make(recipe, device, extras);
}

}  // namespace selfsup::train
