// pepr: performance per resource for deep-learning model selection.
#include <malloc.h>

#include <cstdio>
#include <exception>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/version.hpp"
#ifdef PEPR_WITH_TORCH
#include "train/engine.hpp"
#endif

int main(int argc, char** argv) {
  // Process-wide allocator settings, measured to remove page-fault churn in LibTorch training
  // (glibc returning freed memory to the OS every step); they are the program's choice, so they
  // live here and not in the training library.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);
#ifdef PEPR_WITH_TORCH
  pepr::cli::settle_omp_wait_policy(argc, argv);
#endif
  CLI::App app{
      "pepr: choose deep-learning models by performance per unit of energy, carbon, memory, "
      "time or data (PePR = P / (1 + R))."};
  app.name("pepr");
  app.formatter(pepr::cli::make_formatter());
  app.require_subcommand(1);
#ifdef PEPR_WITH_TORCH
  // Computed when asked: LibTorch's CUDA hooks load only then.
  app.set_version_flag("--version", [] {
    return fmt::format("pepr {}\n{}", pepr::kVersion, pepr::train::libtorch_summary());
  });
#else
  app.set_version_flag("--version", std::string("pepr ") + pepr::kVersion + "\nwithout LibTorch");
#endif
  pepr::cli::add_score(app);
  pepr::cli::add_curve(app);
  pepr::cli::add_pareto(app);
  pepr::cli::add_stats(app);
  pepr::cli::add_track(app);
  pepr::cli::add_meters(app);
  pepr::cli::add_data(app);
  pepr::cli::add_bench(app);
  pepr::cli::add_collect(app);
  pepr::cli::add_zoo(app);
  pepr::cli::add_weights(app);
  pepr::cli::add_report(app);
#ifdef PEPR_WITH_TORCH
  pepr::cli::add_train(app);
#endif
  pepr::cli::add_completion(app);
  try {
    if (int code = pepr::cli::check_command_words(app, argc, argv); code != 0) return code;
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {  // a command's own exit status (track, bench)
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    if (int code = pepr::cli::explain_unknown_options(app, argc, argv); code != 0) return code;
    app.exit(e);
    return pepr::cli::kUsageError;
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other usage error exits 2, whatever CLI11's own code.
    const int code = app.exit(e);
    return code == 0 ? 0 : pepr::cli::kUsageError;
  } catch (const pepr::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "pepr: error: {}\n", pepr::cli::in_cli_terms(e.what()));
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "pepr: internal error: {}\n", e.what());
    return 70;
  }
  return 0;
}
