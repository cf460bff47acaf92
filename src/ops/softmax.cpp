// torch.softmax(input, dim): the shape is kept; the CPU kernels take floating types only (2.x
// includes float16 and bfloat16). The kernel named in the error depends on the dim.
#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_softmax(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  if (!is_floating(input.dtype)) {
    Diagnostic& diagnostic = ctx.report(DiagId::SoftmaxDType, fmt::format("softmax of a {} tensor; it needs a floating dtype", dtype_name(input.dtype)), &input);
    bool last = *dim == std::max(input.rank(), 1) - 1;
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("\"{}\" not implemented for '{}'", last ? "softmax_lastdim_kernel_impl" : "softmax_kernel_impl",
                                   dtype_aten_name(input.dtype)));
    ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
    return;
  }
  ctx.outputs.push_back({"output", input.shape, input.dtype});
  ctx.output_layouts["output"] = input.layout.is_contiguous() ? Layout::contiguous(input.shape) : Layout::unknown();
}

}  // namespace mhacheck
