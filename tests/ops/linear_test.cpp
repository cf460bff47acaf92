// F.linear (src/ops/linear.cpp) with a weight that is not a matrix: a 1-D weight takes a dot
// product per row, and a bias goes through addmm or is added in place to that product.
#include <catch2/catch.hpp>

#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

std::string linear_spec(const std::string& input, const std::string& weight, const std::string& bias) {
  return R"({"version": 1, "tensors": {"x": )" + input + R"(, "w": )" + weight + R"(, "b": )" + bias +
         R"(}, "calls": [{"id": "l", "op": "F.linear", "input": "x", "weight": "w", "bias": "b"}]})";
}

}  // namespace

TEST_CASE("F.linear with a 1-D weight and a bias: addmm refuses a 2-D input, the in-place add a bias larger than the product", "[glue]") {
  Report matrix_input = test::check_text(linear_spec("[4, 3]", "[3]", "[2]"));
  CHECK(test::raised_message(matrix_input) == "RuntimeError: mat2 must be a matrix, got 1-D tensor");
  CHECK(test::find(matrix_input, "MHA411") != nullptr);
  // A 1-D input: a 0-D dot product, which a (2,) bias cannot be added to in place.
  Report vector_input = test::check_text(linear_spec("[3]", "[3]", "[2]"));
  CHECK(test::raised_message(vector_input) == "RuntimeError: output with shape [] doesn't match the broadcast shape [2]");
  Report scalar_bias = test::check_text(linear_spec("[3]", "[3]", "[]"));
  CHECK(scalar_bias.diagnostics.empty());
  CHECK(test::single_output(scalar_bias) == "()");
  CHECK(test::check_text(linear_spec("[4, 3]", "[2, 3]", "[2]")).diagnostics.empty());
}

TEST_CASE("a half-precision Linear fed a product type promotion made float32: cast back where it was promoted", "[glue][dtype]") {
  // A float32 norm of float16 states times the float16 gain promotes to float32; the Linear
  // built with dtype=torch.float16 refuses it. Its precision is the model's: cast the product.
  const std::string spec = R"j({"version": 1, "modules": {"proj": "nn.Linear(256, 128, dtype=torch.float16)"},
    "tensors": {"x": {"shape": ["N", 256], "dtype": "float16"}, "gain": {"shape": [256], "dtype": "float16"}},
    "calls": [{"id": "up", "op": "float", "input": "x", "outputs": ["x32"]},
              {"id": "n", "op": "div", "input": "x32", "other": 16.0, "outputs": ["normed"]},
              {"id": "g", "op": "mul", "input": "normed", "other": "gain", "outputs": ["scaled"]},
              {"id": "p", "module": "proj", "input": "scaled", "outputs": ["y"]}]})j";
  Report report = test::check_text(spec);
  const Fix* fix = test::first_fix(report, "MHA063");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "cast scaled back to float16 where call \"g\" promotes it from float16 to float32: scaled = scaled.to(torch.float16)");
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  // Cast explicitly (x.float() straight into the layer), the dtype is the user's choice: no call
  // promoted it, and no cast back is offered.
  Report cast = test::check_text(R"j({"version": 1, "modules": {"proj": "nn.Linear(256, 128, dtype=torch.float16)"},
    "tensors": {"x": {"shape": ["N", 256], "dtype": "float16"}},
    "calls": [{"id": "up", "op": "float", "input": "x", "outputs": ["x32"]},
              {"id": "p", "module": "proj", "input": "x32", "outputs": ["y"]}]})j");
  const Diagnostic* refused = test::find(cast, "MHA063");
  REQUIRE(refused != nullptr);
  CHECK(std::none_of(refused->fixes.begin(), refused->fixes.end(), [](const Fix& f) { return f.description.rfind("cast ", 0) == 0; }));
}

TEST_CASE("tokens flattened into the features before a Linear of one token's width: pool them first", "[glue]") {
  // (B, 50, 64) viewed (B, -1) gives 3200 features to Linear(64, 10): the head takes one token.
  Report flat = test::check_text(R"j({"version": 1, "modules": {"head": "nn.Linear(64, 10)"}, "tensors": {"x": ["B", 50, 64]},
    "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", -1], "outputs": ["f"]},
              {"id": "h", "module": "head", "input": "f"}]})j");
  const Diagnostic* features = test::find(flat, "MHA404");
  REQUIRE(features != nullptr);
  REQUIRE(features->fixes.size() >= 3);
  CHECK(features->fixes[0].description == "pool the tokens before the Linear: x[:, 0] (the first, class, token) in place of call \"v\"'s view");
  CHECK(features->fixes[0].valid());
  CHECK(features->fixes[1].description == "pool the tokens before the Linear: x.mean(dim=1) in place of call \"v\"'s view");
  const auto built = std::find_if(features->fixes.begin(), features->fixes.end(), [](const Fix& fix) { return fix.description.rfind("construct", 0) == 0; });
  REQUIRE(built != features->fixes.end());
  CHECK(built->semantics == FixSemantics::Suspect);
  // A (B, 7, 7, 32) map flattened: the mean over both grid dims.
  Report grid = test::check_text(R"j({"version": 1, "modules": {"head": "nn.Linear(32, 10)"}, "tensors": {"x": ["B", 7, 7, 32]},
    "calls": [{"id": "v", "op": "reshape", "input": "x", "shape": ["B", -1], "outputs": ["f"]},
              {"id": "h", "module": "head", "input": "f"}]})j");
  REQUIRE(test::find(grid, "MHA404") != nullptr);
  CHECK(test::find(grid, "MHA404")->fixes[0].description == "pool the tokens before the Linear: x.mean(dim=(1, 2)) in place of call \"v\"'s reshape");
  // A Linear of the flattened width is what flattening is for: nothing to say.
  CHECK(test::check_text(R"j({"version": 1, "modules": {"head": "nn.Linear(3200, 10)"}, "tensors": {"x": ["B", 50, 64]},
    "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", -1], "outputs": ["f"]},
              {"id": "h", "module": "head", "input": "f"}]})j").diagnostics.empty());
}

TEST_CASE("MHA404: a Linear whose in_features is the size of one inner dim of the input, not the last, is moved onto that dim", "[linear]") {
  // Talking-heads scores (B, 6, 40, 40) from q @ k^T, mixed over the heads by Linear(6, 6).
  Report report = test::check_text(R"j({"version": 1, "dims": {"B": 2, "N": 40}, "modules": {"mix": {"type": "Linear", "in_features": 6, "out_features": 6}},
    "tensors": {"q": ["B", 6, "N", 16], "k": ["B", 6, "N", 16]},
    "calls": [{"id": "t", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kt"]},
              {"id": "s", "op": "matmul", "input": "q", "other": "kt", "outputs": ["scores"]},
              {"id": "p", "module": "mix", "input": "scores", "outputs": ["mixed"]},
              {"id": "w", "op": "softmax", "input": "mixed", "dim": -1, "outputs": ["weights"]}]})j");
  const Diagnostic* features = test::find(report, "MHA404");
  REQUIRE(features != nullptr);
  REQUIRE_FALSE(features->fixes.empty());
  CHECK(features->fixes.front().description.find("permute(0, 2, 3, 1)") != std::string::npos);
  CHECK(features->fixes.front().valid());
  CHECK(features->fixes.front().semantics != FixSemantics::Suspect);
  for (const Fix& fix : features->fixes) {
    if (fix.description.find("in_features=40") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
  }
}
