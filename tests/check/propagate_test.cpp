#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace mhacheck;

namespace {
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

const char* kChain = R"({
  "version": 1,
  "dims": {"B": 4},
  "modules": {
    "self": {"type": "MultiheadAttention", "embed_dim": 64, "num_heads": 4, "batch_first": true},
    "cross": {"type": "MultiheadAttention", "embed_dim": 64, "num_heads": 4, "kdim": 32, "vdim": 32, "batch_first": true}
  },
  "tensors": {"x": ["B", "T", 64], "memory": ["B", "S", 32], "pad": {"shape": ["B", "S"]}},
  "calls": [
    {"id": "self", "module": "self", "query": "x", "key": "x", "value": "x", "outputs": ["h", "w"]},
    {"id": "cross", "module": "cross", "query": "h", "key": "memory", "value": "memory", "key_padding_mask": "pad",
     "need_weights": false, "outputs": ["y"]}
  ]
})";
}  // namespace

TEST_CASE("outputs of one call flow into the next", "[propagate]") {
  Report report = test::check_text(kChain);
  CHECK(report.ok());
  CHECK(report.diagnostics.empty());
  REQUIRE(report.calls.size() == 2);
  CHECK(report.calls[0].outputs.at(0).name == "h");
  CHECK(tuple_str(report.calls[0].outputs.at(1).shape) == "(4, T, T)");
  CHECK(report.calls[1].outputs.size() == 1);
  CHECK(report.calls[1].outputs.at(0).name == "y");
  CHECK(tuple_str(report.calls[1].outputs.at(0).shape) == "(4, T, 64)");
}

TEST_CASE("a call fed by a failing call is not checked, and says why", "[propagate]") {
  Report report = test::check_text(replaced(kChain, R"("x": ["B", "T", 64])", R"("x": ["B", "T", 60])"));
  REQUIRE_FALSE(report.input_error);
  CHECK_FALSE(report.ok());
  CHECK_FALSE(report.calls[0].ok);
  CHECK(report.calls[1].skipped_because == "self");
  CHECK(report.count(Severity::Error) == 1);
}

TEST_CASE("names must be defined once, before use", "[propagate]") {
  Report report = test::check_text(replaced(kChain, R"("query": "h")", R"("query": "hh")"));
  CHECK(report.input_error);
  CHECK(std::string(report.diagnostics.at(0).info().code) == "MHA003");
  CHECK_THAT(report.diagnostics.at(0).message, Catch::Contains("\"hh\"") && Catch::Contains("did you mean \"h\"?"));
  CHECK(report.diagnostics.at(0).location.line == 11);

  Report duplicate = test::check_text(replaced(kChain, R"(["y"])", R"(["x"])"));
  CHECK(duplicate.input_error);
  CHECK_THAT(duplicate.diagnostics.at(0).message, Catch::Contains("\"x\" is defined twice"));
}

TEST_CASE("call outputs carry their dtype, masks default to bool and data to float32", "[propagate]") {
  Report report = test::check_text(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "dtype": "float64"},
    "query": {"shape": [3, 2, 8], "dtype": "float64"}, "key": {"shape": [5, 2, 8], "dtype": "float64"},
    "value": {"shape": [5, 2, 8], "dtype": "float64"}, "key_padding_mask": [2, 5]})");
  CHECK(report.ok());
  CHECK(report.calls[0].outputs[0].dtype == DType::Float64);
  Report mismatched = test::check_text(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2},
    "query": [3, 2, 8], "key": [5, 2, 8], "value": [5, 2, 8], "key_padding_mask": {"shape": [2, 5], "dtype": "float64"}})");
  REQUIRE(test::find(mismatched, "MHA062") != nullptr);
}

TEST_CASE("outputs PyTorch does not return cannot be named, and call ids are unique", "[propagate]") {
  Report none = test::check_text(replaced(kChain, R"("need_weights": false, "outputs": ["y"])", R"("need_weights": false, "outputs": ["y", "yw"])"));
  CHECK(none.input_error);
  CHECK_THAT(none.diagnostics.at(0).message, Catch::Contains("returns no output 1 (\"yw\")"));
  Report twice = test::check_text(replaced(kChain, R"("id": "cross")", R"("id": "self")"));
  CHECK(twice.input_error);
  CHECK_THAT(twice.diagnostics.at(0).message, Catch::Contains("call id \"self\" is used twice"));
}

TEST_CASE("unnamed outputs of several calls stay apart", "[propagate]") {
  Report report = test::check_text(replaced(replaced(kChain, R"(, "outputs": ["y"])", ""), R"(, "outputs": ["h", "w"])", ""));
  // Without output names the second call cannot use "h": it is an input error that names it.
  CHECK(report.input_error);
  Report named = test::check_text(replaced(kChain, R"(, "outputs": ["y"])", ""));
  REQUIRE(named.ok());
  CHECK(named.calls[1].outputs.at(0).name == "cross.attn_output");
  CHECK(named.calls[0].outputs.at(0).name == "h");
}

TEST_CASE("a tensor PyTorch cannot allocate is refused as PyTorch refuses it", "[propagate]") {
  // torch.empty(2**40, 2**40, 8): RuntimeError: Storage size calculation overflowed with sizes=[...]
  Report huge = test::check_text(R"({"dims": {"L": 1099511627776}, "module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2},
    "query": ["L", 1099511627776, 8], "key": [1, 1099511627776, 8], "value": [1, 1099511627776, 8]})");
  REQUIRE(huge.input_error);
  CHECK_THAT(huge.diagnostics.at(0).message,
             Catch::Contains("Storage size calculation overflowed with sizes=[1099511627776, 1099511627776, 8]"));
  // The bytes count: 2^40 * 2^21 float32 elements overflow, as bool they fit (as in PyTorch 1.13).
  CHECK(test::check_text(R"({"op": "softmax", "input": [1099511627776, 2097152], "dim": 0})").input_error);
  Report bools = test::check_text(R"({"op": "transpose", "input": {"shape": [1099511627776, 2097152], "dtype": "bool"}, "dim0": 0, "dim1": 1})");
  CHECK_FALSE(bools.input_error);
  // A 0 after the overflow does not undo it; a 0 before it does.
  CHECK(test::check_text(R"({"op": "transpose", "input": [1099511627776, 1099511627776, 0], "dim0": 0, "dim1": 1})").input_error);
  CHECK_FALSE(test::check_text(R"({"op": "transpose", "input": [0, 1099511627776, 1099511627776], "dim0": 0, "dim1": 1})").input_error);
}

TEST_CASE("arguments share what the spec writes of their tensor, an output has none", "[propagate]") {
  Report report = test::check_text(kChain);
  REQUIRE(report.calls.size() == 2);
  const std::vector<ResolvedArgument>& self = report.calls[0].arguments;
  const std::vector<ResolvedArgument>& cross = report.calls[1].arguments;
  REQUIRE(self.size() == 3);
  REQUIRE(cross.size() == 4);
  REQUIRE(self[0].source.written != nullptr);
  CHECK(self[0].source.written == self[2].source.written);  // query and value: both "x"
  CHECK(self[0].source.written->declared_at.line == 8);
  CHECK(cross[1].source.written == cross[2].source.written);  // key and value: both "memory"
  CHECK(cross[1].source.written != self[0].source.written);
  CHECK(cross[0].source.kind == ArgumentSource::Kind::Output);
  CHECK(cross[0].source.written == nullptr);
  CHECK_FALSE(cross[0].source.has_file());
}

TEST_CASE("a declared dim written as a sum of bound symbols is their sum", "[propagate]") {
  // A KV-cache mask (B, "P+T") with P and T bound: (2, 21), as the cat of the cached and the new
  // keys, so the correct self-attention with a cache gives no "valid only if P+T == 21".
  Report cached = test::check_text(R"({"version": 1, "dims": {"B": 2, "P": 20, "T": 1},
 "tensors": {"q": ["B", 8, "T", 64], "k_new": ["B", 8, "T", 64], "v_new": ["B", 8, "T", 64],
             "past_k": ["B", 8, "P", 64], "past_v": ["B", 8, "P", 64], "attention_mask": {"shape": ["B", "P+T"], "dtype": "int64"}},
 "calls": [{"id": "ck", "op": "cat", "tensors": ["past_k", "k_new"], "dim": 2, "outputs": ["k"]},
           {"id": "cv", "op": "cat", "tensors": ["past_v", "v_new"], "dim": 2, "outputs": ["v"]},
           {"id": "mb", "op": "bool", "input": "attention_mask", "outputs": ["keep"]},
           {"id": "m4", "op": "getitem", "input": "keep", "index": "[:, None, None, :]", "outputs": ["keep4"]},
           {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "keep4", "outputs": ["o"]}]})");
  CHECK(test::find(cached, "MHA080") == nullptr);
  for (const Diagnostic& diagnostic : cached.diagnostics) CHECK(diagnostic.severity() == Severity::Note);
  for (const auto* sizes : {R"("2*B", "T-1")", R"("B*T", "P+T+1")"}) {
    CAPTURE(sizes);
    Report declared = test::check_text(std::string(R"({"version": 1, "dims": {"B": 2, "P": 20, "T": 4},
      "tensors": {"x": [)") + sizes + R"(]}, "calls": [{"id": "c", "op": "contiguous", "input": "x", "outputs": ["y"]}]})");
    REQUIRE(declared.calls.size() == 1);
    REQUIRE(declared.calls[0].outputs.size() == 1);
    for (const DimExpr& dim : declared.calls[0].outputs[0].shape) CHECK(dim.is_constant());
  }
}

