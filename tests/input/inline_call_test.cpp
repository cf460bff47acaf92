// The inline-call flags as a spec: any module (--module), any function (--op), any argument
// (--arg), each value located in its own flag.
#include <catch2/catch.hpp>

#include "mhacheck/inline_call.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

Report check_inline(const InlineCall& call) {
  try {
    return check_document(inline_document(call));
  } catch (const InputError& error) {
    return input_error_report("<command line>", error);
  }
}

std::string input_error(const InlineCall& call) {
  try {
    inline_document(call);
  } catch (const InputError& error) {
    return error.location().file() + ":" + std::to_string(error.location().column) + ": " + error.what() + " | " + error.help();
  }
  return "no error";
}

}  // namespace

TEST_CASE("inline: a pasted line with names bound by --dim", "[inline]") {
  InlineCall call;
  call.module = "self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=0.1, batch_first=True)";
  call.dims = {"d_model=512", "n_heads=8"};
  call.query = "(32, 10, 512)";
  Report report = check_inline(call);
  REQUIRE(report.ok());
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(32, 10, 512)");
  call.dims = {"d_model=512", "n_heads=7"};
  CHECK(test::find(check_inline(call), "MHA011") != nullptr);  // 512 is not divisible by 7
}

TEST_CASE("inline: any module takes its own arguments; a shorthand it lacks says what it takes", "[inline]") {
  InlineCall call;
  call.module = "nn.TransformerEncoderLayer(512, 8)";
  call.query = "(10, 32, 512)";
  CHECK(input_error(call) ==
        "--query:1: nn.TransformerEncoderLayer takes no argument query | its arguments: src, src_mask, src_key_padding_mask, is_causal; "
        "give any of them with --arg NAME=SHAPE (tensors) or --arg NAME=VALUE");
  call.query.clear();
  call.args = {"src=(10, 32, 512)", "src_key_padding_mask=(32, 9)"};
  Report report = check_inline(call);
  const Diagnostic* mask = test::find(report, "MHA052");
  REQUIRE(mask != nullptr);
  CHECK(mask->location.file() == "--arg");
  CHECK(mask->location.column == 27);  // the 9, after "src_key_padding_mask=(32, "
  call.args = {"src_mask=(10, 10)"};
  CHECK_THAT(input_error(call), Catch::Contains("nn.TransformerEncoderLayer needs src") && Catch::Contains("--arg src=SHAPE"));
}

TEST_CASE("inline: functions by --op, plain arguments by value", "[inline]") {
  InlineCall sdpa;
  sdpa.op = "F.scaled_dot_product_attention";
  sdpa.query = "(2, 8, 10, 64)";
  sdpa.key = "(2, 8, 12, 64)";
  sdpa.is_causal = true;
  Report report = check_inline(sdpa);
  REQUIRE(report.ok());
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(2, 8, 10, 64)");
  sdpa.key = "(2, 8, 12, 32)";
  CHECK(test::find(check_inline(sdpa), "MHA205") != nullptr);

  InlineCall permute;
  permute.op = "torch.permute";
  permute.args = {"input=(2, 3, 4)", "dims=(2, 0, 1)"};
  Report permuted = check_inline(permute);
  REQUIRE(permuted.ok());
  CHECK(tuple_str(permuted.calls.at(0).outputs.at(0).shape) == "(4, 2, 3)");

  InlineCall unknown;
  unknown.op = "F.scaled_dot_attention";
  CHECK_THAT(input_error(unknown), Catch::Contains("unknown function 'F.scaled_dot_attention'") && Catch::Contains("supported functions:"));
  InlineCall module_as_op;
  module_as_op.op = "Linear";
  CHECK_THAT(input_error(module_as_op), Catch::Contains("nn.Linear is a module: give it with --module"));
  InlineCall flag;
  flag.module = "nn.Linear(4, 2)";
  flag.args = {"input=(3, 4)"};
  flag.is_causal = true;
  CHECK_THAT(input_error(flag), Catch::StartsWith("--is-causal:1: nn.Linear takes no argument is_causal"));
}
