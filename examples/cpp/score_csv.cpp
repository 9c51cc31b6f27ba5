// Scores a results table: PePR-E = P / (1 + E_n), E_n the energy min-max normalised within each
// experiment, and prints the best model of each experiment.
//   score_csv RESULTS.csv [PERFORMANCE_COLUMN] [GROUP_COLUMN]
#include <cstdio>
#include <exception>

#include <pepr/score.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s RESULTS.csv [PERFORMANCE_COLUMN] [GROUP_COLUMN]\n", argv[0]);
    return 2;
  }
  try {
    pepr::Table table = pepr::Table::read_csv(argv[1]);
    pepr::ScoreOptions o;
    o.performance = pepr::PerformanceSpec::parse(argc > 2 ? argv[2] : "test_acc");
    o.resources.push_back(pepr::ResourceSpec::parse("energy", table));
    o.group_by = argc > 3 ? argv[3] : "dataset";
    pepr::ScoreResult r = pepr::score_table(table, o);
    const auto best = pepr::rank_rows(r.scores[0], r.groups, 1);
    const std::size_t model = r.table.require_column("model");
    for (std::size_t row : best)
      std::printf("%s: %s PePR-E %.4f\n", r.groups.names[r.groups.group_of[row]].c_str(),
                  std::string(r.table.cell(row, model)).c_str(), r.scores[0][row]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "score_csv: %s\n", e.what());
    return 1;
  }
  return 0;
}
