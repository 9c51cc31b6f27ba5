#include "run/image_size.hpp"

#include <fmt/format.h>

namespace pepr::run {

namespace {

bool accepts(const InputSizeRule& rule, std::int64_t h, std::int64_t w) {
  if (rule.fixed) return h == *rule.fixed && w == *rule.fixed;
  return h >= rule.min && w >= rule.min;
}

std::string fix_text(const InputSizeRule& rule, const std::string& flag) {
  const std::int64_t want = rule.fixed.value_or(rule.min);
  return flag == "image_size" ? fmt::format("use image_size = {} or \"auto\" (per model)", want)
                              : fmt::format("use {0} {1} or {0} auto", flag, want);
}

std::string need_text(const InputSizeRule& rule, const std::string& model) {
  return rule.fixed
             ? fmt::format("{} needs inputs of exactly {}x{} pixels", model, *rule.fixed,
                           *rule.fixed)
             : fmt::format("{} needs inputs of at least {}x{} pixels", model, rule.min, rule.min);
}

}  // namespace

ResolvedImageSize resolve_image_size(ImageSize asked, std::int64_t data_h, std::int64_t data_w,
                                     const InputSizeRule& rule, const std::string& model,
                                     const std::string& flag) {
  ResolvedImageSize r;
  if (asked.is_auto()) {
    if (accepts(rule, data_h, data_w)) {
      r.size = data_h;
      return r;
    }
    r.size = rule.fixed.value_or(rule.min);
    r.resize = true;
    return r;
  }
  if (asked.px == 0) {
    r.size = data_h;
    if (!accepts(rule, data_h, data_w))
      r.problem = fmt::format("{}; the data is {}x{} and {} 0 keeps it: {}", need_text(rule, model),
                              data_h, data_w, flag, fix_text(rule, flag));
    return r;
  }
  r.size = asked.px;
  r.resize = true;
  if (!accepts(rule, asked.px, asked.px))
    r.problem = fmt::format("{}; {} {} {}: {}", need_text(rule, model), flag, asked.px,
                            rule.fixed ? "is another size" : "is smaller", fix_text(rule, flag));
  return r;
}

double relative_compute(std::int64_t size, std::int64_t data_size) {
  if (data_size <= 0) return 1;
  const double f = static_cast<double>(size) / static_cast<double>(data_size);
  return f * f;
}

}  // namespace pepr::run
