// Tensor.__getitem__ with basic indices, torch.select and torch.narrow: views of part of a
// tensor. getitem's rule is src/ops/index_expression.cpp's plan; select and narrow are PyTorch
// 2.x's select_symint and narrow_symint (aten/src/ATen/native/TensorShape.cpp).
#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "check/dim_maker.hpp"
#include "check/dim_origin.hpp"
#include "check/mask_origin.hpp"
#include "check/roles.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/index_expression.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// The id of an exception PyTorch raises while indexing.
DiagId index_diagnostic(const std::string& message) {
  if (message.rfind("too many indices", 0) == 0 || message.find("0-dim tensor") != std::string::npos) return DiagId::IndexRank;
  if (message.find("step") != std::string::npos) return DiagId::SliceStep;
  if (message.rfind("Dimension out of range", 0) == 0) return DiagId::DimOutOfRange;
  return DiagId::TensorIndexOutOfRange;
}

// A size that must be known: whether an index fits depends on a symbol's value otherwise.
Diagnostic& symbol_dependent(CallContext& ctx, const std::string& argument, const std::string& what) {
  return report_argument(ctx, DiagId::ShapeNotDerivable, what + "; bind the symbol under \"dims\"", argument);
}

// "[2, 4]", as PyTorch prints an IntArrayRef.
std::string sizes_text(const Shape& shape) {
  std::string text;
  for (const DimExpr& size : shape) text += (text.empty() ? "" : ", ") + size.str();
  return "[" + text + "]";
}

// The name a slice from the start (x[:n], narrow(d, 0, n)) gives its dim: pe[:x.size(0)] on a
// batch-first x, written pe[:32] with "dims" binding B to 32, is pe[:B], a table cut to the batch
// size, whatever the table's dim stood for. The symbol "dims" binds to n, when exactly one is;
// "" otherwise. (A stop written as the symbol, pe[:B] as the tracer writes it, names the dim so.)
// The number is only a hint, taken for the leading dim of a table alone (the rows pe[:n] cuts):
// a slice of another dim (cos_cached[:, :, :10] of (1, 1, 2048, 128) with B bound to 10) keeps
// positions or features, and when another dim of the input already stands for that symbol
// (x[:, :99] of a (B, 197, E) x with B bound to 99 keeps 99 of the tokens, B is dim 0), the equal
// size is a coincidence: neither is named.
std::string slice_length_name(const Spec& spec, const ArgValue& input, int sliced, const DimExpr& length) {
  if (!length.is_constant() || sliced != 0) return "";
  std::string named;
  for (const auto& [symbol, value] : spec.dims) {
    if (value != length.offset) continue;
    if (!named.empty()) return "";  // two symbols of that size: the slice could be either
    named = symbol;
  }
  for (int d = 0; d < input.rank() && !named.empty(); ++d) {
    if (d != sliced && input.dim_name(d) == named) return "";
  }
  return named;
}

// The call that gives this call's result to a Linear whose output no later call reads: the
// model's result (logits), one row per example. Null when there is none.
const CallDecl* final_head(const CallContext& ctx) {
  if (ctx.call.outputs.empty()) return nullptr;
  const CallDecl* head = nullptr;
  for (std::size_t reader : ctx.spec.readers_of(ctx.call.outputs[0])) {
    const CallDecl& call = ctx.spec.calls[reader];
    const ModuleDecl* module = call.module.empty() ? nullptr : ctx.spec.find_module(call.module);
    if (head != nullptr || module == nullptr || module->type != "Linear") return nullptr;
    head = &call;
  }
  if (head == nullptr) return nullptr;
  for (const std::string& output : head->outputs) {
    if (!ctx.spec.readers_of(output).empty()) return nullptr;
  }
  return head;
}

// With no kept dim named as a sequence, the consumer tells what the kept dims are: a result of
// rank 2 or more whose only reader is a final head (final_head) is classified row by row, so
// its first kept dim before the features holds the rows. An index on a batch dim that keeps
// such a dim gives one example's rows (its tokens, ViT's x[0] for x[:, 0]) as the model's
// result; the entry was meant from the rows' dim. Seq-first (T, B, E) tensors whose x[0] is the
// class token have T, not a batch, at dim 0, and are not reached here. Nor is a batch of one
// (B bound to 1): its only example's rows are every row there is (per-token classification at
// inference), as with a literal 1.
struct FinalHeadRows {
  int dim = 0;                    // the kept dim the head classifies row by row
  const CallDecl* head = nullptr;  // the final head's call
};
std::optional<FinalHeadRows> rows_of_final_head(const CallContext& ctx, const ArgValue& input, int selected, const std::vector<int>& kept) {
  if (kept.size() < 2 || kept.front() >= input.rank() - 1 || role_of_dim(input.dim_names, kept.front()) == DimRole::Batch) return std::nullopt;
  const DimExpr batch = ctx.symbols.resolve(input.shape[static_cast<std::size_t>(selected)]);
  if (batch.is_constant() && batch.offset == 1) return std::nullopt;
  const CallDecl* head = final_head(ctx);
  if (head == nullptr) return std::nullopt;
  return FinalHeadRows{kept.front(), head};
}

// A dim's name for a message: "\"T\"", or its position and size when it has no name.
std::string dim_label(const ArgValue& input, int dim) {
  if (!input.dim_name(dim).empty()) return fmt::format("\"{}\"", input.dim_name(dim));
  return fmt::format("{} (size {})", dim, input.shape[static_cast<std::size_t>(dim)].str());
}

// A cls token is read at one sequence position. An integer index on a dim named as a batch, in a
// tensor that keeps a dim named as a sequence, takes one batch entry's vector at every position
// instead (MHA289): h[:, 0] of a seq-first (T, B, E) output. The dim it should pick is the first
// sequence dim, returned with the diagnostic that says so; nullopt when there is nothing to say.
// Only a tensor that keeps a dim beside its sequence dims (the features a cls vector is made of)
// is read that way: mask[0] of a (B, S) padding mask, or of token ids, looks at one sample on
// purpose.
struct PickedBatchEntry {
  int sequence = 0;                   // the dim the entry should have been picked from
  Diagnostic* diagnostic = nullptr;  // MHA289, reported; never null
  const CallDecl* head = nullptr;     // the final head the rows went to (null unless the kept rows
                                      // are read as such, with no sequence dim named)
};
std::optional<PickedBatchEntry> batch_entry_picked(CallContext& ctx, const ArgValue& input, int selected, std::int64_t entry,
                                                   const std::vector<int>& kept) {
  DimRole role = role_of_dim(input.dim_names, selected);
  if (role != DimRole::Batch) return std::nullopt;
  if (std::all_of(kept.begin(), kept.end(), [&](int d) { return role_of_dim(input.dim_names, d) == DimRole::Sequence; })) return std::nullopt;
  for (int d : kept) {
    if (role_of_dim(input.dim_names, d) == DimRole::Sequence) {
      Diagnostic& diagnostic = ctx.report(
          DiagId::IndexBatchEntry,
                 fmt::format("{} picks one entry of dim {} (\"{}\", a {}): every position of batch entry {}, not one position of the "
                             "sequence dim {} (\"{}\") for each batch entry",
                             ctx.call.op == "select" ? "select" : "the index", selected, input.dim_name(selected), role_name(role), entry, d,
                             input.dim_name(d)),
                 &input, selected);
      return PickedBatchEntry{d, &diagnostic, nullptr};
    }
  }
  if (std::optional<FinalHeadRows> rows = rows_of_final_head(ctx, input, selected, kept)) {
    const std::string row_count = input.shape[static_cast<std::size_t>(rows->dim)].str();
    Diagnostic& diagnostic = ctx.report(
               DiagId::IndexBatchEntry,
               fmt::format("{} picks one entry of dim {} (\"{}\", a {}) and keeps dim {} (size {}), which the head of call \"{}\" classifies row "
                           "by row: the model's result holds {} rows of batch entry {}, not one row per batch entry",
                           ctx.call.op == "select" ? "select" : "the index", selected, input.dim_name(selected), role_name(role), rows->dim,
                           row_count, rows->head->id, row_count, entry),
               &input, selected);
    return PickedBatchEntry{rows->dim, &diagnostic, rows->head};
  }
  return std::nullopt;
}

// The other reading of one entry's rows given to a final head: the head was meant for every
// row of every entry (node or token classification over a batch), so it takes the whole input.
// Offered after the sequence position: names alone cannot tell which was meant.
void offer_every_entry_to_head(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input, const CallDecl& head) {
  const std::string name = tensor_name(input);
  if (name.empty() || !CallContext::index_in_calls(head) || head.tensors.count("input") == 0) return;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("give the head of call \"{}\" every batch entry's rows: {}({}), one result row per row of each entry", head.id,
                                head.module, name),
                    nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(head.pointer, "input")}, {"value", name}}}));
}

// MHA289 for an index that takes one entry of one dim and leaves the others whole (h[:, 0]): the
// fix takes the same entry of the sequence dim (h[0]).
// An index that takes one entry of one dim and leaves the others whole (h[:, 0]): that dim and
// the entry as written (negative from the end); nullopt for any other index.
std::optional<std::pair<int, std::int64_t>> single_position(const ArgValue& input, const IndexExpression& index, const IndexPlan& plan,
                                                             std::vector<int>* kept = nullptr) {
  if (plan.selected.size() != 1) return std::nullopt;
  for (const IndexedDim& dim : plan.dims) {
    bool whole = dim.source >= 0 && dim.step == 1 && dim.size == input.shape[static_cast<std::size_t>(dim.source)];
    if (!whole) return std::nullopt;
    if (kept != nullptr) kept->push_back(dim.source);
  }
  auto integer = std::find_if(index.items.begin(), index.items.end(), [](const IndexItem& item) { return item.kind == IndexItem::Kind::Integer; });
  return std::make_pair(plan.selected.front().first, integer->integer);
}

void check_getitem_batch_entry(CallContext& ctx, const ArgValue& input, const IndexExpression& index, const IndexPlan& plan, const std::string& text) {
  std::vector<int> kept;
  std::optional<std::pair<int, std::int64_t>> read = single_position(input, index, plan, &kept);
  if (!read) return;
  const std::int64_t entry = read->second;
  std::optional<PickedBatchEntry> picked = batch_entry_picked(ctx, input, read->first, read->second, kept);
  if (!picked) return;
  std::string fixed = "[";
  for (int d = 0; d < picked->sequence; ++d) fixed += ":, ";
  fixed += std::to_string(entry) + "]";
  std::string name = shown_name(input, "input");
  if (ctx.add_argument_fix(*picked->diagnostic,
                           fmt::format("{}{} instead of {}{}: position {} of the sequence dim {}", name, fixed, name, text, entry,
                                       dim_label(input, picked->sequence)),
                           "index", fixed)) {
    CallContext::label_last_fix(*picked->diagnostic, FixSemantics::Consistent, "one position of each sequence");
  }
  if (picked->head != nullptr) offer_every_entry_to_head(ctx, *picked->diagnostic, input, *picked->head);
}

// A tensor named for the walk dim_maker makes: the output `name` of `producer` (a declared
// tensor when null), of rank `rank`.
ArgValue walked_tensor(const std::string& name, const CallDecl* producer, int rank) {
  ArgValue value;
  value.identity = (producer == nullptr ? "tensor:" : "output:") + name;
  value.producer = producer;
  value.shape.resize(static_cast<std::size_t>(rank));
  return value;
}

// The cat that joined dim `dim` of `input`, followed up through the calls dim_maker follows and
// through Transformer encoder and decoder layers and stacks (their output has their src's or
// tgt's layout, every position where it was); null when another call made the dim.
struct JoinedDim {
  const CallDecl* cat = nullptr;
  int dim = 0;  // the dim there, non-negative
};
std::optional<JoinedDim> joining_cat(const Spec& spec, const ArgValue& input, int dim) {
  ArgValue walked = input;
  for (int layers = 0; layers < 32; ++layers) {
    std::optional<DimMaker> maker = dim_maker(spec, walked, dim);
    if (!maker || maker->call == nullptr) return std::nullopt;
    const CallDecl& call = *maker->call;
    if (call.op == "cat" || call.op == "concat" || call.op == "concatenate") {
      const nlohmann::json& written = call.arguments.value("dim", nlohmann::json(0));
      if (!written.is_number_integer()) return std::nullopt;
      std::int64_t cat_dim = written.get<std::int64_t>();
      if (cat_dim < 0) cat_dim += input.rank();
      if (cat_dim != maker->dim) return std::nullopt;
      return JoinedDim{&call, maker->dim};
    }
    const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
    if (module == nullptr || call.outputs.empty() || call.outputs[0] != maker->output) return std::nullopt;
    const bool encoder = module->type == "TransformerEncoderLayer" || module->type == "TransformerEncoder";
    const bool decoder = module->type == "TransformerDecoderLayer" || module->type == "TransformerDecoder";
    const std::string source = input_name(call, encoder ? "src" : "tgt");
    if ((!encoder && !decoder) || source.empty()) return std::nullopt;
    walked = walked_tensor(source, producer_of(spec, source, &call), input.rank());
    dim = maker->dim;
  }
  return std::nullopt;
}

// A learned token (a class token, one position expanded over the batch) is read where the cat
// put it: h[:, 0] when prepended (ViT, BERT), h[:, -1] when appended (rtdl's FT-Transformer
// CLSToken). An integer index at one end of the sequence dim a cat joined, where the piece at
// that end holds several positions and a single-position piece sits at the other end
// (cat([x, cls], dim=1) read as h[:, 0]), reads the first (or last) data token: the head
// classifies one feature's vector, and PyTorch raises nothing. The fix reads the other end.
// Only the reading at 0 of an appended token is reported: a prepended prefix token with the last
// position read is how a causal model pools (the last token has seen every other). A piece made
// by a cat of its own is not judged (cat([cat([cls, x]), reg]) keeps the class token at 0), nor a
// tensor without a features dim after the sequence (token ids).
// (Borrows MHA289 until the lead assigns MHA438.)
void check_token_readout(CallContext& ctx, const ArgValue& input, int selected, std::int64_t entry, const std::string& fixed_text,
                         const std::string& argument, const nlohmann::json& fixed_value) {
  if (entry != 0 || selected >= input.rank() - 1 || selected == 0 || role_of_dim(input.dim_names, selected) == DimRole::Batch) return;
  std::optional<JoinedDim> joined = joining_cat(ctx.spec, input, selected);
  if (!joined) return;
  const CallDecl& cat = *joined->cat;
  const std::size_t pieces = cat.list_size("tensors");
  if (pieces < 2) return;
  auto length = [&](std::size_t i) -> std::optional<DimExpr> {
    std::optional<ResolvedArgument> piece = checked_argument(ctx, cat, list_element("tensors", i));
    if (!piece || piece->shape.size() != static_cast<std::size_t>(input.rank())) return std::nullopt;
    return ctx.symbols.resolve(piece->shape[static_cast<std::size_t>(joined->dim)]);
  };
  std::optional<DimExpr> first = length(0), last = length(pieces - 1);
  const DimExpr one = DimExpr::constant(1);
  if (!first || !last || *first == one || *last != one) return;
  const std::string first_name = input_name(cat, list_element("tensors", 0));
  if (first_name.empty()) return;
  std::optional<DimMaker> inner = dim_maker(ctx.spec, walked_tensor(first_name, producer_of(ctx.spec, first_name, &cat), input.rank()), joined->dim);
  if (inner && inner->call != nullptr && (inner->call->op == "cat" || inner->call->op == "concat" || inner->call->op == "concatenate")) return;
  const std::string token = input_name(cat, list_element("tensors", pieces - 1));
  const std::string name = shown_name(input, "input");
  Diagnostic& diagnostic = ctx.report(
      DiagId::AppendedTokenReadAtStart,
      fmt::format("{} reads position 0 of dim {}, which call \"{}\" joined with {} (one position) appended last: position 0 is the first of "
                  "{}'s {} positions, not the appended token",
                  name, dim_label(input, selected), cat.id, token.empty() ? "its last piece" : token, first_name, first->str()),
      &input, selected);
  diagnostic.notes.push_back("a token appended with cat([x, token]) sits at the last position: read it there (-1), or prepend it with cat([token, x])");
  diagnostic.notes.push_back("PyTorch raises nothing: every position has the same size");
  if (ctx.add_argument_fix(diagnostic, fmt::format("{}{}: the appended token, at the last position of dim {}", name, fixed_text, selected), argument,
                           fixed_value)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the learned token's position");
  }
}

// nn.MultiheadAttention's weights are averaged over the heads unless average_attn_weights=False:
// (N, L, S), the queries before the keys. An integer index on that query dim, the keys kept
// (w[:, 3]), is the per-head habit of (N, H, L, S): it reads query 3's row of the mean of the
// heads, not head 3 (MHA291). The fix asks the call for the per-head weights.
void check_averaged_weights_index(CallContext& ctx, const ArgValue& input, const IndexPlan& plan, const std::string& text) {
  const CallDecl* producer = input.producer;
  if (producer == nullptr || producer->op != "MultiheadAttention" || producer->outputs.size() < 2 || producer->outputs[1] != tensor_name(input) ||
      !producer->arguments.contains("average_attn_weights") || !producer->flag("average_attn_weights") || input.rank() < 2) {
    return;
  }
  const int query = input.rank() - 2;
  auto picked = std::find_if(plan.selected.begin(), plan.selected.end(), [&](const auto& selected) { return selected.first == query; });
  if (picked == plan.selected.end() || plan.selected.size() != 1) return;
  // A query row is a reading of its own: the class token's row (w[:, 0], attention rollout), the
  // last token's (w[:, -1]). Only an index that names a head other than the first, as written
  // (0 < i < num_heads), reads like the per-head habit.
  const ModuleDecl* module = ctx.spec.find_module(producer->module);
  const DimExpr& index = picked->second;
  if (module == nullptr || !index.is_constant() || index.offset <= 0 || index.offset >= module->mha.num_heads) return;
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::IndexAveragedWeights,
      fmt::format("{}{} takes entry {} of dim {} of the weights {} of call \"{}\", averaged over the heads (average_attn_weights=True): a "
                  "query's row over the keys, not a head",
                  tensor_name(input), text, picked->second.str(), query, tuple_str(input.shape), producer->id),
      "index");
  diagnostic.notes.push_back("nn.MultiheadAttention returns per-head weights (N, H, L, S) only with average_attn_weights=False; "
                             "PyTorch raises nothing");
  if (!CallContext::index_in_calls(*producer)) return;
  ctx.add_patch_fix(diagnostic, fmt::format("call \"{}\" with average_attn_weights=False: per-head weights (N, H, L, S)", producer->id),
                    nlohmann::json::array({{{"op", "add"}, {"path", child_pointer(producer->pointer, "average_attn_weights")}, {"value", false}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the index reads one head's weights");
}

// An integer option of a module, written as one number or a list of one.
std::optional<std::int64_t> single_size(const ModuleDecl& module, const std::string& option) {
  if (!module.options.contains(option)) return std::nullopt;
  const nlohmann::json& value = module.options.at(option);
  if (value.is_array() && value.size() == 1) return value[0].is_number_integer() ? std::optional(value[0].get<std::int64_t>()) : std::nullopt;
  return value.is_number_integer() ? std::optional(value.get<std::int64_t>()) : std::nullopt;
}

// A Conv1d padded for causality (padding = (kernel_size - 1) * dilation, stride 1) pads both
// ends: of its T + padding output frames the first T are causal, output t reading frames
// t - padding to t. The output cut at its start, [..., padding:], keeps the last T instead:
// output t then reads frames t to t + padding, the future (MHA334). The fix keeps the first T.
void check_causal_conv_cut(CallContext& ctx, const ArgValue& input, const IndexExpression& index, const std::string& text) {
  const CallDecl* producer = input.producer;
  const ModuleDecl* module = producer && !producer->module.empty() ? ctx.spec.find_module(producer->module) : nullptr;
  if (module == nullptr || module->type != "Conv1d" || index.items.empty() || input.rank() < 2) return;
  std::optional<std::int64_t> kernel = single_size(*module, "kernel_size"), padding = single_size(*module, "padding");
  std::optional<std::int64_t> dilation = single_size(*module, "dilation"), stride = single_size(*module, "stride");
  if (!kernel || !padding || !dilation || !stride || *stride != 1 || *kernel < 2 || *padding != (*kernel - 1) * *dilation) return;
  const IndexItem& last = index.items.back();
  const bool reaches_last_dim = std::any_of(index.items.begin(), index.items.end(), [](const IndexItem& item) { return item.kind == IndexItem::Kind::Ellipsis; }) ||
                                std::count_if(index.items.begin(), index.items.end(), [](const IndexItem& item) { return item.kind != IndexItem::Kind::None; }) == input.rank();
  if (!reaches_last_dim || last.kind != IndexItem::Kind::Slice || last.stop || (last.step && *last.step != 1) || !last.start ||
      !last.start->is_constant() || last.start->constant != *padding) {
    return;
  }
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::CausalConvCutStart,
      fmt::format("{}{} cuts the first {} frames of call \"{}\"'s causally padded Conv1d (kernel_size={}, padding={}): each kept frame "
                  "reads {} frames ahead of its position",
                  tensor_name(input), text, *padding, producer->id, *kernel, *padding, *padding),
      "index");
  diagnostic.notes.push_back("padding pads both ends: the first T output frames are the causal ones; PyTorch raises nothing");
  std::vector<std::string> items;
  for (std::size_t i = 0; i + 1 < index.items.size(); ++i) items.push_back(item_text(index.items[i]));
  items.push_back(fmt::format(":-{}", *padding));
  const std::string kept = fmt::format("[{}]", fmt::join(items, ", "));
  if (!ctx.add_argument_fix(diagnostic, fmt::format("keep the first T frames, the causal ones: {}{}", tensor_name(input), kept), "index", kept)) return;
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "output t then reads frames t - padding to t");
}

// Attention weights, a softmax over the keys (dim -1), indexed with an integer on the keys and a
// slice of the queries that leaves that position out (DINO's class-token map written
// attentions[0, :, 1:, 0]): a column, how much each other token attends to token i, where the
// pattern reads token i's row, its distribution over the others ([0, :, 0, 1:]). Both have the
// same size on a square map, so nothing fails. The fix exchanges the two entries.
void check_key_column_read(CallContext& ctx, const ArgValue& input, const IndexExpression& index, const IndexPlan& plan,
                           const std::string& text) {
  const CallDecl* softmax = values_maker(ctx, input);
  const int rank = input.rank();
  if (softmax == nullptr || softmax->op != "softmax" || rank < 2 || plan.selected.empty()) return;
  const nlohmann::json& dim = softmax->arguments.value("dim", nlohmann::json());
  if (!dim.is_number_integer() || (dim.get<std::int64_t>() != -1 && dim.get<std::int64_t>() != rank - 1)) return;
  // The entries that index the queries and the keys, past any Ellipsis and None ([..., 1:, 0],
  // [0, :, None, 1:, 0]): each input dim is indexed by one entry, or left whole.
  const int keys = rank - 1, queries = rank - 2;
  const auto ranked = static_cast<std::size_t>(rank);
  const std::optional<std::size_t> key_at = index_entry_of(index, ranked, static_cast<std::size_t>(keys));
  const std::optional<std::size_t> query_at = index_entry_of(index, ranked, static_cast<std::size_t>(queries));
  if (!key_at || !query_at) return;
  const IndexItem &key_item = index.items[*key_at], &query_item = index.items[*query_at];
  if (key_item.kind != IndexItem::Kind::Integer || query_item.kind != IndexItem::Kind::Slice || key_item.integer < 0 ||
      ctx.symbols.compare(input.shape[static_cast<std::size_t>(keys)], input.shape[static_cast<std::size_t>(queries)]) != Symbols::Verdict::Equal) {
    return;
  }
  // The slice leaves token i out: it starts after it ([1:] against 0) or stops at it.
  const bool after = query_item.start && query_item.start->is_constant() && query_item.start->constant > key_item.integer;
  const bool before = query_item.stop && query_item.stop->is_constant() && query_item.stop->constant >= 0 && query_item.stop->constant <= key_item.integer;
  if (!after && !before) return;
  // The row: the integer on the queries and the slice on the keys. Entries written between the
  // two (None, an Ellipsis of no dims) follow the slice, so that the result keeps its shape: the
  // kept positions' dim stays before the dims None inserted ([:, 1:, None, 0] -> [:, 0, 1:, None]).
  std::vector<std::string> items;
  for (const IndexItem& item : index.items) items.push_back(item_text(item));
  std::rotate(items.begin() + static_cast<std::ptrdiff_t>(*query_at) + 1, items.begin() + static_cast<std::ptrdiff_t>(*key_at),
              items.begin() + static_cast<std::ptrdiff_t>(*key_at) + 1);
  std::swap(items[*query_at], items[*query_at + 1]);
  const std::string swapped = fmt::format("[{}]", fmt::join(items, ", "));
  const std::string name = shown_name(input, "input");
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::AttentionColumnRead,
      fmt::format("{}{} reads column {} of the attention weights of softmax call \"{}\" (the keys, dim {}): how much each other token "
                  "attends to token {}, not token {}'s weights over the others, which are a row (the queries, dim {})",
                  name, text, key_item.integer, softmax->id, keys, key_item.integer, key_item.integer, queries),
      "index");
  diagnostic.notes.push_back("softmax normalises each query's row over the keys: a column is no distribution; on a square map both "
                             "readings have one size, so PyTorch raises nothing");
  if (ctx.add_argument_fix(diagnostic, fmt::format("{}{} instead of {}{}: query {}'s row over the other tokens", name, swapped, name, text,
                                                   key_item.integer),
                           "index", swapped)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "a row of the weights, normalised over the keys");
  }
}

// A slice whose length depends on a symbol's value (x[:99] of a (B, 197, E) x keeps 99 batch
// entries only if B >= 99) was most likely meant for a dim it fits whatever the symbols are: the
// same slice moved there (x[:, :99], EViT keeping tokens along dim 1). The index must be that
// one slice after full slices (":"); the candidates are the other dims of a fixed size the slice
// fits, a dim named as a sequence first, then the unnamed ones with the features (the last dim)
// after them; a dim named as a batch or as heads is not where tokens are kept.
// With `strictly_longer` (a stop past the end of the dim it cuts), only dims after the cut and
// before the features that are longer than the stop (a dim of exactly that size would be kept
// whole again; the features are never the positions a crop keeps). The fixes go to
// `diagnostic`, the one the caller reported.
void offer_slice_on_fitting_dims(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input, const IndexExpression& index, std::size_t at,
                                 bool strictly_longer = false) {
  if (at >= index.items.size() || static_cast<int>(at) >= input.rank()) return;
  const IndexItem& slice = index.items[at];
  auto full = [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice && !item.start && !item.stop && !item.step; };
  if (slice.kind != IndexItem::Kind::Slice || !slice.stop || !slice.stop->is_constant() || slice.stop->constant <= 0) return;
  if (slice.start && (!slice.start->is_constant() || slice.start->constant < 0)) return;
  for (std::size_t i = 0; i < index.items.size(); ++i) {
    if (i != at && !full(index.items[i])) return;
  }
  std::vector<std::pair<int, int>> candidates;  // (rank by role, dim)
  for (int d = 0; d < input.rank(); ++d) {
    const DimExpr& size = input.shape[static_cast<std::size_t>(d)];
    if (d == static_cast<int>(at) || !size.is_constant() || size.offset < slice.stop->constant + (strictly_longer ? 1 : 0)) continue;
    if (strictly_longer && (d < static_cast<int>(at) || d + 1 == input.rank())) continue;
    DimRole role = role_of_dim(input.dim_names, d);
    if (role == DimRole::Batch || role == DimRole::Heads) continue;
    candidates.emplace_back(role == DimRole::Sequence ? 0 : d + 1 == input.rank() ? 2 : 1, d);
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::string name = shown_name(input, "input");
  for (const auto& candidate : candidates) {
    const int dim = candidate.second;
    std::vector<std::string> items(static_cast<std::size_t>(dim), ":");
    items.push_back(item_text(slice));
    const std::string moved = fmt::format("[{}]", fmt::join(items, ", "));
    if (ctx.add_argument_fix(diagnostic,
                             fmt::format("slice dim {} (size {}) instead of dim {}: {}{}", dim, input.shape[static_cast<std::size_t>(dim)].str(), at,
                                         name, moved),
                             "index", moved) &&
        candidate.first == 0) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the slice keeps positions of the sequence");
    }
  }
}

// Whether dim `cut` of `input` is evidently heads, not positions a crop could mean: named as
// heads, or dim 1 of a 4-D (B, H, S, D) layout whose last dim is a head size. Head sizes stay at
// or below 256 (Gemma's 256 is the widest in common use); a wider last dim is features or time
// (a (B, 2, 80, 1000) spectrogram's frames), and then dim 1 is channels, which a cap like
// spec[:, :4] keeps whole on purpose. An unnamed dim of a 3-D tensor is as likely the tokens a
// truncation to a maximum length is meant for (emb[:, :512] of (1024, 300, 768)).
bool cuts_heads(const ArgValue& input, int cut) {
  constexpr std::int64_t kWidestHeadSize = 256;
  const DimRole role = role_of_dim(input.dim_names, cut);
  if (role == DimRole::Heads) return true;
  if (role != DimRole::Unknown || input.rank() != 4 || cut != 1) return false;
  const DimExpr& head_size = input.shape[3];
  return head_size.is_constant() && head_size.offset <= kWidestHeadSize;
}

// A slice from the start, x[:, :n], whose fixed stop n is past the end of the dim it cuts (16
// heads cut at 36) keeps that whole dim: PyTorch clamps the stop and raises nothing. When the
// cut dim is heads (cuts_heads) and a dim after it, before the features, is longer than n (40
// cached positions), the cut was meant there and a leading ":" is missing: a KV cache cropped
// to its accepted positions as cache[:, :36] keeps every position. A dim before the cut (a
// batch, traced as a number) is not what a crop of a later dim was meant for. A dim named as
// a sequence, cut to a maximum length it is already within (ids[:, :512]), is a truncation; so
// is any cut of the features (the last dim), and then no fix would be offered.
void check_slice_past_dim(CallContext& ctx, const ArgValue& input, const IndexExpression& index, const std::string& text) {
  auto full = [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice && !item.start && !item.stop && !item.step; };
  std::optional<std::size_t> at;
  for (std::size_t i = 0; i < index.items.size(); ++i) {
    if (full(index.items[i])) continue;
    if (at) return;
    at = i;
  }
  if (!at || static_cast<int>(*at) >= input.rank() - 1) return;
  const IndexItem& slice = index.items[*at];
  if (slice.kind != IndexItem::Kind::Slice || !slice.stop || !slice.stop->is_constant() || (slice.step && *slice.step != 1) ||
      (slice.start && !(slice.start->is_constant() && slice.start->constant == 0))) {
    return;
  }
  const std::int64_t stop = slice.stop->constant;
  const DimExpr& cut = input.shape[*at];
  if (!cut.is_constant() || cut.offset >= stop || !cuts_heads(input, static_cast<int>(*at))) return;
  std::optional<int> longer;
  for (int d = static_cast<int>(*at) + 1; d + 1 < input.rank() && !longer; ++d) {
    const DimExpr& size = input.shape[static_cast<std::size_t>(d)];
    const DimRole role = role_of_dim(input.dim_names, d);
    if (size.is_constant() && size.offset > stop && role != DimRole::Batch && role != DimRole::Heads) longer = d;
  }
  if (!longer) return;
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::SlicePastDim,
      fmt::format("{}{} cuts dim {} (size {}) at {}, past its end, so it keeps the whole dim; dim {} (size {}) is longer than {}", shown_name(input, "input"),
                  text, *at, cut.str(), stop, *longer, input.shape[static_cast<std::size_t>(*longer)].str(), stop),
      "index");
  diagnostic.notes.push_back("PyTorch clamps a slice's stop to the dim's size and raises nothing");
  offer_slice_on_fitting_dims(ctx, diagnostic, input, index, *at, true);
}

}  // namespace

void infer_getitem(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::string error;
  const std::string& text = ctx.call.arguments.at("index").get_ref<const std::string&>();
  std::optional<IndexExpression> index = parse_index(text, error);
  if (!index) throw std::logic_error("getitem: the spec reader let an unreadable index through: " + error);
  resolve_symbols(*index, ctx.symbols);
  IndexPlan plan = plan_index(*index, input.shape);
  if (plan.failure && plan.failure->type.empty()) {
    Diagnostic& diagnostic = symbol_dependent(ctx, "index", plan.failure->message);
    offer_slice_on_fitting_dims(ctx, diagnostic, input, *index, plan.failure->item);
    return;
  }
  if (plan.failure) {
    Diagnostic& diagnostic = report_argument(ctx, index_diagnostic(plan.failure->message),
                                             fmt::format("{}{} of a {} tensor fails at entry {} of the index", shown_name(input, "input"),
                                                         text, tuple_str(input.shape), plan.failure->item),
                                             "index");
    ctx.pytorch_raises(diagnostic, plan.failure->type, plan.failure->message);
    return;
  }
  check_getitem_batch_entry(ctx, input, *index, plan, text);
  if (std::optional<std::pair<int, std::int64_t>> read = single_position(input, *index, plan)) {
    std::string fixed = "[";
    for (int d = 0; d < read->first; ++d) fixed += ":, ";
    fixed += "-1]";
    check_token_readout(ctx, input, read->first, read->second, fixed, "index", fixed);
  }
  check_averaged_weights_index(ctx, input, plan, text);
  check_causal_conv_cut(ctx, input, *index, text);
  check_key_column_read(ctx, input, *index, plan, text);
  check_slice_past_dim(ctx, input, *index, text);
  std::vector<std::string> names;
  for (const IndexedDim& dim : plan.dims) {
    bool whole = dim.source >= 0 && dim.step == 1 && dim.size == input.shape[static_cast<std::size_t>(dim.source)];
    bool prefix = dim.source >= 0 && dim.step == 1 && dim.start == IndexBound{};
    names.push_back(whole           ? input.dim_name(dim.source)
                    : !prefix       ? ""
                    : dim.stop_symbol.empty() ? slice_length_name(ctx.spec, input, dim.source, dim.size)
                                              : dim.stop_symbol);
  }
  ctx.outputs.push_back({"output", plan.shape(), input.dtype, names});
}

void infer_select(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (zero_dim(ctx, input, "IndexError", "select() cannot be applied to a 0-dim tensor.")) return;
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  std::int64_t index = int_argument(ctx, "index");
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  // PyTorch: size <= -1 - index || size <= index is out of range.
  std::optional<bool> outside = index >= 0 ? dim_less(size, DimExpr::constant(index + 1)) : dim_less(size, DimExpr::constant(-index));
  if (!outside) {
    symbol_dependent(ctx, "index", fmt::format("whether index {} is inside dim {} of size {} depends on {}'s value", index, *dim, size.str(), size.symbol));
    return;
  }
  if (*outside) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::TensorIndexOutOfRange,
        fmt::format("index {} is outside dim {} of {} (size {}; valid: {} to {})", index, *dim, tensor_name(input), size.str(),
                    size.is_constant() ? -size.offset : 0, size.is_constant() ? size.offset - 1 : 0),
        "index");
    ctx.pytorch_raises(diagnostic, "IndexError",
                       fmt::format("select(): index {} out of range for tensor of size {} at dimension {}", index, sizes_text(input.shape), *dim));
    return;
  }
  std::vector<int> kept;
  for (int d = 0; d < input.rank(); ++d) {
    if (d != *dim) kept.push_back(d);
  }
  if (std::optional<PickedBatchEntry> picked = batch_entry_picked(ctx, input, *dim, index, kept)) {
    if (ctx.add_argument_fix(*picked->diagnostic,
                             fmt::format("select(dim={}, index={}): the sequence dim {}", picked->sequence, index, dim_label(input, picked->sequence)),
                             "dim", picked->sequence)) {
      CallContext::label_last_fix(*picked->diagnostic, FixSemantics::Consistent, "one position of each sequence");
    }
    if (picked->head != nullptr) offer_every_entry_to_head(ctx, *picked->diagnostic, input, *picked->head);
  }
  check_token_readout(ctx, input, *dim, index, fmt::format(".select({}, -1)", *dim), "index", -1);
  Shape shape = input.shape;
  std::vector<std::string> names = input.dim_names;
  names.resize(shape.size());
  shape.erase(shape.begin() + *dim);
  names.erase(names.begin() + *dim);
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = without_dims(input.layout, {*dim});
}

void infer_narrow(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (zero_dim(ctx, input, "RuntimeError", "narrow() cannot be applied to a 0-dim tensor.")) return;
  std::int64_t start = int_argument(ctx, "start"), length = int_argument(ctx, "length");
  if (length < 0) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::NarrowRange, fmt::format("length={} is negative", length), "length");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "narrow(): length must be non-negative.");
    return;
  }
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  if (!size.is_constant()) {
    // Symbols are at least 1: only a range that fits any size is certain.
    std::optional<bool> fits = start >= 0 ? dim_less(DimExpr::constant(start + length - 1), size) : std::nullopt;
    if (!fits.value_or(false)) {
      symbol_dependent(ctx, "start", fmt::format("whether narrow({}, {}, {}) fits a dim of size {} depends on {}'s value", *dim, start, length,
                                                 size.str(), size.symbol));
      return;
    }
  } else {
    std::int64_t n = size.offset;
    if (start < -n || start > n) {
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::NarrowRange, fmt::format("start={} is outside dim {} of {} (size {}; valid: {} to {})", start, *dim, tensor_name(input), n, -n, n),
          "start");
      ctx.pytorch_raises(diagnostic, "IndexError", fmt::format("start out of range (expected to be in range of [{}, {}], but got {})", -n, n, start));
      return;
    }
    std::int64_t from = start < 0 ? start + n : start;
    if (from > n - length) {
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::NarrowRange,
          fmt::format("narrow({}, {}, {}) runs past the end of dim {} of {} (size {})", *dim, start, length, *dim, tensor_name(input), n), "length");
      ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("start ({}) + length ({}) exceeds dimension size ({}).", from, length, n));
      return;
    }
  }
  Shape shape = input.shape;
  std::vector<std::string> names = input.dim_names;
  names.resize(shape.size());
  shape[static_cast<std::size_t>(*dim)] = DimExpr::constant(length);
  names[static_cast<std::size_t>(*dim)] = start == 0 ? slice_length_name(ctx.spec, input, *dim, shape[static_cast<std::size_t>(*dim)]) : "";
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = resized_layout(input.layout, shape);  // the same strides, from an offset
}

}  // namespace mhacheck
