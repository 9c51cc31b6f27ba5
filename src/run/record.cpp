#include "run/record.hpp"

#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "run/config.hpp"

namespace pepr::run {

namespace {

// A float that holds an integer in [lowest, 2^63) that reads back as the same float.
bool integral_float(double d, double lowest) {
  return std::isfinite(d) && d == std::trunc(d) && d >= lowest && d < 0x1p63 &&
         !(d == 0 && std::signbit(d));
}

// Whether a JSON value is read into a Field<T> and written back as the same bytes.
template <typename T>
bool fits(const Json& v) {
  if constexpr (std::is_same_v<T, double>) {
    // An integer is written back as an int64: it must be one, and survive the double.
    if (v.is_number_float()) return true;
    if (v.is_number_unsigned()) {
      const std::uint64_t u = v.get<std::uint64_t>();
      const double d = static_cast<double>(u);
      return d < 0x1p63 && static_cast<std::uint64_t>(d) == u;
    }
    if (v.is_number_integer()) {
      const std::int64_t i = v.get<std::int64_t>();
      const double d = static_cast<double>(i);
      return d < 0x1p63 && static_cast<std::int64_t>(d) == i;  // d >= -2^63 always
    }
    return false;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    if (v.is_number_float())  // 3.0: read as 3, written back as 3.0
      return integral_float(v.get<double>(), -0x1p63);
    if (v.is_number_unsigned())
      return v.get<std::uint64_t>() <=
             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return v.is_number_integer();
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    if (v.is_number_float()) return integral_float(v.get<double>(), 0.0);
    return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string();
  } else if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean();
  } else {
    static_assert(std::is_same_v<T, Json>);
    return true;
  }
}

// Reads the members a section lists; the others, and those of an unexpected type, go to extra.
struct Reader {
  const Json& j;
  Json& extra;
  std::set<std::string> listed;

  template <typename T>
  void operator()(const char* key, Field<T>& f) {
    listed.insert(key);
    auto it = j.find(key);
    if (it == j.end()) return;
    if (it->is_null()) {
      f = nullptr;
    } else if (!fits<T>(*it)) {
      extra[key] = *it;
    } else if constexpr (std::is_same_v<T, double>) {
      f = it->template get<double>();
      f.set_other_number_kind(it->is_number_integer());
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      f = it->is_number_float() ? static_cast<T>(it->template get<double>())
                                : it->template get<T>();
      f.set_other_number_kind(it->is_number_float());
    } else {
      f = it->template get<T>();
    }
  }
  void rest() {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!listed.count(it.key())) extra[it.key()] = it.value();
  }
};

struct Writer {
  Json& j;

  template <typename T>
  void operator()(const char* key, const Field<T>& f) {
    if (!f.present()) return;
    if (!f.has_value())
      j[key] = nullptr;
    else if constexpr (std::is_same_v<T, double>)
      j[key] = f.other_number_kind() && *f >= -0x1p63 && *f < 0x1p63
                   ? Json(static_cast<std::int64_t>(*f))
                   : Json(*f);
    else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      j[key] = f.other_number_kind() ? Json(static_cast<double>(*f)) : Json(*f);
    else
      j[key] = *f;
  }
};

template <typename S>
S read_section(const Json& j) {
  S s;
  Reader r{j, s.extra, {}};
  s.fields(r);
  r.rest();
  return s;
}

template <typename S>
Json write_section(const S& s) {
  Json j = s.extra.is_object() ? s.extra : Json::object();
  Writer w{j};
  const_cast<S&>(s).fields(w);  // fields() only hands its members to the writer, which reads
  return j;
}

// An optional section: read when the member is an object, else kept as it is in `extra`.
template <typename S>
void read_optional(const Json& j, const char* key, std::optional<S>& out, Json& extra) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_object())
    out = read_section<S>(*it);
  else
    extra[key] = *it;
}

template <typename S>
void write_optional(Json& j, const char* key, const std::optional<S>& s) {
  if (s) j[key] = write_section(*s);
}

template <typename T>
void read_field(const Json& j, const char* key, Field<T>& f, Json& extra) {
  Reader r{j, extra, {}};
  r(key, f);
}

}  // namespace

template <typename S>
Json section_to_json(const S& s) {
  return write_section(s);
}
template <typename S>
S section_from_json(const Json& j) {
  return j.is_object() ? read_section<S>(j) : S{};
}
#define PEPR_RECORD_SECTION(S)                \
  template Json section_to_json<S>(const S&); \
  template S section_from_json<S>(const Json&);
PEPR_RECORD_SECTION(EpochRecord)
PEPR_RECORD_SECTION(ConfigRecord)
PEPR_RECORD_SECTION(ModelRecord)
PEPR_RECORD_SECTION(DataRecord)
PEPR_RECORD_SECTION(TotalsRecord)
PEPR_RECORD_SECTION(BudgetRecord)
PEPR_RECORD_SECTION(ProbeRecord)
PEPR_RECORD_SECTION(PrunedRecord)
PEPR_RECORD_SECTION(ResumedRecord)
PEPR_RECORD_SECTION(CheckpointRecord)
PEPR_RECORD_SECTION(SweepRecord)
#undef PEPR_RECORD_SECTION

ConfigRecord ConfigRecord::asked(const RunConfig& c) {
  ConfigRecord r;
  r.model = c.model;
  r.dataset = c.dataset;
  r.data_file = c.data;
  r.pretrained = c.pretrained;
  r.weights = c.weights.empty() ? Field<std::string>(nullptr) : c.weights;
  r.train_fraction = c.train_fraction;
  r.epochs = c.epochs;
  r.optimizer = std::string(name(c.optimizer));
  r.lr = c.lr;
  r.batch_size = c.batch_size;
  r.seed = c.seed;
  r.device = c.device;
  r.precision = std::string(name(c.precision));
  r.threads = c.threads;
  // auto before it is resolved (per model, against the data) is null; the trainer records the size
  // it used.
  r.image_size = c.image_size.is_auto() ? Field<std::int64_t>(nullptr)
                                        : Field<std::int64_t>(std::int64_t{c.image_size.px});
  return r;
}

const std::vector<EpochRecord>& RunRecord::epoch_list() const {
  static const std::vector<EpochRecord> none;
  return epochs ? *epochs : none;
}

double RunRecord::energy_kwh() const {
  if (totals && totals->energy_kwh) return *totals->energy_kwh;
  double e = 0;
  for (const auto& ep : epoch_list()) e += ep.energy_kwh.value_or(0);
  return e;
}

std::string RunRecord::energy_method() const {
  if (!environment || !environment->is_object()) return "";
  auto m = environment->find("meter_methods");
  if (m == environment->end() || !m->is_object()) return "";
  if (auto e = m->find("energy"); e != m->end() && e->is_string()) return e->get<std::string>();
  std::string out;
  for (auto it = m->begin(); it != m->end(); ++it)
    if (it->is_string()) out += (out.empty() ? "" : " ") + it.key() + ":" + it->get<std::string>();
  return out;
}

RunRecord RunRecord::from_json(const Json& j) {
  if (!j.is_object()) throw RecordError("not a JSON object");
  auto schema = j.find("schema");
  if (schema == j.end() || *schema != kSchema)
    throw RecordError(fmt::format("not a {} record", kSchema));
  auto st = j.find("status");
  if (st == j.end() || !st->is_string()) throw RecordError("record without a status");
  RunRecord r;
  const auto status = from_name<RunStatus>(st->get<std::string>());
  if (!status)
    throw RecordError(fmt::format("unknown status '{}' (known: {})", st->get<std::string>(),
                                  join_or(all_names<RunStatus>())));
  r.status = *status;
  read_field(j, "run_id", r.run_id, r.extra);
  read_field(j, "error", r.error, r.extra);
  read_field(j, "stop_reason", r.stop_reason, r.extra);
  read_field(j, "weights", r.weights, r.extra);
  read_field(j, "environment", r.environment, r.extra);
  read_field(j, "meter", r.meter, r.extra);
  read_optional(j, "config", r.config, r.extra);
  read_optional(j, "model", r.model, r.extra);
  read_optional(j, "data", r.data, r.extra);
  read_optional(j, "totals", r.totals, r.extra);
  read_optional(j, "budget", r.budget, r.extra);
  read_optional(j, "probe", r.probe, r.extra);
  read_optional(j, "pruned", r.pruned, r.extra);
  read_optional(j, "resumed", r.resumed, r.extra);
  read_optional(j, "checkpoint", r.checkpoint, r.extra);
  read_optional(j, "sweep", r.sweep, r.extra);
  if (auto e = j.find("epochs"); e != j.end()) {
    bool all_objects = e->is_array();
    if (all_objects)
      for (const auto& x : *e) all_objects = all_objects && x.is_object();
    if (all_objects) {
      r.epochs.emplace();
      for (const auto& x : *e) r.epochs->push_back(read_section<EpochRecord>(x));
    } else {
      r.extra["epochs"] = *e;
    }
  }
  static const std::set<std::string> known{
      "schema", "status", "run_id", "error",   "stop_reason", "weights", "environment",
      "meter",  "config", "model",  "data",    "totals",      "budget",  "probe",
      "pruned", "sweep",  "epochs", "resumed", "checkpoint"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) r.extra[it.key()] = it.value();
  return r;
}

Json RunRecord::to_json() const {
  Json j = extra.is_object() ? extra : Json::object();
  j["schema"] = kSchema;
  j["status"] = std::string(name(status));
  Writer w{j};
  w("run_id", run_id), w("error", error), w("stop_reason", stop_reason);
  w("weights", weights), w("environment", environment), w("meter", meter);
  write_optional(j, "config", config);
  write_optional(j, "model", model);
  write_optional(j, "data", data);
  write_optional(j, "totals", totals);
  write_optional(j, "budget", budget);
  write_optional(j, "probe", probe);
  write_optional(j, "pruned", pruned);
  write_optional(j, "resumed", resumed);
  write_optional(j, "checkpoint", checkpoint);
  write_optional(j, "sweep", sweep);
  if (epochs) {
    Json a = Json::array();
    for (const auto& e : *epochs) a.push_back(write_section(e));
    j["epochs"] = std::move(a);
  }
  return j;
}

std::string RunRecord::dump() const {
  return to_json().dump(2) + "\n";
}

void to_json(Json& j, const RunRecord& r) {
  j = r.to_json();
}

void from_json(const Json& j, RunRecord& r) {
  r = RunRecord::from_json(j);
}

void to_json(Json& j, const EpochRecord& e) {
  j = write_section(e);
}

std::optional<RunRecord> read_record_file(const std::filesystem::path& path, std::string* why) {
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
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return set("not valid JSON (a partial or foreign file?)");
  RunRecord r;
  try {
    r = RunRecord::from_json(j);
  } catch (const RecordError& e) {
    return set(e.what());
  }
  // `pepr train` without --run-id writes "run_id": null: the file's name is the run's id, stable
  // as long as the file keeps its name.
  if (!r.run_id && !r.extra.contains("run_id")) r.run_id = path.stem().string();
  if (!r.run_id || r.run_id->empty()) return set("record whose run_id is not a string");
  return r;
}

bool is_done(RunStatus s) {
  return s == RunStatus::completed || s == RunStatus::stopped || s == RunStatus::pruned;
}

}  // namespace pepr::run
