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

// A dim as messages name it: "T" quoted when it has a name, else its size.
std::string dim_text(const ArgValue& input, int d);

// Whether dim `dim` of `values` is the batch of per-entry values that a softmax, max or argmax over
// it mixes (MHA265, MHA376): a classifier's logits (B, classes) made by a Linear (or named as
// logits, predictions or probabilities). The dim is named as a batch explicitly (not PyTorch's N,
// which also counts the nodes, points or instances pooled on purpose), holds more than one entry,
// is not the last dim, and each entry has more than one value; no dim is named as a sequence (the
// attention rules' own) and no other dim holds batch entries ((B, B) similarities are read per
// column on purpose; a merged B*T is rows of tokens).
bool per_entry_batch_dim(const CallContext& ctx, const ArgValue& values, int dim);

}  // namespace mhacheck
