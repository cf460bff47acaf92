// Tensor.masked_fill(mask, value), out of place as PyTorch 2.x writes it: expand_outplace(mask,
// input) broadcasts the two (mutually: the result may be larger than input), then the in-place
// fill on the copy refuses a mask that is not bool. The dtype is input's.
#include <fmt/format.h>

#include "ops/mask_meaning.hpp"
#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_masked_fill(CallContext& ctx) {
  const ArgValue &input = ctx.arg("input"), &mask = ctx.arg("mask");
  CallContext::BroadcastFailure failing;
  std::optional<Shape> shape = ctx.broadcast(mask.shape, input.shape, &mask, "mask vs input", failing);
  if (!shape) {
    report_broadcast_failure(ctx, DiagId::MaskedFillShape,
                             fmt::format("mask {} does not broadcast with input {}: {} vs {} at dim {} of the result", tuple_str(mask.shape),
                                         tuple_str(input.shape), failing.a.str(), failing.b.str(), failing.dim),
                             mask, input, failing.b, failing);
    return;
  }
  if (mask.dtype != DType::Bool) {
    Diagnostic& diagnostic = ctx.report(DiagId::MaskedFillDType, fmt::format("mask is {}; masked_fill takes a bool mask", dtype_name(mask.dtype)), &mask);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("masked_fill_ only supports boolean masks, but got mask with dtype {}", dtype_typemeta_name(mask.dtype)));
    diagnostic.notes.push_back("PyTorch 1.13 accepted a uint8 or float mask (deprecated); 2.x refuses it");
    ctx.add_dtype_fix(diagnostic, "pass mask as bool (mask != 0)", mask, DType::Bool);
    return;
  }
  check_fill_mask_meaning(ctx, mask);
  ctx.outputs.push_back({"output", *shape, input.dtype});
  ctx.output_layouts["output"] = input.layout.is_contiguous() && input.shape == *shape ? Layout::contiguous(*shape) : Layout::unknown();
}

}  // namespace mhacheck
