#include "mhacheck/module_config.hpp"

namespace mhacheck {

NormConfig norm_config(const ModuleDecl& layer_norm) {
  NormConfig config;
  config.normalized_shape = layer_norm.options.at("normalized_shape").get<std::vector<std::int64_t>>();
  config.eps = layer_norm.number("eps");
  config.elementwise_affine = layer_norm.flag("elementwise_affine");
  config.bias = layer_norm.flag("bias");
  config.dtype = layer_norm.dtype();
  return config;
}

LayerConfig layer_config(const ModuleDecl& holder) {
  LayerConfig config;
  config.holder = &holder;
  config.d_model = holder.integer("d_model");
  config.nhead = holder.integer("nhead");
  config.dim_feedforward = holder.integer("dim_feedforward");
  config.dropout = holder.number("dropout");
  config.activation = holder.options.at("activation").get<std::string>();
  config.layer_norm_eps = holder.number("layer_norm_eps");
  config.batch_first = holder.flag("batch_first");
  config.norm_first = holder.flag("norm_first");
  config.bias = holder.flag("bias");
  config.dtype = holder.dtype();
  return config;
}

MhaOptions LayerConfig::attention() const {
  MhaOptions options;
  options.embed_dim = d_model;
  options.num_heads = nhead;
  options.bias = bias;
  options.batch_first = batch_first;
  options.dtype = dtype;
  return options;
}

NormConfig LayerConfig::norm() const { return {{d_model}, layer_norm_eps, true, bias, dtype}; }

StackConfig stack_config(const ModuleDecl& stack) {
  StackConfig config;
  config.decoder = stack.type == "TransformerDecoder";
  config.layer = layer_config(*stack.submodule(config.decoder ? "decoder_layer" : "encoder_layer"));
  config.num_layers = stack.integer("num_layers");
  if (const ModuleDecl* norm = stack.submodule("norm")) config.norm = norm_config(*norm);
  return config;
}

StackConfig transformer_stack(const ModuleDecl& transformer, bool decoder) {
  StackConfig config;
  config.decoder = decoder;
  config.layer = layer_config(transformer);
  config.num_layers = transformer.integer(decoder ? "num_decoder_layers" : "num_encoder_layers");
  config.norm = config.layer.norm();
  return config;
}

}  // namespace mhacheck
