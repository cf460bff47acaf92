// SARIF 2.1.0 for code-scanning tools: one run whose rules are the diagnostic catalogue and whose
// results are the reports' diagnostics, in order. Like render_json, it only formats Report facts.
#include <algorithm>
#include <cstdio>

#include "mhacheck/render.hpp"

namespace mhacheck {
namespace {

using nlohmann::json;

constexpr const char* kSarifSchema =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// A relative path as a URI reference (RFC 3986): every byte but unreserved ones and '/' is
// percent-encoded, so spaces, '%', '#', '?' and a ':' in the first segment cannot change its meaning.
std::string uri_escape(const std::string& path) {
  std::string uri;
  for (char c : path) {
    auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte) || c == '/') {
      uri += c;
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof escaped, "%%%02X", byte);
      uri += escaped;
    }
  }
  return uri;
}

// Columns are bytes in mhacheck and SARIF counts characters; specs are JSON keyed by ASCII
// names, so the two agree on every line mhacheck points into in practice.
json physical_location(const Location& location, const std::filesystem::path& working_directory) {
  std::string path = ci_artifact_path(location.file(), working_directory);
  if (path.empty()) return nullptr;
  json physical = {{"artifactLocation", {{"uri", uri_escape(path)}}}};
  if (location.known()) {
    json region = {{"startLine", location.line}};
    if (location.column > 0) {
      region["startColumn"] = location.column;
      region["endColumn"] = location.column + std::max(1, location.length);  // SARIF's end is exclusive
    }
    physical["region"] = region;
  }
  return physical;
}

json rule_json(const DiagInfo& info) {
  return {{"id", info.code},
          {"name", info.name},
          {"shortDescription", {{"text", info.title}}},
          {"fullDescription", {{"text", info.explanation}}},
          {"help", {{"text", render_explanation(info)}}},
          {"defaultConfiguration", {{"level", severity_name(info.severity)}}}};
}

std::size_t rule_index(DiagId id) {
  const std::vector<DiagInfo>& catalogue = diagnostic_catalogue();
  for (std::size_t i = 0; i < catalogue.size(); ++i) {
    if (catalogue[i].id == id) return i;
  }
  return 0;  // unreachable: every DiagId has a catalogue entry (diag_info throws otherwise)
}

// The facts SARIF has no field for. Fixes go here too: a SARIF fix must be a text replacement
// with an exact deleted region, and the Report holds RFC 6902 patches against the spec document
// whose replaced values' extents it does not record (a Location marks where a value starts), so a
// SARIF `fixes` entry could only be guessed; the patch is exact and applies with any JSON Patch tool.
json result_properties(const Diagnostic& diagnostic) {
  json properties = json::object();
  if (!diagnostic.call.empty()) properties["call"] = diagnostic.call;
  if (!diagnostic.argument.empty()) properties["argument"] = diagnostic.argument;
  if (diagnostic.dim) properties["dim"] = *diagnostic.dim;
  properties["jsonPointer"] = diagnostic.location.pointer;
  properties["notes"] = diagnostic.notes;
  if (diagnostic.pytorch_error) {
    properties["pytorchError"] = {{"type", diagnostic.pytorch_error->type},
                                  {"message", diagnostic.pytorch_error->message},
                                  {"raisedFirst", diagnostic.pytorch_error->raised_first}};
  }
  json fixes = json::array();
  for (const Fix& fix : diagnostic.fixes) {
    if (!fix.verified) continue;
    fixes.push_back({{"description", fix.description},
                     {"patch", fix.patch},
                     {"result", fix_result_text(fix)},
                     {"semantics", semantics_name(fix.semantics)},
                     {"text", fix_text(fix)},
                     {"verified", true}});
  }
  if (!fixes.empty()) properties["fixes"] = fixes;
  return properties;
}

json result_json(const Diagnostic& diagnostic, const std::filesystem::path& working_directory) {
  const DiagInfo& info = diagnostic.info();
  json result = {{"ruleId", info.code},
                 {"ruleIndex", rule_index(diagnostic.id)},
                 {"level", severity_name(info.severity)},
                 // the first verified fix; all of them are under properties.fixes
                 {"message", {{"text", diagnostic_summary_text(diagnostic)}}}};
  json physical = physical_location(diagnostic.location, working_directory);
  if (!physical.is_null()) result["locations"] = json::array({{{"physicalLocation", physical}}});
  json related = json::array();
  for (std::size_t i = 0; i < diagnostic.related.size(); ++i) {
    const RelatedLocation& place = diagnostic.related[i];
    json location = {{"id", i}, {"message", {{"text", place.message}}}};
    json related_physical = physical_location(place.location, working_directory);
    if (!related_physical.is_null()) location["physicalLocation"] = related_physical;
    related.push_back(location);
  }
  if (!related.empty()) result["relatedLocations"] = related;
  result["properties"] = result_properties(diagnostic);
  return result;
}

}  // namespace

std::string ci_artifact_path(const std::string& file, const std::filesystem::path& working_directory) {
  // "-" is standard input, "--query" and the like are flags, "<command line>" the inline call.
  if (file.empty() || file == "-" || file.rfind("--", 0) == 0 || file.front() == '<') return {};
  std::filesystem::path path = std::filesystem::path(file).lexically_normal();
  if (path.is_absolute()) {
    std::filesystem::path relative = path.lexically_relative(working_directory.lexically_normal());
    if (!relative.empty()) path = relative;
  }
  return path.generic_string();
}

json render_sarif(const std::vector<Report>& reports, const std::filesystem::path& working_directory) {
  json rules = json::array();
  for (const DiagInfo& info : diagnostic_catalogue()) rules.push_back(rule_json(info));
  json results = json::array();
  for (const Report& report : reports) {
    for (const Diagnostic& diagnostic : report.diagnostics) results.push_back(result_json(diagnostic, working_directory));
  }
  // No informationUri: the project has no published home page to point at.
  json driver = {{"name", "mhacheck"}, {"version", MHACHECK_VERSION}, {"rules", rules}};
  json run = {{"tool", {{"driver", driver}}}, {"results", results}};
  return {{"$schema", kSarifSchema}, {"version", "2.1.0"}, {"runs", json::array({run})}};
}

}  // namespace mhacheck
