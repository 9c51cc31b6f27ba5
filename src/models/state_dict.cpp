#include "models/state_dict.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"

namespace pepr::models {

namespace {

void collect(const torch::nn::Module& module, const std::string& prefix,
             std::vector<std::pair<std::string, torch::Tensor>>& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    out.emplace_back(prefix + p.key(), p.value());
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    out.emplace_back(prefix + b.key(), b.value());
  }
  for (const auto& child : module.named_children()) {
    collect(*child.value(), prefix + child.key() + ".", out);
  }
}

std::string shape_str(const torch::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes(), ", "));
}

}  // namespace

std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  collect(module, "", entries);
  return {entries.begin(), entries.end()};
}

std::vector<std::string> state_dict_names(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  collect(module, "", entries);
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (auto& e : entries) names.push_back(std::move(e.first));
  return names;
}

LoadResult load_state_dict(torch::nn::Module& module,
                           const std::map<std::string, torch::Tensor>& source, bool strict) {
  auto target = state_dict(module);
  LoadResult result;
  for (const auto& [name, tensor] : target) {
    auto it = source.find(name);
    if (it == source.end()) {
      result.missing.push_back(name);
    } else if (it->second.sizes() != tensor.sizes()) {
      result.mismatched.push_back(
          fmt::format("{}: {} vs {}", name, shape_str(tensor), shape_str(it->second)));
    }
  }
  for (const auto& [name, tensor] : source) {
    if (target.count(name) == 0) result.unexpected.push_back(name);
  }
  if (strict && !result.ok()) {
    std::string msg = "state dict does not match the model:";
    auto list = [&msg](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      constexpr size_t kShown = 10;
      std::vector<std::string> shown(
          names.begin(),
          names.begin() + static_cast<std::ptrdiff_t>(std::min(kShown, names.size())));
      msg += fmt::format(" {} {} ({}{})", names.size(), what, fmt::join(shown, ", "),
                         names.size() > kShown ? ", ..." : "");
    };
    list("missing", result.missing);
    list("unexpected", result.unexpected);
    list("with other shapes (model vs file)", result.mismatched);
    throw Error(msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : target) {
    auto it = source.find(name);
    if (it == source.end() || it->second.sizes() != tensor.sizes()) continue;
    tensor.copy_(it->second);
  }
  return result;
}

}  // namespace pepr::models
