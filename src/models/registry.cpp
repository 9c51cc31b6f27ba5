#include "models/registry.hpp"

#include <cctype>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/suggest.hpp"
#include "models/cpu_backend.hpp"
#include "models/model.hpp"
#include "models/state_dict.hpp"

namespace pepr::models {

#define PEPR_MODEL_FAMILY(family) void register_##family##_models(Registry& registry);
#include "models/families.def"
#undef PEPR_MODEL_FAMILY

Registry::Registry() {
#define PEPR_MODEL_FAMILY(family) \
  family_ = #family;              \
  register_##family##_models(*this);
#include "models/families.def"
#undef PEPR_MODEL_FAMILY
  family_.clear();
}

const Registry& Registry::instance() {
  static const Registry registry;
  return registry;
}

void Registry::add(const std::string& name, ModelFactory create) {
  if (entries_.count(name) != 0) {
    throw std::logic_error(fmt::format("model '{}' registered twice (families {} and {})", name,
                                       entries_.at(name).family, family_));
  }
  entries_.emplace(name, ModelEntry{name, family_, std::move(create)});
}

const ModelEntry* Registry::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

namespace {
// The closest native name (a different case, else a typo), or how to see them all: not the
// whole list, which is 2,000 characters.
[[noreturn]] void throw_unknown(const std::string& name) {
  const std::vector<std::string> names = Registry::instance().names();
  auto lower = [](std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  std::string hint;
  for (const auto& n : names)
    if (lower(n) == lower(name)) hint = fmt::format(" (names are lower case: did you mean {}?)", n);
  if (hint.empty()) hint = did_you_mean(name, names);
  throw Error(fmt::format("'{}' is not a native model{}; `pepr zoo list --native` lists all {}",
                          name, hint, names.size()));
}
}  // namespace

std::shared_ptr<Classifier> create_model(const std::string& name, const ModelOptions& options) {
  const ModelEntry* entry = Registry::instance().find(name);
  if (entry == nullptr) throw_unknown(name);
  settle_cpu_backend();  // before any model of this process runs a convolution
  return entry->create(name, options);
}

std::vector<std::string> native_model_names() {
  return Registry::instance().names();
}

bool is_native(const std::string& name) {
  return Registry::instance().find(name) != nullptr;
}

std::string family_of(const std::string& name) {
  const ModelEntry* entry = Registry::instance().find(name);
  if (entry == nullptr) throw_unknown(name);
  return entry->family;
}

NativeFacts native_facts(const std::string& name) {
  auto model = create_model(name, {.num_classes = 1000});
  NativeFacts f;
  f.params = count_parameters(*model);
  f.min_input_size = model->min_input_size();
  f.first_conv = model->first_conv_names();
  f.classifier = model->classifier_names();
  const auto tensors = state_dict(*model);
  for (const auto& n : state_dict_names(*model)) {
    const auto sizes = tensors.at(n).sizes();
    f.state_dict.emplace_back(n, std::vector<std::int64_t>(sizes.begin(), sizes.end()));
  }
  return f;
}

}  // namespace pepr::models
