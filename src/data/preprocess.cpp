#include "data/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::data {

namespace {

// Source coordinates for bilinear sampling with half-pixel centres.
struct Tap {
  int64_t i0, i1;
  float f;  // weight of i1
};

std::vector<Tap> taps(int64_t in, int64_t out) {
  std::vector<Tap> t(static_cast<std::size_t>(out));
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    double x = (static_cast<double>(o) + 0.5) * scale - 0.5;
    if (x < 0) x = 0;
    auto i0 = static_cast<int64_t>(x);
    if (i0 > in - 1) i0 = in - 1;
    int64_t i1 = std::min(i0 + 1, in - 1);
    t[static_cast<std::size_t>(o)] = {i0, i1, static_cast<float>(x - static_cast<double>(i0))};
  }
  return t;
}

}  // namespace

void resize_bilinear(const std::uint8_t* src, int64_t h, int64_t w, int64_t c, std::uint8_t* dst,
                     int64_t out_h, int64_t out_w) {
  if (h == out_h && w == out_w) {
    std::memcpy(dst, src, static_cast<std::size_t>(h * w * c));
    return;
  }
  const auto ty = taps(h, out_h), tx = taps(w, out_w);
  for (int64_t y = 0; y < out_h; ++y) {
    const Tap& a = ty[static_cast<std::size_t>(y)];
    const std::uint8_t* r0 = src + a.i0 * w * c;
    const std::uint8_t* r1 = src + a.i1 * w * c;
    for (int64_t x = 0; x < out_w; ++x) {
      const Tap& b = tx[static_cast<std::size_t>(x)];
      for (int64_t k = 0; k < c; ++k) {
        float top = r0[b.i0 * c + k] + (r0[b.i1 * c + k] - r0[b.i0 * c + k]) * b.f;
        float bot = r1[b.i0 * c + k] + (r1[b.i1 * c + k] - r1[b.i0 * c + k]) * b.f;
        float v = top + (bot - top) * a.f;
        dst[(y * out_w + x) * c + k] = static_cast<std::uint8_t>(std::lround(v));
      }
    }
  }
}

ImageSet resize_images(const ImageSet& s, int64_t out_h, int64_t out_w) {
  if (out_h <= 0 || out_w <= 0) throw Error(fmt::format("resize: bad size {}x{}", out_w, out_h));
  ImageSet o = s;
  o.h = out_h;
  o.w = out_w;
  o.pixels.assign(static_cast<std::size_t>(s.n * out_h * out_w * s.c), 0);
  for (int64_t i = 0; i < s.n; ++i) {
    resize_bilinear(s.image(i), s.h, s.w, s.c, o.pixels.data() + i * o.image_bytes(), out_h, out_w);
  }
  return o;
}

ChannelAffine channel_affine(const Preprocess& p) {
  ChannelAffine a;
  for (std::size_t k = 0; k < 3; ++k) {
    float m = 0.f, sd = 1.f;
    if (p.normalize) {
      m = p.in_chans == 1 ? (p.mean[0] + p.mean[1] + p.mean[2]) / 3.f : p.mean[k];
      sd = p.in_chans == 1 ? (p.std[0] + p.std[1] + p.std[2]) / 3.f : p.std[k];
    }
    a.scale[k] = 1.f / (255.f * sd);
    a.shift[k] = -m / sd;
  }
  return a;
}

void fill_batch(const ImageSet& s, const int64_t* indices, int64_t count, const Preprocess& p,
                float* out, int64_t* labels_out) {
  if (p.in_chans != 1 && p.in_chans != 3) {
    throw Error(fmt::format("in_chans must be 1 or 3, not {}", p.in_chans));
  }
  if (s.c != 1 && s.c != 3) throw Error(fmt::format("images with {} channels", s.c));
  const int64_t H = p.height(s), W = p.width(s), C = p.in_chans, plane = H * W;
  const bool resize = H != s.h || W != s.w;
  std::vector<Tap> ty, tx;
  std::vector<float> plane_buf, rows_buf;  // resize scratch: source plane, x-interpolated rows
  if (resize) {
    ty = taps(s.h, H);
    tx = taps(s.w, W);
    plane_buf.resize(static_cast<std::size_t>(s.h * s.w));
    rows_buf.resize(static_cast<std::size_t>(s.h * W));
  }
  const auto [scale, shift] = channel_affine(p);
  for (int64_t b = 0; b < count; ++b) {
    const int64_t i = indices[b];
    if (i < 0 || i >= s.n) {
      throw Error(fmt::format("batch index {} out of range 0..{}", i, s.n));
    }
    const std::uint8_t* img = s.image(i);
    float* dst = out + b * C * plane;
    // Source channels to produce: gray->3 replicates channel 0; RGB->1 is luminance.
    const int64_t produce = (s.c == 3 && C == 1) ? 1 : std::min(s.c, C);
    for (int64_t k = 0; k < produce; ++k) {
      float* o = dst + k * plane;
      auto sample = [&](int64_t y, int64_t x) -> float {
        const std::uint8_t* px = img + (y * s.w + x) * s.c;
        if (s.c == 3 && C == 1) return 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
        return px[k];
      };
      if (!resize) {
        for (int64_t y = 0; y < H; ++y) {
          for (int64_t x = 0; x < W; ++x) o[y * W + x] = sample(y, x) * scale[k] + shift[k];
        }
      } else {
        // Separable bilinear: source plane as float, then rows (x), then columns (y).
        for (int64_t y = 0; y < s.h; ++y) {
          for (int64_t x = 0; x < s.w; ++x) plane_buf[y * s.w + x] = sample(y, x);
        }
        for (int64_t y = 0; y < s.h; ++y) {
          const float* r = plane_buf.data() + y * s.w;
          float* t = rows_buf.data() + y * W;
          for (int64_t x = 0; x < W; ++x) {
            const Tap& tb = tx[static_cast<std::size_t>(x)];
            t[x] = r[tb.i0] + (r[tb.i1] - r[tb.i0]) * tb.f;
          }
        }
        for (int64_t y = 0; y < H; ++y) {
          const Tap& a = ty[static_cast<std::size_t>(y)];
          const float* r0 = rows_buf.data() + a.i0 * W;
          const float* r1 = rows_buf.data() + a.i1 * W;
          float* o_row = o + y * W;
          for (int64_t x = 0; x < W; ++x) {
            o_row[x] = (r0[x] + (r1[x] - r0[x]) * a.f) * scale[k] + shift[k];
          }
        }
      }
    }
    if (s.c == 1 && C == 3) {  // replicate gray into channels 1 and 2 (own normalisation)
      for (int64_t k = 1; k < 3; ++k) {
        float* o = dst + k * plane;
        const float* g = dst;
        const float a = scale[k] / scale[0], c0 = shift[k] - shift[0] * a;
        for (int64_t q = 0; q < plane; ++q) o[q] = g[q] * a + c0;
      }
    }
    if (labels_out) {
      std::copy_n(s.labels.begin() + i * s.label_dim, s.label_dim, labels_out + b * s.label_dim);
    }
  }
}

}  // namespace pepr::data
