// Classification metrics from predicted class probabilities: accuracy, balanced accuracy and
// AUC (one-vs-rest, macro-averaged, for more than two classes; as scikit-learn's roc_auc_score).
#pragma once

#include <cstdint>
#include <vector>

namespace pepr::train {

struct ClassificationMetrics {
  double accuracy = 0;
  double balanced_accuracy = 0;  // mean recall over the classes present
  double auc = 0;                // NaN when undefined (a single class present)
  double loss = 0;               // mean cross-entropy, filled by the caller
};

// `probs` is N x K row-major (rows sum to 1), `labels` N class indices in [0, K).
ClassificationMetrics classification_metrics(const std::vector<float>& probs,
                                             const std::vector<int64_t>& labels, int64_t k);

// Area under the ROC curve of scores for a binary truth (ties count one half); NaN when one
// class is absent.
double binary_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

}  // namespace pepr::train
