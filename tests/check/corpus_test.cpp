// The corpus of tests/corpus/: silent or misleading attention bugs modelled on real PyTorch
// issues (each cites its source), with the primary diagnostic and the first fix a user must
// see; and correct real-world configurations that must not warn.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "mhacheck/render.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

nlohmann::json corpus(const std::string& name) {
  return nlohmann::json::parse(test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/tests/corpus/" + name));
}

// The diagnostic a user reads first: the first error, else the first warning.
const Diagnostic* primary(const Report& report) {
  for (Severity severity : {Severity::Error, Severity::Warning}) {
    for (const Diagnostic& diagnostic : report.diagnostics) {
      if (diagnostic.severity() == severity) return &diagnostic;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("corpus: every silent or misleading case gets its primary diagnostic and first fix", "[corpus]") {
  nlohmann::json cases = corpus("silent.json");
  CHECK(cases.size() >= 40);
  for (const nlohmann::json& entry : cases) {
    INFO(entry.at("name").get<std::string>());
    REQUIRE(entry.at("source").get<std::string>().rfind("https://", 0) == 0);
    Report report = test::check_text(entry.at("spec").dump());
    REQUIRE_FALSE(report.input_error);
    const Diagnostic* first = primary(report);
    REQUIRE(first != nullptr);
    CHECK(std::string(first->info().code) == entry.at("primary").get<std::string>());
    CHECK(report.ok() == (entry.at("primary_severity").get<std::string>() != "error"));
    CHECK(severity_name(first->severity()) == entry.at("primary_severity").get<std::string>());
    if (entry.contains("first_fix")) {
      REQUIRE_FALSE(first->fixes.empty());
      const Fix& fix = first->fixes.front();
      INFO(fix_text(fix));
      CHECK(fix.description.find(entry.at("first_fix").get<std::string>()) != std::string::npos);
      CHECK(fix.verified);
      CHECK(fix.valid());
      CHECK(fix.semantics != FixSemantics::Suspect);
    }
    for (const std::string& never : entry.value("never_first", std::vector<std::string>{})) {
      if (first->fixes.empty()) continue;
      CHECK(first->fixes.front().description.find(never) == std::string::npos);
    }
  }
}

TEST_CASE("corpus: correct real-world configurations get no error and no warning", "[corpus]") {
  nlohmann::json cases = corpus("correct.json");
  CHECK(cases.size() >= 15);
  for (const nlohmann::json& entry : cases) {
    INFO(entry.at("name").get<std::string>());
    Report report = test::check_text(entry.at("spec").dump());
    REQUIRE_FALSE(report.input_error);
    for (const Diagnostic& diagnostic : report.diagnostics) {
      INFO(diagnostic.info().code << " " << diagnostic.message);
      CHECK(diagnostic.severity() == Severity::Note);
    }
  }
}
