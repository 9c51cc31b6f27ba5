#include "core/cpu_backend.hpp"

#include <fmt/format.h>

#include <cctype>

#include "core/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace pepr {

namespace {

// No x86 core of the last twenty years has less than 16 KiB of L1 data cache per core; a few
// bytes is a misread topology, not a small cache.
constexpr std::uint64_t kPlausibleCacheBytes = 4096;

struct Version {
  int major = 0, minor = 0;
};

std::optional<Version> major_minor(std::string_view v) {
  Version out;
  const auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  for (char ch : v.substr(0, dot)) out.major = out.major * 10 + (ch - '0');
  std::size_t i = dot + 1;
  if (i >= v.size() || !std::isdigit(static_cast<unsigned char>(v[i]))) return std::nullopt;
  for (; i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])); ++i)
    out.minor = out.minor * 10 + (v[i] - '0');
  return out;
}

// The oneDNN releases whose bundled Xbyak trusts an empty AMD cache leaf.
bool misreads_empty_amd_leaf(const Version& v) {
  return v.major == 3 && v.minor >= 2 && v.minor < 8;
}

std::string bytes_text(std::uint64_t b) {
  return b == 1 ? "1 byte" : fmt::format("{} bytes", b);
}

}  // namespace

OneDnnVerdict judge_onednn(const OneDnnFacts& facts, std::string_view policy) {
  if (policy == "on")
    return {true, "PEPR_ONEDNN=on: oneDNN used without pepr's check of this machine"};
  if (policy == "off") return {false, "PEPR_ONEDNN=off"};
  if (!policy.empty() && policy != "auto")
    throw Error(fmt::format("PEPR_ONEDNN='{}': expected auto, on or off", policy));
  if (!facts.built_with_onednn) return {false, "this LibTorch was built without oneDNN"};

  const std::string version =
      facts.version.empty() ? std::string("of unknown version") : "v" + facts.version;
  if (facts.l1_bytes && facts.l2_bytes) {
    if (*facts.l1_bytes >= kPlausibleCacheBytes && *facts.l2_bytes >= kPlausibleCacheBytes)
      return {};
    return {false,
            fmt::format("oneDNN {} believes this CPU's per-core caches hold {} (L1) and {} (L2), "
                        "a misread of a CPU topology the virtual machine hides; its convolutions "
                        "would be wrong or crash, so LibTorch's own convolutions are used",
                        version, bytes_text(*facts.l1_bytes), bytes_text(*facts.l2_bytes))};
  }
  if (!facts.amd_cache_leaf_empty) return {};
  const auto v = major_minor(facts.version);
  if (v && !misreads_empty_amd_leaf(*v)) return {};
  return {false,
          fmt::format("this AMD CPU's cache topology (CPUID 0x8000001D) is empty, as on virtual "
                      "machines that hide it, and oneDNN {} then takes every cache for 1 byte; "
                      "its convolutions would be wrong or crash, so LibTorch's own convolutions "
                      "are used",
                      version)};
}

std::string parse_onednn_version(std::string_view build_config) {
  for (std::string_view marker : {"MKL-DNN v", "oneDNN v"}) {
    const auto at = build_config.find(marker);
    if (at == std::string_view::npos) continue;
    std::size_t i = at + marker.size(), end = i;
    while (
        end < build_config.size() &&
        (std::isdigit(static_cast<unsigned char>(build_config[end])) || build_config[end] == '.'))
      ++end;
    const std::string_view v = build_config.substr(i, end - i);
    if (major_minor(v)) return std::string(v);
  }
  return "";
}

bool read_amd_cache_leaf_empty() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d) == 0) return false;
  // "AuthenticAMD": EBX "Auth", EDX "enti", ECX "cAMD".
  if (!(b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163)) return false;
  // oneDNN 3.2 to 3.7 read the leaf even where the CPU lacks it (older AMD CPUs answer zeros).
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) == 0 || a < 0x8000001D) return true;
  __cpuid_count(0x8000001D, 0, a, b, c, d);
  return (a & 0x1f) == 0;  // cache type 0: no cache at all
#else
  return false;
#endif
}

}  // namespace pepr
