// The .safetensors reader and writer: round trips, a file laid out by hand as the reference
// implementation writes it, and every kind of damage a file can have.
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "support/test_support.hpp"
#include "weights/safetensors.hpp"

namespace {

using namespace pepr::weights;

std::string f32_bytes(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

// A raw file: 8-byte little-endian header length, the header, the data.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

// The error message of opening `content` as a file, or "(opened)".
std::string open_error(const pepr::test::TempDir& dir, const std::string& content) {
  const auto path = (dir / "x.safetensors").string();
  pepr::test::write_file(path, content);
  try {
    SafetensorsFile::open(path);
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "(opened)";
}

TEST(Safetensors, RoundTripKeepsNamesDtypesShapesBytesAndMetadata) {
  pepr::test::TempDir dir;
  std::vector<TensorData> in = {
      {"layer1.0.conv1.weight", Dtype::F32, {2, 3}, f32_bytes({1, 2, 3, 4, 5, 6})},
      {"layer1.0.bn1.num_batches_tracked", Dtype::I64, {}, std::string("\x07\0\0\0\0\0\0\0", 8)},
      {"half", Dtype::F16, {2}, std::string("\x00\x3c\x00\x40", 4)},  // 1.0, 2.0
      {"empty", Dtype::U8, {0, 5}, ""},
  };
  const auto path = (dir / "w.safetensors").string();
  write_safetensors(path, in, {{"format", "pt"}});
  auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (const auto& t : in) {
    const TensorInfo* info = f.find(t.name);
    ASSERT_NE(info, nullptr) << t.name;
    EXPECT_EQ(info->dtype, t.dtype);
    EXPECT_EQ(info->shape, t.shape);
    auto b = f.bytes(*info);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), b.size()), t.bytes);
  }
  EXPECT_EQ(f.total_elements(), 6 + 1 + 2 + 0);
  EXPECT_EQ(f.find("nope"), nullptr);
  // The data starts 8-byte aligned, as the reference writer pads its header.
  const std::string raw = pepr::test::read_file(path);
  std::uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(Safetensors, ReadsAFileLaidOutByHand) {
  pepr::test::TempDir dir;
  // Keys in any order, offsets not in key order, trailing spaces, metadata first.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
      R"("a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}   )";
  const std::string data = std::string(8, '\x11') + f32_bytes({0.5f});
  pepr::test::write_file(dir / "h.safetensors", raw_file(header, data));
  auto f = SafetensorsFile::open((dir / "h.safetensors").string());
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "a");  // in data order
  EXPECT_EQ(f.find("a")->dtype, Dtype::BF16);
  float b = 0;
  std::memcpy(&b, f.bytes(*f.find("b")).data(), 4);
  EXPECT_EQ(b, 0.5f);
}

TEST(Safetensors, DamagedFilesAreClearErrors) {
  pepr::test::TempDir dir;
  const auto t = [](const std::string& body) { return "{" + body + "}"; };
  const std::string ok4 = R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  EXPECT_EQ(open_error(dir, raw_file(t(ok4), "abcd")), "(opened)");  // the undamaged file

  struct Case {
    std::string content, expect;
  } cases[] = {
      {"abc", "too short"},
      {raw_file(t(ok4), "abcd").substr(0, 12), "past the end of the file"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "past the end of the file"},
      {raw_file("[1, 2]", ""), "not a JSON object"},
      {raw_file("{\"w\": ", ""), "not valid JSON"},
      {raw_file(t(R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), "ab"),
       "past the end of the data"},
      {raw_file(t(R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), "abcd"),
       "needs 8 bytes, data_offsets give 4"},
      {raw_file(t(R"("w":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,4]})"),
                "abcd"),
       "overflows"},
      {raw_file(t(R"("w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]})"), "abcd"),
       "dtype 'F8_E4M3' is not supported"},
      {raw_file(t(R"("w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"), "abcd"),
       "not a list of sizes"},
      {raw_file(t(R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]})"), "abcd"),
       "run backwards"},
      {raw_file(t(R"("w":{"dtype":"U8","shape":[2],"data_offsets":[2,4]})"), "abcd"),
       "a hole in the data"},
      {raw_file(t(R"("a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},)"
                  R"("b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]})"),
                "abcd"),
       "overlaps"},
      {raw_file(t(R"("w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]})"), "abcd"),
       "cover 2 of the 4 data bytes"},
      {raw_file(t(R"("__metadata__":{"k":1})"), ""), "'k' is not a string"},
      {raw_file(t(R"("w":{"shape":[1],"data_offsets":[0,4]})"), "abcd"), "no dtype"},
  };
  for (const auto& c : cases) {
    const std::string e = open_error(dir, c.content);
    EXPECT_NE(e.find(c.expect), std::string::npos) << "expected '" << c.expect << "', got: " << e;
    EXPECT_NE(e.find("x.safetensors"), std::string::npos) << e;  // names the file
  }
}

TEST(Safetensors, EveryTruncationAndRandomGarbageIsAnErrorNotACrash) {
  pepr::test::TempDir dir;
  const auto path = (dir / "w.safetensors").string();
  write_safetensors(path, {{"a", Dtype::F32, {3}, f32_bytes({1, 2, 3})},
                           {"b", Dtype::I64, {1}, std::string(8, '\1')}});
  const std::string good = pepr::test::read_file(path);
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_NE(open_error(dir, good.substr(0, n)), "(opened)") << "prefix of " << n << " bytes";
  std::mt19937 rng(5);
  for (int i = 0; i < 300; ++i) {
    std::string g = good;
    for (int k = 0; k < 3; ++k) g[rng() % g.size()] = static_cast<char>(rng());
    open_error(dir, g);  // may open (a flipped data byte is still a valid file): must not crash
    std::string junk(rng() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_NE(open_error(dir, junk), "(opened)");
  }
}

TEST(Safetensors, WriterRefusesInconsistentTensors) {
  pepr::test::TempDir dir;
  const auto path = (dir / "w.safetensors").string();
  EXPECT_THROW(write_safetensors(path, {{"a", Dtype::F32, {2}, "abc"}}), pepr::Error);
  EXPECT_THROW(write_safetensors(path, {{"a", Dtype::U8, {1}, "a"}, {"a", Dtype::U8, {1}, "b"}}),
               pepr::Error);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace

// A shape with a zero dimension holds no bytes however large its other dimensions: valid, and
// its element count is 0, computed without overflow (for U8 [2^32, 2^31, 0] it multiplied
// 2^32 * 2^31 in int64 first: undefined behaviour that UBSan reports).
TEST(Safetensors, EmptyTensorWithHugeDimensionsHasZeroElements) {
  pepr::test::TempDir dir;
  const std::string header =
      R"({"e":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904,0],)"
      R"("data_offsets":[0,0]},"u":{"dtype":"U8","shape":[4294967296,2147483648,0],)"
      R"("data_offsets":[0,0]},"f":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  pepr::test::write_file(dir / "e.safetensors", raw_file(header, f32_bytes({1.0f})));
  auto f = SafetensorsFile::open((dir / "e.safetensors").string());
  ASSERT_NE(f.find("e"), nullptr);
  EXPECT_EQ(f.find("e")->numel(), 0);
  EXPECT_EQ(f.find("u")->numel(), 0);
  EXPECT_EQ(f.find("f")->numel(), 1);
}
