#include "report/tables.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/comparisons.hpp"
#include "core/error.hpp"
#include "core/robustness.hpp"
#include "report/svg.hpp"

namespace pepr::report {

namespace {

std::string num_or_empty(double v) {
  return std::isfinite(v) ? format_number(v) : "";
}

// A table with the same cells and other column names.
Table renamed(const Table& t, const std::vector<std::string>& names, const std::string& source) {
  Table out(names, source);
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    std::vector<std::string> row;
    for (std::size_t c = 0; c < t.num_columns(); ++c) row.emplace_back(t.cell(r, c));
    out.add_row(row);
  }
  return out;
}

const ScoreSeries* find_kind(const ReportData& d, const std::string& kind) {
  for (const auto& s : d.scores)
    if (s.spec.kind == kind) return &s;
  return nullptr;
}

}  // namespace

ReportTable top_table(const ReportData& d, std::size_t score, std::size_t top) {
  const ScoreSeries& s = d.scores.at(score);
  const ScoreSeries* energy = find_kind(d, "energy");
  const ScoreSeries* memory = find_kind(d, "memory");
  const ScoreSeries* time = find_kind(d, "time");
  const bool own = s.spec.kind != "energy" && s.spec.kind != "memory" && s.spec.kind != "time";

  std::vector<std::string> cols{"experiment", "rank", "selected_by", "model"};
  std::vector<std::string> view{"experiment", "rank", "by", "model"};
  if (!d.type.empty()) cols.push_back("type"), view.push_back("type");
  if (!d.efficient.empty()) cols.push_back("efficient"), view.push_back("eff.");
  if (d.has_params()) cols.push_back("params_m"), view.push_back("params (M)");
  if (memory) cols.push_back("memory_gb"), view.push_back("memory (GB)");
  if (energy) cols.push_back("energy_wh"), view.push_back("energy (Wh)");
  // Energies with their measured bounds (pepr's records), and the score's interval under the
  // ranking's error basis (core/robustness.hpp).
  std::optional<ResourceBounds> energy_range;
  if (energy && energy->merged.empty())
    energy_range = measured_bounds(d.scored.table, energy->spec);
  if (energy_range) cols.push_back("energy_wh_lo"), cols.push_back("energy_wh_hi");
  std::optional<ResourceBounds> score_basis;
  std::optional<ScoreBounds> score_range;
  if (s.merged.empty() && (s.spec.kind == "energy" || s.spec.kind == "co2"))
    if ((score_basis = resource_bounds(d.scored.table, s.spec, d.norm, std::nullopt)))
      score_range = pepr_bounds(d.performance, *score_basis, d.scored.groups, d.norm, d.alpha);
  if (energy_range) view.push_back("energy within (Wh)");
  if (time) cols.push_back("time_s"), view.push_back("time (s)");
  if (own) {
    cols.push_back(s.spec.column);
    view.push_back(s.unit.empty() ? s.resource : fmt::format("{} ({})", s.resource, s.unit));
  }
  cols.push_back("P");
  view.push_back("P");
  cols.push_back(s.spec.score_name);
  view.push_back(s.name);
  if (score_range) {
    cols.push_back(s.spec.score_name + "_lo"), cols.push_back(s.spec.score_name + "_hi");
    view.push_back(s.name + " within");
  }
  const bool caveats = !d.caveats.empty();
  if (caveats) cols.push_back("caveats"), view.push_back("caveats");

  ReportTable out;
  out.name = "top_" + s.spec.score_name;
  out.title = fmt::format("Top {} models by {} per experiment, and the best by performance alone",
                          top, s.name);
  out.data = Table(cols, out.name);
  auto add = [&](const std::string& exp, std::size_t rank, const std::string& by, std::size_t r) {
    std::vector<std::string> row{exp, std::to_string(rank), by, d.ids[r]};
    if (!d.type.empty()) row.push_back(d.type[r]);
    if (!d.efficient.empty()) row.push_back(std::to_string(d.efficient[r]));
    if (d.has_params()) row.push_back(num_or_empty(d.params[r] / 1e6));
    if (memory) row.push_back(format_number(memory->raw[r]));
    if (energy) row.push_back(format_number(energy->raw[r] * 1000.0));
    if (energy_range) {
      row.push_back(format_number(energy_range->lo[r] * 1000.0));
      row.push_back(format_number(energy_range->hi[r] * 1000.0));
    }
    if (time) row.push_back(format_number(time->raw[r]));
    if (own) row.push_back(format_number(s.raw[r]));
    row.push_back(format_number(d.performance[r]));
    row.push_back(format_number(s.score[r]));
    if (score_range) {
      row.push_back(format_number(score_range->lo[r]));
      row.push_back(format_number(score_range->hi[r]));
    }
    if (caveats) row.push_back(d.caveats[r]);
    out.data.add_row(row);
  };
  auto order = rank_rows(s.score, d.scored.groups, 0);
  std::vector<std::size_t> rank_of(d.ids.size(), 0);
  {
    std::vector<std::size_t> seen(d.experiments.size(), 0);
    for (std::size_t r : order) rank_of[r] = ++seen[d.scored.groups.group_of[r]];
  }
  for (std::size_t e = 0; e < d.experiments.size(); ++e) {
    const auto& exp = d.experiments[e];
    std::size_t taken = 0;
    for (std::size_t r : order)
      if (d.scored.groups.group_of[r] == e && taken < top) {
        add(exp.name, rank_of[r], s.spec.score_name, r);
        ++taken;
      }
    // The best by P alone: every model tied at the highest P.
    double best = exp.rows.empty() ? 0 : d.performance[exp.rows.front()];
    for (std::size_t r : exp.rows) best = std::max(best, d.performance[r]);
    for (std::size_t r : exp.rows)
      if (d.performance[r] == best) add(exp.name, rank_of[r], "P", r);
  }
  // The view says "best P" rather than the machine's "P".
  {
    Table v(view, out.name);
    for (std::size_t r = 0; r < out.data.num_rows(); ++r) {
      std::vector<std::string> row;
      for (std::size_t c = 0; c < out.data.num_columns(); ++c) {
        std::string cell(out.data.cell(r, c));
        if (c == 2) cell = cell == "P" ? "best P" : s.name;
        // A bounds pair is one cell of the view: "lo-hi".
        const std::string& name = out.data.column_name(c);
        if ((name == "energy_wh_lo" || name == s.spec.score_name + "_lo") &&
            c + 1 < out.data.num_columns())
          cell += "-" + std::string(out.data.cell(r, ++c));
        row.push_back(cell);
      }
      v.add_row(row);
    }
    out.view = std::move(v);
  }
  out.normalisation = d.norm_text(s);
  out.paper = s.spec.kind == "energy" ? "Table 1" : "";
  out.caption = fmt::format(
      "Per experiment, the {} models with the highest {} = P / (1 + R), then the model with the "
      "best performance P alone ({}; every model tied there) and its rank by {}: the layout of "
      "the paper's Table 1; R {}.{}{}",
      top, s.name, d.performance_label, s.name, d.norm_label(),
      energy ? std::string(" Energy is shown in Wh (the input's kWh x 1000).") +
                   (energy_range ? " 'energy within': its measured bounds, systematic error "
                                   "included (docs/meters.md)."
                                 : "")
             : std::string(),
      d.has_params() ? fmt::format(" Parameters in millions ('{}').", d.params_column) : "");
  out.notes.push_back(fmt::format("P = {}", d.performance_label));
  out.notes.push_back(fmt::format("{} = P / (1 + R); {}", s.name, out.normalisation));
  if (score_range)
    out.notes.push_back(
        fmt::format("'{} within': the score when every run's {} moves within its error ({}), the "
                    "normalisation's bounds with them",
                    s.name, s.resource, score_basis->basis));
  if (d.alpha != 1.0)
    out.notes.push_back(fmt::format("scaled PePR: {0} * P / ({0} + R)", format_number(d.alpha)));
  out.notes.insert(out.notes.end(), d.caveat_notes.begin(), d.caveat_notes.end());
  if (!s.note.empty()) {
    out.notes.push_back(s.note);
    out.caption += " Note: " + s.note + ".";
  }
  if (caveats) out.caption += fmt::format(" Caveats: {}.", fmt::join(d.caveat_notes, "; "));
  return out;
}

GroupTests group_tests(const ReportData& d) {
  GroupTests out;
  // The compared values: P, then every score.
  struct Value {
    std::string name;
    const std::vector<double>* v;
  };
  std::vector<Value> values{{"P", &d.performance}};
  for (const auto& s : d.scores) values.push_back({s.spec.score_name, &s.score});

  auto run = [&](const std::string& name, const std::string& group, const std::string& value,
                 const std::string& la, const std::vector<double>& a, const std::string& lb,
                 const std::vector<double>& b) -> Comparison* {
    try {
      Comparison c = compare_groups(name, la, a, lb, b);
      c.group = group;
      c.value = value;
      out.comparisons.push_back(std::move(c));
      return &out.comparisons.back();
    } catch (const Error& e) {
      out.notes.push_back(fmt::format("{} ({}, {}): left out: {}", name, group, value, e.what()));
      return nullptr;
    }
  };

  for (const auto& exp : d.experiments) {
    // Small vs large.
    if (d.has_params() && !std::isnan(exp.size_cut)) {
      for (const auto& val : values) {
        std::vector<double> a, b;
        for (std::size_t r : exp.rows) {
          if (std::isnan(d.params[r])) continue;
          (d.is_small(r) ? a : b).push_back((*val.v)[r]);
        }
        run("size", exp.name, val.name, "small (" + d.size_split.label(exp.size_cut) + ")", a,
            "large", b);
      }
    }
    // CNN vs Other.
    if (!d.type.empty()) {
      std::set<std::string> kinds;
      for (std::size_t r : exp.rows) kinds.insert(d.type[r]);
      if (kinds.size() == 2) {
        const std::string ta = *kinds.begin(), tb = *std::next(kinds.begin());
        for (const auto& val : values) {
          std::vector<double> a, b;
          for (std::size_t r : exp.rows) (d.type[r] == ta ? a : b).push_back((*val.v)[r]);
          run("type", exp.name, val.name, "type=" + ta, a, "type=" + tb, b);
        }
      } else {
        out.notes.push_back(fmt::format("type ({}): left out: {} distinct types, the test needs 2",
                                        exp.name, kinds.size()));
      }
    }
    // Efficient vs not.
    if (!d.efficient.empty()) {
      for (const auto& val : values) {
        std::vector<double> a, b;
        for (std::size_t r : exp.rows) (d.efficient[r] ? a : b).push_back((*val.v)[r]);
        run("efficient", exp.name, val.name, "efficient=1", a, "efficient=0", b);
      }
    }
  }
  // Experiment pairs.
  auto pairs = [&](const std::vector<ExperimentPair>& ps, const std::string& name) {
    for (const auto& p : ps) {
      const auto& ea = d.experiments[d.experiment_index(p.a)];
      const auto& eb = d.experiments[d.experiment_index(p.b)];
      // P as it is; the scores with R normalised jointly over the pair (within each experiment,
      // each has its own R_max and their scores cannot be compared).
      std::vector<std::vector<double>> joint;
      for (const auto& s : d.scores) joint.push_back(d.joint_score(s, p));
      std::vector<Value> pair_values{{"P", &d.performance}};
      for (std::size_t i = 0; i < d.scores.size(); ++i)
        pair_values.push_back({joint_value_name(d.scores[i]), &joint[i]});
      for (const auto& val : pair_values) {
        std::vector<double> a, b;
        std::map<std::string, std::vector<double>> ma, mb;
        for (std::size_t r : ea.rows) a.push_back((*val.v)[r]), ma[d.ids[r]].push_back((*val.v)[r]);
        for (std::size_t r : eb.rows) b.push_back((*val.v)[r]), mb[d.ids[r]].push_back((*val.v)[r]);
        Comparison* c = run(name, p.a + " vs " + p.b, val.name, p.a, a, p.b, b);
        if (!c) continue;
        std::vector<double> pa, pb;
        for (const auto& [id, va] : ma)
          if (auto it = mb.find(id); it != mb.end() && va.size() == 1 && it->second.size() == 1)
            pa.push_back(va[0]), pb.push_back(it->second[0]);
        if (pa.size() >= 2) {
          c->paired = true;
          c->n_paired = pa.size();
          c->paired_t = paired_t_test(pa, pb);
        }
      }
    }
  };
  pairs(d.pretrain_pairs, "pretrained vs scratch");
  pairs(d.fraction_pairs, "10% vs 100% data");
  // The paper's Fig. 5b: one test on each model's P averaged over the datasets, 10 % vs 100 %.
  if (d.fraction_pairs.size() >= 2) {
    std::map<std::string, std::vector<double>> small, full;
    for (const auto& p : d.fraction_pairs) {
      for (std::size_t r : d.experiments[d.experiment_index(p.a)].rows)
        small[d.ids[r]].push_back(d.performance[r]);
      for (std::size_t r : d.experiments[d.experiment_index(p.b)].rows)
        full[d.ids[r]].push_back(d.performance[r]);
    }
    const std::size_t k = d.fraction_pairs.size();
    std::vector<double> a, b;
    for (const auto& [id, v] : small)
      if (auto it = full.find(id); it != full.end() && v.size() == k && it->second.size() == k) {
        a.push_back(mean(v));
        b.push_back(mean(it->second));
      }
    Comparison* c =
        run(kPooledFractionTest, pooled_fraction_group(d), "P", fmt::format("10 % (mean of {})", k),
            a, fmt::format("100 % (mean of {})", k), b);
    if (c && a.size() >= 2) {
      c->paired = true;
      c->n_paired = a.size();
      c->paired_t = paired_t_test(a, b);
    }
  }
  return out;
}

std::string joint_value_name(const ScoreSeries& s) {
  return s.spec.score_name + "_joint";
}

std::string pooled_fraction_group(const ReportData& d) {
  std::string a, b;
  for (const auto& p : d.fraction_pairs) {
    a += (a.empty() ? "" : "+") + p.a;
    b += (b.empty() ? "" : "+") + p.b;
  }
  return a + " vs " + b;
}

ReportTable tests_table(const ReportData& d, const GroupTests& tests) {
  ReportTable out;
  out.name = "tests";
  out.title = "Group tests";
  out.data = comparisons_table(tests.comparisons);
  out.data = renamed(
      out.data,
      [&] {
        auto names = out.data.column_names();
        names[0] = "experiment";
        return names;
      }(),
      "tests");
  std::vector<std::size_t> keep;
  // The p-values next to what they test, so that they are on screen without scrolling.
  for (const char* c :
       {"experiment", "comparison", "value", "p_student", "p_welch", "p_mannwhitney", "p_paired",
        "a", "n_a", "median_a", "b", "n_b", "median_b"})
    keep.push_back(out.data.require_column(c));
  out.view = out.data.select_columns(keep);
  out.normalisation =
      "P is not normalised; within an experiment, " + d.norm_text() +
      "; between the two experiments of a pair, the scores' R is normalised jointly over both "
      "(values ending _joint)";
  out.caption = fmt::format(
      "Two-sided tests between two groups of models: small vs large (small-scale: {}), CNN vs "
      "Other, efficient vs not, pretrained vs from scratch and 10 % vs 100 % of the training "
      "data (P, and the scores with R normalised jointly over the pair: a score normalised "
      "within each experiment has that experiment's own bounds and cannot be compared with "
      "another's){}. p_student: two-sample Student t-test (equal variances, as the paper); "
      "p_welch: Welch's t-test; p_mannwhitney: Mann-Whitney U; p_paired: paired t-test over the "
      "models present once in both experiments. Between the two experiments of a pair, the "
      "scores' R is normalised jointly over both (values ending _joint).",
      d.small_text(),
      d.fraction_pairs.size() >= 2
          ? "; '" + std::string(kPooledFractionTest) +
                "' tests each model's P averaged over the 10 % experiments against its average "
                "over the 100 % ones (the paper's Fig. 5b)"
          : "");
  out.notes = tests.notes;
  out.notes.insert(out.notes.begin(),
                   "two-sided p-values: Student t (equal variances, as the paper), Welch t, "
                   "Mann-Whitney U; paired t over the models in both experiments");
  return out;
}

ReportTable scores_table(const ReportData& d) {
  std::vector<std::string> cols{"experiment", "model"};
  std::vector<std::string> view{"experiment", "model"};
  if (d.has_params()) cols.push_back("params_m"), view.push_back("params (M)");
  cols.push_back("P");
  view.push_back("P");
  for (const auto& s : d.scores) {
    cols.push_back(s.spec.column);
    view.push_back(s.unit.empty() ? s.resource : fmt::format("{} ({})", s.resource, s.unit));
    cols.push_back(s.spec.norm_name);
    view.push_back(s.spec.norm_name);
    cols.push_back(s.spec.score_name);
    view.push_back(s.name);
  }
  ReportTable out;
  out.name = "scores";
  out.title = "Every model with its scores";
  out.data = Table(cols, "scores");
  for (std::size_t r = 0; r < d.ids.size(); ++r) {
    std::vector<std::string> row{d.experiments[d.scored.groups.group_of[r]].name, d.ids[r]};
    if (d.has_params()) row.push_back(num_or_empty(d.params[r] / 1e6));
    row.push_back(format_number(d.performance[r]));
    for (const auto& s : d.scores) {
      row.push_back(format_number(s.raw[r]));
      row.push_back(format_number(s.norm[r]));
      row.push_back(format_number(s.score[r]));
    }
    out.data.add_row(row);
  }
  out.view = renamed(out.data, view, "scores");
  out.normalisation = d.norm_text();
  out.caption = fmt::format(
      "Every row of the input with P ({}), and per resource the raw value, R and the score.",
      d.performance_label);
  return out;
}

}  // namespace pepr::report
