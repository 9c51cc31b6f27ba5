// The .safetensors format (the format timm publishes its weights in on the Hugging Face hub):
// 8 bytes little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3],
//    "data_offsets": [begin, end]}, ...}
// then the tensors' bytes, little-endian, row-major. No LibTorch here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_io.hpp"

namespace pepr::weights {

enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

std::string_view dtype_name(Dtype d);  // "F32"
std::size_t dtype_size(Dtype d);       // bytes per element

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets into the data section
  std::int64_t numel() const;
};

// A validated, memory-mapped .safetensors file. open() checks, before anything is used: the header
// length against the file size (and a 100 MB cap), that the header is a JSON object, every
// entry's dtype (known), shape (non-negative integers) and data_offsets (begin <= end, inside the
// data, size = elements x dtype size without overflow), that the tensors cover the data without
// holes or overlaps (as the format requires), and that __metadata__ maps strings to strings.
// Every failure is a pepr::Error naming the file and what is wrong.
class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::uint64_t file_size() const { return file_.view().size(); }
  // In the header's order of data offsets.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The tensor's bytes (little-endian, row-major), valid while this object lives.
  std::span<const std::byte> bytes(const TensorInfo& t) const;
  // Sum of the elements of every tensor.
  std::int64_t total_elements() const;

 private:
  explicit SafetensorsFile(FileBytes file) : file_(std::move(file)) {}
  FileBytes file_;  // memory-mapped
  std::uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A tensor to write: raw little-endian bytes of `dtype`, row-major.
struct TensorData {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

// Writes a .safetensors file atomically (temp file, fsync, rename), tensors in the given order.
// Throws pepr::Error when a tensor's byte count does not match its shape and dtype, or names
// repeat.
void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace pepr::weights
