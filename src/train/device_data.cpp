#include "train/device_data.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::train {

namespace F = torch::nn::functional;

int64_t DeviceImages::bytes_needed(const data::ImageSet& s) {
  return s.n * s.image_bytes() + s.n * 8;
}

DeviceImages::DeviceImages(const data::ImageSet& s, const data::Preprocess& pre,
                           torch::Device device)
    : n_(s.n), pre_(pre), src_c_(s.c), out_h_(pre.height(s)), out_w_(pre.width(s)) {
  if (s.label_dim != 1) throw Error("device-resident data holds single-label datasets only");
  if (s.c != 1 && s.c != 3) throw Error(fmt::format("images with {} channels", s.c));
  if (pre.in_chans != 1 && pre.in_chans != 3)
    throw Error(fmt::format("in_chans must be 1 or 3, not {}", pre.in_chans));
  const auto u8 = torch::TensorOptions().dtype(torch::kUInt8);
  if (s.n == 0) {
    pixels_ = torch::empty({0, s.h, s.w, s.c}, u8.device(device));
    labels_ = torch::empty({0}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  } else {
    // One upload of the split as stored (the host vectors outlive this copy).
    pixels_ = torch::from_blob(const_cast<std::uint8_t*>(s.pixels.data()), {s.n, s.h, s.w, s.c}, u8)
                  .to(device);
    labels_ =
        torch::from_blob(const_cast<int64_t*>(s.labels.data()), {s.n}, torch::kInt64).to(device);
  }
  // x / 255, then (x - mean) / std: fill_batch's per-channel affine.
  const int64_t C = pre.in_chans;
  const data::ChannelAffine a = data::channel_affine(pre);
  const std::vector<float> scale(a.scale.begin(), a.scale.begin() + C),
      shift(a.shift.begin(), a.shift.begin() + C);
  scale_ = torch::tensor(scale).view({1, C, 1, 1}).to(device);
  shift_ = torch::tensor(shift).view({1, C, 1, 1}).to(device);
}

torch::Tensor DeviceImages::images(const torch::Tensor& indices, bool channels_last) const {
  // [B, H, W, C] uint8 -> [B, C, H, W] float of pixel values.
  torch::Tensor x = pixels_.index_select(0, indices).permute({0, 3, 1, 2}).to(torch::kFloat32);
  if (src_c_ == 3 && pre_.in_chans == 1) {
    x = x.select(1, 0).unsqueeze(1) * 0.299f + x.select(1, 1).unsqueeze(1) * 0.587f +
        x.select(1, 2).unsqueeze(1) * 0.114f;
  }
  if (out_h_ != x.size(2) || out_w_ != x.size(3)) {
    // Half-pixel centres, no antialiasing: the taps of data::resize_bilinear.
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{out_h_, out_w_})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  }
  if (src_c_ == 1 && pre_.in_chans == 3) x = x.expand({-1, 3, -1, -1});
  x = x * scale_ + shift_;  // a new tensor: every channel its own normalisation
  return channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x.contiguous();
}

torch::Tensor DeviceImages::labels(const torch::Tensor& indices) const {
  return labels_.index_select(0, indices);
}

}  // namespace pepr::train
