#include <catch2/catch.hpp>

#include <sstream>

#include "mhacheck/render.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {
const std::filesystem::path kWorkingDirectory = "/work/repo";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}
}  // namespace

TEST_CASE("github: escaping of data and properties", "[render][github]") {
  CHECK(github_escape_data("plain text: a, b") == "plain text: a, b");
  CHECK(github_escape_data("100%") == "100%25");
  CHECK(github_escape_data("a\r\nb\nc") == "a%0D%0Ab%0Ac");
  CHECK(github_escape_data("%0A") == "%250A");  // a literal %0A stays literal
  CHECK(github_escape_data("::error::x") == "::error::x");
  CHECK(github_escape_property("dir:x,y.json") == "dir%3Ax%2Cy.json");
  CHECK(github_escape_property("50%\n:,\r") == "50%25%0A%3A%2C%0D");
  CHECK(github_escape_property("").empty());
}

TEST_CASE("github: the annotation for seed example 1, then the summary", "[render][github]") {
  std::string text = render_github({test::check_example("seed_example1.json")}, kWorkingDirectory);
  std::vector<std::string> lines = lines_of(text);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] ==
        "::error file=examples/seed_example1.json,line=7,col=17,title=MHA040 batch-mismatch::"
        "key batch size (10) differs from query batch size (1) (call \"call\")"
        "%0Anote: with batch_first=False, query (32, 1, 512) is read as (L=32, N=1, E=512) and key (32, 10, 512) is "
        "read as (S=32, N=10, E=512)"
        "%0Anote: batch_first is left out of the constructor, "
        "so it is PyTorch's default False: dim 0 is the sequence and dim 1 the batch"
        "%0Apytorch: RuntimeError: shape '[32, 8, 64]' is invalid for input of size 163840"
        "%0Afix: construct with batch_first=True — valid: attn_output (32, 1, 512), attn_output_weights (32, 1, 10) "
        "[verified]");
  CHECK(lines[1] == "mhacheck: FAIL: 1 error, 0 warnings, 0 notes in 1 spec");
  CHECK_THAT(text, Catch::EndsWith("\n"));
}

TEST_CASE("github: warnings and notes, one line each, one stream for several specs", "[render][github]") {
  std::string text = render_github({test::check_catalogue_example(DiagId::SymbolConstraint), test::check_example("seed_example3.json")}, kWorkingDirectory);
  std::vector<std::string> lines = lines_of(text);
  REQUIRE(lines.size() >= 3);
  int warnings = 0, notices = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    CHECK_THAT(lines[i], Catch::StartsWith("::"));
    if (lines[i].rfind("::warning file=spec.json,", 0) == 0) ++warnings;
    if (lines[i].rfind("::notice file=examples/seed_example3.json,", 0) == 0) ++notices;
  }
  CHECK(warnings >= 1);
  CHECK(notices == 1);
  CHECK_THAT(text, Catch::Contains(",title=MHA080 symbol-constraint::"));
  CHECK_THAT(text, Catch::Contains(",title=MHA090 interpretation::"));
  CHECK_THAT(lines.back(), !Catch::StartsWith("::"));
  CHECK_THAT(lines.back(), Catch::EndsWith(" in 2 specs"));
  CHECK_THAT(lines.back(), Catch::StartsWith("mhacheck: OK: 0 errors, "));
}

TEST_CASE("github: paths are relative and escaped, sources that are not files get no file", "[render][github]") {
  std::string absolute = render_github({test::check_catalogue_example(DiagId::BatchMismatch, "/work/repo/a,b:c.json")}, kWorkingDirectory);
  CHECK_THAT(absolute, Catch::StartsWith("::error file=a%2Cb%3Ac.json,line=1,col="));

  std::string from_stdin = render_github({test::check_catalogue_example(DiagId::BatchMismatch, "-")}, kWorkingDirectory);
  CHECK_THAT(from_stdin, Catch::StartsWith("::error title=MHA040 batch-mismatch::key batch size (5) differs"));

  InputError missing(Location{std::make_shared<SourceText>(SourceText{"no/such.json", ""}), 0, 0, 1, ""}, "cannot open");
  std::string unreadable = render_github({input_error_report("no/such.json", missing)}, kWorkingDirectory);
  CHECK_THAT(unreadable, Catch::StartsWith("::error file=no/such.json,title=MHA002 input-schema::cannot open"));
}
