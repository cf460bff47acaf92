// torch.where(condition, input, other): input's element where condition is True, other's
// elsewhere; input and other may be Python numbers (torch.where(mask, scores, float("-inf"))).
// PyTorch 2.x's where_self_out (aten/src/ATen/native/TensorCompare.cpp): the result dtype of
// input and other, then the condition's dtype (bool; uint8 with a deprecation warning), then one
// TensorIterator broadcast of condition, input and other, in that order.
#include <algorithm>

#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"
#include "ops/result_type.hpp"

namespace mhacheck {
namespace {

// An operand given as a tensor or as a Python number (kept in `number`).
const ArgValue& operand(const CallContext& ctx, const std::string& argument, ArgValue& number) {
  if (!ctx.call.arguments.contains(argument)) return ctx.arg(argument);
  number = wrapped_number(ctx, argument);
  return number;
}

}  // namespace

void infer_where(CallContext& ctx) {
  const ArgValue& condition = ctx.arg("condition");
  ArgValue input_number, other_number;
  const ArgValue& input = operand(ctx, "input", input_number);
  const ArgValue& other = operand(ctx, "other", other_number);
  if (condition.dtype != DType::Bool && condition.dtype != DType::UInt8) {
    Diagnostic& diagnostic =
        ctx.report(DiagId::WhereConditionDType, fmt::format("where's condition is {}; it must be bool", dtype_name(condition.dtype)), &condition);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("where expected condition to be a boolean tensor, but got a tensor with dtype {}", dtype_aten_name(condition.dtype)));
    ctx.add_dtype_fix(diagnostic, "pass condition as bool", condition, DType::Bool);
    return;
  }
  CallContext::BroadcastFailure failing;
  std::optional<Shape> shape = ctx.broadcast(condition.shape, input.shape, &input, "where's condition and input", failing);
  const ArgValue* blamed = &input;
  if (shape) {
    shape = ctx.broadcast(*shape, other.shape, &other, "where's condition, input and other", failing);
    blamed = &other;
  }
  if (!shape) {
    // failing.dim counts in the broadcast that failed: of condition and input, or of their
    // broadcast and other. The operand blamed beside: condition, or whichever of condition and
    // input gave that broadcast its size at the failing dim.
    const int rank = blamed == &input ? std::max(condition.rank(), input.rank()) : std::max({condition.rank(), input.rank(), other.rank()});
    auto dim_of = [&](const ArgValue& arg) { return failing.dim - (rank - arg.rank()); };
    auto holds = [&](const ArgValue& arg) {
      return dim_of(arg) >= 0 && ctx.symbols.resolve(arg.shape[static_cast<std::size_t>(dim_of(arg))]) == ctx.symbols.resolve(failing.a);
    };
    const ArgValue& against = blamed == &input || !holds(input) ? condition : input;
    Diagnostic& diagnostic = ctx.report(DiagId::AddBroadcast,
                                        fmt::format("where's {} {} does not broadcast with {} {}: {} vs {} at dim {} of the result",
                                                    blamed->argument, tuple_str(blamed->shape), against.argument, tuple_str(against.shape),
                                                    failing.b.str(), failing.a.str(), failing.dim),
                                        blamed, dim_of(*blamed));
    diagnostic.related.push_back(ctx.related(against, dim_of(against), fmt::format("{} has {} here", against.argument, failing.a.str())));
    ctx.pytorch_raises(diagnostic, "RuntimeError", broadcast_message(failing));
    return;
  }
  const bool input_is_number = &input == &input_number, other_is_number = &other == &other_number;
  DType dtype = input_is_number && other_is_number ? promote_types(input.dtype, other.dtype)
                : input_is_number                  ? result_type(other.dtype, other.shape.size(), input.dtype, std::nullopt)
                                                   : result_type(input.dtype, input.shape.size(), other.dtype,
                                                                 other_is_number ? std::nullopt : std::optional<std::size_t>(other.shape.size()));
  ctx.outputs.push_back({"output", *shape, dtype});
  const Layout scalar = Layout::contiguous({});
  ctx.output_layouts["output"] =
      elementwise_layout({&condition.layout, input_is_number ? &scalar : &input.layout, other_is_number ? &scalar : &other.layout}, *shape);
}

}  // namespace mhacheck
