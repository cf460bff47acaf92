// The constructors (src/ops/constructors.cpp): shapes and dtypes from sizes that may be symbols,
// PyTorch's refusals, and the values they make, which the mask checks read as they read a
// declared tensor named ones.
#include <catch2/catch.hpp>

#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

// q attends under a (T, T) causal mask made by `triangle`(ones(T, T), diagonal) from a constructor.
std::string causal_spec(const std::string& triangle, int diagonal, const std::string& consumer) {
  return R"json({"version": 1, "dims": {"B": 2, "T": 6},
      "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
      "tensors": {"x": ["B", "T", 64], "q": ["B", 4, "T", 16]},
      "calls": [{"id": "o", "op": "torch.ones", "size": ["T", "T"], "dtype": "bool", "outputs": ["full_of_ones"]},
                {"id": "m", "op": ")json" + triangle + R"(", "input": "full_of_ones", "diagonal": )" + std::to_string(diagonal) +
         R"(, "outputs": ["causal"]}, )" + consumer + "]}";
}

}  // namespace

TEST_CASE("ones(T, T) made by a call carries its values into tril's mask, as a declared ones tensor does", "[glue][masks]") {
  const std::string sdpa = R"({"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "causal"})";
  const std::string mha = R"({"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "causal"})";
  CHECK(test::check_text(causal_spec("tril", 0, sdpa)).diagnostics.empty());
  CHECK(test::check_text(causal_spec("triu", 1, mha)).diagnostics.empty());
  // tril keeps each query's past (True = take part): inverted for nn.MultiheadAttention.
  Report inverted = test::check_text(causal_spec("tril", 0, mha));
  REQUIRE(test::find(inverted, "MHA084") != nullptr);
}

TEST_CASE("constructors take their shape from symbolic sizes and their dtype from the arguments", "[glue]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 8]},
      "calls": [{"id": "a", "op": "arange", "end": "T", "outputs": ["positions"]},
                {"id": "f", "op": "full", "size": ["T", "T"], "fill_value": "-inf", "outputs": ["bias"]},
                {"id": "e", "op": "eye", "n": "T", "outputs": ["identity"]},
                {"id": "l", "op": "zeros_like", "input": "x", "dtype": "bool", "outputs": ["none"]},
                {"id": "n", "op": "new_ones", "input": "x", "size": ["B", 1], "outputs": ["kept"]}]})");
  REQUIRE(report.calls.size() == 5);
  auto output = [&](std::size_t call) {
    REQUIRE(report.calls[call].outputs.size() == 1);
    return tuple_str(report.calls[call].outputs[0].shape) + " " + dtype_name(report.calls[call].outputs[0].dtype);
  };
  CHECK(output(0) == "(T,) int64");
  CHECK(output(1) == "(T, T) float32");
  CHECK(output(2) == "(T, T) float32");
  CHECK(output(3) == "(B, T, 8) bool");
  CHECK(output(4) == "(B, 1) float32");
}

TEST_CASE("a negative size or an arange that goes the wrong way: MHA325 with PyTorch's message", "[glue]") {
  Report negative = test::check_text(R"({"op": "ones", "size": [4, -1]})");
  const Diagnostic* size = test::find(negative, "MHA325");
  REQUIRE(size != nullptr);
  REQUIRE(size->pytorch_error);
  CHECK(size->pytorch_error->message == "Trying to create tensor with negative dimension -1: [4, -1]");
  Report backwards = test::check_text(R"({"op": "arange", "start": 5, "end": 0})");
  REQUIRE(test::find(backwards, "MHA325") != nullptr);
}
