// Where a dim of a call's argument got its size: the dim followed up the graph through the
// calls that only move dims (transpose, permute, contiguous, clone) to the call that made it.
// What that call did to the dim (a repeat_interleave, a Conv1d's stride) says what the dim is.
#pragma once

#include <optional>
#include <string>

#include "call_context.hpp"

namespace mhacheck {

// The call before `before` in spec.calls that outputs `name`; null for a declared tensor (found
// by the index, without scanning the calls back to the first).
const CallDecl* producer_of(const Spec& spec, const std::string& name, const CallDecl* before);

// The name of the tensor `call` reads as `argument`; "" for an inline tensor or a number.
std::string input_name(const CallDecl& call, const std::string& argument);

struct DimOrigin {
  const CallDecl* call = nullptr;  // the call that made the dim; null: a declared tensor's dim
  std::string tensor;              // that call's output (or the declared tensor) holding the dim
  int dim = 0;                     // the dim's index there, non-negative
  int rank = 0;                    // that tensor's rank
};

// Operators whose output is their input's layout, each dim standing for what it stood for
// (LayerNorm and the elementwise ones): a wrong layout passes through them unchanged, so it
// entered the graph before them.
bool keeps_layout(const Spec& spec, const CallDecl& call);

// Where dim `dim` (non-negative) of `arg` was cut by a chunk or split: the dim followed up
// through the calls that keep it (the moves of dims, the elementwise operators, softmax, a
// Linear's or LayerNorm's leading dims, a product's rows from its first operand and columns from
// its second, attention's rows from the query and features from the value) to the chunk or split
// that cut that very dim. Ranks are taken as kept along the way, as they are on these paths.
struct CutOrigin {
  const CallDecl* cut = nullptr;  // the chunk or split
  std::string piece;              // its output holding the dim
  int calls = 0;                  // the calls followed between the cut and `arg`
};
std::optional<CutOrigin> cut_origin(const Spec& spec, const ArgValue& arg, int dim);

// Where attention weights' keys come from: the last dim of `weights` followed back through the
// moves of dims and the calls that keep it (softmax, masked_fill, scaling) to the product
// q @ k^T (matmul or bmm) whose columns it is, and on through the moves of k^T to the key tensor.
struct KeyOrigin {
  std::string key;                  // the key tensor (k, before its transpose)
  const CallDecl* product = nullptr;  // the call q @ k^T
  int positions = 0;                // k's dim that became the weights' last dim (the key positions)
  int features = 0;                 // k's dim the product contracted with the queries' features
  int rank = 0;                     // k's rank
};
std::optional<KeyOrigin> key_origin(const Spec& spec, const ArgValue& weights);

// The shape of the tensor `name` as read by a call after `before`: a declared tensor's as written
// (symbols unresolved: resolve them with ctx.symbols), or the output of an earlier call as it was
// checked in this context (ctx.checked_calls); nullopt when not known.
std::optional<Shape> checked_tensor_shape(const CallContext& ctx, const std::string& name, const CallDecl* before);
// The same for the argument `argument` ("input", "tensors[1]") of an earlier checked call.
std::optional<ResolvedArgument> checked_argument(const CallContext& ctx, const CallDecl& call, const std::string& argument);

// The origin of dim `dim` (non-negative) of `arg`; a dim of an inline tensor or of a tensor read
// through a call this does not follow is its own origin with call = the argument's producer.
DimOrigin dim_origin(const Spec& spec, const ArgValue& arg, int dim);

}  // namespace mhacheck
