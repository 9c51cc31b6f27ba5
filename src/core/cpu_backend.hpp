// Whether LibTorch may run its CPU convolutions on oneDNN on this machine.
//
// oneDNN 3.2 to 3.7 (LibTorch 2.1 to about 2.7, and Debian 13's LibTorch 2.6 with the system's
// oneDNN 3.7) read an AMD CPU's cache sizes from CPUID leaf 0x8000001D without checking that the
// leaf lists any cache. Virtual machines that hide the cache topology answer that leaf with
// zeros, oneDNN then believes every cache holds 1 byte, and its blocking arithmetic gives wrong
// convolution results or dies of SIGFPE (integer division by zero). oneDNN 3.8 reads the leaf
// properly. LibTorch's own convolutions (im2col and BLAS) are correct there, only slower, so
// pepr turns oneDNN off when it would be wrong. This file holds the decision, free of LibTorch;
// models/cpu_backend.cpp gathers the facts and applies it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pepr {

struct OneDnnFacts {
  // The per-core L1 and L2 data cache sizes oneDNN itself believes, in bytes; nullopt when its
  // internal query is not visible (a oneDNN linked statically into LibTorch, or before 3.0).
  std::optional<std::uint64_t> l1_bytes, l2_bytes;
  std::string version;  // "3.7.2" from LibTorch's build configuration; "" when unknown
  bool amd_cache_leaf_empty = false;  // an AMD CPU whose CPUID 0x8000001D lists no cache (or
                                      // that lacks the leaf)
  bool built_with_onednn = true;      // LibTorch was built with oneDNN (MKL-DNN)
};

struct OneDnnVerdict {
  bool use = true;
  std::string reason;  // why it is off (or forced on); "" when on as usual
};

// `policy` is the PEPR_ONEDNN environment variable: "" or "auto" (decide from the facts), "on"
// (use it regardless), "off" (never use it). Throws pepr::Error for any other value.
OneDnnVerdict judge_onednn(const OneDnnFacts& facts, std::string_view policy);

// The oneDNN version in LibTorch's build configuration (at::show_config(): "Intel(R) MKL-DNN
// v3.7.2 (Git Hash N/A)", "oneDNN v3.8.1 ..."): "3.7.2", or "" when the text names none.
std::string parse_onednn_version(std::string_view build_config);

// This CPU's answer to CPUID 0x8000001D, as amd_cache_leaf_empty means it; false on other CPUs
// and other architectures.
bool read_amd_cache_leaf_empty();

}  // namespace pepr
