#include "weights/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace pepr::weights {

namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxHeader = 100'000'000;  // the format's own limit (100 MB)

struct DtypeInfo {
  Dtype dtype;
  std::string_view name;
  std::size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {Dtype::F64, "F64", 8},   {Dtype::F32, "F32", 4}, {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2}, {Dtype::I64, "I64", 8}, {Dtype::I32, "I32", 4},
    {Dtype::I16, "I16", 2},   {Dtype::I8, "I8", 1},   {Dtype::U8, "U8", 1},
    {Dtype::BOOL, "BOOL", 1},
};

const DtypeInfo& info(Dtype d) {
  for (const auto& i : kDtypes)
    if (i.dtype == d) return i;
  throw Error("safetensors: unknown dtype");
}

// elements x bytes per element, or nullopt on overflow / negative dimensions.
std::optional<std::uint64_t> byte_count(const std::vector<std::int64_t>& shape, std::size_t esize) {
  for (std::int64_t d : shape)
    if (d == 0) return 0;  // empty, however large the other dimensions
  std::uint64_t n = esize;
  for (std::int64_t d : shape) {
    if (d < 0) return std::nullopt;
    const auto u = static_cast<std::uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<std::uint64_t>::max() / u) return std::nullopt;
    n *= u;
  }
  return n;
}

std::uint64_t read_le64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

std::string_view dtype_name(Dtype d) {
  return info(d).name;
}
std::size_t dtype_size(Dtype d) {
  return info(d).size;
}

std::int64_t TensorInfo::numel() const {
  // A zero dimension anywhere makes the tensor empty, however large the others; otherwise the
  // byte count was checked to fit in 64 bits unsigned, which the signed count may still exceed.
  for (auto d : shape)
    if (d == 0) return 0;
  std::int64_t n = 1;
  for (auto d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      throw Error(fmt::format("tensor '{}': its shape's element count overflows", name));
  return n;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f(FileBytes::open(path));
  const std::string_view all = f.file_.view();
  auto fail = [&](const std::string& what) -> Error {
    return Error(fmt::format("{}: not a valid .safetensors file: {}", path, what));
  };
  if (all.size() < 8)
    throw fail(fmt::format("{} bytes, too short for the header length", all.size()));
  const std::uint64_t n = read_le64(all.data());
  if (n > all.size() - 8)
    throw fail(
        fmt::format("header length {} is past the end of the file ({} bytes)", n, all.size()));
  if (n > kMaxHeader) throw fail(fmt::format("header length {} exceeds 100 MB", n));
  if (n < 2 || all[8] != '{') throw fail("the header is not a JSON object");
  json header;
  try {
    header = json::parse(all.substr(8, n));
  } catch (const json::exception& e) {
    throw fail(fmt::format("the header is not valid JSON ({})", e.what()));
  }
  if (!header.is_object()) throw fail("the header is not a JSON object");
  f.data_start_ = 8 + n;
  const std::uint64_t data_len = all.size() - f.data_start_;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw fail(fmt::format("__metadata__ '{}' is not a string", m.key()));
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) {
      return fail(fmt::format("tensor '{}': {}", name, what));
    };
    if (!v.is_object()) throw bad("not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw bad("no dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) throw bad("no shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      throw bad("data_offsets is not [begin, end]");
    TensorInfo t;
    t.name = name;
    const std::string dt = v["dtype"].get<std::string>();
    const DtypeInfo* di = nullptr;
    for (const auto& i : kDtypes)
      if (i.name == dt) di = &i;
    if (!di)
      throw bad(fmt::format(
          "dtype '{}' is not supported (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)", dt));
    t.dtype = di->dtype;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned())
        throw bad(fmt::format("shape {} is not a list of sizes", v["shape"].dump()));
      const auto u = d.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw bad(fmt::format("dimension {} is too large", u));
      t.shape.push_back(static_cast<std::int64_t>(u));
    }
    for (const auto& o : v["data_offsets"])
      if (!o.is_number_unsigned()) throw bad("data_offsets are not byte offsets");
    t.begin = v["data_offsets"][0].get<std::uint64_t>();
    t.end = v["data_offsets"][1].get<std::uint64_t>();
    if (t.begin > t.end)
      throw bad(fmt::format("data_offsets [{}, {}] run backwards", t.begin, t.end));
    if (t.end > data_len)
      throw bad(fmt::format("data_offsets [{}, {}] are past the end of the data ({} bytes)",
                            t.begin, t.end, data_len));
    const auto bytes = byte_count(t.shape, di->size);
    if (!bytes) throw bad(fmt::format("shape {} overflows", v["shape"].dump()));
    if (*bytes != t.end - t.begin)
      throw bad(fmt::format("shape {} of {} needs {} bytes, data_offsets give {}",
                            v["shape"].dump(), dt, *bytes, t.end - t.begin));
    f.tensors_.push_back(std::move(t));
  }
  std::sort(f.tensors_.begin(), f.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t at = 0;
  for (const auto& t : f.tensors_) {
    if (t.begin != at)
      throw fail(t.begin < at ? fmt::format("tensor '{}' overlaps the one before it", t.name)
                              : fmt::format("a hole in the data before tensor '{}'", t.name));
    at = t.end;
  }
  if (at != data_len)
    throw fail(fmt::format("the tensors cover {} of the {} data bytes", at, data_len));
  return f;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::span<const std::byte> SafetensorsFile::bytes(const TensorInfo& t) const {
  const char* base = file_.view().data() + data_start_;
  return {reinterpret_cast<const std::byte*>(base + t.begin),
          static_cast<std::size_t>(t.end - t.begin)};
}

std::int64_t SafetensorsFile::total_elements() const {
  std::int64_t n = 0;
  for (const auto& t : tensors_) n += t.numel();
  return n;
}

void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t at = 0;
  std::set<std::string> seen;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || !seen.insert(t.name).second)
      throw Error(fmt::format("{}: tensor name '{}' repeats or is reserved", path, t.name));
    const auto bytes = byte_count(t.shape, dtype_size(t.dtype));
    if (!bytes || *bytes != t.bytes.size())
      throw Error(fmt::format("{}: tensor '{}': {} bytes do not match its shape and dtype", path,
                              t.name, t.bytes.size()));
    header[t.name] = {
        {"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {at, at + *bytes}}};
    at += *bytes;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data, as the reference writer does
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  out += h;
  out.reserve(out.size() + at);
  for (const auto& t : tensors) out += t.bytes;
  write_file_atomic(path, out);
}

}  // namespace pepr::weights
