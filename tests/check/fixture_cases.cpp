#include "check/fixture_cases.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <vector>

#include "test_support.hpp"

namespace mhacheck::test {

nlohmann::json load_fixture(const std::string& file) {
  return nlohmann::json::parse(read_file(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/" + file));
}

std::string verdict_mismatch(const nlohmann::json& expect, const Report& report) {
  const Diagnostic* first = raised(report);
  if (expect["ok"].get<bool>()) {
    if (report.ok()) return {};
    return "mhacheck reports an error PyTorch does not raise: " + (first != nullptr ? first->message : report.diagnostics.front().message);
  }
  if (report.ok()) return "PyTorch raises " + expect["error"].dump() + " but mhacheck finds no error";
  if (first == nullptr) return "no diagnostic carries the raised PyTorch error";
  if (expect.contains("call") && first->call != expect["call"].get<std::string>()) {
    return fmt::format("raised at call {}, expected {}", first->call, expect["call"].dump());
  }
  const nlohmann::json& error = expect["error"];
  if (first->pytorch_error->type != error["type"].get<std::string>() || first->pytorch_error->message != error["message"].get<std::string>()) {
    return fmt::format("raises {}: {}\n     expected {}: {}", first->pytorch_error->type, first->pytorch_error->message,
                       error["type"].get<std::string>(), error["message"].get<std::string>());
  }
  return {};
}

void check_fixture_cases(const nlohmann::json& cases, const CaseMismatch& mismatch) {
  std::vector<std::string> failures;
  for (const nlohmann::json& fixture_case : cases["cases"]) {
    JsonDocument document;
    document.value = fixture_case["spec"];
    CheckOptions options;
    options.verify_fixes = false;
    Report report = check_document(std::move(document), options);
    std::string problem = report.input_error ? "spec rejected: " + report.diagnostics.front().message : mismatch(fixture_case, report);
    if (!problem.empty()) failures.push_back(fixture_case["name"].get<std::string>() + ": " + problem);
  }
  for (std::size_t i = 0; i < failures.size() && i < 40; ++i) UNSCOPED_INFO(failures[i]);
  INFO(fmt::format("{} of {} cases disagree", failures.size(), cases["cases"].size()));
  CHECK(failures.empty());
}

}  // namespace mhacheck::test
