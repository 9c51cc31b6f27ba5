#include "run/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/json_check.hpp"

namespace pepr::run {

std::string join_or(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

DeviceSpec parse_device(const std::string& device) {
  DeviceSpec d;
  if (device == "cpu") return d;
  if (device.rfind("cuda", 0) != 0)
    throw Error(fmt::format("device '{}': expected cpu, cuda or cuda:N", device));
  d.cuda = true;
  if (device == "cuda") return d;
  const std::string idx = device.size() > 5 && device[4] == ':' ? device.substr(5) : "";
  if (idx.empty() || idx.size() > 4 ||
      !std::all_of(idx.begin(), idx.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw Error(fmt::format("device '{}': expected cpu, cuda or cuda:N", device));
  d.index = std::stoi(idx);
  return d;
}

std::optional<ImageSize> parse_image_size(std::string_view text) {
  if (text == "auto") return ImageSize::auto_size();
  int n = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || p != end || n < 0) return std::nullopt;
  return ImageSize::pixels(n);
}

std::string to_string(ImageSize s) {
  return s.is_auto() ? "auto" : std::to_string(s.px);
}

void RunConfig::validate() const {
  if (model.empty()) throw Error("no model given (--model)");
  for (const auto& f : flags())
    if (const auto* m = std::get_if<std::string RunConfig::*>(&f.member))
      if (const auto at = utf8_error_offset(this->**m); at != std::string_view::npos)
        throw Error(fmt::format("{}: the value is not valid UTF-8 (byte {})", f.flag, at + 1));
  if (data.empty()) throw Error("no data given (--data)");
  if (epochs < 1) throw Error(fmt::format("epochs must be at least 1 (got {})", epochs));
  if (num_classes < 0 || num_classes > 100000)
    throw Error(fmt::format("number of classes must lie in [0, 100000] (got {})", num_classes));
  if (batch_size < 1 || batch_size > (1 << 20))
    throw Error(fmt::format("batch size must lie in [1, 1048576] (got {})", batch_size));
  if (eval_batch_size < 1)
    throw Error(fmt::format("evaluation batch size must be at least 1 (got {})", eval_batch_size));
  if (!(lr > 0) || !std::isfinite(lr))
    throw Error(fmt::format("learning rate must be positive (got {:g})", lr));
  if (!(momentum >= 0) || !std::isfinite(momentum))
    throw Error(fmt::format("momentum must not be negative (got {:g})", momentum));
  if (!(weight_decay >= 0) || !std::isfinite(weight_decay))
    throw Error(fmt::format("weight decay must not be negative (got {:g})", weight_decay));
  if (!(train_fraction > 0 && train_fraction <= 1))
    throw Error(fmt::format("train fraction must lie in (0, 1] (got {:g})", train_fraction));
  parse_device(device);
  if (!(device_data_share > 0 && device_data_share <= 1))
    throw Error(fmt::format("device data share must lie in (0, 1] (got {:g})", device_data_share));
  if (threads < 0) throw Error(fmt::format("threads must not be negative (got {})", threads));
  if (!image_size.is_auto() && image_size.px < 0)
    throw Error(fmt::format("image size must be auto or not negative (got {})", image_size.px));
  if (in_chans != 1 && in_chans != 3)
    throw Error(fmt::format("input channels must be 1 or 3 (got {})", in_chans));
  for (const auto& [what, v] :
       {std::pair{"maximum energy (Wh)", max_energy_wh}, std::pair{"maximum time (s)", max_time_s},
        std::pair{"maximum memory (GB)", max_memory_gb}})
    if (v && !(*v > 0 && std::isfinite(*v)))
      throw Error(fmt::format("{} must be positive (got {:g})", what, *v));
  if (pepr_patience < 0)
    throw Error(fmt::format("PePR patience must not be negative (got {})", pepr_patience));
  if (stop_after_epochs < 0)
    throw Error(fmt::format("stop after epochs must not be negative (got {})", stop_after_epochs));
}

namespace {

using C = RunConfig;

constexpr std::array kFlags = {
    Flag{"model", "--model", "-m", "a native timm name (pepr zoo list) or a TorchScript file",
         &C::model, true},
    Flag{"data", "--data", "-d", ".npz file, image folder, or a pulled catalogue name", &C::data,
         true},
    Flag{"dataset", "--dataset-name", "", "the dataset's name in the record", &C::dataset},
    Flag{"num_classes", "--num-classes", "",
         "classes of the task when not all appear in the data (0: from the data)", &C::num_classes},
    Flag{"weights", "--weights", "", "pretrained weights (.safetensors)", &C::weights},
    Flag{"pretrained", "--pretrained", "", "start from the model's pretrained weights",
         &C::pretrained},
    Flag{"epochs", "--epochs", "-e", "epochs", &C::epochs},
    Flag{"optimizer", "--optimizer", "", "the optimizer", &C::optimizer},
    Flag{"lr", "--lr", "", "learning rate", &C::lr},
    Flag{"momentum", "--momentum", "", "SGD momentum", &C::momentum},
    Flag{"weight_decay", "--weight-decay", "", "weight decay", &C::weight_decay},
    Flag{"batch_size", "--batch-size", "-b", "batch size", &C::batch_size},
    Flag{"eval_batch_size", "--eval-batch-size", "", "batch size for evaluation",
         &C::eval_batch_size},
    Flag{"train_fraction", "--train-fraction", "",
         "train on a stratified, seeded subset of this fraction", &C::train_fraction},
    Flag{"seed", "--seed", "", "seed for initialisation, order and subsets", &C::seed},
    Flag{"device", "--device", "", "cpu, cuda or cuda:N (the GPU to train on)", &C::device},
    Flag{"precision", "--precision", "",
         "fp32, bf16 (autocast; CPU or GPU) or fp16 (autocast with loss scaling; GPU)",
         &C::precision},
    Flag{"deterministic", "--deterministic", "",
         "deterministic algorithms (cuDNN, cuBLAS): reproducible, may be slower",
         &C::deterministic},
    Flag{"data_placement", "--data-placement", "", "auto (on the GPU when it fits), device or host",
         &C::data_placement},
    Flag{"device_data_share", "--device-data-share", "",
         "--data-placement auto: the share of the GPU's free memory the data may take",
         &C::device_data_share},
    Flag{"threads", "--threads", "",
         "intra-op threads (0: the CPUs other processes leave free, all on an idle machine)",
         &C::threads},
    Flag{"image_size", "--image-size", "",
         "auto (per model: the data's size when the model accepts it, else the smallest it "
         "accepts, or its fixed size), 0 (as stored, every model) or N (N x N, every model)",
         &C::image_size},
    Flag{"in_chans", "--in-chans", "", "model input channels: 3 (gray replicated) or 1",
         &C::in_chans},
    Flag{"imagenet_norm", "--imagenet-norm", "", "normalise with ImageNet mean and std",
         &C::imagenet_norm},
    Flag{"memory_format", "--memory-format", "",
         "auto (channels_last from 64 px), contiguous or channels_last", &C::memory_format},
    Flag{"no_memory_check", "--no-memory-check", "",
         "do not measure the run's memory before training (on the CPU, a run that would not fit "
         "is otherwise refused with the batch size that fits, and evaluation's batch lowered)",
         &C::no_memory_check},
    Flag{"max_memory_gb", "--max-memory-gb", "",
         "plan the run within this much memory, GB (default: what the machine has available)",
         &C::max_memory_gb},
    Flag{"run_id", "--run-id", "", "identifier stored in the record", &C::run_id},
    Flag{"max_energy_wh", "--max-energy-wh", "",
         "stop after epoch 1 if the predicted total energy exceeds this", &C::max_energy_wh},
    Flag{"max_time_s", "--max-time-s", "",
         "stop after epoch 1 if the predicted total time exceeds this", &C::max_time_s},
    Flag{"pepr_patience", "--pepr-patience", "",
         "stop once PePR over cumulative energy has not improved for K epochs (0: off)",
         &C::pepr_patience},
    Flag{"stop_after_epochs", "--stop-after-epochs", "",
         "stop (status stopped) after this many of the --epochs; the budget prediction still "
         "plans for --epochs (pepr bench --prune-top's probes; 0: off)",
         &C::stop_after_epochs},
    Flag{"save_checkpoint", "--save-checkpoint", "",
         "when the run stops before its last epoch (a budget, --stop-after-epochs), save the "
         "model, optimizer and epochs so far here, for --resume-from",
         &C::save_checkpoint},
    Flag{"resume_from", "--resume-from", "",
         "continue the run of the same configuration saved by --save-checkpoint: its epochs, "
         "energy and time are the record's first ones",
         &C::resume_from},
};

template <typename T>
std::string text_of(const T& v) {
  if constexpr (std::is_same_v<T, std::string>)
    return v;
  else if constexpr (std::is_same_v<T, bool>)
    return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, double>)
    return fmt::format("{}", v);  // the shortest text that reads back as the same double
  else if constexpr (std::is_same_v<T, std::optional<double>>)
    return v ? fmt::format("{}", *v) : std::string();
  else if constexpr (std::is_enum_v<T>)
    return std::string(name(v));
  else if constexpr (std::is_same_v<T, ImageSize>)
    return to_string(v);
  else
    return std::to_string(v);
}

template <typename T>
bool parse_integer(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && p == end && !text.empty();
}

bool parse_double(std::string_view text, double& out) {
  if (text.empty() || text.size() > 64) return false;
  const std::string s(text);
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

template <typename T>
void parse_into(const Flag& f, std::string_view text, T& out) {
  auto bad = [&](std::string_view expected) {
    return Error(fmt::format("{} '{}': expected {}", f.flag, text, expected));
  };
  if constexpr (std::is_same_v<T, std::string>) {
    // Records are JSON: a value that is not UTF-8 could not be written into one.
    if (const auto at = utf8_error_offset(text); at != std::string_view::npos)
      throw Error(fmt::format("{}: the value is not valid UTF-8 (byte {})", f.flag, at + 1));
    out = std::string(text);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1")
      out = true;
    else if (text == "false" || text == "0")
      out = false;
    else
      throw bad("true or false");
  } else if constexpr (std::is_same_v<T, double>) {
    if (!parse_double(text, out)) throw bad("a number");
  } else if constexpr (std::is_same_v<T, std::optional<double>>) {
    double v = 0;
    if (!parse_double(text, v)) throw bad("a number");
    out = v;
  } else if constexpr (std::is_enum_v<T>) {
    const auto v = from_name<T>(text);
    if (!v) throw bad(join_or(all_names<T>()));
    out = *v;
  } else if constexpr (std::is_same_v<T, ImageSize>) {
    const auto v = parse_image_size(text);
    if (!v) throw bad("auto or a non-negative integer");
    out = *v;
  } else {
    if (!parse_integer(text, out))
      throw bad(std::is_unsigned_v<T> ? "a non-negative integer" : "an integer");
  }
}

}  // namespace

std::span<const Flag> flags() {
  return kFlags;
}

const Flag* find_flag(std::string_view flag_or_short) {
  for (const auto& f : kFlags)
    if (f.flag == flag_or_short || (!f.short_flag.empty() && f.short_flag == flag_or_short))
      return &f;
  return nullptr;
}

std::vector<std::string> allowed_values(const Flag& f) {
  return std::visit(
      [](auto m) -> std::vector<std::string> {
        using T = std::remove_cvref_t<decltype(std::declval<C>().*m)>;
        if constexpr (std::is_enum_v<T>)
          return all_names<T>();
        else
          return {};
      },
      f.member);
}

std::string value_text(const Flag& f, const RunConfig& c) {
  return std::visit([&](auto m) { return text_of(c.*m); }, f.member);
}

void set_from_text(const Flag& f, RunConfig& c, std::string_view text) {
  std::visit([&](auto m) { parse_into(f, text, c.*m); }, f.member);
}

std::vector<std::string> to_args(const RunConfig& c) {
  static const RunConfig defaults;
  std::vector<std::string> out;
  for (const auto& f : kFlags) {
    const std::string v = value_text(f, c);
    if (!f.required && v == value_text(f, defaults)) continue;
    if (std::holds_alternative<bool RunConfig::*>(f.member)) {
      // A flag: present means true (every flag defaults to false; a test checks it).
      if (v == "true") out.emplace_back(f.flag);
      continue;
    }
    if (std::holds_alternative<std::optional<double> RunConfig::*>(f.member) && v.empty()) continue;
    out.emplace_back(f.flag);
    out.push_back(v);
  }
  return out;
}

RunConfig from_args(const std::vector<std::string>& args, std::vector<std::string>* rest) {
  RunConfig c;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::optional<std::string_view> inline_value;
    if (a.rfind("--", 0) == 0)
      if (const auto eq = a.find('='); eq != std::string_view::npos) {
        inline_value = a.substr(eq + 1);
        a = a.substr(0, eq);
      }
    const Flag* f = a.size() > 1 && a[0] == '-' ? find_flag(a) : nullptr;
    if (!f) {
      if (!rest) throw Error(fmt::format("unknown option '{}'", args[i]));
      rest->push_back(args[i]);
      continue;
    }
    if (std::holds_alternative<bool RunConfig::*>(f->member)) {
      set_from_text(*f, c, inline_value.value_or("true"));
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) throw Error(fmt::format("{}: needs a value", f->flag));
      inline_value = args[++i];
    }
    set_from_text(*f, c, *inline_value);
  }
  return c;
}

nlohmann::json to_json(const RunConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : kFlags)
    std::visit(
        [&](auto m) {
          using T = std::remove_cvref_t<decltype(c.*m)>;
          const auto& v = c.*m;
          if constexpr (std::is_enum_v<T>)
            j[std::string(f.key)] = std::string(name(v));
          else if constexpr (std::is_same_v<T, std::optional<double>>)
            j[std::string(f.key)] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
          else if constexpr (std::is_same_v<T, ImageSize>)
            j[std::string(f.key)] = v.is_auto() ? nlohmann::json("auto") : nlohmann::json(v.px);
          else
            j[std::string(f.key)] = v;
        },
        f.member);
  return j;
}

RunConfig from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("a run configuration must be a JSON object");
  RunConfig c;
  for (auto item = j.begin(); item != j.end(); ++item) {
    // (Named copies: clang before 16 cannot capture structured bindings in the lambdas below.)
    const std::string key = item.key();
    const nlohmann::json& value = item.value();
    const auto it =
        std::find_if(kFlags.begin(), kFlags.end(), [&](const Flag& f) { return f.key == key; });
    if (it == kFlags.end()) throw Error(fmt::format("run configuration: unknown member '{}'", key));
    const Flag& f = *it;
    std::visit(
        [&](auto m) {
          using T = std::remove_cvref_t<decltype(c.*m)>;
          auto wrong = [&](std::string_view expected) {
            return Error(fmt::format("run configuration: '{}' is {}, expected {}", key,
                                     value.dump(), expected));
          };
          if constexpr (std::is_enum_v<T>) {
            if (!value.is_string()) throw wrong(join_or(all_names<T>()));
            parse_into(f, value.get<std::string>(), c.*m);
          } else if constexpr (std::is_same_v<T, std::optional<double>>) {
            if (value.is_null())
              c.*m = std::nullopt;
            else if (value.is_number())
              c.*m = value.get<double>();
            else
              throw wrong("a number or null");
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!value.is_string()) throw wrong("a string");
            c.*m = value.get<std::string>();
          } else if constexpr (std::is_same_v<T, bool>) {
            if (!value.is_boolean()) throw wrong("true or false");
            c.*m = value.get<bool>();
          } else if constexpr (std::is_same_v<T, double>) {
            if (!value.is_number()) throw wrong("a number");
            c.*m = value.get<double>();
          } else if constexpr (std::is_same_v<T, ImageSize>) {
            std::optional<ImageSize> v;
            if (value.is_string()) v = parse_image_size(value.get<std::string>());
            if (value.is_number_integer() && value.get<std::int64_t>() >= 0 &&
                value.get<std::int64_t>() <= std::numeric_limits<int>::max())
              v = ImageSize::pixels(static_cast<int>(value.get<std::int64_t>()));
            if (!v) throw wrong("\"auto\" or a non-negative integer");
            c.*m = *v;
          } else {
            if (!value.is_number_integer()) throw wrong("an integer");
            if constexpr (std::is_unsigned_v<T>)
              if (value.is_number_integer() && !value.is_number_unsigned() &&
                  value.get<std::int64_t>() < 0)
                throw wrong("a non-negative integer");
            c.*m = value.get<T>();
          }
        },
        f.member);
  }
  return c;
}

}  // namespace pepr::run
