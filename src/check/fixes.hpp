// Fix verification: every candidate fix is applied (RFC 6902) to a copy of the spec document
// and the copy is checked again; only fixes that remove their diagnostic without adding an
// error are kept, each with the outputs it leads to.
#pragma once

#include "mhacheck/check.hpp"

namespace mhacheck {

void verify_fixes(const Spec& spec, Report& report);

// Role diagnostics: a dim used in a role its name or its tensor's layout says it does not play
// (MHA081, a softmax over a batch dim, a mask added that masks nothing, ...). The fix search runs
// for them as for errors when no rule fix is sound, and a fix that leaves one on its call is suspect.
bool is_role_diagnostic(DiagId id);

// Checks the graph `fix` patches and records the result in it (verified, remaining errors, the
// call's outputs); a patch that leaves no readable spec leaves the fix unverified. For fixes
// found after the check (mhacheck run's weights).
void verify_fix(const Spec& spec, Fix& fix, const std::string& call);

}  // namespace mhacheck
