// Preprocessing from uint8 images to the float input of a model, on raw pointers so the training
// code can fill a tensor's memory directly (no per-sample copies).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "data/dataset.hpp"

namespace pepr::data {

// Bilinear resize of one H,W,C uint8 image (half-pixel centres, as PIL / torch
// align_corners=False, no antialiasing).
void resize_bilinear(const std::uint8_t* src, int64_t h, int64_t w, int64_t c, std::uint8_t* dst,
                     int64_t out_h, int64_t out_w);
// Every image of a split resized to out_h x out_w.
ImageSet resize_images(const ImageSet& s, int64_t out_h, int64_t out_w);

inline constexpr std::array<float, 3> kImageNetMean{0.485f, 0.456f, 0.406f};
inline constexpr std::array<float, 3> kImageNetStd{0.229f, 0.224f, 0.225f};

struct Preprocess {
  int64_t out_h = 0, out_w = 0;  // 0: the images' own size; otherwise bilinear resize
  int64_t in_chans = 3;          // channels the model takes: 1 or 3 (gray is replicated to 3,
                                 // RGB is turned into luminance for 1)
  bool normalize = false;        // (x - mean) / std after scaling to [0,1]
  std::array<float, 3> mean = kImageNetMean;  // for in_chans 1: the mean of the three
  std::array<float, 3> std = kImageNetStd;

  int64_t height(const ImageSet& s) const { return out_h > 0 ? out_h : s.h; }
  int64_t width(const ImageSet& s) const { return out_w > 0 ? out_w : s.w; }
  // Floats per sample: in_chans * height * width.
  int64_t sample_floats(const ImageSet& s) const { return in_chans * height(s) * width(s); }
};

// Per output channel k < in_chans: value = pixel * scale[k] + shift[k], i.e. x / 255 and then
// (x - mean) / std when normalising (for 1 channel, the means of the three). One definition for
// the host path (fill_batch) and the device path (train/device_data).
struct ChannelAffine {
  std::array<float, 3> scale{}, shift{};
};
ChannelAffine channel_affine(const Preprocess& p);

// Fills `out` ([count, in_chans, H, W] floats, contiguous) with the images at indices[0..count)
// scaled to [0,1] (x / 255, as the MedMNIST paper), resized, channel-converted and optionally
// normalised; and `labels_out` (count * label_dim int64, may be null) with their labels.
void fill_batch(const ImageSet& s, const int64_t* indices, int64_t count, const Preprocess& p,
                float* out, int64_t* labels_out = nullptr);

}  // namespace pepr::data
