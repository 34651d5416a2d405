#include "selfsup/train/data_parallel.h"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>

#include "selfsup/core/error.h"
#include "selfsup/core/tensor.h"
#include "selfsup/models/batch_norm.h"
#include "selfsup/models/state_dict.h"

namespace selfsup::train {

ProcessGroupSession::ProcessGroupSession(const dist::WorldInfo& world, torch::Device device, int64_t timeout_seconds) {
  if (world.size <= 1) return;
  dist::init(world, device, std::chrono::seconds(timeout_seconds));
  if (!dist::is_main()) quiet_ = std::cout.rdbuf(nullptr);
}

ProcessGroupSession::~ProcessGroupSession() {
  if (quiet_) {
    std::cout.rdbuf(quiet_);
    std::cout.clear();
  }
  dist::shutdown();
}

namespace {

// Does every process hold the same `value`? Returns the first rank that differs, or -1.
int64_t first_rank_differing(int64_t value) {
  const auto all = dist::all_gather(torch::tensor({value}, torch::kLong));
  for (int64_t r = 0; r < all.size(0); ++r)
    if (all[r].item<int64_t>() != value) return r;
  return -1;
}

}  // namespace

void check_same_recipe(const std::string& recipe_yaml) {
  if (!dist::active()) return;
  const int64_t other = first_rank_differing(static_cast<int64_t>(std::hash<std::string>{}(recipe_yaml) >> 1));
  if (other >= 0)
    throw Error("recipe: process " + std::to_string(other) + " resolved a different recipe than process " +
                std::to_string(dist::rank()) + ": start every process with the same recipe and overrides");
}

void broadcast_state(torch::nn::Module& model) {
  if (!dist::active()) return;
  torch::NoGradGuard no_grad;
  auto send = [](torch::Tensor t) {
    // Gloo has no bool type (InstDisc's visited flags travel as bytes).
    auto on_wire = t.scalar_type() == torch::kBool ? t.to(torch::kUInt8) : t.contiguous();
    dist::broadcast_(on_wire);
    if (!on_wire.is_same(t)) t.copy_(on_wire);
  };
  for (const auto& t : model.parameters()) send(t);
  for (const auto& t : model.buffers()) send(t);
}

void average_bn_statistics(torch::nn::Module& model) {
  if (!dist::active()) return;
  torch::NoGradGuard no_grad;
  model.apply([](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<models::BatchNorm2dImpl*>(&m)) {
      for (auto* t : {&bn->running_mean, &bn->running_var}) {
        dist::all_reduce_sum_(*t);
        t->div_(static_cast<double>(dist::world_size()));
      }
    }
  });
}

void check_processes_agree(const torch::nn::Module& model, int64_t step) {
  if (!dist::active()) return;
  const int64_t other = first_rank_differing(static_cast<int64_t>(content_hash(models::state_dict(model)) >> 1));
  if (other >= 0)
    throw dist::CommunicationError("rank " + std::to_string(dist::rank()) + ": the model state differs from process " +
                                   std::to_string(other) + "'s at step " + std::to_string(step) +
                                   " (the processes diverged; please report this with the recipe)");
}

int64_t GradientAverager::default_bucket_bytes() {
  const char* mb = std::getenv("SELFSUP_BUCKET_MB");
  if (!mb || !*mb) return 2 << 20;
  char* end = nullptr;
  const double value = std::strtod(mb, &end);
  if (*end != '\0' || !(value > 0)) throw Error(std::string("SELFSUP_BUCKET_MB=") + mb + ": expected a positive number of MiB");
  return static_cast<int64_t>(value * (1 << 20));
}

GradientAverager::GradientAverager(std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : params_(std::move(params)), armed_(std::make_shared<bool>(false)) {
  if (!dist::active()) return;
  slots_.resize(params_.size());
  const int64_t bucket_elements = std::max<int64_t>(1, bucket_bytes / 4);
  std::vector<int64_t> sizes;
  for (int64_t i = static_cast<int64_t>(params_.size()) - 1; i >= 0; --i) {
    if (sizes.empty() || sizes.back() >= bucket_elements) {
      buckets_.emplace_back();
      sizes.push_back(0);
    }
    slots_[i] = {static_cast<int64_t>(buckets_.size()) - 1, sizes.back(), false};
    buckets_.back().params.push_back(i);
    sizes.back() += params_[i].numel();
  }
  for (size_t b = 0; b < buckets_.size(); ++b)
    buckets_[b].flat = torch::zeros({sizes[b]}, params_.front().options().dtype(torch::kFloat32));
  for (int64_t i = 0; i < static_cast<int64_t>(params_.size()); ++i) {
    std::weak_ptr<bool> armed = armed_;
    params_[i].register_hook([this, i, armed](torch::Tensor grad) {
      if (const auto a = armed.lock(); a && *a) on_gradient(i, grad);
      return torch::Tensor();  // the gradient itself is left as it is
    });
  }
}

GradientAverager::~GradientAverager() { *armed_ = false; }

int64_t GradientAverager::bytes_per_step() const {
  int64_t bytes = 0;
  for (const auto& b : buckets_) bytes += b.flat.numel() * 4;
  return bytes;
}

void GradientAverager::begin() {
  if (buckets_.empty()) return;
  for (auto& s : slots_) s.got = false;
  for (auto& b : buckets_) {
    b.pending = static_cast<int64_t>(b.params.size());
    b.launched = false;
  }
  *armed_ = true;
}

void GradientAverager::on_gradient(int64_t param, const torch::Tensor& grad) {
  auto& slot = slots_[param];
  auto& b = buckets_[slot.bucket];
  torch::NoGradGuard no_grad;
  b.flat.narrow(0, slot.offset, grad.numel()).copy_(grad.reshape(-1));
  if (!slot.got) {
    slot.got = true;
    if (--b.pending == 0) launch(b);
  }
}

void GradientAverager::launch(Bucket& b) {
  for (const int64_t i : b.params)  // a parameter without a gradient here contributes zeros
    if (!slots_[i].got) b.flat.narrow(0, slots_[i].offset, params_[i].numel()).zero_();
  b.sum = dist::all_reduce_sum_async_(b.flat);
  b.launched = true;
}

void GradientAverager::finish() {
  if (buckets_.empty()) return;
  *armed_ = false;
  // In the same order on every process: the backend pairs collectives by their order.
  for (auto& b : buckets_)
    if (!b.launched) launch(b);
  const auto start = std::chrono::steady_clock::now();
  for (auto& b : buckets_) b.sum.wait();
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  torch::NoGradGuard no_grad;
  const double scale = 1.0 / static_cast<double>(dist::world_size());
  for (int64_t i = 0; i < static_cast<int64_t>(params_.size()); ++i) {
    auto& grad = params_[i].mutable_grad();
    if (!grad.defined()) continue;  // no gradient on this process: stays without one, as in one process
    const auto& slot = slots_[i];
    grad.copy_(buckets_[slot.bucket].flat.narrow(0, slot.offset, params_[i].numel()).view_as(grad)).mul_(scale);
  }
}

}  // namespace selfsup::train
