// Renderers: they format the facts in Reports and never re-derive them.
#pragma once

#include <filesystem>
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
// The same document as text, byte for byte what
//   render_json(reports).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
// is (two-space indent, UTF-8 kept, invalid UTF-8 replaced by U+FFFD, a final newline), written
// directly: no tree of the whole report is built, so a report of many calls costs time in
// proportion to its size.
std::string render_json_text(const std::vector<Report>& reports);

// CI formats. Files are named by their path relative to `working_directory` (the process's
// current directory in the CLI), with forward slashes, as code-scanning and annotations expect.
// SARIF 2.1.0: one run, the diagnostic catalogue as its rules, one result per diagnostic; fixes
// (RFC 6902 patches) under each result's properties.fixes.
nlohmann::json render_sarif(const std::vector<Report>& reports, const std::filesystem::path& working_directory);
// GitHub Actions workflow commands: one ::error/::warning/::notice line per diagnostic, then a
// summary line that is not a command.
std::string render_github(const std::vector<Report>& reports, const std::filesystem::path& working_directory);
// A spec's path relative to `working_directory`, lexically; "" for what is not a file: standard
// input ("-"), command-line flags ("--query", "<command line>"), or no place at all.
std::string ci_artifact_path(const std::string& file, const std::filesystem::path& working_directory);
// GitHub's workflow-command escaping: data escapes %, CR and LF; properties also ':' and ','.
std::string github_escape_data(const std::string& text);
std::string github_escape_property(const std::string& text);

// What a verified fix leads to: "valid: attn_output (32, 1, 512), ..." when PyTorch accepts the
// whole patched graph, else "removes this error; N other errors remain".
std::string fix_result_text(const Fix& fix);
// The fix as one line: "construct with batch_first=True — valid: ...", and, for a suspect fix,
// why ("suspect: ...").
std::string fix_text(const Fix& fix);
// A diagnostic in a few lines, for formats with one message per diagnostic (GitHub annotations,
// SARIF results): the headline with its call, the notes, the PyTorch exception and the first
// verified fix.
std::string diagnostic_summary_text(const Diagnostic& diagnostic);

// `mhacheck explain CODE`.
std::string render_explanation(const DiagInfo& info);
// `mhacheck explain --all`: the whole catalogue in Markdown, as docs/diagnostics.md holds it.
std::string render_catalogue_markdown();

}  // namespace mhacheck
