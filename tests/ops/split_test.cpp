// split, split_with_sizes and chunk beyond the PyTorch fixtures: several outputs named for later
// calls, symbolic sizes, the unpacking check and its fixes, the limit on outputs.
#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

namespace {

std::string output_shapes(const CallReport& call) {
  std::string text;
  for (const NamedOutput& output : call.outputs) text += (text.empty() ? "" : " ") + output.name + tuple_str(output.shape);
  return text;
}


}  // namespace

TEST_CASE("q, k, v = x.split(E, dim=2): each output feeds a later call by its name", "[glue][split]") {
  Report report = test::check_text(R"({"tensors": {"x": ["B", "T", 192]}, "modules": {},
    "calls": [{"id": "qkv", "op": "split", "input": "x", "split_size": 64, "dim": 2, "outputs": ["q", "k", "v"]},
              {"id": "heads", "op": "view", "input": "k", "shape": ["B", "T", 4, 16], "outputs": ["kh"]},
              {"id": "scores", "op": "matmul", "input": "q", "other": {"shape": [64, 5]}, "outputs": ["s"]},
              {"id": "last", "op": "add", "input": "v", "other": "v"}]})");
  CHECK(report.ok());
  CHECK(output_shapes(report.calls.at(0)) == "q(B, T, 64) k(B, T, 64) v(B, T, 64)");
  CHECK(tuple_str(report.calls.at(1).outputs.at(0).shape) == "(B, T, 4, 16)");
  CHECK(tuple_str(report.calls.at(2).outputs.at(0).shape) == "(B, T, 5)");
}

TEST_CASE("unnamed outputs are known by the call's id and their position", "[glue][split]") {
  Report report = test::check_text(R"({"tensors": {"x": [2, 7]}, "modules": {},
    "calls": [{"id": "parts", "op": "split", "input": "x", "split_size": 3, "dim": 1, "outputs": ["first"]}]})");
  CHECK(report.ok());
  CHECK(output_shapes(report.calls.at(0)) == "first(2, 3) parts.1(2, 3) parts.2(2, 1)");
  Report flat = test::check_text(op_call("chunk", R"("input": [2, 6], "chunks": 2, "dim": -1)"));
  CHECK(output_shapes(flat.calls.at(0)) == "call.0(2, 3) call.1(2, 3)");
}

TEST_CASE("chunk of a symbolic size: equal pieces when the chunks divide it, else the symbol must be bound", "[glue][split]") {
  Report even = test::check_text(op_call("chunk", R"("input": ["B", "T", "3*E"], "chunks": 3, "dim": -1)"));
  CHECK(even.ok());
  CHECK(output_shapes(even.calls.at(0)) == "call.0(B, T, E) call.1(B, T, E) call.2(B, T, E)");
  CHECK(test::find(test::check_text(op_call("chunk", R"("input": ["B", "T", "E"], "chunks": 3, "dim": -1)")), "MHA303") != nullptr);
  CHECK(test::find(test::check_text(op_call("split", R"("input": ["B", "T", 64], "split_size": 16, "dim": 1)")), "MHA303") != nullptr);
  Report bound = test::check_text(R"({"dims": {"T": 10}, "tensors": {"x": ["B", "T", 64]}, "modules": {},
    "calls": [{"id": "windows", "op": "split", "input": "x", "split_size": 4, "dim": 1}]})");
  CHECK(bound.ok());
  CHECK(output_shapes(bound.calls.at(0)) == "windows.0(B, 4, 64) windows.1(B, 4, 64) windows.2(B, 2, 64)");
}

TEST_CASE("split_with_sizes of a symbolic size holds only for one value of the symbol", "[glue][split]") {
  Report report = test::check_text(op_call("split_with_sizes", R"("input": ["B", "D"], "split_sizes": [8, 4], "dim": 1)"));
  CHECK(report.ok());
  CHECK(test::find(report, "MHA080") != nullptr);  // valid only if D == 12
  CHECK(output_shapes(report.calls.at(0)) == "call.0(B, 8) call.1(B, 4)");
}

TEST_CASE("the split dim keeps no name when cut, the other dims keep theirs", "[glue][split]") {
  Report report = test::check_text(R"({"tensors": {"x": ["B", "T", "3*E"]}, "modules": {},
    "calls": [{"id": "qkv", "op": "chunk", "input": "x", "chunks": 3, "dim": -1, "outputs": ["q", "k", "v"]}]})");
  REQUIRE(report.ok());
  const NamedOutput& q = report.calls.at(0).outputs.at(0);
  REQUIRE(q.dim_names.size() == 3);
  CHECK(q.dim_names[0] == "B");
  CHECK(q.dim_names[1] == "T");
  CHECK(q.dim_names[2].empty());
}

TEST_CASE("more names than tensors: Python's unpacking error, and the split_size that fits", "[glue][split]") {
  Report report = test::check_text(R"({"tensors": {"x": [2, 5, 96]}, "modules": {},
    "calls": [{"id": "qkv", "op": "split", "input": "x", "split_size": 48, "dim": 2, "outputs": ["q", "k", "v"]}]})");
  const Diagnostic* unpack = test::find(report, "MHA347");
  REQUIRE(unpack != nullptr);
  CHECK(test::raised_message(report) == "ValueError: not enough values to unpack (expected 3, got 2)");
  CHECK(test::has_valid_fix(*unpack, "split into pieces of 32"));
  // Fewer names than tensors name the first ones: no error.
  CHECK(test::check_text(R"({"tensors": {"x": [2, 5, 96]}, "modules": {},
    "calls": [{"id": "qkv", "op": "split", "input": "x", "split_size": 32, "dim": 2, "outputs": ["q", "k"]}]})")
            .ok());
}

TEST_CASE("split_with_sizes that miss the dim: the last size or the dim that fits", "[glue][split]") {
  Report report = test::check_text(op_call("split_with_sizes", R"("input": [2, 12, 10], "split_sizes": [4, 4, 2], "dim": 1)"));
  const Diagnostic* sum = test::find(report, "MHA345");
  REQUIRE(sum != nullptr);
  CHECK(test::has_valid_fix(*sum, "make the last size 4"));
  CHECK(test::has_valid_fix(*sum, "split dim 2 (size 10)"));
}

TEST_CASE("chunk returning fewer chunks than asked warns, a call returning more than 1024 tensors is not followed", "[glue][split]") {
  Report fewer = test::check_text(op_call("chunk", R"("input": [2, 6], "chunks": 4, "dim": 1)"));
  CHECK(fewer.ok());
  CHECK(test::find(fewer, "MHA348") != nullptr);
  CHECK(fewer.calls.at(0).outputs.size() == 3);
  CHECK(test::find(test::check_text(op_call("chunk", R"("input": [2, 6], "chunks": 3, "dim": 1)")), "MHA348") == nullptr);
  for (const char* call : {R"("op": "split", "input": [2, 4096], "split_size": 1, "dim": 1)",
                           R"("op": "chunk", "input": [2, 0], "chunks": 1000000000, "dim": 1)",
                           R"("op": "chunk", "input": ["B", "1048576*S"], "chunks": 1048576, "dim": 1)"}) {
    INFO(call);
    Report report = test::check_text(std::string("{") + call + "}");
    CHECK(test::find(report, "MHA349") != nullptr);
    CHECK(!report.ok());
  }
}

TEST_CASE("a spec naming more outputs than any split may hold is refused", "[glue][split]") {
  std::string names;
  for (int i = 0; i < 1025; ++i) names += (names.empty() ? "\"o" : ", \"o") + std::to_string(i) + "\"";
  Report report = test::check_text(op_call("split", R"("input": [2, 4], "split_size": 1, "outputs": [)" + names + "]"));
  CHECK(report.input_error);
}

TEST_CASE("a fused projection cut along the sequence or the batch, not its features, warns MHA285", "[glue][roles]") {
  // chunk(3, dim=1) of a Linear(64, 192) output (B, T, 192): thirds of the positions, each with q's,
  // k's and v's features; the view back to (B, T, H, D) keeps the count, so PyTorch raises nothing.
  Report sequence = test::check_text(R"json({"version": 1, "dims": {"B": 2, "T": 12, "H": 4, "D": 16}, "modules": {"qkv": "nn.Linear(64, 192)"},
      "tensors": {"x": ["B", "T", 64]},
      "calls": [{"id": "p", "module": "qkv", "input": "x", "outputs": ["y"]},
                {"id": "c", "op": "chunk", "input": "y", "chunks": 3, "dim": 1, "outputs": ["q", "k", "v"]},
                {"id": "vq", "op": "view", "input": "q", "shape": ["B", "T", "H", "D"]}]})json");
  const Diagnostic* cut = test::find(sequence, "MHA285");
  REQUIRE(cut != nullptr);
  CHECK(cut->message.find("dim 1 (\"T\", a sequence length) of y (2, 12, 192) into 3 pieces") != std::string::npos);
  REQUIRE_FALSE(cut->fixes.empty());
  CHECK(cut->fixes[0].description == "cut the features: y.chunk(3, dim=-1)");
  CHECK(cut->fixes[0].valid());
  CHECK(cut->fixes[0].semantics == FixSemantics::Consistent);
  // A fused k, v projection Linear(64, 128) split in two along the batch: the Linear is the evidence.
  Report batch = test::check_text(R"json({"version": 1, "dims": {"B": 2, "T": 12}, "modules": {"kv": "nn.Linear(64, 128)"},
      "tensors": {"x": ["B", "T", 64]},
      "calls": [{"id": "p", "module": "kv", "input": "x", "outputs": ["y"]},
                {"id": "d", "op": "dropout", "input": "y", "p": 0.1, "outputs": ["yd"]},
                {"id": "c", "op": "split", "input": "yd", "split_size": 1, "dim": 0, "outputs": ["a", "b"]}]})json");
  const Diagnostic* halves = test::find(batch, "MHA285");
  REQUIRE(halves != nullptr);
  CHECK(halves->message.find("the Linear of call \"p\" (64 -> 128 = 2 x 64)") != std::string::npos);
  REQUIRE_FALSE(halves->fixes.empty());
  CHECK(halves->fixes[0].description == "cut the features: yd.split(64, dim=-1)");
  CHECK(halves->fixes[0].valid());
  // A fused Linear's output cut on another dim, unnamed (sizes pasted as numbers): the Linear tells.
  Report pasted = test::check_text(R"json({"version": 1, "modules": {"qkv": "nn.Linear(64, 192)"}, "tensors": {"x": [2, 12, 64]},
      "calls": [{"id": "p", "module": "qkv", "input": "x", "outputs": ["y"]},
                {"id": "c", "op": "chunk", "input": "y", "chunks": 3, "dim": 1}]})json");
  REQUIRE(test::find(pasted, "MHA285") != nullptr);
  CHECK(test::find(pasted, "MHA285")->message.find("dim 1 (size 12)") != std::string::npos);
  // Outputs named like projections, without a fused Linear: two pieces of the sequence named k and v.
  auto pieces = [](const std::string& names) {
    return test::check_text(R"({"version": 1, "dims": {"T": 12}, "tensors": {"y": ["B", "T", 128]},
      "calls": [{"id": "c", "op": "chunk", "input": "y", "chunks": 2, "dim": 1, "outputs": )" + names + "}]}");
  };
  CHECK(test::find(pieces(R"(["k", "v"])"), "MHA285") != nullptr);
  // Not reported: the features cut, a sequence cut in two pieces for chunked processing, unnamed dims,
  // a head count cut.
  CHECK(test::find(test::check_text(op_call("chunk", R"("input": ["B", "T", 192], "chunks": 3, "dim": -1)")), "MHA285") == nullptr);
  CHECK(test::find(pieces(R"(["left", "right"])"), "MHA285") == nullptr);
  CHECK(test::find(test::check_text(op_call("chunk", R"("input": [2, 12, 192], "chunks": 3, "dim": 1)")), "MHA285") == nullptr);
  Report heads = test::check_text(R"({"version": 1, "dims": {"H": 12}, "tensors": {"y": ["B", "H", 10, 192]},
    "calls": [{"id": "c", "op": "chunk", "input": "y", "chunks": 3, "dim": 1}]})");
  CHECK(test::find(heads, "MHA285") == nullptr);
}

namespace {

// Queries, keys and values (B, T, 128) cut into two heads on the features, each head attended on
// its own, the heads' outputs joined by cat on `joined`.
Report heads_cut_and_joined(const std::string& joined) {
  return test::check_text(R"j({"version": 1, "tensors": {"q": ["B", "T", 128], "k": ["B", "T", 128], "v": ["B", "T", 128]},
    "calls": [{"id": "cq", "op": "chunk", "input": "q", "chunks": 2, "dim": 2, "outputs": ["q0", "q1"]},
              {"id": "ck", "op": "chunk", "input": "k", "chunks": 2, "dim": 2, "outputs": ["k0", "k1"]},
              {"id": "cv", "op": "chunk", "input": "v", "chunks": 2, "dim": 2, "outputs": ["v0", "v1"]},
              {"id": "a0", "op": "F.scaled_dot_product_attention", "query": "q0", "key": "k0", "value": "v0", "outputs": ["o0"]},
              {"id": "a1", "op": "F.scaled_dot_product_attention", "query": "q1", "key": "k1", "value": "v1", "outputs": ["o1"]},
              {"id": "j", "op": "cat", "tensors": ["o0", "o1"], "dim": )j" + joined + R"j(, "outputs": ["o"]}]})j");
}

}  // namespace

TEST_CASE("heads cut by chunk on the features, attended, and joined on the positions are reported, joined on the features",
          "[glue][split][cat]") {
  Report report = heads_cut_and_joined("1");
  const Diagnostic* joined = test::find(report, "MHA297");
  REQUIRE(joined != nullptr);
  CHECK(joined->severity() == Severity::Warning);
  CHECK(joined->message.find("chunk call \"cv\", which cut their dim 2") != std::string::npos);
  REQUIRE(!joined->fixes.empty());
  CHECK(joined->fixes.front().description == "join the pieces on the dim they were cut on: torch.cat([...], dim=2)");
  CHECK(joined->fixes.front().verified);
  CHECK(joined->fixes.front().valid());
  // Joined on the dim they were cut on (written -1 or 2), nothing is reported.
  CHECK(test::find(heads_cut_and_joined("-1"), "MHA297") == nullptr);
  CHECK(test::find(heads_cut_and_joined("2"), "MHA297") == nullptr);
}

TEST_CASE("heads cut on the features and joined on the batch straight away are a relayout, not reported", "[glue][split][cat]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", "T", 128]},
    "calls": [{"id": "cq", "op": "chunk", "input": "q", "chunks": 4, "dim": 2, "outputs": ["q0", "q1", "q2", "q3"]},
              {"id": "j", "op": "cat", "tensors": ["q0", "q1", "q2", "q3"], "dim": 0, "outputs": ["heads"]}]})j");
  CHECK(test::find(report, "MHA297") == nullptr);
  CHECK(report.count(Severity::Warning) == 0);
}
