#include "models/cpu_backend.hpp"

#include <ATen/Context.h>
#include <ATen/Version.h>
#include <dlfcn.h>

#include <cstdlib>

namespace pepr::models {

OneDnnFacts gather_onednn_facts() {
  OneDnnFacts f;
  f.built_with_onednn = at::hasMKLDNN();
  f.version = parse_onednn_version(at::show_config());
  f.amd_cache_leaf_empty = read_amd_cache_leaf_empty();
  // oneDNN 3.x exports its cache query (dnnl::impl::cpu::platform::get_per_core_cache_size)
  // from a shared libdnnl; asking it is the direct test of what its kernels will assume.
  using CacheQuery = unsigned (*)(int);
  if (void* sym = ::dlsym(RTLD_DEFAULT, "_ZN4dnnl4impl3cpu8platform23get_per_core_cache_sizeEi")) {
    const auto query = reinterpret_cast<CacheQuery>(sym);
    f.l1_bytes = query(1);
    f.l2_bytes = query(2);
  }
  return f;
}

void apply_onednn_verdict(const OneDnnVerdict& verdict) {
  if (!verdict.use) at::globalContext().setUserEnabledMkldnn(false);
}

const CpuBackend& settle_cpu_backend() {
  static const CpuBackend backend = [] {
    CpuBackend b;
    b.facts = gather_onednn_facts();
    const char* policy = std::getenv("PEPR_ONEDNN");
    b.verdict = judge_onednn(b.facts, policy != nullptr ? policy : "");
    apply_onednn_verdict(b.verdict);
    return b;
  }();
  return backend;
}

}  // namespace pepr::models
