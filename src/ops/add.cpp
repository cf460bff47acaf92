// torch.add(input, other): the shapes broadcast; the dtype is PyTorch's type promotion.
#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"

#include <fmt/format.h>

namespace mhacheck {
namespace {

int category(DType dtype) { return dtype == DType::Bool ? 0 : (is_floating(dtype) ? 2 : 1); }

// torch.promote_types for the dtypes mhacheck knows.
DType promote(DType a, DType b) {
  if (a == b) return a;
  if (category(a) != category(b)) return category(a) > category(b) ? a : b;
  if (category(a) == 2) {
    if ((a == DType::Float16 && b == DType::BFloat16) || (a == DType::BFloat16 && b == DType::Float16)) return DType::Float32;
    auto width = [](DType t) { return t == DType::Float64 ? 3 : (t == DType::Float32 ? 2 : 1); };
    return width(a) >= width(b) ? a : b;
  }
  // Integers: uint8 with int8 needs int16; otherwise the wider (uint8 is the narrowest).
  if ((a == DType::UInt8 && b == DType::Int8) || (a == DType::Int8 && b == DType::UInt8)) return DType::Int16;
  auto width = [](DType t) { return t == DType::Int64 ? 4 : t == DType::Int32 ? 3 : t == DType::Int16 ? 2 : 1; };
  return width(a) >= width(b) ? a : b;
}

// torch.result_type of two tensors: a 0-D tensor takes part only when its category (bool,
// integer, floating) is above the other operand's: float32 (3,) + float64 () is float32.
DType result_type(const ArgValue& a, const ArgValue& b) {
  if ((a.rank() == 0) == (b.rank() == 0)) return promote(a.dtype, b.dtype);
  const ArgValue& dimensioned = a.rank() == 0 ? b : a;
  const ArgValue& scalar = a.rank() == 0 ? a : b;
  return category(scalar.dtype) > category(dimensioned.dtype) ? promote(a.dtype, b.dtype) : dimensioned.dtype;
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
