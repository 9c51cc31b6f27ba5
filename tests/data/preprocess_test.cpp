// Resizing, batch filling, the prefetcher and the synthetic generator.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

#include "core/error.hpp"
#include "data/npz.hpp"
#include "data/prefetch.hpp"
#include "data/preprocess.hpp"
#include "data/synth.hpp"
#include "support/test_support.hpp"

using namespace pepr::data;

namespace {
ImageSet ramp(int64_t n, int64_t h, int64_t w, int64_t c) {
  ImageSet s;
  s.n = n;
  s.h = h;
  s.w = w;
  s.c = c;
  s.pixels.resize(static_cast<std::size_t>(n * h * w * c));
  for (std::size_t i = 0; i < s.pixels.size(); ++i) s.pixels[i] = static_cast<uint8_t>(i % 251);
  for (int64_t i = 0; i < n; ++i) s.labels.push_back(i % 3);
  return s;
}
}  // namespace

TEST(Resize, IdentityConstantAndHalfPixelCentres) {
  std::vector<uint8_t> src{0, 100, 200, 250};  // 1x4 gray
  std::vector<uint8_t> dst(8);
  resize_bilinear(src.data(), 1, 4, 1, dst.data(), 1, 8);
  // Upsampling x2 with half-pixel centres: edges clamp, in-between at 1/4 and 3/4.
  EXPECT_EQ(dst, (std::vector<uint8_t>{0, 25, 75, 125, 175, 213, 238, 250}));
  std::vector<uint8_t> down(2);
  resize_bilinear(src.data(), 1, 4, 1, down.data(), 1, 2);
  EXPECT_EQ(down, (std::vector<uint8_t>{50, 225}));  // mean of pairs
  std::vector<uint8_t> flat(7 * 5 * 3, 77), big(13 * 11 * 3);
  resize_bilinear(flat.data(), 7, 5, 3, big.data(), 13, 11);
  for (uint8_t v : big) EXPECT_EQ(v, 77);
  ImageSet s = resize_images(ramp(3, 4, 4, 1), 8, 6);
  EXPECT_EQ(s.h, 8);
  EXPECT_EQ(s.w, 6);
  EXPECT_EQ(s.pixels.size(), 3u * 8 * 6);
}

TEST(FillBatch, ScalesToUnitRangeInNchwOrder) {
  ImageSet s = ramp(4, 2, 3, 3);
  Preprocess p;
  p.in_chans = 3;
  std::vector<float> out(2 * 3 * 2 * 3);
  std::vector<int64_t> labels(2);
  int64_t idx[2] = {2, 0};
  fill_batch(s, idx, 2, p, out.data(), labels.data());
  EXPECT_EQ(labels, (std::vector<int64_t>{2, 0}));
  // Sample 0 is image 2; channel 1 at (y=1, x=2) is pixel ((1*3+2)*3+1) of that image.
  const uint8_t* img = s.image(2);
  EXPECT_FLOAT_EQ(out[1 * 6 + 1 * 3 + 2], img[(1 * 3 + 2) * 3 + 1] / 255.f);
  EXPECT_FLOAT_EQ(out[18 + 0], s.image(0)[0] / 255.f);
  for (float v : out) {
    EXPECT_GE(v, 0.f);
    EXPECT_LE(v, 1.f);
  }
}

TEST(FillBatch, GrayToThreeChannelsWithImageNetNorm) {
  ImageSet s = ramp(1, 2, 2, 1);
  s.pixels = {0, 255, 51, 102};
  Preprocess p;
  p.in_chans = 3;
  p.normalize = true;
  std::vector<float> out(12);
  int64_t i0 = 0;
  fill_batch(s, &i0, 1, p, out.data());
  for (int k = 0; k < 3; ++k) {
    for (int q = 0; q < 4; ++q) {
      float x = s.pixels[q] / 255.f;
      EXPECT_NEAR(out[k * 4 + q], (x - kImageNetMean[k]) / kImageNetStd[k], 1e-5) << k << q;
    }
  }
  // One-channel model: no replication, averaged statistics.
  p.in_chans = 1;
  std::vector<float> one(4);
  fill_batch(s, &i0, 1, p, one.data());
  EXPECT_NEAR(one[1], (1.f - 0.449f) / (0.226f), 1e-3);
}

TEST(FillBatch, RgbToOneChannelAndResize) {
  ImageSet s = ramp(1, 1, 1, 3);
  s.pixels = {255, 0, 0};
  Preprocess p;
  p.in_chans = 1;
  p.out_h = 3;
  p.out_w = 2;
  std::vector<float> out(6);
  int64_t i0 = 0;
  fill_batch(s, &i0, 1, p, out.data());
  for (float v : out) EXPECT_NEAR(v, 0.299f, 1e-5);
  int64_t bad = 5;
  EXPECT_THROW(fill_batch(s, &bad, 1, p, out.data()), pepr::Error);
  // Resized float output matches the uint8 resize within rounding.
  ImageSet r = ramp(1, 5, 7, 1);
  Preprocess q;
  q.in_chans = 1;
  q.out_h = 9;
  q.out_w = 4;
  std::vector<float> f(36);
  fill_batch(r, &i0, 1, q, f.data());
  std::vector<uint8_t> u(36);
  resize_bilinear(r.image(0), 5, 7, 1, u.data(), 9, 4);
  for (int k = 0; k < 36; ++k) EXPECT_NEAR(f[k] * 255.f, u[k], 0.51f);
}

TEST(Prefetcher, DeliversEveryBatchInOrderAcrossEpochs) {
  ImageSet s = ramp(103, 4, 4, 1);
  BatchPrefetcher::Options o;
  o.batch_size = 10;
  o.preprocess.in_chans = 1;
  BatchPrefetcher pf(s, o);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> order(103);
    std::iota(order.begin(), order.end(), 0);
    std::reverse(order.begin() + epoch, order.end());
    pf.start_epoch(order);
    EXPECT_EQ(pf.batches_in_epoch(), 11);
    int64_t seen = 0, batches = 0;
    std::vector<float> expect(10 * 16);
    while (auto b = pf.next()) {
      EXPECT_EQ(b->index, batches);
      EXPECT_EQ(b->size, batches == 10 ? 3 : 10);
      EXPECT_EQ(b->channels, 1);
      fill_batch(s, order.data() + seen, b->size, o.preprocess, expect.data());
      for (int64_t k = 0; k < b->size * 16; ++k) ASSERT_EQ(b->images[k], expect[k]);
      for (int64_t k = 0; k < b->size; ++k) {
        EXPECT_EQ(b->indices[k], order[seen + k]);
        EXPECT_EQ(b->labels[k], order[seen + k] % 3);
      }
      seen += b->size;
      ++batches;
    }
    EXPECT_EQ(seen, 103);
    EXPECT_FALSE(pf.next());
  }
  // Several threads per batch give the same bytes.
  BatchPrefetcher::Options mt = o;
  mt.threads = 4;
  mt.preprocess.out_h = mt.preprocess.out_w = 9;
  BatchPrefetcher pm(s, mt);
  std::vector<int64_t> perm(103);
  std::iota(perm.begin(), perm.end(), 0);
  std::reverse(perm.begin(), perm.end());
  pm.start_epoch(perm);
  int64_t at = 0;
  std::vector<float> ref(10 * 81);
  while (auto b = pm.next()) {
    fill_batch(s, perm.data() + at, b->size, mt.preprocess, ref.data());
    for (int64_t k = 0; k < b->size * 81; ++k) ASSERT_EQ(b->images[k], ref[k]);
    at += b->size;
  }
  EXPECT_EQ(at, 103);
  o.drop_last = true;
  BatchPrefetcher d(s, o);
  std::vector<int64_t> all(103);
  std::iota(all.begin(), all.end(), 0);
  d.start_epoch(all);
  EXPECT_EQ(d.batches_in_epoch(), 10);
}

TEST(Prefetcher, PreparesTheNextBatchWhileTheStepRuns) {
  // 224x224 RGB from 28x28 gray: the expensive case. While the "step" sleeps, the next batch is
  // filled, so next() should barely wait.
  ImageSet s = ramp(256, 28, 28, 1);
  BatchPrefetcher::Options o;
  o.batch_size = 32;
  o.preprocess.in_chans = 3;
  o.preprocess.out_h = o.preprocess.out_w = 224;
  o.preprocess.normalize = true;
  BatchPrefetcher pf(s, o);
  std::vector<int64_t> order(256);
  std::iota(order.begin(), order.end(), 0);
  pf.start_epoch(order);
  auto first = pf.next();  // the first batch has nothing to overlap with
  ASSERT_TRUE(first);
  double fill_one = pf.fill_seconds();
  double waited_before = pf.wait_seconds();
  auto step = std::chrono::duration<double>(std::max(0.02, 3 * fill_one));
  int n = 1;
  while (pf.next()) {
    ++n;
    std::this_thread::sleep_for(step);
  }
  EXPECT_EQ(n, 8);
  // After the first batch, waiting is a small fraction of the fill work done meanwhile.
  EXPECT_LT(pf.wait_seconds() - waited_before, 0.5 * pf.fill_seconds() + 0.01)
      << "fill " << pf.fill_seconds() << " s, waited " << pf.wait_seconds() << " s";
}

TEST(Prefetcher, RestartingMidEpochAndErrorsAreSafe) {
  ImageSet s = ramp(50, 4, 4, 1);
  BatchPrefetcher::Options o;
  o.batch_size = 8;
  o.preprocess.in_chans = 1;
  BatchPrefetcher pf(s, o);
  std::vector<int64_t> order(50);
  std::iota(order.begin(), order.end(), 0);
  pf.start_epoch(order);
  ASSERT_TRUE(pf.next());
  pf.start_epoch(order);  // abandon the epoch
  int n = 0;
  while (pf.next()) ++n;
  EXPECT_EQ(n, 7);
  EXPECT_THROW(pf.start_epoch({0, 1, 50}), pepr::Error);
  BatchPrefetcher::Options bad = o;
  bad.preprocess.in_chans = 2;  // the worker's fill_batch throws: next() rethrows
  BatchPrefetcher pb(s, bad);
  pb.start_epoch(order);
  EXPECT_THROW(pb.next(), pepr::Error);
}

TEST(Synth, DeterministicBalancedAndIndependentSplits) {
  SynthOptions o;
  o.classes = 5;
  o.train = 100;
  o.val = 20;
  o.test = 30;
  o.seed = 42;
  Dataset a = make_synthetic(o), b = make_synthetic(o);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.train.labels, b.train.labels);
  EXPECT_EQ(class_counts(a.train, 5), (std::vector<int64_t>{20, 20, 20, 20, 20}));
  EXPECT_EQ(a.num_classes, 5);
  o.train = 60;  // val and test are independent of the train count
  Dataset c = make_synthetic(o);
  EXPECT_EQ(c.test.pixels, a.test.pixels);
  o.seed = 43;
  EXPECT_NE(make_synthetic(o).test.pixels, a.test.pixels);
  o.channels = 3;
  o.size = 32;
  Dataset rgb = make_synthetic(o);
  EXPECT_EQ(rgb.train.c, 3);
  EXPECT_EQ(rgb.train.pixels.size(), 60u * 32 * 32 * 3);
  o.classes = 1;
  EXPECT_THROW(make_synthetic(o), pepr::Error);
}

// Classes differ in structure, not in brightness: a nearest-class-mean classifier on raw pixels
// is above chance but far from perfect, while a simple structural feature (energy of the
// horizontal vs vertical gradient) separates stripe orientations.
TEST(Synth, ClassStructureIsLearnableButNotTrivial) {
  SynthOptions o;
  o.classes = 4;
  o.train = 800;
  o.test = 400;
  o.seed = 3;
  Dataset ds = make_synthetic(o);
  const int64_t P = ds.train.image_bytes();
  std::vector<std::vector<double>> mean(4, std::vector<double>(P, 0.0));
  std::vector<double> brightness(4, 0.0);
  auto counts = class_counts(ds.train, 4);
  for (int64_t i = 0; i < ds.train.n; ++i) {
    auto k = ds.train.labels[i];
    for (int64_t p = 0; p < P; ++p) mean[k][p] += ds.train.image(i)[p] / double(counts[k]);
  }
  for (int k = 0; k < 4; ++k) {
    brightness[k] = std::accumulate(mean[k].begin(), mean[k].end(), 0.0) / P;
  }
  int correct = 0;
  for (int64_t i = 0; i < ds.test.n; ++i) {
    int best = 0;
    double bd = 1e300;
    for (int k = 0; k < 4; ++k) {
      double d = 0;
      for (int64_t p = 0; p < P; ++p) {
        double x = ds.test.image(i)[p] - mean[k][p];
        d += x * x;
      }
      if (d < bd) bd = d, best = k;
    }
    correct += best == ds.test.labels[i];
  }
  double acc = correct / double(ds.test.n);
  EXPECT_GT(acc, 0.30);  // chance is 0.25
  EXPECT_LT(acc, 0.90);
  auto [lo, hi] = std::minmax_element(brightness.begin(), brightness.end());
  EXPECT_LT(*hi - *lo, 10.0);  // mean intensity alone does not tell classes apart
}

TEST(Synth, WritesAMedmnistLayoutNpz) {
  pepr::test::TempDir d;
  SynthOptions o;
  o.train = 40;
  o.val = 8;
  o.test = 8;
  std::string p = (d / "s.npz").string();
  save_npz_dataset(make_synthetic(o), p, true);
  NpzFile f = NpzFile::open(p);
  EXPECT_EQ(f.keys(), (std::vector<std::string>{"train_images", "train_labels", "val_images",
                                                "val_labels", "test_images", "test_labels"}));
  EXPECT_EQ(f.header("train_images").shape, (std::vector<int64_t>{40, 28, 28}));
  EXPECT_EQ(f.header("train_labels").shape, (std::vector<int64_t>{40, 1}));
  EXPECT_EQ(f.header("val_labels").dtype.descr, "|u1");
}
