#include "selfsup/data/loader.h"

#include "selfsup/core/error.h"
#include "selfsup/data/encoded_image.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <stdexcept>

namespace selfsup::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Keeps transform seeds apart from permutation seeds (which use c = 0).
constexpr int64_t kTransformSeedOffset = 1'000'003;

}  // namespace

torch::Tensor grouped_permutation(const torch::Tensor& groups, at::Generator& gen) {
  const auto ids = groups.to(torch::kLong).reshape({-1});
  const int64_t n = ids.numel();
  const auto [unique, inverse] = torch::_unique(ids, /*sorted=*/false, /*return_inverse=*/true);
  // Sorting by (random rank of the group, random rank of the item) puts each group's members
  // together in a random order.
  const auto group_rank = torch::randperm(unique.numel(), gen, torch::kLong).index_select(0, inverse);
  const auto item_rank = torch::randperm(n, gen, torch::kLong);
  return std::get<1>((group_rank * n + item_rank).sort());
}

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c);
}

Loader::Loader(ImageDataset dataset, LoaderOptions options, BatchTransform transform)
    : dataset_(std::move(dataset)), options_(options), transform_(std::move(transform)) {
  if (dataset_.size() == 0) throw Error(dataset_.source + ": empty dataset: expected images");
  if (options_.batch_size <= 0)
    throw Error("loader: batch_size " + std::to_string(options_.batch_size) + ": expected > 0");
  if (options_.shard_count < 1 || options_.shard_rank < 0 || options_.shard_rank >= options_.shard_count ||
      options_.batch_size % options_.shard_count != 0)
    throw Error("loader: batch_size " + std::to_string(options_.batch_size) + " cannot be shared by " +
                std::to_string(options_.shard_count) + " processes: expected a multiple of the process count");
  if (options_.workers < 0 || options_.prefetch < 1)
    throw Error("loader: workers >= 0 and prefetch >= 1 expected, got workers " +
                std::to_string(options_.workers) + ", prefetch " +
                std::to_string(options_.prefetch));
  if (dataset_.streamed() && options_.crops.empty())
    throw Error(dataset_.source + ": a streamed dataset needs the size of each view's crop (augment.views.*.crop.size)");
  if (options_.groups.defined() && options_.groups.numel() != dataset_.size())
    throw Error(dataset_.source + ": " + std::to_string(options_.groups.numel()) + " batch groups for " +
                std::to_string(dataset_.size()) + " images: expected one group id per image");
  for (const auto& c : options_.crops)
    if (c.size <= 0) throw Error(dataset_.source + ": crop size " + std::to_string(c.size) + ": expected > 0 for streamed data");
}

Loader::~Loader() { stop_workers(); }

int64_t Loader::batches_per_epoch() const {
  const int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void Loader::start_epoch(int64_t epoch, int64_t first_step) {
  stop_workers();
  const int64_t n = dataset_.size();
  if (options_.shuffle) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(mix_seed(options_.seed, epoch));
    permutation_ = options_.groups.defined() ? grouped_permutation(options_.groups, gen) : torch::randperm(n, gen, torch::kLong);
  } else {
    permutation_ = torch::arange(n, torch::kLong);
  }
  epoch_ = epoch;
  end_step_ = batches_per_epoch();
  next_issue_ = next_return_ = std::clamp<int64_t>(first_step, 0, end_step_);
  ready_.clear();
  stopping_ = false;
  for (int64_t w = 0; w < options_.workers; ++w) workers_.emplace_back([this] { worker_loop(); });
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

Loader::Result Loader::produce(int64_t step) const {
  // Thread-local: keeps autograd out of the worker's ops without touching other threads.
  torch::NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Batch batch;
    batch.epoch = epoch_;
    batch.step = step;
    const int64_t begin = step * options_.batch_size;
    const int64_t end = std::min(begin + options_.batch_size, dataset_.size());
    batch.indices = permutation_.slice(0, begin + options_.shard_rank, end, options_.shard_count).clone();  // callers may modify it
    // Fresh per batch, so the result does not depend on which worker ran it or when.
    uint64_t seed = mix_seed(options_.seed, epoch_, step + kTransformSeedOffset);
    if (options_.shard_count > 1) seed = mix_seed(seed, static_cast<uint64_t>(options_.shard_rank) + 1);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    if (dataset_.streamed()) {
      decode_crops(batch, gen);
    } else {
      const auto on_device = batch.indices.to(dataset_.images.device());
      batch.images = dataset_.images.index_select(0, on_device);
    }
    if (dataset_.labels.defined())
      batch.labels = dataset_.labels.index_select(0, batch.indices.to(dataset_.labels.device()));
    if (transform_) transform_(batch, gen);
    batch.prepare_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return batch;
  } catch (...) {
    return std::current_exception();
  }
}

// Each image is read and decoded once per crop, in batch order, drawing its boxes on its own size
// from the batch's generator: the result is the same whichever worker decodes it.
void Loader::decode_crops(Batch& batch, at::Generator& gen) const {
  const auto& stream = *dataset_.stream;
  const int64_t b = batch.indices.size(0), n = stream.size(), c = stream.channels;
  for (const auto& spec : options_.crops) batch.crops.push_back(torch::empty({b, c, spec.size, spec.size}, torch::kUInt8));
  auto* indices = batch.indices.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t attempt = 0;; ++attempt) {
      const int64_t index = (indices[i] + attempt) % n;
      try {
        const EncodedImage image(stream.read(index), stream.where(index), c);
        for (size_t v = 0; v < options_.crops.size(); ++v) {
          const auto& spec = options_.crops[v];
          const auto box = random_crop_box(image.width(), image.height(), spec, gen);
          const bool flip = uniform01(gen) < spec.flip;
          image.crop_into(box, spec.size, flip, batch.crops[v][i].data_ptr<uint8_t>());
        }
        indices[i] = index;
        break;
      } catch (const Error& e) {
        if (!options_.skip_bad_files) throw;
        if (attempt + 1 >= n) throw Error(dataset_.source + ": no image of the dataset could be decoded");
        std::lock_guard<std::mutex> lock(skipped_mutex_);
        if (skipped_.insert(index).second) std::cerr << "skipping " << e.what() << std::endl;
      }
    }
  }
}

int64_t Loader::skipped_files() const {
  std::lock_guard<std::mutex> lock(skipped_mutex_);
  return static_cast<int64_t>(skipped_.size());
}

void Loader::worker_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    // At most `prefetch` batches in flight or buffered ahead of the consumer.
    space_cv_.wait(lock, [this] {
      return stopping_ || next_issue_ >= end_step_ ||
             next_issue_ < next_return_ + options_.prefetch;
    });
    if (stopping_ || next_issue_ >= end_step_) return;
    const int64_t step = next_issue_++;
    lock.unlock();
    auto result = produce(step);
    lock.lock();
    ready_.emplace(step, std::move(result));
    ready_cv_.notify_all();
  }
}

std::optional<Batch> Loader::next() {
  if (epoch_ < 0) throw std::logic_error("Loader::next() called before start_epoch()");
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_return_ >= end_step_) return std::nullopt;
  const int64_t step = next_return_;
  const auto t0 = std::chrono::steady_clock::now();
  Result result;
  if (workers_.empty()) {
    lock.unlock();
    result = produce(step);
    lock.lock();
  } else {
    ready_cv_.wait(lock, [&] { return ready_.count(step) > 0; });
    result = std::move(ready_.at(step));
    ready_.erase(step);
  }
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++next_return_;
  lock.unlock();
  space_cv_.notify_all();
  if (auto* error = std::get_if<std::exception_ptr>(&result)) std::rethrow_exception(*error);
  return std::move(std::get<Batch>(result));
}

double Loader::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wait_seconds_;
}

void Loader::reset_wait_seconds() {
  std::lock_guard<std::mutex> lock(mutex_);
  wait_seconds_ = 0;
}

}  // namespace selfsup::data
