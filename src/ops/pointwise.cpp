// The operators whose output has their input's shape: contiguous and clone (a copy), dropout
// (identity when it runs: evaluation mode), the activations relu, gelu, silu, tanh and
// sigmoid and the functions exp, log, sqrt, rsqrt, sin, cos, neg and abs, each with the dtypes
// its CPU kernel takes in PyTorch 2.x; logical_not and bitwise_not (`~`), the mask inversions.
#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"
#include "ops/result_type.hpp"

namespace mhacheck {
namespace {

// contiguous() copies into C order; the others run through TensorIterator (clone with
// MemoryFormat::Preserve), which keeps a dense input's strides.
void same_shape(CallContext& ctx, DType dtype) {
  const ArgValue& input = ctx.arg("input");
  ctx.outputs.push_back({"output", input.shape, dtype});
  ctx.output_layouts["output"] = ctx.call.op == "contiguous" ? Layout::contiguous(input.shape) : elementwise_layout({&input.layout}, input.shape);
}

// A kernel dispatched over floating types only: "\"GeluKernelImpl\" not implemented for 'Long'".
bool floating_kernel(CallContext& ctx, const std::string& op, const std::string& kernel) {
  const ArgValue& input = ctx.arg("input");
  if (is_floating(input.dtype)) return true;
  Diagnostic& diagnostic =
      ctx.report(DiagId::ActivationDType, fmt::format("{} of a {} tensor; it needs a floating dtype", op, dtype_name(input.dtype)), &input);
  ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("\"{}\" not implemented for '{}'", kernel, dtype_aten_name(input.dtype)));
  ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
  return false;
}

}  // namespace

void infer_same_shape(CallContext& ctx) { same_shape(ctx, ctx.arg("input").dtype); }

void infer_dropout(CallContext& ctx) {
  double p = ctx.call.arguments.at("p").get<double>();
  if (p < 0 || p > 1) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::DropoutProbability, fmt::format("p={} is not a probability", p), "p");
    ctx.pytorch_raises(diagnostic, "ValueError", fmt::format("dropout probability has to be between 0 and 1, but got {}", p));
    return;
  }
  same_shape(ctx, ctx.arg("input").dtype);
}

// clamp_min(0), which refuses bool.
void infer_relu(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (input.dtype == DType::Bool) {
    Diagnostic& diagnostic = ctx.report(DiagId::ActivationDType, "relu of a bool tensor", &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", "Boolean inputs not supported for relu");
    ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
    return;
  }
  same_shape(ctx, input.dtype);
}

void infer_gelu(CallContext& ctx) {
  const std::string approximate = ctx.call.arguments.at("approximate").get<std::string>();
  if (approximate != "none" && approximate != "tanh") {
    Diagnostic& diagnostic =
        report_argument(ctx, DiagId::GeluApproximate, fmt::format("approximate=\"{}\" is not \"none\" or \"tanh\"", approximate), "approximate");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "approximate argument must be either none or tanh.");
    return;
  }
  if (floating_kernel(ctx, "gelu", "GeluKernelImpl")) same_shape(ctx, ctx.arg("input").dtype);
}

void infer_silu(CallContext& ctx) {
  if (floating_kernel(ctx, "silu", "silu_cpu")) same_shape(ctx, ctx.arg("input").dtype);
}

// Unary floating functions: an integer or bool input gives the default dtype, float32.
void infer_tanh(CallContext& ctx) {
  DType dtype = ctx.arg("input").dtype;
  same_shape(ctx, is_floating(dtype) ? dtype : DType::Float32);
}

// torch.neg keeps the dtype and refuses bool (a mask is inverted by ~); torch.abs's CPU kernel
// dispatches over the numeric types only.
void infer_neg_abs(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (input.dtype == DType::Bool) {
    bool neg = ctx.call.op == "neg";
    Diagnostic& diagnostic = ctx.report(DiagId::ActivationDType, fmt::format("{} of a bool tensor", ctx.call.op), &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       neg ? "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the "
                             "`~` or `logical_not()` operator instead."
                           : "\"abs_cpu\" not implemented for 'Bool'");
    if (neg) diagnostic.notes.push_back("a bool mask is inverted with ~mask or mask.logical_not()");
    ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
    return;
  }
  same_shape(ctx, input.dtype);
}

// torch.logical_not reads any dtype as "is zero" and gives bool.
void infer_logical_not(CallContext& ctx) { same_shape(ctx, DType::Bool); }

// torch.bitwise_not (`~`) keeps the dtype: bool is inverted, integers have their bits flipped
// (~1 is -2, so `~mask` of an int 0/1 mask masks nothing); the CPU kernel dispatches over bool
// and the integer types only.
void infer_bitwise_not(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (is_floating(input.dtype)) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::ActivationDType, fmt::format("bitwise_not (~) of a {} tensor; it takes bool and integer tensors only", dtype_name(input.dtype)),
        &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("\"bitwise_not_cpu\" not implemented for '{}'", dtype_aten_name(input.dtype)));
    diagnostic.notes.push_back("written `~x` in Python, Tensor.__invert__ raises TypeError first: \"~ (operator.invert) is only implemented on "
                               "integer and Boolean-type tensors\"");
    ctx.add_dtype_fix(diagnostic, "pass input as bool", input, DType::Bool);
    return;
  }
  same_shape(ctx, input.dtype);
}

}  // namespace mhacheck

namespace mhacheck {

// torch.clamp(input, min=None, max=None) and clamp_min(input, min) with numbers: the result type
// of input and the numbers (a bool or integer tensor clamped by a float is float32), the shape kept.
void infer_clamp(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  DType dtype = input.dtype;
  bool bounded = false;
  for (const char* bound : {"min", "max"}) {
    const nlohmann::json& value = ctx.call.arguments.value(bound, nlohmann::json());
    if (value.is_null()) continue;
    bounded = true;
    dtype = result_type(dtype, input.shape.size(), number_dtype(value), std::nullopt);
  }
  if (!bounded) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::InputSchema, "clamp without min or max", "min");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "torch.clamp: At least one of 'min' or 'max' must not be None");
    return;
  }
  same_shape(ctx, dtype);
}

// torch.flip(input, dims): each dim wrapped and listed once; a new tensor of input's shape.
void infer_flip(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::vector<bool> seen(static_cast<std::size_t>(std::max(input.rank(), 1)), false);
  for (std::int64_t dim : ctx.call.arguments.at("dims").get<std::vector<std::int64_t>>()) {
    std::optional<int> wrapped = wrap_dim(ctx, "dims", dim, input.rank());
    if (!wrapped) return;
    if (seen[static_cast<std::size_t>(*wrapped)]) {
      Diagnostic& diagnostic = report_argument(ctx, DiagId::PermuteDims, fmt::format("dims names dim {} twice", *wrapped), "dims");
      ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("dim {} appears multiple times in the list of dims", *wrapped));
      return;
    }
    seen[static_cast<std::size_t>(*wrapped)] = true;
  }
  ctx.outputs.push_back({"output", input.shape, input.dtype, input.dim_names});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);
}

}  // namespace mhacheck
