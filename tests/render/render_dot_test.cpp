// `mhacheck graph`'s DOT: which nodes and edges there are, what they say, what is red, and that
// text from the spec cannot break the DOT syntax. That Graphviz accepts the result is the CTest
// test graph_svg (tests/CMakeLists.txt), which needs graphviz installed rather than skipping.
#include <catch2/catch.hpp>

#include <sstream>

#include "mhacheck/render_dot.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

struct Graph {
  Report report;
  std::string dot;
};

Graph graph_of(const std::string& text, const std::string& name = "test.json") {
  Spec spec = parse_spec(test::document_from(text, name));
  Report report = check_spec(spec, CheckOptions{false});
  REQUIRE_FALSE(report.input_error);
  return {report, render_dot(report)};
}

// The statement line of the DOT that starts with `prefix` (a node's or an edge's quoted ids).
std::string line_starting(const std::string& dot, const std::string& prefix) {
  std::istringstream lines(dot);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("  " + prefix, 0) == 0) return line;
  }
  FAIL("no line starts with " << prefix << " in\n" << dot);
  return {};
}

int count_of(const std::string& text, const std::string& what) {
  int count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

constexpr const char* kChained = R"J({
  "version": 1,
  "modules": {
    "self_attn": {"type": "MultiheadAttention", "embed_dim": 64, "num_heads": 4, "batch_first": true},
    "cross_attn": "nn.MultiheadAttention(64, 4, kdim=32, vdim=32, batch_first=True)"
  },
  "tensors": {"x": [4, 10, 64], "memory": [4, 7, 32]},
  "calls": [
    {"id": "self", "module": "self_attn", "query": "x", "key": "x", "value": "x", "need_weights": false, "outputs": ["h"]},
    {"id": "cross", "module": "cross_attn", "query": "h", "key": "memory", "value": "memory", "outputs": ["y", "w"]}
  ]
})J";

}  // namespace

TEST_CASE("graph: the article's Example 1 has its failing call and the key edge in red", "[graph]") {
  std::string text = test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/examples/seed_example1.json");
  Graph graph = graph_of(text, "examples/seed_example1.json");
  CHECK_FALSE(graph.report.ok());
  CHECK_THAT(graph.dot, Catch::StartsWith("digraph mhacheck {\n"));
  CHECK_THAT(graph.dot, Catch::EndsWith("}\n"));

  std::string call = line_starting(graph.dot, "\"call:call\" [");
  CHECK_THAT(call, Catch::Contains("shape=box"));
  CHECK_THAT(call, Catch::Contains("color=red"));
  CHECK_THAT(call, Catch::Contains("\\nnn.MultiheadAttention(embed_dim=512, num_heads=8)\\n"));
  CHECK_THAT(call, Catch::Contains("error[MHA040]: key batch size (10) differs from query batch size (1)"));

  // Flat specs write their tensors inline: one ellipse per argument.
  CHECK_THAT(line_starting(graph.dot, "\"inline:/query\" ["), Catch::Contains("label=\"query (inline)\\n(32, 1, 512)\""));
  std::string key = line_starting(graph.dot, "\"inline:/key\" -> \"call:call\"");
  CHECK_THAT(key, Catch::Contains("label=\"key: (32, 10, 512)\""));
  CHECK_THAT(key, Catch::Contains("color=red"));
  std::string query = line_starting(graph.dot, "\"inline:/query\" -> \"call:call\"");
  CHECK_THAT(query, Catch::Contains("label=\"query: (32, 1, 512)\""));
  CHECK_THAT(query, !Catch::Contains("red"));
  CHECK_THAT(line_starting(graph.dot, "\"inline:/value\" -> \"call:call\""), !Catch::Contains("red"));
}

TEST_CASE("graph: a call consuming an earlier call's output gets an edge from that call with its shape", "[graph]") {
  Graph graph = graph_of(kChained);
  REQUIRE(graph.report.ok());
  CHECK(count_of(graph.dot, "->") == 6);
  CHECK(count_of(graph.dot, "red") == 0);

  std::string self = line_starting(graph.dot, "\"call:self\" [");
  CHECK_THAT(self, Catch::Contains("call \\\"self\\\"\\nnn.MultiheadAttention(64, 4, batch_first=True)\\nh (4, 10, 64)"));
  std::string cross = line_starting(graph.dot, "\"call:cross\" [");
  CHECK_THAT(cross, Catch::Contains("\\ny (4, 10, 64)\\nw (4, 10, 7)"));

  CHECK_THAT(line_starting(graph.dot, "\"call:self\" -> \"call:cross\""), Catch::Contains("label=\"query: (4, 10, 64)\""));
  CHECK_THAT(line_starting(graph.dot, "\"tensor:memory\" ["), Catch::Contains("shape=ellipse, label=\"memory\\n(4, 7, 32)\""));
  CHECK_THAT(line_starting(graph.dot, "\"tensor:memory\" -> \"call:cross\" [label=\"key"),
             Catch::Contains("label=\"key: (4, 7, 32)\""));
  CHECK_THAT(line_starting(graph.dot, "\"tensor:memory\" -> \"call:cross\" [label=\"value"),
             Catch::Contains("label=\"value: (4, 7, 32)\""));
  CHECK_THAT(line_starting(graph.dot, "\"tensor:x\" -> \"call:self\" [label=\"key"), Catch::Contains("key: (4, 10, 64)"));
}

TEST_CASE("graph: a call whose input failed is grey and dashed, its edge unlabelled by shape", "[graph]") {
  // The first call's key has the wrong feature size; the second reads its output.
  std::string text = kChained;
  text.replace(text.find("\"x\": [4, 10, 64]"), 16, "\"x\": [4, 10, 64], \"k\": [4, 10, 60]");
  text.replace(text.find("\"key\": \"x\""), 10, "\"key\": \"k\"");
  Graph graph = graph_of(text);
  REQUIRE_FALSE(graph.report.ok());
  std::string self = line_starting(graph.dot, "\"call:self\" [");
  CHECK_THAT(self, Catch::Contains("color=red"));
  CHECK_THAT(self, Catch::Contains("error[MHA"));
  std::string cross = line_starting(graph.dot, "\"call:cross\" [");
  CHECK_THAT(cross, Catch::Contains("style=dashed"));
  CHECK_THAT(cross, Catch::Contains("grey"));
  CHECK_THAT(cross, Catch::Contains("skipped: an input comes from failing call \\\"self\\\""));
  CHECK_THAT(line_starting(graph.dot, "\"call:self\" -> \"call:cross\""), Catch::Contains("[label=\"query\"]"));
}

TEST_CASE("graph: quotes, backslashes and newlines from the spec stay inside DOT strings", "[graph]") {
  CHECK(dot_escape("a \"b\" \\n c\nd\r") == "a \\\"b\\\" \\\\n c\\nd");

  std::string text = kChained;
  text.replace(text.find("\"id\": \"self\""), 12, R"J("id": "se\"lf\\n\nx")J");
  text.replace(text.find("\"x\": [4, 10, 64]"), 16, R"J("x\"\\": [4, 10, 64])J");
  for (std::size_t at = text.find("\"x\", "); at != std::string::npos; at = text.find("\"x\", ", at)) {
    text.replace(at, 3, R"J("x\"\\")J");
  }
  Graph graph = graph_of(text);
  REQUIRE(graph.report.ok());
  // Ids: se"lf\n<newline>x and x"\ ; inside DOT strings: se\"lf\\n\nx and x\"\\ .
  CHECK_THAT(graph.dot, Catch::Contains(R"D(  "call:se\"lf\\n\nx" [shape=box, label="call \"se\"lf\\n\nx\"\n)D"));
  CHECK_THAT(graph.dot, Catch::Contains(R"D(  "tensor:x\"\\" [shape=ellipse, label="x\"\\\n(4, 10, 64)"];)D"));
  CHECK_THAT(graph.dot, Catch::Contains(R"D(  "tensor:x\"\\" -> "call:se\"lf\\n\nx" [label="query: (4, 10, 64)"];)D"));
  // Every line is one statement: no raw newline ended up inside a string.
  std::istringstream lines(graph.dot);
  std::string line;
  while (std::getline(lines, line)) {
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && quoted) {
        ++i;
      } else if (line[i] == '"') {
        quoted = !quoted;
      }
    }
    CHECK_FALSE(quoted);
  }
}

TEST_CASE("graph: each tensor of a cat list is an edge", "[graph]") {
  Report report = test::check_text(R"({"modules": {}, "tensors": {"a": [2, 3]},
    "calls": [{"id": "join", "op": "cat", "tensors": ["a", "a", [2, 1]], "dim": 1, "outputs": ["c"]}]})");
  std::string dot = render_dot(report);
  CHECK(dot.find("label=\"tensors[0]: (2, 3)\"") != std::string::npos);
  CHECK(dot.find("label=\"tensors[1]: (2, 3)\"") != std::string::npos);
  CHECK(dot.find("label=\"tensors[2]: (2, 1)\"") != std::string::npos);
}

TEST_CASE("graph: every output of a split is in its node, and each named one leaves an edge with its shape", "[graph]") {
  Graph graph = graph_of(R"({"modules": {}, "tensors": {"x": [2, 5, 24]},
    "calls": [{"id": "qkv", "op": "split", "input": "x", "split_size": 8, "dim": 2, "outputs": ["q", "k"]},
              {"id": "scores", "op": "matmul", "input": "q", "other": {"shape": [8, 3]}},
              {"id": "keys", "op": "transpose", "input": "k", "dim0": 1, "dim1": 2}]})");
  REQUIRE(graph.report.ok());
  CHECK_THAT(line_starting(graph.dot, "\"call:qkv\" ["), Catch::Contains("\\nq (2, 5, 8)\\nk (2, 5, 8)\\nqkv.2 (2, 5, 8)"));
  CHECK_THAT(line_starting(graph.dot, "\"call:qkv\" -> \"call:scores\""), Catch::Contains("label=\"input: (2, 5, 8)\""));
  CHECK_THAT(line_starting(graph.dot, "\"call:qkv\" -> \"call:keys\""), Catch::Contains("label=\"input: (2, 5, 8)\""));
}

TEST_CASE("graph: drawn from the report alone, shapes as written and sources as the check resolved them", "[graph]") {
  // render_dot takes no spec: the spec here is gone before the graph is drawn.
  Report report = test::check_text(R"J({"dims": {"B": 2},
    "modules": {"attn": "nn.MultiheadAttention(8, 2, dtype=torch.float64)"},
    "tensors": {"x": {"shape": ["T", "B", 8], "dtype": "float64"}, "unused": [3]},
    "calls": [{"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x",
               "attn_mask": {"causal": ["T", "T"]}, "need_weights": false, "outputs": ["y"]},
              {"id": "b", "op": "transpose", "input": "y", "dim0": 0, "dim1": 1}]})J", false);
  REQUIRE(report.ok());
  std::string dot = render_dot(report);
  // Every declared tensor is a node, used or not, with its shape as written (B is bound, T is not).
  CHECK_THAT(line_starting(dot, "\"tensor:x\" ["), Catch::Contains("label=\"x\\n(T, B, 8) float64\""));
  CHECK_THAT(line_starting(dot, "\"tensor:unused\" ["), Catch::Contains("label=\"unused\\n(3,)\""));
  CHECK_THAT(line_starting(dot, "\"tensor:x\" -> \"call:a\" [label=\"query"), Catch::Contains("label=\"query: (T, B, 8)\""));
  // The generated mask is its own node, float32 as generate_square_subsequent_mask makes it.
  CHECK_THAT(line_starting(dot, "\"inline:/calls/0/attn_mask\" ["),
             Catch::Contains("label=\"attn_mask (causal mask)\\n(T, T) float32\""));
  CHECK_THAT(line_starting(dot, "\"inline:/calls/0/attn_mask\" -> \"call:a\""), Catch::Contains("label=\"attn_mask: (T, T)\""));
  // An output's edge leaves the call that returns it, with the shape that call returned.
  CHECK_THAT(line_starting(dot, "\"call:a\" -> \"call:b\""), Catch::Contains("label=\"input: (T, 2, 8)\""));
  CHECK(count_of(dot, "->") == 5);
}
