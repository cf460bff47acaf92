#include <algorithm>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "core/text.hpp"
#include "mhacheck/explain.hpp"
#include "mhacheck/render.hpp"
#include "mhacheck/render_parts.hpp"

namespace mhacheck {
namespace {

struct Palette {
  bool on;
  std::string paint(const std::string& text, const char* code) const {
    return on ? fmt::format("\x1b[{}m{}\x1b[0m", code, text) : text;
  }
  const char* severity_code(Severity severity) const {
    switch (severity) {
      case Severity::Error: return "1;31";
      case Severity::Warning: return "1;33";
      case Severity::Note: return "1;36";
    }
    return "1";
  }
};

struct Marker {
  Location location;
  std::string label;
  bool primary;
};

std::string where(const Location& location) {
  if (!location.known()) return location.file().empty() ? std::string() : location.file();
  return fmt::format("{}:{}:{}", location.file(), location.line, location.column);
}

// Lines longer than this are quoted as excerpts of kExcerptContext bytes either side of each marker.
constexpr std::size_t kWideLine = 200;
constexpr std::size_t kExcerptContext = 60;

void render_snippet(std::string& out, const Diagnostic& diagnostic, const Palette& palette) {
  const Location& primary = diagnostic.location;
  if (!primary.known()) {
    if (!primary.file().empty()) out += fmt::format("  --> {}\n", primary.file());
    return;
  }
  std::vector<Marker> markers;
  std::string primary_label;
  for (const RelatedLocation& related : diagnostic.related) {
    if (related.location.known() && related.location.source == primary.source && related.location.line == primary.line &&
        related.location.column == primary.column) {
      primary_label = related.message;
    }
  }
  markers.push_back({primary, primary_label, true});
  for (const RelatedLocation& related : diagnostic.related) {
    if (!related.location.known() || related.location.source != primary.source) continue;
    if (related.message == primary_label && related.location.line == primary.line &&
        related.location.column == primary.column) {
      continue;
    }
    markers.push_back({related.location, related.message, false});
  }
  std::map<int, std::vector<const Marker*>> by_line;
  for (const Marker& marker : markers) by_line[marker.location.line].push_back(&marker);
  int width = static_cast<int>(std::to_string(by_line.rbegin()->first).size());
  std::string gutter(static_cast<std::size_t>(width), ' ');
  const char* color = palette.severity_code(diagnostic.severity());
  out += fmt::format("{}{} {}\n", gutter, palette.paint("-->", "1;34"), where(primary));
  out += fmt::format("{} {}\n", gutter, palette.paint("|", "1;34"));
  int previous_line = 0;
  for (auto& [line, line_markers] : by_line) {
    if (previous_line != 0 && line > previous_line + 1) out += fmt::format("{} {}\n", gutter, palette.paint("...", "1;34"));
    previous_line = line;
    std::sort(line_markers.begin(), line_markers.end(),
              [](const Marker* a, const Marker* b) { return a->location.column < b->location.column; });
    const int quoted_line = line;  // clang 14 cannot capture a structured binding
    auto quote = [&](std::string_view text) { out += fmt::format("{:>{}} {} {}\n", quoted_line, width, palette.paint("|", "1;34"), text); };
    // The marker under the quoted text, `offset` bytes in, its underline at most `visible` long.
    auto underline = [&](const Marker* marker, std::size_t offset, std::size_t visible) {
      std::size_t length = std::min<std::size_t>(static_cast<std::size_t>(std::max(1, marker->location.length)), std::max<std::size_t>(1, visible));
      std::string text = std::string(length, marker->primary ? '^' : '-') + (marker->label.empty() ? "" : " " + marker->label);
      out += fmt::format("{} {} {}{}\n", gutter, palette.paint("|", "1;34"), std::string(offset, ' '),
                         palette.paint(text, marker->primary ? color : "1;34"));
    };
    std::string_view text = primary.source->line_text(line);
    if (text.size() <= kWideLine) {
      quote(text);
      for (const Marker* marker : line_markers) {
        underline(marker, static_cast<std::size_t>(marker->location.column - 1), std::numeric_limits<std::size_t>::max());
      }
      continue;
    }
    // A wide line (a minified spec is one line): an excerpt around each marker.
    for (const Marker* marker : line_markers) {
      std::size_t column = std::min(static_cast<std::size_t>(marker->location.column - 1), text.size());
      std::size_t start = column > kExcerptContext ? column - kExcerptContext : 0;
      std::size_t end = std::min(text.size(), column + kExcerptContext);
      std::string prefix = start > 0 ? "..." : "";
      quote(prefix + std::string(text.substr(start, end - start)) + (end < text.size() ? "..." : ""));
      underline(marker, prefix.size() + column - start, end - column);
    }
  }
  out += fmt::format("{} {}\n", gutter, palette.paint("|", "1;34"));
}

void render_diagnostic(std::string& out, const Diagnostic& diagnostic, const Palette& palette) {
  const DiagInfo& info = diagnostic.info();
  std::string head = fmt::format("{}[{}]", severity_name(info.severity), info.code);
  std::string call = diagnostic.call.empty() ? "" : fmt::format(" (call \"{}\")", diagnostic.call);
  out += fmt::format("{}: {}{}\n", palette.paint(head, palette.severity_code(info.severity)),
                     palette.paint(diagnostic.message, "1"), call);
  render_snippet(out, diagnostic, palette);
  std::string indent = "   = ";
  for (const RelatedLocation& related : diagnostic.related) {
    if (related.location.known() && related.location.source == diagnostic.location.source) continue;
    std::string at = where(related.location);
    out += fmt::format("{}{} {}{}\n", indent, palette.paint("note:", "1"), related.message, at.empty() ? "" : " (" + at + ")");
  }
  for (const std::string& note : diagnostic.notes) out += fmt::format("{}{} {}\n", indent, palette.paint("note:", "1"), note);
  if (diagnostic.pytorch_error) {
    const PytorchError& error = *diagnostic.pytorch_error;
    std::string when = error.raised_later() ? " (once the errors above are fixed)" : "";
    out += fmt::format("{}{} {}: {}{}\n", indent, palette.paint("pytorch:", "1"), error.type, error.message, when);
  }
  for (const Fix& fix : diagnostic.fixes) {
    out += fmt::format("{}{} {} {}\n", indent, palette.paint("help:", "1;32"), fix_text(fix),
                       palette.paint(fix.verified ? "[verified]" : "[not verified]", "32"));
  }
  out += "\n";
}

std::string plural(int count, const char* word) { return fmt::format("{} {}{}", count, word, count == 1 ? "" : "s"); }

}  // namespace

std::string render_text_part(const Report& report, const TextStyle& style) {
  Palette palette{style.color};
  std::string out;
  for (const Diagnostic& diagnostic : report.diagnostics) render_diagnostic(out, diagnostic, palette);
  for (const CallReport& call : report.calls) {
    std::string head = fmt::format("{}call \"{}\": {}", report.file.empty() ? "" : report.file + ": ", call.id, call.module_text);
    if (!call.skipped_because.empty()) {
      out += fmt::format("{}\n    not checked: an input comes from call \"{}\", which fails\n", head, call.skipped_because);
    } else if (!call.ok && !call.hidden_errors.empty() &&
               std::none_of(report.diagnostics.begin(), report.diagnostics.end(), [&](const Diagnostic& d) {
                 return d.call == call.id && d.severity() == Severity::Error;
               })) {
      std::string codes;
      for (const std::string& code : call.hidden_errors) codes += (codes.empty() ? "" : ", ") + code;
      out += fmt::format("{}\n    {}\n", head, palette.paint(fmt::format("fails ({} hidden by --ignore/--only)", codes), "1;31"));
    } else if (!call.ok) {
      out += fmt::format("{}\n    {}\n", head, palette.paint("fails (see above)", "1;31"));
    } else {
      out += head + "\n";
      for (const NamedOutput& output : call.outputs) {
        out += fmt::format("    {} {} {}\n", output.name, tuple_str(output.shape), dtype_name(output.dtype));
      }
    }
  }
  return out;
}

std::string render_text_summary(const std::vector<Report>& reports, const TextStyle& style) {
  Palette palette{style.color};
  int errors = 0, warnings = 0, notes = 0;
  for (const Report& report : reports) {
    errors += report.count(Severity::Error);
    warnings += report.count(Severity::Warning);
    notes += report.count(Severity::Note);
  }
  std::string verdict = errors > 0 ? palette.paint("FAIL", "1;31") : palette.paint("OK", "1;32");
  return fmt::format("{}: {}, {}, {} in {}\n", verdict, plural(errors, "error"), plural(warnings, "warning"),
                     plural(notes, "note"), plural(static_cast<int>(reports.size()), "spec"));
}

std::string render_text(const std::vector<Report>& reports, const TextStyle& style) {
  std::string out;
  for (const Report& report : reports) out += render_text_part(report, style);
  return out + render_text_summary(reports, style);
}

std::string render_explanation(const DiagInfo& info) {
  std::string text = fmt::format("{} ({}, {}{}): {}\n\n{}\n", info.code, info.name, severity_name(info.severity),
                                 info.needs_run ? ", found by mhacheck run" : "", info.title, info.explanation);
  // A code that depends on the machine rather than on a spec has no example (its explanation says so).
  if (*info.example != '\0') {
    text += fmt::format("\nExample spec{}:\n  {}\n", info.needs_run ? " (for mhacheck run, from the repository's top folder)" : "",
                        info.example);
  }
  std::vector<std::string> messages = predicted_messages(info.id);
  if (!messages.empty()) text += "\nPyTorch's messages for it (mhacheck explain reads them back):\n";
  for (const std::string& message : messages) text += "  " + message + "\n";
  return text;
}

std::string render_catalogue_markdown() {
  std::string out =
      "# Diagnostics\n\n"
      "Every diagnostic mhacheck reports, from the one catalogue in src/check/catalogue.cpp (this file is its output:\n"
      "`mhacheck explain --all > docs/diagnostics.md`; a test keeps the two equal). Codes are stable.\n"
      "Errors make `mhacheck check` exit with 1 (input errors MHA001-MHA003 and MHA106 with 2); warnings only with `--werror`.\n"
      "`mhacheck explain TEXT` reads PyTorch's own messages, listed under each code, back into these codes (docs/explain.md).\n\n"
      "| code | name | severity | title |\n|---|---|---|---|\n";
  for (const DiagInfo& info : diagnostic_catalogue()) {
    out += fmt::format("| [{}](#{}) | {} | {} | {} |\n", info.code, lowered(info.code), info.name,
                       severity_name(info.severity), info.title);
  }
  for (const DiagInfo& info : diagnostic_catalogue()) {
    out += fmt::format("\n## {}\n\n**{}** ({}{}): {}\n\n{}\n", info.code, info.name, severity_name(info.severity),
                       info.needs_run ? ", found by `mhacheck run`" : "", info.title, info.explanation);
    if (*info.example != '\0') out += fmt::format("\nExample (`mhacheck explain {}`):\n\n```json\n{}\n```\n", info.code, info.example);
    std::vector<std::string> messages = predicted_messages(info.id);
    if (!messages.empty()) out += "\nPyTorch's messages for it:\n\n";
    for (const std::string& message : messages) out += "- " + message + "\n";
  }
  return out;
}

}  // namespace mhacheck
