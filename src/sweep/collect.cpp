#include "sweep/collect.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/score.hpp"
#include "sweep/plan.hpp"

namespace pepr::sweep {

namespace fs = std::filesystem;

std::optional<run::RunRecord> read_record(const fs::path& path, std::string* why) {
  return run::read_record_file(path, why);
}

namespace {

// A number that is finite, else nothing.
std::optional<double> finite(std::optional<double> v) {
  if (v && !std::isfinite(*v)) return std::nullopt;
  return v;
}
template <typename T>
std::optional<double> num(const run::Field<T>& f) {
  if (!f) return std::nullopt;
  return finite(static_cast<double>(*f));
}

std::string cell(std::optional<double> v) {
  return v ? format_number(*v) : "";
}

std::string text(const run::Field<std::string>& f) {
  return f.value_or("");
}

// The CPUs other processes kept busy during the run (the meter's account), if measured.
std::optional<double> others_busy_cores(const run::RunRecord& r) {
  if (!r.meter || !r.meter->is_object()) return std::nullopt;
  auto sh = r.meter->find("sharing");
  if (sh == r.meter->end() || !sh->is_object()) return std::nullopt;
  auto v = sh->find("others_busy_cores");
  if (v == sh->end() || !v->is_number()) return std::nullopt;
  return finite(v->get<double>());
}

// What the tables show of a run, from its record.
struct RunView {
  const run::RunRecord* rec;
  std::string run_id, status, model, data_name, regime, experiment;
  bool pretrained = false;
  std::optional<double> fraction, seed, epochs;
  const std::vector<run::EpochRecord>* epochs_arr = nullptr;  // null: the record has none
  run::ModelRecord model_rec;
  run::TotalsRecord totals;
  run::BudgetRecord budget;
};

RunView view(const run::RunRecord& rec) {
  RunView v;
  v.rec = &rec;
  v.run_id = rec.run_id.value_or("");
  v.status = std::string(run::name(rec.status));
  const run::ConfigRecord config = rec.config.value_or(run::ConfigRecord{});
  v.model_rec = rec.model.value_or(run::ModelRecord{});
  v.totals = rec.totals.value_or(run::TotalsRecord{});
  v.budget = rec.budget.value_or(run::BudgetRecord{});
  v.model = text(config.model);
  if (v.model.empty()) v.model = text(v.model_rec.name);
  v.data_name = text(config.dataset);
  v.pretrained = config.pretrained.value_or(false);
  v.regime = v.pretrained ? "pretrained" : "scratch";
  v.fraction = num(config.train_fraction);
  v.seed = num(config.seed);
  v.epochs = num(config.epochs);
  v.experiment = experiment_name(v.data_name, v.pretrained, v.fraction.value_or(1.0));
  if (rec.epochs) v.epochs_arr = &*rec.epochs;
  return v;
}

}  // namespace

std::vector<std::string> measured_columns() {
  return {"energy",           "co2",
          "train_time",       "memR",
          "energy_kwh",       "co2_g",
          "time_s",           "mem_peak_gb",
          "energy_method",    "predicted_energy_kwh",
          "energy_error",     "predicted_time_s",
          "time_error",       "probe_energy_kwh",
          "others_busy_cores", "energy_kwh_lo",
          "energy_kwh_hi",    "co2_g_lo",
          "co2_g_hi",         "energy_error_systematic",
          "energy_error_per_run"};  // chance_accuracy is the data's, not a measurement
}

namespace {

// The readable records of the folder whose status is asked for, in file-name order; the others
// are counted or warned about in `res`.
std::vector<run::RunRecord> read_records(const fs::path& runs_dir, const CollectOptions& o,
                                         CollectResult& res) {
  std::error_code ec;
  if (!fs::is_directory(runs_dir, ec))
    throw Error(fmt::format("{}: not a folder of run records", runs_dir.string()));
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(runs_dir, ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || entry.path().extension() != ".json") continue;
    if (!entry.is_regular_file(ec)) continue;
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<run::RunRecord> records;
  for (const auto& f : files) {
    std::string why;
    auto rec = read_record(f, &why);
    if (!rec) {
      res.warnings.push_back(fmt::format("{}: skipped: {}", f.string(), why));
      continue;
    }
    ++res.records;
    const std::string status(run::name(rec->status));
    if (!o.statuses.empty() &&
        std::find(o.statuses.begin(), o.statuses.end(), status) == o.statuses.end()) {
      ++res.left_out[status];
      continue;
    }
    records.push_back(std::move(*rec));
  }
  return records;
}

// The image height and width the model saw (the record's config.image_size, as the trainer
// resolved it; 0 or absent: unknown).
std::optional<double> image_px(const RunView& v) {
  if (!v.rec->config) return std::nullopt;
  const auto px = num(v.rec->config->image_size);
  return px && *px > 0 ? px : std::nullopt;
}

// One row per run and epoch, with cumulative energy, CO2eq and time.
Table long_table(const std::vector<RunView>& runs, const fs::path& runs_dir) {
  Table t({"run_id",    "model",      "dataset",    "data_name", "regime",  "train_fraction",
           "seed",      "status",     "epoch",      "test_acc",  "val_acc", "test_balanced_acc",
           "test_auc",  "train_loss", "energy_kwh", "co2_g",     "time_s",  "mem_peak_gb",
           "num_param", "type",       "efficient",  "image_px"},
          runs_dir.string());
  for (const auto& v : runs) {
    if (!v.epochs_arr) continue;
    auto params = num(v.model_rec.params_1000);
    if (!params) params = num(v.model_rec.params);
    double ce = 0, cc = 0, ct = 0;
    std::size_t k = 0;
    for (const auto& e : *v.epochs_arr) {
      ++k;
      auto en = num(e.energy_kwh), co = num(e.co2_g), tm = num(e.time_s);
      ce += en.value_or(0), cc += co.value_or(0), ct += tm.value_or(0);
      t.add_row({v.run_id,
                 v.model,
                 v.experiment,
                 v.data_name,
                 v.regime,
                 cell(v.fraction),
                 cell(v.seed),
                 v.status,
                 cell(num(e.epoch).value_or(double(k))),
                 cell(num(e.test_acc)),
                 cell(num(e.val_acc)),
                 cell(num(e.test_balanced_acc)),
                 cell(num(e.test_auc)),
                 cell(num(e.train_loss)),
                 en ? format_number(ce) : "",
                 co ? format_number(cc) : "",
                 tm ? format_number(ct) : "",
                 cell(num(e.mem_peak_gb)),
                 cell(params),
                 text(v.model_rec.type),
                 cell(num(v.model_rec.efficient)),
                 cell(image_px(v))});
    }
  }
  return t;
}

// The wide table's columns: the paper's (model ... memR, test_00 ...), then pepr's own.
std::vector<std::string> wide_columns(std::size_t max_epochs) {
  const int width = max_epochs > 100 ? 3 : 2;
  std::vector<std::string> cols{"model", "num_param", "energy", "co2", "train_time", "memR"};
  for (std::size_t k = 0; k < max_epochs; ++k) cols.push_back(fmt::format("test_{:0{}}", k, width));
  for (const char* c : {"type",
                        "efficient",
                        "dataset",
                        "run_id",
                        "status",
                        "data_name",
                        "regime",
                        "pretrained",
                        "train_fraction",
                        "seed",
                        "epochs",
                        "epochs_done",
                        "energy_kwh",
                        "co2_g",
                        "energy_kwh_lo",
                        "energy_kwh_hi",
                        "co2_g_lo",
                        "co2_g_hi",
                        "energy_error_systematic",
                        "energy_error_per_run",
                        "time_s",
                        "mem_peak_gb",
                        "train_samples",
                        "params",
                        "image_px",
                        "test_acc",
                        "val_acc",
                        "test_balanced_acc",
                        "test_auc",
                        "energy_method",
                        "stop_reason",
                        "error",
                        "predicted_energy_kwh",
                        "energy_error",
                        "predicted_time_s",
                        "time_error",
                        "probe_energy_kwh",
                        "others_busy_cores",
                        "chance_accuracy"})
    cols.push_back(c);
  return cols;
}

// One run's row of the wide table (its columns as wide_columns gives them).
std::vector<std::string> wide_row(const RunView& v, std::size_t max_epochs) {
  const run::RunRecord& r = *v.rec;
  const run::TotalsRecord& totals = v.totals;
  auto params_1000 = num(v.model_rec.params_1000);
  auto params = num(v.model_rec.params);
  auto energy = num(totals.energy_kwh);
  auto co2 = num(totals.co2_g);
  auto time = num(totals.time_s);
  auto mem = num(totals.mem_peak_gb);
  auto gpu_mem = num(totals.gpu_mem_peak_gb);
  // A pruned run takes its place in the experiment's normalisation with its projected totals
  // (the epoch-1 prediction the pruning rule bounded), not with what it spent before it was
  // stopped (energy_kwh, co2_g, time_s and probe_energy_kwh say that).
  std::optional<double> paper_energy = energy, paper_co2 = co2, paper_time = time;
  if (r.status == run::RunStatus::pruned && r.pruned)
    if (auto projected = num(r.pruned->projected_energy_kwh)) {
      paper_energy = *projected;
      paper_co2 = (co2 && energy && *energy > 0) ? std::optional(*co2 / *energy * *projected)
                                                 : std::nullopt;
      paper_time = num(v.budget.predicted_time_s);
    }
  std::vector<std::string> row{v.model,
                               cell(params_1000 ? params_1000 : params),
                               cell(paper_energy),
                               cell(paper_co2),
                               cell(paper_time),
                               cell(gpu_mem ? gpu_mem : mem)};
  std::optional<double> last_test, last_val, last_bal, last_auc;
  for (std::size_t k = 0; k < max_epochs; ++k) {
    std::optional<double> acc;
    if (v.epochs_arr && k < v.epochs_arr->size()) {
      const run::EpochRecord& e = (*v.epochs_arr)[k];
      acc = num(e.test_acc);
      last_test = acc;
      last_val = num(e.val_acc);
      last_bal = num(e.test_balanced_acc);
      last_auc = num(e.test_auc);
    }
    row.push_back(cell(acc));
  }
  auto train_samples = num(totals.train_samples);
  if (!train_samples && r.data) train_samples = num(r.data->train_samples);
  std::vector<std::string> tail{text(v.model_rec.type),
                                cell(num(v.model_rec.efficient)),
                                v.experiment,
                                v.run_id,
                                v.status,
                                v.data_name,
                                v.regime,
                                v.pretrained ? "true" : "false",
                                cell(v.fraction),
                                cell(v.seed),
                                cell(v.epochs),
                                v.epochs_arr ? std::to_string(v.epochs_arr->size()) : "0",
                                cell(energy),
                                cell(co2),
                                cell(num(totals.energy_kwh_lo)),
                                cell(num(totals.energy_kwh_hi)),
                                cell(num(totals.co2_g_lo)),
                                cell(num(totals.co2_g_hi)),
                                cell(num(totals.energy_error_systematic)),
                                cell(num(totals.energy_error_per_run)),
                                cell(time),
                                cell(mem),
                                cell(train_samples),
                                cell(params),
                                cell(image_px(v)),
                                cell(last_test),
                                cell(last_val),
                                cell(last_bal),
                                cell(last_auc),
                                r.energy_method(),
                                text(r.stop_reason),
                                text(r.error),
                                cell(num(v.budget.predicted_energy_kwh)),
                                cell(num(v.budget.energy_error)),
                                cell(num(v.budget.predicted_time_s)),
                                cell(num(v.budget.time_error)),
                                cell(r.probe ? num(r.probe->energy_kwh) : std::nullopt),
                                cell(others_busy_cores(r)),
                                cell(r.data ? num(r.data->chance_accuracy) : std::nullopt)};
  row.insert(row.end(), tail.begin(), tail.end());
  return row;
}

}  // namespace

CollectResult collect_runs(const fs::path& runs_dir, const CollectOptions& o) {
  CollectResult res;
  const std::vector<run::RunRecord> records = read_records(runs_dir, o, res);
  std::vector<RunView> runs;
  for (const auto& r : records) runs.push_back(view(r));
  std::stable_sort(runs.begin(), runs.end(),
                   [](const RunView& a, const RunView& b) { return a.run_id < b.run_id; });
  for (std::size_t i = 1; i < runs.size(); ++i)
    if (runs[i].run_id == runs[i - 1].run_id)
      res.warnings.push_back(
          fmt::format("run_id {} appears in more than one record", runs[i].run_id));
  if (o.long_format) {
    res.table = long_table(runs, runs_dir);
    return res;
  }
  std::size_t max_epochs = 0;
  for (const auto& v : runs)
    if (v.epochs_arr) max_epochs = std::max(max_epochs, v.epochs_arr->size());
  Table t(wide_columns(max_epochs), runs_dir.string());
  for (const auto& v : runs) {
    t.add_row(wide_row(v, max_epochs));
    // The last epoch's test accuracy against the data's chance level.
    if (v.epochs_arr && !v.epochs_arr->empty() && v.rec->data)
      if (auto acc = num(v.epochs_arr->back().test_acc), chance = num(v.rec->data->chance_accuracy);
          acc && chance && at_chance_level(*acc, *chance))
        res.warnings.push_back(
            fmt::format("{} ({}): {}", v.run_id, v.model, chance_level_note(*acc, *chance)));
  }
  res.table = std::move(t);
  return res;
}

}  // namespace pepr::sweep
