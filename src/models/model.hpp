// The base class of every native model: a timm architecture with timm's parameter names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/model_options.hpp"

namespace pepr::models {

// A network that maps [N, in_chans, H, W] images to [N, num_classes] logits.
//
// A family implements forward_features (stem + stages, output [N, num_features, h, w]) and
// forward_head (pooling, dropout, classifier). forward() checks the input and calls both.
// Submodules must be registered under timm's names so that state_dict() equals timm's.
class Classifier : public torch::nn::Module {
 public:
  Classifier(std::string arch, const ModelOptions& options);

  // Checks the input's rank, channels and size (a pepr::Error that says what to change), then
  // returns forward_head(forward_features(x)).
  virtual torch::Tensor forward(torch::Tensor x);
  virtual torch::Tensor forward_features(torch::Tensor x) = 0;
  virtual torch::Tensor forward_head(torch::Tensor x) = 0;

  // Dotted module names as timm's pretrained_cfg lists them: the stem convolution(s) that take the
  // image ({"conv1"}, {"conv1.0"}, {"conv_stem"}; RepVGG's two stem branches, CrossViT's patch
  // embedding per branch) and the classifier(s) ({"fc"}, {"head.fc"}; CrossViT's head per branch).
  // The family code that registers these modules is the only source of the names: pretrained
  // loading adapts every first conv to 1-channel input and leaves every classifier fresh when its
  // class count differs; `pepr zoo info` shows them; the equivalence test checks them against
  // timm's for every model of the study.
  virtual std::vector<std::string> first_conv_names() const = 0;
  virtual std::vector<std::string> classifier_names() const = 0;

  // Replaces the classifier by a freshly initialised one with num_classes (>= 1) outputs.
  virtual void reset_classifier(int64_t num_classes) = 0;

  // Smallest input height and width the network can run on (1 when any size works).
  virtual int64_t min_input_size() const { return 1; }

  // The only input height and width the network accepts, for transformers whose position
  // embeddings (or patch-embedding checks) fix the image size, as timm's fixed_input_size
  // (crossvit_9_240: 240); nullopt when sizes from min_input_size() up work.
  virtual std::optional<int64_t> fixed_input_size() const { return std::nullopt; }

  // A deep copy: the same architecture and options built anew through the registry, then every
  // parameter and buffer copied (values, requires_grad, memory format), moved to `device` when
  // given, in the same training mode. What an EMA copy or a data-parallel replica needs; timm's
  // models would use copy.deepcopy. (Submodules alone cannot be cloned.)
  std::shared_ptr<torch::nn::Module> clone(
      const c10::optional<torch::Device>& device = c10::nullopt) const override;

  const std::string& arch() const { return arch_; }
  int64_t num_classes() const { return options_.num_classes; }
  int64_t in_chans() const { return options_.in_chans; }
  int64_t num_features() const { return num_features_; }  // channels entering the head
  const ModelOptions& options() const { return options_; }

 protected:
  void set_num_features(int64_t n) { num_features_ = n; }
  void set_num_classes(int64_t n);  // validates n and records it (for reset_classifier)

 private:
  std::string arch_;
  ModelOptions options_;
  int64_t num_features_ = 0;
};

// Trainable parameters (requires_grad), as timm counts them.
int64_t count_parameters(const torch::nn::Module& module);

// Converts every 4-D parameter and buffer to channels_last memory format in place (the C++ API
// has no Module::to(MemoryFormat)); feed channels_last inputs to benefit.
void to_channels_last(torch::nn::Module& module);

}  // namespace pepr::models
