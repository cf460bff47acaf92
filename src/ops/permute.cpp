// torch.permute(input, dims): dims must name every dim of input exactly once. PyTorch checks
// the count first (its message says sparse_coo for dense tensors too), then wraps each dim.
#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_permute(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::vector<std::int64_t> dims = ctx.call.arguments.at("dims").get<std::vector<std::int64_t>>();
  if (static_cast<int>(dims.size()) != input.rank()) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::PermuteDims, fmt::format("dims has {} entries but input {} has {} dims", dims.size(), tuple_str(input.shape), input.rank()),
        "dims");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired "
                                   "ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                                   input.rank(), dims.size()));
    return;
  }
  Shape shape;
  std::vector<std::string> names;
  std::vector<bool> seen(dims.size(), false);
  std::vector<int> order;
  for (std::int64_t dim : dims) {
    std::optional<int> wrapped = wrap_dim(ctx, "dims", dim, input.rank());
    if (!wrapped) return;
    if (seen[*wrapped]) {
      Diagnostic& diagnostic =
          report_argument(ctx, DiagId::PermuteDims, fmt::format("dims names dim {} twice; each dim of the input appears once", *wrapped), "dims");
      ctx.pytorch_raises(diagnostic, "RuntimeError", "permute(): duplicate dims are not allowed.");
      return;
    }
    seen[*wrapped] = true;
    order.push_back(*wrapped);
    shape.push_back(input.shape[*wrapped]);
    names.push_back(input.dim_name(*wrapped));
  }
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = permuted_layout(input.layout, order);
}

}  // namespace mhacheck
