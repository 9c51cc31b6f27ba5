// What the rows of a scored table are worth, from the columns pepr collect and pepr track write:
// energies that are estimates (energy_method), runs on a loaded machine (others_busy_cores),
// performance at chance (chance_accuracy), and PUE or grid intensity (pue, country) that differ
// between rows normalised together. pepr score and pepr report say these next to the ranking.
#pragma once

#include <string>
#include <vector>

#include "core/score.hpp"
#include "core/table.hpp"

namespace pepr {

// Other processes kept at least this many CPUs busy: a loaded machine (meter/sharing.hpp).
inline constexpr double kLoadedBusyCores = 0.5;
// Chance level: at_chance_level and kChanceMargin (core/score.hpp).

// The column of per-row caveats that pepr score adds when a row has one.
inline constexpr const char* kCaveatsColumn = "caveats";

struct Caveats {
  std::vector<std::string> notes;  // one line each, about the whole table
  // Per row: "" or the row's caveats, "; "-separated ("energy estimate; loaded machine").
  std::vector<std::string> per_row;
  bool any_row() const;
};

// The caveats of the rows `result` scored (result.table's rows, in order) under `options`.
// Estimated energy counts only when a resource ranked is energy or CO2eq (CO2eq is energy times
// an intensity). PUE and country are compared among the rows that have them.
Caveats score_caveats(const ScoreResult& result, const ScoreOptions& options);

// A column's unit when the name alone does not say it: "kWh" for energy, "g" for co2, "s" for
// train_time, "GB" for memR (pepr collect's and the paper's columns); "" for any other column.
std::string unit_not_in_name(const std::string& column);

}  // namespace pepr
