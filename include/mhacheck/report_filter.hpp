// Choosing which diagnostics a report keeps: --ignore and --only on the command line, and a
// spec's own "mhacheck": {"ignore": [...]} for warnings its authors have accepted.
#pragma once

#include <string>
#include <vector>

#include "mhacheck/check.hpp"

namespace mhacheck {

struct DiagnosticFilter {
  std::vector<std::string> ignore;  // codes ("MHA081") to drop
  std::vector<std::string> only;    // when not empty, the codes to keep
};

// Reads "MHA081,symbol-name-role" lists into codes; throws std::invalid_argument naming an
// unknown code (with the closest one).
std::vector<std::string> parse_code_list(const std::vector<std::string>& items);

// Drops the diagnostics the filter excludes. Input errors (MHA001-MHA003, MHA106) are always kept: a
// spec that cannot be read is never a pass.
void apply_filter(Report& report, const DiagnosticFilter& filter);

}  // namespace mhacheck
