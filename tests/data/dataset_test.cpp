// Real MedMNIST files, image folders, subsets.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.hpp"
#include "data/catalogue.hpp"
#include "data/dataset.hpp"
#include "data/digest.hpp"
#include "data/image_codec.hpp"
#include "data/preprocess.hpp"
#include "data/synth.hpp"
#include "support/test_support.hpp"

using namespace pepr::data;
namespace fs = std::filesystem;

TEST(RealData, PneumoniaMnistAsPublished) {
  PEPR_REQUIRE_SHARED(path, "medmnist/pneumoniamnist.npz");
  Dataset ds = load_npz_dataset(path.string());
  EXPECT_EQ(ds.name, "pneumoniamnist");
  EXPECT_EQ(ds.num_classes, 2);
  EXPECT_FALSE(ds.multi_label);
  EXPECT_EQ(ds.train.n, 4708);
  EXPECT_EQ(ds.val.n, 524);
  EXPECT_EQ(ds.test.n, 624);
  EXPECT_EQ(ds.train.h, 28);
  EXPECT_EQ(ds.train.w, 28);
  EXPECT_EQ(ds.train.c, 1);
  EXPECT_EQ(ds.train.pixels.size(), 4708u * 28 * 28);
  EXPECT_EQ(class_counts(ds.train, 2), (std::vector<int64_t>{1214, 3494}));
  EXPECT_EQ(class_counts(ds.val, 2), (std::vector<int64_t>{135, 389}));
  EXPECT_EQ(class_counts(ds.test, 2), (std::vector<int64_t>{234, 390}));
  // X-rays use the full intensity range.
  auto [lo, hi] = std::minmax_element(ds.train.pixels.begin(), ds.train.pixels.end());
  EXPECT_LT(*lo, 10);
  EXPECT_GT(*hi, 245);
}

TEST(RealData, PneumoniaMnistMd5IsTheCatalogues) {
  PEPR_REQUIRE_SHARED(path, "medmnist/pneumoniamnist.npz");
  const CatalogueEntry* e = find_catalogue_entry("pneumoniamnist");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(medmnist_md5(*e, 28), "28209eda62fecd6e6a2d98b1501bb15f");
  EXPECT_EQ(digest_file(path.string(), DigestAlgo::md5), medmnist_md5(*e, 28));
  EXPECT_EQ(e->train, 4708);
  EXPECT_EQ(e->val, 524);
  EXPECT_EQ(e->test, 624);
}

TEST(RealData, BalancedUncompressedSubset) {
  PEPR_REQUIRE_SHARED(path, "medmnist/pneumoniamnist_balanced_28.npz");
  Dataset ds = load_npz_dataset(path.string());
  EXPECT_EQ(ds.train.n, 2428);
  EXPECT_EQ(ds.val.n, 270);
  EXPECT_EQ(ds.test.n, 468);
  EXPECT_EQ(class_counts(ds.train, 2), (std::vector<int64_t>{1214, 1214}));
  EXPECT_EQ(class_counts(ds.test, 2), (std::vector<int64_t>{234, 234}));
  EXPECT_EQ(ds.num_classes, 2);
}

TEST(RealData, BreastMnistWithFlatLabels) {
  PEPR_REQUIRE_SHARED(path, "medmnist/breastmnist_flat_labels.npz");
  DatasetInfo info = inspect_dataset(path.string());
  EXPECT_EQ(info.splits[0].label_shape, std::vector<int64_t>{546});
  Dataset ds = load_npz_dataset(path.string());
  EXPECT_EQ(ds.train.n, 546);
  EXPECT_EQ(ds.val.n, 78);
  EXPECT_EQ(ds.test.n, 156);
  EXPECT_EQ(ds.train.label_dim, 1);
  EXPECT_EQ(ds.num_classes, 2);
  auto c = class_counts(ds.train, 2);
  EXPECT_EQ(c[0] + c[1], 546);
  EXPECT_GT(c[1], c[0]);  // benign/normal outnumber malignant
}

TEST(RealData, InspectReadsHeadersAndLabels) {
  PEPR_REQUIRE_SHARED(path, "medmnist/pneumoniamnist.npz");
  DatasetInfo info = inspect_dataset(path.string());
  ASSERT_EQ(info.splits.size(), 3u);
  EXPECT_EQ(info.format, "npz");
  EXPECT_EQ(info.splits[0].image_shape, (std::vector<int64_t>{4708, 28, 28}));
  EXPECT_EQ(info.splits[0].image_dtype, "|u1");
  EXPECT_EQ(info.splits[0].label_shape, (std::vector<int64_t>{4708, 1}));
  EXPECT_EQ(info.splits[2].class_counts, (std::vector<int64_t>{234, 390}));
}

TEST(RealData, StratifiedTenthOfPneumoniaMnist) {
  PEPR_REQUIRE_SHARED(path, "medmnist/pneumoniamnist.npz");
  Dataset ds = load_npz_dataset(path.string());
  auto idx = stratified_subset(ds.train, 0.1, 7);
  ImageSet sub = subset(ds.train, idx);
  EXPECT_EQ(class_counts(sub, 2), (std::vector<int64_t>{121, 349}));  // round(0.1 x count)
  EXPECT_EQ(idx, stratified_subset(ds.train, 0.1, 7));
  EXPECT_NE(idx, stratified_subset(ds.train, 0.1, 8));
  EXPECT_TRUE(std::is_sorted(idx.begin(), idx.end()));
  EXPECT_EQ(std::set<int64_t>(idx.begin(), idx.end()).size(), idx.size());
}

TEST(Subset, KeepsEveryClassAndCopiesImages) {
  ImageSet s;
  s.n = 10;
  s.h = s.w = 1;
  s.c = 1;
  for (int i = 0; i < 10; ++i) {
    s.pixels.push_back(static_cast<uint8_t>(i));
    s.labels.push_back(i < 9 ? 0 : 1);  // class 1 has one image
  }
  auto idx = stratified_subset(s, 0.2, 1);
  ASSERT_EQ(idx.size(), 3u);  // 2 of class 0 (round 1.8) + 1 of class 1 (at least one)
  EXPECT_EQ(idx.back(), 9);
  ImageSet sub = subset(s, idx);
  for (std::size_t k = 0; k < idx.size(); ++k) EXPECT_EQ(sub.pixels[k], idx[k]);
  EXPECT_THROW(stratified_subset(s, 0.0, 1), pepr::Error);
  EXPECT_THROW(stratified_subset(s, 1.5, 1), pepr::Error);
  EXPECT_EQ(stratified_subset(s, 1.0, 3).size(), 10u);
}

namespace {
void write_png(const fs::path& p, int64_t w, int64_t h, int64_t c, uint8_t v) {
  std::vector<uint8_t> px(static_cast<std::size_t>(w * h * c));
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(v + i % 3);
  fs::create_directories(p.parent_path());
  pepr::test::write_file(p, encode_png(px.data(), w, h, c));
}
void write_jpg(const fs::path& p, int64_t w, int64_t h, int64_t c, uint8_t v) {
  std::vector<uint8_t> px(static_cast<std::size_t>(w * h * c), v);
  fs::create_directories(p.parent_path());
  pepr::test::write_file(p, encode_jpeg(px.data(), w, h, c, 100));
}
}  // namespace

TEST(Codec, PngRoundTripIsExactJpegIsClose) {
  std::vector<uint8_t> px(5 * 4 * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 4);
  DecodedImage d = decode_image(encode_png(px.data(), 5, 4, 3), "x.png");
  EXPECT_EQ(d.w, 5);
  EXPECT_EQ(d.h, 4);
  EXPECT_EQ(d.c, 3);
  EXPECT_EQ(d.pixels, px);
  std::vector<uint8_t> flat(16 * 16, 100);
  DecodedImage j = decode_image(encode_jpeg(flat.data(), 16, 16, 1, 95), "x.jpg");
  EXPECT_EQ(j.c, 1);
  for (uint8_t v : j.pixels) EXPECT_NEAR(v, 100, 2);
  EXPECT_THROW(decode_image("not an image", "x"), pepr::Error);
  std::string png = encode_png(px.data(), 5, 4, 3);
  EXPECT_THROW(decode_image(png.substr(0, png.size() / 2), "half.png"), pepr::Error);
  std::string jpg = encode_jpeg(flat.data(), 16, 16, 1, 95);
  EXPECT_THROW(decode_image(jpg.substr(0, 20), "half.jpg"), pepr::Error);
}

TEST(ImageFolder, ReadsSplitsClassesAndMixedFormats) {
  pepr::test::TempDir d;
  fs::path root = d / "ds";
  write_png(root / "train/cat/a.png", 6, 5, 1, 10);
  write_png(root / "train/cat/b.png", 6, 5, 1, 20);
  write_jpg(root / "train/dog/c.jpg", 6, 5, 3, 200);
  write_png(root / "val/dog/d.PNG", 6, 5, 1, 30);
  write_png(root / "val/cat/g.png", 6, 5, 1, 35);  // a split needs two classes
  write_png(root / "test/cat/e.png", 6, 5, 1, 40);
  write_jpg(root / "test/dog/f.jpeg", 6, 5, 1, 50);
  pepr::test::write_file(root / "train/cat/notes.txt", "ignored");
  Dataset ds = load_image_folder(root.string());
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(ds.num_classes, 2);
  EXPECT_EQ(ds.train.n, 3);
  EXPECT_EQ(ds.val.n, 2);
  EXPECT_EQ(ds.test.n, 2);
  EXPECT_EQ(ds.train.c, 3);  // one RGB image promotes all to RGB
  EXPECT_EQ(ds.train.h, 5);
  EXPECT_EQ(ds.train.w, 6);
  EXPECT_EQ(ds.train.labels, (std::vector<int64_t>{0, 0, 1}));
  EXPECT_EQ(ds.test.labels, (std::vector<int64_t>{0, 1}));
  // a.png's first pixel 10 replicated to three channels; c.jpg is ~200.
  EXPECT_EQ(ds.train.pixels[0], 10);
  EXPECT_EQ(ds.train.pixels[1], 10);
  EXPECT_EQ(ds.train.pixels[2], 10);
  EXPECT_NEAR(ds.train.image(2)[0], 200, 3);
  DatasetInfo info = inspect_dataset(root.string());
  EXPECT_EQ(info.format, "image-folder");
  EXPECT_EQ(info.splits[0].class_counts, (std::vector<int64_t>{2, 1}));
}

TEST(ImageFolder, SizeMismatchNamesTheFileUnlessResized) {
  pepr::test::TempDir d;
  fs::path root = d / "ds";
  write_png(root / "train/a/1.png", 8, 8, 1, 0);
  write_png(root / "train/a/2.png", 9, 8, 1, 0);
  write_png(root / "train/b/4.png", 8, 8, 1, 0);
  write_png(root / "test/a/3.png", 8, 8, 1, 0);
  write_png(root / "test/b/5.png", 8, 8, 1, 0);
  try {
    load_image_folder(root.string());
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("2.png: image is 9x8"), std::string::npos) << e.what();
  }
  Dataset ds = load_image_folder(root.string(), FolderOptions{16});
  EXPECT_EQ(ds.train.h, 16);
  EXPECT_EQ(ds.train.w, 16);
  EXPECT_TRUE(ds.val.empty());
}

TEST(ImageFolder, MissingSplitOrBrokenImageIsAnError) {
  pepr::test::TempDir d;
  fs::path root = d / "ds";
  write_png(root / "train/a/1.png", 4, 4, 1, 0);
  EXPECT_THROW(load_image_folder(root.string()), pepr::Error);  // no test/, too few to split
  write_png(root / "test/a/2.png", 4, 4, 1, 0);
  pepr::test::write_file(root / "test/a/3.png", "\x89PNG\r\n\x1a\n garbage");
  try {
    load_image_folder(root.string());
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("3.png: cannot decode PNG"), std::string::npos)
        << e.what();
  }
}

// A folder of `per_class` images in each of the classes, ROOT/CLASS/NAME.png, image i of class k
// filled with 100 * k + i (so that every image is recognisable after a split).
void write_flat_folder(const fs::path& root, const std::vector<std::string>& classes,
                       const std::vector<int>& per_class, int64_t size = 4) {
  for (std::size_t k = 0; k < classes.size(); ++k)
    for (int i = 0; i < per_class[k]; ++i) {
      std::vector<uint8_t> px(static_cast<std::size_t>(size * size),
                              static_cast<uint8_t>(100 * k + static_cast<std::size_t>(i)));
      fs::create_directories(root / classes[k]);
      pepr::test::write_file(root / classes[k] / fmt::format("{:03}.png", i),
                             encode_png(px.data(), size, size, 1));
    }
}

// The first pixel of every image of a split: which images it holds.
std::multiset<int> image_ids(const ImageSet& s) {
  std::multiset<int> ids;
  for (int64_t i = 0; i < s.n; ++i) ids.insert(s.image(i)[0]);
  return ids;
}

TEST(ImageFolder, ClassFoldersAloneAreSplitStratifiedSeededAndRecorded) {
  pepr::test::TempDir d;
  const fs::path root = d / "flat";
  write_flat_folder(root, {"benign", "malignant"}, {20, 9});
  const Dataset ds = load_image_folder(root.string());
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"benign", "malignant"}));
  // Per class round(0.1 n) for val and round(0.2 n) for test, at least one: 2+1 and 4+2.
  EXPECT_EQ(class_counts(ds.val, 2), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(class_counts(ds.test, 2), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(class_counts(ds.train, 2), (std::vector<int64_t>{14, 6}));
  // Every image in exactly one split.
  std::multiset<int> all = image_ids(ds.train);
  for (int id : image_ids(ds.val)) all.insert(id);
  for (int id : image_ids(ds.test)) all.insert(id);
  std::multiset<int> expected;
  for (int i = 0; i < 20; ++i) expected.insert(i);
  for (int i = 0; i < 9; ++i) expected.insert(100 + i);
  EXPECT_EQ(all, expected);
  ASSERT_TRUE(ds.split_made.made);
  EXPECT_EQ(ds.split_made.splits, (std::vector<std::string>{"val", "test"}));
  EXPECT_EQ(ds.split_made.from, 29);
  EXPECT_EQ(ds.split_made.seed, 0u);
  // The same seed gives the same split; another seed another one (not the first images).
  EXPECT_EQ(image_ids(load_image_folder(root.string()).test), image_ids(ds.test));
  FolderOptions other;
  other.split_seed = 7;
  EXPECT_NE(image_ids(load_image_folder(root.string(), other).test), image_ids(ds.test));
  std::multiset<int> first_four{0, 1, 2, 3, 100, 101};
  EXPECT_NE(image_ids(ds.test), first_four);
}

TEST(ImageFolder, ATrainFolderAloneGetsATestSplitAndKeepsItsVal) {
  pepr::test::TempDir d;
  const fs::path root = d / "ds";
  write_flat_folder(root / "train", {"a", "b"}, {10, 10});
  write_flat_folder(root / "val", {"a", "b"}, {1, 1});
  const Dataset ds = load_image_folder(root.string());
  EXPECT_EQ(ds.val.n, 2);  // the folder's own
  EXPECT_EQ(class_counts(ds.test, 2), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(ds.train.n, 16);
  EXPECT_EQ(ds.split_made.splits, (std::vector<std::string>{"test"}));
  // A folder that has test/ is used as it is.
  write_flat_folder(root / "test", {"a", "b"}, {3, 3});
  const Dataset given = load_image_folder(root.string());
  EXPECT_FALSE(given.split_made.made);
  EXPECT_EQ(given.train.n, 20);
  EXPECT_EQ(given.test.n, 6);
}

TEST(ImageFolder, AClassTooSmallToSplitIsNamed) {
  pepr::test::TempDir d;
  const fs::path root = d / "ds";
  write_flat_folder(root, {"common", "rare"}, {10, 2});
  try {
    load_image_folder(root.string());
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("class 'rare' has 2 image(s)"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("needs at least 3 per class"), std::string::npos)
        << e.what();
  }
  // Images loose in the root are not a class.
  const fs::path loose = d / "loose";
  write_flat_folder(loose, {"a", "b"}, {5, 5});
  write_png(loose / "stray.png", 4, 4, 1, 0);
  EXPECT_THROW(load_image_folder(loose.string()), pepr::Error);
}

TEST(ImageFolder, MixedSizesAreResizedAsTheyAreReadLikeThePreprocessing) {
  pepr::test::TempDir d;
  const fs::path root = d / "mixed";
  write_flat_folder(root, {"a", "b"}, {5, 5}, 8);
  std::vector<uint8_t> big(12 * 12);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  pepr::test::write_file(root / "a" / "big.png", encode_png(big.data(), 12, 12, 1));
  EXPECT_THROW(load_image_folder(root.string()), pepr::Error);
  FolderOptions opt;
  opt.size = 8;
  const Dataset ds = load_image_folder(root.string(), opt);
  EXPECT_EQ(ds.train.h, 8);
  EXPECT_EQ(ds.train.n + ds.val.n + ds.test.n, 11);
  // The 12x12 image, resized as the preprocessing resizes (bilinear, half-pixel centres).
  ImageSet one;
  one.n = 1, one.h = 12, one.w = 12, one.c = 1, one.pixels = big, one.labels = {0};
  const ImageSet expected = resize_images(one, 8, 8);
  bool found = false;
  for (const ImageSet* s : {&ds.train, &ds.val, &ds.test})
    for (int64_t i = 0; i < s->n; ++i)
      if (std::equal(s->image(i), s->image(i) + 64, expected.pixels.begin())) found = true;
  EXPECT_TRUE(found);
}

TEST(ImageFolder, ExportedFolderReadsBackTheSameImages) {
  Dataset ds = make_synthetic(SynthOptions{3, 8, 1, 12, 6, 6, 4, 0.15});
  pepr::test::TempDir d;
  const fs::path out = d / "exported";
  EXPECT_EQ(save_image_folder(ds, out.string()), 24);
  const Dataset back = load_image_folder(out.string());
  EXPECT_EQ(back.class_names, (std::vector<std::string>{"0", "1", "2"}));
  // The same (label, image) pairs; the folder holds them class by class.
  const auto pairs = [](const ImageSet& s) {
    std::multiset<std::pair<int64_t, std::vector<uint8_t>>> out;
    for (int64_t i = 0; i < s.n; ++i)
      out.emplace(s.labels[i], std::vector<uint8_t>(s.image(i), s.image(i) + s.image_bytes()));
    return out;
  };
  EXPECT_EQ(pairs(back.train), pairs(ds.train));
  EXPECT_EQ(pairs(back.test), pairs(ds.test));
  EXPECT_THROW(save_image_folder(ds, out.string()), pepr::Error);  // exists: refused
  FolderExport flat;
  flat.flat = true;
  flat.limit = 4;
  EXPECT_EQ(save_image_folder(ds, (d / "flat").string(), flat), 12);
  EXPECT_FALSE(fs::exists(d / "flat" / "train"));
  EXPECT_FALSE(fs::exists(d / "flat.part"));
}

TEST(Catalogue, NamesUrlsAndCache) {
  EXPECT_EQ(medmnist_catalogue().size(), 12u);
  auto s = parse_catalogue_spec("dermamnist_224");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->entry->name, "dermamnist");
  EXPECT_EQ(s->size, 224);
  EXPECT_FALSE(parse_catalogue_spec("dermamnist_100"));
  EXPECT_FALSE(parse_catalogue_spec("cifar10"));
  EXPECT_EQ(parse_catalogue_spec("octmnist@64")->size, 64);
  const CatalogueEntry& e = *find_catalogue_entry("bloodmnist");
  EXPECT_EQ(e.channels, 3);
  EXPECT_EQ(e.classes, 8);
  EXPECT_EQ(medmnist_file_name(e, 28), "bloodmnist.npz");
  EXPECT_EQ(medmnist_file_name(e, 128), "bloodmnist_128.npz");
  // The MD5s published in the medmnist package (info.py of v3.0.2) for every resolution.
  EXPECT_EQ(medmnist_md5(e, 28), "7053d0359d879ad8a5505303e11de1dc");
  EXPECT_EQ(medmnist_md5(e, 224), "b718ff6835fcbdb22ba9eacccd7b2601");
  for (const auto& entry : medmnist_catalogue())
    for (int size : kMedmnistSizes) EXPECT_EQ(medmnist_md5(entry, size).size(), 32u) << entry.name;
  ::unsetenv("PEPR_MEDMNIST_BASE_URL");
  EXPECT_EQ(medmnist_url(e, 64),
            "https://zenodo.org/records/10519652/files/bloodmnist_64.npz?download=1");
  ::setenv("PEPR_MEDMNIST_BASE_URL", "http://127.0.0.1:9/mirror/", 1);
  EXPECT_EQ(medmnist_url(e, 64), "http://127.0.0.1:9/mirror/bloodmnist_64.npz?download=1");
  ::unsetenv("PEPR_MEDMNIST_BASE_URL");
  ::setenv("PEPR_HOME", "/tmp/pepr-home-x", 1);
  EXPECT_EQ(data_cache_dir(), "/tmp/pepr-home-x/data");
  ::unsetenv("PEPR_HOME");
  std::string home = std::getenv("HOME") ? std::getenv("HOME") : "";
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(data_cache_dir(), "/home/u/.cache/pepr/data");
  ::setenv("HOME", home.c_str(), 1);
  for (const auto& c : medmnist_catalogue()) {
    for (int sz : kMedmnistSizes) {
      auto m = medmnist_md5(c, sz);
      EXPECT_TRUE(m.empty() || m.size() == 32);
    }
  }
}

TEST(Catalogue, LoadDatasetResolvesCachedNames) {
  pepr::test::TempDir d;
  ::setenv("PEPR_HOME", d.path().c_str(), 1);
  try {
    load_dataset("breastmnist");
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("pepr data pull breastmnist"), std::string::npos);
  }
  SynthOptions o;
  o.classes = 2;
  o.train = 10;
  o.val = 2;
  o.test = 2;
  fs::create_directories(d / "data");
  save_npz_dataset(make_synthetic(o), (d / "data/breastmnist_64.npz").string());
  Dataset ds = load_dataset("breastmnist_64");
  EXPECT_EQ(ds.train.n, 10);
  EXPECT_EQ(ds.name, "breastmnist_64");
  EXPECT_THROW(load_dataset("no-such-thing"), pepr::Error);
  ::unsetenv("PEPR_HOME");
}
