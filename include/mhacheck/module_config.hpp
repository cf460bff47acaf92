// The Transformer modules' options as their rules, forward passes and state_dicts use them, read
// once from the spec's ModuleDecl: a layer's (TransformerEncoderLayer, TransformerDecoderLayer, or
// nn.Transformer, whose layers are built from its own options of the same names), a LayerNorm's,
// and a stack's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/spec.hpp"

namespace mhacheck {

struct NormConfig {
  std::vector<std::int64_t> normalized_shape;
  double eps = 1e-5;
  bool elementwise_affine = true;
  bool bias = true;
  DType dtype = DType::Float32;
};
NormConfig norm_config(const ModuleDecl& layer_norm);  // an nn.LayerNorm

struct LayerConfig {
  const ModuleDecl* holder = nullptr;  // the module whose options these are (a layer, or nn.Transformer)
  std::int64_t d_model = 0;
  std::int64_t nhead = 0;
  std::int64_t dim_feedforward = 0;
  double dropout = 0.1;
  std::string activation;  // "relu" or "gelu"
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;
  bool bias = true;
  DType dtype = DType::Float32;

  // self_attn and multihead_attn: MultiheadAttention(d_model, nhead, bias=bias, batch_first=batch_first, dtype=dtype).
  MhaOptions attention() const;
  // norm1..3, and nn.Transformer's encoder.norm and decoder.norm: LayerNorm(d_model, eps=layer_norm_eps, bias=bias).
  NormConfig norm() const;
};
LayerConfig layer_config(const ModuleDecl& holder);

// A TransformerEncoder or TransformerDecoder: num_layers copies of one layer, an optional norm.
struct StackConfig {
  bool decoder = false;
  LayerConfig layer;
  std::int64_t num_layers = 0;
  std::optional<NormConfig> norm;
};
StackConfig stack_config(const ModuleDecl& stack);
// nn.Transformer's encoder or decoder: stacks of its own layers, each with a final norm.
StackConfig transformer_stack(const ModuleDecl& transformer, bool decoder);

}  // namespace mhacheck
