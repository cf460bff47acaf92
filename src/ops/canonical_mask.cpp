// F._canonical_mask, which nn.MultiheadAttention, TransformerEncoderLayer and
// TransformerEncoder apply to their masks before anything else: the dtype check, the warning
// for masks of different dtypes, and the conversion of a bool mask to a float one.
#include <fmt/format.h>

#include "ops/parts.hpp"
#include "core/shape_json.hpp"
#include "roles.hpp"
#include "mask_origin.hpp"
#include "fix_search.hpp"
#include "ops/mask_values.hpp"

namespace mhacheck {

namespace {

// A bool mask an earlier call made, read by the calls that made it (mask_origin.hpp): ne(ids,
// pad) marks the tokens to keep where nn.MultiheadAttention ignores the True positions (MHA084).
// The fix makes it with the other comparison (ids == pad) when one made it, else inverts it.
void check_made_mask_meaning(CallContext& ctx, const ArgValue& mask, const std::string& module) {
  MaskOrigin origin = mask_origin(ctx, mask);
  std::string name = tensor_name(mask);
  MaskConvention convention = origin.convention != MaskConvention::Unknown ? origin.convention : mask_convention_of_name(name);
  if (convention != MaskConvention::TrueKeeps) return;
  std::string reason = origin.convention != MaskConvention::Unknown ? origin.reason : fmt::format("\"{}\" is named like 1 = keep", name);
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskMeaning,
      fmt::format("{} \"{}\" marks with True the positions to keep ({}), but {} ignores the True positions", mask.argument, name, reason,
                  module),
      &mask);
  diagnostic.notes.push_back("as written, every query attends only to what the mask meant to leave out");
  if (std::optional<ComparisonFlip> flip = flip_comparison(origin)) {
    ctx.add_patch_fix(diagnostic, fmt::format("make {} with {}: True then marks the positions to ignore", name, flip->text), flip->patch);
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the comparison then marks the entries to leave out");
    return;
  }
  if (ctx.add_inserted_call_fix(diagnostic, mask, fmt::format("pass ~{}", name), "bitwise_not", nlohmann::json::object())) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "True then marks the positions to ignore");
  }
}

}  // namespace

Diagnostic* refused_mask_dtype(CallContext& ctx, const ArgValue& mask, const std::string& pytorch_name) {
  if (!mask.present || mask.dtype == DType::Bool || is_floating(mask.dtype)) return nullptr;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskDType,
      fmt::format("{} has dtype {}; only bool and floating masks are supported", mask.argument, dtype_name(mask.dtype)), &mask);
  ctx.pytorch_raises(diagnostic, "AssertionError", fmt::format("only bool and floating types of {} are supported", pytorch_name));
  if (mask.dtype == DType::UInt8) diagnostic.notes.push_back("PyTorch 1.x accepted uint8 masks with a deprecation warning; 2.x refuses them");
  // True = do not attend. A Hugging Face attention_mask (1 = keep) needs == 0, not .bool().
  std::string name = shown_name(mask);
  MaskConvention convention = mask_convention_of_name(name);
  if (convention == MaskConvention::TrueKeeps) {
    // == 0 makes a new tensor: a call when the mask is named, else a bool tensor of its shape.
    std::string description = fmt::format("pass {} == 0 (True marks positions not to attend)", name);
    if (!ctx.add_inserted_call_fix(diagnostic, mask, description, "eq", {{"other", 0}})) {
      ctx.add_argument_fix(diagnostic, description, mask.argument, {{"shape", shape_json(mask.written)}, {"dtype", "bool"}});
    }
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, fmt::format("\"{}\" is 1 = keep; == 0 marks the padding", name));
  }
  // An earlier call's output has no dtype to patch: then there is no .bool() fix to label.
  bool converted = ctx.add_dtype_fix(
      diagnostic, fmt::format("pass {} as bool ({}.bool(): True marks positions not to attend)", mask.argument, name), mask, DType::Bool);
  if (converted && convention == MaskConvention::TrueKeeps) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Suspect,
                                fmt::format("\"{}\" is 1 = keep; .bool() would ignore the tokens and attend to the padding", name));
  } else if (converted && convention == MaskConvention::TrueIgnores) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, fmt::format("\"{}\" is 1 = padding", name));
  }
  return &diagnostic;
}

bool canonical_mask_dtype(CallContext& ctx, const ArgValue& mask, const std::string& pytorch_name) {
  return refused_mask_dtype(ctx, mask, pytorch_name) == nullptr;
}

void mismatched_masks(CallContext& ctx, const ArgValue& mask, const std::string& pytorch_name, const ArgValue& other,
                      const std::string& pytorch_other) {
  if (!mask.present || !other.present || mask.dtype == other.dtype) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskDTypeMismatch,
      fmt::format("{} is {} but {} is {}", mask.argument, dtype_name(mask.dtype), other.argument, dtype_name(other.dtype)), &mask);
  diagnostic.related.push_back({fmt::format("{} is {}", other.argument, dtype_name(other.dtype)), other.location});
  diagnostic.pytorch_error = PytorchError{
      "UserWarning", fmt::format("Support for mismatched {} and {} is deprecated. Use same type for both instead.", pytorch_name, pytorch_other),
      false, PytorchError::Kind::Warns};
  // 2.x turns a bool mask into a float one (True becomes -inf) and adds the two: the result is
  // what the user meant, and the note says so; only the deprecation warning is to be silenced.
  diagnostic.notes.push_back(fmt::format(
      "PyTorch 2.x computes the intended result (a bool mask becomes -inf where True, then the masks are added) and only warns; "
      "pass {} and {} with one dtype to silence the warning",
      mask.argument, other.argument));
  // .float() of a bool mask would give 1.0 where it masks: added to the scores, that masks nothing.
  std::string name = shown_name(mask);
  std::string converted = mask.dtype == DType::Bool ? fmt::format("{0}.float().masked_fill({0}, float(\"-inf\"))", name)
                                                    : fmt::format("{} == float(\"-inf\")", name);
  if (ctx.add_dtype_fix(diagnostic, fmt::format("make {} {} like {}: {}", mask.argument, dtype_name(other.dtype), other.argument, converted),
                        mask, other.dtype) &&
      mask.dtype == DType::Bool) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "True becomes -inf and False 0, as PyTorch converts it");
  }
}

namespace {

// What True means in the mask, read from its name and the calls that made it.
void check_ignore_mask_convention(CallContext& ctx, const ArgValue& mask, const std::string& module) {
  std::string name = tensor_name(mask);
  if (mask.dtype == DType::Bool && mask.producer != nullptr) {
    check_made_mask_meaning(ctx, mask, module);
    return;
  }
  // Only as written: an inner call (a Transformer layer's self_attn) sees the module's float
  // conversion of a bool mask.
  if (is_floating(mask.dtype) && mask.producer != nullptr && ctx.argument_names.empty()) {
    check_float_triangle_mask(ctx, mask, module);
    return;
  }
  // A declared bool mask whose name says nothing may still be read as 1 = keep by other calls
  // (x * mask.unsqueeze(-1)): mask_origin says so; a float one only by its name.
  const MaskOrigin origin = mask.dtype == DType::Bool ? mask_origin(ctx, mask) : MaskOrigin{mask_convention_of_name(name), "", nullptr};
  if (origin.convention != MaskConvention::TrueKeeps) return;
  // Hugging Face's get_extended_attention_mask already makes the additive (0 / -inf) form. An
  // inner call (a Transformer layer's self_attn) sees the mask the module made float: the module
  // has checked the mask as written.
  if (is_floating(mask.dtype)) {
    // A float mask an earlier call computed ((am - 1.0) * 10000.0) is no longer the raw 1 = keep
    // mask its name recalls; whether its values are 0/1 is for `run` to see (MHA111).
    if (name.find("extended") != std::string::npos || !ctx.argument_names.empty() || mask.producer != nullptr) return;
    // A float mask is added to the scores: a 1 = keep / 0 = pad mask adds 1 to the tokens and
    // 0 to the padding, which softmax all but ignores.
    Diagnostic& diagnostic = ctx.report(
        DiagId::MaskMeaning,
        fmt::format("{} \"{}\" is a float mask named like 1 = keep, but {} adds a float mask to the attention scores: "
                    "adding 1 and 0 masks nothing",
                    mask.argument, name, module),
        &mask);
    diagnostic.notes.push_back("a float mask must hold 0 where attention is allowed and -inf where it is not");
    if (ctx.add_argument_fix(diagnostic, fmt::format("pass {} == 0 (True marks positions not to attend)", name), mask.argument,
                             {{"shape", shape_json(mask.written)}, {"dtype", "bool"}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, fmt::format("\"{}\" is 1 = keep; == 0 marks the padding", name));
    }
    return;
  }
  if (mask.dtype != DType::Bool) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskMeaning,
      mask_convention_of_name(name) == MaskConvention::TrueKeeps
          ? fmt::format("{} \"{}\" is named like a mask of positions to keep (True = keep), but {} ignores the True positions", mask.argument,
                        name, module)
          : fmt::format("{} \"{}\" marks with True the positions to keep ({}), but {} ignores the True positions", mask.argument, name,
                        origin.reason, module),
      &mask);
  diagnostic.notes.push_back("as written, every query attends only to what the mask meant to leave out; pass ~mask");
  std::string description = fmt::format("pass ~{}", name);
  if (ctx.add_inserted_call_fix(diagnostic, mask, description, "bitwise_not", nlohmann::json::object()) ||
      ctx.add_argument_fix(diagnostic, description, mask.argument, {{"shape", shape_json(mask.written)}, {"dtype", "bool"}})) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "True then marks the positions to ignore");
  }
}

}  // namespace

void check_ignore_mask_meaning(CallContext& ctx, const ArgValue& mask, const std::string& module) {
  if (!mask.present) return;
  std::size_t reported = ctx.diagnostics.size();
  check_ignore_mask_convention(ctx, mask, module);
  if (ctx.diagnostics.size() == reported) check_mask_values(ctx, mask, MaskReading::TrueIgnores);
}

void check_float_triangle_mask(CallContext& ctx, const ArgValue& mask, const std::string& module) {
  MaskOrigin origin = mask_origin(ctx, mask);
  if (origin.maker == nullptr || origin.maker->op != "tril" || origin.convention != MaskConvention::TrueKeeps) return;
  std::string name = tensor_name(mask);
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskMeaning,
      fmt::format("{} \"{}\" is a float mask {}, but {} adds a float mask to the attention scores: every future position gets 0 added, "
                  "so nothing is masked",
                  mask.argument, name, origin.reason, module),
      &mask);
  diagnostic.notes.push_back("a float mask must hold 0 where attention is allowed and -inf where it is not; a bool mask True where it is not");
  if (ctx.add_inserted_call_fix(diagnostic, mask, fmt::format("pass {} == 0 (True marks positions not to attend)", name), "eq",
                            {{"other", 0}})) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "tril leaves 0 on each query's future: == 0 marks it");
  }
}

ArgValue canonical_mask(const ArgValue& mask, DType target) {
  ArgValue canonical = mask;
  if (mask.present && mask.dtype == DType::Bool) canonical.dtype = target;
  return canonical;
}

}  // namespace mhacheck
