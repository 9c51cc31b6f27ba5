#include "models/pretrained.hpp"

#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "models/state_dict.hpp"
#include "weights/safetensors.hpp"

namespace pepr::models {

namespace {

using weights::Dtype;

torch::ScalarType scalar_type(Dtype d) {
  switch (d) {
    case Dtype::F64:
      return torch::kFloat64;
    case Dtype::F32:
      return torch::kFloat32;
    case Dtype::F16:
      return torch::kFloat16;
    case Dtype::BF16:
      return torch::kBFloat16;
    case Dtype::I64:
      return torch::kInt64;
    case Dtype::I32:
      return torch::kInt32;
    case Dtype::I16:
      return torch::kInt16;
    case Dtype::I8:
      return torch::kInt8;
    case Dtype::U8:
      return torch::kUInt8;
    case Dtype::BOOL:
      return torch::kBool;
  }
  return torch::kFloat32;
}

bool under(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& p : prefixes)
    if (name == p || name.rfind(p + ".", 0) == 0) return true;
  return false;
}

}  // namespace

PretrainedLoad load_pretrained(Classifier& model, const std::string& path) {
  auto file = weights::SafetensorsFile::open(path);
  // Views of the mapped bytes (valid while `file` lives); load_state_dict copies them.
  std::map<std::string, torch::Tensor> source;
  for (const auto& t : file.tensors()) {
    auto bytes = file.bytes(t);
    source[t.name] = torch::from_blob(const_cast<std::byte*>(bytes.data()), t.shape,
                                      torch::TensorOptions().dtype(scalar_type(t.dtype)));
  }
  const auto target = state_dict(model);
  PretrainedLoad r;
  r.path = path;
  const auto heads = model.classifier_names();
  const auto stems = model.first_conv_names();
  for (auto it = source.begin(); it != source.end();) {
    auto tt = target.find(it->first);
    if (tt != target.end() && tt->second.sizes() != it->second.sizes()) {
      if (under(it->first, heads)) {
        r.head_skipped.push_back(it->first);
        it = source.erase(it);
        continue;
      }
      const bool stem_weight = under(it->first, stems) && it->second.dim() == 4 &&
                               tt->second.dim() == 4 && tt->second.size(1) == 1 &&
                               it->second.size(1) == 3;
      if (stem_weight) {
        it->second = it->second.to(torch::kFloat32).sum(1, /*keepdim=*/true);
        r.stem_adapted.push_back(it->first);
      }
    }
    ++it;
  }
  // The skipped head keeps the model's own tensors; then everything must match, else the strict
  // loader throws before it copies anything.
  std::size_t kept_fresh = 0;
  if (!r.head_skipped.empty()) {
    for (const auto& [name, tensor] : target)
      if (under(name, heads) && !source.count(name)) {
        source[name] = tensor.detach().clone();
        ++kept_fresh;
      }
  }
  try {
    load_state_dict(model, source, /*strict=*/true);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: these weights do not fit {}: {}", path, model.arch(), e.what()));
  }
  r.loaded = source.size() - kept_fresh;
  return r;
}

void save_safetensors(const torch::nn::Module& module, const std::string& path) {
  std::vector<weights::TensorData> out;
  const auto tensors = state_dict(module);
  for (const auto& name : state_dict_names(module)) {
    torch::Tensor t = tensors.at(name).detach().to(torch::kCPU).contiguous();
    weights::TensorData d;
    d.name = name;
    if (t.scalar_type() == torch::kInt64) {
      d.dtype = Dtype::I64;
    } else {
      t = t.to(torch::kFloat32);
      d.dtype = Dtype::F32;
    }
    d.shape.assign(t.sizes().begin(), t.sizes().end());
    d.bytes.assign(static_cast<const char*>(t.data_ptr()), t.nbytes());
    out.push_back(std::move(d));
  }
  weights::write_safetensors(path, out, {{"format", "pt"}, {"writer", "pepr"}});
}

}  // namespace pepr::models
