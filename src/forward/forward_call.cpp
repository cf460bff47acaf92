// ForwardCall's lookups, shared by every operator's forward pass.
#include "forward/forward_call.hpp"

namespace mhacheck {

const Array* ForwardCall::tensor(const std::string& name) const {
  auto found = tensors.find(name);
  return found == tensors.end() ? nullptr : found->second;
}

const Array* ForwardCall::parameter(const std::string& name) const {
  if (parameters == nullptr) return nullptr;
  auto found = parameters->find(name);
  return found == parameters->end() ? nullptr : &found->second;
}

void read_attention_inputs(const ForwardCall& call, AttentionInputs& inputs) {
  inputs.query = call.tensor("query");
  inputs.key = call.tensor("key");
  inputs.value = call.tensor("value");
  inputs.attn_mask = call.tensor("attn_mask");
  inputs.is_causal = call.call->flag("is_causal");
}

}  // namespace mhacheck
