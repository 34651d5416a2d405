#include "selfsup/ssl/task.h"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/data/source.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/ssl/registry.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {
namespace {

nlohmann::json eval_json(const eval::EvalResult& r) {
  nlohmann::json j;
  if (!std::isnan(r.knn)) j["knn_top1"] = r.knn;
  if (!std::isnan(r.linear)) j["linear_top1"] = r.linear;
  if (!std::isnan(r.finetune)) j["finetune_top1"] = r.finetune;
  for (const auto& few : r.few_labels)
    j["few_labels"][eval::percent_label(few.fraction)] = {
        {"labelled_images", few.labelled_images}, {"knn_top1", few.knn}, {"linear_top1", few.linear}};
  j["seconds"] = r.seconds;
  return j;
}

class SslTask : public train::Task {
 public:
  SslTask(const Recipe& recipe, torch::Device device) : r_(recipe), device_(device) {
    train_ = data::load_dataset(r_.data, /*train=*/true);
    std::cout << "data: " << train_.size() << " training images " << train_.channels() << "x"
              << (train_.streamed() ? std::string("(any size), streamed") : std::to_string(train_.height()) + "x" + std::to_string(train_.width()))
              << " from " << train_.source << std::endl;
    torch::manual_seed(static_cast<uint64_t>(r_.seed));
    method_ = make_method(r_, train_.channels(), train_.size());
    method_->to(device_);
  }

  const data::ImageDataset& train_images() const override { return train_; }
  std::shared_ptr<train::Model> model() override { return method_; }
  std::string method_name() const override { return method_config(r_).name; }

  std::string describe_model() const override {
    std::ostringstream s;
    s << r_.model.name << " (" << r_.model.stem << " stem, width " << std::fixed << std::setprecision(2)
      << r_.model.width << ")";
    return s.str();
  }

  std::vector<std::string> epoch_metric_names() const override { return {"knn_top1"}; }

  std::map<std::string, double> evaluate_epoch(int64_t epochs_done) override {
    if (!labelled() || r_.train.knn_every <= 0 || epochs_done % r_.train.knn_every != 0) return {};
    const double knn = eval::evaluate(method_->eval_encoder().get(), r_, train_, test(), device_, true, false).knn;
    std::cout << "epoch " << epochs_done << " kNN top-1 " << std::fixed << std::setprecision(2) << 100 * knn << "%"
              << std::endl;
    return {{"knn_top1", knn}};
  }

  nlohmann::json evaluate_final() override {
    if (!labelled()) {
      std::cout << "no evaluation: " << train_.source << " has no class labels (kNN and the linear probe need them)" << std::endl;
      return nlohmann::json::object();
    }
    const bool finetune = r_.eval.finetune.at_end;
    std::cout << "evaluating (kNN k=" << r_.eval.knn.k << ", linear probe " << r_.eval.linear.epochs << " epochs"
              << (finetune ? ", fine-tuning" : "") << ") on " << test().size() << " test images..." << std::endl;
    nlohmann::json out;
    out["eval"] = eval_json(eval::evaluate(method_->eval_encoder().get(), r_, train_, test(), device_, true, true, finetune));
    if (!r_.eval.baselines) return out;
    out["baselines"]["raw_pixels"] = eval_json(eval::evaluate(nullptr, r_, train_, test(), device_, true, true));
    torch::manual_seed(static_cast<uint64_t>(r_.seed));  // the same initial weights this run started from
    auto random_init = make_method(r_, train_.channels(), train_.size());
    random_init->to(device_);
    out["baselines"]["random_init"] =
        eval_json(eval::evaluate(random_init->eval_encoder().get(), r_, train_, test(), device_, true, true, finetune));
    return out;
  }

 private:
  bool labelled() const { return train_.num_classes() > 0 && !train_.labels.lt(0).any().item<bool>(); }

  const data::ImageDataset& test() {
    if (!test_.size()) test_ = data::load_dataset(r_.data, /*train=*/false);
    return test_;
  }

  Recipe r_;
  torch::Device device_;
  data::ImageDataset train_, test_;
  std::shared_ptr<Method> method_;
};

void validate_ssl(const Recipe& r, const RecipeCheck& check) {
  validate_method(r, check);
  if (r.eval.knn.k <= 0) check.fail("eval.knn.k", "expected a positive k");
  const auto& ft = r.eval.finetune;
  if (ft.label_fraction <= 0 || ft.label_fraction > 1) check.fail("eval.finetune.label_fraction", "expected a value in (0, 1]");
  if (ft.epochs <= 0 || ft.batch_size <= 1) check.fail("eval.finetune", "expected positive epochs and batch_size > 1");
}

}  // namespace

void register_task() {
  register_recipe_section(MethodConfig::kSection, "self-supervised method and its heads (task: ssl)",
                          [] { return std::make_unique<MethodConfig>(); });
  train::register_task_type({"ssl", validate_ssl, [](const Recipe& recipe, torch::Device device, const train::Extras&) {
                               return std::unique_ptr<train::Task>(std::make_unique<SslTask>(recipe, device));
                             }});
}

std::shared_ptr<Method> load_trained_method(const train::StoredRun& run, int64_t in_channels) {
  auto method = make_method(run.recipe, in_channels, run.info.train_images);
  train::load_checkpoint(run.checkpoint, *method, nullptr);
  return method;
}

}  // namespace selfsup::ssl
