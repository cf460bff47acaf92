#include "ops/matmul_shape.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "dim_origin.hpp"
#include "fix_search.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

Shape drop_last(const Shape& shape, std::size_t count) {
  return Shape(shape.begin(), shape.end() - static_cast<std::ptrdiff_t>(std::min(count, shape.size())));
}

// The kernels' messages. mv's is 2.x's wording (1.13 said "size mismatch, got 2, 2x3,4").
std::string dot_message(const DimExpr& a, const DimExpr& b) {
  return fmt::format("inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} "
                     "elements respectively",
                     a.str(), b.str(), a.str(), b.str());
}
std::string mv_message(const std::string& rows, const DimExpr& columns, const DimExpr& vector) {
  return fmt::format("size mismatch, got input ({}), mat ({}x{}), vec ({})", rows, rows, columns.str(), vector.str());
}
std::string mm_message(const std::string& rows, const DimExpr& inner_a, const DimExpr& inner_b, const DimExpr& columns) {
  return fmt::format("mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", rows, inner_a.str(), inner_b.str(), columns.str());
}
std::string bmm_message(const Shape& batch, const DimExpr& inner_a, const DimExpr& inner_b) {
  std::string count = numel_str(batch);
  return fmt::format("Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].", count, inner_a.str(),
                     count, inner_b.str());
}

}  // namespace

std::string broadcast_message(const CallContext::BroadcastFailure& failing) {
  return fmt::format("The size of tensor a ({}) must match the size of tensor b ({}) at non-singleton dimension {}", failing.a.str(),
                     failing.b.str(), failing.dim);
}

Diagnostic& report_broadcast_failure(CallContext& ctx, DiagId id, const std::string& message, const ArgValue& blamed, const ArgValue& other,
                                     const DimExpr& other_size, const CallContext::BroadcastFailure& failing) {
  // failing.dim counts in the broadcast shape; each operand's own dim is right-aligned to it.
  int rank = std::max(blamed.rank(), other.rank());
  Diagnostic& diagnostic = ctx.report(id, message, &blamed, failing.dim - (rank - blamed.rank()));
  diagnostic.related.push_back(
      ctx.related(other, failing.dim - (rank - other.rank()), fmt::format("{} has {} here", other.argument, other_size.str())));
  ctx.pytorch_raises(diagnostic, "RuntimeError", broadcast_message(failing));
  return diagnostic;
}

std::optional<Shape> matmul_shape(CallContext& ctx, const Shape& a, const Shape& b, const ArgValue* where,
                                  std::optional<int> where_dim, const std::string& what, MatmulFailure& failure) {
  std::size_t rank_a = a.size(), rank_b = b.size();
  if (rank_a == 0 || rank_b == 0) {
    failure.kind = MatmulFailure::Kind::Rank;
    failure.message = fmt::format("both arguments to matmul need to be at least 1D, but they are {}D and {}D", rank_a, rank_b);
    return std::nullopt;
  }
  const DimExpr one = DimExpr::constant(1);
  // 1-D @ N-D folds into mv over b transposed only when b's rows are 1 (2.x's should_fold
  // wants b.mT's batch dims contiguous); otherwise it takes the bmm route.
  bool vector_fold = rank_a == 1 && rank_b >= 3 && ctx.symbols.resolve(b[rank_b - 2]) == one;
  bool bmm = rank_b >= 3 && !vector_fold;
  Shape batch;
  if (bmm) {
    std::optional<Shape> broadcast = ctx.broadcast(drop_last(a, 2), drop_last(b, 2), where, what + " batch dims", failure.broadcast);
    if (!broadcast) {
      failure.kind = MatmulFailure::Kind::Batch;
      failure.message = broadcast_message(failure.broadcast);
      return std::nullopt;
    }
    batch = *broadcast;
  }
  // Folded 1-D @ N-D contracts b's rows (size 1) with a.
  failure.inner_a = vector_fold ? b[rank_b - 2] : a.back();
  failure.inner_b = vector_fold ? a[0] : (rank_b == 1 ? b[0] : b[rank_b - 2]);
  if (ctx.same(failure.inner_a, failure.inner_b, where, where_dim, what)) {
    Shape result = bmm ? batch : (vector_fold ? drop_last(b, 2) : drop_last(a, 1));
    if (bmm && rank_a >= 2) result.push_back(a[rank_a - 2]);
    if (rank_b >= 2) result.push_back(b.back());
    return ctx.symbols.resolve(result);
  }
  failure.kind = MatmulFailure::Kind::Contraction;
  if (rank_a == 1 && rank_b == 1) {
    failure.message = dot_message(a[0], b[0]);
  } else if (vector_fold) {
    Shape rows = drop_last(b, 2);
    rows.push_back(b.back());
    failure.message = mv_message(numel_str(rows), b[rank_b - 2], a[0]);
  } else if (rank_b == 1) {
    failure.message = mv_message(numel_str(drop_last(a, 1)), a.back(), b[0]);
  } else if (!bmm) {
    failure.message = mm_message(rank_a == 1 ? "1" : numel_str(drop_last(a, 1)), a.back(), b[0], b[1]);
  } else {
    failure.message = bmm_message(batch, a.back(), b[rank_b - 2]);
  }
  return std::nullopt;
}

namespace {

bool has_batch_factor(const std::string& name) {
  std::vector<std::string> factors = name_factors(name);
  return std::any_of(factors.begin(), factors.end(), [](const std::string& factor) { return role_of_name(factor) == DimRole::Batch; });
}

}  // namespace

void propose_transposed_operands(CallContext& ctx, Diagnostic& diagnostic, std::string description,
                                 const std::vector<OperandTranspose>& transposes) {
  const std::optional<std::size_t> index = ctx.index_in_calls();
  if (!index) return;
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::pair<std::string, std::string>> renamed;  // argument -> transposed tensor
  for (const OperandTranspose& change : transposes) {
    const ArgRef& operand = ctx.call.tensor(change.argument);
    if (operand.kind != ArgRef::Kind::Named) return;
    std::string transposed = fresh_name(ctx.spec, fmt::format("{}_{}_t", ctx.call.id, change.argument));
    nlohmann::json call = {{"id", transposed}, {"op", "transpose"}, {"input", operand.name}, {"dim0", change.dim0}, {"dim1", change.dim1}, {"outputs", {transposed}}};
    patch.push_back({{"op", "add"}, {"path", CallContext::calls_entry_pointer(*index + renamed.size())}, {"value", std::move(call)}});
    renamed.emplace_back(change.argument, transposed);
  }
  for (const auto& [argument, transposed] : renamed) {
    patch.push_back({{"op", "replace"}, {"path", child_pointer(CallContext::calls_entry_pointer(*index + renamed.size()), argument)}, {"value", transposed}});
  }
  ctx.add_patch_fix(diagnostic, std::move(description), std::move(patch));
}

std::vector<std::string> product_names(const ArgValue& input, const ArgValue& other, const Shape& product) {
  // Matrix dims: input's rows, other's columns (a 1-D operand has none); batch dims aligned from
  // the right, named by the operand whose dim is not stretched from 1.
  int rows = input.rank() >= 2 ? 1 : 0, columns = other.rank() >= 2 ? 1 : 0;
  int batch = static_cast<int>(product.size()) - rows - columns;
  std::vector<std::string> names(product.size());
  if (rows) names[static_cast<std::size_t>(batch)] = input.dim_name(input.rank() - 2);
  if (columns) names.back() = other.dim_name(other.rank() - 1);
  for (int d = 0; d < batch; ++d) {
    for (const ArgValue* operand : {&input, &other}) {
      int at = d - (batch - (operand->rank() - 2));
      if (operand->rank() < 3 || at < 0 || operand->shape[static_cast<std::size_t>(at)] == DimExpr::constant(1)) continue;
      names[static_cast<std::size_t>(d)] = operand->dim_name(at);
      break;
    }
  }
  return names;
}

void check_product_roles(CallContext& ctx, const ArgValue& input, const ArgValue& other, int contracted) {
  if (input.rank() < 2 || other.rank() < 2) return;
  const std::string &inner = input.dim_name(input.rank() - 1), &rows = other.dim_name(contracted);
  DimRole inner_role = role_of_name(inner), rows_role = role_of_name(rows);
  if (inner_role != DimRole::Unknown && rows_role != DimRole::Unknown && inner_role != rows_role) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::FeatureSlotRole,
        fmt::format("{} @ {} contracts {}'s last dim {} (a {}) with {}'s dim {} {} (a {}); valid only because {} == {}", shown_name(input),
                    shown_name(other), shown_name(input), inner, role_name(inner_role), shown_name(other), contracted, rows,
                    role_name(rows_role), inner, rows),
        &other, contracted);
    if (role_of_name(other.dim_name(other.rank() - 1)) == inner_role) {
      propose_transposed_operands(ctx, diagnostic,
                                  fmt::format("contract over {0}'s last dim ({1}): {2} @ {0}.transpose(-2, -1)", shown_name(other),
                                              other.dim_name(other.rank() - 1), shown_name(input)),
                                  {{other.argument, -2, -1}});
    }
    return;
  }
  // A matrix whose rows are the batch times a 3-D operand over that batch ((B, T) attention-pooling
  // weights @ (B, T, E) tokens): matmul broadcasts the matrix over the other's batch dim, so the
  // (B, B, E) product pairs every entry's weights with every entry's tokens. One row per entry,
  // (B, 1, T), keeps each with its own.
  if (input.rank() == 2 && other.rank() == 3 && role_of_dim(input.dim_names, 0) == DimRole::Batch && input.dim_name(0) == other.dim_name(0)) {
    const std::string& batch = input.dim_name(0);
    const std::string name = shown_name(input);
    const std::string rows = other.dim_name(1).empty() ? "rows" : other.dim_name(1);
    Diagnostic& diagnostic = ctx.report(
        DiagId::SymbolNameRole,
        fmt::format("{} {} is one matrix whose rows are the batch {}: matmul broadcasts it over {}'s batch dim 0, and the ({}, {}, {}) product "
                    "pairs every entry's row with every entry's {} (across batch entries)",
                    name, tuple_str(input.shape), batch, shown_name(other), batch, batch, other.shape.back().str(), rows),
        &input, 0);
    diagnostic.notes.push_back("PyTorch raises nothing: a 2-D operand is a matrix shared by every batch entry");
    if (ctx.add_inserted_call_fix(diagnostic, input,
                                  fmt::format("one row per batch entry: {0}.unsqueeze(1) gives ({1}, 1, {2}), and each entry's row meets its own {3}",
                                              name, batch, input.dim_name(1).empty() ? input.shape.back().str() : input.dim_name(1), rows),
                                  "unsqueeze", {{"dim", 1}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry's weights are applied to its own tokens");
    }
    return;
  }
  // The batch dim 0 of a batched product (3-D and up) holding a sequence.
  if (input.rank() < 3 || other.rank() < 3 || role_of_dim(input.dim_names, 0) != DimRole::Sequence) return;
  int input_rows = input.rank() - 2, other_columns = other.rank() - 1;
  bool input_mixes = has_batch_factor(input.dim_name(input_rows)), other_mixes = has_batch_factor(other.dim_name(other_columns));
  if (!input_mixes && !other_mixes) return;
  const std::string& batch = input_mixes ? input.dim_name(input_rows) : other.dim_name(other_columns);
  Diagnostic& diagnostic = ctx.report(
      DiagId::SymbolNameRole,
      fmt::format("the product's batch dim 0 is the sequence {} while {} is in the matrices: each of the {} products pairs every "
                  "entry of {} with every other one (attention across batch entries)",
                  input.dim_name(0), batch, input.dim_name(0), batch),
      &input, 0);
  if (input_mixes && other_mixes && other.dim_name(0) == input.dim_name(0)) {
    propose_transposed_operands(ctx, diagnostic,
                                fmt::format("multiply per {0}: {1}.transpose(0, {2}) @ {3}.transpose(0, {4}) (the sequence back in the "
                                            "matrices, as q.view(T, B*H, D).transpose(0, 1) does)",
                                            batch, shown_name(input), input_rows, shown_name(other), other_columns),
                                {{input.argument, 0, input_rows}, {other.argument, 0, other_columns}});
  }
}

namespace {
// Whether the tensor `name` (read by a call after `before`) was made from the output of `source`
// through the first operands of the calls between them.
bool made_from(const Spec& spec, const std::string& name, const CallDecl* before, const CallDecl* source) {
  const CallDecl* call = producer_of(spec, name, before);
  for (int step = 0; step < 16 && call != nullptr; ++step) {
    if (call == source) return true;
    const std::string input = input_name(*call, "input");
    if (input.empty()) return false;
    call = producer_of(spec, input, call);
  }
  return false;
}

// Whether two tensors are made alike: both declared, or both outputs of one kind of call (one
// unbind or split, two Linear, two views of the same kind), as q, k and v are.
bool made_alike(const Spec& spec, const std::string& a, const CallDecl* a_reader, const std::string& b, const CallDecl* b_reader) {
  if (spec.find_tensor(a) != nullptr || spec.find_tensor(b) != nullptr) return spec.find_tensor(a) != nullptr && spec.find_tensor(b) != nullptr;
  const CallDecl *made_a = producer_of(spec, a, a_reader), *made_b = producer_of(spec, b, b_reader);
  if (made_a == nullptr || made_b == nullptr) return false;
  auto kind = [&](const CallDecl& call) {
    const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
    return module != nullptr ? "module " + module->type : call.op;
  };
  return made_a == made_b || kind(*made_a) == kind(*made_b);
}
}  // namespace

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
  // A value made from the scores themselves (K @ K^T of Nystromformer's pseudo-inverse, a
  // diversity penalty w @ w^T) is contracted over the key positions on purpose.
  if (made_from(ctx.spec, contracted.tensor, value.producer, key->product)) return;
  std::optional<Shape> key_shape = checked_tensor_shape(ctx, key->key, key->product);
  std::optional<Shape> value_shape = checked_tensor_shape(ctx, contracted.tensor, value.producer);
  if (!key_shape || !value_shape || key_shape->size() != value_shape->size()) return;
  // Sizes written as numbers say nothing of the roles: the value is then taken as laid out like
  // the key only when both are made alike (two outputs of one unbind or split, two Linear
  // outputs, two declared tensors).
  const auto k = static_cast<std::size_t>(key->positions), f = static_cast<std::size_t>(key->features);
  if ((*key_shape)[k].is_constant() && (*key_shape)[f].is_constant() && !made_alike(ctx.spec, key->key, key->product, contracted.tensor, value.producer)) return;
  for (std::size_t d = 0; d < key_shape->size(); ++d) {
    const DimExpr &k = (*key_shape)[d], &v = (*value_shape)[d];
    // Two different names are two roles, equal sizes or not (T and D both bound to 64).
    if (k.is_plain_symbol() && v.is_plain_symbol() && !(k == v)) return;
    if (ctx.symbols.compare(ctx.symbols.resolve(k), ctx.symbols.resolve(v)) != Symbols::Verdict::Equal) return;
  }
  const std::string weights_name = shown_name(weights), value_name = shown_name(value);
  // The product as the call writes it: torch.bmm names its operator, matmul is written with @.
  auto product = [&](const std::string& value_operand) {
    return ctx.call.op == "bmm" ? fmt::format("torch.bmm({}, {})", weights_name, value_operand) : fmt::format("{} @ {}", weights_name, value_operand);
  };
  const DimExpr features = ctx.symbols.resolve((*key_shape)[static_cast<std::size_t>(key->features)]);
  const DimExpr positions = ctx.symbols.resolve((*key_shape)[static_cast<std::size_t>(key->positions)]);
  Diagnostic& diagnostic = ctx.report(
      DiagId::ValueContractedLikeKey,
      fmt::format("{} contracts {}'s last dim, the positions of the key {} (its dim {}, from call \"{}\"), with {}'s dim {}, the dim at "
                  "which {} was contracted with the queries (its features): {} is laid out as {}, so each output row sums features read "
                  "as key positions; valid only because {} == {}",
                  product(value_name), weights_name, key->key, key->positions, key->product->id, contracted.tensor, contracted.dim,
                  key->key, contracted.tensor, key->key, positions.str(), features.str()),
      &value, value.rank() - 2);
  diagnostic.notes.push_back("attention weights (..., L, S) multiply the value (..., S, Ev) untransposed: only the key is transposed, "
                             "for the scores q @ k^T; PyTorch raises nothing when S == Ev");
  const ArgRef& ref = ctx.call.tensor(value.argument);
  if (value.producer == nullptr || ref.kind != ArgRef::Kind::Named || !ctx.index_in_calls()) return;
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
                    fmt::format("{} (drop the transpose of call \"{}\"): the value's dim {} holds the key positions the weights run over",
                                product(untransposed), swap.id, value.rank() - 2),
                    nlohmann::json::array({{{"op", "replace"}, {"path", ctx.call.pointer + "/" + value.argument}, {"value", untransposed}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each query's weights over the key positions mix the values at those positions");
}

}  // namespace mhacheck
