// One call of a module other than nn.MultiheadAttention: nn.Linear, nn.LayerNorm and nn.Embedding
// are one kernel each; the Transformer modules compose them (src/forward/transformer_forward.cpp).
#include <algorithm>

#include "forward/blas.hpp"
#include "mhacheck/module_config.hpp"
#include "forward/transformer_forward.hpp"
#include "mhacheck/module_forward.hpp"

namespace mhacheck {

const Array* ModuleInputs::tensor(const std::string& name) const {
  auto found = tensors.find(name);
  return found == tensors.end() ? nullptr : found->second;
}

ModuleOutputs module_forward(const ModuleDecl& module, const StateDict& parameters, const ModuleInputs& inputs) {
  auto parameter = [&](const std::string& name) -> const Array* {
    auto found = parameters.find(name);
    return found == parameters.end() ? nullptr : &found->second;
  };
  const Array* input = inputs.tensor("input");
  ModuleOutputs outputs;
  if (module.type == "Linear") {
    blas::set_threads(std::max(1, inputs.threads));
    outputs.output = linear_forward(*input, *parameter("weight"), parameter("bias"));
  } else if (module.type == "LayerNorm") {
    NormConfig norm = norm_config(module);
    outputs.output = layer_norm_forward(*input, norm.normalized_shape, norm.eps, parameter("weight"), parameter("bias"));
  } else if (module.type == "Embedding") {
    const nlohmann::json& max_norm = module.options.at("max_norm");
    outputs.output = embedding_forward(*parameter("weight"), *input, max_norm.is_null() ? std::nullopt : std::optional(max_norm.get<double>()),
                                       module.number("norm_type"));
  } else {
    return transformer_forward(module, parameters, inputs);
  }
  return outputs;
}

}  // namespace mhacheck
