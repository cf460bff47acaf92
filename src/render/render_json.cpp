#include "mhacheck/render.hpp"
#include "mhacheck/render_parts.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "core/shape_json.hpp"

namespace mhacheck {
namespace {

using nlohmann::json;

// The report document is described once, by `emit_report` below, to a sink: TreeSink builds
// the nlohmann::json that render_json returns, TextSink writes the text that dumping that tree
// gives (indent 2, invalid UTF-8 replaced), without building it. A report of thousands of
// calls is a tree of hundreds of thousands of small allocations, and building, dumping and
// freeing it cost several times what writing the text directly does.
//
// Sink calls: begin_object/end_object, begin_array/end_array, key (before each member's value;
// an object's keys are given in ascending std::string order, each once, as nlohmann/json's
// std::map holds them), and the values null, boolean, integer, string and value (any json).

class TreeSink {
 public:
  void begin_object() { open(json(json::value_t::object)); }
  void begin_array() { open(json(json::value_t::array)); }
  void end_object() { stack_.pop_back(); }
  void end_array() { stack_.pop_back(); }
  void key(std::string_view key) { key_.assign(key); }
  void null() { place(json(nullptr)); }
  void boolean(bool value) { place(json(value)); }
  void integer(std::int64_t value) { place(json(value)); }
  void string(std::string_view value) { place(json(std::string(value))); }
  void value(const json& value) { place(value); }
  void value(json&& value) { place(std::move(value)); }

  json take() { return std::move(root_); }

 private:
  json& place(json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      auto& array = parent.get_ref<json::array_t&>();
      array.push_back(std::move(value));
      return array.back();
    }
    auto& object = parent.get_ref<json::object_t&>();
    return object.insert_or_assign(object.end(), key_, std::move(value))->second;
  }
  void open(json container) { stack_.push_back(&place(std::move(container))); }

  json root_;
  std::vector<json*> stack_;  // the open containers; only the innermost one grows
  std::string key_;
};

class TextSink {
 public:
  TextSink()
      : serializer_(std::make_shared<nlohmann::detail::output_string_adapter<char, std::string>>(out_), ' ',
                    json::error_handler_t::replace) {}
  // A sink for a part of the document: what it writes is indented as inside the document's
  // object and one of its arrays, each element after a comma (raw() drops the first one's).
  struct InArray {};
  explicit TextSink(InArray) : TextSink() { open_ = {{false, 1}, {true, 1}}; }

  void begin_object() { open('{'); }
  void begin_array() { open('['); }
  void end_object() { close('}'); }
  void end_array() { close(']'); }
  void key(std::string_view key) {
    separate();
    quoted(key);
    out_ += ": ";
  }
  void null() {
    element();
    out_ += "null";
  }
  void boolean(bool value) {
    element();
    out_ += value ? "true" : "false";
  }
  void integer(std::int64_t value) {
    element();
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out_.append(digits, end);
  }
  void string(std::string_view value) {
    element();
    quoted(value);
  }
  void value(const json& value) {
    element();
    serializer_.dump(value, true, false, 2, indent());
  }

  std::string take() {
    out_ += '\n';
    return std::move(out_);
  }
  std::string take_part() { return std::move(out_); }
  // `elements` elements that an InArray sink wrote, into the open array.
  void raw(std::string_view part, std::size_t elements) {
    if (elements == 0) return;
    out_ += open_.back().count == 0 ? part.substr(1) : part;
    open_.back().count += elements;
  }

 private:
  // In an array a value starts a new line; in an object key() has already started it.
  void element() {
    if (!open_.empty() && open_.back().array) separate();
  }
  // The line break (after a comma unless first) and indentation before a member or element.
  void separate() {
    out_ += open_.back().count++ == 0 ? "\n" : ",\n";
    out_.append(indent(), ' ');
  }
  void open(char bracket) {
    element();
    out_ += bracket;
    open_.push_back({bracket == '[', 0});
  }
  void close(char bracket) {
    bool empty = open_.back().count == 0;
    open_.pop_back();
    if (!empty) {
      out_ += '\n';
      out_.append(indent(), ' ');
    }
    out_ += bracket;
  }
  unsigned indent() const { return static_cast<unsigned>(2 * open_.size()); }
  // A JSON string as nlohmann/json writes it (ensure_ascii off, invalid UTF-8 replaced):
  // printable ASCII other than '"' and '\' as it is, anything else through its serializer.
  void quoted(std::string_view text) {
    bool plain = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (plain) {
      out_ += '"';
      out_ += text;
      out_ += '"';
    } else {
      serializer_.dump(json(std::string(text)), true, false, 2, 0);
    }
  }

  struct Open {
    bool array;
    std::size_t count;  // members or elements written so far
  };
  std::string out_;
  nlohmann::detail::serializer<json> serializer_;
  std::vector<Open> open_;
};

template <class Sink>
void string_or_null(Sink& sink, const std::string& text) {
  if (text.empty()) sink.null();
  else sink.string(text);
}

template <class Sink>
void emit_location(Sink& sink, const Location& location) {
  sink.begin_object();
  sink.key("column");
  if (location.known()) sink.integer(location.column);
  else sink.null();
  sink.key("file");
  sink.string(location.file());
  sink.key("line");
  if (location.known()) sink.integer(location.line);
  else sink.null();
  sink.key("pointer");
  sink.string(location.pointer);
  sink.end_object();
}

// An output's entry: {"dtype": ..., "shape": [...]}.
template <class Sink>
void emit_output(Sink& sink, const NamedOutput& output) {
  sink.begin_object();
  sink.key("dtype");
  sink.string(dtype_name(output.dtype));
  sink.key("shape");
  write_shape_json(sink, output.shape);
  sink.end_object();
}

// Outputs by name as a JSON object holds them: in ascending key order, and a name given twice
// keeps its last output.
using KeyedOutputs = std::vector<std::pair<std::string, const NamedOutput*>>;

template <class Sink>
void emit_outputs(Sink& sink, KeyedOutputs& outputs) {
  std::stable_sort(outputs.begin(), outputs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  sink.begin_object();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (i + 1 < outputs.size() && outputs[i + 1].first == outputs[i].first) continue;  // a later one wins
    sink.key(outputs[i].first);
    emit_output(sink, *outputs[i].second);
  }
  sink.end_object();
}

template <class Sink>
void emit_fix(Sink& sink, const Fix& fix) {
  sink.begin_object();
  sink.key("description");
  sink.string(fix.description);
  sink.key("outputs");
  KeyedOutputs outputs;
  for (const NamedOutput& output : fix.outputs) outputs.emplace_back(output.name, &output);
  emit_outputs(sink, outputs);
  sink.key("patch");
  sink.value(fix.patch);
  sink.key("remaining_errors");
  sink.begin_array();
  for (const RemainingError& error : fix.remaining_errors) {
    sink.begin_object();
    sink.key("call");
    string_or_null(sink, error.call);
    sink.key("code");
    sink.string(error.code);
    sink.key("message");
    sink.string(error.message);
    sink.end_object();
  }
  sink.end_array();
  sink.key("result");
  sink.string(fix_result_text(fix));
  sink.key("semantics");
  sink.string(semantics_name(fix.semantics));
  sink.key("semantics_note");
  string_or_null(sink, fix.semantics_note);
  sink.key("text");
  sink.string(fix_text(fix));
  sink.key("valid");
  sink.boolean(fix.valid());
  sink.key("verified");
  sink.boolean(fix.verified);
  sink.end_object();
}

template <class Sink>
void emit_diagnostic(Sink& sink, const Diagnostic& diagnostic) {
  const DiagInfo& info = diagnostic.info();
  sink.begin_object();
  sink.key("argument");
  string_or_null(sink, diagnostic.argument);
  sink.key("call");
  string_or_null(sink, diagnostic.call);
  sink.key("code");
  sink.string(info.code);
  sink.key("dim");
  if (diagnostic.dim) sink.integer(*diagnostic.dim);
  else sink.null();
  sink.key("fixes");
  sink.begin_array();
  for (const Fix& fix : diagnostic.fixes) emit_fix(sink, fix);
  sink.end_array();
  sink.key("location");
  emit_location(sink, diagnostic.location);
  sink.key("message");
  sink.string(diagnostic.message);
  sink.key("name");
  sink.string(info.name);
  sink.key("notes");
  sink.begin_array();
  for (const std::string& note : diagnostic.notes) sink.string(note);
  sink.end_array();
  sink.key("pytorch_error");
  if (diagnostic.pytorch_error) {
    sink.begin_object();
    sink.key("message");
    sink.string(diagnostic.pytorch_error->message);
    sink.key("raised_first");
    sink.boolean(diagnostic.pytorch_error->raised_first);
    sink.key("type");
    sink.string(diagnostic.pytorch_error->type);
    sink.end_object();
  } else {
    sink.null();
  }
  sink.key("related");
  sink.begin_array();
  for (const RelatedLocation& related : diagnostic.related) {
    sink.begin_object();
    sink.key("location");
    emit_location(sink, related.location);
    sink.key("message");
    sink.string(related.message);
    sink.end_object();
  }
  sink.end_array();
  sink.key("severity");
  sink.string(severity_name(info.severity));
  sink.end_object();
}

// A report's entry in "files"; `call_outputs` is scratch space.
template <class Sink>
void emit_file(Sink& sink, const Report& report, KeyedOutputs& call_outputs) {
  sink.begin_object();
  sink.key("calls");
  sink.begin_array();
  for (const CallReport& call : report.calls) {
    sink.begin_object();
    sink.key("id");
    sink.string(call.id);
    sink.key("module");
    sink.string(call.module_text);
    sink.key("ok");
    sink.boolean(call.ok);
    sink.key("outputs");
    call_outputs.clear();
    for (const NamedOutput& output : call.outputs) call_outputs.emplace_back(output.name, &output);
    emit_outputs(sink, call_outputs);
    sink.key("skipped_because");
    string_or_null(sink, call.skipped_because);
    sink.end_object();
  }
  sink.end_array();
  sink.key("file");
  sink.string(report.file);
  sink.key("ok");
  sink.boolean(report.ok() && !report.input_error);
  sink.end_object();
}

// What emit_report writes of each report in "diagnostics" and "files": its own, or the parts
// rendered beforehand (render_json_part).
struct ReportsInPlace {
  const std::vector<Report>& reports;
  KeyedOutputs call_outputs;
  template <class Sink>
  void diagnostics(Sink& sink, std::size_t i) {
    for (const Diagnostic& diagnostic : reports[i].diagnostics) emit_diagnostic(sink, diagnostic);
  }
  template <class Sink>
  void file(Sink& sink, std::size_t i) {
    emit_file(sink, reports[i], call_outputs);
  }
};
struct RenderedParts {
  const std::vector<JsonReportPart>& parts;
  void diagnostics(TextSink& sink, std::size_t i) { sink.raw(parts[i].diagnostics, parts[i].diagnostic_count); }
  void file(TextSink& sink, std::size_t i) { sink.raw(parts[i].file, 1); }
};

template <class Sink, class Parts>
void emit_report(Sink& sink, const std::vector<Report>& reports, Parts&& parts) {
  int errors = 0, warnings = 0, notes = 0;
  bool input_error = false;
  for (const Report& report : reports) {
    errors += report.count(Severity::Error);
    warnings += report.count(Severity::Warning);
    notes += report.count(Severity::Note);
    input_error = input_error || report.input_error;
  }
  sink.begin_object();
  sink.key("diagnostics");
  sink.begin_array();
  for (std::size_t i = 0; i < reports.size(); ++i) parts.diagnostics(sink, i);
  sink.end_array();
  sink.key("files");
  sink.begin_array();
  for (std::size_t i = 0; i < reports.size(); ++i) parts.file(sink, i);
  sink.end_array();
  sink.key("input_error");
  sink.boolean(input_error);
  sink.key("ok");
  sink.boolean(errors == 0);
  sink.key("outputs");
  KeyedOutputs all_outputs;
  for (const Report& report : reports) {
    for (const CallReport& call : report.calls) {
      for (const NamedOutput& output : call.outputs) {
        all_outputs.emplace_back(reports.size() == 1 ? output.name : report.file + ":" + output.name, &output);
      }
    }
  }
  emit_outputs(sink, all_outputs);
  sink.key("schema_version");
  sink.integer(1);
  sink.key("summary");
  sink.begin_object();
  sink.key("errors");
  sink.integer(errors);
  sink.key("notes");
  sink.integer(notes);
  sink.key("warnings");
  sink.integer(warnings);
  sink.end_object();
  sink.key("tool");
  sink.begin_object();
  sink.key("name");
  sink.string("mhacheck");
  sink.key("version");
  sink.string(MHACHECK_VERSION);
  sink.end_object();
  sink.end_object();
}

}  // namespace

json render_json(const std::vector<Report>& reports) {
  TreeSink sink;
  emit_report(sink, reports, ReportsInPlace{reports, {}});
  return sink.take();
}

std::string render_json_text(const std::vector<Report>& reports) {
  TextSink sink;
  emit_report(sink, reports, ReportsInPlace{reports, {}});
  return sink.take();
}

JsonReportPart render_json_part(const Report& report) {
  JsonReportPart part;
  TextSink diagnostics{TextSink::InArray{}};
  for (const Diagnostic& diagnostic : report.diagnostics) emit_diagnostic(diagnostics, diagnostic);
  part.diagnostics = diagnostics.take_part();
  part.diagnostic_count = report.diagnostics.size();
  TextSink file{TextSink::InArray{}};
  KeyedOutputs call_outputs;
  emit_file(file, report, call_outputs);
  part.file = file.take_part();
  return part;
}

std::string render_json_text(const std::vector<Report>& reports, const std::vector<JsonReportPart>& parts) {
  TextSink sink;
  emit_report(sink, reports, RenderedParts{parts});
  return sink.take();
}

}  // namespace mhacheck
