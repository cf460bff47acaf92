#include "mhacheck/render.hpp"

namespace mhacheck {
namespace {

using nlohmann::json;

json location_json(const Location& location) {
  json object = {{"file", location.file()}, {"pointer", location.pointer}};
  object["line"] = location.known() ? json(location.line) : json(nullptr);
  object["column"] = location.known() ? json(location.column) : json(nullptr);
  return object;
}

json diagnostic_json(const Diagnostic& diagnostic) {
  const DiagInfo& info = diagnostic.info();
  json object = {
      {"code", info.code},
      {"name", info.name},
      {"severity", severity_name(info.severity)},
      {"message", diagnostic.message},
      {"call", diagnostic.call.empty() ? json(nullptr) : json(diagnostic.call)},
      {"argument", diagnostic.argument.empty() ? json(nullptr) : json(diagnostic.argument)},
      {"dim", diagnostic.dim ? json(*diagnostic.dim) : json(nullptr)},
      {"location", location_json(diagnostic.location)},
      {"notes", diagnostic.notes},
  };
  object["related"] = json::array();
  for (const RelatedLocation& related : diagnostic.related) {
    object["related"].push_back({{"message", related.message}, {"location", location_json(related.location)}});
  }
  object["pytorch_error"] = nullptr;
  if (diagnostic.pytorch_error) {
    object["pytorch_error"] = {{"type", diagnostic.pytorch_error->type},
                               {"message", diagnostic.pytorch_error->message},
                               {"raised_first", diagnostic.pytorch_error->raised_first}};
  }
  object["fixes"] = json::array();
  for (const Fix& fix : diagnostic.fixes) {
    object["fixes"].push_back(
        {{"description", fix.description}, {"patch", fix.patch}, {"verified", fix.verified}, {"result", fix.result}});
  }
  return object;
}

}  // namespace

json render_json(const std::vector<Report>& reports) {
  json document = {{"schema_version", 1}, {"tool", {{"name", "mhacheck"}, {"version", MHACHECK_VERSION}}}};
  int errors = 0, warnings = 0, notes = 0;
  bool input_error = false;
  json diagnostics = json::array(), outputs = json::object(), files = json::array();
  for (const Report& report : reports) {
    json calls = json::array();
    for (const CallReport& call : report.calls) {
      json call_outputs = json::object();
      for (const NamedOutput& output : call.outputs) {
        json entry = {{"shape", shape_json(output.shape)}, {"dtype", dtype_name(output.dtype)}};
        call_outputs[output.name] = entry;
        std::string key = reports.size() == 1 ? output.name : report.file + ":" + output.name;
        outputs[key] = std::move(entry);
      }
      // Built in place and moved, not copied: a 10,000-call report is large.
      json& entry = calls.emplace_back(json::object());
      entry["id"] = call.id;
      entry["module"] = call.module_text;
      entry["ok"] = call.ok;
      entry["skipped_because"] = call.skipped_because.empty() ? json(nullptr) : json(call.skipped_because);
      entry["outputs"] = std::move(call_outputs);
    }
    for (const Diagnostic& diagnostic : report.diagnostics) diagnostics.push_back(diagnostic_json(diagnostic));
    json& file = files.emplace_back(json::object());
    file["file"] = report.file;
    file["ok"] = report.ok() && !report.input_error;
    file["calls"] = std::move(calls);
    errors += report.count(Severity::Error);
    warnings += report.count(Severity::Warning);
    notes += report.count(Severity::Note);
    input_error = input_error || report.input_error;
  }
  document["ok"] = errors == 0;
  document["input_error"] = input_error;
  document["summary"] = {{"errors", errors}, {"warnings", warnings}, {"notes", notes}};
  document["diagnostics"] = std::move(diagnostics);
  document["outputs"] = std::move(outputs);
  document["files"] = std::move(files);
  return document;
}

}  // namespace mhacheck
