// torch.unsqueeze(input, dim) and torch.squeeze(input, dim=None): add a dim of size 1, or drop
// dims of size 1. unsqueeze's dim ranges over the result's dims (one more than input's).
#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_unsqueeze(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim = wrap_new_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  Shape shape = input.shape;
  shape.insert(shape.begin() + *dim, DimExpr::constant(1));
  // Each input dim keeps its name where it moves (by size alone, B == T would leave both unnamed).
  std::vector<std::string> names;
  for (int d = 0; d < input.rank(); ++d) names.push_back(input.dim_name(d));
  names.insert(names.begin() + *dim, "");
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = unsqueezed_layout(input.layout, *dim);
}

// A symbolic dim is kept: a symbol stands for a size that is not known to be 1.
void infer_squeeze(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const DimExpr one = DimExpr::constant(1);
  Shape shape;
  std::vector<int> dropped;
  if (ctx.call.arguments.at("dim").is_null()) {
    for (std::size_t d = 0; d < input.shape.size(); ++d) {
      if (input.shape[d] != one) shape.push_back(input.shape[d]);
      else dropped.push_back(static_cast<int>(d));
    }
  } else {
    std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
    if (!dim) return;
    shape = input.shape;
    if (!shape.empty() && shape[*dim] == one) {
      shape.erase(shape.begin() + *dim);  // a dim other than 1 stays, silently
      dropped.push_back(*dim);
    }
  }
  ctx.outputs.push_back({"output", shape, input.dtype});
  ctx.output_layouts["output"] = without_dims(input.layout, dropped);
}

}  // namespace mhacheck
