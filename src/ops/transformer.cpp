// nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.TransformerEncoder,
// nn.TransformerDecoder and nn.Transformer: PyTorch 2.x's forwards (torch/nn/modules/
// transformer.py, the path taken in training mode or with grad enabled) replayed step by step
// over their parts. Each attention block runs nn.MultiheadAttention's own rules in an inner
// context, so that every error is the one PyTorch raises there; the feed-forward block and the
// residual adds cannot fail once attention has produced (..., d_model).
#include <algorithm>

#include <fmt/format.h>

#include "mhacheck/module_config.hpp"
#include "ops/mask_values.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// The layer's attention: nn.MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
// batch_first=batch_first, dtype=dtype), written where the layer's options are.
ModuleDecl attention_module(const LayerConfig& config) {
  ModuleDecl attention;
  attention.name = "self_attn";
  attention.type = "MultiheadAttention";
  attention.mha = config.attention();
  attention.pointer = config.holder->pointer;
  attention.written_as_call = config.holder->written_as_call;
  attention.path_in_call = config.holder->path_in_call;
  // The layer passes batch_first on: written for the attention where it is for the layer.
  const std::vector<std::string>& written = config.holder->given;
  if (std::find(written.begin(), written.end(), "batch_first") != written.end()) attention.given.push_back("batch_first");
  return attention;
}

// A float as Python's repr prints it: 1.5, 2.0, 1e-05.
std::string python_float(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";  // fmt writes 2, Python 2.0; both write 1e-05
  return text;
}

// A number option as Python prints the value written: an int as an int (dropout=2 prints 2).
std::string python_number(const nlohmann::json& value) {
  return value.is_number_integer() ? fmt::format("{}", value.get<std::int64_t>()) : python_float(value.get<double>());
}

// The written names of one attention block's inputs: the mask arguments (already in the
// ArgValues) and the is_causal flag the block takes (empty: derived, not written).
struct BlockNames {
  std::string is_causal;
  std::string scope;  // the note every diagnostic of the block carries
};

class TransformerRules {
 public:
  explicit TransformerRules(CallContext& ctx) : ctx_(ctx) {}

  // A mask to pass under another argument's name.
  struct MaskMove {
    const ArgValue* from;
    std::string to;
    std::string description;
    std::string note;  // why the move keeps what the mask means
  };

  // ---- constructors -------------------------------------------------------------------------

  // A layer's constructor: its self_attn (and multihead_attn, the same), linear1, the norms,
  // then the activation, in __init__'s order.
  bool layer_constructor_valid(const LayerConfig& config) {
    ModuleDecl attention = attention_module(config);
    CallContext attention_ctx = ctx_.inner(ctx_.call, &attention);
    attention_ctx.option_names = attention_options();
    bool valid = mha_constructor_valid(attention_ctx);
    ctx_.absorb(attention_ctx);
    if (!valid) return false;
    CallContext layer_ctx = ctx_.inner(ctx_.call, config.holder);
    valid = sizes_nonnegative(layer_ctx, {config.dim_feedforward, config.d_model}, "dim_feedforward");
    if (valid && (config.dropout < 0 || config.dropout > 1)) {
      std::string written = python_number(config.holder->options.at("dropout"));
      Diagnostic& diagnostic =
          layer_ctx.report_option(DiagId::DropoutRange, fmt::format("dropout {} is not a probability in [0, 1]", written), "dropout");
      layer_ctx.pytorch_raises(diagnostic, "ValueError", fmt::format("dropout probability has to be between 0 and 1, but got {}", written));
      layer_ctx.add_option_fix(diagnostic, "use dropout=0.1 (PyTorch's default)", {{"dropout", 0.1}});
      valid = false;
    }
    if (valid && config.activation != "relu" && config.activation != "gelu") {
      Diagnostic& diagnostic = layer_ctx.report_option(
          DiagId::ActivationInvalid, fmt::format("activation \"{}\" is not \"relu\" or \"gelu\"", config.activation), "activation");
      layer_ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("activation should be relu/gelu, not {}", config.activation));
      layer_ctx.add_option_fix(diagnostic, "use activation=\"relu\"", {{"activation", "relu"}});
      layer_ctx.add_option_fix(diagnostic, "use activation=\"gelu\"", {{"activation", "gelu"}});
      valid = false;
    }
    ctx_.absorb(layer_ctx);
    return valid;
  }

  // ---- the layers' forwards -----------------------------------------------------------------

  // TransformerEncoderLayer.forward: canonical masks, then [norm1 ->] self-attention ->
  // feed-forward. The masks' PyTorch names are the layer's own ("src_mask").
  std::optional<ArgValue> encoder_layer(const LayerConfig& config, const ArgValue& src, const ArgValue& src_mask,
                                        const ArgValue& key_padding_mask, bool is_causal, const BlockNames& names) {
    if (!canonical_mask_dtype(ctx_, key_padding_mask, "src_key_padding_mask")) return std::nullopt;
    mismatched_masks(ctx_, key_padding_mask, "src_key_padding_mask", src_mask, "src_mask");
    if (!canonical_mask_dtype(ctx_, src_mask, "src_mask")) return std::nullopt;
    for (const ArgValue* each : {&src_mask, &key_padding_mask}) check_ignore_mask_meaning(ctx_, *each, "nn." + ctx_.module->type);
    ArgValue mask = canonical_mask(src_mask, src.dtype), padding = canonical_mask(key_padding_mask, src.dtype);
    if (config.norm_first && !norm1_accepts(config, src)) return std::nullopt;
    return attention(config, "self_attn", src, src, mask, padding, is_causal, names, true);
  }

  // TransformerDecoderLayer.forward: no canonicalisation here; [norm1 ->] self-attention ->
  // [norm2 ->] cross-attention over memory -> feed-forward.
  std::optional<ArgValue> decoder_layer(const LayerConfig& config, const ArgValue& tgt, const ArgValue& memory, const ArgValue& tgt_mask,
                                        const ArgValue& memory_mask, const ArgValue& tgt_padding, const ArgValue& memory_padding,
                                        bool tgt_is_causal, bool memory_is_causal, const BlockNames& self_names,
                                        const BlockNames& cross_names) {
    if (config.norm_first && !norm1_accepts(config, tgt)) return std::nullopt;
    for (const ArgValue* each : {&tgt_mask, &memory_mask}) {
      std::size_t reported = ctx_.diagnostics.size();
      if (is_floating(each->dtype) && each->producer != nullptr) check_float_triangle_mask(ctx_, *each, "nn." + ctx_.module->type);
      if (ctx_.diagnostics.size() == reported) check_mask_values(ctx_, *each, MaskReading::TrueIgnores);
    }
    if (tgt.rank() == 3 && memory.rank() == 3) {
      const int batch = config.batch_first ? 0 : 1;
      check_tiling_orders(ctx_, {{&tgt, batch}, {&memory, batch}}, "each target sequence attends to another entry's memory (beam k of sentence b to another sentence)");
    }
    // Read before the blocks run: a condition they warn about binds the two sequence lengths.
    std::vector<MaskMove> moves = swapped_masks(config, tgt, memory, {tgt_mask, memory_mask, tgt_padding, memory_padding});
    std::size_t first_diagnostic = ctx_.diagnostics.size();
    std::optional<ArgValue> x = attention(config, "self_attn", tgt, tgt, tgt_mask, tgt_padding, tgt_is_causal, self_names, true);
    if (x) x = attention(config, "multihead_attn", *x, memory, memory_mask, memory_padding, memory_is_causal, cross_names, false);
    for (const MaskMove& move : moves) offer_move(first_diagnostic, move);
    return x;
  }

  // ---- the stacks ---------------------------------------------------------------------------

  // self.layers[0] is read before any layer runs.
  bool has_layers(std::int64_t num_layers, const ModuleDecl& stack, const std::string& option) {
    if (num_layers > 0) return true;
    CallContext stack_ctx = ctx_.inner(ctx_.call, &stack);
    Diagnostic& diagnostic =
        stack_ctx.report_option(DiagId::NoLayers, fmt::format("{} is {}: the stack has no layers", option, num_layers), option);
    stack_ctx.pytorch_raises(diagnostic, "IndexError", "index 0 is out of range");
    stack_ctx.add_option_fix(diagnostic, fmt::format("use {}=1", option), {{option, 1}});
    ctx_.absorb(stack_ctx);
    return false;
  }

  // _get_seq_len(src, batch_first): the sequence dim of a batched input, read by indexing
  // src.size() (a tuple) before any layer runs.
  bool sequence_readable(const ArgValue& input, bool batch_first, const std::string& stack) {
    int rank = input.rank();
    if (rank > (batch_first ? 1 : 0)) return true;  // a 2-D (S, E) input reads dim 0
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SequenceDim,
        fmt::format("{} is {}-D; {} reads the sequence length from dim {} of a batched input", input.argument, rank, stack,
                    batch_first ? 1 : 0),
        &input);
    ctx_.pytorch_raises(diagnostic, "IndexError", "tuple index out of range");
    diagnostic.notes.push_back(fmt::format("pass {} as {} or unbatched (L, E)", input.argument, batch_first ? "(N, L, E)" : "(L, N, E)"));
    return false;
  }

  // _detect_is_causal_mask with is_causal=None compares the mask with a causal mask built by
  // torch.full(..., -inf, dtype=mask.dtype): an integer dtype cannot hold -inf.
  bool causal_detectable(const ArgValue& mask, const nlohmann::json& is_causal) {
    if (!is_causal.is_null() || !mask.present || mask.dtype == DType::Bool || is_floating(mask.dtype)) return true;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::CausalDetectDType,
        fmt::format("{} is {}: detecting whether it is causal needs a bool or floating mask", mask.argument, dtype_name(mask.dtype)), &mask);
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        fmt::format("value cannot be converted to type {} without overflow", dtype_cpp_name(mask.dtype)));
    diagnostic.notes.push_back("with is_causal=None PyTorch compares the mask with generate_square_subsequent_mask(T) in the mask's dtype");
    ctx_.add_dtype_fix(diagnostic, fmt::format("pass {} as bool (True marks positions not to attend)", mask.argument), mask, DType::Bool);
    return false;
  }

  // A norm built for another width than the layers' (nn.Transformer's LayerNorm(512) pasted
  // beside a d_model = 256 layer): the layers fix the model width, so the norm's
  // normalized_shape is the one to change, to the trailing dims the layers give it.
  // `diagnostic` is the norm's MHA403 (its input's width), named by the caller: a diagnostic added
  // later (by the fix's verification) must not become the one patched.
  void width_fix_for_norm(Diagnostic& diagnostic, const ModuleDecl& norm, const NormConfig& config, const ArgValue& output, const std::string& stack) {
    const std::size_t count = config.normalized_shape.size();
    if (count == 0 || output.rank() < static_cast<int>(count)) return;
    nlohmann::json sizes = nlohmann::json::array();
    for (std::size_t i = output.shape.size() - count; i < output.shape.size(); ++i) {
      DimExpr size = ctx_.symbols.resolve(output.shape[i]);
      if (!size.is_constant()) return;
      sizes.push_back(size.offset);
    }
    std::string written = count == 1 ? sizes[0].dump() : sizes.dump();
    CallContext norm_ctx = ctx_.inner(ctx_.call, &norm);
    std::size_t before = diagnostic.fixes.size();
    if (norm_ctx.add_option_fix(diagnostic,
                                fmt::format("construct {}.norm as nn.LayerNorm({}), normalized_shape={}: the width its layers give", stack,
                                            written, written),
                                {{"normalized_shape", count == 1 ? sizes[0] : sizes}})) {
      // Before the fixes that change the tensors: the layers' width is the model's.
      std::rotate(diagnostic.fixes.begin(), diagnostic.fixes.begin() + static_cast<std::ptrdiff_t>(before), diagnostic.fixes.end());
    }
  }

  // A stack's final norm (None, or a LayerNorm of the spec's).
  bool final_norm_accepts(const ModuleDecl* norm, const ArgValue& output, const std::string& stack) {
    if (norm == nullptr) return true;
    NormConfig config = norm_config(*norm);
    std::size_t before = ctx_.diagnostics.size();
    bool accepted = layer_norm_accepts(ctx_, output, config.normalized_shape, config.elementwise_affine, config.dtype, stack + ".norm");
    for (std::size_t i = before; i < ctx_.diagnostics.size(); ++i) {
      ctx_.diagnostics[i].related.push_back({fmt::format("{}.norm is LayerNorm(normalized_shape=[{}])", stack, fmt::join(config.normalized_shape, ", ")),
                                                ctx_.spec.document.values.find(norm->pointer)});
      ctx_.diagnostics[i].notes.push_back(fmt::format("the norm applies to the last layer's output, which has {}'s shape", output.argument));
    }
    if (!accepted) {
      auto shape = std::find_if(ctx_.diagnostics.begin() + static_cast<std::ptrdiff_t>(before), ctx_.diagnostics.end(),
                                [](const Diagnostic& d) { return d.id == DiagId::LayerNormShape; });
      if (shape != ctx_.diagnostics.end()) width_fix_for_norm(*shape, *norm, config, output, stack);
    }
    return accepted;
  }

  // TransformerEncoder.forward.
  std::optional<ArgValue> encoder_stack(const LayerConfig& config, std::int64_t num_layers, const ModuleDecl& stack, const std::string& layers_option,
                                        const ModuleDecl* norm, const ArgValue& src, const ArgValue& mask, const ArgValue& key_padding_mask,
                                        const nlohmann::json& is_causal, const std::string& is_causal_name, const std::string& stack_name) {
    if (!canonical_mask_dtype(ctx_, key_padding_mask, "src_key_padding_mask")) return std::nullopt;
    mismatched_masks(ctx_, key_padding_mask, "src_key_padding_mask", mask, "mask");
    if (!canonical_mask_dtype(ctx_, mask, "mask")) return std::nullopt;
    for (const ArgValue* each : {&mask, &key_padding_mask}) check_ignore_mask_meaning(ctx_, *each, "nn." + ctx_.module->type);
    if (!has_layers(num_layers, stack, layers_option)) return std::nullopt;
    if (!sequence_readable(src, config.batch_first, stack_name)) return std::nullopt;
    // A mask detected as causal is (S, S) and valid as it is, so checking it as the mask gives
    // the same verdict as PyTorch's is_causal route.
    bool causal = is_causal.is_boolean() && is_causal.get<bool>();
    BlockNames names{is_causal_name, fmt::format("in layers[0] of {} (every layer sees the same shapes): ", stack_name)};
    std::optional<ArgValue> output = encoder_layer(config, src, canonical_mask(mask, src.dtype), canonical_mask(key_padding_mask, src.dtype),
                                                   causal, names);
    if (!output || !final_norm_accepts(norm, *output, stack_name)) return std::nullopt;
    return output;
  }

  // TransformerDecoder.forward.
  std::optional<ArgValue> decoder_stack(const LayerConfig& config, std::int64_t num_layers, const ModuleDecl& stack,
                                        const std::string& layers_option, const ModuleDecl* norm, const ArgValue& tgt,
                                        const ArgValue& memory, const ArgValue& tgt_mask, const ArgValue& memory_mask,
                                        const ArgValue& tgt_padding, const ArgValue& memory_padding, const nlohmann::json& tgt_is_causal,
                                        bool memory_is_causal, const std::string& tgt_is_causal_name,
                                        const std::string& memory_is_causal_name, const std::string& stack_name) {
    if (!has_layers(num_layers, stack, layers_option)) return std::nullopt;
    if (!sequence_readable(tgt, config.batch_first, stack_name)) return std::nullopt;
    if (!causal_detectable(tgt_mask, tgt_is_causal)) return std::nullopt;
    bool causal = tgt_is_causal.is_boolean() && tgt_is_causal.get<bool>();
    std::string scope = fmt::format("in layers[0] of {} (every layer sees the same shapes): ", stack_name);
    std::optional<ArgValue> output =
        decoder_layer(config, tgt, memory, tgt_mask, memory_mask, tgt_padding, memory_padding, causal, memory_is_causal,
                      {tgt_is_causal_name, scope}, {memory_is_causal_name, scope});
    if (!output || !final_norm_accepts(norm, *output, stack_name)) return std::nullopt;
    return output;
  }

  // nn.Transformer.forward's own checks before the encoder runs: src.size(1) (batch_first:
  // size(0)) against tgt's, evaluated before it asks whether src is batched, then the features.
  bool transformer_inputs_valid(const LayerConfig& config, const ArgValue& src, const ArgValue& tgt) {
    int batch = config.batch_first ? 0 : 1;
    for (const ArgValue* input : {&src, &tgt}) {
      if (input->rank() > batch) continue;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SequenceDim, fmt::format("{} is {}-D; nn.Transformer reads its batch size from dim {}", input->argument, input->rank(), batch),
          input);
      ctx_.pytorch_raises(diagnostic, "IndexError",
                          input->rank() == 0 ? fmt::format("Dimension specified as {} but tensor has no dimensions", batch)
                                             : "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
      return false;
    }
    if (src.rank() == 3 && ctx_.symbols.compare(src.shape[batch], tgt.shape[batch]) == Symbols::Verdict::Unequal) {
      Diagnostic& diagnostic = ctx_.report(
          DiagId::TransformerBatch,
          fmt::format("src has batch size {} but tgt has {} (dim {}{})", src.shape[batch].str(), tgt.shape[batch].str(), batch,
                      config.batch_first ? ", batch_first=True" : ", batch_first=False"),
          &tgt, batch);
      diagnostic.related.push_back(ctx_.related(src, batch, fmt::format("src batch = {}", src.shape[batch].str())));
      ctx_.pytorch_raises(diagnostic, "RuntimeError", "the batch number of src and tgt must be equal");
      // The other batch_first reads the batch from the other dim, which a 1-D tgt lacks.
      const int other = 1 - batch;
      if (tgt.rank() > other && ctx_.symbols.compare(src.shape[other], tgt.shape[other]) == Symbols::Verdict::Equal) {
        ctx_.add_option_fix(diagnostic, fmt::format("construct with batch_first={}", config.batch_first ? "False" : "True"),
                            {{"batch_first", !config.batch_first}});
      }
      return false;
    }
    if (src.rank() == 3) ctx_.same(src.shape[batch], tgt.shape[batch], &tgt, batch, "src batch == tgt batch");
    for (const ArgValue* input : {&src, &tgt}) {
      const DimExpr& features = input->shape.back();
      if (ctx_.symbols.compare(features, DimExpr::constant(config.d_model)) != Symbols::Verdict::Unequal) continue;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::TransformerFeatures, fmt::format("{} has {} features (its last dim) but d_model is {}", input->argument, features.str(), config.d_model),
          input, input->rank() - 1);
      diagnostic.related.push_back({fmt::format("d_model = {}", config.d_model), ctx_.option_location("d_model")});
      ctx_.pytorch_raises(diagnostic, "RuntimeError", "the feature number of src and tgt must be equal to d_model");
      if (features.is_constant() && input == &src &&
          ctx_.symbols.compare(tgt.shape.back(), features) == Symbols::Verdict::Equal) {
        ctx_.add_option_fix(diagnostic, fmt::format("construct with d_model={}", features.offset), {{"d_model", features.offset}});
      }
      return false;
    }
    for (const ArgValue* input : {&src, &tgt}) ctx_.same(input->shape.back(), DimExpr::constant(config.d_model), input, input->rank() - 1, "features == d_model");
    return true;
  }

  // nn.Transformer: a mask of the target's length passed under the encoder's name, the decoder's
  // own argument left free: a (T, T) mask as src_mask (the target attending to itself: tgt_mask),
  // the target's (N, T) padding mask as src_key_padding_mask (tgt_key_padding_mask). Read before
  // the stacks run: a condition they warn about binds the two sequence lengths.
  std::vector<MaskMove> target_masks_given_to_source(const LayerConfig& config, const ArgValue& src, const ArgValue& tgt,
                                                     const ArgValue& src_mask, const ArgValue& src_padding, const ArgValue& tgt_mask,
                                                     const ArgValue& tgt_padding) {
    std::vector<MaskMove> moves;
    if (tgt.rank() < 2 || src.rank() < 2) return moves;
    const DimExpr& target = sequence_of(tgt, config.batch_first);
    const DimExpr& source = sequence_of(src, config.batch_first);
    auto equal = [&](const DimExpr& a, const DimExpr& b) { return ctx_.symbols.compare(a, b) == Symbols::Verdict::Equal; };
    if (src_mask.present && !tgt_mask.present && src_mask.rank() == 2 && equal(src_mask.shape[0], target) &&
        equal(src_mask.shape[1], target) && !equal(src_mask.shape[1], source)) {
      moves.push_back({&src_mask, "tgt_mask",
                       fmt::format("pass the ({0}, {0}) mask as tgt_mask, the decoder's self-attention mask: tgt_mask={1}", target.str(),
                                   src_mask.argument),
                       "a (T, T) mask relates the target sequence to itself: the decoder's tgt_mask"});
    }
    if (src_padding.present && !tgt_padding.present && src_padding.rank() >= 1 && equal(src_padding.shape.back(), target) &&
        !equal(src_padding.shape.back(), source)) {
      moves.push_back({&src_padding, "tgt_key_padding_mask",
                       fmt::format("pass the target's padding mask as tgt_key_padding_mask: tgt_key_padding_mask={}", src_padding.argument),
                       "its last dim is the target's sequence length: it pads the decoder's self-attention keys"});
    }
    return moves;
  }

  std::size_t diagnostics_so_far() const { return ctx_.diagnostics.size(); }

  void offer_moves(std::size_t first_diagnostic, const std::vector<MaskMove>& moves) {
    for (const MaskMove& move : moves) offer_move(first_diagnostic, move);
  }

 private:
  struct DecoderMasks {
    const ArgValue& tgt_mask;
    const ArgValue& memory_mask;
    const ArgValue& tgt_padding;
    const ArgValue& memory_padding;
  };

  // The sequence length of a decoder input: (T, N, E), (N, T, E) with batch_first, or (T, E).
  static const DimExpr& sequence_of(const ArgValue& input, bool batch_first) {
    return input.shape[input.rank() == 3 && batch_first ? 1 : 0];
  }

  // A decoder mask passed under its sibling's name, the other name left free: a (T, T) mask as
  // memory_mask (the target attending to itself: tgt_mask), memory's (N, S) padding mask as
  // tgt_key_padding_mask (the keys it pads are memory's: memory_key_padding_mask). Reshaping the
  // mask to fit the argument it was given as would keep the call valid and lose what the mask
  // says, so the move is offered as the fix consistent with its dims' roles.
  std::vector<MaskMove> swapped_masks(const LayerConfig& config, const ArgValue& tgt, const ArgValue& memory, const DecoderMasks& masks) {
    std::vector<MaskMove> moves;
    if (tgt.rank() < 2 || memory.rank() < 2) return moves;
    const DimExpr& target = sequence_of(tgt, config.batch_first);
    const DimExpr& source = sequence_of(memory, config.batch_first);
    auto equal = [&](const DimExpr& a, const DimExpr& b) { return ctx_.symbols.compare(a, b) == Symbols::Verdict::Equal; };
    const ArgValue& attn = masks.memory_mask;
    if (attn.present && !masks.tgt_mask.present && attn.rank() == 2 && equal(attn.shape[0], target) && equal(attn.shape[1], target) &&
        !equal(attn.shape[1], source)) {
      moves.push_back({&attn, "tgt_mask",
                       fmt::format("pass the ({0}, {0}) mask as tgt_mask, the target's self-attention mask: tgt_mask={1}", target.str(),
                                   attn.argument),
                       "a (T, T) mask relates the target sequence to itself: the self-attention's tgt_mask"});
    }
    const ArgValue& padding = masks.tgt_padding;
    if (padding.present && !masks.memory_padding.present && padding.rank() >= 1 && equal(padding.shape.back(), source) &&
        !equal(padding.shape.back(), target)) {
      moves.push_back({&padding, "memory_key_padding_mask",
                       fmt::format("pass memory's padding mask as memory_key_padding_mask: memory_key_padding_mask={}", padding.argument),
                       "its last dim is memory's sequence length: it pads the cross-attention's keys"});
    }
    return moves;
  }

  // Adds `move` to the diagnostics about its mask since `first_diagnostic`, first.
  void offer_move(std::size_t first_diagnostic, const MaskMove& move) {
    std::optional<std::string> from_pointer = ctx_.argument_pointer(move.from->argument), to_pointer = ctx_.argument_pointer(move.to);
    if (!from_pointer || !to_pointer) return;
    nlohmann::json::json_pointer written(*from_pointer);
    if (!ctx_.spec.value().contains(written)) return;
    // remove and add rather than RFC 6902's move: the patch shows the mask it carries over.
    nlohmann::json patch = {{{"op", "remove"}, {"path", *from_pointer}},
                            {{"op", "add"}, {"path", *to_pointer}, {"value", ctx_.spec.value().at(written)}}};
    for (std::size_t i = first_diagnostic; i < ctx_.diagnostics.size(); ++i) {
      Diagnostic& diagnostic = ctx_.diagnostics[i];
      if (diagnostic.argument != move.from->argument) continue;
      diagnostic.fixes.insert(diagnostic.fixes.begin(), Fix{move.description, patch, false, FixSemantics::Consistent, move.note, {}, {}});
    }
  }

  static std::map<std::string, std::string> attention_options() {
    return {{"embed_dim", "d_model"}, {"num_heads", "nhead"}, {"batch_first", "batch_first"}, {"bias", "bias"}, {"dtype", "dtype"}};
  }

  bool norm1_accepts(const LayerConfig& config, const ArgValue& input) {
    std::size_t before = ctx_.diagnostics.size();
    bool accepted = layer_norm_accepts(ctx_, input, {config.d_model}, true, config.dtype, "norm1");
    for (std::size_t i = before; i < ctx_.diagnostics.size(); ++i) {
      ctx_.diagnostics[i].related.push_back({fmt::format("d_model = {}", config.d_model), option_location(config, "d_model")});
      ctx_.diagnostics[i].notes.push_back(fmt::format(
          "norm_first=True: norm1 = LayerNorm(d_model={}) sees {} before the self-attention does", config.d_model, input.argument));
    }
    return accepted;
  }

  Location option_location(const LayerConfig& config, const std::string& option) const {
    CallContext holder_ctx = ctx_.inner(ctx_.call, config.holder);
    return holder_ctx.option_location(option);
  }

  // One attention block: self_attn(x, x, x, ...) or multihead_attn(x, memory, memory, ...),
  // need_weights=False. Returns the block's output (x's shape and dtype), or nullopt.
  std::optional<ArgValue> attention(const LayerConfig& config, const std::string& block, const ArgValue& query, const ArgValue& key_value,
                                    const ArgValue& attn_mask, const ArgValue& key_padding_mask, bool is_causal, const BlockNames& names,
                                    bool self_attention) {
    ModuleDecl attention = attention_module(config);
    attention.name = block;
    // The block's call: the layer's id and place, nn.MultiheadAttention's plain arguments.
    CallDecl call;
    call.id = ctx_.call.id;
    call.pointer = ctx_.call.pointer;
    call.op = "MultiheadAttention";
    call.arguments = {{"need_weights", false}, {"average_attn_weights", true}, {"is_causal", is_causal}};
    // The layer's own mask argument as written, so that a fix may move it (an (N, S) src_mask is
    // src_key_padding_mask given as the wrong argument).
    if (auto written = ctx_.call.tensors.find(attn_mask.argument); attn_mask.present && written != ctx_.call.tensors.end()) {
      call.tensors["attn_mask"] = written->second;
    }
    // The padding mask's reference under its written name, so that a call inserted on it (a mask
    // computed on the features reduced to the positions) is inserted where the layer reads it.
    if (auto written = ctx_.call.tensors.find(key_padding_mask.argument); key_padding_mask.present && written != ctx_.call.tensors.end()) {
      call.tensors[key_padding_mask.argument] = written->second;
    }
    CallContext inner = ctx_.inner(call, &attention);
    inner.option_names = attention_options();
    if (!names.is_causal.empty()) inner.argument_names["is_causal"] = names.is_causal;
    inner.argument_names["attn_mask"] = attn_mask.argument;
    inner.argument_names["key_padding_mask"] = key_padding_mask.argument;
    inner.args["query"] = query;
    inner.args["key"] = key_value;
    inner.args["value"] = key_value;
    inner.args["key_padding_mask"] = key_padding_mask;
    inner.args["attn_mask"] = attn_mask;
    inner.scope_note = fmt::format(
        "{}PyTorch calls {}({}, {}, {}, attn_mask={}, key_padding_mask={}, need_weights=False{})", names.scope, block, query.argument,
        key_value.argument, key_value.argument, attn_mask.present ? attn_mask.argument : "None",
        key_padding_mask.present ? key_padding_mask.argument : "None", is_causal ? ", is_causal=True" : "");
    infer_multihead_attention(inner);
    if (!self_attention) {
      // The reading of a 3-D input was noted for the self-attention already.
      std::erase_if(inner.diagnostics, [](const Diagnostic& d) { return d.id == DiagId::Interpretation; });
    }
    bool ok = !inner.has_errors();
    std::optional<NamedOutput> output = ok && !inner.outputs.empty() ? std::optional(inner.outputs.front()) : std::nullopt;
    ctx_.absorb(inner);
    if (!output) return std::nullopt;
    // x after the block: a new tensor shaped like the query.
    ArgValue x = query;
    x.identity = fmt::format("{}:{}:{}", ctx_.call.id, block, query.identity);
    x.shape = output->shape;
    x.dtype = output->dtype;
    x.origin = fmt::format("{} after {}", query.argument, block);
    return x;
  }

  CallContext& ctx_;
};

// The argument as the spec calls it in an inner role ("memory": the encoder's output).
ArgValue derived(const ArgValue& from, const std::string& argument, const std::string& origin, const std::string& identity) {
  ArgValue value = from;
  value.argument = argument;
  value.origin = origin;
  value.identity = identity;
  value.shape_pointer.clear();
  value.dtype_pointer.clear();
  return value;
}

const nlohmann::json& argument_value(const CallContext& ctx, const std::string& name) { return ctx.call.arguments.at(name); }

// The module's one output, shaped as the last layer left it, when nothing failed.
void produce(CallContext& ctx, const std::optional<ArgValue>& output) {
  if (output && !ctx.has_errors()) ctx.outputs.push_back({"output", output->shape, output->dtype});
}

// The JSON `argument` is written with in `call`: a tensor's name, which passed as another argument
// passes the same tensor, or an inline shape, which declares another tensor of that shape (a spec
// cannot say two inline tensors are one; the fix's text names the argument to pass).
std::optional<nlohmann::json> written_argument(const Spec& spec, const CallDecl& call, const std::string& argument) {
  nlohmann::json::json_pointer pointer(child_pointer(call.pointer, argument));
  if (!spec.value().contains(pointer) || spec.value().at(pointer).is_null()) return std::nullopt;
  return spec.value().at(pointer);
}

// MHA415: the encoder masks the padded source positions in its own self-attention only; the
// decoder's cross-attention reads every row of the memory unless memory_key_padding_mask masks
// the same positions. `source_call` is the call given the source's padding mask (this one for
// nn.Transformer, the encoder's call for a decoder fed its output).
void check_memory_padding(CallContext& ctx, const CallDecl& source_call, const std::string& source_mask) {
  if (ctx.has_errors() || ctx.arg("memory_key_padding_mask").present) return;
  std::optional<nlohmann::json> padding = written_argument(ctx.spec, source_call, source_mask);
  if (!padding) return;
  const bool own = &source_call == &ctx.call;
  Diagnostic& diagnostic = ctx.report(
      DiagId::MemoryPaddingUnmasked,
      own ? fmt::format("{} masks the source's padding in the encoder only: without memory_key_padding_mask the decoder attends to the padded "
                        "positions of the memory",
                        source_mask)
          : fmt::format("the memory is the output of call \"{}\", whose {} masks the source's padding: without memory_key_padding_mask the "
                        "decoder attends to the padded positions",
                        source_call.id, source_mask));
  diagnostic.notes.push_back("every target position gives weight to the padded source positions; PyTorch raises nothing");
  ctx.add_argument_fix(diagnostic,
                       fmt::format("pass memory_key_padding_mask={}: the memory has the source's positions",
                                   padding->is_string() ? padding->get<std::string>() : source_mask),
                       "memory_key_padding_mask", *padding);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the memory's rows are the source's positions, padded where the source is");
}

// The encoder call whose output the decoder reads as memory, and the name of its padding mask.
void check_encoded_memory_padding(CallContext& ctx) {
  const CallDecl* encoder = ctx.arg("memory").producer;
  if (encoder == nullptr || encoder->module.empty()) return;
  const ModuleDecl* module = ctx.spec.find_module(encoder->module);
  if (module == nullptr || (module->type != "TransformerEncoder" && module->type != "TransformerEncoderLayer")) return;
  check_memory_padding(ctx, *encoder, "src_key_padding_mask");
}

// MHA416: a decoder-only model built from TransformerDecoder passes the target as the memory
// too. tgt_mask hides the future from self-attention only; cross-attention reads the whole
// memory, the target's future included, unless memory_mask hides it as well.
void check_memory_is_target(CallContext& ctx) {
  const ArgValue& tgt = ctx.arg("tgt");
  const ArgValue& memory = ctx.arg("memory");
  if (ctx.has_errors() || tgt.identity != memory.identity || !ctx.arg("tgt_mask").present || ctx.arg("memory_mask").present) return;
  std::optional<nlohmann::json> mask = written_argument(ctx.spec, ctx.call, "tgt_mask");
  if (!mask) return;
  Diagnostic& diagnostic = ctx.report(DiagId::MemoryIsTarget,
                                      "the memory is the target itself and only tgt_mask is given: the cross-attention block lets every "
                                      "position see the whole target, its future included",
                                      &memory);
  diagnostic.notes.push_back("tgt_mask applies to self-attention only; memory_mask (None) leaves cross-attention unmasked");
  ctx.add_argument_fix(diagnostic,
                       fmt::format("pass memory_mask={}: cross-attention to the target hides the same future",
                                   mask->is_string() ? mask->get<std::string>() : "tgt_mask"),
                       "memory_mask", *mask);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the memory's positions are the target's");
}

}  // namespace

void infer_transformer_encoder_layer(CallContext& ctx) {
  TransformerRules rules(ctx);
  LayerConfig config = layer_config(*ctx.module);
  if (!rules.layer_constructor_valid(config)) return;
  BlockNames names{"is_causal", ""};
  std::optional<ArgValue> output = rules.encoder_layer(config, ctx.arg("src"), ctx.arg("src_mask"), ctx.arg("src_key_padding_mask"),
                                                       ctx.call.flag("is_causal"), names);
  produce(ctx, output);
}

void infer_transformer_decoder_layer(CallContext& ctx) {
  TransformerRules rules(ctx);
  LayerConfig config = layer_config(*ctx.module);
  if (!rules.layer_constructor_valid(config)) return;
  std::optional<ArgValue> output = rules.decoder_layer(
      config, ctx.arg("tgt"), ctx.arg("memory"), ctx.arg("tgt_mask"), ctx.arg("memory_mask"), ctx.arg("tgt_key_padding_mask"),
      ctx.arg("memory_key_padding_mask"), ctx.call.flag("tgt_is_causal"), ctx.call.flag("memory_is_causal"), {"tgt_is_causal", ""},
      {"memory_is_causal", ""});
  check_encoded_memory_padding(ctx);
  check_memory_is_target(ctx);
  produce(ctx, output);
}

void infer_transformer_encoder(CallContext& ctx) {
  TransformerRules rules(ctx);
  const ModuleDecl& layer = *ctx.module->submodule("encoder_layer");
  LayerConfig config = layer_config(layer);
  if (!rules.layer_constructor_valid(config)) return;
  std::optional<ArgValue> output =
      rules.encoder_stack(config, ctx.module->integer("num_layers"), *ctx.module, "num_layers", ctx.module->submodule("norm"), ctx.arg("src"),
                          ctx.arg("mask"), ctx.arg("src_key_padding_mask"), argument_value(ctx, "is_causal"), "is_causal", "TransformerEncoder");
  produce(ctx, output);
}

void infer_transformer_decoder(CallContext& ctx) {
  TransformerRules rules(ctx);
  const ModuleDecl& layer = *ctx.module->submodule("decoder_layer");
  LayerConfig config = layer_config(layer);
  if (!rules.layer_constructor_valid(config)) return;
  std::optional<ArgValue> output = rules.decoder_stack(
      config, ctx.module->integer("num_layers"), *ctx.module, "num_layers", ctx.module->submodule("norm"), ctx.arg("tgt"), ctx.arg("memory"),
      ctx.arg("tgt_mask"), ctx.arg("memory_mask"), ctx.arg("tgt_key_padding_mask"), ctx.arg("memory_key_padding_mask"),
      argument_value(ctx, "tgt_is_causal"), ctx.call.flag("memory_is_causal"), "tgt_is_causal", "memory_is_causal", "TransformerDecoder");
  check_encoded_memory_padding(ctx);
  check_memory_is_target(ctx);
  produce(ctx, output);
}

// nn.Transformer: its encoder and decoder are stacks of layers built from its own options,
// each with a final LayerNorm(d_model), which a layer's output always fits.
void infer_transformer(CallContext& ctx) {
  TransformerRules rules(ctx);
  LayerConfig config = layer_config(*ctx.module);
  if (!rules.layer_constructor_valid(config)) return;
  const ArgValue& src = ctx.arg("src");
  const ArgValue& tgt = ctx.arg("tgt");
  if (!rules.transformer_inputs_valid(config, src, tgt)) return;
  const auto moves = rules.target_masks_given_to_source(config, src, tgt, ctx.arg("src_mask"), ctx.arg("src_key_padding_mask"),
                                                        ctx.arg("tgt_mask"), ctx.arg("tgt_key_padding_mask"));
  const std::size_t first_diagnostic = rules.diagnostics_so_far();
  std::optional<ArgValue> memory = rules.encoder_stack(
      config, ctx.module->integer("num_encoder_layers"), *ctx.module, "num_encoder_layers", nullptr, src, ctx.arg("src_mask"),
      ctx.arg("src_key_padding_mask"), argument_value(ctx, "src_is_causal"), "src_is_causal", "the encoder");
  rules.offer_moves(first_diagnostic, moves);
  if (!memory) return;
  ArgValue encoded = derived(*memory, "memory", "the encoder's output (src's shape)", "encoder-output:" + ctx.call.id);
  std::optional<ArgValue> output = rules.decoder_stack(
      config, ctx.module->integer("num_decoder_layers"), *ctx.module, "num_decoder_layers", nullptr, tgt, encoded, ctx.arg("tgt_mask"),
      ctx.arg("memory_mask"), ctx.arg("tgt_key_padding_mask"), ctx.arg("memory_key_padding_mask"), argument_value(ctx, "tgt_is_causal"),
      ctx.call.flag("memory_is_causal"), "tgt_is_causal", "memory_is_causal", "the decoder");
  check_memory_padding(ctx, ctx.call, "src_key_padding_mask");
  produce(ctx, output);
}

}  // namespace mhacheck
