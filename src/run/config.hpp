// A run's configuration, written once: every option of a training run with its default, one
// table of its command-line flags (flag, member, help, allowed values), and the conversions to
// and from command-line arguments and JSON that everything else uses (`pepr train`'s parser, the
// sweep's child command line, the fake trainer of the tests). LibTorch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "run/modes.hpp"

namespace pepr::run {

// --image-size: the height and width the model sees. `auto` (the default): per model, the data's
// own size when the model accepts it, else the smallest size it accepts, and the model's fixed
// size where it has one (run/image_size.hpp); 0: the data's own size, whatever the model;
// N > 0: N x N for every model. Written "auto", "0" or "N" on command lines, in plans and JSON.
struct ImageSize {
  static constexpr int kAuto = -1;
  int px = kAuto;
  bool is_auto() const { return px == kAuto; }
  static ImageSize auto_size() { return {}; }
  static ImageSize pixels(int n) { return {n}; }
  bool operator==(const ImageSize&) const = default;
};
// "auto", or the number; nullopt for anything else (negative numbers included).
std::optional<ImageSize> parse_image_size(std::string_view text);
std::string to_string(ImageSize s);

struct RunConfig {
  std::string model;    // a native timm name, or a TorchScript file (*.pt)
  std::string data;     // .npz file, image folder, or a cached catalogue name
  std::string dataset;  // the dataset's name in the record (default: from the data)
  int num_classes = 0;  // the task's classes when the data does not show them all (0: from it)
  std::string weights;  // .safetensors of pretrained weights (empty: from scratch)
  bool pretrained = false;
  int epochs = 10;
  Optimizer optimizer = Optimizer::adam;
  double lr = 5e-4;
  double momentum = 0.9;  // sgd
  double weight_decay = 0;
  int batch_size = 32;
  int eval_batch_size = 256;
  double train_fraction = 1.0;
  std::uint64_t seed = 0;
  std::string device = "cpu";             // cpu, cuda or cuda:N
  Precision precision = Precision::fp32;  // bf16: autocast; fp16: autocast with loss scaling
  bool deterministic = false;             // deterministic algorithms, no cuDNN benchmark mode
  // Where the dataset lives while training: on the training device (uint8, converted per batch
  // there), on the host (batches prepared by a CPU thread), or automatic: on a CUDA device when
  // the uint8 splits take at most `device_data_share` of its free memory.
  DataPlacement data_placement = DataPlacement::automatic;
  double device_data_share = 0.25;
  int threads = 0;       // 0: the CPUs other processes leave free (all on an idle machine)
  ImageSize image_size;  // auto: per model (above); 0: the data's own size
  int in_chans = 3;      // 1 or 3
  bool imagenet_norm = false;
  MemoryFormat memory_format = MemoryFormat::automatic;  // automatic: channels_last from 64 px
  // Before training on the CPU, a probe measures the memory a step and an evaluation pass take
  // (train/memory_probe.hpp): a run that cannot fit is refused with the batch size that fits, and
  // evaluation's batch is lowered to fit. This turns the check off.
  bool no_memory_check = false;
  // The memory the run may take, GB (a shared machine's share); absent: what is available.
  std::optional<double> max_memory_gb;
  std::string run_id;
  // Stopping rules (the sweep's budgets and PePR-aware early stopping).
  std::optional<double> max_energy_wh, max_time_s;
  int pepr_patience = 0;      // 0: off
  int stop_after_epochs = 0;  // > 0: stop after this many epochs (a sweep's probe); 0: off
  // Continuing a stopped run (train/checkpoint.hpp): where to save the model, optimizer and the
  // epochs so far when the run stops before its last epoch, and a checkpoint to continue from.
  std::string save_checkpoint, resume_from;

  // Throws pepr::Error naming the flag and the value at the first option out of its range.
  void validate() const;
  bool operator==(const RunConfig&) const = default;
};

// "cpu", "cuda", "cuda:N": the device type and index (-1: none given); throws pepr::Error naming
// what was wrong for anything else.
struct DeviceSpec {
  bool cuda = false;
  int index = -1;
};
DeviceSpec parse_device(const std::string& device);

// One option of the table. `member` points into RunConfig; its type decides how the value is
// read and written (a bool is a flag without a value; an enum takes the names of Names<E>; an
// optional is absent unless given).
using Member =
    std::variant<std::string RunConfig::*, bool RunConfig::*, int RunConfig::*,
                 std::uint64_t RunConfig::*, double RunConfig::*,
                 std::optional<double> RunConfig::*, Optimizer RunConfig::*, Precision RunConfig::*,
                 DataPlacement RunConfig::*, MemoryFormat RunConfig::*, ImageSize RunConfig::*>;
struct Flag {
  std::string_view key;         // the JSON member and the name in messages: "batch_size"
  std::string_view flag;        // "--batch-size"
  std::string_view short_flag;  // "-b", or empty
  std::string_view help;
  Member member;
  bool required = false;
};

// Every option of RunConfig, in the order of `pepr train --help`.
std::span<const Flag> flags();
const Flag* find_flag(std::string_view flag_or_short);

// The flag's allowed values (an enum's names), empty for free values.
std::vector<std::string> allowed_values(const Flag& f);
// The value as command-line text: "0.0005", "fp16", "true" / "false" for a flag; "" when an
// optional is absent.
std::string value_text(const Flag& f, const RunConfig& c);
// Sets the member from its command-line text (a bool flag: "true" / "false"); throws
// pepr::Error "--epochs 'x': expected an integer" naming the flag and the value.
void set_from_text(const Flag& f, RunConfig& c, std::string_view text);

// The arguments that make `pepr train` (or the fake trainer) run exactly `c`: the required
// options, then every option whose value differs from RunConfig{}'s, in table order.
std::vector<std::string> to_args(const RunConfig& c);
// Reads the table's options ("--flag value", "--flag=value", short flags, bool flags without a
// value) into a RunConfig that starts from the defaults; everything else goes to `rest` in its
// order (a throw where `rest` is null). Does not validate.
RunConfig from_args(const std::vector<std::string>& args, std::vector<std::string>* rest = nullptr);

// Every member by its key (enums by name, an absent optional as null).
nlohmann::json to_json(const RunConfig& c);
// The inverse; a missing member keeps its default; an unknown member or a value of the wrong
// type throws pepr::Error naming the member.
RunConfig from_json(const nlohmann::json& j);

}  // namespace pepr::run
