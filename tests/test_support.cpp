#include "test_support.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

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

const Fix* first_fix(const Report& report, const std::string& code) {
  const Diagnostic* diagnostic = find(report, code);
  return diagnostic == nullptr || diagnostic->fixes.empty() ? nullptr : &diagnostic->fixes.front();
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

Report check_example(const std::string& name) {
  auto source = std::make_shared<SourceText>();
  source->name = "examples/" + name;
  source->text = read_file(std::string(MHACHECK_SOURCE_DIR) + "/examples/" + name);
  return check_document(parse_json_document(source));
}

Report check_catalogue_example(DiagId id, const std::string& file) {
  return check_document(document_from(diag_info(id).example, file));
}

namespace fs = std::filesystem;

TempDir::TempDir() {
  static int counter = 0;
  path = fs::temp_directory_path() / ("mhacheck_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  fs::remove_all(path);
  fs::create_directories(path);
}

TempDir::~TempDir() { fs::remove_all(path); }

std::string TempDir::write(const std::string& name, const std::string& bytes) const {
  std::ofstream(file(name), std::ios::binary) << bytes;
  return file(name);
}

std::vector<std::string> TempDir::names() const {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(path)) out.push_back(entry.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

CliRun run_cli(const std::string& args, const std::string& prefix, bool merge) {
  static int counter = 0;
  std::string err_file =
      (fs::temp_directory_path() / ("mhacheck_test_err_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))).string();
  std::string command = std::string("cd ") + MHACHECK_SOURCE_DIR + " && " + prefix + std::string(MHACHECK_BINARY) + " " + args +
                        (merge ? " 2>&1" : " 2>" + err_file);
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 4096> buffer{};
  while (std::size_t n = fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  int status = pclose(pipe);
  std::string err = merge ? std::string() : read_file(err_file);
  fs::remove(err_file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, err};
}

}  // namespace mhacheck::test
