// Mask values where the attention operator reads them (mask_values.hpp). Each fix keeps what the
// user meant: the triangle's diagonal or orientation (a causal mask), the other logical operator
// (two masks of one convention), 1 - mask before the negative scale (a keep mask made additive).
#include "ops/mask_values.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "check/dim_origin.hpp"
#include "check/fix_search.hpp"
#include "check/mask_origin.hpp"

namespace mhacheck {

namespace {

// Calls that move or select elements without changing them, each element staying where it is
// in the last two dims (and, with `casts`, dtype casts, which keep a 0/1 mask's meaning): walked
// through up to the call that made the values.
bool moves_values(std::string_view op, bool casts) {
  static constexpr std::array<std::string_view, 5> reorders = {"flatten", "transpose", "permute", "repeat", "repeat_interleave"};
  static constexpr std::array<std::string_view, 5> dtype_casts = {"to", "float", "half", "double", "bfloat16"};
  return (keeps_values(op) && std::find(reorders.begin(), reorders.end(), op) == reorders.end()) ||
         (casts && std::find(dtype_casts.begin(), dtype_casts.end(), op) != dtype_casts.end());
}

struct Made {
  std::string name;
  const CallDecl* producer = nullptr;  // null: declared
};

// The tensor whose values `name` (made by `producer`) carries, through calls that move them.
Made values_source(const Spec& spec, std::string name, const CallDecl* producer, bool casts) {
  for (int step = 0; step < 16 && producer != nullptr && moves_values(producer->op, casts); ++step) {
    std::string input = input_name(*producer, "input");
    if (input.empty()) break;
    name = input;
    producer = producer_of(spec, input, producer);
  }
  return {name, producer};
}

bool patchable(const CallDecl* call) { return call != nullptr && CallContext::index_in_calls(*call).has_value(); }


// A 1 = keep mask multiplied by a negative number and added to the scores: the kept positions get
// the penalty. Hugging Face writes (1.0 - mask) * torch.finfo(dtype).min, BART (mask - 1) * 10000.
bool check_negated_keep_bias(CallContext& ctx, const ArgValue& mask) {
  if (!is_floating(mask.dtype)) return false;
  Made bias = values_source(ctx.spec, tensor_name(mask), mask.producer, true);
  const CallDecl* mul = bias.producer;
  if (mul == nullptr || mul->op != "mul" || !mul->arguments.contains("other") || !mul->arguments.at("other").is_number()) return false;
  double scale = mul->arguments.at("other").get<double>();
  std::string scaled = input_name(*mul, "input");
  if (scale >= 0 || scaled.empty()) return false;
  Made keep = values_source(ctx.spec, scaled, producer_of(ctx.spec, scaled, mul), true);
  MaskOrigin origin = mask_origin_of(ctx.spec, keep.name, keep.producer);
  if (origin.convention != MaskConvention::TrueKeeps) return false;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskMeaning,
      fmt::format("{} \"{}\" is {} * {} (call \"{}\"), where {}: the kept positions get {} and the others 0, so attention goes to what "
                  "the mask leaves out",
                  mask.argument, tensor_name(mask), scaled, number_text(nlohmann::json(scale)), mul->id, origin.reason, number_text(nlohmann::json(scale))),
      &mask);
  diagnostic.notes.push_back("an additive mask holds 0 where attention is allowed and a large negative value where it is not: "
                             "(1.0 - mask) * torch.finfo(dtype).min");
  if (!patchable(mul)) return true;
  // (1.0 - m) * c is computed as (m - 1.0) * -c: the spec has no reversed subtraction.
  std::string shifted = fresh_name(ctx.spec, scaled + "_minus_1");
  nlohmann::json sub = {{"id", fresh_name(ctx.spec, "sub_" + scaled)}, {"op", "sub"}, {"input", scaled}, {"other", 1.0}, {"outputs", {shifted}}};
  ctx.add_patch_fix(diagnostic,
                    fmt::format("(1.0 - {0}) * {1} in call \"{2}\" (written ({0} - 1.0) * {3}): 0 where {0} is 1, {1} where it is 0",
                                scaled, number_text(nlohmann::json(scale)), mul->id, number_text(nlohmann::json(-scale))),
                    nlohmann::json::array({{{"op", "replace"}, {"path", mul->pointer + "/other"}, {"value", -scale}},
                                           {{"op", "replace"}, {"path", mul->pointer + "/input"}, {"value", shifted}},
                                           {{"op", "add"}, {"path", mul->pointer}, {"value", std::move(sub)}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, origin.reason + ": 1 - mask marks the positions to leave out");
  return true;
}

bool causal_looking(const Spec& spec, const std::string& name, const CallDecl* producer) {
  std::optional<MaskPattern> pattern = mask_pattern(spec, name, producer);
  return pattern && !pattern->triangles.empty();
}

// Two keep masks joined by | (or ignore masks by &), one of them causal: the union of what they
// allow (the intersection of what they mask) drops the causal constraint wherever the other allows.
bool check_combination(CallContext& ctx, const ArgValue& mask) {
  const CallDecl* join = values_source(ctx.spec, tensor_name(mask), mask.producer, false).producer;
  static const std::map<std::string, std::string> other_operator = {
      {"logical_or", "logical_and"}, {"logical_and", "logical_or"}, {"bitwise_or", "bitwise_and"}, {"bitwise_and", "bitwise_or"}};
  if (join == nullptr || !other_operator.count(join->op)) return false;
  std::string a = input_name(*join, "input"), b = input_name(*join, "other");
  if (a.empty() || b.empty()) return false;
  const CallDecl *made_a = producer_of(ctx.spec, a, join), *made_b = producer_of(ctx.spec, b, join);
  MaskOrigin origin_a = mask_origin_of(ctx.spec, a, made_a), origin_b = mask_origin_of(ctx.spec, b, made_b);
  if (origin_a.convention == MaskConvention::Unknown || origin_a.convention != origin_b.convention) return false;
  bool keeps = origin_a.convention == MaskConvention::TrueKeeps, joins = join->op.find("_or") != std::string::npos;
  if (keeps != joins) return false;
  bool a_causal = causal_looking(ctx.spec, a, made_a);
  if (!a_causal && !causal_looking(ctx.spec, b, made_b)) return false;
  const std::string& causal = a_causal ? a : b;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskCombination,
      fmt::format("{} \"{}\" joins two masks whose True marks the positions {} ({}; {}) with {} (call \"{}\"): a position {}, so the causal "
                  "mask \"{}\" no longer hides the future where the other mask allows it",
                  mask.argument, tensor_name(mask), keeps ? "to keep" : "to leave out", origin_a.reason, origin_b.reason, join->op, join->id,
                  keeps ? "takes part when either mask keeps it" : "is left out only when both mask it", causal),
      &mask);
  diagnostic.notes.push_back("keep masks (True = take part) combine with &; ignore masks (True = masked) combine with |");
  if (!patchable(join)) return true;
  const std::string& swapped = other_operator.at(join->op);
  ctx.add_patch_fix(diagnostic, fmt::format("combine them with {} ({}, not {}) in call \"{}\"", keeps ? "&" : "|", swapped, join->op, join->id),
                    nlohmann::json::array({{{"op", "replace"}, {"path", join->pointer + "/op"}, {"value", swapped}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                              keeps ? "a position then takes part only where both masks keep it" : "a position is then left out where either mask masks it");
  return true;
}

struct Sizes {
  std::optional<std::int64_t> shift, queries, keys;
};

MaskReading reading_of(const MaskPattern& pattern, MaskReading bool_reading) {
  return pattern.boolean ? bool_reading : MaskReading::Additive;
}

bool passes(const Spec& spec, const std::string& name, const CallDecl* producer, const PatternEdit& edit, MaskReading bool_reading,
            const Sizes& sizes) {
  std::optional<MaskPattern> pattern = mask_pattern(spec, name, producer, edit);
  return pattern && !causal_fault(*pattern, reading_of(*pattern, bool_reading), sizes.shift, sizes.queries, sizes.keys);
}

// A triangle in a pattern has an integer diagonal (mask_pattern() gives none otherwise).
std::int64_t diagonal_of(const CallDecl& triangle) {
  const nlohmann::json& diagonal = triangle.arguments.value("diagonal", nlohmann::json(0));
  return diagonal.is_number_integer() ? diagonal.get<std::int64_t>() : 0;
}

// The fixes of a causal mask: another diagonal for one of its triangles (the nearest to the
// intended offset S - L first), else the other operator where two masks are joined, else the
// triangle transposed.
void add_triangle_fixes(CallContext& ctx, Diagnostic& diagnostic, const std::string& name, const CallDecl* producer, MaskReading bool_reading,
                        const Sizes& sizes, const std::vector<const CallDecl*>& triangles, const std::vector<const CallDecl*>& joins) {
  const std::string semantics = sizes.shift ? "each query then sees its own position and its past, nothing after"
                                            : "checked for row 0 and the keys ahead only: the sizes are not known";
  FixSemantics label = sizes.shift ? FixSemantics::Consistent : FixSemantics::Unknown;
  std::int64_t own = sizes.shift.value_or(0);
  // A band (a sliding window: tril(ones) & triu(ones, diagonal=-w) keeps keys i - w .. i) written
  // with the offset's sign flipped keeps nothing or only the diagonal: the window the offset's size
  // says comes first, the same diagonal negated, ahead of the causal diagonals below.
  const bool band = triangles.size() >= 2 && !joins.empty();
  for (const CallDecl* triangle : band ? triangles : std::vector<const CallDecl*>{}) {
    std::int64_t written = diagonal_of(*triangle);
    if (!patchable(triangle) || written == 0 || !passes(ctx.spec, name, producer, {triangle, -written, false}, bool_reading, sizes)) continue;
    ctx.add_patch_fix(diagnostic,
                      fmt::format("{}({}, diagonal={}) in call \"{}\" (not diagonal={}): the band's offset with its sign, a window of {} keys",
                                  triangle->op, input_name(*triangle, "input"), -written, triangle->id, written, (written < 0 ? -written : written) + 1),
                      nlohmann::json::array({{{"op", "add"}, {"path", triangle->pointer + "/diagonal"}, {"value", -written}}}));
    CallContext::label_last_fix(diagnostic, label, sizes.shift ? "each query then sees its own position and the keys of its window before it"
                                                               : semantics);
    return;
  }
  for (const CallDecl* triangle : triangles) {
    if (!patchable(triangle)) continue;
    std::int64_t written = diagonal_of(*triangle);
    for (std::int64_t diagonal : {own, own + 1, own - 1}) {
      if (diagonal == written || !passes(ctx.spec, name, producer, {triangle, diagonal, false}, bool_reading, sizes)) continue;
      ctx.add_patch_fix(diagnostic,
                        fmt::format("{}({}, diagonal={}) in call \"{}\" (not diagonal={})", triangle->op, input_name(*triangle, "input"), diagonal,
                                    triangle->id, written),
                        nlohmann::json::array({{{"op", "add"}, {"path", triangle->pointer + "/diagonal"}, {"value", diagonal}}}));
      CallContext::label_last_fix(diagnostic, label, semantics);
      return;
    }
  }
  // A join of two masks with the other operator: | for ignore masks, & for keep masks.
  for (const CallDecl* join : joins) {
    if (!patchable(join) || !passes(ctx.spec, name, producer, {join, std::nullopt, false, true}, bool_reading, sizes)) continue;
    bool was_and = join->op.find("_and") != std::string::npos;
    std::string swapped = join->op.substr(0, join->op.find('_') + 1) + (was_and ? "or" : "and");
    ctx.add_patch_fix(diagnostic, fmt::format("combine the masks with {} ({}, not {}) in call \"{}\"", was_and ? "|" : "&", swapped, join->op, join->id),
                      nlohmann::json::array({{{"op", "replace"}, {"path", join->pointer + "/op"}, {"value", swapped}}}));
    CallContext::label_last_fix(diagnostic, label, semantics);
    return;
  }
  for (const CallDecl* triangle : triangles) {
    if (!patchable(triangle) || triangle->outputs.empty() ||
        !ctx.spec.value().contains(nlohmann::json::json_pointer(triangle->pointer + "/outputs")) ||
        !passes(ctx.spec, name, producer, {triangle, std::nullopt, true}, bool_reading, sizes)) {
      continue;
    }
    std::optional<MaskPattern> made = mask_pattern(ctx.spec, triangle->outputs.front(), triangle);
    int rank = made ? made->rank : 0;
    int dim0 = rank == 2 ? 0 : -2, dim1 = rank == 2 ? 1 : -1;
    const std::string& output = triangle->outputs.front();
    std::string before = fresh_name(ctx.spec, output + "_before_transpose");
    std::size_t at = std::stoul(triangle->pointer.substr(7));
    nlohmann::json transpose = {{"id", fresh_name(ctx.spec, "transpose_" + output)}, {"op", "transpose"}, {"input", before},
                                {"dim0", dim0},                                    {"dim1", dim1},       {"outputs", {output}}};
    ctx.add_patch_fix(diagnostic,
                      fmt::format("{} = {}({}).transpose({}, {}) after call \"{}\": the triangle on the other side of the diagonal", output,
                                  triangle->op, input_name(*triangle, "input"), dim0, dim1, triangle->id),
                      nlohmann::json::array({{{"op", "replace"}, {"path", triangle->pointer + "/outputs/0"}, {"value", before}},
                                             {{"op", "add"}, {"path", CallContext::calls_entry_pointer(at + 1)}, {"value", std::move(transpose)}}}));
    CallContext::label_last_fix(diagnostic, label, semantics);
    return;
  }
}

// A float 0/1 mask (triu(ones, diagonal=1), tril(ones)) read as added to the scores masks nothing:
// its 1s are what it marks. As a bool mask (mask.bool()), read as the operator reads bool masks,
// the same values may be the causal mask meant; the cast is offered when they are. False when the
// values are not all 0 and 1, or their bool reading is no causal mask either.
bool add_bool_cast_fix(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& mask, const MaskPattern& pattern, MaskReading bool_reading,
                       const Sizes& sizes) {
  if (pattern.boolean || !std::all_of(pattern.pieces.begin(), pattern.pieces.end(),
                                      [](const MaskPattern::Piece& piece) { return piece.value == 0.0 || piece.value == 1.0; })) {
    return false;
  }
  MaskPattern cast = pattern;
  cast.boolean = true;
  if (causal_fault(cast, bool_reading, sizes.shift, sizes.queries, sizes.keys)) return false;
  const std::string name = tensor_name(mask);
  const bool keeps = bool_reading == MaskReading::TrueKeeps;
  if (!ctx.add_inserted_call_fix(diagnostic, mask,
                                 fmt::format("pass {}.bool(): a bool mask, whose True positions are {}", name, keeps ? "attended" : "not attended"),
                                 "bool", nlohmann::json::object())) {
    return false;
  }
  CallContext::label_last_fix(diagnostic, sizes.shift ? FixSemantics::Consistent : FixSemantics::Unknown,
                              sizes.shift ? fmt::format("its 1s become True, the positions a bool mask {}: each query then sees its own position and "
                                                        "its past, nothing after",
                                                        keeps ? "keeps" : "leaves out")
                                          : "checked for row 0 and the keys ahead only: the sizes are not known");
  return true;
}

std::string reading_text(MaskReading reading) {
  switch (reading) {
    case MaskReading::TrueKeeps: return "a bool mask whose True positions take part";
    case MaskReading::TrueIgnores: return "a bool mask whose True positions are left out";
    case MaskReading::Additive: return "a float mask added to the scores";
  }
  return "";
}

bool check_causal_pattern(CallContext& ctx, const ArgValue& mask, MaskReading bool_reading) {
  const int rank = mask.rank();
  std::string name = tensor_name(mask);
  // A query's own position exists only among its own sequence's keys: a cross-attention mask
  // (memory_mask: target queries over source keys, such as a wait-k policy) and a padding mask
  // (keys only) are no causal matrix.
  if (rank < 2 || name.empty() || mask.argument == "memory_mask" || mask.argument.find("padding") != std::string::npos) return false;
  const DimExpr &rows = mask.shape[static_cast<std::size_t>(rank - 2)], &columns = mask.shape[static_cast<std::size_t>(rank - 1)];
  // One key column is broadcast over the keys: the mask holds no matrix of offsets. One row is one
  // query (a decoding step), whose offsets are those of row 0.
  if (columns.is_constant() && columns.offset == 1) return false;
  std::optional<MaskPattern> pattern = mask_pattern(ctx.spec, name, mask.producer);
  if (!pattern) return false;
  Sizes sizes;
  if (rows.is_constant()) sizes.queries = rows.offset;
  if (columns.is_constant()) sizes.keys = columns.offset;
  // More queries than keys: no cache of this sequence's past, so no causal alignment to check.
  if (sizes.queries && sizes.keys && *sizes.queries > *sizes.keys) return false;
  if (sizes.queries && sizes.keys) sizes.shift = *sizes.keys - *sizes.queries;
  else if (ctx.symbols.compare(rows, columns) == Symbols::Verdict::Equal) sizes.shift = 0;
  MaskReading reading = reading_of(*pattern, bool_reading);
  std::optional<CausalFault> fault = causal_fault(*pattern, reading, sizes.shift, sizes.queries, sizes.keys);
  if (!fault) return false;
  std::vector<std::string> wrongs;
  if (fault->sees_future) wrongs.push_back("lets each query see keys after its own position");
  if (fault->hides_own) {
    wrongs.push_back(sizes.shift && *sizes.shift != 0
                         ? fmt::format("hides each query's own position (key i + {}, for {} queries over {} keys)", *sizes.shift, rows.str(), columns.str())
                         : "hides each query's own position (the diagonal)");
  }
  if (fault->empty_rows && *fault->empty_rows > 0) {
    wrongs.push_back(fmt::format("leaves {} of {} query rows without any key{}: softmax makes them NaN", *fault->empty_rows, rows.str(),
                                 fault->first_row_empty ? " (row 0 among them)" : ""));
  } else if (fault->first_row_empty) {
    wrongs.push_back("leaves row 0 without any key: softmax makes it NaN");
  }
  std::string joined;
  for (std::size_t k = 0; k < wrongs.size(); ++k) joined += (k == 0 ? "" : k + 1 == wrongs.size() ? " and " : ", ") + wrongs[k];
  const CallDecl* triangle = pattern->triangles.front();
  Diagnostic& diagnostic = ctx.report(
      DiagId::CausalMaskPattern,
      fmt::format("{} \"{}\", made by {}({}, diagonal={}) (call \"{}\") and read as {}, {}", mask.argument, name, triangle->op,
                  input_name(*triangle, "input"), diagonal_of(*triangle), triangle->id, reading_text(reading), joined),
      &mask);
  diagnostic.notes.push_back("a causal mask lets query i see keys 0 .. i + S - L (its own position and its past): tril(ones(L, S), diagonal=S - L) "
                             "kept, or triu(full((L, S), -inf), diagonal=S - L + 1) added");
  if (!add_bool_cast_fix(ctx, diagnostic, mask, *pattern, bool_reading, sizes)) {
    add_triangle_fixes(ctx, diagnostic, name, mask.producer, bool_reading, sizes, pattern->triangles, pattern->joins);
  }
  return true;
}

}  // namespace

void check_mask_values(CallContext& ctx, const ArgValue& mask, MaskReading reading) {
  // Only as written: a module's inner calls (a Transformer layer's self_attn) see the mask the
  // module has checked already.
  if (!mask.present || mask.producer == nullptr || !ctx.argument_names.empty()) return;
  std::size_t reported = ctx.diagnostics.size();
  if (!check_negated_keep_bias(ctx, mask) && !check_combination(ctx, mask)) check_causal_pattern(ctx, mask, reading);
  // A Transformer stack checks its mask, then its layer the same mask made float: said once.
  if (ctx.diagnostics.size() == reported + 1) {
    const Diagnostic& added = ctx.diagnostics.back();
    for (std::size_t k = 0; k < reported; ++k) {
      if (ctx.diagnostics[k].id == added.id && ctx.diagnostics[k].message == added.message) {
        ctx.diagnostics.pop_back();
        return;
      }
    }
  }
}

}  // namespace mhacheck
