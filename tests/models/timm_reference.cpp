#include "timm_reference.hpp"

#include <cstdlib>

#include <cmath>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "models/state_dict.hpp"

namespace pepr::test {

namespace {

// LibTorch starts with one thread here; the tests use every core.
class ThreadsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
};
[[maybe_unused]] ::testing::Environment* const threads_env =
    ::testing::AddGlobalTestEnvironment(new ThreadsEnvironment);

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

std::string last_part(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

}  // namespace

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char b : s) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t splitmix64_at(uint64_t seed, uint64_t k) {
  const uint64_t x = seed + (k + 1) * kGolden;
  uint64_t z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double unit_at(uint64_t seed, uint64_t k) {
  return static_cast<double>(splitmix64_at(seed, k) >> 11) * 0x1.0p-53;
}

torch::Tensor fill_rule_tensor(const std::string& name, at::IntArrayRef shape) {
  auto out = torch::empty(shape, torch::kFloat32);
  const int64_t n = out.numel();
  const uint64_t seed = fnv1a64(name);
  const std::string last = last_part(name);
  enum { kVar, kMean, kFan, kWeight, kOther } rule = kOther;
  if (last == "running_var") {
    rule = kVar;
  } else if (last == "running_mean") {
    rule = kMean;
  } else if (shape.size() >= 2) {
    rule = kFan;
  } else if (last == "weight" || last.find("gamma") != std::string::npos ||
             last.find("scale") != std::string::npos) {
    rule = kWeight;
  }
  const double fan_scale =
      rule == kFan ? std::sqrt(6.0 / (static_cast<double>(n) / static_cast<double>(shape[0]))) : 0;
  float* data = out.data_ptr<float>();
  at::parallel_for(0, n, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const double u = unit_at(seed, static_cast<uint64_t>(k));
      const double r = 2.0 * u - 1.0;
      double v = 0;
      switch (rule) {
        case kVar:
          v = 0.5 + u;
          break;
        case kMean:
          v = 0.1 * r;
          break;
        case kFan:
          v = r * fan_scale;
          break;
        case kWeight:
          v = 1.0 + 0.1 * r;
          break;
        case kOther:
          v = 0.1 * r;
          break;
      }
      data[k] = static_cast<float>(v);
    }
  });
  return out;
}

void fill_by_rule(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : models::state_dict(module)) {
    // Integer buffers are left alone; num_batches_tracked by name too, because LibTorch's
    // Module::to(dtype) converts it to that (floating) dtype, where PyTorch's leaves it int64.
    if (!tensor.is_floating_point() || last_part(name) == "num_batches_tracked") continue;
    tensor.copy_(fill_rule_tensor(name, tensor.sizes()));
  }
}

torch::Tensor reference_input(int64_t c, int64_t h, int64_t w) {
  auto out = torch::empty({2, c, h, w}, torch::kFloat32);
  const uint64_t seed = fnv1a64("input");
  float* data = out.data_ptr<float>();
  for (int64_t k = 0; k < out.numel(); ++k) {
    data[k] = static_cast<float>(2.0 * unit_at(seed, static_cast<uint64_t>(k)) - 1.0);
  }
  return out;
}

TimmReference load_timm_reference(const std::filesystem::path& json_file) {
  std::ifstream in(json_file);
  if (!in) throw std::runtime_error("cannot open " + json_file.string());
  const auto j = nlohmann::json::parse(in);
  TimmReference ref;
  ref.name = json_file.stem().string();
  if (j.contains("error")) {
    ref.error = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
    return ref;
  }
  ref.timm_params = j.at("timm_params").get<int64_t>();
  ref.input_size = j.at("input_size").get<std::vector<int64_t>>();
  if (j.contains("sample_diff")) ref.sample_diff = j.at("sample_diff").get<double>();
  // timm gives a string, or a list for models with several stems or classifiers (crossvit:
  // head.0, head.1; repvgg: two stem convolutions).
  const auto names = [&j](const char* key) -> std::vector<std::string> {
    if (!j.contains(key) || j.at(key).is_null()) return {};
    const auto& v = j.at(key);
    if (v.is_array()) return v.get<std::vector<std::string>>();
    return {v.get<std::string>()};
  };
  ref.first_conv = names("first_conv");
  ref.classifier = names("classifier");
  for (const auto& e : j.at("state_dict")) {
    ref.state_dict.push_back({e.at(0).get<std::string>(), e.at(1).get<std::vector<int64_t>>(),
                              e.at(2).get<std::string>()});
  }
  const auto rows = j.at("logits").get<std::vector<std::vector<float>>>();
  const auto cols = static_cast<int64_t>(rows.empty() ? 0 : rows[0].size());
  ref.logits = torch::empty({static_cast<int64_t>(rows.size()), cols}, torch::kFloat32);
  float* data = ref.logits.data_ptr<float>();
  for (const auto& row : rows) {
    if (static_cast<int64_t>(row.size()) != cols) throw std::runtime_error("ragged logits");
    data = std::copy(row.begin(), row.end(), data);
  }
  return ref;
}

namespace {
std::string dtype_name(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return "float32";
    case torch::kFloat64:
      return "float64";
    case torch::kFloat16:
      return "float16";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kInt64:
      return "int64";
    case torch::kInt32:
      return "int32";
    case torch::kBool:
      return "bool";
    default:
      return std::string(c10::toString(t.scalar_type()));
  }
}
}  // namespace

StateDictDiff compare_state_dict(const torch::nn::Module& module, const TimmReference& ref) {
  StateDictDiff diff;
  const auto ours = models::state_dict(module);
  const auto our_order = models::state_dict_names(module);
  std::map<std::string, const StateEntry*> theirs;
  for (const auto& e : ref.state_dict) theirs[e.name] = &e;
  for (const auto& e : ref.state_dict) {
    auto it = ours.find(e.name);
    if (it == ours.end()) {
      diff.missing.push_back(e.name);
      continue;
    }
    const auto sizes = it->second.sizes().vec();
    const std::string dt = dtype_name(it->second);
    if (sizes != e.shape || dt != e.dtype) {
      diff.mismatched.push_back(fmt::format("{}: pepr [{}] {} vs timm [{}] {}", e.name,
                                            fmt::join(sizes, ", "), dt, fmt::join(e.shape, ", "),
                                            e.dtype));
    }
  }
  for (const auto& name : our_order) {
    if (theirs.count(name) == 0) diff.unexpected.push_back(name);
  }
  if (our_order.size() != ref.state_dict.size()) {
    diff.same_order = false;
  } else {
    for (size_t i = 0; i < our_order.size(); ++i) {
      if (our_order[i] != ref.state_dict[i].name) diff.same_order = false;
    }
  }
  return diff;
}

std::string StateDictDiff::describe(size_t max_items) const {
  std::string out;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    out += fmt::format("{} {}:\n", names.size(), what);
    for (size_t i = 0; i < names.size() && i < max_items; ++i) out += "  " + names[i] + "\n";
    if (names.size() > max_items) out += "  ...\n";
  };
  list("missing (in timm, not in pepr)", missing);
  list("unexpected (in pepr, not in timm)", unexpected);
  list("with another shape or dtype", mismatched);
  return out;
}

torch::Device test_device() {
  const char* d = std::getenv("PEPR_TEST_DEVICE");
  const std::string dev = d && *d ? d : "cpu";
  torch::Device device(dev);
  if (device.is_cuda()) {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  return device;
}

double logits_tolerance(const torch::Tensor& timm_logits) {
  return 1e-3 * std::max(1.0, timm_logits.abs().max().item<double>());
}

}  // namespace pepr::test
