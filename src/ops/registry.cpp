#include "ops/registry.hpp"

#include <array>

namespace mhacheck {

const OperatorRules* find_operator(const std::string& name) {
  static const std::array<OperatorRules, 21> operators{{
      {"MultiheadAttention", infer_multihead_attention},
      {"TransformerEncoderLayer", infer_transformer_encoder_layer},
      {"TransformerDecoderLayer", infer_transformer_decoder_layer},
      {"TransformerEncoder", infer_transformer_encoder},
      {"TransformerDecoder", infer_transformer_decoder},
      {"Transformer", infer_transformer},
      {"Linear", infer_linear},
      {"LayerNorm", infer_layer_norm},
      {"Embedding", infer_embedding},
      {"scaled_dot_product_attention", infer_scaled_dot_product_attention},
      {"transpose", infer_transpose},
      {"permute", infer_permute},
      {"reshape", infer_reshape},
      {"view", infer_reshape},
      {"unsqueeze", infer_unsqueeze},
      {"squeeze", infer_squeeze},
      {"flatten", infer_flatten},
      {"cat", infer_cat},
      {"add", infer_add},
      {"matmul", infer_matmul},
      {"softmax", infer_softmax},
  }};
  for (const OperatorRules& rules : operators) {
    if (name == rules.name) return &rules;
  }
  return nullptr;
}

}  // namespace mhacheck
