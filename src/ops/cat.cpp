// torch.cat(tensors, dim=0): PyTorch 2.x's cat meta function. No 0-D tensor; dim wraps against
// the first tensor that is not a legacy empty 1-D (0,) tensor, which are skipped everywhere;
// every other tensor has the first's rank and sizes except along dim, where the sizes add up.
// The dtype is the promotion of all the tensors' dtypes.
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "check/checked_call.hpp"
#include "check/dim_maker.hpp"
#include "check/dim_origin.hpp"
#include "core/text.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/index_expression.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

bool legacy_empty(const ArgValue& tensor) { return tensor.rank() == 1 && tensor.shape[0] == DimExpr::constant(0); }

// The fix that expands `shared` to the batch: `sizes` are expand's arguments (-1 keeps a dim),
// `shape` what it then is.
void add_batch_expand_fix(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& shared, const Shape& shape,
                          const std::vector<std::string>& sizes) {
  std::string name = shown_name(shared);
  ctx.add_shape_fix(diagnostic,
                    fmt::format("expand {} to the batch (shared by every batch entry): {}.expand({}) gives {}", name, name,
                                fmt::join(sizes, ", "), tuple_str(shape)),
                    {{&shared, shape}});
}

// A size-1 dim met by a batch (MHA083: a cls token (1, 1, E) against (B, N, E) patches): cat does
// not broadcast, so the tensor the batch shares is expanded to it (timm's cls_token.expand(B, -1, -1)).
void propose_expanded(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& shared, int dim, const DimExpr& batch) {
  Shape shape = shared.written;
  shape[dim] = batch;
  std::vector<std::string> sizes(shared.rank(), "-1");
  sizes[dim] = batch.str();
  add_batch_expand_fix(ctx, diagnostic, shared, shape, sizes);
}

// A tensor shared by every batch entry, without the batch dim its partner has (Perceiver's (M, F)
// Fourier position features joined to (B, M, C) inputs): expanded to the batch, when every other
// dim but the joined one meets its partner's.
void propose_batch_expanded(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& shared, const ArgValue& batched, int dim) {
  if (batched.rank() != shared.rank() + 1 || shared.rank() == 0 || dim == 0) return;
  for (int d = 0; d < shared.rank(); ++d) {
    if (d + 1 != dim && ctx.symbols.compare(shared.shape[d], batched.shape[d + 1]) != Symbols::Verdict::Equal) return;
  }
  Shape shape = shared.written;
  shape.insert(shape.begin(), batched.shape[0]);
  std::vector<std::string> sizes(shape.size(), "-1");
  sizes[0] = batched.shape[0].str();
  add_batch_expand_fix(ctx, diagnostic, shared, shape, sizes);
}

// A tensor with dims of 1 where its partner has more, every other dim but the joined one equal
// (DeepSeek's one rotary key k_pe (B, 1, T, 64) joined on the features to the per-head keys
// (B, 16, T, 128)): it is shared by those entries, which cat does not broadcast, so it is
// expanded to them first (expand does not copy). Only where no other dim would join them.
void propose_broadcast_expanded(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& shared, const ArgValue& partner, int dim) {
  if (shared.rank() != partner.rank()) return;
  // Tensors that differ in one dim only join on that dim: a class token (B, 1, E) joined to the
  // patches (B, N, E) on the batch was meant to join on its positions, not to be expanded.
  int differing = 0;
  for (int d = 0; d < shared.rank(); ++d) differing += ctx.symbols.compare(shared.shape[d], partner.shape[d]) != Symbols::Verdict::Equal;
  if (differing <= 1) return;
  Shape shape = shared.written;
  std::vector<std::string> sizes(shared.rank(), "-1");
  bool grown = false;
  for (int d = 0; d < shared.rank(); ++d) {
    if (d == dim || ctx.symbols.compare(shared.shape[d], partner.shape[d]) == Symbols::Verdict::Equal) continue;
    if (!(shared.shape[d] == DimExpr::constant(1))) return;
    shape[d] = partner.shape[d];
    sizes[d] = partner.shape[d].str();
    grown = true;
  }
  if (!grown) return;
  std::string name = shown_name(shared);
  ctx.add_shape_fix(diagnostic,
                    fmt::format("expand {} to the sizes of {} (cat does not broadcast its dims of 1): {}.expand({}) gives {}", name,
                                shown_name(partner), name, fmt::join(sizes, ", "), tuple_str(shape)),
                    {{&shared, shape}});
}

// The index of call `getitem` when it is written with slices and integers only (no None, no
// Ellipsis), so that entry i indexes input dim i; nullopt otherwise.
std::optional<IndexExpression> plain_index(const CallDecl& getitem) {
  if (getitem.op != "getitem" || !CallContext::index_in_calls(getitem) || !getitem.arguments.contains("index") ||
      !getitem.arguments["index"].is_string()) {
    return std::nullopt;
  }
  std::string error;
  std::optional<IndexExpression> index = parse_index(getitem.arguments["index"].get<std::string>(), error);
  if (!index || std::any_of(index->items.begin(), index->items.end(), [](const IndexItem& item) {
        return item.kind == IndexItem::Kind::None || item.kind == IndexItem::Kind::Ellipsis;
      })) {
    return std::nullopt;
  }
  return index;
}

// `index` as Python writes it, with entry `at` written as `entry`.
std::string index_text_with(const IndexExpression& index, std::size_t at, const std::string& entry) {
  std::vector<std::string> items;
  for (std::size_t i = 0; i < index.items.size(); ++i) items.push_back(i == at ? entry : item_text(index.items[i]));
  return fmt::format("[{}{}]", fmt::join(items, ", "), index.tuple && items.size() == 1 ? "," : "");
}

// A tensor one dim short of its partner because an integer index dropped the dim the cat needs
// (a class token taken as x[:, 0], (B, D), joined to patch tokens (B, N, D) on dim 1): PyTorch
// raises. Where the dropped dim put back as a dim of 1 lines the two up, the integer becomes a
// slice of length 1, x[:, 0:1], which selects the same entries and keeps the dim
// (x[:, 0].unsqueeze(1)).
void propose_kept_index_dim(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& dropped, const ArgValue& partner) {
  const CallDecl* getitem = dropped.producer;
  if (!getitem || partner.rank() != dropped.rank() + 1) return;
  std::optional<IndexExpression> index = plain_index(*getitem);
  if (!index) return;
  std::optional<std::size_t> integer;
  for (std::size_t i = 0; i < index->items.size(); ++i) {
    if (index->items[i].kind != IndexItem::Kind::Integer) continue;
    if (integer) return;  // two dims dropped: not one dim short
    integer = i;
  }
  if (!integer || *integer > static_cast<std::size_t>(dropped.rank())) return;
  Shape kept = dropped.shape;
  kept.insert(kept.begin() + static_cast<std::ptrdiff_t>(*integer), DimExpr::constant(1));
  // The cat's dim as the fixed tensors (all of the partner's rank) wrap it.
  std::int64_t written = int_argument(ctx, "dim");
  const int dim = static_cast<int>(written < 0 ? written + partner.rank() : written);
  for (int d = 0; d < partner.rank(); ++d) {
    if (d != dim && ctx.symbols.compare(kept[static_cast<std::size_t>(d)], partner.shape[static_cast<std::size_t>(d)]) != Symbols::Verdict::Equal) return;
  }
  const std::int64_t at = index->items[*integer].integer;
  const std::string slice = at == -1 ? "-1:" : fmt::format("{}:{}", at, at + 1);
  const std::string fixed = index_text_with(*index, *integer, slice);
  ctx.add_patch_fix(diagnostic,
                    fmt::format("keep dim {} that the integer index drops, with a slice of length 1: {}{} in call \"{}\" (the same entries, "
                                "{})",
                                *integer, input_name(*getitem, "input"), fixed, getitem->id, tuple_str(kept)),
                    nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(getitem->pointer, "index")}, {"value", fixed}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the same entries, with the dim the cat joins along kept");
}

// A tensor whose dim `d` differs from its partner's because a slice cut that dim of the tensor it
// was made from, where the uncut dim would fit (LLaVA-style image features (B, 577, E) cut as
// feats[1:], meant to drop the class token of dim 1, which drops the first image of the batch
// instead): the slice was meant for another dim. Proposed on each other dim of that tensor but the
// last (the features a Linear reads), a slice there written after leading ":" entries
// (feats[:, 1:]); the verification keeps those that fit.
void propose_slice_moved(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& sliced, const ArgValue& partner, int d) {
  std::optional<DimMaker> maker = dim_maker(ctx.spec, sliced, d);
  if (!maker) return;
  std::optional<IndexExpression> index = plain_index(*maker->call);
  const std::string input = input_name(*maker->call, "input");
  std::optional<Shape> shape = input.empty() ? std::nullopt : checked_tensor_shape(ctx, input, maker->call);
  if (!index || !shape || static_cast<std::size_t>(maker->dim) >= index->items.size()) return;
  auto full = [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice && !item.start && !item.stop && !item.step; };
  const auto at = static_cast<std::size_t>(maker->dim);
  for (std::size_t i = 0; i < index->items.size(); ++i) {
    const IndexItem& item = index->items[i];
    if (i == at ? item.kind != IndexItem::Kind::Slice || (item.step && *item.step != 1) : !full(item)) return;
  }
  if (shape->size() != static_cast<std::size_t>(sliced.rank()) ||
      ctx.symbols.compare(ctx.symbols.resolve((*shape)[at]), partner.shape[static_cast<std::size_t>(d)]) != Symbols::Verdict::Equal) {
    return;
  }
  for (std::size_t e = 0; e + 1 < shape->size(); ++e) {
    const DimExpr size = ctx.symbols.resolve((*shape)[e]);
    if (e == at || size == DimExpr::constant(1)) continue;
    std::vector<std::string> items(e, ":");
    items.push_back(item_text(index->items[at]));
    const std::string moved = fmt::format("[{}]", fmt::join(items, ", "));
    ctx.add_patch_fix(diagnostic,
                      fmt::format("slice dim {} (size {}) instead of dim {} in call \"{}\": {}{}", e, size.str(), at, maker->call->id, input, moved),
                      nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(maker->call->pointer, "index")}, {"value", moved}}}));
  }
}

// The joined size of dims the algebra cannot add (P + T: a KV cache of P positions joined with T new
// ones, both unbound) as one opaque size named by its sorted terms ("P+T"), so that the calls after
// the cat still compare it (keys and values both (B, H, P+T, D)) instead of stopping at a correct
// program. Only sums of plain symbols (or of such a sum) with a constant offset; a coefficient, a
// product ((2*S) + T) or another opaque size ((T+1)//2) stays underivable: "P+T" is read back
// (parse_dim_expr) as a sum of symbols only. Doubled (cat([kv, kv])) it prints as 2*(P+T).
std::optional<DimExpr> opaque_sum(const DimExpr& a, const DimExpr& b) {
  std::vector<std::string> terms;
  std::int64_t offset = 0;
  for (const DimExpr* dim : {&a, &b}) {
    if (__builtin_add_overflow(offset, dim->offset, &offset)) return std::nullopt;
    if (dim->is_constant()) continue;
    if (dim->coeff != 1 || dim->is_monomial()) return std::nullopt;
    for (std::string& term : split_at(dim->symbol.str(), '+')) terms.push_back(std::move(term));
  }
  // A term that is no identifier ("(T+1)//2" split at its '+') has no place in a sum's text.
  if (!std::all_of(terms.begin(), terms.end(), [](const std::string& term) { return is_identifier(term); })) return std::nullopt;
  std::sort(terms.begin(), terms.end());
  return DimExpr{1, Symbol(fmt::format("{}", fmt::join(terms, "+"))), offset};
}

// The dims along which every tensor's other sizes are equal, proposed as the cat's dim: tensors
// that differ in one dim only are joined along it (image tokens (B, 576, E) and text tokens
// (B, T, E) joined on their tokens, dim 1, where cat(dim=0), the dim of their unbatched code,
// stacks the samples). No claim about its meaning: classifier-free guidance joins (B, 77, E)
// unconditional and (B, T, E) conditional prompts on the batch on purpose, where T == 77 is meant.
void propose_other_dims(CallContext& ctx, Diagnostic& diagnostic, const std::vector<const ArgValue*>& tensors, const ArgValue& reference, int dim) {
  for (int other = 0; other < reference.rank(); ++other) {
    if (other == dim) continue;
    bool fits = true;
    for (const ArgValue* candidate : tensors) {
      if (legacy_empty(*candidate)) continue;
      if (candidate->rank() != reference.rank()) fits = false;  // reported later
      for (int e = 0; fits && e < candidate->rank(); ++e) {
        fits = e == other || ctx.symbols.compare(candidate->shape[e], reference.shape[e]) == Symbols::Verdict::Equal;
      }
    }
    if (fits) ctx.add_argument_fix(diagnostic, fmt::format("concatenate along dim {}", other), "dim", other);
  }
}

// Pieces of one chunk or split, each processed on its own, joined on another dim than the one
// they were cut on (MHA297): the cut's parts stack where they lay side by side. Pieces joined
// straight from the cut (heads moved to the batch: torch.cat(q.chunk(H, dim=2), dim=0)) are a
// relayout the engineer wrote on purpose.
void check_cut_rejoined(CallContext& ctx, const std::vector<const ArgValue*>& tensors, int dim) {
  if (tensors.size() < 2) return;
  const int rank = tensors.front()->rank();
  for (int cut_dim = 0; cut_dim < rank; ++cut_dim) {
    if (cut_dim == dim) continue;
    const CallDecl* cut = nullptr;
    std::set<std::string> pieces;
    bool rejoined = true;
    for (const ArgValue* tensor : tensors) {
      std::optional<CutOrigin> origin = tensor->rank() == rank ? cut_origin(ctx.spec, *tensor, cut_dim) : std::nullopt;
      rejoined = origin && origin->calls > 0 && (cut == nullptr || cut == origin->cut) && pieces.insert(origin->piece).second;
      if (!rejoined) break;
      cut = origin->cut;
    }
    if (!rejoined || cut == nullptr) continue;
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::CatOffSplitDim,
        fmt::format("the {} tensors joined are pieces of {} call \"{}\", which cut their dim {}, each processed on its own; joined on dim {} "
                    "they stack where the pieces lay side by side",
                    tensors.size(), cut->op, cut->id, cut_dim, dim),
        "dim");
    ctx.add_argument_fix(diagnostic, fmt::format("join the pieces on the dim they were cut on: torch.cat([...], dim={})", cut_dim), "dim", cut_dim);
    return;
  }
}

// The calls that made `name` and, through every tensor argument, the calls before them, each
// once: what a tensor was computed from. Not dim_origin's walk, which follows one dim through
// one input of each call: whether a cache and the new part share a root depends on every input.
// Bounded, as a spec may hold 100,000 calls.
std::vector<const CallDecl*> ancestry(const Spec& spec, const std::string& name, const CallDecl* before) {
  constexpr std::size_t kMaxAncestors = 64;
  std::vector<const CallDecl*> found;
  std::vector<std::pair<std::string, const CallDecl*>> pending{{name, before}};
  while (!pending.empty() && found.size() < kMaxAncestors) {
    auto [tensor, after] = pending.back();
    pending.pop_back();
    const CallDecl* call = producer_of(spec, tensor, after);
    if (call == nullptr || std::find(found.begin(), found.end(), call) != found.end()) continue;
    found.push_back(call);
    for (const auto& [argument, ref] : call->tensors) {
      if (ref.kind == ArgRef::Kind::Named) pending.emplace_back(ref.name, call);
    }
  }
  return found;
}

// The declared tensors `name` was computed from (itself, when declared).
std::vector<std::string> roots(const Spec& spec, const std::string& name, const CallDecl* before) {
  std::vector<std::string> found;
  if (spec.find_tensor(name) != nullptr) found.push_back(name);
  for (const CallDecl* call : ancestry(spec, name, before)) {
    for (const auto& [argument, ref] : call->tensors) {
      if (ref.kind == ArgRef::Kind::Named && spec.find_tensor(ref.name) != nullptr) found.push_back(ref.name);
    }
  }
  return found;
}

// A slice from position 0 of a declared position table, as `call` (a getitem) writes it: the
// index entry that slices, and the table dim it slices.
struct TableSlice {
  const CallDecl* call = nullptr;
  std::string table;
  IndexExpression written;  // symbols as written ("[:T]")
  std::size_t item = 0;
  int dim = 0;
};

// The slice of `call` that reads positions 0..length-1 of a declared table of at least `needed`
// positions along a dim that is not the table's last (a table's last dim holds its features;
// x[..., :D/2] is rotate_half's split, not positions).
std::optional<TableSlice> slice_from_start(CallContext& ctx, const CallDecl& call, std::int64_t length, std::int64_t needed) {
  if (call.op != "getitem" || !call.arguments.contains("index") || !call.arguments["index"].is_string()) return std::nullopt;
  std::string table = input_name(call, "input");
  const TensorDecl* declared = table.empty() ? nullptr : ctx.spec.find_tensor(table);
  if (declared == nullptr) return std::nullopt;
  std::string error;
  std::optional<IndexExpression> written = parse_index(call.arguments["index"].get<std::string>(), error);
  if (!written) return std::nullopt;
  IndexExpression resolved = *written;
  resolve_symbols(resolved, ctx.symbols);
  Shape shape = ctx.symbols.resolve(declared->shape);
  IndexPlan plan = plan_index(resolved, shape);
  if (plan.failure) return std::nullopt;
  // The plan's dims follow the index's slices in order; match each slice entry to its dim.
  std::size_t slice = 0;
  for (std::size_t i = 0; i < resolved.items.size(); ++i) {
    const IndexItem& item = resolved.items[i];
    if (item.kind != IndexItem::Kind::Slice) continue;
    while (slice < plan.dims.size() && plan.dims[slice].source < 0) ++slice;
    if (slice == plan.dims.size()) return std::nullopt;
    const IndexedDim& dim = plan.dims[slice++];
    const DimExpr& size = shape[static_cast<std::size_t>(dim.source)];
    bool from_start = !item.start || (item.start->is_constant() && item.start->constant == 0);
    if (!from_start || dim.step != 1 || dim.source == static_cast<int>(shape.size()) - 1 || !item.stop) continue;
    if (dim.size != DimExpr::constant(length) || !size.is_constant() || size.offset < needed) continue;
    return TableSlice{&call, table, *written, i, dim.source};
  }
  return std::nullopt;
}

// The slice [P:P+T] of a table for T new tokens after P cached positions: its bounds as numbers
// when both are ([7:8]), as a sum where either is a symbol ([P:P+T]).
std::string moved_slice(const std::string& start, const DimExpr& cached, const IndexBound& stop) {
  if (start == std::to_string(cached.offset) && stop.is_constant()) return fmt::format("{}:{}", cached.offset, cached.offset + stop.constant);
  return fmt::format("{}:{}+{}", start, start, stop.str());
}

// MHA372: the tensor joined after a KV cache of P positions (cat([cache_k, k], dim=seq)) holds the
// T new tokens, at positions P..P+T-1. A position table (RoPE cos/sin, learned or sinusoidal
// embeddings) sliced from 0 for them, cos_cached[:T], rotates them as if they came first. The
// fix starts every such slice of that table (the query's rotation too) at P.
void check_positions_after_cache(CallContext& ctx, const std::vector<const ArgValue*>& tensors, int dim) {
  if (tensors.size() != 2) return;
  const ArgValue& cache = *tensors[0];
  const ArgValue& fresh = *tensors[1];
  // A legacy empty (0,) tensor joins anything: it has no dim `dim`.
  if (dim < 0 || dim >= cache.rank() || dim >= fresh.rank()) return;
  const DimExpr& cached = cache.shape[static_cast<std::size_t>(dim)];
  const DimExpr& added = fresh.shape[static_cast<std::size_t>(dim)];
  if (!cached.is_constant() || cached.offset <= 0 || !added.is_constant() || added.offset <= 0) return;
  if (tensor_name(cache).empty() || tensor_name(fresh).empty()) return;
  // A cache is kept from earlier steps: nothing the new part is computed from (rotate_half joins
  // two halves of one tensor, and is no cache).
  std::vector<std::string> cache_roots = roots(ctx.spec, tensor_name(cache), &ctx.call);
  std::vector<std::string> fresh_roots = roots(ctx.spec, tensor_name(fresh), &ctx.call);
  for (const std::string& root : cache_roots) {
    if (std::find(fresh_roots.begin(), fresh_roots.end(), root) != fresh_roots.end()) return;
  }
  const std::int64_t length = added.offset, needed = cached.offset + added.offset;
  std::vector<TableSlice> slices;  // the tables' slices the new part is made from (cos and sin)
  for (const CallDecl* call : ancestry(ctx.spec, tensor_name(fresh), &ctx.call)) {
    if (std::optional<TableSlice> slice = slice_from_start(ctx, *call, length, needed)) slices.push_back(*slice);
  }
  if (slices.empty()) return;
  const DimExpr& cache_written = cache.written[static_cast<std::size_t>(dim)];
  std::string start = cache_written.is_plain_symbol() ? cache_written.symbol.str() : std::to_string(cached.offset);
  const TableSlice& first = *std::min_element(slices.begin(), slices.end(), [](const TableSlice& a, const TableSlice& b) { return a.call < b.call; });
  std::string written = first.call->arguments["index"].get<std::string>();
  Diagnostic& diagnostic = ctx.report(
      DiagId::DecodePositionsFromStart,
      fmt::format("{} (the {} new positions joined after the {} cached ones of {}) is made from {}{} (call \"{}\"): positions 0..{} of "
                  "the table, where the new tokens sit at {}..{}",
                  tensor_name(fresh), length, cached.offset, tensor_name(cache), first.table, written, first.call->id, length - 1, cached.offset,
                  needed - 1),
      &fresh, dim);
  diagnostic.notes.push_back("PyTorch raises nothing: every decoding step reuses the first positions, and the new tokens attend to the cache "
                             "as if they came before it");
  // Every such slice of those tables moves, the query's rotation's too (it may slice the table
  // again): the queries are the same new tokens.
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> moved;
  for (const CallDecl& call : ctx.spec.calls) {
    if (!CallContext::index_in_calls(call)) continue;
    std::optional<TableSlice> slice = slice_from_start(ctx, call, length, needed);
    if (!slice || std::none_of(slices.begin(), slices.end(), [&](const TableSlice& made) { return made.table == slice->table; })) continue;
    std::vector<std::string> items;
    for (std::size_t i = 0; i < slice->written.items.size(); ++i) {
      const IndexItem& item = slice->written.items[i];
      items.push_back(i == slice->item ? moved_slice(start, cached, *item.stop) : item_text(item));
    }
    std::string fixed = fmt::format("[{}{}]", fmt::join(items, ", "), slice->written.tuple && items.size() == 1 ? "," : "");
    patch.push_back({{"op", "replace"}, {"path", child_pointer(call.pointer, "index")}, {"value", fixed}});
    moved.push_back(slice->table + fixed);
  }
  if (patch.empty()) return;
  ctx.add_patch_fix(diagnostic, fmt::format("{}: the positions after the {} cached ones, for the queries' and the new keys' rotation alike",
                                            fmt::join(moved, ", "), start),
                    patch);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the new tokens at their positions after the cache");
}

// One cat's parts, as checked: their names, sizes along the joined dim, rank and whether all are
// floating (tokens) or all bool or integer (masks). Parts of length 0 (an empty past at the first
// decoding step) have no place in an order and are left out.
struct JoinedParts {
  const CallDecl* call = nullptr;
  std::vector<std::string> names;
  std::vector<DimExpr> lengths;
  int rank = 0, dim = 0;
  bool floating = false, masks = false;
  bool empty_parts = false;  // some part of length 0 was left out
};

std::optional<JoinedParts> joined_parts(const CallContext& ctx, const CallDecl& call, const std::vector<const ArgValue*>& parts, int dim) {
  JoinedParts joined{&call, {}, {}, parts.empty() ? 0 : parts.front()->rank(), dim, true, true};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const ArgValue& part = *parts[i];
    const ArgRef& ref = call.tensor(list_element("tensors", i));
    if (ref.kind != ArgRef::Kind::Named || part.rank() != joined.rank || dim < 0 || dim >= part.rank()) return std::nullopt;
    joined.floating = joined.floating && is_floating(part.dtype);
    joined.masks = joined.masks && !is_floating(part.dtype);
    DimExpr length = ctx.symbols.resolve(part.shape[static_cast<std::size_t>(dim)]);
    if (length == DimExpr::constant(0)) {
      joined.empty_parts = true;
      continue;
    }
    joined.names.push_back(ref.name);
    joined.lengths.push_back(std::move(length));
  }
  // Parts of lengths that are or may be equal say nothing about their order.
  for (std::size_t i = 0; i < joined.lengths.size(); ++i) {
    for (std::size_t j = i + 1; j < joined.lengths.size(); ++j) {
      if (ctx.symbols.compare(joined.lengths[i], joined.lengths[j]) != Symbols::Verdict::Unequal) return std::nullopt;
    }
  }
  if (joined.names.size() < 2) return std::nullopt;
  return joined;
}

// An earlier cat's parts from the arguments it was checked with.
std::optional<JoinedParts> checked_parts(const CallContext& ctx, const CallDecl& call) {
  const CallReport* report = checked_call(ctx, call);
  if (report == nullptr) return std::nullopt;
  std::vector<ArgValue> parts(call.list_size("tensors"));
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const ResolvedArgument* resolved = checked_argument(*report, list_element("tensors", i));
    if (resolved == nullptr) return std::nullopt;
    parts[i].shape = resolved->shape;
    parts[i].dtype = resolved->dtype;
  }
  const nlohmann::json written = call.arguments.value("dim", nlohmann::json(0));
  if (parts.empty() || !written.is_number_integer()) return std::nullopt;
  int dim = written.get<int>();
  if (dim < 0) dim += parts.front().rank();
  std::vector<const ArgValue*> pointers;
  for (const ArgValue& part : parts) pointers.push_back(&part);
  return joined_parts(ctx, call, pointers, dim);
}

bool is_cat(const CallDecl& call) { return call.op == "cat" || call.op == "concat" || call.op == "concatenate"; }

// An argument that carries a mask beside the tensors it masks: attention's attn_mask and
// key_padding_mask (a Transformer's src_key_padding_mask), masked_fill's mask, where's condition.
bool mask_argument(const std::string& argument) { return argument.find("mask") != std::string::npos || argument == "condition"; }

// A call that reads a mask beside other tensors, reached from a cat's output, and whether the
// cat's output reaches it as the mask or as the other tensors (the tokens, or scores made from them).
// `mask_slot` names the argument holding the mask where no argument's name says so: an additive
// float mask added to the scores (scores + mask); empty otherwise (attn_mask, key_padding_mask).
struct MaskingCall {
  const CallDecl* call = nullptr;
  bool through_mask = false;
  std::string mask_slot;
};

bool holds_mask(const MaskingCall& masking, const std::string& argument) {
  return masking.mask_slot.empty() ? mask_argument(argument) : argument == masking.mask_slot;
}

bool is_product(const CallDecl& call) { return call.op == "matmul" || call.op == "bmm" || call.op == "einsum"; }

// Whether the tensor `name`, read by `reader`, was computed through a matrix product: scores.
bool made_by_product(const Spec& spec, const std::string& name, const CallDecl* reader) {
  const std::vector<const CallDecl*> made = ancestry(spec, name, reader);
  return std::any_of(made.begin(), made.end(), [](const CallDecl* call) { return is_product(*call); });
}

// The calls reading a mask that the output of `cat` reaches through at most kMaxSteps calls
// (projections, reshapes, q @ k^T, unsqueeze and ~ of a mask), in spec order. An add of scores
// (made by a product) and a tensor made without one is an additive mask applied to the scores:
// a masking call too, reached as the scores when the cat's output passed a product on its way,
// else as the mask.
std::vector<MaskingCall> masking_calls_reached(const Spec& spec, const CallDecl& cat) {
  constexpr int kMaxSteps = 12;
  struct Reached {
    std::string tensor;
    int steps = 0;     // calls from the cat's output
    bool scored = false;  // made through a matrix product from the cat's output
  };
  std::vector<MaskingCall> found;
  if (spec.calls.empty() || &cat < spec.calls.data() || &cat >= spec.calls.data() + spec.calls.size()) return found;
  // Only the calls after a reached tensor that read it, up to the first that outputs its name
  // again (which hides it), can change what is reached: those are visited, in spec order.
  std::set<std::size_t> visits;
  auto visit_readers = [&](const std::string& tensor, std::size_t made_at) {
    const std::vector<std::size_t>& makers = spec.makers_of(tensor);
    auto remade = std::upper_bound(makers.begin(), makers.end(), made_at);
    const std::size_t last = remade == makers.end() ? spec.calls.size() : *remade;
    if (remade != makers.end()) visits.insert(last);
    const std::vector<std::size_t>& readers = spec.readers_of(tensor);
    for (auto reader = std::upper_bound(readers.begin(), readers.end(), made_at); reader != readers.end() && *reader <= last; ++reader) {
      visits.insert(*reader);
    }
  };
  const auto cat_index = static_cast<std::size_t>(&cat - spec.calls.data());
  std::vector<Reached> reached;
  for (const std::string& output : cat.outputs) {
    reached.push_back({output, 0, false});
    visit_readers(output, cat_index);
  }
  while (!visits.empty() && !reached.empty()) {
    const std::size_t index = *visits.begin();
    visits.erase(visits.begin());
    const CallDecl* call = &spec.calls[index];
    int steps = -1;
    bool through_mask = false, through_other = false, scored = false;
    std::vector<std::pair<std::string, bool>> reading;  // the arguments reached, and whether scored
    for (const auto& [argument, ref] : call->tensors) {
      if (ref.kind != ArgRef::Kind::Named) continue;
      const std::string& name = ref.name;
      auto at = std::find_if(reached.begin(), reached.end(), [&](const Reached& r) { return r.tensor == name; });
      if (at == reached.end()) continue;
      steps = std::max(steps, at->steps);
      scored = scored || at->scored;
      reading.emplace_back(argument, at->scored);
      (mask_argument(argument) ? through_mask : through_other) = true;
    }
    // An output that reuses a reached name hides the reached tensor from the calls after.
    for (const std::string& output : call->outputs) {
      reached.erase(std::remove_if(reached.begin(), reached.end(), [&](const Reached& r) { return r.tensor == output; }), reached.end());
    }
    if (steps < 0) continue;
    const bool reads_mask = std::any_of(call->tensors.begin(), call->tensors.end(), [](const auto& entry) {
      return entry.second.kind == ArgRef::Kind::Named && mask_argument(entry.first);
    });
    if (reads_mask && through_mask != through_other) found.push_back({call, through_mask, ""});
    if (!reads_mask && call->op == "add" && reading.size() == 1) {
      const std::string& argument = reading.front().first;
      const std::string other_argument = argument == "input" ? "other" : "input";
      const std::string other = input_name(*call, other_argument);
      if (!other.empty()) {
        const bool other_scored = made_by_product(spec, other, call);
        if (!reading.front().second && other_scored) found.push_back({call, true, argument});
        if (reading.front().second && !other_scored) found.push_back({call, false, other_argument});
      }
    }
    if (steps + 1 < kMaxSteps) {
      for (const std::string& output : call->outputs) {
        reached.push_back({output, steps + 1, scored || is_product(*call)});
        visit_readers(output, index);
      }
    }
  }
  return found;
}

// The cats before `before` that `masking`'s arguments of the other side are made from: its
// masks' cats when `through_mask` is false, its other tensors' cats when true.
std::vector<const CallDecl*> partner_cats(const Spec& spec, const MaskingCall& masking, const CallDecl& before) {
  std::vector<const CallDecl*> cats;
  for (const auto& [argument, ref] : masking.call->tensors) {
    if (ref.kind != ArgRef::Kind::Named || holds_mask(masking, argument) == masking.through_mask) continue;
    for (const CallDecl* call : ancestry(spec, ref.name, masking.call)) {
      if (call < &before && is_cat(*call) && std::find(cats.begin(), cats.end(), call) == cats.end()) cats.push_back(call);
    }
  }
  return cats;
}

// MHA295 for the current cat against the earlier cat `earlier`, paired through `masking`: true
// when it warned.
bool check_mask_order_against(CallContext& ctx, const std::vector<const ArgValue*>& tensors, int dim, const JoinedParts& current,
                              const MaskingCall& masking, const CallDecl& earlier) {
  std::optional<JoinedParts> other = checked_parts(ctx, earlier);
  if (!other || other->names.size() != current.names.size()) return false;
  const JoinedParts& mask = masking.through_mask ? current : *other;
  const JoinedParts& tokens = masking.through_mask ? *other : current;
  if (!tokens.floating) return false;
  // A (B, T) mask of (B, T, E) tokens joins its last dim, the tokens a dim before their
  // features; a mask of the tokens' rank (bool or integer) joins the tokens' dim.
  const bool short_mask = mask.rank + 1 == tokens.rank && mask.dim == mask.rank - 1 && tokens.dim != tokens.rank - 1;
  if (!short_mask && !(mask.rank == tokens.rank && mask.masks && mask.dim == tokens.dim)) return false;
  std::vector<std::string> reordered;
  for (const DimExpr& length : tokens.lengths) {
    auto same = std::find_if(mask.lengths.begin(), mask.lengths.end(),
                             [&](const DimExpr& l) { return ctx.symbols.compare(l, length) == Symbols::Verdict::Equal; });
    if (same == mask.lengths.end()) break;
    reordered.push_back(mask.names[static_cast<std::size_t>(same - mask.lengths.begin())]);
  }
  if (reordered.size() != mask.names.size() || reordered == mask.names) return false;
  std::vector<std::string> token_lengths, mask_lengths;
  for (const DimExpr& length : tokens.lengths) token_lengths.push_back(length.str());
  for (const DimExpr& length : mask.lengths) mask_lengths.push_back(length.str());
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskPartsOrder,
      fmt::format("cat (call \"{}\") joins the mask parts [{}] (lengths {}) but cat (call \"{}\") joins the tokens [{}] (lengths {}) in another "
                  "order: each part's mask lies over the other part's tokens",
                  mask.call->id, fmt::join(mask.names, ", "), fmt::join(mask_lengths, ", "), tokens.call->id, fmt::join(tokens.names, ", "),
                  fmt::join(token_lengths, ", ")),
      tensors.front(), dim);
  diagnostic.notes.push_back("PyTorch raises nothing: the joined lengths are equal whatever the order");
  // With a part of length 0 left out, the reordered list would drop it: no patch then.
  if (CallContext::index_in_calls(*mask.call) && !mask.empty_parts) {
    ctx.add_patch_fix(diagnostic,
                      fmt::format("join the mask's parts in the tokens' order: cat([{}], dim={}) in call \"{}\"", fmt::join(reordered, ", "),
                                  mask.dim, mask.call->id),
                      nlohmann::json::array({{{"op", "replace"}, {"path", mask.call->pointer + "/tensors"}, {"value", reordered}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each token's mask entry is its own");
  }
  return true;
}

// MHA295 for a mask joined in another order than the tokens it masks: the tokens cat([text,
// image], 1) and their padding masks cat([image_masks, text_masks], 1). Each mask part has the
// length of one token part, so the two cats are recognised by lengths that are distinct and
// equal as sets, in another order; the mask's parts are bool or integer (or a float mask one
// dim short of the tokens' features). Both are (B, T) and (B, T, E) whatever the order, so
// nothing fails: the padding flags land on the other part's tokens. The mask is paired only with
// the tokens of the attention it masks: the cat reaching its query/key (or the scores made from
// them) beside the mask cat reaching its mask (an attn_mask or key_padding_mask, masked_fill's
// mask, or a float mask added to the scores), as one model may join two streams both ways, each
// with its own mask. Dims go by role, not index: seq-first (T, B, E) tokens joined on dim 0 have
// a (B, T) key_padding_mask joined on dim 1.
void check_mask_parts_order(CallContext& ctx, const std::vector<const ArgValue*>& tensors, int dim) {
  std::optional<JoinedParts> current = joined_parts(ctx, ctx.call, tensors, dim);
  if (!current || (!current->floating && !current->masks)) return;
  // Paired only through an attention both cats reach, the mask's as its mask and the tokens' as
  // its inputs: cats that reach none (a spec ending before the attention) may mask other tokens.
  std::vector<MaskingCall> reached = masking_calls_reached(ctx.spec, ctx.call);
  for (const MaskingCall& masking : reached) {
    for (const CallDecl* earlier : partner_cats(ctx.spec, masking, ctx.call)) {
      if (check_mask_order_against(ctx, tensors, dim, *current, masking, *earlier)) return;
    }
  }
}

}  // namespace

// cat checks every tensor against tensors[0] (PyTorch names a later one as the mismatch): the
// first sets the layout the others were written to match, so a later one is transposed first.
void cat_single_argument_order(std::vector<std::size_t>& order) { std::reverse(order.begin(), order.end()); }

void infer_cat(CallContext& ctx) {
  std::vector<const ArgValue*> tensors;
  std::size_t count = ctx.call.list_size("tensors");
  for (std::size_t i = 0; i < count; ++i) tensors.push_back(&ctx.arg(list_element("tensors", i)));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i]->rank() > 0) continue;
    Diagnostic& diagnostic = ctx.report(DiagId::CatShapes, fmt::format("{} is 0-D; cat joins tensors along a dim", tensors[i]->argument), tensors[i]);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("zero-dimensional tensor (at position {}) cannot be concatenated", i));
    diagnostic.notes.push_back("torch.stack joins 0-D tensors into a new dim");
    return;
  }
  DType dtype = tensors.front()->dtype;
  for (const ArgValue* tensor : tensors) dtype = promote_types(dtype, tensor->dtype);
  std::size_t first = 0;
  while (first < tensors.size() && legacy_empty(*tensors[first])) ++first;
  if (first == tensors.size()) {
    ctx.outputs.push_back({"output", Shape{DimExpr::constant(0)}, dtype});  // only empty (0,) tensors
    return;
  }
  const ArgValue& reference = *tensors[first];
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), reference.rank());
  if (!dim) return;
  Shape output = reference.shape;
  DimExpr joined = DimExpr::constant(0);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const ArgValue& tensor = *tensors[i];
    if (legacy_empty(tensor)) continue;
    if (tensor.rank() != reference.rank()) {
      Diagnostic& diagnostic = ctx.report(
          DiagId::CatShapes, fmt::format("{} is {}-D but {} is {}-D", tensor.argument, tensor.rank(), reference.argument, reference.rank()), &tensor);
      diagnostic.related.push_back({fmt::format("{} is {}", reference.argument, tuple_str(reference.shape)), reference.location});
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         fmt::format("Tensors must have same number of dimensions: got {} and {}", reference.rank(), tensor.rank()));
      // dim counts in the reference's dims: one more in the batched tensor's when the reference lacks the batch.
      propose_kept_index_dim(ctx, diagnostic, tensor.rank() < reference.rank() ? tensor : reference,
                             tensor.rank() < reference.rank() ? reference : tensor);
      if (tensor.rank() < reference.rank()) propose_batch_expanded(ctx, diagnostic, tensor, reference, *dim);
      else propose_batch_expanded(ctx, diagnostic, reference, tensor, *dim + 1);
      return;
    }
    for (int d = 0; d < tensor.rank(); ++d) {
      if (d == *dim) continue;
      const std::size_t reported = ctx.diagnostics.size();
      if (ctx.same(tensor.shape[d], reference.shape[d], &tensor, d, fmt::format("{} dim {} == {} dim {}", tensor.argument, d, reference.argument, d))) {
        // The condition same() reported, by its index: the proposals below verify fixes, which
        // must not change which diagnostic is patched.
        if (ctx.diagnostics.size() == reported) continue;
        Diagnostic& condition = ctx.diagnostics[reported];
        if (condition.id == DiagId::RoleCondition) {
          if (reference.shape[d] == DimExpr::constant(1)) propose_expanded(ctx, condition, reference, d, tensor.shape[d]);
          if (tensor.shape[d] == DimExpr::constant(1)) propose_expanded(ctx, condition, tensor, d, reference.shape[d]);
        }
        if (condition.id == DiagId::RoleCondition || condition.id == DiagId::SymbolConstraint) propose_other_dims(ctx, condition, tensors, reference, *dim);
        continue;
      }
      Diagnostic& diagnostic = ctx.report(
          DiagId::CatShapes,
          fmt::format("{} has size {} in dim {} but {} has {}; cat along dim {} needs every other dim equal", tensor.argument,
                      tensor.shape[d].str(), d, reference.argument, reference.shape[d].str(), *dim),
          &tensor, d);
      diagnostic.related.push_back(ctx.related(reference, d, fmt::format("{} dim {} = {}", reference.argument, d, reference.shape[d].str())));
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         fmt::format("Sizes of tensors must match except in dimension {}. Expected size {} but got size {} for tensor "
                                     "number {} in the list.",
                                     *dim, reference.shape[d].str(), tensor.shape[d].str(), i));
      propose_slice_moved(ctx, diagnostic, tensor, reference, d);
      propose_slice_moved(ctx, diagnostic, reference, tensor, d);
      propose_broadcast_expanded(ctx, diagnostic, tensor, reference, *dim);
      propose_broadcast_expanded(ctx, diagnostic, reference, tensor, *dim);
      propose_other_dims(ctx, diagnostic, tensors, reference, *dim);
      return;
    }
    std::optional<DimExpr> sum = dim_add(joined, tensor.shape[*dim]);
    if (!sum) sum = opaque_sum(joined, tensor.shape[*dim]);
    if (!sum) {
      report_argument(ctx, DiagId::ShapeNotDerivable,
                      fmt::format("the joined size {} + {} is neither a multiple of one symbol nor a sum of symbols; bind the symbols under \"dims\"", joined.str(),
                                  tensor.shape[*dim].str()),
                      "tensors");
      return;
    }
    joined = *sum;
  }
  output[*dim] = joined;
  check_positions_after_cache(ctx, tensors, *dim);
  // Every dim but the joined one is each tensor's own (their sizes are equal): it keeps the first
  // name given to it. The joined dim is a new size, named only when it is a plain symbol; reading a
  // name off an input dim that happens to have its size (rotate_half's cat of two halves of 64
  // with T bound to 64) would give it a role it does not play.
  std::vector<std::string> names(output.size());
  for (std::size_t d = 0; d < output.size(); ++d) {
    if (static_cast<int>(d) == *dim) {
      if (joined.is_plain_symbol() && joined.symbol.str().find('+') == std::string::npos) names[d] = joined.symbol.str();
      continue;
    }
    for (const ArgValue* tensor : tensors) {
      if (legacy_empty(*tensor) || tensor->dim_name(static_cast<int>(d)).empty()) continue;
      names[d] = tensor->dim_name(static_cast<int>(d));
      break;
    }
  }
  ctx.outputs.push_back({"output", output, dtype, names});
  bool contiguous = std::all_of(tensors.begin(), tensors.end(), [](const ArgValue* tensor) { return tensor->layout.is_contiguous(); });
  ctx.output_layouts["output"] = contiguous ? Layout::contiguous(output) : Layout::unknown();  // else its memory format is the inputs'
  check_cut_rejoined(ctx, tensors, *dim);
  check_mask_parts_order(ctx, tensors, *dim);
}

}  // namespace mhacheck
