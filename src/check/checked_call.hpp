// The report of a call checked earlier in the same pass: its resolved arguments and outputs.
#pragma once

#include <string>

#include "call_context.hpp"

namespace mhacheck {

// The report of `call` as checked in this context (ctx.checked_calls); null when it is not
// checked (yet). Constant time: the pass checks spec.calls in order, one report each.
const CallReport* checked_call(const CallContext& ctx, const CallDecl& call);

// The argument `name` ("input", "tensors[1]") of a checked call; null when not given.
const ResolvedArgument* checked_argument(const CallReport& call, const std::string& name);

}  // namespace mhacheck
