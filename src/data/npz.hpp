// NumPy `.npz` archives: a zip of `.npy` members (np.savez stores, np.savez_compressed deflates).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/npy.hpp"
#include "data/zip.hpp"

namespace pepr {
class FileBytes;
}

namespace pepr::data {

class NpzFile {
 public:
  // Opens (maps) the file and reads its central directory; throws pepr::Error naming the file.
  static NpzFile open(const std::string& path);
  // An archive held in memory; `name` stands for the path in error messages.
  static NpzFile from_memory(std::string bytes, const std::string& name);
  NpzFile(NpzFile&&) noexcept;
  NpzFile& operator=(NpzFile&&) noexcept;
  ~NpzFile();

  const std::string& path() const { return path_; }
  // Member names without the ".npy" suffix, in archive order.
  std::vector<std::string> keys() const;
  bool has(std::string_view key) const;
  // The header of a member; only its first bytes are decompressed. Checks that the shape
  // matches the member's size.
  NpyHeader header(std::string_view key) const;
  // Checks every member's size and CRC-32 (decompressing each in pieces, holding none).
  void verify() const;
  // The whole array (C order).
  NpyArray read(std::string_view key) const;

 private:
  NpzFile() = default;
  const ZipEntry& entry(std::string_view key) const;
  std::string path_;
  std::unique_ptr<FileBytes> bytes_;
  std::unique_ptr<std::string> owned_;
  std::unique_ptr<ZipReader> zip_;
};

// One array to write: `data` holds product(shape) x itemsize bytes in C order.
struct NpzMember {
  std::string key;    // written as KEY.npy
  std::string descr;  // e.g. "|u1", "<i8"
  std::vector<int64_t> shape;
  std::string_view data;
};

// The archive bytes (deflated when `compress`, as np.savez_compressed; stored otherwise).
std::string npz_bytes(const std::vector<NpzMember>& members, bool compress);
// Writes an archive atomically.
void write_npz(const std::string& path, const std::vector<NpzMember>& members, bool compress);

}  // namespace pepr::data
