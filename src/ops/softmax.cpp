// torch.softmax(input, dim): the shape is kept; the CPU kernels take floating types only (2.x
// includes float16 and bfloat16). The kernel named in the error depends on the dim.
#include <fmt/format.h>

#include "check/roles.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/mask_meaning.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// Attention normalises over the keys. A softmax dim named as a batch or a head count, in a tensor
// that also has a dim named as a sequence, normalises across batch entries or heads (MHA265); the
// fix normalises over the last sequence dim. Without a sequence dim there is nothing to say (a
// (B, B) similarity matrix is softmaxed over a batch dim on purpose).
void check_softmax_dim_role(CallContext& ctx, const ArgValue& input, int dim) {
  DimRole role = role_of_name(input.dim_name(dim));
  if (role != DimRole::Batch && role != DimRole::Heads) return;
  int sequence = input.rank() - 1;
  while (sequence >= 0 && role_of_name(input.dim_name(sequence)) != DimRole::Sequence) --sequence;
  if (sequence < 0) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxDimRole,
      fmt::format("softmax over dim {} (\"{}\", a {}) normalises across {}, not over the sequence dim {} (\"{}\")", dim,
                  input.dim_name(dim), role_name(role), role == DimRole::Batch ? "batch entries" : "heads", sequence,
                  input.dim_name(sequence)),
      &input, dim);
  int fixed = sequence == input.rank() - 1 ? -1 : sequence;
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={} (\"{}\")", fixed, input.dim_name(sequence)), "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each query's weights sum to 1 over the sequence");
  }
}

}  // namespace

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
  check_softmax_dim_role(ctx, input, *dim);
  check_fill_before_softmax(ctx, input);
  ctx.outputs.push_back({"output", input.shape, input.dtype});
  ctx.output_layouts["output"] = input.layout.is_contiguous() ? Layout::contiguous(input.shape) : Layout::unknown();
}

}  // namespace mhacheck
