// add and matmul beyond the PyTorch fixtures: symbols, dtype promotion, a chain of calls (the
// attention scores by hand), and 2.x's matmul messages that 1.13 cannot produce.
#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("add broadcasts symbolic shapes and promotes dtypes", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("add", R"("input": ["B", "L", 8], "other": ["L", 1])"))) == "(B, L, 8)");
  Report promoted = test::check_text(op_call("add", R"("input": {"shape": [3], "dtype": "float16"}, "other": {"shape": [3], "dtype": "bfloat16"})"));
  CHECK(dtype_name(promoted.calls.at(0).outputs.at(0).dtype) == "float32");
  Report scalar = test::check_text(op_call("add", R"("input": {"shape": [3], "dtype": "float32"}, "other": {"shape": [], "dtype": "float64"})"));
  CHECK(dtype_name(scalar.calls.at(0).outputs.at(0).dtype) == "float32");
  Report conditional = test::check_text(op_call("add", R"("input": ["L", 8], "other": ["S", 8])"));
  CHECK(conditional.ok());
  CHECK(test::find(conditional, "MHA080") != nullptr);
}

TEST_CASE("matmul's 1-D, 2-D and batched shapes with symbols", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("matmul", R"("input": ["B", "H", "L", 64], "other": ["B", "H", 64, "S"])"))) ==
        "(B, H, L, S)");
  CHECK(test::single_output(test::check_text(op_call("matmul", R"("input": ["L", 64], "other": [64])"))) == "(L,)");
  CHECK(test::single_output(test::check_text(op_call("matmul", R"("input": [64], "other": [64])"))) == "()");
}

TEST_CASE("matmul quotes 2.x's mv message and refuses mixed dtypes without quoting", "[glue]") {
  Report mv = test::check_text(op_call("matmul", R"("input": [2, 3], "other": [4])"));
  CHECK(test::raised_message(mv) == "RuntimeError: size mismatch, got input (2), mat (2x3), vec (4)");
  Report folded = test::check_text(op_call("matmul", R"("input": [2, 3, 4], "other": [5])"));
  CHECK(test::raised_message(folded) == "RuntimeError: size mismatch, got input (6), mat (6x4), vec (5)");
  Report dtypes = test::check_text(op_call("matmul", R"("input": [2, 3], "other": {"shape": [3, 2], "dtype": "float64"})"));
  REQUIRE(test::find(dtypes, "MHA309") != nullptr);
  CHECK_FALSE(test::find(dtypes, "MHA309")->pytorch_error.has_value());
}

TEST_CASE("attention by hand: glue calls chain through named outputs", "[glue]") {
  Report report = test::check_text(R"({
    "dims": {"B": 2, "L": 5},
    "tensors": {"x": ["B", "L", 64]},
    "modules": {},
    "calls": [
      {"id": "heads", "op": "view", "input": "x", "shape": ["B", "L", 8, -1], "outputs": ["h"]},
      {"id": "t", "op": "transpose", "input": "h", "dim0": 1, "dim1": 2, "outputs": ["q"]},
      {"id": "kt", "op": "transpose", "input": "q", "dim0": -2, "dim1": -1, "outputs": ["k_t"]},
      {"id": "scores", "op": "matmul", "input": "q", "other": "k_t", "outputs": ["s"]},
      {"id": "weights", "op": "softmax", "input": "s", "dim": -1, "outputs": ["p"]},
      {"id": "context", "op": "matmul", "input": "p", "other": "q", "outputs": ["c"]},
      {"id": "merge", "op": "reshape", "input": "c", "shape": ["B", "L", 65], "outputs": ["y"]}
    ]})");
  REQUIRE(report.calls.size() == 7);
  CHECK(tuple_str(report.calls[5].outputs.at(0).shape) == "(2, 8, 5, 8)");
  const Diagnostic* merge = test::find(report, "MHA302");
  REQUIRE(merge != nullptr);
  CHECK(merge->call == "merge");
  CHECK(merge->pytorch_error->message == "shape '[2, 5, 65]' is invalid for input of size 640");
}

TEST_CASE("broadcasting S-1 against S is a condition (S == 2), not an error, S+1 against S is", "[glue]") {
  Report added = test::check_text(op_call("add", R"("input": ["B", "S-1", 8], "other": ["B", "S", 8])"));
  CHECK(added.ok());
  const Diagnostic* condition = test::find(added, "MHA080");
  REQUIRE(condition != nullptr);
  CHECK(condition->message == "valid only if S-1 == 1 (input + other: the sizes differ; only a size of 1 broadcasts)");
  CHECK(test::single_output(added) == "(B, S, 8)");  // the size that need not be 1
  Report filled = test::check_text(op_call("masked_fill", R"("input": ["B", "S", "S"], "mask": {"shape": ["S-1", "S"], "dtype": "bool"}, "value": 0)"));
  CHECK(filled.ok());
  CHECK(test::find(filled, "MHA080") != nullptr);
  Report batched = test::check_text(op_call("matmul", R"("input": ["S-1", "L", 8], "other": ["S", 8, "L"])"));
  CHECK(batched.ok());
  CHECK(test::single_output(batched) == "(S, L, L)");
  // S+1 is never 1 for a size S >= 1, and S is taken as not 1: PyTorch raises.
  CHECK_FALSE(test::check_text(op_call("add", R"("input": ["S+1", 8], "other": ["S", 8])")).ok());
}
