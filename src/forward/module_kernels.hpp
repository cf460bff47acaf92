// The reference CPU forward passes of nn.Linear, nn.LayerNorm, nn.Embedding and the Transformer
// modules (TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
// TransformerDecoder, Transformer), PyTorch 2.x's standard path in eval mode (no dropout), in
// float32 or float64; their parameters by state_dict name and PyTorch's initialisation.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "forward/attention_kernels.hpp"
#include "mhacheck/npy.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// ---- kernels: float32 or float64 arrays in, the same dtype out ------------------------------

// F.linear: input (..., in_features) times weight (out_features, in_features) transposed, plus
// bias (out_features) when given.
Array linear_forward(const Array& input, const Array& weight, const Array* bias);

// F.layer_norm over the trailing dims whose sizes are normalized_shape: biased variance, eps
// inside the square root, then weight and bias (each optional) elementwise.
Array layer_norm_forward(const Array& input, const std::vector<std::int64_t>& normalized_shape, double eps, const Array* weight,
                         const Array* bias);

// F.relu, and F.gelu with approximate="none" (the erf form, PyTorch's default).
Array relu_forward(const Array& input);
Array gelu_forward(const Array& input);

// An index outside the embedding table: PyTorch raises IndexError.
struct IndexOutOfRange : std::exception {
  std::vector<std::int64_t> position;  // the index's position in the input tensor
  std::int64_t value = 0;
  std::int64_t num_embeddings = 0;
  std::string pytorch_message;  // "index out of range in self", or (max_norm) embedding_renorm_'s select()'s
  const char* what() const noexcept override { return pytorch_message.c_str(); }
};

// F.embedding: the rows of weight (num_embeddings, embedding_dim) that the integer indices name,
// output shape indices.shape + (embedding_dim,). With max_norm, a looked-up row whose
// norm_type-norm exceeds max_norm is scaled down first, as embedding_renorm_ does to the weight.
// Throws IndexOutOfRange for the first index (in C order) outside [0, num_embeddings).
Array embedding_forward(const Array& weight, const Array& indices, std::optional<double> max_norm, double norm_type);

// ---- parameters ----------------------------------------------------------------------------

// The parameters of any supported module, with their shapes, in state_dict order, named
// relative to the module ("layers.0.self_attn.in_proj_weight").
std::vector<ExpectedParameter> module_parameters(const ModuleDecl& module);
// The elements of those parameters together (what initialising or loading them allocates),
// counted without listing a stack's layers; INT64_MAX when that does not fit in an int64.
std::int64_t parameter_elements(const ModuleDecl& module);
// Whether some module of this type (built with any arguments) has a parameter of this name:
// load_state_dict(strict=True) calls such a name unexpected when this module lacks it.
bool possible_parameter(const std::string& type, const std::string& name);
// The dtype of the module's parameters (a stack's: its layers').
DType parameter_dtype(const ModuleDecl& module);
// PyTorch's initialisation: same distributions, not the same numbers (see docs/run.md).
StateDict initial_module_parameters(const ModuleDecl& module, Random& random);

// ---- attention inside a module -------------------------------------------------------------

// Query rows of one attention block inside a module with every key position masked: 2.5+ gives
// them no attention (the block's output is out_proj's bias there).
struct MaskedBlock {
  std::string block;             // "encoder.layers.0.self_attn"
  std::string mask_argument;     // the call's arguments that fed the block's masks ("" if none)
  std::string padding_argument;
  std::vector<FullyMaskedRow> rows;
};

}  // namespace mhacheck
