// pepr bench: run a sweep plan (models x datasets x regimes x fractions x seeds), resumable and
// shardable; --default runs the embedded default sweep and prints its PePR ranking.
#include <cmath>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/report_command.hpp"
#include "cli/run_options.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/findings.hpp"
#include "core/format.hpp"
#include "core/robustness.hpp"
#include "core/score.hpp"
#include "data/catalogue.hpp"
#include "data/dataset.hpp"
#include "data/digest.hpp"
#include "meter/sharing.hpp"
#include "sweep/collect.hpp"
#include "sweep/default_plan.hpp"
#include "sweep/image_sizes.hpp"
#include "sweep/plan.hpp"
#include "sweep/process.hpp"
#include "sweep/runner.hpp"
#include "sweep/slurm.hpp"
#include "zoo/input_sizes.hpp"
#include "zoo/model_space.hpp"

namespace pepr::cli {

namespace {

namespace fs = std::filesystem;

struct BenchArgs {
  std::string plan;
  bool use_default = false;
  bool print_plan = false;
  bool list = false;
  std::string list_format;  // --list -f: table (default), csv, json, markdown, latex
  std::string runs_dir;
  bool resume = false;
  std::string shard = "0/1";
  // The budgets every run gets (run/config.hpp's --max-energy-wh, --max-time-s, --pepr-patience).
  run::RunConfig budgets;
  std::shared_ptr<RunOptions> budget_options;
  std::size_t prune_top = 0;
  std::string prune_bound = "peers";
  double prune_margin = 0.05, prune_energy_margin = 1.25;
  std::string train_cmd;
  bool quiet = false;
  std::string emit_slurm;
  sweep::SlurmOptions slurm;
};

// The PePR-E ranking of the completed runs, per experiment, as an aligned table.
// What the ranking's energies are worth: estimated (no sensor) and measured on a loaded machine.
std::vector<std::string> measurement_notes(const Table& results) {
  std::vector<std::string> notes;
  std::size_t estimated = 0, loaded = 0;
  double most_busy = 0;
  if (auto m = results.find_column("energy_method"))
    for (std::size_t r = 0; r < results.num_rows(); ++r)
      estimated += results.cell(r, *m).find("estimate") != std::string_view::npos;
  if (auto b = results.find_column("others_busy_cores"))
    for (std::size_t r = 0; r < results.num_rows(); ++r)
      if (auto v = results.number_or_missing(r, *b); v && *v >= meter::kLoadedBusyCores)
        ++loaded, most_busy = std::max(most_busy, *v);
  if (estimated > 0)
    notes.push_back(fmt::format(
        "energy of {} of {} runs is an estimate (no energy sensor: CPU time x a power model, "
        "docs/meters.md), comparable between runs on this machine only",
        estimated, results.num_rows()));
  if (loaded > 0)
    notes.push_back(fmt::format(
        "LOADED MACHINE: {} of {} runs ran while other processes kept up to {:.1f} CPUs busy: "
        "their time and energy are inflated; rerun them alone (pepr bench --resume after "
        "deleting their records) for comparable figures",
        loaded, results.num_rows(), most_busy));
  return notes;
}

std::string ranking(const Table& results, std::size_t top) {
  ScoreOptions so;
  so.performance = PerformanceSpec::parse("last:test_");
  so.resources.push_back(ResourceSpec::parse("energy", results));
  so.group_by = "dataset";
  ScoreResult res = score_table(results, so);
  auto order = rank_rows(res.scores[0], res.groups, top);
  Table t = res.table.select_rows(order);
  std::vector<std::string> rank;
  std::vector<std::size_t> seen(res.groups.names.size(), 0);
  for (std::size_t r : order) rank.push_back(std::to_string(++seen[res.groups.group_of[r]]));
  t.add_column("rank", rank);
  // Human output: energy in Wh, the unit in the header (results.csv keeps kWh).
  std::vector<std::string> wh;
  const std::size_t ecol = t.require_column("energy");
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    wh.push_back(fmt::format("{:.4g}", t.number(r, ecol) * 1000));
  t.add_column("energy (Wh)", wh);
  std::vector<std::size_t> cols;
  for (const char* c : {"dataset", "rank", "model", res.performance_column.c_str()})
    cols.push_back(t.require_column(c));
  // Balanced accuracy and AUC show a model that learned nothing, which accuracy alone hides on
  // an unbalanced test set (one class for every image scores that class's share).
  for (const char* c : {"test_balanced_acc", "test_auc"})
    if (auto i = t.find_column(c)) cols.push_back(*i);
  for (const char* c : {"energy (Wh)", "E_n", "pepr_e"}) cols.push_back(t.require_column(c));
  RenderOptions ro;
  ro.notes = {"P = final test accuracy; E_n: energy min-max within each experiment",
              "PePR-E = P / (1 + E_n); test_balanced_acc 0.5 and test_auc 0.5 are chance for "
              "two classes"};
  for (auto& n : measurement_notes(results)) ro.notes.push_back(std::move(n));
  std::string text = render(t.select_columns(cols), Format::Table, ro);
  // What choosing by PePR-E saves, per experiment (the report's findings).
  const Table& all = res.table;
  std::vector<std::string> ids;
  std::vector<double> energy;
  const std::size_t mcol = all.require_column("model"), ecol_all = all.require_column("energy");
  for (std::size_t r = 0; r < all.num_rows(); ++r) {
    ids.emplace_back(all.cell(r, mcol));
    energy.push_back(all.number_or_missing(r, ecol_all).value_or(NAN));
  }
  const auto findings = pepr_findings(
      {res.groups, ids, res.performance, energy, res.scores[0], "PePR-E", "energy", "kWh"});
  if (!findings.empty()) {
    text += "\nWhat choosing by PePR-E saves:\n";
    for (const auto& f : findings) text += "  " + f.sentence() + "\n";
  }
  // Whether the measurement error could reorder the top (docs/meters.md's error model).
  if (const auto b = resource_bounds(all, so.resources[0], so.norm, std::nullopt)) {
    const ScoreBounds sb = pepr_bounds(res.performance, *b, res.groups, so.norm, 1.0);
    text += fmt::format("\nWithin the measurement error ({}):\n", b->basis);
    for (const auto& g : ranking_robustness(res.scores[0], sb, res.groups, 3))
      text += "  " + robustness_sentence(g, ids) + "\n";
  }
  // Several seeds per model: whether the best mean stays best under seed noise.
  if (const auto seeds = seed_sentences(res.scores[0], res.groups, ids, "pepr_e"); !seeds.empty()) {
    text += "\nOver the seeds:\n";
    for (const auto& s : seeds) text += "  " + s + "\n";
  }
  return text;
}

// A native model's input-size rule from the model space's table (no LibTorch model is built).
std::optional<run::InputSizeRule> native_rule(const std::string& model) {
  const zoo::InputSizes* s = zoo::find_input_sizes(model);
  if (!s) return std::nullopt;
  return run::InputSizeRule{s->min,
                            s->fixed > 0 ? std::optional<std::int64_t>(s->fixed) : std::nullopt};
}

// `pepr data synth`'s --size in a dataset's synth_args (28 when not given); nullopt if unreadable.
std::optional<std::int64_t> synth_size(const std::vector<std::string>& args) {
  std::string text = "28";
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--size" && i + 1 < args.size()) text = args[i + 1];
    if (args[i].rfind("--size=", 0) == 0) text = args[i].substr(7);
  }
  const auto v = parse_number(text);
  if (!v || *v < 1 || *v != std::floor(*v)) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

// Each dataset's image height and width, where it can be learned without loading it: a catalogue
// name's size, synth's --size, a file's headers. Unknown sizes are left out (the trainer resolves
// its run's size itself).
sweep::DataSizes data_sizes(const std::vector<sweep::RunSpec>& runs) {
  sweep::DataSizes out;
  for (const auto& r : runs) {
    const std::string& data = r.config.data;
    if (out.count(data)) continue;
    if (!r.dataset.pull.empty()) {
      if (const auto spec = data::parse_catalogue_spec(data)) out[data] = {spec->size, spec->size};
    } else if (r.dataset.synth) {
      if (const auto size = synth_size(r.dataset.synth_args)) out[data] = {*size, *size};
    } else {
      try {
        const data::DatasetInfo info = data::inspect_dataset(data);
        for (const auto& sp : info.splits)
          if (sp.split == "train" && sp.h > 0 && sp.w > 0) out[data] = {sp.h, sp.w};
      } catch (const Error&) {
        // unreadable here: the run's trainer says what is wrong with it
      }
    }
  }
  return out;
}

// What each model will see (sweep/image_sizes.hpp): every model (`all`), else only those that do
// not see the data as stored, and a line for each run that is refused.
void print_image_sizes(std::FILE* to, const std::vector<sweep::RunSpec>& runs, bool all,
                       const std::string& prefix) {
  Table t = sweep::image_size_table(runs, native_rule);
  std::size_t at_data_size = 0;
  if (!all) {
    std::vector<std::size_t> keep;
    const std::size_t note = t.require_column("note");
    for (std::size_t r = 0; r < t.num_rows(); ++r)
      if (t.cell(r, note) == "auto: as stored" || t.cell(r, note) == "as stored (image_size = 0)")
        ++at_data_size;
      else
        keep.push_back(r);
    t = t.select_rows(keep);
  }
  RenderOptions ro;
  ro.notes.push_back(
      "image_px: the height and width the model sees; compute: (image_px / data_px)^2, its "
      "compute per image relative to the data's own size");
  if (at_data_size > 0)
    ro.notes.push_back(fmt::format("{} at the data's own size not listed (pepr bench --list: all)",
                                   plural(static_cast<long long>(at_data_size), "model")));
  for (auto& n : sweep::image_size_notes(runs)) ro.notes.push_back(std::move(n));
  std::string text = t.num_rows() > 0 ? render(t, Format::Table, ro) : std::string();
  if (t.num_rows() == 0)
    for (const auto& n : ro.notes) text += n + "\n";
  for (const auto& line : sweep::refusal_lines(runs)) text += line + "\n";
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end == std::string::npos ? end : end - start);
    out += prefix + line + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  fmt::print(to, "{}", out);
}

// --print-plan: after the plan, what each model will see, as TOML comments.
void print_plan_sizes(const sweep::Plan& plan) {
  std::optional<std::vector<sweep::ModelInfo>> space;
  if (plan.filter.any()) {
    space = sweep::load_model_space(sweep::self_exe());
    if (!space) return;
  }
  auto runs = sweep::expand_plan(plan, fs::current_path(), space ? &*space : nullptr);
  sweep::resolve_image_sizes(runs, data_sizes(runs), native_rule);
  fmt::print("\n# Image sizes (image_size = {}):\n", run::to_string(plan.run.image_size));
  print_image_sizes(stdout, runs, true, "# ");
}

// --print-plan: after the plan as written, its effective values as TOML comments: every key
// with its default filled in, and the other options every run is given (the budgets given here
// included).
void print_effective_plan(sweep::Plan plan, const run::RunConfig& budgets) {
  plan.run.max_energy_wh = budgets.max_energy_wh;
  plan.run.max_time_s = budgets.max_time_s;
  plan.run.pepr_patience = budgets.pepr_patience;
  std::string text = sweep::effective_plan_toml(plan);
  text += "\nEvery run's other pepr train options (train_args applied):\n";
  std::string line;
  for (const auto& [flag, value] : sweep::other_train_options(plan)) {
    const std::string item = flag + " " + value;
    if (!line.empty() && line.size() + 1 + item.size() > 96) text += line + "\n", line.clear();
    line += (line.empty() ? "  " : " ") + item;
  }
  text += line + "\n";
  fmt::print("\n# Effective values, every default filled in (\"# default\": pepr's default):\n");
  for (std::size_t start = 0, end; start < text.size(); start = end + 1) {
    end = text.find('\n', start);
    const std::string l = text.substr(start, end - start);
    fmt::print("{}\n", l.empty() ? "#" : "# " + l);
  }
}

// The plan: the embedded default (its dataset checked against the published file's MD5) or the
// file given. Returns false when --print-plan printed it (nothing to run).
bool load_bench_plan(BenchArgs& a, sweep::Plan& plan, std::string& plan_label) {
  if (a.use_default == !a.plan.empty())
    throw Error("give a plan file (PLAN.toml) or --default, not both");
  if (!a.use_default) {
    plan = sweep::load_plan(a.plan);
    plan_label = fs::absolute(a.plan).lexically_normal().string();
    if (a.print_plan) {
      fmt::print("{}", read_text_file(a.plan));
      print_effective_plan(plan, a.budgets);
      print_plan_sizes(plan);
    }
    return !a.print_plan;
  }
  // The shipped dataset (data/pneumoniamnist.npz), refused unless it is the published file.
  const fs::path data_dir = sweep::find_default_data_dir(sweep::self_exe());
  if (a.print_plan) {
    fmt::print("# `file` is relative to {}\n{}", data_dir.string(), sweep::default_plan_toml());
    plan = sweep::parse_plan(sweep::default_plan_toml(), "<default plan>", data_dir);
    print_effective_plan(plan, a.budgets);
    print_plan_sizes(plan);
    return false;
  }
  const std::string data_file = (data_dir / sweep::kDefaultDataFile).string();
  const std::string md5 = data::digest_file(data_file, data::DigestAlgo::md5);
  if (md5 != sweep::kDefaultDataMd5)
    throw Error(fmt::format(
        "{}: MD5 {} is not the published PneumoniaMNIST 28 px file's ({}); restore it (git "
        "checkout -- data/{}), or pull the file (pepr data pull pneumoniamnist) and name its "
        "folder in ${}",
        data_file, md5, sweep::kDefaultDataMd5, sweep::kDefaultDataFile,
        sweep::kDefaultDataDirEnv));
  plan = sweep::parse_plan(sweep::default_plan_toml(), "<default plan>", data_dir);
  plan_label = "<default plan>";
  a.resume = true;  // running --default again continues it
  return true;
}

// Model names and dataset files are checked now, not by each run after it starts. Model names
// bind only pepr's own trainer: another (--train-cmd, $PEPR_TRAIN_CMD) may know others.
void check_plan_runnable(const BenchArgs& a, const sweep::Plan& plan, const std::string& self) {
  sweep::BenchOptions probe;
  probe.train_program = a.train_cmd;
  const std::string trainer = sweep::resolve_train_program(probe);
  const bool own_trainer = trainer == self || trainer == "pepr";
  if (!own_trainer && !a.list && a.emit_slurm.empty() && !sweep::find_program(trainer))
    throw Error(fmt::format("{} '{}': no such program (or not executable)",
                            a.train_cmd.empty() ? "PEPR_TRAIN_CMD" : "--train-cmd", trainer));
  std::vector<std::string> known;
  for (const auto& m : zoo::model_space()) {
    known.emplace_back(m.name);
    if (!m.timm_name_now.empty()) known.emplace_back(m.timm_name_now);
  }
  sweep::validate_plan(plan, own_trainer ? &known : nullptr);
}

// --emit-slurm: an sbatch array script that runs the plan's shards with the same options.
void emit_slurm(BenchArgs& a, const sweep::Plan& plan, const std::string& plan_label,
                const fs::path& runs_dir, const std::string& self, std::size_t n_runs) {
  if (a.use_default) throw Error("--emit-slurm needs a plan file");
  auto& so = a.slurm;
  so.pepr_exe = self.empty() ? "pepr" : self;
  so.plan_file = plan_label;
  so.runs_dir = runs_dir.string();
  so.job_name = "pepr-" + plan.name;
  so.device = plan.run.device;
  const bool cpu_plan = plan.run.device == "cpu";
  if (so.gpus > 0 && cpu_plan)
    fmt::print(stderr,
               "pepr bench: warning: --gpus {} but the plan trains on cpu (device = \"cpu\"): "
               "the GPUs would sit idle; set device = \"cuda\" in the plan's [sweep]\n",
               so.gpus);
  else if (so.gpus == 0 && !cpu_plan)
    fmt::print(stderr,
               "pepr bench: warning: the plan trains on {} but --gpus is 0: Slurm gives the "
               "tasks no GPU; add --gpus 1\n",
               plan.run.device);
  if (so.shards > static_cast<int>(n_runs))
    fmt::print(stderr, "pepr bench: note: {} for {}: some tasks will have none\n",
               plural(so.shards, "shard"), plural(static_cast<long long>(n_runs), "run"));
  for (auto& arg : a.budget_options->given_args()) so.bench_args.push_back(std::move(arg));
  if (a.prune_top > 0)
    so.bench_args.insert(so.bench_args.end(),
                         {"--prune-top", std::to_string(a.prune_top), "--prune-bound",
                          a.prune_bound, "--prune-margin", format_number(a.prune_margin),
                          "--prune-energy-margin", format_number(a.prune_energy_margin)});
  if (!a.train_cmd.empty()) so.bench_args.insert(so.bench_args.end(), {"--train-cmd", a.train_cmd});
  so.bench_args.push_back("--quiet");
  make_dirs(runs_dir.string());  // sbatch writes its logs there
  write_file_atomic(a.emit_slurm, sweep::slurm_script(so));
  if (a.emit_slurm != "-")
    fmt::print(stderr, "pepr bench: wrote {} ({} in {}); submit with: sbatch {}\n", a.emit_slurm,
               plural(static_cast<long long>(n_runs), "run"), plural(so.shards, "array task"),
               a.emit_slurm);
}

sweep::BenchOptions bench_options(const BenchArgs& a, const sweep::Plan& plan,
                                  const std::string& plan_label, const fs::path& runs_dir,
                                  const std::string& self,
                                  const std::vector<sweep::RunSpec>& runs) {
  sweep::BenchOptions o;
  o.runs_dir = runs_dir;
  o.resume = a.resume;
  o.shard = sweep::Shard::parse(a.shard);
  o.max_energy_wh = a.budgets.max_energy_wh.value_or(-1);
  o.max_time_s = a.budgets.max_time_s.value_or(-1);
  o.pepr_patience = a.budgets.pepr_patience;
  if (a.prune_top > 0) {
    o.prune.top_k = a.prune_top;
    o.prune.bound = a.prune_bound == "one"    ? sweep::OptimisticP::One
                    : a.prune_bound == "best" ? sweep::OptimisticP::BestSoFar
                                              : sweep::OptimisticP::Peers;
    o.prune.p_margin = a.prune_margin;
    o.prune.energy_margin = a.prune_energy_margin;
    o.prune.plan_runs = runs;
  }
  o.train_program = a.train_cmd;
  o.pepr_exe = self;
  o.plan_file = plan_label;
  o.plan_name = plan.name;
  o.quiet = a.quiet;
  return o;
}

void print_run_list(const std::vector<sweep::RunSpec>& mine, const std::string& format) {
  Table t({"run_id", "model", "dataset", "regime", "train_fraction", "seed", "epochs", "image_px",
           "compute", "start"});
  for (const auto& r : mine) {
    const auto& s = r.image_size;
    t.add_row({r.id, r.config.model, r.experiment(), r.regime,
               sweep::fraction_text(r.config.train_fraction), std::to_string(r.config.seed),
               std::to_string(r.config.epochs), s ? std::to_string(s->size) : "?",
               s ? fmt::format("{:.2f}x", run::relative_compute(s->size, r.data_size)) : "?",
               s && !s->ok() ? "refused" : "yes"});
  }
  const Format f = output_format(format, "-", Format::Table);
  if (f != Format::Table) {  // for programs: the runs alone
    fmt::print("{}", render(t, f));
    return;
  }
  fmt::print("{}\n", render(t, Format::Table));
  print_image_sizes(stdout, mine, true, "");
}

// How well epoch 1 predicted each completed run's total energy and time.
void print_prediction_errors(const Table& w) {
  auto ee = w.find_column("energy_error"), te = w.find_column("time_error");
  double se = 0, st = 0;
  std::size_t n = 0;
  for (std::size_t r = 0; ee && te && r < w.num_rows(); ++r) {
    auto a = w.number_or_missing(r, *ee), b = w.number_or_missing(r, *te);
    if (!a || !b) continue;
    se += std::abs(*a), st += std::abs(*b), ++n;
  }
  if (n > 0)
    fmt::print(
        "Budget prediction after epoch 1 (epoch 1 x (1 + (epochs - 1) x steady fraction)), "
        "mean |relative error| over {} completed runs: energy {:.1f} %, time {:.1f} %\n\n",
        n, 100 * se / n, 100 * st / n);
}

// After the default sweep: the results tables, the ranking, the prediction errors, the report,
// and where each is.
void finish_default_sweep(const fs::path& runs_dir) {
  sweep::CollectResult wide = sweep::collect_runs(runs_dir, {});
  sweep::CollectOptions lo;
  lo.long_format = true;
  sweep::CollectResult lng = sweep::collect_runs(runs_dir, lo);
  const std::string results = (runs_dir / "results.csv").string();
  const std::string long_results = (runs_dir / "results_long.csv").string();
  write_file_atomic(results, wide.table.to_csv());
  write_file_atomic(long_results, lng.table.to_csv());
  const bool any = wide.table.num_rows() > 0;
  if (any) {
    std::string text = ranking(wide.table, 0);
    write_file_atomic((runs_dir / "ranking.txt").string(), text);
    fmt::print("\nPePR-E ranking of the default sweep (per experiment):\n\n{}\n", text);
  } else {
    fmt::print("\nNo completed runs to rank.\n");
  }
  print_prediction_errors(wide.table);
  const std::string report_dir = (runs_dir / "report").string();
  if (any) {
    ReportArgs ra;
    ra.table.input = results;
    ra.table.group_by = "dataset";
    ra.output = report_dir;
    ra.runs = runs_dir.string();
    ra.title = "pepr default sweep";
    try {
      run_report(ra);
    } catch (const Error& e) {  // the runs and results stand; say why there is no report
      fmt::print(stderr, "pepr bench: the report was not written: {}\n", e.what());
    }
  }
  fmt::print("Run records:   {}/<run_id>.json (and .log)\n", runs_dir.string());
  fmt::print("Results:       {}  (one row per run; pepr score {} -g dataset)\n", results, results);
  fmt::print("Per epoch:     {}  (pepr curve {} -p test_acc -r energy --id run_id -g dataset)\n",
             long_results, long_results);
  fmt::print("Ranking:       {}\n", (runs_dir / "ranking.txt").string());
  if (any) fmt::print("Report:        {}/index.html  (tables/, figures/*.svg)\n", report_dir);
}

void run_bench_cmd(BenchArgs& a) {
  sweep::Plan plan;
  std::string plan_label;
  if (!load_bench_plan(a, plan, plan_label)) return;
  if (a.runs_dir.empty()) throw Error("give the runs folder with -o RUNS_DIR");
  if (!a.list) check_output_folder(a.runs_dir, "-o");
  check_output_path(a.emit_slurm, "--emit-slurm");
  const fs::path runs_dir = fs::absolute(a.runs_dir).lexically_normal();
  const std::string self = sweep::self_exe();
  check_plan_runnable(a, plan, self);

  std::optional<std::vector<sweep::ModelInfo>> space;
  if (plan.filter.any()) space = sweep::load_model_space(self);
  auto runs = sweep::expand_plan(plan, runs_dir, space ? &*space : nullptr);
  sweep::resolve_image_sizes(runs, data_sizes(runs), native_rule);
  if (!a.emit_slurm.empty()) {
    emit_slurm(a, plan, plan_label, runs_dir, self, runs.size());
    return;
  }
  sweep::BenchOptions o = bench_options(a, plan, plan_label, runs_dir, self, runs);
  auto mine = sweep::select_shard(runs, o.shard);
  if (a.list) {
    print_run_list(mine, a.list_format);
    return;
  }
  // Runs that cannot run as planned (an explicit image_size a model does not accept) are refused
  // now, with the fix, and never started.
  const std::vector<sweep::RunSpec> refused = sweep::refused_runs(mine);
  if (!a.quiet || !refused.empty()) print_image_sizes(stderr, mine, false, "pepr bench: ");
  mine = sweep::runnable_runs(mine);
  sweep::prepare_datasets(mine, o);
  sweep::BenchSummary sum = sweep::run_bench(mine, o);
  if (a.use_default && !sum.signalled)
    finish_default_sweep(runs_dir);
  else if (!a.quiet && !sum.signalled)
    fmt::print(stderr, "pepr bench: results with: pepr collect {} -o results.csv\n",
               runs_dir.string());
  if (!refused.empty())
    fmt::print(stderr,
               "pepr bench: {} refused before the start (their models cannot run at the plan's "
               "image_size; see above), not started and without records\n",
               plural(static_cast<long long>(refused.size()), "run"));
  if (sum.signalled) throw CLI::RuntimeError(130);
  if (sum.failed > 0 || !refused.empty()) throw CLI::RuntimeError(3);
}

}  // namespace

void add_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Run a sweep (a TOML plan of models x datasets x regimes x train fractions x seeds), one "
      "`pepr train` child process per run, each writing its record atomically into RUNS_DIR; "
      "resumable (--resume), shardable (--shard I/N, --emit-slurm), with energy/time budgets "
      "and PePR-aware early stopping.");
  cmd->add_option("PLAN", a->plan, "the plan (TOML); see docs/sweep.md");
  cmd->add_flag("--default", a->use_default,
                "run the embedded default sweep (native models from scratch on the shipped "
                "PneumoniaMNIST file, all and 10 % of its training set), then collect and print "
                "its PePR-E ranking and write a report; implies --resume");
  cmd->add_flag("--print-plan", a->print_plan, "print the plan (e.g. --default's) and exit");
  cmd->add_flag("--list", a->list, "list the runs (of this shard) and exit");
  cmd->add_option("-f,--format", a->list_format,
                  "--list: table (default, with the image sizes), csv, json, markdown or latex");
  cmd->add_option("-o,--output", a->runs_dir, "RUNS_DIR: where run records go");
  cmd->add_flag("--resume", a->resume,
                "skip completed (and stopped) runs, redo failed, interrupted and running ones");
  cmd->add_option("--shard", a->shard, "run only shard I of N (I/N, 0 <= I < N)")
      ->capture_default_str();
  // Declared, read and passed on to each run by the run options' table.
  a->budget_options = std::make_shared<RunOptions>(
      cmd, a->budgets,
      std::vector<std::string_view>{"--max-energy-wh", "--max-time-s", "--pepr-patience"});
  cmd->add_option("--prune-top", a->prune_top,
                  "prune the sweep: run every run's epoch 1 first (kept in a checkpoint), then "
                  "continue the runs cheapest first, stopping each once it cannot enter its "
                  "experiment's top K by PePR-E. No epoch is trained twice; it pays when an "
                  "experiment has many more runs than K and several epochs (0: off; see "
                  "docs/sweep.md)")
      ->capture_default_str();
  cmd->add_option("--prune-bound", a->prune_bound,
                  "--prune-top: the optimistic final accuracy of an unfinished run: one (P <= 1, "
                  "exact), best (its best so far + margin), peers (the best final accuracy of "
                  "finished runs that were no better at the same epoch + margin)")
      ->check(CLI::IsMember({"one", "best", "peers"}))
      ->capture_default_str();
  cmd->add_option("--prune-margin", a->prune_margin,
                  "--prune-top: the accuracy margin added to best / peers")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--prune-energy-margin", a->prune_energy_margin,
                  "--prune-top: the epoch-1 prediction of a run's total energy is trusted to "
                  "within this factor (>= 1)")
      ->check(CLI::Range(1.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--train-cmd", a->train_cmd,
                  "the trainer program, run as PROGRAM train ... (default: $PEPR_TRAIN_CMD, else "
                  "this pepr)");
  cmd->add_flag("--quiet,-q", a->quiet, "only the summary");
  cmd->add_option("--emit-slurm", a->emit_slurm,
                  "write an sbatch job-array script to this file (- for stdout) and exit");
  cmd->add_option("--shards", a->slurm.shards, "--emit-slurm: array tasks (shards)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--partition", a->slurm.partition, "--emit-slurm: Slurm partition");
  cmd->add_option("--gpus", a->slurm.gpus, "--emit-slurm: GPUs per task")->capture_default_str();
  cmd->add_option("--cpus", a->slurm.cpus, "--emit-slurm: CPUs per task");
  cmd->add_option("--mem", a->slurm.mem, "--emit-slurm: memory per task (e.g. 32G)");
  cmd->add_option("--time", a->slurm.time, "--emit-slurm: time limit per task (HH:MM:SS)")
      ->capture_default_str();
  cmd->footer(
      "Exit status: 0 all runs done, 3 some runs failed (recorded as failed) or were refused "
      "before the start (a model that cannot run at the plan's image_size), 130 interrupted.\n"
      "Examples:\n"
      "  pepr bench --default -o runs-default\n"
      "  pepr bench plan.toml -o runs --resume --max-energy-wh 50 --pepr-patience 2\n"
      "  pepr bench plan.toml -o /shared/runs --emit-slurm sweep.sbatch --shards 8 --gpus 1 \\\n"
      "      --partition gpu --time 12:00:00\n"
      "  pepr collect runs -o results.csv");
  cmd->callback([a] {
    a->budget_options->apply();
    run_bench_cmd(*a);
  });
}

}  // namespace pepr::cli
