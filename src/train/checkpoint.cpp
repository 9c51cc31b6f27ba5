#include "train/checkpoint.hpp"

#include <mutex>
#include <system_error>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "core/error.hpp"

namespace pepr::train {

namespace {

// Archive keys are attribute names: no dots (a module's parameter names have them).
std::string tensor_key(std::size_t i) {
  return "state_" + std::to_string(i);
}

std::string shape_text(c10::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes, ", "));
}

}  // namespace

std::int64_t tensor_bytes(const NamedTensors& tensors) {
  std::int64_t n = 0;
  for (const auto& [name, t] : tensors)
    if (t.defined()) n += t.numel() * static_cast<std::int64_t>(t.element_size());
  return n;
}

void save_checkpoint(const std::filesystem::path& path, const NamedTensors& state,
                     const torch::optim::Optimizer& optimizer, const nlohmann::json& meta) {
  nlohmann::json m = meta;
  m["format"] = kCheckpointFormat;
  nlohmann::json names = nlohmann::json::array(), shapes = nlohmann::json::array();
  torch::serialize::OutputArchive archive;
  for (std::size_t i = 0; i < state.size(); ++i) {
    const auto& [name, t] = state[i];
    names.push_back(name);
    shapes.push_back(t.sizes().vec());
    // On the CPU: a checkpoint saved on a GPU continues on a CPU too.
    archive.write(tensor_key(i), t.detach().to(torch::kCPU), /*is_buffer=*/true);
  }
  m["tensors"] = {{"names", std::move(names)}, {"shapes", std::move(shapes)}};
  torch::serialize::OutputArchive opt_archive;
  optimizer.save(opt_archive);
  archive.write("optimizer", opt_archive);
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng_cpu", gen.get_state(), /*is_buffer=*/true);
  }
  archive.write("meta", c10::IValue(m.dump()));
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  try {
    archive.save_to(tmp.string());
  } catch (const c10::Error& e) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw Error(fmt::format("{}: cannot write the checkpoint: {}", path.string(),
                            std::string(e.what_without_backtrace()).substr(0, 300)));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error(fmt::format("{}: cannot write the checkpoint: {}", path.string(), ec.message()));
  }
}

nlohmann::json load_checkpoint(const std::filesystem::path& path, const NamedTensors& state,
                               torch::optim::Optimizer& optimizer) {
  const std::string where = path.string();
  if (!std::filesystem::is_regular_file(path))
    throw Error(fmt::format("{}: no such checkpoint", where));
  torch::serialize::InputArchive archive;
  nlohmann::json meta;
  try {
    archive.load_from(where);
    c10::IValue text;
    archive.read("meta", text);
    meta = nlohmann::json::parse(text.toStringRef());
  } catch (const c10::Error&) {
    throw Error(
        fmt::format("{}: not a pepr checkpoint (not a LibTorch archive with pepr's meta)", where));
  } catch (const nlohmann::json::exception&) {
    throw Error(fmt::format("{}: not a pepr checkpoint (its meta is not JSON)", where));
  }
  if (!meta.is_object() || meta.value("format", "") != kCheckpointFormat)
    throw Error(fmt::format("{}: not a {} file", where, kCheckpointFormat));
  const nlohmann::json names = meta.contains("tensors") && meta["tensors"].is_object()
                                   ? meta["tensors"].value("names", nlohmann::json::array())
                                   : nlohmann::json::array();
  if (!names.is_array() || names.size() != state.size())
    throw Error(
        fmt::format("{}: holds {} tensors, this model has {}: a checkpoint of another model", where,
                    names.size(), state.size()));
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < state.size(); ++i) {
    const auto& [name, t] = state[i];
    if (names[i] != name)
      throw Error(fmt::format("{}: tensor {} is {}, this model's is '{}'", where, i + 1,
                              names[i].dump(), name));
    torch::Tensor saved;
    try {
      archive.read(tensor_key(i), saved, /*is_buffer=*/true);
    } catch (const c10::Error&) {
      throw Error(fmt::format("{}: tensor '{}' is missing", where, name));
    }
    if (saved.sizes() != t.sizes())
      throw Error(fmt::format("{}: '{}' is {} in the checkpoint but {} in this model", where, name,
                              shape_text(saved.sizes()), shape_text(t.sizes())));
    t.copy_(saved);
  }
  try {
    torch::serialize::InputArchive opt_archive;
    archive.read("optimizer", opt_archive);
    optimizer.load(opt_archive);
    torch::Tensor rng;
    archive.read("rng_cpu", rng, /*is_buffer=*/true);
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: cannot restore the optimizer: {}", where,
                            std::string(e.what_without_backtrace()).substr(0, 300)));
  }
  return meta;
}

std::vector<std::string> identity_differences(const nlohmann::json& saved,
                                              const nlohmann::json& now) {
  std::vector<std::string> out;
  auto text = [](const nlohmann::json* v) { return v ? v->dump() : std::string("(none)"); };
  for (auto it = now.begin(); it != now.end(); ++it) {
    const auto s = saved.find(it.key());
    const nlohmann::json* sv = s == saved.end() ? nullptr : &*s;
    if (!sv || *sv != it.value())
      out.push_back(fmt::format("{} {} (checkpoint) vs {}", it.key(), text(sv), text(&it.value())));
  }
  for (auto it = saved.begin(); it != saved.end(); ++it)
    if (!now.contains(it.key()))
      out.push_back(fmt::format("{} {} (checkpoint) vs (none)", it.key(), it.value().dump()));
  return out;
}

}  // namespace pepr::train
