// .safetensors: SafetensorsFile::open on the input (written to an in-memory file, memfd, since
// the reader maps a path), then the invariants open() promises: every tensor's bytes lie in the
// file and match its shape and dtype, tensors are found by name, metadata is readable.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "fuzz_check.hpp"
#include "weights/safetensors.hpp"

namespace {

// A path naming an in-memory file that holds `data`.
std::string memory_file(const std::uint8_t* data, std::size_t size) {
  static const int fd = memfd_create("fuzz.safetensors", 0);
  PEPR_FUZZ_CHECK(fd >= 0, "memfd_create failed");
  PEPR_FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    PEPR_FUZZ_CHECK(n > 0, "pwrite failed");
    done += static_cast<std::size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pepr::weights;
  const std::string path = memory_file(data, size);
  try {
    const SafetensorsFile f = SafetensorsFile::open(path);
    PEPR_FUZZ_CHECK(f.file_size() == size, "file_size %llu for %zu bytes",
                    static_cast<unsigned long long>(f.file_size()), size);
    std::uint64_t covered = 0;
    for (const TensorInfo& t : f.tensors()) {
      PEPR_FUZZ_CHECK(t.begin <= t.end && t.end <= size, "tensor '%s' at [%llu, %llu)",
                      t.name.c_str(), static_cast<unsigned long long>(t.begin),
                      static_cast<unsigned long long>(t.end));
      const auto bytes = f.bytes(t);
      PEPR_FUZZ_CHECK(bytes.size() == t.end - t.begin, "tensor '%s': %zu bytes", t.name.c_str(),
                      bytes.size());
      PEPR_FUZZ_CHECK(static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype) == bytes.size(),
                      "tensor '%s': numel %lld x %zu != %zu bytes", t.name.c_str(),
                      static_cast<long long>(t.numel()), dtype_size(t.dtype), bytes.size());
      PEPR_FUZZ_CHECK(f.find(t.name) == &t, "find('%s') does not find it", t.name.c_str());
      (void)dtype_name(t.dtype);
      covered += bytes.size();
    }
    PEPR_FUZZ_CHECK(f.tensors().empty() || covered + f.tensors().front().begin <= size,
                    "tensors cover %llu bytes of a %zu-byte file",
                    static_cast<unsigned long long>(covered), size);
    (void)f.total_elements();
    for (const auto& [k, v] : f.metadata()) (void)(k.size() + v.size());
  } catch (const pepr::Error&) {
  }
  return 0;
}
