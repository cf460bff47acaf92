#include <catch2/catch.hpp>

#include "mhacheck/render.hpp"
#include "test_support.hpp"

using namespace mhacheck;
using nlohmann::json;

namespace {
const std::filesystem::path kWorkingDirectory = "/work/repo";

const json& only_run(const json& log) {
  REQUIRE(log["runs"].size() == 1);
  return log["runs"][0];
}
}  // namespace

TEST_CASE("sarif: the rules are the diagnostic catalogue, in order", "[render][sarif]") {
  json log = render_sarif({}, kWorkingDirectory);
  const json& rules = only_run(log)["tool"]["driver"]["rules"];
  const std::vector<DiagInfo>& catalogue = diagnostic_catalogue();
  REQUIRE(rules.size() == catalogue.size());
  for (std::size_t i = 0; i < catalogue.size(); ++i) {
    CAPTURE(catalogue[i].code);
    CHECK(rules[i]["id"] == catalogue[i].code);
    CHECK(rules[i]["name"] == catalogue[i].name);
    CHECK(rules[i]["shortDescription"]["text"] == catalogue[i].title);
    CHECK(rules[i]["fullDescription"]["text"] == catalogue[i].explanation);
    CHECK(rules[i]["help"]["text"] == render_explanation(catalogue[i]));
    CHECK(rules[i]["defaultConfiguration"]["level"] == severity_name(catalogue[i].severity));
  }
}

TEST_CASE("sarif: the structure for seed example 1", "[render][sarif]") {
  json log = render_sarif({test::check_example("seed_example1.json")}, kWorkingDirectory);
  CHECK(log["version"] == "2.1.0");
  CHECK(log["$schema"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json");
  const json& run = only_run(log);
  CHECK(run["tool"]["driver"]["name"] == "mhacheck");
  CHECK(run["tool"]["driver"]["version"] == MHACHECK_VERSION);
  REQUIRE(run["results"].size() == 1);
  const json& result = run["results"][0];
  CHECK(result["ruleId"] == "MHA040");
  CHECK(run["tool"]["driver"]["rules"][result["ruleIndex"].get<std::size_t>()]["id"] == "MHA040");
  CHECK(result["level"] == "error");
  CHECK(result["message"]["text"] ==
        "key batch size (10) differs from query batch size (1) (call \"call\")\n"
        "note: with batch_first=False, query (32, 1, 512) is read as (L=32, N=1, E=512) and key (32, 10, 512) is read "
        "as (S=32, N=10, E=512)\n"
        "note: batch_first is left out of the constructor, "
        "so it is PyTorch's default False: dim 0 is the sequence and dim 1 the batch\n"
        "pytorch: RuntimeError: shape '[32, 8, 64]' is invalid for input of size 163840\n"
        "fix: construct with batch_first=True — valid: attn_output (32, 1, 512), attn_output_weights (32, 1, 10) [verified]");
  CHECK(result["locations"] == json::parse(R"J([{"physicalLocation": {
      "artifactLocation": {"uri": "examples/seed_example1.json"},
      "region": {"startLine": 7, "startColumn": 17, "endColumn": 19}}}])J"));
  CHECK(result["relatedLocations"] == json::parse(R"J([
      {"id": 0, "message": {"text": "query batch N = 1 (dim 1, because batch_first=False)"},
       "physicalLocation": {"artifactLocation": {"uri": "examples/seed_example1.json"},
                            "region": {"startLine": 6, "startColumn": 17, "endColumn": 18}}},
      {"id": 1, "message": {"text": "key batch = 10 (dim 1)"},
       "physicalLocation": {"artifactLocation": {"uri": "examples/seed_example1.json"},
                            "region": {"startLine": 7, "startColumn": 17, "endColumn": 19}}}])J"));

  // The fixes are JSON patches, not text replacements: properties only, never an invalid SARIF fix.
  CHECK_FALSE(result.contains("fixes"));
  const json& properties = result["properties"];
  CHECK(properties["call"] == "call");
  CHECK(properties["argument"] == "key");
  CHECK(properties["dim"] == 1);
  CHECK(properties["jsonPointer"] == "/key/1");
  CHECK(properties["pytorchError"] ==
        json{{"type", "RuntimeError"}, {"message", "shape '[32, 8, 64]' is invalid for input of size 163840"}, {"raisedFirst", true}});
  REQUIRE(properties["fixes"].size() == 2);
  CHECK(properties["fixes"][0] == json::parse(R"J({"description": "construct with batch_first=True",
      "patch": [{"op": "replace", "path": "/module", "value": "nn.MultiheadAttention(512, 8, batch_first=True)"}],
      "result": "valid: attn_output (32, 1, 512), attn_output_weights (32, 1, 10)", "semantics": "unknown",
      "text": "construct with batch_first=True — valid: attn_output (32, 1, 512), attn_output_weights (32, 1, 10)", "verified": true})J"));
  CHECK(properties["fixes"][1]["description"] == "transpose query, key and value with .transpose(0, 1)");
}

TEST_CASE("sarif: levels follow the catalogue's severities", "[render][sarif]") {
  auto level_of = [](DiagId id) {
    json log = render_sarif({test::check_catalogue_example(id)}, kWorkingDirectory);
    for (const json& result : only_run(log)["results"]) {
      if (result["ruleId"] == diag_info(id).code) return result["level"].get<std::string>();
    }
    return std::string("missing");
  };
  CHECK(level_of(DiagId::BatchMismatch) == "error");
  CHECK(level_of(DiagId::SymbolConstraint) == "warning");
  CHECK(level_of(DiagId::Interpretation) == "note");
}

TEST_CASE("sarif: artifact paths are relative to the working directory, with forward slashes", "[render][sarif]") {
  CHECK(ci_artifact_path("examples/a.json", kWorkingDirectory) == "examples/a.json");
  CHECK(ci_artifact_path("./examples/../examples/a.json", kWorkingDirectory) == "examples/a.json");
  CHECK(ci_artifact_path("/work/repo/examples/a.json", kWorkingDirectory) == "examples/a.json");
  CHECK(ci_artifact_path("/work/repo/examples/a.json", "/work/repo/") == "examples/a.json");
  CHECK(ci_artifact_path("/work/other/a.json", kWorkingDirectory) == "../other/a.json");
  CHECK(ci_artifact_path("../a.json", kWorkingDirectory) == "../a.json");
  // Not files: standard input, command-line flags, the inline call, no place at all.
  CHECK(ci_artifact_path("-", kWorkingDirectory).empty());
  CHECK(ci_artifact_path("--query", kWorkingDirectory).empty());
  CHECK(ci_artifact_path("<command line>", kWorkingDirectory).empty());
  CHECK(ci_artifact_path("", kWorkingDirectory).empty());
}

TEST_CASE("sarif: URIs are escaped, and sources that are not files have no location", "[render][sarif]") {
  json log = render_sarif({test::check_catalogue_example(DiagId::BatchMismatch, "/work/repo/my specs/50% #1:x.json")}, kWorkingDirectory);
  const json& result = only_run(log)["results"][0];
  CHECK(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "my%20specs/50%25%20%231%3Ax.json");

  json from_stdin = render_sarif({test::check_catalogue_example(DiagId::BatchMismatch, "-")}, kWorkingDirectory);
  const json& stdin_result = only_run(from_stdin)["results"][0];
  CHECK_FALSE(stdin_result.contains("locations"));
  for (const json& related : stdin_result["relatedLocations"]) {
    CHECK_FALSE(related.contains("physicalLocation"));
    CHECK(related["message"]["text"].is_string());
  }

  // An unreadable file: the file is known, the line is not, so there is no region.
  InputError missing(Location{std::make_shared<SourceText>(SourceText{"no/such.json", ""}), 0, 0, 1, ""}, "cannot open");
  json unreadable = render_sarif({input_error_report("no/such.json", missing)}, kWorkingDirectory);
  const json& unreadable_result = only_run(unreadable)["results"][0];
  CHECK(unreadable_result["ruleId"] == "MHA002");
  CHECK(unreadable_result["locations"][0]["physicalLocation"] == json{{"artifactLocation", {{"uri", "no/such.json"}}}});
}

TEST_CASE("sarif: several specs make one run", "[render][sarif]") {
  json log = render_sarif({test::check_example("seed_example1.json"), test::check_example("seed_example3.json")}, kWorkingDirectory);
  const json& results = only_run(log)["results"];
  REQUIRE(results.size() == 2);
  CHECK(results[0]["ruleId"] == "MHA040");
  CHECK(results[1]["ruleId"] == "MHA090");
  CHECK(results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "examples/seed_example3.json");
  CHECK(render_sarif({}, kWorkingDirectory)["runs"][0]["results"] == json::array());
}
