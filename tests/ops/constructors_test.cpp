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

TEST_CASE("arange reads sizes bound under dims as their numbers, and end - start as a size when it is one", "[glue]") {
  // Llama's RoPE: torch.arange(0, dim, 2) with the head dim bound.
  Report bound = test::check_text(R"({"version": 1, "dims": {"D": 64, "T": 2},
      "tensors": {}, "calls": [{"id": "a", "op": "arange", "start": 0, "end": "D", "step": 2},
                               {"id": "b", "op": "arange", "start": 0, "end": 10, "step": "T"}]})");
  CHECK(bound.diagnostics.empty());
  REQUIRE(bound.calls.size() == 2);
  CHECK(tuple_str(bound.calls[0].outputs.at(0).shape) == "(32,)");
  CHECK(tuple_str(bound.calls[1].outputs.at(0).shape) == "(5,)");
  // GPT-2's positions after a cache of P: arange(P, P+T) has T elements, both unbound.
  Report cached = test::check_text(R"({"version": 1, "tensors": {},
      "calls": [{"id": "p", "op": "arange", "start": "P", "end": "P+T", "step": 1},
                {"id": "h", "op": "arange", "start": 0, "end": "D", "step": 2}]})");
  CHECK(cached.diagnostics.empty());
  REQUIRE(cached.calls.size() == 2);
  CHECK(tuple_str(cached.calls[0].outputs.at(0).shape) == "(T,)");
  CHECK(tuple_str(cached.calls[1].outputs.at(0).shape) == "((D+1)//2,)");
}

TEST_CASE("arange and the size constructors refuse counts and storage beyond int64 as PyTorch does", "[glue]") {
  Report tiny_step = test::check_text(R"({"op": "arange", "start": 0, "end": 1e300, "step": 1e-300})");
  const Diagnostic* overflow = test::find(tiny_step, "MHA325");
  REQUIRE(overflow != nullptr);
  REQUIRE(overflow->pytorch_error);
  CHECK(overflow->pytorch_error->message == "invalid size, possible overflow?");
  Report huge = test::check_text(R"({"op": "ones", "size": [4000000000, 4000000000, 4000000000]})");
  const Diagnostic* storage = test::find(huge, "MHA325");
  REQUIRE(storage != nullptr);
  REQUIRE(storage->pytorch_error);
  CHECK(storage->pytorch_error->message == "Storage size calculation overflowed with sizes=[4000000000, 4000000000, 4000000000]");
  // 2^61 float32 elements are 2^63 bytes, one more than int64 holds; as bool they fit; a zero size makes none.
  CHECK(test::find(test::check_text(R"({"op": "zeros", "size": [1099511627776, 2097152]})"), "MHA325") != nullptr);
  CHECK(test::check_text(R"({"op": "zeros", "size": [1099511627776, 2097152], "dtype": "bool"})").diagnostics.empty());
  CHECK(test::check_text(R"({"op": "zeros", "size": [0, 4000000000, 4000000000, 4000000000]})").diagnostics.empty());
}
