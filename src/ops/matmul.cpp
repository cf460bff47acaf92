// torch.matmul(input, other): 1-D, 2-D and batched products (matmul_shape.hpp). Both operands
// must have one dtype: the kernels refuse mixed dtypes (the wording differs by kernel and
// release, so mhacheck reports it without quoting PyTorch), and bool (no kernel multiplies it).
#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>

#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// No CPU kernel of matmul's paths multiplies bool: dot refuses it always, mv, mm and bmm only when
// they run, so an empty product or a contraction over 0 elements passes. The kernel is the one
// matmul's dispatch picks by the operands' ranks; nullopt when the kernel runs for bool.
std::optional<std::string> bool_kernel(const ArgValue& input, const ArgValue& other, const Shape& product) {
  if (input.rank() == 1 && other.rank() == 1) return "dot";
  const DimExpr zero = DimExpr::constant(0);
  bool empty = std::any_of(product.begin(), product.end(), [&](const DimExpr& dim) { return dim == zero; });
  if (empty || input.shape.back() == zero) return std::nullopt;
  if (other.rank() == 1) return "addmv_impl_cpu";
  if (other.rank() == 2) return "addmm_impl_cpu_";
  return input.rank() >= 3 ? std::optional<std::string>("bmm") : std::optional<std::string>("");
}

}  // namespace

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
  if (shape && input.dtype == DType::Bool) {
    if (std::optional<std::string> kernel = bool_kernel(input, other, *shape)) {
      Diagnostic& diagnostic = ctx.report(DiagId::MatmulDType, "input and other are bool; no matmul kernel multiplies bool tensors", &input);
      // A matrix times a batch goes through a transposed product whose kernel the releases name
      // differently: PyTorch's message is quoted only where the kernel is one.
      if (!kernel->empty()) ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("\"{}\" not implemented for 'Bool'", *kernel));
      ctx.add_input_dtype_fixes(diagnostic, input, DType::Float32);
      return;
    }
  }
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
