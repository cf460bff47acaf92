// The plain arguments of the shape operators (dims, dim lists) and PyTorch's dim wrapping,
// shared by transpose, permute, unsqueeze, squeeze, flatten, softmax and the indexing and
// splitting operators; a Python number passed for a tensor (add's other, where's input).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "call_context.hpp"

namespace mhacheck {

// A diagnostic about a plain argument ("dim", "shape"), located where the call writes it.
Diagnostic& report_argument(CallContext& ctx, DiagId id, std::string message, const std::string& argument);

std::int64_t int_argument(const CallContext& ctx, const std::string& name);

// The sizes of a SizeList argument (expand's, a constructor's), symbols resolved.
Shape size_list_argument(const CallContext& ctx, const std::string& name);

// A Python number argument as the 0-D operand PyTorch wraps it in: bool, int64 or float32 (the
// default dtype), which takes part in promotion only when its category is above the tensors'.
ArgValue wrapped_number(const CallContext& ctx, const std::string& argument);

// A 0-D input of an operator that takes part of a dim (select, narrow, split, chunk): reports
// MHA341 with PyTorch's exception and returns true.
bool zero_dim(CallContext& ctx, const ArgValue& input, const std::string& type, const std::string& message);

// PyTorch's maybe_wrap_dim: `dim` must lie in [-rank, rank - 1], where a 0-D tensor counts as
// 1-D, and a negative dim counts from the end. Out of range: reports MHA300 with PyTorch's
// IndexError and returns nullopt.
std::optional<int> wrap_dim(CallContext& ctx, const std::string& argument, std::int64_t dim, int rank);

// The dim where stack and unsqueeze insert a new dim into `rank`-D tensors: maybe_wrap_dim over
// rank + 1, PyTorch's IndexError in its words, mhacheck's message naming the tensors' own rank.
std::optional<int> wrap_new_dim(CallContext& ctx, const std::string& argument, std::int64_t dim, int rank);

}  // namespace mhacheck
