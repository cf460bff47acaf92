#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "mhacheck/render.hpp"
#include "mhacheck/run.hpp"
#include "test_support.hpp"

using namespace mhacheck;

TEST_CASE("every catalogue entry's example triggers exactly its code", "[catalogue]") {
  std::set<std::string> codes, names;
  for (const DiagInfo& info : diagnostic_catalogue()) {
    INFO(info.code);
    CHECK(codes.insert(info.code).second);
    CHECK(names.insert(info.name).second);
    CHECK(&diag_info(info.id) == &info);
    CHECK(find_diag_info(info.code) == &info);
    CHECK(find_diag_info(info.name) == &info);
    // Examples of run-time codes name data under examples/run/, relative to the repository.
    Report report = info.needs_run
                        ? run_spec(parse_spec(test::document_from(info.example, std::string(MHACHECK_SOURCE_DIR) + "/example.json")),
                                   RunOptions{})
                              .report
                        : test::check_text(info.example, false);
    CHECK(test::find(report, info.code) != nullptr);
    // The example's first error (or, for warnings and notes, its only finding) is this code.
    if (info.severity == Severity::Error) {
      auto first_error = std::find_if(report.diagnostics.begin(), report.diagnostics.end(),
                                      [](const Diagnostic& d) { return d.severity() == Severity::Error; });
      REQUIRE(first_error != report.diagnostics.end());
      CHECK(std::string(first_error->info().code) == info.code);
    }
  }
}

TEST_CASE("docs/diagnostics.md is the catalogue's current rendering", "[catalogue]") {
  std::string documented = test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/docs/diagnostics.md");
  // If this fails: build/mhacheck explain --all > docs/diagnostics.md
  CHECK(documented == render_catalogue_markdown());
}
