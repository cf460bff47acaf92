// Concrete repairs from the graph (repair_candidates.hpp).
#include "repair_candidates.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/shape_json.hpp"
#include "fix_search.hpp"
#include "ops/index_expression.hpp"

namespace mhacheck {
namespace {

// Whether `size` can be made from the tensor's own dim `had`: the same, one index of it (1),
// one entry stretched (from 1), tiled (a multiple), or cut (a constant buffer cut to a
// symbol's length, or a smaller constant).
bool made_from_own_dim(const DimExpr& had, const DimExpr& size) {
  if (had == size || size == DimExpr::constant(1) || had == DimExpr::constant(1)) return true;
  if (had.is_constant()) return !size.is_constant() || size.offset < had.offset || (had.offset > 0 && size.offset % had.offset == 0);
  return !size.is_constant() && size.symbol == had.symbol && had.offset == 0 && size.offset == 0 && had.coeff != 0 &&
         size.coeff % had.coeff == 0;
}

// The shape written at `path` when it is a tensor's: a declared one's or an inline argument's.
const Shape* written_tensor_shape(const Spec& spec, const std::string& path) {
  const std::string tensors = "/tensors/", calls = "/calls/";
  std::string element = path.ends_with("/shape") ? path.substr(0, path.size() - 6) : path;
  auto inline_shape = [&](const CallDecl& call) -> const Shape* {
    for (const auto& [argument, ref] : call.tensors) {
      if (ref.kind == ArgRef::Kind::Inline && ref.tensor && ref.tensor->shape_pointer == path) return &ref.tensor->shape;
    }
    return nullptr;
  };
  if (element.rfind(tensors, 0) == 0) {
    const TensorDecl* declared = spec.find_tensor(element.substr(tensors.size()));
    return declared && declared->shape_pointer == path ? &declared->shape : nullptr;
  }
  if (element.rfind(calls, 0) == 0) {
    std::size_t end = element.find('/', calls.size());
    std::string number = element.substr(calls.size(), end == std::string::npos ? std::string::npos : end - calls.size());
    if (number.empty() || !std::all_of(number.begin(), number.end(), [](unsigned char c) { return std::isdigit(c); }) || number.size() > 9) {
      return nullptr;
    }
    std::size_t index = std::stoul(number);
    return index < spec.calls.size() ? inline_shape(spec.calls[index]) : nullptr;
  }
  return spec.calls.size() == 1 ? inline_shape(spec.calls.front()) : nullptr;  // the flat form: one call at the root
}

// A patch value read as a shape; nullopt when it is not one.
std::optional<Shape> shape_of_json(const nlohmann::json& value) {
  if (!value.is_array()) return std::nullopt;
  Shape shape;
  for (const nlohmann::json& dim : value) {
    std::optional<DimExpr> parsed = dim.is_number_integer() ? std::optional<DimExpr>(DimExpr::constant(dim.get<std::int64_t>()))
                                    : dim.is_string()       ? parse_dim_expr(dim.get<std::string>())
                                                            : std::nullopt;
    if (!parsed) return std::nullopt;
    shape.push_back(*parsed);
  }
  return shape;
}

// The call's argument `name` as the check resolved it; null when not given.
const ResolvedArgument* resolved_argument(const CallReport& checked, const std::string& name) {
  auto found = std::find_if(checked.arguments.begin(), checked.arguments.end(), [&](const ResolvedArgument& a) { return a.name == name; });
  return found == checked.arguments.end() ? nullptr : &*found;
}

bool is_mask_name(const std::string& name) {
  std::string lowered = name;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered.find("mask") != std::string::npos || lowered.find("pad") != std::string::npos;
}

Fix candidate(std::string description, nlohmann::json patch, FixSemantics semantics = FixSemantics::Unknown, std::string note = "") {
  Fix fix;
  fix.description = std::move(description);
  fix.patch = std::move(patch);
  fix.semantics = semantics;
  fix.semantics_note = std::move(note);
  return fix;
}

// The patch that has call `index`'s argument `argument` (a named tensor) read `made`, a new
// call inserted right before it: the argument replaced first, then the call added in its place.
nlohmann::json read_inserted_call(const Spec& spec, std::size_t index, const ArgRef& argument, nlohmann::json made) {
  const CallDecl& call = spec.calls[index];
  std::string path = fmt::format("/calls/{}{}", index, argument.pointer.substr(call.pointer.size()));
  std::string output = made["outputs"][0].get<std::string>();
  return nlohmann::json::array({{{"op", "replace"}, {"path", path}, {"value", output}},
                                {{"op", "add"}, {"path", fmt::format("/calls/{}", index)}, {"value", std::move(made)}}});
}

// Whether call `index` is written at /calls/index and its argument `ref` inside it, by name.
bool patchable_named(const Spec& spec, std::size_t index, const ArgRef& ref) {
  const CallDecl& call = spec.calls[index];
  return ref.kind == ArgRef::Kind::Named && call.pointer == fmt::format("/calls/{}", index) &&
         ref.pointer.rfind(call.pointer + "/", 0) == 0;
}

// Keys made longer by a cat (prefix tuning: P prefix keys joined before the T keys) meet a mask
// written for the T keys: the mask padded where the cat joined, its new positions taking part.
void padded_mask_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  for (const ResolvedArgument& mask : checked.arguments) {
    auto ref = call.tensors.find(mask.name);
    if (!is_mask_name(mask.name) || mask.shape.empty() || ref == call.tensors.end() || !patchable_named(spec, index, ref->second)) continue;
    const DimExpr& length = mask.shape.back();
    for (const ResolvedArgument& joined : checked.arguments) {
      if (&joined == &mask || joined.source.kind != ArgumentSource::Kind::Output) continue;
      std::optional<std::size_t> cat_index = call_index(spec, joined.source.call);
      const CallReport* cat = call_report(report, joined.source.call);
      if (!cat_index || !cat || spec.calls[*cat_index].op != "cat" || cat->outputs.empty()) continue;
      const CallDecl& cat_call = spec.calls[*cat_index];
      auto rank = static_cast<std::int64_t>(cat->outputs.front().shape.size());
      std::int64_t dim = cat_call.arguments.contains("dim") && cat_call.arguments["dim"].is_number_integer() ? cat_call.arguments["dim"].get<std::int64_t>() : 0;
      if (dim < -rank || dim >= rank) continue;
      if (dim < 0) dim += rank;
      std::vector<const ResolvedArgument*> pieces;
      for (std::size_t i = 0; i < cat_call.list_size("tensors"); ++i) pieces.push_back(resolved_argument(*cat, list_element("tensors", i)));
      for (std::size_t own = 0; own < pieces.size(); ++own) {
        if (!pieces[own] || static_cast<std::int64_t>(pieces[own]->shape.size()) != rank ||
            report.symbols.compare(pieces[own]->shape[static_cast<std::size_t>(dim)], length) != Symbols::Verdict::Equal) {
          continue;
        }
        std::int64_t before = 0, after = 0;
        bool constant = true;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
          if (i == own) continue;
          DimExpr size = pieces[i] && static_cast<std::int64_t>(pieces[i]->shape.size()) == rank ? report.symbols.resolve(pieces[i]->shape[static_cast<std::size_t>(dim)])
                                                                                                  : DimExpr::named("?");
          constant = constant && size.is_constant();
          (i < own ? before : after) += size.offset;
        }
        if (!constant || before + after == 0) continue;
        // The new positions take part: nn.MultiheadAttention's bool True ignores, SDPA's keeps;
        // a float mask is added, 0 changes nothing.
        bool keep_is_true = mask.dtype == DType::Bool && call.op == "scaled_dot_product_attention" && call.module.empty();
        std::string name = ref->second.name;
        nlohmann::json made = {{"id", fresh_name(spec, "pad_" + name)}, {"op", "pad"}, {"input", name},
                               {"pad", {before, after}}, {"outputs", {fresh_name(spec, name + "_padded")}}};
        if (keep_is_true) made["value"] = 1;
        std::string python = fmt::format("F.pad({}, ({}, {}){})", name, before, after, keep_is_true ? ", value=True" : "");
        std::string piece_name = cat_call.tensors.at(list_element("tensors", own)).kind == ArgRef::Kind::Named
                                     ? cat_call.tensors.at(list_element("tensors", own)).name
                                     : "its own";
        fixes.push_back(candidate(
            fmt::format("pad {} for the positions call \"{}\" joins to {} (dim {}): {}={}", mask.name, cat_call.id, piece_name, dim, mask.name, python),
            read_inserted_call(spec, index, ref->second, std::move(made)), FixSemantics::Consistent,
            fmt::format("the joined positions take part and {}'s keep their meaning, as the cat order puts them", name)));
      }
    }
  }
}

// A rule's fix that asks for other values names the shape wanted: another tensor the spec has
// with that shape, dtype and kind is passed instead (the source's padding mask given where the
// target's was).
void given_tensor_candidates(const Spec& spec, std::size_t index, const CallReport& checked,
                             const std::vector<AskedShape>& asked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  const nlohmann::json& document = spec.value();
  std::set<std::string> offered;
  for (const auto& [argument, fix] : asked) {
    if (fix.patch.size() != 1) continue;
    const std::string path = fix.patch[0].value("path", "");
    std::optional<Shape> wanted = shape_of_json(fix.patch[0]["value"]);
    for (const ResolvedArgument& passed : checked.arguments) {
      auto ref = call.tensors.find(passed.name);
      if (!wanted || ref == call.tensors.end() || (!argument.empty() && argument != passed.name)) continue;
      const TensorDecl* declared = ref->second.kind == ArgRef::Kind::Named ? spec.find_tensor(ref->second.name) : nullptr;
      const TensorDecl* written = ref->second.kind == ArgRef::Kind::Inline ? ref->second.tensor.get() : declared;
      if (!written || written->shape_pointer != path) continue;
      // The same role: a mask for a mask, and the dims written as the fix writes them (B, S for
      // (B, S), the same sizes where both are numbers), not merely sizes equal by binding.
      auto offer = [&](const std::string& other_name, const Shape& shape, DType dtype, const nlohmann::json& value) {
        if (other_name == passed.name || is_mask_name(other_name) != is_mask_name(passed.name) || dtype != passed.dtype ||
            shape != *wanted || !offered.insert(passed.name + "=" + other_name).second) {
          return;
        }
        fixes.push_back(candidate(fmt::format("pass {}, the {} tensor the spec has, as {}: {}={}", other_name, tuple_str(shape), passed.name,
                                              passed.name, other_name),
                                  {{{"op", "replace"}, {"path", ref->second.pointer}, {"value", value}}}));
      };
      // The call's other arguments (written inline: the same tensor passed again), then the
      // declared tensors.
      for (const ResolvedArgument& other : checked.arguments) {
        auto other_ref = call.tensors.find(other.name);
        if (other_ref == call.tensors.end() || &other == &passed) continue;
        nlohmann::json::json_pointer pointer(other_ref->second.pointer);
        if (!document.contains(pointer)) continue;
        std::string other_name = other_ref->second.kind == ArgRef::Kind::Named ? other_ref->second.name : other.name;
        offer(other_name, other.written(), other.dtype, document.at(pointer));
      }
      for (const TensorDecl& tensor : spec.tensors) {
        if (tensor.shape_pointer.empty() || (declared && tensor.name == declared->name)) continue;
        offer(tensor.name, tensor.shape, tensor.dtype.value_or(passed.dtype), tensor.name);
      }
    }
  }
}

// The calls between a call's argument and where its layout was made: moves (transpose, permute,
// contiguous, clone) followed upstream from `argument` to the first call of another op, which
// ends the chain (its last element); upstream last.
std::vector<std::size_t> chain_of_moves(const Spec& spec, const Report& report, const ResolvedArgument& argument) {
  static const std::set<std::string> moves{"transpose", "permute", "contiguous", "clone"};
  std::vector<std::size_t> chain;
  ArgumentSource source = argument.source;
  for (int step = 0; step < 8 && source.kind == ArgumentSource::Kind::Output; ++step) {
    std::optional<std::size_t> producer = call_index(spec, source.call);
    const CallReport* made = call_report(report, source.call);
    if (!producer || !made || spec.calls[*producer].pointer != fmt::format("/calls/{}", *producer)) break;
    chain.push_back(*producer);
    const ResolvedArgument* input = resolved_argument(*made, "input");
    if (moves.count(spec.calls[*producer].op) == 0 || !input) break;
    source = input->source;
  }
  return chain;
}

// Where dim `dim` of the output of chain[from] lands in the argument the chain ends in.
std::optional<std::size_t> dim_after_moves(const Spec& spec, const std::vector<std::size_t>& chain, std::size_t from, std::size_t dim, std::size_t rank) {
  for (std::size_t i = from; i-- > 0;) {
    const CallDecl& move = spec.calls[chain[i]];
    auto normal = [&](const nlohmann::json& value) -> std::optional<std::size_t> {
      if (!value.is_number_integer()) return std::nullopt;
      auto d = value.get<std::int64_t>(), r = static_cast<std::int64_t>(rank);
      if (d < -r || d >= r) return std::nullopt;
      return static_cast<std::size_t>(d < 0 ? d + r : d);
    };
    if (move.op == "transpose") {
      std::optional<std::size_t> a = normal(move.arguments.value("dim0", nlohmann::json())), b = normal(move.arguments.value("dim1", nlohmann::json()));
      if (!a || !b) return std::nullopt;
      dim = dim == *a ? *b : dim == *b ? *a : dim;
    } else if (move.op == "permute") {
      const nlohmann::json& dims = move.arguments.value("dims", nlohmann::json());
      if (!dims.is_array() || dims.size() != rank) return std::nullopt;
      std::optional<std::size_t> at;
      for (std::size_t p = 0; p < dims.size(); ++p) {
        if (normal(dims[p]) == dim) at = p;
      }
      if (!at) return std::nullopt;
      dim = *at;
    }
  }
  return dim;
}

// A buffer preallocated for the largest input (a KV cache for max_batch_size) cut on one dim
// only (cache_k[:, :P+T]): the getitem cuts a dim it leaves whole too, to the size the call's
// other arguments of that rank have there (cache_k[:B, :P+T]). The getitems that get one cut
// together first (keys and values alike), then each alone.
void whole_dim_cut_candidates(const Spec& spec, const Report& report, const CallReport& checked, std::vector<Fix>& fixes) {
  std::map<std::string, std::vector<std::pair<std::size_t, std::string>>> cuts;  // description of the cut -> (getitem, new index)
  std::set<std::size_t> seen;
  for (const ResolvedArgument& argument : checked.arguments) {
    std::vector<std::size_t> chain = chain_of_moves(spec, report, argument);
    if (chain.empty() || spec.calls[chain.back()].op != "getitem" || !seen.insert(chain.back()).second) continue;
    const CallDecl& getitem = spec.calls[chain.back()];
    const CallReport* made = call_report(report, getitem.id);
    const nlohmann::json& text = getitem.arguments.value("index", nlohmann::json());
    const ResolvedArgument* input = made ? resolved_argument(*made, "input") : nullptr;
    std::string error;
    std::optional<IndexExpression> parsed = text.is_string() ? parse_index(text.get<std::string>(), error) : std::nullopt;
    if (!input || !parsed || parsed->items.size() > input->shape.size()) continue;
    bool plain = std::all_of(parsed->items.begin(), parsed->items.end(),
                             [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice || item.kind == IndexItem::Kind::Integer; });
    if (!plain) continue;
    auto whole = [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice && !item.start && !item.stop && !item.step; };
    std::size_t dropped = 0;  // integer items before the dim: dims the output no longer has
    for (std::size_t d = 0; d < input->shape.size(); ++d) {
      if (d < parsed->items.size() && parsed->items[d].kind == IndexItem::Kind::Integer) ++dropped;
      if (d < parsed->items.size() && !whole(parsed->items[d])) continue;
      std::size_t rank = argument.shape.size();
      std::optional<std::size_t> at = dim_after_moves(spec, chain, chain.size() - 1, d - dropped, rank);
      if (!at || *at >= rank) continue;
      DimExpr size = report.symbols.resolve(input->shape[d]);
      if (!size.is_constant()) continue;
      for (const ResolvedArgument& other : checked.arguments) {
        if (&other == &argument || other.shape.size() != rank) continue;
        DimExpr wanted = report.symbols.resolve(other.shape[*at]);
        if (wanted == DimExpr::constant(1) || (wanted.is_constant() && wanted.offset >= size.offset) ||
            (!wanted.is_constant() && report.symbols.compare(wanted, size) == Symbols::Verdict::Equal)) {
          continue;
        }
        const DimExpr& written = other.written().size() == rank ? other.written()[*at] : other.shape[*at];
        std::vector<IndexItem> items = parsed->items;
        IndexItem all;
        all.kind = IndexItem::Kind::Slice;
        items.resize(std::max(items.size(), d + 1), all);
        items[d].stop = IndexBound::of(written);
        std::vector<std::string> texts;
        for (const IndexItem& item : items) texts.push_back(item_text(item));
        while (!texts.empty() && texts.back() == ":") texts.pop_back();
        cuts[fmt::format("{}:{}", d, written.str())].emplace_back(chain.back(), fmt::format("[{}]", fmt::join(texts, ", ")));
        break;
      }
    }
  }
  for (const auto& [cut, getitems] : cuts) {
    std::vector<std::vector<std::pair<std::size_t, std::string>>> groups;
    if (getitems.size() > 1) groups.push_back(getitems);
    for (const auto& one : getitems) groups.push_back({one});
    for (const auto& group : groups) {
      nlohmann::json patch = nlohmann::json::array();
      std::vector<std::string> texts;
      for (const auto& [at, index] : group) {
        const CallDecl& getitem = spec.calls[at];
        const ArgRef& input = getitem.tensors.at("input");
        patch.push_back({{"op", "replace"}, {"path", getitem.pointer + "/index"}, {"value", index}});
        texts.push_back(fmt::format("{} = {}{}", getitem.outputs.empty() ? getitem.id : getitem.outputs.front(),
                                    input.kind == ArgRef::Kind::Named ? input.name : "input", index));
      }
      fixes.push_back(candidate(fmt::format("cut dim {} too, to the size the other arguments have there: {}", cut.substr(0, cut.find(':')),
                                            fmt::join(texts, " and ")),
                                std::move(patch), FixSemantics::Consistent,
                                "the buffer is read for the entries the other arguments have, as it is for the positions"));
    }
  }
}

// Key and value of one attention call where one was made by repeat_interleave (GQA's key/value
// heads repeated to the query's) and the other was not: the other repeated the same way, at the
// same place of its chain of moves.
void mirrored_repeat_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const ResolvedArgument *key = resolved_argument(checked, "key"), *value = resolved_argument(checked, "value");
  if (!key || !value) return;
  for (auto [repeated, other] : {std::pair{key, value}, std::pair{value, key}}) {
    std::vector<std::size_t> chain = chain_of_moves(spec, report, *repeated);
    if (chain.empty() || spec.calls[chain.back()].op != "repeat_interleave") continue;
    std::vector<std::size_t> other_chain = chain_of_moves(spec, report, *other);
    // The other's moves, the same ops as the repeated one's before its repeat, and then no repeat.
    std::size_t depth = chain.size() - 1;
    if (other_chain.size() < depth) continue;
    bool alike = true;
    for (std::size_t i = 0; i < depth; ++i) {
      alike = alike && spec.calls[other_chain[i]].op == spec.calls[chain[i]].op && spec.calls[other_chain[i]].arguments == spec.calls[chain[i]].arguments;
    }
    if (!alike || (other_chain.size() > depth && spec.calls[other_chain[depth]].op == "repeat_interleave")) continue;
    // The call that reads the tensor to repeat: the attention call itself, or the last move.
    std::size_t reader = depth == 0 ? index : other_chain[depth - 1];
    const std::string argument = depth == 0 ? other->name : "input";
    auto ref = spec.calls[reader].tensors.find(argument);
    if (ref == spec.calls[reader].tensors.end() || !patchable_named(spec, reader, ref->second)) continue;
    const CallDecl& repeat = spec.calls[chain.back()];
    const std::string& name = ref->second.name;
    nlohmann::json made = repeat.arguments;
    made["id"] = fresh_name(spec, "repeat_interleave_" + name);
    made["op"] = "repeat_interleave";
    made["input"] = name;
    made["outputs"] = {fresh_name(spec, name + "_repeated")};
    std::string dim = repeat.arguments.contains("dim") && !repeat.arguments["dim"].is_null() ? fmt::format(", dim={}", repeat.arguments["dim"].dump()) : "";
    fixes.push_back(candidate(fmt::format("repeat {} as {} is repeated in call \"{}\": {}.repeat_interleave({}{})", other->name, repeated->name,
                                          repeat.id, name, repeat.arguments.value("repeats", nlohmann::json()).dump(), dim),
                              read_inserted_call(spec, reader, ref->second, std::move(made)), FixSemantics::Consistent,
                              fmt::format("{} then has {}'s heads, each repeated as {}'s are", other->name, repeated->name, repeated->name)));
  }
}

}  // namespace

bool asks_for_other_values(const Spec& spec, const Fix& fix) {
  if (fix.patch.empty()) return false;
  bool other_values = false;
  for (const nlohmann::json& op : fix.patch) {
    if (op.value("op", "") != "replace") return false;
    const Shape* had = written_tensor_shape(spec, op.value("path", ""));
    std::optional<Shape> wanted = shape_of_json(op["value"]);
    if (!had || !wanted) return false;
    if (wanted->size() != had->size() || std::is_permutation(wanted->begin(), wanted->end(), had->begin())) continue;
    for (std::size_t d = 0; d < had->size(); ++d) {
      if (!made_from_own_dim((*had)[d], (*wanted)[d])) other_values = true;
    }
  }
  return other_values;
}

std::vector<Fix> repair_candidates(const Spec& spec, const Report& report, const std::vector<Diagnostic*>& targets,
                                   const std::vector<AskedShape>& asked) {
  std::vector<Fix> fixes;
  if (targets.empty()) return fixes;
  std::optional<std::size_t> index = call_index(spec, targets.front()->call);
  const CallReport* checked = call_report(report, targets.front()->call);
  if (!index || !checked) return fixes;
  padded_mask_candidates(spec, report, *index, *checked, fixes);
  given_tensor_candidates(spec, *index, *checked, asked, fixes);
  whole_dim_cut_candidates(spec, report, *checked, fixes);
  mirrored_repeat_candidates(spec, report, *index, *checked, fixes);
  return fixes;
}

}  // namespace mhacheck
