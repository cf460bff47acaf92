// One call described by command-line flags (`mhacheck check --module ... --query ...`), turned
// into the flat spec it stands for, each value located in its own flag's text.
#pragma once

#include <string>
#include <vector>

#include "mhacheck/json_source.hpp"

namespace mhacheck {

struct InlineCall {
  std::string module;  // Python text constructing the module called
  std::string op;      // or a function's name: "F.scaled_dot_product_attention", "torch.matmul"
  // Shorthands for the attention arguments of the same names.
  std::string query, key, value, key_padding_mask, attn_mask;
  std::vector<std::string> args;  // NAME=SHAPE[:DTYPE] for a tensor argument, NAME=VALUE otherwise
  std::vector<std::string> dims;  // SYMBOL=SIZE
  bool no_need_weights = false, no_average_attn_weights = false, is_causal = false;

  bool given() const;
};

// The flat spec the flags describe. An omitted --value means the key tensor itself; an omitted
// --key too means self-attention (for operators taking query, key and value). Throws
// InputError, located in the flag at fault, for flags that do not describe a call of the
// operator (an argument it does not take, a malformed shape or binding).
JsonDocument inline_document(const InlineCall& call);

}  // namespace mhacheck
