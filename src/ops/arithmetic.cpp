// torch.add, torch.sub, torch.mul, torch.div, torch.eq, torch.ne, torch.logical_and/or and
// torch.bitwise_and/or (`&`, `|`) (input, other): one rule. `other` is a tensor or a Python number
// (a tensor only for logical_and/or); the shapes broadcast; the dtype is PyTorch's type promotion
// (true division makes integers floating; a comparison or a logical op gives bool). sub refuses
// bool operands and div an unknown rounding_mode first, as their meta functions check before
// broadcasting; bitwise_and/or refuse a floating promoted dtype after broadcasting, as their CPU
// kernels dispatch over bool and the integer types only.
#include "check/dim_origin.hpp"
#include "check/call_context.hpp"
#include "core/text.hpp"
#include "check/mask_origin.hpp"
#include "check/mask_pattern.hpp"
#include "ops/mask_meaning.hpp"
#include "ops/matmul_shape.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"
#include "ops/window_offsets.hpp"
#include "ops/result_type.hpp"
#include "ops/softmax_weights.hpp"
#include "fix_search.hpp"
#include "roles.hpp"
#include "operators.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mhacheck {
namespace {

DType result_type(const ArgValue& a, const ArgValue& b, bool b_is_number) {
  return result_type(a.dtype, a.rank(), b.dtype, b_is_number ? std::nullopt : std::optional<std::size_t>(b.rank()));
}

// table[:n] (a getitem of a declared tensor cutting dim 0 from the start) whose length names a
// batch size: the table's rows are positions (it is cut, so it is longer than any input), but
// the slice takes one per batch entry, and broadcasts over `x`'s sequence: a batch name in the
// table's position slot (MHA081). The fix slices by that sequence and moves it to its slot.
void check_sliced_table(CallContext& ctx, const ArgValue& x, const ArgValue& slice) {
  const CallDecl* producer = slice.producer;
  if (!producer || producer->op != "getitem" || slice.rank() > x.rank()) return;
  const std::string& index = producer->arguments.at("index").get_ref<const std::string&>();
  const ArgRef& source = producer->tensor("input");
  const TensorDecl* table = source.kind == ArgRef::Kind::Named ? ctx.spec.find_tensor(source.name) : nullptr;
  const std::string& cut_to = slice.dim_name(0);
  if (!table || table->shape.size() != static_cast<std::size_t>(slice.rank()) || index.rfind("[:", 0) != 0 ||
      index.find(',') != std::string::npos || role_of_name(cut_to) != DimRole::Batch ||
      (table->shape[0].is_plain_symbol() && table->shape[0].symbol == cut_to)) {
    return;
  }
  int offset = x.rank() - slice.rank();
  for (int d = 1; d < slice.rank(); ++d) {
    const std::string& sequence = x.dim_name(offset + d);
    if (slice.shape[static_cast<std::size_t>(d)] != DimExpr::constant(1) || role_of_name(sequence) != DimRole::Sequence) continue;
    Diagnostic& diagnostic = ctx.report(
        DiagId::SymbolNameRole,
        fmt::format("{} is {}{}: the position table cut to the batch size {}, so batch entry b gets row b for every position, broadcast "
                    "over {}'s sequence {} (dim {})",
                    tensor_name(slice), source.name, index, cut_to, tensor_name(x), sequence, offset + d),
        &slice, 0);
    const DimExpr& length = x.shape[static_cast<std::size_t>(offset + d)];
    std::optional<nlohmann::json> transposed = insert_after_producer(ctx, *producer, {{"op", "transpose"}, {"dim0", 0}, {"dim1", d}});
    if (!(length.is_constant() || length.is_plain_symbol()) || !transposed) return;
    const std::string& made = producer->outputs.front();
    std::string sliced = fmt::format("[:{}]", length.str());  // a symbol as the tracer writes pe[:x.size(0)]: pe[:T]
    nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", producer->pointer + "/index"}, {"value", sliced}}});
    for (nlohmann::json& op : *transposed) patch.push_back(std::move(op));
    ctx.add_patch_fix(diagnostic,
                      fmt::format("slice {} by the sequence length ({}.size({}) = {}) and put it in the sequence slot: {} = {}{}.transpose(0, {})",
                                  source.name, tensor_name(x), offset + d, length.str(), made, source.name, sliced, d),
                      std::move(patch));
    return;
  }
}

// Whether the calls that make `x` say it holds no 0 anywhere (ones, full(..., 2.0), a declared
// tensor named ones, and what tril/triu or arithmetic with numbers made of them): its values are
// known, piece by piece, and none of the pieces is 0.
bool holds_no_zero(const CallContext& ctx, const ArgValue& x) {
  const std::string name = tensor_name(x);
  if (name.empty()) return false;
  std::optional<MaskPattern> values = mask_pattern(ctx.spec, name, x.producer);
  return values && std::none_of(values->pieces.begin(), values->pieces.end(), [](const MaskPattern::Piece& piece) { return piece.value == 0.0; });
}

// x * float('-inf') (MHA280): NaN wherever x is 0, which for a 0/1 mask is every position it
// keeps. The fix multiplies by the finite extreme of the result's dtype, torch.finfo(dtype).min,
// the value Hugging Face's extended attention masks use. Nothing to say when x is known to hold no
// 0: ones(T, T) * float('-inf') is -inf everywhere, which triu(..., 1) makes the additive causal mask.
void check_mul_infinity(CallContext& ctx, const ArgValue& input, DType result) {
  const nlohmann::json& number = ctx.call.arguments.at("other");
  if (!number.is_string() || (number != "inf" && number != "-inf") || !is_floating(result)) return;
  if (holds_no_zero(ctx, input)) return;
  bool negative = number == "-inf";
  std::string name = shown_name(input);
  Diagnostic& diagnostic = ctx.report(
      DiagId::MulInfinity,
      fmt::format("{} * float('{}'): 0 * inf is NaN, so every entry where {} is 0 becomes NaN, not 0", name, number.get<std::string>(), name),
      &input);
  diagnostic.notes.push_back("an additive mask (1 - mask) * float('-inf') is NaN on every kept position, and softmax then makes the "
                             "whole row NaN");
  std::optional<std::string> pointer = ctx.argument_pointer("other");
  if (!pointer) return;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("multiply by torch.finfo(torch.{}).{} instead of float('{}'), the finite extreme that 0 keeps 0 "
                                "(or scores.masked_fill({} == 0, float('-inf')) for a 1 = keep mask)",
                                dtype_name(result), negative ? "min" : "max", number.get<std::string>(), name),
                    nlohmann::json::array({{{"op", "replace"}, {"path", *pointer}, {"value", negative ? dtype_lowest(result) : dtype_highest(result)}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "0 then stays 0 and 1 becomes the most negative finite value");
}

enum class ResultKind { Promoted, TrueDivision, Comparison, Bitwise };

// "\"bitwise_and_cpu\" not implemented for 'Float'": TensorIterator has broadcast the operands and
// promoted their dtypes before the kernel's dispatch refuses a floating common dtype.
bool bitwise_refuses(CallContext& ctx, const std::string& sign, const ArgValue& input, const ArgValue& other, DType common) {
  if (!is_floating(common)) return false;
  const ArgValue& floating = is_floating(input.dtype) ? input : other;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ActivationDType,
      fmt::format("{} ({}) of a {} input and a {} other; it takes bool and integer tensors only", ctx.call.op, sign, dtype_name(input.dtype),
                  dtype_name(other.dtype)),
      &floating);
  ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("\"{}_cpu\" not implemented for '{}'", ctx.call.op, dtype_aten_name(common)));
  diagnostic.notes.push_back(fmt::format("torch.logical_{} takes any dtype (nonzero is True) and gives bool; a float 0/1 mask can also be "
                                         "made bool first with mask.bool()",
                                         ctx.call.op == "bitwise_and" ? "and" : "or"));
  return true;
}

// A broadcast that fails (MHA305: Swin V2's (H,) logit scale times (B, H, N, N) scores) or holds
// only under a condition (MHA080, or MHA083 when the roles say it is false) often lacks a size-1
// dim in the operand of lower rank: a (B, T) mask against (B, T, E) needs unsqueeze(-1), ALiBi's
// (H,) slopes against (T, T) two trailing dims. When the diagnostic
// has no fix yet, the fewest size-1 dims (one or two) that make every size meet an equal size or
// a 1 without any condition are offered, in the written shape of a declared operand or by an
// index inserted after the call that made it; verification decides whether the graph accepts
// them.
void propose_unsqueezed_operand(CallContext& ctx, const ArgValue& input, const ArgValue& other, std::size_t reported) {
  Diagnostic* conditional = nullptr;
  for (std::size_t i = reported; i < ctx.diagnostics.size(); ++i) {
    DiagId id = ctx.diagnostics[i].id;
    if (id == DiagId::SymbolConstraint || id == DiagId::RoleCondition || id == DiagId::AddBroadcast) {
      conditional = &ctx.diagnostics[i];  // the first: a user sees it first
      break;
    }
  }
  if (!conditional || !conditional->fixes.empty()) return;
  // The broadcast fails in PyTorch (MHA305), whichever of its findings comes first: a condition
  // (T == 512) met on the way is its symptom, not a pairing the operands may mean.
  const bool failed = std::any_of(ctx.diagnostics.begin() + static_cast<std::ptrdiff_t>(reported), ctx.diagnostics.end(),
                                  [](const Diagnostic& d) { return d.id == DiagId::AddBroadcast; });
  // Two 1-D tensors, one over the batch and one not (diffusion timesteps (B,) times frequencies
  // (128,)): one row per batch entry, an outer product; the batch's operand is given the dim.
  auto over_batch = [](const ArgValue& arg) { return arg.rank() == 1 && role_of_dim(arg.dim_names, 0) == DimRole::Batch; };
  const bool outer = input.rank() == 1 && other.rank() == 1 && over_batch(input) != over_batch(other);
  if (input.rank() == other.rank() && !outer) return;
  const ArgValue& lower = outer ? (over_batch(input) ? input : other) : input.rank() < other.rank() ? input : other;
  const ArgValue& higher = &lower == &input ? other : input;
  const std::string name = shown_name(lower);
  const DimExpr one = DimExpr::constant(1);
  // Sizes compared as written: the broadcast just recorded its conditions (T == 384) as
  // substitutions, under which every pairing would seem to hold.
  auto meets = [&](const Shape& candidate) {
    for (std::size_t offset = 0; offset < candidate.size() && offset < higher.written.size(); ++offset) {
      const DimExpr& a = candidate[candidate.size() - 1 - offset];
      const DimExpr& b = higher.written[higher.written.size() - 1 - offset];
      if (!(a == one) && !(b == one) && !(a == b)) return false;
    }
    return true;
  };
  for (int added = 1; added <= 2; ++added) {
    const int rank = lower.rank() + added;
    // A broadcast that failed is fixed within the other operand's rank: past it the result gains
    // dims (a (1500, 384) table made (1500, 1, 1, 384) against (B, 1000, 384) tokens pairs every
    // row with every token). Under a condition the operands may mean it (ALiBi's (H,) slopes
    // against (T, T) distances give (H, T, T)).
    if (failed && rank > higher.rank()) break;
    // Every choice of `added` new positions among `rank`, in increasing order (so that unsqueezing
    // them one after another, left to right, puts each where it is counted).
    for (int first = 0; first < rank; ++first) {
      for (int second = added == 2 ? first + 1 : rank; second <= rank; ++second) {
        if (added == 2 && second == rank) break;
        Shape candidate = lower.written;
        candidate.insert(candidate.begin() + first, one);
        if (added == 2) candidate.insert(candidate.begin() + second, one);
        if (!meets(candidate)) continue;
        // Written as an index, as such code is: slopes[:, None, None], mask[:, :, None].
        std::vector<std::string> index(candidate.size(), ":");
        index[first] = "None";
        if (added == 2) index[second] = "None";
        while (index.back() == ":") index.pop_back();
        std::string text = fmt::format("{}[{}]", name, fmt::join(index, ", "));
        std::string description =
            fmt::format("give {} the size-1 dim{} it lacks: {} gives {}", name, added == 2 ? "s" : "", text, tuple_str(candidate));
        if (ctx.add_shape_fix(*conditional, description, {{&lower, candidate}}) || !lower.producer ||
            lower.producer->outputs.empty() || lower.producer->outputs.front() != name) {
          return;
        }
        // An earlier call's output (a (T, E) table made by an Embedding): indexed where it is made.
        std::string indexed = fmt::format("[{}]", fmt::join(index, ", "));
        if (std::optional<nlohmann::json> patch = insert_after_producer(ctx, *lower.producer, {{"op", "getitem"}, {"index", indexed}})) {
          ctx.add_patch_fix(*conditional,
                            fmt::format("{} where it is made, after call \"{}\": {} = {}", description, lower.producer->id, name, text),
                            std::move(*patch));
        }
        return;
      }
    }
  }
}

// Whether two dims a broadcast aligns have names of known, different roles (a sequence meeting a
// head count). A name without a known role, or no name (a literal), says nothing.
bool roles_differ(const std::string& a, const std::string& b) {
  DimRole first = role_of_name(a), second = role_of_name(b);
  return first != DimRole::Unknown && second != DimRole::Unknown && first != second;
}

// The first pair of dims of `a` and `b` (names right-aligned, sizes too) that broadcasting aligns
// although their roles differ; -1 when none. Positions are counted from the right (0: last dim).
int role_clash(const std::vector<std::string>& a, const std::vector<std::string>& b, const Shape& a_shape, const Shape& b_shape) {
  const DimExpr one = DimExpr::constant(1);
  std::size_t common = std::min(a.size(), b.size());
  for (std::size_t back = 0; back < common; ++back) {
    std::size_t i = a.size() - 1 - back, j = b.size() - 1 - back;
    if (a_shape[i] == one || b_shape[j] == one || a_shape[i] != b_shape[j]) continue;  // unequal sizes: a condition, said elsewhere
    if (roles_differ(a[i], b[j])) return static_cast<int>(back);
  }
  return -1;
}

std::vector<std::string> names_of(const ArgValue& arg) {
  std::vector<std::string> names;
  for (int d = 0; d < arg.rank(); ++d) names.push_back(arg.dim_name(d));
  return names;
}

// MHA290: a broadcast that aligns two dims whose names say different roles, equal in size only
// because "dims" binds both names to one number (cos (B, 1, T, D) against q (B, T, H, D) with
// T == H). Unequal sizes fail to broadcast and are reported as such. When the operand was made by
// an unsqueeze, the fix inserts its size-1 dim where every named dim meets its own role.
void check_broadcast_roles(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  int back = role_clash(names_of(input), names_of(other), input.shape, other.shape);
  if (back < 0) return;
  // Blamed: the operand an unsqueeze made, else the one with fewer dims, else other.
  bool input_blamed = (input.producer && input.producer->op == "unsqueeze" && !(other.producer && other.producer->op == "unsqueeze")) ||
                      input.rank() < other.rank();
  const ArgValue& blamed = input_blamed ? input : other;
  const ArgValue& fixed_side = input_blamed ? other : input;
  int at = blamed.rank() - 1 - back, against = fixed_side.rank() - 1 - back;
  Diagnostic& diagnostic = ctx.report(
      DiagId::BroadcastRoleMismatch,
      fmt::format("the broadcast aligns dim {} of {} (\"{}\", a {}) with dim {} of {} (\"{}\", a {}): equal sizes by binding, different "
                  "roles",
                  at, shown_name(blamed), blamed.dim_name(at), role_name(role_of_dim(blamed.dim_names, at)),
                  against, shown_name(fixed_side), fixed_side.dim_name(against),
                  role_name(role_of_dim(fixed_side.dim_names, against))),
      &blamed, at);
  diagnostic.notes.push_back("PyTorch raises nothing while the two sizes are equal, and fails when they are not");
  const CallDecl* unsqueeze = blamed.producer;
  if (!unsqueeze || unsqueeze->op != "unsqueeze" || !unsqueeze->arguments.contains("dim") || !unsqueeze->arguments["dim"].is_number_integer()) return;
  const std::int64_t written = unsqueeze->arguments["dim"].get<std::int64_t>();
  const int rank = blamed.rank();
  const int inserted = static_cast<int>(written < 0 ? written + rank : written);
  if (inserted < 0 || inserted >= rank || blamed.shape[static_cast<std::size_t>(inserted)] != DimExpr::constant(1)) return;
  std::vector<std::string> names = names_of(blamed);
  Shape shape = blamed.shape;
  names.erase(names.begin() + inserted);
  shape.erase(shape.begin() + inserted);
  const ArgRef& source = unsqueeze->tensor("input");
  const std::string source_name = source.kind == ArgRef::Kind::Named ? source.name : "input";
  for (int p = 0; p < rank; ++p) {
    if (p == inserted) continue;
    std::vector<std::string> moved = names;
    Shape moved_shape = shape;
    moved.insert(moved.begin() + p, "");
    moved_shape.insert(moved_shape.begin() + p, DimExpr::constant(1));
    if (role_clash(moved, names_of(fixed_side), moved_shape, fixed_side.shape) >= 0) continue;
    bool broadcasts = true;
    for (std::size_t b = 0; b < std::min(moved_shape.size(), fixed_side.shape.size()); ++b) {
      const DimExpr& x = moved_shape[moved_shape.size() - 1 - b];
      const DimExpr& y = fixed_side.shape[fixed_side.shape.size() - 1 - b];
      if (!(x == y || x == DimExpr::constant(1) || y == DimExpr::constant(1))) broadcasts = false;
    }
    if (!broadcasts) continue;
    ctx.add_patch_fix(diagnostic,
                      fmt::format("{}.unsqueeze({}) in call \"{}\": the size-1 dim where {} has no counterpart, so each named dim meets its own",
                                  source_name, p, unsqueeze->id, shown_name(fixed_side)),
                      nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(unsqueeze->pointer, "dim")}, {"value", p}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "every named dim meets the dim of its own role");
    return;
  }
}

// Whether the values of `arg` are attention weights or scores: made by softmax, or by a product
// of queries and keys, followed up through the calls that keep the layout (dropout, masking, scaling).
bool attention_map(const CallContext& ctx, const ArgValue& arg) {
  const CallDecl* maker = values_maker(ctx, arg);
  return is_attention_scores(ctx, arg) || (arg.producer != nullptr && arg.producer->op == "softmax") ||
         (maker != nullptr && maker->op == "softmax");
}

// MHA290 for a vector of one value per head (BERT's head_mask (H,), a per-head gate or scale,
// named so or with its dim named as heads) multiplied or added into an attention map
// (B, H, L, S): broadcasting right-aligns the vector with the keys (S), not with the heads, so key
// j gets head j's factor. Equal sizes only (S == H, bound by "dims"): unequal ones fail to
// broadcast. The fix gives the vector the map's rank with its entries in the heads slot, (1, H, 1, 1).
void check_per_head_vector(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  const bool input_is_vector = input.rank() == 1;
  const ArgValue& vector = input_is_vector ? input : other;
  const ArgValue& map = input_is_vector ? other : input;
  if (vector.rank() != 1 || map.rank() < 3 || !attention_map(ctx, map)) return;
  const std::string name = lowered(tensor_name(vector));
  // The dim's own name decides; the tensor's name only when the dim has no role (head_pos_bias
  // over a dim named S is per position).
  const DimRole role = role_of_dim(vector.dim_names, 0);
  const bool per_head = role == DimRole::Heads ||
                        (role == DimRole::Unknown && name.find("head") != std::string::npos && name.find("head_dim") == std::string::npos &&
                         name.find("head_size") == std::string::npos);
  if (!per_head) return;
  int heads = -1;
  for (int d = 0; d < map.rank() && heads < 0; ++d) {
    if (role_of_dim(map.dim_names, d) == DimRole::Heads) heads = d;
  }
  if (heads < 0) heads = map.rank() - 3;  // (..., H, L, S)
  const int keys = map.rank() - 1;
  const DimExpr& size = vector.shape[0];
  if (heads == keys || ctx.symbols.compare(map.shape[static_cast<std::size_t>(heads)], size) != Symbols::Verdict::Equal ||
      ctx.symbols.compare(map.shape[static_cast<std::size_t>(keys)], size) != Symbols::Verdict::Equal) {
    return;
  }
  Diagnostic& diagnostic = ctx.report(
      DiagId::BroadcastRoleMismatch,
      fmt::format("{} {} holds one value per head, but broadcasting aligns it with the last dim of the attention map {} (the keys, "
                  "dim {}), not with its heads (dim {}): key j gets head j's value",
                  shown_name(vector), tuple_str(vector.shape), tuple_str(map.shape), keys, heads),
      &vector, 0);
  diagnostic.notes.push_back("PyTorch raises nothing while the key count equals the head count, and fails when they differ");
  std::vector<std::string> items(static_cast<std::size_t>(map.rank()), "None");
  items[static_cast<std::size_t>(heads)] = ":";
  const std::string index = fmt::format("[{}]", fmt::join(items, ", "));
  if (ctx.add_inserted_call_fix(diagnostic, vector, fmt::format("line the heads up: {}{}", shown_name(vector), index), "getitem",
                                {{"index", index}})) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each head's value scales that head's whole map");
  }
}

// MHA290 for a tensor with no batch dim (a per-head bias (H, T, T)) unsqueezed inside rather than
// at 0: (H, 1, T, T) meets (B, H, T, T) with its heads in the batch slot and its size-1 dim against
// the heads. PyTorch raises only when B != H; with B == H batch entry b gets head b's bias on
// every head. Reported when the dim that meets a dim named as a batch is not named as one, and
// unsqueeze(0) lines every other dim up with a dim of the same size, none stretched: the tensor
// then broadcasts over the batch, as one without a batch dim does.
void check_unsqueezed_meets_batch(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  for (const auto& [blamed, kept] : {std::pair{&input, &other}, std::pair{&other, &input}}) {
    const CallDecl* unsqueeze = blamed->producer;
    if (!unsqueeze || unsqueeze->op != "unsqueeze" || !CallContext::index_in_calls(*unsqueeze) || !unsqueeze->arguments.contains("dim") ||
        !unsqueeze->arguments["dim"].is_number_integer() || blamed->rank() != kept->rank() || blamed->rank() < 3) {
      continue;
    }
    const int rank = blamed->rank();
    const std::int64_t written = unsqueeze->arguments["dim"].get<std::int64_t>();
    const int inserted = static_cast<int>(written < 0 ? written + rank : written);
    const DimExpr one = DimExpr::constant(1);
    if (inserted <= 0 || inserted >= rank || blamed->shape[static_cast<std::size_t>(inserted)] != one) continue;
    if (role_of_name(kept->dim_name(0)) != DimRole::Batch || role_of_name(blamed->dim_name(0)) == DimRole::Batch ||
        blamed->shape[0] == one) {
      continue;
    }
    // A mask (bool, or named so) with its leading dim written as a number (8, beside B = 8) is one
    // mask per batch entry, (B, T, T).unsqueeze(1) as attention code writes it; a per-head one is
    // a bias (ALiBi, relative positions). Its leading dim is the batch, not unnamed heads.
    const ArgRef& unsqueezed = unsqueeze->tensor("input");
    if (blamed->dtype == DType::Bool ||
        (unsqueezed.kind == ArgRef::Kind::Named && lowered(unsqueezed.name).find("mask") != std::string::npos)) {
      continue;
    }
    // unsqueeze(0): the blamed dims before the inserted one move one slot to the right.
    bool lines_up = true;
    for (int d = 1; d < rank && lines_up; ++d) {
      const int from = d <= inserted ? d - 1 : d;
      lines_up = blamed->shape[static_cast<std::size_t>(from)] == kept->shape[static_cast<std::size_t>(d)] &&
                 blamed->shape[static_cast<std::size_t>(from)] != one;
    }
    if (!lines_up) continue;
    const std::string blamed_name = shown_name(*blamed);
    const std::string kept_name = shown_name(*kept);
    Diagnostic& diagnostic = ctx.report(
        DiagId::BroadcastRoleMismatch,
        fmt::format("the broadcast aligns dim 0 of {} {} (size {}, no batch) with dim 0 of {} {} (\"{}\", a {}), and its size-1 dim {} "
                    "(from unsqueeze({}) in call \"{}\") with dim {} of the same size: each batch entry gets one slice of {}",
                    blamed_name, tuple_str(blamed->shape), blamed->shape[0].str(), kept_name, tuple_str(kept->shape), kept->dim_name(0),
                    role_name(DimRole::Batch), inserted, written, unsqueeze->id, inserted, blamed_name),
        blamed, 0);
    diagnostic.notes.push_back("PyTorch raises nothing while the two sizes are equal, and fails when they are not");
    const ArgRef& source = unsqueeze->tensor("input");
    ctx.add_patch_fix(diagnostic,
                      fmt::format("{}.unsqueeze(0) in call \"{}\": shared by the batch, each dim meets its own",
                                  source.kind == ArgRef::Kind::Named ? source.name : "input", unsqueeze->id),
                      nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(unsqueeze->pointer, "dim")}, {"value", 0}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the tensor broadcasts over the batch");
    return;
  }
}

// MHA290 for two dims a broadcast aligns that merge the same named dims in different orders:
// seq-first predictions (T, B).view(-1) against batch-first labels (B, T).view(-1) are both
// B*T long, and element i of one is another (position, entry) pair than element i of the other;
// PyTorch raises nothing. Blamed: the operand whose merged name does not start with a batch factor
// (batch-first order is the convention), else other. When a view, reshape or flatten made it from
// two adjacent dims, the fix transposes them first (and reshapes, as a transposed tensor cannot be
// viewed).
void check_flattened_orders(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  const std::size_t common = static_cast<std::size_t>(std::min(input.rank(), other.rank()));
  for (std::size_t back = 0; back < common; ++back) {
    const int i = input.rank() - 1 - static_cast<int>(back), j = other.rank() - 1 - static_cast<int>(back);
    const std::vector<std::string> a = name_factors(input.dim_name(i)), b = name_factors(other.dim_name(j));
    if (a.size() < 2 || a == b || !std::is_permutation(a.begin(), a.end(), b.begin(), b.end())) continue;
    if (input.shape[static_cast<std::size_t>(i)] != other.shape[static_cast<std::size_t>(j)]) continue;
    const bool input_blamed = role_of_name(a.front()) != DimRole::Batch;
    const ArgValue& blamed = input_blamed ? input : other;
    const ArgValue& kept = input_blamed ? other : input;
    const int at = input_blamed ? i : j;
    const std::vector<std::string>& order = input_blamed ? a : b;
    Diagnostic& diagnostic = ctx.report(
        DiagId::BroadcastRoleMismatch,
        fmt::format("dim {} of {} (\"{}\") and dim {} of {} (\"{}\") merge the same dims in different orders: element i of one is not "
                    "element i of the other",
                    at, shown_name(blamed), blamed.dim_name(at), input_blamed ? j : i, shown_name(kept), kept.dim_name(input_blamed ? j : i)),
        &blamed, at);
    diagnostic.notes.push_back("PyTorch raises nothing: both have the same number of elements");
    const CallDecl* flattening = blamed.producer;
    if (order.size() != 2 || flattening == nullptr || !CallContext::index_in_calls(*flattening) ||
        (flattening->op != "view" && flattening->op != "reshape" && flattening->op != "flatten")) {
      return;
    }
    const ArgRef& source = flattening->tensor("input");
    if (source.kind != ArgRef::Kind::Named) return;
    // The merged factors are the source's dims at..at+1 only when the dims before them are kept one
    // to one: checked on a declared source's written names.
    const TensorDecl* declared = ctx.spec.find_tensor(source.name);
    if (declared == nullptr) return;
    const std::vector<std::string> source_names = written_names(declared->shape);
    if (static_cast<int>(source_names.size()) < at + 2 || source_names[static_cast<std::size_t>(at)] != order[0] ||
        source_names[static_cast<std::size_t>(at) + 1] != order[1]) {
      return;
    }
    const std::string transposed = fresh_name(ctx.spec, source.name + "_t");
    const std::size_t index = *CallContext::index_in_calls(*flattening);
    nlohmann::json call = {{"id", transposed}, {"op", "transpose"}, {"input", source.name}, {"dim0", at}, {"dim1", at + 1}, {"outputs", {transposed}}};
    nlohmann::json patch = nlohmann::json::array({{{"op", "add"}, {"path", flattening->pointer}, {"value", std::move(call)}},
                                                  {{"op", "replace"}, {"path", CallContext::calls_entry_pointer(index + 1) + "/input"}, {"value", transposed}}});
    if (flattening->op == "view") patch.push_back({{"op", "replace"}, {"path", CallContext::calls_entry_pointer(index + 1) + "/op"}, {"value", "reshape"}});
    ctx.add_patch_fix(diagnostic,
                      fmt::format("{}.transpose({}, {}) before the {} in call \"{}\"{}: merged {} as {} is", source.name, at, at + 1, flattening->op,
                                  flattening->id, flattening->op == "view" ? " (as reshape)" : "", merged_name({order[1], order[0]}), shown_name(kept)),
                      std::move(patch));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "element i of both operands is the same (entry, position) pair");
    return;
  }
}

// MHA292: a mask whose True marks the padding (ids == pad_id, a key_padding_mask), cast to float
// and multiplied into activations as weights: masked mean pooling then keeps the padding only.
// What True means is mask_origin's reading. The fix negates the mask before its cast, so every
// reader of the weights (the numerator and the count) takes the tokens.
void check_padding_weights(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  if (ctx.call.op != "mul") return;
  for (const auto& [weights, values] : {std::pair{&other, &input}, std::pair{&input, &other}}) {
    if (!is_floating(values->dtype) || bool_mask_cast(ctx, *values)) continue;
    std::optional<BoolMaskCast> cast = bool_mask_cast(ctx, *weights);
    if (!cast || cast->origin.convention != MaskConvention::TrueIgnores) continue;
    const std::string mask = cast->origin.maker != nullptr && !cast->origin.maker->outputs.empty() ? cast->origin.maker->outputs.front() : cast->mask;
    Diagnostic& diagnostic = ctx.report(
        DiagId::PaddingMaskWeights,
        fmt::format("{} is the mask \"{}\" cast by {} (call \"{}\"), whose True marks the padding: multiplied into {}, it keeps the "
                    "padding positions and zeroes the tokens",
                    shown_name(*weights), mask, cast->cast->op, cast->cast->id,
                    shown_name(*values)),
        weights);
    if (!cast->origin.reason.empty()) diagnostic.notes.push_back(cast->origin.reason);
    diagnostic.notes.push_back("masked mean pooling weights the tokens to keep (1 = keep); PyTorch raises nothing");
    const std::optional<std::size_t> index = CallContext::index_in_calls(*cast->cast);
    if (!index) return;
    const std::string keep = cast->cast->id + "_keep";
    ctx.add_patch_fix(diagnostic,
                      fmt::format("weight by ~{}, the tokens: (~{}).{}() in call \"{}\"", mask, cast->mask, cast->cast->op, cast->cast->id),
                      nlohmann::json::array({{{"op", "add"}, {"path", cast->cast->pointer},
                                              {"value", {{"id", keep}, {"op", "bitwise_not"}, {"input", cast->mask}, {"outputs", {keep}}}}},
                                             {{"op", "replace"}, {"path", CallContext::calls_entry_pointer(*index + 1) + "/input"}, {"value", keep}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the weights are 1 on the tokens and 0 on the padding");
    return;
  }
}

// Whether `operand` is a rotary position table: named as one (cos, sin, freqs, rope), or made by
// cos/sin, followed up through the calls that keep its values (keeps_values) or cast it (cos_cached[:T],
// cos.unsqueeze(1), .to(dtype)). Only such a table is the D/2 frequencies meant to be written twice;
// any other operand of half the width (a Linear's output, a mask) is not half of anything.
bool rotary_table(const CallContext& ctx, const ArgValue& operand) {
  static const std::array<const char*, 4> table_names = {"cos", "sin", "freq", "rope"};
  auto named_table = [](const std::string& written) {
    const std::string name = lowered(written);
    return std::any_of(table_names.begin(), table_names.end(), [&](const char* part) { return name.find(part) != std::string::npos; });
  };
  std::string name = tensor_name(operand);
  if (name.empty()) return false;
  const CallDecl* before = &ctx.call;
  for (int steps = 0; steps < 16; ++steps) {
    if (named_table(name)) return true;
    const CallDecl* maker = producer_of(ctx.spec, name, before);
    if (maker == nullptr) return false;
    if (maker->op == "cos" || maker->op == "sin") return true;
    if (!keeps_values(maker->op) && !casts_to_float(*maker)) return false;
    name = input_name(*maker, "input");
    if (name.empty()) return false;
    before = maker;
  }
  return false;
}

// An operand whose last dim is exactly half the other's, every other dim broadcasting: a table of
// D/2 rotary frequencies (cos, sin of (T, D/2)) meeting (B, H, T, D) queries, where the D-wide
// table is the frequencies written twice. Hugging Face's rotate_half pairs dim i with i + D/2, so
// the table is torch.cat((freqs, freqs), dim=-1), first; GPT-J's interleaved pairs (2i, 2i+1) take
// repeat_interleave(2, dim=-1), second. Both are inserted before the call, read in its place.
void propose_doubled_half(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input, const ArgValue& other) {
  if (!ctx.index_in_calls() || input.rank() == 0 || other.rank() == 0) return;
  const DimExpr a = ctx.symbols.resolve(input.shape.back()), b = ctx.symbols.resolve(other.shape.back());
  if (!a.is_constant() || !b.is_constant() || a.offset <= 1 || b.offset <= 1 || (a.offset != 2 * b.offset && b.offset != 2 * a.offset)) return;
  const ArgValue& half = a.offset < b.offset ? input : other;
  const ArgValue& full = a.offset < b.offset ? other : input;
  // Rotary tables meet the queries and keys in mul and add only (q * cos + rotate_half(q) * sin).
  if ((ctx.call.op != "mul" && ctx.call.op != "add") || !rotary_table(ctx, half)) return;
  // Every other dim, aligned from the right, broadcasts.
  const DimExpr one = DimExpr::constant(1);
  for (int k = 2; k <= std::min(half.rank(), full.rank()); ++k) {
    const DimExpr& x = half.shape[static_cast<std::size_t>(half.rank() - k)];
    const DimExpr& y = full.shape[static_cast<std::size_t>(full.rank() - k)];
    if (ctx.symbols.resolve(x) != one && ctx.symbols.resolve(y) != one && ctx.symbols.compare(x, y) != Symbols::Verdict::Equal) return;
  }
  const ArgRef& operand = ctx.call.tensor(half.argument);
  if (operand.kind != ArgRef::Kind::Named) return;
  const std::string& name = operand.name;
  Shape doubled = half.shape;
  doubled.back() = DimExpr::constant(2 * ctx.symbols.resolve(half.shape.back()).offset);
  auto propose = [&](const std::string& python, nlohmann::json made, const std::string& note) {
    std::string made_name = made["outputs"][0].get<std::string>();
    ctx.add_patch_fix(diagnostic,
                      fmt::format("write {}'s {} values twice to {}'s width: {} = {} gives {}", name, ctx.symbols.resolve(half.shape.back()).str(),
                                  shown_name(full), name, python, tuple_str(doubled)),
                      nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(ctx.call.pointer, half.argument)}, {"value", made_name}},
                                             {{"op", "add"}, {"path", ctx.call.pointer}, {"value", std::move(made)}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, note);
  };
  std::string twice = fresh_name(ctx.spec, name + "_twice");
  propose(fmt::format("torch.cat(({}, {}), dim=-1)", name, name),
          {{"id", twice}, {"op", "cat"}, {"tensors", {name, name}}, {"dim", -1}, {"outputs", {twice}}},
          "the halves line up as rotate_half pairs dims i and i + D/2 (Hugging Face's convention)");
  std::string interleaved = fresh_name(ctx.spec, name + "_interleaved");
  propose(fmt::format("{}.repeat_interleave(2, dim=-1)", name),
          {{"id", interleaved}, {"op", "repeat_interleave"}, {"input", name}, {"repeats", 2}, {"dim", -1}, {"outputs", {interleaved}}},
          "each value meets the pair (2i, 2i+1), as GPT-J style interleaved rotary embeddings pair dims");
}

// A bias square over one sequence ((1, H, T, T): a self-attention's relative position bias, or its
// causal mask) added to attention scores over two sequences ((B, H, T, S): cross-attention, T
// queries over S keys of another input): it fits only if S == T, and PyTorch fails whenever they
// differ. When they agree by accident the bias relates query i to key j by a distance between
// positions of different sequences, which means nothing. The condition (MHA080) is an error
// (MHA083) and the fix drops the bias: the call passes the scores on unchanged.
void check_square_bias_on_cross_scores(CallContext& ctx, const ArgValue& input, const ArgValue& other, std::size_t reported) {
  if (ctx.call.op != "add" || !ctx.index_in_calls()) return;
  for (const auto& [scores, bias] : {std::pair{&input, &other}, std::pair{&other, &input}}) {
    if (bias->rank() < 2 || scores->rank() < 2 || !is_attention_scores(ctx, *scores) || is_attention_scores(ctx, *bias)) continue;
    const DimExpr& rows = bias->written[bias->written.size() - 2];
    const DimExpr& columns = bias->written.back();
    const DimExpr& queries = scores->written[scores->written.size() - 2];
    const DimExpr& keys = scores->written.back();
    if (!rows.is_plain_symbol() || !(rows == columns) || !queries.is_plain_symbol() || !keys.is_plain_symbol() || queries == keys) continue;
    if (!(rows == queries) && !(rows == keys)) continue;
    // Two sequences each named on its own (T, S): a size made from the bias's sequence and another
    // (a KV cache's P+T keys, which hold the queries' own positions) is no other sequence. A name
    // is an identifier: the shape parser never reads one starting with a digit as a symbol.
    if (!is_identifier(queries.symbol.str()) || !is_identifier(keys.symbol.str())) continue;
    auto condition = std::find_if(ctx.diagnostics.begin() + static_cast<std::ptrdiff_t>(reported), ctx.diagnostics.end(), [](const Diagnostic& d) {
      return d.id == DiagId::SymbolConstraint || d.id == DiagId::AddBroadcast;
    });
    const ArgRef& scores_ref = ctx.call.tensor(scores->argument);
    if (condition == ctx.diagnostics.end() || scores_ref.kind != ArgRef::Kind::Named) return;
    const std::string bias_name = shown_name(*bias), other_dim = rows == queries ? keys.str() : queries.str();
    Diagnostic* error = &*condition;
    if (condition->id == DiagId::SymbolConstraint) {
      // Reported again as the error it is (counted as one), where the bias's key dim is.
      std::string message = condition->message;
      ctx.diagnostics.erase(condition);
      error = &ctx.report(DiagId::RoleCondition, std::move(message), bias, bias->rank() - 1);
    }
    error->message += fmt::format(", but {} {} is square over the sequence {} (a self-attention bias or mask) while {} {} "
                                      "relate {} queries to {} keys of another sequence (cross-attention)",
                                      bias_name, tuple_str(bias->written), rows.str(), shown_name(*scores), tuple_str(scores->written),
                                      queries.str(), keys.str());
    error->notes.insert(error->notes.begin(),
                            fmt::format("PyTorch fails whenever {} != {}; when they are equal the bias relates positions of two different "
                                        "sequences, which has no meaning (a cross-attention has no relative position bias)",
                                        rows.str(), other_dim));
    nlohmann::json call = ctx.spec.value().at(nlohmann::json::json_pointer(ctx.call.pointer));
    nlohmann::json passed = {{"id", ctx.call.id}, {"op", "clone"}, {"input", scores_ref.name}};
    if (call.contains("outputs")) passed["outputs"] = call["outputs"];
    ctx.add_patch_fix(*error,
                      fmt::format("drop the bias {} from call \"{}\": the cross-attention scores {} passed on without {}",
                                  bias_name, ctx.call.id, scores_ref.name, bias_name),
                      nlohmann::json::array({{{"op", "replace"}, {"path", ctx.call.pointer}, {"value", std::move(passed)}}}));
    CallContext::label_last_fix(*error, FixSemantics::Consistent, "cross-attention relates the queries to another sequence's keys: a bias "
                                                                      "over the queries' own positions has no place there");
    std::rotate(error->fixes.begin(), error->fixes.end() - 1, error->fixes.end());
    return;
  }
}

// A tensor combined with its own reduction made without keepdim (a / a.sum(dim=-1), x - x.max(dim=1)):
// the reduced dim is gone, so broadcasting from the right lines every dim before it up with the
// next one: the (1, N) row sums of a (1, N, N) map divide column j by row j's sum. PyTorch raises
// only when the shifted sizes differ, never at a batch of 1 or on a square map. Reduced over the
// leading dims only, nothing shifts. The fix keeps the dim (keepdim=True).
void check_reduced_without_keepdim(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  const std::string name = tensor_name(input);
  const CallDecl* reduction = other.producer;
  static const std::set<std::string> reductions{"sum", "mean", "amax", "amin", "max", "min", "logsumexp", "norm", "std", "var"};
  if (name.empty() || reduction == nullptr || reductions.count(reduction->op) == 0 || !CallContext::index_in_calls(*reduction) ||
      input_name(*reduction, "input") != name || reduction->arguments.value("keepdim", nlohmann::json(false)) == true || !reduction->arguments.contains("dim") || input.rank() < 2) {
    return;
  }
  const nlohmann::json& written = reduction->arguments.at("dim");
  std::vector<std::int64_t> dims;
  if (written.is_number_integer()) dims.push_back(written.get<std::int64_t>());
  else if (written.is_array()) for (const nlohmann::json& d : written) if (d.is_number_integer()) dims.push_back(d.get<std::int64_t>());
  std::set<int> reduced;
  const int rank = input.rank();
  for (std::int64_t d : dims) {
    if (d < -rank || d >= rank) return;
    reduced.insert(static_cast<int>(d < 0 ? d + rank : d));
  }
  if (reduced.empty() || static_cast<int>(reduced.size()) == rank) return;
  // Kept dim k of the input lands at the position of the result's dim i, right-aligned.
  std::vector<int> kept;
  for (int d = 0; d < rank; ++d) if (reduced.count(d) == 0) kept.push_back(d);
  int shifted = -1;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const int lands = rank - static_cast<int>(kept.size()) + static_cast<int>(i);
    if (lands != kept[i] && !(ctx.symbols.resolve(input.shape[static_cast<std::size_t>(kept[i])]) == DimExpr::constant(1))) {
      shifted = kept[i];
      break;
    }
  }
  if (shifted < 0) return;
  const int lands = rank - static_cast<int>(kept.size()) + static_cast<int>(std::find(kept.begin(), kept.end(), shifted) - kept.begin());
  Diagnostic& diagnostic = ctx.report(
      DiagId::ReducedWithoutKeepdim,
      fmt::format("{} is {}.{}(dim={}) without keepdim (call \"{}\"): against {} {} its dim {} of {} lines up with dim {}: the values "
                  "of one dim meet the entries of another",
                  shown_name(other), name, reduction->op, written.dump(), reduction->id, name, tuple_str(input.shape), shifted, name, lands),
      &other);
  diagnostic.notes.push_back("a reduction without keepdim drops its dim, and broadcasting aligns the rest from the right; PyTorch raises "
                             "only when the shifted sizes differ");
  ctx.add_patch_fix(diagnostic,
                    fmt::format("{}.{}(dim={}, keepdim=True) in call \"{}\": the reduced dim stays as size 1, each value against its own row",
                                name, reduction->op, written.dump(), reduction->id),
                    nlohmann::json::array({{{"op", "add"}, {"path", reduction->pointer + "/keepdim"}, {"value", true}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "every dim of the reduction meets the dim it came from");
}

// A bias or an additive mask added to attention weights, a softmax's output, and the sum used as
// the weights of a product with the values (BEiT's relative position bias added after the
// softmax): the bias belongs to the logits, where the softmax turns it into weights; added after,
// the rows no longer sum to 1 and the bias enters the output linearly. PyTorch raises nothing.
// Weights renormalised after the add (attention rollout adds the identity, then divides by the row
// sums), or added to other weights (two maps averaged), are deliberate. The fix moves the add
// before the softmax (MHA277 says so of a mask filled in after it).
void check_bias_after_softmax(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  if (ctx.call.op != "add" || ctx.call.outputs.empty() || !is_floating(other.dtype) || other.rank() < 2) return;
  const CallDecl* softmax = input.producer;
  if (softmax == nullptr || softmax->op != "softmax" || (other.producer != nullptr && other.producer->op == "softmax")) return;
  const CallDecl* bias_maker = values_maker(ctx, other);
  if (bias_maker != nullptr && (bias_maker->op == "eye" || bias_maker->op == "softmax")) return;
  // The sum is read as the weights of a matrix product (w @ v), directly or through dropout.
  const std::string& summed = ctx.call.outputs.front();
  std::set<std::string> weights{summed};
  bool read_as_weights = false;
  const std::optional<std::size_t> at = call_index(ctx.spec, ctx.call.id);
  // The first call that reads the sum, as any argument, says what it is: the scan ends there, not
  // at the end of the spec (a product reading it as its second operand reads it otherwise).
  for (std::size_t index = at ? *at + 1 : ctx.spec.calls.size(); index < ctx.spec.calls.size() && !read_as_weights; ++index) {
    const CallDecl& call = ctx.spec.calls[index];
    const bool reads = std::any_of(call.tensors.begin(), call.tensors.end(), [&](const auto& entry) {
      return entry.second.kind == ArgRef::Kind::Named && weights.count(entry.second.name) != 0;
    });
    if (!reads) continue;
    const std::string read = input_name(call, "input");
    if (weights.count(read) == 0) return;
    if (call.op == "matmul" || call.op == "bmm") read_as_weights = true;
    else if (call.op == "dropout" && !call.outputs.empty()) weights.insert(call.outputs.front());
    else return;  // renormalised, scaled, or read otherwise: not plainly the weights
  }
  if (!read_as_weights) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::BiasAfterSoftmax,
      fmt::format("{} {} is added to {}, the attention weights of softmax call \"{}\", after the softmax: the weights' rows no longer sum "
                  "to 1 and the bias enters the output linearly, where it belongs to the logits",
                  shown_name(other), tuple_str(other.shape), shown_name(input), softmax->id),
      &other);
  diagnostic.notes.push_back("a position bias or additive mask is added to the scores, before the softmax; PyTorch raises nothing");
  std::optional<nlohmann::json> patch = before_softmax_patch(ctx.spec, ctx.call, *softmax, "_biased");
  if (!patch) return;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("add {} before the softmax, to the logits: the add in call \"{}\" on {}, then softmax in call \"{}\" on its output",
                                shown_name(other), ctx.call.id, input_name(*softmax, "input"), softmax->id),
                    std::move(*patch));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the softmax turns the biased logits into weights that sum to 1");
}

void infer_binary(CallContext& ctx, const std::string& sign, std::function<bool(CallContext&, const ArgValue&, const ArgValue&)> refuses,
                  ResultKind kind) {
  const ArgValue& input = ctx.arg("input");
  bool number = ctx.call.arguments.contains("other");
  ArgValue wrapped = number ? wrapped_number(ctx, "other") : ArgValue{};
  const ArgValue& other = number ? wrapped : ctx.arg("other");
  if (refuses && refuses(ctx, input, other)) return;
  CallContext::BroadcastFailure failing;
  const std::size_t reported = ctx.diagnostics.size();
  std::optional<Shape> shape = ctx.broadcast(input.shape, other.shape, &other, "input " + sign + " other", failing);
  if (shape && !number) check_square_bias_on_cross_scores(ctx, input, other, reported);
  if (shape && !number) propose_unsqueezed_operand(ctx, input, other, reported);
  if (shape && !number) {
    const std::size_t before = ctx.diagnostics.size();
    check_broadcast_roles(ctx, input, other);
    if (ctx.diagnostics.size() == before) check_per_head_vector(ctx, input, other);
    if (ctx.diagnostics.size() == before) check_unsqueezed_meets_batch(ctx, input, other);
    if (ctx.diagnostics.size() == before) check_padding_weights(ctx, input, other);
  }
  if (shape && !number) check_flattened_orders(ctx, input, other);
  if (shape && !number) check_reduced_without_keepdim(ctx, input, other);
  const std::size_t after_roles = ctx.diagnostics.size();
  if (shape && !number) check_bias_after_softmax(ctx, input, other);
  if (shape && !number && ctx.diagnostics.size() == after_roles) check_bias_after_softmax(ctx, other, input);  // bias + weights
  if (!shape) {
    Diagnostic& failure = report_broadcast_failure(ctx, DiagId::AddBroadcast,
                             fmt::format("input {} and other {} do not broadcast for input {} other: {} vs {} at dim {} of the result",
                                         tuple_str(input.shape), tuple_str(other.shape), sign, failing.a.str(), failing.b.str(), failing.dim),
                             other, input, failing.a, failing);
    if (!number && failing.dim == static_cast<int>(std::max(input.rank(), other.rank())) - 1) {
      propose_doubled_half(ctx, failure, input, other);
    }
    if (!number) check_square_bias_on_cross_scores(ctx, input, other, reported);
    if (!number) propose_unsqueezed_operand(ctx, input, other, reported);
    return;
  }
  DType dtype = kind == ResultKind::Comparison ? DType::Bool : result_type(input, other, number);
  if (kind == ResultKind::Bitwise && bitwise_refuses(ctx, sign, input, other, dtype)) return;
  if (kind == ResultKind::TrueDivision && !is_floating(dtype)) dtype = DType::Float32;  // the default dtype
  ctx.outputs.push_back({"output", *shape, dtype});
  // A number is a 0-D operand, as PyTorch wraps it: it takes TensorIterator off its fast setup.
  const Layout scalar = Layout::contiguous({});
  std::vector<const Layout*> layouts{&input.layout, number ? &scalar : &other.layout};
  ctx.output_layouts["output"] = elementwise_layout(layouts, *shape);
}

// The one operator of the table whose result is drawn at random: two dropouts written alike
// hold different values (the table has no rand, randn or empty).
bool draws_anew(const CallDecl& call) { return call.op == "dropout"; }

// Whether tensors `a` and `b`, read by a call after `before`, hold the same values by
// construction: one name, or outputs at the same place of two calls of the same op (or module)
// with the same arguments, reading tensors that hold the same values in turn.
bool same_values(const Spec& spec, const std::string& a, const std::string& b, const CallDecl* before, int depth = 0) {
  if (a == b) return true;
  if (depth > 6) return false;
  const CallDecl* made_a = producer_of(spec, a, before);
  const CallDecl* made_b = producer_of(spec, b, before);
  if (made_a == nullptr || made_b == nullptr || made_a == made_b || draws_anew(*made_a)) return false;
  if (made_a->op != made_b->op || made_a->module != made_b->module || made_a->arguments != made_b->arguments) return false;
  auto place = [](const CallDecl& call, const std::string& name) { return std::find(call.outputs.begin(), call.outputs.end(), name) - call.outputs.begin(); };
  if (place(*made_a, a) != place(*made_b, b) || made_a->tensors.size() != made_b->tensors.size()) return false;
  for (const auto& [argument, ref] : made_a->tensors) {
    auto other = made_b->tensors.find(argument);
    if (other == made_b->tensors.end() || other->second.kind != ref.kind) return false;
    if (ref.kind == ArgRef::Kind::Named && !same_values(spec, ref.name, other->second.name, made_a, depth + 1)) return false;
    if (ref.kind != ArgRef::Kind::Named && ref.kind != ArgRef::Kind::Absent) return false;
  }
  return true;
}

// MHA441: `x - x` of one tensor, or of two tensors made alike
// (mask_windows.unsqueeze(1) - mask_windows.unsqueeze(1)), is zero everywhere. Code that writes it
// meant two different operands, most often the pairwise difference x.unsqueeze(d) -
// x.unsqueeze(d + 1), whose one copy runs along each dim; PyTorch raises nothing. (x != x is
// left alone: it is the NaN test.) The fix, for two unsqueezes of one tensor at one dim, unsqueezes the second at
// the neighbouring dim.
void check_same_difference(CallContext& ctx) {
  if (ctx.call.arguments.contains("other")) return;
  const ArgRef& input = ctx.call.tensor("input");
  const ArgRef& other = ctx.call.tensor("other");
  if (input.kind != ArgRef::Kind::Named || other.kind != ArgRef::Kind::Named) return;
  if (!same_values(ctx.spec, input.name, other.name, &ctx.call)) return;
  const ArgValue& operand = ctx.arg("other");
  Diagnostic& diagnostic = ctx.report(
      DiagId::SameDifference,
      input.name == other.name
          ? fmt::format("\"{0}\" - \"{0}\": one tensor on both sides, the difference is 0 everywhere", input.name)
          : fmt::format("\"{}\" - \"{}\": both are made the same way from the same tensors, so the difference is 0 everywhere",
                        input.name, other.name),
      &operand);
  diagnostic.notes.push_back("a pairwise difference broadcasts x.unsqueeze(d) against x.unsqueeze(d + 1); PyTorch raises nothing");
  const CallDecl* second = operand.producer;
  if (second == nullptr || second->op != "unsqueeze" || !second->arguments.contains("dim") || !second->arguments.at("dim").is_number_integer() ||
      !CallContext::index_in_calls(*second)) {
    return;
  }
  const std::int64_t written = second->arguments.at("dim").get<std::int64_t>();
  const std::int64_t neighbour = written < 0 ? written - 1 : written + 1;
  ctx.add_patch_fix(diagnostic, fmt::format("unsqueeze({}) in call \"{}\": each operand varies along one of the two dims", neighbour, second->id),
                    nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(second->pointer, "dim")}, {"value", neighbour}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "entry (i, j) compares element i with element j");
}

// sub_check: two bool operands, then one.
bool sub_refuses(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  bool both = input.dtype == DType::Bool && other.dtype == DType::Bool;
  if (!both && input.dtype != DType::Bool && other.dtype != DType::Bool) return false;
  const ArgValue& boolean = input.dtype == DType::Bool ? input : other;
  Diagnostic& diagnostic = ctx.report(DiagId::SubBool, fmt::format("sub with a bool {}: PyTorch does not subtract bools", boolean.argument), &boolean);
  ctx.pytorch_raises(diagnostic, "RuntimeError",
                     both ? "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` "
                            "operator instead."
                          : "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use "
                            "the `~` or `logical_not()` operator instead.");
  if (both) {
    diagnostic.notes.push_back("for bools, a - b is a ^ b (logical_xor)");
    return true;
  }
  // One bool operand in arithmetic (mask - 1, 1 - mask, then scaled into an additive mask) is
  // read as 1.0 and 0.0: cast first, as Hugging Face's extended mask does (mask.to(dtype)).
  const std::string name = tensor_name(boolean);
  ctx.add_inserted_call_fix(diagnostic, boolean,
                        fmt::format("cast {} first: {}.float() (bools do not subtract; as floats True is 1.0 and False 0.0)",
                                    name.empty() ? boolean.argument : name, name.empty() ? boolean.argument : name),
                        "float", nlohmann::json::object());
  return true;
}

// MHA288 for a divisor that sums (or averages) every dim, the batch's too: per-entry vectors (a
// (B, E) sum of each sequence's masked tokens) divided by mask.sum() share one count over the
// whole batch, so each entry's result depends on the other entries' lengths; PyTorch raises
// nothing. Found when the divisor's reduction reads a declared tensor with a dim named as a batch
// (maybe cast or compared with a number on the way) and the dividend keeps a dim named as a batch
// beside another dim. Dividing a tensor by its own
// total (token weights mask / mask.sum()) or a total by a total (a masked loss) is deliberate. The
// fix reduces every dim but the batch, keeping them: sum(dim=1, keepdim=True), when that lines the
// totals up with the dividend's batch dim.
void check_whole_batch_divisor(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  if (other.rank() != 0 || input.rank() < 2) return;
  const CallDecl* reduction = values_maker(ctx, other);
  if (reduction == nullptr || (reduction->op != "sum" && reduction->op != "mean") || !CallContext::index_in_calls(*reduction)) return;
  const nlohmann::json& dims = reduction->arguments.at("dim");
  if (!(dims.is_null() || (dims.is_array() && dims.empty()))) return;
  auto ref = reduction->tensors.find("input");
  if (ref == reduction->tensors.end() || ref->second.kind != ArgRef::Kind::Named || ref->second.name == tensor_name(input)) return;
  const std::string summed = ref->second.name;
  // The summed mask may be a declared one cast (mask.float(), .to(torch.float32)) or compared
  // with a number (ids != pad) first: those keep every dim, and so the declared dims' names.
  std::string source = summed;
  for (const CallDecl* maker = producer_of(ctx.spec, source, reduction); maker != nullptr; maker = producer_of(ctx.spec, source, maker)) {
    static const std::array<const char*, 8> keeping = {"float", "double", "half", "bfloat16", "to", "long", "int", "bool"};
    auto input_ref = maker->tensors.find("input");
    const bool compared = is_comparison(maker->op);
    if ((!compared && std::none_of(keeping.begin(), keeping.end(), [&](const char* op) { return maker->op == op; })) || input_ref == maker->tensors.end() ||
        input_ref->second.kind != ArgRef::Kind::Named || (compared && !maker->arguments.contains("other"))) {
      return;
    }
    source = input_ref->second.name;
  }
  auto declared = std::find_if(ctx.spec.tensors.begin(), ctx.spec.tensors.end(), [&](const TensorDecl& t) { return t.name == source; });
  if (declared == ctx.spec.tensors.end()) return;
  const std::vector<std::string> names = written_names(declared->shape);
  auto batch = std::find_if(names.begin(), names.end(), [](const std::string& name) { return role_of_name(name) == DimRole::Batch; });
  const bool dividend_batch = std::any_of(input.dim_names.begin(), input.dim_names.end(),
                                          [](const std::string& name) { return role_of_name(name) == DimRole::Batch; });
  if (batch == names.end() || !dividend_batch || names.size() < 2) return;
  // A dividend that keeps every dim of the summed tensor (a token-level loss (B, T) over
  // mask.sum()) is a mean over all tokens, deliberate; per-entry vectors reduced a dim away.
  const bool reduced_away = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
    return !name.empty() && role_of_name(name) != DimRole::Batch &&
           std::find(input.dim_names.begin(), input.dim_names.end(), name) == input.dim_names.end();
  });
  if (!reduced_away) return;
  const int batch_dim = static_cast<int>(batch - names.begin());
  nlohmann::json kept = nlohmann::json::array();
  for (int d = 0; d < static_cast<int>(names.size()); ++d) {
    if (d != batch_dim) kept.push_back(d);
  }
  const nlohmann::json dim_value = kept.size() == 1 ? kept[0] : kept;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ReduceBatchRole,
      fmt::format("the divisor {}.{}() (call \"{}\") reduces every dim of {}, the batch dim {} (\"{}\") too: each entry of the dividend {} is "
                  "divided by one total over the whole batch",
                  summed, reduction->op, reduction->id, tuple_str(declared->shape), batch_dim, *batch, tuple_str(input.shape)),
      &other);
  diagnostic.notes.push_back("each entry's result depends on the other entries (their lengths); PyTorch raises nothing");
  // keepdim gives one total per entry in the batch dim's place: it divides the dividend entry by
  // entry only when both have the same rank and the batch in the same dim.
  if (static_cast<int>(names.size()) != input.rank() || role_of_dim(input.dim_names, batch_dim) != DimRole::Batch) return;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("{}.{}(dim={}, keepdim=True) in call \"{}\": one total per batch entry", summed, reduction->op,
                                dim_value.dump(), reduction->id),
                    nlohmann::json::array({{{"op", "add"}, {"path", child_pointer(reduction->pointer, "dim")}, {"value", dim_value}},
                                           {{"op", "add"}, {"path", child_pointer(reduction->pointer, "keepdim")}, {"value", true}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each entry is divided by its own total");
}

// MHA371: attention scores with one query row (a decoding step: q (B, H, 1, D) @ k^T), maybe
// scaled, biased or masked on the way, broadcast against an operand with more rows (a position
// bias or mask computed for every position, (1, H, S, S)): the single row is copied to each of
// the operand's rows. Only for the rows of a batched product (rank 3 or more), written as a
// literal 1, met by a size that is no batch, of an operand square over the product's columns (the
// keys): a (1, S) product of one learned query against (B, S) and a pooled context (B, 1, E) added
// to (B, N, E) tokens are broadcast on purpose. The fix (searched) slices the operand's rows.
void check_stretched_product_rows(CallContext& ctx, const ArgValue& scores, const ArgValue& other) {
  if (scores.rank() < 3 || other.rank() < 2) return;
  const CallDecl* product = values_maker(ctx, scores);
  if (product == nullptr || (product->op != "matmul" && product->op != "bmm" && product->op != "einsum")) return;
  const int rows = scores.rank() - 2, other_rows = other.rank() - 2;
  if (!(scores.shape[static_cast<std::size_t>(rows)] == DimExpr::constant(1)) || !scores.dim_name(rows).empty()) return;
  const DimExpr& stretched = other.shape[static_cast<std::size_t>(other_rows)];
  if (stretched.is_constant() ? stretched.offset <= 1 : ctx.symbols.compare(stretched, DimExpr::constant(1)) == Symbols::Verdict::Equal) return;
  if (role_of_dim(other.dim_names, other_rows) == DimRole::Batch) return;
  // A table with a row per key position, over the same keys (square: a position bias or mask made
  // for every position), is what a decoding step's scores meet; a context vector added to every
  // token (B, 1, E) + (B, N, E) is broadcast on purpose.
  const DimExpr& columns = other.shape.back();
  if (!(ctx.symbols.compare(stretched, columns) == Symbols::Verdict::Equal &&
        ctx.symbols.compare(columns, scores.shape.back()) == Symbols::Verdict::Equal)) {
    return;
  }
  Diagnostic& diagnostic = ctx.report(
      DiagId::ProductRowsStretched,
      fmt::format("{} {} has one query row (dim {}, from call \"{}\"), which {} {} stretches to {} rows: each output row repeats that query's "
                  "scores",
                  shown_name(scores), tuple_str(scores.shape), rows, product->id, shown_name(other), tuple_str(other.shape), stretched.str()),
      &other, other_rows);
  diagnostic.notes.push_back(fmt::format("PyTorch raises nothing: broadcasting copies the size-1 dim, and the result has {} query rows where the "
                                         "query has 1",
                                         stretched.str()));
}

}  // namespace

DType number_dtype(const nlohmann::json& number) {
  return number.is_boolean() ? DType::Bool : number.is_number_integer() ? DType::Int64 : DType::Float32;
}

DType result_type(DType input, std::size_t input_rank, DType other, std::optional<std::size_t> other_rank) {
  std::optional<DType> ranks[3];  // numbers, 0-D tensors, tensors with dims
  auto add = [&](DType dtype, int rank) { ranks[rank] = ranks[rank] ? promote_types(*ranks[rank], dtype) : dtype; };
  add(input, input_rank == 0 ? 1 : 2);
  add(other, !other_rank ? 0 : *other_rank == 0 ? 1 : 2);
  auto combine = [](std::optional<DType> higher, std::optional<DType> lower) -> std::optional<DType> {
    if (!higher) return lower;
    if (!lower) return higher;
    return dtype_category(*lower) > dtype_category(*higher) ? promote_types(*higher, *lower) : *higher;
  };
  return *combine(ranks[2], combine(ranks[1], ranks[0]));
}

void infer_add(CallContext& ctx) {
  infer_binary(ctx, "+", nullptr, ResultKind::Promoted);
  // A number added is no mask, nor a sliced table.
  if (ctx.outputs.empty() || ctx.call.arguments.contains("other")) return;
  check_mask_added(ctx, ctx.arg("input"), ctx.arg("other"));
  if (std::optional<ScoresKeys> keys = scores_keys(ctx, ctx.arg("input"))) {
    check_window_offsets(ctx, ctx.arg("other"), keys->producer, keys->dim, keys->rank);
  } else if (std::optional<ScoresKeys> swapped = scores_keys(ctx, ctx.arg("other"))) {
    check_window_offsets(ctx, ctx.arg("input"), swapped->producer, swapped->dim, swapped->rank);
  }
  check_stretched_product_rows(ctx, ctx.arg("input"), ctx.arg("other"));
  check_stretched_product_rows(ctx, ctx.arg("other"), ctx.arg("input"));
  check_sliced_table(ctx, ctx.arg("input"), ctx.arg("other"));
  check_sliced_table(ctx, ctx.arg("other"), ctx.arg("input"));
}
void infer_sub(CallContext& ctx) {
  infer_binary(ctx, "-", sub_refuses, ResultKind::Promoted);
  if (!ctx.outputs.empty()) check_same_difference(ctx);
}
void infer_mul(CallContext& ctx) {
  infer_binary(ctx, "*", nullptr, ResultKind::Promoted);
  if (!ctx.outputs.empty() && ctx.call.arguments.contains("other")) check_mul_infinity(ctx, ctx.arg("input"), ctx.outputs.front().dtype);
}
// `mask == 0` and `mask != 0`: any dtypes, bool out.
void infer_eq(CallContext& ctx) { infer_binary(ctx, "==", nullptr, ResultKind::Comparison); }
void infer_ne(CallContext& ctx) { infer_binary(ctx, "!=", nullptr, ResultKind::Comparison); }
void infer_gt(CallContext& ctx) { infer_binary(ctx, ">", nullptr, ResultKind::Comparison); }
void infer_ge(CallContext& ctx) { infer_binary(ctx, ">=", nullptr, ResultKind::Comparison); }
void infer_lt(CallContext& ctx) { infer_binary(ctx, "<", nullptr, ResultKind::Comparison); }
void infer_le(CallContext& ctx) { infer_binary(ctx, "<=", nullptr, ResultKind::Comparison); }
// torch.logical_and/or: any dtypes (nonzero is True), bool out; `a & b` and `a | b` of two bool
// masks give the same as bitwise_and/or.
void infer_logical_and(CallContext& ctx) { infer_binary(ctx, "and", nullptr, ResultKind::Comparison); }
void infer_logical_or(CallContext& ctx) { infer_binary(ctx, "or", nullptr, ResultKind::Comparison); }
// `mask_a & mask_b`, `mask_a | mask_b`: bool and integer operands, the promoted dtype out.
void infer_bitwise_and(CallContext& ctx) { infer_binary(ctx, "&", nullptr, ResultKind::Bitwise); }
void infer_bitwise_or(CallContext& ctx) { infer_binary(ctx, "|", nullptr, ResultKind::Bitwise); }

// rounding_mode None is true division; "trunc" and "floor" keep the promoted dtype.
void infer_div(CallContext& ctx) {
  const nlohmann::json& mode = ctx.call.arguments.at("rounding_mode");
  if (mode.is_string() && mode != "trunc" && mode != "floor") {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::DivRoundingMode, fmt::format("rounding_mode=\"{}\" is not one of None, \"trunc\", \"floor\"", mode.get<std::string>()),
        "rounding_mode");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{}'", mode.get<std::string>()));
    return;
  }
  infer_binary(ctx, "/", nullptr, mode.is_null() ? ResultKind::TrueDivision : ResultKind::Promoted);
  if (!ctx.has_errors() && !ctx.call.arguments.contains("other")) check_whole_batch_divisor(ctx, ctx.arg("input"), ctx.arg("other"));
}

// torch.pow(input, exponent), `x ** e`: exponent a tensor or a number, broadcast and promoted as
// for mul; an integer result refuses a negative integer exponent (PyTorch's pow_tensor_scalar).
void infer_pow(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const bool number = ctx.call.arguments.contains("exponent");
  ArgValue wrapped = number ? wrapped_number(ctx, "exponent") : ArgValue{};
  const ArgValue& exponent = number ? wrapped : ctx.arg("exponent");
  CallContext::BroadcastFailure failing;
  std::optional<Shape> shape = ctx.broadcast(input.shape, exponent.shape, &exponent, "input ** exponent", failing);
  if (!shape) {
    report_broadcast_failure(ctx, DiagId::AddBroadcast,
                             fmt::format("input {} and exponent {} do not broadcast for input ** exponent: {} vs {} at dim {} of the result",
                                         tuple_str(input.shape), tuple_str(exponent.shape), failing.a.str(), failing.b.str(), failing.dim),
                             exponent, input, failing.a, failing);
    return;
  }
  const DType dtype = result_type(input, exponent, number);
  if (dtype == DType::Bool) {
    Diagnostic& diagnostic = ctx.report(DiagId::ActivationDType, "pow of bool operands: the result would be bool", &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError", "\"pow\" not implemented for 'Bool'");
    ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
    return;
  }
  const nlohmann::json& power = number ? ctx.call.arguments.at("exponent") : nlohmann::json();
  if (!is_floating(dtype) && power.is_number_integer() && power.get<std::int64_t>() < 0) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::ActivationDType, fmt::format("a {} tensor to the power {}: an integer result has no negative powers", dtype_name(input.dtype), power.dump()),
        "exponent");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "Integers to negative integer powers are not allowed.");
    ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
    return;
  }
  ctx.outputs.push_back({"output", *shape, dtype});
  const Layout scalar = Layout::contiguous({});
  ctx.output_layouts["output"] = elementwise_layout({&input.layout, number ? &scalar : &exponent.layout}, *shape);
}

}  // namespace mhacheck
