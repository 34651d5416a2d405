#include "selfsup/train/data_parallel.h"

#include <chrono>
#include <cstdlib>

#include "selfsup/core/error.h"

namespace selfsup::train {

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
