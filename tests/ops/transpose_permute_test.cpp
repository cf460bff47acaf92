// transpose and permute beyond the PyTorch fixtures: symbolic dims, where errors point, and
// the flat form's "dims" (permute's argument, not symbol bindings).
#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("transpose swaps symbolic dims and wraps negative ones", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("transpose", R"("input": ["B", "L", 8], "dim0": 0, "dim1": -2)"))) == "(L, B, 8)");
  CHECK(test::single_output(test::check_text(op_call("transpose", R"("input": [], "dim0": 0, "dim1": -1)"))) == "()");
}

TEST_CASE("an out-of-range dim is an IndexError at the argument", "[glue]") {
  Report report = test::check_text(op_call("transpose", R"("input": [2, 3], "dim0": 0, "dim1": 2)"));
  const Diagnostic* out_of_range = test::find(report, "MHA300");
  REQUIRE(out_of_range != nullptr);
  CHECK(out_of_range->argument == "dim1");
  CHECK(out_of_range->location.column == 57);
  CHECK(test::raised_message(report) == "IndexError: Dimension out of range (expected to be in range of [-2, 1], but got 2)");
}

TEST_CASE("permute's dims in the flat form, symbols follow their dims", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("permute", R"("input": ["B", "L", "H", 64], "dims": [0, 2, 1, 3])"))) == "(B, H, L, 64)");
  Report twice = test::check_text(op_call("permute", R"("input": [2, 3, 4], "dims": [0, 1, -3])"));
  CHECK(test::raised_message(twice) == "RuntimeError: permute(): duplicate dims are not allowed.");
  Report short_list = test::check_text(op_call("permute", R"("input": [2, 3, 4], "dims": [1, 0])"));
  CHECK(test::find(short_list, "MHA301") != nullptr);
}

TEST_CASE("a flat call without a dims argument still reads dims as symbol bindings", "[glue]") {
  Report bound = test::check_text(R"({"dims": {"B": 4}, "op": "transpose", "input": ["B", 3], "dim0": 0, "dim1": 1})");
  CHECK(test::single_output(bound) == "(3, 4)");
  Report wrong = test::check_text(R"({"dims": [1, 0], "op": "transpose", "input": [2, 3], "dim0": 0, "dim1": 1})");
  CHECK(wrong.input_error);
}

TEST_CASE("a permute that moves one dim and reverses a same-sized pair on the way warns, with the order-keeping permute", "[glue]") {
  // A contact map's (B, L, L, 64) pair features with the channels moved to the front by
  // permute(0, 3, 2, 1): (B, 64, L, L) either way, but every entry read at its mirror position.
  Report report = test::check_text(op_call("permute", R"("input": ["B", "L", "L", 64], "dims": [0, 3, 2, 1])"));
  const Diagnostic* reversed = test::find(report, "MHA420");
  REQUIRE(reversed != nullptr);
  CHECK(reversed->severity() == Severity::Warning);
  CHECK(reversed->argument == "dims");
  REQUIRE(!reversed->fixes.empty());
  CHECK(reversed->fixes.front().description == "keep the order of dims 1 and 2: permute(0, 3, 1, 2)");
  CHECK(reversed->fixes.front().verified);
  // Only the pair exchanged (a square pair transposed on purpose), or the pair kept in order,
  // says nothing.
  // Two constants that happen to agree (an axial block's H == W) are two roles: no warning.
  CHECK(test::find(test::check_text(op_call("permute", R"("input": ["B", "L", "L", 64], "dims": [0, 2, 1, 3])")), "MHA420") == nullptr);
  CHECK(test::find(test::check_text(op_call("permute", R"("input": ["B", "L", "L", 64], "dims": [0, 3, 1, 2])")), "MHA420") == nullptr);
  CHECK(test::find(test::check_text(op_call("permute", R"("input": ["B", 32, 32, 64], "dims": [0, 3, 2, 1])")), "MHA420") == nullptr);
  CHECK(test::find(test::check_text(op_call("permute", R"("input": ["B", "H", "T", "T"], "dims": [0, 1, 3, 2])")), "MHA420") == nullptr);
}
