#include "sweep/image_sizes.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/format.hpp"

namespace pepr::sweep {

void resolve_image_sizes(std::vector<RunSpec>& runs, const DataSizes& data_sizes,
                         const InputSizeLookup& rule_of) {
  for (auto& r : runs) {
    r.data_size = 0;
    r.image_size.reset();
    const auto d = data_sizes.find(r.config.data);
    if (d == data_sizes.end()) continue;
    r.data_size = d->second.first;
    const auto rule = rule_of(r.config.model);
    if (!rule) continue;
    r.image_size = run::resolve_image_size(r.config.image_size, d->second.first, d->second.second,
                                           *rule, r.config.model, "image_size");
  }
}

namespace {

// Each model and dataset once, in plan order (regimes, fractions and seeds share a size).
std::vector<const RunSpec*> per_model_and_data(const std::vector<RunSpec>& runs) {
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<const RunSpec*> out;
  for (const auto& r : runs)
    if (seen.insert({r.config.model, r.dataset.name}).second) out.push_back(&r);
  return out;
}

std::size_t count_runs(const std::vector<RunSpec>& runs, const RunSpec& like) {
  return static_cast<std::size_t>(std::count_if(runs.begin(), runs.end(), [&](const RunSpec& r) {
    return r.config.model == like.config.model && r.dataset.name == like.dataset.name;
  }));
}

}  // namespace

Table image_size_table(const std::vector<RunSpec>& runs, const InputSizeLookup& rule_of) {
  Table t({"model", "dataset", "data_px", "min_px", "fixed_px", "image_px", "compute", "note"});
  for (const RunSpec* r : per_model_and_data(runs)) {
    const auto rule = rule_of(r->config.model);
    const std::string data = r->data_size > 0 ? std::to_string(r->data_size) : "?";
    const std::string min = rule ? std::to_string(rule->min) : "?";
    const std::string fixed = rule && rule->fixed ? std::to_string(*rule->fixed) : "";
    if (!r->image_size) {
      const std::string asked = run::to_string(r->config.image_size);
      t.add_row(
          {r->config.model, r->dataset.name, data, min, fixed, "?", "?",
           rule ? fmt::format("the data's size is known when it exists; image_size {}", asked)
                : fmt::format("no size rule known (not native): image_size {} as given", asked)});
      continue;
    }
    const run::ResolvedImageSize& s = *r->image_size;
    std::string note;
    if (!s.ok())
      note = "REFUSED: " + s.problem;
    else if (!r->config.image_size.is_auto())
      note = s.resize ? fmt::format("image_size = {}", r->config.image_size.px)
                      : "as stored (image_size = 0)";
    else if (s.resize)
      note = rule && rule->fixed ? "auto: its fixed size" : "auto: upsampled to its minimum";
    else
      note = "auto: as stored";
    t.add_row({r->config.model, r->dataset.name, data, min, fixed, std::to_string(s.size),
               fmt::format("{:.2f}x", run::relative_compute(s.size, r->data_size)), note});
  }
  return t;
}

std::vector<std::string> image_size_notes(const std::vector<RunSpec>& runs) {
  std::vector<std::string> notes;
  std::vector<std::string> datasets;
  for (const auto& r : runs)
    if (std::find(datasets.begin(), datasets.end(), r.dataset.name) == datasets.end())
      datasets.push_back(r.dataset.name);
  for (const auto& d : datasets) {
    std::int64_t lo = 0, hi = 0, data = 0;
    std::size_t n = 0;
    for (const auto& r : runs) {
      if (r.dataset.name != d || !r.image_size || !r.image_size->ok()) continue;
      const std::int64_t s = r.image_size->size;
      lo = n == 0 ? s : std::min(lo, s), hi = n == 0 ? s : std::max(hi, s), data = r.data_size;
      ++n;
    }
    if (n > 0 && lo != hi)
      notes.push_back(fmt::format(
          "{}: the models see different image sizes, {} to {} px (the data: {} px); compute per "
          "image up to {:.1f}x the data's size",
          d, lo, hi, data, run::relative_compute(hi, data)));
  }
  return notes;
}

std::vector<RunSpec> refused_runs(const std::vector<RunSpec>& runs) {
  std::vector<RunSpec> out;
  for (const auto& r : runs)
    if (r.image_size && !r.image_size->ok()) out.push_back(r);
  return out;
}

std::vector<RunSpec> runnable_runs(const std::vector<RunSpec>& runs) {
  std::vector<RunSpec> out;
  for (const auto& r : runs)
    if (!r.image_size || r.image_size->ok()) out.push_back(r);
  return out;
}

std::vector<std::string> refusal_lines(const std::vector<RunSpec>& runs) {
  const std::vector<RunSpec> refused = refused_runs(runs);
  std::vector<std::string> lines;
  for (const RunSpec* r : per_model_and_data(refused))
    lines.push_back(fmt::format(
        "refused, not started: {} on {} ({}): {}", r->config.model, r->dataset.name,
        plural(static_cast<long long>(count_runs(refused, *r)), "run"), r->image_size->problem));
  return lines;
}

}  // namespace pepr::sweep
