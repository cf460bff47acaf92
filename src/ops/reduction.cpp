// torch.sum and torch.mean(input, dim=None, keepdim=False): dim is one dim, a list of dims, or
// None (and, in PyTorch 2.x, the empty list) for all of them. mean needs a floating input;
// sum of bool or integers is int64. Each dim wraps; a dim listed twice is refused.
#include <fmt/format.h>

#include <set>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

void reduce(CallContext& ctx, DType dtype) {
  const ArgValue& input = ctx.arg("input");
  const nlohmann::json& written = ctx.call.arguments.at("dim");
  std::vector<std::int64_t> dims;
  if (written.is_number()) dims.push_back(written.get<std::int64_t>());
  if (written.is_array()) dims = written.get<std::vector<std::int64_t>>();
  std::set<int> reduced;
  for (std::int64_t dim : dims) {
    std::optional<int> wrapped = wrap_dim(ctx, "dim", dim, input.rank());
    if (!wrapped) return;
    if (!reduced.insert(*wrapped).second) {
      Diagnostic& diagnostic = report_argument(ctx, DiagId::ReduceDims, fmt::format("dim {} is listed twice", *wrapped), "dim");
      ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("dim {} appears multiple times in the list of dims", *wrapped));
      return;
    }
  }
  bool all = dims.empty();
  bool keepdim = ctx.call.flag("keepdim");
  Shape shape;
  for (int d = 0; d < input.rank(); ++d) {
    if (!all && reduced.count(d) == 0) shape.push_back(input.shape[d]);
    else if (keepdim) shape.push_back(DimExpr::constant(1));
  }
  ctx.outputs.push_back({"output", shape, dtype});
}

}  // namespace

void infer_sum(CallContext& ctx) {
  DType dtype = ctx.arg("input").dtype;
  reduce(ctx, is_floating(dtype) ? dtype : DType::Int64);
}

void infer_mean(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (!is_floating(input.dtype)) {
    Diagnostic& diagnostic = ctx.report(DiagId::ReduceDType, fmt::format("mean of a {} tensor; it needs a floating dtype", dtype_name(input.dtype)), &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                                   dtype_aten_name(input.dtype)));
    ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
    return;
  }
  reduce(ctx, input.dtype);
}

}  // namespace mhacheck
