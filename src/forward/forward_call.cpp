// ForwardCall's lookups and the --max-elements bound, shared by every operator's forward pass.
#include "forward/forward_call.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace mhacheck {

std::int64_t bounded_elements(const std::string& buffer, const std::vector<std::int64_t>& sizes, std::int64_t max_elements) {
  if (std::find(sizes.begin(), sizes.end(), 0) != sizes.end()) return 0;
  std::int64_t elements = 1;
  for (std::int64_t size : sizes) {
    if (__builtin_mul_overflow(elements, size, &elements) || elements > max_elements) {
      throw InputError(Location{}, fmt::format("{} would have more than {} elements (--max-elements)", buffer, max_elements));
    }
  }
  return elements;
}

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
