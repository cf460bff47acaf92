// Masks applied by glue operators, read by meaning (what True or 1 says, check/mask_origin.hpp):
// a 0/1 mask added to attention scores masks nothing (MHA266, MHA267); scores filled with 0
// before softmax keep the masked keys' weight (MHA268); masked_fill given a 1 = keep mask (MHA084).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "check/call_context.hpp"

namespace mhacheck {

// torch.add(input, other), after its shape rule: a bool mask, or a float mask named like 1 = keep
// and reaching the add unchanged, added to attention scores.
void check_mask_added(CallContext& ctx, const ArgValue& input, const ArgValue& other);
// Tensor.masked_fill(mask, -inf or a large negative value) with a mask whose True marks the
// positions to keep (MHA084): the fill takes them out instead of the others.
void check_fill_mask_meaning(CallContext& ctx, const ArgValue& mask);
// A mask read by attention (masked_fill on scores, an attn_mask) whose padding, made from a (B, T)
// padding mask, lines up with the queries (dim -2) and not with the keys (dim -1) of length
// `keys` (MHA278): (ids != pad).unsqueeze(-1) where unsqueeze(-2) is meant. True when reported.
// `keys_last`, when given, asked only then: whether the keys are indeed in dim -1 (scores k @ q^T
// are not), since what says so may cost a walk over the graph.
bool check_padding_axis(CallContext& ctx, const ArgValue& mask, const DimExpr& keys, const std::function<bool()>& keys_last = {});
// A mask read with True = take part (SDPA's bool attn_mask) made by `&` (or logical_and) of a
// (B, T) padding mask laid along the queries (dim -2) and the same laid along the keys (dim -1)
// of length `keys`: a padded query's row keeps no key, and softmax over nothing is NaN (before
// PyTorch 2.5; 0 since). The key part alone is what the padding needs; the
// padded queries' outputs are dropped downstream. True when reported.
bool check_padded_query_rows(CallContext& ctx, const ArgValue& mask, const DimExpr& keys);
// F.softmax's input made by masked_fill with the value 0.
void check_fill_before_softmax(CallContext& ctx, const ArgValue& input);

}  // namespace mhacheck
