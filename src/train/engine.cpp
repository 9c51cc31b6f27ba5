#include "train/engine.hpp"
#include "core/version.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "data/prefetch.hpp"
#include "data/preprocess.hpp"
#include "meter/estimate.hpp"
#include "meter/sharing.hpp"
#include "models/cpu_backend.hpp"
#include "models/model.hpp"
#include "models/pretrained.hpp"
#include "models/registry.hpp"
#include "run/environment.hpp"
#include "run/image_size.hpp"
#include "sweep/stopping.hpp"
#include "train/checkpoint.hpp"
#include "train/device_data.hpp"
#include "train/memory_probe.hpp"
#include "train/metrics.hpp"
#include "train/optimizer.hpp"
#include "train/torch_compat.hpp"
#include "weights/hub.hpp"
#include "zoo/model_space.hpp"

namespace pepr::train {

std::string libtorch_version() {
  return TORCH_VERSION;
}
bool cuda_available() {
  return torch::cuda::is_available();
}
bool cuda_built() {
  // Whether this LibTorch's CUDA part is loaded, GPU or not: at::hasCUDA() asks for a GPU too in
  // LibTorch 2.x, so a CUDA build on a machine without a visible GPU would call itself CPU-only.
  return at::globalContext().hasCUDART();
}
std::string libtorch_summary() {
  if (!cuda_built())
    return fmt::format("LibTorch {}, CPU only (built without CUDA)", TORCH_VERSION);
  const auto gpus = torch::cuda::device_count();
  return fmt::format("LibTorch {} with CUDA: {}", TORCH_VERSION,
                     gpus == 0 ? std::string("no GPU visible")
                               : fmt::format("{} GPU{} visible", gpus, gpus == 1 ? "" : "s"));
}

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A failure while training (as opposed to bad input): recorded as status "failed".
struct TrainingFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Either a native model or a TorchScript module, behind one interface.
class Network {
 public:
  Network(const TrainConfig& cfg, int64_t num_classes, int64_t in_chans) {
    if (ends_with(cfg.model, ".pt") || ends_with(cfg.model, ".pth") ||
        ends_with(cfg.model, ".torchscript")) {
      try {
        script_ = torch::jit::load(cfg.model);
      } catch (const c10::Error& e) {
        throw Error(fmt::format("{}: cannot load TorchScript model: {}", cfg.model,
                                std::string(e.what_without_backtrace()).substr(0, 300)));
      }
      name_ = cfg.model;
      return;
    }
    models::ModelOptions mo;
    mo.num_classes = num_classes;
    mo.in_chans = in_chans;
    native_ = models::create_model(cfg.model, mo);
    name_ = cfg.model;
  }

  torch::Tensor forward(const torch::Tensor& x) {
    if (native_) return native_->forward(x);
    return script_->forward({x}).toTensor();
  }
  std::vector<torch::Tensor> parameters() {
    if (native_) return native_->parameters();
    std::vector<torch::Tensor> out;
    for (const auto& p : script_->parameters())
      if (p.requires_grad()) out.push_back(p);
    return out;
  }
  void train(bool on) {
    if (native_)
      native_->train(on);
    else
      script_->train(on);
  }
  void to(torch::Device d) {
    if (native_)
      native_->to(d);
    else
      script_->to(d);
  }
  void channels_last() {
    if (native_) models::to_channels_last(*native_);
  }
  // What the model accepts; a TorchScript model says nothing (any size, as its file decides).
  run::InputSizeRule input_size_rule() const {
    if (!native_) return {};
    return {native_->min_input_size(), native_->fixed_input_size()};
  }
  std::vector<torch::Tensor> buffers() {
    std::vector<torch::Tensor> out;
    if (native_) return native_->buffers();
    for (const auto& b : script_->buffers()) out.push_back(b);
    return out;
  }
  // Parameters and buffers by name (a checkpoint's model part).
  NamedTensors named_state() {
    NamedTensors out;
    if (native_) {
      for (const auto& p : native_->named_parameters(true)) out.emplace_back(p.key(), p.value());
      for (const auto& b : native_->named_buffers(true)) out.emplace_back(b.key(), b.value());
    } else {
      for (const auto& p : script_->named_parameters(true)) out.emplace_back(p.name, p.value);
      for (const auto& b : script_->named_buffers(true)) out.emplace_back(b.name, b.value);
    }
    return out;
  }
  models::Classifier* native_model() { return native_.get(); }
  bool native() const { return native_ != nullptr; }
  int64_t params() {
    int64_t n = 0;
    for (const auto& p : parameters()) n += p.numel();
    return n;
  }

 private:
  std::string name_;
  std::shared_ptr<models::Classifier> native_;
  std::optional<torch::jit::script::Module> script_;
};

// A metric that could not be computed (NaN) is recorded as null.
run::Field<double> nullable(double v) {
  return std::isnan(v) ? run::Field<double>(nullptr) : run::Field<double>(v);
}

struct EvalResult {
  ClassificationMetrics metrics;
};

// Mixed precision for a scope: autocast on `device` with `dtype` (nothing for fp32).
class AutocastScope {
 public:
  AutocastScope(torch::Device device, std::optional<c10::ScalarType> dtype)
      : type_(device.type()), on_(dtype.has_value()) {
    if (on_) compat::set_autocast(type_, true, *dtype);
  }
  ~AutocastScope() {
    if (on_) compat::set_autocast(type_, false, c10::ScalarType::Float);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType type_;
  bool on_;
};

// The batches of one split, in a given order: from a device-resident copy (converted on the
// device), or from the host prefetcher (a CPU thread fills the next batch while the current one
// trains; on CUDA copied through pinned memory without blocking).
class SplitFeed {
 public:
  SplitFeed(const data::ImageSet& set, const data::Preprocess& pre, int64_t batch_size,
            torch::Device device, const DeviceImages* on_device, bool channels_last)
      : set_(set), batch_(batch_size), device_(device), dev_(on_device), cl_(channels_last) {
    if (!dev_) {
      data::BatchPrefetcher::Options po;
      po.batch_size = batch_size;
      po.preprocess = pre;
      prefetch_ = std::make_unique<data::BatchPrefetcher>(set, po);
    }
  }
  int64_t steps() const { return (set_.n + batch_ - 1) / batch_; }
  void start_epoch(std::vector<int64_t> order) {
    pos_ = 0;
    if (dev_) {
      order_ = torch::tensor(order, torch::kInt64).to(device_);
      n_ = static_cast<int64_t>(order.size());
    } else {
      prefetch_->start_epoch(std::move(order));
    }
  }
  // The next batch (images, labels), or false after the last.
  bool next(torch::Tensor& x, torch::Tensor& y, int64_t& size) {
    if (dev_) {
      if (pos_ >= n_) return false;
      size = std::min(batch_, n_ - pos_);
      auto idx = order_.narrow(0, pos_, size);
      pos_ += size;
      x = dev_->images(idx, cl_);
      y = dev_->labels(idx);
      return true;
    }
    auto b = prefetch_->next();
    if (!b) return false;
    size = b->size;
    x = torch::from_blob(const_cast<float*>(b->images), {b->size, b->channels, b->height, b->width},
                         torch::kFloat32);
    // The labels are copied: evaluation keeps every batch's labels until the split is done,
    // and the prefetcher refills this buffer two batches later.
    y = torch::from_blob(const_cast<int64_t*>(b->labels), {b->size}, torch::kInt64).clone();
    if (cl_) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    if (device_.is_cuda()) {
      // The prefetcher reuses its buffer: copy into pinned memory (the caching host allocator's),
      // then to the GPU without blocking the host.
      x = x.pin_memory().to(device_, /*non_blocking=*/true);
      y = y.pin_memory().to(device_, /*non_blocking=*/true);
    }
    return true;
  }
  double wait_seconds() const { return prefetch_ ? prefetch_->wait_seconds() : 0.0; }

 private:
  const data::ImageSet& set_;
  int64_t batch_;
  torch::Device device_;
  const DeviceImages* dev_;
  bool cl_;
  std::unique_ptr<data::BatchPrefetcher> prefetch_;
  torch::Tensor order_;
  int64_t pos_ = 0, n_ = 0;
};

EvalResult evaluate(Network& net, const data::ImageSet& set, const data::Preprocess& pre,
                    int64_t num_classes, int batch_size, torch::Device device, bool channels_last,
                    const DeviceImages* on_device, std::optional<c10::ScalarType> autocast) {
  torch::NoGradGuard no_grad;
  net.train(false);
  SplitFeed feed(set, pre, batch_size, device, on_device, channels_last);
  std::vector<int64_t> order(static_cast<std::size_t>(set.n));
  std::iota(order.begin(), order.end(), 0);
  feed.start_epoch(order);
  // Logits stay on the device until the split is done: one transfer, no per-batch sync.
  std::vector<torch::Tensor> all_logits, all_labels;
  torch::Tensor x, y;
  int64_t size = 0;
  while (feed.next(x, y, size)) {
    torch::Tensor logits;
    {
      AutocastScope amp(device, autocast);
      logits = net.forward(x);
    }
    all_logits.push_back(logits.to(torch::kFloat32));
    all_labels.push_back(y);
  }
  EvalResult r;
  if (all_logits.empty()) {
    r.metrics = classification_metrics({}, {}, num_classes);
    r.metrics.loss = std::nan("");
    return r;
  }
  auto logits = torch::cat(all_logits).to(torch::kCPU);
  auto labels_t = torch::cat(all_labels).to(torch::kCPU).contiguous();
  const double loss_sum =
      torch::nn::functional::cross_entropy(
          logits, labels_t, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
          .item<double>();
  auto p = torch::softmax(logits, 1).contiguous();
  std::vector<float> probs(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  std::vector<int64_t> labels(labels_t.data_ptr<int64_t>(),
                              labels_t.data_ptr<int64_t>() + labels_t.numel());
  r.metrics = classification_metrics(probs, labels, num_classes);
  r.metrics.loss = set.n > 0 ? loss_sum / static_cast<double>(set.n) : std::nan("");
  return r;
}

// Dynamic loss scaling for fp16 (as torch.cuda.amp.GradScaler, with its defaults): the loss is
// multiplied by `scale` before backward; gradients are unscaled and checked; a step with an
// inf/NaN gradient is skipped and the scale halved; after 2000 good steps it doubles.
class LossScaler {
 public:
  explicit LossScaler(torch::Device device)
      : scale_(torch::full({1}, 65536.0f, torch::TensorOptions().device(device))),
        growth_(torch::zeros({1}, torch::TensorOptions().dtype(torch::kInt32).device(device))),
        found_inf_(torch::zeros({1}, torch::TensorOptions().device(device))) {}
  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }
  // Unscales the gradients; steps the optimiser unless one was not finite; updates the scale.
  // Returns whether the step was taken.
  bool step(torch::optim::Optimizer& opt, const std::vector<torch::Tensor>& params) {
    std::vector<torch::Tensor> grads;
    for (const auto& p : params)
      if (p.grad().defined()) grads.push_back(p.grad());
    found_inf_.zero_();
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, scale_.reciprocal());
    const bool finite = found_inf_.item<float>() == 0.0f;  // a sync, as GradScaler's
    if (finite) opt.step();
    at::_amp_update_scale_(scale_, growth_, found_inf_, 2.0, 0.5, 2000);
    if (!finite) ++skipped_;
    return finite;
  }
  double current() const { return scale_.item<double>(); }
  int64_t skipped() const { return skipped_; }
  // The scale and its growth counter (a checkpoint keeps them).
  NamedTensors state() const { return {{"amp.scale", scale_}, {"amp.growth", growth_}}; }

 private:
  torch::Tensor scale_, growth_, found_inf_;
  int64_t skipped_ = 0;
};

// ---- train_run's steps ------------------------------------------------------------------------

// Where and how the run computes.
struct Compute {
  torch::Device device{torch::kCPU};
  int index = -1;  // the CUDA device's index, -1 on CPU
  std::optional<c10::ScalarType> autocast;
  int threads = 1;
  std::string threads_choice;  // how the threads were chosen, for the record
  bool cuda() const { return device.is_cuda(); }
};

// The device, the precision, determinism, threads and seeds.
Compute set_up_compute(const TrainConfig& cfg) {
  Compute c;
  const DeviceSpec spec = parse_device(cfg.device);
  if (cfg.deterministic) {
    // cuBLAS is deterministic only with a fixed workspace; read when its handle is created.
    ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
  }
  if (spec.cuda) {
    if (!torch::cuda::is_available())
      throw Error(fmt::format("device '{}': {}", cfg.device,
                              cuda_built() ? libtorch_summary() + " (check nvidia-smi and "
                                                                  "CUDA_VISIBLE_DEVICES)"
                                           : libtorch_summary() +
                                                 "; build pepr against a CUDA LibTorch "
                                                 "(README: GPU and other LibTorch builds)"));
    const auto count = static_cast<int>(torch::cuda::device_count());
    if (spec.index >= count)
      throw Error(fmt::format("device '{}': only {} GPU{} visible (cuda:0{})", cfg.device, count,
                              count == 1 ? " is" : "s are",
                              count > 1 ? fmt::format("..cuda:{}", count - 1) : ""));
    c.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(std::max(spec.index, 0)));
    c.index = c.device.index();
  }
  if (cfg.precision == run::Precision::bf16) c.autocast = c10::ScalarType::BFloat16;
  if (cfg.precision == run::Precision::fp16) {
    if (!c.cuda()) throw Error("precision fp16 needs a CUDA device (on CPU, use bf16)");
    c.autocast = c10::ScalarType::Half;
  }
  models::settle_cpu_backend();  // oneDNN off where it would compute wrong convolutions
  at::globalContext().setDeterministicAlgorithms(cfg.deterministic, /*warn_only=*/false);
  at::globalContext().setDeterministicCuDNN(cfg.deterministic);
  // cuDNN picks the fastest kernels for each shape on first use (inputs have fixed shapes here).
  at::globalContext().setBenchmarkCuDNN(c.cuda() && !cfg.deterministic);
  if (cfg.threads > 0) {
    c.threads = cfg.threads;
    c.threads_choice = "asked";
  } else {
    // Not more threads than free CPUs: oversubscribed, LibTorch's OpenMP workers spin waiting
    // for each other, which costs time and CPU energy (issue 31: 6-10 s instead of 0.4 s).
    const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const auto busy = meter::busy_cores_at_start(0.2);
    c.threads = meter::threads_for_free_cpus(cpus, busy.value_or(0));
    c.threads_choice =
        busy ? fmt::format("{} of {} CPUs: other processes kept {:.1f} busy before the run",
                           c.threads, cpus, *busy)
             : fmt::format("{} of {} CPUs (the machine's load is unreadable)", c.threads, cpus);
  }
  torch::set_num_threads(c.threads);
  torch::manual_seed(cfg.seed);
  if (c.cuda()) torch::cuda::manual_seed_all(cfg.seed);
  return c;
}

// The dataset, the training subset and the preprocessing.
struct RunData {
  data::Dataset ds;
  data::ImageSet train;  // the whole training split, or its stratified fraction
  data::Preprocess pre;
  int64_t height = 0, width = 0;
};

RunData load_run_data(const TrainConfig& cfg) {
  RunData d;
  data::LoadOptions load_opts;
  load_opts.num_classes = cfg.num_classes;
  // An image folder is resized as it is read, so that its images may differ in size.
  load_opts.size = cfg.image_size.is_auto() ? 0 : cfg.image_size.px;
  d.ds = data::load_dataset(cfg.data, load_opts);
  if (d.ds.multi_label)
    throw Error(
        fmt::format("{}: multi-label datasets are not supported by pepr train yet", d.ds.source));
  d.train = d.ds.train;
  if (cfg.train_fraction < 1.0)
    d.train =
        data::subset(d.ds.train, data::stratified_subset(d.ds.train, cfg.train_fraction, cfg.seed));
  if (d.train.n == 0) throw Error(fmt::format("{}: the training split is empty", d.ds.source));
  // auto is resolved once the model is built (resolve_run_image_size); until then, as stored.
  d.pre.out_h = d.pre.out_w = cfg.image_size.is_auto() ? 0 : cfg.image_size.px;
  d.pre.in_chans = cfg.in_chans;
  d.pre.normalize = cfg.imagenet_norm;
  d.height = d.pre.height(d.train);
  d.width = d.pre.width(d.train);
  return d;
}

// Pretrained weights, when asked: the file given, else the model's default timm weights (from
// the cache, else from the hub, verified). Returns the record's "weights" and the file.
std::pair<json, std::string> load_weights(const TrainConfig& cfg, Network& net) {
  std::string path = cfg.weights;
  if (!cfg.pretrained && cfg.weights.empty()) return {nullptr, path};
  if (!net.native())
    throw Error(
        fmt::format("{}: a TorchScript model carries its own weights; drop --pretrained "
                    "and --weights",
                    cfg.model));
  if (path.empty()) {
    auto cached = weights::cached_weights(cfg.model);
    path = cached ? *cached : weights::pull_weights(cfg.model).path;
  }
  models::PretrainedLoad load = models::load_pretrained(*net.native_model(), path);
  return {json{{"file", path},
               {"tensors_loaded", load.loaded},
               {"classifier_reinitialised", load.head_skipped},
               {"stem_rgb_summed", load.stem_adapted}},
          path};
}

// The model, its weights, on its device: the record's "weights" and the weights file.
// --image-size against the model's rule, before anything is trained: auto becomes the data's
// size or the smallest (fixed) size the model accepts; a size the model cannot run at is an error
// that names the fix.
void resolve_run_image_size(const TrainConfig& cfg, RunData& d, const Network& net) {
  const int64_t stored_h = d.train.h, stored_w = d.train.w;
  const run::ResolvedImageSize r =
      run::resolve_image_size(cfg.image_size, stored_h, stored_w, net.input_size_rule(), cfg.model);
  // (0, as stored: the problem names the data's size itself.)
  if (!r.ok())
    throw Error(cfg.image_size.px > 0
                    ? fmt::format("{} (the data is {}x{})", r.problem, stored_h, stored_w)
                    : r.problem);
  if (cfg.image_size.is_auto() && r.resize) d.pre.out_h = d.pre.out_w = r.size;
  d.height = d.pre.height(d.train);
  d.width = d.pre.width(d.train);
}

std::pair<json, std::string> build_network(const TrainConfig& cfg, const RunData& d,
                                           const Compute& c, Network& net, bool& channels_last) {
  auto weights = load_weights(cfg, net);
  // auto: on CPU from 64 px (measured: slower at 28 px); on CUDA with bf16/fp16, where cuDNN's
  // tensor-core kernels want NHWC.
  channels_last = cfg.memory_format == run::MemoryFormat::channels_last ||
                  (cfg.memory_format == run::MemoryFormat::automatic && net.native() &&
                   (c.cuda() ? c.autocast.has_value() : d.height >= 64));
  net.to(c.device);
  if (channels_last) net.channels_last();
  return weights;
}

// LibTorch's CPU convolution backend: oneDNN's version, whether it was used and why not.
json onednn_json(const models::CpuBackend& b) {
  return {{"version", b.facts.version.empty() ? json(nullptr) : json(b.facts.version)},
          {"used", b.verdict.use},
          {"reason", b.verdict.reason.empty() ? json(nullptr) : json(b.verdict.reason)}};
}

// OpenMP's wait policy in this process: as set in the environment (by the user, or by pepr train
// on a loaded machine: PEPR_OMP_WAIT_REASON), else libgomp's default.
json omp_wait_policy_json() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* reason = std::getenv("PEPR_OMP_WAIT_REASON");
  if (!policy) return {{"policy", nullptr}, {"choice", "libgomp's default (spin, then sleep)"}};
  return {{"policy", policy},
          {"choice", reason && *reason ? std::string(reason) : "OMP_WAIT_POLICY set by the user"}};
}

// The record before the first epoch: configuration, model, data and environment.
run::RunRecord initial_record(const TrainConfig& cfg, const Compute& c, const RunData& d,
                              Network& net, const std::pair<json, std::string>& weights,
                              bool channels_last) {
  const std::string& weights_path = weights.second;
  run::RunRecord rec;
  rec.run_id = cfg.run_id.empty() ? run::Field<std::string>(nullptr) : cfg.run_id;
  rec.status = run::RunStatus::running;
  rec.error = nullptr;
  rec.stop_reason = nullptr;
  // As asked, then as resolved: the data's name and file, the weights loaded, the device,
  // threads and image size in use, and what only the trainer knows.
  run::ConfigRecord& rc = rec.config.emplace(run::ConfigRecord::asked(cfg));
  if (cfg.dataset.empty()) rc.dataset = d.ds.name;
  rc.data_file = d.ds.source;
  rc.pretrained = cfg.pretrained || !weights_path.empty();
  rc.weights = weights_path.empty() ? run::Field<std::string>(nullptr) : weights_path;
  rc.device = c.device.str();
  rc.threads = c.threads;
  rc.image_size = d.height;
  rc.deterministic = cfg.deterministic;
  rc.cudnn_benchmark = c.cuda() && !cfg.deterministic;
  rc.in_chans = cfg.in_chans;
  rc.imagenet_norm = cfg.imagenet_norm;
  rc.memory_format = channels_last ? "channels_last" : "contiguous";
  run::ModelRecord& m = rec.model.emplace();
  m.name = cfg.model;
  m.params = net.params();
  m.native = net.native();
  if (const auto* z = zoo::find_model(cfg.model)) {
    // The paper's classification, so that collected results read like its all_results.csv.
    m.type = std::string(z->type);
    m.efficient = z->efficient;
  }
  if (net.native()) {
    // Parameters with timm's 1000-class head, as the paper counts them.
    models::ModelOptions mo;
    mo.in_chans = 3;
    m.params_1000 = models::count_parameters(*models::create_model(cfg.model, mo));
  }
  rec.weights = weights.first;
  run::DataRecord& data = rec.data.emplace();
  data.train_samples = d.train.n;
  data.val_samples = d.ds.val.n;
  data.test_samples = d.ds.test.n;
  data.num_classes = d.ds.num_classes;
  data.image_height = d.height;
  data.image_width = d.width;
  if (!d.ds.multi_label && d.ds.test.n > 0) {
    const auto counts = data::class_counts(d.ds.test, d.ds.num_classes);
    data.chance_accuracy = static_cast<double>(*std::max_element(counts.begin(), counts.end())) /
                           static_cast<double>(d.ds.test.n);
  }
  if (const data::FolderSplit& fs = d.ds.split_made; fs.made)
    data.split = json{{"made_by", "pepr"},
                      {"splits", fs.splits},
                      {"from_images", fs.from},
                      {"stratified", true},
                      {"seed", fs.seed},
                      {"val_fraction", fs.val_fraction},
                      {"test_fraction", fs.test_fraction}};
  else
    data.split = nullptr;
  json env = {{"pepr_version", kVersion},
              {"cpu", meter::cpu_model_name()},
              {"gpu", nullptr},
              {"libtorch", libtorch_version()},
              {"cuda", cuda_available()},
              {"cuda_runtime", nullptr},
              {"cudnn", nullptr},
              {"device", c.device.str()},
              {"threads", c.threads},
              {"threads_choice", c.threads_choice},
              {"omp_wait_policy", omp_wait_policy_json()},
              {"hostname", run::host_name()},
              {"blas", run::loaded_blas()},
              {"onednn", onednn_json(models::settle_cpu_backend())}};
  if (c.cuda()) {
    if (auto ci = compat::cuda_info(c.index)) {
      env["gpu"] = ci->device_name;
      env["gpu_memory_gb"] = ci->total_memory_gb;
      env["gpu_capability"] = fmt::format("{}.{}", ci->capability_major, ci->capability_minor);
      env["cuda_runtime"] = ci->runtime.empty() ? json(nullptr) : json(ci->runtime);
      env["cudnn"] = ci->cudnn.empty() ? json(nullptr) : json(ci->cudnn);
    }
  }
  rec.environment = std::move(env);
  rec.epochs.emplace();
  return rec;
}

// The three splits on the device, or none (batches from the host prefetcher).
struct DeviceSplits {
  std::unique_ptr<DeviceImages> train, val, test;
};

// Where the data lives: on the device when asked, or on CUDA when the uint8 splits fit in the
// stated share of free GPU memory; else batches from the host prefetcher. Says why in `rec`.
DeviceSplits place_data(const TrainConfig& cfg, const Compute& c, const RunData& d,
                        run::RunRecord& rec) {
  const int64_t data_bytes = DeviceImages::bytes_needed(d.train) +
                             DeviceImages::bytes_needed(d.ds.val) +
                             DeviceImages::bytes_needed(d.ds.test);
  bool on_device = cfg.data_placement == run::DataPlacement::device;
  std::string reason = on_device ? "asked (data placement device)" : "";
  if (cfg.data_placement == run::DataPlacement::automatic) {
    if (c.cuda()) {
      const auto mem = compat::cuda_memory_info(c.index);
      const double limit = mem ? cfg.device_data_share * static_cast<double>(mem->first) : 0.0;
      on_device = mem && static_cast<double>(data_bytes) <= limit;
      reason =
          mem ? fmt::format("{:.3g} GB of uint8 images {} {:.0f} % of the GPU's {:.3g} GB free",
                            static_cast<double>(data_bytes) / 1e9, on_device ? "within" : "over",
                            100 * cfg.device_data_share, static_cast<double>(mem->first) / 1e9)
              : "free GPU memory unknown";
    } else {
      reason = "CPU training: batches prepared by a prefetch thread";
    }
  } else if (cfg.data_placement == run::DataPlacement::host) {
    reason = "asked (data placement host)";
  }
  DeviceSplits s;
  if (on_device) {
    s.train = std::make_unique<DeviceImages>(d.train, d.pre, c.device);
    s.val = std::make_unique<DeviceImages>(d.ds.val, d.pre, c.device);
    s.test = std::make_unique<DeviceImages>(d.ds.test, d.pre, c.device);
  }
  rec.data->placement = on_device ? "device" : "host";
  rec.data->placement_reason = reason;
  return s;
}

// Everything an epoch works with.
struct Trainer {
  const TrainConfig& cfg;
  const Compute& c;
  const RunData& d;
  Network& net;
  torch::optim::Optimizer& opt;
  std::optional<LossScaler>& scaler;
  SplitFeed& feed;
  const ProgressFn& progress;
  const std::atomic<bool>* interrupt;
  Clock::time_point t_start;
  std::vector<torch::Tensor> params;
};

// What one pass over the training split gave.
struct EpochTrained {
  double loss_sum = 0, correct = 0, seen = 0;
  double train_s = 0;
  sweep::Epoch1Timing timing;  // epoch 1 only: the step times
  bool interrupted = false;
};

// One pass over the (shuffled) training split.
EpochTrained train_epoch(Trainer& t, int epoch) {
  const TrainConfig& cfg = t.cfg;
  const auto device = t.c.device;
  const int64_t num_classes = t.d.ds.num_classes;
  // On a GPU the host does not wait for each step: loss and accuracy are summed on the device
  // and read once per epoch. On CPU there is nothing to overlap, and a diverging loss is caught at
  // its step.
  const bool sync_each_step = !t.c.cuda();
  EpochTrained r;
  t.net.train(true);
  std::vector<int64_t> order(static_cast<std::size_t>(t.d.train.n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(cfg.seed * 1000003ULL + static_cast<uint64_t>(epoch));
  std::shuffle(order.begin(), order.end(), rng);
  if (t.c.cuda()) {
    torch::cuda::synchronize(t.c.index);
    compat::reset_cuda_memory_peaks(t.c.index);
  }
  const auto t_epoch = Clock::now();
  // On a GPU, epoch 1's step times come from events on the GPU's clock (the host's are enqueue
  // times); the host's stay where the GPU gives none.
  std::optional<compat::CudaStepTimer> gpu_steps;
  if (epoch == 1 && t.c.cuda()) gpu_steps.emplace(t.c.index);
  t.feed.start_epoch(order);
  // Epoch 1's step times: its first step and a partial last batch carry one-off costs (kernel
  // selection, allocator growth); the others give the steady rate the budget prediction
  // extrapolates (sweep::epoch1_steady_fraction).
  double last_step_end = 0;
  torch::Tensor loss_acc =
      torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  torch::Tensor correct_acc =
      torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  int64_t step = 0;
  const int64_t steps = t.feed.steps();
  torch::Tensor x, y;
  int64_t bsize = 0;
  while (t.feed.next(x, y, bsize)) {
    torch::Tensor logits, loss;
    {
      AutocastScope amp(device, t.c.autocast);
      logits = t.net.forward(x);
      if (logits.dim() != 2 || logits.size(1) != num_classes)
        throw Error(fmt::format(
            "{} outputs {} values per image but {} has {} classes{}", cfg.model,
            logits.dim() == 2 ? logits.size(1) : -1, t.d.ds.source, num_classes,
            t.net.native() ? "" : ": export it with --num-classes " + std::to_string(num_classes)));
      loss = torch::nn::functional::cross_entropy(logits, y);
    }
    t.opt.zero_grad();
    if (t.scaler) {
      t.scaler->scale(loss).backward();
      t.scaler->step(t.opt, t.params);
    } else {
      loss.backward();
      t.opt.step();
    }
    auto batch_loss = loss.detach().to(torch::kFloat64) * static_cast<double>(bsize);
    auto batch_correct = logits.detach().argmax(1).eq(y).sum();
    if (sync_each_step) {
      const double l = loss.item<double>();
      if (!std::isfinite(l))
        throw TrainingFailure(
            fmt::format("loss is {} at epoch {} step {}: training diverged "
                        "(try a lower learning rate)",
                        l, epoch, step + 1));
    }
    loss_acc.add_(batch_loss);
    correct_acc.add_(batch_correct);
    r.seen += static_cast<double>(bsize);
    ++step;
    if (epoch == 1) {
      const double now = seconds_since(t_epoch);
      r.timing.step_s.push_back(now - last_step_end);
      r.timing.step_images.push_back(bsize);
      last_step_end = now;
      if (gpu_steps) gpu_steps->mark();
    }
    if (t.progress)
      t.progress({.kind = Progress::Kind::Step,
                  .epoch = epoch,
                  .epochs = cfg.epochs,
                  .step = step,
                  .steps = steps,
                  .images_per_s = r.seen / std::max(1e-9, seconds_since(t_epoch)),
                  .elapsed_s = seconds_since(t.t_start)});
    if (t.interrupt && t.interrupt->load()) break;
  }
  if (t.c.cuda()) torch::cuda::synchronize(t.c.index);
  if (gpu_steps) {
    auto device_s = gpu_steps->intervals_s();
    if (device_s.size() == r.timing.step_s.size()) r.timing.step_s = std::move(device_s);
  }
  r.loss_sum = loss_acc.item<double>();
  r.correct = static_cast<double>(correct_acc.item<int64_t>());
  if (!std::isfinite(r.loss_sum) && !t.scaler)
    throw TrainingFailure(
        fmt::format("loss became {} during epoch {}: training diverged (try a lower learning rate)",
                    r.loss_sum, epoch));
  r.interrupted = t.interrupt && t.interrupt->load();
  r.train_s = seconds_since(t_epoch);
  return r;
}

// An epoch's line of the record: training, validation and test metrics, time, energy, memory.
// The bounds of an interval's energy and CO2eq (meter/uncertainty.hpp), into an epoch or totals.
template <typename Section>
void set_energy_bounds(Section& s, const meter::IntervalRecord& iv) {
  s.energy_kwh_lo = iv.energy_kwh_lo;
  s.energy_kwh_hi = iv.energy_kwh_hi;
  s.co2_g_lo = iv.co2_g_lo;
  s.co2_g_hi = iv.co2_g_hi;
  s.energy_error_systematic = iv.energy_error.systematic;
  s.energy_error_per_run = iv.energy_error.per_run;
}

run::EpochRecord epoch_record(int epoch, const EpochTrained& tr, const EvalResult& val,
                              const EvalResult& test, const meter::IntervalRecord& iv,
                              double data_wait_s) {
  run::EpochRecord e;
  e.epoch = epoch;
  e.train_loss = tr.loss_sum / tr.seen;
  e.train_acc = tr.correct / tr.seen;
  e.val_loss = nullable(val.metrics.loss);
  e.val_acc = nullable(val.metrics.accuracy);
  e.val_balanced_acc = nullable(val.metrics.balanced_accuracy);
  e.val_auc = nullable(val.metrics.auc);
  e.test_loss = nullable(test.metrics.loss);
  e.test_acc = nullable(test.metrics.accuracy);
  e.test_balanced_acc = nullable(test.metrics.balanced_accuracy);
  e.test_auc = nullable(test.metrics.auc);
  e.time_s = iv.wall_s;
  e.train_time_s = tr.train_s;
  e.train_images_per_s = tr.seen / std::max(1e-9, tr.train_s);
  e.data_wait_s = data_wait_s;
  e.cpu_time_s = iv.cpu_s;
  e.energy_kwh = iv.energy_kwh;
  e.energy_raw_kwh = iv.energy_raw_j / 3.6e6;
  e.co2_g = iv.co2_g;
  set_energy_bounds(e, iv);
  e.mem_peak_gb = iv.mem_peak_gb;
  e.gpu_mem_peak_gb = iv.gpu_mem_peak_gb;
  e.gpu_mem_reserved_peak_gb = nullptr;
  e.gpu_mem_allocated_peak_gb = nullptr;
  return e;
}

// Why the run stops after this epoch (budgets, PePR patience, a probe's epoch count), or "".
std::string stop_reason(const TrainConfig& cfg, int epoch,
                        const sweep::BudgetPrediction& prediction,
                        const std::vector<double>& test_acc,
                        const std::vector<double>& cum_energy) {
  if (epoch >= cfg.epochs) return "";
  std::string reason = sweep::budget_stop_reason(prediction, cfg.max_energy_wh.value_or(-1),
                                                 cfg.max_time_s.value_or(-1));
  if (reason.empty() &&
      sweep::should_stop_pepr(test_acc, cum_energy, prediction.energy_kwh, cfg.pepr_patience))
    reason = fmt::format("pepr-patience: PePR fell for {} epochs", cfg.pepr_patience);
  if (reason.empty() && cfg.stop_after_epochs > 0 && epoch >= cfg.stop_after_epochs)
    reason = fmt::format("stop-after-epochs {}", cfg.stop_after_epochs);
  return reason;
}

// The record's totals, the meter's account and the prediction's error.
void finish_record(run::RunRecord& rec, run::RunStatus status, const meter::IntervalRecord& total,
                   const meter::Tracker& tracker, const Compute& c, const RunData& d,
                   const sweep::BudgetPrediction& prediction, double wall_s,
                   double gpu_reserved_peak, double gpu_allocated_peak) {
  rec.status = status;
  double time_s = 0, mem_peak = 0;
  for (const auto& e : rec.epoch_list()) {
    time_s += e.time_s.value_or(0);
    mem_peak = std::max(mem_peak, e.mem_peak_gb.value_or(0));
  }
  auto gpu_peak = [&](double v) {
    return c.cuda() && v > 0 ? run::Field<double>(v) : run::Field<double>(nullptr);
  };
  run::TotalsRecord& t = rec.totals.emplace();
  t.time_s = wall_s;
  t.epochs_time_s = time_s;
  t.energy_kwh = total.energy_kwh;
  t.energy_raw_kwh = total.energy_raw_j / 3.6e6;
  t.co2_g = total.co2_g;
  set_energy_bounds(t, total);
  t.mem_peak_gb = std::max(mem_peak, total.mem_peak_gb);
  t.gpu_mem_peak_gb = nullptr;
  t.gpu_mem_reserved_peak_gb = gpu_peak(gpu_reserved_peak);
  t.gpu_mem_allocated_peak_gb = gpu_peak(gpu_allocated_peak);
  t.train_samples = d.train.n;
  t.epochs_done = static_cast<std::int64_t>(rec.epoch_list().size());
  rec.meter = tracker.to_json();
  if (rec.budget && status == run::RunStatus::completed) {
    rec.budget->energy_error = sweep::relative_error(prediction.energy_kwh, total.energy_kwh);
    rec.budget->time_error = sweep::relative_error(prediction.time_s, time_s);
  }
}

// What makes two runs the same run for a checkpoint: every option that changes what is trained,
// with the image size and classes as resolved (not the device, threads, stopping rules or paths).
json run_identity(const TrainConfig& cfg, const run::RunRecord& rec) {
  json id = run::to_json(cfg);
  for (const char* k : {"dataset", "eval_batch_size", "device", "deterministic", "data_placement",
                        "device_data_share", "threads", "memory_format", "no_memory_check",
                        "max_memory_gb", "run_id", "max_energy_wh", "max_time_s", "pepr_patience",
                        "stop_after_epochs", "save_checkpoint", "resume_from", "image_size"})
    id.erase(k);
  id["image_size"] = rec.config->image_size.value_or(0);
  id["num_classes"] = rec.data->num_classes.value_or(0);
  return id;
}

// The tensors a checkpoint keeps: the model's, and an fp16 run's loss scale.
NamedTensors checkpoint_tensors(Network& net, const std::optional<LossScaler>& scaler) {
  NamedTensors t = net.named_state();
  if (scaler)
    for (auto& s : scaler->state()) t.push_back(std::move(s));
  return t;
}

// What a run continued from a checkpoint carries over: its epochs, budget and totals so far.
struct Continued {
  int epochs = 0;  // done before: training goes on at epochs + 1
  double energy_kwh = 0, energy_raw_kwh = 0, co2_g = 0, time_s = 0, mem_peak_gb = 0;
  // The bounds of energy_kwh and co2_g and their relative parts (a checkpoint of a version
  // without them: the figures themselves, no error).
  double energy_kwh_lo = 0, energy_kwh_hi = 0, co2_g_lo = 0, co2_g_hi = 0;
  meter::RelativeError energy_error;

  // Adds the earlier process's figures to this process's: the whole run's.
  void add_to(meter::IntervalRecord& total) const {
    const double now_kwh = total.energy_kwh, all_kwh = now_kwh + energy_kwh;
    if (all_kwh > 0) {
      auto mix = [&](double a, double b) { return (a * now_kwh + b * energy_kwh) / all_kwh; };
      total.energy_error = {mix(total.energy_error.systematic, energy_error.systematic),
                            mix(total.energy_error.per_run, energy_error.per_run)};
    }
    total.energy_kwh += energy_kwh;
    total.energy_raw_j += energy_raw_kwh * 3.6e6;
    total.co2_g += co2_g;
    total.energy_kwh_lo += energy_kwh_lo;
    total.energy_kwh_hi += energy_kwh_hi;
    total.co2_g_lo += co2_g_lo;
    total.co2_g_hi += co2_g_hi;
    total.mem_peak_gb = std::max(total.mem_peak_gb, mem_peak_gb);
  }
};

Continued resume_run(const TrainConfig& cfg, Network& net, torch::optim::Optimizer& opt,
                     const std::optional<LossScaler>& scaler, run::RunRecord& rec) {
  const json meta = load_checkpoint(cfg.resume_from, checkpoint_tensors(net, scaler), opt);
  const auto diff =
      identity_differences(meta.value("identity", json::object()), run_identity(cfg, rec));
  if (!diff.empty())
    throw Error(
        fmt::format("{}: a checkpoint of another run ({}); continue it with its own "
                    "options, or start afresh without --resume-from",
                    cfg.resume_from, fmt::join(diff, "; ")));
  Continued c;
  try {
    const json& e = meta.at("epochs");
    for (const auto& ej : e) rec.epochs->push_back(run::section_from_json<run::EpochRecord>(ej));
    c.epochs = static_cast<int>(rec.epochs->size());
    if (meta.contains("budget") && meta["budget"].is_object())
      rec.budget = run::section_from_json<run::BudgetRecord>(meta["budget"]);
    const json& t = meta.at("totals");
    c.energy_kwh = t.at("energy_kwh").get<double>();
    c.energy_raw_kwh = t.at("energy_raw_kwh").get<double>();
    c.co2_g = t.at("co2_g").get<double>();
    c.time_s = t.at("time_s").get<double>();
    c.mem_peak_gb = t.at("mem_peak_gb").get<double>();
    c.energy_kwh_lo = t.value("energy_kwh_lo", c.energy_kwh);
    c.energy_kwh_hi = t.value("energy_kwh_hi", c.energy_kwh);
    c.co2_g_lo = t.value("co2_g_lo", c.co2_g);
    c.co2_g_hi = t.value("co2_g_hi", c.co2_g);
    c.energy_error = {t.value("energy_error_systematic", 0.0),
                      t.value("energy_error_per_run", 0.0)};
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: a damaged checkpoint ({})", cfg.resume_from, e.what()));
  }
  if (c.epochs < 1 || c.epochs >= cfg.epochs)
    throw Error(fmt::format("{}: holds {} of the run's {} epochs: nothing to continue",
                            cfg.resume_from, c.epochs, cfg.epochs));
  run::ResumedRecord& r = rec.resumed.emplace();
  r.checkpoint = cfg.resume_from;
  r.epochs = c.epochs;
  r.energy_kwh = c.energy_kwh;
  r.co2_g = c.co2_g;
  r.time_s = c.time_s;
  return c;
}

// Saves what --resume-from needs when the run stops before its last epoch, unless the disk
// would be left with less than 1 GiB; says which in the record.
void keep_checkpoint(const TrainConfig& cfg, Network& net, const torch::optim::Optimizer& opt,
                     const std::optional<LossScaler>& scaler, run::RunRecord& rec,
                     const meter::IntervalRecord& total, double wall_s, const Continued& before) {
  const NamedTensors tensors = checkpoint_tensors(net, scaler);
  // Adam keeps two moments per parameter: about three times the model.
  const std::int64_t bytes = 3 * tensor_bytes(tensors);
  run::CheckpointRecord& ck = rec.checkpoint.emplace();
  ck.path = cfg.save_checkpoint;
  ck.epochs = static_cast<std::int64_t>(rec.epoch_list().size());
  ck.bytes = bytes;
  ck.saved = false;
  ck.reason = nullptr;
  const std::filesystem::path path(cfg.save_checkpoint);
  std::error_code ec;
  const auto space = std::filesystem::space(
      path.has_parent_path() ? path.parent_path() : std::filesystem::path("."), ec);
  constexpr std::int64_t kKeepFree = std::int64_t{1} << 30;
  if (!ec && static_cast<std::int64_t>(space.available) < bytes + kKeepFree) {
    ck.reason =
        fmt::format("not saved: about {:.3g} GB needed, {:.3g} GB free (1 GB is kept free)",
                    static_cast<double>(bytes) / 1e9, static_cast<double>(space.available) / 1e9);
    return;
  }
  json epochs = json::array();
  for (const auto& e : rec.epoch_list()) epochs.push_back(run::section_to_json(e));
  meter::IntervalRecord whole = total;  // the relative errors of the whole run so far
  before.add_to(whole);
  double mem_peak = before.mem_peak_gb;
  for (const auto& e : rec.epoch_list()) mem_peak = std::max(mem_peak, e.mem_peak_gb.value_or(0));
  json meta = {{"identity", run_identity(cfg, rec)},
               {"epochs", std::move(epochs)},
               {"budget", rec.budget ? run::section_to_json(*rec.budget) : json(nullptr)},
               {"totals",
                {{"energy_kwh", before.energy_kwh + total.energy_kwh},
                 {"energy_raw_kwh", before.energy_raw_kwh + total.energy_raw_j / 3.6e6},
                 {"co2_g", before.co2_g + total.co2_g},
                 {"energy_kwh_lo", before.energy_kwh_lo + total.energy_kwh_lo},
                 {"energy_kwh_hi", before.energy_kwh_hi + total.energy_kwh_hi},
                 {"co2_g_lo", before.co2_g_lo + total.co2_g_lo},
                 {"co2_g_hi", before.co2_g_hi + total.co2_g_hi},
                 {"energy_error_systematic", whole.energy_error.systematic},
                 {"energy_error_per_run", whole.energy_error.per_run},
                 {"time_s", before.time_s + wall_s},
                 {"mem_peak_gb", std::max(mem_peak, total.mem_peak_gb)}}}};
  try {
    save_checkpoint(path, tensors, opt, meta);
    ck.saved = true;
  } catch (const Error& e) {
    ck.reason = fmt::format("not saved: {}", e.what());
  }
}

// On the CPU, before training: the memory a training step and an evaluation pass take, measured
// (train/memory_probe.hpp). A run that cannot fit is refused before it starts (pepr::Error with
// the batch size that fits); evaluation's batch is lowered to what fits. The plan goes into the
// record's environment.memory_check. Returns the evaluation batch size to use.
int fit_to_memory(const TrainConfig& cfg, const Compute& c, const RunData& d, Network& net,
                  bool channels_last, run::RunRecord& rec) {
  if (c.cuda() || cfg.no_memory_check) return cfg.eval_batch_size;
  auto available = meter::available_memory_bytes();
  if (cfg.max_memory_gb) available = std::min(available.value_or(1e300), *cfg.max_memory_gb * 1e9);
  if (!available) return cfg.eval_batch_size;
  ProbeModel pm;
  pm.forward = [&](const torch::Tensor& x) {
    AutocastScope amp(c.device, c.autocast);
    return net.forward(x);
  };
  pm.set_training = [&](bool on) { net.train(on); };
  pm.parameters = net.parameters();
  pm.buffers = net.buffers();
  pm.input_shape = {cfg.in_chans, static_cast<long>(d.height), static_cast<long>(d.width)};
  pm.num_classes = d.ds.num_classes;
  pm.channels_last = channels_last;
  // The optimiser's state in parameter-sized tensors: Adam's two moments, SGD's momentum.
  const double state = cfg.optimizer == run::Optimizer::adam ? 2 : (cfg.momentum > 0 ? 1 : 0);
  const auto probe = probe_memory(pm, state);
  if (!probe) return cfg.eval_batch_size;
  // The smallest size the model accepts, where it is below the run's (the fix when not even one
  // image fits).
  const run::InputSizeRule rule = net.input_size_rule();
  std::optional<int> smaller_size;
  if (!rule.fixed && rule.min < d.height) smaller_size = static_cast<int>(rule.min);
  // A batch larger than its split is never formed.
  const int64_t eval_n = std::max<int64_t>({1, d.ds.val.n, d.ds.test.n});
  const auto plan = meter::plan_memory(
      *probe, static_cast<int>(std::min<int64_t>(cfg.batch_size, std::max<int64_t>(1, d.train.n))),
      static_cast<int>(std::min<int64_t>(cfg.eval_batch_size, eval_n)), *available,
      fmt::format("{} at {} px", cfg.model, d.height), smaller_size);
  (*rec.environment)["memory_check"] = meter::memory_check_json(plan, *probe);
  if (cfg.max_memory_gb) (*rec.environment)["memory_check"]["limit_gb"] = *cfg.max_memory_gb;
  if (!plan.eval_note.empty()) (*rec.environment)["memory_check"]["note"] = plan.eval_note;
  if (!plan.train_fits) throw Error(plan.refusal);
  return plan.eval_batch;
}

}  // namespace

run::RunRecord train_run(const TrainConfig& cfg, const ProgressFn& progress,
                         const std::atomic<bool>* interrupt) {
  cfg.validate();
  const Compute c = set_up_compute(cfg);
  RunData d = load_run_data(cfg);
  const int64_t num_classes = d.ds.num_classes;
  Network net(cfg, num_classes, cfg.in_chans);
  resolve_run_image_size(cfg, d, net);
  bool channels_last = false;
  const auto weights = build_network(cfg, d, c, net, channels_last);
  auto [opt, kernels] = make_optimizer(cfg, net.parameters());
  run::RunRecord rec = initial_record(cfg, c, d, net, weights, channels_last);
  (*rec.environment)["optimizer_kernels"] = kernels_name(kernels);
  const int eval_batch_size = fit_to_memory(cfg, c, d, net, channels_last, rec);
  const DeviceSplits on_device = place_data(cfg, c, d, rec);
  SplitFeed feed(d.train, d.pre, cfg.batch_size, c.device, on_device.train.get(), channels_last);
  std::optional<LossScaler> scaler;
  if (cfg.precision == run::Precision::fp16) scaler.emplace(c.device);
  const Continued before =
      cfg.resume_from.empty() ? Continued{} : resume_run(cfg, net, *opt, scaler, rec);

  meter::TrackerOptions meter_opts = cfg.meter;
  if (c.cuda()) meter_opts.cuda_device = c.index;
  meter::Tracker tracker(meter_opts);
  tracker.start();
  (*rec.environment)["meter_methods"] = {{"energy", tracker.energy_method()}};
  Trainer t{
      cfg, c, d, net, *opt, scaler, feed, progress, interrupt, Clock::now(), net.parameters()};
  if (progress)
    progress({.kind = Progress::Kind::Start,
              .epochs = cfg.epochs,
              .steps = feed.steps(),
              .record = &rec});

  std::vector<double> test_acc_hist, cum_energy;
  double energy_sum = 0;
  double gpu_reserved_peak = 0, gpu_allocated_peak = 0;
  sweep::BudgetPrediction prediction;
  // A continued run: its epochs so far count for PePR patience and its budget stands.
  for (const auto& e : rec.epoch_list()) {
    energy_sum += e.energy_kwh.value_or(0);
    test_acc_hist.push_back(e.test_acc.value_or(0));
    cum_energy.push_back(energy_sum);
  }
  if (rec.budget) {
    prediction.energy_kwh = rec.budget->predicted_energy_kwh.value_or(0);
    prediction.time_s = rec.budget->predicted_time_s.value_or(0);
  }
  run::RunStatus status = run::RunStatus::completed;
  try {
    for (int epoch = before.epochs + 1; epoch <= cfg.epochs; ++epoch) {
      EpochTrained tr = train_epoch(t, epoch);
      if (tr.interrupted) {
        status = run::RunStatus::interrupted;
        break;
      }
      // Memory the training steps freed goes back to the system before evaluation: glibc keeps
      // freed heap chunks resident, and evaluation's larger batches would come on top of them
      // (swinv2_base_window8_256 at 256 px: killed at 23 GB where the memory check, which
      // measures after a trim, planned 15).
      if (!c.cuda()) release_free_memory();
      const auto t_eval = Clock::now();
      auto val = evaluate(net, d.ds.val, d.pre, num_classes, eval_batch_size, c.device,
                          channels_last, on_device.val.get(), c.autocast);
      const double val_s = seconds_since(t_eval);
      auto test = evaluate(net, d.ds.test, d.pre, num_classes, eval_batch_size, c.device,
                           channels_last, on_device.test.get(), c.autocast);
      const double test_s = seconds_since(t_eval) - val_s;
      if (c.cuda()) torch::cuda::synchronize(c.index);
      meter::IntervalRecord iv = tracker.mark(fmt::format("epoch-{}", epoch));
      run::EpochRecord e = epoch_record(epoch, tr, val, test, iv, feed.wait_seconds());
      // Only on CUDA: a CPU run's device index is -1, which a CUDA LibTorch's allocator statistics
      // refuse with an exception (the CPU run would be recorded as failed after epoch 1).
      if (auto peaks = c.cuda() ? compat::cuda_memory_peaks(c.index) : std::nullopt) {
        // The paper's memR: the caching allocator's reserved peak during the epoch.
        e.gpu_mem_reserved_peak_gb = static_cast<double>(peaks->reserved) / 1e9;
        e.gpu_mem_allocated_peak_gb = static_cast<double>(peaks->allocated) / 1e9;
        gpu_reserved_peak = std::max(gpu_reserved_peak, static_cast<double>(peaks->reserved) / 1e9);
        gpu_allocated_peak =
            std::max(gpu_allocated_peak, static_cast<double>(peaks->allocated) / 1e9);
      }
      if (scaler) e.loss_scale = scaler->current();
      rec.epochs->push_back(std::move(e));
      energy_sum += iv.energy_kwh;
      test_acc_hist.push_back(test.metrics.accuracy);
      cum_energy.push_back(energy_sum);
      if (epoch == 1) {
        tr.timing.batch_size = cfg.batch_size;
        tr.timing.train_s = tr.train_s;
        tr.timing.val_s = val_s;
        tr.timing.test_s = test_s;
        tr.timing.val_n = d.ds.val.n;
        tr.timing.test_n = d.ds.test.n;
        tr.timing.wall_s = iv.wall_s;
        const double steady = sweep::epoch1_steady_fraction(tr.timing);
        prediction = sweep::predict_after_first_epoch(iv.energy_kwh, iv.wall_s, cfg.epochs, steady);
        run::BudgetRecord& b = rec.budget.emplace();
        b.predicted_energy_kwh = prediction.energy_kwh;
        b.predicted_time_s = prediction.time_s;
        b.epoch1_steady_fraction = steady;
      }
      if (progress)
        progress({.kind = Progress::Kind::Epoch,
                  .epoch = epoch,
                  .epochs = cfg.epochs,
                  .elapsed_s = seconds_since(t.t_start),
                  .epoch_record = &rec.epochs->back()});
      const std::string reason = stop_reason(cfg, epoch, prediction, test_acc_hist, cum_energy);
      if (!reason.empty()) {
        status = run::RunStatus::stopped;
        rec.stop_reason = reason;
        break;
      }
    }
  } catch (const TrainingFailure& e) {
    status = run::RunStatus::failed;
    rec.error = e.what();
  } catch (const c10::Error& e) {
    status = run::RunStatus::failed;
    rec.error = std::string(e.what_without_backtrace()).substr(0, 2000);
  } catch (const std::bad_alloc&) {
    status = run::RunStatus::failed;
    rec.error = "out of memory";
  }
  meter::IntervalRecord total = tracker.stop("end");
  const double wall_s = seconds_since(t.t_start);
  if (status == run::RunStatus::stopped && !cfg.save_checkpoint.empty())
    keep_checkpoint(cfg, net, *opt, scaler, rec, total, wall_s, before);
  // A continued run's totals are the whole run's: the earlier process's and this one's.
  before.add_to(total);
  finish_record(rec, status, total, tracker, c, d, prediction, wall_s + before.time_s,
                gpu_reserved_peak, gpu_allocated_peak);
  if (progress)
    progress(
        {.kind = Progress::Kind::End, .epochs = cfg.epochs, .elapsed_s = seconds_since(t.t_start)});
  return rec;
}

}  // namespace pepr::train
