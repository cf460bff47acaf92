// F.scaled_dot_product_attention: PyTorch 2.x's rules on the CPU. validate_sdpa_input's checks
// come first (dtypes, ranks, the mask's dtype); every malformed call then goes down the math
// path (aten/src/ATen/native/transformers/attention.cpp, _scaled_dot_product_attention_math):
// the causal mask, grouped-query heads, q @ k^T, the mask added in place, and attn @ v. Its
// messages are those of torch.matmul and of broadcasting, which is what a user sees.
#include <algorithm>
#include <cmath>
#include <cctype>
#include <set>


#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ops/dim_arguments.hpp"
#include "ops/mask_meaning.hpp"
#include "ops/matmul_shape.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"
#include "ops/window_offsets.hpp"
#include "core/shape_json.hpp"
#include "roles.hpp"
#include "dim_origin.hpp"
#include "mask_origin.hpp"
#include "ops/mask_values.hpp"
#include "operators.hpp"

#include <array>

namespace mhacheck {
namespace {

Shape leading(const Shape& shape, std::size_t keep_last) {
  return Shape(shape.begin(), shape.end() - static_cast<std::ptrdiff_t>(std::min(keep_last, shape.size())));
}

std::string bracket_list(const Shape& shape) {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + shape[i].str();
  return "[" + text + "]";
}

class SdpaRules {
 public:
  explicit SdpaRules(CallContext& ctx)
      : ctx_(ctx), query_(ctx.arg("query")), key_(ctx.arg("key")), value_(ctx.arg("value")), mask_(ctx.arg("attn_mask")) {}

  void run() {
    if (!dtypes_match() || !ranks_valid() || !mask_dtype_valid() || !causal_without_mask()) return;
    if (!query_keeps_length_dim()) return;
    check_layout_roles();
    check_merged_batch_heads();
    check_feature_roles();
    std::size_t reported = ctx_.diagnostics.size();
    if (mask_.present && !check_padding_axis(ctx_, mask_, key_.shape[static_cast<std::size_t>(key_.rank() - 2)])) {
      check_padded_query_rows(ctx_, mask_, key_.shape[static_cast<std::size_t>(key_.rank() - 2)]);
    }
    check_mask_meaning();
    check_cast_mask();
    check_keep_float_mask();
    if (ctx_.diagnostics.size() == reported) check_mask_values(ctx_, mask_, MaskReading::TrueKeeps);
    if (query_.rank() >= 3 && key_.rank() == query_.rank()) {
      check_tiling_orders(ctx_, {{&query_, 0}, {&key_, 0}, {&value_, 0}}, "each query meets the keys of another batch entry");
    }
    // The mask's last dim runs over the key positions (key dim -2).
    if (mask_.present && mask_.rank() >= 1 && key_.rank() >= 2) check_mask_positions_tiled(ctx_, mask_, mask_.rank() - 1, key_, key_.rank() - 2);
    if (ctx_.call.flag("is_causal") && query_.rank() >= 2) check_causal_over_stacked(ctx_, query_, query_.rank() - 2);
    check_repeat_tiling(ctx_, {&key_, &value_}, -3,
                        "query head h then meets key/value head h mod n, where grouped-query attention shares each key/value head "
                        "with a block of consecutive query heads");
    Shape key = key_.shape, value = value_.shape;
    if (ctx_.call.flag("enable_gqa") && !grouped_heads(key, value)) return;
    if (!ctx_.call.flag("enable_gqa") && !heads_match_without_gqa()) return;
    std::optional<Shape> scores = product_shape(query_.shape, transposed(key), query_, key_, "query", "key",
                                                DiagId::SdpaFeatures, "query @ key.transpose(-2, -1)");
    if (!scores) return;
    check_causal_alignment();
    std::optional<std::size_t> mask_role = check_mask_roles(*scores);
    if (!mask_role) mask_role = check_mask_of_queries(*scores);
    if (ctx_.call.flag("is_causal") || mask_.present) {
      std::size_t before = ctx_.diagnostics.size();
      bool fits = mask_fits(*scores);
      if (mask_role) fold_mask_condition(*mask_role, before);
      if (!fits) return;
    }
    std::optional<Shape> output = product_shape(*scores, value, query_, value_, "attention weights", "value",
                                                DiagId::SdpaKeyValueLength, "softmax(scores) @ value");
    if (!output || ctx_.has_errors()) return;
    ctx_.outputs.push_back({"output", ctx_.symbols.resolve(*output), query_.dtype});
    if (key_.rank() >= 2) {
      check_window_offsets(ctx_, mask_, key_.producer, static_cast<std::size_t>(key_.rank() - 2), static_cast<std::size_t>(key_.rank()));
    }
    check_scale();
    check_scaled_twice();
  }

 private:
  // The call that multiplied `arg`'s values by a number on the way to SDPA, followed up through
  // the calls that only move or copy them (view, reshape, transpose, permute, contiguous, ...),
  // with the factor it applied (a div by c as 1/c); nullopt when none did.
  std::optional<std::pair<const CallDecl*, double>> number_factor(const ArgValue& arg) const {
    static const std::array<const char*, 11> moves = {"view", "reshape", "transpose", "permute", "contiguous", "clone",
                                                      "unflatten", "unsqueeze", "flatten", "dropout", "to"};
    const CallDecl* call = arg.producer;
    for (int step = 0; step < 16 && call != nullptr; ++step) {
      if (call->op == "mul" || call->op == "div") {
        const nlohmann::json& other = call->arguments.value("other", nlohmann::json());
        if (!other.is_number()) return std::nullopt;
        const double number = other.get<double>();
        if (number == 0.0) return std::nullopt;
        return std::make_pair(call, call->op == "mul" ? number : 1.0 / number);
      }
      if (std::none_of(moves.begin(), moves.end(), [&](const char* op) { return call->op == op; })) return std::nullopt;
      const std::string input = input_name(*call, "input");
      if (input.empty()) return std::nullopt;
      call = producer_of(ctx_.spec, input, call);
    }
    return std::nullopt;
  }

  // MHA333: SDPA multiplies q @ k^T by 1/sqrt(D) when scale is not given. A query (or key) that
  // was multiplied by 1/sqrt(D) itself on the way (eager attention's q_proj(x) * head_dim ** -0.5,
  // kept when the code was ported to SDPA) is scaled twice: the logits shrink by another sqrt(D)
  // and the softmax flattens. The fix passes scale=1.0.
  void check_scaled_twice() {
    const nlohmann::json& scale = ctx_.call.arguments.value("scale", nlohmann::json());
    if (!scale.is_null() || query_.rank() < 1) return;
    const DimExpr features = ctx_.symbols.resolve(query_.shape.back());
    if (!features.is_constant() || features.offset < 2) return;
    const double inverse_root = 1.0 / std::sqrt(static_cast<double>(features.offset));
    for (const ArgValue* arg : {&query_, &key_}) {
      std::optional<std::pair<const CallDecl*, double>> factor = number_factor(*arg);
      if (!factor || std::abs(factor->second - inverse_root) > 1e-4 * inverse_root) continue;
      const CallDecl& scaling = *factor->first;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SdpaDoubleScale,
          fmt::format("{} was scaled by 1/sqrt({}) = {} in call \"{}\" ({} {}), and F.scaled_dot_product_attention scales q @ k^T by "
                      "1/sqrt({}) again (scale=None): the scores are {} times too small",
                      arg->argument, features.offset, inverse_root, scaling.id, scaling.op, scaling.arguments.at("other").dump(), features.offset,
                      std::sqrt(static_cast<double>(features.offset))),
          arg);
      diagnostic.notes.push_back("the softmax of scores this small is nearly uniform; PyTorch raises nothing");
      if (ctx_.add_argument_fix(diagnostic, fmt::format("scale=1.0: the {} is scaled already (or drop the {} of call \"{}\")", arg->argument,
                                                        scaling.op, scaling.id),
                                "scale", 1.0)) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the scores are divided by sqrt(head size) once");
      }
      return;
    }
  }

  // MHA210: scale multiplies q @ k^T (1/sqrt(D) by default, D the query's last dim). A scale of
  // sqrt(D) (head_dim ** 0.5 where head_dim ** -0.5 is meant) makes the scores D times too large.
  void check_scale() {
    const nlohmann::json* scale = ctx_.call.arguments.contains("scale") ? &ctx_.call.arguments.at("scale") : nullptr;
    if (scale == nullptr || !scale->is_number() || query_.rank() < 1) return;
    const double value = scale->get<double>();
    const DimExpr features = ctx_.symbols.resolve(query_.shape.back());
    if (!features.is_constant() || features.offset < 2) return;
    const double root = std::sqrt(static_cast<double>(features.offset));
    if (value <= 1.0 || std::abs(value - root) > 1e-6 * root) return;
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::SdpaScaleInverted,
        fmt::format("scale={} is sqrt({}), the square root of the head size: the scores q @ k^T are multiplied by it, {} times larger than "
                    "with the default 1/sqrt({})",
                    value, features.offset, features.offset, features.offset),
        "scale");
    diagnostic.notes.push_back("the softmax of scores this large is nearly one-hot; PyTorch raises nothing");
    const double inverse = 1.0 / root;
    if (ctx_.add_argument_fix(diagnostic, fmt::format("scale={} (1/sqrt({})), the default: or leave scale=None", inverse, features.offset), "scale",
                              inverse)) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the scores are divided by sqrt(head size)");
    }
  }

  static Shape transposed(Shape shape) {
    std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
    return shape;
  }

  // (..., L, D): a head-size-named dim in the sequence slot or a sequence-named dim in the
  // feature slot (a key passed as k.transpose(-2, -1)). One diagnostic for the call.
  void check_feature_roles() {
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      if (arg->rank() < 2) continue;
      int seq = arg->rank() - 2, features = arg->rank() - 1;
      bool dim_in_seq = role_of_dim(arg->dim_names, seq) == DimRole::HeadDim;
      if (!dim_in_seq && role_of_dim(arg->dim_names, features) != DimRole::Sequence) continue;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::FeatureSlotRole,
          fmt::format("{} {}: its {} slot (dim {}) holds \"{}\", a {}", arg->argument, tuple_str(arg->shape),
                      dim_in_seq ? "sequence" : "feature",
                      dim_in_seq ? seq : features, arg->dim_name(dim_in_seq ? seq : features),
                      dim_in_seq ? "head size" : "sequence length"),
          arg, dim_in_seq ? seq : features);
      diagnostic.notes.push_back("F.scaled_dot_product_attention transposes the key itself (q @ k.transpose(-2, -1)): pass k as (..., S, D)");
      return;
    }
  }

  // (..., H, L, D): a sequence-named dim in the heads slot, or a heads-named dim in the sequence
  // slot, is a (B, T, H, D) tensor not transposed after view. One diagnostic for the call.
  void check_layout_roles() {
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      if (arg->rank() < 3) continue;
      int seq = arg->rank() - 2, heads = arg->rank() - 3;
      DimRole in_seq = role_of_dim(arg->dim_names, seq), in_heads = role_of_dim(arg->dim_names, heads);
      // A batch in the heads slot of a 4-D or larger operand, behind another leading dim, with no
      // sequence in the L slot: (T, B, H, D), a (B, T, H, D) tensor transposed on its first two
      // dims, attends over the heads of each position as well. SDPA reads every dim before L as a
      // batch, so a heads-first (H, B, T, D) or frames-first (F, B, N, D) layout is right, and a
      // 3-D (B, L, D) operand has its batch in that slot by right.
      bool batch_in_heads = in_heads == DimRole::Batch && in_seq != DimRole::Sequence && arg->rank() >= 4 &&
                            explicit_batch_name(arg->dim_name(heads));
      if (in_seq != DimRole::Heads && in_heads != DimRole::Sequence && !batch_in_heads) continue;
      bool heads_in_seq = in_seq == DimRole::Heads;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SdpaLayoutRole,
          heads_in_seq ? fmt::format("{}'s sequence slot (dim {}) holds \"{}\", a head count: {} is read as (..., L={}, D={})",
                                     arg->argument, seq, arg->dim_name(seq), tuple_str(arg->shape), arg->shape[seq].str(),
                                     arg->shape.back().str())
                       : fmt::format("{}'s heads slot (dim {}) holds \"{}\", a {}: {} is read as (..., H={}, L={}, D={})", arg->argument,
                                     heads, arg->dim_name(heads), batch_in_heads ? "batch size" : "sequence length", tuple_str(arg->shape),
                                     arg->shape[heads].str(), arg->shape[seq].str(), arg->shape.back().str()),
          arg, heads_in_seq ? seq : heads);
      diagnostic.notes.push_back(batch_in_heads ? fmt::format("F.scaled_dot_product_attention attends over dim -2, of size {} here and "
                                                              "not a sequence: over the heads of each position. PyTorch raises nothing",
                                                              arg->shape[seq].str())
                                                : "F.scaled_dot_product_attention attends over dim -2; laid out (B, T, H, D) it attends over "
                                                  "the heads of each position. PyTorch raises nothing");
      std::vector<std::pair<const ArgValue*, Shape>> shapes;
      for (const ArgValue* each : {&query_, &key_, &value_}) {
        Shape swapped = each->written;
        if (swapped.size() >= 3) std::swap(swapped[swapped.size() - 2], swapped[swapped.size() - 3]);
        shapes.emplace_back(each, swapped);
      }
      if (!batch_in_heads && ctx_.add_shape_fix(diagnostic, "transpose query, key and value to (B, H, T, D): .transpose(1, 2) after the view", shapes)) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "heads before the sequence, as SDPA reads them");
      }
      return;
    }
  }

  // An operand of lower rank whose heads slot holds batch x heads (B*H, the layout of bmm-style
  // attention) while another operand keeps B and H apart: broadcasting then lines its B*H up
  // with the other's heads (and enable_gqa would read every batch entry as more query heads).
  void check_merged_batch_heads() {
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      if (arg->rank() < 3) continue;
      int heads = arg->rank() - 3;
      const DimExpr& merged = arg->written[heads];
      std::vector<std::string> factors = merged.factors();
      if (merged.coeff != 1 || merged.offset != 0 || factors.size() != 2) continue;
      auto batch = std::find_if(factors.begin(), factors.end(), [](const std::string& f) { return role_of_name(f) == DimRole::Batch; });
      if (batch == factors.end()) continue;
      const ArgValue* wider = nullptr;
      for (const ArgValue* other : {&query_, &key_, &value_}) {
        if (other->rank() == arg->rank() + 1) wider = other;
      }
      if (wider == nullptr) continue;
      std::string rest = *batch == factors[0] ? factors[1] : factors[0];
      Shape split = arg->written;
      split[heads] = DimExpr::named(*batch);
      split.insert(split.begin() + heads + 1, DimExpr::named(rest));
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SdpaLayoutRole,
          fmt::format("{}'s heads slot (dim {}) holds \"{}\", batch entries merged with heads, but {} is {}: broadcasting lines "
                      "{} up with its heads",
                      arg->argument, heads, merged.str(), wider->argument, tuple_str(wider->shape), merged.str()),
          arg, heads);
      diagnostic.notes.push_back("split the merged dim back into (batch, heads) so that every operand is (B, H, L, D)");
      std::string name = shown_name(*arg);
      merged_split_ = MergedSplit{arg, split, fmt::format("split {}'s {}: {}.view{}", arg->argument, merged.str(), name, tuple_str(split))};
      add_split_fix(diagnostic);
      return;
    }
  }

  // An operand with batch and heads merged (check_merged_batch_heads), split as the others are laid out.
  struct MergedSplit {
    const ArgValue* arg;
    Shape split;
    std::string description;
  };

  bool add_split_fix(Diagnostic& diagnostic) {
    if (!merged_split_ || !ctx_.add_shape_fix(diagnostic, merged_split_->description, {{merged_split_->arg, merged_split_->split}})) {
      return false;
    }
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "batch and heads each in their own slot");
    return true;
  }

  // A padding-style bool mask (True = padding, by its name or the calls that made it: ids == pad)
  // passed as SDPA's attn_mask (True = take part).
  void check_mask_meaning() {
    if (!mask_.present || mask_.dtype != DType::Bool) return;
    MaskOrigin origin = mask_origin(ctx_, mask_);
    if (origin.convention != MaskConvention::TrueIgnores) return;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::MaskMeaning,
        origin.maker == nullptr
            ? fmt::format("attn_mask \"{}\" is named like a padding mask (True = ignore), but F.scaled_dot_product_attention's bool "
                          "attn_mask keeps the True positions",
                          tensor_name(mask_))
            : fmt::format("attn_mask \"{}\" marks with True the positions to ignore ({}), but F.scaled_dot_product_attention's bool "
                          "attn_mask keeps the True positions",
                          tensor_name(mask_), origin.reason),
        &mask_);
    diagnostic.notes.push_back("as written, every query attends only to the positions the mask marks to ignore (the padding, the future); pass ~mask");
    if (std::optional<ComparisonFlip> flip = flip_comparison(origin)) {
      ctx_.add_patch_fix(diagnostic, fmt::format("make {} with {}: True then marks the positions that take part", tensor_name(mask_), flip->text),
                         flip->patch);
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the comparison then marks the entries to attend to");
      return;
    }
    // The mask as laid out, inverted by a call on it: right for an (L, S) causal mask made by
    // triu, and for any mask whose shape already fits; a (B, S) padding mask needs the view below.
    if (ctx_.add_inserted_call_fix(diagnostic, mask_, fmt::format("pass ~{}", tensor_name(mask_)), "bitwise_not", nlohmann::json::object())) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "True then marks the positions that take part");
    }
    Shape shape = mask_.written;
    // fmt::format, not "~" + string: gcc 12 gives a false -Wrestrict warning on a one-character literal plus a std::string.
    std::string expression = fmt::format("~{}", tensor_name(mask_));
    if (mask_.rank() == 2 && query_.rank() == 4) {
      shape = {mask_.written[0], DimExpr::constant(1), DimExpr::constant(1), mask_.written[1]};
      expression += "[:, None, None, :]";
    }
    if (ctx_.add_argument_fix(diagnostic, "pass " + expression, "attn_mask", {{"shape", shape_json(shape)}, {"dtype", "bool"}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "True then marks the positions that take part");
    }
  }

  // A bool mask cast to float and passed as attn_mask: SDPA adds a float mask to the scores, so
  // True adds 1.0 and False 0.0, which masks nothing (MHA266, as for scores + mask). The bool
  // mask itself is what SDPA reads as take part / ignore.
  void check_cast_mask() {
    if (!mask_.present || !is_floating(mask_.dtype)) return;
    std::optional<BoolMaskCast> cast = bool_mask_cast(ctx_, mask_);
    if (!cast) return;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::BoolMaskAdded,
        fmt::format("attn_mask \"{}\" is the bool mask \"{}\" cast by {} (call \"{}\"): F.scaled_dot_product_attention adds a float "
                    "attn_mask to the scores, so True adds 1.0 and False 0.0, which masks nothing",
                    tensor_name(mask_), cast->mask, cast->cast->op, cast->cast->id),
        &mask_);
    diagnostic.notes.push_back("a bool attn_mask keeps the True positions; a float one holds 0 where attention is allowed and -inf where "
                               "it is not: torch.zeros(shape).masked_fill(~mask, float('-inf'))");
    if (!cast->origin.reason.empty()) diagnostic.notes.push_back(cast->origin.reason);
    // A padding mask (True = ignore) passed as is would keep only the padding (check_mask_meaning).
    if (cast->origin.convention == MaskConvention::TrueIgnores) return;
    if (ctx_.add_argument_fix(diagnostic, fmt::format("pass the bool mask {} itself (True = take part), not its {}()", cast->mask, cast->cast->op),
                              "attn_mask", cast->mask)) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "SDPA reads a bool attn_mask as take part (True) or ignore (False)");
    }
  }

  // A float 1 = keep / 0 = pad mask (a tokenizer's or patch embedder's attention_mask, (B, S)) only
  // lifted to the scores' rank and passed as attn_mask: SDPA adds a float attn_mask, so the kept
  // positions get +1 and the padding +0, which masks nothing (Pix2Struct's patch mask). Only a mask
  // declared (B, S), the raw form: a 4-D float attention_mask is Hugging Face's extended, additive
  // one, and a mask made by arithmetic ((1 - m) * min) is no longer 0/1.
  void check_keep_float_mask() {
    if (!mask_.present || !is_floating(mask_.dtype) || mask_.producer == nullptr) return;
    MaskOrigin origin = mask_origin(ctx_, mask_);
    if (origin.convention != MaskConvention::TrueKeeps || origin.maker != nullptr) return;
    static const std::set<std::string> lifts{"getitem", "unsqueeze", "view", "reshape", "expand", "to", "float", "half", "contiguous"};
    std::string name = tensor_name(mask_);
    const CallDecl* producer = mask_.producer;
    for (int step = 0; step < 16 && producer != nullptr && lifts.count(producer->op) != 0; ++step) {
      name = input_name(*producer, "input");
      producer = name.empty() ? nullptr : producer_of(ctx_.spec, name, producer);
    }
    const TensorDecl* declared = producer == nullptr && !name.empty() ? ctx_.spec.find_tensor(name) : nullptr;
    if (declared == nullptr || declared->shape.size() != 2 || lowered(name).find("extended") != std::string::npos) return;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::KeepMaskAdded,
        fmt::format("attn_mask \"{}\" is the float mask \"{}\" {} as written, {}: F.scaled_dot_product_attention adds a float attn_mask to the "
                    "scores, so the kept positions get +1.0 and the others +0.0, which masks nothing",
                    tensor_name(mask_), name, tuple_str(declared->shape), origin.reason),
        &mask_);
    diagnostic.notes.push_back("a bool attn_mask keeps the True positions; a float one holds 0 where attention is allowed and a large negative "
                               "value where it is not: (1.0 - mask) * torch.finfo(dtype).min");
    if (ctx_.add_inserted_call_fix(diagnostic, mask_, fmt::format("pass {}.bool(): a bool attn_mask keeps its True positions, the 1s", tensor_name(mask_)),
                                   "bool", nlohmann::json::object())) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, origin.reason + ": its 1s become True, the positions SDPA keeps");
    }
    // (1.0 - m) * -10000.0 is computed as (m - 1.0) * 10000.0: the spec has no reversed subtraction.
    if (ctx_.add_inserted_calls_fix(diagnostic, mask_,
                                    fmt::format("pass (1.0 - {0}) * -10000.0 (written ({0} - 1.0) * 10000.0): 0 where {0} is 1, -10000 where it is 0",
                                                tensor_name(mask_)),
                                    {{"sub", {{"other", 1.0}}}, {"mul", {{"other", 10000.0}}}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, origin.reason + ": 1 - mask marks the positions to leave out");
    }
  }

  // Without enable_gqa the heads dims must broadcast; key/value heads dividing the query's is
  // grouped-query attention with the flag forgotten (PyTorch 2.5+ has enable_gqa).
  bool heads_match_without_gqa() {
    if (query_.rank() < 3 || key_.rank() < 3 || value_.rank() < 3) return true;
    const DimExpr& heads = query_.shape[query_.rank() - 3];
    const DimExpr& key_heads = key_.shape[key_.rank() - 3];
    const DimExpr& value_heads = value_.shape[value_.rank() - 3];
    if (!heads.is_constant() || !key_heads.is_constant() || key_heads != value_heads) return true;
    std::int64_t h = heads.offset, g = key_heads.offset;
    if (g <= 1 || h == g || h % g != 0) return true;
    CallContext::BroadcastFailure failing;
    Shape query_lead = leading(query_.shape, 2), key_lead = leading(key_.shape, 2);
    if (ctx_.broadcast(query_lead, key_lead, &key_, "query and key batch dims", failing)) return true;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SdpaBatch,
        fmt::format("query has {} heads but key and value have {}: grouped-query attention needs enable_gqa=True", h, g), &key_,
        key_.rank() - 3);
    diagnostic.related.push_back(ctx_.related(query_, query_.rank() - 3, fmt::format("query heads = {}", h)));
    ctx_.pytorch_raises(diagnostic, "RuntimeError", broadcast_message(failing));
    // Query heads that are batch entries merged with heads are no grouped-query heads: the
    // merged operand split to the others' layout is the repair.
    bool merged = add_split_fix(diagnostic);
    std::optional<std::string> repeated_sequence = add_head_repeat_fix(diagnostic, h / g);
    if (ctx_.add_argument_fix(diagnostic, "pass enable_gqa=True (PyTorch 2.5+)", "enable_gqa", true)) {
      if (repeated_sequence) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, *repeated_sequence);
      } else {
        CallContext::label_last_fix(diagnostic, merged ? FixSemantics::Suspect : FixSemantics::Consistent,
                                    merged ? "enable_gqa would read every batch entry of the merged dim as more query heads"
                                           : fmt::format("each key/value head serves {} query heads", h / g));
      }
    }
    std::vector<std::pair<const ArgValue*, Shape>> shapes;
    for (const ArgValue* each : {&key_, &value_}) {
      Shape repeated = each->written;
      repeated[repeated.size() - 3] = DimExpr::constant(h);
      shapes.emplace_back(each, repeated);
    }
    if (ctx_.add_shape_fix(diagnostic, fmt::format("repeat key and value heads: .repeat_interleave({}, dim=-3)", h / g), shapes)) {
      CallContext::label_last_fix(diagnostic, merged ? FixSemantics::Suspect : FixSemantics::Consistent,
                                  merged ? "the repeated heads would meet batch entries of the merged dim"
                                         : "query heads h*g .. h*g+g-1 share key/value head h, as enable_gqa");
    }
    return false;
  }

  // Keys whose sequence slot (dim -2) or a batch dim a repeat_interleave by the group size made,
  // before a transpose to (..., H, S, D) or in place (repeat_interleave(n_rep, dim=0) at batch 1):
  // the repeat meant for the heads multiplied another dim. The fix is that repeat's dim set to the
  // one that becomes the heads slot (for key and value alike); returns why enable_gqa is then
  // suspect (it would attend over every key `group` times, or keep `group` copies of the batch).
  std::optional<std::string> add_head_repeat_fix(Diagnostic& diagnostic, std::int64_t group) {
    nlohmann::json patch = nlohmann::json::array();
    std::vector<std::string> repeats;
    std::string why, multiplied;
    for (const ArgValue* arg : {&key_, &value_}) {
      DimOrigin heads = dim_origin(ctx_.spec, *arg, arg->rank() - 3);
      for (int slot = 0; slot < arg->rank() - 1; ++slot) {
        if (slot == arg->rank() - 3) continue;
        DimOrigin repeated = dim_origin(ctx_.spec, *arg, slot);
        const CallDecl* repeat = repeated.call;
        if (repeat == nullptr || repeat != heads.call || repeat->op != "repeat_interleave" || !CallContext::index_in_calls(*repeat) ||
            !repeat->arguments.contains("repeats") || repeat->arguments["repeats"] != group || !repeat->arguments.contains("dim") ||
            !repeat->arguments["dim"].is_number_integer()) {
          continue;
        }
        auto dim = repeat->arguments["dim"].get<std::int64_t>();
        if ((dim < 0 ? dim + repeated.rank : dim) != repeated.dim) continue;
        if (std::any_of(patch.begin(), patch.end(), [&](const nlohmann::json& op) { return op["path"] == repeat->pointer + "/dim"; })) break;
        patch.push_back({{"op", "replace"}, {"path", repeat->pointer + "/dim"}, {"value", heads.dim}});
        const ArgRef& input = repeat->tensor("input");
        repeats.push_back(fmt::format("{} = {}.repeat_interleave({}, dim={}) in call \"{}\"", repeated.tensor,
                                      input.kind == ArgRef::Kind::Named ? input.name : "input", group, heads.dim, repeat->id));
        if (multiplied.empty()) multiplied = slot == arg->rank() - 2 ? "the sequence" : "the batch";
        if (why.empty() && slot == arg->rank() - 2) {
          why = fmt::format("{}'s sequence (dim {}) is {} long: repeat_interleave({}, dim={}) in call \"{}\" repeated every position, so "
                            "enable_gqa would attend over each key {} times",
                            arg->argument, arg->rank() - 2, arg->shape[arg->rank() - 2].str(), group, dim, repeat->id, group);
        } else if (why.empty()) {
          why = fmt::format("{}'s batch dim {} is {}: repeat_interleave({}, dim={}) in call \"{}\" copied every batch entry, so enable_gqa "
                            "would give {} copies of each entry's output",
                            arg->argument, slot, arg->shape[static_cast<std::size_t>(slot)].str(), group, dim, repeat->id, group);
        }
        break;
      }
    }
    if (patch.empty()) return std::nullopt;
    ctx_.add_patch_fix(diagnostic, fmt::format("repeat the key/value heads, not {}: {}", multiplied, fmt::join(repeats, "; ")), patch);
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                fmt::format("each key/value head then serves {} consecutive query heads, as grouped-query attention shares them", group));
    return why;
  }

  bool dtypes_match() {
    if (query_.dtype == key_.dtype && key_.dtype == value_.dtype) return true;
    const ArgValue& odd = query_.dtype != key_.dtype && key_.dtype == value_.dtype ? query_ : (query_.dtype != key_.dtype ? key_ : value_);
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SdpaDType,
        fmt::format("query, key and value have dtypes {}, {} and {}; they must be the same", dtype_name(query_.dtype),
                    dtype_name(key_.dtype), dtype_name(value_.dtype)),
        &odd);
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        fmt::format("Expected query, key, and value to have the same dtype, but got query.dtype: {} key.dtype: {} "
                                    "and value.dtype: {} instead.",
                                    dtype_typemeta_name(query_.dtype), dtype_typemeta_name(key_.dtype), dtype_typemeta_name(value_.dtype)));
    ctx_.add_dtype_fix(diagnostic, fmt::format("pass {} as {}", odd.argument, dtype_name(odd.argument == "query" ? key_.dtype : query_.dtype)),
                       odd, odd.argument == "query" ? key_.dtype : query_.dtype);
    return false;
  }

  bool ranks_valid() {
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      if (arg->rank() >= 2) continue;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SdpaRank, fmt::format("{} is {}-D; query, key and value need at least (sequence, features)", arg->argument, arg->rank()),
          arg);
      ctx_.pytorch_raises(diagnostic, "RuntimeError",
                          fmt::format("Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: {} key.dim: {} "
                                      "and value.dim: {} instead.",
                                      query_.rank(), key_.rank(), value_.rank()));
      return false;
    }
    return true;
  }

  bool mask_dtype_valid() {
    if (!mask_.present || mask_.dtype == DType::Bool || mask_.dtype == DType::Float32 || mask_.dtype == query_.dtype) return true;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SdpaMaskDType,
        fmt::format("attn_mask is {}; it must be bool (True = take part in attention), float32 or the query's dtype ({})",
                    dtype_name(mask_.dtype), dtype_name(query_.dtype)),
        &mask_);
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        fmt::format("Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: {} "
                                    "and  query.dtype: {} instead.",
                                    dtype_typemeta_name(mask_.dtype), dtype_typemeta_name(query_.dtype)));
    diagnostic.notes.push_back("F.scaled_dot_product_attention's bool masks mean the opposite of nn.MultiheadAttention's: "
                               "True takes part in attention");
    std::string name = shown_name(mask_, "attn_mask");
    // A float mask of another float dtype is additive (a bias, -inf where masked): converted to
    // the query's dtype it keeps its values; .bool() would make its 0 entries False (left out).
    if (is_floating(mask_.dtype)) {
      if (ctx_.add_dtype_fix(diagnostic,
                             fmt::format("pass {}.to(torch.{}) (the query's dtype): the mask stays additive", name,
                                         dtype_name(query_.dtype)),
                             mask_, query_.dtype)) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "a float mask is added to the scores: converted, it keeps its values");
      }
      return false;
    }
    MaskConvention convention = mask_convention_of_name(name);
    // A (B, S) mask of a 4-D call is one padding row per batch entry.
    bool padding_rows = mask_.rank() == 2 && query_.rank() == 4 && key_.rank() == 4 &&
                        ctx_.symbols.compare(mask_.shape[0], query_.shape[0]) == Symbols::Verdict::Equal &&
                        ctx_.symbols.compare(mask_.shape[1], key_.shape[2]) == Symbols::Verdict::Equal;
    std::string index = padding_rows ? "[:, None, None, :]" : "";
    Shape shape = padding_rows ? Shape{mask_.written[0], DimExpr::constant(1), DimExpr::constant(1), mask_.written[1]} : mask_.written;
    std::string keep = convention == MaskConvention::TrueIgnores ? fmt::format("({} == 0){}", name, index)
                                                                 : fmt::format("{}{}.bool()", name, index);
    if (ctx_.add_argument_fix(diagnostic, "pass " + keep, "attn_mask", {{"shape", shape_json(shape)}, {"dtype", "bool"}})) {
      if (convention != MaskConvention::Unknown) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                    convention == MaskConvention::TrueKeeps ? "1 = keep becomes True = take part"
                                                                            : "1 = padding becomes False = left out");
      }
    }
    if (convention == MaskConvention::TrueIgnores) {
      ctx_.add_argument_fix(diagnostic, fmt::format("pass {}{}.bool()", name, index), "attn_mask",
                            {{"shape", shape_json(shape)}, {"dtype", "bool"}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, "True would keep the padding and drop the tokens");
    }
    return false;
  }

  bool causal_without_mask() {
    if (!ctx_.call.flag("is_causal") || !mask_.present) return true;
    Diagnostic& diagnostic = ctx_.report(DiagId::SdpaCausalWithMask, "is_causal=True and an attn_mask are given together", &mask_);
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True");
    ctx_.add_patch_fix(diagnostic, "drop is_causal (the mask already says what may attend)",
                       {{{"op", "add"}, {"path", child_pointer(ctx_.call.pointer, "is_causal")}, {"value", false}}});
    ctx_.add_patch_fix(diagnostic, "drop attn_mask and keep is_causal=True",
                       {{{"op", "remove"}, {"path", child_pointer(ctx_.call.pointer, "attn_mask")}}});
    return false;
  }

  // A query of one dim less than the key, holding the key's dims but its length (-2): a decoding
  // step's (B, H, D) query, its one position squeezed away, against a (B, H, S, D) cache. SDPA
  // reads the last two dims as (L, D), so the H heads become H queries of batch (B,), which lands
  // in the key's heads slot: valid only while B is 1 (or equals H), and then every "query" (a
  // head's vector) attends over every head's keys, a (B, H, H, D) output no later merge of the
  // heads expects. Reported here, where the roles go wrong, rather than where a later reshape
  // fails; the fix gives the query its length dim back (q.unsqueeze(-2): one query position).
  bool query_keeps_length_dim() {
    const int rank = key_.rank();
    if (rank < 4 || query_.rank() != rank - 1 || value_.rank() != rank) return true;
    for (int d = 0; d < query_.rank(); ++d) {
      const int in_key = d < rank - 2 ? d : d + 1;
      if (ctx_.symbols.compare(query_.shape[static_cast<std::size_t>(d)], key_.shape[static_cast<std::size_t>(in_key)]) != Symbols::Verdict::Equal) {
        return true;
      }
    }
    Shape with_length = query_.shape;
    with_length.insert(with_length.end() - 1, DimExpr::constant(1));
    Diagnostic& diagnostic = ctx_.report(
        DiagId::RoleCondition,
        fmt::format("query {} is key {} without its length dim (-2): SDPA reads the query's {} heads as {} query positions, its batch "
                    "dims {} meeting the key's {}, so each head's vector attends over every head's keys",
                    tuple_str(query_.shape), tuple_str(key_.shape), query_.shape[static_cast<std::size_t>(rank - 3)].str(),
                    query_.shape[static_cast<std::size_t>(rank - 3)].str(), tuple_str(leading(query_.shape, 2)), tuple_str(leading(key_.shape, 2))),
        &query_);
    diagnostic.notes.push_back(fmt::format("PyTorch accepts it only while the batch dims broadcast, and returns {} positions per head where "
                                           "one is meant: a later merge of the heads fails or mixes them",
                                           query_.shape[static_cast<std::size_t>(rank - 3)].str()));
    const std::string name = shown_name(query_);
    if (ctx_.add_shape_fix(diagnostic,
                           fmt::format("give the query its length dim (one position): {}.unsqueeze({}) gives {}", name, rank - 2, tuple_str(with_length)),
                           {{&query_, with_length}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each head's query attends over its own head's keys");
    }
    return false;
  }

  // enable_gqa: key and value heads (dim -3) repeat to the query's when they divide it.
  bool grouped_heads(Shape& key, Shape& value) {
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      if (arg->rank() >= 3) continue;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SdpaHeads, fmt::format("enable_gqa=True needs a heads dim (-3), but {} is {}-D", arg->argument, arg->rank()), arg);
      ctx_.pytorch_raises(diagnostic, "IndexError",
                          fmt::format("Dimension out of range (expected to be in range of [{}, {}], but got -3)", -arg->rank(), arg->rank() - 1));
      return false;
    }
    DimExpr heads = query_.shape[query_.shape.size() - 3];
    DimExpr key_heads = key[key.size() - 3], value_heads = value[value.size() - 3];
    auto divides = [&](const DimExpr& part) {
      // Two sizes of one symbol growing at different rates (B+1 against 2*B): equal only at one
      // value, and dividing at no other that the symbol's sizes take.
      const DimExpr p = ctx_.symbols.resolve(part), h = ctx_.symbols.resolve(heads);
      if (!p.is_constant() && p.symbol == h.symbol && !p.is_monomial() && p.coeff != h.coeff) {
        bool ever = false;
        for (std::int64_t size = 2; size <= 64 && !ever; ++size) {
          const std::int64_t parts = p.coeff * size + p.offset, whole = h.coeff * size + h.offset;
          ever = parts > 0 && whole % parts == 0;
        }
        if (!ever) return false;
      }
      if (ctx_.symbols.compare(part, heads) != Symbols::Verdict::Unequal) return true;
      return heads.is_constant() && part.is_constant() && part.offset > 0 && heads.offset % part.offset == 0;
    };
    if (!divides(key_heads) || !divides(value_heads)) {
      const ArgValue& wrong = divides(key_heads) ? value_ : key_;
      int dim = wrong.rank() - 3;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SdpaHeads,
          fmt::format("query has {} heads; with enable_gqa=True key and value heads must divide that, but {} has {}", heads.str(),
                      wrong.argument, (&wrong == &key_ ? key_heads : value_heads).str()),
          &wrong, dim);
      diagnostic.related.push_back(ctx_.related(query_, query_.rank() - 3, fmt::format("query heads = {}", heads.str())));
      ctx_.pytorch_raises(diagnostic, "RuntimeError", "Number of heads in key and value must divide the number of heads in ");
      return false;
    }
    key[key.size() - 3] = heads;
    value[value.size() - 3] = heads;
    return true;
  }

  // torch.matmul(a, b) of two operands of at least 2-D, with SDPA's own diagnostics.
  std::optional<Shape> product_shape(const Shape& a, const Shape& b, const ArgValue& a_arg, const ArgValue& b_arg,
                                     const std::string& a_name, const std::string& b_name, DiagId contraction_error,
                                     const std::string& what) {
    MatmulFailure failure;
    std::optional<Shape> result =
        matmul_shape(ctx_, a, b, &b_arg, b_arg.rank() - (&b_arg == &key_ ? 1 : 2), what, failure);
    if (result) return result;
    if (failure.kind == MatmulFailure::Kind::Batch) {
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SdpaBatch,
          fmt::format("the batch dims of {} {} and {} {} do not broadcast ({} vs {})", a_name, tuple_str(leading(a, 2)), b_name,
                      tuple_str(leading(b, 2)), failure.broadcast.a.str(), failure.broadcast.b.str()),
          &b_arg);
      diagnostic.related.push_back({fmt::format("{} is {}", a_name, tuple_str(a)), a_arg.location});
      ctx_.pytorch_raises(diagnostic, "RuntimeError", failure.message);
      return std::nullopt;
    }
    const DimExpr &inner_a = failure.inner_a, &inner_b = failure.inner_b;
    Diagnostic& diagnostic = ctx_.report(
        contraction_error,
        contraction_error == DiagId::SdpaFeatures ? fmt::format("query has {} features per position but key has {}", inner_a.str(), inner_b.str())
                                                  : fmt::format("key has {} positions but value has {}", inner_a.str(), inner_b.str()),
        &b_arg, contraction_error == DiagId::SdpaFeatures ? b_arg.rank() - 1 : b_arg.rank() - 2);
    diagnostic.related.push_back(contraction_error == DiagId::SdpaFeatures
                                     ? ctx_.related(query_, query_.rank() - 1, fmt::format("query features E = {}", inner_a.str()))
                                     : ctx_.related(key_, key_.rank() - 2, fmt::format("key length S = {}", inner_a.str())));
    ctx_.pytorch_raises(diagnostic, "RuntimeError", failure.message);
    return std::nullopt;
  }

  // is_causal builds torch.ones(L, S).tril() (top-left): with fewer queries than keys (a KV
  // cache) query i sees keys 0..i, not the cache. Warned when L and S are not the same size.
  void check_causal_alignment() {
    if (!ctx_.call.flag("is_causal") || query_.rank() < 2 || key_.rank() < 2) return;
    const DimExpr& length = query_.shape[query_.rank() - 2];
    const DimExpr& keys = key_.shape[key_.rank() - 2];
    if (ctx_.symbols.compare(length, keys) == Symbols::Verdict::Equal) return;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SdpaCausalAlignment,
        fmt::format("is_causal=True with {} queries and {} keys: PyTorch aligns the causal mask top-left, so query i sees keys "
                    "0..i only, not the earlier positions of a cache",
                    length.str(), keys.str()),
        &query_, query_.rank() - 2);
    diagnostic.related.push_back(ctx_.related(key_, key_.rank() - 2, fmt::format("key length S = {}", keys.str())));
    if (length.is_constant() && length.offset == 1) {
      ctx_.add_patch_fix(diagnostic, "drop is_causal: a single new query may attend to every cached key",
                         {{{"op", "add"}, {"path", child_pointer(ctx_.call.pointer, "is_causal")}, {"value", false}}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the last position sees the whole prefix, as causal decoding means");
    } else if (!keys_cache_the_queries()) {
      ctx_.add_patch_fix(diagnostic, "drop is_causal (is_causal=False): in cross-attention every query may attend to every key of the other sequence",
                         {{{"op", "add"}, {"path", child_pointer(ctx_.call.pointer, "is_causal")}, {"value", false}}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                  "the keys are another sequence than the queries' (no cache of them): there is no causal order between the two");
    } else {
      add_bottom_right_mask_fix(diagnostic);
    }
  }

  // Whether the keys are a cache of the queries' own sequence, the case where a causal mask
  // aligned bottom-right is meant: made by cat (past keys joined with the new ones, through
  // moves and copies), named as a cache (cache, past), their length written from the queries'
  // (T+8 over T), or both lengths numbers (nothing says otherwise). Keys named as another
  // sequence (memory, encoder, context, src) or lengths written as two symbols (L, S: PyTorch's
  // target and source) are cross-attention's: there is no causal order between them.
  bool keys_cache_the_queries() const {
    std::string name = lowered(tensor_name(key_));
    for (const char* cache : {"cache", "past"}) {
      if (name.find(cache) != std::string::npos) return true;
    }
    static const std::set<std::string> moves{"transpose", "permute", "contiguous", "clone", "view", "reshape", "unsqueeze", "getitem"};
    const CallDecl* producer = key_.producer;
    for (int step = 0; step < 8 && producer != nullptr; ++step) {
      if (producer->op == "cat") return true;
      auto input = producer->tensors.find("input");
      if (moves.count(producer->op) == 0 || input == producer->tensors.end() || input->second.kind != ArgRef::Kind::Named) break;
      producer = producer_of(ctx_.spec, input->second.name, producer);
    }
    // By the start of a word ("encoder_out", "mem_k"), not anywhere: "sequence" holds "enc".
    for (std::size_t start = 0; start < name.size();) {
      std::size_t end = start;
      while (end < name.size() && std::isalpha(static_cast<unsigned char>(name[end]))) ++end;
      const std::string word = name.substr(start, end - start);
      for (const char* other : {"mem", "enc", "context", "cross", "src"}) {
        if (word.rfind(other, 0) == 0) return false;
      }
      start = end + 1;
    }
    if (query_.written.size() != static_cast<std::size_t>(query_.rank()) || key_.written.size() != static_cast<std::size_t>(key_.rank())) return true;
    const DimExpr& length = query_.written[query_.rank() - 2];
    const DimExpr& keys = key_.written[key_.rank() - 2];
    if (length.is_constant() || keys.is_constant()) return length.is_constant() && keys.is_constant();
    return keys.symbol == length.symbol;
  }

  // L queries at the end of S keys (chunked prefill over a cache): the causal mask aligned
  // bottom-right, torch.ones(L, S).tril(S - L), passed as a bool attn_mask (True = take part)
  // in place of is_causal. Not for more queries than keys (the first rows would see nothing).
  void add_bottom_right_mask_fix(Diagnostic& diagnostic) {
    const DimExpr& length = query_.shape[query_.rank() - 2];
    const DimExpr& keys = key_.shape[key_.rank() - 2];
    bool fewer = length.is_constant() && keys.is_constant() ? length.offset < keys.offset
                                                            : ctx_.symbols.compare(length, keys) != Symbols::Verdict::Equal;
    if (!fewer) return;
    const DimExpr& written_length = query_.written[query_.rank() - 2];
    const DimExpr& written_keys = key_.written[key_.rank() - 2];
    std::string cached = length.is_constant() && keys.is_constant() ? fmt::format("the {} cached keys", keys.offset - length.offset)
                                                                    : "the cached keys";
    std::string description = fmt::format(
        "drop is_causal and pass the causal mask aligned bottom-right (query i sees {} and new keys 0..i): "
        "attn_mask=torch.ones({}, {}, dtype=torch.bool).tril({} - {})",
        cached, written_length.str(), written_keys.str(), written_keys.str(), written_length.str());
    nlohmann::json patch = {
        {{"op", "add"}, {"path", child_pointer(ctx_.call.pointer, "is_causal")}, {"value", false}},
        {{"op", "add"}, {"path", child_pointer(ctx_.call.pointer, "attn_mask")},
         {"value", {{"shape", shape_json({written_length, written_keys})}, {"dtype", "bool"}}}}};
    ctx_.add_patch_fix(diagnostic, description, patch);
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each new query sees the whole cache and the new keys up to its own");
  }

  // The mask is right-aligned with the scores (..., H, L, S): a mask dim whose name says batch
  // in the heads slot (a (B, L, S) mask) gives head h batch entry h's mask when B == H. With
  // B == 1 the only entry's mask reaches every head of the only entry: correct, no warning.
  // Sizes not known equal nor unequal: the call is valid only if B == H, a condition the roles
  // say is false (MHA083, an error: PyTorch fails whenever B != H); the broadcast's own MHA080
  // then becomes a note of it (fold_mask_condition). Sizes known unequal: PyTorch raises, and
  // mask_fits reports it (MHA208) with the same heads-dim fix. Returns the diagnostic's index in
  // ctx_.diagnostics, when reported.
  std::optional<std::size_t> check_mask_roles(const Shape& scores) {
    if (!mask_.present || mask_.rank() < 3 || scores.size() < 4 || mask_.rank() >= static_cast<int>(scores.size())) return std::nullopt;
    int heads_slot = mask_.rank() - 3;  // the mask dim that meets the scores' dim -3
    if (role_of_dim(mask_.dim_names, heads_slot) != DimRole::Batch) return std::nullopt;
    const DimExpr& heads = scores[scores.size() - 3];
    const DimExpr& batch = mask_.shape[heads_slot];
    Symbols::Verdict same_size = ctx_.symbols.compare(batch, heads);
    if (same_size == Symbols::Verdict::Unequal || ctx_.symbols.compare(batch, DimExpr::constant(1)) == Symbols::Verdict::Equal) {
      return std::nullopt;
    }
    std::size_t reported = ctx_.diagnostics.size();
    bool known = same_size == Symbols::Verdict::Equal;
    std::string placement = fmt::format("attn_mask {} is right-aligned with the scores {}: its dim {} \"{}\", a batch size, meets the heads slot",
                                        tuple_str(mask_.shape), tuple_str(scores), heads_slot, mask_.dim_name(heads_slot));
    Diagnostic& diagnostic =
        known ? ctx_.report(DiagId::SdpaMaskDimRole, placement, &mask_, heads_slot)
              : ctx_.report(DiagId::RoleCondition,
                            fmt::format("valid only if {} == {} (or {} == 1), but {} is a batch size and {} a head count: {}", batch.str(),
                                        heads.str(), batch.str(), batch.str(), heads.str(), placement),
                            &mask_, heads_slot);
    diagnostic.notes.push_back("PyTorch raises only when the batch size is neither the head count nor 1; with B == H head h gets "
                               "batch entry h's mask");
    add_heads_dim_fix(diagnostic, scores);
    return reported;
  }

  // attn_mask's last dim meets the keys (S). A mask whose last dim is the queries' length L, as a
  // symbol of its own, while the keys have another length (cross-attention over 577 image tokens
  // masked with the text's (B, 1, 1, T) mask), and with no dim of the keys' length, was made for
  // the queries: the call is valid only if L == S, which nothing ties (an error: PyTorch raises
  // whenever they differ). A mask with S elsewhere is written (..., S, L), its own MHA080. The broadcast's
  // MHA080 becomes a note of it. The fix reads the keys' mask instead, when the spec declares one
  // shaped like the mask's source with the keys' length in place of the queries'.
  std::optional<std::size_t> check_mask_of_queries(const Shape& scores) {
    if (!mask_.present || mask_.rank() < 1 || scores.size() < 2) return std::nullopt;
    const DimExpr& queries = scores[scores.size() - 2];
    const DimExpr& keys = scores.back();
    const DimExpr& last = mask_.shape.back();
    if (last.is_constant() || ctx_.symbols.compare(last, queries) != Symbols::Verdict::Equal ||
        ctx_.symbols.compare(last, keys) != Symbols::Verdict::EqualIf || ctx_.symbols.compare(queries, keys) != Symbols::Verdict::EqualIf) {
      return std::nullopt;
    }
    // A mask holding the keys' length elsewhere is laid out (..., S, L): transposed, not the queries'.
    for (const DimExpr& size : mask_.shape) {
      if (ctx_.symbols.compare(size, keys) == Symbols::Verdict::Equal) return std::nullopt;
    }
    std::size_t reported = ctx_.diagnostics.size();
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SdpaMaskOfQueries,
        fmt::format("valid only if {} == {}, but attn_mask {}'s last dim, which masks the keys (S = {}), holds {}, the queries' length: "
                    "the mask was made for the queries",
                    last.str(), keys.str(), tuple_str(mask_.shape), keys.str(), last.str()),
        &mask_, mask_.rank() - 1);
    diagnostic.notes.push_back(fmt::format("the scores are {} (..., L, S); PyTorch raises whenever {} != {}", tuple_str(scores), last.str(), keys.str()));
    if (!add_keys_mask_fix(diagnostic, keys)) {
      diagnostic.notes.push_back(fmt::format("pass the keys' mask: one entry per key position ({} of them), not per query", keys.str()));
    }
    return reported;
  }

  // The declared tensor the mask's values come from, followed up through calls with one tensor
  // input that keep or convert its entries (indexing, reshapes, casts, ~, comparisons with a
  // number), and the call reading it (null: attn_mask is that tensor); nullopt past any other call.
  std::optional<std::pair<std::string, const CallDecl*>> mask_source() const {
    static const std::set<std::string_view> converts{"bool", "to", "float", "half", "long", "int", "bitwise_not", "logical_not"};
    std::string name = input_name(ctx_.call, "attn_mask");
    const CallDecl* reader = nullptr;
    const CallDecl* call = mask_.producer;
    for (int step = 0; step < 16 && call != nullptr; ++step) {
      if (!keeps_values(call->op) && !is_comparison(call->op) && converts.count(call->op) == 0) return std::nullopt;
      std::string from = input_name(*call, "input");
      if (from.empty()) return std::nullopt;
      name = from;
      reader = call;
      call = producer_of(ctx_.spec, from, call);
    }
    if (call != nullptr || name.empty() || ctx_.spec.find_tensor(name) == nullptr) return std::nullopt;
    return std::make_pair(name, reader);
  }

  // Another declared tensor shaped as the mask's source with the keys' length where the source
  // has the queries' (encoder_attention_mask (B, 577) beside attention_mask (B, T)) is the keys'
  // mask: read it in place of the source.
  bool add_keys_mask_fix(Diagnostic& diagnostic, const DimExpr& keys) {
    std::optional<std::pair<std::string, const CallDecl*>> source = mask_source();
    if (!source) return false;
    const TensorDecl& made_from = *ctx_.spec.find_tensor(source->first);
    const DimExpr& queries = mask_.shape.back();
    auto same = [&](const DimExpr& a, const DimExpr& b) { return ctx_.symbols.compare(a, b) == Symbols::Verdict::Equal; };
    for (const TensorDecl& other : ctx_.spec.tensors) {
      if (other.name == made_from.name || other.shape.size() != made_from.shape.size()) continue;
      bool fits = true, replaced = false;
      for (std::size_t d = 0; d < other.shape.size() && fits; ++d) {
        bool swapped = same(made_from.shape[d], queries) && same(other.shape[d], keys);
        replaced = replaced || swapped;
        fits = swapped || same(made_from.shape[d], other.shape[d]);
      }
      if (!fits || !replaced) continue;
      std::string description =
          fmt::format("mask the keys: read {} {} (the keys' mask) instead of {} {}{}", other.name, tuple_str(other.shape), made_from.name,
                      tuple_str(made_from.shape), source->second != nullptr ? fmt::format(" in call \"{}\"", source->second->id) : "");
      if (source->second == nullptr) {
        if (!ctx_.add_argument_fix(diagnostic, description, "attn_mask", other.name)) return false;
      } else {
        auto input = source->second->tensors.find("input");
        if (input == source->second->tensors.end() || input->second.pointer.empty()) return false;
        ctx_.add_patch_fix(diagnostic, description,
                           nlohmann::json::array({{{"op", "replace"}, {"path", input->second.pointer}, {"value", other.name}}}));
      }
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "attn_mask masks key positions");
      return true;
    }
    return false;
  }

  // The mask's dim in the scores' heads slot is named as a batch size (a (B, L, S) mask): a new
  // size-1 dim after it, m[:, None], keeps each batch entry's mask and shares it by its heads.
  // Offered for MHA083/MHA250 (B and H not known unequal) and for MHA208 (B != H, PyTorch raises).
  void add_heads_dim_fix(Diagnostic& diagnostic, const Shape& scores) {
    if (mask_.rank() < 3 || mask_.rank() >= static_cast<int>(scores.size())) return;
    int heads_slot = mask_.rank() - 3;
    if (role_of_dim(mask_.dim_names, heads_slot) != DimRole::Batch) return;
    Shape unsqueezed = mask_.written;
    unsqueezed.insert(unsqueezed.begin() + heads_slot + 1, DimExpr::constant(1));
    std::string name = shown_name(mask_, "attn_mask");
    std::string index = "[";
    for (int i = 0; i <= heads_slot; ++i) index += ":, ";
    index += "None]";
    if (ctx_.add_shape_fix(diagnostic, fmt::format("give the mask a heads dim: {}{}", name, index), {{&mask_, unsqueezed}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry keeps its own mask, shared by its heads");
    }
  }

  // The broadcast's conditions on attn_mask (MHA080, reported after `role` at index `from`) are
  // what the role diagnostic says already: they become its notes. One cause, one diagnostic.
  void fold_mask_condition(std::size_t role, std::size_t from) {
    std::deque<Diagnostic>& all = ctx_.diagnostics;
    for (std::size_t i = all.size(); i-- > from;) {
      if (all[i].id != DiagId::SymbolConstraint || all[i].argument != mask_.argument) continue;
      all[role].notes.push_back(fmt::format("same cause: {} {}", all[i].info().code, all[i].message));
      all.erase(all.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  // The mask (or is_causal's (L, S) mask) is added in place to the scores: it must broadcast to
  // them without growing them.
  bool mask_fits(const Shape& scores) {
    if (!mask_.present) return true;  // is_causal builds an (L, S) mask that always fits
    CallContext::BroadcastFailure failing;
    std::size_t before = ctx_.diagnostics.size();
    std::optional<Shape> combined = ctx_.broadcast(scores, mask_.shape, &mask_, "attn_mask broadcast to the scores", failing);
    bool grows = combined && (combined->size() != scores.size() ||
                              !std::equal(combined->begin(), combined->end(), scores.begin(), [&](const DimExpr& x, const DimExpr& y) {
                                return ctx_.symbols.compare(x, y) == Symbols::Verdict::Equal;
                              }));
    if (combined && !grows) {
      // Valid only if L == S (MHA080): a mask written (..., S, L) fits only then; transposed it
      // fits for every size.
      for (std::size_t i = before; i < ctx_.diagnostics.size(); ++i) {
        if (ctx_.diagnostics[i].id == DiagId::SymbolConstraint) add_transposed_mask_fix(ctx_.diagnostics[i], scores);
      }
      return true;
    }
    Shape wanted = leading(scores, 0);
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SdpaMaskShape,
        fmt::format("attn_mask {} does not broadcast to the attention scores {} (..., L, S)", tuple_str(mask_.shape), tuple_str(scores)),
        &mask_);
    if (!combined) {
      ctx_.pytorch_raises(diagnostic, "RuntimeError", broadcast_message(failing));
    } else {
      ctx_.pytorch_raises(diagnostic, "RuntimeError",
                          fmt::format("output with shape {} doesn't match the broadcast shape {}", bracket_list(scores),
                                      bracket_list(*combined)));
    }
    add_heads_dim_fix(diagnostic, scores);
    // A (B, S) padding mask: one row of keys per batch entry, broadcast over heads and queries.
    bool padding = mask_.rank() == 2 && scores.size() == 4 &&
                   ctx_.symbols.compare(mask_.shape[0], scores[0]) == Symbols::Verdict::Equal &&
                   ctx_.symbols.compare(mask_.shape[1], scores[3]) == Symbols::Verdict::Equal;
    std::string name = tensor_name(mask_);
    if (padding && mask_.dtype == DType::Bool && mask_convention_of_name(name) == MaskConvention::TrueIgnores) {
      // A padding mask (True = padding) indexed per batch entry and inverted: a new tensor.
      ctx_.add_argument_fix(diagnostic, fmt::format("pass ~{}[:, None, None, :] (True = take part in SDPA)", name), "attn_mask",
                            {{"shape", shape_json({mask_.written[0], DimExpr::constant(1), DimExpr::constant(1), mask_.written[1]})},
                             {"dtype", "bool"}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry keeps its own padding, with SDPA's meaning of True");
    }
    if (padding) {
      ctx_.add_shape_fix(diagnostic, "index the (B, S) padding mask per batch entry: attn_mask[:, None, None, :]",
                         {{&mask_, Shape{mask_.written[0], DimExpr::constant(1), DimExpr::constant(1), mask_.written[1]}}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each batch entry keeps its own padding");
    }
    add_grouped_mask_fix(diagnostic, scores);
    add_tiled_mask_fix(diagnostic);
    add_transposed_mask_fix(diagnostic, scores);
    Shape last_two(scores.end() - 2, scores.end());
    ctx_.add_shape_fix(diagnostic, fmt::format("pass a {} attn_mask (shared by every batch entry and head)", tuple_str(last_two)),
                       {{&mask_, last_two}});
    // A mask with a batch or heads dim of its own holds one mask per entry: one (L, S) mask for
    // all of them drops that, whatever PyTorch accepts.
    bool per_entry = padding || std::any_of(mask_.shape.begin(), mask_.shape.end() - std::min<std::ptrdiff_t>(2, mask_.rank()),
                                            [&](const DimExpr& dim) {
                                              return ctx_.symbols.compare(dim, DimExpr::constant(1)) != Symbols::Verdict::Equal;
                                            });
    if (per_entry) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Suspect,
                                  padding ? "one (L, S) mask for every batch entry drops each entry's own padding"
                                          : "one (L, S) mask for every batch entry and head drops the mask's own batch or heads dims");
    }
    return false;
  }

  // The mask's last two dims are (keys, queries) the wrong way round: a (B, S) padding mask
  // unsqueezed at -1, (B, 1, S, 1), where (B, 1, 1, S) is meant. The scores are (..., L, S) and
  // a mask's dim -1 meets the keys: when its dim -2 is the key length and its dim -1 the query
  // length (or 1), transpose(-2, -1) puts each in its slot.
  void add_transposed_mask_fix(Diagnostic& diagnostic, const Shape& scores) {
    if (mask_.rank() < 2 || scores.size() < 2) return;
    const DimExpr& queries = scores[scores.size() - 2];
    const DimExpr& keys = scores.back();
    const DimExpr& mask_rows = mask_.shape[mask_.rank() - 2];
    const DimExpr& mask_columns = mask_.shape.back();
    auto equal = [&](const DimExpr& a, const DimExpr& b) { return ctx_.symbols.compare(a, b) == Symbols::Verdict::Equal; };
    if (!equal(mask_rows, keys) || !(equal(mask_columns, queries) || equal(mask_columns, DimExpr::constant(1)))) return;
    Shape transposed = mask_.written;
    std::swap(transposed[transposed.size() - 2], transposed[transposed.size() - 1]);
    std::string name = shown_name(mask_, "attn_mask");
    if (ctx_.add_shape_fix(diagnostic, fmt::format("put the mask's key dim last: {}.transpose(-2, -1), {}", name, tuple_str(transposed)),
                           {{&mask_, transposed}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the mask's key dim then meets the keys (dim -1 of the scores)");
    }
  }

  // A per-head mask or bias (H, L, S) against a query whose batch slot merges batch and heads
  // (B*H, bmm-style attention): tiled over the batch in the memory order of the merged dim. B*H
  // (heads inner: entry b*H + h) is mask.repeat(B, 1, 1); H*B (heads outer) is
  // mask.repeat_interleave(B, dim=0). The mask's dim is the factor of its name, else of its size
  // when the other factor's size differs.
  void add_tiled_mask_fix(Diagnostic& diagnostic) {
    if (mask_.rank() < 3 || query_.rank() < 3) return;
    int slot = mask_.rank() - 3;
    for (int d = 0; d < slot; ++d) {
      if (ctx_.symbols.compare(mask_.shape[d], DimExpr::constant(1)) != Symbols::Verdict::Equal) return;
    }
    std::vector<std::string> factors = name_factors(query_.dim_name(query_.rank() - 3));
    if (factors.size() != 2 || factors[0] == factors[1]) return;
    auto size_of = [&](const std::string& factor) { return ctx_.symbols.resolve(DimExpr::named(factor)); };
    auto is_mask_dim = [&](std::size_t i) {
      const std::string& named = mask_.dim_name(slot);
      if (!named.empty()) return named == factors[i];
      return ctx_.symbols.compare(mask_.shape[slot], size_of(factors[i])) == Symbols::Verdict::Equal &&
             ctx_.symbols.compare(mask_.shape[slot], size_of(factors[1 - i])) == Symbols::Verdict::Unequal;
    };
    bool inner = is_mask_dim(1);
    if (!inner && !is_mask_dim(0)) return;
    const std::string& times = factors[inner ? 0 : 1];
    std::string name = shown_name(mask_, "attn_mask");
    std::string tiling;
    if (inner) {
      std::vector<std::string> counts(static_cast<std::size_t>(mask_.rank()), "1");
      counts[static_cast<std::size_t>(slot)] = times;
      tiling = fmt::format("{}.repeat({})", name, fmt::join(counts, ", "));
    } else {
      tiling = fmt::format("{}.repeat_interleave({}, dim={})", name, times, slot);
    }
    Shape tiled = mask_.written;
    tiled[slot] = query_.written[query_.rank() - 3];
    std::string merged = query_.dim_name(query_.rank() - 3);
    if (ctx_.add_shape_fix(diagnostic,
                           fmt::format("tile the mask over {} as the query's {} is laid out ({} outer): {}", times, merged, factors[0], tiling),
                           {{&mask_, tiled}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                  fmt::format("each entry of the merged {} gets the mask of its own {}", merged, factors[inner ? 1 : 0]));
    }
  }

  // With enable_gqa the scores have the query's heads: a mask made per key/value head (its
  // heads slot holds the key's head count) repeats to them as the keys do, each key/value head's
  // row of the mask serving its block of consecutive query heads.
  void add_grouped_mask_fix(Diagnostic& diagnostic, const Shape& scores) {
    if (!ctx_.call.flag("enable_gqa") || mask_.rank() < 3 || key_.rank() < 3 || scores.size() < 3) return;
    int slot = mask_.rank() - 3;
    const DimExpr& heads = scores[scores.size() - 3];
    const DimExpr& mask_heads = mask_.shape[slot];
    if (!heads.is_constant() || !mask_heads.is_constant() || mask_heads.offset <= 1 || heads.offset % mask_heads.offset != 0 ||
        ctx_.symbols.compare(mask_heads, key_.shape[key_.rank() - 3]) != Symbols::Verdict::Equal) {
      return;
    }
    Shape repeated = mask_.written;
    repeated[slot] = heads;
    std::string name = shown_name(mask_, "attn_mask");
    if (ctx_.add_shape_fix(diagnostic,
                           fmt::format("repeat the mask per query head, as enable_gqa repeats the keys: {}.repeat_interleave({}, dim={})",
                                       name, heads.offset / mask_heads.offset, slot),
                           {{&mask_, repeated}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "query head h gets the mask of key/value head h // group");
    }
  }

  CallContext& ctx_;
  const ArgValue &query_, &key_, &value_, &mask_;
  std::optional<MergedSplit> merged_split_;
};

}  // namespace

void infer_scaled_dot_product_attention(CallContext& ctx) { SdpaRules(ctx).run(); }

}  // namespace mhacheck
