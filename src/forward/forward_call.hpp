// What every operator's forward pass takes and gives, so that `run` calls each one through its
// row of the operator table (src/operators.cpp) without knowing which operator it is. The
// kernels themselves (mha_forward, linear_forward, ...) are in forward/attention_kernels.hpp and
// forward/module_kernels.hpp; the functions below adapt a checked call to them.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "forward/attention_kernels.hpp"
#include "forward/module_kernels.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// One checked call, with its tensors' data.
struct ForwardCall {
  const CallDecl* call = nullptr;
  const ModuleDecl* module = nullptr;       // null for a function
  const StateDict* parameters = nullptr;    // the module's; null for a function
  std::map<std::string, const Array*> tensors;  // by argument name ("tensors[1]"); absent ones missing
  std::vector<std::int64_t> output_shape;   // the check's first output, resolved
  DType output_dtype = DType::Float32;
  int threads = 1;
  // --max-elements: a kernel refuses (InputError) a buffer of more elements than this.
  std::int64_t max_elements = std::numeric_limits<std::int64_t>::max();
  // `run --plot` on this call: keep the attention probabilities of the block so named ("" for
  // nn.MultiheadAttention, F.scaled_dot_product_attention, or a module's first block).
  std::optional<std::string> capture_attention;
  // The check's symbol bindings, for arguments written with symbols (getitem's pe[:B]).
  const Symbols* symbols = nullptr;

  const Array* tensor(const std::string& name) const;     // null when absent
  const Array* parameter(const std::string& name) const;  // null when the module has none of that name
  const nlohmann::json& argument(const std::string& name) const { return call->arguments.at(name); }
};

// softmax(Q K^T * scale + mask) of one attention call or block, as `run --plot` draws it.
struct CapturedAttention {
  std::string block;    // a module's block ("layers.0.self_attn"); "" for an attention call
  Array probabilities;  // (N, H, L, S), N = 1 when unbatched
  bool batched = true;
};

struct ForwardResult {
  std::vector<Array> outputs;  // in the order PyTorch returns them (a None output left out)
  std::vector<FullyMaskedRow> fully_masked_rows;  // nn.MultiheadAttention, F.scaled_dot_product_attention
  std::vector<MaskedBlock> fully_masked_blocks;   // attention blocks inside a module
  std::optional<CapturedAttention> attention;     // with ForwardCall::capture_attention
  std::vector<std::string> attention_blocks;      // a module's blocks, in order, with capture_attention
};

using ForwardFn = ForwardResult (*)(const ForwardCall& call);

// The elements of a buffer of `sizes` (each non-negative; 0 when one is 0), refused above
// --max-elements before any product could overflow: InputError "`buffer` would have more than
// N elements (--max-elements)".
std::int64_t bounded_elements(const std::string& buffer, const std::vector<std::int64_t>& sizes, std::int64_t max_elements);

// query, key, value, attn_mask and is_causal of an attention call (nn.MultiheadAttention,
// F.scaled_dot_product_attention).
void read_attention_inputs(const ForwardCall& call, AttentionInputs& inputs);

// How a 3-D attn_mask's first dim, batch * heads, splits for one call: nn.MultiheadAttention's
// (N*num_heads, L, S) masks, whose layout the value checks of `run` read (a mask repeated per
// head where PyTorch expects it per batch entry).
struct AttnMaskLayout {
  std::int64_t batch = 1;
  std::int64_t heads = 1;
};
using AttnMaskLayoutFn = AttnMaskLayout (*)(const ForwardCall& call);
AttnMaskLayout attn_mask_layout_multihead_attention(const ForwardCall& call);  // forward/mha_forward.cpp
using ParametersFn = std::vector<ExpectedParameter> (*)(const ModuleDecl& module);
using InitialFn = StateDict (*)(const ModuleDecl& module, Random& random);

// ---- forward passes, one per operator (view, unsqueeze, squeeze and flatten share reshape's) ----
ForwardResult forward_multihead_attention(const ForwardCall& call);       // forward/mha_forward.cpp
ForwardResult forward_scaled_dot_product_attention(const ForwardCall& call);  // forward/sdpa_forward.cpp
ForwardResult forward_transformer_encoder_layer(const ForwardCall& call);  // forward/transformer_forward.cpp
ForwardResult forward_transformer_decoder_layer(const ForwardCall& call);
ForwardResult forward_transformer_encoder(const ForwardCall& call);
ForwardResult forward_transformer_decoder(const ForwardCall& call);
ForwardResult forward_transformer(const ForwardCall& call);
ForwardResult forward_linear(const ForwardCall& call);      // forward/linear.cpp
ForwardResult forward_layer_norm(const ForwardCall& call);  // forward/layer_norm.cpp
ForwardResult forward_embedding(const ForwardCall& call);   // forward/embedding.cpp
ForwardResult forward_conv(const ForwardCall& call);        // forward/conv.cpp: Conv1d and Conv2d
ForwardResult forward_transpose(const ForwardCall& call);   // forward/glue_forward.cpp
ForwardResult forward_permute(const ForwardCall& call);
ForwardResult forward_reshape(const ForwardCall& call);  // the same elements under the checked shape
ForwardResult forward_cat(const ForwardCall& call);
ForwardResult forward_getitem(const ForwardCall& call);  // forward/indexing.cpp
ForwardResult forward_select(const ForwardCall& call);
ForwardResult forward_narrow(const ForwardCall& call);
ForwardResult forward_split(const ForwardCall& call);  // split, split_with_sizes and chunk: one output per piece
ForwardResult forward_matmul(const ForwardCall& call);  // forward/glue_forward.cpp
ForwardResult forward_bmm(const ForwardCall& call);
ForwardResult forward_einsum(const ForwardCall& call);
ForwardResult forward_softmax(const ForwardCall& call);
// forward/glue_forward.cpp too: add, sub, mul, div, eq, ne, logical_and/or, bitwise_and/or by the call's op; sum and mean;
// masked_fill; expand, repeat and repeat_interleave.
ForwardResult forward_arithmetic(const ForwardCall& call);
ForwardResult forward_reduction(const ForwardCall& call);
ForwardResult forward_masked_fill(const ForwardCall& call);
ForwardResult forward_where(const ForwardCall& call);  // torch.where, numbers for input or other
ForwardResult forward_stack(const ForwardCall& call);
ForwardResult forward_constructor(const ForwardCall& call);  // ones, zeros, full, *_like, new_*, eye, arange
ForwardResult forward_clamp(const ForwardCall& call);
ForwardResult forward_pow(const ForwardCall& call);
ForwardResult forward_cumsum(const ForwardCall& call);
ForwardResult forward_flip(const ForwardCall& call);
ForwardResult forward_normalize(const ForwardCall& call);
ForwardResult forward_functional_linear(const ForwardCall& call);      // forward/linear.cpp
ForwardResult forward_functional_layer_norm(const ForwardCall& call);  // forward/layer_norm.cpp
ForwardResult forward_expand(const ForwardCall& call);
ForwardResult forward_repeat(const ForwardCall& call);
ForwardResult forward_repeat_interleave(const ForwardCall& call);
ForwardResult forward_activation(const ForwardCall& call);  // forward/activation.cpp, by the call's op
ForwardResult forward_logical_not(const ForwardCall& call);  // forward/glue_forward.cpp: logical_not and bitwise_not
ForwardResult forward_to(const ForwardCall& call);        // forward/glue_forward.cpp: the casts, as c10's static_cast
ForwardResult forward_triangle(const ForwardCall& call);  // tril and triu
ForwardResult forward_pad(const ForwardCall& call);       // F.pad, mode "constant"

// ---- each module's parameters: state_dict names and shapes, and PyTorch's initialisation ----
// (forward/module_parameters.cpp; nn.MultiheadAttention's own in forward/mha_parameters.cpp)
std::vector<ExpectedParameter> parameters_multihead_attention(const ModuleDecl& module);
std::vector<ExpectedParameter> parameters_transformer_encoder_layer(const ModuleDecl& module);
std::vector<ExpectedParameter> parameters_transformer_decoder_layer(const ModuleDecl& module);
std::vector<ExpectedParameter> parameters_transformer_stack(const ModuleDecl& module);  // encoder and decoder
std::vector<ExpectedParameter> parameters_transformer(const ModuleDecl& module);
std::vector<ExpectedParameter> parameters_linear(const ModuleDecl& module);
std::vector<ExpectedParameter> parameters_layer_norm(const ModuleDecl& module);
std::vector<ExpectedParameter> parameters_embedding(const ModuleDecl& module);
std::vector<ExpectedParameter> parameters_conv(const ModuleDecl& module);  // Conv1d and Conv2d
StateDict initial_multihead_attention(const ModuleDecl& module, Random& random);
StateDict initial_transformer_encoder_layer(const ModuleDecl& module, Random& random);
StateDict initial_transformer_decoder_layer(const ModuleDecl& module, Random& random);
StateDict initial_transformer_stack(const ModuleDecl& module, Random& random);
StateDict initial_transformer(const ModuleDecl& module, Random& random);
StateDict initial_linear(const ModuleDecl& module, Random& random);
StateDict initial_layer_norm(const ModuleDecl& module, Random& random);
StateDict initial_embedding(const ModuleDecl& module, Random& random);
StateDict initial_conv(const ModuleDecl& module, Random& random);

}  // namespace mhacheck
