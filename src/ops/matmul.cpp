// torch.matmul(input, other): 1-D, 2-D and batched products (matmul_shape.hpp). Both operands
// must have one dtype: the kernels refuse mixed dtypes (the wording differs by kernel and
// release, so mhacheck reports it without quoting PyTorch).
#include <fmt/format.h>

#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_matmul(CallContext& ctx) {
  const ArgValue &input = ctx.arg("input"), &other = ctx.arg("other");
  if (input.dtype != other.dtype && input.rank() > 0 && other.rank() > 0) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::MatmulDType, fmt::format("input is {} but other is {}; matmul needs one dtype", dtype_name(input.dtype), dtype_name(other.dtype)),
        &other);
    ctx.add_dtype_fix(diagnostic, fmt::format("pass other as {}", dtype_name(input.dtype)), other, input.dtype);
    return;
  }
  MatmulFailure failure;
  int contracted = other.rank() == 1 ? 0 : other.rank() - 2;
  std::optional<Shape> shape = matmul_shape(ctx, input.shape, other.shape, &other, contracted, "input @ other", failure);
  if (shape) {
    check_product_roles(ctx, input, other, contracted);
    ctx.outputs.push_back({"output", *shape, input.dtype, product_names(input, other, *shape)});
    // mm and bmm write new tensors; a matrix or vector times a batch may come back transposed.
    bool fresh = input.rank() >= 2 && other.rank() >= 2 && (input.rank() >= 3 || other.rank() == 2);
    ctx.output_layouts["output"] = fresh ? Layout::contiguous(*shape) : Layout::unknown();
    return;
  }
  Diagnostic* diagnostic = nullptr;
  switch (failure.kind) {
    case MatmulFailure::Kind::Rank:
      diagnostic = &ctx.report(DiagId::MatmulRank, "matmul needs operands of at least 1-D", input.rank() == 0 ? &input : &other);
      break;
    case MatmulFailure::Kind::Batch:
      diagnostic = &ctx.report(DiagId::MatmulBatch,
                               fmt::format("the batch dims of input {} and other {} do not broadcast ({} vs {})", tuple_str(input.shape),
                                           tuple_str(other.shape), failure.broadcast.a.str(), failure.broadcast.b.str()),
                               &other);
      break;
    case MatmulFailure::Kind::Contraction:
      diagnostic = &ctx.report(DiagId::MatmulContraction,
                               fmt::format("input {} has {} columns but other {} has {} rows", tuple_str(input.shape), input.shape.back().str(),
                                           tuple_str(other.shape), other.rank() == 1 ? other.shape[0].str() : other.shape[other.rank() - 2].str()),
                               &other, contracted);
      diagnostic->related.push_back(ctx.related(input, input.rank() - 1, fmt::format("input's last dim = {}", input.shape.back().str())));
      break;
  }
  ctx.pytorch_raises(*diagnostic, "RuntimeError", failure.message);
}

}  // namespace mhacheck
