#include "data/prefetch.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::data {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}
}  // namespace

BatchPrefetcher::BatchPrefetcher(const ImageSet& set, Options opt) : set_(set), opt_(opt) {
  if (opt_.batch_size < 1) throw Error("batch size must be at least 1");
  sample_floats_ = opt_.preprocess.sample_floats(set_);
  for (Slot& s : slots_) {
    s.images.resize(static_cast<std::size_t>(opt_.batch_size * sample_floats_));
    s.labels.resize(static_cast<std::size_t>(opt_.batch_size * set_.label_dim));
  }
}

BatchPrefetcher::~BatchPrefetcher() {
  stop();
}

void BatchPrefetcher::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    cancel_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void BatchPrefetcher::start_epoch(std::vector<int64_t> order) {
  stop();
  for (int64_t i : order) {
    if (i < 0 || i >= set_.n) {
      throw Error(fmt::format("epoch order: index {} out of range 0..{}", i, set_.n));
    }
  }
  order_ = std::move(order);
  const auto n = static_cast<int64_t>(order_.size());
  nbatches_ = opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
  next_batch_ = 0;
  held_ = -1;
  for (Slot& s : slots_) {
    s.batch = -1;
    s.ready = false;
  }
  cancel_ = false;
  error_ = nullptr;
  wait_s_ = fill_s_ = 0;
  worker_ = std::thread([this] { work(0); });
}

void BatchPrefetcher::work(int64_t) {
  try {
    for (int64_t b = 0; b < nbatches_; ++b) {
      Slot& s = slots_[b % 2];
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return cancel_ || s.batch == -1; });
        if (cancel_) return;
        s.batch = b;  // claimed: filling
        s.ready = false;
      }
      auto t0 = Clock::now();
      const int64_t start = b * opt_.batch_size;
      const int64_t size =
          std::min<int64_t>(opt_.batch_size, static_cast<int64_t>(order_.size()) - start);
      const int64_t parts = std::clamp<int64_t>(opt_.threads, 1, size);
      if (parts <= 1) {
        fill_batch(set_, order_.data() + start, size, opt_.preprocess, s.images.data(),
                   s.labels.data());
      } else {  // split the batch: helpers fill parts 1.., this thread part 0
        std::vector<std::thread> helpers;
        std::vector<std::exception_ptr> errors(static_cast<std::size_t>(parts));
        auto fill_part = [&](int64_t p) {
          const int64_t lo = size * p / parts, hi = size * (p + 1) / parts;
          try {
            fill_batch(set_, order_.data() + start + lo, hi - lo, opt_.preprocess,
                       s.images.data() + lo * sample_floats_,
                       s.labels.data() + lo * set_.label_dim);
          } catch (...) {
            errors[static_cast<std::size_t>(p)] = std::current_exception();
          }
        };
        for (int64_t p = 1; p < parts; ++p) helpers.emplace_back(fill_part, p);
        fill_part(0);
        for (auto& h : helpers) h.join();
        for (auto& e : errors) {
          if (e) std::rethrow_exception(e);
        }
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        s.size = size;
        s.ready = true;
        fill_s_ += seconds_since(t0);
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lk(mu_);
    error_ = std::current_exception();
    cv_.notify_all();
  }
}

std::optional<Batch> BatchPrefetcher::next() {
  std::unique_lock<std::mutex> lk(mu_);
  if (held_ >= 0) {  // the caller is done with the previous batch: let the worker reuse it
    slots_[held_].batch = -1;
    slots_[held_].ready = false;
    held_ = -1;
    cv_.notify_all();
  }
  if (next_batch_ >= nbatches_) return std::nullopt;
  Slot& s = slots_[next_batch_ % 2];
  auto t0 = Clock::now();
  cv_.wait(lk, [&] { return error_ || (s.ready && s.batch == next_batch_); });
  wait_s_ += seconds_since(t0);
  if (error_) std::rethrow_exception(error_);
  held_ = next_batch_ % 2;
  Batch out;
  out.index = next_batch_++;
  out.size = s.size;
  out.channels = opt_.preprocess.in_chans;
  out.height = opt_.preprocess.height(set_);
  out.width = opt_.preprocess.width(set_);
  out.images = s.images.data();
  out.labels = s.labels.data();
  out.indices = order_.data() + out.index * opt_.batch_size;
  return out;
}

double BatchPrefetcher::fill_seconds() const {
  std::lock_guard<std::mutex> lk(mu_);
  return fill_s_;
}

}  // namespace pepr::data
