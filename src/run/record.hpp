// A run's record, typed: what `pepr train` and `pepr bench` write for each run (pepr.run/1 JSON)
// and what the sweep, `pepr collect` and the report read back. Reading and writing are exact
// inverses: a record read from a file and written again gives the same bytes, whether the file
// came from this version or an earlier one. Members a section does not model (an older or newer
// version's, or garbage of the wrong type) are kept as they are in that section's `extra` and
// written back in place. LibTorch-free.
//
//   run::RunRecord r = run::RunRecord::from_json(json::parse(text));   // throws run::RecordError
//   for (const auto& e : r.epoch_list()) total += e.energy_kwh.value_or(0);
//   write_file_atomic(path, r.dump());
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/modes.hpp"

namespace pepr::run {

// A member of a record: absent, null, or a value. A number of the other kind (an integer read
// into a double member, an integral 3.0 into an integer member) is written back as it was read.
template <typename T>
class Field {
 public:
  Field() = default;
  Field(std::nullptr_t) : state_(State::null) {}              // NOLINT(google-explicit-constructor)
  Field(T v) : state_(State::value), value_(std::move(v)) {}  // NOLINT
  Field(const std::optional<T>& v)                            // NOLINT: nullopt is null
      : state_(v ? State::value : State::null), value_(v ? *v : T{}) {}
  template <typename U>
  requires std::is_convertible_v<U, T> &&
      (!std::is_same_v<std::decay_t<U>, T>)&&(!std::is_same_v<std::decay_t<U>, std::nullptr_t>)
          Field(U&& v)
      : state_(State::value), value_(std::forward<U>(v)) {}  // NOLINT

  bool present() const { return state_ != State::absent; }  // absent: not in the JSON at all
  bool has_value() const { return state_ == State::value; }
  explicit operator bool() const { return has_value(); }
  const T& operator*() const { return value_; }
  const T* operator->() const { return &value_; }
  T& operator*() { return value_; }  // the value to change in place (has_value() first)
  T* operator->() { return &value_; }
  T value_or(T fallback) const { return has_value() ? value_ : fallback; }
  std::optional<T> opt() const { return has_value() ? std::optional<T>(value_) : std::nullopt; }
  // The JSON number was of the other kind than T (integer for double, float for an integer).
  bool other_number_kind() const { return other_kind_; }
  void set_other_number_kind(bool b) { other_kind_ = b; }
  bool operator==(const Field&) const = default;

 private:
  enum class State : std::uint8_t { absent, null, value };
  State state_ = State::absent;
  T value_{};
  bool other_kind_ = false;
};

using Json = nlohmann::json;

// One epoch: metrics after it, its time, energy and memory (null where not measured).
struct EpochRecord {
  Field<std::int64_t> epoch;
  Field<double> train_loss, train_acc;
  Field<double> val_loss, val_acc, val_balanced_acc, val_auc;
  Field<double> test_loss, test_acc, test_balanced_acc, test_auc;
  Field<double> time_s, train_time_s, train_images_per_s, data_wait_s, cpu_time_s;
  Field<double> energy_kwh, energy_raw_kwh, co2_g, mem_peak_gb;
  // The bounds of energy_kwh and co2_g under the meter's error model, and its relative parts
  // (systematic: common to runs measured alike; per run: what can reorder models).
  Field<double> energy_kwh_lo, energy_kwh_hi, co2_g_lo, co2_g_hi;
  Field<double> energy_error_systematic, energy_error_per_run;
  Field<double> gpu_mem_peak_gb, gpu_mem_reserved_peak_gb, gpu_mem_allocated_peak_gb;
  Field<double> loss_scale;  // fp16 runs
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const EpochRecord&) const = default;
};

// The configuration as run (the device, threads and image size resolved).
struct RunConfig;

struct ConfigRecord {
  // The members a configuration gives as it is asked for (model, data_file, weights, ...,
  // device, threads and image size before they are resolved); the trainer adds and resolves.
  static ConfigRecord asked(const RunConfig& c);

  Field<std::string> model, dataset, data_file, weights, optimizer, device, precision;
  Field<std::string> memory_format;
  Field<bool> pretrained, deterministic, cudnn_benchmark, imagenet_norm;
  Field<double> train_fraction, lr;
  Field<std::int64_t> epochs, batch_size, threads, image_size, in_chans;
  Field<std::uint64_t> seed;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const ConfigRecord&) const = default;
};

struct ModelRecord {
  Field<std::string> name, type;
  Field<std::int64_t> params, params_1000;  // params_1000: with timm's 1000-class head
  Field<std::int64_t> efficient;            // 1: designed for efficiency (the paper's class)
  Field<bool> native;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const ModelRecord&) const = default;
};

struct DataRecord {
  Field<std::int64_t> train_samples, val_samples, test_samples, num_classes;
  Field<std::int64_t> image_height, image_width;
  Field<std::string> placement, placement_reason;
  // The test accuracy of always answering the test split's largest class.
  Field<double> chance_accuracy;
  Field<Json> split;  // how pepr split an image folder without val/ or test/, or null
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const DataRecord&) const = default;
};

struct TotalsRecord {
  Field<double> time_s, epochs_time_s, energy_kwh, energy_raw_kwh, co2_g, mem_peak_gb;
  Field<double> energy_kwh_lo, energy_kwh_hi, co2_g_lo, co2_g_hi;  // as EpochRecord's
  Field<double> energy_error_systematic, energy_error_per_run;
  Field<double> gpu_mem_peak_gb, gpu_mem_reserved_peak_gb, gpu_mem_allocated_peak_gb;
  Field<std::int64_t> train_samples, epochs_done;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const TotalsRecord&) const = default;
};

// The whole run predicted after epoch 1, and (completed runs) how far off that was.
struct BudgetRecord {
  Field<double> predicted_energy_kwh, predicted_time_s, epoch1_steady_fraction;
  Field<double> energy_error, time_error;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const BudgetRecord&) const = default;
};

// A `pepr bench --prune-top` probe: epoch 1 and the whole run it predicts.
struct ProbeRecord {
  Field<double> predicted_energy_kwh, predicted_time_s, energy_kwh, test_acc, wall_s;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const ProbeRecord&) const = default;
};

// Why a sweep pruned the run, and the bound it used.
struct PrunedRecord {
  Field<std::string> reason;
  Field<std::int64_t> top_k;
  Field<double> projected_energy_kwh, spent_kwh;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const PrunedRecord&) const = default;
};

// A run continued from a checkpoint (`pepr train --resume-from`): what the earlier process did.
// Its epochs are the record's first ones and its energy, CO2eq and time are in the totals.
struct ResumedRecord {
  Field<std::string> checkpoint;
  Field<std::int64_t> epochs;  // epochs done before
  Field<double> energy_kwh, co2_g, time_s;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const ResumedRecord&) const = default;
};

// A checkpoint saved when the run stopped before its last epoch (`--save-checkpoint`), or why
// none was (saved false: not enough free disk, a write error).
struct CheckpointRecord {
  Field<std::string> path, reason;
  Field<bool> saved;
  Field<std::int64_t> epochs, bytes;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const CheckpointRecord&) const = default;
};

// What `pepr bench` adds: the plan, where and when, which attempt, how the trainer ended.
struct SweepRecord {
  Field<std::string> plan, plan_name, host, started_at, shard, finished_at, exit;
  Field<std::int64_t> pid, attempt;
  Field<double> wall_s;
  Field<Json> argv;
  Json extra = Json::object();

  template <typename V>
  void fields(V&& v);
  bool operator==(const SweepRecord&) const = default;
};

// A record that is not a pepr.run/1 object (what was wrong, without a file name).
class RecordError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RunRecord {
  static constexpr const char* kSchema = "pepr.run/1";

  Field<std::string> run_id;  // null: `pepr train` without --run-id (the file's name is its id)
  RunStatus status = RunStatus::running;
  Field<std::string> error, stop_reason;
  std::optional<ConfigRecord> config;
  std::optional<ModelRecord> model;
  std::optional<DataRecord> data;
  Field<Json> weights;      // pretrained weights loaded (file, tensors), or null
  Field<Json> environment;  // the machine, libraries and meter methods: descriptive, kept open
  std::optional<std::vector<EpochRecord>> epochs;
  std::optional<TotalsRecord> totals;
  Field<Json> meter;  // the meter's own account (meter::Tracker::to_json)
  std::optional<BudgetRecord> budget;
  std::optional<ProbeRecord> probe;
  std::optional<PrunedRecord> pruned;
  std::optional<ResumedRecord> resumed;
  std::optional<CheckpointRecord> checkpoint;
  std::optional<SweepRecord> sweep;
  Json extra = Json::object();

  // The epochs, or none when the record has no "epochs".
  const std::vector<EpochRecord>& epoch_list() const;
  // The energy of the run: its totals, else the sum over its epochs.
  double energy_kwh() const;
  // environment.meter_methods.energy, else every component's method ("cpu:rapl gpu:nvml"), or "".
  std::string energy_method() const;

  // Throws RecordError: not an object, another schema, no status or an unknown one.
  static RunRecord from_json(const Json& j);
  Json to_json() const;
  std::string dump() const;  // as written to a file: two-space indent, a final newline

  bool operator==(const RunRecord&) const = default;
};

// Each section lists its members once: reading, writing and the tests walk that list.
template <typename V>
void EpochRecord::fields(V&& v) {
  v("epoch", epoch), v("train_loss", train_loss), v("train_acc", train_acc);
  v("val_loss", val_loss), v("val_acc", val_acc), v("val_balanced_acc", val_balanced_acc);
  v("val_auc", val_auc), v("test_loss", test_loss), v("test_acc", test_acc);
  v("test_balanced_acc", test_balanced_acc), v("test_auc", test_auc), v("time_s", time_s);
  v("train_time_s", train_time_s), v("train_images_per_s", train_images_per_s);
  v("data_wait_s", data_wait_s), v("cpu_time_s", cpu_time_s), v("energy_kwh", energy_kwh);
  v("energy_raw_kwh", energy_raw_kwh), v("co2_g", co2_g), v("mem_peak_gb", mem_peak_gb);
  v("energy_kwh_lo", energy_kwh_lo), v("energy_kwh_hi", energy_kwh_hi), v("co2_g_lo", co2_g_lo);
  v("co2_g_hi", co2_g_hi), v("energy_error_systematic", energy_error_systematic);
  v("energy_error_per_run", energy_error_per_run);
  v("gpu_mem_peak_gb", gpu_mem_peak_gb), v("gpu_mem_reserved_peak_gb", gpu_mem_reserved_peak_gb);
  v("gpu_mem_allocated_peak_gb", gpu_mem_allocated_peak_gb), v("loss_scale", loss_scale);
}

template <typename V>
void ConfigRecord::fields(V&& v) {
  v("model", model), v("dataset", dataset), v("data_file", data_file), v("weights", weights);
  v("optimizer", optimizer), v("device", device), v("precision", precision);
  v("memory_format", memory_format), v("pretrained", pretrained);
  v("deterministic", deterministic), v("cudnn_benchmark", cudnn_benchmark);
  v("imagenet_norm", imagenet_norm), v("train_fraction", train_fraction), v("lr", lr);
  v("epochs", epochs), v("batch_size", batch_size), v("seed", seed), v("threads", threads);
  v("image_size", image_size), v("in_chans", in_chans);
}

template <typename V>
void ModelRecord::fields(V&& v) {
  v("name", name), v("type", type), v("params", params), v("params_1000", params_1000);
  v("native", native), v("efficient", efficient);
}

template <typename V>
void DataRecord::fields(V&& v) {
  v("train_samples", train_samples), v("val_samples", val_samples);
  v("test_samples", test_samples), v("num_classes", num_classes);
  v("image_height", image_height), v("image_width", image_width), v("placement", placement);
  v("placement_reason", placement_reason), v("chance_accuracy", chance_accuracy);
  v("split", split);
}

template <typename V>
void TotalsRecord::fields(V&& v) {
  v("time_s", time_s), v("epochs_time_s", epochs_time_s), v("energy_kwh", energy_kwh);
  v("energy_raw_kwh", energy_raw_kwh), v("co2_g", co2_g), v("mem_peak_gb", mem_peak_gb);
  v("energy_kwh_lo", energy_kwh_lo), v("energy_kwh_hi", energy_kwh_hi), v("co2_g_lo", co2_g_lo);
  v("co2_g_hi", co2_g_hi), v("energy_error_systematic", energy_error_systematic);
  v("energy_error_per_run", energy_error_per_run);
  v("gpu_mem_peak_gb", gpu_mem_peak_gb), v("gpu_mem_reserved_peak_gb", gpu_mem_reserved_peak_gb);
  v("gpu_mem_allocated_peak_gb", gpu_mem_allocated_peak_gb);
  v("train_samples", train_samples), v("epochs_done", epochs_done);
}

template <typename V>
void BudgetRecord::fields(V&& v) {
  v("predicted_energy_kwh", predicted_energy_kwh), v("predicted_time_s", predicted_time_s);
  v("epoch1_steady_fraction", epoch1_steady_fraction), v("energy_error", energy_error);
  v("time_error", time_error);
}

template <typename V>
void ProbeRecord::fields(V&& v) {
  v("predicted_energy_kwh", predicted_energy_kwh), v("predicted_time_s", predicted_time_s);
  v("energy_kwh", energy_kwh), v("test_acc", test_acc), v("wall_s", wall_s);
}

template <typename V>
void PrunedRecord::fields(V&& v) {
  v("reason", reason), v("top_k", top_k), v("projected_energy_kwh", projected_energy_kwh);
  v("spent_kwh", spent_kwh);
}

template <typename V>
void ResumedRecord::fields(V&& v) {
  v("checkpoint", checkpoint), v("epochs", epochs), v("energy_kwh", energy_kwh);
  v("co2_g", co2_g), v("time_s", time_s);
}

template <typename V>
void CheckpointRecord::fields(V&& v) {
  v("path", path), v("saved", saved), v("reason", reason), v("epochs", epochs), v("bytes", bytes);
}

template <typename V>
void SweepRecord::fields(V&& v) {
  v("plan", plan), v("plan_name", plan_name), v("host", host), v("started_at", started_at);
  v("shard", shard), v("finished_at", finished_at), v("exit", exit), v("pid", pid);
  v("attempt", attempt), v("wall_s", wall_s), v("argv", argv);
}

// One section as JSON and back (ConfigRecord, EpochRecord, ... SweepRecord): members of the
// wrong type or unknown kept in `extra`.
template <typename S>
Json section_to_json(const S& s);
template <typename S>
S section_from_json(const Json& j);

// For nlohmann's conversions: `json j = record;` and `j.get<RunRecord>()`.
void to_json(Json& j, const RunRecord& r);
void from_json(const Json& j, RunRecord& r);
void to_json(Json& j, const EpochRecord& e);

// Reads a record file; nullopt (and *why) when it cannot be read, is not JSON or not a
// pepr.run/1 record. A record without a run_id gets the file's name without .json.
std::optional<RunRecord> read_record_file(const std::filesystem::path& path,
                                          std::string* why = nullptr);

// The "done" statuses: a run with one of these is not run again by --resume: completed, stopped
// (by the trainer, a budget or PePR patience: its record is a result) and pruned (by
// `pepr bench --prune-top`: it cannot enter its experiment's top K). "probed" (epoch 1 only,
// before pruning) is not done.
bool is_done(RunStatus s);

}  // namespace pepr::run
