#include "fix_search.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <system_error>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/shape_json.hpp"
#include "call_context.hpp"
#include "dim_origin.hpp"
#include "entered_relayout.hpp"
#include "insertion_candidates.hpp"
#include "mhacheck/python_text.hpp"
#include "operators.hpp"
#include "ops/einsum_equation.hpp"
#include "ops/index_expression.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

// The most letters an einsum output's orders are tried for: every order is walked (6 letters are
// 720 orders, 8 would be 40,320), and attention's einsums output 3 to 5 ('bqk', 'bhqd').
constexpr std::size_t kMostPermutedLetters = 6;

// Where one tensor argument's layout entered the graph: a shape written in the spec (a
// declared or inline tensor), or an earlier call's output.
struct LayoutSource {
  std::string name;           // the tensor's name; the argument's for an inline tensor
  Shape shape;                // as written, or as the producing call gives it
  std::string shape_pointer;  // written: the shape array to patch
  std::size_t producer = 0;   // an output: the producing call's index in spec.calls
  std::size_t output = 0;     // and which of its outputs
  std::vector<std::string> dim_names;  // an output's dims as its call names them, when it does
  bool written() const { return !shape_pointer.empty(); }
};

// An elementwise operator of one tensor and a Python number (bias == 0, x * scale): its output
// is its input's layout and shape, each element made from the input's element at that place.
bool with_a_number(const CallDecl& call) {
  static const std::array<const char*, 6> ops = {"add", "sub", "mul", "div", "logical_not", "bitwise_not"};
  auto other = call.tensors.find("other");
  return call.tensors.count("input") == 1 && (other == call.tensors.end() || other->second.kind == ArgRef::Kind::Absent) &&
         (is_comparison(call.op) || std::any_of(ops.begin(), ops.end(), [&](const char* op) { return call.op == op; }));
}

// `through_numbers`: also through the elementwise operators with a number (with_a_number), for
// changes that act on elements' positions alike before and after them (a slice).
std::optional<LayoutSource> layout_source(const Spec& spec, const Report& report, const ResolvedArgument& resolved, const ArgRef& ref,
                                          bool through_numbers = false) {
  if (ref.kind == ArgRef::Kind::Inline) {
    if (ref.tensor->shape_pointer.empty()) return std::nullopt;
    return LayoutSource{resolved.name, ref.tensor->shape, ref.tensor->shape_pointer, 0, 0, {}};
  }
  if (ref.kind != ArgRef::Kind::Named) return std::nullopt;
  // The check resolved the name: an earlier call's output shadows a declared tensor of that name.
  const TensorDecl* declared = resolved.source.kind == ArgumentSource::Kind::Output ? nullptr : spec.find_tensor(ref.name);
  if (declared) {
    if (declared->shape_pointer.empty()) return std::nullopt;  // read from a file
    return LayoutSource{ref.name, declared->shape, declared->shape_pointer, 0, 0, {}};
  }
  // An earlier call's output, as the check resolved it; its outputs must be written to be renamed.
  if (resolved.source.kind != ArgumentSource::Kind::Output) return std::nullopt;
  std::optional<std::size_t> producer_index = call_index(spec, resolved.source.call);
  const CallReport* produced = call_report(report, resolved.source.call);
  if (!producer_index || !produced) return std::nullopt;
  const CallDecl& producer = spec.calls[*producer_index];
  auto named = std::find(producer.outputs.begin(), producer.outputs.end(), resolved.source.name);
  std::size_t output = static_cast<std::size_t>(named - producer.outputs.begin());
  if (named == producer.outputs.end() || output >= produced->outputs.size() ||
      !CallContext::is_calls_entry(producer, *producer_index) ||
      !spec.value().contains(nlohmann::json::json_pointer(producer.pointer + "/outputs"))) {
    return std::nullopt;
  }
  // Through an operator that keeps the layout (a LayerNorm after a Conv1d) to where it entered.
  auto input = producer.tensors.find("input");
  if ((keeps_layout(spec, producer) || (through_numbers && with_a_number(producer))) && input != producer.tensors.end()) {
    for (const ResolvedArgument& upstream : produced->arguments) {
      if (upstream.name != "input") continue;
      if (std::optional<LayoutSource> entered = layout_source(spec, report, upstream, input->second, through_numbers)) return entered;
    }
  }
  const NamedOutput& made = produced->outputs[output];
  return LayoutSource{ref.name, made.shape, "", *producer_index, output, made.dim_names};
}

// The tensor an argument reads, by name where it has one ("q"), else the argument's ("query").
std::string tensor_or_argument(const ResolvedArgument& argument) {
  bool named = argument.source.kind == ArgumentSource::Kind::Output || argument.source.kind == ArgumentSource::Kind::Declared;
  return named && !argument.source.name.empty() ? argument.source.name : argument.name;
}

Shape swapped(Shape shape, int a, int b) {
  std::swap(shape[static_cast<std::size_t>(a)], shape[static_cast<std::size_t>(b)]);
  return shape;
}

// A change of layout made where a tensor's layout entered the graph: `op` (with `arguments`) as
// a call inserted right after the producing call, or, for a written tensor, the shape it would
// then have (`written_shape`).
struct Relayout {
  std::string op;              // "transpose"
  nlohmann::json arguments;    // {"dim0": 1, "dim1": 2}
  std::string python;          // ".transpose(1, 2)"
  std::function<Shape(const Shape&)> written_shape;
  // An inserted call is followed by .contiguous(): a later view refuses a transposed layout (MHA370).
  bool contiguous = false;
  // An inserted cat of this many copies of the tensor (its "tensors"), in place of an "input".
  std::size_t copies = 0;
};

// The patch operations applying `change` to each source: a written shape is replaced; a call's
// output is renamed (qh -> qh_before_transpose) and the inserted call gives the old name back,
// so every consumer reads the new layout. Written shapes come first and outputs from the last
// producer back, so that inserting a call does not move what is still to be patched (an inline
// tensor's /calls/c/... after the producer's /calls/p).
nlohmann::json relayout_patch(const Spec& spec, std::vector<const LayoutSource*> sources, const Relayout& change) {
  std::stable_sort(sources.begin(), sources.end(), [](const LayoutSource* x, const LayoutSource* y) {
    if (x->written() != y->written()) return x->written();
    return !x->written() && x->producer > y->producer;
  });
  nlohmann::json patch = nlohmann::json::array();
  for (const LayoutSource* source : sources) {
    if (source->written()) {
      patch.push_back({{"op", "replace"}, {"path", source->shape_pointer}, {"value", shape_json(change.written_shape(source->shape))}});
      continue;
    }
    std::string before = fresh_name(spec, fmt::format("{}_before_{}", source->name, change.op));
    nlohmann::json call = {{"id", fresh_name(spec, fmt::format("{}_{}", change.op, source->name))}, {"op", change.op}, {"input", before}};
    call.update(change.arguments);
    if (change.copies > 0) {
      call.erase("input");
      call["tensors"] = std::vector<std::string>(change.copies, before);
    }
    call["outputs"] = {source->name};
    patch.push_back({{"op", "replace"},
                     {"path", fmt::format("/calls/{}/outputs/{}", source->producer, source->output)},
                     {"value", before}});
    if (change.contiguous) {
      std::string moved = fresh_name(spec, fmt::format("{}_{}", source->name, change.op));
      call["outputs"] = {moved};
      nlohmann::json copy = {{"id", fresh_name(spec, "contiguous_" + source->name)}, {"op", "contiguous"}, {"input", moved}, {"outputs", {source->name}}};
      patch.push_back({{"op", "add"}, {"path", CallContext::calls_entry_pointer(source->producer + 1)}, {"value", std::move(copy)}});
    }
    patch.push_back({{"op", "add"}, {"path", CallContext::calls_entry_pointer(source->producer + 1)}, {"value", std::move(call)}});
  }
  return patch;
}

Relayout transpose(int a, int b, bool contiguous) {
  return {"transpose", {{"dim0", a}, {"dim1", b}}, fmt::format(".transpose({}, {}){}", a, b, contiguous ? ".contiguous()" : ""),
          [a, b](const Shape& shape) { return swapped(shape, a, b); }, contiguous};
}

// "transpose qh to (B, H, T, D): qh.transpose(1, 2)", or, where a call made it, "transpose qh
// where it is made, after call "v", to (B, H, T, D): qh = qh.transpose(1, 2)".
std::string relayout_text(const Spec& spec, const LayoutSource& source, const std::string& verb, const std::string& result,
                          const Relayout& change) {
  if (source.written()) return fmt::format("{} {} {}: {}{}", verb, source.name, result, source.name, change.python);
  return fmt::format("{0} {1} where it is made, after call \"{2}\", {3}: {1} = {1}{4}", verb, source.name, spec.calls[source.producer].id,
                     result, change.python);
}

// The source's dims by their names where known, sizes elsewhere ("B", "T", "256"; 196 for a
// flattened 14*14).
std::vector<std::string> dim_texts(const LayoutSource& source) {
  std::vector<std::string> dims;
  for (std::size_t d = 0; d < source.shape.size(); ++d) {
    bool named = d < source.dim_names.size() && !source.dim_names[d].empty() && !count_name(source.dim_names[d]);
    dims.push_back(named ? source.dim_names[d] : source.shape[d].str());
  }
  return dims;
}

// The transposed shape by its dims' names where known, sizes elsewhere ("(B, T, 256)").
std::string transposed_text(const LayoutSource& source, int a, int b) {
  std::vector<std::string> dims = dim_texts(source);
  std::swap(dims[static_cast<std::size_t>(a)], dims[static_cast<std::size_t>(b)]);
  return fmt::format("({})", fmt::join(dims, ", "));
}

std::string transpose_text(const Spec& spec, const LayoutSource& source, int a, int b, bool contiguous) {
  return relayout_text(spec, source, "transpose", "to " + transposed_text(source, a, b), transpose(a, b, contiguous));
}

// The dims of a `rank`-dim tensor with dim `from` moved to place `to` and the others kept in
// their order (torch.movedim): (0, 2, 3, 1) for 1 -> 3 of 4 dims.
std::vector<int> moved_order(int rank, int from, int to) {
  std::vector<int> order;
  for (int d = 0; d < rank; ++d) {
    if (d != from) order.push_back(d);
  }
  order.insert(order.begin() + to, from);
  return order;
}

Relayout permute(const std::vector<int>& order) {
  return {"permute", {{"dims", order}}, fmt::format(".permute({})", fmt::join(order, ", ")),
          [order](const Shape& shape) {
            Shape permuted;
            for (int d : order) permuted.push_back(shape[static_cast<std::size_t>(d)]);
            return permuted;
          }};
}

std::string permute_text(const Spec& spec, const LayoutSource& source, const std::vector<int>& order) {
  std::vector<std::string> dims = dim_texts(source), permuted;
  for (int d : order) permuted.push_back(dims[static_cast<std::size_t>(d)]);
  return relayout_text(spec, source, "permute", fmt::format("to ({})", fmt::join(permuted, ", ")), permute(order));
}

Fix candidate(std::string description, nlohmann::json patch) {
  Fix fix;
  fix.description = std::move(description);
  fix.patch = std::move(patch);
  return fix;
}

std::string listed(const std::vector<const LayoutSource*>& sources) {
  std::string text;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    text += (i == 0 ? "" : i + 1 == sources.size() ? " and " : ", ") + sources[i]->name;
  }
  return text;
}

std::optional<Fix> batch_first_candidate(const Spec& spec, const CallDecl& call) {
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  if (!module || !module->options.contains("batch_first") || !module->options["batch_first"].is_boolean()) return std::nullopt;
  bool flipped = !module->options["batch_first"].get<bool>();
  std::string description = fmt::format("construct {} with batch_first={}", module->name, flipped ? "True" : "False");
  if (!module->written_as_call) {
    return candidate(description, {{{"op", "add"}, {"path", module->pointer + "/batch_first"}, {"value", flipped}}});
  }
  if (!module->path_in_call.empty()) return std::nullopt;  // inside another module's constructor
  const nlohmann::json& text = spec.value().at(nlohmann::json::json_pointer(module->pointer));
  if (!text.is_string()) return std::nullopt;
  nlohmann::json constructor = parse_module_call(text.get<std::string>(), Location{});
  constructor["batch_first"] = flipped;
  return candidate(description, {{{"op", "replace"}, {"path", module->pointer}, {"value", module_call_text(constructor)}}});
}

// The call's first output when later calls read it (by a written name).
std::optional<LayoutSource> consumed_output(const Spec& spec, std::size_t index) {
  const CallDecl& call = spec.calls[index];
  if (call.outputs.empty() || !CallContext::is_calls_entry(call, index) ||
      !spec.value().contains(nlohmann::json::json_pointer(call.pointer + "/outputs"))) {
    return std::nullopt;
  }
  const std::string& name = call.outputs.front();
  for (std::size_t later = index + 1; later < spec.calls.size(); ++later) {
    for (const auto& [argument, ref] : spec.calls[later].tensors) {
      if (ref.kind == ArgRef::Kind::Named && ref.name == name) return LayoutSource{name, {}, "", index, 0, {}};
    }
  }
  return std::nullopt;
}

// The sets of sources transposed together: those of one rank, every subset of two or more
// (largest first), then each source alone.
std::vector<std::vector<const LayoutSource*>> argument_groups(const std::vector<LayoutSource>& sources) {
  constexpr std::size_t kMaxTogether = 4;  // 11 subsets of 2 or more: a call has at most q, k, v and a mask
  std::vector<std::vector<const LayoutSource*>> groups;
  std::map<std::size_t, std::vector<const LayoutSource*>> by_rank;
  for (const LayoutSource& source : sources) by_rank[source.shape.size()].push_back(&source);
  for (const auto& [rank, members] : by_rank) {
    if (members.size() < 2 || members.size() > kMaxTogether) continue;
    std::vector<std::vector<const LayoutSource*>> subsets;
    for (unsigned mask = (1u << members.size()) - 1; mask > 0; --mask) {
      std::vector<const LayoutSource*> subset;
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (mask & (1u << i)) subset.push_back(members[i]);
      }
      if (subset.size() >= 2) subsets.push_back(std::move(subset));
    }
    std::stable_sort(subsets.begin(), subsets.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
    groups.insert(groups.end(), subsets.begin(), subsets.end());
  }
  for (const LayoutSource& source : sources) groups.push_back({&source});
  return groups;
}

// Masks given in another layout than the operator reads: a 2-D (B, S) mask of a call whose query
// is 4-D (B, H, L, S), viewed per batch entry as (B, 1, 1, S); a 3-D (N, L, S) attn_mask of
// nn.MultiheadAttention repeated per head in the layout it reads (entry b*num_heads + h is batch
// entry b's), with repeat_interleave, never repeat.
std::vector<Fix> mask_candidates(const Spec& spec, const CallDecl& call, const std::vector<LayoutSource>& masks, int query_rank) {
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  std::int64_t heads = module && module->type == "MultiheadAttention" ? module->mha.num_heads : 0;
  std::vector<Fix> fixes;
  for (const LayoutSource& mask : masks) {
    if (mask.shape.size() == 2 && query_rank == 4) {
      Relayout view{"getitem", {{"index", "[:, None, None, :]"}}, "[:, None, None, :]", [](const Shape& shape) {
                      return Shape{shape[0], DimExpr::constant(1), DimExpr::constant(1), shape[1]};
                    }};
      std::string result = "per batch entry as " + tuple_str(view.written_shape(mask.shape));
      fixes.push_back(candidate(relayout_text(spec, mask, "view", result, view), relayout_patch(spec, {&mask}, view)));
    }
    std::optional<DimExpr> repeated = mask.shape.size() == 3 && heads > 1 ? dim_mul(mask.shape[0], heads) : std::nullopt;
    if (repeated) {
      Relayout interleave{"repeat_interleave", {{"repeats", heads}, {"dim", 0}}, fmt::format(".repeat_interleave({}, dim=0)", heads),
                          [&](const Shape& shape) { return Shape{*repeated, shape[1], shape[2]}; }};
      std::string result = fmt::format("once per head as {}", tuple_str(interleave.written_shape(mask.shape)));
      fixes.push_back(candidate(relayout_text(spec, mask, "repeat", result, interleave), relayout_patch(spec, {&mask}, interleave)));
    }
  }
  return fixes;
}

// How a 4-D mask's values read in nn.MultiheadAttention's convention (bool True = ignore, float
// added): the expression applied after the reshape and the dtype it gives, from the mask's
// dtype and the convention its name says. An integer 4-D mask is Hugging Face's extended
// attention mask (1 = keep) unless its name says padding.
struct MaskReading {
  std::string suffix;  // " == 0", ".bool()", "" (as is), or "~" as a prefix (invert)
  bool invert_prefix = false;
  DType dtype = DType::Bool;
  FixSemantics semantics = FixSemantics::Unknown;
  std::string note;
};

MaskReading mha_reading(DType dtype, MaskConvention convention) {
  if (is_floating(dtype)) return {"", false, dtype, FixSemantics::Consistent, "a float mask is added to the scores in both layouts"};
  if (dtype == DType::Bool) {
    if (convention == MaskConvention::TrueKeeps) {
      return {"", true, DType::Bool, FixSemantics::Consistent, "its name says True = keep; inverted, as nn.MultiheadAttention ignores True"};
    }
    if (convention == MaskConvention::TrueIgnores) return {"", false, DType::Bool, FixSemantics::Consistent, "its name says True = ignore, as nn.MultiheadAttention reads it"};
    return {"", false, DType::Bool, FixSemantics::Unknown, ""};
  }
  if (convention == MaskConvention::TrueIgnores) {
    return {".bool()", false, DType::Bool, FixSemantics::Consistent, "its name says 1 = padding: True = ignore in nn.MultiheadAttention"};
  }
  return {" == 0", false, DType::Bool, FixSemantics::Consistent,
          "an integer 4-D mask is Hugging Face's (1 = keep): == 0 makes True = ignore, as nn.MultiheadAttention reads it"};
}

// A 4-D mask (Hugging Face's extended attention mask) given to nn.MultiheadAttention as
// attn_mask, which takes (L, S) or (N*num_heads, L, S) and a (N, S) key_padding_mask: (N, 1, 1, S)
// as key_padding_mask=mask[:, 0, 0, :]; (N, 1, L, S) repeated per head,
// mask[:, 0].repeat_interleave(num_heads, dim=0) (entry n*num_heads + h is batch entry n's, the
// layout nn.MultiheadAttention reads). Each read in nn.MultiheadAttention's convention
// (MaskReading). (N, H, L, S) has its rule's fix (flatten). Only a mask whose shape is written is
// rewritten: an inline one in place; a declared one keeps its declaration (other calls may read
// it, and its name says what it holds) and the new tensor is declared beside it under the
// argument's name.
std::vector<Fix> four_d_mask_candidates(const Spec& spec, const CallDecl& call, const ResolvedArgument& resolved, std::int64_t heads) {
  std::vector<Fix> fixes;
  auto ref = call.tensors.find(resolved.name);
  if (ref == call.tensors.end() || resolved.shape.size() != 4 || heads < 1) return fixes;
  const ArgRef& argument = ref->second;
  const TensorDecl* declared = argument.kind == ArgRef::Kind::Named ? spec.find_tensor(argument.name) : nullptr;
  const TensorDecl* written = argument.kind == ArgRef::Kind::Inline ? argument.tensor.get() : declared;
  if (!written || written->shape_pointer.empty() || resolved.source.kind == ArgumentSource::Kind::Output) return fixes;
  std::string name = declared ? declared->name : resolved.name;
  MaskReading reading = mha_reading(resolved.dtype, mask_convention_of_name(name));
  const Shape& shape = resolved.written().size() == 4 ? resolved.written() : resolved.shape;
  const DimExpr one = DimExpr::constant(1);

  // "<what it does>: <target>=<expression>", passed as argument `to`, shaped `made`.
  auto add = [&](const std::string& what, const std::string& view, const Shape& made, const std::string& to) {
    std::string target = declared ? fresh_name(spec, to) : to;
    nlohmann::json value = {{"shape", shape_json(made)}, {"dtype", dtype_name(reading.dtype)}};
    nlohmann::json patch = nlohmann::json::array();
    if (declared) {
      patch.push_back({{"op", "add"}, {"path", child_pointer("/tensors", target)}, {"value", std::move(value)}});
      value = target;
    }
    if (to == resolved.name) {
      patch.push_back({{"op", "replace"}, {"path", argument.pointer}, {"value", std::move(value)}});
    } else {
      patch.push_back({{"op", "remove"}, {"path", argument.pointer}});
      patch.push_back({{"op", "add"}, {"path", child_pointer(call.pointer, to)}, {"value", std::move(value)}});
    }
    std::string expression = (reading.invert_prefix ? "~" : "") + name + view + reading.suffix;
    Fix fix = candidate(fmt::format("{}: {}={}", what, target, expression), std::move(patch));
    fix.semantics = reading.semantics;
    fix.semantics_note = reading.note;
    fixes.push_back(std::move(fix));
  };
  if (shape[1] == one && shape[2] == one) {
    add(fmt::format("pass the {} mask as key_padding_mask, one row per batch entry", tuple_str(shape)), "[:, 0, 0, :]",
        {shape[0], shape[3]}, "key_padding_mask");
  } else if (std::optional<DimExpr> repeated = shape[1] == one ? dim_mul(shape[0], heads) : std::nullopt) {
    Shape made{*repeated, shape[2], shape[3]};
    add(fmt::format("repeat the {} mask once per head as {}", tuple_str(shape), tuple_str(made)),
        fmt::format("[:, 0].repeat_interleave({}, dim=0)", heads), made, "attn_mask");
  }
  return fixes;
}

// An einsum's subscripts say roles too (role_of_subscript). Per operand, per dim, the role its
// subscript says; empty for an operand whose term has "...".
std::vector<std::vector<DimRole>> subscript_roles(const CallDecl& call) {
  std::vector<std::vector<DimRole>> roles;
  if (call.op != "einsum" || !call.arguments.contains("equation") || !call.arguments["equation"].is_string()) return roles;
  EinsumEquation equation;
  std::size_t operands = call.list_size("operands");
  if (operands == 0 || read_einsum_terms(call.arguments["equation"].get<std::string>(), operands, equation)) return roles;
  for (const std::vector<int>& term : equation.terms) {
    std::vector<DimRole>& operand = roles.emplace_back();
    if (std::find(term.begin(), term.end(), kEinsumEllipsis) != term.end()) continue;
    for (int label : term) operand.push_back(role_of_subscript(einsum_letter(label)));
  }
  return roles;
}

// The first named dim of an einsum operand that sits under a subscript of another role, once
// the arguments in `changed` are transposed (a, b): "T (a sequence length) under subscript d of
// k"; nullopt when every named dim agrees. `operand_sources`: each operand's layout source.
std::optional<std::string> subscript_disagreement(const std::vector<std::vector<DimRole>>& roles,
                                                  const std::vector<const LayoutSource*>& operand_sources,
                                                  const std::vector<const LayoutSource*>& changed, int a, int b) {
  for (std::size_t i = 0; i < roles.size() && i < operand_sources.size(); ++i) {
    const LayoutSource* source = operand_sources[i];
    if (!source || roles[i].size() != source->shape.size()) continue;
    std::vector<std::string> names = source->written() ? written_names(source->shape) : source->dim_names;
    if (names.size() != roles[i].size()) continue;
    if (std::find(changed.begin(), changed.end(), source) != changed.end()) {
      std::swap(names[static_cast<std::size_t>(a)], names[static_cast<std::size_t>(b)]);
    }
    for (std::size_t d = 0; d < names.size(); ++d) {
      DimRole named = role_of_dim(names, static_cast<int>(d));
      if (named == DimRole::Unknown || roles[i][d] == DimRole::Unknown || named == roles[i][d]) continue;
      return fmt::format("{} ({}) would sit under a subscript of a {} in {}", names[d], role_name(named), role_name(roles[i][d]), source->name);
    }
  }
  return std::nullopt;
}

// The calls of op `op` (at their written places, /calls/i) that made the call's tensor arguments.
std::vector<std::size_t> producers(const Spec& spec, const CallReport& checked, const std::string& op) {
  std::vector<std::size_t> found;
  for (const ResolvedArgument& resolved : checked.arguments) {
    if (resolved.source.kind != ArgumentSource::Kind::Output) continue;
    std::optional<std::size_t> index = call_index(spec, resolved.source.call);
    if (!index || spec.calls[*index].op != op || !CallContext::is_calls_entry(spec.calls[*index], *index)) continue;
    if (std::find(found.begin(), found.end(), *index) == found.end()) found.push_back(*index);
  }
  return found;
}

// The tensor a cat joins copies of (cat([x, x]): "x"); "" when its pieces differ or are not named.
std::string copies_joined(const CallDecl& cat) {
  std::set<std::string> pieces;
  for (std::size_t i = 0; i < cat.list_size("tensors"); ++i) {
    auto piece = cat.tensors.find(list_element("tensors", i));
    pieces.insert(piece != cat.tensors.end() && piece->second.kind == ArgRef::Kind::Named ? piece->second.name : "");
  }
  return cat.op == "cat" && cat.list_size("tensors") > 1 && pieces.size() == 1 ? *pieces.begin() : "";
}

// A tensor tiled on `dim` of a rank-`rank` result made by call `made_by` (copies joined by cat:
// xPos's cat((scale, scale), dim=-1); repeat_interleave: upsampled frames), `tiled` long there:
// the text of the checked call's other argument that asks for that tiling, its dim lined up with
// `dim` as broadcasting lines them up holding the tiled size; nullopt when none does.
std::optional<std::string> tiling_asked_for(const CallReport& checked, const std::string& made_by, std::size_t rank, std::size_t dim,
                                            const DimExpr& tiled) {
  for (const ResolvedArgument& other : checked.arguments) {
    if ((other.source.kind == ArgumentSource::Kind::Output && other.source.call == made_by) || other.shape.size() < rank - dim) continue;
    if (!(other.shape[other.shape.size() - (rank - dim)] == tiled)) continue;
    return fmt::format("tiled on dim {} it is {} long, the size {} has there", dim, tiled.str(), other.name);
  }
  return std::nullopt;
}

// The same for copies of one tensor joined by `cat` on `dim` instead.
std::optional<std::string> tiling_asked_for(const Report& report, const CallReport& checked, const CallDecl& cat, std::size_t dim) {
  const CallReport* made = call_report(report, cat.id);
  if (!made || made->arguments.empty() || made->outputs.empty()) return std::nullopt;
  const Shape& piece = made->arguments.front().shape;
  const std::size_t rank = made->outputs.front().shape.size();
  if (dim >= piece.size() || piece.size() != rank) return std::nullopt;
  std::optional<DimExpr> tiled = dim_mul(piece[dim], static_cast<std::int64_t>(cat.list_size("tensors")));
  return tiled ? tiling_asked_for(checked, cat.id, rank, dim, *tiled) : std::nullopt;
}

// repeat_interleave on another dim: frames upsampled by repeating each along the channels
// (repeat_interleave(2, dim=2) on (B, T/2, D)) where the time dim was meant. Each other dim of
// the repeat_interleaves (integer count and dim) that made the call's arguments, nearest first;
// consistent when another argument holds the repeated size in that dim.
std::vector<Fix> repeat_interleave_dim_candidates(const Spec& spec, const Report& report, const CallReport& checked) {
  std::vector<Fix> fixes;
  for (std::size_t index : producers(spec, checked, "repeat_interleave")) {
    const CallDecl& repeat = spec.calls[index];
    const CallReport* made = call_report(report, repeat.id);
    const nlohmann::json& dim = repeat.arguments.value("dim", nlohmann::json());
    const nlohmann::json& repeats = repeat.arguments.value("repeats", nlohmann::json());
    if (!made || made->arguments.empty() || made->outputs.empty() || !dim.is_number_integer() || !repeats.is_number_integer()) continue;
    const Shape& input = made->arguments.front().shape;
    const auto rank = static_cast<std::int64_t>(input.size());
    std::int64_t written = dim.get<std::int64_t>();
    if (written < -rank || written >= rank || repeats.get<std::int64_t>() < 2) continue;
    if (written < 0) written += rank;
    std::vector<std::int64_t> others;
    for (std::int64_t other = 0; other < rank; ++other) {
      if (other != written) others.push_back(other);
    }
    std::stable_sort(others.begin(), others.end(), [&](std::int64_t a, std::int64_t b) { return std::abs(a - written) < std::abs(b - written); });
    std::vector<std::string> names = written_names(made->arguments.front().written());
    for (std::int64_t other : others) {
      const bool negative = dim.get<std::int64_t>() < 0;
      const std::int64_t shown = negative ? other - rank : other;
      Fix fix = candidate(fmt::format("repeat along dim {} in call \"{}\" (written on dim {}): repeat_interleave({}, dim={})", shown, repeat.id,
                                      dim.get<std::int64_t>(), repeats.get<std::int64_t>(), shown),
                          {{{"op", "replace"}, {"path", repeat.pointer + "/dim"}, {"value", shown}}});
      std::optional<DimExpr> tiled = dim_mul(input[static_cast<std::size_t>(other)], repeats.get<std::int64_t>());
      std::optional<std::string> asked =
          tiled ? tiling_asked_for(checked, repeat.id, static_cast<std::size_t>(rank), static_cast<std::size_t>(other), *tiled) : std::nullopt;
      if (asked) {
        fix.semantics = FixSemantics::Consistent;
        fix.semantics_note = *asked;
      } else if (role_of_dim(names, static_cast<int>(other)) == DimRole::Batch) {
        fix.semantics = FixSemantics::Suspect;
        fix.semantics_note = "the copies would become new batch entries";
      }
      fixes.push_back(std::move(fix));
    }
  }
  return fixes;
}

// torch.cat joining on another dim: a KV cache concatenated on the heads dim (valid only while
// the cache is one step long) rather than the sequence. The cats that made the call's arguments
// with one dim and rank change together (key and value alike), then each alone.
std::vector<Fix> cat_dim_candidates(const Spec& spec, const Report& report, const CallReport& checked) {
  std::map<std::pair<std::int64_t, std::size_t>, std::vector<std::size_t>> by_dim;  // (dim, rank) -> cats
  std::map<std::pair<std::int64_t, std::size_t>, std::vector<std::string>> names_of;  // the first cat's output dim names
  for (std::size_t index : producers(spec, checked, "cat")) {
    const CallReport* made = call_report(report, spec.calls[index].id);
    const nlohmann::json& dim = spec.calls[index].arguments.contains("dim") ? spec.calls[index].arguments["dim"] : nlohmann::json(0);
    if (!made || made->outputs.empty() || !dim.is_number_integer()) continue;
    auto rank = static_cast<std::int64_t>(made->outputs.front().shape.size());
    std::int64_t written = dim.get<std::int64_t>();
    if (written < -rank || written >= rank) continue;
    std::pair<std::int64_t, std::size_t> key{written < 0 ? written + rank : written, static_cast<std::size_t>(rank)};
    by_dim[key].push_back(index);
    // The pieces' dims by their written names (the output's B of cat([x, y], dim=0) is no one name).
    std::vector<std::string> names = made->outputs.front().dim_names;
    if (!made->arguments.empty() && !made->arguments.front().written().empty()) names = written_names(made->arguments.front().written());
    names_of.emplace(key, std::move(names));
  }
  std::vector<Fix> fixes;
  for (const auto& [key, cats] : by_dim) {
    // The other dims in the order they are tried: a cat written on a dim within each sample
    // joins its pieces within each sample, so a batch dim comes last (on the batch the pieces
    // become new samples: Informer's known steps and placeholders as 2*B sequences), and of the
    // rest the nearest to the written dim first (dim=2 for dim=1, the slip of one place).
    const std::vector<std::string>& names = names_of[key];
    const std::int64_t written_dim = key.first;  // a copy: clang 14 cannot capture a structured binding
    const bool written_on_batch = role_of_dim(names, static_cast<int>(written_dim)) == DimRole::Batch;
    std::vector<std::size_t> others;
    for (std::size_t dim = 0; dim < key.second; ++dim) {
      if (static_cast<std::int64_t>(dim) != key.first) others.push_back(dim);
    }
    auto order = [&](std::size_t dim) {
      const bool batch = !written_on_batch && role_of_dim(names, static_cast<int>(dim)) == DimRole::Batch;
      return std::make_pair(batch, std::abs(static_cast<std::int64_t>(dim) - written_dim));
    };
    std::stable_sort(others.begin(), others.end(), [&](std::size_t a, std::size_t b) { return order(a) < order(b); });
    std::vector<std::vector<std::size_t>> groups;
    if (cats.size() > 1) groups.push_back(cats);
    for (std::size_t index : cats) groups.push_back({index});
    for (const std::vector<std::size_t>& group : groups) {
      for (std::size_t dim : others) {
        nlohmann::json patch = nlohmann::json::array();
        std::vector<std::string> ids;
        for (std::size_t index : group) {
          patch.push_back({{"op", "add"}, {"path", spec.calls[index].pointer + "/dim"}, {"value", dim}});
          ids.push_back(fmt::format("\"{}\"", spec.calls[index].id));
        }
        Fix fix = candidate(fmt::format("join the tensors of cat call{} {} on dim {}: torch.cat([...], dim={})", group.size() > 1 ? "s" : "",
                                        fmt::join(ids, " and "), dim, dim),
                            std::move(patch));
        // Copies of one tensor joined tile it (classifier-free guidance's cat([x, x]) on the
        // batch): joined on another dim they tile something else, which no other argument asks for.
        for (std::size_t index : group) {
          std::string copied = copies_joined(spec.calls[index]);
          if (copied.empty()) continue;
          if (std::optional<std::string> asked = tiling_asked_for(report, checked, spec.calls[index], dim)) {
            fix.semantics = FixSemantics::Consistent;
            fix.semantics_note = *asked;
            continue;
          }
          fix.semantics = FixSemantics::Suspect;
          fix.semantics_note = fmt::format("call \"{}\" joins copies of {}, which tiles it on dim {}: on dim {} it would tile another dim",
                                           spec.calls[index].id, copied, key.first, dim);
        }
        fixes.push_back(std::move(fix));
      }
    }
  }
  return fixes;
}

// Tensor.repeat with two counts exchanged: DETR's query_embed.unsqueeze(1).repeat(B, 1, 1), which
// tiles the queries B times where repeat(1, B, 1) gives each batch entry its own copy.
std::vector<Fix> repeat_count_candidates(const Spec& spec, const CallReport& checked) {
  std::vector<Fix> fixes;
  for (std::size_t index : producers(spec, checked, "repeat")) {
    const CallDecl& repeat = spec.calls[index];
    const nlohmann::json& counts = repeat.arguments.contains("repeats") ? repeat.arguments["repeats"] : nlohmann::json();
    if (!counts.is_array() || repeat.outputs.empty()) continue;
    auto input = repeat.tensors.find("input");
    std::string input_name = input != repeat.tensors.end() && input->second.kind == ArgRef::Kind::Named ? input->second.name : "input";
    for (std::size_t a = 0; a < counts.size(); ++a) {
      for (std::size_t b = a + 1; b < counts.size(); ++b) {
        if (counts[a] == counts[b]) continue;
        nlohmann::json exchanged = counts;
        std::swap(exchanged[a], exchanged[b]);
        std::vector<std::string> written;
        for (const nlohmann::json& count : exchanged) written.push_back(count.is_string() ? count.get<std::string>() : count.dump());
        fixes.push_back(candidate(fmt::format("exchange repeat counts {} and {} of call \"{}\": {} = {}.repeat({})", a, b, repeat.id,
                                              repeat.outputs.front(), input_name, fmt::join(written, ", ")),
                                  {{{"op", "replace"}, {"path", repeat.pointer + "/repeats"}, {"value", std::move(exchanged)}}}));
      }
    }
  }
  return fixes;
}

// The two tensor operands of an elementwise operator that broadcasts them (add, masked_fill,
// ...), with their references in the call; empty for any other call.
struct Operand {
  const ResolvedArgument* resolved;
  const ArgRef* ref;
};

std::vector<Operand> broadcast_operands(const CallDecl& call, const CallReport& checked) {
  static const std::array<const char*, 9> ops = {"add", "sub", "mul", "div", "masked_fill", "logical_and", "logical_or", "bitwise_and", "bitwise_or"};
  std::vector<Operand> operands;
  if (!is_comparison(call.op) && std::none_of(ops.begin(), ops.end(), [&](const char* op) { return call.op == op; })) return operands;
  for (const ResolvedArgument& resolved : checked.arguments) {
    auto ref = call.tensors.find(resolved.name);
    if (ref != call.tensors.end() && !resolved.shape.empty()) operands.push_back({&resolved, &ref->second});
  }
  if (operands.size() != 2) operands.clear();
  return operands;
}

// Whether `shape` broadcasts into `target` without growing it: right-aligned, each dim equal or 1.
bool fits_into(const Symbols& symbols, const Shape& shape, const Shape& target) {
  if (shape.size() > target.size()) return false;
  std::size_t offset = target.size() - shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (symbols.compare(shape[i], DimExpr::constant(1)) == Symbols::Verdict::Equal) continue;
    if (symbols.compare(shape[i], target[offset + i]) != Symbols::Verdict::Equal) return false;
  }
  return true;
}

std::optional<std::int64_t> element_count(const Shape& shape) {
  std::int64_t count = 1;
  for (const DimExpr& dim : shape) {
    if (!dim.is_constant() || dim.offset < 0 || (dim.offset > 0 && count > INT64_MAX / dim.offset)) return std::nullopt;
    count *= dim.offset;
  }
  return count;
}

// The source before an unsqueeze that made `source` (Swin's bias.unsqueeze(0)), and the dim it
// inserted; nullopt when no unsqueeze of a traceable input made it.
std::optional<std::pair<LayoutSource, int>> before_unsqueeze(const Spec& spec, const Report& report, const LayoutSource& source) {
  if (source.written()) return std::nullopt;
  const CallDecl& producer = spec.calls[source.producer];
  const CallReport* produced = call_report(report, producer.id);
  auto input = producer.tensors.find("input");
  if (producer.op != "unsqueeze" || !produced || input == producer.tensors.end() || !producer.arguments.contains("dim") ||
      !producer.arguments["dim"].is_number_integer()) {
    return std::nullopt;
  }
  auto rank = static_cast<std::int64_t>(source.shape.size());
  std::int64_t dim = producer.arguments["dim"].get<std::int64_t>();
  if (dim < -rank || dim >= rank) return std::nullopt;
  for (const ResolvedArgument& upstream : produced->arguments) {
    if (upstream.name != "input") continue;
    std::optional<LayoutSource> entered = layout_source(spec, report, upstream, input->second);
    if (entered && static_cast<std::int64_t>(entered->shape.size()) + 1 == rank) {
      return std::make_pair(std::move(*entered), static_cast<int>(dim < 0 ? dim + rank : dim));
    }
  }
  return std::nullopt;
}

// Operands that do not broadcast because one of them is laid out otherwise: the smaller operand
// (a bias, a table, a mask: fewer elements) permuted where its layout entered, before an
// unsqueeze that made it (Swin's (N, N, H) bias: rel_bias.permute(2, 0, 1), not the (BW, H, N, N)
// scores, which later calls read, transposed). Of the orderings that fit the other operand, the
// one that keeps dims of equal size in their order.
std::vector<Fix> permute_operand_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  std::vector<Fix> fixes;
  std::vector<Operand> operands = broadcast_operands(call, checked);
  if (operands.empty()) return fixes;
  std::optional<std::int64_t> first = element_count(operands[0].resolved->shape), second = element_count(operands[1].resolved->shape);
  if (second && (!first || *second < *first)) std::swap(operands[0], operands[1]);
  constexpr std::size_t kMaxRank = 5;  // 119 orderings, compared without re-checking
  for (std::size_t which = 0; which < 2; ++which) {
    const Operand& moved = operands[which];
    const Shape& target = operands[1 - which].resolved->shape;
    std::optional<LayoutSource> source = layout_source(spec, report, *moved.resolved, *moved.ref);
    if (!source) continue;
    std::optional<int> unsqueezed;
    if (std::optional<std::pair<LayoutSource, int>> upstream = before_unsqueeze(spec, report, *source)) {
      source = std::move(upstream->first);
      unsqueezed = upstream->second;
    }
    Shape sizes = report.symbols.resolve(source->shape);
    if (sizes.size() < 2 || sizes.size() > kMaxRank) continue;
    // As written, without the substitutions of the graph's conditions (T -> 8 where it is valid
    // only if T == 8, which makes every ordering of (T, T, 8) fit): an ordering that fits as
    // written holds for every size and comes first, and dims of one size are told by their names.
    const Shape& written = source->shape;
    const Shape& target_written = operands[1 - which].resolved->written();
    std::vector<int> order(sizes.size());
    for (std::size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int>(d);
    std::optional<std::vector<int>> best;
    int best_swaps = 0;
    bool best_as_written = false;
    while (std::next_permutation(order.begin(), order.end())) {
      Shape permuted, permuted_written;
      for (int d : order) {
        permuted.push_back(sizes[static_cast<std::size_t>(d)]);
        permuted_written.push_back(written[static_cast<std::size_t>(d)]);
      }
      if (unsqueezed) {
        permuted.insert(permuted.begin() + *unsqueezed, DimExpr::constant(1));
        permuted_written.insert(permuted_written.begin() + *unsqueezed, DimExpr::constant(1));
      }
      if (!fits_into(report.symbols, permuted, target)) continue;
      const bool as_written = fits_into(Symbols{}, permuted_written, target_written);
      int swaps = 0;  // dims of one size put out of their order
      for (std::size_t i = 0; i < order.size(); ++i) {
        for (std::size_t j = i + 1; j < order.size(); ++j) {
          if (order[i] > order[j] && written[static_cast<std::size_t>(order[i])] == written[static_cast<std::size_t>(order[j])]) ++swaps;
        }
      }
      if (!best || (as_written && !best_as_written) || (as_written == best_as_written && swaps < best_swaps)) {
        best = order;
        best_swaps = swaps;
        best_as_written = as_written;
      }
    }
    if (!best) continue;
    std::vector<int> dims = *best;
    Relayout permute{"permute", {{"dims", dims}}, fmt::format(".permute({})", fmt::join(dims, ", ")), [dims](const Shape& shape) {
                       Shape permuted;
                       for (int d : dims) permuted.push_back(shape[static_cast<std::size_t>(d)]);
                       return permuted;
                     }};
    std::vector<std::string> names = dim_texts(*source), permuted_names;
    for (int d : dims) permuted_names.push_back(names[static_cast<std::size_t>(d)]);
    std::string result = fmt::format("to ({})", fmt::join(permuted_names, ", "));
    fixes.push_back(candidate(relayout_text(spec, *source, "permute", result, permute), relayout_patch(spec, {&*source}, permute)));
  }
  return fixes;
}

// The calls that only reshape or move dims, written alike in two chains (flatten(2).permute(2, 0,
// 1) on the features and on the positions alike).
bool reshapes_only(const CallDecl& call) {
  static const std::set<std::string> ops = {"flatten", "view", "reshape", "permute", "transpose", "unsqueeze", "squeeze", "contiguous"};
  return call.module.empty() && ops.count(call.op) != 0;
}

// The tensor an operand is made from by a chain of reshaping calls (reshapes_only), the other
// operand being made by a chain written alike, call for call; and the chain's first call. The
// name and the call of the tensor before the chain, for `name`, and the same for `twin`.
struct AlikeChains {
  std::string name, twin;
  const CallDecl* first = nullptr;
  const CallDecl* twin_first = nullptr;
};

std::optional<AlikeChains> alike_chains(const Spec& spec, const CallDecl& call, std::string name, std::string twin) {
  AlikeChains chains;
  const CallDecl* reader = &call;
  const CallDecl* twin_reader = &call;
  bool merges = false;  // a flatten, view or reshape: which dims it merges depends on the layout
  for (int step = 0; step < 8; ++step) {
    const CallDecl* made = producer_of(spec, name, reader);
    const CallDecl* twin_made = producer_of(spec, twin, twin_reader);
    if (!made || !twin_made || made == twin_made || !reshapes_only(*made) || made->op != twin_made->op ||
        made->arguments != twin_made->arguments || made->outputs.size() != 1 || twin_made->outputs.size() != 1) {
      break;
    }
    merges = merges || made->op == "flatten" || made->op == "view" || made->op == "reshape";
    chains.first = made;
    chains.twin_first = twin_made;
    name = input_name(*made, "input");
    twin = input_name(*twin_made, "input");
    reader = made;
    twin_reader = twin_made;
    if (name.empty() || twin.empty()) return std::nullopt;
  }
  if (!chains.first || !merges) return std::nullopt;
  chains.name = name;
  chains.twin = twin;
  return chains;
}

// Where the tensor `name`, read by `reader`, entered: declared (its written shape) or made by a
// call (an inserted call after it); `by_glue`: made by an operator that lays it out as the code
// says (a cat, a permute), not declared and not a layer module's output, whose layout PyTorch fixes.
std::optional<LayoutSource> entered_at(const Spec& spec, const Report& report, const std::string& name, const CallDecl& reader, bool& by_glue) {
  const CallDecl* made = producer_of(spec, name, &reader);
  by_glue = false;
  if (!made) {
    const TensorDecl* declared = spec.find_tensor(name);
    if (!declared || declared->shape_pointer.empty()) return std::nullopt;
    return LayoutSource{name, declared->shape, declared->shape_pointer, 0, 0, {}};
  }
  const auto index = static_cast<std::size_t>(made - spec.calls.data());
  const CallReport* produced = call_report(report, made->id);
  auto output = std::find(made->outputs.begin(), made->outputs.end(), name);
  const auto at = static_cast<std::size_t>(output - made->outputs.begin());
  if (!produced || output == made->outputs.end() || at >= produced->outputs.size() || !CallContext::is_calls_entry(*made, index) ||
      !spec.value().contains(nlohmann::json::json_pointer(made->pointer + "/outputs"))) {
    return std::nullopt;
  }
  by_glue = made->module.empty();
  const NamedOutput& shape = produced->outputs[at];
  return LayoutSource{name, shape.shape, "", index, at, shape.dim_names};
}

// Two operands of an elementwise operator made by chains of reshaping calls written alike
// (alike_chains), from tensors that hold the same dims in another order: DETR's sine positions
// cat((pos_y, pos_x), dim=3) (B, H, W, 256) beside the (B, 256, H, W) features, both then
// flatten(2).permute(2, 0, 1). The chain was written for one layout; the other tensor is
// permuted to it where it is made, before the chain. A tensor declared or made by a layer module
// (a Conv2d's (B, C, H, W)) has the layout its maker gives it: the one a glue operator made is the
// one permuted, or, when neither or both are, each (the first operand's layout kept first).
std::vector<Fix> alike_chain_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  std::vector<Fix> fixes;
  std::vector<Operand> operands = broadcast_operands(call, checked);
  if (operands.size() != 2 || operands[0].ref->kind != ArgRef::Kind::Named || operands[1].ref->kind != ArgRef::Kind::Named) return fixes;
  std::optional<AlikeChains> chains = alike_chains(spec, call, operands[0].ref->name, operands[1].ref->name);
  if (!chains) return fixes;
  struct Side {
    std::optional<LayoutSource> source;
    bool by_glue = false;
  };
  std::array<Side, 2> sides;
  sides[0].source = entered_at(spec, report, chains->name, *chains->first, sides[0].by_glue);
  sides[1].source = entered_at(spec, report, chains->twin, *chains->twin_first, sides[1].by_glue);
  if (!sides[0].source || !sides[1].source) return fixes;
  Shape first = report.symbols.resolve(sides[0].source->shape), second = report.symbols.resolve(sides[1].source->shape);
  constexpr std::size_t kMaxRank = 5;
  if (first.size() != second.size() || first.size() < 2 || first.size() > kMaxRank || first == second) return fixes;
  // The order of `from`'s dims that gives `to`, keeping dims of one size in their order.
  auto order_to = [](const Shape& from, const Shape& to) -> std::optional<std::vector<int>> {
    std::vector<int> order;
    std::vector<bool> taken(from.size(), false);
    for (const DimExpr& dim : to) {
      std::size_t d = 0;
      while (d < from.size() && (taken[d] || !(from[d] == dim))) ++d;
      if (d == from.size()) return std::nullopt;
      taken[d] = true;
      order.push_back(static_cast<int>(d));
    }
    return order;
  };
  const bool one_by_glue = sides[0].by_glue != sides[1].by_glue;
  for (std::size_t odd : {std::size_t{1}, std::size_t{0}}) {
    if (one_by_glue && !sides[odd].by_glue) continue;
    const LayoutSource& source = *sides[odd].source;
    std::optional<std::vector<int>> dims = order_to(odd == 0 ? first : second, odd == 0 ? second : first);
    if (!dims) return fixes;
    std::vector<int> order = *dims;
    Relayout permute{"permute", {{"dims", order}}, fmt::format(".permute({})", fmt::join(order, ", ")), [order](const Shape& shape) {
                       Shape permuted;
                       for (int d : order) permuted.push_back(shape[static_cast<std::size_t>(d)]);
                       return permuted;
                     }};
    std::vector<std::string> names = dim_texts(source), permuted_names;
    for (int d : order) permuted_names.push_back(names[static_cast<std::size_t>(d)]);
    const LayoutSource& other = *sides[1 - odd].source;
    Fix fix = candidate(relayout_text(spec, source, "permute", fmt::format("to ({}), the layout of {}", fmt::join(permuted_names, ", "), other.name),
                                      permute),
                        relayout_patch(spec, {&source}, permute));
    // A tensor a permute or transpose made: that call's own dims rewritten say it as directly
    // (argument_value_candidates), without a second move after it.
    const bool moved_dims = !source.written() && (spec.calls[source.producer].op == "permute" || spec.calls[source.producer].op == "transpose");
    if (!moved_dims) {
      fix.semantics = FixSemantics::Consistent;
      fix.semantics_note = fmt::format("{} and {} then enter the calls written alike for them (from call \"{}\" and call \"{}\") in one layout",
                                       source.name, other.name, (odd == 0 ? chains->first : chains->twin_first)->id,
                                       (odd == 0 ? chains->twin_first : chains->first)->id);
    }
    fixes.push_back(std::move(fix));
  }
  return fixes;
}

// An operand larger than the other in some dims, each a constant where the other has a
// symbol or a smaller size: a buffer made for the longest input (nanoGPT's (1, 1, 1024, 1024)
// causal bias) cut to this input's sizes, bias[:, :, :T, :T], where it entered the graph
// (through comparisons and arithmetic with numbers: the mask bias == 0 is cut at bias).
std::vector<Fix> slice_operand_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  std::vector<Fix> fixes;
  std::vector<Operand> operands = broadcast_operands(call, checked);
  for (std::size_t which = 0; which < operands.size(); ++which) {
    const Operand& larger = operands[which];
    const Operand& other = operands[1 - which];
    const Shape& sizes = larger.resolved->shape;
    const Shape& target = other.resolved->shape;
    if (sizes.size() > target.size()) continue;
    std::optional<LayoutSource> source = layout_source(spec, report, *larger.resolved, *larger.ref, true);
    std::optional<LayoutSource> named = layout_source(spec, report, *other.resolved, *other.ref);
    if (!source || source->shape.size() != sizes.size()) continue;
    std::size_t offset = target.size() - sizes.size();
    std::vector<std::string> written_index, inserted_index, cut_text;
    Shape cut = source->shape;
    bool sliced = false, possible = true, constant = true, frames_cut = false, newest = false;
    for (std::size_t d = 0; d < sizes.size() && possible; ++d) {
      const DimExpr& size = sizes[d];
      const DimExpr& wanted = target[offset + d];
      if (report.symbols.compare(size, wanted) == Symbols::Verdict::Equal ||
          report.symbols.compare(size, DimExpr::constant(1)) == Symbols::Verdict::Equal) {
        written_index.push_back(":");
        inserted_index.push_back(":");
        cut_text.push_back(source->shape[d].str());
        continue;
      }
      // A length a few frames past the other's, T+1 against T (an even-kernel Conv1d padded by
      // K // 2 gives one frame more): cut from the start like a buffer, the extra frames at the end.
      const bool longer_by_frames = !size.is_constant() && !wanted.is_constant() && size.symbol == wanted.symbol &&
                                    size.coeff == wanted.coeff && size.offset > wanted.offset && size.offset - wanted.offset <= 2;
      if (longer_by_frames) {
        const std::string index = fmt::format(":-{}", size.offset - wanted.offset);
        written_index.push_back(index);
        inserted_index.push_back(index);
        cut_text.push_back(wanted.str());
        cut[d] = wanted;
        sliced = frames_cut = true;
        continue;
      }
      possible = size.is_constant() && (!wanted.is_constant() || wanted.offset < size.offset);
      // The other operand's dim by the name it was written with, else its size.
      const DimExpr& written = other.resolved->written().size() == target.size() ? other.resolved->written()[offset + d] : wanted;
      std::string name = written.is_plain_symbol() ? written.symbol : wanted.str();
      if (!written.is_plain_symbol() && named && offset + d < named->dim_names.size() && !named->dim_names[offset + d].empty()) {
        name = named->dim_names[offset + d];
      }
      cut_text.push_back(name);
      // A table longer by one or two rows than the tokens it is added to holds the positions
      // of the prefix tokens first (ViT's class token, DeiT's distillation token: timm adds
      // pos_embed[:, 1:] to the patches); a longer one is a buffer cut from its start.
      std::int64_t prefix = wanted.is_constant() ? size.offset - wanted.offset : 0;
      // The rows of a square table over the keys (a (1, H, S, S) position bias or mask made for
      // every position), met by fewer queries over the same keys: a decoding step's queries are
      // the newest positions, its last rows (Hugging Face's T5: position_bias[:, :, -q_len:, :]).
      const bool newest_rows = d + 2 == sizes.size() && wanted.is_constant() && sizes.back() == size &&
                               report.symbols.compare(sizes.back(), target.back()) == Symbols::Verdict::Equal;
      if (newest_rows) {
        newest = true;
        written_index.push_back(fmt::format("-{}:", wanted.offset));
        inserted_index.push_back(fmt::format("-{}:", wanted.offset));
      } else if (prefix == 1 || prefix == 2) {
        written_index.push_back(fmt::format("{}:", prefix));
        inserted_index.push_back(fmt::format("{}:", prefix));
      } else {
        written_index.push_back(":" + name);
        inserted_index.push_back(wanted.is_constant() ? fmt::format(":{}", wanted.offset) : "");
      }
      constant = constant && wanted.is_constant();
      cut[d] = written.is_plain_symbol() ? written : wanted;
      sliced = true;
    }
    if (!possible || !sliced || (!source->written() && !constant)) continue;
    // Frames cut off the end are written as Python code drops them, without the full slices after
    // (wav2vec2's hidden_states[:, :, :-1]).
    std::vector<std::string> shown = written_index;
    while (frames_cut && shown.size() > 1 && shown.back() == ":") shown.pop_back();
    std::string python = fmt::format("[{}]", fmt::join(shown, ", "));
    Relayout slice{"getitem", {{"index", fmt::format("[{}]", fmt::join(inserted_index, ", "))}}, python,
                   [cut](const Shape&) { return cut; }};
    std::string result = fmt::format("to the sizes of {} ({})", other.resolved->name, fmt::join(cut_text, ", "));
    fixes.push_back(candidate(relayout_text(spec, *source, "slice", result, slice), relayout_patch(spec, {&*source}, slice)));
    if (newest) {
      fixes.back().semantics = FixSemantics::Consistent;
      fixes.back().semantics_note = "the queries are the newest positions: the table's last rows";
    }
  }
  return fixes;
}

// Arguments of one call whose batch sizes differ by a whole factor (latents doubled by
// cat([x, x]) for classifier-free guidance, the text context not): the smaller ones tiled on the
// batch as the larger was (copies joined by cat, or repeat: .repeat(k, 1, 1); repeat_interleave:
// .repeat_interleave(k, dim=0)), where their layout entered, together, so that each entry meets
// its own. A fix that moves or merges the batch instead holds only while a batch equals a
// sequence. Only when the tiling is found upstream: it says which order the entries have.
std::vector<Fix> batch_tiling_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  std::vector<Fix> fixes;
  for (const ResolvedArgument& larger : checked.arguments) {
    if (larger.shape.size() < 2) continue;
    const DimExpr& tiled = larger.shape[0];
    if (tiled.is_constant() || tiled.symbol.empty() || tiled.coeff < 2 || tiled.offset != 0) continue;
    DimExpr batch = DimExpr::named(tiled.symbol.str());
    if (role_of_name(batch.str()) != DimRole::Batch || batch.str() != tiled.symbol.str()) continue;
    const std::int64_t factor = tiled.coeff;
    // How the larger argument was tiled: the first tiling call up its chain of inputs.
    std::string tiling, tiling_call;
    ArgumentSource source = larger.source;
    for (int step = 0; step < 6 && tiling.empty() && source.kind == ArgumentSource::Kind::Output; ++step) {
      std::optional<std::size_t> producer = call_index(spec, source.call);
      const CallReport* made = call_report(report, source.call);
      if (!producer || !made) break;
      const CallDecl& upstream = spec.calls[*producer];
      const nlohmann::json& dim = upstream.arguments.value("dim", nlohmann::json(0));
      if (upstream.op == "cat" && dim == 0 && upstream.list_size("tensors") == static_cast<std::size_t>(factor)) {
        if (!copies_joined(upstream).empty()) tiling = "cat";
      } else if (upstream.op == "repeat") {
        tiling = "repeat";
      } else if (upstream.op == "repeat_interleave" && dim == 0) {
        tiling = "repeat_interleave";
      }
      if (!tiling.empty()) tiling_call = upstream.id;
      auto input = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
      if (input == made->arguments.end()) break;
      source = input->source;
    }
    if (tiling.empty()) continue;
    std::vector<LayoutSource> smaller;
    for (const ResolvedArgument& other : checked.arguments) {
      auto ref = call.tensors.find(other.name);
      if (other.shape.size() < 2 || other.shape[0] != batch || ref == call.tensors.end()) continue;
      std::optional<LayoutSource> entered = layout_source(spec, report, other, ref->second);
      // Through the Linears that made it (to_k and to_v of one context): a Linear acts on the
      // features, so its input tiled on the batch is its output tiled; the context is tiled once.
      for (int step = 0; step < 4 && entered && !entered->written(); ++step) {
        const CallDecl& producer = spec.calls[entered->producer];
        const ModuleDecl* module = producer.module.empty() ? nullptr : spec.find_module(producer.module);
        const CallReport* made = call_report(report, producer.id);
        auto input = producer.tensors.find("input");
        if (!module || module->type != "Linear" || !made || input == producer.tensors.end()) break;
        auto upstream = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
        std::optional<LayoutSource> before = upstream == made->arguments.end() ? std::nullopt : layout_source(spec, report, *upstream, input->second);
        if (!before || before->shape.empty() || before->shape[0] != batch) break;
        entered = std::move(before);
      }
      if (!entered || entered->shape.empty()) continue;
      bool seen = std::any_of(smaller.begin(), smaller.end(), [&](const LayoutSource& s) { return s.name == entered->name && s.shape_pointer == entered->shape_pointer; });
      if (!seen) smaller.push_back(std::move(*entered));
    }
    if (smaller.empty()) continue;
    std::vector<const LayoutSource*> group;
    for (const LayoutSource& s : smaller) group.push_back(&s);
    const std::size_t rank = smaller.front().shape.size();
    if (std::any_of(smaller.begin(), smaller.end(), [&](const LayoutSource& s) { return s.shape.size() != rank; })) continue;
    std::vector<std::int64_t> counts(rank, 1);
    counts[0] = factor;
    nlohmann::json repeats = counts;
    std::string python = tiling == "repeat" ? fmt::format(".repeat({})", fmt::join(counts, ", ")) : fmt::format(".repeat_interleave({}, dim=0)", factor);
    nlohmann::json arguments = tiling == "repeat" ? nlohmann::json{{"repeats", repeats}} : nlohmann::json{{"repeats", factor}, {"dim", 0}};
    Relayout tile{tiling, arguments, python, [factor](const Shape& shape) {
                    Shape grown = shape;
                    if (std::optional<DimExpr> times = dim_mul(shape[0], factor)) grown[0] = *times;
                    return grown;
                  }};
    if (tiling == "cat") {  // copies joined, as the larger was
      tile.arguments = {{"dim", 0}};
      tile.copies = static_cast<std::size_t>(factor);
    }
    auto made_as = [&](const LayoutSource& s) {
      if (tiling != "cat") return fmt::format("{}{}", s.name, python);
      return fmt::format("torch.cat([{}])", fmt::join(std::vector<std::string>(static_cast<std::size_t>(factor), s.name), ", "));
    };
    std::vector<std::string> readings;
    for (const LayoutSource* s : group) readings.push_back(fmt::format("{} = {}", s->name, made_as(*s)));
    std::string text = fmt::format("tile {} on the batch as {} is tiled in call \"{}\", {}: {}", listed(group), tensor_or_argument(larger), tiling_call,
                                   group.size() == 1 && group.front()->written() ? "where it enters" : "where each is made", fmt::join(readings, "; "));
    Fix fix = candidate(text, relayout_patch(spec, group, tile));
    fix.semantics = FixSemantics::Consistent;
    fix.semantics_note = fmt::format("each of the {}*{} entries of {} then meets its own entry of {}, in the order the tiling gave them", factor,
                                     batch.str(), tensor_or_argument(larger), listed(group));
    fixes.push_back(std::move(fix));
  }
  return fixes;
}

// An argument whose batch was made by torch.cat on dim 0 of a tensor shared by the batch (one
// row: classifier-free guidance's empty-prompt embedding (1, 77, E)) and a batch of B rows (the
// prompts' (B, 77, E)), looked up through the Linears that project it (to_k and to_v of one
// context): B+1 rows where each half should have B. The shared row is expanded to the batch
// where it enters (the pipelines' negative_prompt_embeds.repeat(B, 1, 1)), so that each half
// holds one row per entry.
std::vector<Fix> shared_row_candidates(const Spec& spec, const Report& report, const CallReport& checked) {
  std::vector<Fix> fixes;
  std::set<std::string> seen_cats;
  for (const ResolvedArgument& argument : checked.arguments) {
    ArgumentSource source = argument.source;
    for (int step = 0; step < 4 && source.kind == ArgumentSource::Kind::Output; ++step) {
      std::optional<std::size_t> producer = call_index(spec, source.call);
      const CallReport* made = call_report(report, source.call);
      if (!producer || !made) break;
      const CallDecl& upstream = spec.calls[*producer];
      if (upstream.op == "cat") {
        const nlohmann::json& dim = upstream.arguments.value("dim", nlohmann::json(0));
        if (dim != 0 || !seen_cats.insert(upstream.id).second) break;
        const ResolvedArgument* shared = nullptr;
        const ResolvedArgument* batched = nullptr;
        for (const ResolvedArgument& piece : made->arguments) {
          if (piece.name.rfind("tensors[", 0) != 0 || piece.shape.size() < 2) continue;
          if (piece.shape[0] == DimExpr::constant(1) && !shared) shared = &piece;
          if (piece.shape[0].is_plain_symbol() && role_of_name(piece.shape[0].symbol.str()) == DimRole::Batch && !batched) batched = &piece;
        }
        if (!shared || !batched || shared->shape.size() != batched->shape.size()) break;
        if (!std::equal(shared->shape.begin() + 1, shared->shape.end(), batched->shape.begin() + 1)) break;
        auto ref = upstream.tensors.find(shared->name);
        std::optional<LayoutSource> entered = ref == upstream.tensors.end() ? std::nullopt : layout_source(spec, report, *shared, ref->second);
        if (!entered) break;
        const DimExpr batch = batched->shape[0];
        std::vector<std::string> sizes(entered->shape.size(), "-1");
        sizes[0] = batch.str();
        nlohmann::json size = nlohmann::json::array();
        size.push_back(batch.str());
        for (std::size_t d = 1; d < entered->shape.size(); ++d) size.push_back(-1);
        std::string python = fmt::format(".expand({})", fmt::join(sizes, ", "));
        Relayout expand{"expand", {{"size", size}}, python, [batch](const Shape& shape) {
                          Shape grown = shape;
                          grown[0] = batch;
                          return grown;
                        }};
        std::vector<const LayoutSource*> group{&*entered};
        Fix fix = candidate(fmt::format("expand {} (one row shared by the batch) to the {} rows it is joined with in call \"{}\", {}: {} = {}{}",
                                        entered->name, batch.str(), upstream.id, entered->written() ? "where it enters" : "where it is made",
                                        entered->name, entered->name, python),
                            relayout_patch(spec, group, expand));
        fix.semantics = FixSemantics::Consistent;
        fix.semantics_note = fmt::format("each of the {} entries gets its own copy of the shared row, as the other half of the cat has", batch.str());
        fixes.push_back(std::move(fix));
        break;
      }
      const ModuleDecl* module = upstream.module.empty() ? nullptr : spec.find_module(upstream.module);
      // Through the layers that act on the features only, and the layout-keeping operators.
      if (!(module && module->type == "Linear") && !keeps_layout(spec, upstream)) break;
      auto input = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
      if (input == made->arguments.end()) break;
      source = input->source;
    }
  }
  return fixes;
}

// A position table made for another input size (ViT fine-tuned at 384 px: 577 tokens, a
// 197-row table), shared over the batch (a dim of 1 where the other operand has more): no
// expression on the table's rows gives the other length, so the fix is a table resampled to it
// (F.interpolate over its grid of positions, the class token rows kept), a shape to pass.
std::vector<Fix> resampled_table_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  std::vector<Fix> fixes;
  std::vector<Operand> operands = broadcast_operands(call, checked);
  for (std::size_t which = 0; which < operands.size(); ++which) {
    const Shape& sizes = operands[which].resolved->shape;
    const Shape& target = operands[1 - which].resolved->shape;
    std::optional<LayoutSource> source = layout_source(spec, report, *operands[which].resolved, *operands[which].ref);
    if (!source || !source->written() || sizes.size() != target.size() || source->shape.size() != sizes.size() || sizes.size() < 2) continue;
    std::optional<std::size_t> resized;
    bool shared = false, fits = true;
    const DimExpr one = DimExpr::constant(1);
    for (std::size_t d = 0; d < sizes.size() && fits; ++d) {
      if (report.symbols.compare(sizes[d], target[d]) == Symbols::Verdict::Equal) continue;
      if (sizes[d] == one) {
        shared = true;
        continue;
      }
      fits = !resized && d + 1 < sizes.size() && sizes[d].is_constant() && target[d].is_constant() && target[d] != one;
      resized = d;
    }
    if (!fits || !shared || !resized) continue;
    const std::int64_t had = sizes[*resized].offset, wanted = target[*resized].offset;
    auto side = [](std::int64_t n) -> std::int64_t {
      auto root = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<std::int64_t>(n, 0)))));
      return root > 1 && root * root == n ? root : 0;
    };
    std::string how = fmt::format("interpolate its {} positions to {} (F.interpolate)", had, wanted);
    for (std::int64_t prefix : {0, 1, 2}) {
      if (side(had - prefix) && side(wanted - prefix)) {
        how = fmt::format("interpolate its {0}x{0} grid of positions to {1}x{1} (F.interpolate, bicubic){2}", side(had - prefix), side(wanted - prefix),
                          prefix == 0 ? "" : fmt::format(", its first {} row{} (class token) kept", prefix, prefix == 1 ? "" : "s"));
        break;
      }
    }
    Shape resampled = source->shape;
    resampled[*resized] = DimExpr::constant(wanted);
    fixes.push_back(candidate(fmt::format("resample {}, made for {} positions, to the {} of {}: {}", source->name, had, wanted,
                                          operands[1 - which].resolved->name, how),
                              {{{"op", "replace"}, {"path", source->shape_pointer}, {"value", shape_json(resampled)}}}));
  }
  return fixes;
}

// The pairs of tensor arguments of an operator that an argument swap exchanges, with the
// argument that follows the second of a pair when it is given the same tensor (value after key).
struct SwappableArguments {
  const char* first;
  const char* second;
  const char* follower;  // "" when none
};

std::vector<SwappableArguments> swappable_arguments(const std::string& op) {
  if (op == "MultiheadAttention" || op == "scaled_dot_product_attention") return {{"query", "key", "value"}};
  if (op == "Transformer") return {{"src", "tgt", ""}};
  if (op == "TransformerDecoderLayer" || op == "TransformerDecoder") return {{"tgt", "memory", ""}};
  return {};
}

// Key and value given in each other's place (F.scaled_dot_product_attention(q, v, k)), which
// the shapes say when the value's head size differs from the key's: the key's last dim is not
// the query's while the value's is. Inline shapes too: the flags' torch.Size values are tensors
// the user passed.
std::optional<Fix> key_value_swap_candidate(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  if (module || call.op != "scaled_dot_product_attention") return std::nullopt;
  auto shape_of = [&](const char* name) -> const Shape* {
    auto found = std::find_if(checked.arguments.begin(), checked.arguments.end(), [&](const ResolvedArgument& a) { return a.name == name; });
    return found == checked.arguments.end() || found->shape.empty() ? nullptr : &found->shape;
  };
  const Shape *query = shape_of("query"), *key = shape_of("key"), *value = shape_of("value");
  if (!query || !key || !value) return std::nullopt;
  auto equal = [&](const DimExpr& a, const DimExpr& b) { return report.symbols.compare(a, b) == Symbols::Verdict::Equal; };
  if (equal(key->back(), query->back()) || !equal(value->back(), query->back())) return std::nullopt;
  const nlohmann::json& document = spec.value();
  nlohmann::json::json_pointer key_pointer(child_pointer(call.pointer, "key")), value_pointer(child_pointer(call.pointer, "value"));
  if (!document.contains(key_pointer) || !document.contains(value_pointer)) return std::nullopt;
  const nlohmann::json &key_written = document.at(key_pointer), &value_written = document.at(value_pointer);
  if (key_written == value_written) return std::nullopt;
  auto text = [](const nlohmann::json& written, const char* argument) { return written.is_string() ? written.get<std::string>() : std::string(argument); };
  Fix fix = candidate(fmt::format("swap key and value of call \"{}\", given in each other's place: F.scaled_dot_product_attention(query, key={}, "
                                  "value={}, ...)",
                                  call.id, text(value_written, "value"), text(key_written, "key")),
                      {{{"op", "replace"}, {"path", key_pointer.to_string()}, {"value", value_written}},
                       {{"op", "replace"}, {"path", value_pointer.to_string()}, {"value", key_written}}});
  fix.semantics = FixSemantics::Consistent;
  fix.semantics_note = fmt::format("the value's last dim ({}) is the query's head size and the key's ({}) is not: the key is what the query "
                                   "is compared with",
                                   value->back().str(), key->back().str());
  return fix;
}

// A getitem that cuts another dim than meant: a seq-first decoder input shifted with
// tgt[:, :-1], the batch-first spelling, which drops a batch entry instead of the last step.
// Each cutting slice of the getitems that made the call's arguments moved to each dim the index
// leaves whole ("[:, :-1]" -> "[:-1]"); consistent when the cut dim is named as a batch and
// the new one is not (a batch is cut by mistake; a sequence is what shifting shortens).
std::vector<Fix> slice_dim_candidates(const Spec& spec, const Report& report, const CallReport& checked) {
  std::vector<Fix> fixes;
  for (std::size_t index : producers(spec, checked, "getitem")) {
    const CallDecl& getitem = spec.calls[index];
    const CallReport* made = call_report(report, getitem.id);
    const nlohmann::json& text = getitem.arguments.contains("index") ? getitem.arguments["index"] : nlohmann::json();
    if (!made || getitem.outputs.empty() || !text.is_string()) continue;
    auto input = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
    std::string error;
    std::optional<IndexExpression> parsed = parse_index(text.get<std::string>(), error);
    if (input == made->arguments.end() || !parsed || parsed->items.size() > input->shape.size()) continue;
    // Only plain slices and integers, each item then the input dim of its position.
    bool plain = std::all_of(parsed->items.begin(), parsed->items.end(),
                             [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice || item.kind == IndexItem::Kind::Integer; });
    if (!plain) continue;
    std::vector<std::string> names = written_names(input->written());
    std::string input_name = getitem.tensors.at("input").kind == ArgRef::Kind::Named ? getitem.tensors.at("input").name : "input";
    auto whole_dim = [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice && !item.start && !item.stop && !item.step; };
    for (std::size_t cut = 0; cut < parsed->items.size(); ++cut) {
      if (parsed->items[cut].kind != IndexItem::Kind::Slice || whole_dim(parsed->items[cut])) continue;
      for (std::size_t whole = 0; whole < input->shape.size(); ++whole) {
        if (whole == cut || (whole < parsed->items.size() && !whole_dim(parsed->items[whole]))) continue;
        std::vector<IndexItem> moved = parsed->items;
        IndexItem all;  // ":"
        all.kind = IndexItem::Kind::Slice;
        moved.resize(std::max(moved.size(), whole + 1), all);
        std::swap(moved[cut], moved[whole]);
        while (!moved.empty() && whole_dim(moved.back())) moved.pop_back();
        std::vector<std::string> texts;
        for (const IndexItem& item : moved) texts.push_back(item_text(item));
        std::string written = fmt::format("[{}]", fmt::join(texts, ", "));
        Fix fix = candidate(fmt::format("slice dim {} instead of dim {} in call \"{}\": {} = {}{}", whole, cut, getitem.id,
                                        getitem.outputs.front(), input_name, written),
                            {{{"op", "replace"}, {"path", getitem.pointer + "/index"}, {"value", written}}});
        DimRole cut_role = role_of_dim(names, static_cast<int>(cut));
        DimRole whole_role = role_of_dim(names, static_cast<int>(whole));
        if (cut_role == DimRole::Batch && whole_role != DimRole::Batch) {
          fix.semantics = FixSemantics::Consistent;
          fix.semantics_note = fmt::format("the slice then cuts {} where it cut the batch {}", names[whole].empty() ? "another dim" : names[whole],
                                           names[cut]);
        } else if (whole_role == DimRole::Batch) {
          // A slice moved onto a batch drops whole examples: never what a sequence slice meant.
          continue;
        }
        fixes.push_back(std::move(fix));
      }
    }
  }
  return fixes;
}

// A (B, T) mask lifted by a None index to (B, 1, T), then joined with a (T, T) causal mask into
// (B, T, T): against 4-D scores (B, H, L, S) its batch meets the heads (BLIP's keep[:, None, :]
// where keep[:, None, None, :] is meant). The missing size-1 dim belongs to the mask, where it was
// lifted: one more None after the first, for each such getitem of a batch-first tensor up the
// mask's graph (through joins, casts, comparisons and ~). Transposing the query would put the
// batch into the heads instead.
std::vector<Fix> lifted_mask_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  std::vector<Fix> fixes;
  std::size_t query_rank = 0;
  for (const ResolvedArgument& resolved : checked.arguments) {
    if (resolved.name == "query") query_rank = resolved.shape.size();
  }
  static const std::set<std::string> joins{"logical_and", "logical_or", "bitwise_and", "bitwise_or", "mul", "add"};
  static const std::set<std::string> same_dims{"bool", "float", "half", "to", "bitwise_not", "logical_not", "contiguous", "clone"};
  std::set<std::size_t> seen;
  for (const ResolvedArgument& resolved : checked.arguments) {
    auto ref = call.tensors.find(resolved.name);
    if (resolved.name.find("mask") == std::string::npos || resolved.shape.empty() || resolved.shape.size() + 1 > query_rank ||
        ref == call.tensors.end() || ref->second.kind != ArgRef::Kind::Named) {
      continue;
    }
    std::vector<std::pair<std::string, const CallDecl*>> pending = {{ref->second.name, producer_of(spec, ref->second.name, &call)}};
    for (int step = 0; step < 16 && !pending.empty(); ++step) {
      auto [name, producer] = pending.back();
      pending.pop_back();
      if (producer == nullptr) continue;
      if (joins.count(producer->op) != 0 || same_dims.count(producer->op) != 0 || is_comparison(producer->op)) {
        for (const char* argument : {"input", "other"}) {
          std::string operand = input_name(*producer, argument);
          if (!operand.empty() && (joins.count(producer->op) != 0 || std::string(argument) == "input")) {
            pending.emplace_back(operand, producer_of(spec, operand, producer));
          }
        }
        continue;
      }
      std::optional<std::size_t> index = CallContext::index_in_calls(*producer);
      const nlohmann::json& text = producer->arguments.value("index", nlohmann::json());
      if (producer->op != "getitem" || !index || !seen.insert(*index).second || !text.is_string() || producer->outputs.empty()) continue;
      const CallReport* made = call_report(report, producer->id);
      auto input = producer->tensors.find("input");
      if (!made || input == producer->tensors.end() || input->second.kind != ArgRef::Kind::Named) continue;
      auto made_input = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
      std::string error;
      std::optional<IndexExpression> parsed = parse_index(text.get<std::string>(), error);
      if (made_input == made->arguments.end() || !parsed || parsed->items.empty()) continue;
      // Whole slices and Nones only, the batch first and kept there.
      auto whole = [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice && !item.start && !item.stop && !item.step; };
      auto first_none = std::find_if(parsed->items.begin(), parsed->items.end(), [](const IndexItem& item) { return item.kind == IndexItem::Kind::None; });
      bool lifts = first_none != parsed->items.end() && whole(parsed->items.front()) &&
                   std::all_of(parsed->items.begin(), parsed->items.end(), [&](const IndexItem& item) { return whole(item) || item.kind == IndexItem::Kind::None; });
      if (!lifts || role_of_dim(written_names(made_input->written()), 0) != DimRole::Batch) continue;
      std::vector<IndexItem> deeper = parsed->items;
      deeper.insert(deeper.begin() + (first_none - parsed->items.begin()), *first_none);
      std::vector<std::string> texts;
      for (const IndexItem& item : deeper) texts.push_back(item_text(item));
      std::string written = fmt::format("[{}]", fmt::join(texts, ", "));
      Fix fix = candidate(fmt::format("{} = {}{} in call \"{}\" (not {}): one more size-1 dim, for the heads", producer->outputs.front(),
                                      input->second.name, written, producer->id, text.get<std::string>()),
                          {{{"op", "replace"}, {"path", producer->pointer + "/index"}, {"value", written}}});
      fix.semantics = FixSemantics::Consistent;
      fix.semantics_note = fmt::format("the mask's batch {} then meets the scores' batch, and a size-1 dim the heads",
                                       made_input->written().front().str());
      fixes.push_back(std::move(fix));
    }
  }
  return fixes;
}

// A mask cut along its positions by a getitem (pad[:, ::2], pooled with the queries, or pad[:, :-1])
// where the call reads it over keys that kept their full length (Funnel Transformer pools only the
// queries): the mask before the slice passed in its place. Only slices of dims not named as a
// batch: a batch cut is another fault. Each verified by the re-check.
std::vector<Fix> unsliced_mask_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked) {
  std::vector<Fix> fixes;
  const nlohmann::json& document = spec.value();
  for (const ResolvedArgument& resolved : checked.arguments) {
    auto ref = call.tensors.find(resolved.name);
    if (resolved.name.find("mask") == std::string::npos || resolved.source.kind != ArgumentSource::Kind::Output ||
        ref == call.tensors.end() || ref->second.kind != ArgRef::Kind::Named) {
      continue;
    }
    std::optional<std::size_t> index = call_index(spec, resolved.source.call);
    if (!index || spec.calls[*index].op != "getitem" || !CallContext::is_calls_entry(spec.calls[*index], *index)) continue;
    const CallDecl& getitem = spec.calls[*index];
    const CallReport* made = call_report(report, getitem.id);
    auto input = getitem.tensors.find("input");
    const nlohmann::json& text = getitem.arguments.contains("index") ? getitem.arguments["index"] : nlohmann::json();
    if (!made || input == getitem.tensors.end() || input->second.kind != ArgRef::Kind::Named || !text.is_string()) continue;
    auto made_input = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
    std::string error;
    std::optional<IndexExpression> parsed = parse_index(text.get<std::string>(), error);
    if (made_input == made->arguments.end() || !parsed || parsed->items.size() > made_input->shape.size()) continue;
    // Slices only, at least one cutting, none of a batch: the mask keeps its dims, shorter.
    std::vector<std::string> names = written_names(made_input->written());
    bool cuts = false, plain = true;
    for (std::size_t dim = 0; dim < parsed->items.size(); ++dim) {
      const IndexItem& item = parsed->items[dim];
      if (item.kind != IndexItem::Kind::Slice) {
        plain = false;
        break;
      }
      if (!item.start && !item.stop && !item.step) continue;
      if (role_of_dim(names, static_cast<int>(dim)) == DimRole::Batch) plain = false;
      cuts = true;
    }
    std::string pointer = child_pointer(call.pointer, resolved.name);
    if (!plain || !cuts || !document.contains(nlohmann::json::json_pointer(pointer))) continue;
    const std::string& source = input->second.name;
    Fix fix = candidate(fmt::format("pass {}={}: the mask before the slice of call \"{}\", at the full length", resolved.name, source, getitem.id),
                        {{{"op", "replace"}, {"path", pointer}, {"value", source}}});
    fix.semantics = FixSemantics::Consistent;
    fix.semantics_note = fmt::format("the other arguments keep the positions the slice cut from {}; {} covers every one of them", source, source);
    fixes.push_back(std::move(fix));
  }
  return fixes;
}

// A transpose or permute that put the wrong layout in: features transposed to (B, E, T) before a
// batch-first attention, where T == E lets PyTorch run it. Each that made one of the call's
// arguments, dropped: its later readers read its input instead. (A transpose inserted after it
// cannot show the fix when T == E: the sizes alone do not tell the dims apart again.)
std::vector<Fix> dropped_relayout_candidates(const Spec& spec, const CallReport& checked) {
  std::vector<Fix> fixes;
  const nlohmann::json& document = spec.value();
  for (const char* op : {"transpose", "permute"}) {
    for (std::size_t index : producers(spec, checked, op)) {
      const CallDecl& relayout = spec.calls[index];
      auto input = relayout.tensors.find("input");
      if (relayout.outputs.size() != 1 || input == relayout.tensors.end() || input->second.kind != ArgRef::Kind::Named) continue;
      const std::string& output = relayout.outputs.front();
      nlohmann::json patch = nlohmann::json::array();
      for (std::size_t later = index + 1; later < spec.calls.size(); ++later) {
        for (const auto& [argument, ref] : spec.calls[later].tensors) {
          std::string pointer = child_pointer(spec.calls[later].pointer, argument);
          if (ref.kind != ArgRef::Kind::Named || ref.name != output || !document.contains(nlohmann::json::json_pointer(pointer))) continue;
          patch.push_back({{"op", "replace"}, {"path", pointer}, {"value", input->second.name}});
        }
      }
      if (patch.empty()) continue;
      patch.push_back({{"op", "remove"}, {"path", relayout.pointer}});
      std::string written;
      if (op == std::string("transpose")) {
        written = fmt::format("transpose({}, {})", relayout.arguments.value("dim0", nlohmann::json()).dump(),
                              relayout.arguments.value("dim1", nlohmann::json()).dump());
      } else {
        written = fmt::format("permute({})", relayout.arguments.value("dims", nlohmann::json()).dump());
      }
      fixes.push_back(candidate(fmt::format("drop the {} of call \"{}\", reading {} in its place: {} = {} (not {}.{})", written, relayout.id,
                                            input->second.name, output, input->second.name, input->second.name, written),
                                std::move(patch)));
    }
  }
  return fixes;
}

bool name_taken(const Spec& spec, const std::string& name) {
  if (spec.find_tensor(name) || spec.find_module(name)) return true;
  return std::any_of(spec.calls.begin(), spec.calls.end(), [&](const CallDecl& call) {
    return call.id == name || std::find(call.outputs.begin(), call.outputs.end(), name) != call.outputs.end();
  });
}

}  // namespace

std::optional<std::size_t> call_index(const Spec& spec, const std::string& id) {
  for (std::size_t i = 0; i < spec.calls.size(); ++i) {
    if (spec.calls[i].id == id) return i;
  }
  return std::nullopt;
}

std::string fresh_name(const Spec& spec, const std::string& base) {
  std::string name = base;
  for (int n = 2; name_taken(spec, name); ++n) name = fmt::format("{}_{}", base, n);
  return name;
}

const CallReport* call_report(const Report& report, const std::string& id) {
  for (const CallReport& call : report.calls) {
    if (call.id == id) return &call;
  }
  return nullptr;
}

std::vector<Fix> argument_swap_candidates(const Spec& spec, std::size_t index) {
  std::vector<Fix> fixes;
  const CallDecl& call = spec.calls[index];
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  const nlohmann::json& document = spec.value();
  auto written = [&](const std::string& argument) -> const nlohmann::json* {
    nlohmann::json::json_pointer pointer(child_pointer(call.pointer, argument));
    return document.contains(pointer) ? &document.at(pointer) : nullptr;
  };
  // Key and value come from one source: a value given the query's tensor while the key is
  // another's (attn(x, memory, x)) is given the key's, and a key given the query's tensor while
  // the value is another's is given the value's. One argument replaced is a smaller change than
  // two exchanged, and comes first.
  const std::string op = module ? module->type : call.op;
  if (op == "MultiheadAttention" || op == "scaled_dot_product_attention") {
    const nlohmann::json *query = written("query"), *key = written("key"), *value = written("value");
    bool named = query && key && value && query->is_string() && key->is_string() && value->is_string();
    std::string callee = module ? module->name : "F." + call.op;
    for (auto [replaced, kept] : {std::pair{"value", "key"}, std::pair{"key", "value"}}) {
      const nlohmann::json* from = std::string(replaced) == "value" ? value : key;
      const nlohmann::json* source = std::string(kept) == "key" ? key : value;
      if (!named || *from != *query || *source == *query) continue;
      std::string arguments = fmt::format("query={}, key={}, value={}", query->get<std::string>(), source->get<std::string>(), source->get<std::string>());
      fixes.push_back(candidate(fmt::format("pass {} as the {} too, the {}'s tensor rather than the query's: key and value come from one source: "
                                            "{}({}) ({}={})",
                                            source->get<std::string>(), replaced, kept, callee, arguments, replaced, source->get<std::string>()),
                                {{{"op", "replace"}, {"path", child_pointer(call.pointer, replaced)}, {"value", *source}}}));
    }
  }
  for (const SwappableArguments& pair : swappable_arguments(op)) {
    const nlohmann::json* first = written(pair.first);
    const nlohmann::json* second = written(pair.second);
    // Named tensors only: an inline shape is no object that could have been passed in another's place.
    if (!first || !second || !first->is_string() || !second->is_string() || *first == *second) continue;
    const nlohmann::json* follower = *pair.follower ? written(pair.follower) : nullptr;
    bool follows = follower && *follower == *second;
    nlohmann::json patch = nlohmann::json::array();
    patch.push_back({{"op", "replace"}, {"path", child_pointer(call.pointer, pair.first)}, {"value", *second}});
    patch.push_back({{"op", "replace"}, {"path", child_pointer(call.pointer, pair.second)}, {"value", *first}});
    if (follows) patch.push_back({{"op", "replace"}, {"path", child_pointer(call.pointer, pair.follower)}, {"value", *first}});
    std::string first_text = second->get<std::string>(), second_text = first->get<std::string>();
    std::string arguments = fmt::format("{}={}, {}={}", pair.first, first_text, pair.second, second_text);
    if (follows) arguments += fmt::format(", {}={}", pair.follower, second_text);
    std::string callee = module ? module->name : "F." + call.op;
    bool others = std::any_of(call.tensors.begin(), call.tensors.end(), [&](const auto& entry) {
      return entry.second.kind != ArgRef::Kind::Absent && entry.first != pair.first && entry.first != pair.second &&
             !(follows && entry.first == pair.follower);
    });
    fixes.push_back(candidate(fmt::format("swap {} and {}{} of call \"{}\", given in each other's place: {}({}{})", pair.first, pair.second,
                                          follows ? fmt::format("/{}", pair.follower) : "", call.id, callee, arguments, others ? ", ..." : ""),
                              std::move(patch)));
  }
  return fixes;
}

// In 2 or more dims the last is a feature slot and dim 0 a batch or sequence slot. A transpose
// that puts a dim named as the batch last, or brings the features of a module output (a
// Linear's, an Embedding's, an attention layer's last dim) to dim 0, loses the roles whatever
// PyTorch then accepts: fairseq's (T, B, E) token embeddings transposed to (E, B, T) or (T, E, B)
// to meet a (T, E) position table, or that table transposed to (E, T).
std::optional<std::string> roles_lost_by_transpose(const Spec& spec, const std::vector<const LayoutSource*>& group, int a, int b) {
  static const std::set<std::string> feature_last{"Linear", "Embedding", "LayerNorm", "MultiheadAttention",
                                                  "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
                                                  "TransformerDecoder", "Transformer"};
  for (const LayoutSource* source : group) {
    const int rank = static_cast<int>(source->shape.size());
    if (rank < 2 || b != rank - 1) continue;
    const std::string moved = dim_texts(*source)[static_cast<std::size_t>(a)];
    if (role_of_name(moved) == DimRole::Batch) {
      return fmt::format("the transpose puts the batch {} of {} in the feature slot (the last dim)", moved, source->name);
    }
    if (a != 0 || source->written() || source->output != 0) continue;
    const CallDecl& producer = spec.calls[source->producer];
    const ModuleDecl* module = producer.module.empty() ? nullptr : spec.find_module(producer.module);
    if (module && feature_last.count(module->type) != 0) {
      return fmt::format("the transpose moves the features of {} (the last dim of call \"{}\"'s output) to dim 0, a batch or "
                         "sequence slot",
                         source->name, producer.id);
    }
  }
  return std::nullopt;
}

// A transpose (a, b) over a dim between them of the same size as a or b (a relative position
// bias (T, T, H) transposed (0, 2) to (H, T, T)): the two equal dims come out in the other order,
// so entry [i, j] is read as [j, i] (queries as keys). The permute that moves one dim and keeps
// the others in their order (permute(2, 0, 1)) is what such a fix means.
// Sizes are compared as written: a condition's substitution (T -> 8, where the graph is valid only
// if T == 8) would make every size alike.
std::optional<std::string> equal_dims_reversed(const std::vector<const LayoutSource*>& group, int a, int b) {
  for (const LayoutSource* source : group) {
    const Shape& sizes = source->shape;
    if (b >= static_cast<int>(sizes.size())) continue;
    for (int c = a + 1; c < b; ++c) {
      const DimExpr& passenger = sizes[static_cast<std::size_t>(c)];
      if (passenger == DimExpr::constant(1)) continue;
      for (int end : {a, b}) {
        if (!(passenger == sizes[static_cast<std::size_t>(end)])) continue;
        const std::vector<std::string> names = dim_texts(*source);
        return fmt::format("transpose({}, {}) reverses {}'s two dims of size {} (dims {} and {}): entry [i, j] is then read as [j, i]; a "
                           "permute that keeps them in their order moves only the other dim",
                           a, b, source->name, names[static_cast<std::size_t>(c)], std::min(c, end), std::max(c, end));
      }
    }
  }
  return std::nullopt;
}

// A declared tensor's leading dims transposed alone while another is declared with the very same
// dims (q and k both (B, 8, N, 64)): the two were laid out alike on purpose, and changed alone one
// no longer is, to meet a reduction or a product written for the other layout. The last two
// dims are exempt: a product reads one operand's matrix transposed (q @ k^T); so is a twin read
// as the transposed one is (read_alike), which carries the same fault.
std::optional<std::string> declared_alike(const Spec& spec, const ReadIndex& reads, const std::vector<const LayoutSource*>& group, int a,
                                          int b) {
  for (const LayoutSource* source : group) {
    const int rank = static_cast<int>(source->shape.size());
    if (!source->written() || rank < 3 || (a == rank - 2 && b == rank - 1)) continue;
    for (const TensorDecl& tensor : spec.tensors) {
      bool in_group = std::any_of(group.begin(), group.end(), [&](const LayoutSource* s) { return s->shape_pointer == tensor.shape_pointer; });
      if (in_group || tensor.shape_pointer.empty() || tensor.shape != source->shape) continue;
      if (reads.read_alike(source->name, tensor.name)) continue;
      return fmt::format("{} is declared like {}, {}: transposed alone, it no longer is", source->name, tensor.name, tuple_str(tensor.shape));
    }
  }
  return std::nullopt;
}

// A group holding a declared tensor and the output of a transpose or permute of that very tensor
// (seqs, and seqs_t = seqs.transpose(0, 1) behind the query, the keys read from seqs): both
// transposed where they are made redeclare the input in the other layout, and the user's own
// transpose, which said which layout the input has, then undoes itself. The argument read without
// that transpose is the one off.
std::optional<std::string> relaid_with_its_source(const Spec& spec, const std::vector<const LayoutSource*>& group) {
  for (const LayoutSource* declared : group) {
    if (!declared->written()) continue;
    for (const LayoutSource* made : group) {
      if (made->written() || made->producer >= spec.calls.size()) continue;
      const CallDecl& relayout = spec.calls[made->producer];
      if ((relayout.op != "transpose" && relayout.op != "permute") || input_name(relayout, "input") != declared->name) continue;
      return fmt::format("redeclares {} in another layout, though call \"{}\" {}s it for another argument: the argument that reads {} "
                         "without it is the one off",
                         declared->name, relayout.id, relayout.op, declared->name);
    }
  }
  return std::nullopt;
}

// What a matmul computes in attention: the scores (its output reaches a softmax through
// scaling, biasing, masking), or the output from the weights (its input is a softmax's output,
// through dropout, or a tensor named as attention weights or probabilities).
enum class AttentionProduct { None, Scores, Weights };

AttentionProduct attention_product(const Spec& spec, const Report& report, std::size_t index) {
  const CallDecl& call = spec.calls[index];
  if (call.op != "matmul" && call.op != "bmm") return AttentionProduct::None;
  static const std::set<std::string> on_the_way{"mul", "div", "add", "sub", "masked_fill", "dropout"};
  std::set<std::string> reached(call.outputs.begin(), call.outputs.end());
  for (std::size_t later = index + 1; later < spec.calls.size(); ++later) {
    auto input = spec.calls[later].tensors.find("input");
    if (input == spec.calls[later].tensors.end() || input->second.kind != ArgRef::Kind::Named || reached.count(input->second.name) == 0) continue;
    if (spec.calls[later].op == "softmax") return AttentionProduct::Scores;
    if (on_the_way.count(spec.calls[later].op) != 0) reached.insert(spec.calls[later].outputs.begin(), spec.calls[later].outputs.end());
  }
  const CallReport* checked = call_report(report, call.id);
  auto operand = checked ? std::find_if(checked->arguments.begin(), checked->arguments.end(),
                                        [](const ResolvedArgument& a) { return a.name == "input"; })
                         : std::vector<ResolvedArgument>::const_iterator{};
  if (!checked || operand == checked->arguments.end()) return AttentionProduct::None;
  ArgumentSource source = operand->source;
  for (int step = 0; step < 4 && source.kind == ArgumentSource::Kind::Output; ++step) {
    std::optional<std::size_t> producer = call_index(spec, source.call);
    const CallReport* made = call_report(report, source.call);
    if (!producer || !made) break;
    if (spec.calls[*producer].op == "softmax") return AttentionProduct::Weights;
    auto upstream = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
    if (spec.calls[*producer].op != "dropout" || upstream == made->arguments.end()) break;
    source = upstream->source;
  }
  std::string name = lowered(operand->source.kind == ArgumentSource::Kind::Output ? std::string() : operand->identity);
  bool named_weights = name.find("attn") != std::string::npos && (name.find("weight") != std::string::npos || name.find("prob") != std::string::npos);
  return named_weights ? AttentionProduct::Weights : AttentionProduct::None;
}

// A transpose of a matmul's input that moves its last dim, the one the product contracts as
// written, where the roles say that dim is the one to contract: attention scores contract the
// features (q @ k with k not transposed: q.transpose(-2, -1) would contract the sequence and give
// (D, D) "scores"; k.transpose(-2, -1) is the repair), the weights @ v product the keys (the
// weights' last dim; with v still (B, S, H, D), v is the one to transpose).
// Whether a transpose of dims a and b of the weights @ values product's input brings the dim a
// softmax made them over to the last place, from where the product contracts it: weights
// normalised over another dim than their last (MIL pooling's (B, T, 1) weights, softmaxed over
// the instances T) are read so.
bool brings_normalised_dim_last(const Spec& spec, AttentionProduct product, const LayoutSource* input,
                                const std::vector<const LayoutSource*>& group, int a, int b) {
  if (product != AttentionProduct::Weights || !input || input->written() || input->producer >= spec.calls.size() ||
      std::find(group.begin(), group.end(), input) == group.end()) {
    return false;
  }
  const int last = static_cast<int>(input->shape.size()) - 1;
  if (a != last && b != last) return false;
  const CallDecl& maker = spec.calls[input->producer];
  auto dim = maker.arguments.find("dim");
  if (maker.op != "softmax" || dim == maker.arguments.end() || !dim->is_number_integer()) return false;
  const auto normalised = dim->get<std::int64_t>();
  return (normalised < 0 ? normalised + last + 1 : normalised) == (a == last ? b : a);
}

std::optional<std::string> contraction_moved(const Spec& spec, AttentionProduct product, const LayoutSource* input,
                                             const std::vector<const LayoutSource*>& group, int a, int b) {
  if (product == AttentionProduct::None || !input || std::find(group.begin(), group.end(), input) == group.end()) return std::nullopt;
  const int last = static_cast<int>(input->shape.size()) - 1;
  if (a != last && b != last) return std::nullopt;
  std::vector<std::string> names = dim_texts(*input);
  const std::string& contracted = names[static_cast<std::size_t>(a == last ? b : a)];
  if (product == AttentionProduct::Weights) {
    if (brings_normalised_dim_last(spec, product, input, group, a, b)) return std::nullopt;
    return fmt::format("the transpose moves the attention weights' key dim (the last of {}) out of the product, which then contracts {}",
                       input->name, contracted);
  }
  DimRole role = role_of_name(contracted);
  if (role != DimRole::Sequence && role != DimRole::Batch && role != DimRole::Heads) return std::nullopt;
  return fmt::format("the scores would then contract {}'s {} ({}) instead of its features, giving ({}, ...) rows where attention scores are "
                     "(..., L, S)",
                     input->name, contracted, role_name(role), names[static_cast<std::size_t>(last)]);
}

// Calls upstream of a call whose dim arguments may be what put a wrong layout in: the calls that
// made its tensor arguments, and those that made theirs, up to kArgumentDepth calls back, each
// at its written place (/calls/i). Nearest first.
constexpr int kArgumentDepth = 3;

std::vector<std::size_t> upstream_calls(const Spec& spec, const Report& report, const CallReport& checked) {
  std::vector<std::size_t> found;
  std::vector<const CallReport*> frontier{&checked};
  for (int depth = 0; depth < kArgumentDepth && !frontier.empty(); ++depth) {
    std::vector<const CallReport*> next;
    for (const CallReport* made : frontier) {
      for (const ResolvedArgument& resolved : made->arguments) {
        if (resolved.source.kind != ArgumentSource::Kind::Output) continue;
        std::optional<std::size_t> index = call_index(spec, resolved.source.call);
        if (!index || !CallContext::is_calls_entry(spec.calls[*index], *index)) continue;
        if (std::find(found.begin(), found.end(), *index) != found.end()) continue;
        found.push_back(*index);
        if (const CallReport* upstream = call_report(report, resolved.source.call)) next.push_back(upstream);
      }
    }
    frontier = std::move(next);
  }
  return found;
}

// One call's dim arguments rewritten: the new values by argument name, and how the call then
// reads in Python ("h.mean(dim=1)").
struct ArgumentChange {
  nlohmann::json values;  // {"dim": 1} or {"dim0": -2, "dim1": -1}; {"op": "getitem", ...} another operator
  std::string python;     // "mean(dim=1)"
  std::string note;       // a suspect change: why
  std::vector<std::string> removed = {};  // arguments the changed call no longer takes
  // The call changed nothing as written (a squeeze of a dim that is not 1): the change makes it
  // do what it was written for, which no other change of the graph says as directly.
  bool was_no_op = false;
  // Why the changed call does what its operator is for, when the graph then holds (a chunk of a
  // dim written as that many pieces joined); empty when nothing says so.
  std::string consistent_note = "";
  // The change reads as a call of torch.nn.functional on the input (F.pad(x, (0, 0, 0, 24))),
  // not as a Tensor method.
  bool functional = false;
};

std::string joined(const std::vector<int>& dims) { return fmt::format("{}", fmt::join(dims, ", ")); }

// A view's or reshape's shape list as an engineer rewrites it when the tensor it makes is laid out
// wrongly: the same sizes in another order (level_embed.view(1, -1, 1) meant view(1, 1, -1): the
// -1 moved), a size replaced by -1 (PyTorch infers it), or by the size the input has at the same
// position when the input has as many dims (memory (B, S, E) viewed (B, T, H, D) with the query's
// length: view(B, S, H, D)). Lists of up to 5 entries; the order's changes of at most two entries.
// `own_failure`: the view or reshape is the failing call.
std::vector<ArgumentChange> shape_list_changes(const std::string& op, const nlohmann::json& shape, const std::vector<std::string>& input_names,
                                               bool own_failure) {
  std::vector<ArgumentChange> changes;
  const std::size_t length = shape.size();
  if (length == 0 || length > 5) return changes;
  std::vector<nlohmann::json> seen{shape};
  auto add = [&](nlohmann::json rewritten) {
    if (std::find(seen.begin(), seen.end(), rewritten) != seen.end()) return;
    seen.push_back(rewritten);
    std::string python = fmt::format("{}({})", op, shape_list_text(rewritten));
    changes.push_back({{{"shape", std::move(rewritten)}}, std::move(python), ""});
  };
  const bool inferred = std::any_of(shape.begin(), shape.end(), [](const nlohmann::json& e) { return e == -1; });
  // A dim of 1 or the inferred -1 exchanged with another entry: put where the input's layout has
  // it. Two sizes exchanged would cut the memory in another order, which no one means (a permute
  // moves dims).
  auto movable = [](const nlohmann::json& entry) { return entry == 1 || entry == -1; };
  for (std::size_t a = 0; a < length; ++a) {
    for (std::size_t b = a + 1; b < length; ++b) {
      if (!movable(shape[a]) && !movable(shape[b])) continue;
      nlohmann::json swapped = shape;
      std::swap(swapped[a], swapped[b]);
      add(std::move(swapped));
    }
  }
  // The one inferred entry moved to another place, the others keeping their order.
  for (std::size_t from = 0; inferred && from < length; ++from) {
    if (shape[from] != -1) continue;
    for (std::size_t to = 0; to < length; ++to) {
      nlohmann::json moved = shape;
      moved.erase(moved.begin() + static_cast<std::ptrdiff_t>(from));
      moved.insert(moved.begin() + static_cast<std::ptrdiff_t>(to), -1);
      add(std::move(moved));
    }
  }
  for (std::size_t d = 0; d < length; ++d) {
    // A size given to PyTorch to infer, where the view fails itself (its sizes do not fit its
    // input): inferred where it is wrong. Upstream, where the view passed, -1 infers the same size
    // and only drops the name.
    if (own_failure && !inferred && !(shape[d].is_number_integer() && shape[d].get<std::int64_t>() == 1)) {
      nlohmann::json rewritten = shape;
      rewritten[d] = -1;
      add(std::move(rewritten));
    }
    if (input_names.size() == length && shape[d].is_string() && input_names[d] != shape[d].get<std::string>()) {
      nlohmann::json rewritten = shape;
      const std::string& name = input_names[d];
      char* end = nullptr;
      long long number = std::strtoll(name.c_str(), &end, 10);
      rewritten[d] = end != name.c_str() && *end == '\0' ? nlohmann::json(number) : nlohmann::json(name);
      add(std::move(rewritten));
    }
  }
  return changes;
}

// A squeeze(d) of a dim that is not of size 1 changes nothing (a 2-layer GRU's hidden
// (num_layers, B, H).squeeze(0)): the engineer meant one entry of that dim, the last of a stack of
// layers (hidden[-1]) or the first, or the squeeze of a dim that is of size 1.
std::vector<ArgumentChange> no_op_squeeze_changes(std::int64_t written, int rank, const Shape& sizes) {
  std::vector<ArgumentChange> changes;
  const int dim = static_cast<int>(written < 0 ? written + rank : written);
  if (dim < 0 || dim >= rank || static_cast<int>(sizes.size()) != rank || sizes[static_cast<std::size_t>(dim)] == DimExpr::constant(1)) {
    return changes;
  }
  std::string before;
  for (int d = 0; d < dim; ++d) before += ":, ";
  for (const char* entry : {"-1", "0"}) {
    std::string index = fmt::format("[{}{}]", before, entry);
    changes.push_back({{{"op", "getitem"}, {"index", index}}, index, "", {"dim"}, true});
  }
  for (int d = 0; d < rank; ++d) {
    if (sizes[static_cast<std::size_t>(d)] == DimExpr::constant(1)) {
      changes.push_back({{{"dim", d}}, fmt::format("squeeze({})", d), ""});
    }
  }
  return changes;
}

// A reduction over a list of dims (a ConvNeXt pool's mean([-2, -1])) rewritten to reduce as many
// other dims: a (B, H, W, C) channels-last map pooled over [-2, -1] leaves (B, H) where
// mean(dim=[1, 2]) leaves the channels a Linear or LayerNorm reads. keepdim as written. `batch_named(d)`: dim d is named as a batch.
std::vector<ArgumentChange> reduced_list_changes(const CallDecl& call, int rank, const std::function<bool(int)>& batch_named) {
  std::vector<ArgumentChange> changes;
  std::set<int> current;
  for (const nlohmann::json& dim : call.arguments["dim"]) {
    if (!dim.is_number_integer()) return changes;
    std::int64_t d = dim.get<std::int64_t>();
    if (d < -rank || d >= rank) return changes;
    current.insert(static_cast<int>(d < 0 ? d + rank : d));
  }
  const std::size_t count = current.size();
  if (count == 0 || static_cast<int>(count) >= rank) return changes;
  const bool keepdim = call.arguments.value("keepdim", false);
  // Every set of `count` dims, in increasing order: the bits of `chosen` that are set.
  for (unsigned chosen = 0; chosen < (1U << rank); ++chosen) {
    std::vector<int> dims;
    for (int d = 0; d < rank; ++d) {
      if ((chosen >> d) & 1U) dims.push_back(d);
    }
    if (dims.size() != count || std::set<int>(dims.begin(), dims.end()) == current) continue;
    nlohmann::json written = nlohmann::json::array();
    for (int d : dims) written.push_back(d);
    std::vector<std::string> texts;
    for (const nlohmann::json& d : written) texts.push_back(d.dump());
    ArgumentChange change{{{"dim", written}}, fmt::format("{}(dim=[{}]{})", call.op, fmt::join(texts, ", "), keepdim ? ", keepdim=True" : ""), ""};
    for (int d : dims) {
      if (change.note.empty() && batch_named(d)) change.note = fmt::format("the {} would run over a batch dim, mixing its entries", call.op);
    }
    changes.push_back(std::move(change));
  }
  return changes;
}

// The place of the one dim an index inserts and nothing else, as an unsqueeze does
// ("[:, :, None]", "[:, None, :]": 2 and 1 for a 3-D input); nullopt for any other index.
std::optional<int> inserted_dim(const nlohmann::json& index, int rank) {
  if (!index.is_string()) return std::nullopt;
  std::string text = index.get<std::string>();
  std::erase_if(text, [](char c) { return c == ' '; });
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  text = text.substr(1, text.size() - 2) + ",";
  std::optional<int> inserted;
  int entries = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t comma = text.find(',', start);
    const std::string entry = text.substr(start, comma - start);
    if (entry == "None" && !inserted) {
      inserted = entries;
    } else if (entry != ":") {
      return std::nullopt;
    }
    ++entries;
    start = comma + 1;
  }
  if (!inserted || entries - 1 > rank) return std::nullopt;
  return inserted;
}

// The alternative values of the dim arguments of `call`, whose input has rank `rank` and dims
// named `names`: every other pair of a transpose (the last two written -2, -1), every other
// order of a permute (of a 4-D or larger tensor, those one exchange away), every other place of an
// unsqueeze or of the None of an index that only inserts a dim (x[:, :, None]), every other dim of
// a reduction (each with keepdim flipped too) or of a softmax, every other range of a flatten, a
// view's or reshape's shape list rewritten (shape_list_changes; the input's sizes: `sizes`;
// `own_failure`: the view is the failing call), a squeeze that changes nothing made an index
// (no_op_squeeze_changes). A reduction or softmax over a dim named as a
// batch is suspect: it mixes batch entries.
std::vector<ArgumentChange> argument_changes(const CallDecl& call, int rank, const std::vector<std::string>& names, const Shape& sizes,
                                             bool own_failure) {
  std::vector<ArgumentChange> changes;
  const nlohmann::json& args = call.arguments;
  auto wrapped = [](const nlohmann::json& value, int size) -> std::optional<int> {
    if (!value.is_number_integer()) return std::nullopt;
    std::int64_t dim = value.get<std::int64_t>();
    if (dim < -size || dim >= size) return std::nullopt;
    return static_cast<int>(dim < 0 ? dim + size : dim);
  };
  // "N" beside a dim named as a batch is a token count (timm's (B, N, C), linear attention's
  // (B, H, N, D)), not a second batch: role_of_dim reads it so.
  auto batch_named = [&](int dim) { return role_of_dim(names, dim) == DimRole::Batch; };
  if (call.op == "transpose" && rank >= 2) {
    std::optional<int> a = wrapped(args.value("dim0", nlohmann::json()), rank), b = wrapped(args.value("dim1", nlohmann::json()), rank);
    if (!a || !b) return changes;
    for (int x = 0; x < rank; ++x) {
      for (int y = x + 1; y < rank; ++y) {
        if (std::min(*a, *b) == x && std::max(*a, *b) == y) continue;
        bool last_two = x == rank - 2 && y == rank - 1;
        int first = last_two ? -2 : x, second = last_two ? -1 : y;
        changes.push_back({{{"dim0", first}, {"dim1", second}}, fmt::format("transpose({}, {})", first, second), ""});
      }
    }
  } else if (call.op == "permute" && rank >= 2 && rank <= 5) {
    const nlohmann::json& written = args.value("dims", nlohmann::json());
    std::vector<int> current;
    for (const nlohmann::json& dim : written.is_array() ? written : nlohmann::json::array()) {
      if (std::optional<int> d = wrapped(dim, rank)) current.push_back(*d);
    }
    if (static_cast<int>(current.size()) != rank) return changes;
    std::vector<int> order(static_cast<std::size_t>(rank));
    for (int d = 0; d < rank; ++d) order[static_cast<std::size_t>(d)] = d;
    do {
      int moved = 0;
      for (int d = 0; d < rank; ++d) moved += order[static_cast<std::size_t>(d)] != current[static_cast<std::size_t>(d)];
      if (moved == 0 || (rank >= 4 && moved > 2)) continue;
      changes.push_back({{{"dims", order}}, fmt::format("permute({})", joined(order)), ""});
    } while (std::next_permutation(order.begin(), order.end()));
  } else if (call.op == "unsqueeze") {
    std::optional<int> current = wrapped(args.value("dim", nlohmann::json()), rank + 1);
    for (int d = 0; current && d <= rank; ++d) {
      if (d != *current) changes.push_back({{{"dim", d}}, fmt::format("unsqueeze({})", d), ""});
    }
  } else if (std::optional<int> current = call.op == "getitem" ? inserted_dim(args.value("index", nlohmann::json()), rank) : std::nullopt) {
    // An unsqueeze written as an index (x[:, :, None]): the None at every other place, written
    // as short as Python allows (x[:, None]).
    for (int d = 0; d <= rank; ++d) {
      if (d == *current) continue;
      std::string index = "[";
      for (int kept = 0; kept < d; ++kept) index += ":, ";
      index += "None]";
      changes.push_back({{{"index", index}}, index, ""});
    }
  } else if ((call.op == "sum" || call.op == "mean" || call.op == "amax") && args.value("dim", nlohmann::json()).is_array() && rank <= 6) {
    for (ArgumentChange& change : reduced_list_changes(call, rank, batch_named)) changes.push_back(std::move(change));
  } else if (call.op == "sum" || call.op == "mean" || call.op == "amax" || call.op == "softmax") {
    std::optional<int> current = wrapped(args.value("dim", nlohmann::json()), rank);
    if (!current) return changes;
    bool reduction = call.op != "softmax";
    bool keepdim = reduction && args.value("keepdim", false);
    for (int d = 0; d < rank; ++d) {
      for (bool keep : reduction ? std::vector<bool>{keepdim, !keepdim} : std::vector<bool>{false}) {
        if (d == *current && keep == keepdim) continue;
        ArgumentChange change{{{"dim", d}}, fmt::format("{}(dim={}{})", call.op, d, keep ? ", keepdim=True" : ""), ""};
        if (keep != keepdim) change.values["keepdim"] = keep;
        if (batch_named(d)) {
          change.note = fmt::format("the {} would run over the batch {}, mixing its entries", call.op, names[static_cast<std::size_t>(d)]);
        }
        changes.push_back(std::move(change));
      }
    }
  } else if ((call.op == "view" || call.op == "reshape") && args.contains("shape") && args["shape"].is_array()) {
    for (ArgumentChange& change : shape_list_changes(call.op, args["shape"], names, own_failure)) changes.push_back(std::move(change));
  } else if (call.op == "squeeze" && args.contains("dim") && args["dim"].is_number_integer() && rank >= 1) {
    for (ArgumentChange& change : no_op_squeeze_changes(args["dim"].get<std::int64_t>(), rank, sizes)) changes.push_back(std::move(change));
  } else if ((call.op == "chunk" || call.op == "split") && rank >= 2 && sizes.size() == static_cast<std::size_t>(rank)) {
    // The pieces split off another dim. A dim written as a multiple of the piece count (2*B, a
    // batch doubled by a cat for classifier-free guidance) holds that many pieces joined: split
    // there, each piece is one of them.
    std::optional<int> current = wrapped(args.value("dim", nlohmann::json(0)), rank);
    const nlohmann::json& count = args.value(call.op == "chunk" ? "chunks" : "split_size", nlohmann::json());
    if (!current || !count.is_number_integer() || count.get<std::int64_t>() < 2) return changes;
    for (int d = 0; d < rank; ++d) {
      if (d == *current) continue;
      ArgumentChange change{{{"dim", d}}, fmt::format("{}({}, dim={})", call.op, count.dump(), d), ""};
      const DimExpr& size = sizes[static_cast<std::size_t>(d)];
      if (call.op == "chunk" && !size.is_constant() && size.offset == 0 && size.coeff % count.get<std::int64_t>() == 0) {
        change.consistent_note = fmt::format("dim {} ({}) is written as {} pieces joined: chunk({}) splits it back into them", d,
                                             size.str(), count.dump(), count.dump());
      }
      changes.push_back(std::move(change));
    }
  } else if (call.op == "einsum" && args.contains("equation") && args["equation"].is_string()) {
    // The output's letters written in another order ('i,j->ji' for the outer product 'i,j->ij'
    // of positions and frequencies): each order of up to 3 letters, two letters exchanged of more.
    const std::string equation = args["equation"].get<std::string>();
    const std::size_t arrow = equation.find("->");
    if (arrow == std::string::npos) return changes;
    const std::string output = equation.substr(arrow + 2);
    if (output.size() < 2 || output.size() > kMostPermutedLetters || !std::all_of(output.begin(), output.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; })) {
      return changes;
    }
    std::string order = output;
    std::sort(order.begin(), order.end());
    do {
      int moved = 0;
      for (std::size_t d = 0; d < order.size(); ++d) moved += order[d] != output[d];
      if (moved == 0 || (order.size() > 3 && moved > 2)) continue;
      const std::string rewritten = equation.substr(0, arrow + 2) + order;
      changes.push_back({{{"equation", rewritten}}, fmt::format("'{}'", rewritten), ""});
    } while (std::next_permutation(order.begin(), order.end()));
  } else if (call.op == "pad" && args.contains("pad") && args["pad"].is_array() && args["pad"].size() % 2 == 0 && !args["pad"].empty()) {
    // F.pad reads its pairs from the last dim backwards: (0, 24) pads the last dim, and pairs for
    // an earlier dim are written after (0, 0) pairs for the dims behind it. The same pairs moved
    // to the dims before (0, 0, 0, 24) pad the sequence of a (B, T, E) input, not its features.
    const std::size_t pairs = args["pad"].size() / 2;
    for (std::size_t shift = 1; pairs + shift <= static_cast<std::size_t>(rank); ++shift) {
      nlohmann::json moved = nlohmann::json::array();
      for (std::size_t i = 0; i < 2 * shift; ++i) moved.push_back(0);
      for (const nlohmann::json& entry : args["pad"]) moved.push_back(entry);
      if (moved == args["pad"]) continue;
      ArgumentChange change{{{"pad", moved}}, fmt::format("({})", shape_list_text(moved)), ""};
      change.functional = true;
      change.consistent_note = fmt::format("F.pad reads its pairs from the last dim backwards: ({}) pads dim {}", shape_list_text(moved),
                                           rank - 1 - static_cast<int>(pairs + shift - 1));
      changes.push_back(std::move(change));
    }
  } else if (call.op == "flatten" && rank >= 2) {
    std::optional<int> start = wrapped(args.value("start_dim", nlohmann::json(0)), rank);
    std::optional<int> end = wrapped(args.value("end_dim", nlohmann::json(-1)), rank);
    if (!start || !end) return changes;
    for (int s = 0; s < rank; ++s) {
      for (int e = s + 1; e < rank; ++e) {
        if (s == *start && e == *end) continue;
        // A range to the last dim is written as PyTorch's default end_dim: flatten(1).
        changes.push_back({{{"start_dim", s}, {"end_dim", e == rank - 1 ? -1 : e}},
                           e == rank - 1 ? fmt::format("flatten({})", s) : fmt::format("flatten({}, {})", s, e), ""});
      }
    }
  }
  return changes;
}

// A transpose or permute changed so that a dim named as a sequence leaves the matrix dims (the
// last two) of a matmul or bmm that reads its output directly for a batch slot: the product would
// then run per position (q left (B, T, H, D) and k permuted to match it, giving (B, T, H, H)
// "scores").
// The input dim each result dim of a transpose or permute takes, with `values` written over its
// arguments; empty when they are not plain integers.
std::vector<int> relayout_order(const CallDecl& moved, const nlohmann::json& values, int rank) {
  std::vector<int> dims(static_cast<std::size_t>(rank));
  for (int d = 0; d < rank; ++d) dims[static_cast<std::size_t>(d)] = d;
  auto wrap = [&](const nlohmann::json& v) { auto x = v.get<std::int64_t>(); return static_cast<int>(x < 0 ? x + rank : x); };
  if (moved.op == "transpose") {
    const nlohmann::json& a = values.contains("dim0") ? values["dim0"] : moved.arguments["dim0"];
    const nlohmann::json& b = values.contains("dim1") ? values["dim1"] : moved.arguments["dim1"];
    if (!a.is_number_integer() || !b.is_number_integer() || wrap(a) < 0 || wrap(a) >= rank || wrap(b) < 0 || wrap(b) >= rank) return {};
    std::swap(dims[static_cast<std::size_t>(wrap(a))], dims[static_cast<std::size_t>(wrap(b))]);
    return dims;
  }
  const nlohmann::json& written = values.contains("dims") ? values["dims"] : moved.arguments["dims"];
  if (!written.is_array() || static_cast<int>(written.size()) != rank) return {};
  for (int d = 0; d < rank; ++d) {
    if (!written[static_cast<std::size_t>(d)].is_number_integer()) return {};
    int source = wrap(written[static_cast<std::size_t>(d)]);
    if (source < 0 || source >= rank) return {};
    dims[static_cast<std::size_t>(d)] = source;
  }
  return dims;
}

std::optional<std::string> sequence_leaves_product(const Spec& spec, std::size_t index,
                                                   const std::vector<std::string>& names, const ArgumentChange& change) {
  const CallDecl& call = spec.calls[index];
  if ((call.op != "transpose" && call.op != "permute") || call.outputs.size() != 1) return std::nullopt;
  const int rank = static_cast<int>(names.size());
  std::vector<int> before = relayout_order(call, nlohmann::json::object(), rank), after = relayout_order(call, change.values, rank);
  if (before.empty() || after.empty() || rank < 3) return std::nullopt;
  for (std::size_t later = index + 1; later < spec.calls.size(); ++later) {
    const CallDecl& reader = spec.calls[later];
    bool reads = std::any_of(reader.tensors.begin(), reader.tensors.end(), [&](const auto& entry) {
      return entry.second.kind == ArgRef::Kind::Named && entry.second.name == call.outputs.front();
    });
    if (!reads || (reader.op != "matmul" && reader.op != "bmm")) continue;
    for (int slot = 0; slot < rank - 2; ++slot) {
      const std::string& name = names[static_cast<std::size_t>(after[static_cast<std::size_t>(slot)])];
      bool was_in_matrix = std::find(before.end() - 2, before.end(), after[static_cast<std::size_t>(slot)]) != before.end();
      if (was_in_matrix && role_of_name(name) == DimRole::Sequence) {
        return fmt::format("{} (a sequence length) would leave the matrix dims of the product of call \"{}\" for a batch slot",
                           name, reader.id);
      }
    }
  }
  return std::nullopt;
}

// A transpose or permute changed so that the dim its readers take apart by constant indices (q, k,
// v = t[0], t[1], t[2] of a fused projection's (3, B, H, T, D)) is another one: where the dim
// indexed holds exactly as many entries as distinct indices are read, it is the split made for
// them, and the change would hand out entries of another dim (three tokens as q, k and v).
std::optional<std::string> split_leaves_selection(const Spec& spec, std::size_t index, const Shape& sizes,
                                                  const std::vector<std::string>& names, const ArgumentChange& change) {
  const CallDecl& call = spec.calls[index];
  if ((call.op != "transpose" && call.op != "permute") || call.outputs.size() != 1 || sizes.size() != names.size()) return std::nullopt;
  const int rank = static_cast<int>(sizes.size());
  std::vector<int> before = relayout_order(call, nlohmann::json::object(), rank), after = relayout_order(call, change.values, rank);
  if (before.empty() || after.empty()) return std::nullopt;
  std::map<int, std::set<std::int64_t>> taken;  // result dim -> the constant indices read from it
  for (std::size_t later : spec.readers_of(call.outputs.front())) {
    const CallDecl& reader = spec.calls[later];
    if (later <= index || input_name(reader, "input") != call.outputs.front()) continue;
    if (reader.op == "select" && reader.arguments.value("dim", nlohmann::json()).is_number_integer() &&
        reader.arguments.value("index", nlohmann::json()).is_number_integer()) {
      std::int64_t dim = reader.arguments["dim"].get<std::int64_t>();
      if (dim < 0) dim += rank;
      taken[static_cast<int>(dim)].insert(reader.arguments["index"].get<std::int64_t>());
    } else if (reader.op == "getitem" && reader.arguments.value("index", nlohmann::json()).is_string()) {
      // t[0] or t[0, ...]: a leading integer indexes dim 0.
      const std::string text = reader.arguments["index"].get<std::string>();
      std::size_t at = text.find_first_not_of(" [");
      std::size_t end = text.find_first_not_of("0123456789", at);
      if (text.empty() || text.front() != '[' || at == std::string::npos || end == at || end == std::string::npos) continue;
      std::size_t after_digits = text.find_first_not_of(' ', end);
      if (after_digits == std::string::npos || (text[after_digits] != ']' && text.compare(after_digits, 5, ", ...") != 0)) continue;
      std::int64_t entry = 0;
      const auto [stop, error] = std::from_chars(text.data() + at, text.data() + end, entry);
      if (error != std::errc() || stop != text.data() + end) continue;  // more digits than an int64 holds
      taken[0].insert(entry);
    }
  }
  for (const auto& [dim, indices] : taken) {
    if (dim < 0 || dim >= rank || indices.size() < 2) continue;
    const int split = before[static_cast<std::size_t>(dim)], other = after[static_cast<std::size_t>(dim)];
    const DimExpr& held = sizes[static_cast<std::size_t>(split)];
    if (split == other || !held.is_constant() || held.offset != static_cast<std::int64_t>(indices.size())) continue;
    const std::string& moved_in = names[static_cast<std::size_t>(other)];
    return fmt::format("its readers take {} entries apart from dim {} of \"{}\", the {} split for them; the change puts {} there, so they "
                       "would take {} entries of it instead",
                       indices.size(), dim, call.outputs.front(), held.str(), moved_in.empty() ? "another dim" : moved_in, indices.size());
  }
  return std::nullopt;
}

// A transpose whose output meets its own input in an elementwise call of the two (x +
// x.transpose(-1, -2) symmetrises a (B, C, T, T) map; x - x.transpose(...) takes its
// antisymmetric part) pairs each entry with its mirror across the two dims it swaps, which keeps
// the shape only when they have one size. A change of the transpose to two dims of one size
// (from transpose(1, 2), which met the channels with the rows) then does what the pairing is
// written for; nullopt when the change or the calls are not of that kind.
std::optional<std::string> mirror_pairing_note(const Spec& spec, std::optional<std::size_t> failing, std::size_t transpose, const Shape& sizes,
                                               const nlohmann::json& values) {
  static const std::set<std::string, std::less<>> pairwise = {"add", "sub", "mul", "div"};
  if (!failing || *failing <= transpose) return std::nullopt;
  const CallDecl& call = spec.calls[transpose];
  const CallDecl& pairing = spec.calls[*failing];
  const std::string source = input_name(call, "input");
  if (call.op != "transpose" || call.outputs.size() != 1 || source.empty() || pairwise.count(pairing.op) == 0) return std::nullopt;
  const std::string input = input_name(pairing, "input"), other = input_name(pairing, "other");
  const bool meets = (input == call.outputs.front() && other == source) || (other == call.outputs.front() && input == source);
  // The source read by the pairing is the tensor the transpose read (a name may be reused).
  if (!meets || producer_of(spec, source, &pairing) != producer_of(spec, source, &call) ||
      producer_of(spec, call.outputs.front(), &pairing) != &call) {
    return std::nullopt;
  }
  const auto rank = static_cast<std::int64_t>(sizes.size());
  std::vector<std::size_t> swapped;
  for (const char* argument : {"dim0", "dim1"}) {
    const nlohmann::json& dim = values.value(argument, nlohmann::json());
    if (!dim.is_number_integer()) return std::nullopt;
    std::int64_t d = dim.get<std::int64_t>();
    if (d < -rank || d >= rank) return std::nullopt;
    swapped.push_back(static_cast<std::size_t>(d < 0 ? d + rank : d));
  }
  if (!(sizes[swapped[0]] == sizes[swapped[1]])) return std::nullopt;
  return fmt::format("call \"{}\" meets {} with its own transpose: swapping dims {} and {} (both {}) pairs each entry with its mirror", pairing.id,
                     source, swapped[0], swapped[1], sizes[swapped[0]].str());
}

// A wrong layout put in by an upstream call's own arguments (q @ k.transpose(1, 2) on 4-D keys,
// mean(dim=-1) over the features, unsqueeze(2) of a single key/value head, a batch-first permute
// of positions added to seq-first features): each upstream call's dim arguments rewritten in
// place, the calls of one operator with the same arguments together first (k and v unsqueezed
// alike), then each alone. One argument of a call the user wrote is a smaller change than a call
// inserted after it.
std::vector<Fix> argument_value_candidates(const Spec& spec, const Report& report, const CallReport& checked) {
  std::vector<Fix> fixes;
  std::vector<std::size_t> upstream = upstream_calls(spec, report, checked);
  // A view or reshape that fails is its own shaping call (memory viewed with the query's length);
  // so is a chunk or split that fails on the dim it cuts (a Linear's (B, T, 2F) output chunked
  // on the tokens, whose count the check cannot halve): its dim is the argument to change.
  std::optional<std::size_t> failing = call_index(spec, checked.id);
  const bool own_call = failing && CallContext::is_calls_entry(spec.calls[*failing], *failing);
  const bool reshapes_itself = own_call && (spec.calls[*failing].op == "view" || spec.calls[*failing].op == "reshape");
  const bool splits_itself = own_call && (spec.calls[*failing].op == "chunk" || spec.calls[*failing].op == "split");
  if (reshapes_itself || splits_itself) upstream.insert(upstream.begin(), *failing);
  std::map<std::tuple<std::string, std::string, int>, std::vector<std::size_t>> alike;  // (op, arguments, rank) -> calls
  struct Input {
    int rank = 0;
    std::vector<std::string> names;
    Shape sizes;
  };
  std::map<std::size_t, Input> inputs;  // call -> its input's rank, names and sizes
  // The input of call `index` as checked: a view's shape list is written for its input's sizes.
  auto input_of = [&](std::size_t index) -> const ResolvedArgument* {
    const CallReport* made = call_report(report, spec.calls[index].id);
    if (!made) return nullptr;
    // An einsum's first operand stands for its input: its changes rewrite the equation.
    const std::string first = spec.calls[index].op == "einsum" ? list_element("operands", 0) : "input";
    auto input = std::find_if(made->arguments.begin(), made->arguments.end(), [&](const ResolvedArgument& a) { return a.name == first; });
    return input == made->arguments.end() || input->written().empty() ? nullptr : &*input;
  };
  for (std::size_t index : upstream) {
    const CallDecl& call = spec.calls[index];
    const ResolvedArgument* input = input_of(index);
    const bool splits = call.op == "chunk" || call.op == "split";
    if (!input || (call.outputs.size() != 1 && !splits) || call.outputs.empty()) continue;
    int rank = static_cast<int>(input->written().size());
    std::vector<std::string> names = written_names(input->written());
    // An earlier call's output by the names its call gives its dims, where it gives them.
    const CallReport* source = input->source.kind == ArgumentSource::Kind::Output ? call_report(report, input->source.call) : nullptr;
    for (const NamedOutput& output : source ? source->outputs : std::vector<NamedOutput>{}) {
      if (output.name == input->source.name && output.dim_names.size() == names.size()) names = output.dim_names;
    }
    inputs[index] = {rank, names, input->shape};
    alike[{call.op, call.arguments.dump(), rank}].push_back(index);
  }
  // Calls written alike anywhere in the graph (v's permute, which the failing call does not read).
  // A view's or reshape's shape list is written for its input: those of inputs of other sizes
  // (the query's view beside the memory's keys' and values') are not its twins.
  auto twins = [&](std::size_t index, const CallDecl& other) {
    const CallDecl& call = spec.calls[index];
    if (other.op != call.op || other.arguments != call.arguments) return false;
    if (call.op != "view" && call.op != "reshape") return true;
    const ResolvedArgument* own = input_of(index);
    std::optional<std::size_t> at = call_index(spec, other.id);
    const ResolvedArgument* theirs = at ? input_of(*at) : nullptr;
    return own && theirs && own->shape == theirs->shape;
  };
  auto written_alike = [&](std::size_t index) {
    return static_cast<std::size_t>(std::count_if(spec.calls.begin(), spec.calls.end(), [&](const CallDecl& other) { return twins(index, other); }));
  };
  // Two calls written alike that make the two operands of the broadcast that fails or holds only
  // under a condition (source.unsqueeze(2) + target.unsqueeze(2), meant to pair every frame with
  // every label): their likeness is what lines the operands up entry by entry, and one of them
  // written with the other's argument (copied) is the slip.
  std::set<std::size_t> paired;
  if (failing) {
    std::vector<std::size_t> makers;
    for (const Operand& operand : broadcast_operands(spec.calls[*failing], checked)) {
      if (operand.resolved->source.kind != ArgumentSource::Kind::Output) continue;
      if (std::optional<std::size_t> maker = call_index(spec, operand.resolved->source.call)) makers.push_back(*maker);
    }
    if (makers.size() == 2 && makers[0] != makers[1] && twins(makers[0], spec.calls[makers[1]])) paired = {makers[0], makers[1]};
  }
  auto add = [&](const std::vector<std::size_t>& group, const std::vector<std::size_t>& alike_calls) {
    const auto& [rank, names, sizes] = inputs[group.front()];
    // Calls written alike (q, k and v each viewed and permuted the same way) are changed together:
    // one changed alone is made to match the odd one out.
    const bool changed_alone = group.size() < std::max(alike_calls.size(), written_alike(group.front())) &&
                               !(group.size() == 1 && paired.count(group.front()) != 0);
    for (const ArgumentChange& change : argument_changes(spec.calls[group.front()], rank, names, sizes, reshapes_itself && group.front() == *failing)) {
      nlohmann::json patch = nlohmann::json::array();
      std::vector<std::string> ids, readings;
      for (std::size_t index : group) {
        const CallDecl& call = spec.calls[index];
        nlohmann::json::json_pointer written(call.pointer);
        if (change.values.contains("op") && spec.value().contains(written) && spec.value()[written].is_object()) {
          // Another operator: the call written anew, in one replacement.
          nlohmann::json rewritten = spec.value()[written];
          for (const auto& [argument, value] : change.values.items()) rewritten[argument] = value;
          for (const std::string& argument : change.removed) rewritten.erase(argument);
          patch.push_back({{"op", "replace"}, {"path", call.pointer}, {"value", std::move(rewritten)}});
        }
        const nlohmann::json in_place = change.values.contains("op") ? nlohmann::json::object() : change.values;
        for (const auto& [argument, value] : in_place.items()) {
          patch.push_back({{"op", call.arguments.contains(argument) && spec.value().contains(nlohmann::json::json_pointer(child_pointer(call.pointer, argument)))
                                      ? "replace"
                                      : "add"},
                           {"path", child_pointer(call.pointer, argument)},
                           {"value", value}});
        }
        auto input = call.tensors.find("input");
        std::string input_name = input != call.tensors.end() && input->second.kind == ArgRef::Kind::Named ? input->second.name : "input";
        ids.push_back(fmt::format("\"{}\"", call.id));
        const std::string outputs = fmt::format("{}", fmt::join(call.outputs, ", "));
        if (call.op == "einsum") {
          std::vector<std::string> operands;
          for (std::size_t i = 0; i < call.list_size("operands"); ++i) {
            const ArgRef& operand = call.tensor(list_element("operands", i));
            operands.push_back(operand.kind == ArgRef::Kind::Named ? operand.name : list_element("operands", i));
          }
          readings.push_back(fmt::format("{} = torch.einsum({}, {})", outputs, change.python, fmt::join(operands, ", ")));
        } else if (change.functional) {
          readings.push_back(fmt::format("{} = F.{}({}, {})", outputs, call.op, input_name, change.python));
        } else {
          // An index reads as one: hidden[-1].
          readings.push_back(fmt::format("{} = {}{}{}", outputs, input_name, change.python.front() == '[' ? "" : ".", change.python));
        }
      }
      Fix fix = candidate(fmt::format("change the {} of call{} {} to {}: {}", spec.calls[group.front()].op, group.size() > 1 ? "s" : "",
                                      fmt::join(ids, " and "), change.python, fmt::join(readings, "; ")),
                          std::move(patch));
      std::optional<std::string> note = change.note.empty() ? std::nullopt : std::optional<std::string>(change.note);
      if (!note && changed_alone) {
        note = fmt::format("call \"{}\" is written like another call of the graph: changed alone, it no longer is", spec.calls[group.front()].id);
      }
      if (!note) note = sequence_leaves_product(spec, group.front(), names, change);
      if (!note) note = split_leaves_selection(spec, group.front(), sizes, names, change);
      if (note) {
        fix.semantics = FixSemantics::Suspect;
        fix.semantics_note = *note;
      } else if (std::optional<std::string> mirror = mirror_pairing_note(spec, failing, group.front(), sizes, change.values)) {
        fix.semantics = FixSemantics::Consistent;
        fix.semantics_note = *mirror;
      } else if (change.was_no_op) {
        fix.semantics = FixSemantics::Consistent;
        fix.semantics_note = fmt::format("call \"{}\" changed nothing as written: its dim is not of size 1", spec.calls[group.front()].id);
      } else if (!change.consistent_note.empty()) {
        fix.semantics = FixSemantics::Consistent;
        fix.semantics_note = change.consistent_note;
      }
      fixes.push_back(std::move(fix));
    }
  };
  // A failing view's twins (keys and values viewed alike from one memory) changed with it first.
  if (reshapes_itself && inputs.count(*failing) != 0) {
    std::vector<std::size_t> group;
    for (std::size_t index = 0; index < spec.calls.size(); ++index) {
      if (twins(*failing, spec.calls[index]) && CallContext::is_calls_entry(spec.calls[index], index) && input_of(index)) {
        group.push_back(index);
      }
    }
    std::erase(group, *failing);
    group.insert(group.begin(), *failing);
    if (group.size() > 1) add(group, group);
  }
  std::map<std::size_t, const std::vector<std::size_t>*> alike_of;
  for (const auto& [key, group] : alike) {
    for (std::size_t index : group) alike_of[index] = &group;
    if (group.size() > 1) add(group, group);
  }
  for (std::size_t index : upstream) {
    if (inputs.count(index) != 0) add({index}, *alike_of[index]);
  }
  return fixes;
}

// An outer product (or sum) of two vectors, each given its dim by an index or an unsqueeze
// (timesteps[None, :] * freqs[:, None]), made the other way round: the operands' inserted dims
// exchanged (timesteps[:, None] * freqs[None, :]) order the product's dims the other way, the
// fix where a later call reads its dims transposed (a (half, B) table meant as (B, half)).
std::vector<Fix> outer_order_candidates(const Spec& spec, const Report& report, const CallReport& checked) {
  static const std::set<std::string, std::less<>> outer = {"mul", "add", "sub"};
  std::vector<std::size_t> calls = upstream_calls(spec, report, checked);
  if (std::optional<std::size_t> failing = call_index(spec, checked.id)) calls.insert(calls.begin(), *failing);
  // The call that made `name` at its written place, with the one dim it inserts into a vector.
  struct Inserted {
    std::size_t index;
    int dim;
    std::string argument;  // "index" or "dim"
    nlohmann::json value;
  };
  auto inserted_by = [&](const CallDecl& reader, const std::string& slot) -> std::optional<Inserted> {
    auto ref = reader.tensors.find(slot);
    if (ref == reader.tensors.end() || ref->second.kind != ArgRef::Kind::Named) return std::nullopt;
    for (std::size_t index = 0; index < spec.calls.size(); ++index) {
      const CallDecl& maker = spec.calls[index];
      if (maker.outputs.size() != 1 || maker.outputs.front() != ref->second.name || !CallContext::is_calls_entry(maker, index)) continue;
      const CallReport* made = call_report(report, maker.id);
      if (!made || made->arguments.empty() || made->arguments.front().shape.size() != 1) return std::nullopt;
      if (maker.op == "getitem" && maker.arguments.contains("index")) {
        if (std::optional<int> dim = inserted_dim(maker.arguments["index"], 1)) return Inserted{index, *dim, "index", maker.arguments["index"]};
      }
      if (maker.op == "unsqueeze" && maker.arguments.contains("dim") && maker.arguments["dim"].is_number_integer()) {
        std::int64_t dim = maker.arguments["dim"].get<std::int64_t>();
        if (dim >= -2 && dim < 2) return Inserted{index, static_cast<int>(dim < 0 ? dim + 2 : dim), "dim", maker.arguments["dim"]};
      }
      return std::nullopt;
    }
    return std::nullopt;
  };
  std::vector<Fix> fixes;
  for (std::size_t index : calls) {
    const CallDecl& call = spec.calls[index];
    if (outer.count(call.op) == 0) continue;
    std::optional<Inserted> first = inserted_by(call, "input"), second = inserted_by(call, "other");
    if (!first || !second || first->dim == second->dim || first->argument != second->argument) continue;
    const CallDecl& a = spec.calls[first->index];
    const CallDecl& b = spec.calls[second->index];
    auto reading = [](const CallDecl& maker, const nlohmann::json& value) {
      const std::string input = maker.tensors.count("input") != 0 && maker.tensors.at("input").kind == ArgRef::Kind::Named ? maker.tensors.at("input").name : "input";
      return maker.op == "getitem" ? fmt::format("{} = {}{}", maker.outputs.front(), input, value.get<std::string>())
                                   : fmt::format("{} = {}.unsqueeze({})", maker.outputs.front(), input, value.dump());
    };
    fixes.push_back(candidate(
        fmt::format("exchange the dims calls \"{}\" and \"{}\" insert, so that call \"{}\"'s outer {} puts the other operand's dim first: {}; {}",
                    a.id, b.id, call.id, call.op == "mul" ? "product" : "sum", reading(a, second->value), reading(b, first->value)),
        {{{"op", "replace"}, {"path", child_pointer(a.pointer, first->argument)}, {"value", second->value}},
         {{"op", "replace"}, {"path", child_pointer(b.pointer, second->argument)}, {"value", first->value}}}));
  }
  return fixes;
}

// Two outputs of a call upstream unpacked in the wrong order (attn_weights, attn_output =
// mha(x, memory, memory)): the one named for the other flows where the other is meant, and the
// graph fails downstream. The outputs named the other way round, for calls whose two outputs
// have different shapes (otherwise the exchange changes no shape the check could verify).
std::vector<Fix> unpacking_candidates(const Spec& spec, const Report& report, const CallReport& checked) {
  std::vector<Fix> fixes;
  for (std::size_t index : upstream_calls(spec, report, checked)) {
    const CallDecl& call = spec.calls[index];
    const CallReport* made = call_report(report, call.id);
    if (call.outputs.size() != 2 || !made || made->outputs.size() != 2 || made->outputs[0].shape == made->outputs[1].shape) continue;
    nlohmann::json exchanged = {call.outputs[1], call.outputs[0]};
    Fix fix = candidate(fmt::format("unpack the outputs of call \"{}\" in the order {} returns them: {}, {} = {}(...)", call.id,
                                    call.module.empty() ? call.op : call.module, call.outputs[1], call.outputs[0],
                                    call.module.empty() ? call.op : call.module),
                        nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(call.pointer, "outputs")}, {"value", exchanged}}}));
    fix.semantics = FixSemantics::Consistent;
    fix.semantics_note = fmt::format("each output of call \"{}\" then goes where its name says", call.id);
    fixes.push_back(std::move(fix));
  }
  return fixes;
}

// The declared tensor a call's output was made from by calls that keep its dims where they are
// and add features or compare values only (nn.Embedding, ids == pad): token ids (T, B) behind both
// the embeddings and the padding mask. Transposed there, every tensor made from it follows.
std::optional<LayoutSource> declared_root(const Spec& spec, const LayoutSource& source) {
  if (source.written()) return std::nullopt;
  std::size_t index = source.producer;
  for (int step = 0; step < 4; ++step) {
    const CallDecl& producer = spec.calls[index];
    const ModuleDecl* module = producer.module.empty() ? nullptr : spec.find_module(producer.module);
    auto input = producer.tensors.find("input");
    if (!(module && module->type == "Embedding") && !with_a_number(producer)) return std::nullopt;
    if (input == producer.tensors.end() || input->second.kind != ArgRef::Kind::Named) return std::nullopt;
    const std::string& name = input->second.name;
    std::optional<std::size_t> made;
    for (std::size_t before = index; before-- > 0 && !made;) {
      const std::vector<std::string>& outputs = spec.calls[before].outputs;
      if (std::find(outputs.begin(), outputs.end(), name) != outputs.end()) made = before;
    }
    if (!made) {
      const TensorDecl* declared = spec.find_tensor(name);
      if (declared == nullptr || declared->shape_pointer.empty() || declared->shape.size() < 2) return std::nullopt;
      return LayoutSource{name, declared->shape, declared->shape_pointer, 0, 0, {}};
    }
    index = *made;
  }
  return std::nullopt;
}

ReadIndex::ReadIndex(const Spec& spec) {
  for (std::size_t index = 0; index < spec.calls.size(); ++index) {
    const CallDecl& call = spec.calls[index];
    std::string kind = call.op + '\n' + call.module + '\n' + call.arguments.dump();
    for (const auto& [slot, argument] : call.tensors) {
      if (argument.kind == ArgRef::Kind::Named) readers_[argument.name][{slot, kind}].push_back(index);
    }
  }
}

bool ReadIndex::read_alike(const std::string& name, const std::string& twin) const {
  auto read = readers_.find(name), twin_read = readers_.find(twin);
  if (read == readers_.end() || twin_read == readers_.end()) return false;
  for (const auto& [way, calls] : read->second) {
    ++lookups_;
    if (twin_read->second.count(way) == 0) continue;
    // One call holds one tensor per slot: another call, unless the two names are one.
    if (name != twin || calls.size() > 1) return true;
  }
  return false;
}

std::vector<Fix> search_candidates(const Spec& spec, const Report& report, const std::string& call_id, std::size_t limit) {
  return search_candidates(spec, report, call_id, limit, ReadIndex(spec));
}

std::vector<Fix> search_candidates(const Spec& spec, const Report& report, const std::string& call_id, std::size_t limit, const ReadIndex& reads) {
  Rechecker rechecker(spec);
  return search_candidates(spec, report, call_id, limit, reads, rechecker);
}

std::vector<Fix> search_candidates(const Spec& spec, const Report& report, const std::string& call_id, std::size_t limit, const ReadIndex& reads,
                                   Rechecker& rechecker) {
  std::vector<Fix> candidates;
  std::optional<std::size_t> index = call_index(spec, call_id);
  if (!index) return candidates;
  const CallDecl& call = spec.calls[*index];
  auto add = [&](Fix fix) {
    if (candidates.size() < limit) candidates.push_back(std::move(fix));
  };

  if (std::optional<Fix> option = batch_first_candidate(spec, call)) add(std::move(*option));
  if (call.arguments.contains("enable_gqa") && call.arguments["enable_gqa"] == false) {
    add(candidate("pass enable_gqa=True (PyTorch 2.5+)", {{{"op", "add"}, {"path", call.pointer + "/enable_gqa"}, {"value", true}}}));
  }

  // The distinct sources of the call's tensor arguments, in the call's argument order; masks
  // apart.
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  const CallReport* checked = call_report(report, call_id);
  std::vector<LayoutSource> sources, masks;
  std::vector<std::pair<std::string, std::size_t>> argument_sources;  // argument -> its index in sources
  int query_rank = 0;
  for (const ResolvedArgument& resolved : checked ? checked->arguments : std::vector<ResolvedArgument>{}) {
    if (resolved.name == "query") query_rank = static_cast<int>(resolved.shape.size());
    if (resolved.name == "attn_mask" && module && module->type == "MultiheadAttention") {
      for (Fix& fix : four_d_mask_candidates(spec, call, resolved, module->mha.num_heads)) add(std::move(fix));
    }
    auto ref = call.tensors.find(resolved.name);
    if (ref == call.tensors.end()) continue;
    std::optional<LayoutSource> source = layout_source(spec, report, resolved, ref->second);
    if (!source || source->shape.size() < 2) continue;
    auto seen = std::find_if(sources.begin(), sources.end(), [&](const LayoutSource& s) {
      return s.name == source->name && s.shape_pointer == source->shape_pointer;
    });
    argument_sources.emplace_back(resolved.name, static_cast<std::size_t>(seen - sources.begin()));
    if (seen != sources.end()) continue;
    if (resolved.name.find("mask") != std::string::npos) masks.push_back(*source);
    sources.push_back(std::move(*source));
  }
  for (Fix& fix : mask_candidates(spec, call, masks, query_rank)) add(std::move(fix));
  if (checked) {
    for (Fix& fix : lifted_mask_candidates(spec, report, call, *checked)) add(std::move(fix));
  }
  // The declared tensor behind an argument reached through layers (a Conv2d stack, a view),
  // transposed where it entered, when every module's declared size then fits (checked already).
  if (checked) {
    for (Fix& fix : entered_relayout_candidates(spec, report, call, *checked, rechecker)) add(std::move(fix));
  }
  // The argument changes: those that make a call that changed nothing do what it was written for
  // (consistent as made) before every transpose, the others after them.
  std::vector<Fix> argument_values = checked ? argument_value_candidates(spec, report, *checked) : std::vector<Fix>{};
  auto made_consistent = std::stable_partition(argument_values.begin(), argument_values.end(),
                                               [](const Fix& fix) { return fix.semantics == FixSemantics::Consistent; });
  for (auto it = argument_values.begin(); it != made_consistent; ++it) add(std::move(*it));
  if (checked) {
    for (Fix& fix : unpacking_candidates(spec, report, *checked)) add(std::move(fix));
    if (std::optional<Fix> swap = key_value_swap_candidate(spec, report, call, *checked)) add(std::move(*swap));
    for (Fix& fix : cat_dim_candidates(spec, report, *checked)) add(std::move(fix));
    for (Fix& fix : repeat_interleave_dim_candidates(spec, report, *checked)) add(std::move(fix));
    for (Fix& fix : outer_order_candidates(spec, report, *checked)) add(std::move(fix));
    for (Fix& fix : repeat_count_candidates(spec, *checked)) add(std::move(fix));
    for (Fix& fix : batch_tiling_candidates(spec, report, call, *checked)) add(std::move(fix));
    for (Fix& fix : shared_row_candidates(spec, report, *checked)) add(std::move(fix));
    for (Fix& fix : slice_operand_candidates(spec, report, call, *checked)) add(std::move(fix));
    for (Fix& fix : resampled_table_candidates(spec, report, call, *checked)) add(std::move(fix));
    for (Fix& fix : permute_operand_candidates(spec, report, call, *checked)) add(std::move(fix));
    for (Fix& fix : alike_chain_candidates(spec, report, call, *checked)) add(std::move(fix));
    for (Fix& fix : unsliced_mask_candidates(spec, report, call, *checked)) add(std::move(fix));
    for (Fix& fix : slice_dim_candidates(spec, report, *checked)) add(std::move(fix));
    for (Fix& fix : dropped_relayout_candidates(spec, *checked)) add(std::move(fix));
  }
  std::optional<LayoutSource> output = consumed_output(spec, *index);
  // An einsum's transposes are labelled by its subscripts' roles where the call's own names
  // disagree with them: the operand whose layout disagrees is the one to transpose.
  std::vector<std::vector<DimRole>> roles = subscript_roles(call);
  std::vector<const LayoutSource*> operand_sources;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    auto found = std::find_if(argument_sources.begin(), argument_sources.end(),
                              [&](const auto& entry) { return entry.first == list_element("operands", i); });
    operand_sources.push_back(found == argument_sources.end() ? nullptr : &sources[found->second]);
  }
  bool roles_disagree = subscript_disagreement(roles, operand_sources, {}, 0, 0).has_value();
  auto label_by_subscripts = [&](Fix& fix, const std::vector<const LayoutSource*>& group, int a, int b) {
    if (!roles_disagree) return;
    std::optional<std::string> disagreement = subscript_disagreement(roles, operand_sources, group, a, b);
    fix.semantics = disagreement ? FixSemantics::Suspect : FixSemantics::Consistent;
    fix.semantics_note = disagreement ? *disagreement : "every named dim then sits under a subscript of its role";
  };
  AttentionProduct product = attention_product(spec, report, *index);
  auto input_source = std::find_if(argument_sources.begin(), argument_sources.end(), [](const auto& entry) { return entry.first == "input"; });
  const LayoutSource* product_input = input_source == argument_sources.end() ? nullptr : &sources[input_source->second];
  auto other_source = std::find_if(argument_sources.begin(), argument_sources.end(), [](const auto& entry) { return entry.first == "other"; });
  const LayoutSource* product_other = other_source == argument_sources.end() ? nullptr : &sources[other_source->second];
  auto label_by_lost_roles = [&](Fix& fix, const std::vector<const LayoutSource*>& group, int a, int b) {
    // The right operand of a product of two matrices transposed (x @ y.T): its rows become the
    // product's columns, no feature slot, and the two operands' features are contracted (CLIP's
    // (B, E) @ (B, E).T similarities, one per pair of entries; (B, E) @ (C, E).T class logits).
    if (call.op == "matmul" && group.size() == 1 && group.front() == product_other && product_other != product_input &&
        group.front()->shape.size() == 2 && product_input != nullptr && product_input->shape.size() == 2) {
      fix.semantics = FixSemantics::Consistent;
      fix.semantics_note = "the product contracts the last dims of both operands (x @ y.T): each row of one meets each row of the other";
      return;
    }
    std::optional<std::string> lost = roles_lost_by_transpose(spec, group, a, b);
    if (!lost) lost = contraction_moved(spec, product, product_input, group, a, b);
    if (!lost) lost = declared_alike(spec, reads, group, a, b);
    if (!lost) lost = relaid_with_its_source(spec, group);
    if (lost) {
      fix.semantics = FixSemantics::Suspect;
      fix.semantics_note = *lost;
    } else if (group.size() == 1 && brings_normalised_dim_last(spec, product, product_input, group, a, b)) {
      fix.semantics = FixSemantics::Consistent;
      fix.semantics_note = "the product then contracts the dim the softmax normalised the weights over";
    }
  };

  // A transpose (not the permute that moves one dim past the others) that reverses two dims of one
  // size exchanges their roles: suspect, whatever else holds.
  auto label_reversed = [&](Fix& fix, const std::vector<const LayoutSource*>& group, int a, int b) {
    if (std::optional<std::string> reversed = equal_dims_reversed(group, a, b)) {
      fix.semantics = FixSemantics::Suspect;
      fix.semantics_note = *reversed;
    }
  };

  // Several arguments of one rank first (one wrong layout usually reaches query, key and value
  // alike), all of them, then fewer; then each alone. Each transpose also with the call's output
  // transposed back when later calls read it, so that they still get the layout they expect.
  // Where a view comes after an inserted transpose, each also with .contiguous() after the
  // transposes (a larger change, ranked after; the one left when the view refuses the layout).
  auto view_after = [&](std::size_t from) {
    return std::any_of(spec.calls.begin() + static_cast<std::ptrdiff_t>(from) + 1, spec.calls.end(),
                       [](const CallDecl& later) { return later.op == "view"; });
  };
  bool back_view = output && view_after(*index);
  // A call that reads its input's last dim as the features (a Linear, a LayerNorm): a dim carried
  // to that slot is the move its fix makes.
  const ModuleDecl* reader_module = call.module.empty() ? nullptr : spec.find_module(call.module);
  const std::string reader = reader_module ? reader_module->type : call.op;
  const bool feature_reader = reader == "Linear" || reader == "LayerNorm" || reader == "F.linear" || reader == "linear" ||
                              reader == "F.layer_norm" || reader == "layer_norm";
  std::vector<std::vector<const LayoutSource*>> groups = argument_groups(sources);
  // Each argument alone, in the order its operator tries them (the groups end with them).
  if (const OperatorDef* op = find_operator(call.op); op != nullptr && op->single_argument_order != nullptr) {
    const auto singles = std::find_if(groups.begin(), groups.end(), [](const auto& group) { return group.size() == 1; });
    std::vector<std::size_t> order(static_cast<std::size_t>(groups.end() - singles));
    std::iota(order.begin(), order.end(), std::size_t{0});
    op->single_argument_order(order);
    std::vector<std::vector<const LayoutSource*>> alone;
    for (std::size_t at : order) alone.push_back(singles[static_cast<std::ptrdiff_t>(at)]);
    std::copy(alone.begin(), alone.end(), singles);
  }
  for (const std::vector<const LayoutSource*>& group : groups) {
    bool group_view = std::any_of(group.begin(), group.end(), [&](const LayoutSource* s) { return !s->written() && view_after(s->producer); });
    int rank = static_cast<int>(group.front()->shape.size());
    for (int a = 0; a < rank; ++a) {
      for (int b = a + 1; b < rank; ++b) {
        // One dim carried past two or more others to the feature slot (channels to the end of
        // (B, C, H, W) for a LayerNorm): the permute that keeps the others in their order (permute(0, 2, 3, 1), H
        // before W) before the transpose, which exchanges the passenger W with C as well and
        // leaves (B, W, H, C). Of 4 dims or more, where another dim sits between the two; not
        // after a transpose or permute, whose own dims are the ones to change (argument changes).
        const LayoutSource& alone = *group.front();
        const bool relaid = !alone.written() && (spec.calls[alone.producer].op == "transpose" || spec.calls[alone.producer].op == "permute");
        if (feature_reader && group.size() == 1 && rank >= 4 && b == rank - 1 && b - a >= 2 && !relaid) {
          const std::vector<int> order = moved_order(rank, a, b), inverse = moved_order(rank, b, a);
          Fix moved = candidate(permute_text(spec, *group.front(), order), relayout_patch(spec, group, permute(order)));
          label_by_lost_roles(moved, group, a, b);
          add(std::move(moved));
          if (output) {
            std::vector<const LayoutSource*> and_back = group;
            and_back.push_back(&*output);
            // As relayout_patch orders its sources: a written shape first, then the calls inserted
            // from the last producer back, so that no insertion moves what is still to be patched.
            nlohmann::json first = relayout_patch(spec, group, permute(order)), second = relayout_patch(spec, {&*output}, permute(inverse));
            if (!group.front()->written()) std::swap(first, second);
            nlohmann::json patch = std::move(first);
            for (nlohmann::json& operation : second) patch.push_back(std::move(operation));
            Fix moved_back = candidate(fmt::format("{}; and {} back after call \"{}\": {} = {}.permute({})", permute_text(spec, *group.front(), order),
                                                   output->name, call.id, output->name, output->name, fmt::join(inverse, ", ")),
                                       std::move(patch));
            label_by_lost_roles(moved_back, group, a, b);
            add(std::move(moved_back));
          }
        }
        for (bool contiguous : {false, true}) {
          if (contiguous && !group_view && !back_view) continue;
          std::string then = contiguous ? ".contiguous()" : "";
          std::string text = group.size() == 1 ? transpose_text(spec, *group.front(), a, b, contiguous)
                                               : fmt::format("transpose {} together: .transpose({}, {}){} each, where each is made",
                                                             listed(group), a, b, then);
          if (!contiguous || group_view) {
            Fix transposed = candidate(text, relayout_patch(spec, group, transpose(a, b, contiguous)));
            label_by_subscripts(transposed, group, a, b);
            label_by_lost_roles(transposed, group, a, b);
            label_reversed(transposed, group, a, b);
            add(std::move(transposed));
          }
          if (!output) continue;
          std::vector<const LayoutSource*> and_back = group;
          and_back.push_back(&*output);
          Fix and_back_fix = candidate(fmt::format("{}; and {} back after call \"{}\": {} = {}.transpose({}, {}){}", text, output->name, call.id,
                                                   output->name, output->name, a, b, then),
                                       relayout_patch(spec, and_back, transpose(a, b, contiguous)));
          label_by_subscripts(and_back_fix, group, a, b);
          label_by_lost_roles(and_back_fix, group, a, b);
          label_reversed(and_back_fix, group, a, b);
          add(std::move(and_back_fix));
        }
      }
    }
  }
  // A declared argument with a twin read the same way elsewhere (k_cache and v_cache, each joined
  // with the new keys or values): both carry the layout fault, so both are transposed together.
  std::vector<std::vector<LayoutSource>> twinned;
  for (const LayoutSource& source : sources) {
    if (!source.written() || source.shape.size() < 3) continue;
    for (const TensorDecl& tensor : spec.tensors) {
      if (tensor.shape_pointer.empty() || tensor.shape_pointer == source.shape_pointer || tensor.shape != source.shape ||
          !reads.read_alike(source.name, tensor.name)) {
        continue;
      }
      twinned.push_back({source, LayoutSource{tensor.name, tensor.shape, tensor.shape_pointer, 0, 0, {}}});
    }
  }
  for (const std::vector<LayoutSource>& pair : twinned) {
    std::vector<const LayoutSource*> group{&pair[0], &pair[1]};
    const int rank = static_cast<int>(pair[0].shape.size());
    for (int a = 0; a < rank; ++a) {
      for (int b = a + 1; b < rank; ++b) {
        Fix together = candidate(fmt::format("transpose {} together: .transpose({}, {}) each, where each is made", listed(group), a, b),
                                 relayout_patch(spec, group, transpose(a, b, false)));
        label_by_lost_roles(together, group, a, b);
        add(std::move(together));
      }
    }
  }
  // One declared tensor behind two arguments of different ranks (ids behind the embeddings and the
  // padding mask): transposed once there, both change layout together.
  std::vector<std::pair<LayoutSource, int>> roots;
  for (const LayoutSource& source : sources) {
    std::optional<LayoutSource> root = declared_root(spec, source);
    if (!root) continue;
    auto seen = std::find_if(roots.begin(), roots.end(), [&](const auto& entry) { return entry.first.shape_pointer == root->shape_pointer; });
    if (seen == roots.end()) roots.emplace_back(std::move(*root), 1);
    else ++seen->second;
  }
  for (const auto& [root, readers] : roots) {
    if (readers < 2) continue;
    const int rank = static_cast<int>(root.shape.size());
    for (int a = 0; a < rank; ++a) {
      for (int b = a + 1; b < rank; ++b) add(candidate(transpose_text(spec, root, a, b, false), relayout_patch(spec, {&root}, transpose(a, b, false))));
    }
  }
  // Then the dim arguments of the calls upstream, rewritten in place: after the inserted
  // transposes, so that of a change as large (two arguments against an inserted call) the
  // transpose where the layout entered comes first.
  if (checked) {
    for (auto it = made_consistent; it != argument_values.end(); ++it) add(std::move(*it));
    if (candidates.size() < limit) {
      for (Fix& fix : insertion_candidates(spec, report, call, *checked, rechecker, limit - candidates.size())) add(std::move(fix));
    }
  }
  return candidates;
}

}  // namespace mhacheck
