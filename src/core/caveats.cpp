#include "core/caveats.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace pepr {

bool Caveats::any_row() const {
  return std::any_of(per_row.begin(), per_row.end(), [](const auto& s) { return !s.empty(); });
}

namespace {

void flag(std::string& row, const char* what) {
  row += (row.empty() ? "" : "; ") + std::string(what);
}

bool ranks_energy(const ScoreOptions& o) {
  for (const auto& r : o.resources)
    if (r.kind == "energy" || r.kind == "co2" || r.column.rfind("energy", 0) == 0 ||
        r.column.rfind("co2", 0) == 0)
      return true;
  return false;
}

// Rows normalised together (one group) whose `column` differs: one warning per such group.
void differing(const Table& t, const ScoreResult& res, const char* column, const char* what,
               Caveats& out) {
  auto c = t.find_column(column);
  if (!c) return;
  std::map<std::size_t, std::set<std::string>> values;
  // A row without one (another table's) is not counted: nothing says it differs.
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    if (!t.is_missing(r, *c)) values[res.groups.group_of[r]].emplace(t.cell(r, *c));
  for (const auto& [g, v] : values)
    if (v.size() > 1) {
      const std::string where =
          res.groups.names.size() > 1 ? fmt::format(" in '{}'", res.groups.names[g]) : "";
      out.notes.push_back(fmt::format(
          "rows scored together{} have different {} ({}: {}): their energy_kwh and co2_g are "
          "not on one footing; score them apart or measure them alike",
          where, what, column, fmt::join(v, ", ")));
    }
}

}  // namespace

Caveats score_caveats(const ScoreResult& res, const ScoreOptions& o) {
  const Table& t = res.table;
  const std::size_t n = t.num_rows();
  Caveats out;
  out.per_row.assign(n, "");

  if (auto m = t.find_column("energy_method"); m && ranks_energy(o)) {
    std::size_t estimated = 0;
    for (std::size_t r = 0; r < n; ++r)
      if (t.cell(r, *m).find("estimate") != std::string_view::npos)
        ++estimated, flag(out.per_row[r], "energy estimate");
    if (estimated > 0)
      out.notes.push_back(fmt::format(
          "energy of {} of {} rows is an estimate (energy_method: no energy sensor, CPU time x a "
          "power model, docs/meters.md){}",
          estimated, n,
          estimated < n ? ": ranked beside measured energies, which it is not comparable with"
                        : ": comparable between runs on the same machine only"));
  }

  if (auto b = t.find_column("others_busy_cores")) {
    std::size_t loaded = 0;
    double most = 0;
    for (std::size_t r = 0; r < n; ++r) {
      auto v = parse_number(t.cell(r, *b));
      if (v && *v >= kLoadedBusyCores)
        ++loaded, most = std::max(most, *v), flag(out.per_row[r], "loaded machine");
    }
    if (loaded > 0)
      out.notes.push_back(fmt::format(
          "LOADED MACHINE: {} of {} rows ran while other processes kept up to {:.1f} CPUs busy "
          "(others_busy_cores): their time and energy are inflated",
          loaded, n, most));
  }

  if (auto c = t.find_column("chance_accuracy")) {
    std::vector<std::string> at;
    for (std::size_t r = 0; r < n; ++r) {
      auto chance = parse_number(t.cell(r, *c));
      if (chance && at_chance_level(res.performance[r], *chance)) {
        flag(out.per_row[r], "at chance");
        at.push_back(
            fmt::format("{} <= {}", format_number(res.performance[r]), format_number(*chance)));
      }
    }
    if (!at.empty())
      out.notes.push_back(fmt::format(
          "{} of {} rows perform at chance (P at most chance_accuracy + {}, the largest class's "
          "share, what predicting that class for every image scores: {}): a model that learnt "
          "nothing can still rank high on PePR",
          at.size(), n, format_number(kChanceMargin), fmt::join(at, ", ")));
  }

  differing(t, res, "pue", "PUE", out);
  differing(t, res, "country", "grid carbon intensity", out);
  return out;
}

std::string unit_not_in_name(const std::string& column) {
  static const std::pair<const char*, const char*> kUnits[] = {
      {"energy", "kWh"}, {"co2", "g"}, {"train_time", "s"}, {"memR", "GB"}};
  for (const auto& [name, unit] : kUnits)
    if (column == name) return unit;
  return "";
}

}  // namespace pepr
