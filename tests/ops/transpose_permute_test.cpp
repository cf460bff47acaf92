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

TEST_CASE("a split into two counts then a swap of those factors warns, with the split in the order read", "[glue]") {
  // Blocked attention over 256 positions in 4 blocks of 64, split (64, 4) and swapped.
  Report blocked = test::check_text(R"J({"version": 1, "tensors": {"q": ["N", 4, 256, 32]}, "calls": [
      {"id": "b", "op": "view", "input": "q", "shape": ["N", 4, 64, 4, 32], "outputs": ["q0"]},
      {"id": "t", "op": "transpose", "input": "q0", "dim0": 3, "dim1": 2, "outputs": ["qb"]},
      {"id": "a", "op": "F.scaled_dot_product_attention", "query": "qb", "key": "qb", "value": "qb"}]})J");
  const Diagnostic* strided = test::find(blocked, "MHA312");
  REQUIRE(strided != nullptr);
  CHECK(strided->severity() == Severity::Warning);
  REQUIRE(!strided->fixes.empty());
  CHECK(strided->fixes.front().description == "split in the order the result is read, without the swap: q.view(N, 4, 4, 64, 32)");
  CHECK(strided->fixes.front().verified);
  // A Linear's features split (points, heads, 2) and swapped to (heads, points, 2).
  Report projected = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.Linear(64, 96)"}, "tensors": {"x": ["B", "Q", 64]}, "calls": [
      {"id": "l", "module": "attn", "input": "x", "outputs": ["o"]},
      {"id": "v", "op": "reshape", "input": "o", "shape": ["B", "Q", 6, 8, 2], "outputs": ["o5"]},
      {"id": "t", "op": "transpose", "input": "o5", "dim0": 2, "dim1": 3, "outputs": ["off"]}]})J");
  const Diagnostic* heads = test::find(projected, "MHA312");
  REQUIRE(heads != nullptr);
  REQUIRE(!heads->fixes.empty());
  CHECK(heads->fixes.front().description.find("o.reshape(B, Q, 8, 6, 2)") != std::string::npos);
  // Silent: a head split then moved (the split dim is not the pair), the per-head size moved before
  // the heads, a square grid exchanged (axial), symbolic factors, a split without a swap.
  const char* silent[] = {
      R"J({"version": 1, "modules": {"p": "nn.Linear(64, 64)"}, "tensors": {"x": ["B", "T", 64]}, "calls": [
      {"id": "l", "module": "p", "input": "x", "outputs": ["o"]},
      {"id": "v", "op": "view", "input": "o", "shape": ["B", "T", 8, 8], "outputs": ["o4"]},
      {"id": "t", "op": "transpose", "input": "o4", "dim0": 1, "dim1": 2}]})J",
      R"J({"version": 1, "modules": {"p": "nn.Linear(64, 64)"}, "tensors": {"x": ["B", "T", 64]}, "calls": [
      {"id": "l", "module": "p", "input": "x", "outputs": ["o"]},
      {"id": "v", "op": "view", "input": "o", "shape": ["B", "T", 4, 16], "outputs": ["o4"]},
      {"id": "t", "op": "transpose", "input": "o4", "dim0": 2, "dim1": 3}]})J",
      R"J({"version": 1, "tensors": {"q": ["B", 8, 1024, 64]}, "calls": [
      {"id": "v", "op": "reshape", "input": "q", "shape": ["B", 8, 32, 32, 64], "outputs": ["g"]},
      {"id": "t", "op": "transpose", "input": "g", "dim0": 2, "dim1": 3}]})J",
      R"J({"version": 1, "tensors": {"q": ["B", 8, "H*W", 64]}, "calls": [
      {"id": "v", "op": "reshape", "input": "q", "shape": ["B", 8, "H", "W", 64], "outputs": ["g"]},
      {"id": "t", "op": "transpose", "input": "g", "dim0": 2, "dim1": 3}]})J",
      R"J({"version": 1, "tensors": {"q": ["B", 8, 128, 64]}, "calls": [
      {"id": "v", "op": "reshape", "input": "q", "shape": ["B", 8, 4, 32, 64], "outputs": ["g"]},
      {"id": "a", "op": "F.scaled_dot_product_attention", "query": "g", "key": "g", "value": "g"}]})J"};
  for (const char* spec : silent) {
    CAPTURE(spec);
    CHECK(test::find(test::check_text(spec), "MHA312") == nullptr);
  }
}
