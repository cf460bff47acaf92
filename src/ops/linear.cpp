// nn.Linear and F.linear: (*, in_features) -> (*, out_features). PyTorch 2.x's at::linear runs
// addmm when there is a bias (a 2-D input directly, an N-D contiguous input flattened to 2-D
// first) and matmul otherwise; either way the failing product is reported as the 2-D matrices
// it multiplied, dtype before shape.
#include <fmt/format.h>

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
    if (features.is_constant()) {
      ctx.add_option_fix(diagnostic, fmt::format("construct with in_features={}", features.offset), {{"in_features", features.offset}});
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

}  // namespace mhacheck
