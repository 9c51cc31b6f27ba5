// The image size each run's model will see, resolved before any run starts: `image_size = auto`
// gives every model the data's own size when it accepts it, else the smallest size it accepts
// (its fixed size where it has one); an explicit size a model cannot run at refuses that run
// with the fix, before the sweep starts, instead of a failed run after it started.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/table.hpp"
#include "run/image_size.hpp"
#include "sweep/plan.hpp"

namespace pepr::sweep {

// A model's input-size rule; nullopt when unknown (a TorchScript file, a model pepr does not
// build): such runs are given the plan's size and the trainer decides.
using InputSizeLookup = std::function<std::optional<run::InputSizeRule>(const std::string&)>;

// The data's height and width by RunSpec::config.data; a dataset missing here is of unknown
// size (its runs are left to the trainer).
using DataSizes = std::map<std::string, std::pair<std::int64_t, std::int64_t>>;

// Sets data_size and image_size of every run whose data size and model rule are known.
void resolve_image_sizes(std::vector<RunSpec>& runs, const DataSizes& data_sizes,
                         const InputSizeLookup& rule_of);

// What the models will see, one row per model and dataset: model, dataset, data_px, image_px,
// compute ((image / data)^2: the compute per image relative to the data's own size) and a note
// (upsampled, fixed size, refused: why and the fix; "?" where unknown).
Table image_size_table(const std::vector<RunSpec>& runs, const InputSizeLookup& rule_of);

// One line per dataset whose models see different sizes ("pneumonia: models see 28 to 240 px
// (auto); compute up to 73.5x the data's size"); empty when all see one size.
std::vector<std::string> image_size_notes(const std::vector<RunSpec>& runs);

// The runs that cannot run as planned (image_size->problem set), and the others.
std::vector<RunSpec> refused_runs(const std::vector<RunSpec>& runs);
std::vector<RunSpec> runnable_runs(const std::vector<RunSpec>& runs);

// "refused: densenet121 on pneumonia (2 runs): densenet121 needs ...: use image_size = 29 or
// \"auto\" (per model)", one line per model and dataset.
std::vector<std::string> refusal_lines(const std::vector<RunSpec>& runs);

}  // namespace pepr::sweep
