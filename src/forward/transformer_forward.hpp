// The Transformer modules' forward passes, for module_forward (src/forward/module_forward.cpp).
#pragma once

#include "mhacheck/module_forward.hpp"

namespace mhacheck {

// A call of TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
// TransformerDecoder or Transformer.
ModuleOutputs transformer_forward(const ModuleDecl& module, const StateDict& parameters, const ModuleInputs& inputs);

}  // namespace mhacheck
