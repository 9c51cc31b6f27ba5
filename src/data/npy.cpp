#include "data/npy.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace pepr::data {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw Error(fmt::format("{}: {}", what, msg));
}

// A tiny parser for the Python dict literal NumPy writes as the header.
class DictParser {
 public:
  DictParser(std::string_view s, const std::string& what) : s_(s), what_(what) {}

  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) bad(fmt::format("expected '{}'", c));
  }
  bool at_end() {
    ws();
    return i_ >= s_.size();
  }
  char peek() {
    ws();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  std::string string() {
    ws();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) bad("expected a quoted string");
    char q = s_[i_++];
    std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] != q) ++i_;
    if (i_ >= s_.size()) bad("unterminated string");
    return std::string(s_.substr(start, i_++ - start));
  }
  bool boolean() {
    ws();
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  int64_t integer() {
    ws();
    std::size_t start = i_;
    int64_t v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      if (v > (INT64_MAX - 9) / 10) bad("shape dimension too large");
      v = v * 10 + (s_[i_] - '0');
      ++i_;
    }
    if (i_ == start) bad("expected a non-negative integer in the shape");
    if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 long suffix
    return v;
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> v;
    while (!eat(')')) {
      if (v.size() >= 32) bad("more than 32 dimensions");
      v.push_back(integer());
      if (!eat(',')) {
        expect(')');
        break;
      }
    }
    return v;
  }
  [[noreturn]] void bad(const std::string& msg) {
    fail(what_, fmt::format("malformed .npy header ({} at offset {}): {}", msg, i_,
                            std::string(s_.substr(0, 120))));
  }

 private:
  std::string_view s_;
  const std::string& what_;
  std::size_t i_ = 0;
};

NpyDtype parse_dtype(const std::string& d, const std::string& what) {
  NpyDtype t;
  t.descr = d;
  auto unsupported = [&]() -> NpyDtype {
    fail(what, fmt::format("unsupported dtype '{}' (supported: |u1, |i1, |b1, <i2..8, <u2..8, "
                           "<f2..8)",
                           d));
  };
  if (d.size() < 3) unsupported();
  char order = d[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') unsupported();
  t.big_endian = order == '>';
  t.kind = d[1];
  std::string sz = d.substr(2);
  if (sz != "1" && sz != "2" && sz != "4" && sz != "8") unsupported();
  t.size = sz[0] - '0';
  switch (t.kind) {
    case 'b':
      if (t.size != 1) unsupported();
      break;
    case 'i':
    case 'u':
    case 'f':
      if (t.kind == 'f' && t.size == 1) unsupported();
      break;
    default:
      unsupported();
  }
  if (t.size == 1) t.big_endian = false;
  return t;
}

std::uint32_t le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return std::uint32_t(u[0]) | std::uint32_t(u[1]) << 8 | std::uint32_t(u[2]) << 16 |
         std::uint32_t(u[3]) << 24;
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

NpyHeader parse_npy_header(std::string_view bytes, const std::string& what) {
  if (bytes.size() < 10 || bytes.substr(0, 6) != kMagic) {
    fail(what, bytes.size() < 6 ? "too short for a .npy array (truncated?)"
                                : "not a .npy array (bad magic bytes)");
  }
  auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t hlen = 0, start = 0;
  if (major == 1) {
    hlen = static_cast<unsigned char>(bytes[8]) |
           static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(what, ".npy header truncated");
    hlen = le32(bytes.data() + 8);
    start = 12;
  } else {
    fail(what, fmt::format("unsupported .npy format version {}.{}", int(major),
                           int(static_cast<unsigned char>(bytes[7]))));
  }
  if (hlen > bytes.size() - start) {
    fail(what, fmt::format(".npy header truncated: declares {} bytes, {} present", hlen,
                           bytes.size() - start));
  }
  NpyHeader h;
  h.data_offset = start + hlen;
  DictParser p(bytes.substr(start, hlen), what);
  p.expect('{');
  bool have_descr = false, have_order = false, have_shape = false;
  while (!p.eat('}')) {
    std::string key = p.string();
    p.expect(':');
    if (key == "descr") {
      if (p.peek() == '[') fail(what, "structured dtypes are not supported");
      h.dtype = parse_dtype(p.string(), what);
      have_descr = true;
    } else if (key == "fortran_order") {
      h.fortran_order = p.boolean();
      have_order = true;
    } else if (key == "shape") {
      h.shape = p.tuple();
      have_shape = true;
    } else {
      p.bad(fmt::format("unexpected key '{}'", key));
    }
    if (!p.eat(',')) {
      p.expect('}');
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape) {
    fail(what, "malformed .npy header: needs 'descr', 'fortran_order' and 'shape'");
  }
  std::uint64_t count = 1;
  for (int64_t d : h.shape) {
    auto ud = static_cast<std::uint64_t>(d);
    if (ud != 0 && count > (std::uint64_t(1) << 62) / ud) {
      fail(what,
           fmt::format("absurd shape {}: more elements than fit in memory", shape_string(h.shape)));
    }
    count *= ud;
  }
  h.count = count;
  h.nbytes = count * static_cast<std::uint64_t>(h.dtype.size);
  if (h.nbytes / static_cast<std::uint64_t>(h.dtype.size) != count) {
    fail(what, fmt::format("absurd shape {}", shape_string(h.shape)));
  }
  return h;
}

NpyArray parse_npy(std::vector<std::uint8_t>&& bytes, const std::string& what) {
  NpyArray a;
  a.header = parse_npy_header(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), what);
  const NpyHeader& h = a.header;
  std::uint64_t payload = bytes.size() - h.data_offset;
  if (payload != h.nbytes) {
    fail(what, fmt::format("shape {} of dtype '{}' needs {} bytes of data but {} are present{}",
                           shape_string(h.shape), h.dtype.descr, h.nbytes, payload,
                           payload < h.nbytes ? " (truncated or absurd shape)" : ""));
  }
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(h.data_offset));
  a.data = std::move(bytes);
  if (h.fortran_order && h.shape.size() > 1 && h.count > 0) {
    // Reorder column-major to row-major: walk the C-order index, gather from Fortran strides.
    const std::size_t es = static_cast<std::size_t>(h.dtype.size);
    const std::size_t nd = h.shape.size();
    std::vector<std::uint64_t> fstride(nd);
    std::uint64_t s = 1;
    for (std::size_t d = 0; d < nd; ++d) {
      fstride[d] = s;
      s *= static_cast<std::uint64_t>(h.shape[d]);
    }
    std::vector<std::uint8_t> out(a.data.size());
    std::vector<int64_t> idx(nd, 0);
    for (std::uint64_t i = 0; i < h.count; ++i) {
      std::uint64_t src = 0;
      for (std::size_t d = 0; d < nd; ++d) src += static_cast<std::uint64_t>(idx[d]) * fstride[d];
      std::memcpy(out.data() + i * es, a.data.data() + src * es, es);
      for (std::size_t d = nd; d-- > 0;) {
        if (++idx[d] < h.shape[d]) break;
        idx[d] = 0;
      }
    }
    a.data = std::move(out);
  }
  a.header.fortran_order = false;
  return a;
}

NpyArray read_npy(const std::string& path) {
  FileBytes fb = FileBytes::open(path);
  std::vector<std::uint8_t> bytes(fb.view().begin(), fb.view().end());
  return parse_npy(std::move(bytes), path);
}

std::vector<int64_t> npy_to_int64(const NpyArray& a, const std::string& what) {
  const NpyDtype& t = a.header.dtype;
  if (t.kind == 'f') {
    fail(what, fmt::format("unsupported dtype '{}' (expected an integer type such as |u1 or <i8)",
                           t.descr));
  }
  std::vector<int64_t> out(a.header.count);
  const std::uint8_t* p = a.data.data();
  for (std::uint64_t i = 0; i < a.header.count; ++i, p += t.size) {
    std::uint64_t u = 0;
    for (int b = 0; b < t.size; ++b) {
      int src = t.big_endian ? t.size - 1 - b : b;
      u |= std::uint64_t(p[src]) << (8 * b);
    }
    int64_t v;
    if (t.kind == 'i' && t.size < 8 && (u >> (8 * t.size - 1)) & 1) {
      v = static_cast<int64_t>(u | (~std::uint64_t(0) << (8 * t.size)));
    } else {
      v = static_cast<int64_t>(u);
    }
    if (t.kind == 'u' && t.size == 8 && v < 0) {
      fail(what, fmt::format("label value {} does not fit in int64", u));
    }
    out[i] = v;
  }
  return out;
}

std::string npy_bytes(std::string_view descr, const std::vector<int64_t>& shape,
                      std::string_view data) {
  NpyDtype t = parse_dtype(std::string(descr), "npy_bytes");
  std::uint64_t count = 1;
  for (int64_t d : shape) count *= static_cast<std::uint64_t>(d);
  if (count * static_cast<std::uint64_t>(t.size) != data.size()) {
    throw Error(fmt::format("npy_bytes: shape {} of '{}' needs {} bytes, got {}",
                            shape_string(shape), descr, count * t.size, data.size()));
  }
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr,
                                 shape_string(shape));
  std::size_t total = 10 + dict.size() + 1;
  std::size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  if (dict.size() > 65535) throw Error("npy header too long");
  std::string out(kMagic);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>(dict.size() >> 8));
  out += dict;
  out.append(data);
  return out;
}

}  // namespace pepr::data
