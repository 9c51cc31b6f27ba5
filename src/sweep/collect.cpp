#include "sweep/collect.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in format.h before fmt 11)

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "sweep/plan.hpp"

namespace pepr::sweep {

namespace fs = std::filesystem;
using nlohmann::json;

std::optional<json> read_record(const fs::path& path, std::string* why) {
  auto set = [&](std::string s) {
    if (why) *why = std::move(s);
    return std::nullopt;
  };
  std::string text;
  try {
    text = read_text_file(path.string());
  } catch (const Error& e) {
    return set(e.what());
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return set("not valid JSON (a partial or foreign file?)");
  if (!j.is_object()) return set("not a JSON object");
  if (!j.contains("schema") || j["schema"] != "pepr.run/1") return set("not a pepr.run/1 record");
  // `pepr train` without --run-id writes "run_id": null: the file's name is the run's id, stable
  // as long as the file keeps its name.
  if (!j.contains("run_id") || j["run_id"].is_null()) j["run_id"] = path.stem().string();
  if (!j["run_id"].is_string() || j["run_id"].get<std::string>().empty())
    return set("record whose run_id is not a string");
  if (!j.contains("status") || !j["status"].is_string()) return set("record without a status");
  return j;
}

bool is_done_status(const std::string& s) {
  return s == "completed" || s == "stopped" || s == "pruned";
}

namespace {

const json* member(const json& j, std::initializer_list<const char*> path) {
  const json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::optional<double> num(const json& j, std::initializer_list<const char*> path) {
  const json* v = member(j, path);
  if (!v || !v->is_number()) return std::nullopt;
  double d = v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

std::string text(const json& j, std::initializer_list<const char*> path) {
  const json* v = member(j, path);
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number()) return format_number(v->get<double>());
  return v->dump();
}

std::string cell(std::optional<double> v) {
  return v ? format_number(*v) : "";
}

std::string energy_method(const json& rec) {
  const json* m = member(rec, {"environment", "meter_methods"});
  if (!m || !m->is_object()) return "";
  if (auto e = m->find("energy"); e != m->end() && e->is_string()) return e->get<std::string>();
  std::vector<std::string> parts;
  for (auto it = m->begin(); it != m->end(); ++it)
    if (it->is_string()) parts.push_back(it.key() + ":" + it->get<std::string>());
  return fmt::format("{}", fmt::join(parts, " "));
}

struct RunView {
  const json* rec;
  std::string run_id, status, model, data_name, regime, experiment;
  bool pretrained = false;
  std::optional<double> fraction, seed, epochs;
  const json* epochs_arr = nullptr;
};

RunView view(const json& rec) {
  RunView v;
  v.rec = &rec;
  v.run_id = rec["run_id"].get<std::string>();
  v.status = rec["status"].get<std::string>();
  v.model = text(rec, {"config", "model"});
  if (v.model.empty()) v.model = text(rec, {"model", "name"});
  v.data_name = text(rec, {"config", "dataset"});
  const json* pt = member(rec, {"config", "pretrained"});
  v.pretrained = pt && pt->is_boolean() && pt->get<bool>();
  v.regime = v.pretrained ? "pretrained" : "scratch";
  v.fraction = num(rec, {"config", "train_fraction"});
  v.seed = num(rec, {"config", "seed"});
  v.epochs = num(rec, {"config", "epochs"});
  v.experiment = experiment_name(v.data_name, v.pretrained, v.fraction.value_or(1.0));
  const json* e = member(rec, {"epochs"});
  if (e && e->is_array()) v.epochs_arr = e;
  return v;
}

std::optional<double> epoch_num(const json& e, const char* key) {
  if (!e.is_object()) return std::nullopt;
  return num(e, {key});
}

}  // namespace

std::vector<std::string> measured_columns() {
  return {"energy",        "co2",
          "train_time",    "memR",
          "energy_kwh",    "co2_g",
          "time_s",        "mem_peak_gb",
          "energy_method", "predicted_energy_kwh",
          "energy_error",  "predicted_time_s",
          "time_error",    "probe_energy_kwh"};
}

namespace {

// The readable records of the folder whose status is asked for, in file-name order; the others
// are counted or warned about in `res`.
std::vector<json> read_records(const fs::path& runs_dir, const CollectOptions& o,
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
  std::vector<json> records;
  for (const auto& f : files) {
    std::string why;
    auto rec = read_record(f, &why);
    if (!rec) {
      res.warnings.push_back(fmt::format("{}: skipped: {}", f.string(), why));
      continue;
    }
    ++res.records;
    const std::string status = (*rec)["status"].get<std::string>();
    if (!o.statuses.empty() &&
        std::find(o.statuses.begin(), o.statuses.end(), status) == o.statuses.end()) {
      ++res.left_out[status];
      continue;
    }
    records.push_back(std::move(*rec));
  }
  return records;
}

// One row per run and epoch, with cumulative energy, CO2eq and time.
Table long_table(const std::vector<RunView>& runs, const fs::path& runs_dir) {
  Table t({"run_id",    "model",      "dataset",    "data_name", "regime",  "train_fraction",
           "seed",      "status",     "epoch",      "test_acc",  "val_acc", "test_balanced_acc",
           "test_auc",  "train_loss", "energy_kwh", "co2_g",     "time_s",  "mem_peak_gb",
           "num_param", "type",       "efficient"},
          runs_dir.string());
  for (const auto& v : runs) {
    if (!v.epochs_arr) continue;
    auto params = num(*v.rec, {"model", "params_1000"});
    if (!params) params = num(*v.rec, {"model", "params"});
    double ce = 0, cc = 0, ct = 0;
    std::size_t k = 0;
    for (const auto& e : *v.epochs_arr) {
      ++k;
      auto en = epoch_num(e, "energy_kwh"), co = epoch_num(e, "co2_g"), tm = epoch_num(e, "time_s");
      ce += en.value_or(0), cc += co.value_or(0), ct += tm.value_or(0);
      t.add_row({v.run_id,
                 v.model,
                 v.experiment,
                 v.data_name,
                 v.regime,
                 cell(v.fraction),
                 cell(v.seed),
                 v.status,
                 cell(epoch_num(e, "epoch").value_or(double(k))),
                 cell(epoch_num(e, "test_acc")),
                 cell(epoch_num(e, "val_acc")),
                 cell(epoch_num(e, "test_balanced_acc")),
                 cell(epoch_num(e, "test_auc")),
                 cell(epoch_num(e, "train_loss")),
                 en ? format_number(ce) : "",
                 co ? format_number(cc) : "",
                 tm ? format_number(ct) : "",
                 cell(epoch_num(e, "mem_peak_gb")),
                 cell(params),
                 text(*v.rec, {"model", "type"}),
                 text(*v.rec, {"model", "efficient"})});
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
                        "time_s",
                        "mem_peak_gb",
                        "train_samples",
                        "params",
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
                        "probe_energy_kwh"})
    cols.push_back(c);
  return cols;
}

// One run's row of the wide table (its columns as wide_columns gives them).
std::vector<std::string> wide_row(const RunView& v, std::size_t max_epochs) {
  const json& r = *v.rec;
  auto params_1000 = num(r, {"model", "params_1000"});
  auto params = num(r, {"model", "params"});
  auto energy = num(r, {"totals", "energy_kwh"});
  auto co2 = num(r, {"totals", "co2_g"});
  auto time = num(r, {"totals", "time_s"});
  auto mem = num(r, {"totals", "mem_peak_gb"});
  auto gpu_mem = num(r, {"totals", "gpu_mem_peak_gb"});
  // A pruned run takes its place in the experiment's normalisation with its projected totals
  // (the epoch-1 prediction the pruning rule bounded), not with what it spent before it was
  // stopped (energy_kwh, co2_g, time_s and probe_energy_kwh say that).
  std::optional<double> paper_energy = energy, paper_co2 = co2, paper_time = time;
  if (v.status == "pruned")
    if (auto projected = num(r, {"pruned", "projected_energy_kwh"})) {
      paper_energy = *projected;
      paper_co2 = (co2 && energy && *energy > 0) ? std::optional(*co2 / *energy * *projected)
                                                 : std::nullopt;
      paper_time = num(r, {"budget", "predicted_time_s"});
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
      const json& e = (*v.epochs_arr)[k];
      acc = epoch_num(e, "test_acc");
      last_test = acc;
      last_val = epoch_num(e, "val_acc");
      last_bal = epoch_num(e, "test_balanced_acc");
      last_auc = epoch_num(e, "test_auc");
    }
    row.push_back(cell(acc));
  }
  auto train_samples = num(r, {"totals", "train_samples"});
  if (!train_samples) train_samples = num(r, {"data", "train_samples"});
  std::vector<std::string> tail{text(r, {"model", "type"}),
                                text(r, {"model", "efficient"}),
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
                                cell(time),
                                cell(mem),
                                cell(train_samples),
                                cell(params),
                                cell(last_test),
                                cell(last_val),
                                cell(last_bal),
                                cell(last_auc),
                                energy_method(r),
                                text(r, {"stop_reason"}),
                                text(r, {"error"}),
                                cell(num(r, {"budget", "predicted_energy_kwh"})),
                                cell(num(r, {"budget", "energy_error"})),
                                cell(num(r, {"budget", "predicted_time_s"})),
                                cell(num(r, {"budget", "time_error"})),
                                cell(num(r, {"probe", "energy_kwh"}))};
  row.insert(row.end(), tail.begin(), tail.end());
  return row;
}

}  // namespace

CollectResult collect_runs(const fs::path& runs_dir, const CollectOptions& o) {
  CollectResult res;
  const std::vector<json> records = read_records(runs_dir, o, res);
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
  for (const auto& v : runs) t.add_row(wide_row(v, max_epochs));
  res.table = std::move(t);
  return res;
}

}  // namespace pepr::sweep
