// The embedded default sweep (`pepr bench --default`): a few small native models on synthetic
// data, a few epochs, so that it runs in minutes on 2 CPU cores.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace pepr::sweep {

// The models of the default sweep: easy to change.
inline constexpr std::array<std::string_view, 3> kDefaultModels{"mobilenetv2_050", "resnet14t",
                                                                "resnet18"};

// The plan as TOML (a synthetic dataset generated into the runs folder).
std::string default_plan_toml();

}  // namespace pepr::sweep
