// Sweep plans (TOML): parse_plan on the input, validate_plan against a small model list,
// expand_plan with a small model space (filters), and the guarantees of expansion: run IDs are
// unique and make_run_id's, and shards 0..N-1 cover the runs exactly once.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "fuzz_check.hpp"
#include "sweep/plan.hpp"

namespace {

const std::vector<pepr::sweep::ModelInfo>& model_space() {
  static const std::vector<pepr::sweep::ModelInfo> space = {
      {"resnet18", 11.7e6, "CNN", 0, true},      {"mobilenetv2_050", 1.97e6, "CNN", 1, true},
      {"ghostnet_100", 5.18e6, "CNN", 1, true},  {"mobilevit_s", 5.58e6, "Other", 1, true},
      {"nasnetalarge", 88.8e6, "CNN", 0, false},
  };
  return space;
}

// Runs the plan would expand to, an upper bound (before the filter and duplicates): a plan of
// a few KB can ask for billions of runs, which is its author's business, not a parser bug.
double expansion_bound(const pepr::sweep::Plan& p) {
  const double models = static_cast<double>(
      p.filter.any() && p.model_names.empty() ? model_space().size() : p.model_names.size());
  return static_cast<double>(p.datasets.size()) * models * static_cast<double>(p.regimes.size()) *
         static_cast<double>(p.train_fractions.size()) * static_cast<double>(p.seeds.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pepr::sweep;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Plan plan;
  try {
    plan = parse_plan(text, "fuzz.toml", "/nonexistent/pepr-fuzz");
  } catch (const pepr::Error&) {
    return 0;
  }
  std::vector<std::string> known;
  for (const auto& m : model_space()) known.push_back(m.name);
  try {
    validate_plan(plan, &known);
  } catch (const pepr::Error&) {
  }
  if (expansion_bound(plan) > 4096) return 0;
  std::vector<RunSpec> runs;
  try {
    runs = expand_plan(plan, "/nonexistent/pepr-fuzz-runs", &model_space());
  } catch (const pepr::Error&) {
    return 0;
  }
  std::set<std::string> ids;
  for (const auto& r : runs) {
    PEPR_FUZZ_CHECK(ids.insert(r.id).second, "run ID %s repeats", r.id.c_str());
    PEPR_FUZZ_CHECK(make_run_id(r) == r.id, "run %s: make_run_id gives another ID", r.id.c_str());
    (void)r.experiment();
    (void)r.config_json().dump();
  }
  for (int n : {1, 3}) {
    std::set<std::string> seen;
    std::size_t total = 0;
    for (int i = 0; i < n; ++i)
      for (const auto& r : select_shard(runs, Shard{i, n})) {
        ++total;
        PEPR_FUZZ_CHECK(seen.insert(r.id).second, "run %s in two of %d shards", r.id.c_str(), n);
      }
    PEPR_FUZZ_CHECK(total == runs.size(), "%d shards hold %zu of %zu runs", n, total, runs.size());
  }
  return 0;
}
