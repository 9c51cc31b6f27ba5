#include "zoo/model_space.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace pepr::zoo {

const ModelEntry* find_model(std::string_view name) {
  const auto& space = model_space();
  auto it = std::lower_bound(space.begin(), space.end(), name,
                             [](const ModelEntry& e, std::string_view n) { return e.name < n; });
  if (it != space.end() && it->name == name) return &*it;
  for (const auto& e : space)
    if (!e.timm_name_now.empty() && e.timm_name_now == name) return &e;
  return nullptr;
}

std::string weights_url(const ModelEntry& e, std::string_view base) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return fmt::format("{}/{}/resolve/main/model.safetensors", base, e.hf_hub_id);
}

double paper_median_params() {
  std::vector<double> p;
  for (const auto& e : model_space())
    if (e.in_paper) p.push_back(static_cast<double>(e.params));
  if (p.empty()) return 0;
  std::sort(p.begin(), p.end());
  const std::size_t n = p.size();
  return n % 2 ? p[n / 2] : 0.5 * (p[n / 2 - 1] + p[n / 2]);
}

}  // namespace pepr::zoo
