// The elementwise, activation, reduction and expand operators beyond the PyTorch fixtures:
// symbols, Python numbers, infinite fill values, and the spec reader's forms.
#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("expand, repeat and repeat_interleave keep symbols", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("expand", R"("input": [1, 1, 768], "size": ["B", -1, -1])"))) == "(B, 1, 768)");
  CHECK(test::single_output(test::check_text(op_call("repeat", R"("input": ["T", 8], "repeats": ["B", 1, 2])"))) == "(B, T, 16)");
  CHECK(test::single_output(test::check_text(op_call("repeat_interleave", R"("input": ["B", 2, "T", 16], "repeats": 4, "dim": 1)"))) ==
        "(B, 8, T, 16)");
  Report flat = test::check_text(op_call("repeat_interleave", R"("input": ["B", 3], "repeats": 2)"));
  CHECK(test::single_output(flat) == "(6*B,)");
  // A symbol against a different size is a mismatch; against its own value, a condition.
  Report stretched = test::check_text(op_call("expand", R"("input": ["T", 1], "size": [4, 5])"));
  CHECK(test::find(stretched, "MHA080") != nullptr);
  CHECK(stretched.ok());
  CHECK(test::single_output(test::check_text(op_call("repeat", R"("input": ["T", 8], "repeats": ["B", 1])"))) == "(B*T, 8)");
  Report sum = test::check_text(op_call("repeat", R"("input": ["T+1", 8], "repeats": ["B", 1])"));
  CHECK(test::find(sum, "MHA303") != nullptr);  // B*(T+1) is not one dim
}

TEST_CASE("mul, sub and div take Python numbers, promoted below 0-D tensors", "[glue]") {
  auto dtype_of = [](const std::string& arguments) {
    Report report = test::check_text(op_call("mul", arguments));
    REQUIRE(report.ok());
    return dtype_name(report.calls.at(0).outputs.at(0).dtype);
  };
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "int32"}, "other": 2)") == "int32");
  CHECK(dtype_of(R"("input": {"shape": [], "dtype": "int32"}, "other": 2)") == "int32");  // a number ranks below a 0-D tensor
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "int64"}, "other": 0.5)") == "float32");
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "bool"}, "other": true)") == "bool");
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "float16"}, "other": 0.5)") == "float16");
  Report division = test::check_text(op_call("div", R"("input": {"shape": ["B", 3], "dtype": "int64"}, "other": 2)"));
  CHECK(dtype_name(division.calls.at(0).outputs.at(0).dtype) == "float32");
  Report mask = test::check_text(op_call("sub", R"("input": {"shape": [3], "dtype": "bool"}, "other": 1)"));
  CHECK(test::raised_message(mask).find("If you are trying to invert a mask") != std::string::npos);
  CHECK(test::check_text(op_call("mul", R"("input": [3], "other": "2")")).input_error);  // a string names a tensor
}

TEST_CASE("masked_fill broadcasts both ways and takes an infinite value", "[glue]") {
  Report scores = test::check_text(op_call("masked_fill", R"("input": ["B", 4, "T", "T"], "mask": ["B", 1, 1, "T"], "value": "-inf")"));
  CHECK(test::single_output(scores) == "(B, 4, T, T)");
  CHECK(test::single_output(test::check_text(op_call("masked_fill", R"("input": [5], "mask": [2, 5], "value": 0)"))) == "(2, 5)");
  Report layout = test::check_text(op_call("masked_fill", R"("input": [2, 4, 5, 5], "mask": [2, 5], "value": 0)"));
  REQUIRE(test::find(layout, "MHA320") != nullptr);
  CHECK(test::raised_message(layout) == "RuntimeError: The size of tensor a (2) must match the size of tensor b (5) at non-singleton dimension 2");
  CHECK(test::check_text(op_call("masked_fill", R"("input": [5], "mask": [5], "value": "minus infinity")")).input_error);
  Report float_mask = test::check_text(op_call("masked_fill", R"("input": [5], "mask": {"shape": [5], "dtype": "float32"}, "value": 0)"));
  REQUIRE(test::find(float_mask, "MHA321") != nullptr);
  CHECK_FALSE(test::find(float_mask, "MHA321")->fixes.empty());
}

TEST_CASE("sum and mean reduce symbolic dims, activations keep the shape", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("mean", R"("input": ["B", "T", 64], "dim": 1)"))) == "(B, 64)");
  CHECK(test::single_output(test::check_text(op_call("sum", R"("input": ["B", "T", 64], "dim": [0, -1], "keepdim": true)"))) == "(1, T, 1)");
  CHECK(test::single_output(test::check_text(op_call("sum", R"("input": ["B", "T"])"))) == "()");
  CHECK(test::single_output(test::check_text(op_call("gelu", R"("input": ["B", "T", 64], "approximate": "tanh")"))) == "(B, T, 64)");
  CHECK(test::single_output(test::check_text(op_call("dropout", R"("input": ["B", 64], "p": 0.1, "training": false)"))) == "(B, 64)");
  CHECK(test::check_text(op_call("sum", R"("input": [2, 3], "dim": "0")")).input_error);
}
