#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "mhacheck/render.hpp"
#include "mhacheck/report_filter.hpp"
#include "mhacheck/run.hpp"
#include "core/runtime_library.hpp"
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
    // Only a code that the machine, not a spec, triggers goes without an example; its own test
    // (below) builds the error the library raises.
    if (*info.example == '\0') {
      CHECK(info.id == DiagId::RuntimeLibraryMissing);
      continue;
    }
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

TEST_CASE("a library that cannot be loaded is MHA106, an input error of the environment", "[catalogue]") {
  // What src/forward/blas.cpp raises when dlopen fails: the report that the CLI prints and
  // whose input_error makes the exit code 2.
  InputError error = runtime_library_missing("OpenBLAS (libopenblas.so.0)", "libopenblas.so.0: cannot open shared object file",
                                             "the forward pass needs it: apt-get install libopenblas0");
  CHECK(error.kind() == InputError::Kind::Environment);
  Report report = input_error_report("spec.json", error);
  CHECK(report.input_error);
  REQUIRE(report.diagnostics.size() == 1);
  const Diagnostic& diagnostic = report.diagnostics.front();
  CHECK(std::string(diagnostic.info().code) == "MHA106");
  CHECK(diagnostic.severity() == Severity::Error);
  CHECK(diagnostic.message == "cannot load OpenBLAS (libopenblas.so.0): libopenblas.so.0: cannot open shared object file");
  REQUIRE(diagnostic.notes.size() == 1);
  CHECK(diagnostic.notes.front() == "the forward pass needs it: apt-get install libopenblas0");
  // --ignore cannot hide it: like MHA001-MHA003, a run that cannot start never passes.
  DiagnosticFilter filter;
  filter.ignore = {"MHA106"};
  apply_filter(report, filter);
  CHECK(report.diagnostics.size() == 1);
}

TEST_CASE("a code without an example spec says why, in explain and in docs", "[catalogue]") {
  std::string text = render_explanation(diag_info(DiagId::RuntimeLibraryMissing));
  // Not "found by mhacheck run": check and graph raise it for a spec naming an .npz without libzip.
  CHECK(text.find("MHA106 (runtime-library-missing, error): ") == 0);
  CHECK(text.find("Example spec") == std::string::npos);
  CHECK(text.find("depends on the machine") != std::string::npos);
  std::string example = render_explanation(diag_info(DiagId::RunDType));
  CHECK(example.find("Example spec (for mhacheck run") != std::string::npos);
}
