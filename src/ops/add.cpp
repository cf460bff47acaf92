// torch.add(input, other): the shapes broadcast; the dtype is PyTorch's type promotion.
#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"

#include <fmt/format.h>

namespace mhacheck {
namespace {

// torch.result_type of two tensors: a 0-D tensor takes part only when its category (bool,
// integer, floating) is above the other operand's: float32 (3,) + float64 () is float32.
DType result_type(const ArgValue& a, const ArgValue& b) {
  if ((a.rank() == 0) == (b.rank() == 0)) return promote_types(a.dtype, b.dtype);
  const ArgValue& dimensioned = a.rank() == 0 ? b : a;
  const ArgValue& scalar = a.rank() == 0 ? a : b;
  return dtype_category(scalar.dtype) > dtype_category(dimensioned.dtype) ? promote_types(a.dtype, b.dtype) : dimensioned.dtype;
}

}  // namespace

void infer_add(CallContext& ctx) {
  const ArgValue &input = ctx.arg("input"), &other = ctx.arg("other");
  CallContext::BroadcastFailure failing;
  std::optional<Shape> shape = ctx.broadcast(input.shape, other.shape, &other, "input + other", failing);
  if (!shape) {
    // failing.dim counts in the broadcast shape; each operand's own dim is right-aligned to it.
    int rank = static_cast<int>(std::max(input.shape.size(), other.shape.size()));
    Diagnostic& diagnostic = ctx.report(
        DiagId::AddBroadcast,
        fmt::format("input {} and other {} do not broadcast: {} vs {} at dim {} of the result", tuple_str(input.shape), tuple_str(other.shape),
                    failing.a.str(), failing.b.str(), failing.dim),
        &other, failing.dim - (rank - other.rank()));
    diagnostic.related.push_back(ctx.related(input, failing.dim - (rank - input.rank()), fmt::format("input has {} here", failing.a.str())));
    ctx.pytorch_raises(diagnostic, "RuntimeError", broadcast_message(failing));
    return;
  }
  ctx.outputs.push_back({"output", *shape, result_type(input, other)});
}

}  // namespace mhacheck
