// torch.sum and torch.mean(input, dim=None, keepdim=False): dim is one dim, a list of dims, or
// None (and, in PyTorch 2.x, the empty list) for all of them. mean needs a floating input;
// sum of bool or integers is int64. Each dim wraps; a dim listed twice is refused.
#include <fmt/format.h>

#include <set>

#include "check/roles.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// Pooling reduces a sequence over its positions. A reduced dim named as a batch, in a tensor that
// keeps a dim named as a sequence, averages (or sums) batch entries instead (MHA288): mean(dim=1)
// of a seq-first (T, B, E) encoder output. The fix reduces over the first sequence dim the call
// keeps instead. Reducing the batch together with every sequence dim (a statistic over all
// tokens) keeps no sequence dim and is left alone, as is a tensor without one.
void check_reduced_batch(CallContext& ctx, const ArgValue& input, const std::set<int>& reduced) {
  int batch = -1, sequence = -1;
  for (int d = 0; d < input.rank(); ++d) {
    DimRole role = role_of_name(input.dim_name(d));
    if (role == DimRole::Batch && reduced.count(d) != 0 && batch < 0) batch = d;
    if (role == DimRole::Sequence && reduced.count(d) == 0 && sequence < 0) sequence = d;
  }
  if (batch < 0 || sequence < 0) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ReduceBatchRole,
      fmt::format("{} over dim {} (\"{}\", a {}) combines batch entries, not the positions of the sequence dim {} (\"{}\")", ctx.call.op,
                  batch, input.dim_name(batch), role_name(DimRole::Batch), sequence, input.dim_name(sequence)),
      &input, batch);
  const nlohmann::json& written = ctx.call.arguments.at("dim");
  nlohmann::json fixed = sequence;
  if (written.is_array()) {
    fixed = written;
    for (auto& dim : fixed) {
      std::int64_t value = dim.get<std::int64_t>();
      if ((value < 0 ? value + input.rank() : value) == batch) dim = sequence;
    }
  }
  if (ctx.add_argument_fix(diagnostic, fmt::format("{} over dim={} (\"{}\", the sequence)", ctx.call.op, fixed.dump(), input.dim_name(sequence)), "dim",
                           fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each sequence is pooled over its own positions");
  }
}

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
  if (!all) check_reduced_batch(ctx, input, reduced);
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
