// PyTorch 2.x's standard (slow) path of torch/nn/modules/transformer.py in eval mode:
//   encoder layer: x = norm1(x + sa(x)); x = norm2(x + ff(x))       (norm_first: x + sa(norm1(x)), ...)
//   decoder layer: the same with a cross-attention block over memory between them, norm3 last
//   sa/ca = nn.MultiheadAttention(..., need_weights=False)[0];  ff = linear2(activation(linear1(x)))
//   stacks: every layer in turn (layers.0., layers.1., ...), then the optional final norm;
//   nn.Transformer: its encoder stack's output is the decoder stack's memory.
// Masks go to mha_forward as given: _canonical_mask's bool -> float (True -> -inf), done by the
// encoder layer and the stacks, gives exactly the values mha_forward adds for a bool mask.
// The stacks' is_causal=None (_detect_is_causal_mask) becomes True only for a mask that is
// exactly causal, for which the is_causal route and the mask give the same values, so None runs
// as False here.
#include "forward/forward_call.hpp"

#include <algorithm>
#include <stdexcept>

#include "forward/array_values.hpp"
#include "forward/blas.hpp"
#include "mhacheck/module_config.hpp"

namespace mhacheck {
namespace {

// What one attention block attends with: its masks, the call's arguments they came from (for
// diagnostics), and its is_causal flag.
struct Masks {
  const Array* mask = nullptr;
  const Array* padding = nullptr;
  bool is_causal = false;
  std::string mask_argument;
  std::string padding_argument;
};

Array added(const Array& a, const Array& b) {
  return with_float_type(a.dtype, [&](auto type) {
    using T = decltype(type);
    Array sum = a;
    T* out = sum.data<T>();
    const T* other = b.data<T>();
    for (std::int64_t i = 0; i < sum.size(); ++i) out[i] += other[i];
    return sum;
  });
}

class TransformerPass {
 public:
  TransformerPass(const ForwardCall& call, ForwardResult& result)
      : parameters_(*call.parameters),
        threads_(std::max(1, call.threads)),
        max_elements_(call.max_elements),
        capture_(call.capture_attention),
        result_(result) {
    blas::set_threads(threads_);
  }

  Array encoder_layer(const std::string& prefix, const LayerConfig& layer, const Array& src, const Masks& masks) {
    Array x = src;
    if (layer.norm_first) {
      x = added(x, attention(prefix + "self_attn", layer, norm(prefix + "norm1.", layer.norm(), x), nullptr, masks));
      return added(x, feed_forward(prefix, layer, norm(prefix + "norm2.", layer.norm(), x)));
    }
    x = norm(prefix + "norm1.", layer.norm(), added(x, attention(prefix + "self_attn", layer, x, nullptr, masks)));
    return norm(prefix + "norm2.", layer.norm(), added(x, feed_forward(prefix, layer, x)));
  }

  Array decoder_layer(const std::string& prefix, const LayerConfig& layer, const Array& tgt, const Array& memory, const Masks& self,
                      const Masks& cross) {
    Array x = tgt;
    if (layer.norm_first) {
      x = added(x, attention(prefix + "self_attn", layer, norm(prefix + "norm1.", layer.norm(), x), nullptr, self));
      x = added(x, attention(prefix + "multihead_attn", layer, norm(prefix + "norm2.", layer.norm(), x), &memory, cross));
      return added(x, feed_forward(prefix, layer, norm(prefix + "norm3.", layer.norm(), x)));
    }
    x = norm(prefix + "norm1.", layer.norm(), added(x, attention(prefix + "self_attn", layer, x, nullptr, self)));
    x = norm(prefix + "norm2.", layer.norm(), added(x, attention(prefix + "multihead_attn", layer, x, &memory, cross)));
    return norm(prefix + "norm3.", layer.norm(), added(x, feed_forward(prefix, layer, x)));
  }

  // TransformerEncoder / TransformerDecoder under `prefix` ("" or nn.Transformer's "encoder.").
  // `memory` is null for an encoder.
  Array stack(const std::string& prefix, const StackConfig& stack, const Array& input, const Array* memory, const Masks& self,
              const Masks& cross) {
    Array x = input;
    for (std::int64_t i = 0; i < stack.num_layers; ++i) {
      std::string layer = prefix + "layers." + std::to_string(i) + ".";
      x = memory != nullptr ? decoder_layer(layer, stack.layer, x, *memory, self, cross) : encoder_layer(layer, stack.layer, x, self);
    }
    return stack.norm ? norm(prefix + "norm.", *stack.norm, x) : x;
  }

 private:
  const Array* parameter(const std::string& name) const {
    auto found = parameters_.find(name);
    return found == parameters_.end() ? nullptr : &found->second;
  }
  const Array& required(const std::string& name) const {
    const Array* found = parameter(name);
    if (found == nullptr) throw std::logic_error("missing parameter " + name);
    return *found;
  }

  // A LayerNorm's weight and bias are there exactly when its configuration has them.
  Array norm(const std::string& prefix, const NormConfig& config, const Array& x) const {
    return layer_norm_forward(x, config.normalized_shape, config.eps, parameter(prefix + "weight"), parameter(prefix + "bias"));
  }

  Array feed_forward(const std::string& prefix, const LayerConfig& layer, const Array& x) const {
    std::vector<std::int64_t> hidden_shape = x.shape;  // (..., dim_feedforward): wider than any input or output
    hidden_shape.back() = layer.dim_feedforward;
    bounded_elements("the feed-forward hidden activations", hidden_shape, max_elements_);
    Array hidden = linear_forward(x, required(prefix + "linear1.weight"), parameter(prefix + "linear1.bias"));
    hidden = layer.activation == "gelu" ? gelu_forward(hidden) : relu_forward(hidden);
    return linear_forward(hidden, required(prefix + "linear2.weight"), parameter(prefix + "linear2.bias"));
  }

  // block(x, kv, kv, attn_mask, key_padding_mask, need_weights=False, is_causal)[0], kv = x for
  // self-attention (`key_value` null) or the memory.
  Array attention(const std::string& block, const LayerConfig& layer, const Array& x, const Array* key_value, const Masks& masks) {
    StateDict own;
    std::string prefix = block + ".";
    for (auto it = parameters_.lower_bound(prefix); it != parameters_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      own.emplace(it->first.substr(prefix.size()), it->second);
    }
    MhaInputs inputs;
    inputs.query = &x;
    inputs.key = inputs.value = key_value != nullptr ? key_value : &x;
    inputs.attn_mask = masks.mask;
    inputs.key_padding_mask = masks.padding;
    inputs.need_weights = false;
    inputs.is_causal = masks.is_causal;
    inputs.max_elements = max_elements_;
    if (capture_) {
      result_.attention_blocks.push_back(block);
      inputs.capture_probabilities = !result_.attention && (capture_->empty() || *capture_ == block);
    }
    MhaOutputs outputs = mha_forward(layer.attention(), own, inputs, threads_);
    if (outputs.probabilities) result_.attention = CapturedAttention{block, std::move(*outputs.probabilities), x.shape.size() == 3};
    if (!outputs.fully_masked_rows.empty()) {
      result_.fully_masked_blocks.push_back({block, masks.mask_argument, masks.padding_argument, std::move(outputs.fully_masked_rows)});
    }
    return std::move(outputs.attn_output);
  }

  const StateDict& parameters_;
  int threads_;
  std::int64_t max_elements_;                  // ForwardCall::max_elements
  const std::optional<std::string>& capture_;  // ForwardCall::capture_attention
  ForwardResult& result_;
};

// The masks a forward argument set gives one block: `mask` and `padding` name call arguments,
// `is_causal` a flag argument (true, false or None) or "" for none.
Masks masks_of(const ForwardCall& call, const std::string& mask, const std::string& padding, const std::string& is_causal) {
  Masks masks;
  masks.mask = call.tensor(mask);
  masks.padding = call.tensor(padding);
  const nlohmann::json& arguments = call.call->arguments;
  const nlohmann::json* flag = is_causal.empty() || !arguments.contains(is_causal) ? nullptr : &arguments.at(is_causal);
  masks.is_causal = flag != nullptr && flag->is_boolean() && flag->get<bool>();
  if (masks.mask != nullptr) masks.mask_argument = mask;
  if (masks.padding != nullptr) masks.padding_argument = padding;
  return masks;
}

// The decoder side's masks: the target's own attention, and its attention over memory.
Masks target_masks(const ForwardCall& call) { return masks_of(call, "tgt_mask", "tgt_key_padding_mask", "tgt_is_causal"); }
Masks memory_masks(const ForwardCall& call) { return masks_of(call, "memory_mask", "memory_key_padding_mask", "memory_is_causal"); }

}  // namespace

ForwardResult forward_transformer_encoder_layer(const ForwardCall& call) {
  ForwardResult result;
  TransformerPass pass(call, result);
  result.outputs.push_back(pass.encoder_layer("", layer_config(*call.module), *call.tensor("src"),
                                              masks_of(call, "src_mask", "src_key_padding_mask", "is_causal")));
  return result;
}

ForwardResult forward_transformer_decoder_layer(const ForwardCall& call) {
  ForwardResult result;
  TransformerPass pass(call, result);
  result.outputs.push_back(pass.decoder_layer("", layer_config(*call.module), *call.tensor("tgt"), *call.tensor("memory"), target_masks(call),
                                              memory_masks(call)));
  return result;
}

ForwardResult forward_transformer_encoder(const ForwardCall& call) {
  ForwardResult result;
  TransformerPass pass(call, result);
  result.outputs.push_back(pass.stack("", stack_config(*call.module), *call.tensor("src"), nullptr,
                                      masks_of(call, "mask", "src_key_padding_mask", "is_causal"), {}));
  return result;
}

ForwardResult forward_transformer_decoder(const ForwardCall& call) {
  ForwardResult result;
  TransformerPass pass(call, result);
  result.outputs.push_back(
      pass.stack("", stack_config(*call.module), *call.tensor("tgt"), call.tensor("memory"), target_masks(call), memory_masks(call)));
  return result;
}

ForwardResult forward_transformer(const ForwardCall& call) {
  ForwardResult result;
  TransformerPass pass(call, result);
  Array memory = pass.stack("encoder.", transformer_stack(*call.module, false), *call.tensor("src"), nullptr,
                            masks_of(call, "src_mask", "src_key_padding_mask", "src_is_causal"), {});
  result.outputs.push_back(
      pass.stack("decoder.", transformer_stack(*call.module, true), *call.tensor("tgt"), &memory, target_masks(call), memory_masks(call)));
  return result;
}

}  // namespace mhacheck
