// torch.bmm(input, mat2): (b, n, m) @ (b, m, p) -> (b, n, p), with PyTorch's checks in its order
// (aten/src/ATen/native/LinearAlgebra.cpp, common_checks_baddbmm_bmm): both 3-D, then mat2's
// first two dims against input's batch and last dim (no broadcasting), then one dtype.
#include <fmt/format.h>

#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_bmm(CallContext& ctx) {
  const ArgValue &input = ctx.arg("input"), &mat2 = ctx.arg("mat2");
  for (const ArgValue* operand : {&input, &mat2}) {
    if (operand->rank() == 3) continue;
    Diagnostic& diagnostic = ctx.report(
        DiagId::BmmRank, fmt::format("{} {} is {}-D; bmm takes two 3-D batches of matrices", operand->argument, tuple_str(operand->shape), operand->rank()),
        operand);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("{} must be a 3D tensor", operand == &input ? "batch1" : "batch2"));
    diagnostic.notes.push_back("torch.matmul broadcasts batch dims and takes any rank");
    return;
  }
  const DimExpr &batch = input.shape[0], &inner = input.shape[2];
  bool same_batch = ctx.same(mat2.shape[0], batch, &mat2, 0, "bmm's batch sizes");
  bool same_inner = same_batch && ctx.same(mat2.shape[1], inner, &mat2, 1, "input's columns == mat2's rows");
  if (!same_batch || !same_inner) {
    int dim = same_batch ? 1 : 0;
    Diagnostic& diagnostic = ctx.report(
        DiagId::BmmShapes,
        same_batch ? fmt::format("input {} has {} columns but mat2 {} has {} rows", tuple_str(input.shape), inner.str(), tuple_str(mat2.shape),
                                 mat2.shape[1].str())
                   : fmt::format("input {} is a batch of {} but mat2 {} a batch of {}; bmm does not broadcast", tuple_str(input.shape), batch.str(),
                                 tuple_str(mat2.shape), mat2.shape[0].str()),
        &mat2, dim);
    diagnostic.related.push_back(ctx.related(input, same_batch ? 2 : 0, fmt::format("input dim {} = {}", same_batch ? 2 : 0, (same_batch ? inner : batch).str())));
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].", batch.str(), inner.str(),
                                   mat2.shape[0].str(), mat2.shape[1].str()));
    if (!same_batch && (mat2.shape[0] == DimExpr::constant(1) || batch == DimExpr::constant(1))) diagnostic.notes.push_back("torch.matmul would broadcast the batch of 1");
    // mat2 holds the contracted dim last (q @ k, where q @ k.transpose(1, 2) is meant, or one
    // tensor times itself).
    if (same_batch && ctx.symbols.compare(mat2.shape[2], inner) == Symbols::Verdict::Equal) {
      propose_transposed_operands(ctx, diagnostic,
                                  fmt::format("contract over mat2's last dim: torch.bmm(input, {}.transpose(1, 2))", ctx.call.tensor("mat2").name),
                                  {{"mat2", 1, 2}});
    }
    return;
  }
  // The kernel is picked by input's dtype (none for bool) before mat2's is compared; an empty
  // result or a contraction over 0 never reaches the kernel (the result takes mat2's dtype).
  const DimExpr zero = DimExpr::constant(0);
  bool kernel_runs = batch != zero && input.shape[1] != zero && mat2.shape[2] != zero && inner != zero;
  if (kernel_runs && (input.dtype != mat2.dtype || input.dtype == DType::Bool)) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::BmmDType,
        input.dtype != DType::Bool ? fmt::format("input is {} but mat2 is {}; bmm needs one dtype", dtype_name(input.dtype), dtype_name(mat2.dtype))
                                   : std::string("input is bool; bmm has no kernel for bool"),
        &mat2);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       input.dtype != DType::Bool ? fmt::format("expected scalar type {} but found {}", dtype_aten_name(input.dtype), dtype_aten_name(mat2.dtype))
                                                  : "\"bmm\" not implemented for 'Bool'");
    if (input.dtype != DType::Bool) ctx.add_dtype_fix(diagnostic, fmt::format("pass mat2 as {}", dtype_name(input.dtype)), mat2, input.dtype);
    return;
  }
  const std::size_t reported = ctx.diagnostics.size();
  check_product_roles(ctx, input, mat2, 1);
  if (ctx.diagnostics.size() == reported) check_value_contracted_like_key(ctx, input, mat2);
  Shape product{batch, input.shape[1], mat2.shape[2]};
  ctx.outputs.push_back({"output", product, mat2.dtype, product_names(input, mat2, product)});
  ctx.output_layouts["output"] = Layout::contiguous(ctx.outputs.back().shape);
}

}  // namespace mhacheck
