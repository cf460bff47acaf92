// The call that last changed a dim of an argument, found by the walk cut_origin makes
// (dim_origin.cpp), for rules that ask what that call did to it (a slice that cut it).
#pragma once

#include "call_context.hpp"

namespace mhacheck {

// The call that last changed dim `dim` (non-negative) of `arg`: the dim followed up through the
// calls cut_origin follows to the first call that neither moves nor keeps it (a getitem that
// sliced it, a chunk, a reshape); nullopt when the walk reaches a declared tensor or is too long.
struct DimMaker {
  const CallDecl* call = nullptr;
  std::string output;  // its output holding the dim
  int dim = 0;         // the dim's index there
  int calls = 0;       // the calls followed between it and `arg`
};
std::optional<DimMaker> dim_maker(const Spec& spec, const ArgValue& arg, int dim);

}  // namespace mhacheck
