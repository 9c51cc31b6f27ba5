#include "sweep/plan.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in format.h before fmt 11)
#include <toml++/toml.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/subprocess.hpp"
#include "core/suggest.hpp"
#include "core/table.hpp"
#include "sweep/process.hpp"

namespace pepr::sweep {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Model space

std::vector<ModelInfo> parse_model_space(std::string_view csv, const std::string& source) {
  Table t = Table::parse_csv(csv, source);
  auto col = [&](std::initializer_list<const char*> names) -> std::optional<std::size_t> {
    for (const char* n : names)
      if (auto c = t.find_column(n)) return c;
    return std::nullopt;
  };
  const std::size_t name = t.require_column(t.find_column("model") ? "model" : "name");
  auto params = col({"num_param", "params_1000", "params"});
  auto type = col({"type"});
  auto efficient = col({"efficient"});
  auto native = col({"native"});
  std::vector<ModelInfo> out;
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    ModelInfo m;
    m.name = std::string(t.cell(r, name));
    if (params) m.params = t.number_or_missing(r, *params).value_or(0);
    if (type) m.type = std::string(t.cell(r, *type));
    if (efficient) m.efficient = static_cast<int>(t.number_or_missing(r, *efficient).value_or(0));
    if (native) {
      std::string v(t.cell(r, *native));
      m.native = v == "1" || v == "true" || v == "yes";
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<std::vector<ModelInfo>> load_model_space(const std::string& pepr_exe) {
  if (pepr_exe.empty()) return std::nullopt;
  CaptureResult r = run_capture({pepr_exe, "zoo", "list", "--format", "csv"});
  if (r.exit_code != 0 || r.out.empty()) return std::nullopt;
  try {
    return parse_model_space(r.out, "pepr zoo list");
  } catch (const Error&) {
    return std::nullopt;
  }
}

bool ModelFilter::accepts(const ModelInfo& m) const {
  if (max_params && !(m.params > 0 && m.params <= *max_params)) return false;
  if (min_params && !(m.params >= *min_params)) return false;
  if (native && m.native != *native) return false;
  if (type && m.type != *type) return false;
  if (efficient && m.efficient != *efficient) return false;
  return true;
}

std::string ModelFilter::describe() const {
  std::vector<std::string> parts;
  if (max_params) parts.push_back(fmt::format("max_params = {}", format_number(*max_params)));
  if (min_params) parts.push_back(fmt::format("min_params = {}", format_number(*min_params)));
  if (native) parts.push_back(fmt::format("native = {}", *native));
  if (type) parts.push_back(fmt::format("type = \"{}\"", *type));
  if (efficient) parts.push_back(fmt::format("efficient = {}", *efficient));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// ---------------------------------------------------------------------------------------------
// TOML reading with positions

namespace {

struct Reader {
  std::string source;

  [[noreturn]] void fail(const toml::node& n, const std::string& what) const {
    const auto& b = n.source().begin;
    throw ParseError(source, b.line, std::to_string(b.column), what);
  }
  [[noreturn]] void fail_at(const toml::source_region& s, const std::string& what) const {
    throw ParseError(source, s.begin.line, std::to_string(s.begin.column), what);
  }

  void check_keys(const toml::table& t, const std::string& where,
                  std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        fail(v, fmt::format("unknown key '{}' in {} (expected one of: {})", k.str(), where,
                            fmt::join(names, ", ")));
      }
    }
  }

  std::string str(const toml::node& n, const std::string& key) const {
    if (auto v = n.value<std::string>(); v && n.is_string()) return *v;
    fail(n, fmt::format("'{}' must be a string", key));
  }
  double num(const toml::node& n, const std::string& key) const {
    if (n.is_floating_point()) return *n.value<double>();
    if (n.is_integer()) return static_cast<double>(*n.value<std::int64_t>());
    fail(n, fmt::format("'{}' must be a number", key));
  }
  std::int64_t integer(const toml::node& n, const std::string& key) const {
    if (n.is_integer()) return *n.value<std::int64_t>();
    fail(n, fmt::format("'{}' must be an integer", key));
  }
  bool boolean(const toml::node& n, const std::string& key) const {
    if (n.is_boolean()) return *n.value<bool>();
    fail(n, fmt::format("'{}' must be true or false", key));
  }
  int positive_int(const toml::node& n, const std::string& key, int lo = 1) const {
    auto v = integer(n, key);
    if (v < lo || v > 1'000'000'000)
      fail(n, fmt::format("'{}' must be an integer >= {}, got {}", key, lo, v));
    return static_cast<int>(v);
  }
  const toml::array& array(const toml::node& n, const std::string& key) const {
    if (auto a = n.as_array()) {
      if (a->empty()) fail(n, fmt::format("'{}' must not be empty", key));
      return *a;
    }
    fail(n, fmt::format("'{}' must be an array", key));
  }
  std::vector<std::string> strings(const toml::node& n, const std::string& key) const {
    std::vector<std::string> out;
    for (const auto& e : array(n, key)) out.push_back(str(e, key));
    return out;
  }
};

// A mode by its name in run/modes.hpp's table: `'precision' must be "fp32", "bf16" or "fp16"`.
template <typename E>
void read_mode(const Reader& rd, const toml::node& v, const std::string& key, E& out) {
  const std::string text = rd.str(v, key);
  if (const auto mode = run::from_name<E>(text)) {
    out = *mode;
    return;
  }
  std::vector<std::string> quoted;
  for (const auto& n : run::all_names<E>()) quoted.push_back(fmt::format("\"{}\"", n));
  rd.fail(v, fmt::format("'{}' must be {}", key, run::join_or(quoted)));
}

// image_size: "auto" or an integer >= 0 (0: as stored).
run::ImageSize read_image_size(const Reader& rd, const toml::node& v) {
  const char* what = "'image_size' must be \"auto\" or an integer >= 0 (0: as stored)";
  if (v.is_string() && rd.str(v, "image_size") == "auto") return run::ImageSize::auto_size();
  if (!v.is_integer()) rd.fail(v, what);
  return run::ImageSize::pixels(rd.positive_int(v, "image_size", 0));
}

// A name usable in run IDs and file names: letters, digits, '_' and '.'; others become '_'.
std::string id_part(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

}  // namespace

Plan parse_plan(std::string_view text, const std::string& source, const fs::path& base_dir) {
  Reader rd{source};
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ParseError(source, e.source().begin.line, std::to_string(e.source().begin.column),
                     std::string(e.description()));
  }
  Plan p;
  p.source = source;
  p.base_dir = base_dir;
  rd.check_keys(root, "the plan", {"sweep", "models", "datasets"});

  if (auto node = root.get("sweep")) {
    auto* t = node->as_table();
    if (!t) rd.fail(*node, "[sweep] must be a table");
    rd.check_keys(*t, "[sweep]",
                  {"name", "epochs", "lr", "batch_size", "optimizer", "device", "precision",
                   "threads", "image_size", "seeds", "train_fractions", "regimes", "train_args"});
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      if (key == "name") {
        p.name = rd.str(v, key);
        if (p.name.empty()) rd.fail(v, "'name' must not be empty");
      } else if (key == "epochs") {
        p.run.epochs = rd.positive_int(v, key);
      } else if (key == "lr") {
        p.run.lr = rd.num(v, key);
        if (!(p.run.lr > 0)) rd.fail(v, "'lr' must be > 0");
      } else if (key == "batch_size") {
        p.run.batch_size = rd.positive_int(v, key);
      } else if (key == "optimizer") {
        read_mode(rd, v, key, p.run.optimizer);
      } else if (key == "device") {
        p.run.device = rd.str(v, key);
        try {
          run::parse_device(p.run.device);
        } catch (const Error&) {
          rd.fail(v, "'device' must be \"cpu\", \"cuda\" or \"cuda:N\"");
        }
      } else if (key == "precision") {
        read_mode(rd, v, key, p.run.precision);
      } else if (key == "threads") {
        p.run.threads = rd.positive_int(v, key, 0);
      } else if (key == "image_size") {
        p.run.image_size = read_image_size(rd, v);
      } else if (key == "seeds") {
        p.seeds.clear();
        for (const auto& e : rd.array(v, key)) p.seeds.push_back(rd.positive_int(e, key, 0));
      } else if (key == "train_fractions") {
        p.train_fractions.clear();
        for (const auto& e : rd.array(v, key)) {
          double f = rd.num(e, key);
          if (!(f > 0 && f <= 1)) rd.fail(e, fmt::format("train fraction {} is not in (0, 1]", f));
          p.train_fractions.push_back(f);
        }
      } else if (key == "regimes") {
        p.regimes.clear();
        for (const auto& e : rd.array(v, key)) {
          std::string r = rd.str(e, key);
          if (r != "pretrained" && r != "scratch")
            rd.fail(e, fmt::format("regime '{}': expected \"pretrained\" or \"scratch\"", r));
          p.regimes.push_back(r);
        }
      } else if (key == "train_args") {
        auto* a = v.as_array();
        if (!a) rd.fail(v, "'train_args' must be an array of strings");
        for (const auto& e : *a) p.train_args.push_back(rd.str(e, key));
      }
    }
  }

  if (auto node = root.get("models")) {
    auto* t = node->as_table();
    if (!t) rd.fail(*node, "[models] must be a table");
    rd.check_keys(*t, "[models]",
                  {"names", "max_params", "min_params", "native", "type", "efficient"});
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      if (key == "names") {
        p.model_names = rd.strings(v, key);
        for (const auto& e : *v.as_array())
          p.model_places.push_back({e.source().begin.line, e.source().begin.column});
        std::set<std::string> seen;
        for (const auto& n : p.model_names) {
          if (n.empty()) rd.fail(v, "model names must not be empty");
          if (!seen.insert(n).second) rd.fail(v, fmt::format("model '{}' listed twice", n));
        }
      } else if (key == "max_params") {
        p.filter.max_params = rd.num(v, key);
      } else if (key == "min_params") {
        p.filter.min_params = rd.num(v, key);
      } else if (key == "native") {
        p.filter.native = rd.boolean(v, key);
      } else if (key == "type") {
        p.filter.type = rd.str(v, key);
      } else if (key == "efficient") {
        p.filter.efficient = static_cast<int>(rd.integer(v, key));
      }
    }
  }
  if (p.model_names.empty() && !p.filter.any())
    throw ParseError(source, 1,
                     "the plan names no models: give [models] names = [...] or a "
                     "filter (max_params, min_params, native, type, efficient)");

  if (auto node = root.get("datasets")) {
    auto* a = node->as_array();
    if (!a || !a->is_array_of_tables())
      rd.fail(*node, "datasets must be given as [[datasets]] tables");
    std::set<std::string> names;
    for (const auto& e : *a) {
      const auto& t = *e.as_table();
      rd.check_keys(t, "[[datasets]]", {"name", "file", "pull", "synth", "synth_args"});
      DatasetSpec d;
      d.place = {t.source().begin.line, t.source().begin.column};
      int sources = 0;
      for (auto&& [k, v] : t) {
        const std::string key(k.str());
        if (key == "name") d.name = rd.str(v, key);
        if (key == "file") d.file = rd.str(v, key), ++sources;
        if (key == "pull") d.pull = rd.str(v, key), ++sources;
        if (key == "synth") sources += (d.synth = rd.boolean(v, key)) ? 1 : 0;
        if (key == "synth_args") d.synth_args = rd.strings(v, key);
      }
      if (sources != 1)
        rd.fail_at(t.source(),
                   "each [[datasets]] needs exactly one of file = \"...\", "
                   "pull = \"<catalogue name>\" or synth = true");
      if (d.name.empty()) {
        if (!d.pull.empty())
          d.name = d.pull;
        else if (!d.file.empty())
          d.name = fs::path(d.file).stem().string();
        else
          d.name = "synth";
      }
      if (!names.insert(d.name).second)
        rd.fail_at(t.source(), fmt::format("dataset '{}' listed twice", d.name));
      p.datasets.push_back(std::move(d));
    }
  }
  if (p.datasets.empty()) throw ParseError(source, 1, "the plan has no [[datasets]]");
  return p;
}

namespace {

// Values as TOML text: a basic string, quoted and escaped; an integer; a float in its shortest
// form that reads back as the same double, with a '.' or an exponent.
std::string toml_text(std::string_view v) {
  std::string out = "\"";
  for (const char ch : v) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\')
      out += {'\\', ch};
    else if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\u{:04X}", u);
    else
      out += ch;
  }
  return out + "\"";
}
std::string toml_text_int(std::int64_t v) {
  return std::to_string(v);
}
std::string toml_text(double v) {
  std::string out = fmt::format("{}", v);
  if (out.find_first_of(".eEn") == std::string::npos) out += ".0";  // "n": inf, nan
  return out;
}

template <typename T, typename F>
std::string toml_array(const std::vector<T>& values, F text) {
  std::vector<std::string> parts;
  for (const auto& v : values) parts.push_back(text(v));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

std::string toml_strings(const std::vector<std::string>& values) {
  return toml_array(values, [](const std::string& v) { return toml_text(v); });
}

}  // namespace

std::string effective_plan_toml(const Plan& plan) {
  const Plan defaults;
  const run::RunConfig& c = plan.run;
  const run::RunConfig& d = defaults.run;
  std::string out = "[sweep]\n";
  auto key = [&](const char* name, const std::string& value, bool is_default,
                 const char* why = "") {
    out += fmt::format("{} = {}{}\n", name, value,
                       is_default ? fmt::format("  # default{}", why) : std::string());
  };
  key("name", toml_text(plan.name), plan.name == defaults.name);
  key("epochs", toml_text_int(c.epochs), c.epochs == d.epochs);
  key("lr", toml_text(c.lr), c.lr == d.lr);
  key("batch_size", toml_text_int(c.batch_size), c.batch_size == d.batch_size);
  key("optimizer", toml_text(run::name(c.optimizer)), c.optimizer == d.optimizer);
  key("device", toml_text(c.device), c.device == d.device);
  key("precision", toml_text(run::name(c.precision)), c.precision == d.precision);
  key("threads", toml_text_int(c.threads), c.threads == d.threads,
      c.threads == 0 ? ": the CPUs other processes leave free when each run starts" : "");
  key("image_size", c.image_size.is_auto() ? toml_text("auto") : toml_text_int(c.image_size.px),
      c.image_size == d.image_size,
      c.image_size.is_auto() ? ": per model, the data's size unless the model needs another" : "");
  key("seeds", toml_array(plan.seeds, [](int v) { return toml_text_int(v); }),
      plan.seeds == defaults.seeds);
  key("train_fractions", toml_array(plan.train_fractions, [](double v) { return toml_text(v); }),
      plan.train_fractions == defaults.train_fractions);
  key("regimes", toml_strings(plan.regimes), plan.regimes == defaults.regimes);
  key("train_args", toml_strings(plan.train_args), plan.train_args.empty());

  out += "\n[models]\n";
  if (!plan.model_names.empty()) out += "names = " + toml_strings(plan.model_names) + "\n";
  const ModelFilter& f = plan.filter;
  if (f.max_params) out += "max_params = " + toml_text(*f.max_params) + "\n";
  if (f.min_params) out += "min_params = " + toml_text(*f.min_params) + "\n";
  if (f.native) out += fmt::format("native = {}\n", *f.native);
  if (f.type) out += "type = " + toml_text(*f.type) + "\n";
  if (f.efficient) out += "efficient = " + toml_text_int(*f.efficient) + "\n";

  for (const auto& ds : plan.datasets) {
    out += "\n[[datasets]]\nname = " + toml_text(ds.name) + "\n";
    if (!ds.file.empty()) out += "file = " + toml_text(ds.file) + "\n";
    if (!ds.pull.empty()) out += "pull = " + toml_text(ds.pull) + "\n";
    if (ds.synth) out += "synth = true\nsynth_args = " + toml_strings(ds.synth_args) + "\n";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> other_train_options(const Plan& plan) {
  // The plan's own keys and each run's own values are shown elsewhere; a probe's epoch limit is
  // the sweep's business.
  static const std::set<std::string_view> shown = {
      "model",   "data",       "dataset",    "pretrained",       "train_fraction", "seed",
      "epochs",  "lr",         "batch_size", "optimizer",        "device",         "precision",
      "threads", "image_size", "run_id",     "stop_after_epochs"};
  run::RunConfig c = plan.run;
  if (!plan.train_args.empty()) {
    std::vector<std::string> args = run::to_args(plan.run);
    args.insert(args.end(), plan.train_args.begin(), plan.train_args.end());
    std::vector<std::string> unknown;
    try {
      c = run::from_args(args, &unknown);
    } catch (const Error&) {
      // a value the trainer will refuse when the run starts: shown as the plan has it
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const run::Flag& flag : run::flags()) {
    if (shown.count(flag.key)) continue;
    std::string v = run::value_text(flag, c);
    if (v.empty()) v = "none";
    out.emplace_back(std::string(flag.flag), std::move(v));
  }
  return out;
}

Plan load_plan(const std::string& path) {
  std::string text = read_text_file(path);
  fs::path dir = fs::absolute(fs::path(path)).parent_path();
  return parse_plan(text, path, dir);
}

namespace {

bool is_model_file(const std::string& name) {
  auto ends = [&](std::string_view ext) {
    return name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0;
  };
  return name.find('/') != std::string::npos || ends(".pt") || ends(".pth");
}

}  // namespace

void validate_plan(const Plan& plan, const std::vector<std::string>* known_models) {
  auto at = [&](const PlanPlace& pl, const std::string& what) {
    return ParseError(plan.source, pl.line, std::to_string(pl.column), what);
  };
  for (const auto& d : plan.datasets) {
    if (d.file.empty()) continue;
    const fs::path f = fs::path(d.file).is_absolute() ? fs::path(d.file) : plan.base_dir / d.file;
    std::error_code ec;
    if (!fs::exists(f, ec))
      throw at(d.place, fmt::format("dataset '{}': file {} does not exist", d.name,
                                    f.lexically_normal().string()));
  }
  for (std::size_t i = 0; i < plan.model_names.size(); ++i) {
    const std::string& n = plan.model_names[i];
    const PlanPlace pl = i < plan.model_places.size() ? plan.model_places[i] : PlanPlace{};
    if (is_model_file(n)) {
      std::error_code ec;  // the trainer opens it as written, from the current folder
      if (!fs::exists(n, ec)) throw at(pl, fmt::format("model file {} does not exist", n));
      continue;
    }
    if (!known_models) continue;
    if (std::find(known_models->begin(), known_models->end(), n) != known_models->end()) continue;
    throw at(pl, fmt::format("unknown model '{}'{}; the known models: pepr zoo list", n,
                             did_you_mean(n, *known_models)));
  }
}

// ---------------------------------------------------------------------------------------------
// Runs

std::string fraction_text(double f) {
  return format_number(f);
}

std::string experiment_name(const std::string& data_name, bool pretrained, double fraction) {
  std::string s = data_name;
  if (!pretrained) s += "_scratch";
  if (fraction == 0.1)
    s += "_small";
  else if (fraction != 1.0)
    s += "_f" + fraction_text(fraction);
  return s;
}

std::string RunSpec::experiment() const {
  return experiment_name(dataset.name, config.pretrained, config.train_fraction);
}

nlohmann::json RunSpec::identity() const {
  nlohmann::json data = {{"name", dataset.name}};
  if (!dataset.file.empty()) data["file"] = dataset.file;
  if (!dataset.pull.empty()) data["pull"] = dataset.pull;
  if (dataset.synth) data["synth"] = dataset.synth_args;
  const auto& c = config;
  nlohmann::json id = {{"model", c.model},
                       {"data", data},
                       {"pretrained", c.pretrained},
                       {"train_fraction", c.train_fraction},
                       {"seed", c.seed},
                       {"epochs", c.epochs},
                       {"lr", c.lr},
                       {"batch_size", c.batch_size},
                       {"optimizer", run::name(c.optimizer)},
                       {"device", c.device},
                       {"threads", c.threads},
                       // auto hashes as 0 (the former default, as stored): plans that kept
                       // the default keep their run IDs; for every model that accepts the
                       // data's size the two are the same run.
                       {"image_size", c.image_size.is_auto() ? 0 : c.image_size.px},
                       {"train_args", train_args}};
  // fp32 plans keep their IDs
  if (c.precision != run::Precision::fp32) id["precision"] = run::name(c.precision);
  return id;
}

run::ConfigRecord RunSpec::config_record() const {
  run::ConfigRecord r = run::ConfigRecord::asked(config);
  r.dataset = dataset.name;
  r.weights = nullptr;  // a plan's pretrained runs take the model's default timm weights
  if (image_size && image_size->ok()) r.image_size = image_size->size;  // as resolved
  return r;
}

nlohmann::json RunSpec::config_json() const {
  return run::section_to_json(config_record());
}

std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string make_run_id(const RunSpec& r) {
  // nlohmann::json objects keep their keys sorted, so dump() is canonical.
  std::uint64_t h = fnv1a64(r.identity().dump());
  const auto& c = r.config;
  return fmt::format("{}-{}-{}-f{}-s{}-{:08x}", id_part(c.model), id_part(r.dataset.name),
                     c.pretrained ? "pt" : "scratch", fraction_text(c.train_fraction), c.seed,
                     static_cast<std::uint32_t>(h ^ (h >> 32)));
}

std::vector<RunSpec> expand_plan(const Plan& plan, const fs::path& runs_dir,
                                 const std::vector<ModelInfo>* space) {
  std::vector<std::string> models;
  if (plan.filter.any()) {
    if (!space)
      throw Error(fmt::format(
          "{}: the model filter ({}) needs the model space (`pepr zoo list`), which this build "
          "does not have; list the models by name instead: [models] names = [...]",
          plan.source, plan.filter.describe()));
    if (!plan.model_names.empty()) {
      for (const auto& n : plan.model_names) {
        auto it = std::find_if(space->begin(), space->end(),
                               [&](const ModelInfo& m) { return m.name == n; });
        if (it == space->end())
          throw Error(fmt::format("{}: model '{}' is not in the model space", plan.source, n));
        if (plan.filter.accepts(*it)) models.push_back(n);
      }
    } else {
      for (const auto& m : *space)
        if (plan.filter.accepts(m)) models.push_back(m.name);
    }
    if (models.empty())
      throw Error(
          fmt::format("{}: no model passes the filter ({})", plan.source, plan.filter.describe()));
  } else {
    models = plan.model_names;
  }

  std::vector<RunSpec> runs;
  std::set<std::string> ids;
  for (const auto& d : plan.datasets) {
    std::string data;
    if (!d.pull.empty())
      data = d.pull;
    else if (d.synth)
      data = (fs::absolute(runs_dir) / (id_part(d.name) + ".npz")).string();
    else
      data = (fs::path(d.file).is_absolute() ? fs::path(d.file) : plan.base_dir / d.file)
                 .lexically_normal()
                 .string();
    for (const auto& m : models)
      for (const auto& regime : plan.regimes)
        for (double f : plan.train_fractions)
          for (int seed : plan.seeds) {
            RunSpec r;
            r.dataset = d;
            r.regime = regime;
            r.config = plan.run;
            r.config.model = m;
            r.config.data = data;
            r.config.dataset = d.name;
            r.config.pretrained = regime == "pretrained";
            r.config.train_fraction = f;
            r.config.seed = static_cast<std::uint64_t>(seed);
            r.train_args = plan.train_args;
            r.id = make_run_id(r);
            if (!ids.insert(r.id).second) continue;  // repeated seeds or fractions
            runs.push_back(std::move(r));
          }
  }
  return runs;
}

Shard Shard::parse(const std::string& text) {
  auto slash = text.find('/');
  auto bad = [&] {
    return Error(fmt::format("shard '{}': expected I/N with 0 <= I < N (e.g. 0/4)", text));
  };
  if (slash == std::string::npos) throw bad();
  auto i = parse_number(text.substr(0, slash));
  auto n = parse_number(text.substr(slash + 1));
  if (!i || !n || *i != std::floor(*i) || *n != std::floor(*n) || *n < 1 || *i < 0 || *i >= *n ||
      *n > 1e6)
    throw bad();
  return Shard{static_cast<int>(*i), static_cast<int>(*n)};
}

std::vector<RunSpec> select_shard(const std::vector<RunSpec>& runs, Shard shard) {
  std::vector<std::string> ids;
  for (const auto& r : runs) ids.push_back(r.id);
  std::sort(ids.begin(), ids.end());
  std::set<std::string> mine;
  for (std::size_t k = 0; k < ids.size(); ++k)
    if (static_cast<int>(k % static_cast<std::size_t>(shard.count)) == shard.index)
      mine.insert(ids[k]);
  std::vector<RunSpec> out;
  for (const auto& r : runs)
    if (mine.count(r.id)) out.push_back(r);
  return out;
}

}  // namespace pepr::sweep
