// The reductions, as PyTorch 2.x checks them:
// - torch.sum and torch.mean(input, dim=None, keepdim=False): dim is one dim, a list of dims, or
//   None (and the empty list) for all of them. mean needs a floating input; sum of bool or
//   integers is int64.
// - torch.amax(input, dim=(), keepdim=False) and torch.logsumexp(input, dim, keepdim=False): the
//   same dims, () for all. amax keeps the dtype; logsumexp computes bool and integers in the
//   default float32.
// - torch.max(input): every element, a 0-D result; torch.max(input, dim, keepdim=False): one dim,
//   the values and their int64 indices.
// - torch.linalg.vector_norm(x, ord=2, dim=None, keepdim=False), which Tensor.norm calls: a
//   floating input only.
// Each dim wraps; a dim listed twice is refused. max and amax (and vector_norm for ord=inf or a
// negative ord) have no identity, so they refuse to reduce an empty dim or an empty tensor whole.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
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
    DimRole role = role_of_dim(input.dim_names, d);
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

// vector_norm's (and F.normalize's) floating input, in PyTorch 2.x's words.
bool norm_input_floating(CallContext& ctx, const ArgValue& input) {
  if (is_floating(input.dtype)) return true;
  Diagnostic& diagnostic =
      ctx.report(DiagId::ReduceDType, fmt::format("{} of a {} tensor; it needs a floating dtype", ctx.call.op, dtype_name(input.dtype)), &input);
  ctx.pytorch_raises(diagnostic, "RuntimeError",
                     fmt::format("linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}", dtype_aten_name(input.dtype)));
  ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
  return false;
}

// The dims a reduction's "dim" argument lists, as written: none for null (every dim).
std::vector<std::int64_t> written_dims(const CallContext& ctx) {
  const nlohmann::json& written = ctx.call.arguments.at("dim");
  std::vector<std::int64_t> dims;
  if (written.is_number()) dims.push_back(written.get<std::int64_t>());
  if (written.is_array()) dims = written.get<std::vector<std::int64_t>>();
  return dims;
}

// PyTorch's zero_numel_check_dims for a reduction without an identity (max, amax) of a tensor
// with no elements: a whole reduction is refused, and so is each listed dim of size 0, named as
// written (amax) or wrapped (max(dim)), as PyTorch prints it. True when it reported.
bool empty_without_identity(CallContext& ctx, const ArgValue& input, const std::vector<std::int64_t>& dims) {
  auto empty = [&](int d) { return input.shape[static_cast<std::size_t>(d)] == DimExpr::constant(0); };
  bool no_elements = false;
  for (int d = 0; d < input.rank(); ++d) no_elements = no_elements || empty(d);
  if (!no_elements) return false;
  const std::string name = ctx.call.op + "()";
  if (dims.empty()) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ReduceDims, fmt::format("{} of a tensor with no elements {}, over every dim: it has no identity",
                                                                                   ctx.call.op, tuple_str(input.shape)), "dim");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("{}: Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.", name));
    return true;
  }
  for (std::int64_t dim : dims) {
    std::optional<int> d = wrap_dim(ctx, "dim", dim, input.rank());  // self.size(dim) raises PyTorch's IndexError
    if (!d) return true;
    if (!empty(*d)) continue;
    Diagnostic& diagnostic =
        report_argument(ctx, DiagId::ReduceDims, fmt::format("{} over dim {}, of size 0: it has no identity", ctx.call.op, *d), "dim");
    ctx.pytorch_raises(diagnostic, "IndexError", fmt::format("{}: Expected reduction dim {} to have non-zero size.", name, dim));
    return true;
  }
  return false;
}

// The reduced dims, wrapped, each once; nullopt when one is out of range or listed twice (reported).
std::optional<std::set<int>> reduced_dims(CallContext& ctx, const ArgValue& input, const std::vector<std::int64_t>& dims) {
  std::set<int> reduced;
  for (std::int64_t dim : dims) {
    std::optional<int> wrapped = wrap_dim(ctx, "dim", dim, input.rank());
    if (!wrapped) return std::nullopt;
    if (!reduced.insert(*wrapped).second) {
      Diagnostic& diagnostic = report_argument(ctx, DiagId::ReduceDims, fmt::format("dim {} is listed twice", *wrapped), "dim");
      ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("dim {} appears multiple times in the list of dims", *wrapped));
      return std::nullopt;
    }
  }
  return reduced;
}

// The reduced shape and its dims' names: every dim when `reduced` is empty, a 1 in each reduced
// dim's place with keepdim. Names pass through, so that roles reach the calls after the reduction.
NamedOutput reduced_output(const CallContext& ctx, const ArgValue& input, const std::set<int>& reduced, std::string name, DType dtype) {
  const bool all = reduced.empty(), keepdim = ctx.call.flag("keepdim");
  NamedOutput output{std::move(name), {}, dtype};
  for (int d = 0; d < input.rank(); ++d) {
    if (!all && reduced.count(d) == 0) {
      output.shape.push_back(input.shape[static_cast<std::size_t>(d)]);
      output.dim_names.push_back(input.dim_name(d));
    } else if (keepdim) {
      output.shape.push_back(DimExpr::constant(1));
      output.dim_names.push_back("");
    }
  }
  // No name to pass: the pass traces them (a plain symbol's own name, say).
  if (std::all_of(output.dim_names.begin(), output.dim_names.end(), [](const std::string& name) { return name.empty(); })) output.dim_names.clear();
  return output;
}

// sum, mean, amax and logsumexp: pools over the listed dims (MHA288 when they pool a batch).
void reduce(CallContext& ctx, DType dtype) {
  const ArgValue& input = ctx.arg("input");
  const std::vector<std::int64_t> dims = written_dims(ctx);
  if (ctx.call.op == "amax" && empty_without_identity(ctx, input, dims)) return;
  std::optional<std::set<int>> reduced = reduced_dims(ctx, input, dims);
  if (!reduced) return;
  if (!reduced->empty()) check_reduced_batch(ctx, input, *reduced);
  ctx.outputs.push_back(reduced_output(ctx, input, *reduced, "output", dtype));
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

void infer_amax(CallContext& ctx) { reduce(ctx, ctx.arg("input").dtype); }

void infer_logsumexp(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  // dim=() reduces every dim, but logsumexp adds the shift kept as (1, ..., 1) to the 0-D sum in
  // place: PyTorch refuses it without keepdim, unless there is no element to shift.
  const bool empty = std::any_of(input.shape.begin(), input.shape.end(), [](const DimExpr& size) { return size == DimExpr::constant(0); });
  if (written_dims(ctx).empty() && ctx.call.arguments.at("dim").is_array() && !ctx.call.flag("keepdim") && input.rank() > 0 && !empty) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ReduceDims, "logsumexp over dim=() without keepdim: the max it shifts by keeps every dim", "dim");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("output with shape [] doesn't match the broadcast shape [{}]", fmt::join(std::vector<std::string>(input.rank(), "1"), ", ")));
    diagnostic.notes.push_back("keepdim=True, or the dims listed, reduces every dim");
    return;
  }
  reduce(ctx, is_floating(input.dtype) ? input.dtype : DType::Float32);  // the default dtype, torch.get_default_dtype()
}

void infer_max(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const nlohmann::json& dim = ctx.call.arguments.at("dim");
  if (dim.is_null()) {  // every element: a 0-D result, no indices
    if (empty_without_identity(ctx, input, {})) return;
    ctx.outputs.push_back({"values", {}, input.dtype});
    return;
  }
  std::optional<int> wrapped = wrap_dim(ctx, "dim", dim.get<std::int64_t>(), input.rank());
  if (!wrapped || (input.rank() > 0 && empty_without_identity(ctx, input, {*wrapped}))) return;
  // A 0-D input reduces as a 1-D one of one element: nothing to remove.
  const std::set<int> reduced = input.rank() == 0 ? std::set<int>{} : std::set<int>{*wrapped};
  if (input.rank() > 0) check_reduced_batch(ctx, input, reduced);
  NamedOutput values = input.rank() == 0 ? NamedOutput{"values", {}, input.dtype} : reduced_output(ctx, input, reduced, "values", input.dtype);
  NamedOutput indices = values;
  indices.name = "indices";
  indices.dtype = DType::Int64;
  ctx.outputs.push_back(std::move(values));
  ctx.outputs.push_back(std::move(indices));
}

// The order of a vector norm as a number: "inf" and "-inf" as the spec writes them.
double norm_order(const nlohmann::json& ord) {
  if (ord.is_string()) return ord == "-inf" ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  return ord.get<double>();
}

void infer_vector_norm(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (!norm_input_floating(ctx, input)) return;
  const std::vector<std::int64_t> dims = written_dims(ctx);
  const double ord = norm_order(ctx.call.arguments.at("ord"));
  bool no_elements = false;
  for (const DimExpr& size : input.shape) no_elements = no_elements || size == DimExpr::constant(0);
  if (no_elements && (ord < 0 || std::isinf(ord))) {  // max |x| (or a negative power) of nothing
    std::optional<std::int64_t> empty_dim;
    for (std::int64_t dim : dims) {
      const std::int64_t d = dim < 0 ? dim + input.rank() : dim;
      if (!empty_dim && d >= 0 && d < input.rank() && input.shape[static_cast<std::size_t>(d)] == DimExpr::constant(0)) empty_dim = dim;
    }
    if (dims.empty() || empty_dim) {
      Diagnostic& diagnostic = report_argument(ctx, DiagId::ReduceDims, fmt::format("vector_norm of order {} over an empty {}: it has no identity", ord,
                                                                                     dims.empty() ? "tensor" : "dim"), "dim");
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         dims.empty() ? fmt::format("linalg.vector_norm cannot compute the {} norm on an empty tensor because the operation does not have an identity", ord)
                                      : fmt::format("linalg.vector_norm cannot compute the {} norm on the dimension {}because this dimension is empty and the "
                                                    "operation does not have an identity", ord, *empty_dim));
      return;
    }
  }
  std::optional<std::set<int>> reduced = reduced_dims(ctx, input, dims);
  if (!reduced) return;
  ctx.outputs.push_back(reduced_output(ctx, input, *reduced, "output", input.dtype));
}

// torch.argmax and argmin(input, dim=None, keepdim=False): int64 positions; the CPU kernels take
// no bool; no identity, so no empty dim (or, without dim, no empty tensor).
void infer_argmax(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const nlohmann::json& dim = ctx.call.arguments.at("dim");
  // Over a dim of size 1 every position is 0 without the kernel, which takes no bool.
  const bool trivial = !dim.is_null() && input.rank() > 0 && dim.get<std::int64_t>() >= -input.rank() && dim.get<std::int64_t>() < input.rank() &&
                       input.shape[static_cast<std::size_t>((dim.get<std::int64_t>() + input.rank()) % input.rank())] == DimExpr::constant(1);
  if (input.dtype == DType::Bool && !trivial) {
    Diagnostic& diagnostic = ctx.report(DiagId::ReduceDType, fmt::format("{} of a bool tensor", ctx.call.op), &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("\"{}_cpu\" not implemented for 'Bool'", ctx.call.op));
    ctx.add_dtype_fix(diagnostic, "pass input as int64", input, DType::Int64);
    return;
  }
  if (dim.is_null()) {
    if (std::any_of(input.shape.begin(), input.shape.end(), [](const DimExpr& size) { return size == DimExpr::constant(0); })) {
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::ReduceDims, fmt::format("{} of a tensor with no elements {}, over every dim: it has no identity", ctx.call.op, tuple_str(input.shape)),
          "dim");
      ctx.pytorch_raises(diagnostic, "IndexError", fmt::format("{}(): Expected reduction dim to be specified for input.numel() == 0.", ctx.call.op));
      return;
    }
    // Every element, flattened: 0-D, or with keepdim a 1 for each dim.
    Shape shape = ctx.call.flag("keepdim") ? Shape(input.shape.size(), DimExpr::constant(1)) : Shape{};
    ctx.outputs.push_back({"output", shape, DType::Int64});
    return;
  }
  std::optional<int> wrapped = wrap_dim(ctx, "dim", dim.get<std::int64_t>(), input.rank());
  if (!wrapped || (input.rank() > 0 && empty_without_identity(ctx, input, {*wrapped}))) return;
  const std::set<int> reduced = input.rank() == 0 ? std::set<int>{} : std::set<int>{*wrapped};
  if (input.rank() == 0) {
    ctx.outputs.push_back({"output", {}, DType::Int64});
    return;
  }
  ctx.outputs.push_back(reduced_output(ctx, input, reduced, "output", DType::Int64));
}

// torch.cumsum(input, dim): the shape kept; bool and integers accumulate in int64.
void infer_cumsum(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (!wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank())) return;
  ctx.outputs.push_back({"output", input.shape, is_floating(input.dtype) ? input.dtype : DType::Int64, input.dim_names});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);
}

// F.normalize(input, p=2.0, dim=1, eps=1e-12): input / norm(input, p, dim, keepdim=True): a
// floating input (vector_norm's check) and dim wrapped; the shape and dtype kept.
void infer_normalize(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (!norm_input_floating(ctx, input)) return;
  if (!wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank())) return;
  ctx.outputs.push_back({"output", input.shape, input.dtype, input.dim_names});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);
}

}  // namespace mhacheck
