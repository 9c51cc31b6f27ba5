// Zip archives (the container of `.npz`): reading stored and deflated members (zip64 aware),
// and writing them. Every size in the archive is checked against the file before allocating.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pepr::data {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;  // 0 stored, 8 deflated
  std::uint16_t flags = 0;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;
};

// Reads the central directory of an archive held in memory (e.g. a mapped FileBytes view, which
// must outlive the reader). `path` names the archive in error messages. Throws pepr::Error for
// anything malformed, encrypted, or compressed with a method other than stored/deflate.
class ZipReader {
 public:
  ZipReader(std::string_view bytes, std::string path);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;
  const std::string& path() const { return path_; }

  // The member's uncompressed bytes, CRC-checked.
  std::vector<std::uint8_t> extract(const ZipEntry& e) const;
  // Decompresses the member in pieces and checks its size and CRC-32 without holding it;
  // throws pepr::Error naming the member when either is wrong.
  void verify(const ZipEntry& e) const;
  // At most the first `n` uncompressed bytes (no CRC check): to read a header cheaply.
  std::vector<std::uint8_t> extract_prefix(const ZipEntry& e, std::size_t n) const;

 private:
  std::string_view member_data(const ZipEntry& e) const;
  std::vector<std::uint8_t> inflate(const ZipEntry& e, std::string_view in, std::size_t limit,
                                    bool whole) const;
  std::string_view bytes_;
  std::string path_;
  std::vector<ZipEntry> entries_;
};

// Builds an archive in memory. Deterministic: fixed timestamps (1980-01-01).
class ZipWriter {
 public:
  // zip64: write zip64 extra fields and end records even for small members (as NumPy does for
  // its members); otherwise members over 4 GiB are an error.
  explicit ZipWriter(bool zip64 = false) : zip64_(zip64) {}
  void add(const std::string& name, std::string_view data, bool deflate, int level = 6);
  // The complete archive (central directory and end record appended).
  std::string finish();

 private:
  struct Item {
    std::string name;
    std::uint16_t method;
    std::uint32_t crc;
    std::uint64_t csize, usize, offset;
  };
  bool zip64_;
  std::string out_;
  std::vector<Item> items_;
};

// CRC-32 (zlib) of a buffer.
std::uint32_t crc32_of(std::string_view data);

}  // namespace pepr::data
