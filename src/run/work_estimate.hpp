// How much arithmetic a call of `run` will do, estimated from its shapes before anything runs:
// --max-flops refuses a call past the bound, as --max-elements refuses a tensor past its own.
#pragma once

#include "mhacheck/check.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// Floating-point operations (a multiply-add counts two) of the call's forward pass, dominated
// terms only: the attention products (4*N*L*S*E), projections and feed-forward layers (2 per
// weight per token), matrix products, convolutions; for any other operator its elements in and
// out. A double: the product of large dims passes int64. 0 when a dim is still symbolic (the run
// then refuses the call for that).
double estimated_flops(const Spec& spec, const CallDecl& call, const CallReport& report, const Symbols& symbols);

}  // namespace mhacheck
