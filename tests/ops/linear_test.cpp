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
