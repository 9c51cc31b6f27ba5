#include "zoo/input_sizes.hpp"

#include <algorithm>

namespace pepr::zoo {

const InputSizes* find_input_sizes(std::string_view name) {
  const auto& all = native_input_sizes();
  auto it = std::lower_bound(all.begin(), all.end(), name,
                             [](const InputSizes& e, std::string_view n) { return e.name < n; });
  return it != all.end() && it->name == name ? &*it : nullptr;
}

}  // namespace pepr::zoo
