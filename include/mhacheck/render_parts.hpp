// The text and JSON reports of render.hpp in parts, one per report, so that `check -j` renders
// each spec's part in the worker that checked it and the main thread only joins them. Joined,
// the parts are byte for byte what render_text and render_json_text write.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"
#include "mhacheck/render.hpp"

namespace mhacheck {

// render_text(reports, style) is each report's render_text_part, then render_text_summary.
std::string render_text_part(const Report& report, const TextStyle& style);
std::string render_text_summary(const std::vector<Report>& reports, const TextStyle& style);

// A report's elements of the JSON document's "diagnostics" and its entry in "files".
struct JsonReportPart {
  std::string diagnostics, file;
  std::size_t diagnostic_count = 0;
};
JsonReportPart render_json_part(const Report& report);
// render_json_text(reports), from each report's part.
std::string render_json_text(const std::vector<Report>& reports, const std::vector<JsonReportPart>& parts);

}  // namespace mhacheck
