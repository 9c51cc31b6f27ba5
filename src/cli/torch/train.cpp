// pepr train: train or fine-tune one model on one dataset, metering every epoch.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/run_options.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/format.hpp"
#include "core/progress.hpp"
#include "core/score.hpp"
#include "meter/carbon.hpp"
#include "meter/sharing.hpp"
#include "run/environment.hpp"
#include "train/engine.hpp"

namespace pepr::cli {

namespace {

std::atomic<bool> g_interrupt{false};
void on_signal(int) {
  g_interrupt.store(true);
}

struct TrainArgs {
  train::TrainConfig cfg;
  std::string output;
  std::string progress_file;
  std::optional<std::string> country;
  std::optional<double> intensity;
  std::optional<double> cpu_tdp;
  double pue = 1.0;
  bool quiet = false;
};

// Where a run's record goes without -o: pepr-runs/MODEL_DATA_YYYYmmdd-HHMMSS.json, with a
// counter when that exists already (two runs in one second).
std::string default_record_path(const std::string& model, const run::RunRecord& rec) {
  const auto file_safe = [](std::string name) {
    if (const std::filesystem::path p(name); p.extension() == ".pt" || p.extension() == ".pth")
      name = p.stem().string();  // a TorchScript file: its name
    for (char& ch : name)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '-';
    return name.empty() ? std::string("run") : name;
  };
  const std::string data =
      file_safe(rec.config && rec.config->dataset ? *rec.config->dataset : "data");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const std::string base = fmt::format("pepr-runs/{}_{}_{}", file_safe(model), data, stamp);
  std::string path = base + ".json";
  for (int k = 2; std::filesystem::exists(path); ++k) path = fmt::format("{}-{}.json", base, k);
  return path;
}

// The redrawn line during an epoch: "  epoch 2/10 [####....]  812 img/s  0:41 ETA 3:02", fitted
// to the terminal's width. Robust to what the engine may report (zero steps before the epoch
// knows its size, a step past the planned count).
std::string train_progress_text(const train::Progress& p, int columns) {
  const double within =
      p.steps > 0 ? std::clamp(static_cast<double>(p.step) / static_cast<double>(p.steps), 0.0, 1.0)
                  : 0.0;
  const double frac = p.epochs > 0 ? (std::max(p.epoch - 1, 0) + within) / p.epochs : 0.0;
  const double eta = frac > 0 ? p.elapsed_s * (1 - frac) / frac : -1;
  return fit_progress_line(fmt::format("  epoch {}/{}", p.epoch, p.epochs), within,
                           fmt::format("  {:.0f} img/s  {} ETA {}", p.images_per_s,
                                       format_clock(p.elapsed_s), format_clock(eta)),
                           columns);
}

// What the set-up means for this run, said before the first epoch rather than after it: oneDNN
// turned off on this machine, LibTorch on the slow reference BLAS, evaluation's batch lowered to
// fit the memory.
void print_setup_notes(const nlohmann::json& environment) {
  const auto onednn = environment.value("onednn", nlohmann::json::object());
  if (!onednn.value("used", true) && onednn["reason"].is_string())
    fmt::print(stderr, "  note: oneDNN off: {}\n", onednn["reason"].get<std::string>());
  const std::string blas = environment.value("blas", std::string());
  if (run::is_reference_blas(blas))
    fmt::print(stderr,
               "  note: LibTorch's matrix products run on the netlib reference BLAS ({}); "
               "install libopenblas0-openmp for much faster Linear layers\n",
               blas);
  const auto memory = environment.value("memory_check", nlohmann::json::object());
  if (memory.contains("note") && memory["note"].is_string())
    fmt::print(stderr, "  note: {}\n", memory["note"].get<std::string>());
}

void run_train(TrainArgs& a) {
  // A bad -o loses nothing: it is refused before any training.
  check_output_path(a.output, "-o");
  check_output_path(a.progress_file, "--progress");
  auto& cfg = a.cfg;
  cfg.meter.pue = a.pue;
  cfg.meter.cpu_tdp_w = a.cpu_tdp;
  cfg.meter.intensity = meter::resolve_intensity(a.country, a.intensity);

  std::FILE* progress_out = nullptr;
  if (!a.progress_file.empty()) {
    progress_out = std::fopen(a.progress_file.c_str(), "a");
    if (!progress_out) throw Error(fmt::format("{}: cannot open for writing", a.progress_file));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> progress_guard(
      progress_out, [](std::FILE* f) { return f ? std::fclose(f) : 0; });
  ProgressLine bar;  // redrawn in place on a terminal; milestones only elsewhere
  double last_draw = -1;
  auto progress = [&](const train::Progress& p) {
    using K = train::Progress::Kind;
    if (progress_out && p.kind != K::Step) {
      nlohmann::json ev = {{"event", p.kind == K::Start   ? "start"
                                     : p.kind == K::Epoch ? "epoch"
                                                          : "end"},
                           {"epoch", p.epoch},
                           {"epochs", p.epochs},
                           {"elapsed_s", p.elapsed_s}};
      if (p.epoch_record) {
        nlohmann::json e = *p.epoch_record;
        for (const char* k : {"test_acc", "val_acc", "energy_kwh", "time_s", "co2_g", "train_loss"})
          ev[k] = e[k];
      }
      std::fputs((ev.dump() + "\n").c_str(), progress_out);
      std::fflush(progress_out);
    }
    if (a.quiet) return;
    if (p.kind == K::Start && p.record) {
      print_setup_notes(p.record->environment.value_or(nlohmann::json::object()));
    } else if (p.kind == K::Step && bar.redraws()) {
      if (p.elapsed_s - last_draw < 0.1 && p.step != p.steps) return;
      last_draw = p.elapsed_s;
      bar.draw(train_progress_text(p, bar.columns()));
    } else if (p.kind == K::Epoch) {
      bar.clear();
      const auto& e = *p.epoch_record;
      fmt::print(
          stderr,
          "  epoch {}/{}  loss {:.4f}  val acc {:.4f}  test acc {:.4f}  {:.1f} s  {:.3g} Wh{}\n",
          p.epoch, p.epochs, e.train_loss.value_or(0), e.val_acc.value_or(0),
          e.test_acc.value_or(0), e.time_s.value_or(0), e.energy_kwh.value_or(0) * 1000,
          e.energy_kwh_lo && e.energy_kwh_hi
              ? fmt::format(" ({:.3g}-{:.3g})", *e.energy_kwh_lo * 1000, *e.energy_kwh_hi * 1000)
              : std::string());
    } else if (p.kind == K::End) {
      bar.clear();
    }
  };

  g_interrupt = false;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  const run::RunRecord rec = train::train_run(cfg, progress, &g_interrupt);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  // No -o: the record is kept under pepr-runs/ in the working folder, never discarded.
  const bool default_output = a.output.empty();
  const std::string output = default_output ? default_record_path(cfg.model, rec) : a.output;
  if (default_output) make_dirs(std::filesystem::path(output).parent_path().string());
  write_file_atomic(output, rec.dump());
  const run::RunStatus status = rec.status;
  if (!a.quiet) {
    const run::TotalsRecord t = rec.totals.value_or(run::TotalsRecord{});
    const auto& epochs = rec.epoch_list();
    fmt::print(stderr, "\n{} on {} ({}, {}): {}\n", cfg.model, *rec.config->dataset,
               plural(rec.data->train_samples.value_or(0), "train image"),
               plural(rec.data->num_classes.value_or(0), "class", "classes"), run::name(status));
    fmt::print(stderr, "  parameters     {:.3f} M\n",
               static_cast<double>(rec.model->params.value_or(0)) / 1e6);
    if (!epochs.empty()) {
      const auto& last = epochs.back();
      fmt::print(stderr, "  test accuracy  {:.4f} (balanced {:.4f}, AUC {:.4f}) after {}\n",
                 last.test_acc.value_or(0), last.test_balanced_acc.value_or(0),
                 last.test_auc.value_or(0), plural(static_cast<long long>(epochs.size()), "epoch"));
    }
    fmt::print(stderr, "  time           {:.1f} s\n", t.time_s.value_or(0));
    fmt::print(stderr, "  energy         {:.4g} Wh ({})\n", t.energy_kwh.value_or(0) * 1000,
               rec.energy_method());
    if (t.energy_kwh_lo && t.energy_kwh_hi)
      fmt::print(stderr,
                 "                 within {:.4g}-{:.4g} Wh: +-{:.0f} % systematic, +-{:.0f} % per "
                 "run (docs/meters.md)\n",
                 *t.energy_kwh_lo * 1000, *t.energy_kwh_hi * 1000,
                 100 * t.energy_error_systematic.value_or(0),
                 100 * t.energy_error_per_run.value_or(0));
    fmt::print(stderr, "  CO2eq          {:.4g} g at {} g/kWh, PUE {}\n", t.co2_g.value_or(0),
               cfg.meter.intensity.g_per_kwh, cfg.meter.pue);
    const nlohmann::json meter = rec.meter.value_or(nlohmann::json::object());
    fmt::print(
        stderr, "  peak memory    {:.3f} GB ({})\n", t.mem_peak_gb.value_or(0),
        meter.value("methods", nlohmann::json::object()).value("memory_kind", std::string()) ==
                "pss"
            ? "PSS of the process tree"
            : "RSS");
    if (rec.resumed)
      fmt::print(stderr,
                 "  continued      from {} after epoch {} ({:.4g} Wh, {:.1f} s of the totals)\n",
                 rec.resumed->checkpoint.value_or(""), rec.resumed->epochs.value_or(0),
                 rec.resumed->energy_kwh.value_or(0) * 1000, rec.resumed->time_s.value_or(0));
    if (rec.stop_reason) fmt::print(stderr, "  stopped        {}\n", *rec.stop_reason);
    if (rec.checkpoint)
      fmt::print(stderr, "  checkpoint     {}{}\n", rec.checkpoint->path.value_or(""),
                 rec.checkpoint->saved.value_or(false)
                     ? fmt::format(" (after epoch {}; continue with --resume-from)",
                                   rec.checkpoint->epochs.value_or(0))
                     : " " + rec.checkpoint->reason.value_or(""));
    if (rec.error) fmt::print(stderr, "  error          {}\n", *rec.error);
    fmt::print(stderr, "  record         {}{}\n", output,
               default_output ? " (the default place; -o FILE to choose)" : "");
    // The meter's notes: shared machine, GPUs that cannot be read, counter resets, ...
    for (const auto& n : meter.value("notes", nlohmann::json::array()))
      if (n.is_string()) fmt::print(stderr, "  note: {}\n", n.get<std::string>());
    if (!epochs.empty() && epochs.back().test_acc && rec.data->chance_accuracy)
      if (const double acc = *epochs.back().test_acc, chance = *rec.data->chance_accuracy;
          at_chance_level(acc, chance))
        fmt::print(stderr, "  warning: {}\n", chance_level_note(acc, chance));
  }
  if (status == run::RunStatus::interrupted) throw CLI::RuntimeError(130);
  if (status == run::RunStatus::failed) throw CLI::RuntimeError(1);
}

}  // namespace

void settle_omp_wait_policy(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "train" || std::getenv("OMP_WAIT_POLICY")) return;
  for (int i = 2; i < argc; ++i)  // help is printed at once
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") return;
  const auto busy = meter::busy_cores_now(0.2);
  if (busy) meter::remember_busy_cores_at_start(*busy);  // the trainer's threads: not sampled again
  if (!busy || *busy < meter::kLoadedBusyCores) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::setenv("PEPR_OMP_WAIT_REASON",
           fmt::format("PASSIVE: other processes kept {:.1f} CPUs busy when pepr started", *busy)
               .c_str(),
           1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then train as started
  ::unsetenv("PEPR_OMP_WAIT_REASON");
}

void add_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto& c = a->cfg;
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train or fine-tune an image classifier, evaluating val and test after every epoch and "
      "metering energy, CO2eq, time and memory per epoch; writes a run record (JSON).");
  // Every option of the run itself, from its table (run/config.hpp).
  auto run_options = std::make_shared<RunOptions>(cmd, c);
  cmd->add_option("-o,--output", a->output,
                  "the run record (JSON), written atomically (default: "
                  "pepr-runs/MODEL_DATA_TIME.json in the working folder)");
  cmd->add_option("--progress", a->progress_file, "append progress events as JSON lines here");
  cmd->add_option("--country", a->country,
                  "ISO 3166 alpha-2 or alpha-3 code for the grid carbon intensity (DE, DEU)");
  cmd->add_option("--intensity", a->intensity, "grid carbon intensity in gCO2eq/kWh");
  cmd->add_option("--pue", a->pue, "power usage effectiveness applied to energy")
      ->capture_default_str();
  cmd->add_option("--cpu-tdp", a->cpu_tdp, "CPU power (W) at full load for the estimate");
  cmd->add_flag("--quiet,-q", a->quiet, "no progress or summary");
  cmd->footer(
      "Example:\n"
      "  pepr data synth -o synth.npz && pepr train -m resnet18 -d synth.npz -e 3 -o run.json");
  cmd->callback([a, run_options] {
    run_options->apply();
    run_train(*a);
  });
}

}  // namespace pepr::cli
