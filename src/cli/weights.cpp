// pepr weights: timm's pretrained weights from the Hugging Face hub (pull) and what a
// .safetensors file holds (info).
#include <filesystem>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/download_progress.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "weights/hub.hpp"
#include "weights/safetensors.hpp"
#ifdef PEPR_WITH_TORCH
#include "models/registry.hpp"
#endif

namespace pepr::cli {

namespace {

struct PullArgs {
  std::string name;
  bool force = false, quiet = false;
  int retries = 3;
};

void run_pull(const PullArgs& a) {
  weights::PullWeightsOptions o;
  o.force = a.force;
  o.retries = a.retries;
  auto progress = std::make_shared<DownloadProgress>(a.name, a.quiet);
  o.progress = [progress](std::uint64_t d, std::uint64_t t) { (*progress)(d, t); };
  weights::PullWeightsResult r = weights::pull_weights(a.name, o);
  progress->finish();
  if (r.from_cache)
    fmt::print(stderr, "{}: cached, {} tensors ({})\n", a.name, r.tensors, format_bytes(r.bytes));
  else
    fmt::print(stderr,
               "{}: downloaded {} from {}, SHA-256 {} verified against the hub, {} tensors\n",
               a.name, format_bytes(r.bytes), r.url, r.sha256, r.tensors);
  fmt::print("{}\n", r.path);
}

struct InfoArgs {
  std::string target;  // a file, or a model name (its cached weights)
  std::string model;   // compare with this native model
  bool tensors = false;
  OutputArgs out;
};

void run_info(const InfoArgs& a) {
  std::string path = a.target;
  std::string model = a.model;
  if (!std::filesystem::exists(path)) {
    if (!zoo::find_model(a.target))
      throw Error(fmt::format("{}: no such file, and not a model name", a.target));
    auto cached = weights::cached_weights(a.target);
    if (!cached)
      throw Error(fmt::format("{}: no weights cached (pepr weights pull {})", a.target, a.target));
    path = *cached;
    if (model.empty()) model = a.target;
  }
  auto f = weights::SafetensorsFile::open(path);
  if (a.tensors) {
    Table t({"name", "dtype", "shape", "elements"});
    for (const auto& ti : f.tensors()) {
      std::string shape;
      for (auto d : ti.shape) shape += (shape.empty() ? "" : "x") + std::to_string(d);
      t.add_row({ti.name, std::string(weights::dtype_name(ti.dtype)),
                 shape.empty() ? "scalar" : shape, std::to_string(ti.numel())});
    }
    emit(a.out, render(t, resolve_format(a.out)));
    return;
  }
  Table t({"field", "value"});
  auto row = [&](std::string k, std::string v) { t.add_row({std::move(k), std::move(v)}); };
  row("file", path);
  row("size", format_bytes(f.file_size()));
  row("tensors", std::to_string(f.tensors().size()));
  row("elements", fmt::format("{} ({:.2f} M)", f.total_elements(), f.total_elements() / 1e6));
  std::map<std::string, int> dtypes;
  for (const auto& ti : f.tensors()) ++dtypes[std::string(weights::dtype_name(ti.dtype))];
  std::string dt;
  for (const auto& [k, n] : dtypes) dt += fmt::format("{}{} x{}", dt.empty() ? "" : ", ", k, n);
  row("dtypes", dt);
  for (const auto& [k, v] : f.metadata()) row("metadata." + k, v);
#ifdef PEPR_WITH_TORCH
  if (!model.empty()) {
    auto facts = models::native_facts(model);
    std::size_t missing = 0, mismatched = 0, unexpected = 0;
    std::vector<std::string> examples;
    for (const auto& [name, shape] : facts.state_dict) {
      const auto* ti = f.find(name);
      if (!ti) {
        ++missing;
        if (examples.size() < 3) examples.push_back("missing " + name);
      } else if (ti->shape != shape) {
        ++mismatched;
        if (examples.size() < 3) examples.push_back("other shape " + name);
      }
    }
    for (const auto& ti : f.tensors()) {
      bool known = false;
      for (const auto& [name, shape] : facts.state_dict) known |= name == ti.name;
      if (!known) {
        ++unexpected;
        if (examples.size() < 3) examples.push_back("unexpected " + ti.name);
      }
    }
    row("fits native " + model,
        missing + mismatched + unexpected == 0
            ? fmt::format("yes: all {} state-dict entries, names and shapes",
                          facts.state_dict.size())
            : fmt::format("no: {} missing, {} other shapes, {} unexpected ({})", missing,
                          mismatched, unexpected, fmt::join(examples, "; ")));
  }
#else
  if (!model.empty()) row("fits native " + model, "this pepr was built without LibTorch");
#endif
  emit(a.out, render(t, resolve_format(a.out)));
}

}  // namespace

void add_weights(CLI::App& app) {
  CLI::App* w = app.add_subcommand(
      "weights", "timm's pretrained weights: download from the Hugging Face hub, inspect files");
  w->require_subcommand(1);

  auto pa = std::make_shared<PullArgs>();
  CLI::App* pull = w->add_subcommand(
      "pull",
      "Download a model's default pretrained weights (.safetensors) into the cache "
      "($PEPR_HOME/weights), verified against the hub's SHA-256; prints the file's path");
  pull->add_option("NAME", pa->name, "a timm name from pepr zoo list")->required();
  pull->add_flag("--force", pa->force, "download again even when cached");
  pull->add_option("--retries", pa->retries, "automatic resumptions of an interrupted download")
      ->capture_default_str();
  pull->add_flag("--quiet,-q", pa->quiet, "no progress");
  pull->footer(
      "The URL is https://huggingface.co/<hf_hub_id>/resolve/main/model.safetensors "
      "(PEPR_HF_BASE_URL replaces https://huggingface.co).\n"
      "Example:\n  pepr weights pull ghostnet_100");
  pull->callback([pa] { run_pull(*pa); });

  auto ia = std::make_shared<InfoArgs>();
  CLI::App* info = w->add_subcommand(
      "info", "What a .safetensors file holds, and whether it fits a native model by name");
  info->add_option("FILE", ia->target, "a .safetensors file, or a model name (its cached weights)")
      ->required();
  info->add_option("--model,-m", ia->model, "check the file against this native model");
  info->add_flag("--tensors", ia->tensors, "list every tensor (name, dtype, shape)");
  add_output_options(info, ia->out);
  info->footer(
      "Examples:\n  pepr weights info ghostnet_100\n  pepr weights info w.safetensors -m resnet18 "
      "--tensors");
  info->callback([ia] { run_info(*ia); });
}

}  // namespace pepr::cli
