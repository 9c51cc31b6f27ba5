// The two usual shapes of a timm model's head, each written once: a head module registered as
// "head" with its classifier at "head.fc" (timm's ClassifierHead, NormMlpClassifierHead), or a
// Linear registered on the model itself under a name (timm's create_classifier: "fc",
// "classifier", "head", "last_linear") after pooling and dropout.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/model.hpp"

namespace pepr::models {

// A Classifier whose head is `head_`, a module holder whose module has forward(x) and
// reset(num_classes) and keeps its classifier in a child "fc". The family registers it in its
// constructor (head_ = register_module("head", ...)); forward_head, classifier_names and
// reset_classifier come from here. A family whose features need a last step before the head
// (a transformer's NHWC mean) overrides forward_head alone.
template <typename Head>
class HeadedClassifier : public Classifier {
 public:
  using Classifier::Classifier;

  torch::Tensor forward_head(torch::Tensor x) override { return head_->forward(x); }
  std::vector<std::string> classifier_names() const override { return {"head.fc"}; }
  void reset_classifier(int64_t num_classes) override {
    set_num_classes(num_classes);
    head_->reset(num_classes);
  }

 protected:
  Head head_{nullptr};
};

// A Classifier whose classifier is the Linear `fc_`, registered on the model itself under
// `fc_name` by register_fc in the family's constructor. forward_head is pre_logits (a global
// average pool unless the family overrides it), dropout at the model's drop_rate, then fc_;
// reset_classifier puts a Linear with PyTorch's default initialisation in its place (as timm's
// reset_classifier does), with the same input width.
class LinearHeadClassifier : public Classifier {
 public:
  LinearHeadClassifier(std::string arch, const ModelOptions& options, std::string fc_name)
      : Classifier(std::move(arch), options), fc_name_(std::move(fc_name)) {}

  torch::Tensor forward_head(torch::Tensor x) override {
    x = pre_logits(std::move(x));
    if (options().drop_rate > 0.0) x = torch::dropout(x, options().drop_rate, is_training());
    return fc_->forward(x);
  }
  std::vector<std::string> classifier_names() const override { return {fc_name_}; }
  void reset_classifier(int64_t num_classes) override {
    set_num_classes(num_classes);
    fc_ = replace_module(fc_name_, torch::nn::Linear(fc_->options.in_features(), num_classes));
  }

 protected:
  // The features [N, C, H, W] to the classifier's input [N, C].
  virtual torch::Tensor pre_logits(torch::Tensor x) { return x.mean({2, 3}); }
  // Registers Linear(in_features, num_classes) as the classifier.
  void register_fc(int64_t in_features) {
    fc_ = register_module(fc_name_, torch::nn::Linear(in_features, options().num_classes));
  }

  torch::nn::Linear fc_{nullptr};

 private:
  std::string fc_name_;
};

}  // namespace pepr::models
