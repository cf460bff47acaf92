// torch.softmax(input, dim): the shape is kept; the CPU kernels take floating types only (2.x
// includes float16 and bfloat16). The kernel named in the error depends on the dim.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "check/dim_origin.hpp"
#include "check/fix_search.hpp"
#include "check/mask_origin.hpp"
#include "check/roles.hpp"
#include "ops/contraction.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/einsum_equation.hpp"
#include "ops/mask_meaning.hpp"
#include "ops/registry.hpp"
#include "ops/softmax_weights.hpp"

namespace mhacheck {
namespace {

// Whether a dim's name is a batch merged with other dims ("B*T" from view(-1, E) of (B, T, E),
// "bsz*num_heads"): each of its entries belongs to one batch entry, as in a plain batch dim.
bool merges_batch(const std::string& name) {
  std::vector<std::string> factors = name_factors(name);
  return factors.size() > 1 &&
         std::any_of(factors.begin(), factors.end(), [](const std::string& factor) { return role_of_name(factor) == DimRole::Batch; });
}

// MHA265 for a softmax over a merged batch dim (a MoE router's (B*T, experts) logits softmaxed
// over dim 0): each weight then depends on every batch entry's scores. Reported when another dim
// holds no batch entries, which the fix normalises over (the last such dim); a (B*T, B*T)
// similarity matrix has none.
void check_softmax_over_merged_batch(CallContext& ctx, const ArgValue& input, int dim) {
  int other = input.rank() - 1;
  while (other >= 0 && (other == dim || merges_batch(input.dim_name(other)) || role_of_dim(input.dim_names, other) == DimRole::Batch)) --other;
  if (other < 0) return;
  const std::string other_text = dim_text(input, other);
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxDimRole,
      fmt::format("softmax over dim {} (\"{}\", the batch merged with other dims) normalises across batch entries, not over dim {} ({})",
                  dim, input.dim_name(dim), other, other_text),
      &input, dim);
  diagnostic.notes.push_back("each entry's weights then depend on the other batch entries' scores; PyTorch raises nothing");
  const int fixed = other == input.rank() - 1 ? -1 : other;
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={} ({})", fixed, other_text), "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each entry's weights sum to 1 within its own batch entry");
  }
}

// A softmax over the batch of per-entry values (per_entry_batch_dim: classifier logits (B,
// classes) softmaxed with dim=0) makes each class's probabilities over the batch entries; each
// entry's distribution is over its last dim.
void check_softmax_over_batch(CallContext& ctx, const ArgValue& input, int dim) {
  if (!per_entry_batch_dim(ctx, input, dim)) return;
  const int last = input.rank() - 1;
  const std::string last_text = dim_text(input, last);
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxDimRole,
      fmt::format("softmax over dim {} (\"{}\", a {}) normalises each of the {} values of dim {} across batch entries, not each entry's own values",
                  dim, input.dim_name(dim), role_name(DimRole::Batch), last_text, last),
      &input, dim);
  diagnostic.notes.push_back("each entry's probabilities then depend on the other batch entries; PyTorch raises nothing");
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim=-1 ({}, each entry's values)", last_text), "dim", -1)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each entry's probabilities sum to 1 over its own values");
  }
}

// Attention normalises over the keys. A softmax dim named as a batch or a head count, in a tensor
// that also has a dim named as a sequence, normalises across batch entries or heads (MHA265); the
// fix normalises over the last sequence dim. Without a sequence dim there is nothing to say (a
// (B, B) similarity matrix is softmaxed over a batch dim on purpose).
void check_softmax_dim_role(CallContext& ctx, const ArgValue& input, int dim) {
  DimRole role = role_of_dim(input.dim_names, dim);
  if (merges_batch(input.dim_name(dim))) {
    check_softmax_over_merged_batch(ctx, input, dim);
    return;
  }
  if (role != DimRole::Batch && role != DimRole::Heads) return;
  int sequence = input.rank() - 1;
  while (sequence >= 0 && role_of_dim(input.dim_names, sequence) != DimRole::Sequence) --sequence;
  if (sequence < 0 && role == DimRole::Batch) check_softmax_over_batch(ctx, input, dim);
  if (sequence < 0) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxDimRole,
      fmt::format("softmax over dim {} (\"{}\", a {}) normalises across {}, not over the sequence dim {} (\"{}\")", dim,
                  input.dim_name(dim), role_name(role), role == DimRole::Batch ? "batch entries" : "heads", sequence,
                  input.dim_name(sequence)),
      &input, dim);
  int fixed = sequence == input.rank() - 1 ? -1 : sequence;
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={} (\"{}\")", fixed, input.dim_name(sequence)), "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each query's weights sum to 1 over the sequence");
  }
}

// Whether a tensor's name says it is the queries ("q", "query", "q_h") or the keys ("k", "key").
bool named_like(const std::string& written, char letter, const char* word) {
  std::string name = lowered(written);
  return name == std::string(1, letter) || name.rfind(word, 0) == 0 || name.rfind(std::string(1, letter) + "_", 0) == 0;
}

// Whether `call`'s argument `argument` is one of the tensors `names` (by name, not inline).
bool reads_one_of(const CallDecl& call, const std::string& argument, const std::vector<std::string>& names) {
  auto ref = call.tensors.find(argument);
  return ref != call.tensors.end() && ref->second.kind == ArgRef::Kind::Named &&
         std::find(names.begin(), names.end(), ref->second.name) != names.end();
}

// The positions in operand `i`'s term (its dims, when the term has no "...") of the letters a
// two-operand einsum contracts with the other operand: both terms hold them and the output leaves
// them out ('bhij,bhjd->bhid': j, at 3 in the first).
std::vector<int> contracted_with_other(const EinsumEquation& read, std::size_t i) {
  const std::vector<int>& term = read.terms[i];
  const std::vector<int>& other = read.terms[1 - i];
  std::vector<int> dims;
  for (std::size_t d = 0; d < term.size(); ++d) {
    if (term[d] != kEinsumEllipsis && std::find(read.output.begin(), read.output.end(), term[d]) == read.output.end() &&
        std::find(other.begin(), other.end(), term[d]) != other.end()) {
      dims.push_back(static_cast<int>(d));
    }
  }
  return dims;
}

// Whether a later call reads the softmax output `weights` (of `rank` dims) as (..., queries, keys):
// it contracts their last dim, as weights @ values does ('bhij,bhjd->bhid', matmul or bmm with the
// weights first), maybe after a dropout, a scale or a mask. Such a reader fixes the layout the
// weights must have, so a softmax moved off the last dim would hand it the keys' columns.
bool read_queries_then_keys(const Spec& spec, const std::string& weights, int rank) {
  static const std::array<const char*, 7> on_the_way = {"dropout", "F.dropout", "mul", "div", "masked_fill", "contiguous", "clone"};
  std::vector<std::string> names = {weights};
  for (const CallDecl& call : spec.calls) {
    if (!call.outputs.empty() && reads_one_of(call, "input", names) &&
        std::any_of(on_the_way.begin(), on_the_way.end(), [&](const char* op) { return call.op == op; })) {
      names.push_back(call.outputs.front());
    }
    if ((call.op == "matmul" || call.op == "bmm") && reads_one_of(call, "input", names)) return true;
    if (call.op != "einsum" || call.list_size("operands") != 2) continue;
    EinsumEquation read;
    const std::string equation = call.arguments.at("equation").get<std::string>();
    if (read_einsum_terms(equation, 2, read) || read_einsum_output(equation, read) || !read.explicit_output) continue;
    for (std::size_t i = 0; i < 2; ++i) {
      if (!reads_one_of(call, list_element("operands", i), names) || read.terms[i].size() != static_cast<std::size_t>(rank)) continue;
      const std::vector<int> contracted = contracted_with_other(read, i);
      if (std::find(contracted.begin(), contracted.end(), rank - 1) != contracted.end()) return true;
    }
  }
  return false;
}

// The scores an einsum of two operands makes, q and k each with one letter of its own that the
// output keeps (their positions) and a letter they share and contract (the features): the query
// letter is q when the free letters are q and k, else the first operand's (or the one a tensor
// named as the queries holds, when the letters say nothing). Positions are the output's dims,
// "..." covering what the letters leave of the scores' rank.
struct EinsumScores {
  std::string equation;
  char query_letter = 0, key_letter = 0;
  int query_dim = -1, key_dim = -1;
};

std::optional<EinsumScores> einsum_scores(const CallDecl& maker, int rank) {
  if (maker.op != "einsum" || maker.list_size("operands") != 2) return std::nullopt;
  EinsumScores scores;
  scores.equation = maker.arguments.at("equation").get<std::string>();
  EinsumEquation read;
  if (read_einsum_terms(scores.equation, 2, read) || read_einsum_output(scores.equation, read) || !read.explicit_output) return std::nullopt;
  auto has = [](const std::vector<int>& labels, int label) { return std::find(labels.begin(), labels.end(), label) != labels.end(); };
  std::vector<int> free[2];
  bool contracts = false;
  for (std::size_t i = 0; i < 2; ++i) {
    for (int label : read.terms[i]) {
      if (label == kEinsumEllipsis) continue;
      bool shared = has(read.terms[1 - i], label), kept = has(read.output, label);
      if (shared && !kept) contracts = true;
      if (!shared && kept && !has(free[i], label)) free[i].push_back(label);
    }
  }
  if (!contracts || free[0].size() != 1 || free[1].size() != 1) return std::nullopt;
  std::size_t query = 0;
  char letters[2] = {einsum_letter(free[0][0]), einsum_letter(free[1][0])};
  auto operand_name = [&](std::size_t i) {
    const ArgRef& ref = maker.tensor(list_element("operands", i));
    return ref.kind == ArgRef::Kind::Named ? ref.name : std::string();
  };
  if (letters[0] == 'k' && letters[1] == 'q') {
    query = 1;
  } else if (!(letters[0] == 'q' && letters[1] == 'k') && named_like(operand_name(0), 'k', "key") && named_like(operand_name(1), 'q', "quer")) {
    query = 1;  // einsum('bid,bjd->bij', k, q): the letters say nothing, the names do
  }
  const int labels = static_cast<int>(std::count_if(read.output.begin(), read.output.end(), [](int label) { return label != kEinsumEllipsis; }));
  auto position = [&](int wanted) {
    int at = 0;
    for (int label : read.output) {
      if (label == wanted) return at;
      at += label == kEinsumEllipsis ? rank - labels : 1;
    }
    return -1;
  };
  scores.query_letter = letters[query];
  scores.key_letter = letters[1 - query];
  scores.query_dim = position(free[query][0]);
  scores.key_dim = position(free[1 - query][0]);
  return scores;
}

// MHA286: scores an einsum lays out (..., keys, queries) ('bhqd,bhkd->bhkq'), softmaxed over the
// queries. The scores are the einsum's output, maybe scaled, biased or masked on the way. Not
// reported: scores laid out (..., queries, keys) and softmaxed over the queries, and weights
// normalised again over the keys after the softmax (slot attention's competition between slots).
void check_softmax_over_queries(CallContext& ctx, const ArgValue& input, int dim) {
  const CallDecl* maker = values_maker(ctx, input);
  if (maker == nullptr || !CallContext::index_in_calls(*maker)) return;
  const std::optional<EinsumScores> scores = einsum_scores(*maker, input.rank());
  if (!scores) return;
  const std::string& equation = scores->equation;
  const int query_dim = scores->query_dim, key_dim = scores->key_dim;
  if (query_dim != dim || key_dim < 0 || key_dim > query_dim) return;
  if (!ctx.call.outputs.empty() && renormalised_over(ctx.spec, ctx.call.outputs.front(), key_dim, input.rank())) return;
  const char query_letter = scores->query_letter, key_letter = scores->key_letter;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxOverQueries,
      fmt::format("softmax over dim {} normalises over the queries: einsum \"{}\" (call \"{}\") puts the key letter {} (dim {}) before the "
                  "query letter {} (dim {}), so its scores are (..., keys, queries)",
                  dim, equation, maker->id, key_letter, key_dim, query_letter, query_dim),
      &input, dim);
  diagnostic.notes.push_back("each query's weights must sum to 1 over the keys; PyTorch raises nothing");
  // The weights' reader contracts their last dim (weights @ values): the einsum's layout is the
  // slip, and a softmax over the keys' dim would leave the reader summing each key's column.
  const bool layout_read = !ctx.call.outputs.empty() && read_queries_then_keys(ctx.spec, ctx.call.outputs.front(), input.rank());
  const int fixed = key_dim - input.rank();
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={} (the keys, letter {} of call \"{}\")", fixed, key_letter, maker->id), "dim", fixed)) {
    if (layout_read) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Suspect,
                                  "a later call contracts the weights' last dim, the queries after this change: it reads the weights transposed");
    } else {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each query's weights sum to 1 over the keys");
    }
  }
  std::string swapped = equation;
  std::size_t arrow = swapped.find("->");
  for (std::size_t i = arrow + 2; arrow != std::string::npos && i < swapped.size(); ++i) {
    if (swapped[i] == query_letter) swapped[i] = key_letter;
    else if (swapped[i] == key_letter) swapped[i] = query_letter;
  }
  ctx.add_patch_fix(diagnostic, fmt::format("lay the scores out (..., queries, keys): einsum '{}' in call \"{}\"", swapped, maker->id),
                    nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(maker->pointer, "equation")}, {"value", swapped}}}));
  if (layout_read) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the softmax and the weights' reader then both see (..., queries, keys)");
  }
}

// Whether `call` makes keys^T: transpose(-2, -1) (also written (-1, -2), and .mT, which the
// tracer writes so) or transpose(r-2, r-1) counted from the front of the rank-`rank` scores; or
// a permute that moves the keys' last dim (their features) to dim -2, from where the product
// contracts it: permute(0, 1, 3, 2) of (B, H, S, D), permute(0, 2, 3, 1) of (B, S, H, D).
bool transposes_keys(const CallDecl& call, int rank) {
  auto wrap = [](const nlohmann::json& value, int dims) {
    if (!value.is_number_integer()) return -1;
    const auto at = value.get<std::int64_t>();
    return static_cast<int>(at < 0 ? at + dims : at);
  };
  if (call.op == "transpose") {
    const int dim0 = wrap(call.arguments.at("dim0"), rank), dim1 = wrap(call.arguments.at("dim1"), rank);
    return std::min(dim0, dim1) == rank - 2 && std::max(dim0, dim1) == rank - 1;
  }
  if (call.op != "permute") return false;
  const nlohmann::json& dims = call.arguments.at("dims");
  const int permuted = static_cast<int>(dims.size());
  return permuted >= 2 && wrap(dims[static_cast<std::size_t>(permuted - 2)], permuted) == permuted - 1;
}

// MHA286 for scores a matrix product makes: x @ y.transpose(-2, -1) (matmul or bmm, the second
// operand made keys^T by the call that made it: transpose, .mT or permute) is (..., queries,
// keys), and
// softmax over dim -2 normalises each key's column over the queries. Not reported: a product of
// tensors named key then query (k @ q^T, laid out (..., keys, queries) on purpose), and weights
// normalised again over the keys afterwards (slot attention).
void check_softmax_over_product_queries(CallContext& ctx, const ArgValue& input, int dim) {
  const CallDecl* maker = values_maker(ctx, input);
  const int rank = input.rank();
  if (maker == nullptr || (maker->op != "matmul" && maker->op != "bmm") || rank < 2 || dim != rank - 2) return;
  const std::string second_argument = maker->op == "bmm" ? "mat2" : "other";
  auto operand_name = [&](const std::string& argument) {
    auto ref = maker->tensors.find(argument);
    return ref != maker->tensors.end() && ref->second.kind == ArgRef::Kind::Named ? ref->second.name : std::string();
  };
  const std::string first = operand_name("input"), second = operand_name(second_argument);
  const CallDecl* transposed = second.empty() ? nullptr : producer_of(ctx.spec, second, maker);
  if (transposed == nullptr || !transposes_keys(*transposed, rank)) return;
  if (keys_before_queries(ctx.spec, *maker, rank)) return;
  if (!ctx.call.outputs.empty() && renormalised_over(ctx.spec, ctx.call.outputs.front(), rank - 1, rank)) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxOverQueries,
      fmt::format("softmax over dim {} normalises over the queries: the scores {} @ {} (call \"{}\", \"{}\" {} by call \"{}\") are "
                  "(..., queries, keys), the queries in dim {} and the keys in dim {}",
                  dim, first.empty() ? "input" : first, second, maker->id, second, transposed->op == "permute" ? "permuted" : "transposed", transposed->id,
                  rank - 2, rank - 1),
      &input, dim);
  diagnostic.notes.push_back("each query's weights must sum to 1 over the keys; PyTorch raises nothing");
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim=-1 (the keys of call \"{}\")", maker->id), "dim", -1)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each query's weights sum to 1 over the keys");
  }
}

// The softmax output `weights` (of `rank` dims) and what a renormalisation over dim `key_dim` reads
// of it: `shifted` holds the weights and the weights plus an eps, `sums` their sums over that dim
// and views of those (attn.sum(dim=1)[..., None]), the denominators a div may divide by.
struct Renormalisation {
  std::vector<std::string> shifted, sums;
};

Renormalisation renormalisation_of(const Spec& spec, const std::string& weights, int key_dim, int rank) {
  Renormalisation found{{weights}, {}};
  for (const CallDecl& call : spec.calls) {
    if (call.op == "add" && !call.outputs.empty() && reads_one_of(call, "input", {weights}) && call.arguments.contains("other") &&
        call.arguments.at("other").is_number()) {
      found.shifted.push_back(call.outputs.front());
    }
  }
  for (const CallDecl& call : spec.calls) {
    if (call.outputs.empty()) continue;
    if ((call.op == "unsqueeze" || call.op == "getitem" || call.op == "view" || call.op == "reshape") && reads_one_of(call, "input", found.sums)) {
      found.sums.push_back(call.outputs.front());
    }
    if (call.op != "sum" || !reads_one_of(call, "input", found.shifted)) continue;
    const nlohmann::json& dims = call.arguments.at("dim");
    std::vector<std::int64_t> summed;
    if (dims.is_number_integer()) summed.push_back(dims.get<std::int64_t>());
    else if (dims.is_array() && dims.size() == 1 && dims[0].is_number_integer()) summed.push_back(dims[0].get<std::int64_t>());
    if (summed.size() == 1 && (summed[0] == key_dim || summed[0] + rank == key_dim)) found.sums.push_back(call.outputs.front());
  }
  return found;
}

// MHA424's renormalisation: a div of the weights (or the weights plus an eps) themselves by their
// sum over dim `key_dim`; null when none. A sum that divides another tensor renormalises nothing.
const CallDecl* renormalising_division(const Spec& spec, const std::string& weights, int key_dim, int rank) {
  const Renormalisation found = renormalisation_of(spec, weights, key_dim, rank);
  for (const CallDecl& call : spec.calls) {
    if (call.op == "div" && reads_one_of(call, "input", found.shifted) && reads_one_of(call, "other", found.sums)) return &call;
  }
  return nullptr;
}

// A softmax whose weights are normalised again over the same dim (attn = attn + eps; attn / attn.sum(
// dim, keepdim=True)): softmax's weights already sum to 1 there, so the division changes nothing
// (with an eps, next to nothing), and nobody writes a second normalisation to undo none. It is
// the normalisation of another scheme, whose softmax runs over the other of the two last dims:
// slot attention softmaxes (B, slots, N) over the slots, so that they compete for each input, and
// then takes each slot's weighted mean over the inputs. A softmax over the inputs there (dim=-1, as
// ordinary attention has it) leaves the slots not competing (MHA424). The fix softmaxes over the
// other dim; not reported for a dim of a batch's role, a dim of size 1 or a tensor under 3 dims, nor
// when the sum divides another tensor than the weights.
void check_softmax_renormalised_alike(CallContext& ctx, const ArgValue& input, int dim) {
  const int rank = input.rank();
  if (rank < 3 || dim < rank - 2 || ctx.call.outputs.empty()) return;
  const int other = dim == rank - 1 ? rank - 2 : rank - 1;
  const DimExpr& size = input.shape[static_cast<std::size_t>(other)];
  if ((size.is_constant() && size.offset == 1) || role_of_dim(input.dim_names, other) == DimRole::Batch) return;
  const CallDecl* division = renormalising_division(ctx.spec, ctx.call.outputs.front(), dim, rank);
  if (division == nullptr) return;
  // Self-attention renormalised again for safety (attn + eps, then / attn.sum(-1)): square
  // (T, T) weights over the keys, that weights @ values then contracts. Slot attention maps its
  // slots onto inputs of another count; a square product cannot tell the two apart, so it is trusted.
  if (dim == rank - 1 && input.shape[static_cast<std::size_t>(dim)] == size && !division->outputs.empty() &&
      read_queries_then_keys(ctx.spec, division->outputs.front(), rank)) {
    return;
  }
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxRenormalisedAlike,
      fmt::format("softmax over dim {} ({}) is normalised again over the same dim afterwards (a sum over dim {} divides {}), which changes "
                  "nothing: that second normalisation belongs to weights softmaxed over dim {} ({}), the entries meant to compete",
                  dim, dim_text(input, dim), dim, ctx.call.outputs.front(), other, dim_text(input, other)),
      &input, dim);
  diagnostic.notes.push_back("slot attention softmaxes over the slots, then takes each slot's weighted mean over the inputs; PyTorch raises nothing");
  const int fixed = other - rank;
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={} ({}), the sum over dim {} then making each weighted mean", fixed,
                                                   dim_text(input, other), dim - rank),
                           "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the entries of the other dim compete, and the second normalisation does its work");
  }
}

// MHA265 for a softmax over a dim of size 1 (a Linear's out_features of 1, or that dim
// transposed to the front): every weight is exp(x) / exp(x) = 1, whatever the scores. A size 1 that "dims"
// gave a named symbol is the user's general size bound for this check, and not reported. The fix
// normalises over the last dim whose size is not a literal 1.
void check_softmax_size_one(CallContext& ctx, const ArgValue& input, int dim) {
  auto literal_one = [&](int d) {
    const DimExpr& size = input.shape[static_cast<std::size_t>(d)];
    return size.is_constant() && size.offset == 1 && input.dim_name(d).empty();
  };
  if (input.rank() == 0 || !literal_one(dim)) return;
  // Over the last dim, a size 1 is attention over a single key (a pooled memory token), which
  // means what it says; it is a bug there when a Linear(..., 1) made it: pooling scores softmaxed
  // over their one feature instead of over the positions.
  if (dim == input.rank() - 1 && (input.producer == nullptr || input.producer->op != "Linear")) return;
  int other = input.rank() - 1;
  while (other >= 0 && (other == dim || literal_one(other))) --other;
  if (other < 0) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxDimRole,
      fmt::format("softmax over dim {}, of size 1: every weight is 1, whatever the scores; dim {} ({}) holds the entries to normalise over",
                  dim, other, input.dim_name(other).empty() ? input.shape[static_cast<std::size_t>(other)].str() : "\"" + input.dim_name(other) + "\""),
      &input, dim);
  diagnostic.notes.push_back("PyTorch raises nothing: softmax over one entry is exp(x) / exp(x)");
  const int fixed = other == input.rank() - 1 ? -1 : other;
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={}", fixed), "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the weights sum to 1 over the entries");
  }
}

// The add (or sub) of two operands that both hold one entry along `dim` (rank 2, (X, 1) each: a
// per-row score from a matmul or Linear to one output), the other's other dim of size `stretched`:
// GAT's e = Wh1 + Wh2 where the pairwise (X, 1) + (1, X) sum is meant. Reached from the filled
// scores through scaling by a number and the elementwise activations (GAT's leakyrelu).
struct PerRowSum {
  const CallDecl* call = nullptr;
  int across = 0;  // other's dim that, transposed into `dim`, gives the pairwise sum
};
bool scales_by_number(const CallDecl& call) {
  return (call.op == "mul" || call.op == "div" || call.op == "add" || call.op == "sub") && input_name(call, "other").empty();
}
// An operand of `call` that holds one value everywhere: a number, or a constructor's output
// (ones_like, full), scaled by numbers.
bool is_constant_fill(const Spec& spec, const CallDecl& call, const std::string& argument) {
  static const std::set<std::string> constructors{"ones_like", "zeros_like", "full_like", "ones", "zeros", "full", "new_ones", "new_zeros", "new_full"};
  std::string name = input_name(call, argument);
  if (name.empty()) return true;
  const CallDecl* made = producer_of(spec, name, &call);
  for (int step = 0; step < 4 && made != nullptr; ++step) {
    if (constructors.count(made->op) != 0) return true;
    if (!scales_by_number(*made)) return false;
    name = input_name(*made, "input");
    made = name.empty() ? nullptr : producer_of(spec, name, made);
  }
  return false;
}

std::optional<PerRowSum> per_row_sum(const CallContext& ctx, const CallDecl* call, int dim, const DimExpr& stretched) {
  const DimExpr one = DimExpr::constant(1);
  for (int step = 0; step < 8 && call != nullptr; ++step) {
    if ((call->op == "add" || call->op == "sub") && !input_name(*call, "other").empty()) {
      std::optional<ResolvedArgument> input = checked_argument(ctx, *call, "input"), other = checked_argument(ctx, *call, "other");
      if (!input || !other || input->shape.size() != 2 || other->shape.size() != 2 || dim < 0 || dim > 1) return std::nullopt;
      const int across = 1 - dim;
      const auto at = static_cast<std::size_t>(dim), far = static_cast<std::size_t>(across);
      if (!(ctx.symbols.resolve(input->shape[at]) == one) || !(ctx.symbols.resolve(other->shape[at]) == one) ||
          ctx.symbols.compare(ctx.symbols.resolve(other->shape[far]), stretched) != Symbols::Verdict::Equal) {
        return std::nullopt;
      }
      return PerRowSum{call, across};
    }
    if (!scales_by_number(*call) && !keeps_layout(ctx.spec, *call)) return std::nullopt;
    const std::string input = input_name(*call, "input");
    if (input.empty()) return std::nullopt;
    call = producer_of(ctx.spec, input, call);
  }
  return std::nullopt;
}

// MHA293 for a softmax over a dim along which the scores were all one value, masked_fill having
// stretched their size-1 dim to the mask's (a (N, 1) score column filled with an (N, N) adjacency
// mask): every unmasked entry of a row then gets the same weight, attention uniform over the
// neighbours whatever the scores. When an add of two (N, 1) per-row scores made that column
// (GAT's e = Wh1 + Wh2), the fix transposes its second operand: the pairwise (N, 1) + (1, N) sum.
void check_softmax_over_filled_broadcast(CallContext& ctx, const ArgValue& input, int dim) {
  if (dim < 0 || dim >= input.rank()) return;  // a 0-D input softmaxed over dim 0
  const DimExpr& stretched = input.shape[static_cast<std::size_t>(dim)];
  if (stretched == DimExpr::constant(1)) return;
  const std::string stretched_text = input.dim_name(dim).empty() ? stretched.str() : input.dim_name(dim);
  const CallDecl* call = input.producer;
  for (int step = 0; step < 8 && call != nullptr && call->op != "masked_fill" && call->op != "where"; ++step) {
    if (!scales_by_number(*call) && !keeps_layout(ctx.spec, *call)) return;
    const std::string before = input_name(*call, "input");
    if (before.empty()) return;
    call = producer_of(ctx.spec, before, call);
  }
  if (call == nullptr) return;
  // The operand holding the scores: masked_fill's input, or where's one operand that is not a
  // constant fill (a number, or -9e15 * ones_like(e) as pyGAT writes it). Constant scores
  // filled are uniform on purpose: zeros(N, 1).masked_fill(~adj, -inf).softmax(-1) is the mean
  // over each node's neighbours.
  std::string scores_argument = "input";
  if (call->op == "masked_fill" && is_constant_fill(ctx.spec, *call, "input")) return;
  if (call->op == "where") {
    std::vector<std::string> scored;
    for (const char* argument : {"input", "other"}) {
      if (!is_constant_fill(ctx.spec, *call, argument)) scored.push_back(argument);
    }
    if (scored.size() != 1) return;
    scores_argument = scored.front();
  } else if (call->op != "masked_fill") {
    return;
  }
  std::optional<ResolvedArgument> scores = checked_argument(ctx, *call, scores_argument);
  if (!scores) return;
  const Shape filled = ctx.symbols.resolve(scores->shape);
  const int at = dim - (input.rank() - static_cast<int>(filled.size()));
  if (at >= 0 && !(filled[static_cast<std::size_t>(at)] == DimExpr::constant(1))) return;
  const std::string scores_name = input_name(*call, scores_argument), mask_name = input_name(*call, call->op == "where" ? "condition" : "mask");
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxOverBroadcast,
      fmt::format("softmax over dim {} of {}: the scores {} {} hold one value along that dim, which {} (call \"{}\") stretches to the "
                  "mask {}'s {} entries; every unmasked entry then gets the same weight, whatever the scores (uniform attention)",
                  dim, shown_name(input), scores_name.empty() ? "input" : scores_name, tuple_str(filled), call->op, call->id,
                  mask_name.empty() ? "mask" : mask_name, stretched_text),
      &input, dim);
  diagnostic.notes.push_back(fmt::format("PyTorch raises nothing: {} broadcasts the scores to the mask's shape, copying the one value", call->op));
  if (at < 0 || scores_name.empty()) return;
  const std::optional<PerRowSum> sum = per_row_sum(ctx, producer_of(ctx.spec, scores_name, call), at, stretched);
  const std::optional<std::size_t> index = sum ? CallContext::index_in_calls(*sum->call) : std::nullopt;
  if (!index) return;
  const std::string first = input_name(*sum->call, "input"), second = input_name(*sum->call, "other");
  const std::string transposed = fresh_name(ctx.spec, second + "_t");
  const int low = std::min(at, sum->across), high = std::max(at, sum->across);
  nlohmann::json made = {{"id", transposed}, {"op", "transpose"}, {"input", second}, {"dim0", low}, {"dim1", high}, {"outputs", {transposed}}};
  nlohmann::json patch = nlohmann::json::array({{{"op", "add"}, {"path", sum->call->pointer}, {"value", std::move(made)}},
                                                {{"op", "replace"}, {"path", child_pointer(CallContext::calls_entry_pointer(*index + 1), "other")}, {"value", transposed}}});
  ctx.add_patch_fix(diagnostic,
                    fmt::format("{0} {1} {2}.transpose({3}, {4}) in call \"{5}\" (or {2}.T): the pairwise sum, one score per ({6}, {6}) pair, "
                                "not one per row",
                                first, sum->call->op == "add" ? "+" : "-", second, low, high, sum->call->id, stretched_text),
                    std::move(patch));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each entry's score depends on both its row and its column");
}

// The shape of the tensor `name` as a call after `before` reads it: checked_tensor_shape, or for
// the output of a call not checked yet that keeps its operands' shape (an elementwise op, softmax,
// log_softmax: a loss's log-probabilities made after the weights), what its operands broadcast
// to. Symbols resolved; nullopt when not known.
std::optional<Shape> read_shape(const CallContext& ctx, const std::string& name, const CallDecl* before, int depth = 0) {
  if (name.empty() || depth > 4) return std::nullopt;
  if (std::optional<Shape> shape = checked_tensor_shape(ctx, name, before)) return ctx.symbols.resolve(*shape);
  const CallDecl* made = producer_of(ctx.spec, name, before);
  if (made == nullptr) return std::nullopt;
  static const std::set<std::string> elementwise = {"add", "sub", "mul", "div"};
  if (!(keeps_layout(ctx.spec, *made) || made->op == "softmax" || made->op == "log_softmax" || elementwise.count(made->op) != 0)) return std::nullopt;
  std::optional<Shape> shape = read_shape(ctx, input_name(*made, "input"), made, depth + 1);
  if (!shape || elementwise.count(made->op) == 0 || input_name(*made, "other").empty()) return shape;
  const std::optional<Shape> other = read_shape(ctx, input_name(*made, "other"), made, depth + 1);
  if (!other) return std::nullopt;
  // Broadcast from the right: a size 1 stretches to the other's.
  Shape wide = shape->size() >= other->size() ? *shape : *other;
  const Shape& narrow = shape->size() >= other->size() ? *other : *shape;
  for (std::size_t i = 0; i < narrow.size(); ++i) {
    DimExpr& at = wide[wide.size() - narrow.size() + i];
    if (at == DimExpr::constant(1)) at = narrow[i];
  }
  return wide;
}

// A later call that sums the softmax output as the weights of the values: weights @ values (matmul
// or bmm, the weights first, contracting their last dim), an einsum contracting one letter of the
// weights with the values ('ijbn,jbnd->ibnd': j), or a sum over one dim of weights * values
// ((w * v).sum(dim=2), a loss's (p * log_q).sum(-1)); reached through dropout, copies, a mask,
// scaling by a number and unsqueeze. `dim` is the weights' dim summed over; `values_along` whether
// the values hold more than one entry along the softmax's dim (a mixing matrix of heads, or
// per-head weights (1, H, 1, 1), does not: it combines whole distributions).
struct WeightedSum {
  const CallDecl* reader = nullptr;
  int dim = 0;
  bool product = false;  // a matrix product or an einsum, whose letters say which dim is summed
  bool values_along = false;
};

std::optional<WeightedSum> weighted_sum_of(const CallContext& ctx, const std::string& weights, int rank, int softmax_dim) {
  static const std::set<std::string> on_the_way = {"dropout", "F.dropout", "masked_fill", "contiguous", "clone"};
  std::optional<std::size_t> from = call_index(ctx.spec, ctx.call.id);
  if (!from) return std::nullopt;
  // Each name that holds the weights: where each of the softmax's dims is in it, and its rank.
  struct Held {
    std::vector<int> at;
    int rank = 0;
    int original(int dim) const {
      auto found = std::find(at.begin(), at.end(), dim);
      return found == at.end() ? -1 : static_cast<int>(found - at.begin());
    }
  };
  std::map<std::string, Held> held;
  held[weights].rank = rank;
  for (int d = 0; d < rank; ++d) held[weights].at.push_back(d);
  auto holder = [&](const CallDecl& call, const std::string& argument) -> const Held* {
    const std::string name = input_name(call, argument);
    auto found = held.find(name);
    return name.empty() || found == held.end() ? nullptr : &found->second;
  };
  for (std::size_t index = *from + 1; index < ctx.spec.calls.size(); ++index) {
    const CallDecl& call = ctx.spec.calls[index];
    if (call.outputs.empty() && call.op != "matmul" && call.op != "bmm" && call.op != "einsum") continue;
    const Held* input = holder(call, "input");
    if (input != nullptr && (on_the_way.count(call.op) != 0 || scales_by_number(call))) {
      held[call.outputs.front()] = *input;
      continue;
    }
    if (input != nullptr && call.op == "unsqueeze" && call.arguments.value("dim", nlohmann::json()).is_number_integer()) {
      Held moved = *input;
      ++moved.rank;
      auto at = static_cast<int>(call.arguments.at("dim").get<std::int64_t>());
      if (at < 0) at += moved.rank;
      for (int& d : moved.at) d += d >= at ? 1 : 0;
      held[call.outputs.front()] = moved;
      continue;
    }
    if (input != nullptr && (call.op == "matmul" || call.op == "bmm")) return WeightedSum{&call, input->original(input->rank - 1), true, false};
    if (call.op == "einsum" && call.list_size("operands") == 2) {
      EinsumEquation read;
      const std::string equation = call.arguments.at("equation").get<std::string>();
      if (read_einsum_terms(equation, 2, read) || read_einsum_output(equation, read) || !read.explicit_output) continue;
      for (std::size_t i = 0; i < 2; ++i) {
        const Held* operand = holder(call, list_element("operands", i));
        const std::vector<int>& term = read.terms[i];
        if (operand == nullptr || static_cast<int>(term.size()) != operand->rank ||
            std::find(term.begin(), term.end(), kEinsumEllipsis) != term.end()) {
          continue;
        }
        const std::vector<int> contracted = contracted_with_other(read, i);
        if (contracted.size() != 1) return std::nullopt;
        const std::vector<int>& values = read.terms[1 - i];
        const int along = term[static_cast<std::size_t>(operand->at[static_cast<std::size_t>(softmax_dim)])];
        return WeightedSum{&call, operand->original(contracted.front()), true, std::find(values.begin(), values.end(), along) != values.end()};
      }
      continue;
    }
    if (call.op != "mul") continue;
    // weights * values, and the sum of the product over one dim.
    const Held* operand = input != nullptr ? input : holder(call, "other");
    const std::string values = input_name(call, input != nullptr ? "other" : "input");
    if (operand == nullptr || values.empty() || held.count(values) != 0) continue;
    const std::optional<Shape> values_shape = read_shape(ctx, values, &call);
    if (!values_shape) return std::nullopt;
    const int other = static_cast<int>(values_shape->size()), width = std::max(operand->rank, other), shift = width - operand->rank;
    for (std::size_t later = index + 1; later < ctx.spec.calls.size(); ++later) {
      const CallDecl& sum = ctx.spec.calls[later];
      if (sum.op != "sum" || input_name(sum, "input") != call.outputs.front()) continue;
      const nlohmann::json dims = sum.arguments.value("dim", nlohmann::json());
      const nlohmann::json one = dims.is_array() && dims.size() == 1 ? dims[0] : dims;
      if (!one.is_number_integer()) return std::nullopt;
      auto summed = static_cast<int>(one.get<std::int64_t>());
      if (summed < 0) summed += width;
      // The values' size along a dim of the product (1 where they broadcast).
      auto values_size = [&](int product_dim) {
        const int at = product_dim - (width - other);
        return at < 0 ? DimExpr::constant(1) : (*values_shape)[static_cast<std::size_t>(at)];
      };
      const DimExpr one_entry = DimExpr::constant(1);
      const int along = operand->at[static_cast<std::size_t>(softmax_dim)] + shift;
      if (summed < shift || summed >= width || values_size(summed) == one_entry) return std::nullopt;
      return WeightedSum{&sum, operand->original(summed - shift), false, !(values_size(along) == one_entry)};
    }
    // Not summed: the weights masked or rescaled entry by entry, each dim shifted by what the values add.
    Held shifted = *operand;
    shifted.rank = width;
    for (int& d : shifted.at) d += shift;
    held[call.outputs.front()] = shifted;
  }
  return std::nullopt;
}

// The weights' dim that holds the keys of the attention scores `input` holds: the key letter's
// dim of an einsum's scores (einsum_scores), the last dim of q @ k^T (matmul or bmm with the keys
// transposed by the call that made them); nullopt for other scores.
std::optional<int> scores_key_dim(const CallContext& ctx, const ArgValue& input) {
  const CallDecl* maker = values_maker(ctx, input);
  if (maker == nullptr) return std::nullopt;
  if (std::optional<EinsumScores> scores = einsum_scores(*maker, input.rank())) {
    return scores->key_dim < 0 ? std::nullopt : std::optional<int>(scores->key_dim);
  }
  if (maker->op != "matmul" && maker->op != "bmm") return std::nullopt;
  const std::string second = input_name(*maker, maker->op == "bmm" ? "mat2" : "other");
  const CallDecl* transposed = second.empty() ? nullptr : producer_of(ctx.spec, second, maker);
  if (transposed == nullptr || !transposes_keys(*transposed, input.rank()) || keys_before_queries(ctx.spec, *maker, input.rank())) return std::nullopt;
  return input.rank() - 1;
}

// Whether the logits `input` were made by adding to what an earlier softmax normalised (capsule
// routing by agreement: b = b + agreement, then softmax(b) over the parents again), or are one
// value everywhere (the routing's first round, zeros): weights that compete over another dim than
// the one their sum runs over, on purpose.
bool routing_logits(const CallContext& ctx, const ArgValue& input) {
  if (!input_name(ctx.call, "input").empty() && is_constant_fill(ctx.spec, ctx.call, "input")) return true;
  std::set<std::string> normalised;
  const std::size_t here = call_index(ctx.spec, ctx.call.id).value_or(0);
  for (std::size_t index = 0; index < here; ++index) {
    if (ctx.spec.calls[index].op == "softmax") normalised.insert(input_name(ctx.spec.calls[index], "input"));
  }
  const CallDecl* call = input.producer;
  for (int step = 0; step < 4 && call != nullptr; ++step) {
    if ((call->op == "add" || call->op == "sub") &&
        (normalised.count(input_name(*call, "input")) != 0 || normalised.count(input_name(*call, "other")) != 0)) {
      return true;
    }
    if (!scales_by_number(*call) && !keeps_layout(ctx.spec, *call) && call->op != "add") return false;
    call = producer_of(ctx.spec, input_name(*call, "input"), call);
  }
  return false;
}

// A softmax over another dim than the one the weighted sum reading its weights sums over (the
// weights then sum to 1 along a dim that is kept, not along the one that is summed): XLNet's
// (I, J, B, N) scores of einsum 'ibnd,jbnd->ijbn' softmaxed over the heads while 'ijbn,jbnd->ibnd'
// sums over j; vector attention's (B, N, K, C) weights softmaxed over the points while
// (w * v).sum(dim=2) sums the K neighbours; a teacher's (B, K) probabilities softmaxed over the
// batch while the loss sums p * log q over the K classes. For a product (matmul, einsum), the
// summed dim must also be the scores' keys (a talking-heads einsum mixes heads, not values); for
// a sum of a product, the values must vary along the softmax's dim (per-head weights combine
// whole distributions). Not reported: the summed dim of size 1, weights normalised again over it
// (slot attention), routing logits (capsules compete over the parents and sum over the children),
// and a softmax another rule already spoke of. The fix softmaxes over the summed dim.
void check_softmax_off_weighted_sum(CallContext& ctx, const ArgValue& input, int dim) {
  if (!ctx.diagnostics.empty() || ctx.call.outputs.empty() || input.rank() < 2) return;
  const std::string& weights = ctx.call.outputs.front();
  const std::optional<WeightedSum> sum = weighted_sum_of(ctx, weights, input.rank(), dim);
  if (!sum || sum->dim < 0 || sum->dim == dim) return;
  const DimExpr& summed_size = input.shape[static_cast<std::size_t>(sum->dim)];
  if (ctx.symbols.compare(summed_size, DimExpr::constant(1)) == Symbols::Verdict::Equal) return;
  if (sum->product ? scores_key_dim(ctx, input) != sum->dim : !sum->values_along) return;
  if (renormalised_over(ctx.spec, weights, sum->dim, input.rank()) || routing_logits(ctx, input)) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxOffReducedDim,
      fmt::format("softmax over dim {} ({}), but call \"{}\" ({}) sums the weights over dim {} ({}): the weights sum to 1 along a dim "
                  "that is kept, not along the one the weighted sum runs over",
                  dim, dim_text(input, dim), sum->reader->id, sum->reader->op, sum->dim, dim_text(input, sum->dim)),
      &input, dim);
  diagnostic.notes.push_back(fmt::format("each weighted sum over dim {} mixes the entries of dim {} with weights that do not sum to 1; "
                                         "PyTorch raises nothing",
                                         sum->dim, dim));
  const int fixed = sum->dim == input.rank() - 1 ? -1 : sum->dim;
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={} ({}, the dim call \"{}\" sums over)", fixed, dim_text(input, sum->dim), sum->reader->id),
                           "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the weights sum to 1 over the entries the weighted sum combines");
  }
}

}  // namespace

bool keys_before_queries(const Spec& spec, const CallDecl& product, int rank) {
  if (product.op != "matmul" && product.op != "bmm") return false;
  auto operand_name = [&](const std::string& argument) {
    auto ref = product.tensors.find(argument);
    return ref != product.tensors.end() && ref->second.kind == ArgRef::Kind::Named ? ref->second.name : std::string();
  };
  const std::string first = operand_name("input"), second = operand_name(product.op == "bmm" ? "mat2" : "other");
  const CallDecl* transposed = second.empty() ? nullptr : producer_of(spec, second, &product);
  if (transposed == nullptr || !transposes_keys(*transposed, rank)) return false;
  auto untransposed = transposed->tensors.find("input");
  return untransposed != transposed->tensors.end() && untransposed->second.kind == ArgRef::Kind::Named && named_like(first, 'k', "key") &&
         named_like(untransposed->second.name, 'q', "quer");
}

std::optional<nlohmann::json> before_softmax_patch(const Spec& spec, const CallDecl& call, const CallDecl& softmax, const std::string& suffix) {
  const std::string scores = input_name(softmax, "input");
  const std::string weights = softmax.outputs.empty() ? std::string() : softmax.outputs.front();
  std::optional<std::size_t> call_at = call_index(spec, call.id), softmax_at = call_index(spec, softmax.id);
  const bool read_elsewhere = std::any_of(spec.calls.begin(), spec.calls.end(), [&](const CallDecl& reader) {
    return &reader != &call && std::any_of(reader.tensors.begin(), reader.tensors.end(), [&](const auto& argument) {
             return argument.second.kind == ArgRef::Kind::Named && argument.second.name == weights;
           });
  });
  // The operand holding the weights: the input (weights + bias), else the other (bias + weights).
  const std::string slot = input_name(call, "input") == weights ? "input" : input_name(call, "other") == weights ? "other" : "";
  if (scores.empty() || weights.empty() || !call_at || !softmax_at || *softmax_at >= *call_at || read_elsewhere || call.outputs.empty() ||
      slot.empty() || !spec.value().contains(nlohmann::json::json_pointer(call.pointer + "/outputs")) ||
      !spec.value().contains(nlohmann::json::json_pointer(softmax.pointer + "/outputs"))) {
    return std::nullopt;
  }
  const std::string before = fresh_name(spec, scores + suffix);
  return nlohmann::json::array({{{"op", "replace"}, {"path", call.pointer + "/" + slot}, {"value", scores}},
                                {{"op", "replace"}, {"path", call.pointer + "/outputs/0"}, {"value", before}},
                                {{"op", "replace"}, {"path", softmax.pointer + "/input"}, {"value", before}},
                                {{"op", "replace"}, {"path", softmax.pointer + "/outputs/0"}, {"value", call.outputs.front()}},
                                {{"op", "move"}, {"from", call.pointer}, {"path", softmax.pointer}}});
}

bool renormalised_over(const Spec& spec, const std::string& weights, int key_dim, int rank) {
  const Renormalisation found = renormalisation_of(spec, weights, key_dim, rank);
  return std::any_of(spec.calls.begin(), spec.calls.end(), [&](const CallDecl& call) { return call.op == "div" && reads_one_of(call, "other", found.sums); });
}

namespace {

// MHA332: log_softmax makes log-probabilities over a classifier's classes, the last dim of the
// logits a Linear made (CTC's (B, T, C)); softmax makes a router's probabilities over its experts
// (a MoE gate's (B, T, experts)). Over a dim named as a sequence instead, each class or expert is
// normalised over the positions, and a loss or the top-k routing reads per-position values that
// are not. Pointer scores are left alone: positions last, or a Linear of at most 4 outputs (a QA
// head's start and end logits, a few pooling heads), normalised over the positions on purpose; so
// are softmax weights a product then sums over the positions (the softmax's contraction rule).
void check_logits_over_positions(CallContext& ctx, const ArgValue& input, int dim, const std::string& op, const std::string& reader) {
  const int classes = input.rank() - 1;
  if (dim == classes || input.producer == nullptr || input.producer->op != "Linear") return;
  if (role_of_dim(input.dim_names, dim) != DimRole::Sequence || role_of_dim(input.dim_names, classes) != DimRole::Unknown) return;
  const DimExpr& count = input.shape[static_cast<std::size_t>(classes)];
  if (!count.is_constant() || count.offset <= 4) return;
  if (!ctx.call.outputs.empty() && contraction_of(ctx.spec, ctx.call, ctx.call.outputs.front(), input.rank())) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::NormalizeDimRole,
      fmt::format("{} over dim {} (\"{}\", a {}) normalises each class over the positions; the classes are the last dim ({}), "
                  "the out_features of the Linear (call \"{}\") that made the logits",
                  op, dim, input.dim_name(dim), role_name(DimRole::Sequence), count.str(), input.producer->id),
      &input, dim);
  diagnostic.notes.push_back(reader + "; PyTorch raises nothing");
  if (ctx.add_argument_fix(diagnostic, op + " over dim=-1 (the classes)", "dim", -1)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each position's probabilities sum to 1 over the classes");
  }
}

// The dim `dim` of a tensor of `rank` dims as an argument: negative for the last two, as written
// for a (..., L, S) map (dim=-1, dim=-2), else counted from the front.
int written_dim(int dim, int rank) { return dim >= rank - 2 ? dim - rank : dim; }

// MHA431: softmax makes weights that sum to 1 over the dim it normalises, and a
// product reading them (weights @ values, linear attention's k^T v) averages over the dim it
// contracts. Softmaxed over another dim (a synthesizer's (B, T, T) map over dim=1, linear
// attention's keys over their features when k^T v sums the positions), the product sums weights
// that do not sum to 1 there; PyTorch raises nothing. Reported when the contracted dim holds
// positions (named as a sequence, or of the softmax dim's size: a square map). Left to other rules:
// attention scores a product made, softmaxed over their keys (the reading einsum is the suspect,
// MHA286 there), weights renormalised over the contracted dim (slot attention), and what a
// product aggregates (a plain second operand). The fix softmaxes over the contracted dim.
bool check_softmax_contracted(CallContext& ctx, const ArgValue& input, int dim) {
  const int rank = input.rank();
  if (ctx.call.outputs.empty() || rank < 2) return false;
  std::optional<Contraction> contraction = contraction_of(ctx.spec, ctx.call, ctx.call.outputs.front(), rank);
  if (!contraction || contraction->aggregated || contraction->dim == dim) return false;
  const int summed = contraction->dim;
  const bool positions = role_of_dim(input.dim_names, summed) == DimRole::Sequence ||
                         input.shape[static_cast<std::size_t>(summed)] == input.shape[static_cast<std::size_t>(dim)];
  if (!positions) return false;
  const CallDecl* maker = values_maker(ctx.spec, input.producer);
  const bool scores = maker != nullptr && (maker->op == "matmul" || maker->op == "bmm" || maker->op == "einsum");
  if (scores && dim == rank - 1) return false;
  if (renormalised_over(ctx.spec, ctx.call.outputs.front(), summed, rank)) return false;
  Diagnostic& diagnostic = ctx.report(
      DiagId::SoftmaxOffReducedDim,
      fmt::format("softmax over dim {} ({}), but the product (call \"{}\") that reads the weights sums them over dim {} ({}): "
                  "they sum to 1 over another dim than the one they are averaged over",
                  dim, dim_text(input, dim), contraction->product->id, summed, dim_text(input, summed)),
      &input, dim);
  diagnostic.notes.push_back("a weighted average's weights sum to 1 over the dim the product contracts; PyTorch raises nothing");
  const int fixed = written_dim(summed, rank);
  if (ctx.add_argument_fix(diagnostic, fmt::format("softmax over dim={} (the dim the product contracts)", fixed), "dim", fixed)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the product averages over the dim the weights sum to 1 over");
  }
  return true;
}

// softmax and log_softmax: the dim wrapped, then a floating dtype (the kernel PyTorch names in
// its error depends on whether the dim is the last; both share softmax_kernel_impl otherwise). nullopt when PyTorch raises.
std::optional<int> normalised_dim(CallContext& ctx, const ArgValue& input) {
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return std::nullopt;
  if (is_floating(input.dtype)) return dim;
  const std::string& op = ctx.call.op;
  Diagnostic& diagnostic = ctx.report(DiagId::SoftmaxDType, fmt::format("{} of a {} tensor; it needs a floating dtype", op, dtype_name(input.dtype)), &input);
  bool last = *dim == std::max(input.rank(), 1) - 1;
  ctx.pytorch_raises(diagnostic, "RuntimeError",
                     fmt::format("\"{}\" not implemented for '{}'", last ? op + "_lastdim_kernel_impl" : "softmax_kernel_impl", dtype_aten_name(input.dtype)));
  ctx.add_dtype_fix(diagnostic, "pass input as float32", input, DType::Float32);
  return std::nullopt;
}

}  // namespace

void infer_softmax(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim = normalised_dim(ctx, input);
  if (!dim) return;
  const std::size_t before = ctx.diagnostics.size();
  check_softmax_dim_role(ctx, input, *dim);
  check_softmax_over_queries(ctx, input, *dim);
  check_softmax_over_product_queries(ctx, input, *dim);
  check_softmax_size_one(ctx, input, *dim);
  check_softmax_renormalised_alike(ctx, input, *dim);
  check_softmax_over_filled_broadcast(ctx, input, *dim);
  check_softmax_off_weighted_sum(ctx, input, *dim);
  if (ctx.diagnostics.size() == before && !check_softmax_contracted(ctx, input, *dim)) {
    check_logits_over_positions(ctx, input, *dim, "softmax", "a router's or a classifier's probabilities are each position's, over the Linear's outputs");
  }
  check_fill_before_softmax(ctx, input);
  ctx.outputs.push_back({"output", input.shape, input.dtype});
  ctx.output_layouts["output"] = input.layout.is_contiguous() ? Layout::contiguous(input.shape) : Layout::unknown();
}

// F.log_softmax(input, dim): softmax's rules; its values are log-probabilities (a loss's input),
// not attention weights, so the attention checks of softmax's dim do not apply.
void infer_log_softmax(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim = normalised_dim(ctx, input);
  if (!dim) return;
  check_logits_over_positions(ctx, input, *dim, "log_softmax",
                              "a loss (ctc_loss, nll_loss) reads each position's log-probabilities over the classes");
  ctx.outputs.push_back({"output", input.shape, input.dtype});
  ctx.output_layouts["output"] = input.layout.is_contiguous() ? Layout::contiguous(input.shape) : Layout::unknown();
}

}  // namespace mhacheck
