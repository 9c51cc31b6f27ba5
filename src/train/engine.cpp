#include "train/engine.hpp"
#include "core/version.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "data/prefetch.hpp"
#include "data/preprocess.hpp"
#include "meter/estimate.hpp"
#include "models/model.hpp"
#include "models/pretrained.hpp"
#include "models/registry.hpp"
#include "sweep/process.hpp"
#include "sweep/stopping.hpp"
#include "train/metrics.hpp"
#include "weights/hub.hpp"
#include "zoo/model_space.hpp"

namespace pepr::train {

std::string libtorch_version() {
  return TORCH_VERSION;
}
bool cuda_available() {
  return torch::cuda::is_available();
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
  int64_t min_input_size() const { return native_ ? native_->min_input_size() : 1; }
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

json nullable(double v) {
  return std::isnan(v) ? json(nullptr) : json(v);
}

struct EvalResult {
  ClassificationMetrics metrics;
};

EvalResult evaluate(Network& net, const data::ImageSet& set, const data::Preprocess& pre,
                    int64_t num_classes, int batch_size, torch::Device device, bool channels_last) {
  torch::NoGradGuard no_grad;
  net.train(false);
  data::BatchPrefetcher::Options po;
  po.batch_size = batch_size;
  po.preprocess = pre;
  data::BatchPrefetcher pf(set, po);
  std::vector<int64_t> order(static_cast<std::size_t>(set.n));
  std::iota(order.begin(), order.end(), 0);
  pf.start_epoch(order);
  std::vector<float> probs;
  probs.reserve(static_cast<std::size_t>(set.n * num_classes));
  std::vector<int64_t> labels;
  labels.reserve(static_cast<std::size_t>(set.n));
  double loss_sum = 0;
  while (auto b = pf.next()) {
    auto x = torch::from_blob(const_cast<float*>(b->images),
                              {b->size, b->channels, b->height, b->width}, torch::kFloat32);
    auto y = torch::from_blob(const_cast<int64_t*>(b->labels), {b->size}, torch::kInt64);
    if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    x = x.to(device);
    auto logits = net.forward(x).to(torch::kCPU).to(torch::kFloat32);
    loss_sum +=
        torch::nn::functional::cross_entropy(
            logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    auto p = torch::softmax(logits, 1).contiguous();
    probs.insert(probs.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    labels.insert(labels.end(), b->labels, b->labels + b->size);
  }
  EvalResult r;
  r.metrics = classification_metrics(probs, labels, num_classes);
  r.metrics.loss = set.n > 0 ? loss_sum / static_cast<double>(set.n) : std::nan("");
  return r;
}

}  // namespace

json train_run(const TrainConfig& cfg, const ProgressFn& progress,
               const std::atomic<bool>* interrupt) {
  // Allocator settings measured to remove page-fault churn in LibTorch training
  // (shared/notes: glibc returning freed memory to the OS every step).
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);

  if (cfg.epochs < 1) throw Error("--epochs must be at least 1");
  if (cfg.batch_size < 1) throw Error("--batch-size must be at least 1");
  if (!(cfg.lr > 0)) throw Error("--lr must be positive");
  if (!(cfg.train_fraction > 0 && cfg.train_fraction <= 1))
    throw Error("--train-fraction must lie in (0, 1]");
  if (cfg.in_chans != 1 && cfg.in_chans != 3) throw Error("--in-chans must be 1 or 3");
  if (cfg.optimizer != "adam" && cfg.optimizer != "sgd")
    throw Error(fmt::format("--optimizer '{}': expected adam or sgd", cfg.optimizer));
  torch::Device device(torch::kCPU);
  if (cfg.device == "cuda") {
    if (!torch::cuda::is_available())
      throw Error("--device cuda: this LibTorch build has no CUDA, or no GPU is visible");
    device = torch::Device(torch::kCUDA);
  } else if (cfg.device != "cpu") {
    throw Error(fmt::format("--device '{}': expected cpu or cuda", cfg.device));
  }
  const int threads = cfg.threads > 0
                          ? cfg.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  torch::manual_seed(cfg.seed);

  data::Dataset ds = data::load_dataset(cfg.data);
  if (ds.multi_label)
    throw Error(
        fmt::format("{}: multi-label datasets are not supported by pepr train yet", ds.source));
  const int64_t num_classes = ds.num_classes;
  data::ImageSet train_set = ds.train;
  if (cfg.train_fraction < 1.0)
    train_set =
        data::subset(ds.train, data::stratified_subset(ds.train, cfg.train_fraction, cfg.seed));
  if (train_set.n == 0) throw Error(fmt::format("{}: the training split is empty", ds.source));

  data::Preprocess pre;
  pre.out_h = pre.out_w = cfg.image_size;
  pre.in_chans = cfg.in_chans;
  pre.normalize = cfg.imagenet_norm;
  const int64_t height = pre.height(train_set), width = pre.width(train_set);

  Network net(cfg, num_classes, cfg.in_chans);
  if (height < net.min_input_size() || width < net.min_input_size())
    throw Error(
        fmt::format("{} needs inputs of at least {}x{} pixels; the data is {}x{}: add "
                    "--image-size {}",
                    cfg.model, net.min_input_size(), net.min_input_size(), height, width,
                    net.min_input_size()));
  nlohmann::json weights_json = nullptr;
  std::string weights_path = cfg.weights;
  if (cfg.pretrained || !cfg.weights.empty()) {
    if (!net.native())
      throw Error(
          fmt::format("{}: a TorchScript model carries its own weights; drop --pretrained "
                      "and --weights",
                      cfg.model));
    if (weights_path.empty()) {
      // The model's default timm weights: from the cache, else from the hub (verified).
      auto cached = weights::cached_weights(cfg.model);
      weights_path = cached ? *cached : weights::pull_weights(cfg.model).path;
    }
    models::PretrainedLoad load = models::load_pretrained(*net.native_model(), weights_path);
    weights_json = {{"file", weights_path},
                    {"tensors_loaded", load.loaded},
                    {"classifier_reinitialised", load.head_skipped},
                    {"stem_rgb_summed", load.stem_adapted}};
  }
  bool channels_last = cfg.memory_format == "channels_last" ||
                       (cfg.memory_format == "auto" && net.native() && height >= 64);
  if (cfg.memory_format != "auto" && cfg.memory_format != "channels_last" &&
      cfg.memory_format != "contiguous")
    throw Error("--memory-format: expected auto, contiguous or channels_last");
  net.to(device);
  if (channels_last) net.channels_last();
  const int64_t params = net.params();

  std::unique_ptr<torch::optim::Optimizer> opt;
  if (cfg.optimizer == "adam")
    opt = std::make_unique<torch::optim::Adam>(
        net.parameters(), torch::optim::AdamOptions(cfg.lr).weight_decay(cfg.weight_decay));
  else
    opt = std::make_unique<torch::optim::SGD>(
        net.parameters(),
        torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).weight_decay(cfg.weight_decay));

  json rec;
  rec["schema"] = "pepr.run/1";
  rec["run_id"] = cfg.run_id.empty() ? json(nullptr) : json(cfg.run_id);
  rec["status"] = "running";
  rec["error"] = nullptr;
  rec["stop_reason"] = nullptr;
  rec["config"] = {{"model", cfg.model},
                   {"dataset", cfg.dataset.empty() ? ds.name : cfg.dataset},
                   {"data_file", ds.source},
                   {"pretrained", cfg.pretrained || !weights_path.empty()},
                   {"weights", weights_path.empty() ? json(nullptr) : json(weights_path)},
                   {"train_fraction", cfg.train_fraction},
                   {"epochs", cfg.epochs},
                   {"optimizer", cfg.optimizer},
                   {"lr", cfg.lr},
                   {"batch_size", cfg.batch_size},
                   {"seed", cfg.seed},
                   {"device", cfg.device},
                   {"threads", threads},
                   {"image_size", height},
                   {"in_chans", cfg.in_chans},
                   {"imagenet_norm", cfg.imagenet_norm},
                   {"memory_format", channels_last ? "channels_last" : "contiguous"}};
  json model_json = {{"name", cfg.model}, {"params", params}, {"native", net.native()}};
  if (const auto* z = zoo::find_model(cfg.model)) {
    // The paper's classification, so that collected results read like its all_results.csv.
    model_json["type"] = std::string(z->type);
    model_json["efficient"] = z->efficient;
  }
  if (net.native()) {
    // Parameters with timm's 1000-class head, as the paper counts them.
    models::ModelOptions mo;
    mo.in_chans = 3;
    model_json["params_1000"] = models::count_parameters(*models::create_model(cfg.model, mo));
  }
  rec["model"] = model_json;
  rec["weights"] = weights_json;
  rec["data"] = {{"train_samples", train_set.n}, {"val_samples", ds.val.n},
                 {"test_samples", ds.test.n},    {"num_classes", num_classes},
                 {"image_height", height},       {"image_width", width}};
  rec["environment"] = {
      {"pepr_version", kVersion},       {"cpu", meter::cpu_model_name()}, {"gpu", nullptr},
      {"libtorch", libtorch_version()}, {"cuda", cuda_available()},       {"threads", threads},
      {"hostname", sweep::host_name()}, {"blas", sweep::loaded_blas()}};
  rec["epochs"] = json::array();

  data::BatchPrefetcher::Options po;
  po.batch_size = cfg.batch_size;
  po.preprocess = pre;
  data::BatchPrefetcher prefetch(train_set, po);
  const int64_t steps = prefetch.batches_in_epoch();

  meter::Tracker tracker(cfg.meter);
  tracker.start();
  rec["environment"]["meter_methods"] = {{"energy", tracker.energy_method()}};
  const auto t_start = Clock::now();
  if (progress) {
    Progress p;
    p.kind = Progress::Kind::Start;
    p.epochs = cfg.epochs;
    p.steps = steps;
    progress(p);
  }

  std::vector<double> test_acc_hist, cum_energy;
  double energy_sum = 0;
  sweep::BudgetPrediction prediction;
  std::string status = "completed";
  try {
    for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
      net.train(true);
      std::vector<int64_t> order(static_cast<std::size_t>(train_set.n));
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(cfg.seed * 1000003ULL + static_cast<uint64_t>(epoch));
      std::shuffle(order.begin(), order.end(), rng);
      prefetch.start_epoch(order);
      const auto t_epoch = Clock::now();
      // Epoch 1's step times: its first step and a partial last batch carry one-off costs
      // (kernel selection, allocator growth); the others give the steady rate the budget
      // prediction extrapolates (sweep::epoch1_steady_fraction).
      sweep::Epoch1Timing timing;
      double last_step_end = 0;
      double loss_sum = 0, correct = 0, seen = 0;
      int64_t step = 0;
      while (auto b = prefetch.next()) {
        auto x = torch::from_blob(const_cast<float*>(b->images),
                                  {b->size, b->channels, b->height, b->width}, torch::kFloat32);
        auto y = torch::from_blob(const_cast<int64_t*>(b->labels), {b->size}, torch::kInt64);
        if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
        x = x.to(device);
        y = y.to(device);
        auto logits = net.forward(x);
        if (logits.dim() != 2 || logits.size(1) != num_classes)
          throw Error(fmt::format(
              "{} outputs {} values per image but {} has {} classes{}", cfg.model,
              logits.dim() == 2 ? logits.size(1) : -1, ds.source, num_classes,
              net.native() ? "" : ": export it with --num-classes " + std::to_string(num_classes)));
        auto loss = torch::nn::functional::cross_entropy(logits, y);
        opt->zero_grad();
        loss.backward();
        opt->step();
        double l = loss.item<double>();
        if (!std::isfinite(l))
          throw TrainingFailure(
              fmt::format("loss is {} at epoch {} step {}: training diverged "
                          "(try a lower --lr)",
                          l, epoch, step + 1));
        loss_sum += l * static_cast<double>(b->size);
        correct += logits.argmax(1).eq(y).sum().item<double>();
        seen += static_cast<double>(b->size);
        ++step;
        if (epoch == 1) {
          const double now = seconds_since(t_epoch);
          timing.step_s.push_back(now - last_step_end);
          timing.step_images.push_back(b->size);
          last_step_end = now;
        }
        if (progress) {
          Progress p;
          p.kind = Progress::Kind::Step;
          p.epoch = epoch;
          p.epochs = cfg.epochs;
          p.step = step;
          p.steps = steps;
          p.elapsed_s = seconds_since(t_start);
          p.images_per_s = seen / std::max(1e-9, seconds_since(t_epoch));
          progress(p);
        }
        if (interrupt && interrupt->load()) break;
      }
      if (interrupt && interrupt->load()) {
        status = "interrupted";
        break;
      }
      if (device.is_cuda()) torch::cuda::synchronize();
      const double train_s = seconds_since(t_epoch);
      const auto t_eval = Clock::now();
      auto val =
          evaluate(net, ds.val, pre, num_classes, cfg.eval_batch_size, device, channels_last);
      const double val_s = seconds_since(t_eval);
      auto test =
          evaluate(net, ds.test, pre, num_classes, cfg.eval_batch_size, device, channels_last);
      const double test_s = seconds_since(t_eval) - val_s;
      if (device.is_cuda()) torch::cuda::synchronize();
      meter::IntervalRecord iv = tracker.mark(fmt::format("epoch-{}", epoch));
      json e = {
          {"epoch", epoch},
          {"train_loss", loss_sum / seen},
          {"train_acc", correct / seen},
          {"val_loss", nullable(val.metrics.loss)},
          {"val_acc", nullable(val.metrics.accuracy)},
          {"val_balanced_acc", nullable(val.metrics.balanced_accuracy)},
          {"val_auc", nullable(val.metrics.auc)},
          {"test_loss", nullable(test.metrics.loss)},
          {"test_acc", nullable(test.metrics.accuracy)},
          {"test_balanced_acc", nullable(test.metrics.balanced_accuracy)},
          {"test_auc", nullable(test.metrics.auc)},
          {"time_s", iv.wall_s},
          {"train_time_s", train_s},
          {"train_images_per_s", seen / std::max(1e-9, train_s)},
          {"data_wait_s", prefetch.wait_seconds()},
          {"cpu_time_s", iv.cpu_s},
          {"energy_kwh", iv.energy_kwh},
          {"energy_raw_kwh", iv.energy_raw_j / 3.6e6},
          {"co2_g", iv.co2_g},
          {"mem_peak_gb", iv.mem_peak_gb},
          {"gpu_mem_peak_gb", iv.gpu_mem_peak_gb ? json(*iv.gpu_mem_peak_gb) : json(nullptr)}};
      rec["epochs"].push_back(e);
      energy_sum += iv.energy_kwh;
      test_acc_hist.push_back(test.metrics.accuracy);
      cum_energy.push_back(energy_sum);
      if (epoch == 1) {
        timing.batch_size = cfg.batch_size;
        timing.train_s = train_s;
        timing.val_s = val_s;
        timing.test_s = test_s;
        timing.val_n = ds.val.n;
        timing.test_n = ds.test.n;
        timing.wall_s = iv.wall_s;
        const double steady = sweep::epoch1_steady_fraction(timing);
        prediction = sweep::predict_after_first_epoch(iv.energy_kwh, iv.wall_s, cfg.epochs, steady);
        rec["budget"] = {{"predicted_energy_kwh", prediction.energy_kwh},
                         {"predicted_time_s", prediction.time_s},
                         {"epoch1_steady_fraction", steady}};
      }
      if (progress) {
        Progress p;
        p.kind = Progress::Kind::Epoch;
        p.epoch = epoch;
        p.epochs = cfg.epochs;
        p.elapsed_s = seconds_since(t_start);
        p.epoch_record = &rec["epochs"].back();
        progress(p);
      }
      // Stopping rules, judged after the first epoch's prediction.
      if (epoch < cfg.epochs) {
        std::string reason = sweep::budget_stop_reason(prediction, cfg.max_energy_wh.value_or(-1),
                                                       cfg.max_time_s.value_or(-1));
        if (reason.empty() && sweep::should_stop_pepr(test_acc_hist, cum_energy,
                                                      prediction.energy_kwh, cfg.pepr_patience))
          reason = fmt::format("pepr-patience: PePR fell for {} epochs", cfg.pepr_patience);
        if (!reason.empty()) {
          status = "stopped";
          rec["stop_reason"] = reason;
          break;
        }
      }
    }
  } catch (const TrainingFailure& e) {
    status = "failed";
    rec["error"] = e.what();
  } catch (const c10::Error& e) {
    status = "failed";
    rec["error"] = std::string(e.what_without_backtrace()).substr(0, 2000);
  } catch (const std::bad_alloc&) {
    status = "failed";
    rec["error"] = "out of memory";
  }
  meter::IntervalRecord total = tracker.stop("end");
  rec["status"] = status;
  double time_s = 0, mem_peak = 0;
  for (const auto& e : rec["epochs"]) {
    time_s += e["time_s"].get<double>();
    mem_peak = std::max(mem_peak, e["mem_peak_gb"].get<double>());
  }
  rec["totals"] = {{"time_s", seconds_since(t_start)},
                   {"epochs_time_s", time_s},
                   {"energy_kwh", total.energy_kwh},
                   {"energy_raw_kwh", total.energy_raw_j / 3.6e6},
                   {"co2_g", total.co2_g},
                   {"mem_peak_gb", std::max(mem_peak, total.mem_peak_gb)},
                   {"gpu_mem_peak_gb", nullptr},
                   {"train_samples", train_set.n},
                   {"epochs_done", rec["epochs"].size()}};
  rec["meter"] = tracker.to_json();
  if (rec.contains("budget") && status == "completed") {
    auto& b = rec["budget"];
    auto err_e = sweep::relative_error(prediction.energy_kwh, total.energy_kwh);
    auto err_t = sweep::relative_error(prediction.time_s, time_s);
    b["energy_error"] = err_e ? json(*err_e) : json(nullptr);
    b["time_error"] = err_t ? json(*err_t) : json(nullptr);
  }
  if (progress) {
    Progress p;
    p.kind = Progress::Kind::End;
    p.epochs = cfg.epochs;
    p.elapsed_s = seconds_since(t_start);
    progress(p);
  }
  return rec;
}

}  // namespace pepr::train
