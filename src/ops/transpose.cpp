// torch.transpose(input, dim0, dim1): swaps two dims, each wrapped as PyTorch wraps dims.
#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_transpose(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim0 = wrap_dim(ctx, "dim0", int_argument(ctx, "dim0"), input.rank());
  if (!dim0) return;
  std::optional<int> dim1 = wrap_dim(ctx, "dim1", int_argument(ctx, "dim1"), input.rank());
  if (!dim1) return;
  Shape shape = input.shape;
  std::vector<std::string> names = input.dim_names;
  names.resize(shape.size());
  if (!shape.empty()) {  // a 0-D tensor transposes to itself
    std::swap(shape[*dim0], shape[*dim1]);
    std::swap(names[*dim0], names[*dim1]);
  }
  std::vector<int> order(shape.size());
  for (std::size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int>(d);
  if (!order.empty()) std::swap(order[*dim0], order[*dim1]);
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = permuted_layout(input.layout, order);
}

}  // namespace mhacheck
