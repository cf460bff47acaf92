#include "test_support.hpp"

#include <fstream>
#include <iterator>
#include <memory>

namespace mhacheck::test {

JsonDocument document_from(const std::string& text, const std::string& name) {
  auto source = std::make_shared<SourceText>();
  source->name = name;
  source->text = text;
  return parse_json_document(source);
}

Report check_text(const std::string& text, bool verify_fixes) {
  CheckOptions options;
  options.verify_fixes = verify_fixes;
  try {
    return check_document(document_from(text), options);
  } catch (const InputError& error) {
    return input_error_report("test.json", error);
  }
}

const Diagnostic* find(const Report& report, const std::string& code) {
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (code == diagnostic.info().code) return &diagnostic;
  }
  return nullptr;
}

const Diagnostic* raised(const Report& report) {
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.severity() == Severity::Error && diagnostic.pytorch_error && diagnostic.pytorch_error->raised_first) {
      return &diagnostic;
    }
  }
  return nullptr;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace mhacheck::test
