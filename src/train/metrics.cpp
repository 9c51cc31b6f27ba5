#include "train/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace pepr::train {

double binary_auc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney: AUC = (sum of positive mid-ranks - P(P+1)/2) / (P * N).
  double rank_sum = 0, npos = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) ++j;
    double mid = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k)
      if (positive[order[k]]) rank_sum += mid, npos += 1;
    i = j + 1;
  }
  double nneg = static_cast<double>(n) - npos;
  if (npos == 0 || nneg == 0) return std::nan("");
  return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

ClassificationMetrics classification_metrics(const std::vector<float>& probs,
                                             const std::vector<int64_t>& labels, int64_t k) {
  const std::size_t n = labels.size();
  if (k < 1 || probs.size() != n * static_cast<std::size_t>(k))
    throw Error("classification_metrics: probabilities and labels do not agree");
  ClassificationMetrics m;
  if (n == 0) {
    m.accuracy = m.balanced_accuracy = m.auc = std::nan("");
    return m;
  }
  std::vector<double> correct(static_cast<std::size_t>(k), 0),
      count(static_cast<std::size_t>(k), 0);
  double hits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float* row = probs.data() + i * static_cast<std::size_t>(k);
    int64_t pred = std::max_element(row, row + k) - row;
    auto y = static_cast<std::size_t>(labels[i]);
    count[y] += 1;
    if (pred == labels[i]) hits += 1, correct[y] += 1;
  }
  m.accuracy = hits / static_cast<double>(n);
  double recall_sum = 0, present = 0;
  for (std::size_t c = 0; c < count.size(); ++c)
    if (count[c] > 0) recall_sum += correct[c] / count[c], present += 1;
  m.balanced_accuracy = recall_sum / present;
  // AUC: binary uses the positive class's probability; more classes one-vs-rest, macro average.
  std::vector<double> scores(n);
  std::vector<bool> pos(n);
  if (k == 2) {
    for (std::size_t i = 0; i < n; ++i) scores[i] = probs[i * 2 + 1], pos[i] = labels[i] == 1;
    m.auc = binary_auc(scores, pos);
  } else {
    double sum = 0, classes = 0;
    for (int64_t c = 0; c < k; ++c) {
      for (std::size_t i = 0; i < n; ++i)
        scores[i] = probs[i * static_cast<std::size_t>(k) + static_cast<std::size_t>(c)],
        pos[i] = labels[i] == c;
      double a = binary_auc(scores, pos);
      if (!std::isnan(a)) sum += a, classes += 1;
    }
    m.auc = classes > 0 ? sum / classes : std::nan("");
  }
  return m;
}

}  // namespace pepr::train
