#include "models/efficientnet_blocks.hpp"

#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::models {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return out;
}

int64_t parse_int(const std::string& block, const std::string& key, const std::string& v) {
  size_t used = 0;
  int64_t n = 0;
  try {
    n = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty()) {
    throw Error(fmt::format("block '{}': option '{}' needs an integer, got '{}'", block, key, v));
  }
  return n;
}

double parse_float(const std::string& block, const std::string& key, const std::string& v) {
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty()) {
    throw Error(fmt::format("block '{}': option '{}' needs a number, got '{}'", block, key, v));
  }
  return x;
}

int64_t parse_ksize(const std::string& block, const std::string& key, const std::string& v) {
  if (v.find('.') != std::string::npos) {
    throw Error(fmt::format("block '{}': mixed kernel sizes ('{}{}', MixNet) are not supported yet",
                            block, key, v));
  }
  return parse_int(block, key, v);
}

}  // namespace

BlockArgs decode_block_str(const std::string& block_str, int64_t& repeats) {
  const auto ops = split(block_str, '_');
  BlockArgs a;
  a.block_type = ops.at(0);
  std::map<std::string, std::string> options;
  std::optional<bool> skip;
  for (size_t i = 1; i < ops.size(); ++i) {
    const std::string& op = ops[i];
    if (op == "noskip") {
      skip = false;
    } else if (op == "skip") {
      skip = true;
    } else if (!op.empty() && op[0] == 'n') {
      const std::string v = op.substr(1);
      if (v == "re") {
        a.act = Act::relu;
      } else if (v == "r6") {
        a.act = Act::relu6;
      } else if (v == "hs") {
        a.act = Act::hard_swish;
      } else if (v == "sw") {
        a.act = Act::silu;
      } else if (v == "mi") {
        a.act = Act::mish;
      }
      // timm ignores other n-options.
    } else {
      // timm: re.split(r'(\d.*)', op) -> key before the first digit, value from it on.
      size_t d = 0;
      while (d < op.size() && !std::isdigit(static_cast<unsigned char>(op[d]))) ++d;
      if (d < op.size()) options[op.substr(0, d)] = op.substr(d);
    }
  }
  auto need = [&](const std::string& key) -> const std::string& {
    auto it = options.find(key);
    if (it == options.end()) {
      throw Error(fmt::format("block '{}': missing option '{}'", block_str, key));
    }
    return it->second;
  };
  auto has = [&](const std::string& key) { return options.count(key) != 0; };

  if (has("cc")) {
    throw Error(fmt::format("block '{}': CondConv ('cc') is not supported yet", block_str));
  }
  if (has("d") && parse_int(block_str, "d", options["d"]) > 0) {
    throw Error(fmt::format("block '{}': space-to-depth ('d') is not supported yet", block_str));
  }
  repeats = parse_int(block_str, "r", need("r"));
  a.out_chs = parse_int(block_str, "c", need("c"));
  a.stride = parse_int(block_str, "s", need("s"));
  const int64_t start_kernel = has("a") ? parse_ksize(block_str, "a", options["a"]) : 1;
  const int64_t end_kernel = has("p") ? parse_ksize(block_str, "p", options["p"]) : 1;
  const double se_ratio = has("se") ? parse_float(block_str, "se", options["se"]) : 0.0;
  const std::string& t = a.block_type;
  if (t == "ir") {
    a.dw_kernel_size = parse_ksize(block_str, "k", need("k"));
    a.exp_kernel_size = start_kernel;
    a.pw_kernel_size = end_kernel;
    a.exp_ratio = parse_float(block_str, "e", need("e"));
    a.se_ratio = se_ratio;
    a.noskip = skip == false;
  } else if (t == "ds" || t == "dsa") {
    a.dw_kernel_size = parse_ksize(block_str, "k", need("k"));
    a.pw_kernel_size = end_kernel;
    a.se_ratio = se_ratio;
    a.pw_act = t == "dsa";
    a.noskip = t == "dsa" || skip == false;
  } else if (t == "er") {
    a.exp_kernel_size = parse_ksize(block_str, "k", need("k"));
    a.pw_kernel_size = end_kernel;
    a.exp_ratio = parse_float(block_str, "e", need("e"));
    a.force_in_chs = has("fc") ? parse_int(block_str, "fc", options["fc"]) : 0;
    a.se_ratio = se_ratio;
    a.noskip = skip == false;
  } else if (t == "cn") {
    a.kernel_size = parse_int(block_str, "k", need("k"));
    a.skip = skip == true;
  } else {
    throw Error(
        fmt::format("block '{}': unknown or unsupported block type '{}' (supported: ds, "
                    "dsa, ir, er, cn)",
                    block_str, t));
  }
  return a;
}

namespace {

// timm's _scale_stage_depth.
std::vector<BlockArgs> scale_stage_depth(const std::vector<BlockArgs>& stack,
                                         const std::vector<int64_t>& repeats, double multiplier,
                                         DepthTrunc trunc) {
  int64_t num_repeat = 0;
  for (auto r : repeats) num_repeat += r;
  int64_t scaled =
      trunc == DepthTrunc::round
          ? std::max<int64_t>(1, py_round(static_cast<double>(num_repeat) * multiplier))
          : static_cast<int64_t>(std::ceil(static_cast<double>(num_repeat) * multiplier));
  std::vector<int64_t> repeats_scaled(repeats.size());
  for (size_t i = repeats.size(); i-- > 0;) {
    const int64_t r = repeats[i];
    const int64_t rs =
        std::max<int64_t>(1, py_round(static_cast<double>(r) / static_cast<double>(num_repeat) *
                                      static_cast<double>(scaled)));
    repeats_scaled[i] = rs;
    num_repeat -= r;
    scaled -= rs;
  }
  std::vector<BlockArgs> out;
  for (size_t i = 0; i < stack.size(); ++i) {
    for (int64_t k = 0; k < repeats_scaled[i]; ++k) out.push_back(stack[i]);
  }
  return out;
}

}  // namespace

std::vector<std::vector<BlockArgs>> decode_arch_def(
    const std::vector<std::vector<std::string>>& arch_def, double depth_multiplier,
    DepthTrunc depth_trunc, bool fix_first_last) {
  return decode_arch_def(arch_def, std::vector<double>(arch_def.size(), depth_multiplier),
                         depth_trunc, fix_first_last);
}

std::vector<std::vector<BlockArgs>> decode_arch_def(
    const std::vector<std::vector<std::string>>& arch_def,
    const std::vector<double>& depth_multipliers, DepthTrunc depth_trunc, bool fix_first_last) {
  if (depth_multipliers.size() != arch_def.size()) {
    throw Error(fmt::format("decode_arch_def: {} depth multipliers for {} stages",
                            depth_multipliers.size(), arch_def.size()));
  }
  std::vector<std::vector<BlockArgs>> out;
  for (size_t stage = 0; stage < arch_def.size(); ++stage) {
    std::vector<BlockArgs> stack;
    std::vector<int64_t> repeats;
    for (const auto& s : arch_def[stage]) {
      int64_t r = 0;
      stack.push_back(decode_block_str(s, r));
      repeats.push_back(r);
    }
    const bool fixed = fix_first_last && (stage == 0 || stage + 1 == arch_def.size());
    out.push_back(
        scale_stage_depth(stack, repeats, fixed ? 1.0 : depth_multipliers[stage], depth_trunc));
  }
  return out;
}

int64_t round_channels(double channels, double multiplier, int64_t divisor,
                       std::optional<int64_t> channel_min, double round_limit) {
  if (multiplier == 0.0) return static_cast<int64_t>(channels);
  return make_divisible(channels * multiplier, divisor, channel_min, round_limit);
}

SeFactory efficientnet_se() {
  return [](int64_t chs, double rd_ratio, Act act) {
    return torch::nn::AnyModule(
        SqueezeExcite(chs, SqueezeExciteOptions().rd_ratio(rd_ratio).act(act)));
  };
}

SeFactory mobilenetv3_se() {
  return [](int64_t chs, double rd_ratio, Act) {
    return torch::nn::AnyModule(SqueezeExcite(
        chs, SqueezeExciteOptions().rd_ratio(rd_ratio).rd_divisor(8).act(Act::relu).gate(
                 Act::hard_sigmoid)));
  };
}

SeFactory squeeze_excite_se(Act gate, std::optional<Act> force_act,
                            std::function<int64_t(double)> rd_round_fn) {
  return [gate, force_act, rd_round_fn](int64_t chs, double rd_ratio, Act act) {
    const double v = static_cast<double>(chs) * rd_ratio;
    const int64_t rd = rd_round_fn ? rd_round_fn(v) : py_round(v);
    return torch::nn::AnyModule(SqueezeExcite(
        chs, SqueezeExciteOptions().rd_channels(rd).act(force_act.value_or(act)).gate(gate)));
  };
}

SeFactory global_context_se() {
  return [](int64_t chs, double rd_ratio, Act act) {
    return torch::nn::AnyModule(
        GlobalContext(chs, GlobalContextOptions().rd_ratio(rd_ratio).act(act)));
  };
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

BuiltStages build_efficientnet_stages(int64_t in_chs, std::vector<std::vector<BlockArgs>> stages,
                                      const BuilderOptions& o) {
  int64_t total = 0;
  for (const auto& s : stages) total += static_cast<int64_t>(s.size());
  int64_t block_idx = 0;
  int64_t current_stride = 2;
  int64_t current_dilation = 1;
  BuiltStages built;
  for (auto& stage : stages) {
    Sequential blocks;
    for (size_t b = 0; b < stage.size(); ++b) {
      BlockArgs a = stage[b];
      if (b >= 1) a.stride = 1;  // only the first block of a stage strides
      int64_t next_dilation = current_dilation;
      if (a.stride > 1) {
        const int64_t next_output_stride = current_stride * a.stride;
        if (next_output_stride > o.output_stride) {
          next_dilation = current_dilation * a.stride;
          a.stride = 1;
        } else {
          current_stride = next_output_stride;
        }
      }
      a.dilation = current_dilation;
      current_dilation = next_dilation;

      // timm's _make_block.
      BlockConfig c;
      c.in_chs = in_chs;
      a.out_chs = o.round_chs_fn(static_cast<double>(a.out_chs));
      if (a.force_in_chs > 0) a.force_in_chs = o.round_chs_fn(static_cast<double>(a.force_in_chs));
      c.act = a.act.value_or(o.act);
      c.pad_type = o.pad_type;
      c.drop_path_rate =
          o.drop_path_rate * static_cast<double>(block_idx) / static_cast<double>(total);
      if (a.block_type != "cn" && a.se_ratio > 0.0 && o.se_layer) {
        double ratio = a.se_ratio;
        if (!o.se_from_exp && (a.block_type == "ir" || a.block_type == "er")) {
          ratio /= a.exp_ratio;
        }
        c.se_layer = o.se_layer;
        c.se_ratio = ratio;
      }
      c.args = a;
      if (a.block_type == "ir") {
        blocks->push_back(InvertedResidual(c));
      } else if (a.block_type == "ds" || a.block_type == "dsa") {
        blocks->push_back(DepthwiseSeparable(c));
      } else if (a.block_type == "er") {
        blocks->push_back(EdgeResidual(c));
      } else if (a.block_type == "cn") {
        blocks->push_back(ConvBnActBlock(c));
      } else {
        throw Error(fmt::format("unsupported block type '{}'", a.block_type));
      }
      in_chs = a.out_chs;
      ++block_idx;
    }
    built.blocks->push_back(blocks);
  }
  built.out_chs = in_chs;
  return built;
}

// ---------------------------------------------------------------------------------------------

DepthwiseSeparableImpl::DepthwiseSeparableImpl(const BlockConfig& c)
    : drop_path_rate_(c.drop_path_rate) {
  const auto& a = c.args;
  has_skip_ = a.stride == 1 && c.in_chs == a.out_chs && !a.noskip;
  conv_dw_ = register_module("conv_dw", create_conv2d(c.in_chs, c.in_chs, a.dw_kernel_size,
                                                      a.stride, a.dilation, c.in_chs, c.pad_type));
  bn1_ = register_module("bn1", BatchNormAct2d(c.in_chs, c.act));
  if (c.se_layer) {
    se_ = c.se_layer(c.in_chs, c.se_ratio, c.act);
    register_module("se", se_.ptr());
  }
  conv_pw_ = register_module(
      "conv_pw", create_conv2d(c.in_chs, a.out_chs, a.pw_kernel_size, 1, 1, 1, c.pad_type));
  bn2_ = register_module("bn2", BatchNormAct2d(a.out_chs, a.pw_act ? c.act : Act::identity));
}

torch::Tensor DepthwiseSeparableImpl::forward(const torch::Tensor& input) {
  auto x = bn1_->forward(conv_dw_->forward(input));
  if (!se_.is_empty()) x = se_.forward(x);
  x = bn2_->forward(conv_pw_->forward(x));
  if (has_skip_) x = drop_path(x, drop_path_rate_, is_training()) + input;
  return x;
}

InvertedResidualImpl::InvertedResidualImpl(const BlockConfig& c)
    : drop_path_rate_(c.drop_path_rate) {
  const auto& a = c.args;
  has_skip_ = a.stride == 1 && c.in_chs == a.out_chs && !a.noskip;
  const int64_t mid = make_divisible(static_cast<double>(c.in_chs) * a.exp_ratio);
  conv_pw_ = register_module("conv_pw",
                             create_conv2d(c.in_chs, mid, a.exp_kernel_size, 1, 1, 1, c.pad_type));
  bn1_ = register_module("bn1", BatchNormAct2d(mid, c.act));
  conv_dw_ = register_module(
      "conv_dw", create_conv2d(mid, mid, a.dw_kernel_size, a.stride, a.dilation, mid, c.pad_type));
  bn2_ = register_module("bn2", BatchNormAct2d(mid, c.act));
  if (c.se_layer) {
    se_ = c.se_layer(mid, c.se_ratio, c.act);
    register_module("se", se_.ptr());
  }
  conv_pwl_ = register_module("conv_pwl",
                              create_conv2d(mid, a.out_chs, a.pw_kernel_size, 1, 1, 1, c.pad_type));
  bn3_ = register_module("bn3", batch_norm2d(a.out_chs));
}

torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& input) {
  auto x = bn1_->forward(conv_pw_->forward(input));
  x = bn2_->forward(conv_dw_->forward(x));
  if (!se_.is_empty()) x = se_.forward(x);
  x = bn3_->forward(conv_pwl_->forward(x));
  if (has_skip_) x = drop_path(x, drop_path_rate_, is_training()) + input;
  return x;
}

EdgeResidualImpl::EdgeResidualImpl(const BlockConfig& c) : drop_path_rate_(c.drop_path_rate) {
  const auto& a = c.args;
  has_skip_ = a.stride == 1 && c.in_chs == a.out_chs && !a.noskip;
  const int64_t base = a.force_in_chs > 0 ? a.force_in_chs : c.in_chs;
  const int64_t mid = make_divisible(static_cast<double>(base) * a.exp_ratio);
  conv_exp_ = register_module("conv_exp", create_conv2d(c.in_chs, mid, a.exp_kernel_size, a.stride,
                                                        a.dilation, 1, c.pad_type));
  bn1_ = register_module("bn1", BatchNormAct2d(mid, c.act));
  if (c.se_layer) {
    se_ = c.se_layer(mid, c.se_ratio, c.act);
    register_module("se", se_.ptr());
  }
  conv_pwl_ = register_module("conv_pwl",
                              create_conv2d(mid, a.out_chs, a.pw_kernel_size, 1, 1, 1, c.pad_type));
  bn2_ = register_module("bn2", batch_norm2d(a.out_chs));
}

torch::Tensor EdgeResidualImpl::forward(const torch::Tensor& input) {
  auto x = bn1_->forward(conv_exp_->forward(input));
  if (!se_.is_empty()) x = se_.forward(x);
  x = bn2_->forward(conv_pwl_->forward(x));
  if (has_skip_) x = drop_path(x, drop_path_rate_, is_training()) + input;
  return x;
}

ConvBnActBlockImpl::ConvBnActBlockImpl(const BlockConfig& c) : drop_path_rate_(c.drop_path_rate) {
  const auto& a = c.args;
  has_skip_ = a.skip && a.stride == 1 && c.in_chs == a.out_chs;
  conv_ = register_module("conv", create_conv2d(c.in_chs, a.out_chs, a.kernel_size, a.stride,
                                                a.dilation, 1, c.pad_type));
  bn1_ = register_module("bn1", BatchNormAct2d(a.out_chs, c.act));
}

torch::Tensor ConvBnActBlockImpl::forward(const torch::Tensor& input) {
  auto x = bn1_->forward(conv_->forward(input));
  if (has_skip_) x = drop_path(x, drop_path_rate_, is_training()) + input;
  return x;
}

}  // namespace pepr::models
