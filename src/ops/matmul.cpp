// torch.matmul(input, other): 1-D, 2-D and batched products (matmul_shape.hpp). Both operands
// must have one dtype: the kernels refuse mixed dtypes (the wording differs by kernel and
// release, so mhacheck reports it without quoting PyTorch), and bool (no kernel multiplies it).
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "check/dim_origin.hpp"
#include "check/fix_search.hpp"
#include "check/roles.hpp"
#include "ops/matmul_shape.hpp"
#include "ops/parts.hpp"
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

// MHA083 for batch dims that broadcasting aligns from the right although their names say different
// roles: per-head weights (B, H, L, S) times a 3-D (B, S, E) memory puts the memory's batch in the
// heads slot, valid only if B == H, and then head h is multiplied with batch entry h's matrix. The
// condition broadcasting reported on those sizes (MHA080, a literal head count against B) is this
// diagnostic's note. The fix gives the operand with fewer dims the size-1 dim it lacks there
// (mem.unsqueeze(1)), inserted before the call.
void check_batch_dim_roles(CallContext& ctx, const ArgValue& input, const ArgValue& other, std::size_t reported) {
  if (input.rank() < 3 || other.rank() < 3) return;
  // Two plain symbols of different roles were reported by the broadcast itself (CallContext::same).
  for (std::size_t i = reported; i < ctx.diagnostics.size(); ++i) {
    if (ctx.diagnostics[i].id == DiagId::RoleCondition) return;
  }
  auto layout_role = [](DimRole role) { return role == DimRole::Batch || role == DimRole::Sequence || role == DimRole::Heads; };
  const int batch_dims = std::min(input.rank(), other.rank()) - 2;
  for (int k = 1; k <= batch_dims; ++k) {
    const int at_input = input.rank() - 2 - k, at_other = other.rank() - 2 - k;
    const std::string &input_name = input.dim_name(at_input), &other_name = other.dim_name(at_other);
    const DimRole input_role = role_of_dim(input.dim_names, at_input), other_role = role_of_dim(other.dim_names, at_other);
    if (!layout_role(input_role) || !layout_role(other_role) || input_role == other_role) continue;
    const DimExpr &a = input.shape[static_cast<std::size_t>(at_input)], &b = other.shape[static_cast<std::size_t>(at_other)];
    if (a == DimExpr::constant(1) || b == DimExpr::constant(1)) continue;
    std::vector<std::string> conditions;
    for (std::size_t i = reported; i < ctx.diagnostics.size();) {
      // The batch dims' broadcast, not the contraction's own condition (input @ other).
      if (ctx.diagnostics[i].id == DiagId::SymbolConstraint && ctx.diagnostics[i].message.find("batch dims") != std::string::npos) {
        conditions.push_back(ctx.diagnostics[i].message);
        ctx.diagnostics.erase(ctx.diagnostics.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    Diagnostic& diagnostic = ctx.report(
        DiagId::RoleCondition,
        fmt::format("valid only if {} == {} (input @ other batch dims), but {} is a {} and {} a {}: broadcasting from the right aligns "
                    "input's dim {} with other's dim {}",
                    a.str(), b.str(), input_name, role_name(input_role), other_name, role_name(other_role), at_input, at_other),
        &other, at_other);
    diagnostic.notes.push_back(fmt::format("PyTorch fails whenever {0} != {1}, and when they happen to be equal it multiplies entry i of "
                                           "{0} with entry i of {1}",
                                           input_name, other_name));
    for (const std::string& condition : conditions) diagnostic.notes.push_back("broadcasting's condition: " + condition);
    const bool other_fewer = other.rank() < input.rank();
    const ArgValue& fewer = other_fewer ? other : input;
    const int missing = other_fewer ? at_input - (input.rank() - other.rank()) + 1 : at_other - (other.rank() - input.rank()) + 1;
    const ArgRef& ref = ctx.call.tensor(fewer.argument);
    const std::optional<std::size_t> index = ctx.index_in_calls();
    if (std::abs(input.rank() - other.rank()) != 1 || ref.kind != ArgRef::Kind::Named || !index) return;
    const std::string unsqueezed = fresh_name(ctx.spec, ref.name + "_unsqueezed");
    nlohmann::json call = {{"id", unsqueezed}, {"op", "unsqueeze"}, {"input", ref.name}, {"dim", missing}, {"outputs", {unsqueezed}}};
    nlohmann::json patch = nlohmann::json::array(
        {{{"op", "add"}, {"path", ctx.call.pointer}, {"value", std::move(call)}},
         {{"op", "replace"}, {"path", child_pointer(CallContext::calls_entry_pointer(*index + 1), fewer.argument)}, {"value", unsqueezed}}});
    ctx.add_patch_fix(diagnostic, fmt::format("{0}.unsqueeze({1}): a size-1 dim that broadcasts over {2}", ref.name, missing,
                                              other_fewer ? input_name : other_name),
                      std::move(patch));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry is multiplied with its own matrix");
    return;
  }
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
  const std::size_t reported = ctx.diagnostics.size();
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
    check_batch_dim_roles(ctx, input, other, reported);
    if (ctx.diagnostics.size() == reported) check_value_contracted_like_key(ctx, input, other);
    // The batch dims, aligned from the right: a broadcast 1 meets nothing.
    for (const auto& [query, partner] : {std::pair{&input, &other}, std::pair{&other, &input}}) {
      if (query->rank() < 3 || partner->rank() < 3) break;
      std::vector<int> partner_of(static_cast<std::size_t>(query->rank()), -1);
      for (int d = 0; d < query->rank() - 2; ++d) {
        const int e = d - (query->rank() - partner->rank());
        if (e >= 0 && e < partner->rank() - 2 && partner->shape[static_cast<std::size_t>(e)] != DimExpr::constant(1)) {
          partner_of[static_cast<std::size_t>(d)] = e;
        }
      }
      check_grouped_heads_order(ctx, *query, partner_of, *partner, "matmul");
    }
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
