// Fix verification: every candidate fix is applied (RFC 6902) to a copy of the spec document
// and the copy is checked again; only fixes that remove their diagnostic without adding an
// error are kept, each with the outputs it leads to.
#pragma once

#include "mhacheck/check.hpp"

namespace mhacheck {

void verify_fixes(const Spec& spec, Report& report);

// Checks the graph `fix` patches and records the result in it (verified, remaining errors, the
// call's outputs); a patch that leaves no readable spec leaves the fix unverified. For fixes
// found after the check (mhacheck run's weights).
void verify_fix(const Spec& spec, Fix& fix, const std::string& call);

}  // namespace mhacheck
