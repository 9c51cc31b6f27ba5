// timm/models/byoanet.py, natively: ByobNet configurations with self-attention blocks (halo,
// bottleneck and lambda attention). The building blocks are in byobnet.cpp / layers/attention.cpp.
#include "models/byobnet.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

using byob::AttnKwargs;
using byob::BlockCfg;
using byob::interleave_blocks;
using byob::ModelCfg;
using byob::tiered;

BlockCfg with_self_attn(BlockCfg b, const std::string& layer, AttnKwargs kw) {
  b.self_attn_layer = layer;
  b.self_attn_kwargs = kw;
  return b;
}

AttnKwargs halo_kw(int64_t block_size, int64_t halo_size) {
  AttnKwargs kw;
  kw.block_size = block_size;
  kw.halo_size = halo_size;
  return kw;
}

// ResNet-26-T with self-attention in the last block of stage 3 and all of stage 4.
std::vector<std::vector<BlockCfg>> r26_blocks(int64_t gs) {
  return {{BlockCfg{.type = "bottle", .d = 2, .c = 256, .s = 1, .gs = gs, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 2, .c = 512, .s = 2, .gs = gs, .br = 0.25}},
          interleave_blocks("bottle", "self_attn", 2,
                            BlockCfg{.d = 1, .c = 1024, .s = 2, .gs = gs, .br = 0.25}),
          {BlockCfg{.type = "self_attn", .d = 2, .c = 2048, .s = 2, .gs = gs, .br = 0.25}}};
}

// ResNet-33-TS with self-attention in the last block of stages 2 and 3 and all of stage 4.
std::vector<std::vector<BlockCfg>> r33_blocks() {
  return {{BlockCfg{.type = "bottle", .d = 2, .c = 256, .s = 1, .br = 0.25}},
          interleave_blocks("bottle", "self_attn", 3, {2},
                            BlockCfg{.d = 1, .c = 512, .s = 2, .br = 0.25}),
          interleave_blocks("bottle", "self_attn", 3, {2},
                            BlockCfg{.d = 1, .c = 1024, .s = 2, .br = 0.25}),
          {BlockCfg{.type = "self_attn", .d = 2, .c = 1536, .s = 2, .br = 0.333}}};
}

// ResNet-50-TS stages 2-4 with the given self-attention blocks interleaved.
std::vector<std::vector<BlockCfg>> r50_blocks(const BlockCfg& s1, const BlockCfg& s2,
                                              const BlockCfg& s3, int64_t every1) {
  return {{BlockCfg{.type = "bottle", .d = 3, .c = 256, .s = 1, .br = 0.25}},
          interleave_blocks("bottle", "self_attn", 4, s1, every1),
          interleave_blocks("bottle", "self_attn", 6, s2),
          interleave_blocks("bottle", "self_attn", 3, s3)};
}

}  // namespace

void register_byoanet_models(Registry& r) {
  using byob::register_model;
  const BlockCfg c512 = BlockCfg{.d = 1, .c = 512, .s = 2, .br = 0.25};
  const BlockCfg c1024 = BlockCfg{.d = 1, .c = 1024, .s = 2, .br = 0.25};
  const BlockCfg c2048 = BlockCfg{.d = 1, .c = 2048, .s = 2, .br = 0.25};

  // Bottleneck transformers: fixed 256x256 inputs (relative position embeddings).
  {
    auto cfg = tiered(r26_blocks(0), "maxpool", Act::relu);
    cfg.self_attn_layer = "bottleneck";
    cfg.img_size = 256;
    register_model(r, "botnet26t_256", cfg);
  }
  {
    auto cfg = tiered(r33_blocks(), "", Act::silu);
    cfg.num_features = 1280;
    cfg.attn_layer = "se";
    cfg.self_attn_layer = "bottleneck";
    cfg.img_size = 256;
    register_model(r, "sebotnet33ts_256", cfg);
  }
  {
    auto cfg = tiered(r26_blocks(16), "maxpool", Act::silu);
    cfg.attn_layer = "eca";
    cfg.self_attn_layer = "bottleneck";
    cfg.self_attn_kwargs.dim_head = 16;
    cfg.img_size = 256;
    register_model(r, "eca_botnext26ts_256", cfg);
  }

  // HaloNets: feature maps must be multiples of the block size; timm's min_input_size is 256.
  {
    auto cfg = tiered(r26_blocks(0), "maxpool", Act::relu);
    cfg.self_attn_layer = "halo";
    cfg.self_attn_kwargs = halo_kw(8, 2);
    cfg.min_input_size = 256;
    register_model(r, "halonet26t", cfg);
  }
  {
    auto cfg = tiered(r33_blocks(), "", Act::silu);
    cfg.num_features = 1280;
    cfg.attn_layer = "se";
    cfg.self_attn_layer = "halo";
    cfg.self_attn_kwargs = halo_kw(8, 3);
    cfg.min_input_size = 256;
    register_model(r, "sehalonet33ts", cfg);
  }
  {
    AttnKwargs kw1 = halo_kw(8, 3);
    kw1.num_heads = 4;
    auto cfg = tiered(r50_blocks(with_self_attn(c512, "halo", kw1), c1024, c2048, 4), "maxpool",
                      Act::silu);
    cfg.self_attn_layer = "halo";
    cfg.self_attn_kwargs = halo_kw(8, 3);
    cfg.min_input_size = 256;
    register_model(r, "halonet50ts", cfg);
  }

  // Lambda ResNet with relative positions: fixed 256x256 inputs.
  {
    auto cfg = tiered(r26_blocks(0), "maxpool", Act::relu);
    cfg.self_attn_layer = "lambda";
    cfg.self_attn_kwargs.lambda_r_none = true;
    cfg.img_size = 256;
    register_model(r, "lambda_resnet26rpt_256", cfg);
  }

  // Combinations (lambda / halo / bottleneck per stage), fixed 256x256 inputs.
  {
    AttnKwargs lam;
    lam.r = 13;
    AttnKwargs halo;
    halo.halo_size = 3;
    auto cfg =
        tiered(r50_blocks(with_self_attn(c512, "lambda", lam), with_self_attn(c1024, "halo", halo),
                          with_self_attn(c2048, "bottleneck", {}), 1),
               "", Act::silu);
    cfg.img_size = 256;
    register_model(r, "lamhalobotnet50ts_256", cfg);
  }
  {
    AttnKwargs halo;
    halo.halo_size = 3;
    auto cfg =
        tiered(r50_blocks(with_self_attn(c512, "halo", halo), with_self_attn(c1024, "halo", halo),
                          with_self_attn(c2048, "bottleneck", {}), 1),
               "", Act::silu);
    cfg.img_size = 256;
    register_model(r, "halo2botnet50ts_256", cfg);
  }
}

}  // namespace pepr::models
