#include "data/zip.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <zlib.h>

#include "core/error.hpp"

namespace pepr::data {

namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kEnd64LocSig = 0x07064b50;
constexpr std::uint64_t kMax32 = 0xffffffffu;
// Deflate cannot expand data by more than about 1032:1.
constexpr std::uint64_t kMaxRatio = 1100;

std::uint16_t rd16(std::string_view b, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + at);
  return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
std::uint32_t rd32(std::string_view b, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + at);
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
std::uint64_t rd64(std::string_view b, std::size_t at) {
  return std::uint64_t(rd32(b, at)) | std::uint64_t(rd32(b, at + 4)) << 32;
}

void put16(std::string& s, std::uint64_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put32(std::string& s, std::uint64_t v) {
  put16(s, v & 0xffff);
  put16(s, (v >> 16) & 0xffff);
}
void put64(std::string& s, std::uint64_t v) {
  put32(s, v & kMax32);
  put32(s, v >> 32);
}

}  // namespace

std::uint32_t crc32_of(std::string_view data) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(data.data());
  std::size_t left = data.size();
  while (left > 0) {
    auto n = static_cast<uInt>(std::min<std::size_t>(left, 1u << 30));
    c = ::crc32(c, p, n);
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(c);
}

ZipReader::ZipReader(std::string_view bytes, std::string path)
    : bytes_(bytes), path_(std::move(path)) {
  auto fail = [&](const std::string& msg) -> void {
    throw Error(fmt::format("{}: not a valid zip/.npz archive: {}", path_, msg));
  };
  const std::size_t size = bytes_.size();
  if (size < 22) fail(fmt::format("only {} bytes (truncated?)", size));
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65535 bytes.
  std::size_t eocd = std::string_view::npos;
  std::size_t lowest = size >= 22 + 65535 ? size - 22 - 65535 : 0;
  for (std::size_t at = size - 22 + 1; at-- > lowest;) {
    if (rd32(bytes_, at) == kEndSig && at + 22 + rd16(bytes_, at + 20) <= size) {
      eocd = at;
      break;
    }
  }
  if (eocd == std::string_view::npos) {
    fail("no end-of-central-directory record (truncated or not a zip file)");
  }
  std::uint64_t count = rd16(bytes_, eocd + 10);
  std::uint64_t cd_size = rd32(bytes_, eocd + 12);
  std::uint64_t cd_offset = rd32(bytes_, eocd + 16);
  if (rd16(bytes_, eocd + 4) != 0 || rd16(bytes_, eocd + 6) != 0) {
    fail("multi-disk archives are not supported");
  }
  if (count == 0xffff || cd_size == kMax32 || cd_offset == kMax32) {
    // zip64: a locator just before the end record points at the zip64 end record.
    if (eocd < 20 || rd32(bytes_, eocd - 20) != kEnd64LocSig) fail("zip64 locator missing");
    std::uint64_t e64 = rd64(bytes_, eocd - 20 + 8);
    if (e64 > size || size - e64 < 56 || rd32(bytes_, e64) != kEnd64Sig) {
      fail("zip64 end record missing or out of range");
    }
    count = rd64(bytes_, e64 + 32);
    cd_size = rd64(bytes_, e64 + 40);
    cd_offset = rd64(bytes_, e64 + 48);
  }
  if (cd_offset > size || cd_size > size - cd_offset) {
    fail(fmt::format("central directory (offset {}, {} bytes) lies outside the {}-byte file",
                     cd_offset, cd_size, size));
  }
  if (count > cd_size / 46) {
    fail(fmt::format("central directory declares {} entries but holds only {} bytes", count,
                     cd_size));
  }
  entries_.reserve(count);
  std::size_t at = cd_offset;
  const std::size_t cd_end = cd_offset + cd_size;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (cd_end - at < 46 || rd32(bytes_, at) != kCentralSig) {
      fail(fmt::format("central directory entry {} is damaged", i));
    }
    ZipEntry e;
    e.flags = rd16(bytes_, at + 8);
    e.method = rd16(bytes_, at + 10);
    e.crc32 = rd32(bytes_, at + 16);
    e.compressed_size = rd32(bytes_, at + 20);
    e.uncompressed_size = rd32(bytes_, at + 24);
    std::size_t nlen = rd16(bytes_, at + 28), xlen = rd16(bytes_, at + 30),
                clen = rd16(bytes_, at + 32);
    e.local_header_offset = rd32(bytes_, at + 42);
    if (cd_end - at - 46 < nlen + xlen + clen) {
      fail(fmt::format("central directory entry {} runs past the directory", i));
    }
    e.name.assign(bytes_.substr(at + 46, nlen));
    std::string_view extra = bytes_.substr(at + 46 + nlen, xlen);
    // zip64 extended information: the 64-bit values of the fields that are 0xffffffff.
    for (std::size_t x = 0; x + 4 <= extra.size();) {
      std::uint16_t id = rd16(extra, x), len = rd16(extra, x + 2);
      if (x + 4 + len > extra.size()) break;
      if (id == 0x0001) {
        std::size_t f = x + 4, fend = x + 4 + len;
        auto take = [&](std::uint64_t& v) {
          if (v != kMax32) return;
          if (f + 8 > fend) fail(fmt::format("member {}: zip64 field too short", e.name));
          v = rd64(extra, f);
          f += 8;
        };
        take(e.uncompressed_size);
        take(e.compressed_size);
        take(e.local_header_offset);
      }
      x += 4 + len;
    }
    entries_.push_back(std::move(e));
    at += 46 + nlen + xlen + clen;
  }
}

const ZipEntry* ZipReader::find(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::string_view ZipReader::member_data(const ZipEntry& e) const {
  auto fail = [&](const std::string& msg) {
    throw Error(fmt::format("{}: member {}: {}", path_, e.name, msg));
  };
  if (e.flags & 0x1) fail("encrypted members are not supported");
  if (e.method != 0 && e.method != 8) {
    fail(fmt::format("unsupported compression method {} (only stored and deflate)", e.method));
  }
  const std::size_t size = bytes_.size();
  if (e.local_header_offset > size || size - e.local_header_offset < 30 ||
      rd32(bytes_, e.local_header_offset) != kLocalSig) {
    fail("local header missing or damaged (truncated archive?)");
  }
  std::uint64_t data = e.local_header_offset + 30 + rd16(bytes_, e.local_header_offset + 26) +
                       rd16(bytes_, e.local_header_offset + 28);
  if (data > size || e.compressed_size > size - data) {
    fail(
        fmt::format("data ({} bytes at offset {}) runs past the end of the {}-byte file "
                    "(truncated archive?)",
                    e.compressed_size, data, size));
  }
  if (e.method == 0 && e.compressed_size != e.uncompressed_size) {
    fail("stored member with different compressed and uncompressed sizes");
  }
  if (e.method == 8 && e.uncompressed_size > e.compressed_size * kMaxRatio + 1024) {
    fail(fmt::format("declared size {} is implausible for {} compressed bytes", e.uncompressed_size,
                     e.compressed_size));
  }
  return bytes_.substr(data, e.compressed_size);
}

std::vector<std::uint8_t> ZipReader::inflate(const ZipEntry& e, std::string_view in,
                                             std::size_t limit, bool whole) const {
  auto fail = [&](const std::string& msg) {
    throw Error(fmt::format("{}: member {}: {}", path_, e.name, msg));
  };
  std::vector<std::uint8_t> out(std::max<std::size_t>(limit, 1));  // zlib rejects a null buffer
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail("zlib initialisation failed");
  std::size_t in_pos = 0, out_pos = 0;
  int rc = Z_OK;
  while (true) {
    std::size_t in_chunk = std::min<std::size_t>(in.size() - in_pos, 1u << 30);
    std::size_t out_chunk = std::min<std::size_t>(limit - out_pos, 1u << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = static_cast<uInt>(out_chunk);
    rc = ::inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string m = zs.msg ? zs.msg : "corrupt data";
      inflateEnd(&zs);
      fail(fmt::format("deflate data is corrupt ({})", m));
    }
    if (out_pos == limit) {
      if (!whole) break;
      // Output is full but the stream has not ended: is there more?
      unsigned char probe;
      zs.next_out = &probe;
      zs.avail_out = 1;
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - in_pos, 1u << 30));
      rc = ::inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END && zs.avail_out == 1) break;
      inflateEnd(&zs);
      if (rc == Z_BUF_ERROR && zs.avail_out == 1) {
        fail(fmt::format("deflate stream ends early after {} bytes (truncated?)", out_pos));
      }
      fail(fmt::format("uncompressed data is larger than the declared {} bytes",
                       e.uncompressed_size));
    }
    if (in_pos == in.size() && zs.avail_out > 0) {
      inflateEnd(&zs);
      fail(fmt::format("deflate stream ends early after {} of {} bytes (truncated?)", out_pos,
                       e.uncompressed_size));
    }
  }
  inflateEnd(&zs);
  if (whole && out_pos != e.uncompressed_size) {
    fail(fmt::format("uncompressed {} bytes but the archive declares {}", out_pos,
                     e.uncompressed_size));
  }
  out.resize(out_pos);
  return out;
}

std::vector<std::uint8_t> ZipReader::extract(const ZipEntry& e) const {
  std::string_view in = member_data(e);
  std::vector<std::uint8_t> out;
  if (e.method == 0) {
    out.assign(in.begin(), in.end());
  } else {
    out = inflate(e, in, e.uncompressed_size, true);
  }
  std::uint32_t crc =
      crc32_of(std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
  if (crc != e.crc32) {
    throw Error(fmt::format("{}: member {}: CRC-32 mismatch (archive says {:08x}, data is {:08x})",
                            path_, e.name, e.crc32, crc));
  }
  return out;
}

void ZipReader::verify(const ZipEntry& e) const {
  auto fail = [&](const std::string& msg) {
    throw Error(fmt::format("{}: member {}: {} (the file is damaged)", path_, e.name, msg));
  };
  std::string_view in = member_data(e);
  std::uint32_t crc = 0;
  if (e.method == 0) {
    crc = crc32_of(in);
  } else {
    std::vector<std::uint8_t> buf(1u << 20);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail("zlib initialisation failed");
    uLong c = ::crc32(0L, Z_NULL, 0);
    std::uint64_t total = 0;
    std::size_t in_pos = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      const std::size_t in_chunk = std::min<std::size_t>(in.size() - in_pos, 1u << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
      zs.avail_in = static_cast<uInt>(in_chunk);
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = ::inflate(&zs, Z_NO_FLUSH);
      in_pos += in_chunk - zs.avail_in;
      const std::size_t got = buf.size() - zs.avail_out;
      c = ::crc32(c, buf.data(), static_cast<uInt>(got));
      total += got;
      if (rc == Z_STREAM_END) break;
      if ((rc != Z_OK && rc != Z_BUF_ERROR) || (got == 0 && in_pos == in.size())) {
        std::string m = zs.msg ? zs.msg : "ends early (truncated?)";
        inflateEnd(&zs);
        fail(fmt::format("deflate data is corrupt ({})", m));
      }
      if (total > e.uncompressed_size) break;
    }
    inflateEnd(&zs);
    if (total != e.uncompressed_size)
      fail(fmt::format("uncompressed {} bytes but the archive declares {}", total,
                       e.uncompressed_size));
    crc = static_cast<std::uint32_t>(c);
  }
  if (crc != e.crc32)
    fail(fmt::format("CRC-32 mismatch (archive says {:08x}, data is {:08x})", e.crc32, crc));
}

std::vector<std::uint8_t> ZipReader::extract_prefix(const ZipEntry& e, std::size_t n) const {
  std::string_view in = member_data(e);
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, e.uncompressed_size));
  if (e.method == 0) return std::vector<std::uint8_t>(in.begin(), in.begin() + n);
  return inflate(e, in, n, false);
}

void ZipWriter::add(const std::string& name, std::string_view data, bool deflate, int level) {
  if (name.size() > 0xffff) throw Error("zip member name too long");
  Item it{name,       static_cast<std::uint16_t>(deflate ? 8 : 0), crc32_of(data), 0, data.size(),
          out_.size()};
  std::string payload;
  if (deflate) {
    z_stream zs{};
    if (deflateInit2(&zs, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw Error("zlib deflateInit failed");
    }
    payload.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 64);
    std::size_t in_pos = 0, out_pos = 0;
    int rc;
    do {
      std::size_t in_chunk = std::min<std::size_t>(data.size() - in_pos, 1u << 30);
      std::size_t out_chunk = std::min<std::size_t>(payload.size() - out_pos, 1u << 30);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_pos));
      zs.avail_in = static_cast<uInt>(in_chunk);
      zs.next_out = reinterpret_cast<Bytef*>(payload.data() + out_pos);
      zs.avail_out = static_cast<uInt>(out_chunk);
      bool last = in_pos + in_chunk == data.size();
      rc = ::deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      in_pos += in_chunk - zs.avail_in;
      out_pos += out_chunk - zs.avail_out;
      if (rc == Z_STREAM_ERROR) {
        deflateEnd(&zs);
        throw Error("zlib deflate failed");
      }
    } while (rc != Z_STREAM_END);
    deflateEnd(&zs);
    payload.resize(out_pos);
    it.csize = payload.size();
  } else {
    it.csize = data.size();
  }
  if (!zip64_ && (it.csize >= kMax32 || it.usize >= kMax32 || it.offset >= kMax32)) {
    throw Error(fmt::format("zip member {} too large for a zip without zip64", name));
  }
  put32(out_, kLocalSig);
  put16(out_, zip64_ ? 45 : 20);
  put16(out_, 0);  // flags
  put16(out_, it.method);
  put16(out_, 0);     // time
  put16(out_, 0x21);  // date: 1980-01-01
  put32(out_, it.crc);
  put32(out_, zip64_ ? kMax32 : it.csize);
  put32(out_, zip64_ ? kMax32 : it.usize);
  put16(out_, name.size());
  put16(out_, zip64_ ? 20 : 0);
  out_ += name;
  if (zip64_) {
    put16(out_, 1);
    put16(out_, 16);
    put64(out_, it.usize);
    put64(out_, it.csize);
  }
  if (deflate) {
    out_ += payload;
  } else {
    out_.append(data);
  }
  items_.push_back(std::move(it));
}

std::string ZipWriter::finish() {
  std::string out = std::move(out_);
  const std::uint64_t cd_offset = out.size();
  for (const Item& it : items_) {
    put32(out, kCentralSig);
    put16(out, zip64_ ? 45 : 20);  // made by
    put16(out, zip64_ ? 45 : 20);  // needed
    put16(out, 0);
    put16(out, it.method);
    put16(out, 0);
    put16(out, 0x21);
    put32(out, it.crc);
    put32(out, zip64_ ? kMax32 : it.csize);
    put32(out, zip64_ ? kMax32 : it.usize);
    put16(out, it.name.size());
    put16(out, zip64_ ? 28 : 0);
    put16(out, 0);  // comment
    put16(out, 0);  // disk
    put16(out, 0);  // internal attributes
    put32(out, 0);  // external attributes
    put32(out, zip64_ ? kMax32 : it.offset);
    out += it.name;
    if (zip64_) {
      put16(out, 1);
      put16(out, 24);
      put64(out, it.usize);
      put64(out, it.csize);
      put64(out, it.offset);
    }
  }
  const std::uint64_t cd_size = out.size() - cd_offset;
  if (zip64_) {
    const std::uint64_t e64 = out.size();
    put32(out, kEnd64Sig);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, items_.size());
    put64(out, items_.size());
    put64(out, cd_size);
    put64(out, cd_offset);
    put32(out, kEnd64LocSig);
    put32(out, 0);
    put64(out, e64);
    put32(out, 1);
  }
  put32(out, kEndSig);
  put16(out, 0);
  put16(out, 0);
  put16(out, zip64_ ? 0xffff : items_.size());
  put16(out, zip64_ ? 0xffff : items_.size());
  put32(out, zip64_ ? kMax32 : cd_size);
  put32(out, zip64_ ? kMax32 : cd_offset);
  put16(out, 0);
  items_.clear();
  return out;
}

}  // namespace pepr::data
