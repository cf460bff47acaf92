// One inference function per operator, registered in one place (src/ops/registry.cpp).
#pragma once

#include <string>

#include "call_context.hpp"

namespace mhacheck {

// Checks one call against the operator's PyTorch rules: reports diagnostics (in the order
// PyTorch would raise them) with candidate fixes, and fills ctx.outputs when the call is valid.
using InferFn = void (*)(CallContext& ctx);

struct OperatorRules {
  const char* type;  // the module's canonical type
  const char* arguments[5];  // tensor arguments in call order, nullptr-padded
  InferFn infer;
};

const OperatorRules* find_operator(const std::string& type);

void infer_multihead_attention(CallContext& ctx);

}  // namespace mhacheck
