// A dataset split held on the training device as uint8 (as stored), turned into the model's
// float input per batch on that device: the same preprocessing as data::fill_batch (scale to
// [0, 1], gray to RGB or RGB to luminance, bilinear resize with half-pixel centres, optional
// normalisation), without a host round trip per step. Internal to the train module (LibTorch).
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "data/dataset.hpp"
#include "data/preprocess.hpp"

namespace pepr::train {

class DeviceImages {
 public:
  DeviceImages(const data::ImageSet& set, const data::Preprocess& pre, torch::Device device);

  int64_t size() const { return n_; }
  // The float batch [B, in_chans, H, W] for `indices` (int64, on the device).
  torch::Tensor images(const torch::Tensor& indices, bool channels_last) const;
  // Their class indices [B] (int64, on the device).
  torch::Tensor labels(const torch::Tensor& indices) const;

  // Bytes the split takes on the device (images as uint8, labels as int64).
  static int64_t bytes_needed(const data::ImageSet& set);

 private:
  int64_t n_ = 0;
  torch::Tensor pixels_;  // [N, H, W, C] uint8
  torch::Tensor labels_;  // [N] int64
  data::Preprocess pre_;
  int64_t src_c_ = 1, out_h_ = 0, out_w_ = 0;
  torch::Tensor scale_, shift_;  // [1, in_chans, 1, 1] float: x * scale + shift
};

}  // namespace pepr::train
