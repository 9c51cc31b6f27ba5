// A stand-in for `pepr train` that follows the child-process contract of docs/sweep.md without
// LibTorch: it reads the same options through the same table (unknown ones are an error), simulates
// the epochs with deterministic test accuracies and energies, appends progress events, honours the
// budgets and PePR patience, handles SIGINT/SIGTERM, and writes a run record atomically.
//
// Environment: FAKE_TRAIN_EPOCH_MS (sleep per epoch, default 5), FAKE_TRAIN_FAIL_MODEL=NAME
// (exit 1 with a message, no record), FAKE_TRAIN_CRASH_MODEL=NAME (abort()),
// FAKE_TRAIN_INVOCATIONS=FILE (append the run ID of every invocation), FAKE_TRAIN_EPOCHS=FILE
// (append "RUN_ID EPOCH" for every epoch trained). --save-checkpoint / --resume-from keep and
// continue the epochs so far in a JSON file (a stand-in for the trainer's LibTorch archive).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "run/config.hpp"
#include "sweep/plan.hpp"
#include "sweep/stopping.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

std::uint64_t h(const std::string& s) {
  return pepr::sweep::fnv1a64(s);
}

}  // namespace

int main(int argc, char** argv) {
  using nlohmann::json;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] != "train") {
    std::fprintf(stderr, "fake_train: expected `train` first\n");
    return 2;
  }
  // The run's options through the table `pepr train` reads them with (run/config.hpp); -o and
  // --progress are the command's own.
  std::vector<std::string> rest;
  pepr::run::RunConfig c;
  try {
    c = pepr::run::from_args({args.begin() + 1, args.end()}, &rest);
    c.validate();
  } catch (const pepr::Error& e) {
    std::fprintf(stderr, "fake_train: %s\n", e.what());
    return 2;
  }
  std::string output, progress;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const bool has_value = i + 1 < rest.size();
    if (rest[i] == "-o" && has_value) {
      output = rest[++i];
    } else if (rest[i] == "--progress" && has_value) {
      progress = rest[++i];
    } else {
      std::fprintf(stderr, "fake_train: unknown option %s\n", rest[i].c_str());
      return 2;
    }
  }
  const std::string &model = c.model, &data = c.data, &dataset = c.dataset, &run_id = c.run_id,
                    &device = c.device;
  const std::string optimizer(pepr::run::name(c.optimizer));
  // The size asked (auto: -1, as the fake knows no models; the sweep passes what it resolved).
  const int epochs = c.epochs, batch = c.batch_size, threads = c.threads,
            image_size = c.image_size.px, patience = c.pepr_patience,
            stop_after = c.stop_after_epochs;
  const auto seed = c.seed;
  const double lr = c.lr, fraction = c.train_fraction;
  const double max_wh = c.max_energy_wh.value_or(-1), max_s = c.max_time_s.value_or(-1);
  const bool pretrained = c.pretrained;
  if (const char* inv = std::getenv("FAKE_TRAIN_INVOCATIONS"); inv && *inv) {
    if (std::FILE* f = std::fopen(inv, "a")) {
      std::fprintf(f, "%s\n", run_id.c_str());
      std::fclose(f);
    }
  }
  std::fprintf(stderr, "fake_train: %s on %s, %d epochs\n", model.c_str(), dataset.c_str(), epochs);
  if (const char* m = std::getenv("FAKE_TRAIN_FAIL_MODEL"); m && model == m) {
    std::fprintf(stderr,
                 "fake_train: loading weights\nRuntimeError: CUDA out of memory "
                 "(injected failure for %s)\n",
                 model.c_str());
    return 1;
  }
  if (const char* m = std::getenv("FAKE_TRAIN_CRASH_MODEL"); m && model == m) std::abort();
  int epoch_ms = 5;
  if (const char* ms = std::getenv("FAKE_TRAIN_EPOCH_MS")) epoch_ms = std::atoi(ms);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  const std::string key = fmt::format("{}|{}|{}|{}|{}", model, dataset, seed, pretrained, fraction);
  const std::uint64_t hk = h(key);
  const double base = 0.4 + static_cast<double>(hk % 1000) / 1000 * 0.3;
  const double epoch_kwh = 1e-4 * (1 + static_cast<double>((hk >> 10) % 100) / 100) * fraction;

  json rec = {
      {"schema", "pepr.run/1"},
      {"run_id", run_id},
      {"status", "running"},
      {"error", nullptr},
      {"stop_reason", nullptr},
      {"config",
       {{"model", model},
        {"dataset", dataset},
        {"data_file", data},
        {"pretrained", pretrained},
        {"weights", nullptr},
        {"train_fraction", fraction},
        {"epochs", epochs},
        {"optimizer", optimizer},
        {"lr", lr},
        {"batch_size", batch},
        {"seed", seed},
        {"device", device},
        {"threads", threads},
        {"image_size", image_size}}},
      {"model",
       {{"name", model},
        {"params", static_cast<double>(1'000'000 + hk % 9'000'000)},
        {"params_1000", static_cast<double>(2'000'000 + hk % 9'000'000)},
        {"type", hk % 3 == 0 ? "Other" : "CNN"},
        {"efficient", static_cast<int>(hk % 2)},
        {"native", true}}},
      {"data",
       {{"train_samples", static_cast<int>(800 * fraction)},
        {"val_samples", 200},
        {"test_samples", 200},
        {"num_classes", 4}}},
      {"environment",
       {{"pepr_version", "fake"}, {"hostname", "fake"}, {"meter_methods", {{"energy", "fake"}}}}},
      {"epochs", json::array()}};
  std::FILE* prog = progress.empty() ? nullptr : std::fopen(progress.c_str(), "a");
  std::vector<double> accs, cum;
  double energy = 0, time = 0, e1 = 0, t1 = 0;
  std::string status = "completed";
  int first = 1;
  if (!c.resume_from.empty()) {
    json ck;
    try {
      ck = json::parse(pepr::read_text_file(c.resume_from));
      if (ck.value("format", "") != "fake-checkpoint" || ck.value("key", "") != run_id)
        throw std::runtime_error("another run's");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "fake_train: %s: not a checkpoint of this run (%s)\n",
                   c.resume_from.c_str(), e.what());
      return 1;
    }
    rec["epochs"] = ck["epochs"];
    rec["budget"] = ck["budget"];
    energy = ck["energy"], time = ck["time"], e1 = ck["e1"], t1 = ck["t1"];
    accs = ck["accs"].get<std::vector<double>>();
    cum = ck["cum"].get<std::vector<double>>();
    first = static_cast<int>(accs.size()) + 1;
    rec["resumed"] = {{"checkpoint", c.resume_from},
                      {"epochs", first - 1},
                      {"energy_kwh", energy},
                      {"time_s", time}};
  }
  std::FILE* epochs_log = nullptr;
  if (const char* f = std::getenv("FAKE_TRAIN_EPOCHS"); f && *f) epochs_log = std::fopen(f, "a");
  for (int k = first; k <= epochs; ++k) {
    auto t0 = std::chrono::steady_clock::now();
    for (int slept = 0; slept < epoch_ms && !g_stop; slept += 5)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5, epoch_ms - slept)));
    if (g_stop) {
      status = "interrupted";
      break;
    }
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (epochs_log) std::fprintf(epochs_log, "%s %d\n", run_id.c_str(), k), std::fflush(epochs_log);
    double noise = static_cast<double>(h(fmt::format("{}|{}", key, k)) % 100) / 100 - 0.5;
    double acc = std::clamp(base + 0.25 * (1 - std::exp(-k / 1.5)) + noise * 0.04, 0.0, 1.0);
    double e = epoch_kwh * (k == 1 ? 1.2 : 1.0);
    energy += e;
    time += dt;
    accs.push_back(acc);
    cum.push_back(energy);
    rec["epochs"].push_back({{"epoch", k},
                             {"train_loss", 1.0 / k},
                             {"val_acc", acc - 0.01},
                             {"test_acc", acc},
                             {"test_balanced_acc", acc - 0.02},
                             {"test_auc", std::min(1.0, acc + 0.1)},
                             {"time_s", dt},
                             {"energy_kwh", e},
                             {"co2_g", e * 300},
                             {"mem_peak_gb", 0.5}});
    if (prog) {
      json ev = {{"event", "epoch"}, {"epoch", k},      {"epochs", epochs},
                 {"test_acc", acc},  {"energy_kwh", e}, {"time_s", dt}};
      std::fprintf(prog, "%s\n", ev.dump().c_str());
      std::fflush(prog);
    }
    if (k == 1) {
      e1 = e, t1 = dt;
      auto p = pepr::sweep::predict_after_first_epoch(e1, t1, epochs);
      rec["budget"] = {{"predicted_energy_kwh", p.energy_kwh}, {"predicted_time_s", p.time_s}};
    }
    if (k < epochs) {
      auto p = pepr::sweep::predict_after_first_epoch(e1, t1, epochs);
      std::string reason = pepr::sweep::budget_stop_reason(p, max_wh, max_s);
      if (reason.empty() && pepr::sweep::should_stop_pepr(accs, cum, p.energy_kwh, patience))
        reason = fmt::format("pepr-patience: PePR fell for {} epochs", patience);
      if (reason.empty() && stop_after > 0 && k >= stop_after)
        reason = fmt::format("stop-after-epochs {}", stop_after);
      if (!reason.empty()) {
        status = "stopped";
        rec["stop_reason"] = reason;
        break;
      }
    }
  }
  if (prog) std::fclose(prog);
  if (epochs_log) std::fclose(epochs_log);
  if (status == "stopped" && !c.save_checkpoint.empty()) {
    json ck = {{"format", "fake-checkpoint"},
               {"key", run_id},
               {"epochs", rec["epochs"]},
               {"budget", rec["budget"]},
               {"energy", energy},
               {"time", time},
               {"e1", e1},
               {"t1", t1},
               {"accs", accs},
               {"cum", cum}};
    pepr::write_file_atomic(c.save_checkpoint, ck.dump());
    rec["checkpoint"] = {{"path", c.save_checkpoint}, {"saved", true}, {"epochs", accs.size()}};
  }
  rec["status"] = status;
  rec["totals"] = {{"time_s", time},
                   {"energy_kwh", energy},
                   {"energy_raw_kwh", energy},
                   {"co2_g", energy * 300},
                   // The error model's bounds of a RAPL-measured run (meter/uncertainty.hpp).
                   {"energy_kwh_lo", energy / 1.07},
                   {"energy_kwh_hi", energy * 1.07},
                   {"energy_error_systematic", 0.05},
                   {"energy_error_per_run", 0.02},
                   {"mem_peak_gb", 0.5},
                   {"gpu_mem_peak_gb", nullptr},
                   {"train_samples", static_cast<int>(800 * fraction)}};
  if (status == "completed" && rec.contains("budget")) {
    auto& b = rec["budget"];
    b["energy_error"] = (b["predicted_energy_kwh"].get<double>() - energy) / energy;
    b["time_error"] =
        time > 0 ? json((b["predicted_time_s"].get<double>() - time) / time) : json(nullptr);
  }
  if (!output.empty()) pepr::write_file_atomic(output, rec.dump(2) + "\n");
  return status == "interrupted" ? 130 : 0;
}
