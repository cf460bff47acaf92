// Tensor.repeat where repeat_interleave is meant (MHA240): found at the consumer, from the
// call that made its argument (ArgValue::producer), since repeat and repeat_interleave give the same shape.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "check/checked_call.hpp"
#include "check/mask_pattern.hpp"
#include "check/dim_origin.hpp"
#include "check/fix_search.hpp"
#include "check/roles.hpp"
#include "ops/index_expression.hpp"
#include "ops/parts.hpp"
#include "ops/size_product.hpp"
#include "operators.hpp"

namespace mhacheck {

namespace {

struct Tiling {
  const CallDecl* call;  // the call that tiled: a repeat, or the reshape that merged an expand's copies outer
  int dim;  // in that call's output
  std::int64_t repeats;
  int arg_dim;  // the same dim in the argument, which the calls after it may have moved
  std::string made;  // how: "repeat (call \"rk\")", "an expand (call \"x\") whose 3 copies ..."
  bool expanded = false;  // made by an expand and a reshape, not by repeat
  std::string rewrite;  // the repeat_interleave that replaces it: "k2 = k.repeat_interleave(3, dim=1)"; empty: none
  nlohmann::json patch = nlohmann::json::array();  // that replacement
};

// The repeat found up from a dim of a mask through the calls that keep that dim's entries where
// they are (positions_tiling, below).
struct PositionsTiling {
  const CallDecl* repeat = nullptr;
  int dim = 0;  // the dim in the repeat's output
};
std::optional<PositionsTiling> positions_tiling(const CallContext& ctx, const ArgValue& mask, int dim);
// The expand form of a repeat that made dim `arg_dim` of `arg` (below).
std::optional<Tiling> expanded_tiling(const CallContext& ctx, const ArgValue& arg, int arg_dim, std::int64_t heads_per_entry);

// Whether tiling n entries r times into a dim read as entry b*H + h (batch entry b, head h) gives
// every batch entry the same masks: entry b*H + h gets source entry (b*H + h) mod n, which is
// h mod n for every b exactly when n divides H. A source of N entries (r == H) is the per-batch
// mask tiled by mistake, though, even where N divides H (N = 2, H = 8); when N == H the numbers
// cannot tell a per-head mask from a per-batch one, and the warning stays.
bool same_for_every_entry(std::int64_t tiled, std::int64_t factor, std::int64_t heads) {
  if (heads <= 0) return false;
  std::int64_t source = tiled / factor;
  return source == 0 || (heads % source == 0 && factor != heads);  // no entries: nothing to mix
}

// The repeat that tiled `arg`'s dim `dim` (a non-negative index) by a constant factor from a
// size other than 1 (repeating a size-1 dim is an expand: nothing is interleaved), and, for a
// dim read as b*heads_per_entry + h, mixes batch entries.
std::optional<Tiling> tiling(const CallContext& ctx, const ArgValue& arg, int arg_dim, std::int64_t heads_per_entry) {
  // The repeat itself, or one the mask was made from by casts, ~, a masked_fill, size-1 dims added
  // and broadcasts (a (N, S) padding mask tiled, then unsqueeze(1).expand(-1, L, -1)).
  const std::optional<PositionsTiling> found = positions_tiling(ctx, arg, arg_dim);
  if (!found) return expanded_tiling(ctx, arg, arg_dim, heads_per_entry);
  const CallDecl* call = found->repeat;
  const int dim = found->dim;
  const nlohmann::json& repeats = call->arguments.at("repeats");
  if (!repeats.is_array() || dim >= static_cast<int>(repeats.size())) return std::nullopt;
  for (std::size_t i = 0; i < repeats.size(); ++i) {
    bool tiled = static_cast<int>(i) == dim;
    // Only one dim repeated, by a constant: the repeat_interleave that replaces it is one call.
    if (!repeats[i].is_number_integer() || (tiled ? repeats[i].get<std::int64_t>() < 2 : repeats[i].get<std::int64_t>() != 1)) {
      return std::nullopt;
    }
  }
  std::int64_t factor = repeats[dim].get<std::int64_t>();
  const DimExpr& size = arg.shape[static_cast<std::size_t>(arg_dim)];
  if (size.is_constant() && (size.offset == factor || same_for_every_entry(size.offset, factor, heads_per_entry))) return std::nullopt;
  const ArgRef& input = call->tensor("input");
  const std::string result = call->outputs.empty() ? tensor_name(arg) : call->outputs.front();
  return Tiling{call,
                dim,
                factor,
                arg_dim,
                fmt::format("repeat (call \"{}\")", call->id),
                false,
                fmt::format("{} = {}.repeat_interleave({}, dim={})", result, input.kind == ArgRef::Kind::Named ? input.name : "input", factor, dim),
                nlohmann::json::array({{{"op", "replace"}, {"path", call->pointer + "/op"}, {"value", "repeat_interleave"}},
                                       {{"op", "replace"}, {"path", call->pointer + "/repeats"}, {"value", factor}},
                                       {{"op", "add"}, {"path", call->pointer + "/dim"}, {"value", dim}}})};
}

// The checked shapes of a one-input call's input and first output; nullopt when not checked.
std::optional<std::pair<Shape, Shape>> checked_in_out(const CallContext& ctx, const CallDecl& call);

// Whether `out` is `in` with dims `first` and `first + 1` merged into one, the rest kept.
bool merges_pair(const CallContext& ctx, const Shape& in, const Shape& out, std::size_t first) {
  if (in.size() != out.size() + 1 || first + 1 >= in.size()) return false;
  for (std::size_t d = 0; d < out.size(); ++d) {
    if (d != first && ctx.symbols.compare(out[d], in[d < first ? d : d + 1]) != Symbols::Verdict::Equal) return false;
  }
  const std::optional<DimExpr> product = dim_mul(in[first], in[first + 1]);
  return product && ctx.symbols.compare(*product, out[first]) == Symbols::Verdict::Equal;
}

// The expand form of repeat: x[:, None].expand(B, r, n, ...).reshape(B, r*n, ...) (a size-1 dim
// expanded to r copies, merged outside the n entries it precedes) gives entries 0..n-1 r times,
// as x.repeat(1, r, 1, ...) does; repeat_interleave's blocks need the copies inside,
// x[:, :, None].expand(B, n, r, ...). Found from dim `arg_dim` of `arg`, made by that merge.
std::optional<Tiling> expanded_tiling(const CallContext& ctx, const ArgValue& arg, int arg_dim, std::int64_t heads_per_entry) {
  const DimOrigin origin = dim_origin(ctx.spec, arg, arg_dim);
  const CallDecl* merge = origin.call;
  if (merge == nullptr || (merge->op != "reshape" && merge->op != "view")) return std::nullopt;
  const std::optional<std::pair<Shape, Shape>> merged = checked_in_out(ctx, *merge);
  const auto first = static_cast<std::size_t>(origin.dim);
  if (!merged || !merges_pair(ctx, merged->first, merged->second, first)) return std::nullopt;
  const std::string expanded_name = input_name(*merge, "input");
  const CallDecl* expand = producer_of(ctx.spec, expanded_name, merge);
  if (expand == nullptr || expand->op != "expand") return std::nullopt;
  const std::optional<std::pair<Shape, Shape>> spread = checked_in_out(ctx, *expand);
  if (!spread || spread->first.size() != spread->second.size() || spread->first.size() != merged->first.size()) return std::nullopt;
  const Shape& before = spread->first;
  const DimExpr copies = ctx.symbols.resolve(merged->first[first]);
  const DimExpr entries = ctx.symbols.resolve(merged->first[first + 1]);
  if (!(before[first] == DimExpr::constant(1)) || !copies.is_constant() || copies.offset < 2 || entries == DimExpr::constant(1) ||
      ctx.symbols.compare(before[first + 1], entries) != Symbols::Verdict::Equal) {
    return std::nullopt;
  }
  if (entries.is_constant() && same_for_every_entry(entries.offset * copies.offset, copies.offset, heads_per_entry)) return std::nullopt;
  Tiling found{merge, origin.dim, copies.offset, arg_dim,
               fmt::format("an expand (call \"{}\") whose {} copies {} (call \"{}\") merges outside the {} entries", expand->id, copies.offset,
                           merge->op, merge->id, entries.str()),
               true, "", nlohmann::json::array()};
  // The size-1 dim put there by an unsqueeze or a None index on a tensor `source`: then
  // source.repeat_interleave(r, dim) replaces the three calls.
  const std::string spread_name = input_name(*expand, "input");
  const CallDecl* added = producer_of(ctx.spec, spread_name, expand);
  if (added == nullptr || (added->op != "unsqueeze" && added->op != "getitem") || merge->outputs.empty()) return found;
  const std::optional<std::pair<Shape, Shape>> grown = checked_in_out(ctx, *added);
  if (!grown || grown->first.size() + 1 != grown->second.size()) return found;
  Shape without = grown->second;
  without.erase(without.begin() + static_cast<std::ptrdiff_t>(first));
  for (std::size_t d = 0; d < without.size(); ++d) {
    if (ctx.symbols.compare(without[d], grown->first[d]) != Symbols::Verdict::Equal) return found;
  }
  const std::string source = input_name(*added, "input");
  if (source.empty()) return found;
  found.rewrite = fmt::format("{} = {}.repeat_interleave({}, dim={})", merge->outputs.front(), source, copies.offset, first);
  found.patch.push_back({{"op", "replace"},
                         {"path", merge->pointer},
                         {"value", {{"id", merge->id}, {"op", "repeat_interleave"}, {"input", source}, {"repeats", copies.offset},
                                    {"dim", first}, {"outputs", merge->outputs}}}});
  return found;
}

// Entry h of a dim tiled or split (a, b) with b inner meets entry h mod b of a dim of b entries;
// repeat_interleave(a) and a split (b, a) with b outer give h // a, the groups attention means.
constexpr const char* kModuloPairing = "repeat gives entries 0, 1, ..., 0, 1, ...; repeat_interleave gives 0, 0, ..., 1, 1, ...";

// A batch dim tiled r times: by repeat (entries 0, 1, ..., 0, 1, ...) or by repeat_interleave
// (0, 0, ..., 1, 1, ...).
struct BatchTiling {
  const CallDecl* call;
  bool interleaved;
  std::int64_t factor;
  int dim;  // in the tiled tensor
};

// The repeat of that dim alone, or the repeat_interleave along it, by a constant, that made dim
// `dim` of `arg`, followed up through the calls that only move dims.
std::optional<BatchTiling> batch_tiling(const Spec& spec, const ArgValue& arg, int dim) {
  DimOrigin origin = dim_origin(spec, arg, dim);
  const CallDecl* call = origin.call;
  if (call == nullptr) return std::nullopt;
  const nlohmann::json& repeats = call->arguments.value("repeats", nlohmann::json());
  if (call->op == "repeat") {
    if (!repeats.is_array() || static_cast<int>(repeats.size()) != origin.rank) return std::nullopt;
    for (std::size_t i = 0; i < repeats.size(); ++i) {
      bool tiled = static_cast<int>(i) == origin.dim;
      if (!repeats[i].is_number_integer() || (tiled ? repeats[i].get<std::int64_t>() < 2 : repeats[i].get<std::int64_t>() != 1)) return std::nullopt;
    }
    return BatchTiling{call, false, repeats[static_cast<std::size_t>(origin.dim)].get<std::int64_t>(), origin.dim};
  }
  if (call->op != "repeat_interleave" || !repeats.is_number_integer() || repeats.get<std::int64_t>() < 2) return std::nullopt;
  const nlohmann::json& along = call->arguments.value("dim", nlohmann::json());
  if (!along.is_number_integer()) return std::nullopt;
  std::int64_t wrapped = along.get<std::int64_t>() < 0 ? along.get<std::int64_t>() + origin.rank : along.get<std::int64_t>();
  if (wrapped != origin.dim) return std::nullopt;
  return BatchTiling{call, true, repeats.get<std::int64_t>(), origin.dim};
}

// The batch dim `dim` of `arg`, written in the spec as X*k (k a number or a name bound to it; X
// outer: the k copies of each of X's entries adjacent, the order repeat_interleave gives) where it
// was declared, `arg` itself or the
// declared tensor whose dim reached `arg` unchanged (the decoder states through their embedding,
// norm and self-attention), where `tiled` is that size k*X: the text as written ("B*4"); nullopt
// otherwise. In a traced spec too: a traced input keeps the dims it was given, and a size the
// tracer reads back is written with its factor first ("4*B"), which says nothing of the order.
std::optional<std::string> copies_adjacent(const CallContext& ctx, const ArgValue& arg, int dim, const DimExpr& tiled, std::int64_t factor) {
  if (tiled.is_constant() || tiled.offset != 0 || tiled.coeff != factor || tiled.is_monomial()) return std::nullopt;
  if (ctx.symbols.compare(arg.shape[static_cast<std::size_t>(dim)], tiled) != Symbols::Verdict::Equal) return std::nullopt;
  const auto at_dim = static_cast<std::size_t>(dim);
  const Location* declared = nullptr;
  if (arg.producer == nullptr && at_dim < arg.dim_locations.size() && arg.dim_locations[at_dim].known()) declared = &arg.dim_locations[at_dim];
  if (arg.producer != nullptr && at_dim < arg.dim_sources.size() && arg.dim_sources[at_dim].location.known()) declared = &arg.dim_sources[at_dim].location;
  if (declared == nullptr || declared->source == nullptr) return std::nullopt;
  std::string_view line = declared->source->line_text(declared->line);
  const std::size_t start = static_cast<std::size_t>(declared->column - 1);
  if (start >= line.size()) return std::nullopt;
  std::string text;
  for (char c : line.substr(start, static_cast<std::size_t>(declared->length))) {
    if (c != '"' && c != ' ') text += c;
  }
  // X*k with k the factor, written as the number or as a name bound to it (B*num_beams).
  const std::size_t star = text.find('*');
  if (star == std::string::npos || text.substr(0, star) != tiled.symbol.str()) return std::nullopt;
  const std::string copies = text.substr(star + 1);
  if (copies == std::to_string(factor)) return text;
  const std::optional<DimExpr> named = parse_dim_expr(copies);  // a plain number parses as none
  if (!named || !named->is_plain_symbol() || !(ctx.symbols.resolve(*named) == DimExpr::constant(factor))) return std::nullopt;
  return text;
}

}  // namespace

void check_tiling_orders(CallContext& ctx, const std::vector<std::pair<const ArgValue*, int>>& operands, const std::string& meant) {
  struct Tiled {
    const ArgValue* arg;
    int dim;  // the batch dim in the operand
    BatchTiling how;
  };
  std::optional<Tiled> blocks, tiles;  // the first of each kind
  for (const auto& [arg, dim] : operands) {
    if (!arg->present || dim < 0 || dim >= arg->rank()) continue;
    std::optional<BatchTiling> each = batch_tiling(ctx.spec, *arg, dim);
    if (!each) continue;
    std::optional<Tiled>& slot = each->interleaved ? blocks : tiles;
    if (!slot) slot = Tiled{arg, dim, *each};
  }
  if (!tiles) return;
  std::string blocked_how;
  const ArgValue* blocked = nullptr;
  if (blocks && blocks->how.factor == tiles->how.factor) {
    blocked = blocks->arg;
    blocked_how = fmt::format("by repeat_interleave (call \"{}\": 0, 0, ..., 1, 1, ...)", blocks->how.call->id);
  } else if (!blocks) {
    // An operand declared with its batch written X*k, the k copies of each of X entries adjacent
    // (beam search's (batch, beam) rows, B*num_beams), met by one tiled from X entries by repeat.
    for (const auto& [arg, dim] : operands) {
      if (arg == tiles->arg || !arg->present || dim < 0 || dim >= arg->rank()) continue;
      if (std::optional<std::string> written = copies_adjacent(ctx, *arg, dim, tiles->arg->shape[static_cast<std::size_t>(tiles->dim)], tiles->how.factor)) {
        blocked = arg;
        blocked_how = fmt::format("declared {} (each entry's {} copies adjacent: 0, 0, ..., 1, 1, ...)", *written, tiles->how.factor);
        break;
      }
    }
  }
  if (blocked == nullptr) return;
  const ArgValue* tiled = tiles->arg;
  const BatchTiling& tile = tiles->how;
  Diagnostic& diagnostic = ctx.report(
      DiagId::RepeatTilesGroups,
      fmt::format("{} and {} tile the batch in different orders: {} by repeat (call \"{}\": entries 0, 1, ..., 0, 1, ...), {} {}, so {}",
                  tiled->argument, blocked->argument, tensor_name(*tiled), tile.call->id, tensor_name(*blocked), blocked_how, meant),
      tiled, tiles->dim);
  diagnostic.notes.push_back("PyTorch raises nothing: the shapes are the same");
  if (ctx.spec.flat) return;
  const ArgRef& input = tile.call->tensor("input");
  nlohmann::json patch = nlohmann::json::array(
      {{{"op", "replace"}, {"path", tile.call->pointer + "/op"}, {"value", "repeat_interleave"}},
       {{"op", "replace"}, {"path", tile.call->pointer + "/repeats"}, {"value", tile.factor}},
       {{"op", "add"}, {"path", tile.call->pointer + "/dim"}, {"value", tile.dim}}});
  std::string result = tile.call->outputs.empty() ? std::string("x") : tile.call->outputs.front();
  ctx.add_patch_fix(diagnostic,
                    fmt::format("tile {} as {} is: {} = {}.repeat_interleave({}, dim={})", tensor_name(*tiled), tensor_name(*blocked), result,
                                input.kind == ArgRef::Kind::Named ? input.name : "input", tile.factor, tile.dim),
                    patch);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry's copies stay together in both operands");
}

namespace {

// The checked shapes of a one-input call's input and first output; nullopt when not checked.
std::optional<std::pair<Shape, Shape>> checked_in_out(const CallContext& ctx, const CallDecl& call) {
  const CallReport* report = checked_call(ctx, call);
  if (report == nullptr || report->outputs.empty() || report->arguments.empty()) return std::nullopt;
  return std::pair{report->arguments.front().shape, report->outputs.front().shape};
}

// Whether a view or reshape `call` (input `in`, output `out`) only splits or merges dims after
// `dim`, which it keeps where it was: a head split (B, T, E) -> (B, T, H, D) keeps T at dim 1.
bool keeps_leading_dims(const Shape& in, const Shape& out, int dim) {
  if (dim < 0 || dim >= static_cast<int>(in.size()) || dim >= static_cast<int>(out.size())) return false;
  for (int d = 0; d <= dim; ++d) {
    if (!(in[static_cast<std::size_t>(d)] == out[static_cast<std::size_t>(d)])) return false;
  }
  return true;
}

// Whether `call` keeps its input's dim `dim` at the same index, standing for the same entries: a
// Linear (any dim but the features), LayerNorm, dropout and the elementwise operators, and a
// split or chunk along another dim (q, k, v cut from one projection).
bool keeps_token_dim(const Spec& spec, const CallDecl& call, int dim, int rank) {
  if (keeps_layout(spec, call)) return true;
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  if ((module != nullptr && module->type == "Linear") || call.op == "linear" || call.op == "F.linear") return dim != rank - 1;
  static const std::array<const char*, 6> elementwise = {"add", "sub", "mul", "div", "dropout", "contiguous"};
  if (std::any_of(elementwise.begin(), elementwise.end(), [&](const char* op) { return call.op == op; })) return true;
  if (call.op == "split" || call.op == "chunk" || call.op == "tensor_split") {
    const nlohmann::json& along = call.arguments.value("dim", nlohmann::json(0));
    if (!along.is_number_integer()) return false;
    const std::int64_t cut = along.get<std::int64_t>() < 0 ? along.get<std::int64_t>() + rank : along.get<std::int64_t>();
    return cut != dim;
  }
  return false;
}

// Whether dim `dim` of `tokens` interleaves `count` tensors step by step: a reshape, view or
// flatten that merged a stack's new dim right after the steps ((B, T, k, E) to (B, T*k, E), token
// t*k + j being tensor j at step t). The dim is followed up from the attention through the calls
// that keep it (moves of dims, a head split, q/k/v projections and their cut, norms, adds).
// Declared tokens, tokens tiled by repeat, and a stack merged outside the steps (grouped: all of
// one tensor first) give no such order.
bool interleaved_by_stack(const CallContext& ctx, const ArgValue& tokens, int dim, std::int64_t count) {
  if (ctx.checked_calls == nullptr || dim < 0 || dim >= tokens.rank()) return false;
  DimOrigin origin = dim_origin(ctx.spec, tokens, dim);
  for (int step = 0; step < 12 && origin.call != nullptr; ++step) {
    const CallDecl& call = *origin.call;
    const std::optional<std::pair<Shape, Shape>> shapes = checked_in_out(ctx, call);
    if (!shapes) return false;
    const auto& [in, out] = *shapes;
    const bool reshapes = call.op == "reshape" || call.op == "view" || call.op == "flatten";
    const CallDecl* made = producer_of(ctx.spec, input_name(call, "input"), &call);
    if (reshapes && made != nullptr && made->op == "stack" && static_cast<std::int64_t>(made->list_size("tensors")) == count) {
      const auto rank = static_cast<std::int64_t>(in.size());
      const nlohmann::json& written = made->arguments.value("dim", nlohmann::json(0));
      if (!written.is_number_integer() || origin.dim >= static_cast<int>(out.size())) return false;
      const std::int64_t stacked = written.get<std::int64_t>() < 0 ? written.get<std::int64_t>() + rank : written.get<std::int64_t>();
      if (stacked < 1 || stacked >= rank) return false;
      const auto at = static_cast<std::size_t>(stacked);
      const std::optional<SizeProduct> merged = SizeProduct::of(Shape{in[at - 1], in[at]});
      const std::optional<SizeProduct> token_count = SizeProduct::of(Shape{out[static_cast<std::size_t>(origin.dim)]});
      return merged && token_count && *merged == *token_count;
    }
    const bool kept = reshapes ? keeps_leading_dims(in, out, origin.dim)
                               : in.size() == out.size() && keeps_token_dim(ctx.spec, call, origin.dim, static_cast<int>(out.size()));
    const std::string input = input_name(call, "input");
    if (!kept || input.empty()) return false;
    ArgValue above;
    above.identity = "output:" + input;
    above.producer = made;
    above.shape = in;
    origin = dim_origin(ctx.spec, above, origin.dim);
  }
  return false;
}

// The repeat that tiled a mask's positions, found up from the mask's dim `dim` (the positions)
// through the calls that keep each position's flag where it is: casts, ~, comparisons and
// arithmetic with a number (an additive mask (1 - m) * -1e4), and the calls that only add
// size-1 dims or broadcast (unsqueeze, [:, None, None, :], view(B, 1, 1, T), expand), each
// followed to the position dim's index in its input.
std::optional<PositionsTiling> positions_tiling(const CallContext& ctx, const ArgValue& mask, int dim) {
  static const std::array<const char*, 17> keeping = {"logical_not", "bitwise_not", "bool", "float", "half", "to", "long",
                                                      "int", "contiguous", "clone", "mul", "div", "add", "sub", "neg", "type_as", "double"};
  const CallDecl* call = mask.producer;
  int rank = mask.rank();
  for (int step = 0; step < 12 && call != nullptr; ++step) {
    if (call->op == "repeat") return PositionsTiling{call, dim};
    if (call->op == "masked_fill") {
      // A float mask written by masked_fill from the bool one, of the same shape, on a tensor that
      // holds one value everywhere (zeros(...).masked_fill(m, -inf)) or on the mask itself: each
      // entry is the flag's where it is.
      const std::string input = input_name(*call, "input"), flags = input_name(*call, "mask");
      const CallDecl* filled = producer_of(ctx.spec, input, call);
      static const std::array<const char*, 8> constant = {"zeros", "zeros_like", "ones", "ones_like", "full", "full_like", "new_zeros", "new_full"};
      const TensorDecl* declared = filled == nullptr ? ctx.spec.find_tensor(input) : nullptr;
      const bool uniform = input == flags || (declared != nullptr && declared_value(ctx.spec, *declared, input)) ||
                           (filled != nullptr && std::any_of(constant.begin(), constant.end(), [&](const char* op) { return filled->op == op; }));
      const CallReport* made = checked_call(ctx, *call);
      const ResolvedArgument* written = made != nullptr ? checked_argument(*made, "mask") : nullptr;
      if (!uniform || flags.empty() || written == nullptr || static_cast<int>(written->shape.size()) != rank) return std::nullopt;
      call = producer_of(ctx.spec, flags, call);
      continue;
    }
    const std::string input = input_name(*call, "input");
    if (input.empty()) return std::nullopt;
    // A second tensor moves nothing, but mixes: the flags are no longer the mask's alone.
    for (const auto& [argument, ref] : call->tensors) {
      if (argument != "input" && ref.kind != ArgRef::Kind::Absent && !(call->op == "type_as" && argument == "other")) return std::nullopt;
    }
    if (!is_comparison(call->op) && std::none_of(keeping.begin(), keeping.end(), [&](const char* op) { return call->op == op; })) {
      const std::optional<std::pair<Shape, Shape>> shapes = checked_in_out(ctx, *call);
      if (!shapes || static_cast<int>(shapes->second.size()) != rank) return std::nullopt;
      const auto& [in, out] = *shapes;
      const int in_rank = static_cast<int>(in.size());
      std::optional<int> from;
      if (call->op == "expand" || call->op == "expand_as") {
        from = dim - (rank - in_rank);
      } else if (call->op == "getitem" && call->arguments.contains("index") && call->arguments.at("index").is_string()) {
        std::string error;
        const std::optional<IndexExpression> index = parse_index(call->arguments.at("index").get<std::string>(), error);
        if (!index) return std::nullopt;
        const IndexPlan plan = plan_index(*index, in);
        if (plan.failure || plan.dims.size() != out.size()) return std::nullopt;
        const IndexedDim& picked = plan.dims.at(static_cast<std::size_t>(dim));
        if (picked.source < 0 || picked.step != 1 || !(picked.start == IndexBound{}) ||
            !(picked.size == in[static_cast<std::size_t>(picked.source)])) {
          return std::nullopt;
        }
        from = picked.source;
      } else if (call->op == "unsqueeze" || call->op == "view" || call->op == "reshape") {
        // Only size-1 dims added or taken away: the other dims keep their order.
        std::vector<int> sized_in, sized_out;
        for (int d = 0; d < in_rank; ++d) if (!(in[static_cast<std::size_t>(d)] == DimExpr::constant(1))) sized_in.push_back(d);
        for (int d = 0; d < rank; ++d) if (!(out[static_cast<std::size_t>(d)] == DimExpr::constant(1))) sized_out.push_back(d);
        if (sized_in.size() != sized_out.size()) return std::nullopt;
        for (std::size_t i = 0; i < sized_in.size(); ++i) {
          if (!(in[static_cast<std::size_t>(sized_in[i])] == out[static_cast<std::size_t>(sized_out[i])])) return std::nullopt;
          if (sized_out[i] == dim) from = sized_in[i];
        }
      }
      if (!from || *from < 0 || *from >= in_rank) return std::nullopt;
      dim = *from;
      rank = in_rank;
    }
    call = producer_of(ctx.spec, input, call);
  }
  return std::nullopt;
}

}  // namespace

void check_mask_positions_tiled(CallContext& ctx, const ArgValue& mask, int mask_dim, const ArgValue& tokens, int token_dim) {
  if (!mask.present || ctx.spec.flat || mask_dim < 0 || mask_dim >= mask.rank()) return;
  const std::optional<PositionsTiling> tiled = positions_tiling(ctx, mask, mask_dim);
  if (!tiled) return;
  const CallDecl* call = tiled->repeat;
  const int repeat_dim = tiled->dim;
  const nlohmann::json& repeats = call->arguments.at("repeats");
  if (!repeats.is_array() || repeat_dim >= static_cast<int>(repeats.size())) return;
  for (int d = 0; d < static_cast<int>(repeats.size()); ++d) {
    const nlohmann::json& count = repeats[static_cast<std::size_t>(d)];
    if (!count.is_number_integer() || (d == repeat_dim ? count.get<std::int64_t>() < 2 : count.get<std::int64_t>() != 1)) return;
  }
  const std::int64_t factor = repeats[static_cast<std::size_t>(repeat_dim)].get<std::int64_t>();
  // Only tokens known to interleave k tensors step by step: streams joined one after another (cat),
  // tiled by repeat, stacked outside the steps or declared in an unknown order may be what the
  // tiled mask fits.
  if (!interleaved_by_stack(ctx, tokens, token_dim, factor)) return;
  const ArgRef& input = call->tensor("input");
  const std::string source = input.kind == ArgRef::Kind::Named ? input.name : "input";
  const std::string result = call->outputs.empty() ? std::string("x") : call->outputs.front();
  DimExpr positions = mask.shape[static_cast<std::size_t>(mask_dim)];
  if (positions.is_constant()) {
    positions.offset /= factor;
  } else if (positions.offset == 0 && positions.coeff % factor == 0) {
    positions.coeff /= factor;
  } else {
    return;
  }
  Diagnostic& diagnostic = ctx.report(
      DiagId::RepeatTilesGroups,
      fmt::format("{} {} is made by repeat (call \"{}\"), which tiles its {} positions {} times: token i gets position i mod {}'s flag, "
                  "which fits {} streams joined one after another, not tokens interleaved per position",
                  mask.argument, tensor_name(mask), call->id, positions.str(), factor, positions.str(), factor),
      &mask, mask_dim);
  diagnostic.notes.push_back(fmt::format("{} (repeat_interleave({}, dim={}))", kModuloPairing, factor, repeat_dim));
  diagnostic.notes.push_back("PyTorch raises nothing: the shapes are the same");
  nlohmann::json patch = nlohmann::json::array(
      {{{"op", "replace"}, {"path", call->pointer + "/op"}, {"value", "repeat_interleave"}},
       {{"op", "replace"}, {"path", call->pointer + "/repeats"}, {"value", factor}},
       {{"op", "add"}, {"path", call->pointer + "/dim"}, {"value", repeat_dim}}});
  ctx.add_patch_fix(diagnostic,
                    fmt::format("give each position's flag to its {} tokens side by side: {} = {}.repeat_interleave({}, dim={})", factor, result,
                                source, factor, repeat_dim),
                    patch);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "token t*k + j gets position t's flag, as interleaved tokens need");
}

namespace {

// The reverse slip of a dim read as entry b*heads + h (nn.MultiheadAttention's 3-D attn_mask):
// per-head masks (heads entries: ALiBi's (H, L, S) bias) tiled over the batch by
// repeat_interleave(r) give entry i head i // r, each head's r copies adjacent, where entry
// b*heads + h needs head h: repeat(r, 1, 1) tiles them. A count equal to heads cannot tell a
// per-batch mask (repeat_interleave(heads), right) from a per-head one and is left alone.
bool check_heads_interleaved(CallContext& ctx, const ArgValue& arg, int dim, std::int64_t heads, const std::string& meant) {
  const int index = dim < 0 ? arg.rank() + dim : dim;
  if (!arg.present || index < 0 || index >= arg.rank()) return false;
  const std::optional<BatchTiling> tiled = batch_tiling(ctx.spec, arg, index);
  if (!tiled || !tiled->interleaved || tiled->factor == heads) return false;
  const std::optional<std::pair<Shape, Shape>> shapes = checked_in_out(ctx, *tiled->call);
  if (!shapes || tiled->dim >= static_cast<int>(shapes->first.size())) return false;
  const Shape& source = shapes->first;
  if (ctx.symbols.compare(source[static_cast<std::size_t>(tiled->dim)], DimExpr::constant(heads)) != Symbols::Verdict::Equal) return false;
  const CallDecl& call = *tiled->call;
  Diagnostic& diagnostic = ctx.report(
      DiagId::PerHeadMaskInterleaved,
      fmt::format("{} {} is made from {} per-head masks by repeat_interleave (call \"{}\"), which puts each head's {} copies side by side: {}",
                  arg.argument, tensor_name(arg), heads, call.id, tiled->factor, meant),
      &arg, index);
  diagnostic.notes.push_back(fmt::format("{}: entry b*{} + h needs head h, what repeat gives", kModuloPairing, heads));
  diagnostic.notes.push_back("PyTorch raises nothing: the shapes are the same");
  if (ctx.spec.flat) return true;
  std::vector<std::string> counts(source.size(), "1");
  nlohmann::json repeats = nlohmann::json::array();
  for (std::size_t d = 0; d < source.size(); ++d) repeats.push_back(static_cast<int>(d) == tiled->dim ? tiled->factor : 1);
  counts[static_cast<std::size_t>(tiled->dim)] = std::to_string(tiled->factor);
  const ArgRef& input = call.tensor("input");
  nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", call.pointer + "/op"}, {"value", "repeat"}},
                                                {{"op", "replace"}, {"path", call.pointer + "/repeats"}, {"value", repeats}}});
  if (call.arguments.contains("dim")) patch.push_back({{"op", "remove"}, {"path", call.pointer + "/dim"}});
  ctx.add_patch_fix(diagnostic,
                    fmt::format("tile the per-head masks over the batch: {} = {}.repeat({})", call.outputs.empty() ? tensor_name(arg) : call.outputs.front(),
                                input.kind == ArgRef::Kind::Named ? input.name : "input", fmt::join(counts, ", ")),
                    patch);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, fmt::format("entry b*{} + h then gets head h's mask", heads));
  return true;
}

}  // namespace

void check_repeat_tiling(CallContext& ctx, const std::vector<const ArgValue*>& args, int dim, const std::string& meant,
                         std::int64_t heads_per_entry) {
  if (heads_per_entry > 0 &&
      std::any_of(args.begin(), args.end(), [&](const ArgValue* arg) { return check_heads_interleaved(ctx, *arg, dim, heads_per_entry, meant); })) {
    return;
  }
  std::vector<std::pair<const ArgValue*, Tiling>> found;
  for (const ArgValue* arg : args) {
    if (!arg->present || arg->rank() == 0) continue;
    int index = dim < 0 ? arg->rank() + dim : dim;
    if (index < 0 || index >= arg->rank()) continue;
    std::optional<Tiling> each = tiling(ctx, *arg, index, heads_per_entry);
    bool seen = std::any_of(found.begin(), found.end(), [&](const auto& f) { return each && f.second.call == each->call; });
    if (each && !seen) found.emplace_back(arg, *each);
  }
  if (found.empty()) return;
  std::vector<std::string> names, calls;
  nlohmann::json patch = nlohmann::json::array();
  for (const auto& [arg, tile] : found) {
    names.push_back(tensor_name(*arg));
    calls.push_back(tile.rewrite);
    patch.insert(patch.end(), tile.patch.begin(), tile.patch.end());
  }
  const auto& [first, tile] = found.front();
  Diagnostic& diagnostic = ctx.report(
      DiagId::RepeatTilesGroups,
      fmt::format("{} {} made {} {}, which tiles dim {}: {}", fmt::join(names, " and "), names.size() > 1 ? "are" : "is",
                  tile.expanded ? "from" : tile.call == first->producer ? "by" : "from a", tile.made, tile.dim, meant),
      first, tile.arg_dim);
  diagnostic.notes.push_back(fmt::format("{} (repeat_interleave({}, dim={}))", kModuloPairing, tile.repeats, tile.dim));
  diagnostic.notes.push_back("PyTorch raises nothing: the shapes are the same");
  const bool rewritable = std::none_of(found.begin(), found.end(), [](const auto& each) { return each.second.rewrite.empty(); });
  const bool repeats_only = std::none_of(found.begin(), found.end(), [](const auto& each) { return each.second.expanded; });
  if (ctx.spec.flat || !rewritable) return;
  ctx.add_patch_fix(diagnostic, fmt::format("use repeat_interleave{}: {}", repeats_only ? " instead of repeat" : "", fmt::join(calls, "; ")), patch);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each block of repeated entries stays together");
}

namespace {

// A view that split one dim of its input into two adjacent dims (a, b) of its output, the rest
// kept: out = (..., a, b, ...), in = (..., a*b, ...).
struct HeadsSplit {
  const CallDecl* view;
  int outer;  // a's dim in the view's output; b's is outer + 1
  DimExpr a, b;
};

// The split of the heads slot of an (..., H, L, D) input (dim -3) that made dim `dim` of `arg`
// as its inner factor.
std::optional<HeadsSplit> inner_heads_factor(const CallContext& ctx, const ArgValue& arg, int dim) {
  DimOrigin origin = dim_origin(ctx.spec, arg, dim);
  if (origin.call == nullptr || (origin.call->op != "view" && origin.call->op != "reshape") || origin.dim < 1) return std::nullopt;
  const CallReport* made = checked_call(ctx, *origin.call);
  if (made == nullptr || made->outputs.empty()) return std::nullopt;
  const ResolvedArgument* input = checked_argument(*made, "input");
  if (input == nullptr) return std::nullopt;
  const Shape in = ctx.symbols.resolve(input->shape), out = ctx.symbols.resolve(made->outputs.front().shape);
  const auto k = static_cast<std::size_t>(origin.dim - 1);
  if (out.size() != in.size() + 1 || in.size() < 3 || k != in.size() - 3) return std::nullopt;
  // A dim named as a batch, or a product with one (classifier-free guidance's 2*B viewed
  // (2, B, ...)), is split for another reason than grouped heads.
  const std::string split_name = input->written()[k].str();
  for (const std::string& factor : name_factors(split_name)) {
    if (role_of_name(factor) == DimRole::Batch) return std::nullopt;
  }
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i != k && ctx.symbols.compare(in[i], out[i < k ? i : i + 1]) != Symbols::Verdict::Equal) return std::nullopt;
  }
  std::optional<DimExpr> product = dim_mul(out[k], out[k + 1]);
  if (!product || ctx.symbols.compare(*product, in[k]) != Symbols::Verdict::Equal) return std::nullopt;
  if (out[k] == DimExpr::constant(1) || out[k + 1] == DimExpr::constant(1)) return std::nullopt;
  return HeadsSplit{origin.call, static_cast<int>(k), out[k], out[k + 1]};
}

std::string shape_entry(const nlohmann::json& size) { return size.is_string() ? size.get<std::string>() : size.dump(); }

}  // namespace

void check_grouped_heads_order(CallContext& ctx, const ArgValue& query, const std::vector<int>& partner_of, const ArgValue& partner,
                               const std::string& product) {
  if (ctx.spec.flat) return;
  for (int d = 0; d < query.rank() && d < static_cast<int>(partner_of.size()); ++d) {
    const int p = partner_of[static_cast<std::size_t>(d)];
    if (p < 0 || p >= partner.rank() || partner.shape[static_cast<std::size_t>(p)] == DimExpr::constant(1)) continue;
    if (role_of_dim(partner.dim_names, p) == DimRole::Batch) continue;  // a per-batch partner, not key/value heads
    std::optional<HeadsSplit> split = inner_heads_factor(ctx, query, d);
    if (!split) continue;
    // The outer factor meets nothing of the partner: the partner's heads are the inner ones alone.
    bool outer_unpaired = false;
    for (int e = 0; e < query.rank(); ++e) {
      DimOrigin origin = dim_origin(ctx.spec, query, e);
      if (origin.call == split->view && origin.dim == split->outer) outer_unpaired = partner_of[static_cast<std::size_t>(e)] < 0;
    }
    if (!outer_unpaired) continue;
    const CallDecl& view = *split->view;
    const nlohmann::json& written = view.arguments.value("shape", nlohmann::json());
    if (!written.is_array() || static_cast<int>(written.size()) <= split->outer + 1 || view.outputs.empty() ||
        !CallContext::index_in_calls(view)) {
      continue;
    }
    const auto outer = static_cast<std::size_t>(split->outer);
    Diagnostic& diagnostic = ctx.report(
        DiagId::GroupedHeadsSplitOrder,
        fmt::format("{} pairs dim {} of {}, the inner factor ({}) of the heads that view \"{}\" splits ({}, {}), with dim {} of {} ({} key/value "
                    "heads): query head h meets key/value head h mod {}, where grouped-query attention shares key/value head j among "
                    "query heads j*{} .. j*{}+{}",
                    product, d, tensor_name(query), split->b.str(), view.id, split->a.str(), split->b.str(), p, tensor_name(partner),
                    split->b.str(), split->b.str(), split->a.str(), split->a.str(),
                    split->a.is_constant() ? std::to_string(split->a.offset - 1) : split->a.str() + "-1"),
        &query, d);
    diagnostic.notes.push_back(fmt::format("a split with the key/value heads inner tiles them as {}", kModuloPairing));
    diagnostic.notes.push_back("PyTorch raises nothing: every size agrees");
    // The heads split (Hkv, G), as repeat_interleave groups them, then the two factors swapped
    // back, so that every later call reads the dims where it did.
    nlohmann::json shape = written;
    std::swap(shape[outer], shape[outer + 1]);
    std::vector<std::string> entries;
    for (const nlohmann::json& size : shape) entries.push_back(shape_entry(size));
    const std::string result = view.outputs.front(), split_name = fresh_name(ctx.spec, result + "_split");
    const std::size_t index = *CallContext::index_in_calls(view);  // checked above
    const ArgRef& input = view.tensor("input");
    nlohmann::json patch = nlohmann::json::array(
        {{{"op", "replace"}, {"path", view.pointer + "/shape"}, {"value", shape}},
         {{"op", "replace"}, {"path", view.pointer + "/outputs/0"}, {"value", split_name}},
         {{"op", "add"},
          {"path", CallContext::calls_entry_pointer(index + 1)},
          {"value", {{"id", fresh_name(ctx.spec, "swap_" + result)}, {"op", "transpose"}, {"input", split_name}, {"dim0", split->outer},
                     {"dim1", split->outer + 1}, {"outputs", {result}}}}}});
    ctx.add_patch_fix(diagnostic,
                      fmt::format("split the heads (key/value heads, groups), as repeat_interleave groups them, and swap the factors back: {} = "
                                  "{}.{}({}).transpose({}, {}), the later calls unchanged",
                                  result, input.kind == ArgRef::Kind::Named ? input.name : "input", view.op, fmt::join(entries, ", "), split->outer,
                                  split->outer + 1),
                      patch);
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "query head h meets key/value head h // groups, as enable_gqa and repeat_kv pair them");
    return;
  }
}

namespace {

// The stack whose new dim a reshape merged, outermost, into dim `dim` of `tokens` with the dims
// after it: Decision Transformer's stack((R, s, a), dim=1) (B, 3, T, E) reshaped to (B, 3*T, E).
struct StackedMerge {
  const CallDecl* stack = nullptr;
  const CallDecl* merge = nullptr;
  std::int64_t count = 0;  // the tensors stacked
  int stacked_dim = 0;     // the stack's dim in its output, where the merged run starts
  DimExpr steps;           // the dim right inside it
};

std::optional<StackedMerge> stacked_outer_merge(const CallContext& ctx, const ArgValue& tokens, int dim) {
  if (ctx.checked_calls == nullptr || dim < 0 || dim >= tokens.rank()) return std::nullopt;
  const DimOrigin origin = dim_origin(ctx.spec, tokens, dim);
  if (origin.call == nullptr || (origin.call->op != "reshape" && origin.call->op != "view" && origin.call->op != "flatten")) return std::nullopt;
  const CallReport* report = checked_call(ctx, *origin.call);
  if (report == nullptr || report->outputs.empty() || report->arguments.empty()) return std::nullopt;
  const Shape& in = report->arguments.front().shape;
  const Shape& out = report->outputs.front().shape;
  if (origin.dim >= static_cast<int>(out.size())) return std::nullopt;
  // The input dims before the merged run multiply to the output dims before it.
  Shape before(out.begin(), out.begin() + origin.dim);
  std::size_t first = 0;
  while (first <= in.size() && SizeProduct::of(Shape(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(first))) != SizeProduct::of(before)) ++first;
  if (first + 2 > in.size()) return std::nullopt;
  std::size_t end = first + 1;
  while (end <= in.size() && SizeProduct::of(Shape(in.begin() + static_cast<std::ptrdiff_t>(first), in.begin() + static_cast<std::ptrdiff_t>(end))) !=
                                 SizeProduct::of(Shape{out[static_cast<std::size_t>(origin.dim)]})) {
    ++end;
  }
  if (end > in.size() || end - first < 2 || in[first + 1] == DimExpr::constant(1)) return std::nullopt;
  const CallDecl* stack = producer_of(ctx.spec, input_name(*origin.call, "input"), origin.call);
  if (stack == nullptr || stack->op != "stack") return std::nullopt;
  const auto rank = static_cast<std::int64_t>(in.size());
  const std::int64_t written = stack->arguments.value("dim", nlohmann::json(0)).is_number_integer() ? stack->arguments.value("dim", std::int64_t{0}) : -rank - 1;
  if (written < -rank || written >= rank || (written < 0 ? written + rank : written) != static_cast<std::int64_t>(first)) return std::nullopt;
  const auto count = static_cast<std::int64_t>(stack->list_size("tensors"));
  if (count < 2 || !(in[first] == DimExpr::constant(count))) return std::nullopt;
  return StackedMerge{stack, origin.call, count, static_cast<int>(first), in[first + 1]};
}

}  // namespace

void check_causal_over_stacked(CallContext& ctx, const ArgValue& tokens, int dim) {
  std::optional<StackedMerge> merged = stacked_outer_merge(ctx, tokens, dim);
  if (!merged) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::CausalOverStackedGroups,
      fmt::format("{}'s dim {} merges the {} tensors stacked by call \"{}\" (outer) with {} steps (inner): the tokens are grouped by "
                  "tensor, all of the first before any of the second, and the causal mask over them lets every token of a later group see "
                  "the first group's later steps",
                  tensor_name(tokens), dim, merged->count, merged->stack->id, merged->steps.str()),
      &tokens, dim);
  diagnostic.notes.push_back("causal attention over tokens of several kinds per step (a return, a state and an action) reads them "
                             "interleaved per step: stacked after the steps, (B, T, K, E) merged gives step 0's K tokens, then step 1's");
  diagnostic.notes.push_back("PyTorch raises nothing: the shapes are the same");
  if (ctx.spec.flat) return;
  const int inner = merged->stacked_dim + 1;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("stack after the steps, so that the tokens interleave per step: torch.stack([...], dim={}) in call \"{}\"", inner,
                                merged->stack->id),
                    nlohmann::json::array({{{"op", "replace"}, {"path", merged->stack->pointer + "/dim"}, {"value", inner}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each step's tokens come together, in causal order");
}

}  // namespace mhacheck
