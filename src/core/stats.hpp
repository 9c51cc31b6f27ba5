// Two-sample tests (Student, Welch, paired t; Mann-Whitney U) with p-values from Boost.Math,
// and the ready-made comparisons of the PePR paper.
#pragma once

#include <string>
#include <vector>

namespace pepr {

double mean(const std::vector<double>& x);
double median(std::vector<double> x);
// Sample variance (denominator n - 1).
double sample_variance(const std::vector<double>& x);
// Quantile with linear interpolation (numpy's default), q in [0, 1]; NaN for no values.
double quantile(std::vector<double> x, double q);

// Gaussian kernel density estimation (the report's violins).
// Silverman's rule of thumb: 0.9 * min(sd, IQR / 1.34) * n^(-1/5) (sd alone when the IQR is
// 0); 0 for fewer than two values.
double silverman_bandwidth(const std::vector<double>& x);
// The density at each of `at` (integrates to 1); zeros for no values or a bandwidth <= 0.
std::vector<double> gaussian_kde(const std::vector<double>& x, double bandwidth,
                                 const std::vector<double>& at);

struct TTestResult {
  double t = 0, df = 0, p = 1;  // two-sided p-value
};
// Two-sample Student t-test assuming equal variances (scipy.stats.ttest_ind's default).
TTestResult student_t_test(const std::vector<double>& a, const std::vector<double>& b);
// Welch's unequal-variance t-test (ttest_ind with equal_var=False).
TTestResult welch_t_test(const std::vector<double>& a, const std::vector<double>& b);
// Paired t-test on a[i] - b[i] (scipy.stats.ttest_rel).
TTestResult paired_t_test(const std::vector<double>& a, const std::vector<double>& b);

struct MannWhitneyResult {
  double u = 0;  // U statistic of the first sample
  double p = 1;  // two-sided
  bool exact = false;
};
// Two-sided Mann-Whitney U test, as scipy.stats.mannwhitneyu (method "auto": exact for small
// samples without ties, else the normal approximation with tie and continuity correction).
MannWhitneyResult mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b);

// One comparison of two groups of values.
struct Comparison {
  std::string name;   // e.g. "size", "type", "efficient", "derma_pt vs derma"
  std::string group;  // the table group it was made in ("all" without --group-by)
  std::string value;  // the compared column
  std::string label_a, label_b;
  std::size_t n_a = 0, n_b = 0;
  double mean_a = 0, mean_b = 0, median_a = 0, median_b = 0;
  TTestResult student, welch;
  MannWhitneyResult mann_whitney;
  bool paired = false;
  std::size_t n_paired = 0;  // rows matched by id
  TTestResult paired_t;      // when paired
};

Comparison compare_groups(const std::string& name, const std::string& label_a,
                          const std::vector<double>& a, const std::string& label_b,
                          const std::vector<double>& b);

}  // namespace pepr
