// getitem, select and narrow beyond the PyTorch fixtures: symbolic sizes (certain only where any
// value of the symbol gives the same answer), dim names carried through, the index text's syntax.
#include <fmt/format.h>

#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("getitem on symbolic sizes: the class token, the tokens after it, the last position", "[glue][index]") {
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T+1", 768], "index": "[:, 0]")"))) == "(B, 768)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T+1", 768], "index": "[:, 1:]")"))) == "(B, T, 768)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T", 64], "index": "[:, -1, :]")"))) == "(B, 64)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T", 64], "index": "[..., :32]")"))) == "(B, T, 32)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T", 64], "index": "[None, ..., None]")"))) ==
        "(1, B, T, 64, 1)");
  // a bound at the dim's smallest size holds for every size: T and T+3 are at least 1 and 4
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T", 64], "index": "[:, :1]")"))) == "(B, 1, 64)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T+3", 64], "index": "[:, :4]")"))) == "(B, 4, 64)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T+3", 64], "index": "[:, 4:]")"))) == "(B, T-1, 64)");
}

TEST_CASE("getitem with a slice's stop written as a symbol: a fixed-size table cut at a size read from another tensor", "[glue][index]") {
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": [5000, 1, 64], "index": "[:B]")"))) == "(B, 1, 64)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": [5000, 64], "index": "[:, :2*T+1]")"))) == "(5000, 2*T+1)");
  CHECK(test::single_output(test::check_text(op_call("getitem", R"("input": ["B", "T+1", 64], "index": "[:, :T]")"))) == "(B, T, 64)");
  // Bound, the stop is a number, clamped to the dim as Python clamps it.
  CHECK(test::single_output(test::check_text(R"({"version": 1, "dims": {"B": 6000}, "tensors": {"pe": [5000, 64]},
    "calls": [{"id": "p", "op": "getitem", "input": "pe", "index": "[:B]"}]})")) == "(5000, 64)");
  // A symbol on a dim of another symbol, or a length that is below 0 for small values (B-2 at
  // B = 1, 5000-B for any B past 5000): depends on the values (MHA303).
  for (const char* index : {"[:, :B]", "[2:B]", "[B:]"}) {
    INFO(index);
    Report report = test::check_text(op_call("getitem", std::string(R"("input": [5000, "T", 64], "index": ")") + index + "\""));
    CHECK(test::find(report, "MHA303") != nullptr);
  }
  // A step is a number.
  CHECK(test::check_text(op_call("getitem", R"("input": [5000, 64], "index": "[::B]")")).input_error);
}

TEST_CASE("getitem with symbolic starts, stops and steps: at::slice's clamping, sizes kept as expressions", "[glue][index]") {
  auto sliced = [](const std::string& shape, const std::string& index) {
    return test::single_output(test::check_text(op_call("getitem", R"("input": )" + shape + R"(, "index": ")" + index + "\"")));
  };
  // ceil(T/2), Python's (T+1)//2: 1 at T = 1, as at::slice gives.
  CHECK(sliced(R"(["B", "T", 64])", "[:, ::2]") == "(B, (T+1)//2, 64)");
  // 1:T-1:2 is ceil((T-2)/2) = (T-1)//2; at T = 1 the stop (0) is clamped to the start and the
  // slice is empty, which (T-1)//2 gives too.
  CHECK(sliced(R"(["B", "T", 64])", "[:, 1:T-1:2]") == "(B, (T-1)//2, 64)");
  CHECK(sliced(R"(["B", "T", 64])", "[:, :T-1]") == "(B, T-1, 64)");
  CHECK(sliced(R"(["B", "2*T", 64])", "[:, ::2]") == "(B, T, 64)");
  CHECK(sliced(R"(["B", "2*T+1", 64])", "[:, 1::2]") == "(B, T, 64)");
  CHECK(sliced(R"(["B", "T", 64])", "[:, -T:]") == "(B, T, 64)");
  // The last T rows of a causal mask built for S (a KV cache): a start of two symbols.
  CHECK(sliced(R"([1, 1, 1024, 1024])", "[:, :, S-T:S, :S]") == "(1, 1, T, S)");
  CHECK(sliced(R"([1, 1, 1024, 1024])", "[:, :, S - T : S]") == "(1, 1, T, 1024)");
  // Stops past the end clamp to it; a stop below the start is an empty slice.
  CHECK(sliced(R"(["B", "T", 64])", "[:, :T+5]") == "(B, T, 64)");
  CHECK(sliced(R"(["B", "T", 64])", "[:, T+1:]") == "(B, 0, 64)");
  CHECK(sliced(R"(["B", "T+2", 64])", "[:, T+2:T]") == "(B, 0, 64)");
  // Undecidable: a start that may pass the end (3 of T), a length negative at small T (T-3), a
  // negative start that may wrap past 0 (-5 of T).
  for (const char* index : {"[:, 3:]", "[:, 3:T]", "[:, -5:]", "[:, S-T:]"}) {
    INFO(index);
    Report report = test::check_text(op_call("getitem", std::string(R"("input": ["B", "T", 64], "index": ")") + index + "\""));
    CHECK(test::find(report, "MHA303") != nullptr);
  }
  // Bound by "dims", the same index is numbers: ceil(7/2) = 4 and (7-1)//2 = 3.
  Report bound = test::check_text(R"({"dims": {"T": 7}, "tensors": {"x": ["B", "T", 64]}, "modules": {},
    "calls": [{"id": "a", "op": "getitem", "input": "x", "index": "[:, ::2]"},
              {"id": "b", "op": "getitem", "input": "x", "index": "[:, 1:T-1:2]"}]})");
  REQUIRE(bound.ok());
  CHECK(tuple_str(bound.calls.at(0).outputs.at(0).shape) == "(B, 4, 64)");
  CHECK(tuple_str(bound.calls.at(1).outputs.at(0).shape) == "(B, 3, 64)");
}

TEST_CASE("getitem whose result depends on a symbol's value asks for the symbol to be bound", "[glue][index]") {
  for (const char* index : {"[:, 1]", "[:, :4]", "[:, 2::2]", "[:, -2]"}) {
    INFO(index);
    Report report = test::check_text(op_call("getitem", std::string(R"("input": ["B", "T", 64], "index": ")") + index + "\""));
    CHECK(test::find(report, "MHA303") != nullptr);
  }
  Report bound = test::check_text(R"({"dims": {"T": 6}, "tensors": {"x": ["B", "T", 64]}, "modules": {},
    "calls": [{"id": "pick", "op": "getitem", "input": "x", "index": "[:, ::4]", "outputs": ["y"]}]})");
  CHECK(bound.ok());
  CHECK(tuple_str(bound.calls.at(0).outputs.at(0).shape) == "(B, 2, 64)");
}

TEST_CASE("select and narrow on symbolic sizes", "[glue][index]") {
  CHECK(test::single_output(test::check_text(op_call("select", R"("input": ["B", "T", 64], "dim": 1, "index": -1)"))) == "(B, 64)");
  CHECK(test::single_output(test::check_text(op_call("narrow", R"("input": ["B", "T", 64], "dim": 2, "start": 8, "length": 16)"))) ==
        "(B, T, 16)");
  CHECK(test::single_output(test::check_text(op_call("narrow", R"("input": ["B", "T+4", 64], "dim": 1, "start": 1, "length": 4)"))) ==
        "(B, 4, 64)");
  CHECK(test::find(test::check_text(op_call("narrow", R"("input": ["B", "T+4", 64], "dim": 1, "start": 1, "length": 5)")), "MHA303") != nullptr);
  CHECK(test::find(test::check_text(op_call("select", R"("input": ["B", "T", 64], "dim": 1, "index": 3)")), "MHA303") != nullptr);
  CHECK(test::find(test::check_text(op_call("narrow", R"("input": ["B", "T", 64], "dim": 1, "start": 0, "length": 2)")), "MHA303") != nullptr);
}

TEST_CASE("an index the spec cannot read is refused with what was expected", "[glue][index]") {
  for (const char* index : {"[:, a]", ":, 0", "[1:2:3:4]", "[, 0]", "[]", "[0.5]", "[T--1:]", "[:(T+1)//2]", "[:T*]"}) {
    INFO(index);
    Report report = test::check_text(op_call("getitem", std::string(R"("input": [2, 4], "index": ")") + index + "\""));
    CHECK(report.input_error);
  }
  Report number = test::check_text(op_call("getitem", R"("input": [2, 4], "index": 0)"));
  CHECK(number.input_error);
}

TEST_CASE("getitem's output feeds a later call with its symbolic shape", "[glue][index]") {
  Report report = test::check_text(R"({"tensors": {"x": ["B", "T", 64]}, "modules": {},
    "calls": [{"id": "pick", "op": "getitem", "input": "x", "index": "[:, 0]", "outputs": ["y"]},
              {"id": "out", "op": "matmul", "input": "y", "other": [64, 3], "outputs": ["z"]}]})");
  CHECK(report.ok());
  CHECK(tuple_str(report.calls.at(1).outputs.at(0).shape) == "(B, 3)");
}

TEST_CASE("an integer index on the query dim of head-averaged MHA weights warns MHA291: average_attn_weights=False first", "[glue][index][roles]") {
  const std::string spec = R"j({"version": 1, "dims": {"T": 16}, "modules": {"attn": "nn.MultiheadAttention(256, 8, batch_first=True)"},
      "tensors": {"x": ["B", "T", 256]},
      "calls": [{"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "outputs": ["y", "w"]AVERAGE},
                {"id": "h", "op": "getitem", "input": "w", "index": "[:, 3]", "outputs": ["head3"]}]})j";
  auto with = [&](const std::string& average) { return std::string(spec).replace(spec.find("AVERAGE"), 7, average); };
  Report averaged = test::check_text(with(""));
  const Diagnostic* row = test::find(averaged, "MHA291");
  REQUIRE(row != nullptr);
  CHECK(row->severity() == Severity::Warning);
  CHECK(row->message ==
        "w[:, 3] takes entry 3 of dim 1 of the weights (B, 16, 16) of call \"a\", averaged over the heads (average_attn_weights=True): a "
        "query's row over the keys, not a head");
  REQUIRE_FALSE(row->fixes.empty());
  CHECK(row->fixes.front().description == "call \"a\" with average_attn_weights=False: per-head weights (N, H, L, S)");
  CHECK(row->fixes.front().valid());
  CHECK(row->fixes.front().semantics == FixSemantics::Consistent);
  // The per-head weights, and a slice of the averaged ones, say nothing.
  CHECK(test::find(test::check_text(with(", \"average_attn_weights\": false")), "MHA291") == nullptr);
  std::string sliced = with("");
  sliced.replace(sliced.find("[:, 3]"), 6, "[:, :3]");
  CHECK(test::find(test::check_text(sliced), "MHA291") == nullptr);
  // A query's row that no head number could name: the class token's (attention rollout's
  // w[:, 0, 1:]) and a row past the head count.
  for (const char* row_index : {"[:, 0, 1:]", "[:, 0]", "[:, 9]"}) {
    std::string query_row = with("");
    query_row.replace(query_row.find("[:, 3]"), 6, row_index);
    CHECK(test::find(test::check_text(query_row), "MHA291") == nullptr);
  }
}

namespace {

// A depthwise Conv1d(kernel 4, padding=3) over (B, 16, T) frames, its output cut by `index`.
std::string causal_conv_cut(const std::string& index) {
  return R"j({"version": 1, "modules": {"conv": "nn.Conv1d(16, 16, kernel_size=4, groups=16, padding=3)"},
    "tensors": {"x": ["B", 16, "T"]},
    "calls": [{"id": "c", "module": "conv", "input": "x", "outputs": ["y"]},
              {"id": "cut", "op": "getitem", "input": "y", "index": ")j" + index + R"j(", "outputs": ["z"]}]})j";
}

}  // namespace

TEST_CASE("getitem: a causally padded Conv1d's output cut at its start sees the future, its first T frames do not", "[indexing]") {
  Report report = test::check_text(causal_conv_cut("[..., 3:]"));
  const Diagnostic* cut = test::find(report, "MHA334");
  REQUIRE(cut != nullptr);
  CHECK(cut->severity() == Severity::Warning);
  REQUIRE(!cut->fixes.empty());
  CHECK(cut->fixes.front().description == "keep the first T frames, the causal ones: y[..., :-3]");
  CHECK(cut->fixes.front().verified);
  CHECK(cut->fixes.front().valid());
  CHECK(test::find(test::check_text(causal_conv_cut("[..., :-3]")), "MHA334") == nullptr);
  CHECK(test::find(test::check_text(causal_conv_cut("[:, :, :T]")), "MHA334") == nullptr);
  // Padding that is not (kernel_size - 1) * dilation is no causal padding.
  std::string centred = causal_conv_cut("[..., 3:]");
  centred.replace(centred.find("padding=3"), 9, "padding=1");
  CHECK(test::find(test::check_text(centred), "MHA334") == nullptr);
}

TEST_CASE("attention weights read by a column of the keys with the queries sliced: the row is meant", "[glue][index]") {
  // The first token's attention over the others is the row [:, :, 0, 1:]; [:, :, 1:, 0] reads how
  // much every other token attends to token 0.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"scores": ["B", 8, "T", "T"]},
    "calls": [{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["weights"]},
              {"id": "g", "op": "getitem", "input": "weights", "index": "[:, :, 1:, 0]", "outputs": ["first"]}]})j");
  const Diagnostic* column = test::find(report, "MHA379");
  REQUIRE(column != nullptr);
  REQUIRE_FALSE(column->fixes.empty());
  CHECK(column->fixes[0].description.rfind("weights[:, :, 0, 1:] instead of weights[:, :, 1:, 0]", 0) == 0);
  CHECK(column->fixes[0].valid());
  // The row itself, a column of every query (no slice leaving the token out), and a rectangular
  // cross-attention map say nothing.
  for (const char* index : {"[:, :, 0, 1:]", "[:, :, :, 0]"}) {
    INFO(index);
    Report quiet = test::check_text(fmt::format(R"j({{"version": 1, "tensors": {{"scores": ["B", 8, "T", "T"]}},
      "calls": [{{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["weights"]}},
                {{"id": "g", "op": "getitem", "input": "weights", "index": "{}", "outputs": ["first"]}}]}})j", index));
    CHECK(test::find(quiet, "MHA379") == nullptr);
  }
  Report cross = test::check_text(R"j({"version": 1, "tensors": {"scores": ["B", 8, "T", "S"]},
    "calls": [{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["weights"]},
              {"id": "g", "op": "getitem", "input": "weights", "index": "[:, :, 1:, 0]", "outputs": ["first"]}]})j");
  CHECK(test::find(cross, "MHA379") == nullptr);
}

TEST_CASE("a key column read through an Ellipsis or None entries warns MHA379, the row keeps the result's shape", "[glue][index]") {
  auto read = [](const std::string& index) {
    return test::check_text(fmt::format(R"j({{"version": 1, "tensors": {{"scores": ["B", 8, "T", "T"]}},
      "calls": [{{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["weights"]}},
                {{"id": "g", "op": "getitem", "input": "weights", "index": "{}", "outputs": ["first"]}}]}})j", index));
  };
  // Each index reads token 0's column; the row swaps the two entries, and entries written between
  // them (None) follow the slice, so that the result has the same shape.
  for (const auto& [index, row] : std::vector<std::pair<std::string, std::string>>{{"[..., 1:, 0]", "[..., 0, 1:]"},
                                                                                   {"[0, None, ..., 1:, 0]", "[0, None, ..., 0, 1:]"},
                                                                                   {"[:, :, 1:, None, 0]", "[:, :, 0, 1:, None]"},
                                                                                   {"[0, :, None, 1:, 0]", "[0, :, None, 0, 1:]"}}) {
    INFO(index);
    Report report = read(index);
    const Diagnostic* column = test::find(report, "MHA379");
    REQUIRE(column != nullptr);
    REQUIRE_FALSE(column->fixes.empty());
    CHECK(column->fixes[0].description.rfind(fmt::format("weights{} instead of weights{}", row, index), 0) == 0);
    CHECK(column->fixes[0].valid());
    CHECK(column->fixes[0].semantics == FixSemantics::Consistent);
  }
  // The Ellipsis over the queries (every query's column), and rows, say nothing.
  for (const char* index : {"[..., 0]", "[..., 0, 1:]", "[:, None, :, 0, 1:]", "[None, ..., 0]"}) {
    INFO(index);
    CHECK(test::find(read(index), "MHA379") == nullptr);
  }
}

TEST_CASE("a slice's numeric length names its dim by a bound symbol only when no other dim of the input is that symbol", "[glue][index]") {
  // Tokens kept along dim 1 of a (B, 50, 16) x with B bound to 20: the 20 kept tokens are not the
  // batch, which is dim 0 already; batch-first attention over them is fine.
  for (const char* keep : {R"("op": "getitem", "input": "x", "index": "[:, :20]")", R"("op": "narrow", "input": "x", "dim": 1, "start": 0, "length": 20)"}) {
    INFO(keep);
    Report report = test::check_text(fmt::format(R"json({{"version": 1, "dims": {{"B": 20}}, "modules": {{"attn": "nn.MultiheadAttention(16, 2, batch_first=True)"}},
      "tensors": {{"x": ["B", 50, 16]}},
      "calls": [{{"id": "g", {}, "outputs": ["kept"]}},
                {{"id": "att", "module": "attn", "query": "kept", "key": "kept", "value": "kept", "need_weights": false}}]}})json", keep));
    CHECK(report.count(Severity::Warning) == 0);
    CHECK(report.count(Severity::Error) == 0);
  }
  // A table with no batch dim cut at the bound batch size is still read as cut to B.
  Report table = test::check_text(R"({"version": 1, "dims": {"B": 20}, "tensors": {"pe": [100, 1, 16]},
    "calls": [{"id": "g", "op": "getitem", "input": "pe", "index": "[:20]", "outputs": ["cut"]}]})");
  REQUIRE(table.calls.at(0).outputs.size() == 1);
  CHECK(table.calls[0].outputs[0].dim_names.at(0) == "B");
  // A slice of another dim keeps positions or features: 10 of 2048 cached positions are not B.
  Report positions = test::check_text(R"({"version": 1, "dims": {"B": 10}, "tensors": {"cos_cached": [1, 1, 2048, 128]},
    "calls": [{"id": "g", "op": "getitem", "input": "cos_cached", "index": "[:, :, :10]", "outputs": ["cos"]}]})");
  REQUIRE(positions.calls.at(0).outputs.size() == 1);
  CHECK(positions.calls[0].outputs[0].dim_names.at(2).empty());
}

TEST_CASE("a slice whose length depends on a symbol's value is offered on the dims it fits, a sequence before unnamed dims and features", "[glue][index]") {
  // x[:10] of (B, 12, 30, 8): the slice fits dims 1 and 2 (12, 30) whatever B is, not the 8 features.
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 12, 30, 8]},
    "calls": [{"id": "g", "op": "getitem", "input": "x", "index": "[:10]", "outputs": ["kept"]}]})");
  const Diagnostic* dependent = test::find(report, "MHA303");
  REQUIRE(dependent != nullptr);
  REQUIRE(dependent->fixes.size() == 2);
  CHECK(dependent->fixes[0].description == "slice dim 1 (size 12) instead of dim 0: x[:, :10]");
  CHECK(dependent->fixes[0].valid());
  CHECK(dependent->fixes[1].description == "slice dim 2 (size 30) instead of dim 0: x[:, :, :10]");
  // A dim named as a sequence comes first; one named as a batch or heads is never offered.
  Report named = test::check_text(R"({"version": 1, "dims": {"T": 40}, "tensors": {"x": ["B", 6, "T", 64]},
    "calls": [{"id": "g", "op": "getitem", "input": "x", "index": "[:5]", "outputs": ["kept"]}]})");
  const Diagnostic* sequence = test::find(named, "MHA303");
  REQUIRE(sequence != nullptr);
  REQUIRE_FALSE(sequence->fixes.empty());
  CHECK(sequence->fixes[0].description == "slice dim 2 (size 40) instead of dim 0: x[:, :, :5]");
  CHECK(sequence->fixes[0].semantics == FixSemantics::Consistent);
}

TEST_CASE("a slice from the start past the end of its dim, with a longer dim before the features, warns and moves there", "[glue][index]") {
  // A (B, 8, 100, 32) cache cut [:, :50]: 8 heads cut at 50 keep all 8 (PyTorch clamps the stop); the 100 positions were meant.
  Report cropped = test::check_text(op_call("getitem", R"("input": ["B", 8, 100, 32], "index": "[:, :50]")"));
  REQUIRE(cropped.diagnostics.size() == 1);
  const Diagnostic& past = cropped.diagnostics[0];
  CHECK(std::string(past.info().code) == "MHA337");
  CHECK(past.message == "input[:, :50] cuts dim 1 (size 8) at 50, past its end, so it keeps the whole dim; dim 2 (size 100) is longer than 50");
  REQUIRE_FALSE(past.fixes.empty());
  CHECK(past.fixes[0].description == "slice dim 2 (size 100) instead of dim 1: input[:, :, :50]");
  CHECK(past.fixes[0].valid());
  // Within the dim, a cut of the features, a truncation of a named sequence already shorter, and no longer dim but the
  // features (ids cut to a maximum length of 512) say nothing.
  for (const char* quiet : {R"("input": ["B", 8, 100, 32], "index": "[:, :8]")", R"("input": ["B", 8, 100, 32], "index": "[..., :50]")",
                            R"("input": ["B", 100, 768], "index": "[:, :512]")", R"("input": ["B", 8, 100, 32], "index": "[:, :50, :10]")"}) {
    INFO(quiet);
    CHECK(test::check_text(op_call("getitem", quiet)).diagnostics.empty());
  }
  Report sequence = test::check_text(R"({"dims": {"T": 100}, "tensors": {"x": ["B", "T", 600, 64]},
      "calls": [{"id": "c", "op": "getitem", "input": "x", "index": "[:, :512]"}]})");
  CHECK(sequence.diagnostics.empty());
}

TEST_CASE("a slice past the end of its dim warns only on heads, for a longer dim after them, and never offers the features", "[glue][index]") {
  // Heads named, 120 wide features: the fix moves the cut to the positions after the heads, not to the features.
  Report named = test::check_text(R"({"version": 1, "tensors": {"k": ["B", "H", 90, 120]}, "dims": {"H": 12},
      "calls": [{"id": "c", "op": "getitem", "input": "k", "index": "[:, :60]"}]})");
  const Diagnostic* past = test::find(named, "MHA337");
  REQUIRE(past != nullptr);
  REQUIRE(past->fixes.size() == 1);
  CHECK(past->fixes[0].description == "slice dim 2 (size 90) instead of dim 1: k[:, :, :60]");
  // A traced (6, 4, 30, 32) cache, its batch a number: dim 1 of a 4-D layout with a head size last is heads.
  Report traced = test::check_text(op_call("getitem", R"("input": [6, 4, 30, 32], "index": "[:, :20]")"));
  const Fix* moved = test::first_fix(traced, "MHA337");
  REQUIRE(moved != nullptr);
  CHECK(moved->description == "slice dim 2 (size 30) instead of dim 1: input[:, :, :20]");
  // A cap of unnamed tokens under a bigger traced batch, a batch cap of seq-first tokens, a cap of boxes, and a cap of
  // the channels of a spectrogram whose last dim is time, not a head size: the cut dim may be what was meant.
  for (const char* quiet : {R"("input": [700, 120, 256], "index": "[:, :200]")", R"("input": [90, 16, 256], "index": "[:, :48]")",
                            R"("input": [120, 30, 4], "index": "[:, :64]")", R"("input": ["B", 3, 64, 640], "index": "[:, :8]")"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(op_call("getitem", quiet)), "MHA337") == nullptr);
  }
}

TEST_CASE("a learned token appended last read at position 0 reads the first data token", "[glue][index]") {
  // Through an encoder stack and a LayerNorm, the token a (B, 1, E) input, read by select.
  Report selected = test::check_text(R"js({"dims": {"B": 4}, "modules": {"enc": "nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, batch_first=True), 2)",
      "norm": "nn.LayerNorm(64)", "head": "nn.Linear(64, 3)"},
    "tensors": {"feats": ["B", 30, 64], "tok": ["B", 1, 64]},
    "calls": [{"id": "c", "op": "cat", "tensors": ["feats", "tok"], "dim": -2, "outputs": ["z"]},
              {"id": "e", "module": "enc", "src": "z", "outputs": ["h"]},
              {"id": "n", "module": "norm", "input": "h", "outputs": ["hn"]},
              {"id": "s", "op": "select", "input": "hn", "dim": 1, "index": 0, "outputs": ["r"]},
              {"id": "o", "module": "head", "input": "r"}]})js");
  const Fix* fix = test::first_fix(selected, "MHA438");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "hn.select(1, -1): the appended token, at the last position of dim 1");
  CHECK(fix->valid());
  // A (1, 1, E) parameter expanded over a symbolic batch, two layers, read by getitem.
  const std::string expanded = R"js({"modules": {"layer": "nn.TransformerEncoderLayer(96, 6, batch_first=True)", "head": "nn.Linear(96, 10)"},
    "tensors": {"x": ["N", "T", 96], "c": [1, 1, 96]},
    "calls": [{"id": "x1", "op": "expand", "input": "c", "size": ["N", -1, -1], "outputs": ["ce"]},
              {"id": "j", "op": "cat", "tensors": [PIECES], "dim": 1, "outputs": ["z"]},
              {"id": "l1", "module": "layer", "src": "z", "outputs": ["h1"]},
              {"id": "l2", "module": "layer", "src": "h1", "outputs": ["h2"]},
              {"id": "g", "op": "getitem", "input": "h2", "index": "INDEX", "outputs": ["pooled"]},
              {"id": "o", "module": "head", "input": "pooled"}]})js";
  auto spec = [&](const std::string& pieces, const std::string& index) {
    std::string text = expanded;
    text.replace(text.find("PIECES"), 6, pieces);
    text.replace(text.find("INDEX"), 5, index);
    return text;
  };
  Report appended = test::check_text(spec(R"("x", "ce")", "[:, 0, :]"));
  REQUIRE(test::first_fix(appended, "MHA438") != nullptr);
  CHECK(test::first_fix(appended, "MHA438")->description == "h2[:, -1]: the appended token, at the last position of dim 1");
  // Read where the cat put it: silent.
  CHECK(test::check_text(spec(R"("x", "ce")", "[:, -1, :]")).diagnostics.empty());
  CHECK(test::check_text(spec(R"("ce", "x")", "[:, 0]")).diagnostics.empty());
  // A prefix token with the last position read (a causal model's pooling) is not judged.
  CHECK(test::check_text(spec(R"("ce", "x")", "[:, -1]")).diagnostics.empty());
}

TEST_CASE("a class token prepended by an inner cat keeps position 0 when another token is appended", "[glue][index]") {
  Report report = test::check_text(R"js({"modules": {"layer": "nn.TransformerEncoderLayer(96, 6, batch_first=True)", "head": "nn.Linear(96, 10)"},
    "tensors": {"x": ["B", 49, 96], "cls": ["B", 1, 96], "reg": ["B", 1, 96]},
    "calls": [{"id": "j1", "op": "cat", "tensors": ["cls", "x"], "dim": 1, "outputs": ["z1"]},
              {"id": "j2", "op": "cat", "tensors": ["z1", "reg"], "dim": 1, "outputs": ["z"]},
              {"id": "l1", "module": "layer", "src": "z", "outputs": ["h"]},
              {"id": "g", "op": "getitem", "input": "h", "index": "[:, 0]", "outputs": ["pooled"]},
              {"id": "o", "module": "head", "input": "pooled"}]})js");
  CHECK(report.diagnostics.empty());
}
