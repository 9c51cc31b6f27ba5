// The training engine: fine-tunes or trains an image classifier for N epochs, evaluates on val
// and test after every epoch, meters every epoch, and produces a run record (docs/run-record.md).
// This header is free of LibTorch.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "meter/tracker.hpp"

namespace pepr::train {

struct TrainConfig {
  std::string model;    // a native timm name, or a TorchScript file (*.pt)
  std::string data;     // .npz file, image folder, or a cached catalogue name
  std::string dataset;  // the dataset's name in the record (default: from the data)
  int num_classes = 0;  // the task's classes when the data does not show them all (0: from it)
  std::string weights;  // .safetensors of pretrained weights (empty: from scratch)
  bool pretrained = false;
  int epochs = 10;
  std::string optimizer = "adam";  // adam | sgd
  double lr = 5e-4;
  double momentum = 0.9;  // sgd
  double weight_decay = 0;
  int batch_size = 32;
  int eval_batch_size = 256;
  double train_fraction = 1.0;
  uint64_t seed = 0;
  std::string device = "cpu";      // cpu, cuda or cuda:N
  std::string precision = "fp32";  // fp32 | bf16 | fp16 (autocast; fp16 with loss scaling)
  bool deterministic = false;      // deterministic algorithms (cuDNN, cuBLAS), no benchmark mode
  // Where the dataset lives while training: "device" (uint8 on the training device, converted
  // per batch there), "host" (batches prepared by a CPU thread, copied per step), or "auto":
  // device on CUDA when the uint8 splits take at most `device_data_share` of free GPU memory.
  std::string data_placement = "auto";
  double device_data_share = 0.25;
  int threads = 0;     // 0: all cores
  int image_size = 0;  // 0: the data's own size
  int in_chans = 3;    // 1 or 3
  bool imagenet_norm = false;
  std::string memory_format = "auto";  // auto | contiguous | channels_last
  std::string run_id;
  // Stopping rules (the sweep's budgets and PePR-aware early stopping).
  std::optional<double> max_energy_wh, max_time_s;
  int pepr_patience = 0;      // 0: off
  int stop_after_epochs = 0;  // > 0: stop after this many epochs (a sweep's probe); 0: off
  meter::TrackerOptions meter;
};

// Progress events, for a bar on a terminal and for `pepr bench` (JSON lines).
struct Progress {
  enum class Kind { Start, Step, Epoch, End } kind = Kind::Step;
  int epoch = 0, epochs = 0;
  int64_t step = 0, steps = 0;
  double images_per_s = 0;
  double elapsed_s = 0;
  const nlohmann::json* epoch_record = nullptr;  // Kind::Epoch
  // Kind::Start: the record before the first epoch (configuration, model, data, environment).
  const nlohmann::json* record = nullptr;
};
using ProgressFn = std::function<void(const Progress&)>;

// Trains and returns the run record. Errors in the input (unknown model, bad data) throw
// pepr::Error; an error during training (NaN loss, out of memory) gives a record with status
// "failed" and the error. Setting *interrupt stops after the current step: status "interrupted".
nlohmann::json train_run(const TrainConfig& config, const ProgressFn& progress = {},
                         const std::atomic<bool>* interrupt = nullptr);

// The LibTorch version pepr was built with, and whether it has CUDA and sees a GPU.
std::string libtorch_version();
bool cuda_available();

// "cpu", "cuda", "cuda:N": the device type and index (-1: none given); throws pepr::Error naming
// what was wrong for anything else.
struct DeviceSpec {
  bool cuda = false;
  int index = -1;
};
DeviceSpec parse_device(const std::string& device);

}  // namespace pepr::train
