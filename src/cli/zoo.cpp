// pepr zoo: the model space of the PePR study and which architectures pepr builds natively.
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/table.hpp"
#include "weights/hub.hpp"
#include "zoo/input_sizes.hpp"
#include "zoo/model_space.hpp"
#ifdef PEPR_WITH_TORCH
#include "models/input_size.hpp"
#include "models/registry.hpp"
#endif

namespace pepr::cli {

namespace {

bool native(std::string_view name) {
#ifdef PEPR_WITH_TORCH
  return models::is_native(std::string(name));
#else
  (void)name;
  return false;
#endif
}

[[maybe_unused]] std::string torchscript_hint(std::string_view name) {
  return fmt::format(
      "not native: export it with timm as TorchScript and train the file, e.g.\n"
      "  /usr/bin/python3 scripts/export_torchscript.py {0} -o {0}.pt   (needs timm)\n"
      "  pepr train --model {0}.pt --data DATA.npz --image-size SIZE\n"
      "(docs/torchscript.md)",
      name);
}

struct ListArgs {
  std::optional<double> max_params, min_params;
  std::string type;
  std::optional<int> efficient;
  bool native_only = false, paper_only = false;
  OutputArgs out;
};

void run_list(const ListArgs& a) {
  if (!a.type.empty() && a.type != "CNN" && a.type != "Other")
    throw Error(fmt::format("--type '{}': expected CNN or Other", a.type));
  // min_input_size / fixed_input_size: what the native model accepts (zoo/input_sizes.hpp;
  // empty where not native); input_size: timm's size for the pretrained weights.
  Table t({"model", "num_param", "params_m", "type", "efficient", "native", "paper",
           "min_input_size", "fixed_input_size", "input_size", "hf_hub_id"});
  std::size_t n_native = 0;
  for (const auto& e : zoo::model_space()) {
    const bool nat = native(e.name);
    if (a.max_params && static_cast<double>(e.params) > *a.max_params) continue;
    if (a.min_params && static_cast<double>(e.params) < *a.min_params) continue;
    if (!a.type.empty() && e.type != a.type) continue;
    if (a.efficient && e.efficient != *a.efficient) continue;
    if (a.native_only && !nat) continue;
    if (a.paper_only && !e.in_paper) continue;
    n_native += nat;
    const zoo::InputSizes* sizes = nat ? zoo::find_input_sizes(e.name) : nullptr;
    t.add_row({std::string(e.name), std::to_string(e.params),
               fmt::format("{:.2f}", static_cast<double>(e.params) / 1e6), std::string(e.type),
               std::to_string(e.efficient), nat ? "yes" : "no", e.in_paper ? "yes" : "no",
               sizes ? std::to_string(sizes->min) : "",
               sizes && sizes->fixed > 0 ? std::to_string(sizes->fixed) : "",
               fmt::format("{}x{}x{}", e.in_chans, e.height, e.width), std::string(e.hf_hub_id)});
  }
  RenderOptions ro;
  ro.notes.push_back(fmt::format(
      "{} models, {} native to pepr; num_param with timm's 1000-class head; type and efficient "
      "as the PePR paper classified them (paper = one of its 131)",
      t.num_rows(), n_native));
  ro.notes.push_back(
      "min_input_size / fixed_input_size: the smallest (the only) height and width a native model "
      "accepts; --image-size auto (the default) upsamples smaller data to it; input_size: timm's "
      "size for the pretrained weights");
  emit(a.out, render(t, resolve_format(a.out), ro));
}

void run_info(const std::string& name, const OutputArgs& out) {
  const zoo::ModelEntry& e = weights::require_model(name);
  Table t({"field", "value"});
  auto row = [&](std::string k, std::string v) { t.add_row({std::move(k), std::move(v)}); };
  row("model", std::string(e.name));
  if (!e.timm_name_now.empty()) row("timm_name_now", std::string(e.timm_name_now));
  row("num_param", fmt::format("{} ({:.2f} M, 1000-class head)", e.params, e.params / 1e6));
  row("type", std::string(e.type));
  row("efficient", std::to_string(e.efficient));
  row("in_paper", e.in_paper ? "yes (one of the PePR study's 131)" : "no (a reference model)");
  row("input_size",
      fmt::format("{}x{}x{} (timm's default for the weights)", e.in_chans, e.height, e.width));
  row("mean", fmt::format("{}, {}, {}", e.mean[0], e.mean[1], e.mean[2]));
  row("std", fmt::format("{}, {}, {}", e.std[0], e.std[1], e.std[2]));
  row("crop_pct / interpolation", fmt::format("{} / {}", e.crop_pct, e.interpolation));
  if (e.hf_hub_id.empty()) {
    row("weights", "none on the hub (timm has a legacy .pth file only)");
  } else {
    row("weights", weights::hub_weights_url(e));
    auto cached = weights::cached_weights(e.name);
    row("weights_cached", cached ? *cached : "no (pepr weights pull " + std::string(e.name) + ")");
  }
#ifdef PEPR_WITH_TORCH
  if (models::is_native(std::string(e.name))) {
    auto f = models::native_facts(std::string(e.name));
    row("native", fmt::format("yes (family {})", models::family_of(std::string(e.name))));
    row("native_params",
        fmt::format("{}{}", f.params,
                    f.params == e.params ? " (= timm's)" : " (differs from timm's!)"));
    row("first_conv",
        fmt::format("{} (adapted for 1-channel input)", fmt::join(f.first_conv, ", ")));
    row("classifier",
        fmt::format("{} (new for another number of classes)", fmt::join(f.classifier, ", ")));
    row("state_dict", fmt::format("{} entries", f.state_dict.size()));
    const models::NativeInputSize sizes = models::native_input_size(std::string(e.name));
    row("min_input_size",
        f.min_input_size > 1
            ? fmt::format("{0}x{0} (smaller data: --image-size auto upsamples to {0})",
                          f.min_input_size)
            : "any");
    row("fixed_input_size",
        sizes.fixed > 0
            ? fmt::format("{0}x{0} (only this size; --image-size auto resizes to it)", sizes.fixed)
            : "none");
  } else {
    row("native", torchscript_hint(e.name));
  }
#else
  row("native", "this pepr was built without LibTorch");
#endif
  emit(out, render(t, resolve_format(out)));
}

}  // namespace

void add_zoo(CLI::App& app) {
  CLI::App* zoo = app.add_subcommand(
      "zoo",
      "The model space of the PePR study (131 timm architectures, 1M-133M parameters) and "
      "which of them pepr builds natively");
  zoo->require_subcommand(1);

  auto la = std::make_shared<ListArgs>();
  CLI::App* list = zoo->add_subcommand("list", "List the model space, native models marked");
  list->add_option("--max-params", la->max_params, "at most this many parameters (e.g. 24.6e6)");
  list->add_option("--min-params", la->min_params, "at least this many parameters");
  list->add_option("--type", la->type, "CNN or Other");
  list->add_option("--efficient", la->efficient, "1: designed for efficiency, 0: not")
      ->check(CLI::IsMember({0, 1}));
  list->add_flag("--native", la->native_only, "only the models pepr builds natively");
  list->add_flag("--paper", la->paper_only, "only the paper's 131");
  add_output_options(list, la->out);
  list->footer(
      "Examples:\n"
      "  pepr zoo list --native\n"
      "  pepr zoo list --max-params 24.6e6 --efficient 1 -f markdown");
  list->callback([la] { run_list(*la); });

  auto name = std::make_shared<std::string>();
  auto io = std::make_shared<OutputArgs>();
  CLI::App* info = zoo->add_subcommand("info", "Everything pepr knows about one model");
  info->add_option("NAME", *name, "a timm name, e.g. ghostnet_100")->required();
  add_output_options(info, *io);
  info->footer("Example:\n  pepr zoo info ghostnet_100");
  info->callback([name, io] { run_info(*name, *io); });
}

}  // namespace pepr::cli
