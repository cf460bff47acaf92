// torch.unsqueeze(input, dim) and torch.squeeze(input, dim=None): add a dim of size 1, or drop
// dims of size 1. unsqueeze's dim ranges over the result's dims (one more than input's).
#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_unsqueeze(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank() + 1);
  if (!dim) return;
  Shape shape = input.shape;
  shape.insert(shape.begin() + *dim, DimExpr::constant(1));
  ctx.outputs.push_back({"output", shape, input.dtype});
}

// A symbolic dim is kept: a symbol stands for a size that is not known to be 1.
void infer_squeeze(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const DimExpr one = DimExpr::constant(1);
  Shape shape;
  if (ctx.call.arguments.at("dim").is_null()) {
    for (const DimExpr& size : input.shape) {
      if (size != one) shape.push_back(size);
    }
  } else {
    std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
    if (!dim) return;
    shape = input.shape;
    if (!shape.empty() && shape[*dim] == one) shape.erase(shape.begin() + *dim);  // a dim other than 1 stays, silently
  }
  ctx.outputs.push_back({"output", shape, input.dtype});
}

}  // namespace mhacheck
