// A seeded synthetic image classification dataset in the MedMNIST layout, so that training and
// tests need no download. Classes differ in structure (stripes of a class-specific orientation,
// a class-specific number of blobs, or of rings), not in mean intensity; every image has random
// phase, position, contrast, background, (RGB) tint and Gaussian noise.
#pragma once

#include <cstdint>

#include "data/dataset.hpp"

namespace pepr::data {

struct SynthOptions {
  int classes = 4;    // 2 .. 64
  int64_t size = 28;  // image height = width, 8 .. 512
  int channels = 1;   // 1 or 3
  int64_t train = 800, val = 200, test = 200;
  std::uint64_t seed = 0;
  double noise = 0.15;  // standard deviation of the pixel noise, in [0,1] intensity units
};

// The same options and seed give the same bytes on every platform. Each split has its own
// stream: changing the train count leaves val and test unchanged. Labels are balanced.
Dataset make_synthetic(const SynthOptions& opt);

}  // namespace pepr::data
