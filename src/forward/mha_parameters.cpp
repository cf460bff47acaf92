// nn.MultiheadAttention's parameters: which exist for a configuration (as in its state_dict),
// and PyTorch's initialisation (MultiheadAttention._reset_parameters and nn.Linear's own).
#include <cmath>

#include "forward/forward_call.hpp"

namespace mhacheck {

std::vector<ExpectedParameter> mha_parameters(const MhaOptions& options) {
  std::int64_t E = options.embed_dim;
  std::int64_t kdim = options.kdim.value_or(E), vdim = options.vdim.value_or(E);
  std::vector<ExpectedParameter> parameters;
  if (kdim == E && vdim == E) {
    parameters.push_back({"in_proj_weight", {3 * E, E}});
  } else {
    parameters.push_back({"q_proj_weight", {E, E}});
    parameters.push_back({"k_proj_weight", {E, kdim}});
    parameters.push_back({"v_proj_weight", {E, vdim}});
  }
  if (options.bias) parameters.push_back({"in_proj_bias", {3 * E}});
  if (options.add_bias_kv) {
    parameters.push_back({"bias_k", {1, 1, E}});
    parameters.push_back({"bias_v", {1, 1, E}});
  }
  parameters.push_back({"out_proj.weight", {E, E}});
  if (options.bias) parameters.push_back({"out_proj.bias", {E}});
  return parameters;
}

StateDict initial_mha_parameters(const MhaOptions& options, Random& random) {
  StateDict parameters;
  DType dtype = options.dtype == DType::Float64 ? DType::Float64 : DType::Float32;
  for (const ExpectedParameter& expected : mha_parameters(options)) {
    Array array = make_array(dtype, expected.shape);
    const std::vector<std::int64_t>& shape = expected.shape;
    if (expected.name.find("proj_weight") != std::string::npos) {
      // xavier_uniform_: fan_in = columns, fan_out = rows (the packed weight counts all 3E rows).
      double bound = std::sqrt(6.0 / static_cast<double>(shape[0] + shape[1]));
      random.fill_uniform(array, -bound, bound);
    } else if (expected.name == "out_proj.weight") {
      // nn.Linear: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in).
      double bound = 1.0 / std::sqrt(static_cast<double>(shape[1]));
      random.fill_uniform(array, -bound, bound);
    } else if (expected.name == "bias_k" || expected.name == "bias_v") {
      // xavier_normal_ on (1, 1, E): fan_in = fan_out = E.
      random.fill_normal(array, 0.0, std::sqrt(2.0 / static_cast<double>(2 * shape[2])));
    }  // in_proj_bias and out_proj.bias start at zero
    parameters.emplace(expected.name, std::move(array));
  }
  return parameters;
}

std::vector<ExpectedParameter> parameters_multihead_attention(const ModuleDecl& module) { return mha_parameters(module.mha); }

StateDict initial_multihead_attention(const ModuleDecl& module, Random& random) { return initial_mha_parameters(module.mha, random); }

}  // namespace mhacheck
