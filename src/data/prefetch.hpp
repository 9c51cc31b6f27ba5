// Batches prepared ahead of the training step on a second thread (double-buffered): while the
// caller uses batch k, batch k+1 is being filled from the uint8 images with fill_batch.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/dataset.hpp"
#include "data/preprocess.hpp"

namespace pepr::data {

struct Batch {
  int64_t index = 0;  // batch number within the epoch
  int64_t size = 0;   // samples (the last batch may be smaller)
  int64_t channels = 0, height = 0, width = 0;
  const float* images = nullptr;     // [size, channels, height, width], contiguous
  const int64_t* labels = nullptr;   // [size * label_dim]
  const int64_t* indices = nullptr;  // dataset indices of the samples
};

class BatchPrefetcher {
 public:
  struct Options {
    int64_t batch_size = 64;
    bool drop_last = false;  // drop a last, smaller batch
    int threads = 1;         // threads filling one batch (> 1 for large resized inputs)
    Preprocess preprocess;
  };

  // `set` must outlive the prefetcher.
  BatchPrefetcher(const ImageSet& set, Options opt);
  ~BatchPrefetcher();
  BatchPrefetcher(const BatchPrefetcher&) = delete;
  BatchPrefetcher& operator=(const BatchPrefetcher&) = delete;

  // Starts an epoch over `order` (dataset indices, e.g. a seeded permutation). Cancels an epoch
  // in progress. The worker starts filling batch 0 immediately.
  void start_epoch(std::vector<int64_t> order);
  // The next batch of the epoch, or nullopt after the last. The batch's memory stays valid until
  // the next call to next() or start_epoch(). Rethrows an error of the worker thread.
  std::optional<Batch> next();

  int64_t batches_in_epoch() const { return nbatches_; }
  int64_t sample_floats() const { return sample_floats_; }
  // Seconds next() spent waiting for the worker, and the worker spent filling (this epoch).
  double wait_seconds() const { return wait_s_; }
  double fill_seconds() const;

 private:
  struct Slot {
    std::vector<float> images;
    std::vector<int64_t> labels;
    int64_t batch = -1;  // the batch it holds, -1 when free
    int64_t size = 0;
    bool ready = false;
  };
  void stop();
  void work(int64_t generation);

  const ImageSet& set_;
  Options opt_;
  int64_t sample_floats_ = 0;
  std::vector<int64_t> order_;
  int64_t nbatches_ = 0;
  int64_t next_batch_ = 0;  // the batch next() returns next
  int64_t held_ = -1;       // slot handed to the caller, -1 none
  Slot slots_[2];
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancel_ = false;
  std::exception_ptr error_;
  double wait_s_ = 0, fill_s_ = 0;
  std::thread worker_;
};

}  // namespace pepr::data
