#include "report/experiments.hpp"

#include <algorithm>
#include <set>

namespace pepr::report {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<ExperimentPair> pretrained_scratch_pairs(const std::vector<std::string>& names) {
  const std::set<std::string> present(names.begin(), names.end());
  std::vector<ExperimentPair> out;
  std::set<std::string> scratch_of_paper;
  // Rule 1: the paper's X_pt / X.
  for (const auto& n : names)
    if (ends_with(n, "_pt")) {
      std::string base = n.substr(0, n.size() - 3);
      if (present.count(base)) {
        out.push_back({n, base});
        scratch_of_paper.insert(base);
      }
    }
  // Rule 2: pepr's A<T> / A_scratch<T>.
  const std::string token = "_scratch";
  for (const auto& n : names) {
    for (std::size_t at = n.find(token); at != std::string::npos; at = n.find(token, at + 1)) {
      std::string rest = n.substr(at + token.size());
      if (!rest.empty() && rest[0] != '_') continue;
      if (at == 0) continue;
      std::string pre = n.substr(0, at) + rest;
      if (!present.count(pre) || scratch_of_paper.count(pre)) continue;
      out.push_back({pre, n});
      break;
    }
  }
  // In order of first appearance of the pretrained member.
  auto pos = [&](const std::string& s) { return std::find(names.begin(), names.end(), s); };
  std::stable_sort(out.begin(), out.end(), [&](const ExperimentPair& x, const ExperimentPair& y) {
    return pos(x.a) < pos(y.a);
  });
  return out;
}

std::vector<ExperimentPair> data_fraction_pairs(const std::vector<std::string>& names) {
  const std::set<std::string> present(names.begin(), names.end());
  std::vector<ExperimentPair> out;
  for (const auto& n : names) {
    if (!ends_with(n, "_small")) continue;
    std::string full = n.substr(0, n.size() - 6);
    if (present.count(full + "_pt"))
      out.push_back({n, full + "_pt"});
    else if (present.count(full))
      out.push_back({n, full});
  }
  return out;
}

}  // namespace pepr::report
