#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "mhacheck/render.hpp"
#include "mhacheck/render_parts.hpp"
#include "mhacheck/report_filter.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {
}  // namespace

TEST_CASE("text: the source line with carets under both conflicting dims", "[render]") {
  std::string text = render_text({test::check_example("seed_example1.json")}, TextStyle{false});
  CHECK_THAT(text, Catch::Contains("error[MHA040]: key batch size (10) differs from query batch size (1)"));
  CHECK_THAT(text, Catch::Contains(" --> examples/seed_example1.json:7:17\n"));
  CHECK_THAT(text, Catch::Contains("6 |   \"query\": [32, 1, 512],\n"
                                   "  |                 - query batch N = 1 (dim 1, because batch_first=False)\n"
                                   "7 |   \"key\":   [32, 10, 512],\n"
                                   "  |                 ^^ key batch = 10 (dim 1)\n"));
  CHECK_THAT(text, Catch::Contains("= pytorch: RuntimeError: shape '[32, 8, 64]' is invalid for input of size 163840"));
  CHECK_THAT(text, Catch::Contains("= help: construct with batch_first=True — valid: attn_output (32, 1, 512), "
                                   "attn_output_weights (32, 1, 10) [verified]"));
  CHECK_THAT(text, Catch::EndsWith("FAIL: 1 error, 0 warnings, 0 notes in 1 spec\n"));
  CHECK(text.find('\x1b') == std::string::npos);
}

TEST_CASE("text: a wide (minified) line is quoted as an excerpt around each marker", "[render]") {
  // One line, the call pushed far to the right by blanks; query and key conflict.
  std::string spec = "{" + std::string(400, ' ') + R"s("module": "nn.MultiheadAttention(512, 8)", )s"
                     R"s("query": [32, 1, 512], "key": [32, 10, 512], "value": [32, 10, 512]})s";
  std::string text = render_text({test::check_text(spec)}, TextStyle{false});
  std::size_t key = spec.find("[32, 10, 512]") + 5;  // the 10, 0-based
  CHECK_THAT(text, Catch::Contains(fmt::format(":1:{}\n", key + 1)));
  std::vector<std::string> lines;
  for (std::size_t at = 0, end; at < text.size(); at = end + 1) {
    end = text.find('\n', at);
    lines.push_back(text.substr(at, end - at));
  }
  for (const std::string& line : lines) CHECK(line.size() < 300);  // no 500-byte quote
  // Each excerpt starts with "..." (the line goes on to the left) and its marker sits under the
  // marked text: "10" under the caret, "1" under the dash.
  std::size_t checked = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    if (!lines[i].starts_with("1 | ...")) continue;
    std::size_t mark = lines[i + 1].find_first_of("^-", 4);
    REQUIRE(mark != std::string::npos);
    std::string under = lines[i].substr(mark, 2);
    CHECK((lines[i + 1][mark] == '^' ? under == "10" : under.starts_with("1")));
    ++checked;
  }
  CHECK(checked == 2);
}

TEST_CASE("text: colour only when asked", "[render]") {
  std::string text = render_text({test::check_example("seed_example1.json")}, TextStyle{true});
  CHECK_THAT(text, Catch::Contains("\x1b[1;31merror[MHA040]\x1b[0m"));
}

TEST_CASE("text: valid calls end with their output shapes", "[render]") {
  std::string text = render_text({test::check_example("seed_example3.json")}, TextStyle{false});
  CHECK_THAT(text, Catch::Contains("note[MHA090]"));
  CHECK_THAT(text, Catch::Contains("    attn_output (32, 10, 512) float32\n    attn_output_weights (10, 32, 32) float32\n"));
  CHECK_THAT(text, Catch::EndsWith("OK: 0 errors, 0 warnings, 1 note in 1 spec\n"));
}

TEST_CASE("json: the documented fields, facts copied from the report", "[render]") {
  nlohmann::json json = render_json({test::check_example("seed_example1.json")});
  CHECK(json["schema_version"] == 1);
  CHECK(json["ok"] == false);
  CHECK(json["summary"] == nlohmann::json{{"errors", 1}, {"warnings", 0}, {"notes", 0}});
  const nlohmann::json& diagnostic = json["diagnostics"].at(0);
  CHECK(diagnostic["code"] == "MHA040");
  CHECK(diagnostic["severity"] == "error");
  CHECK(diagnostic["call"] == "call");
  CHECK(diagnostic["argument"] == "key");
  CHECK(diagnostic["dim"] == 1);
  CHECK(diagnostic["location"] == nlohmann::json{{"file", "examples/seed_example1.json"}, {"line", 7}, {"column", 17}, {"pointer", "/key/1"}});
  CHECK(diagnostic["pytorch_error"]["type"] == "RuntimeError");
  CHECK(diagnostic["fixes"].at(0)["patch"] ==
        nlohmann::json::parse(R"J([{"op": "replace", "path": "/module", "value": "nn.MultiheadAttention(512, 8, batch_first=True)"}])J"));
  CHECK(diagnostic["fixes"].at(0)["verified"] == true);
  CHECK(json["outputs"].empty());

  nlohmann::json valid = render_json({test::check_example("seed_example3.json")});
  CHECK(valid["ok"] == true);
  CHECK(valid["outputs"]["attn_output"] == nlohmann::json{{"shape", {32, 10, 512}}, {"dtype", "float32"}});
  CHECK(valid["outputs"]["attn_output_weights"]["shape"] == nlohmann::json{10, 32, 32});
}

TEST_CASE("json: a module option is named module.OPTION, as the format documents", "[render]") {
  nlohmann::json json = render_json({test::check_text(
      R"({"module": {"type": "MultiheadAttention", "embed_dim": 10, "num_heads": 4}, "query": [5, 2, 10], "key": [5, 2, 10], "value": [5, 2, 10]})")});
  const nlohmann::json& diagnostic = json["diagnostics"].at(0);
  CHECK(diagnostic["code"] == "MHA011");
  CHECK(diagnostic["argument"] == "module.num_heads");
  nlohmann::json layer = render_json({test::check_text(
      R"({"module": {"type": "TransformerEncoderLayer", "d_model": 10, "nhead": 4}, "src": [5, 2, 10]})")});
  CHECK(layer["diagnostics"].at(0)["argument"] == "module.nhead");
}

TEST_CASE("json: the streamed report text is the built report dumped, byte for byte", "[render]") {
  // `check --format json` writes render_json_text; the schema and the tests read render_json.
  std::vector<std::string> names = {"seed_example1.json", "seed_example2.json", "seed_example3.json", "encoder_decoder.json",
                                    "broken_cross_attention.json", "gqa_decoder_block.json"};
  std::vector<Report> all;
  for (const std::string& name : names) {
    std::vector<Report> one = {test::check_example(name)};
    CHECK(render_json_text(one) == render_json(one).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    all.push_back(one.front());
  }
  CHECK(render_json_text(all) == render_json(all).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  Report odd = test::check_example("seed_example1.json");
  odd.file = "bad\xff name \"quoted\"\t.json";  // invalid UTF-8 is replaced, as dump's replace handler does
  odd.diagnostics.front().message += " \x01 \xc3\xa9";
  CHECK(render_json_text({odd}) == render_json({odd}).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

TEST_CASE("check -j's report parts, joined, are the whole report byte for byte", "[render]") {
  // Reports with and without diagnostics, outputs and calls, an input error, and a report with
  // nothing at all: a part that adds no element must leave the next one's comma right.
  std::vector<Report> reports = {test::check_example("seed_example1.json"), Report{}, test::check_example("encoder_decoder.json"),
                                 test::check_example("seed_example2.json"), test::check_text(R"j({"module": "nn.MultiheadAttention(8, 2)", "query": [3, 2,)j")};
  for (std::size_t first = 0; first < reports.size(); ++first) {
    std::vector<Report> some(reports.begin() + static_cast<std::ptrdiff_t>(first), reports.end());
    std::vector<JsonReportPart> parts;
    std::string text;
    for (const Report& report : some) {
      parts.push_back(render_json_part(report));
      text += render_text_part(report, TextStyle{true});
    }
    INFO("from report " << first);
    CHECK(render_json_text(some, parts) == render_json_text(some));
    CHECK(text + render_text_summary(some, TextStyle{true}) == render_text(some, TextStyle{true}));
  }
  CHECK(render_json_text({}, {}) == render_json_text({}));
}

TEST_CASE("text: a PyTorch warning is given whatever else is wrong, a later exception is marked", "[render]") {
  CHECK_FALSE((PytorchError{"UserWarning", "deprecated", false, PytorchError::Kind::Warns}.raised_later()));
  CHECK((PytorchError{"RuntimeError", "shape", false}.raised_later()));
  CHECK_FALSE((PytorchError{"RuntimeError", "shape", true}.raised_later()));
  // A float key_padding_mask with a bool attn_mask: 2.x warns (MHA061).
  Report report = test::check_text(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [3, 2, 8], "key": [3, 2, 8],
    "value": [3, 2, 8], "key_padding_mask": {"shape": [2, 3], "dtype": "float32"}, "attn_mask": {"shape": [3, 3], "dtype": "bool"}})");
  const Diagnostic* warning = test::find(report, "MHA061");
  REQUIRE(warning != nullptr);
  REQUIRE(warning->pytorch_error);
  CHECK(warning->pytorch_error->kind == PytorchError::Kind::Warns);
  std::string text = render_text({report}, TextStyle{false});
  CHECK_THAT(text, Catch::Contains("UserWarning"));
  CHECK_THAT(text, !Catch::Contains("once the errors above are fixed"));
}

TEST_CASE("text: a call whose errors --ignore hides says which", "[render]") {
  Report report = test::check_example("seed_example1.json");
  DiagnosticFilter filter;
  filter.ignore = parse_code_list({"batch-mismatch"});
  apply_filter(report, filter);
  std::string text = render_text({report}, TextStyle{false});
  CHECK_THAT(text, Catch::Contains("fails (MHA040 hidden by --ignore/--only)"));
  CHECK_THAT(text, !Catch::Contains("see above"));
}
