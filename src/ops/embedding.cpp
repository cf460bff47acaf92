// nn.Embedding: looks rows of its (num_embeddings, embedding_dim) weight up by integer index;
// an input of shape (*) gives (*, embedding_dim) in the weight's dtype. Index values are data:
// `mhacheck run` checks them, `check` cannot.
#include <fmt/format.h>

#include "ops/parts.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// The tensor type names of PyTorch's checkScalarTypes; its table of legacy names has no entry
// for bool and bfloat16, which keep their backend type names.
std::string legacy_type_name(DType dtype) {
  if (dtype == DType::Bool || dtype == DType::BFloat16) return fmt::format("CPU{}Type", dtype_aten_name(dtype));
  return fmt::format("torch.{}Tensor", dtype_aten_name(dtype));
}

}  // namespace

void infer_embedding(CallContext& ctx) {
  const ModuleDecl& module = *ctx.module;
  std::int64_t count = module.integer("num_embeddings"), dim = module.integer("embedding_dim");
  const nlohmann::json& padding = module.options.at("padding_idx");
  // nn.Embedding.__init__ asserts a positive padding_idx below num_embeddings and a negative one
  // at or above -num_embeddings, then allocates the weight (and zeroes the padding row).
  if (!padding.is_null()) {
    std::int64_t index = padding.get<std::int64_t>();
    if ((index > 0 && index >= count) || (index < 0 && index < -count)) {
      Diagnostic& diagnostic = ctx.report_option(
          DiagId::PaddingIdx, fmt::format("padding_idx {} is outside [-{}, {}]", index, count, count - 1), "padding_idx");
      ctx.pytorch_raises(diagnostic, "AssertionError", "Padding_idx must be within num_embeddings");
      return;
    }
  }
  if (!sizes_nonnegative(ctx, {count, dim}, count < 0 ? "num_embeddings" : "embedding_dim")) return;
  if (!padding.is_null() && count == 0) {  // weight[padding_idx].fill_(0) on an empty table
    Diagnostic& diagnostic = ctx.report_option(DiagId::PaddingIdx, "padding_idx 0 of an empty table (num_embeddings=0)", "padding_idx");
    ctx.pytorch_raises(diagnostic, "IndexError", "index 0 is out of bounds for dimension 0 with size 0");
    return;
  }
  const ArgValue& input = ctx.arg("input");
  if (input.dtype != DType::Int64 && input.dtype != DType::Int32) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::IndicesDType, fmt::format("{} is {}; nn.Embedding looks rows up by int64 or int32 indices", input.argument, dtype_name(input.dtype)),
        &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
                                   "but got {} instead (while checking arguments for embedding)",
                                   legacy_type_name(input.dtype)));
    ctx.add_dtype_fix(diagnostic, fmt::format("pass {} as int64 ({}.long())", input.argument, input.argument), input, DType::Int64);
    return;
  }
  Shape output = input.shape;
  output.push_back(DimExpr::constant(dim));
  ctx.outputs.push_back({"output", output, module.dtype()});
  ctx.output_layouts["output"] = Layout::contiguous(output);  // a new tensor, whatever the input's layout
}

}  // namespace mhacheck
