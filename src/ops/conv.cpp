// nn.Conv1d and nn.Conv2d: (N, C_in, *L) or unbatched (C_in, *L) -> (N, C_out, *L_out), each
// L_out = floor((L + padding - dilation*(kernel_size-1) - 1) / stride) + 1. Checked in PyTorch's
// order: the constructor's ValueErrors (_ConvNd.__init__), the weight's allocation, then
// F.conv1d/F.conv2d (ATen's batchify, _convolution's expand_param_if_needed and
// check_shape_forward), with the messages PyTorch 1.13 raises on the CPU.
#include <numeric>

#include <fmt/format.h>

#include "ops/conv_geometry.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

// A dim named as a batch or a sequence in the channel slot, of a size the symbols leave open
// (attention's (B, T, E) output given to a Conformer's Conv1d without the transpose to
// (B, E, T)): equal to in_channels by accident at best, so the condition is false by the roles,
// an error (MHA083) like CallContext::same's for two such names. Not a heads-like name: H is an
// image's height in (B, H, W, C).
bool channels_by_role(CallContext& ctx, const ArgValue& input, int channel_dim, std::int64_t in_channels) {
  const DimExpr& channels = input.shape[static_cast<std::size_t>(channel_dim)];
  std::string name = input.dim_name(channel_dim);
  if (name.empty() && channels.is_plain_symbol()) name = channels.symbol;
  const DimRole role = role_of_name(name);
  if (role != DimRole::Batch && role != DimRole::Sequence) return false;
  const DimExpr resolved = ctx.symbols.resolve(channels);
  if (ctx.symbols.compare(resolved, DimExpr::constant(in_channels)) != Symbols::Verdict::EqualIf) return false;
  Diagnostic& diagnostic = ctx.report(DiagId::RoleCondition,
                                      fmt::format("valid only if {} == {} ({} channels == in_channels), but {} is a {}: the {}'s channel "
                                                  "slot (dim {}) takes features",
                                                  resolved.str(), in_channels, input.argument, name, role_name(role), ctx.module->type, channel_dim),
                                      &input, channel_dim);
  diagnostic.notes.push_back(fmt::format("PyTorch fails whenever {} != {}, and when they happen to be equal the {} reads the {} as its "
                                         "channels: channels-last input needs its features moved to dim {}",
                                         name, in_channels, ctx.module->type, role_name(role), channel_dim));
  return true;
}

// The largest groups below `groups` (at least 2) that divides both channel counts: the largest
// divisor of their gcd below it, found among the divisor pairs up to its square root.
std::int64_t fitting_groups(std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups) {
  const std::int64_t common = std::gcd(in_channels, out_channels);
  if (common < groups) return common;
  std::int64_t fitting = 1;
  for (std::int64_t divisor = 1; divisor <= common / divisor; ++divisor) {
    if (common % divisor != 0) continue;
    if (divisor < groups) fitting = std::max(fitting, divisor);
    if (common / divisor < groups) fitting = std::max(fitting, common / divisor);
  }
  return fitting;
}

// _ConvNd.__init__'s ValueErrors, in its order.
bool constructor_valid(CallContext& ctx) {
  const ModuleDecl& module = *ctx.module;
  std::int64_t groups = module.integer("groups");
  auto refuse = [&](DiagId id, const std::string& option, const std::string& why, const std::string& message) {
    Diagnostic& diagnostic = ctx.report_option(id, why, option);
    ctx.pytorch_raises(diagnostic, "ValueError", message);
    return false;
  };
  if (groups <= 0) return refuse(DiagId::ConvGroups, "groups", fmt::format("groups={} is not positive", groups), "groups must be a positive integer");
  for (const char* channels : {"in_channels", "out_channels"}) {
    std::int64_t count = module.integer(channels);
    if (count % groups == 0) continue;
    Diagnostic& diagnostic = ctx.report_option(DiagId::ConvGroups, fmt::format("{}={} is not divisible by groups={}", channels, count, groups), "groups");
    ctx.pytorch_raises(diagnostic, "ValueError", fmt::format("{} must be divisible by groups", channels));
    std::int64_t fitting = fitting_groups(module.integer("in_channels"), module.integer("out_channels"), groups);
    ctx.add_option_fix(diagnostic, fmt::format("construct with groups={}", fitting), {{"groups", fitting}});
    return false;
  }
  const nlohmann::json& padding = module.options.at("padding");
  if (padding.is_string()) {
    std::string mode = padding.get<std::string>();
    if (mode != "same" && mode != "valid") {
      return refuse(DiagId::ConvPadding, "padding", fmt::format("padding='{}' is not 'same' or 'valid'", mode),
                    fmt::format("Invalid padding string '{}', should be one of {{'same', 'valid'}}", mode));
    }
    std::vector<std::int64_t> stride = conv_sizes(module.options.at("stride"), conv_spatial_dims(module.type));
    if (mode == "same" && std::any_of(stride.begin(), stride.end(), [](std::int64_t s) { return s != 1; })) {
      Diagnostic& diagnostic = ctx.report_option(DiagId::ConvPadding, "padding='same' with a stride other than 1", "padding");
      ctx.pytorch_raises(diagnostic, "ValueError", "padding='same' is not supported for strided convolutions");
      // A stride was written to downsample: keep it and pad as 'same' would at stride 1,
      // dilation*(kernel_size-1)/2 on each side, which a number can say when that reach is even
      // (an odd kernel). Giving up the stride changes the output length, so it comes second.
      const int spatial = conv_spatial_dims(module.type);
      std::vector<std::int64_t> kernel = conv_sizes(module.options.at("kernel_size"), spatial);
      std::vector<std::int64_t> dilation = conv_sizes(module.options.at("dilation"), spatial);
      std::vector<std::int64_t> halves;
      for (std::size_t d = 0; d < kernel.size(); ++d) {
        std::int64_t reach = (dilation.size() == 1 ? dilation.front() : d < dilation.size() ? dilation[d] : 1) * (kernel[d] - 1);
        if (reach < 0 || reach % 2 != 0) break;
        halves.push_back(reach / 2);
      }
      if (!kernel.empty() && halves.size() == kernel.size()) {
        bool uniform = std::all_of(halves.begin(), halves.end(), [&](std::int64_t h) { return h == halves.front(); });
        nlohmann::json written = uniform ? nlohmann::json(halves.front()) : nlohmann::json(halves);
        ctx.add_option_fix(diagnostic,
                           fmt::format("construct with padding={} (dilation * (kernel_size - 1) // 2 per side, as 'same' pads), keeping stride={} to downsample",
                                       uniform ? std::to_string(halves.front()) : fmt::format("({})", fmt::join(halves, ", ")),
                                       stride.size() == 1 ? std::to_string(stride.front()) : fmt::format("({})", fmt::join(stride, ", "))),
                           {{"padding", written}});
      }
      ctx.add_option_fix(diagnostic, "construct with stride=1", {{"stride", 1}});
      return false;
    }
  }
  std::string padding_mode = module.options.at("padding_mode").get<std::string>();
  if (padding_mode != "zeros" && padding_mode != "reflect" && padding_mode != "replicate" && padding_mode != "circular") {
    Diagnostic& diagnostic = ctx.report_option(DiagId::ConvPadding, fmt::format("padding_mode='{}' is not one PyTorch knows", padding_mode), "padding_mode");
    ctx.pytorch_raises(diagnostic, "ValueError",
                       fmt::format("padding_mode must be one of {{'zeros', 'reflect', 'replicate', 'circular'}}, but got padding_mode='{}'", padding_mode));
    ctx.add_option_fix(diagnostic, "construct with padding_mode='zeros'", {{"padding_mode", "zeros"}});
    return false;
  }
  std::vector<std::int64_t> weight = conv_weight_shape(module);
  std::string negative = module.integer("out_channels") < 0 ? "out_channels" : module.integer("in_channels") < 0 ? "in_channels" : "kernel_size";
  return sizes_nonnegative(ctx, weight, negative);
}

// ATen's expand_param_if_needed: stride, padding, dilation and the output_padding nn.Conv*d
// passes (0 per spatial dim) need one size per kernel dim, or a single one.
bool argument_lengths_valid(CallContext& ctx, std::size_t kernel_dims) {
  const ModuleDecl& module = *ctx.module;
  const int spatial = conv_spatial_dims(module.type);
  for (const char* option : {"stride", "padding", "dilation", "output_padding"}) {
    bool internal = option == std::string("output_padding");
    const nlohmann::json& written = internal ? nlohmann::json(0) : module.options.at(option);
    if (written.is_string()) continue;
    std::vector<std::int64_t> sizes = conv_sizes(written, spatial);
    if (sizes.size() == 1 || sizes.size() == kernel_dims) continue;
    // output_padding is mhacheck's to blame on the kernel: it is the one of the wrong length.
    Diagnostic& diagnostic = ctx.report_option(
        DiagId::ConvArgumentLength,
        internal ? fmt::format("kernel_size has {} sizes but nn.{} convolves {} dims", kernel_dims, module.type, spatial)
                 : fmt::format("{} has {} sizes but the kernel has {} dims", option, sizes.size(), kernel_dims),
        internal ? "kernel_size" : option);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("expected {0} to be a single integer value or a list of {1} values to match the convolution dimensions, "
                                   "but got {0}=[{2}]",
                                   option, kernel_dims, fmt::join(sizes, ", ")));
    if (!internal && kernel_dims == static_cast<std::size_t>(spatial)) {
      ctx.add_option_fix(diagnostic, fmt::format("construct with {}={}", option, sizes.front()), {{option, sizes.front()}});
    }
    return false;
  }
  return true;
}

// The dilated kernel's reach, dilation*(kernel_size-1), is added to sizes and paddings (each at
// most kMaxDim) in int64, here and in the forward: within 2^62 every such sum fits.
bool kernel_reach_in_range(CallContext& ctx, int spatial, std::size_t kernel_dims) {
  const ModuleDecl& module = *ctx.module;
  constexpr std::int64_t kMaxReach = std::int64_t{1} << 62;
  std::vector<std::int64_t> kernel = conv_sizes(module.options.at("kernel_size"), spatial);
  std::vector<std::int64_t> dilation = conv_sizes(module.options.at("dilation"), static_cast<int>(kernel_dims));
  for (std::size_t d = 0; d < kernel_dims; ++d) {
    std::int64_t reach = 0;
    if (!__builtin_mul_overflow(dilation[d], kernel[d] - 1, &reach) && reach <= kMaxReach && reach >= -kMaxReach) continue;
    Diagnostic& diagnostic = ctx.report_option(
        DiagId::ConvArgumentValue,
        fmt::format("dilation={} times kernel_size-1={} is beyond 2^62, out of mhacheck's range", dilation[d], kernel[d] - 1), "dilation");
    diagnostic.notes.push_back("PyTorch computes the dilated kernel's size, dilation*(kernel_size-1)+1, in int64, which such sizes overflow");
    return false;
  }
  return true;
}

// check_shape_forward's checks of the arguments, in its order.
bool argument_values_valid(CallContext& ctx, const ArgValue& input, const ConvGeometry& geometry) {
  const ModuleDecl& module = *ctx.module;
  const int spatial = conv_spatial_dims(module.type);
  auto refuse = [&](const std::string& option, const std::string& why, const std::string& message) {
    Diagnostic& diagnostic = ctx.report_option(why.rfind("kernel_size", 0) == 0 ? DiagId::ConvArgumentLength : DiagId::ConvArgumentValue, why, option);
    ctx.pytorch_raises(diagnostic, "RuntimeError", message);
    return false;
  };
  auto any_below = [](const std::vector<std::int64_t>& sizes, std::int64_t least) {
    return std::any_of(sizes.begin(), sizes.end(), [&](std::int64_t size) { return size < least; });
  };
  if (any_below(geometry.pad_before, 0)) return refuse("padding", "padding is negative", "negative padding is not supported");
  if (any_below(geometry.stride, 1)) return refuse("stride", "stride is not positive", "non-positive stride is not supported");
  std::vector<std::int64_t> weight = conv_weight_shape(module);
  if (geometry.kernel.size() != static_cast<std::size_t>(spatial)) {
    // Conv1d with a 2-D kernel: every argument expanded to the kernel's dims, the input cannot match.
    Shape batched = input.shape;
    if (input.rank() == spatial + 1) batched.insert(batched.begin(), DimExpr::constant(1));
    return refuse("kernel_size", fmt::format("kernel_size has {} sizes but nn.{} convolves {} dims", geometry.kernel.size(), module.type, spatial),
                  fmt::format("Expected {0}-dimensional input for {0}-dimensional weight [{1}], but got {2}-dimensional input of size {3} instead",
                              weight.size(), fmt::join(weight, ", "), batched.size(), sizes_list(batched)));
  }
  if (module.integer("out_channels") < geometry.groups) {
    return refuse("out_channels", fmt::format("out_channels={} is fewer than groups={}", module.integer("out_channels"), geometry.groups),
                  fmt::format("Given groups={0}, expected weight to be at least {0} at dimension 0, but got weight of size [{1}] instead",
                              geometry.groups, fmt::join(weight, ", ")));
  }
  return true;
}

// F.pad(input, padding, mode), which nn.Conv*d runs first for a padding_mode other than "zeros":
// reflection reads inside the dim (width first), circular padding wraps at most once, replicate
// needs an element to repeat. 1.13's messages; a symbolic length is not checked.
bool padded_by_mode(CallContext& ctx, const ArgValue& input, const ConvGeometry& geometry) {
  const ModuleDecl& module = *ctx.module;
  const std::string mode = module.options.at("padding_mode").get<std::string>();
  if (mode == "zeros") return true;
  const int spatial = conv_spatial_dims(module.type);
  const int first = input.rank() - spatial;
  auto refuse = [&](int dim, const std::string& why, const std::string& message) {
    Diagnostic& diagnostic = ctx.report(DiagId::ConvPadding, why, &input, dim);
    ctx.pytorch_raises(diagnostic, "RuntimeError", message);
    ctx.add_option_fix(diagnostic, "construct with padding_mode='zeros'", {{"padding_mode", "zeros"}});
    return false;
  };
  for (int d = spatial - 1; d >= 0; --d) {
    const DimExpr& length = input.shape[static_cast<std::size_t>(first + d)];
    std::int64_t before = geometry.pad_before[static_cast<std::size_t>(d)], after = geometry.pad_after[static_cast<std::size_t>(d)];
    if (!length.is_constant() || (before == 0 && after == 0)) continue;
    std::string padding = fmt::format("padding ({}, {})", before, after);
    if (mode == "reflect" && (before >= length.offset || after >= length.offset)) {
      std::string shown = spatial == 1 ? sizes_list(input.shape) : std::to_string(input.rank());
      return refuse(first + d, fmt::format("padding_mode='reflect' cannot reflect {} into dim {} of size {}", padding, first + d, length.offset),
                    fmt::format("Argument #{}: Padding size should be less than the corresponding input dimension, but got: {} at dimension {} "
                                "of input {}",
                                4 + 2 * (spatial - 1 - d), padding, first + d, shown));
    }
    if (mode == "circular" && (before > length.offset || after > length.offset)) {
      return refuse(first + d, fmt::format("padding_mode='circular' wraps {} around dim {} of size {} more than once", padding, first + d, length.offset),
                    "Padding value causes wrapping around more than once.");
    }
    if (mode == "replicate" && length.offset == 0) {
      return refuse(first + d, fmt::format("padding_mode='replicate' has no element of dim {} to repeat", first + d),
                    fmt::format("Expected {}D or {}D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but "
                                "got: {}",
                                spatial + 1, spatial + 2, sizes_list(input.shape)));
    }
  }
  return true;
}

bool dtype_valid(CallContext& ctx, const ArgValue& input, bool bias) {
  DType weight = ctx.module->dtype();
  if (input.dtype == weight) return true;
  Diagnostic& diagnostic = ctx.report(
      DiagId::InputModuleDType,
      fmt::format("{} is {} but the {}'s parameters are {}", input.argument, dtype_name(input.dtype), ctx.module->type, dtype_name(weight)), &input);
  ctx.pytorch_raises(diagnostic, "RuntimeError",
                     bias ? fmt::format("Input type ({}) and bias type ({}) should be the same", dtype_typemeta_name(input.dtype),
                                        dtype_typemeta_name(weight))
                          : fmt::format("expected scalar type {} but found {}", dtype_aten_name(input.dtype), dtype_aten_name(weight)));
  ctx.add_input_dtype_fixes(diagnostic, input, weight);
  return false;
}

}  // namespace

void infer_conv(CallContext& ctx) {
  const ModuleDecl& module = *ctx.module;
  if (!constructor_valid(ctx)) return;
  const int spatial = conv_spatial_dims(module.type);
  const ArgValue& input = ctx.arg("input");
  if (input.rank() != spatial + 1 && input.rank() != spatial + 2) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::ConvInputRank,
        fmt::format("{} is {}-D; nn.{} takes (N, C, {}) or unbatched (C, {})", input.argument, input.rank(), module.type,
                    spatial == 1 ? "L" : "H, W", spatial == 1 ? "L" : "H, W"),
        &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Expected {}D (unbatched) or {}D (batched) input to conv{}d, but got input of size: {}", spatial + 1,
                                   spatial + 2, spatial, sizes_list(input.shape)));
    return;
  }
  const bool batched = input.rank() == spatial + 2;
  const bool bias = module.flag("bias");
  // With a bias, the CPU kernel compares the input's type with the bias's before any shape.
  if (bias && !dtype_valid(ctx, input, bias)) return;
  std::size_t kernel_dims = conv_sizes(module.options.at("kernel_size"), spatial).size();
  if (!argument_lengths_valid(ctx, kernel_dims) || !kernel_reach_in_range(ctx, spatial, kernel_dims)) return;
  ConvGeometry geometry = conv_geometry(module);
  if (!argument_values_valid(ctx, input, geometry)) return;
  if (!padded_by_mode(ctx, input, geometry)) return;

  const int channel_dim = batched ? 1 : 0;
  std::int64_t in_channels = module.integer("in_channels");
  const DimExpr& channels = input.shape[static_cast<std::size_t>(channel_dim)];
  if (!channels_by_role(ctx, input, channel_dim, in_channels) &&
      !ctx.same(channels, DimExpr::constant(in_channels), &input, channel_dim, fmt::format("{} channels == in_channels", input.argument))) {
    // PyTorch names the input as the convolution gets it: with a batch of 1 when unbatched, and
    // already padded by F.pad for a padding_mode other than "zeros" (by the odd element for
    // padding="same" with an even span).
    Shape shown = input.shape;
    bool padded_first = module.options.at("padding_mode").get<std::string>() != "zeros";
    for (std::size_t d = 0; d < static_cast<std::size_t>(spatial); ++d) {
      std::int64_t extra = padded_first ? geometry.pad_before[d] + geometry.pad_after[d] : geometry.pad_after[d] - geometry.pad_before[d];
      DimExpr& length = shown[static_cast<std::size_t>(channel_dim + 1) + d];
      length = dim_add(length, extra).value_or(length);
    }
    if (!batched) shown.insert(shown.begin(), DimExpr::constant(1));
    std::vector<std::int64_t> weight = conv_weight_shape(module);
    Diagnostic& diagnostic = ctx.report(
        DiagId::ConvChannels,
        fmt::format("{} has {} channels (dim {}) but the {} takes in_channels={}", input.argument, channels.str(), channel_dim, module.type, in_channels),
        &input, channel_dim);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Given groups={}, weight of size [{}], expected input{} to have {} channels, but got {} channels instead",
                                   geometry.groups, fmt::join(weight, ", "), sizes_list(shown), in_channels, channels.str()));
    diagnostic.related.push_back({fmt::format("in_channels = {}", in_channels), ctx.option_location("in_channels")});
    if (channels.is_constant() && channels.offset > 0 && channels.offset % geometry.groups == 0) {
      ctx.add_option_fix(diagnostic, fmt::format("construct with in_channels={}", channels.offset), {{"in_channels", channels.offset}});
    }
    // A channels-last input: its channels are its last dim.
    if (input.rank() > channel_dim + 1 && ctx.symbols.compare(input.shape.back(), DimExpr::constant(in_channels)) == Symbols::Verdict::Equal) {
      Shape fixed = input.written;
      std::rotate(fixed.begin() + channel_dim, fixed.end() - 1, fixed.end());
      ctx.add_shape_fix(diagnostic, fmt::format("pass {} channels first (permute its last dim to dim {})", input.argument, channel_dim), {{&input, fixed}});
    }
    return;
  }

  // check_shape_forward: every padded spatial size must hold the dilated kernel.
  Shape output(input.shape.begin(), input.shape.begin() + channel_dim);
  output.push_back(DimExpr::constant(module.integer("out_channels")));
  std::vector<std::string> padded_sizes, spans;
  bool kernel_fits = true;
  for (std::size_t d = 0; d < static_cast<std::size_t>(spatial); ++d) {
    const DimExpr& length = input.shape[static_cast<std::size_t>(channel_dim + 1) + d];
    std::int64_t padding = geometry.pad_before[d] + geometry.pad_after[d];
    std::optional<DimExpr> padded = dim_add(length, padding);
    padded_sizes.push_back(padded ? padded->str() : length.str());
    spans.push_back(std::to_string(geometry.span(d)));
    if (length.is_constant() && length.offset + padding < geometry.span(d)) kernel_fits = false;
  }
  if (!kernel_fits) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::ConvKernelSize,
        fmt::format("{}'s padded size ({}) is smaller than the {}'s kernel ({})", input.argument, fmt::join(padded_sizes, " x "), module.type,
                    fmt::join(spans, " x ")),
        &input, channel_dim + 1);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Calculated padded input size per channel: ({}). Kernel size: ({}). Kernel size can't be greater than actual input size",
                                   fmt::join(padded_sizes, " x "), fmt::join(spans, " x ")));
    return;
  }
  if (!bias && !dtype_valid(ctx, input, bias)) return;
  // check_shape_forward only refuses a negative dilation; the CPU kernels refuse 0 after the
  // shape checks (mkldnn's message; slow_conv2d, which 1.13 picks for a batch of 1, words it
  // "dilation should be greater than zero").
  if (std::any_of(geometry.dilation.begin(), geometry.dilation.end(), [](std::int64_t d) { return d < 1; })) {
    Diagnostic& diagnostic = ctx.report_option(DiagId::ConvArgumentValue, "dilation is not positive", "dilation");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "non-positive dilation is not supported");
    return;
  }
  if (std::any_of(geometry.kernel.begin(), geometry.kernel.end(), [](std::int64_t k) { return k == 0; })) {
    // The message is the CPU's slow_conv2d kernel's (other backends word it differently); it
    // names the kernel as 2-D, Conv1d's with a height of 1.
    std::int64_t height = spatial == 1 ? 1 : geometry.kernel[0], width = geometry.kernel.back();
    Diagnostic& diagnostic = ctx.report_option(DiagId::ConvArgumentValue, "kernel_size is 0", "kernel_size");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("kernel size should be greater than zero, but got kernel_height: {} kernel_width: {}", height, width));
    return;
  }

  for (std::size_t d = 0; d < static_cast<std::size_t>(spatial); ++d) {
    int dim = channel_dim + 1 + static_cast<int>(d);
    const DimExpr& length = input.shape[static_cast<std::size_t>(dim)];
    std::int64_t reach = geometry.pad_before[d] + geometry.pad_after[d] - geometry.span(d);  // L + reach >= 0
    if (length.is_constant()) {
      std::int64_t padded = length.offset + reach;
      output.push_back(DimExpr::constant(geometry.output_size(d, length.offset)));
      // Only an image's patch embedding (Conv2d) warns: audio front ends (wav2vec2's Conv1d
      // stack ends in kernel 2, stride 2 layers) drop a last sample by design.
      if (spatial == 2 && geometry.stride[d] == geometry.span(d) && padded % geometry.stride[d] != 0) {
        Diagnostic& diagnostic = ctx.report(
            DiagId::ConvDropsInput,
            fmt::format("the last {} element(s) of {}'s dim {} are in no patch: the {}'s patch size {} does not divide {}",
                        padded % geometry.stride[d], input.argument, dim, module.type, geometry.stride[d],
                        length.offset + geometry.pad_before[d] + geometry.pad_after[d]),
            &input, dim);
        diagnostic.notes.push_back(fmt::format("the output is {} long; an input of {} gives the same output and reads every element",
                                               output.back().offset, length.offset - padded % geometry.stride[d]));
      }
      continue;
    }
    // A symbolic length c*S + o: floor((c*S + o + reach) / stride) is a DimExpr when stride divides c.
    std::int64_t stride = geometry.stride[d];
    std::optional<DimExpr> size;
    if (length.coeff % stride == 0) {
      std::int64_t rest = length.offset + reach;
      std::int64_t floored = rest >= 0 ? rest / stride : -((-rest + stride - 1) / stride);
      size = dim_add(DimExpr{length.coeff / stride, length.symbol, 0}, floored + 1);
    }
    if (!size) {
      Diagnostic& diagnostic = ctx.report(
          DiagId::ShapeNotDerivable,
          fmt::format("the {}'s output size along dim {} is ({} + {}) // {} + 1, which mhacheck cannot write as one dim", module.type, dim,
                      length.str(), reach, stride),
          &input, dim);
      diagnostic.notes.push_back("a dim is an integer or a multiple of one symbol: bind the symbol under \"dims\"");
      return;
    }
    output.push_back(*size);
  }
  // The batch and the spatial dims keep what they stand for (a strided time axis is still
  // time); the channels are new features.
  std::vector<std::string> names = input.dim_names;
  names.resize(output.size());
  names[static_cast<std::size_t>(channel_dim)].clear();
  ctx.outputs.push_back({"output", output, input.dtype, names});
}

}  // namespace mhacheck
