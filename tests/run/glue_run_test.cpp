// `run` on glue calls beyond the golden cases: which dtypes compute, and values worked by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "mhacheck/run.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

RunResult run_text(const std::string& text) {
  RunOptions options;
  options.random_inputs = true;
  options.threads = 1;
  return run_spec(parse_spec(test::document_from(text)), options);
}

}  // namespace

TEST_CASE("run: arithmetic glue runs in float32 and float64 only, re-layouts take any dtype", "[run][glue]") {
  RunResult integers = run_text(R"({"op": "add", "input": {"shape": [2, 3], "dtype": "int64"}, "other": {"shape": [3], "dtype": "int64"}})");
  CHECK_FALSE(integers.executed);
  CHECK(test::find(integers.report, "MHA104") != nullptr);
  RunResult moved = run_text(R"({"op": "transpose", "input": {"shape": [2, 3], "dtype": "int64"}, "dim0": 0, "dim1": 1})");
  REQUIRE(moved.executed);
  CHECK(moved.outputs.at(0).array.shape == std::vector<std::int64_t>{3, 2});
}

TEST_CASE("run: softmax over a size-1 dim is 1, and every softmax slice sums to 1", "[run][glue]") {
  // Random inputs are normal(0, 1): what is checked holds whatever the values.
  RunResult single = run_text(R"({"op": "softmax", "input": [3, 1], "dim": 1})");
  REQUIRE(single.executed);
  for (double value : single.outputs.at(0).array.to_double()) CHECK(value == 1.0);
  RunResult softmax = run_text(R"({"op": "softmax", "input": {"shape": [4, 5], "dtype": "float64"}, "dim": 0})");
  REQUIRE(softmax.executed);
  std::vector<double> p = softmax.outputs.at(0).array.to_double();
  for (int column = 0; column < 5; ++column) {
    double total = 0;
    for (int row = 0; row < 4; ++row) total += p[static_cast<std::size_t>(row * 5 + column)];
    CHECK(total == Approx(1.0).epsilon(1e-12));
  }
}

TEST_CASE("run: einsum of three operands contracts them pairwise, as matmul of matmul", "[run][glue][einsum]") {
  // Summed over every index at once, 'ij,jk,kl->il' of 300 x 300 matrices would take 300^4 steps.
  RunResult result = run_text(R"({"tensors": {"a": {"shape": [300, 300], "dtype": "float64"}, "b": {"shape": [300, 300], "dtype": "float64"},
      "c": {"shape": [300, 300], "dtype": "float64"}}, "modules": {},
    "calls": [{"id": "chain", "op": "einsum", "equation": "ij,jk,kl->il", "operands": ["a", "b", "c"], "outputs": ["e"]},
              {"id": "ab", "op": "matmul", "input": "a", "other": "b", "outputs": ["ab"]},
              {"id": "abc", "op": "matmul", "input": "ab", "other": "c", "outputs": ["m"]}]})");
  REQUIRE(result.executed);
  std::vector<double> einsum = result.outputs.at(0).array.to_double(), matmul = result.outputs.at(2).array.to_double();
  REQUIRE(einsum.size() == matmul.size());
  double worst = 0;
  for (std::size_t i = 0; i < einsum.size(); ++i) worst = std::max(worst, std::abs(einsum[i] - matmul[i]));
  CHECK(worst < 1e-9);
}

TEST_CASE("run: an output dim no input binds stops the run with MHA103 (was its offset: an abort, or a (0, 4) tensor)", "[run][glue]") {
  for (const char* size : {"S-1", "B", "B*T"}) {
    RunResult result = run_text(fmt::format(R"({{"calls": [{{"op": "expand", "input": {{"shape": [1, 4]}}, "size": ["{}", 4], "outputs": ["y"]}}]}})", size));
    CHECK_FALSE(result.executed);
    CHECK(result.outputs.empty());
    const Diagnostic* missing = test::find(result.report, "MHA103");
    REQUIRE(missing != nullptr);
    CHECK(missing->message == fmt::format("output \"y\" has the symbolic dim {}: running needs its value", size));
    CHECK_THAT(missing->notes.at(0), Catch::Contains(fmt::format("--dim {}=8", std::string(size).substr(0, 1))));
  }
  RunResult bound = run_text(R"({"dims": {"S": 3}, "calls": [{"op": "expand", "input": {"shape": [1, 4]}, "size": ["S-1", 4], "outputs": ["y"]}]})");
  REQUIRE(bound.executed);
  CHECK(bound.outputs.at(0).array.shape == std::vector<std::int64_t>{2, 4});
}

TEST_CASE("run: einsum's pairwise intermediates stay within --max-elements", "[run][glue][einsum]") {
  // i, j, k of 50: the inputs hold 2500 elements at most and the output is a scalar, but
  // contracting left to right makes (i, j) and then (i, j, k) of 125000 elements.
  std::string spec = R"({"calls": [{"op": "einsum", "equation": "i,j,k,ij,jk,ik->", "operands": [{"shape": [50]}, {"shape": [50]}, {"shape": [50]},
    {"shape": [50, 50]}, {"shape": [50, 50]}, {"shape": [50, 50]}], "outputs": ["y"]}]})";
  RunOptions options;
  options.random_inputs = true;
  options.threads = 1;
  options.max_elements = 100000;
  CHECK_THROWS_WITH(run_spec(parse_spec(test::document_from(spec)), options),
                    Catch::Contains("einsum's intermediate product of two operands would have more than 100000 elements (--max-elements)"));
  options.max_elements = 125000;
  RunResult result = run_spec(parse_spec(test::document_from(spec)), options);
  REQUIRE(result.executed);
  CHECK(result.outputs.at(0).array.shape.empty());
}
