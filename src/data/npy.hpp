// NumPy `.npy` arrays: header parsing (dtype, shape, order) and writing (format version 1.0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pepr::data {

// A parsed dtype descriptor such as "|u1", "<i8" or ">f4" (structured dtypes are rejected).
struct NpyDtype {
  std::string descr;        // as written in the header
  char kind = 'u';          // 'b' bool, 'i' signed, 'u' unsigned, 'f' float
  int size = 1;             // bytes per element
  bool big_endian = false;  // '>' (bytes are swapped when converting)
};

struct NpyHeader {
  NpyDtype dtype;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  std::size_t data_offset = 0;  // bytes before the array data (magic + header)
  std::uint64_t count = 1;      // number of elements (product of shape)
  std::uint64_t nbytes = 0;     // count * dtype.size
};

// Parses the header at the start of `bytes`. `what` names the source in error messages
// ("x.npz: member train_images.npy"). Checks magic, version, the dict, dtype and that the
// shape's product does not overflow; throws pepr::Error otherwise. Does not look at the data.
NpyHeader parse_npy_header(std::string_view bytes, const std::string& what);

// An array in C order with its raw little/big-endian element bytes as in the file.
struct NpyArray {
  NpyHeader header;
  std::vector<std::uint8_t> data;  // header.nbytes bytes, C (row-major) order
};

// Parses a whole `.npy` image held in `bytes` (consumed: the header is cut off in place, no
// copy). The payload must be exactly shape x itemsize bytes. Fortran-ordered arrays are
// reordered to C order.
NpyArray parse_npy(std::vector<std::uint8_t>&& bytes, const std::string& what);

// Reads a `.npy` file.
NpyArray read_npy(const std::string& path);

// Element values of an integer or bool array as int64 (throws for floats).
std::vector<int64_t> npy_to_int64(const NpyArray& a, const std::string& what);

// Serialises an array as `.npy` bytes (version 1.0 header, padded to 64 bytes, C order).
// `data` must hold product(shape) x itemsize bytes.
std::string npy_bytes(std::string_view descr, const std::vector<int64_t>& shape,
                      std::string_view data);

// "(4708, 28, 28)" - the shape as NumPy prints it.
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace pepr::data
