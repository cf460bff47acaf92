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
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "check/dim_origin.hpp"
#include "check/mask_origin.hpp"
#include "check/roles.hpp"
#include "ops/contraction.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/einsum_equation.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// Pooling reduces a sequence over its positions. A reduced dim named as a batch, in a tensor that
// keeps a dim named as a sequence, averages (or sums) batch entries instead (MHA288): mean(dim=1)
// of a seq-first (T, B, E) encoder output. The fix reduces over the first sequence dim the call
// keeps instead. Reducing the batch together with every sequence dim (a statistic over all
// tokens) keeps no sequence dim and is left alone, as is a tensor without one.
// The heads dim of per-head attention weights or scores the call keeps: a dim named as heads, or
// the unnamed dim between the batch (dim 0) and two sequence dims of a 4-D (B, H, L, S) tensor,
// the layout nn.MultiheadAttention's average_attn_weights=False and SDPA's scores have. Averaging
// those over the heads is what average_attn_weights=True does; -1 when there is none.
int kept_heads_dim(const ArgValue& input, const std::set<int>& reduced) {
  for (int d = 0; d < input.rank(); ++d) {
    if (reduced.count(d) == 0 && role_of_dim(input.dim_names, d) == DimRole::Heads) return d;
  }
  if (input.rank() == 4 && reduced.count(1) == 0 && role_of_dim(input.dim_names, 0) == DimRole::Batch &&
      role_of_dim(input.dim_names, 1) == DimRole::Unknown && role_of_dim(input.dim_names, 2) == DimRole::Sequence &&
      role_of_dim(input.dim_names, 3) == DimRole::Sequence) {
    return 1;
  }
  return -1;
}

// The call's dim argument with the batch dim replaced by `instead` (an entry of a list replaced,
// the others kept).
nlohmann::json dims_with_batch_replaced(const CallContext& ctx, const ArgValue& input, int batch, int instead) {
  const nlohmann::json& written = ctx.call.arguments.at("dim");
  if (!written.is_array()) return instead;
  nlohmann::json fixed = written;
  for (auto& dim : fixed) {
    std::int64_t value = dim.get<std::int64_t>();
    if ((value < 0 ? value + input.rank() : value) == batch) dim = instead;
  }
  return fixed;
}

void check_reduced_batch(CallContext& ctx, const ArgValue& input, const std::set<int>& reduced) {
  int batch = -1, sequence = -1;
  for (int d = 0; d < input.rank(); ++d) {
    DimRole role = role_of_dim(input.dim_names, d);
    if (role == DimRole::Batch && reduced.count(d) != 0 && batch < 0) batch = d;
    if (role == DimRole::Sequence && reduced.count(d) == 0 && sequence < 0) sequence = d;
  }
  if (batch < 0 || sequence < 0) return;
  // Per-head weights (B, H, L, S) reduced over the batch: the heads are what one averages them
  // over (a per-example map), the batch and heads slots confused; pooling a query or key dim of
  // weights is no map at all.
  const int heads = batch == 0 ? kept_heads_dim(input, reduced) : -1;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ReduceBatchRole,
      heads >= 0 ? fmt::format("{} over dim {} (\"{}\", a {}) combines batch entries, not the heads (dim {}) of the (B, H, L, S) weights",
                               ctx.call.op, batch, input.dim_name(batch), role_name(DimRole::Batch), heads)
                 : fmt::format("{} over dim {} (\"{}\", a {}) combines batch entries, not the positions of the sequence dim {} (\"{}\")",
                               ctx.call.op, batch, input.dim_name(batch), role_name(DimRole::Batch), sequence, input.dim_name(sequence)),
      &input, batch);
  if (heads >= 0) {
    nlohmann::json fixed = dims_with_batch_replaced(ctx, input, batch, heads);
    if (ctx.add_argument_fix(diagnostic, fmt::format("{} over dim={} (the heads of the (B, H, L, S) weights)", ctx.call.op, fixed.dump()), "dim", fixed)) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each example's map averages its own heads, as average_attn_weights=True does");
    }
  }
  nlohmann::json fixed = dims_with_batch_replaced(ctx, input, batch, sequence);
  if (ctx.add_argument_fix(diagnostic, fmt::format("{} over dim={} (\"{}\", the sequence)", ctx.call.op, fixed.dump(), input.dim_name(sequence)), "dim",
                           fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each sequence is pooled over its own positions");
  }
}

// A max, min, argmax or argmin picks, for each kept position, the entry where the values peak.
// Over the batch of per-entry values (per_entry_batch_dim: classifier logits (B, classes)) it
// picks a batch entry per class: torch.max(logits, 0) for predictions gives (classes,) indices
// into the batch. Each entry's own prediction is a selection over its last dim.
// Tensors with a sequence dim are check_reduced_batch's.
void check_selected_batch(CallContext& ctx, const ArgValue& input, int dim) {
  if (!per_entry_batch_dim(ctx, input, dim)) return;
  const int last = input.rank() - 1;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SelectBatchRole,
      fmt::format("{} over dim {} (\"{}\", a {}) picks a batch entry for each of the {} values of dim {}, not each entry's own {}", ctx.call.op,
                  dim, input.dim_name(dim), role_name(DimRole::Batch), dim_text(input, last), last, ctx.call.op),
      &input, dim);
  diagnostic.notes.push_back("every result then depends on the other batch entries; PyTorch raises nothing");
  const int fixed = input.rank() == 2 ? 1 : -1;
  if (ctx.add_argument_fix(diagnostic, fmt::format("{} over dim={} ({}, each entry's values): torch.{}({}, {})", ctx.call.op, fixed, dim_text(input, last),
                                                   ctx.call.op, tensor_name(input), fixed),
                           "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry gets its own result");
  }
}

// A statistic over the batch alone, kept (keepdim=True) and then subtracted from or dividing the
// tensor it was taken of: x - x.mean(dim=0, keepdim=True) of (B, L, C) series normalises each
// entry by the batch's mean (RevIN and instance normalisation take it over each entry's positions),
// so every entry's values depend on the others'. Only a tensor of 3 or more dims whose dim 0 is
// named as a batch and the statistic reduced over dim 0 alone: a (B, C) feature batch normalised
// over dim 0 is batch normalisation, meant. The fix reduces over the positions between the
// batch and the last (feature) dim. Tensors with a sequence-named dim are check_reduced_batch's.
void check_batch_statistic(CallContext& ctx, const ArgValue& input, const std::set<int>& reduced) {
  if (!ctx.call.flag("keepdim") || input.rank() < 3 || reduced != std::set<int>{0} || role_of_dim(input.dim_names, 0) != DimRole::Batch) return;
  for (int d = 1; d < input.rank(); ++d) {
    if (role_of_dim(input.dim_names, d) == DimRole::Sequence) return;
  }
  const ArgRef& source = ctx.call.tensor("input");  // present: the reduction read it
  if (source.kind != ArgRef::Kind::Named || ctx.call.outputs.empty()) return;
  const std::string& statistic = ctx.call.outputs.front();
  const CallDecl* normaliser = nullptr;
  for (const CallDecl& later : ctx.spec.calls) {
    if (later.op != "sub" && later.op != "div") continue;
    auto left = later.tensors.find("input"), right = later.tensors.find("other");
    if (left == later.tensors.end() || right == later.tensors.end()) continue;
    if (left->second.kind == ArgRef::Kind::Named && right->second.kind == ArgRef::Kind::Named && left->second.name == source.name &&
        right->second.name == statistic) {
      normaliser = &later;
      break;
    }
  }
  if (normaliser == nullptr) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ReduceBatchRole,
      fmt::format("{} over dim 0 (\"{}\", a {}) with keepdim=True, then {} {} (call \"{}\"): each entry is normalised by a statistic of the "
                  "whole batch",
                  ctx.call.op, input.dim_name(0), role_name(DimRole::Batch), normaliser->op == "sub" ? "subtracted from" : "dividing",
                  source.name, normaliser->id),
      &input, 0);
  diagnostic.notes.push_back("every entry's normalised values then depend on the other entries; PyTorch raises nothing");
  nlohmann::json positions = nlohmann::json::array();
  for (int d = 1; d + 1 < input.rank(); ++d) positions.push_back(d);
  nlohmann::json fixed = positions.size() == 1 ? positions.front() : positions;
  if (ctx.add_argument_fix(diagnostic, fmt::format("{} over dim={} (each entry's positions)", ctx.call.op, fixed.dump()), "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each entry is normalised by its own statistic");
  }
}

// The role of dim `dim` of `input`: its name's, else the letter an einsum's explicit output
// writes for it ('bhnde': b a batch, h the heads), when an einsum made the values.
DimRole role_in_graph(const CallContext& ctx, const ArgValue& input, int dim) {
  DimRole role = role_of_dim(input.dim_names, dim);
  if (role != DimRole::Unknown) return role;
  const CallDecl* maker = values_maker(ctx, input);
  if (maker == nullptr || maker->op != "einsum") return role;
  const std::string equation = maker->arguments.at("equation").get<std::string>();
  EinsumEquation read;
  if (read_einsum_terms(equation, maker->list_size("operands"), read) || read_einsum_output(equation, read) || !read.explicit_output ||
      static_cast<int>(read.output.size()) != input.rank() ||
      std::find(read.output.begin(), read.output.end(), kEinsumEllipsis) != read.output.end()) {
    return role;
  }
  return role_of_subscript(einsum_letter(read.output[static_cast<std::size_t>(dim)]));
}

// MHA331: a running count or a causal prefix runs along the positions (OPT's positions
// cumsum(attention_mask, dim=1), causal linear attention's context.cumsum(dim=-3)). A cumsum over
// a dim whose role is the batch or the heads, in a tensor with a sequence dim, accumulates across
// batch entries or heads; the fix runs over the sequence dim (the last one, the positions of a
// causal prefix). Nothing without a sequence dim: a (B,) running total means what it says.
void check_cumsum_role(CallContext& ctx, const ArgValue& input, int dim) {
  const DimRole role = role_in_graph(ctx, input, dim);
  if (role != DimRole::Batch && role != DimRole::Heads) return;
  int sequence = input.rank() - 1;
  while (sequence >= 0 && (sequence == dim || role_in_graph(ctx, input, sequence) != DimRole::Sequence)) --sequence;
  if (sequence < 0) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ScanDimRole,
      fmt::format("cumsum over dim {} ({}, a {}) accumulates across {}, not along the positions of the sequence dim {} ({})", dim, dim_text(input, dim),
                  role_name(role), role == DimRole::Batch ? "batch entries" : "heads", sequence, dim_text(input, sequence)),
      &input, dim);
  diagnostic.notes.push_back("each entry's running sum then depends on the other entries; PyTorch raises nothing");
  if (ctx.add_argument_fix(diagnostic, fmt::format("cumsum over dim={} ({}, the sequence)", sequence, dim_text(input, sequence)), "dim", sequence)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each position's sum runs over its own sequence's earlier positions");
  }
}

// Whether every tensor that call `stack` joins is an attention output: a product (matmul, bmm)
// of weights a softmax made (through the calls that keep its values' places: dropout, masking)
// with one values tensor shared by all. Such tensors are the heads of one attention
// (interpretable multi-head attention shares its values across the heads, stacks the heads'
// outputs and averages them), which nothing pools over their positions one head at a time.
// Separate attentions, each with its own values, are branches: pooling each over its positions
// is a readout.
bool stacks_attention_outputs(const Spec& spec, const CallDecl& stack) {
  const std::size_t count = stack.list_size("tensors");
  if (count < 2) return false;
  std::string shared_values;
  for (std::size_t i = 0; i < count; ++i) {
    const ArgRef& ref = stack.tensor(list_element("tensors", i));
    if (ref.kind != ArgRef::Kind::Named) return false;
    const CallDecl* product = producer_of(spec, ref.name, &stack);
    if (product == nullptr || (product->op != "matmul" && product->op != "bmm")) return false;
    const std::string weights = input_name(*product, "input");
    const CallDecl* made = weights.empty() ? nullptr : values_maker(spec, producer_of(spec, weights, product));
    if (made == nullptr || (made->op != "softmax" && made->op != "F.softmax")) return false;
    const std::string values = input_name(*product, product->op == "bmm" ? "mat2" : "other");
    if (values.empty() || (i > 0 && values != shared_values)) return false;
    shared_values = values;
  }
  return true;
}

// MHA331: tensors stacked on a new dim (one embedding per codebook, stack(dim=1) of (B, T, E)
// into (B, K, T, E)) are combined over that dim. A sum or mean of the stack that keeps the new dim
// and reduces a sequence dim instead pools each stacked tensor over its positions, and the
// stacked dim then sits where the positions were. The fix reduces over the stacked dim. A mean
// only of stacked attention outputs (stacks_attention_outputs): the heads averaged.
void check_reduced_stack(CallContext& ctx, const ArgValue& input, const std::set<int>& reduced) {
  const CallDecl* stack = input.producer;
  // A sum, or a mean of the heads of one attention: a mean over the positions of stacked layers,
  // views or attention branches is per-layer pooling, a common and correct readout.
  if (stack == nullptr || stack->op != "stack") return;
  if (ctx.call.op != "sum" && !(ctx.call.op == "mean" && stacks_attention_outputs(ctx.spec, *stack))) return;
  const nlohmann::json& written = stack->arguments.value("dim", nlohmann::json(0));
  if (!written.is_number_integer()) return;
  const int stacked = static_cast<int>(written.get<std::int64_t>() < 0 ? written.get<std::int64_t>() + input.rank() : written.get<std::int64_t>());
  if (stacked < 0 || stacked >= input.rank() || reduced.count(stacked) != 0 || reduced.size() != 1) return;
  const int pooled = *reduced.begin();
  if (role_of_dim(input.dim_names, pooled) != DimRole::Sequence) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ScanDimRole,
      fmt::format("{} over dim {} (\"{}\", a {}) of the tensors torch.stack joined on dim {} (call \"{}\"): each stacked tensor is pooled over "
                  "its positions, and the stacked dim is kept where the positions were",
                  ctx.call.op, pooled, input.dim_name(pooled), role_name(DimRole::Sequence), stacked, stack->id),
      &input, pooled);
  diagnostic.notes.push_back(fmt::format("combining the {} stacked tensors position by position is a {} over dim {}; PyTorch raises nothing",
                                         stack->list_size("tensors"), ctx.call.op, stacked));
  if (ctx.add_argument_fix(diagnostic, fmt::format("{} over dim={} (the dim torch.stack added in call \"{}\")", ctx.call.op, stacked, stack->id), "dim",
                           stacked)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the stacked tensors are combined at each position, which keeps the sequence");
  }
}

// Whether a reduction's result `name` is named for fusing heads, by its `_`-separated words (a raw
// substring would take lookahead_score or head_input): "heads" anywhere (avg_heads), "head" then a
// reduction (head_mean, head_max_fused), or the name ending in what it is, "fused", "fusion" or
// "rollout" (attn_fused, head_fusion), not fused_key_importance, an importance.
bool named_for_head_fusion(const std::string& name) {
  std::vector<std::string> words(1);
  for (char c : name) {
    if (c == '_') words.emplace_back();
    else words.back().push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  static const std::set<std::string> reductions = {"mean", "avg", "average", "max", "min", "sum", "fused", "fusion"};
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == "heads" || (words[i] == "head" && i + 1 < words.size() && reductions.count(words[i + 1]) != 0)) return true;
  }
  return words.back() == "fused" || words.back() == "fusion" || words.back() == "rollout";
}

// nn.MultiheadAttention's weights are averaged over the heads unless average_attn_weights=False:
// (N, L, S), the queries where the per-head weights (N, H, L, S) have their heads. A reduction of
// the averaged weights over that dim alone (w.mean(dim=1)) is the per-head habit of fusing the
// heads (attention rollout's head fusion, a mean or max over dim 1), and averages over the
// queries instead: (N, S), one score per key (MHA423). A mean over the queries is also a reading
// of its own (how much each key is attended to), so only a result named for the heads or their
// fusion (head_mean, avg_heads, fused) says the heads were meant. The fix asks the call for the
// per-head weights, on which the same reduction fuses the heads.
void check_averaged_weights_reduced(CallContext& ctx, const ArgValue& input, const std::set<int>& reduced) {
  const CallDecl* producer = input.producer;
  if (producer == nullptr || producer->op != "MultiheadAttention" || producer->outputs.size() < 2 || producer->outputs[1] != tensor_name(input) ||
      !producer->arguments.contains("average_attn_weights") || !producer->flag("average_attn_weights") || input.rank() < 2 ||
      reduced != std::set<int>{input.rank() - 2} || ctx.call.outputs.empty()) {
    return;
  }
  if (!named_for_head_fusion(ctx.call.outputs.front())) return;
  const int queries = input.rank() - 2;
  Diagnostic& diagnostic = ctx.report(
      DiagId::ReduceAveragedWeights,
      fmt::format("{} over dim {} of the weights {} of call \"{}\", already averaged over the heads (average_attn_weights=True): dim {} holds the "
                  "queries, so {} combines the queries' rows, not the heads",
                  ctx.call.op, queries, tuple_str(input.shape), producer->id, queries, ctx.call.outputs.front()),
      &input, queries);
  diagnostic.notes.push_back("nn.MultiheadAttention returns per-head weights (N, H, L, S) only with average_attn_weights=False; "
                             "PyTorch raises nothing");
  if (!CallContext::index_in_calls(*producer)) return;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("call \"{}\" with average_attn_weights=False: per-head weights (N, H, L, S), whose dim {} the {} then fuses",
                                producer->id, queries, ctx.call.op),
                    nlohmann::json::array({{{"op", "add"}, {"path", child_pointer(producer->pointer, "average_attn_weights")}, {"value", false}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the reduction combines the heads, each query's row kept");
}

// The F.normalize call that made the product's other side, read.partner (cosine attention normalises
// q and k alike), when it normalises over another dim than the last, the one the product contracts
// there too: the same slip on both sides, which one fix repairs in both calls. Null otherwise.
const CallDecl* partner_normalized_off(const CallContext& ctx, const Contraction& read) {
  const CallDecl* made = read.partner.empty() ? nullptr : producer_of(ctx.spec, read.partner, read.product);
  if (made == nullptr || made->op != "normalize" || made == &ctx.call || made->pointer.empty() || made->pointer == ctx.call.pointer) return nullptr;
  const std::optional<Shape> shape = checked_tensor_shape(ctx, input_name(*made, "input"), made);
  const nlohmann::json dim = made->arguments.value("dim", nlohmann::json(1));
  if (!shape || shape->size() < 2 || !dim.is_number_integer()) return nullptr;
  const auto rank = static_cast<std::int64_t>(shape->size());
  const std::int64_t wrapped = dim.get<std::int64_t>() < 0 ? dim.get<std::int64_t>() + rank : dim.get<std::int64_t>();
  return wrapped == rank - 1 ? nullptr : made;
}

// MHA332: F.normalize makes unit vectors whose dot products are cosines (cosine attention,
// F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)). Normalised over another dim
// than the one the next product contracts (the default dim=1 of (B, H, N, D), across the heads),
// the products are no longer cosines. The fix normalises over the contracted dim; when the other
// side of the product was normalised over a wrong dim as well (Swin-V2's q and k both with
// dim=-2), in both calls at once: one repaired alone still gives no cosines.
void check_normalize_contracted(CallContext& ctx, const ArgValue& input, int dim) {
  if (ctx.call.outputs.empty() || input.rank() < 2) return;
  // Cosines are dot products of feature vectors: the product contracts the tensor's last dim (the
  // transposed one's, in x @ y^T); what a product aggregates (a plain second operand: values
  // weighted by attention, node features by an adjacency) is normalised for its own reasons.
  std::optional<Contraction> contraction = contraction_of(ctx.spec, ctx.call, ctx.call.outputs.front(), input.rank());
  const int features = input.rank() - 1;
  if (!contraction || contraction->aggregated || contraction->dim != features || dim == features) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::NormalizeDimRole,
      fmt::format("F.normalize over dim {} ({}), but the matrix product that reads the result contracts dim {} ({}): its products are not cosines",
                  dim, dim_text(input, dim), features, dim_text(input, features)),
      &input, dim);
  diagnostic.notes.push_back("F.normalize's default dim=1 is made for (N, C) features; PyTorch raises nothing");
  const std::string description = "F.normalize over dim=-1 (the dim the product contracts)";
  const CallDecl* partner = partner_normalized_off(ctx, *contraction);
  std::optional<std::string> own = ctx.argument_pointer("dim");
  if (partner != nullptr && own && ctx.index_in_calls()) {
    ctx.add_patch_fix(diagnostic, fmt::format("{} in both normalize calls \"{}\" and \"{}\"", description, ctx.call.id, partner->id),
                      nlohmann::json::array({{{"op", "add"}, {"path", *own}, {"value", -1}},
                                             {{"op", "add"}, {"path", child_pointer(partner->pointer, "dim")}, {"value", -1}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "both sides of the product are unit vectors along the dim it contracts: cosines");
    return;
  }
  if (ctx.add_argument_fix(diagnostic, description, "dim", -1)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each vector the product reads has unit length");
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

// max or amax over values masked_fill'ed first (max pooling of padded tokens): the fill stands in
// for the masked positions, so it must be the identity of max, -inf (or a large negative number),
// which no real value loses to. A fill of 0 beats every negative feature: a padded sentence's
// pooled feature is at least 0 (MHA422, MHA268's kind: the fill is the wrong value for what reads it; 0
// is right before sum or mean). Inputs known to be non-negative (relu, softmax) lose nothing.
void check_fill_before_max(CallContext& ctx, const ArgValue& input) {
  const CallDecl* fill = input.producer;
  if (fill == nullptr || fill->op != "masked_fill" || !fill->arguments.contains("value") || !CallContext::index_in_calls(*fill)) return;
  const nlohmann::json& value = fill->arguments.at("value");
  if (!value.is_number() || value.is_boolean() || value.get<double>() <= -1e4 || !is_floating(input.dtype)) return;
  const std::string filled = input_name(*fill, "input");
  const CallDecl* made = filled.empty() ? nullptr : producer_of(ctx.spec, filled, fill);
  static const std::set<std::string> non_negative{"relu", "softmax", "sigmoid", "abs", "exp", "square"};
  if (made != nullptr && non_negative.count(made->op) != 0) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskedFillBeforeMax,
      fmt::format("{} was filled with {} where the mask is True (call \"{}\"), then reduced by {}: the fill competes with the real values, "
                  "so every feature of a padded row is at least {}",
                  tensor_name(input), value.dump(), fill->id, ctx.call.op, value.dump()),
      &input);
  diagnostic.notes.push_back("the fill before max must be its identity, float('-inf') (or a large negative number such as -1e9); 0 is "
                             "the fill before sum or mean");
  ctx.add_patch_fix(diagnostic, fmt::format("masked_fill(mask, float('-inf')) in call \"{}\" (value=float('-inf'), not {}), the identity of max",
                                            fill->id, value.dump()),
                    nlohmann::json::array({{{"op", "replace"}, {"path", fill->pointer + "/value"}, {"value", "-inf"}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the masked positions never win the max");
}

// sum, mean, amax and logsumexp: pools over the listed dims (MHA288 when they pool a batch).
void reduce(CallContext& ctx, DType dtype) {
  const ArgValue& input = ctx.arg("input");
  const std::vector<std::int64_t> dims = written_dims(ctx);
  if (ctx.call.op == "amax" && empty_without_identity(ctx, input, dims)) return;
  std::optional<std::set<int>> reduced = reduced_dims(ctx, input, dims);
  if (!reduced) return;
  if (!reduced->empty()) check_reduced_batch(ctx, input, *reduced);
  if (!reduced->empty()) check_batch_statistic(ctx, input, *reduced);
  if (!reduced->empty()) check_reduced_stack(ctx, input, *reduced);
  if (!reduced->empty()) check_averaged_weights_reduced(ctx, input, *reduced);
  if (ctx.call.op == "amax") check_fill_before_max(ctx, input);
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
  if (input.rank() > 0) check_selected_batch(ctx, input, *wrapped);
  if (ctx.call.op == "max") check_fill_before_max(ctx, input);
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
  check_selected_batch(ctx, input, *wrapped);
  ctx.outputs.push_back(reduced_output(ctx, input, reduced, "output", DType::Int64));
}

// torch.cumsum(input, dim): the shape kept; bool and integers accumulate in int64.
void infer_cumsum(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  check_cumsum_role(ctx, input, *dim);
  ctx.outputs.push_back({"output", input.shape, is_floating(input.dtype) ? input.dtype : DType::Int64, input.dim_names});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);
}

// F.normalize(input, p=2.0, dim=1, eps=1e-12): input / norm(input, p, dim, keepdim=True): a
// floating input (vector_norm's check) and dim wrapped; the shape and dtype kept.
void infer_normalize(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (!norm_input_floating(ctx, input)) return;
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  check_normalize_contracted(ctx, input, *dim);
  ctx.outputs.push_back({"output", input.shape, input.dtype, input.dim_names});
  ctx.output_layouts["output"] = Layout::contiguous(input.shape);
}

}  // namespace mhacheck
