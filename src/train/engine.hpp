// The training engine: fine-tunes or trains an image classifier for N epochs, evaluates on val
// and test after every epoch, meters every epoch, and produces a run record (docs/run-record.md).
// This header is free of LibTorch.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "meter/tracker.hpp"
#include "run/config.hpp"
#include "run/record.hpp"

namespace pepr::train {

// A run's configuration (run/config.hpp: every option, its default, flag, JSON and validation)
// and the meter's settings (`pepr train`'s --country, --intensity, --pue, --cpu-tdp).
struct TrainConfig : run::RunConfig {
  meter::TrackerOptions meter;
};

// Progress events, for a bar on a terminal and for `pepr bench` (JSON lines).
struct Progress {
  enum class Kind { Start, Step, Epoch, End } kind = Kind::Step;
  int epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;
  double images_per_s = 0;
  double elapsed_s = 0;
  const run::EpochRecord* epoch_record = nullptr;  // Kind::Epoch
  // Kind::Start: the record before the first epoch (configuration, model, data, environment).
  const run::RunRecord* record = nullptr;
};
using ProgressFn = std::function<void(const Progress&)>;

// Trains and returns the run record. Errors in the input (unknown model, bad data) throw
// pepr::Error; an error during training (NaN loss, out of memory) gives a record with status
// "failed" and the error. Setting *interrupt stops after the current step: status "interrupted".
run::RunRecord train_run(const TrainConfig& config, const ProgressFn& progress = {},
                         const std::atomic<bool>* interrupt = nullptr);

// The LibTorch version pepr was built with, and whether it has CUDA and sees a GPU.
std::string libtorch_version();
bool cuda_available();
// Whether this LibTorch was built with CUDA (its CUDA hooks are registered), GPU or not.
bool cuda_built();
// One line for --version and device errors: "LibTorch 1.13.1, CPU only (built without CUDA)",
// "LibTorch 2.11.0 with CUDA: no GPU visible", "... with CUDA: 1 GPU visible".
std::string libtorch_summary();

// The device's type and index: run/config.hpp.
using run::DeviceSpec;
using run::parse_device;

}  // namespace pepr::train
