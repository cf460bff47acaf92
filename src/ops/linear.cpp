// nn.Linear and F.linear: (*, in_features) -> (*, out_features). PyTorch 2.x's at::linear runs
// addmm when there is a bias (a 2-D input directly, an N-D contiguous input flattened to 2-D
// first) and matmul otherwise; either way the failing product is reported as the 2-D matrices
// it multiplied, dtype before shape.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "check/dim_origin.hpp"
#include "mhacheck/python_text.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

std::string linear_dtype_message(DType input, DType weight, bool addmm) {
  return addmm ? fmt::format("mat1 and mat2 must have the same dtype, but got {} and {}", dtype_aten_name(input), dtype_aten_name(weight))
               : fmt::format("expected m1 and m2 to have the same dtype, but got: {} != {}", dtype_typemeta_name(input),
                             dtype_typemeta_name(weight));
}

namespace {

bool dtypes_match(CallContext& ctx, const ArgValue& input, DType weight_dtype, bool addmm, const std::string& layer) {
  if (input.dtype == weight_dtype) return true;
  Diagnostic& diagnostic = ctx.report(
      DiagId::InputModuleDType,
      fmt::format("{} is {} but {}'s parameters are {}", input.argument, dtype_name(input.dtype), layer, dtype_name(weight_dtype)), &input);
  ctx.pytorch_raises(diagnostic, "RuntimeError", linear_dtype_message(input.dtype, weight_dtype, addmm));
  ctx.add_input_dtype_fixes(diagnostic, input, weight_dtype);
  return false;
}

// The Linear modules of `in_features` whose calls read the tensor named `input` (the checked
// call's module among them), in call order; and whether another Linear of that in_features reads
// another tensor (to_q beside to_k and to_v: the modules were built alike for inputs of one
// width, and this input comes from another source, so its width is its own).
struct SameInputLinears {
  std::vector<const ModuleDecl*> modules;
  bool sibling_reads_another = false;
};

SameInputLinears same_input_linears(const CallContext& ctx, const std::string& input, std::int64_t in_features) {
  SameInputLinears found;
  for (const CallDecl& call : ctx.spec.calls) {
    const ModuleDecl* module = call.module.empty() ? nullptr : ctx.spec.find_module(call.module);
    auto read = call.tensors.find("input");
    if (!module || module->type != "Linear" || module->integer("in_features") != in_features || read == call.tensors.end() ||
        read->second.kind != ArgRef::Kind::Named) {
      continue;
    }
    if (read->second.name != input) {
      found.sibling_reads_another = true;
    } else if (std::find(found.modules.begin(), found.modules.end(), module) == found.modules.end()) {
      found.modules.push_back(module);
    }
  }
  return found;
}

// Sets in_features of each of `modules`, written at the top level (an object's key or its own
// constructor string); nullopt when one is nested in another's constructor.
std::optional<nlohmann::json> in_features_patch(const Spec& spec, const std::vector<const ModuleDecl*>& modules, std::int64_t in_features) {
  nlohmann::json patch = nlohmann::json::array();
  for (const ModuleDecl* module : modules) {
    if (!module->written_as_call) {
      patch.push_back({{"op", "add"}, {"path", child_pointer(module->pointer, "in_features")}, {"value", in_features}});
      continue;
    }
    const nlohmann::json& text = spec.value().at(nlohmann::json::json_pointer(module->pointer));
    if (!module->path_in_call.empty() || !text.is_string()) return std::nullopt;
    nlohmann::json constructor = parse_module_call(text.get<std::string>(), Location{});
    constructor["in_features"] = in_features;
    patch.push_back({{"op", "replace"}, {"path", module->pointer}, {"value", module_call_text(constructor)}});
  }
  return patch;
}

// A Linear whose in_features is not its input's width: the module built for the width, or the
// input given that width. When the input is also read by other Linears of that in_features, one
// fix builds them all for it; when a sibling Linear reads another tensor of that width, the
// input is the right one and the modules are wrong (diffusers' to_k and to_v left
// Linear(320, 320) for 768-wide text states, beside to_q on the 320-wide latents).
void propose_in_features(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input, std::int64_t features, std::int64_t in_features) {
  const ArgRef& read = ctx.call.tensor("input");
  SameInputLinears linears = read.kind == ArgRef::Kind::Named ? same_input_linears(ctx, read.name, in_features) : SameInputLinears{};
  std::optional<nlohmann::json> patch = linears.modules.size() > 1 ? in_features_patch(ctx.spec, linears.modules, features) : std::nullopt;
  if (!patch) {
    if (!ctx.add_option_fix(diagnostic, fmt::format("construct with in_features={}", features), {{"in_features", features}})) return;
  } else {
    std::string names;
    for (std::size_t i = 0; i < linears.modules.size(); ++i) {
      names += (i == 0 ? "" : i + 1 == linears.modules.size() ? " and " : ", ") + linears.modules[i]->name;
    }
    ctx.add_patch_fix(diagnostic, fmt::format("construct {}, which read {}, with in_features={}", names, tensor_name(input), features),
                      std::move(*patch));
  }
  if (linears.sibling_reads_another) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                fmt::format("a Linear of in_features={} reads another tensor of that width: {} comes from another source, "
                                            "and its width is its own",
                                            in_features, tensor_name(input)));
  }
}

// Why the input's width is not its features when a call's own dim argument made its last dim:
// a reduction over the features without keepdim (ViT pooled with mean(dim=-1): the tokens are
// left last), or pieces that together are in_features wide joined on another dim (per-head
// outputs concatenated on dim 0). A Linear built for that width only makes the slip fit.
std::optional<std::string> features_moved_upstream(const ArgValue& input, std::int64_t in_features) {
  const CallDecl* made = input.producer;
  if (!made || !made->arguments.contains("dim")) return std::nullopt;
  const int rank = input.rank();
  // A reduction over a list of dims (a channels-last map pooled with mean([-2, -1])) that
  // includes its input's last.
  const nlohmann::json& reduced = made->arguments["dim"];
  const nlohmann::json listed = reduced.is_array() ? reduced : nlohmann::json::array({reduced});
  const auto count = static_cast<std::int64_t>(listed.size());
  const bool reduced_last = std::any_of(listed.begin(), listed.end(), [&](const nlohmann::json& d) {
    return d.is_number_integer() && (d == -1 || d == rank + count - 1);
  });
  if ((made->op == "sum" || made->op == "mean" || made->op == "amax") && !made->arguments.value("keepdim", false) && reduced_last) {
    return fmt::format("{} of call \"{}\" reduced the features (the last dim) and left {} last: a Linear of that width reads them as features",
                       made->op, made->id, input.shape.back().str());
  }
  if (!reduced.is_number_integer()) return std::nullopt;
  std::int64_t dim = reduced.get<std::int64_t>();
  std::size_t pieces = made->op == "cat" ? made->list_size("tensors") : 0;
  const DimExpr& width = input.shape.back();
  if (pieces > 1 && dim != -1 && dim != rank - 1 && width.is_constant() &&
      width.offset * static_cast<std::int64_t>(pieces) == in_features) {
    return fmt::format("the {} pieces joined by cat call \"{}\" on dim {} are together in_features={} wide: joined on their last dim they fit",
                       pieces, made->id, dim, in_features);
  }
  return std::nullopt;
}

// Why the input's width is not the Linear's to match when the input holds in_features at one
// other dim, past the leading batch dim: a Linear over a dim that is not last (talking-heads
// attention mixes the heads of (B, H, N, N) scores with Linear(H, H), on the scores moved to
// (B, N, N, H) and back). Built for the last dim's width, it would mix what that dim holds (the
// keys) instead.
std::optional<std::string> features_held_elsewhere(const ArgValue& input, std::int64_t in_features) {
  std::optional<int> held;
  for (int d = 1; d + 1 < input.rank(); ++d) {
    if (!(input.shape[static_cast<std::size_t>(d)] == DimExpr::constant(in_features))) continue;
    if (held) return std::nullopt;  // two dims of that width: which one is unsaid
    held = d;
  }
  if (!held) return std::nullopt;
  return fmt::format("{} holds in_features={} at dim {}: the Linear was built for that dim, which is to be moved last (and back after)",
                     tensor_name(input).empty() ? input.argument : tensor_name(input), in_features, *held);
}

// A view, reshape or flatten that merged a tensor's token dims into its features ((B, 197, 768)
// viewed (B, -1): 197 * 768 features) before a Linear whose in_features is the last dim before
// the merge (768): the Linear takes one vector per entry, so the tokens were to be pooled, as
// ViT's head reads the class token x[:, 0] or the mean over the tokens. Offers both in place of
// the merge; returns why a Linear built for the merged width is suspect.
std::optional<std::string> propose_pooled_tokens(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input, std::int64_t in_features) {
  const CallDecl* merge = input.producer;
  if (merge == nullptr || (merge->op != "view" && merge->op != "reshape" && merge->op != "flatten") || !CallContext::index_in_calls(*merge) ||
      merge->outputs.size() != 1) {
    return std::nullopt;
  }
  const std::string source = input_name(*merge, "input");
  std::optional<Shape> written = source.empty() ? std::nullopt : checked_tensor_shape(ctx, source, merge);
  const int kept = input.rank() - 1;  // the leading (batch) dims the merge keeps
  if (!written || kept < 1) return std::nullopt;
  const Shape unmerged = ctx.symbols.resolve(*written);
  const int rank = static_cast<int>(unmerged.size());
  if (rank < kept + 2 || !(unmerged.back() == DimExpr::constant(in_features))) return std::nullopt;
  for (int d = 0; d < kept; ++d) {
    if (ctx.symbols.compare(unmerged[static_cast<std::size_t>(d)], input.shape[static_cast<std::size_t>(d)]) != Symbols::Verdict::Equal) return std::nullopt;
  }
  std::string leading;
  for (int d = 0; d < kept; ++d) leading += ":, ";
  nlohmann::json tokens = nlohmann::json::array();
  for (int d = kept; d + 1 < rank; ++d) tokens.push_back(d);
  const nlohmann::json pooled_dims = tokens.size() == 1 ? tokens.front() : tokens;
  const std::string consistent = fmt::format("one {}-wide vector per entry, the width the Linear takes", in_features);
  if (tokens.size() == 1) {
    const std::string index = "[" + leading + "0]";
    ctx.add_patch_fix(diagnostic,
                      fmt::format("pool the tokens before the Linear: {}{} (the first, class, token) in place of call \"{}\"'s {}", source, index,
                                  merge->id, merge->op),
                      {{{"op", "replace"},
                        {"path", merge->pointer},
                        {"value", {{"id", merge->id}, {"op", "getitem"}, {"input", source}, {"index", index}, {"outputs", merge->outputs}}}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, consistent);
  }
  ctx.add_patch_fix(diagnostic,
                    fmt::format("pool the tokens before the Linear: {}.mean(dim={}) in place of call \"{}\"'s {}", source,
                                tokens.size() == 1 ? pooled_dims.dump() : fmt::format("({})", fmt::join(tokens.get<std::vector<int>>(), ", ")), merge->id,
                                merge->op),
                    {{{"op", "replace"},
                      {"path", merge->pointer},
                      {"value", {{"id", merge->id}, {"op", "mean"}, {"input", source}, {"dim", pooled_dims}, {"outputs", merge->outputs}}}}});
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, consistent);
  return fmt::format("call \"{}\" ({}) merged the tokens of {} into the features: a Linear of that width reads every token's features as one vector",
                     merge->id, merge->op, source);
}

// F.linear with a 1-D weight (a dot product per row) and a bias, as at::linear runs it: with a
// 2-D input, or a contiguous one of 3 dims (of more with a 1-D bias), the fused addmm, which
// takes only a 2-D weight; otherwise the product, input's leading dims, then the bias added in
// place, which must broadcast to that product without growing it. Dtypes that differ are left
// to the checks after (addmm compares them first).
bool bias_fits_vector_product(CallContext& ctx, const ArgValue& input, const ArgValue& weight, const ArgValue& bias) {
  if (input.dtype != weight.dtype || bias.dtype != weight.dtype) return true;
  const bool addmm = input.rank() == 2 || (input.rank() > 2 && input.layout.is_contiguous() && (input.rank() == 3 || bias.rank() == 1));
  if (addmm) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::InputRank,
        fmt::format("weight is 1-D; F.linear with a bias runs addmm on the {}-D input, which needs a (out_features, in_features) weight",
                    input.rank()),
        &weight);
    ctx.pytorch_raises(diagnostic, "RuntimeError", "mat2 must be a matrix, got 1-D tensor");
    diagnostic.notes.push_back(fmt::format("weight[None] is the (1, {}) matrix of one output feature", weight.shape[0].str()));
    return false;
  }
  const Shape product(input.shape.begin(), input.shape.end() - 1);
  CallContext::BroadcastFailure failing;
  std::optional<Shape> added = ctx.broadcast(product, bias.shape, &bias, "bias broadcast to the product", failing);
  if (added && *added == product) return true;
  Diagnostic& diagnostic = ctx.report(
      DiagId::AddBroadcast,
      fmt::format("bias is {} but input {} times the 1-D weight {} is {}", tuple_str(bias.shape), tuple_str(input.shape), tuple_str(weight.shape),
                  tuple_str(product)),
      &bias);
  ctx.pytorch_raises(diagnostic, "RuntimeError",
                     added ? fmt::format("output with shape {} doesn't match the broadcast shape {}", sizes_list(product), sizes_list(*added))
                           : fmt::format("The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}", failing.a.str(),
                                         failing.b.str(), failing.dim));
  return false;
}

}  // namespace

bool linear_accepts(CallContext& ctx, const ArgValue& input, std::int64_t in_features, std::int64_t out_features, bool bias,
                    DType weight_dtype, const std::string& which) {
  std::string layer = which.empty() ? "the Linear" : which;
  if (input.rank() == 0) {
    Diagnostic& diagnostic = ctx.report(DiagId::InputRank, fmt::format("{} is 0-D; {} needs at least its features dim", input.argument, layer), &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", "both arguments to linear need to be at least 1D, but they are 0D and 2D");
    return false;
  }
  // addmm (with a bias) checks the dtypes before the shapes; mm (without) the other way round.
  if (bias && !dtypes_match(ctx, input, weight_dtype, bias, layer)) return false;
  int feature = input.rank() - 1;
  const DimExpr& features = input.shape[feature];
  if (ctx.same(features, DimExpr::constant(in_features), &input, feature, fmt::format("{} features == in_features", input.argument))) {
    return bias || dtypes_match(ctx, input, weight_dtype, bias, layer);
  }
  Diagnostic& diagnostic = ctx.report(
      DiagId::LinearFeatures,
      fmt::format("{} has {} features (its last dim) but {} takes in_features={}", input.argument, features.str(), layer, in_features),
      &input, feature);
  Shape leading(input.shape.begin(), input.shape.end() - 1);
  ctx.pytorch_raises(diagnostic, "RuntimeError",
                     fmt::format("mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", numel_str(leading), features.str(),
                                 in_features, out_features));
  if (which.empty()) {
    diagnostic.related.push_back({fmt::format("in_features = {}", in_features), ctx.option_location("in_features")});
    // Pooling fixes first: when the merge's tokens explain the width, a Linear built for it is suspect.
    std::optional<std::string> merged = propose_pooled_tokens(ctx, diagnostic, input, in_features);
    if (features.is_constant()) {
      const std::size_t fixes_before = diagnostic.fixes.size();
      propose_in_features(ctx, diagnostic, input, features.offset, in_features);
      std::optional<std::string> moved = merged ? merged : features_moved_upstream(input, in_features);
      if (!moved) moved = features_held_elsewhere(input, in_features);
      if (moved && diagnostic.fixes.size() > fixes_before) CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, *moved);
    }
  }
  Shape fixed = input.written;
  fixed[feature] = DimExpr::constant(in_features);
  ctx.add_shape_fix(diagnostic, fmt::format("pass {} with {} features", input.argument, in_features), {{&input, fixed}});
  return false;
}

void infer_linear(CallContext& ctx) {
  const ModuleDecl& module = *ctx.module;
  std::int64_t in_features = module.integer("in_features"), out_features = module.integer("out_features");
  if (!sizes_nonnegative(ctx, {out_features, in_features}, out_features < 0 ? "out_features" : "in_features")) return;
  const ArgValue& input = ctx.arg("input");
  if (!linear_accepts(ctx, input, in_features, out_features, module.flag("bias"), module.dtype(), "")) return;
  Shape output = input.shape;
  output.back() = DimExpr::constant(out_features);
  // The leading dims stay what they were; the features are new, named only when they keep the
  // input's width (Linear(E, E)): another input dim of their size (T == 64 features) is not them.
  std::vector<std::string> names = input.dim_names;
  names.resize(output.size());
  if (!(output.back() == input.shape.back())) names.back().clear();
  ctx.outputs.push_back({"output", output, input.dtype, names});
  ctx.output_layouts["output"] = Layout::contiguous(output);  // a new tensor, whatever the input's layout
}

// F.linear(input, weight, bias=None) with the weight a tensor (out_features, in_features), as
// at::linear runs it: weight.t() (at most 2-D), then the dtypes and the contracted dim of the
// product, then a bias that must expand to (rows, out_features) (addmm's message, of the input
// flattened to 2-D; other ranks add it after the product).
void infer_functional_linear(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const ArgValue& weight = ctx.arg("weight");
  const ArgValue& bias = ctx.arg("bias");
  if (weight.rank() > 2) {
    Diagnostic& diagnostic =
        ctx.report(DiagId::InputRank, fmt::format("weight is {}-D; F.linear takes a (out_features, in_features) weight", weight.rank()), &weight);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("t() expects a tensor with <= 2 dimensions, but self is {}D", weight.rank()));
    return;
  }
  if (input.rank() == 0 || weight.rank() == 0) {
    Diagnostic& diagnostic = ctx.report(DiagId::InputRank, "F.linear's input and weight need at least one dim each", input.rank() == 0 ? &input : &weight);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("both arguments to linear need to be at least 1D, but they are {}D and {}D", input.rank(), weight.rank()));
    return;
  }
  if (weight.rank() == 1 && bias.present && !bias_fits_vector_product(ctx, input, weight, bias)) return;
  const int feature = input.rank() - 1;
  const DimExpr& features = input.shape.back();
  const DimExpr& in_features = weight.shape.back();
  const std::optional<DimExpr> out_features = weight.rank() == 2 ? std::optional<DimExpr>(weight.shape.front()) : std::nullopt;
  if (!ctx.same(features, in_features, &input, feature, fmt::format("{} features == weight's in_features", input.argument))) {
    Diagnostic& diagnostic = ctx.report(DiagId::LinearFeatures,
                                        fmt::format("{} has {} features (its last dim) but weight {} takes in_features={}", input.argument,
                                                    features.str(), tuple_str(weight.shape), in_features.str()),
                                        &input, feature);
    diagnostic.related.push_back(ctx.related(weight, weight.rank() - 1, fmt::format("weight's in_features = {}", in_features.str())));
    if (out_features) {
      Shape leading(input.shape.begin(), input.shape.end() - 1);
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         fmt::format("mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", numel_str(leading), features.str(), in_features.str(),
                                     out_features->str()));
    }
    return;
  }
  if (input.dtype != weight.dtype) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::InputModuleDType, fmt::format("{} is {} but weight is {}", input.argument, dtype_name(input.dtype), dtype_name(weight.dtype)), &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", linear_dtype_message(input.dtype, weight.dtype, bias.present));
    ctx.add_dtype_fix(diagnostic, fmt::format("pass {} as {}", input.argument, dtype_name(weight.dtype)), input, weight.dtype);
    return;
  }
  if (input.dtype == DType::Bool && !(features == DimExpr::constant(0))) {
    // The CPU product kernels take no bool: dot of two vectors, mv of a 1-D weight, else addmm.
    const char* kernel = weight.rank() == 1 ? (input.rank() == 1 ? "dot" : "addmv_impl_cpu") : "addmm_impl_cpu_";
    Diagnostic& diagnostic = ctx.report(DiagId::MatmulDType, "F.linear of bool tensors: no CPU kernel multiplies bool", &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("\"{}\" not implemented for 'Bool'", kernel));
    ctx.add_dtype_fix(diagnostic, fmt::format("pass {} as float32", input.argument), input, DType::Float32);
    return;
  }
  Shape output(input.shape.begin(), input.shape.end() - 1);
  if (out_features) output.push_back(*out_features);
  if (bias.present && out_features) {
    const bool fits = bias.rank() == 0 || (bias.rank() == 1 && (bias.shape[0] == DimExpr::constant(1) || ctx.same(bias.shape[0], *out_features, &bias, 0, "bias size == out_features")));
    if (!fits) {
      Diagnostic& diagnostic = ctx.report(
          DiagId::AddBroadcast, fmt::format("bias is {} but weight {} makes {} output features", tuple_str(bias.shape), tuple_str(weight.shape), out_features->str()),
          &bias);
      if (bias.rank() == 1 && input.rank() <= 3) {
        Shape leading(input.shape.begin(), input.shape.end() - 1);
        ctx.pytorch_raises(diagnostic, "RuntimeError",
                           fmt::format("The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension 1.  "
                                       "Target sizes: [{}, {}].  Tensor sizes: {}",
                                       out_features->str(), bias.shape[0].str(), numel_str(leading), out_features->str(), sizes_list(bias.shape)));
      }
      return;
    }
  }
  if (bias.present && bias.dtype != weight.dtype) {
    Diagnostic& diagnostic =
        ctx.report(DiagId::InputModuleDType, fmt::format("bias is {} but weight is {}", dtype_name(bias.dtype), dtype_name(weight.dtype)), &bias);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("self and mat2 must have the same dtype, but got {} and {}", dtype_typemeta_name(bias.dtype), dtype_typemeta_name(weight.dtype)));
    ctx.add_dtype_fix(diagnostic, fmt::format("pass bias as {}", dtype_name(weight.dtype)), bias, weight.dtype);
    return;
  }
  std::vector<std::string> names = input.dim_names;
  names.resize(output.size());
  if (out_features && !(output.back() == features)) names.back().clear();
  ctx.outputs.push_back({"output", output, input.dtype, names});
  ctx.output_layouts["output"] = Layout::contiguous(output);
}

}  // namespace mhacheck
