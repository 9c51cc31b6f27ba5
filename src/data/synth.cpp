#include "data/synth.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.hpp"
#include "data/rng.hpp"

namespace pepr::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

void draw(int k, int K, int64_t S, int C, double noise, Rng& rng, std::uint8_t* out) {
  const int type = k % 3, variant = k / 3, variants = (K + 2) / 3;
  const double bg = rng.uniform(0.3, 0.6), amp = rng.uniform(0.3, 0.5);
  std::vector<double> v(static_cast<std::size_t>(S * S), 0.0);
  const double s = static_cast<double>(S);
  if (type == 0) {  // stripes: orientation by variant
    const double step = kPi / variants;
    const double angle = variant * step + rng.uniform(-0.2, 0.2) * step;
    const double period = rng.uniform(0.22, 0.38) * s, phase = rng.uniform(0, 2 * kPi);
    const double cx = std::cos(angle), cy = std::sin(angle);
    for (int64_t y = 0; y < S; ++y) {
      for (int64_t x = 0; x < S; ++x) {
        double t = (x * cx + y * cy) * 2 * kPi / period + phase;
        v[y * S + x] = 0.5 * (1 + std::sin(t));
      }
    }
  } else if (type == 1) {  // 1 + variant Gaussian blobs
    const int blobs = 1 + variant;
    for (int b = 0; b < blobs; ++b) {
      const double bx = rng.uniform(0.2, 0.8) * s, by = rng.uniform(0.2, 0.8) * s;
      const double r = rng.uniform(0.07, 0.12) * s;
      for (int64_t y = 0; y < S; ++y) {
        for (int64_t x = 0; x < S; ++x) {
          double d2 = ((x - bx) * (x - bx) + (y - by) * (y - by)) / (r * r);
          v[y * S + x] = std::max(v[y * S + x], std::exp(-0.5 * d2));
        }
      }
    }
  } else {  // 1 + variant concentric rings
    const int rings = 1 + variant;
    const double cx = rng.uniform(0.35, 0.65) * s, cy = rng.uniform(0.35, 0.65) * s;
    const double outer = rng.uniform(0.25, 0.4) * s, width = 0.06 * s;
    for (int64_t y = 0; y < S; ++y) {
      for (int64_t x = 0; x < S; ++x) {
        double d = std::sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
        double best = 0;
        for (int r = 0; r < rings; ++r) {
          double rr = outer * (1.0 - static_cast<double>(r) / (rings + 0.5));
          best = std::max(best, std::exp(-0.5 * (d - rr) * (d - rr) / (width * width * 0.5)));
        }
        v[y * S + x] = best;
      }
    }
  }
  // Zero-mean pattern: the class shows in structure, not in the image's mean intensity.
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (double& x : v) x -= mean;
  double tint[3] = {1, 1, 1};
  if (C == 3) {
    for (double& t : tint) t = rng.uniform(0.6, 1.0);
  }
  for (int64_t p = 0; p < S * S; ++p) {
    for (int ch = 0; ch < C; ++ch) {
      double val = (bg + amp * v[p]) * tint[ch] + noise * rng.normal();
      val = std::clamp(val, 0.0, 1.0);
      out[p * C + ch] = static_cast<std::uint8_t>(std::lround(val * 255.0));
    }
  }
}

ImageSet make_split(const SynthOptions& o, int64_t n, std::uint64_t stream) {
  Rng rng(o.seed ^ (0x9e3779b97f4a7c15ull * (stream + 1)));
  ImageSet s;
  s.n = n;
  s.h = s.w = o.size;
  s.c = o.channels;
  s.pixels.resize(static_cast<std::size_t>(n * o.size * o.size * o.channels));
  s.labels.resize(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) s.labels[i] = i % o.classes;
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(s.labels[i], s.labels[rng.below(static_cast<std::uint64_t>(i + 1))]);
  }
  for (int64_t i = 0; i < n; ++i) {
    draw(static_cast<int>(s.labels[i]), o.classes, o.size, o.channels, o.noise, rng,
         s.pixels.data() + i * s.image_bytes());
  }
  return s;
}

}  // namespace

Dataset make_synthetic(const SynthOptions& o) {
  if (o.classes < 2 || o.classes > 64) throw Error("synth: classes must be in 2..64");
  if (o.size < 8 || o.size > 512) throw Error("synth: size must be in 8..512");
  if (o.channels != 1 && o.channels != 3) throw Error("synth: channels must be 1 or 3");
  if (o.train < o.classes || o.val < 0 || o.test < 0 || o.train + o.val + o.test > 10000000) {
    throw Error("synth: need at least one training image per class (and at most 10M images)");
  }
  if (!(o.noise >= 0 && o.noise <= 1)) throw Error("synth: noise must be in [0, 1]");
  Dataset ds;
  ds.name = "synth";
  ds.source = fmt::format("synth(classes={}, size={}, channels={}, seed={}, noise={})", o.classes,
                          o.size, o.channels, o.seed, o.noise);
  ds.train = make_split(o, o.train, 0);
  ds.val = make_split(o, o.val, 1);
  ds.test = make_split(o, o.test, 2);
  ds.num_classes = o.classes;
  return ds;
}

}  // namespace pepr::data
