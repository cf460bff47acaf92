// Masks applied by glue operators, read by meaning (what True or 1 says, check/mask_origin.hpp):
// a 0/1 mask added to attention scores masks nothing (MHA266, MHA267); scores filled with 0
// before softmax keep the masked keys' weight (MHA268).
#pragma once

#include "check/call_context.hpp"

namespace mhacheck {

// torch.add(input, other), after its shape rule: a bool mask, or a float mask named like 1 = keep
// and reaching the add unchanged, added to attention scores.
void check_mask_added(CallContext& ctx, const ArgValue& input, const ArgValue& other);
// F.softmax's input made by masked_fill with the value 0.
void check_fill_before_softmax(CallContext& ctx, const ArgValue& input);

}  // namespace mhacheck
