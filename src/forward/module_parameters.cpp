// Which parameters each module has (its state_dict names and shapes, in state_dict order:
// submodules in the order __init__ registers them), which names any module of a type could have,
// and PyTorch's initialisation of them. nn.MultiheadAttention's own are in mha_parameters.cpp.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "forward/forward_call.hpp"
#include "mhacheck/module_config.hpp"
#include "operators.hpp"
#include "ops/conv_geometry.hpp"

namespace mhacheck {
namespace {

using Parameters = std::vector<ExpectedParameter>;

void append(Parameters& into, const std::string& prefix, const Parameters& parameters) {
  for (const ExpectedParameter& parameter : parameters) into.push_back({prefix + parameter.name, parameter.shape});
}

Parameters linear_parameters(std::int64_t in_features, std::int64_t out_features, bool bias) {
  Parameters parameters = {{"weight", {out_features, in_features}}};
  if (bias) parameters.push_back({"bias", {out_features}});
  return parameters;
}

Parameters norm_parameters(const NormConfig& norm) {
  Parameters parameters;
  if (!norm.elementwise_affine) return parameters;
  parameters.push_back({"weight", norm.normalized_shape});
  if (norm.bias) parameters.push_back({"bias", norm.normalized_shape});
  return parameters;
}

// self_attn, [multihead_attn,] linear1, linear2, norm1, norm2[, norm3].
Parameters layer_parameters(const LayerConfig& layer, bool decoder) {
  Parameters parameters;
  append(parameters, "self_attn.", mha_parameters(layer.attention()));
  if (decoder) append(parameters, "multihead_attn.", mha_parameters(layer.attention()));
  append(parameters, "linear1.", linear_parameters(layer.d_model, layer.dim_feedforward, layer.bias));
  append(parameters, "linear2.", linear_parameters(layer.dim_feedforward, layer.d_model, layer.bias));
  for (const char* norm : {"norm1.", "norm2.", "norm3."}) {
    if (decoder || norm != std::string("norm3.")) append(parameters, norm, norm_parameters(layer.norm()));
  }
  return parameters;
}

// layers.0. ... layers.{n-1}., then norm.
Parameters stack_parameters(const StackConfig& stack) {
  Parameters parameters;
  Parameters layer = layer_parameters(stack.layer, stack.decoder);
  for (std::int64_t i = 0; i < stack.num_layers; ++i) append(parameters, "layers." + std::to_string(i) + ".", layer);
  if (stack.norm) append(parameters, "norm.", norm_parameters(*stack.norm));
  return parameters;
}

// The elements of `parameters` together; INT64_MAX when they do not fit.
std::int64_t elements(const Parameters& parameters) {
  std::int64_t total = 0;
  for (const ExpectedParameter& parameter : parameters) {
    std::int64_t count = 1;
    for (std::int64_t size : parameter.shape) {
      if (__builtin_mul_overflow(count, size, &count)) return std::numeric_limits<std::int64_t>::max();
    }
    if (__builtin_add_overflow(total, count, &total)) return std::numeric_limits<std::int64_t>::max();
  }
  return total;
}

// A stack's, counted from one layer's: num_layers may be far more layers than could be listed.
std::int64_t stack_elements(const StackConfig& stack) {
  std::int64_t total = 0;
  if (__builtin_mul_overflow(elements(layer_parameters(stack.layer, stack.decoder)), stack.num_layers, &total) ||
      __builtin_add_overflow(total, stack.norm ? elements(norm_parameters(*stack.norm)) : 0, &total)) {
    return std::numeric_limits<std::int64_t>::max();
  }
  return total;
}

// ---- initialisation ----------------------------------------------------------------------------

Array filled(const std::vector<std::int64_t>& shape, DType dtype, double value) {
  Array array = make_array(dtype, shape);
  if (dtype == DType::Float64) std::fill_n(array.data<double>(), array.size(), value);
  else std::fill_n(array.data<float>(), array.size(), static_cast<float>(value));
  return array;
}

// U(-bound, bound); zeros, with nothing drawn, when bound is 0.
Array uniform(const std::vector<std::int64_t>& shape, DType dtype, double bound, Random& random) {
  Array array = make_array(dtype, shape);
  if (bound > 0) random.fill_uniform(array, -bound, bound);
  return array;
}

void put(StateDict& into, const std::string& prefix, StateDict parameters) {
  for (auto& [name, array] : parameters) into.insert_or_assign(prefix + name, std::move(array));
}

// nn.Linear's and nn.Conv*d's reset_parameters: kaiming_uniform_(a=sqrt(5)) is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in the product of the weight's dims after the first,
// and so is the bias (0 when fan_in is 0).
StateDict kaiming_initial(const std::vector<std::int64_t>& weight, bool bias, DType dtype, Random& random) {
  // In double: a weight with a dim of 0 has no elements to bound its other dims' product.
  double fan_in = 1;
  for (std::size_t d = 1; d < weight.size(); ++d) fan_in *= static_cast<double>(weight[d]);
  double bound = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
  StateDict parameters;
  parameters.emplace("weight", uniform(weight, dtype, bound, random));
  if (bias) parameters.emplace("bias", uniform({weight.front()}, dtype, bound, random));
  return parameters;
}

StateDict linear_initial(std::int64_t in_features, std::int64_t out_features, bool bias, DType dtype, Random& random) {
  return kaiming_initial({out_features, in_features}, bias, dtype, random);
}

// nn.LayerNorm.reset_parameters: ones and zeros.
StateDict norm_initial(const NormConfig& norm) {
  StateDict parameters;
  if (!norm.elementwise_affine) return parameters;
  parameters.emplace("weight", filled(norm.normalized_shape, norm.dtype, 1.0));
  if (norm.bias) parameters.emplace("bias", filled(norm.normalized_shape, norm.dtype, 0.0));
  return parameters;
}

StateDict layer_initial(const LayerConfig& layer, bool decoder, Random& random) {
  StateDict parameters;
  put(parameters, "self_attn.", initial_mha_parameters(layer.attention(), random));
  if (decoder) put(parameters, "multihead_attn.", initial_mha_parameters(layer.attention(), random));
  put(parameters, "linear1.", linear_initial(layer.d_model, layer.dim_feedforward, layer.bias, layer.dtype, random));
  put(parameters, "linear2.", linear_initial(layer.dim_feedforward, layer.d_model, layer.bias, layer.dtype, random));
  for (const char* norm : {"norm1.", "norm2.", "norm3."}) {
    if (decoder || norm != std::string("norm3.")) put(parameters, norm, norm_initial(layer.norm()));
  }
  return parameters;
}

// The stacks deep-copy the layer they are given (_get_clones): every layer starts equal.
StateDict stack_initial(const StackConfig& stack, Random& random) {
  StateDict layer = layer_initial(stack.layer, stack.decoder, random);
  StateDict parameters;
  for (std::int64_t i = 0; i < stack.num_layers; ++i) put(parameters, "layers." + std::to_string(i) + ".", layer);
  if (stack.norm) put(parameters, "norm.", norm_initial(*stack.norm));
  return parameters;
}

}  // namespace

// nn.Transformer._reset_parameters: xavier_uniform_ on every parameter with more than one dim,
// in parameters() order, after the stacks have cloned their layers; vectors stay clones.
StateDict initial_transformer(const ModuleDecl& transformer, Random& random) {
  StateDict parameters;
  put(parameters, "encoder.", stack_initial(transformer_stack(transformer, false), random));
  put(parameters, "decoder.", stack_initial(transformer_stack(transformer, true), random));
  for (const ExpectedParameter& parameter : module_parameters(transformer)) {
    if (parameter.shape.size() < 2) continue;
    std::int64_t receptive = 1;
    for (std::size_t d = 2; d < parameter.shape.size(); ++d) receptive *= parameter.shape[d];
    double fans = static_cast<double>((parameter.shape[0] + parameter.shape[1]) * receptive);
    parameters[parameter.name] = uniform(parameter.shape, parameter_dtype(transformer), std::sqrt(6.0 / fans), random);
  }
  return parameters;
}

// nn.Embedding.reset_parameters: N(0, 1), the padding_idx row zeroed.
StateDict initial_embedding(const ModuleDecl& embedding, Random& random) {
  std::int64_t rows = embedding.integer("num_embeddings"), columns = embedding.integer("embedding_dim");
  Array weight = make_array(embedding.dtype(), {rows, columns});
  random.fill_normal(weight, 0.0, 1.0);
  const nlohmann::json& padding = embedding.options.at("padding_idx");
  if (!padding.is_null()) {
    std::int64_t row = padding.get<std::int64_t>();
    if (row < 0) row += rows;
    std::fill(weight.bytes.begin() + static_cast<std::ptrdiff_t>(row * columns) * static_cast<std::ptrdiff_t>(weight.element_size()),
              weight.bytes.begin() + static_cast<std::ptrdiff_t>((row + 1) * columns) * static_cast<std::ptrdiff_t>(weight.element_size()), 0);
  }
  StateDict parameters;
  parameters.emplace("weight", std::move(weight));
  return parameters;
}

std::vector<ExpectedParameter> parameters_transformer_encoder_layer(const ModuleDecl& module) { return layer_parameters(layer_config(module), false); }
std::vector<ExpectedParameter> parameters_transformer_decoder_layer(const ModuleDecl& module) { return layer_parameters(layer_config(module), true); }
std::vector<ExpectedParameter> parameters_transformer_stack(const ModuleDecl& module) { return stack_parameters(stack_config(module)); }
std::vector<ExpectedParameter> parameters_transformer(const ModuleDecl& module) {
  Parameters parameters;
  append(parameters, "encoder.", stack_parameters(transformer_stack(module, false)));
  append(parameters, "decoder.", stack_parameters(transformer_stack(module, true)));
  return parameters;
}
std::vector<ExpectedParameter> parameters_linear(const ModuleDecl& module) {
  return linear_parameters(module.integer("in_features"), module.integer("out_features"), module.flag("bias"));
}
std::vector<ExpectedParameter> parameters_layer_norm(const ModuleDecl& module) { return norm_parameters(norm_config(module)); }
std::vector<ExpectedParameter> parameters_conv(const ModuleDecl& module) {
  std::vector<std::int64_t> weight = conv_weight_shape(module);
  Parameters parameters = {{"weight", weight}};
  if (module.flag("bias")) parameters.push_back({"bias", {weight.front()}});
  return parameters;
}
std::vector<ExpectedParameter> parameters_embedding(const ModuleDecl& module) {
  return {{"weight", {module.integer("num_embeddings"), module.integer("embedding_dim")}}};
}

StateDict initial_transformer_encoder_layer(const ModuleDecl& module, Random& random) {
  return layer_initial(layer_config(module), false, random);
}
StateDict initial_transformer_decoder_layer(const ModuleDecl& module, Random& random) {
  return layer_initial(layer_config(module), true, random);
}
StateDict initial_transformer_stack(const ModuleDecl& module, Random& random) { return stack_initial(stack_config(module), random); }
StateDict initial_linear(const ModuleDecl& module, Random& random) {
  return linear_initial(module.integer("in_features"), module.integer("out_features"), module.flag("bias"), module.dtype(), random);
}
StateDict initial_conv(const ModuleDecl& module, Random& random) {
  return kaiming_initial(conv_weight_shape(module), module.flag("bias"), module.dtype(), random);
}
StateDict initial_layer_norm(const ModuleDecl& module, Random&) { return norm_initial(norm_config(module)); }

std::vector<ExpectedParameter> module_parameters(const ModuleDecl& module) { return module_operator(module.type).parameters(module); }

std::int64_t parameter_elements(const ModuleDecl& module) {
  const OperatorDef& op = module_operator(module.type);
  if (op.parameters == parameters_transformer_stack) return stack_elements(stack_config(module));
  if (op.parameters == parameters_transformer) {
    std::int64_t total = 0;
    if (__builtin_add_overflow(stack_elements(transformer_stack(module, false)), stack_elements(transformer_stack(module, true)), &total)) {
      return std::numeric_limits<std::int64_t>::max();
    }
    return total;
  }
  return elements(module_parameters(module));
}

bool possible_parameter(const std::string& type, const std::string& name) {
  const OperatorDef& module = module_operator(type);
  if (std::find(module.own_parameters.begin(), module.own_parameters.end(), name) != module.own_parameters.end()) return true;
  for (const Submodule& child : module.submodules) {
    if (name.compare(0, child.name.size() + 1, child.name + ".") != 0) continue;
    std::string rest = name.substr(child.name.size() + 1);
    if (child.indexed) {
      std::size_t digits = 0;
      while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) ++digits;
      if (digits == 0 || digits == rest.size() || rest[digits] != '.') continue;
      rest = rest.substr(digits + 1);
    }
    if (possible_parameter(child.type, rest)) return true;
  }
  return false;
}

// A stack has no dtype of its own: its layers' is its parameters'.
DType parameter_dtype(const ModuleDecl& module) {
  return module.options.contains("dtype") ? module.dtype() : stack_config(module).layer.dtype;
}

StateDict initial_module_parameters(const ModuleDecl& module, Random& random) { return module_operator(module.type).initial(module, random); }

}  // namespace mhacheck
