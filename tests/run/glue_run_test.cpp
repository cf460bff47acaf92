// `run` on glue calls beyond the golden cases: which dtypes compute, and values worked by hand.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

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

TEST_CASE("run: arithmetic glue runs in float32 and float64 only; re-layouts take any dtype", "[run][glue]") {
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
