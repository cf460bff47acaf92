// Concrete repairs from the graph (repair_candidates.hpp).
#include "repair_candidates.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/shape_json.hpp"
#include "fix_search.hpp"
#include "ops/index_expression.hpp"

namespace mhacheck {
namespace {

// Whether `size` is `had` cut short by a constant: the same symbol less it (S from S+1, a column
// appended by hand).
bool cut_from(const DimExpr& had, const DimExpr& size) {
  if (had.is_constant() || size.is_constant()) return false;
  DimExpr same = size;
  same.offset = had.offset;
  return same == had && size.offset < had.offset;
}

// Whether `size` can be made from the tensor's own dim `had`: the same, one index of it (1),
// one entry stretched (from 1), tiled (a multiple), or cut (a constant buffer cut to a
// symbol's length, or a smaller constant).
bool made_from_own_dim(const DimExpr& had, const DimExpr& size) {
  if (had == size || size == DimExpr::constant(1) || had == DimExpr::constant(1)) return true;
  if (cut_from(had, size)) return true;
  if (had.is_constant()) return !size.is_constant() || size.offset < had.offset || (had.offset > 0 && size.offset % had.offset == 0);
  return !size.is_constant() && size.symbol == had.symbol && had.offset == 0 && size.offset == 0 && had.coeff != 0 &&
         size.coeff % had.coeff == 0;
}

// Whether a shape of another rank is an expression on the tensor: dims of 1 added or dropped
// (mask[:, None, None, :]), new leading dims broadcast or tiled from nothing ((L, S) to
// (N*H, L, S)), or dims merged or split with the same elements ((N, H, L, S) to (N*H, L, S)).
bool reshaped_from(const Shape& had, const Shape& wanted) {
  auto without_ones = [](const Shape& shape) {
    Shape kept;
    for (const DimExpr& dim : shape) {
      if (dim != DimExpr::constant(1)) kept.push_back(dim);
    }
    return kept;
  };
  if (without_ones(had) == without_ones(wanted)) return true;
  if (wanted.size() > had.size()) {
    std::size_t offset = wanted.size() - had.size();
    bool broadcast = true;
    for (std::size_t d = 0; d < had.size() && broadcast; ++d) broadcast = made_from_own_dim(had[d], wanted[offset + d]);
    if (broadcast) return true;
  }
  auto product = [](const Shape& shape) -> std::optional<DimExpr> {
    std::optional<DimExpr> total = DimExpr::constant(1);
    for (const DimExpr& dim : shape) {
      if (total) total = dim_mul(*total, dim);
    }
    return total;
  };
  std::optional<DimExpr> a = product(had), b = product(wanted);
  return a && b && *a == *b;
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

// The dim of argument `argument` (rank `rank`) of `call` that holds the keys' (or memory's)
// positions, which a padding mask's last dim stands for: (S, N, E) or batch_first (N, S, E) in
// nn.MultiheadAttention and the Transformer modules, (..., S, E) in scaled_dot_product_attention;
// nullopt for any other argument or operator.
std::optional<std::int64_t> keys_sequence_dim(const Spec& spec, const CallDecl& call, const std::string& argument, std::int64_t rank) {
  static const std::set<std::string> keys{"key", "value", "memory", "src", "tgt"};
  if (keys.count(argument) == 0 || rank < 2) return std::nullopt;
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  if (!module) return call.op == "scaled_dot_product_attention" ? std::optional<std::int64_t>(rank - 2) : std::nullopt;
  if (!module->options.contains("batch_first") || !module->options["batch_first"].is_boolean()) return std::nullopt;
  return rank == 3 && module->options["batch_first"].get<bool>() ? 1 : 0;
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
      // Only a cat that joined the keys' positions made the keys longer.
      if (keys_sequence_dim(spec, call, joined.name, rank) != dim) continue;
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

// Scores over keys that a cat made longer (a KV cache: P cached keys joined before the T new
// ones) meet a mask written for the new keys only in an elementwise operator (Llama's (T, T)
// causal mask added to (B, H, T, P+T) scores): the mask padded as the cat joined its pieces, the
// joined positions taking part (0 added, False filled). The cat is found by the joined size the
// scores' last dim has. F.pad takes numbers: a symbolic pad is checked as the cat of a tensor of
// the joined positions, which F.pad makes.
void padded_operand_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  if (call.op != "add" && call.op != "sub" && call.op != "masked_fill") return;
  // As written: the check's symbol table holds the condition (P+T == T) the call is valid under.
  auto equal = [](const DimExpr& a, const DimExpr& b) { return a == b; };
  for (const ResolvedArgument& mask : checked.arguments) {
    auto ref = call.tensors.find(mask.name);
    if (ref == call.tensors.end() || mask.shape.empty() || !patchable_named(spec, index, ref->second) ||
        !(is_mask_name(mask.name) || is_mask_name(ref->second.name))) {
      continue;
    }
    const std::string& name = ref->second.name;
    const Shape& written = mask.written().size() == mask.shape.size() ? mask.written() : mask.shape;
    for (const ResolvedArgument& scores : checked.arguments) {
      if (&scores == &mask || scores.shape.empty() || equal(scores.shape.back(), mask.shape.back())) continue;
      for (std::size_t c = 0; c < index; ++c) {
        const CallDecl& cat = spec.calls[c];
        const CallReport* made = cat.op == "cat" ? call_report(report, cat.id) : nullptr;
        if (!made || made->outputs.empty()) continue;
        auto rank = static_cast<std::int64_t>(made->outputs.front().shape.size());
        std::int64_t dim = cat.arguments.value("dim", nlohmann::json(0)).is_number_integer() ? cat.arguments.value("dim", nlohmann::json(0)).get<std::int64_t>() : rank;
        if (dim < -rank || dim >= rank) continue;
        if (dim < 0) dim += rank;
        auto at = static_cast<std::size_t>(dim);
        if (!equal(made->outputs.front().shape[at], scores.shape.back())) continue;
        std::vector<const ResolvedArgument*> pieces;
        for (std::size_t i = 0; i < cat.list_size("tensors"); ++i) pieces.push_back(resolved_argument(*made, list_element("tensors", i)));
        if (pieces.size() != 2 || !pieces[0] || !pieces[1] || pieces[0]->shape.size() != at + (rank - dim) || pieces[1]->shape.size() != pieces[0]->shape.size()) continue;
        for (std::size_t own = 0; own < 2; ++own) {
          if (!equal(pieces[own]->shape[at], mask.shape.back())) continue;
          const ResolvedArgument& joined = *pieces[1 - own];
          const DimExpr& size = joined.written().size() == joined.shape.size() ? joined.written()[at] : joined.shape[at];
          std::string amount = own == 1 ? fmt::format("({}, 0)", size.str()) : fmt::format("(0, {})", size.str());
          nlohmann::json patch;
          std::string padded = fresh_name(spec, name + "_padded");
          if (size.is_constant()) {
            nlohmann::json pad = own == 1 ? nlohmann::json::array({size.offset, 0}) : nlohmann::json::array({0, size.offset});
            patch = read_inserted_call(spec, index, ref->second,
                                       {{"id", fresh_name(spec, "pad_" + name)}, {"op", "pad"}, {"input", name}, {"pad", pad}, {"outputs", {padded}}});
          } else {
            std::string positions = fresh_name(spec, name + "_joined_positions");
            Shape shape = written;
            shape.back() = size;
            nlohmann::json tensors = own == 1 ? nlohmann::json::array({positions, name}) : nlohmann::json::array({name, positions});
            patch = read_inserted_call(spec, index, ref->second,
                                       {{"id", fresh_name(spec, "pad_" + name)}, {"op", "cat"}, {"tensors", tensors}, {"dim", -1}, {"outputs", {padded}}});
            nlohmann::json declared = {{"shape", shape_json(shape)}, {"dtype", dtype_name(mask.dtype)}};
            patch.insert(patch.begin(), nlohmann::json{{"op", "add"}, {"path", child_pointer("/tensors", positions)}, {"value", std::move(declared)}});
          }
          fixes.push_back(candidate(fmt::format("pad {} for the positions call \"{}\" joins {} the keys it was written for: {} = F.pad({}, {})",
                                                name, cat.id, own == 1 ? "before" : "after", name, name, amount),
                                    std::move(patch), FixSemantics::Consistent,
                                    fmt::format("the joined positions take part (0 added, False filled) and {}'s keep their meaning", name)));
        }
      }
    }
  }
}

// A view or reshape that splits a dim n into (n / w, w) where w does not divide n (SAM's 64 x 64
// map cut into 14 x 14 windows): window partitioning pads each such dim up to the next multiple
// of w first, F.pad(x, (0, 0, 0, 6, 0, 6)) to 70 x 70, and splits (n + pad) / w windows. The
// other dims must meet the shape one to one. A last dim is the features: a width no head size
// divides is a miscounted split, not a map to pad.
void padded_window_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  if (call.op != "view" && call.op != "reshape") return;
  const nlohmann::json& written = call.arguments.value("shape", nlohmann::json());
  const ResolvedArgument* input = resolved_argument(checked, "input");
  auto ref = call.tensors.find("input");
  if (!written.is_array() || input == nullptr || ref == call.tensors.end() || !patchable_named(spec, index, ref->second)) return;
  Shape sizes;
  for (const nlohmann::json& size : written) {
    std::optional<DimExpr> dim = size.is_number_integer() ? std::optional<DimExpr>(DimExpr::constant(size.get<std::int64_t>()))
                                 : size.is_string()       ? parse_dim_expr(size.get<std::string>())
                                                          : std::nullopt;
    if (!dim) return;
    sizes.push_back(report.symbols.resolve(*dim));
  }
  const Shape& shape = input->shape;
  std::vector<std::int64_t> pad(shape.size(), 0);
  std::vector<std::pair<std::size_t, std::int64_t>> counts;  // shape entries to rewrite: the window counts
  std::size_t j = 0;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (j < sizes.size() && report.symbols.compare(shape[i], sizes[j]) == Symbols::Verdict::Equal) {
      ++j;
      continue;
    }
    const DimExpr n = report.symbols.resolve(shape[i]);
    if (i + 1 == shape.size() || j + 1 >= sizes.size() || !n.is_constant() || !sizes[j].is_constant() || !sizes[j + 1].is_constant()) return;
    const std::int64_t length = n.offset, windows = sizes[j].offset, window = sizes[j + 1].offset;
    if (window <= 1 || windows <= 0 || length <= 0) return;
    if (windows * window != length) {
      if (length % window == 0) return;  // a miscounted split, which padding does not explain
      pad[i] = window - length % window;
      const std::int64_t padded_windows = (length + pad[i]) / window;
      if (padded_windows != windows) {
        if (!written[j].is_number_integer()) return;
        counts.emplace_back(j, padded_windows);
      }
    }
    j += 2;
  }
  const auto first = std::find_if(pad.begin(), pad.end(), [](std::int64_t amount) { return amount != 0; });
  if (j != sizes.size() || first == pad.end()) return;
  // F.pad's pairs run from the last dim back to the first padded one, (before, after) each.
  nlohmann::json pairs = nlohmann::json::array();
  for (std::size_t d = shape.size(); d-- > static_cast<std::size_t>(first - pad.begin());) {
    pairs.push_back(0);
    pairs.push_back(pad[d]);
  }
  Shape padded = shape;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (pad[d] != 0) padded[d] = DimExpr::constant(report.symbols.resolve(shape[d]).offset + pad[d]);
  }
  const std::string& name = ref->second.name;
  // Cropping to the whole windows the shape counts keeps the view as written but drops the map's
  // last positions: a candidate after the padding, labelled for what it loses.
  std::vector<std::string> kept_items;
  bool crops = true;
  j = 0;
  for (std::size_t i = 0; i < shape.size() && crops; ++i) {
    if (pad[i] == 0) {
      kept_items.push_back(":");
      j += report.symbols.compare(shape[i], sizes[j]) == Symbols::Verdict::Equal ? 1 : 2;
      continue;
    }
    const std::int64_t whole = sizes[j].offset * sizes[j + 1].offset;
    crops = whole > 0 && whole < report.symbols.resolve(shape[i]).offset;
    kept_items.push_back(fmt::format(":{}", whole));
    j += 2;
  }
  while (!kept_items.empty() && kept_items.back() == ":") kept_items.pop_back();
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> shape_text;
  for (const nlohmann::json& size : written) shape_text.push_back(size.is_string() ? size.get<std::string>() : size.dump());
  for (const auto& [at, value] : counts) {
    patch.push_back({{"op", "replace"}, {"path", child_pointer(child_pointer(call.pointer, "shape"), at)}, {"value", value}});
    shape_text[at] = std::to_string(value);
  }
  nlohmann::json made = {{"id", fresh_name(spec, "pad_" + name)}, {"op", "pad"}, {"input", name}, {"pad", pairs},
                         {"outputs", {fresh_name(spec, name + "_padded")}}};
  for (nlohmann::json& op : read_inserted_call(spec, index, ref->second, std::move(made))) patch.push_back(std::move(op));
  std::vector<std::int64_t> amounts = pairs.get<std::vector<std::int64_t>>();
  fixes.push_back(candidate(fmt::format("pad {} up to a multiple of the window before call \"{}\": {} = F.pad({}, ({})) gives {}{}", name, call.id,
                                        name, name, fmt::join(amounts, ", "), tuple_str(padded),
                                        counts.empty() ? std::string() : fmt::format(", then {}({})", call.op, fmt::join(shape_text, ", "))),
                            std::move(patch)));
  if (!crops) return;
  const std::string kept = fmt::format("[{}]", fmt::join(kept_items, ", "));
  nlohmann::json cut = {{"id", fresh_name(spec, "crop_" + name)}, {"op", "getitem"}, {"input", name}, {"index", kept},
                        {"outputs", {fresh_name(spec, name + "_cropped")}}};
  fixes.push_back(candidate(fmt::format("crop {} to the whole windows call \"{}\" counts: {} = {}{}", name, call.id, name, name, kept),
                            read_inserted_call(spec, index, ref->second, std::move(cut)), FixSemantics::Suspect,
                            "the positions past the last whole window are dropped, not attended"));
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

// A decoding step whose keys were cut from a longer tensor by a getitem on their positions (the
// attention call's keys, dim -2) and whose attn_mask has another number of key columns, its last
// dim:
//  - a rolling window (keys and values cut [:, :, -W:] from the P+T positions of the history) with
//    a mask over that whole history: the mask's columns cut the same way, mask[..., -W:];
//  - a buffer preallocated for the longest sequence read from its start ([:, :, :start_pos]) one
//    short of the positions the mask counts: the reads extended to them, keys and values alike.
void sliced_keys_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  const ResolvedArgument* mask = resolved_argument(checked, "attn_mask");
  auto mask_ref = call.tensors.find("attn_mask");
  if (call.op != "scaled_dot_product_attention" || !mask || mask->shape.empty() || mask_ref == call.tensors.end() ||
      !patchable_named(spec, index, mask_ref->second)) {
    return;
  }
  const DimExpr columns = report.symbols.resolve(mask->shape.back());
  const DimExpr& columns_written = mask->written().size() == mask->shape.size() ? mask->written().back() : mask->shape.back();
  struct Cut {
    std::size_t getitem;
    IndexExpression index;
    std::size_t dim;  // the positions' item
  };
  std::vector<Cut> cuts;  // the keys' and the values' cuts
  for (const char* name : {"key", "value"}) {
    const ResolvedArgument* keys = resolved_argument(checked, name);
    if (!keys || keys->shape.size() < 2) continue;
    const std::size_t rank = keys->shape.size();
    std::vector<std::size_t> chain = chain_of_moves(spec, report, *keys);
    if (chain.empty() || spec.calls[chain.back()].op != "getitem") continue;
    const CallDecl& getitem = spec.calls[chain.back()];
    const nlohmann::json& text = getitem.arguments.value("index", nlohmann::json());
    std::string error;
    std::optional<IndexExpression> parsed = text.is_string() ? parse_index(text.get<std::string>(), error) : std::nullopt;
    if (!parsed || parsed->items.size() > rank ||
        !std::all_of(parsed->items.begin(), parsed->items.end(), [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice; })) {
      continue;
    }
    for (std::size_t d = 0; d < parsed->items.size(); ++d) {
      if (dim_after_moves(spec, chain, chain.size() - 1, d, rank) == rank - 2 && parsed->items[d].start.has_value() != parsed->items[d].stop.has_value()) {
        cuts.push_back({chain.back(), *parsed, d});
      }
    }
  }
  if (cuts.empty()) return;
  const Cut& first = cuts.front();
  const CallReport* made = call_report(report, spec.calls[first.getitem].id);
  const ResolvedArgument* history = made ? resolved_argument(*made, "input") : nullptr;
  const ResolvedArgument* keys = resolved_argument(checked, "key");
  if (!history || history->shape.size() <= first.dim || !keys) return;
  const DimExpr length = report.symbols.resolve(history->shape[first.dim]);
  const DimExpr kept = report.symbols.resolve(keys->shape[keys->shape.size() - 2]);
  if (report.symbols.compare(kept, columns) == Symbols::Verdict::Equal) return;
  const IndexItem& item = first.index.items[first.dim];
  const std::string& mask_name = mask_ref->second.name;
  if (report.symbols.compare(length, columns) == Symbols::Verdict::Equal) {
    // The mask covers the positions the keys were cut from: its columns cut alike.
    std::string cut = fmt::format("[..., {}]", item_text(item));
    nlohmann::json slice = {{"id", fresh_name(spec, "window_" + mask_name)}, {"op", "getitem"}, {"input", mask_name}, {"index", cut},
                            {"outputs", {fresh_name(spec, mask_name + "_window")}}};
    fixes.push_back(candidate(fmt::format("cut the key columns of {} as call \"{}\" cuts the keys from the {} positions: attn_mask={}{}", mask_name,
                                          spec.calls[first.getitem].id, length.str(), mask_name, cut),
                              read_inserted_call(spec, index, mask_ref->second, std::move(slice)), FixSemantics::Consistent,
                              "the mask's columns then stand for the positions the keys hold"));
    return;
  }
  // A buffer longer than every position the mask counts, read from its start to fewer.
  const bool from_start = !item.start && item.stop;
  if (!from_start || !length.is_constant() || !columns.is_constant() || !kept.is_constant() || length.offset <= columns.offset ||
      kept.offset >= columns.offset) {
    return;
  }
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> reads;
  std::set<std::size_t> patched;
  for (const Cut& each : cuts) {
    const IndexItem& stop = each.index.items[each.dim];
    if (!patched.insert(each.getitem).second || stop.start || !stop.stop) continue;
    std::vector<std::string> items;
    for (std::size_t d = 0; d < each.index.items.size(); ++d) {
      IndexItem extended = each.index.items[d];
      if (d == each.dim) extended.stop = IndexBound::of(columns_written);
      items.push_back(item_text(extended));
    }
    const CallDecl& getitem = spec.calls[each.getitem];
    const std::string text = fmt::format("[{}]", fmt::join(items, ", "));
    patch.push_back({{"op", "replace"}, {"path", getitem.pointer + "/index"}, {"value", text}});
    const ArgRef& input = getitem.tensors.at("input");
    reads.push_back(fmt::format("{} = {}{}", getitem.outputs.empty() ? getitem.id : getitem.outputs.front(),
                                input.kind == ArgRef::Kind::Named ? input.name : "input", text));
  }
  if (patch.empty()) return;
  fixes.push_back(candidate(fmt::format("read the buffer up to the {} positions {} counts, the new token's included: {}", columns_written.str(),
                                        mask_name, fmt::join(reads, " and ")),
                            std::move(patch), FixSemantics::Consistent, "the keys then hold every position the mask and the queries count"));
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

// The head count of an attention module, or of the layer a Transformer stack repeats.
std::optional<std::int64_t> head_count(const ModuleDecl& module) {
  if (module.type == "MultiheadAttention") return module.mha.num_heads;
  if (module.options.contains("nhead") && module.options["nhead"].is_number_integer()) return module.options["nhead"].get<std::int64_t>();
  for (const char* nested : {"encoder_layer", "decoder_layer"}) {
    if (const ModuleDecl* inner = module.submodule(nested)) return head_count(*inner);
  }
  return std::nullopt;
}

// A mask tiled per head with repeat_interleave for another head count than the module's
// (repeat_interleave(8) for nhead=4): the count set to the module's heads, as the module reads
// entry b*num_heads + h as batch entry b's.
void head_count_candidates(const Spec& spec, const CallDecl& call, const CallReport& checked, std::vector<Fix>& fixes) {
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  std::optional<std::int64_t> heads = module ? head_count(*module) : std::nullopt;
  if (!heads || *heads < 1) return;
  for (const ResolvedArgument& mask : checked.arguments) {
    if (!is_mask_name(mask.name) || mask.source.kind != ArgumentSource::Kind::Output) continue;
    std::optional<std::size_t> index = call_index(spec, mask.source.call);
    if (!index) continue;
    const CallDecl& repeat = spec.calls[*index];
    const nlohmann::json& repeats = repeat.arguments.value("repeats", nlohmann::json());
    const nlohmann::json& dim = repeat.arguments.value("dim", nlohmann::json());
    if (repeat.op != "repeat_interleave" || !repeats.is_number_integer() || repeats.get<std::int64_t>() == *heads || dim != 0 ||
        repeat.pointer != fmt::format("/calls/{}", *index) || repeat.outputs.empty()) {
      continue;
    }
    auto input = repeat.tensors.find("input");
    std::string input_name = input != repeat.tensors.end() && input->second.kind == ArgRef::Kind::Named ? input->second.name : "input";
    fixes.push_back(candidate(fmt::format("repeat the mask once per head of {} ({} heads) in call \"{}\": {} = {}.repeat_interleave({}, dim=0)",
                                          module->name, *heads, repeat.id, repeat.outputs.front(), input_name, *heads),
                              {{{"op", "replace"}, {"path", repeat.pointer + "/repeats"}, {"value", *heads}}}, FixSemantics::Consistent,
                              fmt::format("{} reads entry b*num_heads + h of a 3-D mask as batch entry b's: one copy per head of its {}", module->name,
                                          *heads)));
  }
}

// The tensors that calls of `spec` read by name.
std::set<std::string> read_tensors(const Spec& spec) {
  std::set<std::string> read;
  for (const CallDecl& call : spec.calls) {
    for (const auto& [argument, ref] : call.tensors) {
      if (ref.kind == ArgRef::Kind::Named) read.insert(ref.name);
    }
  }
  return read;
}

// An elementwise operator of two tensors that do not broadcast (memory + query_pos, where the
// memory's own positions are meant): one operand replaced by a declared tensor that no call
// reads and that is written as the other operand is (the same dims by name), of its dtype: an
// input the user declared and left unread is the likelier one meant.
void unread_operand_candidates(const Spec& spec, const CallDecl& call, const CallReport& checked, std::vector<Fix>& fixes) {
  static const std::map<std::string, std::string> symbols{{"add", "+"}, {"sub", "-"}, {"mul", "*"}, {"div", "/"}};
  auto op = symbols.find(call.op);
  if (op == symbols.end()) return;
  const ResolvedArgument *input = resolved_argument(checked, "input"), *other = resolved_argument(checked, "other");
  auto input_ref = call.tensors.find("input"), other_ref = call.tensors.find("other");
  if (!input || !other || input_ref == call.tensors.end() || other_ref == call.tensors.end() || input_ref->second.kind != ArgRef::Kind::Named ||
      other_ref->second.kind != ArgRef::Kind::Named) {
    return;
  }
  std::set<std::string> read = read_tensors(spec);
  for (auto [replaced, kept, replaced_ref] : {std::tuple{input, other, &input_ref->second}, std::tuple{other, input, &other_ref->second}}) {
    for (const TensorDecl& tensor : spec.tensors) {
      if (read.count(tensor.name) != 0 || tensor.shape_pointer.empty() || tensor.shape != kept->written() ||
          tensor.dtype.value_or(DType::Float32) != replaced->dtype) {
        continue;
      }
      std::string left = replaced == input ? tensor.name : input_ref->second.name, right = replaced == input ? other_ref->second.name : tensor.name;
      fixes.push_back(candidate(fmt::format("use {}, the {} tensor no call reads, in place of {}: {} {} {}", tensor.name, tuple_str(tensor.shape),
                                            replaced_ref->name, left, op->second, right),
                                {{{"op", "replace"}, {"path", replaced_ref->pointer}, {"value", tensor.name}}}));
    }
  }
}

// A mask computed from a tensor (pad = ids == 0) whose sibling argument reads that tensor sliced
// (teacher forcing: the decoder input ids[:, :-1]): the mask sliced the same way, where the call
// reads it, so that it marks the positions the input has.
void mirrored_slice_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  static const std::set<std::string> elementwise{"eq", "ne", "logical_not", "bitwise_not", "float", "bool", "lt", "gt", "le", "ge"};
  const CallDecl& call = spec.calls[index];
  // The getitems upstream of the call's arguments, by the tensor they slice.
  std::map<std::string, std::vector<std::size_t>> slices;
  std::vector<ArgumentSource> frontier;
  for (const ResolvedArgument& argument : checked.arguments) frontier.push_back(argument.source);
  for (int depth = 0; depth < 4 && !frontier.empty(); ++depth) {
    std::vector<ArgumentSource> next;
    for (const ArgumentSource& source : frontier) {
      if (source.kind != ArgumentSource::Kind::Output) continue;
      std::optional<std::size_t> producer = call_index(spec, source.call);
      const CallReport* made = call_report(report, source.call);
      if (!producer || !made) continue;
      auto input = spec.calls[*producer].tensors.find("input");
      if (spec.calls[*producer].op == "getitem" && input != spec.calls[*producer].tensors.end() && input->second.kind == ArgRef::Kind::Named) {
        slices[input->second.name].push_back(*producer);
      }
      for (const ResolvedArgument& upstream : made->arguments) next.push_back(upstream.source);
    }
    frontier = std::move(next);
  }
  for (const ResolvedArgument& mask : checked.arguments) {
    auto ref = call.tensors.find(mask.name);
    if (!is_mask_name(mask.name) || ref == call.tensors.end() || !patchable_named(spec, index, ref->second) ||
        mask.source.kind != ArgumentSource::Kind::Output) {
      continue;
    }
    std::optional<std::size_t> producer = call_index(spec, mask.source.call);
    if (!producer || elementwise.count(spec.calls[*producer].op) == 0) continue;
    auto from = spec.calls[*producer].tensors.find("input");
    if (from == spec.calls[*producer].tensors.end() || from->second.kind != ArgRef::Kind::Named) continue;
    auto sliced = slices.find(from->second.name);
    if (sliced == slices.end()) continue;
    for (std::size_t getitem : sliced->second) {
      const nlohmann::json& text = spec.calls[getitem].arguments.value("index", nlohmann::json());
      if (!text.is_string()) continue;
      const std::string& name = ref->second.name;
      nlohmann::json made = {{"id", fresh_name(spec, "slice_" + name)}, {"op", "getitem"}, {"input", name}, {"index", text},
                             {"outputs", {fresh_name(spec, name + "_sliced")}}};
      fixes.push_back(candidate(fmt::format("slice {} as {} is sliced in call \"{}\": {}={}{}", mask.name, from->second.name, spec.calls[getitem].id,
                                            mask.name, name, text.get<std::string>()),
                                read_inserted_call(spec, index, ref->second, std::move(made)), FixSemantics::Consistent,
                                fmt::format("{} is computed from {}, which the call's input reads sliced: sliced alike, it marks the positions the "
                                            "input has",
                                            name, from->second.name)));
    }
  }
}

// An integer mask inverted with ~ (bitwise_not: 1 becomes -2 and 0 becomes -1, so nothing is
// False) where a logical not is meant (~attention_mask on Hugging Face's int64 1 = keep mask):
// compared with 0 instead, which gives the bool the ~ of a bool mask would.
void integer_not_candidates(const Spec& spec, const Report& report, const CallReport& checked, std::vector<Fix>& fixes) {
  for (const ResolvedArgument& mask : checked.arguments) {
    if (!is_mask_name(mask.name) || mask.source.kind != ArgumentSource::Kind::Output) continue;
    std::optional<std::size_t> index = call_index(spec, mask.source.call);
    const CallReport* made = call_report(report, mask.source.call);
    if (!index || !made || spec.calls[*index].op != "bitwise_not" || spec.calls[*index].pointer != fmt::format("/calls/{}", *index)) continue;
    const CallDecl& inverted = spec.calls[*index];
    const ResolvedArgument* input = resolved_argument(*made, "input");
    auto ref = inverted.tensors.find("input");
    if (!input || input->dtype == DType::Bool || is_floating(input->dtype) || ref == inverted.tensors.end() || ref->second.kind != ArgRef::Kind::Named ||
        inverted.outputs.empty()) {
      continue;
    }
    fixes.push_back(candidate(fmt::format("compare {0} with 0 in call \"{1}\" instead of inverting its bits with ~ (an integer's ~ turns 1 into -2 "
                                          "and 0 into -1): {2} = {0} == 0",
                                          ref->second.name, inverted.id, inverted.outputs.front()),
                              {{{"op", "replace"}, {"path", inverted.pointer + "/op"}, {"value", "eq"}},
                               {{"op", "add"}, {"path", inverted.pointer + "/other"}, {"value", 0}}},
                              FixSemantics::Consistent, "== 0 is the logical not that ~ gives a bool mask"));
  }
}

// The model width of a Transformer module (d_model), or of the layer a stack repeats.
std::optional<std::int64_t> model_width(const ModuleDecl& module) {
  if (module.options.contains("d_model") && module.options["d_model"].is_number_integer()) return module.options["d_model"].get<std::int64_t>();
  if (const ModuleDecl* inner = module.submodule("decoder_layer")) return model_width(*inner);
  return std::nullopt;
}

// A memory from another model whose width is not the decoder's (a BERT encoder's 768 features
// into nn.TransformerDecoderLayer(512)), which has no kdim to read it: projected by a new
// nn.Linear where the call reads it. The decoder's own width stays: its target is that wide.
void projection_candidates(const Spec& spec, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  const ResolvedArgument* memory = resolved_argument(checked, "memory");
  auto ref = call.tensors.find("memory");
  std::optional<std::int64_t> width = module ? model_width(*module) : std::nullopt;
  if (!width || !memory || memory->shape.empty() || ref == call.tensors.end() || !patchable_named(spec, index, ref->second) ||
      !spec.value().contains("modules") || !spec.value()["modules"].is_object()) {
    return;
  }
  const DimExpr& features = memory->shape.back();
  if (!features.is_constant() || features.offset == *width || features.offset < 1) return;
  const std::string& name = ref->second.name;
  std::string projection = fmt::format("nn.Linear({}, {})", features.offset, *width);
  std::string layer = fresh_name(spec, "proj_" + name);
  nlohmann::json made = {{"id", layer}, {"module", layer}, {"input", name}, {"outputs", {fresh_name(spec, name + "_projected")}}};
  nlohmann::json patch = read_inserted_call(spec, index, ref->second, std::move(made));
  patch.insert(patch.begin(), nlohmann::json{{"op", "add"}, {"path", child_pointer("/modules", layer)}, {"value", projection}});
  fixes.push_back(candidate(fmt::format("project {} to the {} features of {} with a new {} before call \"{}\": {} = {}({})", name, *width, module->name,
                                        projection, call.id, name, layer, name),
                            std::move(patch)));
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
    if (wanted->size() != had->size()) {
      other_values = other_values || !reshaped_from(*had, *wanted);
      continue;
    }
    if (std::is_permutation(wanted->begin(), wanted->end(), had->begin())) continue;
    for (std::size_t d = 0; d < had->size(); ++d) {
      if (!made_from_own_dim((*had)[d], (*wanted)[d])) other_values = true;
    }
  }
  return other_values;
}

std::optional<std::string> cut_index(const Spec& spec, const Fix& fix) {
  if (fix.patch.size() != 1 || fix.patch[0].value("op", "") != "replace") return std::nullopt;
  const Shape* had = written_tensor_shape(spec, fix.patch[0].value("path", ""));
  std::optional<Shape> wanted = shape_of_json(fix.patch[0]["value"]);
  if (!had || !wanted || wanted->size() != had->size() || *had == *wanted) return std::nullopt;
  std::vector<std::string> items;
  for (std::size_t d = 0; d < had->size(); ++d) {
    if ((*had)[d] == (*wanted)[d]) {
      items.push_back(":");
    } else if (cut_from((*had)[d], (*wanted)[d])) {
      items.push_back(fmt::format(":{}", (*wanted)[d].str()));
    } else {
      return std::nullopt;
    }
  }
  while (!items.empty() && items.back() == ":") items.pop_back();
  return fmt::format("[{}]", fmt::join(items, ", "));
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
  sliced_keys_candidates(spec, report, *index, *checked, fixes);
  mirrored_repeat_candidates(spec, report, *index, *checked, fixes);
  padded_operand_candidates(spec, report, *index, *checked, fixes);
  head_count_candidates(spec, spec.calls[*index], *checked, fixes);
  unread_operand_candidates(spec, spec.calls[*index], *checked, fixes);
  mirrored_slice_candidates(spec, report, *index, *checked, fixes);
  integer_not_candidates(spec, report, *checked, fixes);
  projection_candidates(spec, *index, *checked, fixes);
  padded_window_candidates(spec, report, *index, *checked, fixes);
  return fixes;
}

}  // namespace mhacheck
