// .npy / .npz parsing: archives built by the test (stored, deflated, zip64) and broken ones.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "data/npy.hpp"
#include "data/npz.hpp"
#include "data/zip.hpp"
#include "support/test_support.hpp"

using namespace pepr::data;
using pepr::test::TempDir;

namespace {

// A tiny MedMNIST-like archive: 6 grayscale 4x4 train images, 2 val, 3 test, labels N,1.
std::string tiny_npz(bool compress, bool zip64 = false, const std::string& image_descr = "|u1",
                     const std::vector<std::string>& skip = {}) {
  ZipWriter w(zip64);
  auto add = [&](const std::string& key, const std::string& npy) {
    for (const auto& s : skip) {
      if (s == key) return;
    }
    w.add(key + ".npy", npy, compress);
  };
  const int64_t ns[3] = {6, 2, 3};
  const char* splits[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; ++s) {
    int64_t n = ns[s];
    int isz = image_descr == "|u1" ? 1 : 4;
    std::string pix(static_cast<std::size_t>(n * 16 * isz), '\0');
    for (std::size_t i = 0; i < pix.size(); ++i) pix[i] = static_cast<char>((i * 7 + s) & 0xff);
    std::string lab;
    for (int64_t i = 0; i < n; ++i) lab.push_back(static_cast<char>(i % 2));
    add(std::string(splits[s]) + "_images", npy_bytes(image_descr, {n, 4, 4}, pix));
    add(std::string(splits[s]) + "_labels", npy_bytes("|u1", {n, 1}, lab));
  }
  return w.finish();
}

std::string write_tmp(const TempDir& d, const std::string& name, const std::string& content) {
  auto p = d / name;
  pepr::test::write_file(p, content);
  return p.string();
}

std::string error_of(const std::string& path) {
  try {
    load_npz_dataset(path);
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Npy, ParsesHeaderAsNumpyWritesIt) {
  std::string b = npy_bytes("|u1", {4708, 28, 28}, std::string(4708 * 28 * 28, 'x'));
  EXPECT_EQ(b.size() % 64, (4708u * 28 * 28) % 64);  // header padded to a multiple of 64
  EXPECT_EQ(b.substr(0, 10), std::string("\x93NUMPY\x01\x00v\x00", 10));
  NpyHeader h = parse_npy_header(b, "x");
  EXPECT_EQ(h.dtype.descr, "|u1");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{4708, 28, 28}));
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.data_offset, 128u);
  EXPECT_EQ(h.nbytes, 4708u * 28 * 28);
  EXPECT_EQ(shape_string({546}), "(546,)");
}

TEST(Npy, AcceptsDoubleQuotesVersion2AndScalarShape) {
  std::string dict = "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (), }\n";
  std::string b("\x93NUMPY\x02\x00", 8);
  uint32_t len = static_cast<uint32_t>(dict.size());
  b.append(reinterpret_cast<const char*>(&len), 4);
  b += dict;
  int64_t v = -5;
  b.append(reinterpret_cast<const char*>(&v), 8);
  NpyArray a = parse_npy(std::vector<uint8_t>(b.begin(), b.end()), "x");
  EXPECT_TRUE(a.header.shape.empty());
  EXPECT_EQ(npy_to_int64(a, "x"), std::vector<int64_t>{-5});
}

TEST(Npy, ConvertsIntegerDtypesAndFortranOrder) {
  // A 2x3 int16 big-endian array in Fortran order: values [[1,2,3],[4,5,-6]].
  std::string dict = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }";
  std::string b("\x93NUMPY\x01\x00", 8);
  b.push_back(static_cast<char>(dict.size()));
  b.push_back('\0');
  b += dict;
  for (int16_t v : {1, 4, 2, 5, 3, -6}) {  // column-major
    b.push_back(static_cast<char>((v >> 8) & 0xff));
    b.push_back(static_cast<char>(v & 0xff));
  }
  NpyArray a = parse_npy(std::vector<uint8_t>(b.begin(), b.end()), "x");
  EXPECT_FALSE(a.header.fortran_order);
  EXPECT_EQ(npy_to_int64(a, "x"), (std::vector<int64_t>{1, 2, 3, 4, 5, -6}));
}

TEST(Npy, RejectsBadHeadersClearly) {
  auto err = [](const std::string& b) {
    try {
      parse_npy(std::vector<uint8_t>(b.begin(), b.end()), "f.npy");
    } catch (const pepr::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  auto with = [](const std::string& dict, const std::string& data = "") {
    std::string b("\x93NUMPY\x01\x00", 8);
    b.push_back(static_cast<char>(dict.size()));
    b.push_back('\0');
    return b + dict + data;
  };
  EXPECT_NE(err("hello world").find("f.npy: not a .npy array"), std::string::npos);
  EXPECT_NE(err(with("{'descr': '<U8', 'fortran_order': False, 'shape': (1,), }", "12345678"))
                .find("unsupported dtype '<U8'"),
            std::string::npos);
  EXPECT_NE(err(with("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }"))
                .find("structured dtypes"),
            std::string::npos);
  EXPECT_NE(err(with("{'descr': '|u1', 'shape': (1,), }", "x")).find("needs 'descr'"),
            std::string::npos);
  EXPECT_NE(err(with("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", "x"))
                .find("needs 3 bytes of data but 1 are present"),
            std::string::npos);
  EXPECT_NE(err(with("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999, "
                     "99999999999, 999999999), }"))
                .find("absurd shape"),
            std::string::npos);
  EXPECT_NE(err(with("{'descr': '|u1', 'fortran_order': Maybe, 'shape': (1,), }", "x"))
                .find("malformed .npy header"),
            std::string::npos);
  std::string v9("\x93NUMPY\x09\x00\x00\x00", 10);
  EXPECT_NE(err(v9).find("unsupported .npy format version 9.0"), std::string::npos);
}

TEST(Npz, ReadsStoredAndDeflatedArchivesAlike) {
  TempDir d;
  std::string stored = tiny_npz(false), deflated = tiny_npz(true);
  EXPECT_NE(stored, deflated);
  for (const auto& [name, content] : {std::pair{"s.npz", stored}, std::pair{"d.npz", deflated},
                                      std::pair{"z64.npz", tiny_npz(true, true)}}) {
    std::string p = write_tmp(d, name, content);
    Dataset ds = load_npz_dataset(p);
    EXPECT_EQ(ds.train.n, 6) << name;
    EXPECT_EQ(ds.val.n, 2);
    EXPECT_EQ(ds.test.n, 3);
    EXPECT_EQ(ds.train.h, 4);
    EXPECT_EQ(ds.train.c, 1);
    EXPECT_EQ(ds.num_classes, 2);
    EXPECT_EQ(ds.train.labels, (std::vector<int64_t>{0, 1, 0, 1, 0, 1}));
    ASSERT_EQ(ds.train.pixels.size(), 96u);
    EXPECT_EQ(ds.train.pixels[5], 35);  // (5*7+0) & 0xff
    EXPECT_EQ(ds.test.pixels[10], (10 * 7 + 2) & 0xff);
  }
  // Deflated members really are compressed (method 8) and stored ones are not.
  ZipReader zs(stored, "s"), zd(deflated, "d");
  EXPECT_EQ(zs.entries()[0].method, 0);
  EXPECT_EQ(zd.entries()[0].method, 8);
}

TEST(Npz, WrongDtypeIsAClearError) {
  TempDir d;
  std::string p = write_tmp(d, "x.npz", tiny_npz(true, false, "<f4"));
  EXPECT_EQ(error_of(p), p + ": member train_images.npy: unsupported dtype '<f4' (expected |u1)");
}

TEST(Npz, MissingKeyIsAClearError) {
  TempDir d;
  std::string p = write_tmp(d, "x.npz", tiny_npz(false, false, "|u1", {"val_labels"}));
  std::string e = error_of(p);
  EXPECT_NE(e.find(p + ": missing member 'val_labels.npy'"), std::string::npos) << e;
  EXPECT_NE(e.find("train_images"), std::string::npos) << e;  // lists what is there
}

TEST(Npz, TruncatedArchiveIsAClearError) {
  TempDir d;
  std::string full = tiny_npz(true);
  std::string p = write_tmp(d, "x.npz", full.substr(0, full.size() / 2));
  std::string e = error_of(p);
  EXPECT_NE(e.find(p + ": not a valid zip/.npz archive"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  // Cut inside member data but keep the directory: the offsets point past the data.
  ZipWriter w;
  w.add("a.npy", npy_bytes("|u1", {8}, "12345678"), false);
  std::string z = w.finish();
  ZipReader zr(z, "a.npz");
  std::string cut = z;
  cut.erase(40, 10);  // remove some member bytes; directory offsets now wrong
  EXPECT_THROW(
      {
        ZipReader r(cut, "a.npz");
        r.extract(r.entries().at(0));
      },
      pepr::Error);
}

TEST(Npz, AbsurdShapeIsRefusedBeforeAllocating) {
  TempDir d;
  ZipWriter w;
  // A header that claims 10^9 x 28 x 28 images in a 128-byte member.
  std::string npy = npy_bytes("|u1", {4, 28, 28}, std::string(4 * 28 * 28, 'a'));
  std::string fake = npy.substr(0, 128);
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000, 28, 28), }";
  dict.append(128 - 10 - dict.size() - 1, ' ');
  dict.push_back('\n');
  fake = npy.substr(0, 10) + dict;
  w.add("train_images.npy", fake, true);
  w.add("train_labels.npy", npy_bytes("|u1", {1, 1}, "a"), true);
  std::string p = write_tmp(d, "x.npz", w.finish());
  std::string e = error_of(p);
  EXPECT_NE(e.find("member train_images.npy: shape (1000000000, 28, 28) of dtype '|u1' needs "
                   "784000000000 bytes of data but the member holds 0"),
            std::string::npos)
      << e;
}

TEST(Npz, ImplausibleDeclaredSizeIsRefused) {
  ZipWriter w;
  w.add("a.npy", std::string(100, 'a'), true);
  std::string z = w.finish();
  // Patch the central directory's uncompressed size to 4 GB - 2.
  auto cd = z.find("PK\x01\x02");
  ASSERT_NE(cd, std::string::npos);
  uint32_t huge = 0xfffffffe;
  std::memcpy(&z[cd + 24], &huge, 4);
  ZipReader r(z, "a.npz");
  try {
    r.extract(r.entries()[0]);
    FAIL() << "no error";
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("implausible"), std::string::npos) << e.what();
  }
}

TEST(Npz, EncryptedAndOtherMethodsAreRefused) {
  ZipWriter w;
  w.add("a.npy", "hello", false);
  std::string z = w.finish();
  auto cd = z.find("PK\x01\x02");
  std::string enc = z, bz = z;
  enc[cd + 8] = 1;   // flags: encrypted
  bz[cd + 10] = 12;  // method: bzip2
  auto msg = [](const std::string& bytes) {
    try {
      ZipReader r(bytes, "a.npz");
      r.extract(r.entries()[0]);
    } catch (const pepr::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(msg(enc), "a.npz: member a.npy: encrypted members are not supported");
  EXPECT_EQ(msg(bz),
            "a.npz: member a.npy: unsupported compression method 12 (only stored and deflate)");
}

TEST(Npz, CorruptDataFailsTheCrc) {
  ZipWriter w;
  w.add("a.npy", "hello world", false);
  std::string z = w.finish();
  z[30 + 5 + 2] ^= 0x20;  // a byte of the stored data
  ZipReader r(z, "a.npz");
  try {
    r.extract(r.entries()[0]);
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("CRC-32 mismatch"), std::string::npos);
  }
}

TEST(Npz, AcceptsFlatLabelsAndMultiLabel) {
  TempDir d;
  ZipWriter w;
  for (const char* s : {"train", "val", "test"}) {
    w.add(std::string(s) + "_images.npy", npy_bytes("|u1", {3, 2, 2, 3}, std::string(36, 'a')),
          true);
    // Multi-label: 3 images x 4 labels, int64.
    std::string lab;
    for (int64_t v : {1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1}) {
      lab.append(reinterpret_cast<const char*>(&v), 8);
    }
    w.add(std::string(s) + "_labels.npy", npy_bytes("<i8", {3, 4}, lab), true);
  }
  std::string p = write_tmp(d, "ml.npz", w.finish());
  Dataset ds = load_npz_dataset(p);
  EXPECT_TRUE(ds.multi_label);
  EXPECT_EQ(ds.num_classes, 4);
  EXPECT_EQ(ds.train.c, 3);
  EXPECT_EQ(class_counts(ds.train, 4), (std::vector<int64_t>{2, 2, 2, 2}));
}

TEST(Npz, WriteThenReadRoundTrips) {
  TempDir d;
  Dataset ds;
  ds.train = {5, 3, 2, 3, std::vector<uint8_t>(90), 1, {0, 1, 2, 0, 1}};
  ds.val = {2, 3, 2, 3, std::vector<uint8_t>(36, 7), 1, {2, 0}};
  ds.test = {2, 3, 2, 3, std::vector<uint8_t>(36, 9), 1, {300, 1}};  // needs int64 labels
  for (std::size_t i = 0; i < 90; ++i) ds.train.pixels[i] = static_cast<uint8_t>(i);
  for (bool compress : {false, true}) {
    std::string p = (d / (compress ? "c.npz" : "s.npz")).string();
    save_npz_dataset(ds, p, compress);
    LoadOptions o;
    o.num_classes = 301;  // label 300 with classes 3..299 empty: declared, not taken as stray
    Dataset back = load_npz_dataset(p, o);
    EXPECT_EQ(back.train.pixels, ds.train.pixels);
    EXPECT_EQ(back.test.labels, ds.test.labels);
    EXPECT_EQ(back.train.c, 3);
    EXPECT_EQ(back.num_classes, 301);
    NpzFile f = NpzFile::open(p);
    EXPECT_EQ(f.header("test_labels").dtype.descr, "<i8");
    EXPECT_EQ(f.header("train_labels").dtype.descr, "|u1");
    EXPECT_EQ(f.header("train_images").shape, (std::vector<int64_t>{5, 3, 2, 3}));
  }
}

// Every truncation of a small archive is an error (never a crash or a huge allocation).
TEST(NpzFuzz, EveryTruncationIsAnError) {
  for (bool compress : {false, true}) {
    std::string full = tiny_npz(compress);
    ASSERT_NO_THROW(load_npz_dataset(NpzFile::from_memory(full, "t.npz")));
    for (std::size_t len = 0; len < full.size(); ++len) {
      EXPECT_THROW(load_npz_dataset(NpzFile::from_memory(full.substr(0, len), "t.npz")),
                   pepr::Error)
          << "length " << len;
    }
  }
  // Through a file as well (mapped), at a few lengths.
  TempDir d;
  std::string full = tiny_npz(true), p = (d / "t.npz").string();
  for (std::size_t len : {std::size_t(0), std::size_t(21), full.size() / 3, full.size() - 1}) {
    pepr::test::write_file(p, full.substr(0, len));
    EXPECT_THROW(load_npz_dataset(p), pepr::Error) << "length " << len;
  }
}

// Random bytes and random corruptions: a pepr::Error or a result, nothing else.
TEST(NpzFuzz, GarbageAndBitFlipsNeverCrash) {
  std::mt19937 rng(1234);
  int errors = 0, loads = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bytes;
    if (round < 100) {
      bytes.resize(rng() % 600);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (round % 2) bytes += std::string("PK\x05\x06", 4) + std::string(18, '\0');
    } else {
      bytes = tiny_npz(round % 2 == 0);
      int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f)
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
    }
    try {
      Dataset ds = load_npz_dataset(NpzFile::from_memory(bytes, "g.npz"));
      ++loads;
      EXPECT_EQ(ds.train.pixels.size(), static_cast<size_t>(ds.train.n * ds.train.image_bytes()));
    } catch (const pepr::Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 150);  // most corruptions are detected (CRC, headers)
}

namespace {

// A MedMNIST-like archive with the given labels per split (2x2 gray images, labels N,1 <i8).
std::string labelled_npz(const std::vector<std::vector<int64_t>>& labels, bool compress = true) {
  ZipWriter w;
  const char* splits[3] = {"train", "val", "test"};
  for (int s = 0; s < 3; ++s) {
    const auto n = static_cast<int64_t>(labels[static_cast<std::size_t>(s)].size());
    std::string pix(static_cast<std::size_t>(n * 4), '\x40');
    std::string lab;
    for (int64_t v : labels[static_cast<std::size_t>(s)])
      lab.append(reinterpret_cast<const char*>(&v), 8);
    w.add(std::string(splits[s]) + "_images.npy", npy_bytes("|u1", {n, 2, 2}, pix), compress);
    w.add(std::string(splits[s]) + "_labels.npy", npy_bytes("<i8", {n, 1}, lab), compress);
  }
  return w.finish();
}

std::string load_error(const std::string& path, int num_classes = 0) {
  try {
    LoadOptions o;
    o.num_classes = num_classes;
    load_npz_dataset(path, o);
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Labels, AStrayLabelIsAnErrorNamingSplitAndIndex) {
  TempDir d;
  std::string p = write_tmp(d, "stray.npz", labelled_npz({{0, 1, 0, 1, 200, 1}, {0, 1}, {1, 0}}));
  EXPECT_EQ(load_error(p), p + ": train_labels[4] = 200 is not a class (the labels present are "
                               "0..1, then 200); a stray label? If the dataset really has 201 "
                               "classes, give num_classes (pepr train --num-classes 201)");
  // inspect_dataset (pepr data info) says the same.
  EXPECT_THROW(inspect_dataset(p), pepr::Error);
  // Declared: 201 classes, most without images.
  LoadOptions o;
  o.num_classes = 201;
  Dataset ds = load_npz_dataset(p, o);
  EXPECT_EQ(ds.num_classes, 201);
  // A declared count below a label present is an error naming it.
  std::string low = load_error(p, 2);
  EXPECT_NE(low.find("train_labels[4] = 200 is not a class (num_classes is 2)"), std::string::npos)
      << low;
}

TEST(Labels, AGapInTheLabelsIsAnError) {
  TempDir d;
  std::string p = write_tmp(d, "gap.npz", labelled_npz({{0, 1, 3, 0}, {0, 1}, {1, 0, 3}}));
  std::string e = load_error(p);
  EXPECT_NE(e.find("train_labels[2] = 3 is not a class (the labels present are 0..1, then 3)"),
            std::string::npos)
      << e;
  // Labels 0..K-1 without a gap: K classes, whatever split holds which.
  std::string ok = write_tmp(d, "ok.npz", labelled_npz({{0, 1, 2, 0}, {0, 1}, {2, 1, 0}}));
  EXPECT_EQ(load_npz_dataset(ok).num_classes, 3);
}

TEST(Labels, OneClassInASplitIsAnError) {
  TempDir d;
  std::string p = write_tmp(d, "one.npz", labelled_npz({{0, 1, 0, 1}, {0, 1}, {1, 1, 1}}));
  EXPECT_EQ(load_error(p), p + ": split test holds one class only (all 3 images are class 1): "
                               "accuracy and AUC on it are no result");
  std::string q = write_tmp(d, "one-train.npz", labelled_npz({{0, 0}, {0, 1}, {1, 0}}));
  EXPECT_NE(load_error(q).find("split train holds one class only"), std::string::npos);
}

TEST(Npz, VerifyFindsADamagedMemberWithoutReadingIt) {
  TempDir d;
  std::string z = labelled_npz({{0, 1}, {0, 1}, {0, 1}}, /*compress=*/false);
  NpzFile good = NpzFile::from_memory(z, "good.npz");
  EXPECT_NO_THROW(good.verify());
  // Flip a pixel of test_images (stored): its header still reads, its CRC no longer matches.
  std::size_t at = z.find("test_images.npy");
  ASSERT_NE(at, std::string::npos);
  at = z.find(std::string(8, '\x40'), at);
  ASSERT_NE(at, std::string::npos);
  z[at] ^= 0x01;
  NpzFile bad = NpzFile::from_memory(z, "bad.npz");
  EXPECT_NO_THROW(bad.header("test_images"));
  try {
    bad.verify();
    FAIL() << "a damaged member passed";
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.npz: member test_images.npy: CRC-32 mismatch"),
              std::string::npos)
        << e.what();
  }
  // The same through inspect_dataset, as pepr data info runs it; deflated members too.
  std::string p = write_tmp(d, "bad.npz", z);
  EXPECT_THROW(inspect_dataset(p), pepr::Error);
  std::string zc = labelled_npz({{0, 1, 0, 1, 0, 1, 0, 1}, {0, 1}, {0, 1}}, /*compress=*/true);
  NpzFile ok = NpzFile::from_memory(zc, "ok.npz");
  EXPECT_NO_THROW(ok.verify());
  ZipReader r(zc, "ok.npz");
  ZipEntry wrong = r.entries()[0];
  wrong.crc32 ^= 1;
  EXPECT_THROW(r.verify(wrong), pepr::Error);
}

// An empty split holds no bytes whatever height and width it claims; they are bounded all the
// same, so that H x W x C cannot overflow (it did, and `pepr data info` printed the result).
TEST(Npz, EmptySplitWithHugeImageSidesIsRefused) {
  TempDir d;
  ZipWriter w;
  const std::string pix(6 * 16, 'a'), lab(6, '\0');
  w.add("train_images.npy", npy_bytes("|u1", {6, 4, 4}, pix), false);
  w.add("train_labels.npy", npy_bytes("|u1", {6, 1}, lab), false);
  w.add("val_images.npy", npy_bytes("|u1", {0, int64_t(1) << 40, int64_t(1) << 40}, ""), false);
  w.add("val_labels.npy", npy_bytes("|u1", {0, 1}, ""), false);
  w.add("test_images.npy", npy_bytes("|u1", {6, 4, 4}, pix), false);
  w.add("test_labels.npy", npy_bytes("|u1", {6, 1}, lab), false);
  std::string e = error_of(write_tmp(d, "wide.npz", w.finish()));
  EXPECT_NE(e.find("member val_images.npy: image shape (0, 1099511627776, 1099511627776): "
                   "height and width must be 1 to 65536 pixels"),
            std::string::npos)
      << e;
}
