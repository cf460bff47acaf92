// Masks checked by their values where an attention operator reads them (nn.MultiheadAttention's
// and the Transformer modules' masks, F.scaled_dot_product_attention's attn_mask, masked_fill of
// scores, a mask added to scores): a keep mask scaled by a negative number as the additive bias
// (MHA084), two masks of one convention joined by the wrong logical operator (MHA276: the causal
// mask's future is let through), a mask built from tril/triu whose values (check/mask_pattern.hpp)
// let a query see its future, hide its own position or leave rows without a key (MHA275): what
// `mhacheck run` finds in the values (MHA114, MHA110), said by the calls that make the mask
// before any data.
#pragma once

#include "check/call_context.hpp"
#include "check/mask_pattern.hpp"

namespace mhacheck {

// `reading` is how the consumer reads a bool mask (TrueKeeps for SDPA, TrueIgnores for the modules
// and masked_fill); a float mask is read as added to the scores. Nothing when another check has
// reported on the mask already.
void check_mask_values(CallContext& ctx, const ArgValue& mask, MaskReading reading);

}  // namespace mhacheck
