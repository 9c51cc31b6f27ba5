// The native model zoo, by timm name. Free of LibTorch: listing and checking names costs nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/model_options.hpp"

namespace pepr::models {

class Classifier;  // models/model.hpp (LibTorch)

using ModelFactory =
    std::function<std::shared_ptr<Classifier>(const std::string& name, const ModelOptions&)>;

struct ModelEntry {
  std::string name;    // timm's name, e.g. "resnet18d"
  std::string family;  // the registering family, e.g. "resnet"
  ModelFactory create;
};

// Every native architecture. Each family file defines `void register_<family>_models(Registry&)`
// and is listed once in models/families.def; registration is explicit because the linker drops
// self-registering static objects from static libraries.
class Registry {
 public:
  // Adds a model of the family being registered; a duplicate name is a programming error.
  void add(const std::string& name, ModelFactory create);
  // Adds Model(name, cfg, options) under a name: the usual case, a family's model class built
  // from one of its configurations.
  template <typename Model, typename Config>
  void add(const std::string& name, const Config& cfg) {
    add(name, [cfg](const std::string& arch, const ModelOptions& o) -> std::shared_ptr<Classifier> {
      return std::make_shared<Model>(arch, cfg, o);
    });
  }
  const ModelEntry* find(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted

  static const Registry& instance();

 private:
  Registry();
  std::string family_;
  std::map<std::string, ModelEntry> entries_;
};

// Builds a native model; pepr::Error for a name that is not native (the message lists them).
std::shared_ptr<Classifier> create_model(const std::string& name, const ModelOptions& options = {});

std::vector<std::string> native_model_names();  // sorted
bool is_native(const std::string& name);
// The family of a native model ("resnet", "efficientnet", "vgg"); pepr::Error if not native.
std::string family_of(const std::string& name);

// What building a native model with 1000 classes tells (pepr::Error if not native): its
// trainable parameters, its input-size rule, its stem and head names (as timm's pretrained_cfg
// lists them) and its state dict (names and shapes, in order).
struct NativeFacts {
  std::int64_t params = 0;
  std::int64_t min_input_size = 1;
  std::vector<std::string> first_conv, classifier;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> state_dict;
};
NativeFacts native_facts(const std::string& name);

}  // namespace pepr::models
