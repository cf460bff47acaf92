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
    if (std::abs(input.rank() - other.rank()) != 1 || ref.kind != ArgRef::Kind::Named || !ctx.index_in_calls()) return;
    const std::string unsqueezed = fresh_name(ctx.spec, ref.name + "_unsqueezed");
    nlohmann::json call = {{"id", unsqueezed}, {"op", "unsqueeze"}, {"input", ref.name}, {"dim", missing}, {"outputs", {unsqueezed}}};
    nlohmann::json patch = nlohmann::json::array(
        {{{"op", "add"}, {"path", ctx.call.pointer}, {"value", std::move(call)}},
         {{"op", "replace"}, {"path", child_pointer(CallContext::calls_entry_pointer(*ctx.index_in_calls() + 1), fewer.argument)}, {"value", unsqueezed}}});
    ctx.add_patch_fix(diagnostic, fmt::format("{0}.unsqueeze({1}): a size-1 dim that broadcasts over {2}", ref.name, missing,
                                              other_fewer ? input_name : other_name),
                      std::move(patch));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry is multiplied with its own matrix");
    return;
  }
}

// MHA294 for attention weights times a value laid out as the key and transposed like it
// (att @ v.transpose(-2, -1), v (B, H, T, D) as k is): the weights' last dim runs over the key
// positions, k's dim -2, but the value is then contracted over its own dim -1, the dim at which k
// was contracted with the queries (the features). It runs only because T == D, and each output
// row mixes feature columns read as positions. The value is recognised as laid out like the key
// by the same shape and dim names; a value stored (B, H, D, T) has another shape unless T == D.
void check_value_contracted_like_key(CallContext& ctx, const ArgValue& weights, const ArgValue& value) {
  if (weights.rank() < 2 || value.rank() != weights.rank()) return;
  std::optional<KeyOrigin> key = key_origin(ctx.spec, weights);
  if (!key || key->positions == key->features || key->rank != value.rank()) return;
  const DimOrigin contracted = dim_origin(ctx.spec, value, value.rank() - 2);
  // The value must reach the product through a move of its dims (the transpose the fix drops).
  if (contracted.tensor == tensor_name(value) || contracted.rank != key->rank || contracted.dim != key->features) return;
  std::optional<Shape> key_shape = checked_tensor_shape(ctx, key->key, key->product);
  std::optional<Shape> value_shape = checked_tensor_shape(ctx, contracted.tensor, value.producer);
  if (!key_shape || !value_shape || key_shape->size() != value_shape->size()) return;
  for (std::size_t d = 0; d < key_shape->size(); ++d) {
    const DimExpr &k = (*key_shape)[d], &v = (*value_shape)[d];
    // Two different names are two roles, equal sizes or not (T and D both bound to 64).
    if (k.is_plain_symbol() && v.is_plain_symbol() && !(k == v)) return;
    if (ctx.symbols.compare(ctx.symbols.resolve(k), ctx.symbols.resolve(v)) != Symbols::Verdict::Equal) return;
  }
  const std::string weights_name = shown_name(weights), value_name = shown_name(value);
  const DimExpr features = ctx.symbols.resolve((*key_shape)[static_cast<std::size_t>(key->features)]);
  const DimExpr positions = ctx.symbols.resolve((*key_shape)[static_cast<std::size_t>(key->positions)]);
  Diagnostic& diagnostic = ctx.report(
      DiagId::ValueContractedLikeKey,
      fmt::format("{} @ {} contracts {}'s last dim, the positions of the key {} (its dim {}, from call \"{}\"), with {}'s dim {}, the dim at "
                  "which {} was contracted with the queries (its features): {} is laid out as {}, so each output row sums features read "
                  "as key positions; valid only because {} == {}",
                  weights_name, value_name, weights_name, key->key, key->positions, key->product->id, contracted.tensor, contracted.dim,
                  key->key, contracted.tensor, key->key, positions.str(), features.str()),
      &value, value.rank() - 2);
  diagnostic.notes.push_back("attention weights (..., L, S) multiply the value (..., S, Ev) untransposed: only the key is transposed, "
                             "for the scores q @ k^T; PyTorch raises nothing when S == Ev");
  const ArgRef& ref = ctx.call.tensor(value.argument);
  if (value.producer == nullptr || ref.kind != ArgRef::Kind::Named || ctx.call.pointer.rfind("/calls/", 0) != 0) return;
  // The transpose of the last two dims that made the value (v.transpose(-2, -1)): the fix reads
  // its input instead.
  const CallDecl& swap = *value.producer;
  const std::string untransposed = input_name(swap, "input");
  auto last_two = [&](const char* argument) {
    const nlohmann::json& written = swap.arguments.value(argument, nlohmann::json());
    if (!written.is_number_integer()) return -1;
    const int dim = written.get<int>();
    return dim < 0 ? dim + value.rank() : dim;
  };
  const int dim0 = last_two("dim0"), dim1 = last_two("dim1");
  if (swap.op != "transpose" || untransposed.empty() || std::min(dim0, dim1) != value.rank() - 2 || std::max(dim0, dim1) != value.rank() - 1) return;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("{0} @ {1} (drop the transpose of call \"{2}\"): the value's dim {3} holds the key positions the weights run over",
                                weights_name, untransposed, swap.id, value.rank() - 2),
                    nlohmann::json::array({{{"op", "replace"}, {"path", ctx.call.pointer + "/" + value.argument}, {"value", untransposed}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each query's weights over the key positions mix the values at those positions");
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
