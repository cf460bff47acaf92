// nn.LayerNorm and F.layer_norm: the input's trailing dims must be normalized_shape
// (at::native's _check_layer_norm_inputs), then the CPU kernel's dtype checks. The output has
// the input's shape.
#include <fmt/format.h>

#include <algorithm>

#include "check/dim_origin.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"
#include "roles.hpp"

namespace mhacheck {

namespace {

// A norm over one head's features written before the view that splits the heads off: LayerNorm(D)
// of (B, T, H*D) whose only reader views it (B, T, H, D), a per-head query/key norm (QK-norm)
// applied one step early. PyTorch raises; the norm was meant per head, after the split, and
// normalized_shape=[H*D] would normalise across the heads (another model's choice). The fix moves
// the norm after the view, on the view's output, and returns whether it found that view.
bool propose_norm_after_split(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input, std::int64_t normalized) {
  const CallDecl& norm = ctx.call;
  const std::string source = input_name(norm, "input");
  if (ctx.spec.flat || source.empty() || norm.outputs.size() != 1 || input.rank() < 1 || normalized < 1) return false;
  const DimExpr width = ctx.symbols.resolve(input.shape.back());
  if (!width.is_constant() || width.offset <= normalized || width.offset % normalized != 0) return false;
  const std::string& normed = norm.outputs.front();
  const CallDecl* split = nullptr;
  // The norm's place among the calls (their count for a module's inner call: every reader is then before it).
  const std::vector<CallDecl>& calls = ctx.spec.calls;
  const auto norm_index = static_cast<std::size_t>(std::find_if(calls.begin(), calls.end(), [&](const CallDecl& call) { return &call == &norm; }) - calls.begin());
  for (std::size_t reader : ctx.spec.readers_of(normed)) {
    if (reader == norm_index) continue;
    if (reader < norm_index || split != nullptr) return false;  // a second reader would lose the norm
    split = &calls[reader];
  }
  if (split == nullptr || (split->op != "view" && split->op != "reshape") || split->outputs.size() != 1 ||
      input_name(*split, "input") != normed || !split->arguments.contains("shape")) {
    return false;
  }
  // The view keeps the leading dims and cuts the last into (..., D): its shape ends in D and has
  // more dims than the input, the dims from the input's last on multiplying to H*D (a -1 among
  // them stands for the rest).
  const nlohmann::json& shape = split->arguments.at("shape");
  const std::size_t kept = static_cast<std::size_t>(input.rank() - 1);
  if (!shape.is_array() || shape.size() <= static_cast<std::size_t>(input.rank()) || !shape.back().is_number_integer() ||
      shape.back().get<std::int64_t>() != normalized) {
    return false;
  }
  std::int64_t product = 1;
  bool rest = false;
  for (std::size_t d = kept; d < shape.size(); ++d) {
    if (!shape[d].is_number_integer()) return false;
    const std::int64_t size = shape[d].get<std::int64_t>();
    if (size == -1) {
      rest = true;
    } else {
      product *= size;
    }
  }
  if (rest ? width.offset % product != 0 : product != width.offset) return false;
  const nlohmann::json& document = ctx.spec.value();
  for (const std::string& pointer : {norm.pointer + "/outputs", split->pointer + "/outputs", norm.pointer + "/input", split->pointer + "/input"}) {
    if (!document.contains(nlohmann::json::json_pointer(pointer))) return false;
  }
  std::vector<std::string> sizes;
  for (const nlohmann::json& size : shape) sizes.push_back(size.is_string() ? size.get<std::string>() : size.dump());
  const std::string split_text = fmt::format("{}({})", split->op, fmt::join(sizes, ", "));
  const std::string norm_name = norm.module.empty() ? norm.op : norm.module;
  const std::string& heads = split->outputs.front();
  ctx.add_patch_fix(diagnostic,
                    fmt::format("apply {} after the view that splits the heads: {} = {}.{} first, then {} = {}({}): the norm over {} "
                                "features is per head",
                                norm_name, normed, source, split_text, heads, norm_name, normed, normalized),
                    nlohmann::json::array({{{"op", "replace"}, {"path", split->pointer + "/input"}, {"value", source}},
                                           {{"op", "replace"}, {"path", split->pointer + "/outputs/0"}, {"value", normed}},
                                           {{"op", "replace"}, {"path", norm.pointer + "/input"}, {"value", normed}},
                                           {{"op", "replace"}, {"path", norm.pointer + "/outputs/0"}, {"value", heads}},
                                           {{"op", "move"}, {"from", split->pointer}, {"path", norm.pointer}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                              fmt::format("each head's {} features are normalised on their own, as the norm's size says", normalized));
  return true;
}

}  // namespace

bool layer_norm_accepts(CallContext& ctx, const ArgValue& input, const std::vector<std::int64_t>& normalized_shape,
                        bool elementwise_affine, DType dtype, const std::string& which) {
  std::string norm = which.empty() ? "the LayerNorm" : which;
  std::string normalized = fmt::format("[{}]", fmt::join(normalized_shape, ", "));
  // The CPU kernel checks a mix of dtypes before the shapes: only a float16 or bfloat16 input
  // with float32 parameters is a supported mix.
  if (elementwise_affine && input.dtype != dtype) {
    bool reduced = input.dtype == DType::Float16 || input.dtype == DType::BFloat16;
    if (dtype != DType::Float32 || !reduced) {
      Diagnostic& diagnostic = ctx.report(
          DiagId::InputModuleDType,
          fmt::format("{} is {} but {}'s parameters are {}", input.argument, dtype_name(input.dtype), norm, dtype_name(dtype)), &input);
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         dtype != DType::Float32 ? "mixed dtype (CPU): expect parameter to have scalar type of Float"
                                                 : "mixed dtype (CPU): all inputs must share same datatype.");
      ctx.add_input_dtype_fixes(diagnostic, input, dtype);
      return false;
    }
  }
  if (normalized_shape.empty()) {
    Diagnostic& diagnostic = ctx.report_option(DiagId::LayerNormShape, "normalized_shape is empty", "normalized_shape");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but got "
                       "normalized_shape = []");
    return false;
  }
  int count = static_cast<int>(normalized_shape.size());
  bool fits = input.rank() >= count;
  int first = input.rank() - count;
  for (int i = 0; fits && i < count; ++i) {
    fits = ctx.same(input.shape[first + i], DimExpr::constant(normalized_shape[i]), &input, first + i,
                    fmt::format("{} dim {} == normalized_shape", input.argument, first + i));
  }
  if (!fits) {
    std::string ending = input.rank() >= count ? tuple_str(Shape(input.shape.begin() + first, input.shape.end()))
                                                : fmt::format("has only {} dims", input.rank());
    Diagnostic& diagnostic = ctx.report(
        DiagId::LayerNormShape,
        fmt::format("{} normalises over the last {} dim{} {}, but {} {}{}", norm, count, count == 1 ? "" : "s", normalized, input.argument,
                    input.rank() >= count ? "ends in " : "", ending),
        &input, input.rank() >= count ? std::optional<int>(input.rank() - 1) : std::nullopt);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Given normalized_shape={}, expected input with shape [*, {}], but got input of size{}", normalized,
                                   fmt::join(normalized_shape, ", "), sizes_list(input.shape)));
    const bool per_head = count == 1 && propose_norm_after_split(ctx, diagnostic, input, normalized_shape.front());
    if (which.empty()) {
      diagnostic.related.push_back({fmt::format("normalized_shape = {}", normalized), ctx.option_location("normalized_shape")});
      if (input.rank() >= count) {
        Shape trailing(input.written.begin() + first, input.written.end());
        if (std::all_of(trailing.begin(), trailing.end(), [](const DimExpr& dim) { return dim.is_constant(); })) {
          nlohmann::json sizes = nlohmann::json::array();
          for (const DimExpr& dim : trailing) sizes.push_back(dim.offset);
          if (ctx.add_option_fix(diagnostic, fmt::format("construct with normalized_shape={}", sizes.dump()),
                                 {{"normalized_shape", count == 1 ? sizes[0] : sizes}}) &&
              per_head) {
            CallContext::label_last_fix(diagnostic, FixSemantics::Suspect,
                                        "the output is split into heads next: a norm over the whole width mixes the heads' statistics");
          }
        }
      }
    }
    if (input.rank() >= count) {
      Shape fixed = input.written;
      for (int i = 0; i < count; ++i) fixed[first + i] = DimExpr::constant(normalized_shape[i]);
      ctx.add_shape_fix(diagnostic, fmt::format("pass {} ending in {}", input.argument, normalized), {{&input, fixed}});
    }
    return false;
  }
  if (!is_floating(input.dtype)) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::InputModuleDType, fmt::format("{} is {}; {} takes floating point input", input.argument, dtype_name(input.dtype), norm), &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("\"LayerNormKernelImpl\" not implemented for '{}'", dtype_aten_name(input.dtype)));
    ctx.add_dtype_fix(diagnostic, fmt::format("pass {} as {}", input.argument, dtype_name(dtype)), input, dtype);
    return false;
  }
  return true;
}

namespace {

// The one dim a LayerNorm(C) normalises over named as a sequence: a (B, C, T) tensor not
// transposed, accepted because T == C (MHA261). A batch-like name (N is a batch in (N, C, H, W)
// but timm's token count in (B, N, C)) is too ambiguous to warn on alone.
// A normalized_shape of several dims covering one named as a sequence (LayerNorm([T, E]) of
// (B, T, E)) normalises each sequence as one block: every token's statistics mix all positions,
// and the module only takes that length. The features are the last dim: LayerNorm(E).
void check_normalized_roles(CallContext& ctx, const ArgValue& input, std::size_t normalized) {
  int last = input.rank() - 1;
  if (last < 0) return;
  if (normalized == 1) {
    // By name alone, as before: LayerNorm(N) of a (B, C, N) stays silent (conv_test keeps it so),
    // since an N there may be a batch-like count as much as the tokens; LayerNorm([N, C]) below,
    // which covers the features too, reads N beside a batch as the tokens.
    if (role_of_name(input.dim_name(last)) != DimRole::Sequence) return;
    Diagnostic& diagnostic = ctx.report(
        DiagId::LayerNormFeatureRole,
        fmt::format("{} {}: the LayerNorm normalises over dim {}, which holds \"{}\", a {}", input.argument, tuple_str(input.shape), last,
                    input.dim_name(last), role_name(DimRole::Sequence)),
        &input, last);
    diagnostic.notes.push_back("nn.LayerNorm normalises the last dims as features: a (B, C, T) tensor needs .transpose(1, 2) first; "
                               "PyTorch raises nothing when the sizes fit");
    return;
  }
  const int first = input.rank() - static_cast<int>(normalized);
  if (first < 0 || role_of_dim(input.dim_names, last) == DimRole::Sequence) return;
  for (int d = first; d < last; ++d) {
    if (role_of_dim(input.dim_names, d) != DimRole::Sequence) continue;
    Diagnostic& diagnostic = ctx.report(
        DiagId::LayerNormFeatureRole,
        fmt::format("{} {}: the LayerNorm normalises over dims {} to {}, among them dim {} \"{}\", a {}: each sequence is normalised as "
                    "one block, over all its positions",
                    input.argument, tuple_str(input.shape), first, last, d, input.dim_name(d), role_name(DimRole::Sequence)),
        &input, d);
    diagnostic.notes.push_back("a Transformer's LayerNorm normalises each token over its features: nn.LayerNorm(E); PyTorch raises "
                               "nothing, and the module only takes sequences of this length");
    const DimExpr features = ctx.symbols.resolve(input.shape[static_cast<std::size_t>(last)]);
    if (features.is_constant() && ctx.module != nullptr && ctx.written_option("normalized_shape")) {
      if (ctx.add_option_fix(diagnostic,
                             fmt::format("normalise the features only: nn.LayerNorm({}), normalized_shape={}", features.offset, features.offset),
                             {{"normalized_shape", features.offset}})) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each token is normalised over its own features");
      }
    }
    return;
  }
}

}  // namespace

void infer_layer_norm(CallContext& ctx) {
  const ModuleDecl& module = *ctx.module;
  std::vector<std::int64_t> normalized_shape = module.options.at("normalized_shape").get<std::vector<std::int64_t>>();
  if (module.flag("elementwise_affine") && !sizes_nonnegative(ctx, normalized_shape, "normalized_shape")) return;
  const ArgValue& input = ctx.arg("input");
  if (!layer_norm_accepts(ctx, input, normalized_shape, module.flag("elementwise_affine"), module.dtype(), "")) return;
  check_normalized_roles(ctx, input, normalized_shape.size());
  ctx.outputs.push_back({"output", input.shape, input.dtype});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);  // a new tensor, whatever the input's layout
}

// F.layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5): _check_layer_norm_inputs
// in its order (normalized_shape not empty, weight's and bias' shapes equal to it, the input's
// trailing dims), then the kernel's dtypes as for nn.LayerNorm with weight's dtype.
void infer_functional_layer_norm(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::vector<std::int64_t> normalized_shape = ctx.call.arguments.at("normalized_shape").get<std::vector<std::int64_t>>();
  const std::string normalized = fmt::format("[{}]", fmt::join(normalized_shape, ", "));
  if (normalized_shape.empty()) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::LayerNormShape, "normalized_shape is empty", "normalized_shape");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but got "
                       "normalized_shape = []");
    return;
  }
  Shape expected;
  for (std::int64_t size : normalized_shape) expected.push_back(DimExpr::constant(size));
  for (const char* name : {"weight", "bias"}) {
    const ArgValue& parameter = ctx.arg(name);
    if (!parameter.present) continue;
    bool equal = parameter.rank() == static_cast<int>(expected.size());
    for (int d = 0; equal && d < parameter.rank(); ++d) {
      equal = ctx.same(parameter.shape[static_cast<std::size_t>(d)], expected[static_cast<std::size_t>(d)], &parameter, d,
                       fmt::format("{} dim {} == normalized_shape", name, d));
    }
    if (equal) continue;
    Diagnostic& diagnostic =
        ctx.report(DiagId::LayerNormShape, fmt::format("{} is {} but normalized_shape is {}", name, tuple_str(parameter.shape), normalized), &parameter);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Expected {} to be of same shape as normalized_shape, but got {} of shape {} and normalized_shape = {}", name, name,
                                   sizes_list(parameter.shape), normalized));
    return;
  }
  const ArgValue& weight = ctx.arg("weight");
  if (!layer_norm_accepts(ctx, input, normalized_shape, weight.present, weight.present ? weight.dtype : input.dtype, "F.layer_norm")) return;
  check_normalized_roles(ctx, input, normalized_shape.size());
  ctx.outputs.push_back({"output", input.shape, input.dtype});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);
}

}  // namespace mhacheck
