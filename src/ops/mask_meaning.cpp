// Mask meaning on the glue operators (mask_meaning.hpp). The fixes follow the mask's convention:
// masked_fill takes True for the positions to leave out, so a mask of positions to keep is
// inverted first (~keep, or attention_mask == 0 for a float 0/1 mask).
#include "ops/mask_meaning.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "check/dim_origin.hpp"
#include "check/fix_search.hpp"
#include "check/mask_origin.hpp"
#include "ops/mask_values.hpp"
#include "ops/softmax_weights.hpp"

namespace mhacheck {

namespace {

// The add call replaced by scores.masked_fill(fill, float('-inf')), `fill` being the mask, or the
// output of a call on it (`made`: bitwise_not, eq with 0) inserted before: the call keeps its id
// and outputs. False for a spec that cannot be patched so (the flat form, an inline operand).
bool add_masked_fill_fix(CallContext& ctx, Diagnostic& diagnostic, std::string description, const std::string& scores_argument,
                         const std::string& mask_argument, const nlohmann::json& made) {
  auto scores = ctx.call.tensors.find(scores_argument), mask = ctx.call.tensors.find(mask_argument);
  if (!ctx.index_in_calls() || scores == ctx.call.tensors.end() || mask == ctx.call.tensors.end() ||
      scores->second.kind != ArgRef::Kind::Named || mask->second.kind != ArgRef::Kind::Named) {
    return false;
  }
  nlohmann::json call = ctx.spec.value().at(nlohmann::json::json_pointer(ctx.call.pointer));
  call.erase("other");
  call.erase("alpha");
  call["op"] = "masked_fill";
  call["input"] = scores->second.name;
  call["mask"] = mask->second.name;
  call["value"] = "-inf";
  nlohmann::json patch = nlohmann::json::array();
  if (!made.is_null()) {
    std::string fill = fresh_name(ctx.spec, fmt::format("{}_{}", made.at("op").get<std::string>(), mask->second.name));
    nlohmann::json inserted = made;
    inserted["id"] = fill;
    inserted["input"] = mask->second.name;
    inserted["outputs"] = {fill};
    call["mask"] = fill;
    patch.push_back({{"op", "replace"}, {"path", ctx.call.pointer}, {"value", std::move(call)}});
    patch.push_back({{"op", "add"}, {"path", ctx.call.pointer}, {"value", std::move(inserted)}});
  } else {
    patch.push_back({{"op", "replace"}, {"path", ctx.call.pointer}, {"value", std::move(call)}});
  }
  ctx.add_patch_fix(diagnostic, std::move(description), std::move(patch));
  return true;
}

void report_mask_added(CallContext& ctx, const ArgValue& scores, const ArgValue& mask) {
  std::string scores_name = tensor_name(scores), mask_name = tensor_name(mask);
  MaskOrigin origin = mask_origin(ctx, mask);
  bool boolean = mask.dtype == DType::Bool;
  // A float mask is additive unless it is known to hold 1 = keep / 0 = pad, as written.
  if (!boolean && (origin.convention != MaskConvention::TrueKeeps || origin.maker != nullptr)) return;
  Diagnostic& diagnostic =
      boolean ? ctx.report(DiagId::BoolMaskAdded,
                           fmt::format("bool mask {} added to the attention scores {}: True adds 1.0 and False 0.0, which masks nothing",
                                       mask_name, scores_name),
                           &mask)
              : ctx.report(DiagId::KeepMaskAdded,
                           fmt::format("{} added to the attention scores {} as is: {}, so the tokens get +1.0 and the padding +0.0, "
                                       "which masks nothing",
                                       mask_name, scores_name, origin.reason),
                           &mask);
  if (boolean && !origin.reason.empty()) diagnostic.notes.push_back(origin.reason);
  if (!boolean) diagnostic.notes.push_back("an additive mask holds 0 where attention is allowed and a large negative value where it is not: "
                                           "(1.0 - mask) * torch.finfo(dtype).min");
  std::string in_place = fmt::format("in place of {} + {}", scores_name, mask_name);
  switch (origin.convention) {
    case MaskConvention::TrueKeeps: {
      bool converted =
          boolean ? add_masked_fill_fix(ctx, diagnostic,
                                        fmt::format("{}.masked_fill(~{}, float('-inf')) {}", scores_name, mask_name, in_place),
                                        scores.argument, mask.argument, {{"op", "bitwise_not"}})
                  : add_masked_fill_fix(ctx, diagnostic,
                                        fmt::format("{}.masked_fill({} == 0, float('-inf')) {} (or add (1.0 - {}) * torch.finfo(dtype).min)",
                                                    scores_name, mask_name, in_place, mask_name),
                                        scores.argument, mask.argument, {{"op", "eq"}, {"other", 0}});
      if (converted) CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, origin.reason + ": the fill takes the other positions");
      break;
    }
    case MaskConvention::TrueIgnores:
      if (add_masked_fill_fix(ctx, diagnostic, fmt::format("{}.masked_fill({}, float('-inf')) {}", scores_name, mask_name, in_place),
                              scores.argument, mask.argument, nullptr)) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, origin.reason + ": the fill takes those positions");
      }
      break;
    case MaskConvention::Unknown:
      // Which positions True marks, neither the name nor the op that made the mask says.
      diagnostic.notes.push_back(fmt::format("if True marks the positions to keep: {0}.masked_fill(~{1}, float('-inf')); if it marks "
                                             "those to leave out: {0}.masked_fill({1}, float('-inf'))",
                                             scores_name, mask_name));
      if (add_masked_fill_fix(ctx, diagnostic, fmt::format("{}.masked_fill(~{}, float('-inf')) {}", scores_name, mask_name, in_place),
                              scores.argument, mask.argument, {{"op", "bitwise_not"}})) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Unknown, "True read as 1 = keep, as the add treats it");
      }
      break;
  }
}

}  // namespace

void check_mask_added(CallContext& ctx, const ArgValue& input, const ArgValue& other) {
  if (!input.present || !other.present) return;
  const ArgValue* mask = nullptr;
  std::size_t reported = ctx.diagnostics.size();
  if (is_attention_scores(ctx, input) && other.rank() > 0) report_mask_added(ctx, input, *(mask = &other));
  else if (is_attention_scores(ctx, other) && input.rank() > 0) report_mask_added(ctx, other, *(mask = &input));
  // A float mask that is not 0/1 as written is an additive mask: its values are checked.
  if (mask != nullptr && is_floating(mask->dtype) && ctx.diagnostics.size() == reported) check_mask_values(ctx, *mask, MaskReading::TrueIgnores);
}

// Attention's scores are (..., queries, keys); a padding mask hides keys, so its T belongs in the
// last dim. In the queries' dim alone it hides padded queries' rows and no key. A mask that has
// the padding in both dims (query rows masked besides the keys) is deliberate and left alone, as
// is one whose padded length is not the keys' (a query-side mask of cross-attention).
bool check_padding_axis(CallContext& ctx, const ArgValue& mask, const DimExpr& keys, const std::function<bool()>& keys_last) {
  const int rank = mask.rank();
  std::string name = tensor_name(mask);
  if (!mask.present || rank < 2 || name.empty()) return false;
  std::optional<PaddingAxes> axes = padding_axes(ctx.spec, name, mask.producer, true);
  if (!axes || static_cast<int>(axes->padded.size()) != rank || !axes->padded[rank - 2] || axes->padded[rank - 1]) return false;
  const DimExpr& padded = mask.shape[static_cast<std::size_t>(rank - 2)];
  if (ctx.symbols.compare(padded, keys) != Symbols::Verdict::Equal || (keys_last && !keys_last())) return false;
  Diagnostic& diagnostic = ctx.report(
      DiagId::PaddingMaskQueryAxis,
      fmt::format("mask {} {} carries a (B, {}) padding mask in dim {}, the queries' dim of the scores, and none in the keys' dim: "
                  "it hides the padded queries' rows while every query still attends to the padded keys",
                  name, tuple_str(mask.shape), padded.str(), rank - 2),
      &mask, rank - 2);
  diagnostic.notes.push_back("a padding mask hides keys: (ids != pad).unsqueeze(-2), (B, 1, T), or pad[:, None, None, :]; PyTorch raises nothing");
  const CallDecl* placed = axes->placed;
  if (placed != nullptr && CallContext::index_in_calls(*placed) && placed->op == "getitem") {
    // The None-and-colon index with the padded dim's colon (the last one) moved after the Nones:
    // [:, :, None] -> [:, None, :].
    const std::string written = placed->arguments.at("index").get<std::string>();
    std::vector<std::string> items;
    for (std::size_t from = 1; from < written.size();) {
      std::size_t comma = std::min(written.find(',', from), written.size() - 1);
      std::string item = written.substr(from, comma - from);
      std::erase_if(item, [](unsigned char c) { return std::isspace(c) != 0; });
      if (!item.empty()) items.push_back(item);
      from = comma + 1;
    }
    auto colon = std::find(items.rbegin(), items.rend(), ":");
    if (colon != items.rend()) {
      items.erase(std::next(colon).base());
      items.push_back(":");
      const std::string index = fmt::format("[{}]", fmt::join(items, ", "));
      ctx.add_patch_fix(diagnostic,
                        fmt::format("{}{} in call \"{}\" (not {}): the padding then lines up with the keys", input_name(*placed, "input"), index,
                                    placed->id, written),
                        nlohmann::json::array({{{"op", "replace"}, {"path", placed->pointer + "/index"}, {"value", index}}}));
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the padded keys are then hidden from every query");
    }
  } else if (placed != nullptr && CallContext::index_in_calls(*placed)) {
    // The dim counted as written: from the end (-2) for a negative one, else from the front, the
    // one before the written (end) position: 1 for (B, T) -> (B, 1, T).
    const nlohmann::json& written = placed->arguments.at("dim");
    const std::int64_t dim = written.is_number_integer() && written.get<std::int64_t>() > 0 ? written.get<std::int64_t>() - 1 : -2;
    ctx.add_patch_fix(diagnostic,
                      fmt::format("{}.unsqueeze({}) in call \"{}\" (written with dim {}): the padding then lines up with the keys",
                                  input_name(*placed, "input"), dim, placed->id, written.dump()),
                      nlohmann::json::array({{{"op", "replace"}, {"path", placed->pointer + "/dim"}, {"value", dim}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the padded keys are then hidden from every query");
  }
  return true;
}

bool check_padded_query_rows(CallContext& ctx, const ArgValue& mask, const DimExpr& keys) {
  const int rank = mask.rank();
  const CallDecl* join = mask.producer;
  if (!mask.present || rank < 2 || mask.dtype != DType::Bool || join == nullptr) return false;
  static const std::set<std::string> ands{"bitwise_and", "logical_and", "__and__"};
  if (ands.count(join->op) == 0) return false;
  // Each operand's padded dims, right-aligned as broadcasting reads them: one along the queries
  // only, one along the keys only.
  struct Part {
    std::string name;
    bool queries = false, keys = false;
  };
  std::vector<Part> parts;
  for (const char* argument : {"input", "other"}) {
    std::string name = input_name(*join, argument);
    if (name.empty()) return false;
    std::optional<PaddingAxes> axes = padding_axes(ctx.spec, name, producer_of(ctx.spec, name, join));
    if (!axes || axes->padded.size() < 2) return false;
    // A padding mask named True = ignore joined by & hides only positions padded in both: no row is emptied.
    if (mask_origin_of(ctx.spec, name, producer_of(ctx.spec, name, join)).convention == MaskConvention::TrueIgnores) return false;
    const std::size_t n = axes->padded.size();
    const std::size_t padded_count = static_cast<std::size_t>(std::count(axes->padded.begin(), axes->padded.end(), true));
    if (padded_count != 1) return false;
    parts.push_back({name, axes->padded[n - 2], axes->padded[n - 1]});
  }
  const Part* key_part = parts[0].keys ? &parts[0] : parts[1].keys ? &parts[1] : nullptr;
  const Part* query_part = parts[0].queries ? &parts[0] : parts[1].queries ? &parts[1] : nullptr;
  if (key_part == nullptr || query_part == nullptr || key_part == query_part) return false;
  if (ctx.symbols.compare(mask.shape[static_cast<std::size_t>(rank - 1)], keys) != Symbols::Verdict::Equal) return false;
  const std::string name = tensor_name(mask);
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskEmptiesQueryRows,
      fmt::format("{} \"{}\" {} is {} (padding along the queries, dim {}) & {} (padding along the keys, dim {}) (call \"{}\"): a padded "
                  "query's row keeps no key: scaled_dot_product_attention gives that query 0 from PyTorch 2.5 on, NaN before",
                  mask.argument, name.empty() ? mask.argument : name, tuple_str(mask.shape), query_part->name, rank - 2, key_part->name,
                  rank - 1, join->id),
      &mask, rank - 2);
  // What each PyTorch gives such a row (docs/run.md, "Query rows with every key masked"): 2.5's math path calls
  // _safe_softmax (a row of nothing but -inf gives 0), and its CPU flash and CUDA memory-efficient
  // kernels were changed to match (pytorch/pytorch#133882); 2.0-2.4 gave NaN.
  diagnostic.notes.push_back("PyTorch raises nothing. Before 2.5 those rows are NaN, and NaN * 0 is "
                             "NaN, so a later masked pooling or loss is NaN too; from 2.5 the math path's _safe_softmax and the fused "
                             "kernels give them 0. Padded queries need no mask: their outputs are dropped downstream");
  const ArgRef& ref = ctx.call.tensor(mask.argument);
  if (ref.kind == ArgRef::Kind::Named && ctx.index_in_calls()) {
    ctx.add_patch_fix(diagnostic,
                      fmt::format("pass {}={} (the keys only): every query attends to the real keys, and no row is left empty",
                                  mask.argument, key_part->name),
                      nlohmann::json::array({{{"op", "replace"}, {"path", ctx.call.pointer + "/" + mask.argument}, {"value", key_part->name}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the padded keys stay hidden from every query");
  }
  return true;
}

namespace {

// Whether the scores a masked_fill fills are laid out (..., queries, keys), the keys last, as
// q @ k^T makes them: the softmax that reads the filled scores (through scaling, masking, dropout)
// normalises over the keys, and k @ q^T puts them in dim -2. False when either says the keys are
// elsewhere, or the two disagree: where the padding belongs is then not known.
bool keys_last(const CallContext& ctx, const ArgValue& scores) {
  const int rank = scores.rank();
  const CallDecl* product = values_maker(ctx, scores);
  if (product != nullptr && keys_before_queries(ctx.spec, *product, rank)) return false;
  if (ctx.call.outputs.empty() || !ctx.index_in_calls()) return true;
  static const std::set<std::string> on_the_way{"mul", "div", "add", "sub", "masked_fill", "dropout", "contiguous", "clone"};
  std::set<std::string> reached{ctx.call.outputs.front()};
  const std::optional<std::size_t> at = call_index(ctx.spec, ctx.call.id);
  for (std::size_t index = at ? *at + 1 : ctx.spec.calls.size(); index < ctx.spec.calls.size(); ++index) {
    const CallDecl& call = ctx.spec.calls[index];
    auto input = call.tensors.find("input");
    if (input == call.tensors.end() || input->second.kind != ArgRef::Kind::Named || reached.count(input->second.name) == 0) continue;
    if (call.op == "softmax") {
      const nlohmann::json& dim = call.arguments.contains("dim") ? call.arguments.at("dim") : nlohmann::json();
      if (!dim.is_number_integer()) return true;
      const auto normalised = dim.get<std::int64_t>();
      return normalised == rank - 1 || normalised == -1;
    }
    if (on_the_way.count(call.op) != 0 && !call.outputs.empty()) reached.insert(call.outputs.front());
  }
  return true;
}

// Whether the tensor made by `producer` is an attention map whose values cannot be negative: q @ k^T
// (matmul, bmm, einsum) scaled, then made non-negative by relu, an even power, softmax, sigmoid or
// exp (FLASH's relu(qk)^2, softmax weights), with calls that keep the sign after that. A 0 there is
// the least weight a key can get: masked_fill with 0 takes the True positions out of attention.
bool non_negative_attention_map(const Spec& spec, const CallDecl* producer) {
  static const std::set<std::string> non_negative{"relu", "softmax", "sigmoid", "exp", "square"};
  static const std::set<std::string> sign_kept{"dropout", "contiguous", "clone", "masked_fill"};
  static const std::set<std::string> on_the_way{"mul", "div", "add", "sub", "pow", "dropout", "contiguous", "clone", "masked_fill"};
  bool made_non_negative = false;
  for (int step = 0; step < 16 && producer != nullptr; ++step) {
    const std::string& op = producer->op;
    if (op == "matmul" || op == "bmm" || op == "einsum") return made_non_negative;
    if (!made_non_negative) {
      const nlohmann::json& exponent = producer->arguments.value("exponent", nlohmann::json());
      const nlohmann::json& factor = producer->arguments.value("other", nlohmann::json());
      if (non_negative.count(op) != 0 || (op == "pow" && exponent.is_number_integer() && exponent.get<std::int64_t>() % 2 == 0)) {
        made_non_negative = true;
      } else if (!(sign_kept.count(op) != 0 || op == "pow" ||
                   ((op == "mul" || op == "div") && factor.is_number() && factor.get<double>() > 0))) {
        return false;
      }
    } else if (non_negative.count(op) == 0 && on_the_way.count(op) == 0) {
      return false;
    }
    std::string input = input_name(*producer, "input");
    if (input.empty()) return false;
    producer = producer_of(spec, input, producer);
  }
  return false;
}

}  // namespace

void check_fill_mask_meaning(CallContext& ctx, const ArgValue& mask) {
  if (!mask.present || !ctx.call.arguments.contains("value")) return;
  // Only a fill that takes positions out of attention: -inf, or a large negative number; or 0 in
  // an attention map that holds no negative value (relu(scores) ** 2, softmax weights).
  const nlohmann::json& value = ctx.call.arguments.at("value");
  const ArgValue& input = ctx.arg("input");
  const bool zero_weight = value.is_number() && value.get<double>() == 0.0 && input.rank() >= 2 && is_floating(input.dtype) &&
                           non_negative_attention_map(ctx.spec, input.producer);
  bool excludes = (value.is_string() && value.get<std::string>() == "-inf") || (value.is_number() && value.get<double>() <= -1e4);
  if (!excludes && !zero_weight) return;
  if (input.rank() >= 2 && is_attention_scores(ctx, input) &&
      check_padding_axis(ctx, mask, input.shape.back(), [&] { return keys_last(ctx, input); })) {
    return;
  }
  MaskOrigin origin = mask_origin(ctx, mask);
  if (origin.convention != MaskConvention::TrueKeeps) {
    // The positions filled in attention scores are those left out.
    if (zero_weight || is_attention_scores(ctx, input)) check_mask_values(ctx, mask, MaskReading::TrueIgnores);
    return;
  }
  std::string name = tensor_name(mask);
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskMeaning,
      fmt::format("mask \"{}\" marks with True the positions to keep ({}), but masked_fill fills the True positions", name, origin.reason),
      &mask);
  diagnostic.notes.push_back("as written, the kept positions get the fill value and the padding keeps its scores");
  if (std::optional<ComparisonFlip> flip = flip_comparison(origin)) {
    ctx.add_patch_fix(diagnostic, fmt::format("make {} with {}: True then marks the positions to fill", name, flip->text), flip->patch);
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the comparison then marks the entries to leave out");
  } else if (ctx.add_inserted_call_fix(diagnostic, mask, fmt::format("masked_fill(~{}, ...)", name), "bitwise_not", nlohmann::json::object())) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "True then marks the positions to fill");
  }
}

void check_fill_before_softmax(CallContext& ctx, const ArgValue& input) {
  const CallDecl* fill = input.producer;
  if (fill == nullptr || fill->op != "masked_fill" || !fill->arguments.contains("value")) return;
  const nlohmann::json& value = fill->arguments.at("value");
  if (!value.is_number() || value.get<double>() != 0.0) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskedFillZeroBeforeSoftmax,
      fmt::format("{} was filled with 0 where the mask is True (call \"{}\"), then softmaxed: exp(0) leaves the masked positions "
                  "their weight",
                  tensor_name(input), fill->id),
      &input);
  diagnostic.notes.push_back("fill with float('-inf') before softmax; filling with 0 is for the weights, after softmax");
  if (CallContext::index_in_calls(*fill)) {
    ctx.add_patch_fix(diagnostic, fmt::format("masked_fill(mask, float('-inf')) in call \"{}\" (value=float('-inf'), not 0)", fill->id),
                      nlohmann::json::array({{{"op", "replace"}, {"path", fill->pointer + "/value"}, {"value", "-inf"}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the masked positions get weight 0");
  }
}

}  // namespace mhacheck
