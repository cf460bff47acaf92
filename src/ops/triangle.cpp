// torch.tril and torch.triu (also Tensor.tril/triu): the matrices of the last two dims with the
// elements above (tril) or below (triu) the diagonal-th diagonal zeroed. PyTorch 2.x's
// TORCH_META_FUNC(tril)/(triu) (aten/src/ATen/native/TriangularOps.cpp): at least 2 dims, an
// output of the input's sizes and dtype allocated contiguous (a transposed input's strides are
// not kept: measured the same in 1.13).
#include <fmt/format.h>

#include "ops/registry.hpp"

namespace mhacheck {

void infer_triangle(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (input.rank() < 2) {
    Diagnostic& diagnostic =
        ctx.report(DiagId::TriangleRank, fmt::format("{} of a {}-D tensor {}; it needs at least 2 dims", ctx.call.op, input.rank(), tuple_str(input.shape)), &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("{}: input tensor must have at least 2 dimensions", ctx.call.op));
    return;
  }
  ctx.outputs.push_back({"output", input.shape, input.dtype, input.dim_names});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);
}

}  // namespace mhacheck
