// torch.einsum(equation, *operands): PyTorch 2.x's einsum (aten/src/ATen/native/Linear.cpp) in
// its order: the equation's terms and operand count, each operand's rank, the output, then each
// operand's sizes label by label (a size of 1 broadcasts; a label repeated in one operand is a
// diagonal), and the dtypes of the pairwise contractions it runs left to right. The equation's
// reading is ops/einsum_equation.hpp, which the forward pass shares.
#include <algorithm>
#include <array>
#include <deque>
#include <set>

#include <fmt/format.h>

#include "check/dim_origin.hpp"
#include "check/mask_origin.hpp"
#include "core/size_one.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/einsum_equation.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"
#include "ops/softmax_weights.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

bool is_one(const DimExpr& size) { return size == DimExpr::constant(1); }

// sum() of an integer or bool tensor gives int64.
DType summed(DType dtype) { return is_floating(dtype) ? dtype : DType::Int64; }

std::string term_text(const std::vector<int>& term) {
  std::string text;
  for (int label : term) text += label == kEinsumEllipsis ? std::string("...") : std::string(1, einsum_letter(label));
  return text;
}

// One operand, or the product of the first ones, as the contraction loop sees it: which aligned
// slots have a size other than 1, and its dtype.
struct Partial {
  std::vector<bool> sized;
  DType dtype;
};

// Replays PyTorch's pairwise contraction (left to right) for its dtypes: a pair with a summed
// slot both have is a bmm, which takes one dtype (not bool); a pair without is a mul, which
// promotes; a slot only one side still has is summed first, as sum() (integers become int64).
// A bmm whose result is empty or whose contraction is over 0 never runs its kernel: no dtype
// check, and the result takes the second operand's dtype. `sizes` holds each slot's size.
// Returns the output dtype, or reports MHA366 and returns nullopt.
std::optional<DType> contraction_dtype(CallContext& ctx, const std::vector<const ArgValue*>& operands, std::deque<Partial> partials,
                                       const EinsumSlots& slots, const std::vector<DimExpr>& sizes) {
  std::vector<int> counts(static_cast<std::size_t>(slots.count), 0);
  for (const Partial& partial : partials) {
    for (int s = 0; s < slots.count; ++s) counts[static_cast<std::size_t>(s)] += partial.sized[static_cast<std::size_t>(s)] ? 1 : 0;
  }
  for (std::size_t joined = 1; partials.size() > 1; ++joined) {
    Partial a = partials[0], b = partials[1];
    partials.erase(partials.begin(), partials.begin() + 2);
    bool product = false, sum_a = false, sum_b = false;
    std::vector<bool> summed_now(static_cast<std::size_t>(slots.count), false);
    for (int s = slots.output_dims; s < slots.count; ++s) {
      std::size_t i = static_cast<std::size_t>(s);
      if (a.sized[i] && b.sized[i]) {
        if (--counts[i] == 1) {
          summed_now[i] = product = true;
          counts[i] = 0;
        }
      } else if (counts[i] == 1 && (a.sized[i] || b.sized[i])) {
        (a.sized[i] ? sum_a : sum_b) = true;
        (a.sized[i] ? a : b).sized[i] = false;
        counts[i] = 0;
      }
    }
    if (sum_a) a.dtype = summed(a.dtype);
    if (sum_b) b.dtype = summed(b.dtype);
    Partial result{a.sized, product ? b.dtype : promote_types(a.dtype, b.dtype)};
    bool kernel_runs = true;  // a size of 0 in the bmm's result or in its contraction skips it
    for (std::size_t i = 0; i < result.sized.size(); ++i) {
      result.sized[i] = (a.sized[i] || b.sized[i]) && !summed_now[i];
      if ((result.sized[i] || summed_now[i]) && sizes[i] == DimExpr::constant(0)) kernel_runs = false;
    }
    // bmm dispatches on the first operand's dtype (no bool kernel) before comparing the second's.
    if (product && kernel_runs && (a.dtype != b.dtype || a.dtype == DType::Bool)) {
      const ArgValue& operand = *operands[joined];
      std::string left = joined == 1 ? operands[0]->argument : fmt::format("the product of operands[0..{}]", joined - 1);
      Diagnostic& diagnostic = ctx.report(
          DiagId::EinsumDType,
          a.dtype != DType::Bool ? fmt::format("{} is {} but {} is {}; einsum sums their shared dims with bmm, which needs one dtype", left,
                                               dtype_name(a.dtype), operand.argument, dtype_name(b.dtype))
                                 : fmt::format("{} is bool; einsum sums the dims it shares with {} with bmm, which has no bool kernel", left,
                                               operand.argument),
          &operand);
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         a.dtype != DType::Bool ? fmt::format("expected scalar type {} but found {}", dtype_aten_name(a.dtype), dtype_aten_name(b.dtype))
                                                : "\"bmm\" not implemented for 'Bool'");
      if (a.dtype != DType::Bool) ctx.add_dtype_fix(diagnostic, fmt::format("pass {} as {}", operand.argument, dtype_name(a.dtype)), operand, a.dtype);
      return std::nullopt;
    }
    partials.push_front(std::move(result));
  }
  DType dtype = partials.front().dtype;
  return operands.size() == 1 && slots.count > slots.output_dims ? summed(dtype) : dtype;
}


// Each subscript letter takes the role of the dims it labels, by their names. A letter over
// dims of two roles in different operands contradicts itself: the operand whose dim the
// letter's conventional role (role_of_subscript) does not support is reported. The convention
// alone is a weak hint: it is trusted only when the operand also holds a dim of the role the
// letter says under another letter, i.e. two of its dims are swapped ((B, T, H, D) under
// "bhqd": T under h, H under q). One diagnostic per call; PyTorch raises nothing.
void check_subscript_roles(CallContext& ctx, const std::vector<const ArgValue*>& operands, const EinsumEquation& read,
                           const EinsumSlots& slots, const std::string& equation) {
  struct Bound {
    std::size_t operand;
    int dim;
    DimRole role;
  };
  std::vector<std::vector<Bound>> by_slot(static_cast<std::size_t>(slots.count));
  for (std::size_t i = 0; i < operands.size(); ++i) {
    for (int d = 0; d < operands[i]->rank(); ++d) {
      std::size_t s = static_cast<std::size_t>(slots.of_operand[i][static_cast<std::size_t>(d)]);
      DimRole role = role_of_dim(operands[i]->dim_names, d);
      if (slots.label_of_slot[s] != kEinsumEllipsis && role != DimRole::Unknown) by_slot[s].push_back({i, d, role});
    }
  }
  auto report = [&](const Bound& bound, std::size_t s, const std::string& why) {
    const ArgValue& operand = *operands[bound.operand];
    char letter = einsum_letter(slots.label_of_slot[s]);
    Diagnostic& diagnostic = ctx.report(
        DiagId::EinsumSubscriptRole,
        fmt::format("{} {} under \"{}\": dim {} \"{}\" ({}) sits under subscript {}, {}", operand.argument, tuple_str(operand.shape),
                    term_text(read.terms[bound.operand]), bound.dim, operand.dim_name(bound.dim), role_name(bound.role), letter, why),
        &operand, bound.dim);
    diagnostic.notes.push_back(fmt::format("equation \"{}\": einsum reads each operand by its term; PyTorch raises nothing when the sizes "
                                           "fit, and contracts or attends over the wrong dim",
                                           equation));
  };
  for (std::size_t s = 0; s < by_slot.size(); ++s) {
    if (by_slot[s].empty()) continue;
    DimRole hint = role_of_subscript(einsum_letter(slots.label_of_slot[s]));
    const Bound& first = by_slot[s].front();
    auto differs = std::find_if(by_slot[s].begin(), by_slot[s].end(),
                                [&](const Bound& b) { return b.operand != first.operand && b.role != first.role; });
    if (differs == by_slot[s].end()) continue;
    bool first_wrong = first.role != hint && differs->role == hint;
    const Bound& wrong = first_wrong ? first : *differs;
    const Bound& right = first_wrong ? *differs : first;
    report(wrong, s,
           fmt::format("which labels \"{}\" ({}) in {}", operands[right.operand]->dim_name(right.dim), role_name(right.role),
                       operands[right.operand]->argument));
    return;
  }
  for (std::size_t s = 0; s < by_slot.size(); ++s) {
    DimRole hint = by_slot[s].empty() ? DimRole::Unknown : role_of_subscript(einsum_letter(slots.label_of_slot[s]));
    for (const Bound& bound : by_slot[s]) {
      if (hint == DimRole::Unknown || bound.role == hint) continue;
      for (std::size_t t = 0; t < by_slot.size(); ++t) {
        for (const Bound& swapped : by_slot[t]) {
          if (t == s || swapped.operand != bound.operand || swapped.role != hint) continue;
          report(bound, s,
                 fmt::format("a letter for a {}, while dim {} \"{}\" ({}) sits under subscript {}", role_name(hint), swapped.dim,
                             operands[bound.operand]->dim_name(swapped.dim), role_name(hint), einsum_letter(slots.label_of_slot[t])));
          return;
        }
      }
    }
  }
}

// A two-operand equation that sums a letter of one operand alone and keeps every letter both
// share: no contraction. Read from the equation alone ("..." is batch dims, kept by an output that
// writes it; an implicit output sums every shared letter).
struct Uncontracted {
  std::vector<int> shared;  // the letters both operands have, in the first operand's order: all kept
  std::vector<std::vector<int>> own;  // per operand, its letters the other lacks, in its order
  std::vector<int> summed;  // those of them the output drops
};

bool has_label(const std::vector<int>& labels, int label) { return std::find(labels.begin(), labels.end(), label) != labels.end(); }

std::optional<Uncontracted> uncontracted(const EinsumEquation& read) {
  if (read.terms.size() != 2 || !read.explicit_output) return std::nullopt;
  Uncontracted found;
  found.own.resize(2);
  for (std::size_t i = 0; i < 2; ++i) {
    for (int label : read.terms[i]) {
      if (label == kEinsumEllipsis) continue;
      bool kept = has_label(read.output, label);
      if (has_label(read.terms[1 - i], label)) {
        if (!kept) return std::nullopt;  // a contraction
        if (!has_label(found.shared, label)) found.shared.push_back(label);
      } else if (!has_label(found.own[i], label)) {
        found.own[i].push_back(label);
        if (!kept) found.summed.push_back(label);
      }
    }
  }
  if (found.summed.empty()) return std::nullopt;  // an outer or elementwise product, summing nothing
  return found;
}

std::optional<Uncontracted> uncontracted(const CallDecl& call) {
  if (call.op != "einsum" || !call.arguments.contains("equation") || !call.arguments.at("equation").is_string()) return std::nullopt;
  const std::string equation = call.arguments.at("equation").get<std::string>();
  EinsumEquation read;
  if (read_einsum_terms(equation, call.list_size("operands"), read) || read_einsum_output(equation, read)) return std::nullopt;
  return uncontracted(read);
}

std::string equation_text(const EinsumEquation& read) {
  std::string text;
  for (const std::vector<int>& term : read.terms) {
    if (!text.empty()) text += ',';
    text += term_text(term);
  }
  return text + "->" + term_text(read.output);
}

// MHA287: attention's einsums contract what both operands share; one that keeps every shared
// letter and sums a letter of one operand alone ('bhnd,bhne->bhne') multiplies element by element.
// Reported when exactly one shared letter is a sequence: not a batch, heads or head-size letter
// (b, h, d) nor over a dim named as heads or a head size. The fix sums that letter and keeps the
// summed ones ('bhnd,bhne->bhde'); where one einsum reads the result and sums nothing either, it
// reads the new letters there ('bhnd,bhde->bhne'). Such a reader is not reported again.
void check_contraction(CallContext& ctx, const std::vector<const ArgValue*>& operands, const EinsumEquation& read,
                       const EinsumSlots& slots) {
  std::optional<Uncontracted> found = uncontracted(read);
  if (!found) return;
  for (const ArgValue* operand : operands) {
    const CallDecl* maker = values_maker(ctx, *operand);
    if (maker != nullptr && uncontracted(*maker)) return;  // reported where that operand was made
  }
  std::vector<int> sequences;
  for (int label : found->shared) {
    DimRole hint = role_of_subscript(einsum_letter(label));
    if (hint == DimRole::Batch || hint == DimRole::Heads || hint == DimRole::HeadDim) continue;
    bool other_role = false;
    for (std::size_t i = 0; i < 2; ++i) {
      for (int d = 0; d < operands[i]->rank(); ++d) {
        DimRole role = role_of_dim(operands[i]->dim_names, d);
        int slot = slots.of_operand[i][static_cast<std::size_t>(d)];
        if (slots.label_of_slot[static_cast<std::size_t>(slot)] == label && (role == DimRole::Heads || role == DimRole::HeadDim)) other_role = true;
      }
    }
    if (!other_role) sequences.push_back(label);
  }
  if (sequences.size() != 1) return;
  const int sequence = sequences.front();
  EinsumEquation fixed = read;
  fixed.output.clear();
  for (int label : read.output) {
    if (label == kEinsumEllipsis || (label != sequence && has_label(found->shared, label))) fixed.output.push_back(label);
  }
  for (const std::vector<int>& own : found->own) fixed.output.insert(fixed.output.end(), own.begin(), own.end());
  std::string summed;
  for (int label : found->summed) summed += einsum_letter(label);
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::EinsumContractsNothing,
      fmt::format("einsum \"{}\" keeps every letter its operands share (the sequence {} among them) and sums only {} of one operand: it "
                  "multiplies element by element and contracts nothing",
                  equation_text(read), einsum_letter(sequence), summed),
      "equation");
  diagnostic.notes.push_back(fmt::format("linear attention's context sums the sequence: '{}' (k^T v)", equation_text(fixed)));
  diagnostic.notes.push_back("PyTorch raises nothing: every letter's sizes agree");
  nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(ctx.call.pointer, "equation")}, {"value", equation_text(fixed)}}});
  std::string text = fmt::format("sum over {}: einsum '{}'", einsum_letter(sequence), equation_text(fixed));
  // The one einsum that reads the result and sums nothing either reads it by its new letters.
  const CallDecl* reader = nullptr;
  int readers = 0;
  for (const CallDecl& call : ctx.spec.calls) {
    for (const auto& [argument, ref] : call.tensors) {
      if (ref.kind == ArgRef::Kind::Named && !ctx.call.outputs.empty() && ref.name == ctx.call.outputs[0] && &call > &ctx.call) {
        ++readers;
        reader = &call;
      }
    }
  }
  std::optional<Uncontracted> reader_found = readers == 1 ? uncontracted(*reader) : std::nullopt;
  if (reader_found && CallContext::index_in_calls(*reader).has_value()) {
    const std::string reader_equation = reader->arguments.at("equation").get<std::string>();
    EinsumEquation reading;
    read_einsum_terms(reader_equation, reader->list_size("operands"), reading);
    read_einsum_output(reader_equation, reading);
    std::size_t slot = 0;  // the reader's operand that is this result
    while (slot < 2 && !(reader->tensor(list_element("operands", slot)).kind == ArgRef::Kind::Named &&
                         reader->tensor(list_element("operands", slot)).name == ctx.call.outputs[0])) {
      ++slot;
    }
    // The result's old letters map to the reader's by position; its one new letter becomes the
    // letter the reader sums in its other operand alone.
    std::vector<int> reader_own_summed;
    for (int label : reader_found->summed) {
      if (slot < 2 && has_label(reader_found->own[1 - slot], label)) reader_own_summed.push_back(label);
    }
    std::vector<int> term;
    bool mapped = slot < 2 && reading.terms[slot].size() == read.output.size() && reader_own_summed.size() == 1;
    int new_letters = 0;
    for (int label : fixed.output) {
      if (!mapped) break;
      auto at = std::find(read.output.begin(), read.output.end(), label);
      if (at != read.output.end()) {
        term.push_back(reading.terms[slot][static_cast<std::size_t>(at - read.output.begin())]);
      } else {
        term.push_back(reader_own_summed.front());
        ++new_letters;
      }
    }
    if (mapped && new_letters == 1) {
      reading.terms[slot] = term;
      patch.push_back({{"op", "replace"}, {"path", child_pointer(reader->pointer, "equation")}, {"value", equation_text(reading)}});
      text += fmt::format(", then '{}' in call \"{}\"", equation_text(reading), reader->id);
    }
  }
  ctx.add_patch_fix(diagnostic, std::move(text), std::move(patch));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the einsum contracts the sequence and keeps each operand's features");
}

// An operand made by an earlier einsum and read here under the same letters in another order,
// the dims it swaps of equal sizes (fast-transformers' KV = einsum('nshd,nshm->nhdm', K, V) read
// as 'nlhd,nhmd->nlhm': the keys' features d under m, the values' m under d, both 64). Chained
// einsums name a dim by its letter; one read under another's letter is contracted or kept as that
// other dim, and PyTorch raises nothing when the sizes coincide. The fix reads it as it was made.
//
// Letters are each equation's own, so only a misreading that meets another operand says so: a
// swapped letter shared with another operand of this einsum (contracted or aligned with it). A
// one-operand einsum ('beyx->bexy') transposes on purpose, and a product of a tensor with itself
// (a Gram matrix, symmetric) reads the same either way.
void check_reread_letters(CallContext& ctx, const std::vector<const ArgValue*>& operands, const EinsumEquation& read) {
  if (!read.explicit_output || operands.size() < 2) return;
  for (std::size_t i = 0; i < operands.size(); ++i) {
    const ArgValue& operand = *operands[i];
    const CallDecl* producer = operand.producer;
    if (producer == nullptr || producer->op != "einsum" || !producer->arguments.contains("equation") ||
        !producer->arguments.at("equation").is_string()) {
      continue;
    }
    std::set<std::string> made_of;
    for (const auto& [slot, ref] : producer->tensors) {
      if (ref.kind == ArgRef::Kind::Named) made_of.insert(ref.name);
    }
    if (made_of.size() < 2) continue;
    EinsumEquation made;
    const std::string made_equation = producer->arguments.at("equation").get<std::string>();
    if (read_einsum_terms(made_equation, producer->list_size("operands"), made) || read_einsum_output(made_equation, made) ||
        !made.explicit_output) {
      continue;
    }
    const std::vector<int>& written = made.output;
    const std::vector<int>& term = read.terms[i];
    if (term == written || term.size() != written.size() || term.size() != static_cast<std::size_t>(operand.rank())) continue;
    if (std::find(term.begin(), term.end(), kEinsumEllipsis) != term.end() ||
        std::find(written.begin(), written.end(), kEinsumEllipsis) != written.end() ||
        !std::is_permutation(term.begin(), term.end(), written.begin())) {
      continue;
    }
    // Each dim read under another letter has the size of the dim made under that letter.
    std::vector<std::string> swapped;
    bool sizes_coincide = true;
    for (std::size_t d = 0; d < term.size(); ++d) {
      if (term[d] == written[d]) continue;
      auto at = static_cast<std::size_t>(std::find(written.begin(), written.end(), term[d]) - written.begin());
      sizes_coincide = sizes_coincide && ctx.symbols.compare(operand.shape[d], operand.shape[at]) == Symbols::Verdict::Equal;
      swapped.push_back(fmt::format("dim {} (made as {}) read as {}", d, einsum_letter(written[d]), einsum_letter(term[d])));
    }
    bool meets_another = false;
    for (std::size_t d = 0; d < term.size(); ++d) {
      for (std::size_t j = 0; j < operands.size() && term[d] != written[d]; ++j) {
        meets_another = meets_another || (j != i && std::find(read.terms[j].begin(), read.terms[j].end(), term[d]) != read.terms[j].end());
      }
    }
    if (!sizes_coincide || !meets_another) continue;
    Diagnostic& diagnostic = ctx.report(
        DiagId::EinsumSubscriptRole,
        fmt::format("{} {} is read as \"{}\", but call \"{}\" made it as \"{}\" ('{}'): {}", shown_name(operand), tuple_str(operand.shape),
                    term_text(term), producer->id, term_text(written), made_equation, fmt::join(swapped, ", ")),
        &operand);
    diagnostic.notes.push_back("the swapped dims have equal sizes, so PyTorch raises nothing: each is contracted or kept as the other");
    EinsumEquation repaired = read;
    repaired.terms[i] = written;
    if (!ctx.call.pointer.empty()) {
      ctx.add_patch_fix(diagnostic, fmt::format("read {} as call \"{}\" made it: einsum '{}'", shown_name(operand), producer->id, equation_text(repaired)),
                        nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(ctx.call.pointer, "equation")},
                                                {"value", equation_text(repaired)}}}));
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "every dim is then read under the letter it was made with");
    }
    return;
  }
}

// MHA287's other form: each operand sums a letter of its own, and the two letters label dims of
// one role and size ('bhqk,bhvd->bhqd': the weights' keys under k, the values' keys, named T as
// well, under v). einsum sums each apart and multiplies the sums (every query gets the same
// output), where one letter shared by both contracts them. A letter's role is its dims' names'
// (a same name counts too), never the letter alone: the sums of two unrelated sizes are what the
// equation says. The fix writes the first operand's letter in the second.
void check_separate_sums(CallContext& ctx, const std::vector<const ArgValue*>& operands, const EinsumEquation& read, const EinsumSlots& slots) {
  std::optional<Uncontracted> found = uncontracted(read);
  if (!found || operands.size() != 2) return;
  // The dim of operand i under `label`; -1 when none (or more than one: a diagonal).
  auto dim_under = [&](std::size_t i, int label) {
    int dim = -1;
    for (int d = 0; d < operands[i]->rank(); ++d) {
      if (slots.label_of_slot[static_cast<std::size_t>(slots.of_operand[i][static_cast<std::size_t>(d)])] != label) continue;
      if (dim != -1) return -1;
      dim = d;
    }
    return dim;
  };
  for (int first : found->summed) {
    if (!has_label(found->own[0], first)) continue;
    for (int second : found->summed) {
      if (!has_label(found->own[1], second)) continue;
      const int a = dim_under(0, first), b = dim_under(1, second);
      if (a < 0 || b < 0) continue;
      const std::string& name_a = operands[0]->dim_name(a);
      const std::string& name_b = operands[1]->dim_name(b);
      const DimRole role = role_of_dim(operands[0]->dim_names, a);
      const bool same_role = role != DimRole::Unknown ? role == role_of_dim(operands[1]->dim_names, b) : !name_a.empty() && name_a == name_b;
      if (!same_role || ctx.symbols.resolve(operands[0]->shape[static_cast<std::size_t>(a)]) !=
                            ctx.symbols.resolve(operands[1]->shape[static_cast<std::size_t>(b)])) {
        continue;
      }
      EinsumEquation fixed = read;
      for (int& label : fixed.terms[1]) label = label == second ? first : label;
      const std::string repaired = equation_text(fixed);
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::EinsumContractsNothing,
          fmt::format("einsum \"{}\" sums {} of {} (dim {} \"{}\") and {} of {} (dim {} \"{}\") each on its own: two dims of one {} are "
                      "summed apart and the sums multiplied, where one letter would contract them",
                      equation_text(read), einsum_letter(first), operands[0]->argument, a, name_a, einsum_letter(second), operands[1]->argument, b,
                      name_b, role != DimRole::Unknown ? role_name(role) : "name"),
          "equation");
      diagnostic.notes.push_back(fmt::format("attention's output contracts the weights' keys with the values' keys: '{}'", repaired));
      diagnostic.notes.push_back("PyTorch raises nothing: every letter's sizes agree");
      ctx.add_patch_fix(diagnostic, fmt::format("contract {} with {}: einsum '{}'", einsum_letter(first), einsum_letter(second), repaired),
                        nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(ctx.call.pointer, "equation")}, {"value", repaired}}}));
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the dims of one role are contracted together");
      return;
    }
  }
}

// Two operands that each hold a dim named as the same batch (both made from batch-major tensors
// of one batch symbol) pair their entries when one letter labels both. Written under two letters
// of which one is summed ('bnd,cqd->bnq': image embeds against text queries), einsum adds up
// every batch entry's values for each entry of the other: the result mixes the batch, and PyTorch
// raises nothing as the letters' sizes need not agree. A similarity matrix over the batch keeps
// both letters ('bd,cd->bc', CLIP's logits, (B, B) on purpose) and is not reported. The fix
// writes the summed letter as the kept one, which pairs the entries ('bnd,bqd->bnq').
// (Borrows MHA288 until the lead assigns MHA437.)
void check_contracted_batch(CallContext& ctx, const std::vector<const ArgValue*>& operands, const EinsumEquation& read, const EinsumSlots& slots) {
  struct BatchDim {
    std::size_t operand;
    int dim;
    int slot;
  };
  std::vector<BatchDim> batches;
  for (std::size_t i = 0; i < operands.size(); ++i) {
    for (int d = 0; d < operands[i]->rank(); ++d) {
      const int s = slots.of_operand[i][static_cast<std::size_t>(d)];
      if (slots.label_of_slot[static_cast<std::size_t>(s)] == kEinsumEllipsis || role_of_dim(operands[i]->dim_names, d) != DimRole::Batch) continue;
      batches.push_back({i, d, s});
    }
  }
  for (const BatchDim& kept : batches) {
    for (const BatchDim& summed : batches) {
      if (summed.operand == kept.operand || summed.slot == kept.slot || summed.slot < slots.output_dims) continue;
      const ArgValue &a = *operands[kept.operand], &b = *operands[summed.operand];
      if (a.dim_name(kept.dim) != b.dim_name(summed.dim) ||
          ctx.symbols.resolve(a.shape[static_cast<std::size_t>(kept.dim)]) != ctx.symbols.resolve(b.shape[static_cast<std::size_t>(summed.dim)])) {
        continue;
      }
      const int kept_label = slots.label_of_slot[static_cast<std::size_t>(kept.slot)];
      const int summed_label = slots.label_of_slot[static_cast<std::size_t>(summed.slot)];
      EinsumEquation fixed = read;
      for (std::vector<int>& term : fixed.terms) {
        for (int& label : term) label = label == summed_label ? kept_label : label;
      }
      const std::string repaired = equation_text(fixed);
      Diagnostic& diagnostic = ctx.report(
          DiagId::EinsumContractsBatch,
          fmt::format("einsum \"{}\" sums {} of {} (dim {} \"{}\", the batch) while {} (dim {} \"{}\") keeps its batch under {}: each entry of "
                      "the result adds up the values of every batch entry of {}, mixing the batch",
                      equation_text(read), einsum_letter(summed_label), shown_name(b), summed.dim, b.dim_name(summed.dim), shown_name(a), kept.dim,
                      a.dim_name(kept.dim), einsum_letter(kept_label), shown_name(b)),
          &b, summed.dim);
      diagnostic.notes.push_back("PyTorch raises nothing: letters of their own need not agree in size");
      diagnostic.notes.push_back(fmt::format("a similarity across the batch keeps both letters in the output ('{}{},{}{}->{}{}'), a (B, B) result",
                                             einsum_letter(kept_label), 'd', einsum_letter(summed_label), 'd', einsum_letter(kept_label),
                                             einsum_letter(summed_label)));
      ctx.add_patch_fix(diagnostic, fmt::format("pair the batch entries: einsum '{}'", repaired),
                        nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(ctx.call.pointer, "equation")}, {"value", repaired}}}));
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry meets its own");
      return;
    }
  }
}

// The softmax whose weights `operand` holds, reached through dropout and copies, when that
// softmax normalised attention scores (made by matmul, bmm or einsum, maybe scaled, biased or
// masked); null otherwise. A renormalisation after it (a div: slot attention) stops the search.
const CallDecl* attention_softmax(const CallContext& ctx, const ArgValue& operand) {
  auto input_of = [](const CallDecl& call) {
    auto ref = call.tensors.find("input");
    return ref != call.tensors.end() && ref->second.kind == ArgRef::Kind::Named ? ref->second.name : std::string();
  };
  const CallDecl* softmax = operand.producer;
  for (int step = 0; step < 4 && softmax != nullptr && softmax->op != "softmax"; ++step) {
    if (softmax->op != "dropout" && softmax->op != "contiguous" && softmax->op != "clone") return nullptr;
    softmax = producer_of(ctx.spec, input_of(*softmax), softmax);
  }
  if (softmax == nullptr || softmax->op != "softmax") return nullptr;
  const CallDecl* scores = producer_of(ctx.spec, input_of(*softmax), softmax);
  for (int step = 0; step < 8 && scores != nullptr; ++step) {
    if (scores->op == "matmul" || scores->op == "bmm" || scores->op == "einsum") return softmax;
    static const std::array<const char*, 7> on_the_way = {"mul", "div", "add", "sub", "masked_fill", "contiguous", "clone"};
    if (std::none_of(on_the_way.begin(), on_the_way.end(), [&](const char* op) { return scores->op == op; })) return nullptr;
    scores = producer_of(ctx.spec, input_of(*scores), scores);
  }
  return nullptr;
}

// MHA286 for the einsum that reads attention weights: softmax normalised them over their last
// letter, the keys', so the output sums the weights over that letter ('bhij,bhjd->bhid'). An
// equation that keeps the normalised letter and contracts the weights' other letter with the
// values ('bhij,bhid->bhjd') sums each key's column over the queries and reads the values by query
// position; PyTorch raises nothing, as the values' length is the queries' there (self-attention). A
// softmax over another dim is the softmax rule's to judge. Not reported: weights normalised again
// over the contracted letter (slot attention). The fix swaps the two letters in the values' term
// and the output.
void check_weights_contraction(CallContext& ctx, const std::vector<const ArgValue*>& operands, const EinsumEquation& read) {
  if (operands.size() != 2 || !read.explicit_output) return;
  for (const std::vector<int>& term : read.terms) {
    if (has_label(term, kEinsumEllipsis)) return;
  }
  if (has_label(read.output, kEinsumEllipsis)) return;
  for (std::size_t i = 0; i < 2; ++i) {
    const CallDecl* softmax = attention_softmax(ctx, *operands[i]);
    if (softmax == nullptr || !softmax->arguments.contains("dim") || !softmax->arguments.at("dim").is_number_integer()) continue;
    const std::vector<int>& weights = read.terms[i];
    const std::vector<int>& values = read.terms[1 - i];
    const int rank = static_cast<int>(weights.size());
    std::int64_t dim = softmax->arguments.at("dim").get<std::int64_t>();
    if (dim < 0) dim += rank;
    if (dim != rank - 1) continue;  // over another dim: the softmax's own rule (MHA286 there) judges it
    const int normalised = weights[static_cast<std::size_t>(dim)];
    if (!has_label(read.output, normalised) || has_label(values, normalised)) continue;
    std::vector<int> contracted;
    for (int label : weights) {
      if (!has_label(read.output, label) && has_label(values, label) && !has_label(contracted, label)) contracted.push_back(label);
    }
    if (contracted.size() != 1) continue;
    // The values carry a letter of their own that the output keeps (the features): a product with
    // a per-query mask ('bhqk,bq->bhk', the weight each key receives) reads no values.
    if (std::none_of(values.begin(), values.end(), [&](int label) { return !has_label(weights, label) && has_label(read.output, label); })) continue;
    const int query = contracted.front();
    const int query_dim = static_cast<int>(std::find(weights.begin(), weights.end(), query) - weights.begin());
    // Attention weights are (..., queries, keys): the contracted letter must be the queries', the
    // one before the keys. Weights mixed across another letter (talking heads' 'bhij,hk->bkij',
    // across the heads) are not read by query position.
    if (query_dim != rank - 2) continue;
    if (!softmax->outputs.empty() && renormalised_over(ctx.spec, softmax->outputs.front(), query_dim, rank)) continue;
    EinsumEquation fixed = read;
    auto swap = [&](std::vector<int>& term) {
      for (int& label : term) label = label == query ? normalised : label == normalised ? query : label;
    };
    swap(fixed.terms[1 - i]);
    swap(fixed.output);
    const std::string equation = equation_text(read), repaired = equation_text(fixed);
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::SoftmaxOverQueries,
        fmt::format("einsum \"{}\" sums the attention weights over {} and keeps {}, the letter softmax (call \"{}\") normalised over: each "
                    "output sums a key's column over the queries, not a query's weights over the keys",
                    equation, einsum_letter(query), einsum_letter(normalised), softmax->id),
        "equation");
    diagnostic.notes.push_back(fmt::format("the weights are read by the keys they sum to 1 over: '{}'", repaired));
    diagnostic.notes.push_back("PyTorch raises nothing: the values are read along the letter the weights share with them");
    ctx.add_patch_fix(diagnostic, fmt::format("contract the weights over the keys {}: einsum '{}'", einsum_letter(normalised), repaired),
                      nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(ctx.call.pointer, "equation")}, {"value", repaired}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each query's output is its weights over the keys times the values");
    return;
  }
}

}  // namespace

void infer_einsum(CallContext& ctx) {
  const std::string equation = ctx.call.arguments.at("equation").get<std::string>();
  std::vector<const ArgValue*> operands;
  for (std::size_t i = 0; i < ctx.call.list_size("operands"); ++i) operands.push_back(&ctx.arg(list_element("operands", i)));
  auto raise = [&](const EinsumFailure& failure, std::string message, const ArgValue* where, std::optional<int> dim = std::nullopt) {
    Diagnostic& diagnostic = where != nullptr ? ctx.report(failure.id, std::move(message), where, dim)
                                              : report_argument(ctx, failure.id, std::move(message),
                                                                failure.id == DiagId::EinsumOperandCount ? "operands" : "equation");
    ctx.pytorch_raises(diagnostic, "RuntimeError", failure.message);
    return &diagnostic;
  };
  auto equation_says = [&](const EinsumFailure& failure) {
    return fmt::format("equation \"{}\": {}", equation, failure.message.substr(std::string("einsum(): ").size()));
  };

  EinsumEquation read;
  if (std::optional<EinsumFailure> failure = read_einsum_terms(equation, operands.size(), read)) {
    Diagnostic* diagnostic = raise(*failure, equation_says(*failure), nullptr);
    if (failure->id == DiagId::EinsumOperandCount) {
      std::size_t terms = 1;
      for (char c : equation.substr(0, equation.find("->"))) terms += c == ',' ? 1 : 0;
      diagnostic->notes.push_back(fmt::format("the equation has {} term{}, one per operand; the call passes {} operand{}", terms,
                                              terms == 1 ? "" : "s", operands.size(), operands.size() == 1 ? "" : "s"));
    }
    return;
  }
  std::vector<int> ranks;
  for (const ArgValue* operand : operands) ranks.push_back(operand->rank());
  if (std::optional<EinsumFailure> failure = check_einsum_ranks(read, ranks)) {
    const ArgValue& operand = *operands[*failure->operand];
    const std::vector<int>& term = read.terms[*failure->operand];
    std::size_t labels = static_cast<std::size_t>(std::count_if(term.begin(), term.end(), [](int label) { return label != kEinsumEllipsis; }));
    raise(*failure,
          fmt::format("{} {} is {}-D but its term \"{}\" in \"{}\" names {} dim{}{}", operand.argument, tuple_str(operand.shape), operand.rank(),
                      term_text(term), equation, labels, labels == 1 ? "" : "s", labels == term.size() ? "" : " besides \"...\""),
          &operand);
    return;
  }
  if (std::optional<EinsumFailure> failure = read_einsum_output(equation, read)) {
    raise(*failure, equation_says(*failure), nullptr);
    return;
  }
  EinsumSlots slots = einsum_slots(read, ranks);

  // Each slot's size (1 until an operand gives it another) and the operand dim that gave it.
  std::vector<DimExpr> size(static_cast<std::size_t>(slots.count), DimExpr::constant(1));
  std::vector<std::pair<const ArgValue*, int>> source(static_cast<std::size_t>(slots.count), {nullptr, 0});
  std::deque<Partial> partials;
  for (std::size_t i = 0; i < operands.size(); ++i) {
    const ArgValue& operand = *operands[i];
    std::vector<int> first(static_cast<std::size_t>(slots.count), -1);  // this operand's dim at each slot
    int diagonals = 0;  // dims a repeated label has folded away: PyTorch's dim index counts without them
    for (int d = 0; d < operand.rank(); ++d) {
      std::size_t s = static_cast<std::size_t>(slots.of_operand[i][static_cast<std::size_t>(d)]);
      int label = slots.label_of_slot[s];
      const DimExpr& dim = operand.shape[static_cast<std::size_t>(d)];
      if (first[s] != -1) {
        const DimExpr& earlier = operand.shape[static_cast<std::size_t>(first[s])];
        ++diagonals;
        if (ctx.same(dim, earlier, &operand, d, fmt::format("{} dims {} and {} (subscript {})", operand.argument, first[s], d, einsum_letter(label)))) continue;
        Diagnostic* diagnostic = raise({DiagId::EinsumDiagonal,
                                        fmt::format("einsum(): subscript {} is repeated for operand {} but the sizes don't match, {} != {}",
                                                    einsum_letter(label), i, dim.str(), earlier.str()),
                                        i},
                                       fmt::format("subscript {} labels dims {} and {} of {} {}, of sizes {} and {}: a diagonal needs equal sizes",
                                                   einsum_letter(label), first[s], d, operand.argument, tuple_str(operand.shape), earlier.str(), dim.str()),
                                       &operand, d);
        diagnostic->related.push_back(ctx.related(operand, first[s], fmt::format("dim {} = {}", first[s], earlier.str())));
        return;
      }
      first[s] = d;
      if (is_one(dim)) continue;
      DimExpr& seen = size[s];
      char letter = label == kEinsumEllipsis ? '.' : einsum_letter(label);
      bool mismatch = !is_one(seen) && !ctx.same(seen, dim, &operand, d, fmt::format("the sizes of subscript {}", letter));
      auto could_be_one = [&](const DimExpr& raw) { return may_be_one(ctx.symbols.resolve(raw)); };
      if (mismatch && (could_be_one(seen) || could_be_one(dim))) {
        // S-1 and S differ, but S-1 is 1 at S == 2 and broadcasts.
        std::string condition;
        for (const DimExpr* size : {static_cast<const DimExpr*>(&seen), &dim}) {
          if (could_be_one(*size)) condition += fmt::format("{}{} == 1", condition.empty() ? "" : " or ", ctx.symbols.resolve(*size).str());
        }
        ctx.report(DiagId::SymbolConstraint,
                   fmt::format("valid only if {} (the sizes of subscript {} differ; only a size of 1 broadcasts)", condition, letter), &operand, d);
        if (could_be_one(seen) && !could_be_one(dim)) {  // the result keeps the size that need not be 1
          source[s] = {&operand, d};
          seen = dim;
        }
        continue;
      }
      if (mismatch) {
        bool ellipsis = label == kEinsumEllipsis;
        std::string message =
            ellipsis ? fmt::format("einsum(): dimension {} covered by ellipsis in operand {}has size {} which does not broadcast with previously "
                                   "seen ellipsis with size {} for the respective dimension",
                                   d - diagonals, i, dim.str(), seen.str())
                     : fmt::format("einsum(): subscript {} has size {} for operand {} which does not broadcast with previously seen size {}",
                                   einsum_letter(label), dim.str(), i, seen.str());
        Diagnostic* diagnostic = raise(
            {DiagId::EinsumSize, message, i},
            ellipsis ? fmt::format("dim {} of {} {} (under \"...\") has size {} but an earlier operand has {} there; only a size of 1 broadcasts",
                                   d, operand.argument, tuple_str(operand.shape), dim.str(), seen.str())
                     : fmt::format("subscript {} is dim {} of {} {}, of size {}, but {} in {}; only a size of 1 broadcasts", einsum_letter(label), d,
                                   operand.argument, tuple_str(operand.shape), dim.str(), seen.str(), source[s].first->argument),
            &operand, d);
        diagnostic->related.push_back(
            ctx.related(*source[s].first, source[s].second, fmt::format("{} dim {} = {}", source[s].first->argument, source[s].second, seen.str())));
        return;
      }
      if (source[s].first == nullptr) source[s] = {&operand, d};
      seen = dim;
    }
    Partial partial{std::vector<bool>(static_cast<std::size_t>(slots.count), false), operand.dtype};
    for (int s = 0; s < slots.count; ++s) {
      int d = first[static_cast<std::size_t>(s)];
      partial.sized[static_cast<std::size_t>(s)] = d != -1 && !is_one(operand.shape[static_cast<std::size_t>(d)]);
    }
    partials.push_back(std::move(partial));
  }
  std::optional<DType> dtype = contraction_dtype(ctx, operands, std::move(partials), slots, size);
  if (!dtype) return;
  if (!ctx.has_errors()) check_subscript_roles(ctx, operands, read, slots, equation);
  if (!ctx.has_errors()) check_contracted_batch(ctx, operands, read, slots);
  if (!ctx.has_errors() && std::none_of(ctx.diagnostics.begin(), ctx.diagnostics.end(),
                                        [](const Diagnostic& d) { return d.id == DiagId::EinsumSubscriptRole; })) {
    check_reread_letters(ctx, operands, read);
  }
  if (!ctx.has_errors()) check_contraction(ctx, operands, read, slots);
  if (!ctx.has_errors() && std::none_of(ctx.diagnostics.begin(), ctx.diagnostics.end(),
                                        [](const Diagnostic& d) { return d.id == DiagId::EinsumContractsNothing; })) {
    check_separate_sums(ctx, operands, read, slots);
  }
  if (!ctx.has_errors()) check_weights_contraction(ctx, operands, read);
  if (!ctx.has_errors() && operands.size() == 2) {
    // Each dim of one operand against the other's dim under its letter, sized other than 1.
    for (std::size_t i = 0; i < 2; ++i) {
      const ArgValue &query = *operands[i], &partner = *operands[1 - i];
      std::vector<int> partner_of(static_cast<std::size_t>(query.rank()), -1);
      for (int d = 0; d < query.rank(); ++d) {
        for (int e = 0; e < partner.rank(); ++e) {
          if (slots.of_operand[i][static_cast<std::size_t>(d)] == slots.of_operand[1 - i][static_cast<std::size_t>(e)] &&
              !is_one(partner.shape[static_cast<std::size_t>(e)])) {
            partner_of[static_cast<std::size_t>(d)] = e;
          }
        }
      }
      check_grouped_heads_order(ctx, query, partner_of, partner, fmt::format("einsum \"{}\"", equation));
    }
  }
  Shape shape(size.begin(), size.begin() + slots.output_dims);
  std::vector<std::string> names;
  for (int s = 0; s < slots.output_dims; ++s) {
    const auto& [operand, d] = source[static_cast<std::size_t>(s)];
    names.push_back(operand == nullptr ? "" : operand->dim_name(d));
  }
  ctx.outputs.push_back({"output", shape, *dtype, names});
}

}  // namespace mhacheck
