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
