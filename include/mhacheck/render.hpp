// Renderers: they format the facts in Reports and never re-derive them.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/check.hpp"

namespace mhacheck {

struct TextStyle {
  bool color = false;
};

// Compiler-style text: source lines with carets, notes, the PyTorch error, verified fixes,
// then each call's output shapes and a summary line.
std::string render_text(const std::vector<Report>& reports, const TextStyle& style);

// One JSON document for all reports (docs/report-format.md, docs/report.schema.json).
nlohmann::json render_json(const std::vector<Report>& reports);

// `mhacheck explain CODE`.
std::string render_explanation(const DiagInfo& info);
// `mhacheck explain --all`: the whole catalogue in Markdown, as docs/diagnostics.md holds it.
std::string render_catalogue_markdown();

}  // namespace mhacheck
