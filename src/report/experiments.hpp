// Which experiments of a results table form the pairs the report compares: pretrained vs from
// scratch, and 10 % vs 100 % of the training data.
//
// Experiment names are the values of the --group-by column (the paper's `dataset`). Two naming
// schemes are understood:
//   the paper's:  derma_pt (pretrained) / derma (from scratch); X_small = X pretrained on 10 %;
//   pepr's (`pepr collect`): X (pretrained), X_scratch, X_small, X_scratch_small, X_f<frac>.
// The rules, applied to the names present in the table:
//   pretrained vs scratch: (1) X_pt and X both present: X_pt is pretrained, X from scratch;
//     (2) a name A_scratch<T> (T empty or starting with '_') with A<T> present: A<T> is
//     pretrained, A_scratch<T> from scratch, unless A<T> is already the scratch side of rule (1).
//   10 % vs 100 %: a name F_small with F_pt present pairs with F_pt, else with F when present.
// Pairs are listed in order of first appearance of their first member.
#pragma once

#include <string>
#include <vector>

namespace pepr::report {

struct ExperimentPair {
  std::string a;  // pretrained / 10 %
  std::string b;  // from scratch / 100 %
};

std::vector<ExperimentPair> pretrained_scratch_pairs(const std::vector<std::string>& names);
std::vector<ExperimentPair> data_fraction_pairs(const std::vector<std::string>& names);

}  // namespace pepr::report
