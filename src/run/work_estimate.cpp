#include "work_estimate.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include "mhacheck/module_config.hpp"
#include "forward/module_kernels.hpp"
#include "operators.hpp"
#include "ops/einsum_equation.hpp"

namespace mhacheck {
namespace {

// A sequence input of a module, (L, N, E), (N, L, E) or unbatched (L, E): its length and batch.
struct Sequence {
  double length = 0, batch = 1;
};
std::optional<Sequence> sequence(const std::optional<std::vector<double>>& dims, bool batch_first) {
  if (!dims || dims->size() < 2) return std::nullopt;
  if (dims->size() == 2) return Sequence{(*dims)[0], 1};
  return batch_first ? Sequence{(*dims)[1], (*dims)[0]} : Sequence{(*dims)[0], (*dims)[1]};
}

// One attention block of embed_dim E: the input projections (query's from E, key's and value's
// from kdim and vdim), the scores and the weighted sum (2*L*S*E each), the output projection.
double attention_flops(const Sequence& query, double source_length, double embed_dim, double kdim, double vdim) {
  double tokens = query.batch * query.length, sources = query.batch * source_length;
  return 2 * tokens * embed_dim * embed_dim * 2 + 2 * sources * (kdim + vdim) * embed_dim + 4 * tokens * source_length * embed_dim;
}

double feed_forward_flops(const Sequence& input, const LayerConfig& layer) {
  return 4 * input.batch * input.length * static_cast<double>(layer.d_model * layer.dim_feedforward);
}

double encoder_layer_flops(const Sequence& src, const LayerConfig& layer) {
  double d = static_cast<double>(layer.d_model);
  return attention_flops(src, src.length, d, d, d) + feed_forward_flops(src, layer);
}

double decoder_layer_flops(const Sequence& tgt, double memory_length, const LayerConfig& layer) {
  double d = static_cast<double>(layer.d_model);
  return attention_flops(tgt, tgt.length, d, d, d) + attention_flops(tgt, memory_length, d, d, d) + feed_forward_flops(tgt, layer);
}

// A numeric constructor option; 0 (nothing estimated) for one the check left symbolic.
double option_number(const ModuleDecl& module, const std::string& name) {
  const nlohmann::json& value = module.options.at(name);
  return value.is_number() ? value.get<double>() : 0;
}

// A TransformerEncoderLayer, or each layer of a stack.
double encoder_flops(const WorkCall& work, const StackConfig& config) {
  std::optional<Sequence> src = sequence(work.sizes.argument("src"), config.layer.batch_first);
  return src ? static_cast<double>(config.num_layers) * encoder_layer_flops(*src, config.layer) : 0;
}

double decoder_flops(const WorkCall& work, const StackConfig& config) {
  std::optional<Sequence> tgt = sequence(work.sizes.argument("tgt"), config.layer.batch_first);
  std::optional<Sequence> memory = sequence(work.sizes.argument("memory"), config.layer.batch_first);
  return tgt && memory ? static_cast<double>(config.num_layers) * decoder_layer_flops(*tgt, memory->length, config.layer) : 0;
}

// torch.einsum contracts its operands pairwise, left to right (forward/glue_forward.cpp's
// einsum_pair, as PyTorch's sumproduct_pair): each pair costs 2 x the product of the sizes of the
// subscripts it multiplies over (those both operands have, and those kept for the output or a
// later operand); a subscript only one operand has and nothing keeps is summed out first.
double einsum_flops(const CallDecl& call, const CallSizes& sizes) {
  std::vector<std::vector<double>> shapes;
  std::vector<int> ranks;
  for (std::size_t i = 0; i < call.list_size("operands"); ++i) {
    std::optional<std::vector<double>> shape = sizes.argument(list_element("operands", i));
    if (!shape) return 0;
    ranks.push_back(static_cast<int>(shape->size()));
    shapes.push_back(std::move(*shape));
  }
  EinsumEquation read;
  const std::string equation = call.arguments.at("equation").get<std::string>();
  if (shapes.empty() || read_einsum_terms(equation, shapes.size(), read) || check_einsum_ranks(read, ranks) ||
      read_einsum_output(equation, read)) {
    return 0;
  }
  EinsumSlots slots = einsum_slots(read, ranks);
  std::vector<double> slot_size(static_cast<std::size_t>(slots.count), 1);
  // spans[i][slot]: operand i has a dim of size other than 1 there (a size 1 broadcasts).
  std::vector<std::vector<bool>> spans(shapes.size(), std::vector<bool>(slot_size.size(), false));
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    for (std::size_t d = 0; d < shapes[i].size(); ++d) {
      auto slot = static_cast<std::size_t>(slots.of_operand[i][d]);
      if (shapes[i][d] == 1) continue;
      slot_size[slot] = shapes[i][d];
      spans[i][slot] = true;
    }
  }
  if (shapes.size() == 1) return CallSizes::elements(shapes.front());  // one operand: each element summed once
  std::vector<bool> result = spans.front();
  double flops = 0;
  for (std::size_t next = 1; next < shapes.size(); ++next) {
    double multiplied = 1;
    for (std::size_t slot = 0; slot < slot_size.size(); ++slot) {
      bool kept = static_cast<int>(slot) < slots.output_dims ||
                  std::any_of(spans.begin() + static_cast<std::ptrdiff_t>(next) + 1, spans.end(),
                              [slot](const std::vector<bool>& later) { return later[slot]; });
      bool both = result[slot] && spans[next][slot];
      if (both || ((result[slot] || spans[next][slot]) && kept)) multiplied *= slot_size[slot];
      result[slot] = (result[slot] || spans[next][slot]) && kept;
    }
    flops += 2 * multiplied;
  }
  return flops;
}

}  // namespace

double work_multihead_attention(const WorkCall& work) {
  const ModuleDecl& module = *work.module;
  std::optional<Sequence> query = sequence(work.sizes.argument("query"), module.mha.batch_first);
  std::optional<Sequence> key = sequence(work.sizes.argument("key"), module.mha.batch_first);
  if (!query || !key) return 0;
  double e = static_cast<double>(module.mha.embed_dim);
  return attention_flops(*query, key->length, e, static_cast<double>(module.mha.kdim.value_or(module.mha.embed_dim)),
                         static_cast<double>(module.mha.vdim.value_or(module.mha.embed_dim)));
}

double work_transformer_encoder_layer(const WorkCall& work) {
  return encoder_flops(work, StackConfig{false, layer_config(*work.module), 1, std::nullopt});
}

double work_transformer_encoder(const WorkCall& work) { return encoder_flops(work, stack_config(*work.module)); }

double work_transformer_decoder_layer(const WorkCall& work) {
  return decoder_flops(work, StackConfig{true, layer_config(*work.module), 1, std::nullopt});
}

double work_transformer_decoder(const WorkCall& work) { return decoder_flops(work, stack_config(*work.module)); }

double work_transformer(const WorkCall& work) {
  StackConfig encoder = transformer_stack(*work.module, false), decoder = transformer_stack(*work.module, true);
  std::optional<Sequence> src = sequence(work.sizes.argument("src"), encoder.layer.batch_first);
  std::optional<Sequence> tgt = sequence(work.sizes.argument("tgt"), decoder.layer.batch_first);
  if (!src || !tgt) return 0;
  return static_cast<double>(encoder.num_layers) * encoder_layer_flops(*src, encoder.layer) +
         static_cast<double>(decoder.num_layers) * decoder_layer_flops(*tgt, src->length, decoder.layer);
}

double work_linear(const WorkCall& work) {
  std::optional<std::vector<double>> output = work.sizes.output();
  return output ? 2 * CallSizes::elements(*output) * option_number(*work.module, "in_features") : 0;
}

// Each output element sums in_channels/groups times the kernel's positions.
double work_conv(const WorkCall& work) {
  std::optional<std::vector<double>> output = work.sizes.output();
  if (!output) return 0;
  double groups = option_number(*work.module, "groups");
  double per_output = groups > 0 ? option_number(*work.module, "in_channels") / groups : 0;
  for (const nlohmann::json& size : work.module->options.at("kernel_size")) per_output *= size.is_number() ? size.get<double>() : 0;
  return 2 * CallSizes::elements(*output) * per_output;
}

// softmax(Q K^T) V: (..., L, E) by (..., S, E), then by (..., S, Ev), over the broadcast batch.
double work_scaled_dot_product_attention(const WorkCall& work) {
  std::optional<std::vector<double>> query = work.sizes.argument("query"), key = work.sizes.argument("key"), output = work.sizes.output();
  if (!query || !key || !output || query->size() < 2 || key->size() < 2) return 0;
  double length = (*query)[query->size() - 2], source = (*key)[key->size() - 2], e = query->back(), ev = output->back();
  double batch = CallSizes::elements(*output) / (length * ev);
  return 2 * batch * length * source * (e + ev);
}

// Each output element sums over the first operand's last dim.
double work_matrix_product(const WorkCall& work) {
  std::optional<std::vector<double>> input = work.sizes.argument("input"), output = work.sizes.output();
  if (!input || !output || input->empty()) return 0;
  return 2 * CallSizes::elements(*output) * input->back();
}

double work_einsum(const WorkCall& work) { return einsum_flops(work.call, work.sizes); }

double estimated_flops(const Spec& spec, const CallDecl& call, const CallReport& report, const Symbols& symbols) {
  CallSizes sizes(report, symbols);
  const OperatorDef& op = known_operator(call.op);
  if (op.work == nullptr) return sizes.all_elements().value_or(0);
  return op.work(WorkCall{call, call.module.empty() ? nullptr : spec.find_module(call.module), sizes});
}

double estimated_run_bytes(const Spec& spec, const Report& report, std::int64_t max_elements) {
  auto bytes = [&](const std::optional<std::vector<double>>& dims, DType dtype) {
    if (!dims || CallSizes::elements(*dims) > static_cast<double>(max_elements)) return 0.0;
    return CallSizes::elements(*dims) * static_cast<double>(dtype_size(dtype));
  };
  std::set<std::string> held_data, held_parameters;
  double held = 0, largest_call = 0;
  for (std::size_t i = 0; i < spec.calls.size() && i < report.calls.size(); ++i) {
    const CallReport& call = report.calls[i];
    CallSizes sizes(call, report.symbols);
    double call_bytes = 0;
    for (const ResolvedArgument& argument : call.arguments) {
      double argument_bytes = bytes(sizes.argument(argument.name), argument.dtype);
      call_bytes += argument_bytes;
      // An earlier output is counted with its call; the same tensor passed twice is held once.
      if (argument.source.kind != ArgumentSource::Kind::Output && held_data.insert(argument.identity).second) held += argument_bytes;
    }
    for (std::size_t k = 0; k < call.outputs.size(); ++k) {
      double output_bytes = bytes(sizes.output(k), call.outputs[k].dtype);
      call_bytes += output_bytes;
      held += output_bytes;
    }
    largest_call = std::max(largest_call, call_bytes);
    const ModuleDecl* module = spec.calls[i].module.empty() ? nullptr : spec.find_module(spec.calls[i].module);
    if (module != nullptr && held_parameters.insert(module->name).second) {
      held += static_cast<double>(parameter_elements(*module)) * static_cast<double>(dtype_size(parameter_dtype(*module)));
    }
  }
  return held + largest_call;
}

}  // namespace mhacheck
