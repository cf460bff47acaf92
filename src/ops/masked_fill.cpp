// Tensor.masked_fill(mask, value), out of place as PyTorch 2.x writes it: expand_outplace(mask,
// input) broadcasts the two (mutually: the result may be larger than input), then the in-place
// fill on the copy refuses a mask that is not bool. The dtype is input's.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/mask_meaning.hpp"
#include "ops/softmax_weights.hpp"
#include "ops/matmul_shape.hpp"
#include "ops/registry.hpp"
#include "ops/window_offsets.hpp"
#include "dim_origin.hpp"
#include "fix_search.hpp"
#include "mask_origin.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

// A mask of lower rank than input whose batch dim, right-aligned by the broadcast, lands to the
// right of input's dim of the same name: OpenNMT's (B, 1, S) pad mask against (B, H, L, S)
// scores puts B in the heads slot. PyTorch raises unless B happens to equal that dim, and then
// fills batch b's padding into head b: MHA083, an error. The fix inserts the missing size-1
// dims right after the batch dim, mask.unsqueeze(1), as OpenNMT does.
bool misaligned_batch(CallContext& ctx, const ArgValue& input, const ArgValue& mask) {
  int offset = input.rank() - mask.rank();
  if (offset <= 0) return false;
  for (int d = 0; d < mask.rank(); ++d) {
    const std::string& name = mask.dim_name(d);
    if (name.empty() || role_of_dim(mask.dim_names, d) != DimRole::Batch || input.dim_name(offset + d) == name) continue;
    int slot = -1;
    for (int j = 0; j < offset + d; ++j) {
      if (input.dim_name(j) == name) slot = j;
    }
    if (slot < 0) continue;
    const DimExpr& met = input.shape[static_cast<std::size_t>(offset + d)];
    Diagnostic& diagnostic = ctx.report(
        DiagId::RoleCondition,
        fmt::format("mask {} against input {}: right-aligned, the mask's batch dim {} (dim {}) meets input's dim {} ({}), not input's "
                    "batch dim {}; valid only if {} == {}",
                    tuple_str(mask.shape), tuple_str(input.shape), name, d, offset + d, met.str(), slot, name, met.str()),
        &mask, d);
    diagnostic.notes.push_back(fmt::format("PyTorch fails whenever {} != {}, and when they are equal it fills batch entry b's mask into "
                                           "index b of input's dim {}",
                                           name, met.str(), offset + d));
    std::string index = "[";
    for (int k = 0; k < d; ++k) index += ":, ";
    index += ":";
    for (int k = 0; k < offset + d - slot; ++k) index += ", None";
    index += "]";
    std::string spelled = offset + d - slot == 1 ? fmt::format(" ({}.unsqueeze({}))", tensor_name(mask), d + 1) : "";
    if (ctx.add_inserted_call_fix(diagnostic, mask,
                              fmt::format("line the mask's batch dim up with input's: masked_fill({}{}, ...){}", tensor_name(mask), index,
                                          spelled),
                              "getitem", {{"index", index}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, fmt::format("{} then meets input's batch dim", name));
    }
    return true;
  }
  return false;
}

// Whether c10's checked conversion of masked_fill's value (Scalar::to<T>) to input's dtype
// overflows: a float overflows an integer dtype when it is NaN, infinite or out of range, and a
// floating dtype only when finite and out of its finite range; an integer overflows when out of
// range, except that an unsigned dtype takes negatives down to -max (two's complement wraps
// them). Nothing overflows bool, and a bool value overflows nothing.
bool value_overflows(DType to, const nlohmann::json& value) {
  if (to == DType::Bool || value.is_boolean()) return false;
  const double lowest = dtype_lowest(to), highest = dtype_highest(to);
  if (value.is_number_integer()) {
    if (to == DType::Int64) return false;  // the Scalar is an int64 already
    double number = value.get<double>();
    if (to == DType::UInt8 && number < 0) return -number > highest;
    return number < lowest || number > highest;
  }
  double number = value.is_string() ? (value == "nan" ? std::numeric_limits<double>::quiet_NaN()
                                                      : (value == "-inf" ? -1.0 : 1.0) * std::numeric_limits<double>::infinity())
                                    : value.get<double>();
  if (is_floating(to)) return std::isfinite(number) && (number < lowest || number > highest);
  return !std::isfinite(number) || number < lowest || number > highest;
}

// masked_fill(mask, -1e9) on float16 scores (MHA323), the classic half-precision failure: the fix
// fills with the dtype's finite extreme of the value's sign, torch.finfo(dtype).min as Hugging Face
// masks, which still gives the masked positions no weight after softmax.
void report_value_overflow(CallContext& ctx, const ArgValue& input) {
  const nlohmann::json& value = ctx.call.arguments.at("value");
  std::string written = value.is_string() ? fmt::format("float('{}')", value.get<std::string>()) : value.dump();
  Diagnostic& diagnostic =
      ctx.report(DiagId::MaskedFillValueOverflow,
                 fmt::format("value {} does not fit input's dtype {}{}", written, dtype_name(input.dtype),
                             is_floating(input.dtype) ? fmt::format(" (finite values up to {:g})", dtype_highest(input.dtype)) : std::string()),
                 &input);
  ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("value cannot be converted to type {} without overflow", dtype_cpp_name(input.dtype)));
  std::optional<std::string> pointer = ctx.argument_pointer("value");
  bool negative = value.is_number() && value.get<double>() < 0;
  if (!pointer || !is_floating(input.dtype) || !value.is_number()) return;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("fill with torch.finfo(torch.{}).{} ({:g}), the finite extreme of the dtype", dtype_name(input.dtype),
                                negative ? "min" : "max", negative ? dtype_lowest(input.dtype) : dtype_highest(input.dtype)),
                    nlohmann::json::array({{{"op", "replace"},
                                            {"path", *pointer},
                                            {"value", negative ? dtype_lowest(input.dtype) : dtype_highest(input.dtype)}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the filled positions still get no weight after a softmax");
}

// A mask that is not bool, made bool by comparing it with 0: which comparison fills the
// positions the user meant is the mask's convention, read from how it was made (mask_origin). A
// tril(ones) buffer marks the allowed positions (nanoGPT's bias: masked_fill(bias == 0, ...)), as
// does a mask named like attention_mask; triu(ones, 1), or a name saying padding, marks the
// positions to fill (!= 0). A float buffer of unknown making that is square in its last two dims
// is a causal buffer, which GPT-style code registers as tril(ones): == 0 first, != 0 after.
void add_bool_mask_fixes(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& mask) {
  MaskOrigin origin = mask_origin(ctx, mask);
  bool square = mask.rank() >= 2 && ctx.symbols.compare(mask.shape[mask.rank() - 1], mask.shape[mask.rank() - 2]) == Symbols::Verdict::Equal;
  bool marks_allowed = origin.convention == MaskConvention::TrueKeeps ||
                       (origin.convention == MaskConvention::Unknown && is_floating(mask.dtype) && square);
  std::string name = shown_name(mask, "mask");
  std::string not_equal = fmt::format("fill where {} is not 0: masked_fill({} != 0, ...)", name, name);
  if (!marks_allowed) {
    // A declared mask is declared bool; one a call made is compared where it is read.
    if (!ctx.add_dtype_fix(diagnostic, "pass mask as bool (mask != 0)", mask, DType::Bool)) {
      ctx.add_inserted_call_fix(diagnostic, mask, not_equal, "ne", {{"other", 0}});
    }
    return;
  }
  bool known = origin.convention == MaskConvention::TrueKeeps;
  std::string reason = known ? origin.reason : "a float causal buffer is made by tril(ones): 1 marks the positions each query may attend to";
  std::string equal = fmt::format("fill where {} is 0, the positions it does not allow: masked_fill({} == 0, ...)", name, name);
  // Declaring the mask bool would mean != 0: == 0 is only an inserted comparison.
  if (!ctx.add_inserted_call_fix(diagnostic, mask, equal, "eq", {{"other", 0}})) return;
  CallContext::label_last_fix(diagnostic, known ? FixSemantics::Consistent : FixSemantics::Unknown, reason);
  if (!ctx.add_inserted_call_fix(diagnostic, mask, not_equal, "ne", {{"other", 0}})) return;
  if (known) CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, reason + ": != 0 fills those instead");
}

// MHA277: attention weights (a softmax's output) filled with -inf or a large negative number: a
// mask meant for the scores, applied after the softmax. The filled weights make the weighted sum
// -inf or NaN, and the kept ones still share the weight of the masked keys. The fix masks the
// scores: the fill moved before the softmax, which then reads the masked scores.
bool check_fill_after_softmax(CallContext& ctx, const ArgValue& input) {
  const nlohmann::json& value = ctx.call.arguments.at("value");
  const bool large_negative = value == "-inf" || (value.is_number() && !value.is_boolean() && value.get<double>() <= -1e4);
  const CallDecl* softmax = values_maker(ctx, input);
  if (!large_negative || softmax == nullptr || softmax->op != "softmax") return false;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskAfterSoftmax,
      fmt::format("{} holds attention weights, the output of softmax call \"{}\": filled with {} after the softmax, the masked weights "
                  "make the weighted sum -inf or NaN, and the kept ones do not sum to 1",
                  tensor_name(input), softmax->id, value.is_string() ? "float('" + value.get<std::string>() + "')" : value.dump()),
      &input);
  diagnostic.notes.push_back("a mask is applied to the scores, before the softmax gives the masked keys no weight; PyTorch raises nothing");
  // The reorder: masked_fill reads the scores and comes first, softmax reads what it made and
  // gives its output the masked weights' name. Only when the weights are read by the fill alone.
  std::optional<nlohmann::json> patch = before_softmax_patch(ctx.spec, ctx.call, *softmax, "_masked");
  if (!patch) return true;
  ctx.add_patch_fix(diagnostic,
                    fmt::format("mask the scores before the softmax: masked_fill in call \"{}\" on {}, then softmax in call \"{}\" on its output",
                                ctx.call.id, input_name(*softmax, "input"), softmax->id),
                    std::move(*patch));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the masked keys then get no weight, and each row's weights sum to 1");
  return true;
}

}  // namespace

void infer_masked_fill(CallContext& ctx) {
  const ArgValue &input = ctx.arg("input"), &mask = ctx.arg("mask");
  if (misaligned_batch(ctx, input, mask)) return;
  CallContext::BroadcastFailure failing;
  std::optional<Shape> shape = ctx.broadcast(mask.shape, input.shape, &mask, "mask vs input", failing);
  if (!shape) {
    report_broadcast_failure(ctx, DiagId::MaskedFillShape,
                             fmt::format("mask {} does not broadcast with input {}: {} vs {} at dim {} of the result", tuple_str(mask.shape),
                                         tuple_str(input.shape), failing.a.str(), failing.b.str(), failing.dim),
                             mask, input, failing.b, failing);
    return;
  }
  if (mask.dtype != DType::Bool) {
    Diagnostic& diagnostic = ctx.report(DiagId::MaskedFillDType, fmt::format("mask is {}; masked_fill takes a bool mask", dtype_name(mask.dtype)), &mask);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("masked_fill_ only supports boolean masks, but got mask with dtype {}", dtype_typemeta_name(mask.dtype)));
    diagnostic.notes.push_back("PyTorch 1.13 accepted a uint8 or float mask (deprecated); 2.x refuses it");
    add_bool_mask_fixes(ctx, diagnostic, mask);
    return;
  }
  if (value_overflows(input.dtype, ctx.call.arguments.at("value"))) {
    report_value_overflow(ctx, input);
    return;
  }
  if (!check_fill_after_softmax(ctx, input)) check_fill_mask_meaning(ctx, mask);
  if (std::optional<ScoresKeys> keys = scores_keys(ctx, input)) check_window_offsets(ctx, mask, keys->producer, keys->dim, keys->rank);
  ctx.outputs.push_back({"output", *shape, input.dtype});
  ctx.output_layouts["output"] = input.layout.is_contiguous() && input.shape == *shape ? Layout::contiguous(*shape) : Layout::unknown();
}

}  // namespace mhacheck
