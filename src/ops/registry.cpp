#include "ops/registry.hpp"

#include <array>

namespace mhacheck {

const OperatorRules* find_operator(const std::string& name) {
  static const std::array<OperatorRules, 2> operators{{
      {"MultiheadAttention", infer_multihead_attention},
      {"scaled_dot_product_attention", infer_scaled_dot_product_attention},
  }};
  for (const OperatorRules& rules : operators) {
    if (name == rules.name) return &rules;
  }
  return nullptr;
}

}  // namespace mhacheck
