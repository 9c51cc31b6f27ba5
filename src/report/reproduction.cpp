#include "report/reproduction.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/pareto.hpp"
#include "core/score.hpp"
#include "core/stats.hpp"
#include "report/figures.hpp"

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

// The paper's central contrast (Fig. 5c and the Discussion): averaged over its three datasets,
// small and large, efficient and not, CNN and Other models do not differ in P, while small-scale
// ones score higher on PePR-E. Each model's values averaged over the main experiments, as Fig. 5c.
void contrast_claims(Claims& c, const ReportData& d) {
  const ModelMeans m = model_means(d);
  std::string over;
  for (std::size_t k : m.experiments) over += (over.empty() ? "" : ", ") + d.experiments[k].name;
  const std::string where = "Fig. 5c and the Discussion";
  struct Split {
    const char* claim;
    const char* a;
    const char* b;
    std::function<int(std::size_t)> side;  // 1: a, 0: b, -1: unknown
  };
  std::vector<Split> splits;
  if (d.has_params())
    splits.push_back(
        {"no difference in P between small-scale and large-scale models", "small", "large",
         [&](std::size_t i) {
           return std::isnan(m.params[i]) ? -1 : m.params[i] < SizeSplit::kPaperThreshold ? 1 : 0;
         }});
  if (!d.efficient.empty())
    splits.push_back({"no difference in P between efficient and other architectures", "efficient",
                      "other", [&](std::size_t i) { return d.efficient[m.rows[i]] == 1 ? 1 : 0; }});
  if (!d.type.empty())
    splits.push_back({"no difference in P between CNN and Other architectures", "CNN", "Other",
                      [&](std::size_t i) {
                        const std::string& t = d.type[m.rows[i]];
                        return t == "CNN" ? 1 : t == "Other" ? 0 : -1;
                      }});
  if (m.ids.empty() || m.experiments.size() < 2) {
    c.add(
        "no difference in P between small and large, efficient and other, CNN and Other "
        "models, averaged over the datasets",
        where, "no difference", "", kNa,
        "needs two or more experiments on all of their data, from pretrained weights where a "
        "pair has both, with the same models");
    return;
  }
  const std::string how = fmt::format(
      "Student t-test on each model's P averaged over {} ({} models; the paper's Fig. 5c)", over,
      m.ids.size());
  for (const auto& sp : splits) {
    std::vector<double> a, b;
    for (std::size_t i = 0; i < m.ids.size(); ++i) {
      const int side = sp.side(i);
      if (side == 1) a.push_back(m.p[i]);
      if (side == 0) b.push_back(m.p[i]);
    }
    if (a.size() < 2 || b.size() < 2) continue;
    const TTestResult t = student_t_test(a, b);
    c.add(sp.claim, where, "no difference",
          fmt::format("mean P {:.4f} ({}, {}) vs {:.4f} ({}, {}), p = {}", mean(a), sp.a, a.size(),
                      mean(b), sp.b, b.size(), p_text(t.p)),
          t.p >= 0.05 ? kHolds : kFails, how);
  }
  // ... while the small-scale ones score higher on PePR-E.
  if (!d.has_params()) return;
  const ScoreSeries& s = d.primary_score();
  std::vector<double> a, b;
  for (std::size_t i = 0; i < m.ids.size(); ++i) {
    if (std::isnan(m.params[i])) continue;
    (m.params[i] < SizeSplit::kPaperThreshold ? a : b).push_back(m.score[d.primary][i]);
  }
  if (a.size() < 2 || b.size() < 2) return;
  const TTestResult t = student_t_test(a, b);
  c.add(fmt::format("small-scale models score higher on {} than large-scale ones, averaged over "
                    "the datasets",
                    s.name),
        where, "higher",
        fmt::format("mean {:.4f} vs {:.4f}, p = {}", mean(a), mean(b), p_text(t.p)),
        mean(a) > mean(b) && t.p < 0.05 ? kHolds : kFails,
        fmt::format("Student t-test on each model's {} averaged over {}; R {}", s.name, over,
                    d.norm_label()));
}

// Fig. 8: every small-vs-large difference, in every experiment and score, is significant.
void every_size_difference_claim(Claims& c, const ReportData& d, const GroupTests& tests) {
  const char* claim =
      "small-scale and large-scale models differ on every PePR score in every "
      "experiment";
  std::size_t n = 0, significant = 0;
  std::string not_significant;
  for (const auto& e : d.experiments)
    for (const auto& s : d.scores) {
      const Comparison* cmp = find(tests, "size", e.name, s.spec.score_name);
      if (!cmp) continue;
      ++n;
      if (cmp->student.p < 0.05)
        ++significant;
      else
        not_significant += fmt::format("{}{} {} p = {}", not_significant.empty() ? "" : ", ",
                                       e.name, s.name, p_text(cmp->student.p));
    }
  if (n == 0) {
    c.add(claim, "Fig. 8", "p < 0.05 in every one", "", kNa, "no size comparison was made");
    return;
  }
  c.add(claim, "Fig. 8", "p < 0.05 in every one",
        fmt::format("{} of {} significant{}", significant, n,
                    not_significant.empty() ? "" : " (not: " + not_significant + ")"),
        significant == n ? kHolds : kFails,
        fmt::format("Student t-test per experiment and score, {}; figures/small_vs_large.svg",
                    d.small_text()));
}

// What the released data holds in total: the study's energy and CO2eq, its parameter range.
void totals_claims(Claims& c, const ReportData& d) {
  for (const auto& s : d.scores) {
    if (s.spec.kind != "energy" && s.spec.kind != "co2") continue;
    double total = 0;
    for (double v : s.raw)
      if (std::isfinite(v)) total += v;
    const bool energy = s.spec.kind == "energy";
    c.add(energy ? "the study's total training energy" : "the study's total CO2eq",
          "the released data", "(not stated in numbers we could check)",
          energy ? fmt::format("{:.2f} kWh over {} runs", total, s.raw.size())
                 : fmt::format("{:.2f} kg over {} runs", total / 1000, s.raw.size()),
          kInfo, fmt::format("sum of '{}' over every row", s.spec.column));
  }
  if (!d.has_params()) return;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (double v : d.params)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(hi > 0)) return;
  const bool close = lo >= 0.9e6 && lo <= 1.5e6 && hi >= 120e6 && hi <= 140e6;
  c.add("the models range from 1M to 130M parameters", "the paper's text", "1M - 130M",
        fmt::format("{:.2f}M - {:.1f}M", lo / 1e6, hi / 1e6), close ? kHolds : kFails,
        fmt::format("smallest and largest '{}' (within 10 % of the rounded values)",
                    d.params_column));
}

// Fig. 6: the knee of the Pareto front (P against normalised energy) is the model PePR-E ranks
// first.
void knee_claims(Claims& c, const ReportData& d) {
  const ScoreSeries& s = d.primary_score();
  for (const auto* e : full_data(d)) {
    std::vector<double> rr, pp;
    for (std::size_t r : e->rows) rr.push_back(s.norm[r]), pp.push_back(d.performance[r]);
    const auto front = pareto_front(rr, pp);
    const auto knee = knee_point(front, rr, pp);
    const std::string claim = fmt::format(
        "the knee of the Pareto front is the model {} ranks first: {}", s.name, e->name);
    if (!knee) {
      c.add(claim, "Fig. 6", "the knee", "", kNa, "a front of fewer than three models");
      continue;
    }
    const std::size_t k = e->rows[*knee];
    std::size_t best = e->rows.front();
    for (std::size_t r : e->rows)
      if (s.score[r] > s.score[best]) best = r;
    c.add(claim, "Fig. 6", "the knee",
          k == best ? fmt::format("{} {:.4f}", d.ids[k], s.score[k])
                    : fmt::format("knee {} {:.4f}, first {} {:.4f}", d.ids[k], s.score[k],
                                  d.ids[best], s.score[best]),
          k == best ? kHolds : kFails,
          fmt::format("core::knee_point of P against R ({}), the point farthest from the line "
                      "joining the front's ends",
                      d.norm_label()));
  }
}

}  // namespace

ReportTable reproduction_table(const ReportData& d, const GroupTests& tests) {
  Claims c;
  model_space_claims(c, d);
  table1_claims(c, d);
  pair_claims(c, d, tests);
  split_claims(c, d, tests);
  contrast_claims(c, d);
  every_size_difference_claim(c, d, tests);
  knee_claims(c, d);
  totals_claims(c, d);
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
