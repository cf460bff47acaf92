// What the Python tracer (python/mhacheck) writes that hand-written specs do not: symbol
// expressions in declared shapes, and calls located at the Python line that made them.
#include <catch2/catch.hpp>

#include "mhacheck/render.hpp"
#include "test_support.hpp"

using namespace mhacheck;
using nlohmann::json;

namespace {
std::string shape_of(const Report& report, const std::string& call, const std::string& output) {
  for (const CallReport& c : report.calls) {
    for (const NamedOutput& named : c.outputs) {
      if (c.id == call && named.name == output) return tuple_str(named.shape);
    }
  }
  return "(none)";
}

// A broken attention call (batch_first=False on batch-first inputs: MHA081: T, a sequence-like name, in the batch position) made at
// line 3 of model.py, next to the spec.
struct TracedSpec {
  test::TempDir dir;
  std::string spec_path;
  TracedSpec(const std::string& source = "model.py:3") {
    dir.write("model.py", "import torch\n\n    y, _ = self.attn(x, memory, memory)  # the call\n");
    spec_path = dir.write("spec.json", R"spec({
  "modules": {"attn": "nn.MultiheadAttention(64, 4)"},
  "tensors": {"x": [2, "T", 64], "memory": [2, "S", 64]},
  "calls": [{"id": "attn", "module": "attn", "query": "x", "key": "memory", "value": "memory",
             "source": ")spec" + source + R"spec(", "note": "traced"}]
})spec");
  }
  Report check() const { return check_document(parse_json_document(read_source_file(spec_path, 1 << 20))); }
};
}  // namespace

TEST_CASE("traced specs: declared shapes and reshape sizes take symbol expressions", "[traced]") {
  Report report = test::check_text(R"spec({
    "modules": {},
    "tensors": {"x": {"shape": ["B", "T+1", "2*C"], "note": "made by torch cat at model.py:7"},
                "h": {"file": ")spec" + std::string(MHACHECK_SOURCE_DIR) + R"spec(/examples/run/inputs.npz", "key": "query",
                      "note": "notes are allowed next to files too"},
                "z": ["B", "2*T", 4]},
    "calls": [{"id": "weights", "op": "softmax", "input": "x", "dim": -1, "outputs": ["p"], "note": "traced"},
              {"id": "split", "op": "reshape", "input": "z", "shape": ["B", "T*2", 2, 2], "outputs": ["y"]},
              {"id": "merge", "op": "view", "input": "y", "shape": ["B", "2*T", -1], "outputs": ["w"]}]
  })spec");
  CHECK(report.ok());
  CHECK(report.diagnostics.empty());
  CHECK(shape_of(report, "weights", "p") == "(B, T+1, 2*C)");
  CHECK(shape_of(report, "split", "y") == "(B, 2*T, 2, 2)");
  CHECK(shape_of(report, "merge", "w") == "(B, 2*T, 4)");
}

TEST_CASE("traced specs: products of symbols (B*T) in declared shapes and view sizes", "[traced]") {
  // x.view(B*T, C) -> Linear -> view(B, T, C'), then flattened again and added back. The tracer
  // writes T*B in its probes' order, not in memory order: calls with Python lines make the spec
  // traced, and its products then carry no order to check a view against.
  Report report = test::check_text(R"({
    "modules": {"proj": {"type": "Linear", "in_features": 64, "out_features": 32}},
    "tensors": {"tokens": {"shape": ["T*B", 64], "note": "x.view(B*T, C) at model.py:9"}},
    "calls": [{"id": "proj", "module": "proj", "input": "tokens", "outputs": ["h"], "source": "model.py:10"},
              {"id": "unflatten", "op": "view", "input": "h", "shape": ["B", "T", 32], "outputs": ["y"], "source": "model.py:11"},
              {"id": "flat", "op": "flatten", "input": "y", "end_dim": 1, "outputs": ["z"]},
              {"id": "sum", "op": "add", "input": "z", "other": "h", "outputs": ["s"]},
              {"id": "heads", "op": "view", "input": "s", "shape": ["B*T", 4, 8], "outputs": ["per_head"]}]})");
  CHECK(report.ok());
  CHECK(report.diagnostics.empty());
  CHECK(shape_of(report, "proj", "h") == "(B*T, 32)");
  CHECK(shape_of(report, "unflatten", "y") == "(B, T, 32)");
  CHECK(shape_of(report, "flat", "z") == "(B*T, 32)");
  CHECK(shape_of(report, "sum", "s") == "(B*T, 32)");
  CHECK(shape_of(report, "heads", "per_head") == "(B*T, 4, 8)");
  // A product against a different product is a condition, not an error: B*T == B*S holds when T == S.
  Report other = test::check_text(R"({"modules": {}, "tensors": {"a": ["B*T", 8], "b": ["B*S", 8]},
    "calls": [{"id": "sum", "op": "add", "input": "a", "other": "b"}]})");
  CHECK(other.ok());
  REQUIRE(test::find(other, "MHA080") != nullptr);
  CHECK_THAT(test::find(other, "MHA080")->message, Catch::Contains("B*T == B*S"));
}

TEST_CASE("traced specs: a dim that is not a symbol expression is refused where it is written", "[traced]") {
  Report report = test::check_text(R"({"modules": {}, "tensors": {"x": ["B", "(S+1)*T"]},
    "calls": [{"op": "softmax", "input": "x", "dim": 0}]})");
  REQUIRE(report.input_error);
  REQUIRE(report.diagnostics.size() == 1);
  CHECK(report.diagnostics[0].message == "\"(S+1)*T\" is not a symbol name or a symbol expression");
  CHECK(report.diagnostics[0].location.pointer == "/tensors/x/1");
  Report reshape = test::check_text(R"({"modules": {}, "tensors": {"x": ["B", 4]},
    "calls": [{"op": "reshape", "input": "x", "shape": ["2*B*T*4"]}]})");
  CHECK(reshape.input_error);
}

TEST_CASE("traced specs: a call's diagnostics are located at its Python line", "[traced]") {
  TracedSpec traced;
  Report report = traced.check();
  const Diagnostic* batch = test::find(report, "MHA081");
  REQUIRE(batch != nullptr);
  CHECK(batch->location.file() == traced.dir.file("model.py"));
  CHECK(batch->location.line == 3);
  CHECK(batch->location.column == 5);  // the first character of the statement
  CHECK(batch->location.length == static_cast<int>(std::string("y, _ = self.attn(x, memory, memory)  # the call").size()));
  CHECK_FALSE(batch->location.pointer.empty());  // the spec element is still named
  REQUIRE_FALSE(batch->related.empty());
  CHECK(batch->related[0].message == "the call in the spec");
  CHECK(batch->related[0].location.file() == traced.spec_path);
  CHECK(batch->related[0].location.line == 3);

  std::string text = render_text({report}, TextStyle{});
  CHECK_THAT(text, Catch::Contains("--> " + traced.dir.file("model.py") + ":3:5"));
  CHECK_THAT(text, Catch::Contains("3 |     y, _ = self.attn(x, memory, memory)  # the call"));
  CHECK_THAT(text, Catch::Contains("note: the call in the spec (" + traced.spec_path + ":3:"));

  json sarif = render_sarif({report}, traced.dir.path);
  const json& location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
  CHECK(location["artifactLocation"]["uri"] == "model.py");
  CHECK(location["region"]["startLine"] == 3);

  std::string github = render_github({report}, traced.dir.path);
  CHECK_THAT(github, Catch::Contains("file=model.py,line=3,col=5"));

  json report_json = render_json({report});
  CHECK(report_json.dump().find("model.py") != std::string::npos);
}

TEST_CASE("traced specs: a Python file that cannot be read still locates the diagnostic", "[traced]") {
  TracedSpec traced("missing/model.py:12");
  Report report = traced.check();
  const Diagnostic* batch = test::find(report, "MHA081");
  REQUIRE(batch != nullptr);
  CHECK(batch->location.file() == traced.dir.file("missing/model.py"));
  CHECK(batch->location.line == 12);
}

TEST_CASE("traced specs: a source that is not PATH:LINE is refused", "[traced]") {
  for (const char* source : {"model.py", "model.py:0", "model.py:x", ":3", "model.py:-2"}) {
    CAPTURE(source);
    TracedSpec traced(source);
    Report report = traced.check();
    REQUIRE(report.input_error);
    CHECK_THAT(report.diagnostics[0].message, Catch::Contains("expected \"PATH:LINE\""));
    CHECK(report.diagnostics[0].location.pointer == "/calls/0/source");
  }
}

// What the tracer writes for a model PyTorch raised in (docs/tracing.md "When the model raises"):
// the raising call with its note and the stand-in's output name, the calls after it, and the
// probe sizes bound under "dims". The note is metadata: the error is the cat's, and its first fix
// is verified through the attention the stand-in let the trace reach.
TEST_CASE("traced specs: a raising call's note and stand-in output, with the calls after it", "[traced]") {
  Report report = test::check_text(R"spec({
    "dims": {"S": 17, "N": 19, "P": 23},
    "modules": {"attn": "nn.MultiheadAttention(32, 2)"},
    "tensors": {"tokens": ["S", "N", 32], "memory": ["P", "N", 32]},
    "calls": [{"id": "cat", "op": "cat", "tensors": ["memory", "tokens"], "dim": 1, "outputs": ["kv"],
               "note": "PyTorch raised RuntimeError: Sizes of tensors must match except in dimension 1 (traced at S=17, N=19, P=23); the trace went on with a stand-in output of zeros shaped (P, 2*N, 32)"},
              {"id": "attn", "module": "attn", "query": "tokens", "key": "kv", "value": "kv", "need_weights": false,
               "outputs": ["out"], "note": "PyTorch raised RuntimeError: shape '[23, 38, 16]' is invalid"}]
  })spec");
  REQUIRE(report.diagnostics.size() == 1);
  const Diagnostic& error = report.diagnostics.front();
  CHECK(error.info().code == std::string("MHA311"));
  CHECK(error.call == "cat");
  REQUIRE_FALSE(error.fixes.empty());
  CHECK_THAT(error.fixes.front().description, Catch::Contains("dim 0"));
}
