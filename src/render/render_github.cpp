// GitHub Actions workflow commands: each diagnostic becomes an annotation on the spec's line in
// the pull request. Only formats Report facts, as the text renderer words them.
#include <fmt/format.h>

#include "mhacheck/render.hpp"

namespace mhacheck {
namespace {

const char* command_name(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "notice";
  }
  return "error";
}

std::string plural(int count, const char* word) { return fmt::format("{} {}{}", count, word, count == 1 ? "" : "s"); }

}  // namespace

std::string github_escape_data(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '%': escaped += "%25"; break;
      case '\r': escaped += "%0D"; break;
      case '\n': escaped += "%0A"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string github_escape_property(const std::string& text) {
  std::string escaped;
  for (char c : github_escape_data(text)) {
    switch (c) {
      case ':': escaped += "%3A"; break;
      case ',': escaped += "%2C"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::string render_github(const std::vector<Report>& reports, const std::filesystem::path& working_directory) {
  std::string out;
  int errors = 0, warnings = 0, notes = 0;
  for (const Report& report : reports) {
    for (const Diagnostic& diagnostic : report.diagnostics) {
      const DiagInfo& info = diagnostic.info();
      const Location& location = diagnostic.location;
      // Without a file (standard input, command-line flags) the annotation still shows, unattached.
      std::string properties;
      std::string path = ci_artifact_path(location.file(), working_directory);
      if (!path.empty()) {
        properties += "file=" + github_escape_property(path) + ",";
        if (location.known()) properties += fmt::format("line={},", location.line);
        if (location.known() && location.column > 0) properties += fmt::format("col={},", location.column);
      }
      properties += "title=" + github_escape_property(fmt::format("{} {}", info.code, info.name));
      out += fmt::format("::{} {}::{}\n", command_name(info.severity), properties,
                         github_escape_data(diagnostic_summary_text(diagnostic)));
    }
    errors += report.count(Severity::Error);
    warnings += report.count(Severity::Warning);
    notes += report.count(Severity::Note);
  }
  // Plain text, not a command: the log's last word on the run.
  out += fmt::format("mhacheck: {}: {}, {}, {} in {}\n", errors > 0 ? "FAIL" : "OK", plural(errors, "error"),
                     plural(warnings, "warning"), plural(notes, "note"), plural(static_cast<int>(reports.size()), "spec"));
  return out;
}

}  // namespace mhacheck
