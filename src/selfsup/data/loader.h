// Deterministic, prefetching mini-batch loader over an ImageDataset: a batch is a pure function of
// (seed, epoch, step), whichever worker thread produced it. In memory a batch is an index_select;
// streamed, the workers read and decode each image straight into its views' random crops.
#pragma once

#include "selfsup/data/crop.h"
#include "selfsup/data/dataset.h"

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <variant>
#include <vector>

namespace selfsup::data {

struct Batch {
  torch::Tensor images;              // B x C x H x W uint8 (index_select of the dataset); undefined when streamed
  std::vector<torch::Tensor> crops;  // streamed: per LoaderOptions::crops entry, B x C x S x S uint8
  torch::Tensor labels;              // B int64
  torch::Tensor indices;             // B int64, dataset indices
  std::vector<torch::Tensor> views;  // filled by the transform (augmented float views)
  int64_t epoch = 0, step = 0;       // step = batch index within the epoch
  double prepare_seconds = 0;        // worker time spent gathering and transforming this batch
};

// Runs on a worker thread; must be deterministic given the generator.
using BatchTransform = std::function<void(Batch&, at::Generator&)>;

struct LoaderOptions {
  int64_t batch_size = 256;
  bool shuffle = true;
  bool drop_last = true;
  uint64_t seed = 0;
  int64_t workers = 1;   // threads producing batches; 0 = produce inside next()
  int64_t prefetch = 4;  // batches buffered ahead
  // Streamed datasets: the crops decoded per image (one per view, drawn on the original size).
  std::vector<CropSpec> crops;
  // Streamed datasets: an image that cannot be read or decoded stops the epoch with an error
  // naming it (false), or is replaced by the next readable image of the list and counted (true).
  bool skip_bad_files = false;
  // Multi-process training: this process's part of every global batch of `batch_size` images —
  // positions shard_rank, shard_rank + shard_count, ... (strided, so BatchNorm split groups match
  // the ranks; core/distributed.h). Its augmentations draw from their own seed per rank.
  int64_t shard_rank = 0, shard_count = 1;
  // Optional, one int64 id per image: shuffling keeps the images that share an id next to each
  // other (groups in random order, members in random order), so they land in the same batch —
  // e.g. one emoji drawn by several artists. Undefined: a plain random permutation.
  torch::Tensor groups;
};

class Loader {
 public:
  Loader(ImageDataset dataset, LoaderOptions options, BatchTransform transform = {});
  ~Loader();  // stops and joins workers, also mid-epoch
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t batches_per_epoch() const;
  const ImageDataset& dataset() const { return dataset_; }
  const LoaderOptions& options() const { return options_; }

  // (Re)starts prefetching of `epoch` at batch first_step; batches already buffered are dropped.
  void start_epoch(int64_t epoch, int64_t first_step = 0);
  // The epoch's batches in step order; nullopt after its last one. Rethrows a worker's
  // exception (e.g. from the transform) for the batch it happened in, then moves past it.
  // Throws std::logic_error before the first start_epoch().
  std::optional<Batch> next();

  // Total seconds next() spent blocked waiting for a batch (with workers = 0: producing it).
  double wait_seconds() const;
  void reset_wait_seconds();
  // Streamed files replaced because they could not be decoded (skip_bad_files), each counted once.
  int64_t skipped_files() const;

 private:
  using Result = std::variant<Batch, std::exception_ptr>;

  Result produce(int64_t step) const;
  void decode_crops(Batch& batch, at::Generator& gen) const;
  void worker_loop();
  void stop_workers();

  ImageDataset dataset_;
  LoaderOptions options_;
  BatchTransform transform_;

  torch::Tensor permutation_;
  int64_t epoch_ = -1;
  int64_t next_issue_ = 0;   // next step a worker will take
  int64_t next_return_ = 0;  // next step next() hands out
  int64_t end_step_ = 0;
  std::map<int64_t, Result> ready_;
  bool stopping_ = false;
  double wait_seconds_ = 0;

  mutable std::mutex mutex_;
  mutable std::mutex skipped_mutex_;
  mutable std::set<int64_t> skipped_;
  std::condition_variable ready_cv_;  // a batch was finished
  std::condition_variable space_cv_;  // a batch was taken, or stopping
  std::vector<std::thread> workers_;
};

// A random permutation of 0..groups.size(0)-1 in which the indices sharing a group id are
// consecutive: the groups in random order, the members of each in random order.
torch::Tensor grouped_permutation(const torch::Tensor& groups, at::Generator& gen);

// A well-mixed 64-bit hash (splitmix64 style) of the parts, for deriving seeds.
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0);

}  // namespace selfsup::data
