#include "models/layers/attention.hpp"

#include <cmath>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::models {

namespace F = torch::nn::functional;

namespace {

// A parameter-only child module, for timm entries such as "pos_embed.height_rel" or
// "conv.weight" whose owner is a module without a forward of its own here.
std::shared_ptr<torch::nn::Module> holder(const std::string& type) {
  return std::make_shared<torch::nn::Module>(type);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

BilinearAttnTransformImpl::BilinearAttnTransformImpl(int64_t in_channels, int64_t block_size,
                                                     int64_t groups, Act act)
    : block_size_(block_size), groups_(groups) {
  conv1 = register_module("conv1", ConvBnAct(ConvOptions(in_channels, groups, 1), act));
  conv_p = register_module(
      "conv_p", Conv2d(ConvOptions(groups, block_size * block_size * groups, {block_size, 1})
                           .padding(torch::ExpandingArray<2>({0, 0}))
                           .bias(true)));
  conv_q = register_module(
      "conv_q", Conv2d(ConvOptions(groups, block_size * block_size * groups, {1, block_size})
                           .padding(torch::ExpandingArray<2>({0, 0}))
                           .bias(true)));
  conv2 = register_module("conv2", ConvBnAct(ConvOptions(in_channels, in_channels, 1), act));
}

namespace {

// BilinearAttnTransform.resize_mat: expands a [B, C, b, b] matrix to [B, C, b t, b t] by the
// Kronecker-like block layout timm uses.
torch::Tensor resize_mat(const torch::Tensor& x, int64_t t) {
  if (t <= 1) return x;
  const int64_t B = x.size(0), C = x.size(1), b = x.size(2);
  auto y = x.view({B * C, -1, 1, 1}) * torch::eye(t, x.options());
  y = y.view({B * C, b, b, t, t});
  y = torch::cat(torch::split(y, 1, 1), 3);
  y = torch::cat(torch::split(y, 1, 2), 4);
  return y.view({B, C, b * t, b * t});
}

}  // namespace

torch::Tensor BilinearAttnTransformImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t bs = block_size_;
  auto out = conv1->forward(x);
  auto rp = std::get<0>(torch::adaptive_max_pool2d(out, {bs, 1}));
  auto cp = std::get<0>(torch::adaptive_max_pool2d(out, {1, bs}));
  auto p = conv_p->forward(rp).view({B, groups_, bs, bs}).sigmoid();
  auto q = conv_q->forward(cp).view({B, groups_, bs, bs}).sigmoid();
  p = p / p.sum(3, /*keepdim=*/true);
  q = q / q.sum(2, /*keepdim=*/true);
  p = p.view({B, groups_, 1, bs, bs}).expand({B, groups_, C / groups_, bs, bs}).contiguous();
  p = p.view({B, C, bs, bs});
  q = q.view({B, groups_, 1, bs, bs}).expand({B, groups_, C / groups_, bs, bs}).contiguous();
  q = q.view({B, C, bs, bs});
  p = resize_mat(p, H / bs);
  q = resize_mat(q, W / bs);
  auto y = torch::matmul(p, x);
  y = torch::matmul(y, q);
  return conv2->forward(y);
}

BatNonLocalAttnImpl::BatNonLocalAttnImpl(int64_t in_channels, int64_t block_size, int64_t groups,
                                         double rd_ratio, int64_t rd_divisor, double drop_rate,
                                         Act act)
    : block_size_(block_size), drop_rate_(drop_rate) {
  const int64_t rd = make_divisible(static_cast<double>(in_channels) * rd_ratio, rd_divisor);
  conv1 = register_module("conv1", ConvBnAct(ConvOptions(in_channels, rd, 1), act));
  ba = register_module("ba", BilinearAttnTransform(rd, block_size, groups, act));
  conv2 = register_module("conv2", ConvBnAct(ConvOptions(rd, in_channels, 1), act));
}

torch::Tensor BatNonLocalAttnImpl::forward(const torch::Tensor& x) {
  if (x.size(2) % block_size_ != 0 || x.size(3) % block_size_ != 0) {
    throw Error(fmt::format(
        "BatNonLocalAttn: the feature map ({}x{}) must be a multiple of the block size {}",
        x.size(2), x.size(3), block_size_));
  }
  auto y = ba->forward(conv1->forward(x));
  y = conv2->forward(y);
  if (drop_rate_ > 0.0) y = torch::feature_dropout(y, drop_rate_, is_training());
  return y + x;
}

// ---------------------------------------------------------------------------------------------

namespace {

// timm's rel_logits_1d (halo_attn.py; bottleneck_attn.py is the case rel_size == 2 W - 1):
// q [B, H, W, dim], rel_k [rel_size, dim] -> [B, H, win, W, win] permuted by permute_mask.
torch::Tensor rel_logits_1d(const torch::Tensor& q, const torch::Tensor& rel_k,
                            at::IntArrayRef permute_mask) {
  const int64_t B = q.size(0), H = q.size(1), W = q.size(2);
  const int64_t rel_size = rel_k.size(0);
  const int64_t win_size = (rel_size + 1) / 2;
  auto x = torch::matmul(q, rel_k.transpose(-1, -2));
  x = x.reshape({-1, W, rel_size});
  // pad to shift from relative to absolute indexing
  auto x_pad = torch::constant_pad_nd(x, {0, 1}).flatten(1);
  x_pad = torch::constant_pad_nd(x_pad, {0, rel_size - W});
  x_pad = x_pad.reshape({-1, W + 1, rel_size});
  x = x_pad.index({torch::indexing::Slice(), torch::indexing::Slice(torch::indexing::None, W),
                   torch::indexing::Slice(win_size - 1, torch::indexing::None)});
  x = x.reshape({B, H, 1, W, win_size}).expand({-1, -1, win_size, -1, -1});
  return x.permute(permute_mask);
}

}  // namespace

HaloAttnImpl::HaloAttnImpl(int64_t dim, HaloAttnOptions options) : options_(options) {
  const int64_t dim_out = options_.dim_out().value_or(dim);
  const int64_t nh = options_.num_heads();
  if (dim_out % nh != 0) throw std::logic_error("HaloAttn: dim_out % num_heads != 0");
  if (options_.stride() != 1 && options_.stride() != 2) {
    throw std::logic_error("HaloAttn: stride must be 1 or 2");
  }
  dim_head_qk_ = options_.dim_head().value_or(
      make_divisible(static_cast<double>(dim_out) * options_.qk_ratio(), 8) / nh);
  dim_head_v_ = dim_out / nh;
  dim_out_qk_ = nh * dim_head_qk_;
  dim_out_v_ = nh * dim_head_v_;
  scale_ = std::pow(static_cast<double>(dim_head_qk_), -0.5);
  block_size_ = block_size_ds_ = options_.block_size();
  halo_size_ = options_.halo_size();
  win_size_ = block_size_ + halo_size_ * 2;
  block_stride_ = 1;
  use_avg_pool_ = false;
  if (options_.stride() > 1) {
    use_avg_pool_ = options_.avg_down() || block_size_ % options_.stride() != 0;
    block_stride_ = use_avg_pool_ ? 1 : options_.stride();
    block_size_ds_ = block_size_ / block_stride_;
  }
  q = register_module(
      "q", create_conv2d(dim, dim_out_qk_, 1, block_stride_, 1, 1, "", options_.qkv_bias()));
  kv = register_module(
      "kv", create_conv2d(dim, dim_out_qk_ + dim_out_v_, 1, 1, 1, 1, "", options_.qkv_bias()));
  pos_embed = register_module("pos_embed", holder("PosEmbedRel"));
  height_rel =
      pos_embed->register_parameter("height_rel", torch::empty({win_size_ * 2 - 1, dim_head_qk_}));
  width_rel =
      pos_embed->register_parameter("width_rel", torch::empty({win_size_ * 2 - 1, dim_head_qk_}));
  reset_parameters();
}

void HaloAttnImpl::reset_parameters() {
  const double std = std::pow(static_cast<double>(q->weight.size(1)), -0.5);
  trunc_normal_(q->weight, std);
  trunc_normal_(kv->weight, std);
  trunc_normal_(height_rel, scale_);
  trunc_normal_(width_rel, scale_);
}

torch::Tensor HaloAttnImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  if (H % block_size_ != 0 || W % block_size_ != 0) {
    throw Error(
        fmt::format("HaloAttn: the feature map ({}x{}) must be a multiple of the block "
                    "size {}",
                    H, W, block_size_));
  }
  const int64_t nh = options_.num_heads();
  const int64_t nhb = H / block_size_, nwb = W / block_size_, nb = nhb * nwb;
  const int64_t bs = block_size_ds_;

  auto qt = q->forward(x);
  qt = qt.reshape({-1, dim_head_qk_, nhb, bs, nwb, bs}).permute({0, 1, 3, 5, 2, 4});
  qt = qt.reshape({B * nh, dim_head_qk_, -1, nb}).transpose(1, 3);
  // B * num_heads, num_blocks, block_size ** 2, dim_head

  auto kvt = kv->forward(x);
  kvt = torch::constant_pad_nd(kvt, {halo_size_, halo_size_, halo_size_, halo_size_});
  kvt = kvt.unfold(2, win_size_, block_size_)
            .unfold(3, win_size_, block_size_)
            .reshape({B * nh, dim_head_qk_ + dim_head_v_, nb, -1})
            .permute({0, 2, 3, 1});
  auto kv_split = torch::split_with_sizes(kvt, {dim_head_qk_, dim_head_v_}, -1);
  const auto& k = kv_split[0];
  const auto& v = kv_split[1];

  // The relative position logits (timm's PosEmbedRel.forward for blocks).
  auto pos = [&](const torch::Tensor& qq) {
    const int64_t BB = qq.size(1), HW = qq.size(2);
    auto q4 = qq.reshape({-1, bs, bs, dim_head_qk_});
    auto rel_w = rel_logits_1d(q4, width_rel, {0, 1, 3, 2, 4});
    q4 = q4.transpose(1, 2);
    auto rel_h = rel_logits_1d(q4, height_rel, {0, 3, 1, 4, 2});
    return (rel_h + rel_w).reshape({qq.size(0), BB, HW, -1});
  };

  torch::Tensor attn;
  if (options_.scale_pos_embed()) {
    attn = (torch::matmul(qt, k.transpose(-1, -2)) + pos(qt)) * scale_;
  } else {
    attn = torch::matmul(qt, k.transpose(-1, -2)) * scale_ + pos(qt);
  }
  attn = attn.softmax(-1);

  auto out = torch::matmul(attn, v).transpose(1, 3);
  out = out.reshape({-1, bs, bs, nhb, nwb});
  out = out.permute({0, 3, 1, 4, 2})
            .contiguous()
            .view({B, dim_out_v_, H / block_stride_, W / block_stride_});
  if (use_avg_pool_) out = torch::avg_pool2d(out, {2, 2}, {2, 2});
  return out;
}

// ---------------------------------------------------------------------------------------------

BottleneckAttnImpl::BottleneckAttnImpl(int64_t dim, std::array<int64_t, 2> feat_size,
                                       BottleneckAttnOptions options)
    : options_(options), feat_size_(feat_size) {
  const int64_t dim_out = options_.dim_out().value_or(dim);
  const int64_t nh = options_.num_heads();
  if (dim_out % nh != 0) throw std::logic_error("BottleneckAttn: dim_out % num_heads != 0");
  dim_head_qk_ = options_.dim_head().value_or(
      make_divisible(static_cast<double>(dim_out) * options_.qk_ratio(), 8) / nh);
  dim_head_v_ = dim_out / nh;
  dim_out_qk_ = nh * dim_head_qk_;
  dim_out_v_ = nh * dim_head_v_;
  scale_ = std::pow(static_cast<double>(dim_head_qk_), -0.5);
  qkv = register_module(
      "qkv", create_conv2d(dim, dim_out_qk_ * 2 + dim_out_v_, 1, 1, 1, 1, "", options_.qkv_bias()));
  pos_embed = register_module("pos_embed", holder("PosEmbedRel"));
  height_rel = pos_embed->register_parameter("height_rel",
                                             torch::empty({feat_size[0] * 2 - 1, dim_head_qk_}));
  width_rel = pos_embed->register_parameter("width_rel",
                                            torch::empty({feat_size[1] * 2 - 1, dim_head_qk_}));
  reset_parameters();
}

void BottleneckAttnImpl::reset_parameters() {
  trunc_normal_(qkv->weight, std::pow(static_cast<double>(qkv->weight.size(1)), -0.5));
  trunc_normal_(height_rel, scale_);
  trunc_normal_(width_rel, scale_);
}

torch::Tensor BottleneckAttnImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  if (H != feat_size_[0] || W != feat_size_[1]) {
    throw Error(fmt::format("BottleneckAttn: built for {}x{} feature maps, got {}x{}",
                            feat_size_[0], feat_size_[1], H, W));
  }
  const int64_t nh = options_.num_heads();
  auto t = qkv->forward(x);
  auto parts = torch::split_with_sizes(t, {dim_out_qk_, dim_out_qk_, dim_out_v_}, 1);
  auto q = parts[0].reshape({B * nh, dim_head_qk_, -1}).transpose(-1, -2);
  auto k = parts[1].reshape({B * nh, dim_head_qk_, -1});
  auto v = parts[2].reshape({B * nh, dim_head_v_, -1}).transpose(-1, -2);

  // timm's PosEmbedRel.forward for the whole feature map.
  auto pos = [&](const torch::Tensor& qq) {
    const int64_t BB = qq.size(0), HW = qq.size(1);
    auto q4 = qq.reshape({BB, feat_size_[0], feat_size_[1], -1});
    auto rel_w = rel_logits_1d(q4, width_rel, {0, 1, 3, 2, 4});
    q4 = q4.transpose(1, 2);
    auto rel_h = rel_logits_1d(q4, height_rel, {0, 3, 1, 4, 2});
    return (rel_h + rel_w).reshape({BB, HW, HW});
  };

  torch::Tensor attn;
  if (options_.scale_pos_embed()) {
    attn = (torch::matmul(q, k) + pos(q)) * scale_;
  } else {
    attn = torch::matmul(q, k) * scale_ + pos(q);
  }
  attn = attn.softmax(-1);
  auto out = torch::matmul(attn, v).transpose(-1, -2).reshape({B, dim_out_v_, H, W});
  if (options_.stride() == 2) out = torch::avg_pool2d(out, {2, 2}, {2, 2});
  return out;
}

// ---------------------------------------------------------------------------------------------

LambdaLayerImpl::LambdaLayerImpl(int64_t dim, std::optional<std::array<int64_t, 2>> feat_size,
                                 LambdaLayerOptions options)
    : options_(options) {
  const int64_t dim_out = options_.dim_out().value_or(dim);
  num_heads_ = options_.num_heads();
  if (dim_out % num_heads_ != 0) throw std::logic_error("LambdaLayer: dim_out % num_heads != 0");
  dim_qk_ = options_.dim_head().value_or(
      make_divisible(static_cast<double>(dim_out) * options_.qk_ratio(), 8) / num_heads_);
  dim_v_ = dim_out / num_heads_;
  if (!options_.r()) {
    if (!feat_size) throw std::logic_error("LambdaLayer: the relative variant needs feat_size");
    feat_size_ = *feat_size;
    pos_emb = register_parameter(
        "pos_emb", torch::empty({2 * feat_size_[0] - 1, 2 * feat_size_[1] - 1, dim_qk_}));
  }
  qkv = register_module("qkv", create_conv2d(dim, num_heads_ * dim_qk_ + dim_qk_ + dim_v_, 1, 1, 1,
                                             1, "", options_.qkv_bias()));
  norm_q = register_module("norm_q", batch_norm2d(num_heads_ * dim_qk_));
  norm_v = register_module("norm_v", batch_norm2d(dim_v_));
  if (options_.r()) {
    const int64_t r = *options_.r();
    conv_lambda = register_module("conv_lambda", holder("Conv3d"));
    conv_lambda_weight =
        conv_lambda->register_parameter("weight", torch::empty({dim_qk_, 1, r, r, 1}));
    conv_lambda_bias = conv_lambda->register_parameter("bias", torch::empty({dim_qk_}));
  } else {
    // rel_pos_indices: pos = (i // w, i % w) for i < M; rel[c][i][j] = pos[c][j] - pos[c][i]
    // + size[c] - 1.
    const int64_t h = feat_size_[0], w = feat_size_[1];
    auto idx = torch::arange(h * w, torch::kLong);
    auto pos = torch::stack({torch::div(idx, w, "floor"), torch::remainder(idx, w)});  // 2, M
    auto rel = pos.unsqueeze(1) - pos.unsqueeze(2);
    rel[0] += h - 1;
    rel[1] += w - 1;
    rel_pos_indices_ = rel;
  }
  reset_parameters();
}

void LambdaLayerImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  trunc_normal_(qkv->weight, std::pow(static_cast<double>(qkv->weight.size(1)), -0.5));
  if (conv_lambda) {
    trunc_normal_(conv_lambda_weight, std::pow(static_cast<double>(dim_qk_), -0.5));
    const double bound = 1.0 / std::sqrt(static_cast<double>(conv_lambda_weight[0].numel()));
    conv_lambda_bias.uniform_(-bound, bound);
  }
  if (pos_emb.defined()) trunc_normal_(pos_emb, 0.02);
}

torch::Tensor LambdaLayerImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t M = H * W;
  if (pos_emb.defined() && (H != feat_size_[0] || W != feat_size_[1])) {
    throw Error(fmt::format("LambdaLayer: built for {}x{} feature maps, got {}x{}", feat_size_[0],
                            feat_size_[1], H, W));
  }
  auto t = qkv->forward(x);
  auto parts = torch::split_with_sizes(t, {num_heads_ * dim_qk_, dim_qk_, dim_v_}, 1);
  auto q = norm_q->forward(parts[0]).reshape({B, num_heads_, dim_qk_, M}).transpose(-1, -2);
  auto v = norm_v->forward(parts[2]).reshape({B, dim_v_, M}).transpose(-1, -2);  // B, M, V
  auto k = torch::softmax(parts[1].reshape({B, dim_qk_, M}), -1);                // B, K, M

  auto content_lam = torch::matmul(k, v);                         // B, K, V
  auto content_out = torch::matmul(q, content_lam.unsqueeze(1));  // B, heads, M, V

  torch::Tensor position_lam;
  if (!pos_emb.defined()) {
    const int64_t r = *options_.r();
    position_lam = torch::conv3d(v.reshape({B, 1, H, W, dim_v_}), conv_lambda_weight,
                                 conv_lambda_bias, 1, {r / 2, r / 2, 0});  // B, K, H, W, V
    position_lam = position_lam.reshape({B, 1, dim_qk_, H * W, dim_v_}).transpose(2, 3);
  } else {
    const auto idx = rel_pos_indices_.to(pos_emb.device());
    auto pe = pos_emb.index({idx[0], idx[1]}).expand({B, -1, -1, -1});  // B, M, M, K
    position_lam = torch::matmul(pe.transpose(-1, -2), v.unsqueeze(1)).unsqueeze(1);
  }
  auto position_out = torch::matmul(q.unsqueeze(-2), position_lam).squeeze(-2);
  auto out = (content_out + position_out).transpose(-1, -2).reshape({B, C, H, W});
  if (options_.stride() == 2) out = torch::avg_pool2d(out, {2, 2}, {2, 2});
  return out;
}

}  // namespace pepr::models
