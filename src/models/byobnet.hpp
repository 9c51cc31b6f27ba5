// timm's Bring-Your-Own-Blocks network (timm/models/byobnet.py), natively: the ByoModelCfg /
// ByoBlockCfg configuration, the stems, the block types basic / bottle / dark / edge / rep /
// self_attn, and ByobNet itself. byobnet.cpp registers timm's byobnet.py models; byoanet.cpp
// (self-attention variants) and mobilevit.cpp (MobileViT blocks, added through BlockCfg::factory)
// reuse it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models::byob {

// Keyword arguments of the attention layers (timm's attn_kwargs / self_attn_kwargs); unset
// fields keep the layer's own default.
struct AttnKwargs {
  std::optional<double> rd_ratio;
  std::optional<int64_t> rd_divisor;
  std::optional<int64_t> block_size;  // halo, bat
  std::optional<int64_t> halo_size;   // halo
  std::optional<int64_t> num_heads;
  std::optional<int64_t> dim_head;
  std::optional<double> qk_ratio;
  // lambda: r (local lambda conv radius); lambda_r_none = timm's r=None (relative positions)
  std::optional<int64_t> r;
  bool lambda_r_none = false;
};

// Extra block arguments (timm's block_kwargs); a block's own set replaces the model's entirely.
struct BlockKwargs {
  bool extra_conv = false;  // bottle, self_attn
  bool bottle_in = false;   // bottle, self_attn
  bool linear_out = false;  // basic, bottle, dark, edge, self_attn
  // MobileViT blocks
  std::optional<int64_t> transformer_dim;
  int64_t transformer_depth = 2;
  int64_t patch_size = 8;
};

// What a block is built from (timm's block_kwargs dict in create_byob_stages).
struct LayerFns {
  Act act = Act::relu;
  std::string attn;  // "" none, "se", "eca", "gc", "gca", "bat"
  AttnKwargs attn_kwargs;
  std::string self_attn;  // "" none, "halo", "bottleneck", "lambda"
  AttnKwargs self_attn_kwargs;
};

struct BlockArgs {
  int64_t in_chs = 0;
  int64_t out_chs = 0;
  int64_t kernel_size = 3;
  int64_t stride = 1;
  int64_t group_size = 0;  // 0: one group; 1: depthwise
  double bottle_ratio = 1.0;
  std::string downsample = "conv1x1";
  double drop_path_rate = 0.0;
  LayerFns layers;
  std::optional<std::array<int64_t, 2>> feat_size;  // self_attn blocks of fixed-size models
  BlockKwargs kw;
};

// The base of every ByobNet block: a Tensor -> Tensor forward and timm's init_weights.
class BlockBase : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual void init_weights(bool /*zero_init_last*/) {}
};

using BlockFactory = std::function<std::shared_ptr<BlockBase>(const BlockArgs&)>;

// timm.models.byobnet.ByoBlockCfg.
struct BlockCfg {
  std::string type{};  // basic, bottle, dark, edge, rep, self_attn, or any name with a factory
  int64_t d = 1;       // blocks in the stage
  double c = 0;        // output channels (times ModelCfg::width_factor, then make_divisible)
  int64_t s = 2;       // stride of the stage's first block
  int64_t gs = 0;      // group size (0 / None: one group, 1: depthwise)
  double br = 1.0;     // bottleneck ratio
  std::optional<std::string> attn_layer{};
  std::optional<AttnKwargs> attn_kwargs{};
  std::optional<std::string> self_attn_layer{};
  std::optional<AttnKwargs> self_attn_kwargs{};
  std::optional<BlockKwargs> block_kwargs{};
  BlockFactory factory{};  // for block types defined outside byobnet.cpp (MobileViT)
};

// timm's interleave_blocks: d blocks of types[0], with types[1] at the `every` indices.
std::vector<BlockCfg> interleave_blocks(const std::string& type0, const std::string& type1,
                                        int64_t d, std::vector<int64_t> every,
                                        const BlockCfg& base);
// every as an int (timm's default 1): indices range(first ? 0 : every, d, every + 1).
std::vector<BlockCfg> interleave_blocks(const std::string& type0, const std::string& type1,
                                        int64_t d, const BlockCfg& base, int64_t every = 1,
                                        bool first = false);

// timm.models.byobnet.ByoModelCfg, plus what timm keeps in the pretrained cfg.
struct ModelCfg {
  std::vector<std::vector<BlockCfg>> blocks{};  // per stage
  std::string downsample = "conv1x1";
  std::string stem_type = "3x3";
  std::string stem_pool = "maxpool";     // "" or "none" for no pooling
  std::vector<int64_t> stem_chs = {32};  // one value, or a list (a conv stack)
  double width_factor = 1.0;
  int64_t num_features = 0;  // final 1x1 conv, none if 0
  bool zero_init_last = true;
  Act act = Act::relu;
  std::string attn_layer{};
  AttnKwargs attn_kwargs{};
  std::string self_attn_layer{};
  AttnKwargs self_attn_kwargs{};
  BlockKwargs block_kwargs{};

  // pretrained cfg and creation arguments
  std::vector<std::string> first_conv{"stem.conv"};  // timm's pretrained cfg first_conv (all)
  std::optional<int64_t> img_size{};  // timm's img_size: fixed-size models (fixed_input_size)
  int64_t min_input_size = 1;         // timm's min_input_size, where it has one
};

class ByobNet : public HeadedClassifier<ClassifierHead> {
 public:
  ByobNet(const std::string& arch, const ModelCfg& cfg, const ModelOptions& options);

  torch::Tensor forward_features(torch::Tensor x) override;
  std::vector<std::string> first_conv_names() const override { return first_conv_; }
  int64_t min_input_size() const override { return min_input_size_; }
  std::optional<int64_t> fixed_input_size() const override { return fixed_input_size_; }

  // A feature map at `stride` (ceil(size / stride) pixels) that must be a multiple of
  // `divisor` (halo attention blocks, BAT).
  struct SizeRule {
    int64_t stride;
    int64_t divisor;
    std::string what;
  };
  const std::vector<SizeRule>& size_rules() const { return size_rules_; }

 private:
  void check_size(int64_t h, int64_t w) const;

  std::vector<std::string> first_conv_;
  int64_t min_input_size_ = 1;
  std::optional<int64_t> fixed_input_size_;
  std::vector<SizeRule> size_rules_;
  std::shared_ptr<BlockBase> stem_;
  std::vector<std::vector<std::shared_ptr<BlockBase>>> stages_;
  ConvBnAct final_conv_{nullptr};
};

// timm's ConvNormAct with BatchNormAct2d: conv (no bias, symmetric padding) + bn (+ act).
ConvBnAct conv_norm_act(int64_t in_chs, int64_t out_chs, int64_t kernel_size, int64_t stride,
                        int64_t groups, Act act);

// The ResNet-26/33/50 "t"/"ts" configurations: tiered stem of 64 channels, the given stem
// pooling ("" for none), activation, attention layer and final features (0: none).
ModelCfg tiered(std::vector<std::vector<BlockCfg>> blocks, const std::string& stem_pool, Act act,
                const std::string& attn_layer = "", int64_t num_features = 0);

// Registers name as a ByobNet with cfg.
void register_model(Registry& r, const std::string& name, ModelCfg cfg);

}  // namespace pepr::models::byob
