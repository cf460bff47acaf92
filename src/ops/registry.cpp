#include "ops/registry.hpp"

#include <array>

namespace mhacheck {

const OperatorRules* find_operator(const std::string& type) {
  static const std::array<OperatorRules, 1> operators{{
      {"MultiheadAttention", {"query", "key", "value", "key_padding_mask", "attn_mask"}, infer_multihead_attention},
  }};
  for (const OperatorRules& rules : operators) {
    if (type == rules.type) return &rules;
  }
  return nullptr;
}

}  // namespace mhacheck
