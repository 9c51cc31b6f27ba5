#include "core/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include "core/error.hpp"

namespace pepr {

namespace {

double two_sided_t_p(double t, double df) {
  if (std::isnan(t)) return std::nan("");
  if (std::isinf(t)) return 0.0;
  boost::math::students_t dist(df);
  return 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(t)));
}

void need(const std::vector<double>& x, std::size_t n, const char* what) {
  if (x.size() < n)
    throw Error(fmt::format("{} needs at least {} values per group, got {}", what, n, x.size()));
}

}  // namespace

double mean(const std::vector<double>& x) {
  if (x.empty()) return std::nan("");
  return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double median(std::vector<double> x) {
  if (x.empty()) return std::nan("");
  std::sort(x.begin(), x.end());
  std::size_t n = x.size();
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double sample_variance(const std::vector<double>& x) {
  if (x.size() < 2) return std::nan("");
  double m = mean(x), s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return s / static_cast<double>(x.size() - 1);
}

TTestResult student_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  need(a, 2, "the Student t-test");
  need(b, 2, "the Student t-test");
  double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  double df = na + nb - 2;
  double sp2 = ((na - 1) * sample_variance(a) + (nb - 1) * sample_variance(b)) / df;
  TTestResult r;
  r.df = df;
  r.t = (mean(a) - mean(b)) / std::sqrt(sp2 * (1.0 / na + 1.0 / nb));
  r.p = two_sided_t_p(r.t, df);
  return r;
}

TTestResult welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  need(a, 2, "Welch's t-test");
  need(b, 2, "Welch's t-test");
  double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  double va = sample_variance(a) / na, vb = sample_variance(b) / nb;
  TTestResult r;
  r.t = (mean(a) - mean(b)) / std::sqrt(va + vb);
  r.df = (va + vb) * (va + vb) / (va * va / (na - 1) + vb * vb / (nb - 1));
  r.p = two_sided_t_p(r.t, r.df);
  return r;
}

TTestResult paired_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) throw Error("the paired t-test needs two samples of equal size");
  need(a, 2, "the paired t-test");
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  double n = static_cast<double>(d.size());
  TTestResult r;
  r.df = n - 1;
  r.t = mean(d) / std::sqrt(sample_variance(d) / n);
  r.p = two_sided_t_p(r.t, r.df);
  return r;
}

MannWhitneyResult mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b) {
  need(a, 1, "the Mann-Whitney U test");
  need(b, 1, "the Mann-Whitney U test");
  const std::size_t n1 = a.size(), n2 = b.size(), n = n1 + n2;
  // Mid-ranks of the pooled sample.
  std::vector<std::pair<double, std::size_t>> pooled(n);
  for (std::size_t i = 0; i < n1; ++i) pooled[i] = {a[i], i};
  for (std::size_t i = 0; i < n2; ++i) pooled[n1 + i] = {b[i], n1 + i};
  std::sort(pooled.begin(), pooled.end());
  std::vector<double> rank(n);
  double tie_term = 0;  // sum of t^3 - t over tie groups
  bool ties = false;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && pooled[j + 1].first == pooled[i].first) ++j;
    double r = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) rank[pooled[k].second] = r;
    double t = static_cast<double>(j - i + 1);
    if (t > 1) ties = true;
    tie_term += t * t * t - t;
    i = j + 1;
  }
  double r1 = 0;
  for (std::size_t i = 0; i < n1; ++i) r1 += rank[i];
  double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  double u1 = r1 - dn1 * (dn1 + 1) / 2;
  double u2 = dn1 * dn2 - u1;
  MannWhitneyResult res;
  res.u = u1;
  double u = std::max(u1, u2);
  if ((n1 < 8 || n2 < 8) && !ties) {
    // Exact null distribution of U by counting: c[k][u] over sub-sample sizes.
    res.exact = true;
    const std::size_t umax = n1 * n2;
    // f[i][j][u]: number of arrangements of i from the first and j from the second sample.
    std::vector<std::vector<double>> prev(n2 + 1, std::vector<double>(umax + 1, 0.0));
    for (std::size_t j = 0; j <= n2; ++j) prev[j][0] = 1;  // i = 0
    for (std::size_t i = 1; i <= n1; ++i) {
      std::vector<std::vector<double>> cur(n2 + 1, std::vector<double>(umax + 1, 0.0));
      cur[0][0] = 1;
      for (std::size_t j = 1; j <= n2; ++j)
        for (std::size_t k = 0; k <= umax; ++k) {
          // The largest element belongs to sample 1 (adds j to U) or sample 2.
          double v = cur[j - 1][k];
          if (k >= j) v += prev[j][k - j];
          cur[j][k] = v;
        }
      prev = std::move(cur);
    }
    const auto& dist = prev[n2];
    double total = std::accumulate(dist.begin(), dist.end(), 0.0);
    double tail = 0;
    for (std::size_t k = static_cast<std::size_t>(u); k <= umax; ++k) tail += dist[k];
    res.p = std::min(1.0, 2.0 * tail / total);
    return res;
  }
  double dn = static_cast<double>(n);
  double mu = dn1 * dn2 / 2;
  double s = std::sqrt(dn1 * dn2 / 12.0 * ((dn + 1) - tie_term / (dn * (dn - 1))));
  if (s == 0) {
    res.p = 1.0;
    return res;
  }
  double z = (u - mu - 0.5) / s;
  boost::math::normal norm;
  res.p = std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(norm, z)));
  return res;
}

Comparison compare_groups(const std::string& name, const std::string& label_a,
                          const std::vector<double>& a, const std::string& label_b,
                          const std::vector<double>& b) {
  Comparison c;
  c.name = name;
  c.label_a = label_a;
  c.label_b = label_b;
  c.n_a = a.size();
  c.n_b = b.size();
  c.mean_a = mean(a);
  c.mean_b = mean(b);
  c.median_a = median(a);
  c.median_b = median(b);
  if (a.size() < 2 || b.size() < 2)
    throw Error(
        fmt::format("comparison '{}': groups '{}' ({} values) and '{}' ({} values) need "
                    "at least 2 values each",
                    name, label_a, a.size(), label_b, b.size()));
  c.student = student_t_test(a, b);
  c.welch = welch_t_test(a, b);
  c.mann_whitney = mann_whitney_u(a, b);
  return c;
}

double quantile(std::vector<double> x, double q) {
  if (x.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(x.begin(), x.end());
  double pos = q * static_cast<double>(x.size() - 1);
  std::size_t i = static_cast<std::size_t>(std::floor(pos));
  if (i + 1 >= x.size()) return x.back();
  double f = pos - static_cast<double>(i);
  return x[i] + f * (x[i + 1] - x[i]);
}

double silverman_bandwidth(const std::vector<double>& x) {
  if (x.size() < 2) return 0;
  double sd = std::sqrt(sample_variance(x));
  double iqr = quantile(x, 0.75) - quantile(x, 0.25);
  double spread = iqr > 0 ? std::min(sd, iqr / 1.34) : sd;
  return 0.9 * spread * std::pow(static_cast<double>(x.size()), -0.2);
}

std::vector<double> gaussian_kde(const std::vector<double>& x, double bw,
                                 const std::vector<double>& at) {
  std::vector<double> out(at.size(), 0.0);
  if (x.empty() || !(bw > 0)) return out;
  const double norm = 1.0 / (static_cast<double>(x.size()) * bw * std::sqrt(2 * M_PI));
  for (std::size_t i = 0; i < at.size(); ++i) {
    double s = 0;
    for (double v : x) {
      double z = (at[i] - v) / bw;
      s += std::exp(-0.5 * z * z);
    }
    out[i] = s * norm;
  }
  return out;
}

}  // namespace pepr
