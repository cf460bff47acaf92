// torch.stack (src/ops/stack.cpp): the new dim wraps over the tensors' rank + 1.
#include <catch2/catch.hpp>

#include "ops/op_test_support.hpp"

using namespace mhacheck;

TEST_CASE("stack's dim out of range names the tensors' own rank and PyTorch's range over rank + 1", "[glue]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"a": [2, 3], "b": [2, 3]},
      "calls": [{"id": "s", "op": "stack", "tensors": ["a", "b"], "dim": 3}]})");
  const Diagnostic* out_of_range = test::find(report, "MHA300");
  REQUIRE(out_of_range != nullptr);
  CHECK(out_of_range->message.find("2-D tensors") != std::string::npos);
  CHECK(out_of_range->message.find("3-D tensor ") == std::string::npos);
  CHECK(test::raised_message(report) == "IndexError: Dimension out of range (expected to be in range of [-3, 2], but got 3)");
  Report last = test::check_text(R"({"version": 1, "tensors": {"a": [2, 3], "b": [2, 3]},
      "calls": [{"id": "s", "op": "stack", "tensors": ["a", "b"], "dim": 2}]})");
  CHECK(last.diagnostics.empty());
  CHECK(test::single_output(last) == "(2, 3, 2)");
}
