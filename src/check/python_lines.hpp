// Diagnostics of a traced spec located at the Python lines its calls carry.
#pragma once

#include <cstddef>

#include "mhacheck/check.hpp"

namespace mhacheck {

// A traced spec's calls carry the Python line that made them ("source"): each diagnostic of such a
// call, from report.diagnostics[from] on, is located there, so every renderer points at the
// model's code, and the call's place in the spec becomes a related location. `check` locates its
// own diagnostics; `run` then locates the ones the values add. A diagnostic about an argument
// that an earlier call made on another line also gets that line as a related location ("attn_mask
// is made here"), since the bad layout is often written there. The Python file is read only to
// quote the line; one that cannot be read is quoted as an empty line.
void locate_at_python_lines(const Spec& spec, Report& report, std::size_t from = 0);

}  // namespace mhacheck
