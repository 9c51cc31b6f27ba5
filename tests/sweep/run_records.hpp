// What a sweep left in its runs folder, for the sweep tests: the run records by run ID and the
// fake trainer's invocation log.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "sweep/collect.hpp"

namespace pepr::test {

// Every readable run record of `dir` (RUN_ID -> record); empty when the folder does not exist.
inline std::map<std::string, nlohmann::json> run_records(const std::filesystem::path& dir) {
  std::map<std::string, nlohmann::json> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json")
      if (auto r = pepr::sweep::read_record(e.path())) out[*r->run_id] = *r;
  return out;
}

// The lines of a file (FAKE_TRAIN_INVOCATIONS: one run ID per training); empty when absent.
inline std::vector<std::string> file_lines(const std::filesystem::path& file) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(file)) return out;
  const std::string text = read_file(file);
  std::size_t start = 0, nl;
  while ((nl = text.find('\n', start)) != std::string::npos) {
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

}  // namespace pepr::test
