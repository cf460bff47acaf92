// Concrete repairs from the graph (repair_candidates.hpp).
#include "repair_candidates.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/shape_json.hpp"
#include "checked_call.hpp"
#include "dim_origin.hpp"
#include "fix_search.hpp"
#include "mask_origin.hpp"
#include "mhacheck/python_text.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/index_expression.hpp"
#include "roles.hpp"

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

// The shape written at `path` when it is a tensor's: a declared one's or an inline argument's (of
// the one call whose argument it is written in, the flat form's single call at the root included).
const Shape* written_tensor_shape(const Spec& spec, const std::string& path) {
  const std::string tensors = "/tensors/";
  std::string element = path.ends_with("/shape") ? path.substr(0, path.size() - 6) : path;
  if (element.rfind(tensors, 0) == 0) {
    const TensorDecl* declared = spec.find_tensor(element.substr(tensors.size()));
    return declared && declared->shape_pointer == path ? &declared->shape : nullptr;
  }
  for (const CallDecl& call : spec.calls) {
    for (const auto& [argument, ref] : call.tensors) {
      if (ref.kind == ArgRef::Kind::Inline && ref.tensor && ref.tensor->shape_pointer == path) return &ref.tensor->shape;
    }
  }
  return nullptr;
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

bool is_mask_name(const std::string& name) {
  std::string lower = lowered(name);
  return lower.find("mask") != std::string::npos || lower.find("pad") != std::string::npos;
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
  std::string path = CallContext::calls_entry_pointer(index) + argument.pointer.substr(call.pointer.size());
  std::string output = made["outputs"][0].get<std::string>();
  return nlohmann::json::array({{{"op", "replace"}, {"path", path}, {"value", output}},
                                {{"op", "add"}, {"path", CallContext::calls_entry_pointer(index)}, {"value", std::move(made)}}});
}

// Whether call `index` is written at /calls/index and its argument `ref` inside it, by name.
bool patchable_named(const Spec& spec, std::size_t index, const ArgRef& ref) {
  const CallDecl& call = spec.calls[index];
  return ref.kind == ArgRef::Kind::Named && CallContext::is_calls_entry(call, index) &&
         CallContext::written_inside(call, ref.pointer);
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
      for (std::size_t i = 0; i < cat_call.list_size("tensors"); ++i) pieces.push_back(checked_argument(*cat, list_element("tensors", i)));
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
        for (std::size_t i = 0; i < cat.list_size("tensors"); ++i) pieces.push_back(checked_argument(*made, list_element("tensors", i)));
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
  const ResolvedArgument* input = checked_argument(checked, "input");
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
  // The batch merged with the count of windows, left to view as a leading -1 (x.view(-1, W, C)
  // from (B, T, C)): the sizes after the window meet the input's last dims one to one, the dim
  // before them is cut into windows, and the dims before that merge into the -1.
  const std::size_t split = shape.size() + 1 - std::min(sizes.size(), shape.size() + 1);
  const bool merged = sizes.size() >= 2 && sizes.front() == DimExpr::constant(-1) && split >= 1;
  if (merged) {
    for (std::size_t k = split + 1; k < shape.size(); ++k) {
      if (report.symbols.compare(shape[k], sizes[k + 1 - split]) != Symbols::Verdict::Equal) return;
    }
    const DimExpr n = report.symbols.resolve(shape[split]);
    if (!n.is_constant() || !sizes[1].is_constant() || sizes[1].offset <= 1 || n.offset % sizes[1].offset == 0) return;
    pad[split] = sizes[1].offset - n.offset % sizes[1].offset;
    j = sizes.size();
  }
  for (std::size_t i = 0; i < shape.size() && !merged; ++i) {
    if (j < sizes.size() && report.symbols.compare(shape[i], sizes[j]) == Symbols::Verdict::Equal) {
      ++j;
      continue;
    }
    const DimExpr n = report.symbols.resolve(shape[i]);
    // A last dim is split into windows only where its name says it is a sequence.
    const bool sequence = input->written().size() == shape.size() && input->written()[i].is_plain_symbol() &&
                          role_of_name(input->written()[i].symbol.str()) == DimRole::Sequence;
    if ((i + 1 == shape.size() && !sequence) || j + 1 >= sizes.size() || !n.is_constant() || !sizes[j].is_constant() || !sizes[j + 1].is_constant()) return;
    // The count of windows may be left to view (-1): it then follows the padded length.
    const std::int64_t length = n.offset, windows = sizes[j].offset, window = sizes[j + 1].offset;
    const bool inferred = windows == -1;
    if (window <= 1 || (windows <= 0 && !inferred) || length <= 0) return;
    if (windows * window != length) {
      if (length % window == 0) return;  // a miscounted split, which padding does not explain
      pad[i] = window - length % window;
      const std::int64_t padded_windows = (length + pad[i]) / window;
      if (padded_windows != windows && !inferred) {
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
  bool crops = !merged;
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

// A length that misses the length a later operand was built for. A position table added whole
// (a declared (1500, 384) tensor, not rows indexed by position ids) fixes how many positions
// the model was made for, and so does the conv stem that makes them: Whisper's stem maps 3000
// mel frames to 1500 positions. A stem that gives another length was built without its padding
// (or stride), or was given an input of another length; slicing the table is a second choice.

// A conv on the way from a tensor's dim up to where it entered: that dim is the conv's spatial
// dim `spatial`, made from `in` input positions into `out`.
struct ConvStep {
  std::size_t call = 0;  // its index in spec.calls
  const ModuleDecl* module = nullptr;
  std::size_t spatial = 0;
  std::int64_t in = 0, out = 0;
};

// Where a length came from: the convs that made it, nearest first, and the declared tensor it
// entered as (empty when it came from elsewhere), with the call that reads that tensor on the
// way (where a pad is inserted).
struct LengthTrace {
  std::vector<ConvStep> convs;
  std::string entered;
  Shape entered_shape;
  int dim = 0;
  std::int64_t length = 0;
  std::size_t reader = 0;
  const ArgRef* read_as = nullptr;
};

std::optional<std::int64_t> constant_size(const Report& report, const Shape& shape, int dim) {
  if (dim < 0 || static_cast<std::size_t>(dim) >= shape.size()) return std::nullopt;
  DimExpr size = report.symbols.resolve(shape[static_cast<std::size_t>(dim)]);
  return size.is_constant() ? std::optional<std::int64_t>(size.offset) : std::nullopt;
}

bool is_conv(const ModuleDecl* module) { return module && (module->type == "Conv1d" || module->type == "Conv2d"); }

// Follows dim `dim` of call `index`'s argument `argument` up the graph through the calls that
// keep a length where it is (the elementwise ones, LayerNorm, contiguous, a Linear's leading dims,
// a view, reshape or flatten that keeps every dim up to it), move it (transpose, permute) or
// make it (a Conv1d's or Conv2d's spatial dim, from the same dim of its input).
LengthTrace trace_length(const Spec& spec, const Report& report, std::size_t index, const ResolvedArgument& argument, int dim) {
  LengthTrace trace;
  const ResolvedArgument* arg = &argument;
  auto first_ref = spec.calls[index].tensors.find(argument.name);
  if (first_ref == spec.calls[index].tensors.end()) return trace;
  const ArgRef* ref = &first_ref->second;
  std::size_t reader = index;
  for (int step = 0; step < 32; ++step) {
    const int rank = static_cast<int>(arg->shape.size());
    if (arg->source.kind == ArgumentSource::Kind::Declared) {
      const TensorDecl* declared = spec.find_tensor(arg->source.name);
      std::optional<std::int64_t> length = constant_size(report, arg->shape, dim);
      if (declared && !declared->shape_pointer.empty() && length && patchable_named(spec, reader, *ref)) {
        trace.entered = declared->name;
        trace.entered_shape = declared->shape;
        trace.dim = dim;
        trace.length = *length;
        trace.reader = reader;
        trace.read_as = ref;
      }
      return trace;
    }
    if (arg->source.kind != ArgumentSource::Kind::Output) return trace;
    std::optional<std::size_t> at = call_index(spec, arg->source.call);
    const CallReport* made = call_report(report, arg->source.call);
    if (!at || !made || !made->ok) return trace;
    const CallDecl& producer = spec.calls[*at];
    const ResolvedArgument* input = checked_argument(*made, "input");
    auto input_ref = producer.tensors.find("input");
    if (!input || input_ref == producer.tensors.end()) return trace;
    const ModuleDecl* module = producer.module.empty() ? nullptr : spec.find_module(producer.module);
    // A reshape that keeps every dim up to this one where it was (ESPnet's (B, T, C, F) viewed
    // (B, T, C*F)) keeps the length.
    auto same_prefix = [&] {
      if (input->shape.size() <= static_cast<std::size_t>(dim)) return false;
      for (int d = 0; d <= dim; ++d) {
        if (report.symbols.compare(input->shape[static_cast<std::size_t>(d)], arg->shape[static_cast<std::size_t>(d)]) != Symbols::Verdict::Equal) {
          return false;
        }
      }
      return true;
    };
    const bool reshaped = producer.op == "view" || producer.op == "reshape" || producer.op == "flatten";
    if (reshaped ? !same_prefix() : static_cast<int>(input->shape.size()) != rank) return trace;
    // Such a reshape, and a Linear (it maps the features only), keep the dim where it is.
    const bool kept = reshaped || (module && module->type == "Linear" && dim + 1 < rank);
    int from = dim;
    if (is_conv(module)) {
      const int first = rank - conv_spatial_dims(module->type);
      std::optional<std::int64_t> in = constant_size(report, input->shape, dim), out = constant_size(report, arg->shape, dim);
      if (dim < first || !in || !out) return trace;
      trace.convs.push_back({*at, module, static_cast<std::size_t>(dim - first), *in, *out});
    } else if (producer.op == "permute" || producer.op == "transpose") {
      auto wrap = [rank](const nlohmann::json& d) -> int {
        if (!d.is_number_integer()) return -1;
        int value = d.get<int>();
        return value < 0 ? value + rank : value;
      };
      if (producer.op == "permute") {
        const nlohmann::json& dims = producer.arguments.value("dims", nlohmann::json());
        if (!dims.is_array() || dims.size() != static_cast<std::size_t>(rank)) return trace;
        from = wrap(dims[static_cast<std::size_t>(dim)]);
      } else {
        const int a = wrap(producer.arguments.value("dim0", nlohmann::json())), b = wrap(producer.arguments.value("dim1", nlohmann::json()));
        from = dim == a ? b : dim == b ? a : dim;
      }
      if (from < 0 || from >= rank) return trace;
    } else if (!kept && !keeps_layout(spec, producer) && producer.op != "contiguous" && producer.op != "clone") {
      return trace;
    }
    arg = input;
    ref = &input_ref->second;
    reader = *at;
    dim = from;
  }
  return trace;
}

// The longest length the conv solver inverts the output-length formula for (2^40 positions).
constexpr std::int64_t kMaxSolvedLength = std::int64_t{1} << 40;

// The lengths from `low` to `high` that a conv's dim may give or take.
struct LengthRange {
  std::int64_t low = 0, high = 0;
  bool holds(std::int64_t length) const { return low <= length && length <= high; }
};

// The input lengths that conv geometry `g` maps into `out` along spatial dim d: the inverse of
// floor((L + padding - d*(k-1) - 1) / stride) + 1, which never decreases with L.
LengthRange inputs_for(const ConvGeometry& g, std::size_t d, LengthRange out) {
  const std::int64_t pads = g.pad_before[d] + g.pad_after[d];
  return {(out.low - 1) * g.stride[d] + g.span(d) - pads, out.high * g.stride[d] + g.span(d) - pads - 1};
}

// What spatial dim d of `g` gives for `in` positions; nullopt where the padded input is shorter
// than the kernel's span (PyTorch raises).
std::optional<std::int64_t> conv_output(const ConvGeometry& g, std::size_t d, std::int64_t in) {
  if (in + g.pad_before[d] + g.pad_after[d] < g.span(d)) return std::nullopt;
  return g.output_size(d, in);
}

// The patch that sets a conv's option `option` to `value`: in its constructor string, or as a
// member of its object.
std::optional<nlohmann::json> conv_option_patch(const Spec& spec, const ModuleDecl& module, const std::string& option, const nlohmann::json& value) {
  if (!module.written_as_call) return nlohmann::json::array({{{"op", "add"}, {"path", child_pointer(module.pointer, option)}, {"value", value}}});
  if (!module.path_in_call.empty()) return std::nullopt;  // inside another module's constructor
  const nlohmann::json& text = spec.value().at(nlohmann::json::json_pointer(module.pointer));
  if (!text.is_string()) return std::nullopt;
  nlohmann::json constructor = parse_module_call(text.get<std::string>(), Location{});
  constructor[option] = value;
  return nlohmann::json::array({{{"op", "replace"}, {"path", module.pointer}, {"value", module_call_text(constructor)}}});
}

// One size per spatial dim as a conv option is written: an int when they are all equal.
nlohmann::json option_value(const std::vector<std::int64_t>& sizes) {
  if (std::all_of(sizes.begin(), sizes.end(), [&](std::int64_t size) { return size == sizes.front(); })) return sizes.front();
  return sizes;
}

std::string option_text(const nlohmann::json& value) {
  if (value.is_number_integer()) return value.dump();
  return fmt::format("({})", fmt::join(value.get<std::vector<std::int64_t>>(), ", "));
}

// For an elementwise operator whose operands differ in exactly one dim, both sizes numbers
// (neither 1): a length made by convs meets the other operand's. Candidates, in this order:
//  - a conv's padding (then its stride) that makes the length the other operand's, from the
//    conv nearest the call back, the lengths the later convs need found by inverting their
//    formula: Whisper's conv2 built without padding=1 gives 1499 positions for a 1500-row table;
//  - the input where it enters padded (or trimmed) to the length the conv stem maps onto the
//    other operand's, the length of a multiple of the stem's strides in that range (Whisper's
//    2000 mel frames padded to 3000 for 1500 positions).
// Against a table added whole (a declared tensor: the model's designed length) they are
// consistent; a padding of more than half the kernel's span is no usual construction, and an
// input is padded consistently only when no conv's padding or stride explains the length.
void designed_length_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  if (call.op != "add" && call.op != "sub" && call.op != "mul" && call.op != "div") return;
  const ResolvedArgument* first = checked_argument(checked, "input");
  const ResolvedArgument* second = checked_argument(checked, "other");
  if (!first || !second) return;
  for (const auto& [data, other] : {std::pair{first, second}, std::pair{second, first}}) {
    int data_dim = -1, other_dim = -1, mismatches = 0;
    std::int64_t wanted = 0;
    for (std::size_t from_right = 1; from_right <= std::min(data->shape.size(), other->shape.size()); ++from_right) {
      const int d = static_cast<int>(data->shape.size() - from_right), o = static_cast<int>(other->shape.size() - from_right);
      std::optional<std::int64_t> a = constant_size(report, data->shape, d), b = constant_size(report, other->shape, o);
      if (report.symbols.compare(data->shape[static_cast<std::size_t>(d)], other->shape[static_cast<std::size_t>(o)]) == Symbols::Verdict::Equal ||
          (a && *a == 1) || (b && *b == 1)) {
        continue;
      }
      ++mismatches;
      if (!a || !b) continue;
      data_dim = d;
      other_dim = o;
      wanted = *b;
    }
    if (mismatches != 1 || data_dim < 0) continue;
    LengthTrace trace = trace_length(spec, report, index, *data, data_dim);
    if (trace.convs.empty()) continue;
    const std::string data_name = data->source.name.empty() ? data->name : data->source.name;
    const std::string other_name = other->source.name.empty() ? other->name : other->source.name;
    // A table added whole: the model's designed length.
    const bool table = other->source.kind == ArgumentSource::Kind::Declared && constant_size(report, other->written(), other_dim) == wanted;
    const std::string needs = fmt::format("the {} of {} {}", wanted, other_name, tuple_str(other->shape));
    const std::string designed = fmt::format("{} is added whole, not indexed by positions: the model was built for {} positions", other_name, wanted);
    LengthRange range{wanted, wanted};  // at the output of the conv looked at
    std::int64_t strides = 1;
    bool conv_explains = false;
    std::vector<Fix> stride_fixes;
    for (const ConvStep& step : trace.convs) {
      const ConvGeometry geometry = conv_geometry(*step.module);
      const std::size_t d = step.spatial;
      const std::string formula = fmt::format("(L + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1");
      // Sizes past kMaxSolvedLength are no conv stem's: the search stops there rather than
      // loop over a huge span or overflow the inverted formula.
      if (geometry.stride[d] < 1 || geometry.span(d) > kMaxSolvedLength || range.high > kMaxSolvedLength / geometry.stride[d]) {
        range.high = -1;
        break;
      }
      // Padding first: the option a conv stem is most often built without; a padding wider
      // than the kernel's span only adds positions of zeros. The output grows with the padding,
      // so the search starts at the least padding that can reach range.low and stops past
      // range.high.
      const std::int64_t least_pad = std::max<std::int64_t>(0, ((range.low - 1) * geometry.stride[d] + geometry.span(d) - step.in + 1) / 2);
      for (std::int64_t pad = least_pad; pad < geometry.span(d); ++pad) {
        if (geometry.pad_before[d] == pad && geometry.pad_after[d] == pad) continue;
        ConvGeometry changed = geometry;
        changed.pad_before[d] = changed.pad_after[d] = pad;
        std::optional<std::int64_t> out = conv_output(changed, d, step.in);
        if (out && *out > range.high) break;
        if (!out || !range.holds(*out)) continue;
        std::vector<std::int64_t> pads = changed.pad_before;
        if (!std::equal(changed.pad_before.begin(), changed.pad_before.end(), changed.pad_after.begin())) break;
        nlohmann::json value = option_value(pads);
        std::optional<nlohmann::json> patch = conv_option_patch(spec, *step.module, "padding", value);
        if (!patch) break;
        const bool usual = 2 * pad <= geometry.span(d) - 1;
        Fix fix = candidate(fmt::format("construct {} with padding={}: {} gives ({} + 2*{} - {}*({}-1) - 1) // {} + 1 = {} positions{}", step.module->name,
                                        option_text(value), formula, step.in, pad, geometry.dilation[d], geometry.kernel[d], geometry.stride[d], *out,
                                        &step == &trace.convs.front() ? fmt::format(", {}", needs) : fmt::format(" on the way to {}", needs)),
                            std::move(*patch), table && usual ? FixSemantics::Consistent : FixSemantics::Unknown,
                            table && usual ? designed + ", which this padding gives" : "");
        fixes.push_back(std::move(fix));
        conv_explains = conv_explains || usual;
        break;
      }
      // Then the stride, kept as a later choice.
      for (std::int64_t stride = 1; stride <= 4; ++stride) {
        if (stride == geometry.stride[d]) continue;
        ConvGeometry changed = geometry;
        changed.stride[d] = stride;
        std::optional<std::int64_t> out = conv_output(changed, d, step.in);
        if (!out || !range.holds(*out)) continue;
        nlohmann::json value = option_value(changed.stride);
        std::optional<nlohmann::json> patch = conv_option_patch(spec, *step.module, "stride", value);
        if (!patch) break;
        stride_fixes.push_back(candidate(fmt::format("construct {} with stride={}: {} gives ({} + {} - {}*({}-1) - 1) // {} + 1 = {} positions, {}",
                                                     step.module->name, option_text(value), formula, step.in,
                                                     geometry.pad_before[d] + geometry.pad_after[d], geometry.dilation[d], geometry.kernel[d],
                                                     stride, *out, needs),
                                         std::move(*patch), table ? FixSemantics::Consistent : FixSemantics::Unknown,
                                         table ? designed + ", which this stride gives" : ""));
        conv_explains = true;
        break;
      }
      range = inputs_for(geometry, d, range);
      strides *= geometry.stride[d];
    }
    for (Fix& fix : stride_fixes) fixes.push_back(std::move(fix));
    if (trace.entered.empty() || range.holds(trace.length) || range.high < 1) continue;
    // The input's length the stem maps onto the wanted one: a multiple of its strides in the
    // range (3000 frames for 1500 positions at stride 2), else the nearest end.
    std::int64_t length = trace.length < range.low ? range.low : range.high;
    const std::int64_t first_multiple = (std::max<std::int64_t>(range.low, 1) + strides - 1) / strides * strides;
    if (first_multiple <= range.high) length = first_multiple;
    if (length < 1) continue;
    const std::string& name = trace.entered;
    const CallDecl& reader = spec.calls[trace.reader];
    Shape resized = trace.entered_shape;
    resized[static_cast<std::size_t>(trace.dim)] = DimExpr::constant(length);
    const std::string stem = fmt::format("the {} the conv stem maps to {} positions, {}", length, wanted, needs);
    if (length > trace.length) {
      const std::size_t entered_rank = trace.entered_shape.size();
      std::vector<std::int64_t> pairs;
      for (std::size_t d = entered_rank; d-- > static_cast<std::size_t>(trace.dim);) {
        pairs.push_back(0);
        pairs.push_back(d == static_cast<std::size_t>(trace.dim) ? length - trace.length : 0);
      }
      nlohmann::json made = {{"id", fresh_name(spec, "pad_" + name)}, {"op", "pad"}, {"input", name}, {"pad", pairs},
                             {"outputs", {fresh_name(spec, name + "_padded")}}};
      fixes.push_back(candidate(fmt::format("pad {} at the end of dim {} to {}: {} = F.pad({}, ({})) gives {}, before call \"{}\"", name, trace.dim, stem,
                                            name, name, fmt::join(pairs, ", "), tuple_str(resized), reader.id),
                                read_inserted_call(spec, trace.reader, *trace.read_as, std::move(made)),
                                table && !conv_explains ? FixSemantics::Consistent : FixSemantics::Unknown,
                                table && !conv_explains ? designed + ", and the input is shorter than the stem maps onto them" : ""));
    } else {
      std::vector<std::string> items(static_cast<std::size_t>(trace.dim), ":");
      items.push_back(fmt::format(":{}", length));
      const std::string kept = fmt::format("[{}]", fmt::join(items, ", "));
      nlohmann::json made = {{"id", fresh_name(spec, "trim_" + name)}, {"op", "getitem"}, {"input", name}, {"index", kept},
                             {"outputs", {fresh_name(spec, name + "_trimmed")}}};
      fixes.push_back(candidate(fmt::format("trim {} to {}: {} = {}{} gives {}, before call \"{}\"", name, stem, name, name, kept, tuple_str(resized), reader.id),
                                read_inserted_call(spec, trace.reader, *trace.read_as, std::move(made))));
    }
  }
}

// The shape of the tensor `name` as call `before` would read it: the output of the last call
// before it that makes it, else the declared tensor's.
std::optional<Shape> shape_before(const Spec& spec, const Report& report, const std::string& name, std::size_t before) {
  if (const CallDecl* producer = producer_of(spec, name, &spec.calls[before])) {
    const CallReport* made = call_report(report, producer->id);
    if (!made) return std::nullopt;
    for (const NamedOutput& output : made->outputs) {
      if (output.name == name) return output.shape;
    }
    return std::nullopt;
  }
  for (const DeclaredTensor& declared : report.tensors) {
    if (declared.name == name) return declared.shape;
  }
  return std::nullopt;
}

// A cat written at /calls/index with its output, on a dim given as a number, and the tokens it
// joins there besides its piece `own` (a name it reads once), each a number.
struct CatJoin {
  std::int64_t dim = 0;
  std::int64_t others = 0;          // the tokens of the other pieces on that dim
  std::string own_argument;         // "tensors[1]"
  std::vector<std::string> pieces;  // the names it joins, in order
};
std::optional<CatJoin> cat_join(const Spec& spec, const Report& report, std::size_t index, const std::string& own, std::size_t rank) {
  const CallDecl& cat = spec.calls[index];
  const nlohmann::json& written_dim = cat.arguments.value("dim", nlohmann::json(0));
  const auto signed_rank = static_cast<std::int64_t>(rank);
  if (cat.op != "cat" || !written_dim.is_number_integer() || !CallContext::is_calls_entry(cat, index) || cat.outputs.empty() ||
      !spec.value().contains(nlohmann::json::json_pointer(cat.pointer + "/outputs"))) {
    return std::nullopt;
  }
  CatJoin join;
  join.dim = written_dim.get<std::int64_t>();
  if (join.dim < -signed_rank || join.dim >= signed_rank) return std::nullopt;
  if (join.dim < 0) join.dim += signed_rank;
  for (std::size_t i = 0; i < cat.list_size("tensors"); ++i) {
    const std::string argument = list_element("tensors", i);
    const ArgRef& piece = cat.tensors.at(argument);
    if (piece.kind != ArgRef::Kind::Named) return std::nullopt;
    join.pieces.push_back(piece.name);
    if (piece.name == own) {
      if (!join.own_argument.empty()) return std::nullopt;
      join.own_argument = argument;
      continue;
    }
    std::optional<Shape> shape = shape_before(spec, report, piece.name, index);
    std::optional<std::int64_t> size = shape && shape->size() == rank ? constant_size(report, *shape, static_cast<int>(join.dim)) : std::nullopt;
    if (!size) return std::nullopt;
    join.others += *size;
  }
  if (join.own_argument.empty() || join.others == 0) return std::nullopt;
  return join;
}

// The calls after `index` that read `name` before it is made again.
std::vector<std::size_t> readers_after(const Spec& spec, std::size_t index, const std::string& name) {
  std::vector<std::size_t> readers;
  for (std::size_t later = index + 1; later < spec.calls.size(); ++later) {
    const CallDecl& call = spec.calls[later];
    if (std::any_of(call.tensors.begin(), call.tensors.end(), [&](const auto& entry) {
          return entry.second.kind == ArgRef::Kind::Named && entry.second.name == name;
        })) {
      readers.push_back(later);
    }
    if (std::find(call.outputs.begin(), call.outputs.end(), name) != call.outputs.end()) break;
  }
  return readers;
}

// A table added whole whose rows miss the tokens by the tokens a cat joins to them on that dim,
// where the cat and the add are written in the wrong order:
//  - the table longer, the cat after the add: ViT's (1, 197, 768) pos_embed holds the class
//    token's position first, and timm concatenates the class token before adding it; added to
//    the 196 patch tokens first it fails (sliced to them, it shifts every patch by a position).
//    The add moves after the cat: the cat reads the tokens, the add its output.
//  - the table shorter, the cat before the add: a table for the patches only (DeiT's
//    no_embed_class, tokens joined after the positions) met by the joined tokens. The add moves
//    before the cat, onto the piece it has rows for.
// The moved add keeps its id; every later reader reads what it read before.
void reordered_table_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  if (call.op != "add" || call.outputs.size() != 1 || !CallContext::is_calls_entry(call, index) ||
      !spec.value().contains(nlohmann::json::json_pointer(call.pointer + "/outputs"))) {
    return;
  }
  const ResolvedArgument* first = checked_argument(checked, "input");
  const ResolvedArgument* second = checked_argument(checked, "other");
  if (!first || !second || first->shape.size() != second->shape.size()) return;
  const std::size_t rank = first->shape.size();
  const std::string& sum = call.outputs.front();
  for (const auto& [tokens, table] : {std::pair{first, second}, std::pair{second, first}}) {
    auto tokens_ref = call.tensors.find(tokens->name);
    if (table->source.kind != ArgumentSource::Kind::Declared || tokens_ref == call.tensors.end() || tokens_ref->second.kind != ArgRef::Kind::Named) {
      continue;
    }
    const std::string& data = tokens_ref->second.name;
    const std::string& table_name = table->source.name;
    const std::string data_path = tokens_ref->second.pointer.substr(call.pointer.size());
    nlohmann::json moved = spec.value().at(nlohmann::json::json_pointer(call.pointer));
    // The add first, a cat after it that reads only its sum: the add moves after the cat.
    std::vector<std::size_t> readers = readers_after(spec, index, sum);
    std::optional<CatJoin> after = readers.size() == 1 ? cat_join(spec, report, readers.front(), sum, rank) : std::nullopt;
    if (after) {
      const CallDecl& cat = spec.calls[readers.front()];
      std::optional<std::int64_t> count = constant_size(report, tokens->shape, static_cast<int>(after->dim));
      std::optional<std::int64_t> rows = constant_size(report, table->shape, static_cast<int>(after->dim));
      if (count && rows && *rows == *count + after->others) {
        const std::string cat_output = cat.outputs.front();
        const std::string before_add = fresh_name(spec, cat_output + "_joined");
        moved[nlohmann::json::json_pointer(data_path)] = before_add;
        moved["outputs"] = {cat_output};
        nlohmann::json patch = nlohmann::json::array(
            {{{"op", "replace"}, {"path", cat.tensors.at(after->own_argument).pointer}, {"value", data}},
             {{"op", "replace"}, {"path", cat.pointer + "/outputs/0"}, {"value", before_add}},
             {{"op", "add"}, {"path", CallContext::calls_entry_pointer(readers.front() + 1)}, {"value", moved}},
             {{"op", "remove"}, {"path", call.pointer}}});
        std::vector<std::string> pieces = after->pieces;
        std::replace(pieces.begin(), pieces.end(), sum, data);
        fixes.push_back(candidate(
            fmt::format("move the add of call \"{}\" after the cat of call \"{}\" (cat first, then add {}): its {} rows are the {} of {} and the {} "
                        "the cat joins on dim {}: {} = torch.cat([{}], dim={}) + {}",
                        call.id, cat.id, table_name, *rows, *count, data, after->others, after->dim, cat_output, fmt::join(pieces, ", "), after->dim,
                        table_name),
            std::move(patch), FixSemantics::Consistent,
            fmt::format("{} is added whole: every token, the joined ones too, then gets its own row, in the order the cat puts them", table_name)));
      }
    }
    // A cat first, read only by the add: the add moves before the cat, onto its piece.
    const CallDecl* made = producer_of(spec, data, &call);
    const std::size_t cat_index = made ? static_cast<std::size_t>(made - spec.calls.data()) : index;
    if (!made || made->op != "cat" || made->outputs.size() != 1 || readers_after(spec, cat_index, data) != std::vector<std::size_t>{index}) continue;
    for (std::size_t i = 0; i < made->list_size("tensors"); ++i) {
      const ArgRef* piece = &made->tensors.at(list_element("tensors", i));
      if (piece->kind != ArgRef::Kind::Named) break;
      std::optional<CatJoin> before = cat_join(spec, report, cat_index, piece->name, rank);
      if (!before) continue;
      std::optional<Shape> own = shape_before(spec, report, piece->name, cat_index);
      std::optional<std::int64_t> length = own ? constant_size(report, *own, static_cast<int>(before->dim)) : std::nullopt;
      std::optional<std::int64_t> rows = constant_size(report, table->shape, static_cast<int>(before->dim));
      if (!length || !rows || *rows != *length) continue;
      const std::string with_table = fresh_name(spec, piece->name + "_positioned");
      moved[nlohmann::json::json_pointer(data_path)] = piece->name;
      moved["outputs"] = {with_table};
      nlohmann::json patch = nlohmann::json::array(
          {{{"op", "replace"}, {"path", made->tensors.at(before->own_argument).pointer}, {"value", with_table}},
           {{"op", "replace"}, {"path", made->pointer + "/outputs/0"}, {"value", sum}},
           {{"op", "remove"}, {"path", call.pointer}},
           {{"op", "add"}, {"path", made->pointer}, {"value", moved}}});
      std::vector<std::string> pieces = before->pieces;
      std::replace(pieces.begin(), pieces.end(), piece->name, piece->name + " + " + table_name);
      fixes.push_back(candidate(
          fmt::format("move the add of call \"{}\" before the cat of call \"{}\" (add {} first, then cat): its {} rows are the {} of {}, not the {} "
                      "the cat joins on dim {}: {} = torch.cat([{}], dim={})",
                      call.id, made->id, table_name, *rows, *length, piece->name, before->others, before->dim, sum, fmt::join(pieces, ", "), before->dim),
          std::move(patch), FixSemantics::Consistent,
          fmt::format("{} is added whole to the tokens it has rows for; the joined tokens keep their own values", table_name)));
      break;
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
    if (!producer || !made || !CallContext::is_calls_entry(spec.calls[*producer], *producer)) break;
    chain.push_back(*producer);
    const ResolvedArgument* input = checked_argument(*made, "input");
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
    const ResolvedArgument* input = made ? checked_argument(*made, "input") : nullptr;
    std::string error;
    std::optional<IndexExpression> parsed = text.is_string() ? parse_index(text.get<std::string>(), error) : std::nullopt;
    if (!input || !parsed || parsed->items.size() > input->shape.size()) continue;
    bool plain = std::all_of(parsed->items.begin(), parsed->items.end(),
                             [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice || item.kind == IndexItem::Kind::Integer; });
    if (!plain) continue;
    auto whole = [](const IndexItem& item) { return item.kind == IndexItem::Kind::Slice && !item.start && !item.stop && !item.step; };
    // A slice that cuts nothing ([:10] of a dim of 1: Llama's (1, 1, max_positions, D) rotary
    // buffer cut cos_cached[:T]) was meant for another dim: keeping it beside a new cut is no
    // repair, moving it is (mirrored_slice_candidates and the dim rewrites offer that).
    bool idle_cut = false;
    for (std::size_t d = 0; d < parsed->items.size(); ++d) {
      const IndexItem& item = parsed->items[d];
      DimExpr had = report.symbols.resolve(input->shape[d]);
      if (item.kind == IndexItem::Kind::Slice && !whole(item) && !item.start && !item.step && item.stop && had.is_constant() &&
          item.stop->is_constant() && item.stop->constant >= had.offset) {
        idle_cut = true;
      }
    }
    if (idle_cut) continue;
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
// The mask of an attention call and the arguments holding the keys' positions, each with the dim
// they are in: SDPA's attn_mask with key and value (dim -2), or a mask applied to scores written
// by hand, q @ k.transpose(-2, -1) scaled on the way (masked_fill's mask, the other operand of an
// add): the product's second operand (its last dim).
struct MaskedKeys {
  const ResolvedArgument* mask = nullptr;
  const ArgRef* mask_ref = nullptr;
  std::string mask_argument;  // "attn_mask", "mask", an add's "other"
  std::vector<std::pair<const ResolvedArgument*, std::size_t>> keys;  // the keys first
  std::optional<DimExpr> queries;  // the queries' length, when known
};
std::optional<MaskedKeys> masked_keys(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked) {
  const CallDecl& call = spec.calls[index];
  MaskedKeys found;
  auto mask_named = [&](const std::string& argument) {
    auto ref = call.tensors.find(argument);
    found.mask = checked_argument(checked, argument);
    found.mask_ref = ref == call.tensors.end() ? nullptr : &ref->second;
    found.mask_argument = argument;
    return found.mask && found.mask_ref && !found.mask->shape.empty() && patchable_named(spec, index, *found.mask_ref);
  };
  if (call.op == "scaled_dot_product_attention" && call.module.empty()) {
    if (!mask_named("attn_mask")) return std::nullopt;
    for (const char* name : {"key", "value"}) {
      const ResolvedArgument* keys = checked_argument(checked, name);
      if (keys && keys->shape.size() >= 2) found.keys.emplace_back(keys, keys->shape.size() - 2);
    }
    const ResolvedArgument* query = checked_argument(checked, "query");
    if (query && query->shape.size() >= 2) found.queries = report.symbols.resolve(query->shape[query->shape.size() - 2]);
    return found;
  }
  if (call.op != "masked_fill" && call.op != "add") return std::nullopt;
  // The scores: the operand made by a matrix product (matmul or bmm), through element-wise scaling and masking.
  for (const std::string& scores : call.op == "masked_fill" ? std::vector<std::string>{"input"} : std::vector<std::string>{"input", "other"}) {
    const std::string mask_argument = call.op == "masked_fill" ? "mask" : scores == "input" ? "other" : "input";
    const std::string name = input_name(call, scores);
    const std::optional<ScoresProduct> made = scores_product(spec, name.empty() ? nullptr : producer_of(spec, name, &call));
    if (!made || !mask_named(mask_argument)) continue;
    const CallReport* product = call_report(report, made->product->id);
    const ResolvedArgument* keys = product ? checked_argument(*product, made->keys_argument) : nullptr;
    if (!keys || keys->shape.size() < 2) continue;
    found.keys.emplace_back(keys, keys->shape.size() - 1);
    const ResolvedArgument* query = checked_argument(*product, made->queries_argument);
    if (query && query->shape.size() >= 2) found.queries = report.symbols.resolve(query->shape[query->shape.size() - 2]);
    return found;
  }
  return std::nullopt;
}

// A decoding step whose keys were cut from a longer tensor by a getitem on their positions and
// whose mask has another number of key columns, its last dim:
//  - a rolling window (keys and values cut [:, :, -W:] from the P+T positions of the history) with
//    a mask over that whole history: the mask's columns cut the same way, mask[..., -W:];
//  - a buffer preallocated for the longest sequence read from its start ([:, :, :start_pos]) one
//    short of the positions the mask counts: the reads extended to them, keys and values alike
//    (with scores written by hand, the values' read is the one cut as the keys' from a buffer of
//    the same length).
// At SDPA (attn_mask) and at a mask applied to q @ k.transpose(-2, -1) by masked_fill or add.
void sliced_keys_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  std::optional<MaskedKeys> masked = masked_keys(spec, report, index, checked);
  if (!masked || masked->keys.empty()) return;
  const ResolvedArgument* mask = masked->mask;
  const DimExpr columns = report.symbols.resolve(mask->shape.back());
  const DimExpr& columns_written = mask->written().size() == mask->shape.size() ? mask->written().back() : mask->shape.back();
  struct Cut {
    std::size_t getitem;
    IndexExpression index;
    std::size_t dim;  // the positions' item
  };
  std::vector<Cut> cuts;  // the keys' and the values' cuts
  for (const auto& [keys, positions] : masked->keys) {
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
      if (dim_after_moves(spec, chain, chain.size() - 1, d, rank) == positions && parsed->items[d].start.has_value() != parsed->items[d].stop.has_value()) {
        cuts.push_back({chain.back(), *parsed, d});
      }
    }
  }
  if (cuts.empty()) return;
  const Cut first = cuts.front();  // a copy: the hand-written form pushes the values' cut, which may move the vector
  const CallReport* made = call_report(report, spec.calls[first.getitem].id);
  const ResolvedArgument* history = made ? checked_argument(*made, "input") : nullptr;
  const auto& [keys, positions] = masked->keys.front();
  if (!history || history->shape.size() <= first.dim) return;
  const DimExpr length = report.symbols.resolve(history->shape[first.dim]);
  const DimExpr kept = report.symbols.resolve(keys->shape[positions]);
  if (report.symbols.compare(kept, columns) == Symbols::Verdict::Equal) return;
  const IndexItem& item = first.index.items[first.dim];
  const std::string& mask_name = masked->mask_ref->name;
  if (report.symbols.compare(length, columns) == Symbols::Verdict::Equal) {
    // The mask covers the positions the keys were cut from: its columns cut alike.
    std::string cut = fmt::format("[..., {}]", item_text(item));
    nlohmann::json slice = {{"id", fresh_name(spec, "window_" + mask_name)}, {"op", "getitem"}, {"input", mask_name}, {"index", cut},
                            {"outputs", {fresh_name(spec, mask_name + "_window")}}};
    // An add's operands are no keyword arguments: the cut is shown where it is read.
    const bool keyword = masked->mask_argument != "input" && masked->mask_argument != "other";
    fixes.push_back(candidate(fmt::format("cut the key columns of {} as call \"{}\" cuts the keys from the {} positions: {}{}{}", mask_name,
                                          spec.calls[first.getitem].id, length.str(), keyword ? masked->mask_argument + "=" : "", mask_name, cut),
                              read_inserted_call(spec, index, *masked->mask_ref, std::move(slice)), FixSemantics::Consistent,
                              "the mask's columns then stand for the positions the keys hold"));
    return;
  }
  // A buffer longer than every position the mask counts, read from its start to fewer.
  const bool from_start = !item.start && item.stop;
  if (!from_start || !length.is_constant() || !columns.is_constant() || !kept.is_constant() || length.offset <= columns.offset ||
      kept.offset >= columns.offset) {
    return;
  }
  // Scores written by hand read the values in another product: their read is the getitem that
  // cuts a buffer of the history's shape with the keys' index.
  if (masked->keys.size() == 1) {
    const CallDecl& key_read = spec.calls[first.getitem];
    for (std::size_t at = 0; at < spec.calls.size(); ++at) {
      const CallDecl& twin = spec.calls[at];
      const CallReport* twin_made = at == first.getitem || twin.op != "getitem" || twin.arguments.value("index", nlohmann::json()) != key_read.arguments.value("index", nlohmann::json())
                                        ? nullptr
                                        : call_report(report, twin.id);
      const ResolvedArgument* buffer = twin_made ? checked_argument(*twin_made, "input") : nullptr;
      if (buffer && buffer->shape.size() == history->shape.size() &&
          report.symbols.compare(report.symbols.resolve(buffer->shape[first.dim]), length) == Symbols::Verdict::Equal) {
        cuts.push_back({at, first.index, first.dim});
      }
    }
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

// Cross-attention at a decoding step whose keys (and values) are a cat, on the keys' positions,
// of two pieces of one length that is not the queries': the cached keys of the encoder's states
// and the same states projected again (a port of Hugging Face's MBartAttention that concatenates
// the new step for cross-attention as it does for self-attention). At a self-attention step the
// piece joined last holds the new queries' own positions, so its length is the queries'; here
// both pieces are the memory's S positions, and the keys hold every one twice (2*S, growing
// with each step). Nothing is appended to cross-attention keys: the cat is dropped, keeping the
// cache (its first piece), for the keys and the values alike.
void joined_memory_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  std::optional<MaskedKeys> masked = masked_keys(spec, report, index, checked);
  if (!masked || masked->keys.empty() || !masked->queries) return;
  const DimExpr queries = *masked->queries;
  // Two pieces of one length on the cat's dim, neither the queries' length.
  auto doubled_memory = [&](std::size_t at, std::size_t dim, std::size_t rank) -> std::optional<DimExpr> {
    const CallDecl& cat = spec.calls[at];
    const CallReport* made = call_report(report, cat.id);
    const nlohmann::json& written_dim = cat.arguments.value("dim", nlohmann::json(0));
    if (!made || !written_dim.is_number_integer() || cat.list_size("tensors") != 2 || !CallContext::is_calls_entry(cat, at)) return std::nullopt;
    auto cat_dim = written_dim.get<std::int64_t>();
    if (cat_dim < 0) cat_dim += static_cast<std::int64_t>(rank);
    if (cat_dim != static_cast<std::int64_t>(dim)) return std::nullopt;
    const ResolvedArgument* cached = checked_argument(*made, list_element("tensors", 0));
    const ResolvedArgument* joined = checked_argument(*made, list_element("tensors", 1));
    if (!cached || !joined || cached->shape.size() != rank || joined->shape.size() != rank ||
        cat.tensors.at(list_element("tensors", 0)).kind != ArgRef::Kind::Named) {
      return std::nullopt;
    }
    const DimExpr length = report.symbols.resolve(cached->shape[dim]), added = report.symbols.resolve(joined->shape[dim]);
    if (report.symbols.compare(length, added) != Symbols::Verdict::Equal || report.symbols.compare(added, queries) == Symbols::Verdict::Equal) {
      return std::nullopt;
    }
    return length;
  };
  std::vector<std::pair<std::size_t, std::size_t>> cats;  // (cat, its dim)
  std::optional<DimExpr> memory;
  for (const auto& [tensor, positions] : masked->keys) {
    const std::size_t rank = tensor->shape.size();
    std::vector<std::size_t> chain = chain_of_moves(spec, report, *tensor);
    if (chain.empty() || spec.calls[chain.back()].op != "cat") return;
    std::optional<std::size_t> dim = dim_after_moves(spec, chain, chain.size() - 1, positions, rank);
    std::optional<DimExpr> length = dim ? doubled_memory(chain.back(), *dim, rank) : std::nullopt;
    if (!length) return;
    memory = length;
    cats.emplace_back(chain.back(), *dim);
  }
  // Scores written by hand meet the values in another product: their cat is the one that joins
  // two pieces of the same lengths on the same dim.
  if (masked->keys.size() == 1) {
    const std::size_t key_cat = cats.front().first;
    const std::size_t rank = masked->keys.front().first->shape.size();
    for (std::size_t at = 0; at < spec.calls.size(); ++at) {
      if (at == key_cat || spec.calls[at].op != "cat") continue;
      std::optional<DimExpr> length = doubled_memory(at, cats.front().second, rank);
      if (length && report.symbols.compare(*length, *memory) == Symbols::Verdict::Equal) cats.emplace_back(at, cats.front().second);
    }
  }
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> kept;
  std::set<std::size_t> done;
  for (const auto& [at, dim] : cats) {
    if (!done.insert(at).second) continue;
    const CallDecl& cat = spec.calls[at];
    const std::string& cached = cat.tensors.at(list_element("tensors", 0)).name;
    patch.push_back({{"op", "replace"}, {"path", cat.pointer + "/tensors"}, {"value", nlohmann::json::array({cached})}});
    // Read by the attention call as it is: the argument named as it is passed.
    std::string reader;
    for (const char* argument : {"key", "value"}) {
      auto ref = spec.calls[index].tensors.find(argument);
      if (ref != spec.calls[index].tensors.end() && ref->second.kind == ArgRef::Kind::Named && !cat.outputs.empty() && ref->second.name == cat.outputs.front()) {
        reader = argument;
      }
    }
    kept.push_back(reader.empty() ? fmt::format("{} = {}", cat.outputs.empty() ? cat.id : cat.outputs.front(), cached) : fmt::format("{}={}", reader, cached));
  }
  if (patch.empty()) return;
  fixes.push_back(candidate(fmt::format("drop the cat: cross-attention keys and values are the memory's positions, which the cache already holds "
                                        "(the piece joined to it is the same {} positions again, not the {} new queries' own): {}",
                                        memory->str(), queries.str(), fmt::join(kept, ", ")),
                            std::move(patch), FixSemantics::Consistent,
                            "each memory position is a key once; only self-attention appends the new step to its cache"));
}

// A new call of `like`'s operator and other arguments on the tensor `name` (its tensor
// arguments left to the caller), named afresh: `op`_`name`, its output `name``suffix`.
nlohmann::json call_like(const Spec& spec, const CallDecl& like, const std::string& name, const std::string& suffix) {
  nlohmann::json made = like.arguments;
  made["id"] = fresh_name(spec, like.op + "_" + name);
  made["op"] = like.op;
  made["outputs"] = {fresh_name(spec, name + suffix)};
  return made;
}

// Key and value of one attention call where one was made by repeat_interleave (GQA's key/value
// heads repeated to the query's) and the other was not: the other repeated the same way, at the
// same place of its chain of moves.
void mirrored_repeat_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const ResolvedArgument *key = checked_argument(checked, "key"), *value = checked_argument(checked, "value");
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
    nlohmann::json made = call_like(spec, repeat, name, "_repeated");
    made["input"] = name;
    std::string dim = repeat.arguments.contains("dim") && !repeat.arguments["dim"].is_null() ? fmt::format(", dim={}", repeat.arguments["dim"].dump()) : "";
    fixes.push_back(candidate(fmt::format("repeat {} as {} is repeated in call \"{}\": {}.repeat_interleave({}{})", other->name, repeated->name,
                                          repeat.id, name, repeat.arguments.value("repeats", nlohmann::json()).dump(), dim),
                              read_inserted_call(spec, reader, ref->second, std::move(made)), FixSemantics::Consistent,
                              fmt::format("{} then has {}'s heads, each repeated as {}'s are", other->name, repeated->name, repeated->name)));
  }
}

// A padding mask of the input's pixels (DETR's (B, H, W) image mask) flattened as the mask of a
// feature map's positions, without being brought to the map first: the map of a stride-s backbone
// has (H / s) * (W / s) positions, and nearest interpolation to it (DETR's F.interpolate(m[None].float(),
// size=x.shape[-2:]).bool()[0]) picks every s-th pixel, mask[:, ::s, ::s]. Offered when exactly one
// stride divides both sides and gives the keys' count.
void strided_mask_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  const ResolvedArgument* key = checked_argument(checked, "key");
  if (!key) return;
  std::optional<std::int64_t> sequence = keys_sequence_dim(spec, call, "key", static_cast<std::int64_t>(key->shape.size()));
  if (!sequence) return;
  DimExpr keys = report.symbols.resolve(key->shape[static_cast<std::size_t>(*sequence)]);
  if (!keys.is_constant()) return;
  for (const ResolvedArgument& mask : checked.arguments) {
    if (!is_mask_name(mask.name) || mask.source.kind != ArgumentSource::Kind::Output) continue;
    std::optional<std::size_t> flatten_index = call_index(spec, mask.source.call);
    const CallReport* flattened = call_report(report, mask.source.call);
    if (!flatten_index || !flattened || spec.calls[*flatten_index].op != "flatten") continue;
    const CallDecl& flatten = spec.calls[*flatten_index];
    const ResolvedArgument* pixels = checked_argument(*flattened, "input");
    auto ref = flatten.tensors.find("input");
    if (!pixels || pixels->shape.size() < 2 || ref == flatten.tensors.end() || !patchable_named(spec, *flatten_index, ref->second)) continue;
    auto rank = static_cast<std::int64_t>(pixels->shape.size());
    std::int64_t start = flatten.arguments.value("start_dim", nlohmann::json(0)).is_number_integer() ? flatten.arguments.value("start_dim", 0) : -1;
    std::int64_t end = flatten.arguments.value("end_dim", nlohmann::json(-1)).is_number_integer() ? flatten.arguments.value("end_dim", -1) : 0;
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    // The two last dims, the map's height and width, flattened into the positions.
    if (start != rank - 2 || end != rank - 1) continue;
    DimExpr height = report.symbols.resolve(pixels->shape[static_cast<std::size_t>(rank - 2)]);
    DimExpr width = report.symbols.resolve(pixels->shape[static_cast<std::size_t>(rank - 1)]);
    if (!height.is_constant() || !width.is_constant() || height.offset * width.offset == keys.offset) continue;
    std::vector<std::int64_t> strides;
    for (std::int64_t stride = 2; stride <= std::min(height.offset, width.offset); ++stride) {
      if (height.offset % stride == 0 && width.offset % stride == 0 && (height.offset / stride) * (width.offset / stride) == keys.offset) {
        strides.push_back(stride);
      }
    }
    if (strides.size() != 1) continue;
    const std::int64_t stride = strides.front();
    std::string leading;
    for (std::int64_t d = 0; d < rank - 2; ++d) leading += ":, ";
    std::string slice = fmt::format("[{}::{}, ::{}]", leading, stride, stride);
    const std::string& name = ref->second.name;
    nlohmann::json made = {{"id", fresh_name(spec, "downsample_" + name)}, {"op", "getitem"}, {"input", name}, {"index", slice},
                           {"outputs", {fresh_name(spec, name + "_downsampled")}}};
    fixes.push_back(candidate(fmt::format("bring {0} to the {1} x {2} feature map before call \"{3}\": {0}{4} (one pixel in {5} each way, as nearest "
                                          "F.interpolate to size ({1}, {2}) picks)",
                                          name, height.offset / stride, width.offset / stride, flatten.id, slice, stride),
                              read_inserted_call(spec, *flatten_index, ref->second, std::move(made)), FixSemantics::Unknown,
                              fmt::format("{} keys are the positions of a map {} times smaller than {}'s {} x {} pixels", keys.offset, stride, name,
                                          height.offset, width.offset)));
  }
}

// Key and value heads repeated with repeat_interleave to meet the query's heads (GQA), by a count
// that does not give the query's head count (num_key_value_heads // num_heads, 0, where
// num_heads // num_key_value_heads is meant): the count set to query heads / key-value heads, in
// every repeat_interleave that feeds key and value directly alike.
void head_ratio_candidates(const Spec& spec, const Report& report, const CallReport& checked, std::vector<Fix>& fixes) {
  const ResolvedArgument* query = checked_argument(checked, "query");
  if (!query || query->shape.size() < 3) return;
  nlohmann::json patch = nlohmann::json::array();
  std::vector<std::string> ids;
  std::optional<std::int64_t> count;
  for (const char* name : {"key", "value"}) {
    const ResolvedArgument* argument = checked_argument(checked, name);
    if (!argument || argument->source.kind != ArgumentSource::Kind::Output || argument->shape.size() != query->shape.size()) continue;
    std::optional<std::size_t> index = call_index(spec, argument->source.call);
    const CallReport* made = call_report(report, argument->source.call);
    if (!index || !made) continue;
    const CallDecl& repeat = spec.calls[*index];
    const nlohmann::json& repeats = repeat.arguments.value("repeats", nlohmann::json());
    const nlohmann::json& dim_json = repeat.arguments.value("dim", nlohmann::json());
    const ResolvedArgument* input = checked_argument(*made, "input");
    if (repeat.op != "repeat_interleave" || !repeats.is_number_integer() || !dim_json.is_number_integer() || !input ||
        input->shape.size() != query->shape.size() || !CallContext::is_calls_entry(repeat, *index)) {
      continue;
    }
    auto rank = static_cast<std::int64_t>(query->shape.size());
    std::int64_t dim = dim_json.get<std::int64_t>();
    if (dim < 0) dim += rank;
    // The heads: dim -3 of SDPA's (..., H, L, E).
    if (dim != rank - 3) continue;
    DimExpr heads = report.symbols.resolve(query->shape[static_cast<std::size_t>(dim)]);
    DimExpr grouped = report.symbols.resolve(input->shape[static_cast<std::size_t>(dim)]);
    if (!heads.is_constant() || !grouped.is_constant() || grouped.offset < 1 || heads.offset % grouped.offset != 0) continue;
    std::int64_t ratio = heads.offset / grouped.offset;
    if (ratio == repeats.get<std::int64_t>() || (count && *count != ratio)) continue;
    count = ratio;
    patch.push_back({{"op", "replace"}, {"path", repeat.pointer + "/repeats"}, {"value", ratio}});
    ids.push_back(fmt::format("\"{}\"", repeat.id));
  }
  if (!count) return;
  fixes.push_back(candidate(fmt::format("repeat each key/value head once per query head of its group in call{} {}: repeats={} ({} query heads "
                                        "over {} key/value heads: repeat_interleave({}, dim=...))",
                                        ids.size() > 1 ? "s" : "", fmt::join(ids, ", "), *count, report.symbols.resolve(query->shape[query->shape.size() - 3]).str(),
                                        report.symbols.resolve(query->shape[query->shape.size() - 3]).offset / *count, *count),
                            std::move(patch), FixSemantics::Consistent,
                            "grouped-query attention repeats each key/value head num_heads // num_key_value_heads times"));
}

// A mask given to an argument whose sizes it does not fit, while the same tensor is also given,
// by name, to another mask argument (of this call or another) that it fits: it is that
// sequence's mask (the encoder's src_mask reused as memory_mask, the inputs' padding mask given to
// the latents' self-attention too). The argument is dropped here, attention then masking nothing
// there. Another tensor that fits (given_tensor_candidates) comes before, found first.
void dropped_mask_candidates(const Spec& spec, const Report& report, std::size_t index, const std::vector<Diagnostic*>& targets,
                             std::vector<Fix>& fixes) {
  const CallDecl& call = spec.calls[index];
  auto flagged = [&](const std::string& call_id, const std::string& argument) {
    return std::any_of(report.diagnostics.begin(), report.diagnostics.end(), [&](const Diagnostic& d) {
      return d.call == call_id && d.argument == argument && d.severity() != Severity::Note;
    });
  };
  std::set<std::string> dropped;
  for (const Diagnostic* target : targets) {
    const std::string& argument = target->argument;
    auto ref = call.tensors.find(argument);
    if (argument.find("mask") == std::string::npos || !dropped.insert(argument).second || ref == call.tensors.end() ||
        !patchable_named(spec, index, ref->second)) {
      continue;
    }
    const std::string& name = ref->second.name;
    std::optional<std::string> fitting;
    for (const CallDecl& other : spec.calls) {
      for (const auto& [other_argument, other_ref] : other.tensors) {
        if ((&other == &call && other_argument == argument) || other_argument.find("mask") == std::string::npos ||
            other_ref.kind != ArgRef::Kind::Named || other_ref.name != name || flagged(other.id, other_argument)) {
          continue;
        }
        fitting = fmt::format("{} of call \"{}\"", other_argument, other.id);
        break;
      }
      if (fitting) break;
    }
    if (!fitting) continue;
    fixes.push_back(candidate(fmt::format("drop {0} from call \"{1}\" ({0}=None): {2} is the mask given as {3}, where its sizes fit", argument,
                                          call.id, name, *fitting),
                              {{{"op", "remove"}, {"path", ref->second.pointer}}}, FixSemantics::Unknown,
                              fmt::format("{} masks another sequence; nothing of call \"{}\"'s {} is masked then", name, call.id, argument)));
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
        !CallContext::is_calls_entry(repeat, *index) || repeat.outputs.empty()) {
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
  const ResolvedArgument *input = checked_argument(checked, "input"), *other = checked_argument(checked, "other");
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

// Key and value of one attention call where the keys were grown by a cat (prefix tuning's learned
// prefix keys joined to the keys, a cache joined on the positions) and the values were not: the
// values joined the same way, each other piece replaced by a declared tensor of its shape and
// dtype that no call reads (prefix_v beside prefix_k), the values in the place the key piece of
// their shape holds. Without such a tensor there is nothing to join the values with.
void mirrored_cat_candidates(const Spec& spec, const Report& report, std::size_t index, const CallReport& checked, std::vector<Fix>& fixes) {
  const ResolvedArgument *key = checked_argument(checked, "key"), *value = checked_argument(checked, "value");
  if (!key || !value) return;
  std::set<std::string> read = read_tensors(spec);
  for (auto [joined, other] : {std::pair{key, value}, std::pair{value, key}}) {
    std::vector<std::size_t> chain = chain_of_moves(spec, report, *joined);
    std::vector<std::size_t> other_chain = chain_of_moves(spec, report, *other);
    if (chain.size() != 1 || spec.calls[chain.front()].op != "cat" || !other_chain.empty()) continue;
    auto ref = spec.calls[index].tensors.find(other->name);
    if (ref == spec.calls[index].tensors.end() || !patchable_named(spec, index, ref->second)) continue;
    const CallDecl& cat = spec.calls[chain.front()];
    const CallReport* made = call_report(report, cat.id);
    if (!made) continue;
    nlohmann::json pieces = nlohmann::json::array();
    std::vector<std::string> partners;
    bool placed = false, complete = true;
    for (std::size_t i = 0; i < cat.list_size("tensors") && complete; ++i) {
      const ResolvedArgument* piece = checked_argument(*made, list_element("tensors", i));
      if (!piece) {
        complete = false;
        break;
      }
      if (!placed && piece->shape == other->shape && piece->dtype == other->dtype) {
        pieces.push_back(ref->second.name);
        placed = true;
        continue;
      }
      const TensorDecl* partner = nullptr;
      for (const TensorDecl& tensor : spec.tensors) {
        if (read.count(tensor.name) == 0 && !tensor.shape_pointer.empty() && tensor.shape == piece->written() &&
            tensor.dtype.value_or(DType::Float32) == piece->dtype &&
            std::find(partners.begin(), partners.end(), tensor.name) == partners.end()) {
          partner = &tensor;
          break;
        }
      }
      if (!partner) complete = false;
      else {
        pieces.push_back(partner->name);
        partners.push_back(partner->name);
      }
    }
    if (!placed || !complete || partners.empty()) continue;
    const std::string& name = ref->second.name;
    nlohmann::json call = call_like(spec, cat, name, "_joined");
    call["tensors"] = pieces;
    std::vector<std::string> texts;
    for (const nlohmann::json& piece : pieces) texts.push_back(piece.get<std::string>());
    fixes.push_back(candidate(fmt::format("join {} as {} is joined in call \"{}\": torch.cat(({}), dim={}) ({} no call reads)", name, joined->name,
                                          cat.id, fmt::join(texts, ", "), cat.arguments.value("dim", nlohmann::json(0)).dump(),
                                          fmt::join(partners, ", ")),
                              read_inserted_call(spec, index, ref->second, std::move(call)), FixSemantics::Consistent,
                              fmt::format("{} then holds a position for each of {}'s", name, joined->name)));
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
    if (!index || !made || spec.calls[*index].op != "bitwise_not" || !CallContext::is_calls_entry(spec.calls[*index], *index)) continue;
    const CallDecl& inverted = spec.calls[*index];
    const ResolvedArgument* input = checked_argument(*made, "input");
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
  const ResolvedArgument* memory = checked_argument(checked, "memory");
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
  joined_memory_candidates(spec, report, *index, *checked, fixes);
  mirrored_repeat_candidates(spec, report, *index, *checked, fixes);
  mirrored_cat_candidates(spec, report, *index, *checked, fixes);
  padded_operand_candidates(spec, report, *index, *checked, fixes);
  head_count_candidates(spec, spec.calls[*index], *checked, fixes);
  unread_operand_candidates(spec, spec.calls[*index], *checked, fixes);
  mirrored_slice_candidates(spec, report, *index, *checked, fixes);
  integer_not_candidates(spec, report, *checked, fixes);
  projection_candidates(spec, *index, *checked, fixes);
  padded_window_candidates(spec, report, *index, *checked, fixes);
  designed_length_candidates(spec, report, *index, *checked, fixes);
  reordered_table_candidates(spec, report, *index, *checked, fixes);
  head_ratio_candidates(spec, report, *checked, fixes);
  dropped_mask_candidates(spec, report, *index, targets, fixes);
  strided_mask_candidates(spec, report, *index, *checked, fixes);
  return fixes;
}

}  // namespace mhacheck
