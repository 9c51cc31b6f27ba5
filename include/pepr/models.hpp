// pepr's public API: timm's architectures rebuilt in C++ on LibTorch (same state-dict names and
// logits as timm), created by name, with timm's pretrained weights.
//
//   pepr::ModelOptions o;  o.num_classes = 7;  o.in_chans = 3;
//   auto net = pepr::create_model("resnet18", o);            // std::shared_ptr<pepr::Classifier>
//   pepr::load_pretrained(*net, "resnet18.safetensors");     // the head is left new if it differs
//   torch::Tensor logits = net->forward(images);
//
// Link pepr::models (LibTorch). pepr::native_model_names() lists every name.
#pragma once

#include "models/model.hpp"
#include "models/pretrained.hpp"
#include "models/registry.hpp"

namespace pepr {
using models::Classifier;
using models::count_parameters;
using models::create_model;
using models::load_pretrained;
using models::ModelOptions;
using models::native_model_names;
}  // namespace pepr
