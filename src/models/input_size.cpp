#include "models/input_size.hpp"

#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

NativeInputSize native_input_size(const std::string& name) {
  auto model = create_model(name, {.num_classes = 2});
  return {model->min_input_size(), model->fixed_input_size().value_or(0)};
}

}  // namespace pepr::models
