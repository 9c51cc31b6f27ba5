// The image size a model sees: `--image-size auto | 0 | N` resolved against the data's size and
// the model's input-size rule (its minimum and its fixed size). LibTorch-free: the sweep resolves
// every run before any starts (with the rules of zoo/input_sizes.hpp), the trainer resolves its
// one run with the built model's own rule; both through resolve_image_size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "run/config.hpp"

namespace pepr::run {

// What a model accepts: heights and widths from `min` up, or exactly `fixed` where it has one.
struct InputSizeRule {
  std::int64_t min = 1;
  std::optional<std::int64_t> fixed;
  bool operator==(const InputSizeRule&) const = default;
};

struct ResolvedImageSize {
  // The size the model sees (height = width, or the data's height when `resize` is false).
  std::int64_t size = 0;
  // Whether the images are resized (the trainer's --image-size N); false: as stored.
  bool resize = false;
  // Non-empty when the model cannot run at the asked size: what is wrong and the fix, e.g.
  // "densenet121 needs inputs of at least 29x29 pixels; image_size 28 is smaller: use
  // image_size = 29 or "auto"".
  std::string problem;
  bool ok() const { return problem.empty(); }
};

// `asked` for a model with `rule` on data of data_h x data_w pixels. auto: the data as stored when
// the model accepts it, else the smallest size it accepts (its fixed size where it has one);
// 0: as stored; N: N x N. `flag` names the option in the fix ("--image-size" or "image_size").
ResolvedImageSize resolve_image_size(ImageSize asked, std::int64_t data_h, std::int64_t data_w,
                                     const InputSizeRule& rule, const std::string& model,
                                     const std::string& flag = "--image-size");

// The compute of a model at `size` relative to the data's size: (size / data)^2.
double relative_compute(std::int64_t size, std::int64_t data_size);

}  // namespace pepr::run
