#include "report/reproduction.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/score.hpp"
#include "core/stats.hpp"

namespace pepr::report {

namespace {

constexpr const char* kHolds = "holds";
constexpr const char* kFails = "does not hold";
constexpr const char* kNa = "not applicable";
constexpr const char* kInfo = "information";

std::string p_text(double p) {
  return std::isnan(p) ? "n/a" : fmt::format("{:.2g}", p);
}

struct Claims {
  Table t{{"claim", "where", "paper", "pepr", "verdict", "how"}, "reproduction"};
  void add(const std::string& claim, const std::string& where, const std::string& paper,
           const std::string& pepr, const char* verdict, const std::string& how) {
    t.add_row({claim, where, paper, pepr, verdict, how});
  }
};

// The first row of each distinct model, in order of appearance.
std::vector<std::size_t> model_rows(const ReportData& d) {
  std::set<std::string> seen;
  std::vector<std::size_t> out;
  for (std::size_t r = 0; r < d.ids.size(); ++r)
    if (seen.insert(d.ids[r]).second) out.push_back(r);
  return out;
}

const Comparison* find(const GroupTests& tests, const std::string& name, const std::string& group,
                       const std::string& value) {
  for (const auto& c : tests.comparisons)
    if (c.name == name && c.group == group && c.value == value) return &c;
  return nullptr;
}

void model_space_claims(Claims& c, const ReportData& d) {
  const auto rows = model_rows(d);
  c.add("the model space has 131 architectures", "the paper's text and model table", "131",
        std::to_string(rows.size()), rows.size() == 131 ? kHolds : kFails,
        fmt::format("distinct '{}' values", d.id_column));
  if (d.type.empty()) {
    c.add("80 CNN and 51 Other architectures", "the paper's model table", "80 / 51", "", kNa,
          "the table has no 'type' column");
  } else {
    std::size_t cnn = 0;
    for (std::size_t r : rows) cnn += d.type[r] == "CNN";
    const std::size_t other = rows.size() - cnn;
    c.add("80 CNN and 51 Other architectures", "the paper's model table", "80 / 51",
          fmt::format("{} / {}", cnn, other), cnn == 80 && other == 51 ? kHolds : kFails,
          "distinct models by 'type'");
  }
  if (d.efficient.empty()) {
    c.add("31 efficient architectures", "the paper's model table", "31", "", kNa,
          "the table has no 'efficient' column");
  } else {
    std::size_t eff = 0;
    for (std::size_t r : rows) eff += d.efficient[r];
    c.add("31 efficient architectures", "the paper's model table", "31", std::to_string(eff),
          eff == 31 ? kHolds : kFails, "distinct models with efficient = 1");
  }
  if (!d.has_params()) {
    c.add("median model size 24.6M parameters", "the paper's text", "24.6M", "", kNa,
          "the table has no parameter counts");
    return;
  }
  std::vector<double> p;
  for (std::size_t r : rows)
    if (!std::isnan(d.params[r])) p.push_back(d.params[r]);
  const double med = p.empty() ? std::nan("") : median(p);
  c.add("median model size 24.6M parameters", "the paper's text", "24.6M",
        fmt::format("{:.2f}M", med / 1e6), std::abs(med - 24.6e6) < 0.1e6 ? kHolds : kFails,
        fmt::format("median of the distinct models' '{}' (the paper truncates 24.67M)",
                    d.params_column));
  std::size_t small = 0;
  for (double v : p) small += v < SizeSplit::kPaperThreshold;
  c.add("splitting at 24.6M gives 65 small-scale and 66 large-scale models",
        "the paper's code (num_param < 24.6e6)", "65 / 66",
        fmt::format("{} / {}", small, p.size() - small),
        small == 65 && p.size() - small == 66 ? kHolds : kFails,
        "distinct models with fewer than 24.6e6 parameters / the rest");
}

void table1_claims(Claims& c, const ReportData& d) {
  const ScoreSeries* e = nullptr;
  for (const auto& s : d.scores)
    if (s.spec.kind == "energy") e = &s;
  const std::size_t ei = d.experiment_index("derma_pt");
  const char* claim = "Table 1: the best model by PePR-E on derma_pt is ghostnet_100";
  if (!e || ei == static_cast<std::size_t>(-1)) {
    c.add(claim, "Table 1", "ghostnet_100 0.8027 (R = E / E_max)", "", kNa,
          !e ? "no energy column was scored" : "the table has no experiment 'derma_pt'");
    return;
  }
  const auto& g = d.scored.groups;
  for (int zero = 1; zero >= 0; --zero) {
    Normalization n;
    n.kind = zero ? Normalization::Kind::Zero : Normalization::Kind::MinMax;
    auto r_norm = normalize(e->raw, g.group_of, g.names.size(), n);
    std::size_t best = d.experiments[ei].rows.front();
    double best_v = -1;
    for (std::size_t r : d.experiments[ei].rows) {
      double v = pepr_score(d.performance[r], r_norm[r], 1.0);
      if (v > best_v) best_v = v, best = r;
    }
    const std::string pepr = fmt::format("{} {:.4f}", d.ids[best], best_v);
    if (zero)
      c.add(claim, "Table 1 as printed", "ghostnet_100 0.8027", pepr,
            d.ids[best] == "ghostnet_100" && std::abs(best_v - 0.8027) < 5e-5 ? kHolds : kFails,
            fmt::format("R = E / E_max within derma_pt (pepr report --norm zero), P = {}",
                        d.performance_label));
    else
      c.add(claim + std::string(", min-max"), "the authors' released scores and notebook",
            "ghostnet_100 0.8348", pepr,
            d.ids[best] == "ghostnet_100" && std::abs(best_v - 0.8348) < 5e-5 ? kHolds : kFails,
            fmt::format("R = (E - E_min) / (E_max - E_min) within derma_pt (pepr's default), "
                        "P = {}; the printed table and the released scores disagree",
                        d.performance_label));
  }
}

void pair_claims(Claims& c, const ReportData& d, const GroupTests& tests) {
  const Comparison* pre = nullptr;
  for (const auto& p : d.pretrain_pairs)
    if (p.a == "derma_pt" && p.b == "derma")
      pre = find(tests, "pretrained vs scratch", p.a + " vs " + p.b, "P");
  const char* claim = "pretrained models reach a higher test performance than from scratch";
  if (!pre)
    c.add(claim, "Fig. 5a", "p < 0.001", "", kNa,
          "needs the experiments derma_pt and derma (with two models or more each)");
  else
    c.add(claim, "Fig. 5a", "p < 0.001",
          fmt::format("mean P {:.4f} vs {:.4f}, p = {}", pre->mean_a, pre->mean_b,
                      p_text(pre->student.p)),
          pre->student.p < 0.001 && pre->mean_a > pre->mean_b ? kHolds : kFails,
          "Student t-test on P, derma_pt vs derma, all models of each");
  const Comparison* frac = d.fraction_pairs.size() >= 2
                               ? find(tests, kPooledFractionTest, pooled_fraction_group(d), "P")
                               : nullptr;
  claim = "100 % of the training data gives a higher test performance than 10 %";
  if (!frac)
    c.add(claim, "Fig. 5b", "p < 0.001", "", kNa, "needs two or more 10 % / 100 % pairs");
  else
    c.add(claim, "Fig. 5b", "p < 0.001",
          fmt::format("mean P {:.4f} (100 %) vs {:.4f} (10 %), p = {}", frac->mean_b, frac->mean_a,
                      p_text(frac->student.p)),
          frac->student.p < 0.001 && frac->mean_b > frac->mean_a ? kHolds : kFails,
          fmt::format("Student t-test on each model's P averaged over {} vs over {}",
                      pooled_fraction_group(d).substr(pooled_fraction_group(d).find(" vs ") + 4),
                      pooled_fraction_group(d).substr(0, pooled_fraction_group(d).find(" vs "))));
}

// Experiments on all of their dataset's data (the paper's four main ones: derma_pt, derma, lidc,
// pneumonia).
std::vector<const Experiment*> full_data(const ReportData& d) {
  std::vector<std::string> names;
  for (const auto& e : d.experiments) names.push_back(e.name);
  std::vector<const Experiment*> out;
  for (const auto& e : d.experiments)
    if (full_data_experiment(e.name, names) == e.name) out.push_back(&e);
  return out;
}

void split_claims(Claims& c, const ReportData& d, const GroupTests& tests) {
  const ScoreSeries& s = d.primary_score();
  const auto exps = full_data(d);
  // Small vs large, per experiment.
  for (const auto* e : exps) {
    const std::string claim = fmt::format(
        "small-scale models score higher on {} than large-scale ones: {}", s.name, e->name);
    const Comparison* cmp = find(tests, "size", e->name, s.spec.score_name);
    if (!cmp) {
      c.add(claim, "the paper's text; Figs. 5d, 7", "higher", "", kNa,
            "no size comparison (parameter counts missing, or fewer than two models a side)");
      continue;
    }
    c.add(claim, "the paper's text; Figs. 5d, 7", "higher",
          fmt::format("median {:.4f} vs {:.4f}, p = {}", cmp->median_a, cmp->median_b,
                      p_text(cmp->student.p)),
          cmp->median_a > cmp->median_b && cmp->student.p < 0.05 ? kHolds : kFails,
          fmt::format("Student t-test, {}; R {} (the glossary)", d.small_text(), d.norm_label()));
  }
  // "No consistent difference": CNN vs Other, efficient vs not.
  for (const char* split : {"type", "efficient"}) {
    const std::string claim =
        fmt::format("no consistent difference in {} between {}", s.name,
                    std::string(split) == "type" ? "CNN and Other architectures"
                                                 : "efficient and other architectures");
    std::string values;
    std::size_t n = 0, significant = 0, higher_a = 0;
    for (const auto* e : exps) {
      const Comparison* cmp = find(tests, split, e->name, s.spec.score_name);
      if (!cmp) continue;
      ++n;
      significant += cmp->student.p < 0.05;
      higher_a += cmp->mean_a > cmp->mean_b;
      values +=
          fmt::format("{}{} p = {}", values.empty() ? "" : ", ", e->name, p_text(cmp->student.p));
    }
    if (n == 0) {
      c.add(claim, "the paper's text", "no consistent difference", "", kNa,
            fmt::format("no '{}' comparison in the full-data experiments", split));
      continue;
    }
    const bool consistent = significant == n && (higher_a == n || higher_a == 0);
    c.add(claim, "the paper's text", "no consistent difference",
          fmt::format("{} of {} significant ({})", significant, n, values),
          consistent ? kFails : kHolds,
          fmt::format("Student t-test on {} in each experiment on all of its data; "
                      "'consistent' = significant in every one, same direction",
                      s.name));
  }
}

}  // namespace

ReportTable reproduction_table(const ReportData& d, const GroupTests& tests) {
  Claims c;
  model_space_claims(c, d);
  table1_claims(c, d);
  pair_claims(c, d, tests);
  split_claims(c, d, tests);
  ReportTable out;
  out.name = "reproduction";
  out.title = "Reproducing the paper's claims";
  out.data = c.t;
  out.view = c.t;
  out.normalisation =
      "as each row's 'how' says: the Table 1 rows compute both conventions (R = E / E_max as "
      "printed, min-max as released) whatever --norm is; the other score rows use the report's (" +
      d.norm_text(d.primary_score()) + ")";
  out.caption =
      "Every quantitative claim of the paper that its released data can check: the paper's "
      "value, pepr's value on this table and whether the claim holds. Claims that need the "
      "paper's experiments (derma_pt, derma, the 10 % experiments) or columns (type, efficient, "
      "parameters) are marked not applicable when the table lacks them. Beyond the paper's own "
      "code.";
  return out;
}

}  // namespace pepr::report
