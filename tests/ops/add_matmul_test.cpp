// add and matmul beyond the PyTorch fixtures: symbols, dtype promotion, a chain of calls (the
// attention scores by hand), and 2.x's matmul messages that 1.13 cannot produce.
#include <fmt/format.h>

#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("add broadcasts symbolic shapes and promotes dtypes", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("add", R"("input": ["B", "L", 8], "other": ["L", 1])"))) == "(B, L, 8)");
  Report promoted = test::check_text(op_call("add", R"("input": {"shape": [3], "dtype": "float16"}, "other": {"shape": [3], "dtype": "bfloat16"})"));
  CHECK(dtype_name(promoted.calls.at(0).outputs.at(0).dtype) == "float32");
  Report scalar = test::check_text(op_call("add", R"("input": {"shape": [3], "dtype": "float32"}, "other": {"shape": [], "dtype": "float64"})"));
  CHECK(dtype_name(scalar.calls.at(0).outputs.at(0).dtype) == "float32");
  Report conditional = test::check_text(op_call("add", R"("input": ["L", 8], "other": ["S", 8])"));
  CHECK(conditional.ok());
  CHECK(test::find(conditional, "MHA080") != nullptr);
}

TEST_CASE("matmul's 1-D, 2-D and batched shapes with symbols", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("matmul", R"("input": ["B", "H", "L", 64], "other": ["B", "H", 64, "S"])"))) ==
        "(B, H, L, S)");
  CHECK(test::single_output(test::check_text(op_call("matmul", R"("input": ["L", 64], "other": [64])"))) == "(L,)");
  CHECK(test::single_output(test::check_text(op_call("matmul", R"("input": [64], "other": [64])"))) == "()");
}

TEST_CASE("matmul quotes 2.x's mv message and refuses mixed dtypes without quoting", "[glue]") {
  Report mv = test::check_text(op_call("matmul", R"("input": [2, 3], "other": [4])"));
  CHECK(test::raised_message(mv) == "RuntimeError: size mismatch, got input (2), mat (2x3), vec (4)");
  Report folded = test::check_text(op_call("matmul", R"("input": [2, 3, 4], "other": [5])"));
  CHECK(test::raised_message(folded) == "RuntimeError: size mismatch, got input (6), mat (6x4), vec (5)");
  Report dtypes = test::check_text(op_call("matmul", R"("input": [2, 3], "other": {"shape": [3, 2], "dtype": "float64"})"));
  REQUIRE(test::find(dtypes, "MHA309") != nullptr);
  CHECK_FALSE(test::find(dtypes, "MHA309")->pytorch_error.has_value());
}

// Every verdict and message is in tests/pytorch/glue_cases.json and argument_values_cases.json
// (pytorch_agreement_test.cpp); these check what the fixtures do not: the messages and the fixes.
TEST_CASE("matmul of bool masks is MHA309, fixed by casting both operands", "[glue]") {
  Report report = test::check_text(op_call("matmul", R"("input": {"shape": [2, 3], "dtype": "bool"}, "other": {"shape": [3, 2], "dtype": "bool"})"));
  const Diagnostic* refused = test::find(report, "MHA309");
  REQUIRE(refused != nullptr);
  CHECK(refused->message == "input and other are bool; no matmul kernel multiplies bool tensors");
  CHECK(test::raised_message(report) == "RuntimeError: \"addmm_impl_cpu_\" not implemented for 'Bool'");
  REQUIRE_FALSE(refused->fixes.empty());
  CHECK(refused->fixes.front().description == "pass input, other as float32 (input.to(torch.float32), other.to(torch.float32))");
  CHECK(refused->fixes.front().valid());
  // A matrix times a batch: 2.x folds it into a transposed product; refused, PyTorch's words unquoted.
  Report folded = test::check_text(op_call("matmul", R"("input": {"shape": [3], "dtype": "bool"}, "other": {"shape": [2, 3, 4], "dtype": "bool"})"));
  REQUIRE(test::find(folded, "MHA309") != nullptr);
  CHECK_FALSE(test::find(folded, "MHA309")->pytorch_error.has_value());
}

// fairseq #3575, NVIDIA/apex #1052: scores.masked_fill(mask, -1e9) under fp16.
TEST_CASE("masked_fill of -1e9 on float16 scores is MHA323, fixed with the dtype's finite minimum", "[glue]") {
  Report half = test::check_text(
      op_call("masked_fill", R"("input": {"shape": [2, 8, 4, 4], "dtype": "float16"}, "mask": [2, 1, 1, 4], "value": -1e9)"));
  const Diagnostic* overflow = test::find(half, "MHA323");
  REQUIRE(overflow != nullptr);
  CHECK(overflow->message == "value -1000000000.0 does not fit input's dtype float16 (finite values up to 65504)");
  REQUIRE_FALSE(overflow->fixes.empty());
  CHECK(overflow->fixes.front().description == "fill with torch.finfo(torch.float16).min (-65504), the finite extreme of the dtype");
  CHECK(overflow->fixes.front().valid());
  // An integer dtype takes no infinity, and no finite fix is offered for a string value.
  Report integer = test::check_text(op_call("masked_fill", R"("input": {"shape": [2, 4], "dtype": "int64"}, "mask": [2, 4], "value": "-inf")"));
  REQUIRE(test::find(integer, "MHA323") != nullptr);
  CHECK(test::find(integer, "MHA323")->fixes.empty());
}

TEST_CASE("attention by hand: glue calls chain through named outputs", "[glue]") {
  Report report = test::check_text(R"({
    "dims": {"B": 2, "L": 5},
    "tensors": {"x": ["B", "L", 64]},
    "modules": {},
    "calls": [
      {"id": "heads", "op": "view", "input": "x", "shape": ["B", "L", 8, -1], "outputs": ["h"]},
      {"id": "t", "op": "transpose", "input": "h", "dim0": 1, "dim1": 2, "outputs": ["q"]},
      {"id": "kt", "op": "transpose", "input": "q", "dim0": -2, "dim1": -1, "outputs": ["k_t"]},
      {"id": "scores", "op": "matmul", "input": "q", "other": "k_t", "outputs": ["s"]},
      {"id": "weights", "op": "softmax", "input": "s", "dim": -1, "outputs": ["p"]},
      {"id": "context", "op": "matmul", "input": "p", "other": "q", "outputs": ["c"]},
      {"id": "merge", "op": "reshape", "input": "c", "shape": ["B", "L", 65], "outputs": ["y"]}
    ]})");
  REQUIRE(report.calls.size() == 7);
  CHECK(tuple_str(report.calls[5].outputs.at(0).shape) == "(2, 8, 5, 8)");
  const Diagnostic* merge = test::find(report, "MHA302");
  REQUIRE(merge != nullptr);
  CHECK(merge->call == "merge");
  CHECK(merge->pytorch_error->message == "shape '[2, 5, 65]' is invalid for input of size 640");
}

TEST_CASE("broadcasting S-1 against S is a condition (S == 2), not an error, S+1 against S is", "[glue]") {
  Report added = test::check_text(op_call("add", R"("input": ["B", "S-1", 8], "other": ["B", "S", 8])"));
  CHECK(added.ok());
  const Diagnostic* condition = test::find(added, "MHA080");
  REQUIRE(condition != nullptr);
  CHECK(condition->message == "valid only if S-1 == 1 (input + other: the sizes differ; only a size of 1 broadcasts)");
  CHECK(test::single_output(added) == "(B, S, 8)");  // the size that need not be 1
  Report filled = test::check_text(op_call("masked_fill", R"("input": ["B", "S", "S"], "mask": {"shape": ["S-1", "S"], "dtype": "bool"}, "value": 0)"));
  CHECK(filled.ok());
  CHECK(test::find(filled, "MHA080") != nullptr);
  Report batched = test::check_text(op_call("matmul", R"("input": ["S-1", "L", 8], "other": ["S", 8, "L"])"));
  CHECK(batched.ok());
  CHECK(test::single_output(batched) == "(S, L, L)");
  // S+1 is never 1 for a size S >= 1, and S is taken as not 1: PyTorch raises.
  CHECK_FALSE(test::check_text(op_call("add", R"("input": ["S+1", 8], "other": ["S", 8])")).ok());
}

namespace {

// The first fix of `diagnostic`, verified, valid and labelled consistent with the roles.
const Fix& consistent_first_fix(const Diagnostic& diagnostic) {
  REQUIRE_FALSE(diagnostic.fixes.empty());
  const Fix& fix = diagnostic.fixes.front();
  CHECK(fix.verified);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  return fix;
}

}  // namespace

TEST_CASE("q @ k contracts the head size with the key sequence: a role warning, fixed by k.transpose(-2, -1)", "[glue][roles]") {
  const std::string calls = R"("calls": [{"id": "s", "op": "matmul", "input": "q", "other": "KEY", "outputs": ["sc"]},
                                          {"id": "p", "op": "softmax", "input": "sc", "dim": -1, "outputs": ["w"]},
                                          {"id": "o", "op": "matmul", "input": "w", "other": "v"}]})";
  auto spec = [&](const std::string& key) {
    std::string text = R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 64, "D": 64},
      "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "T", "D"], "kt": ["B", "H", "D", "T"], "v": ["B", "H", "T", "D"]}, )" + calls;
    return text.replace(text.find("KEY"), 3, key);
  };
  Report wrong = test::check_text(spec("k"));
  const Diagnostic* contraction = test::find(wrong, "MHA241");
  REQUIRE(contraction != nullptr);
  CHECK(contraction->severity() == Severity::Warning);
  CHECK(contraction->call == "s");
  CHECK(contraction->message.find("valid only because D == T") != std::string::npos);
  CHECK(consistent_first_fix(*contraction).description == "contract over k's last dim (D): q @ k.transpose(-2, -1)");
  // Transposed, and P @ V (the key sequence with V's sequence): silent.
  Report right = test::check_text(spec("kt"));
  CHECK(right.diagnostics.empty());
  // Unnamed dims say nothing about roles.
  CHECK(test::check_text(op_call("matmul", R"("input": [2, 4, 64, 64], "other": [2, 4, 64, 64])")).diagnostics.empty());
}

TEST_CASE("bmm with the sequence in its batch dim and B*H in its matrices: fairseq's view without transpose(0, 1)", "[glue][roles]") {
  auto spec = [](const std::string& transposes) {
    return R"({"version": 1, "dims": {"T": 20, "B": 4, "H": 8, "D": 64}, "tensors": {"q": ["T", "B", 512], "k": ["T", "B", 512]},
      "calls": [{"id": "vq", "op": "view", "input": "q", "shape": ["T", "B*H", "D"], "outputs": ["qv"]},
                {"id": "vk", "op": "view", "input": "k", "shape": ["T", "B*H", "D"], "outputs": ["kv"]},)" +
           transposes + R"(
                {"id": "tk", "op": "transpose", "input": "kb", "dim0": 1, "dim1": 2, "outputs": ["kt"]},
                {"id": "s", "op": "bmm", "input": "qb", "mat2": "kt", "outputs": ["sc"]},
                {"id": "p", "op": "softmax", "input": "sc", "dim": -1}]})";
  };
  Report wrong = test::check_text(spec(R"({"id": "q0", "op": "contiguous", "input": "qv", "outputs": ["qb"]},
                                          {"id": "k0", "op": "contiguous", "input": "kv", "outputs": ["kb"]},)"));
  const Diagnostic* batch = test::find(wrong, "MHA081");
  REQUIRE(batch != nullptr);
  CHECK(batch->call == "s");
  CHECK(batch->message.find("the sequence T while B*H is in the matrices") != std::string::npos);
  const Fix& fix = consistent_first_fix(*batch);
  CHECK(fix.description.find("qb.transpose(0, 1) @ kt.transpose(0, 2)") != std::string::npos);
  REQUIRE(fix.outputs.size() == 1);
  CHECK(tuple_str(fix.outputs[0].shape) == "(32, 20, 20)");
  Report right = test::check_text(spec(R"({"id": "q0", "op": "transpose", "input": "qv", "dim0": 0, "dim1": 1, "outputs": ["qb"]},
                                          {"id": "k0", "op": "transpose", "input": "kv", "dim0": 0, "dim1": 1, "outputs": ["kb"]},)"));
  CHECK(right.diagnostics.empty());
}

TEST_CASE("a position table sliced to the batch size and added over the sequence: pe[:x.size(0)] on a batch-first x", "[glue][roles]") {
  auto spec = [](const std::string& dims, const std::string& index) {
    return R"({"version": 1, "dims": {)" + dims + R"(}, "tensors": {"x": ["B", "T", 128], "pe": [5000, 1, 128]},
      "calls": [{"id": "p", "op": "getitem", "input": "pe", "index": ")" + index + R"(", "outputs": ["pe_x"]},
                {"id": "a", "op": "add", "input": "x", "other": "pe_x", "outputs": ["h"]}]})";
  };
  Report wrong = test::check_text(spec(R"("B": 32, "T": 50)", "[:32]"));
  const Diagnostic* slice = test::find(wrong, "MHA081");
  REQUIRE(slice != nullptr);
  CHECK(slice->call == "a");
  CHECK(slice->message.find("pe_x is pe[:32]: the position table cut to the batch size B") != std::string::npos);
  const Fix& fix = consistent_first_fix(*slice);
  CHECK(fix.description == "slice pe by the sequence length (x.size(1) = 50) and put it in the sequence slot: pe_x = pe[:50].transpose(0, 1)");
  REQUIRE(fix.outputs.size() == 1);
  CHECK(tuple_str(fix.outputs[0].shape) == "(32, 50, 128)");
  // Sliced by the sequence (PyTorch then refuses the broadcast), or by a number two symbols
  // share: no slice-role warning.
  CHECK(test::find(test::check_text(spec(R"("B": 32, "T": 50)", "[:50]")), "MHA081") == nullptr);
  CHECK(test::find(test::check_text(spec(R"("B": 32, "T": 50, "C": 32)", "[:32]")), "MHA081") == nullptr);
}

TEST_CASE("a literal size equal to a bound symbol does not take the symbol's role (rotary tables, T == D == 64)", "[glue]") {
  // HF Llama's RoPE on (B, H, T, D) with T bound to D's 64: the (B, T, 64) table unsqueezed to
  // (B, 1, T, 64), multiplied in, and rotate_half's two halves joined by cat keep the last dim a
  // head size: no role warning at SDPA.
  auto rope = [](const std::string& calls) {
    return test::check_text(R"({"dims": {"B": 2, "T": 64}, "tensors": {"q": ["B", 8, "T", 64], "cos": ["B", "T", 64]}, "calls": [)" + calls + "]}");
  };
  const std::string sdpa = R"({"id": "s", "op": "F.scaled_dot_product_attention", "query": "qe", "key": "qe", "value": "qe"})";
  Report unsqueezed = rope(R"({"id": "u", "op": "unsqueeze", "input": "cos", "dim": 1, "outputs": ["c4"]},
                              {"id": "m", "op": "mul", "input": "q", "other": "c4", "outputs": ["qe"]}, )" + sdpa);
  CHECK(test::find(unsqueezed, "MHA241") == nullptr);
  Report halves = rope(R"({"id": "a", "op": "getitem", "input": "q", "index": "[..., :32]", "outputs": ["x1"]},
                          {"id": "b", "op": "getitem", "input": "q", "index": "[..., 32:]", "outputs": ["x2"]},
                          {"id": "c", "op": "cat", "tensors": ["x2", "x1"], "dim": -1, "outputs": ["qe"]}, )" + sdpa);
  CHECK(halves.calls.at(2).outputs.at(0).dim_names == std::vector<std::string>{"B", "", "T", ""});
  CHECK(test::find(halves, "MHA241") == nullptr);
  // cat keeps the names of the dims it does not join: a sequence left in the feature slot is
  // still seen there.
  Report misplaced = test::check_text(R"({"dims": {"B": 2, "T": 64}, "tensors": {"k": ["B", 4, 64, "T"]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["k", "k"], "dim": 1, "outputs": ["qe"]}, )" + sdpa + "]}");
  CHECK(misplaced.calls.at(0).outputs.at(0).dim_names == std::vector<std::string>{"B", "", "", "T"});
  CHECK(test::find(misplaced, "MHA241") != nullptr);
}

TEST_CASE("cat of a size-1 dim against a batch offers expanding the shared tensor", "[glue]") {
  // DINOv2's register tokens (1, 4, E) joined to (B, N, E) patches without expand(B, -1, -1).
  Report report = test::check_text(R"({"tensors": {"reg": [1, 4, 384], "x": ["B", 257, 384]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["reg", "x"], "dim": 1, "outputs": ["h"]}]})");
  const Diagnostic* condition = test::find(report, "MHA083");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes.front().description ==
        "expand reg to the batch (shared by every batch entry): reg.expand(B, -1, -1) gives (B, 4, 384)");
  CHECK(condition->fixes.front().valid());
  CHECK(condition->fixes.front().semantics == FixSemantics::Consistent);
  // The shared tensor second in the list: still the one expanded.
  Report second = test::check_text(R"({"tensors": {"reg": [1, 4, 384], "x": ["B", 257, 384]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["x", "reg"], "dim": 1, "outputs": ["h"]}]})");
  const Diagnostic* second_condition = test::find(second, "MHA083");
  REQUIRE(second_condition != nullptr);
  REQUIRE_FALSE(second_condition->fixes.empty());
  CHECK(second_condition->fixes.front().description ==
        "expand reg to the batch (shared by every batch entry): reg.expand(B, -1, -1) gives (B, 4, 384)");
}

TEST_CASE("cat of a tensor without the batch dim its partner has offers expanding it to the batch", "[glue]") {
  // Perceiver's (M, F) Fourier position features joined to (B, M, C) inputs on the features.
  for (const char* order : {R"(["inputs", "pos"])", R"(["pos", "inputs"])"}) {
    Report report = test::check_text(fmt::format(R"({{"tensors": {{"inputs": ["B", 2048, 3], "pos": [2048, 258]}}, "calls": [
        {{"id": "c", "op": "cat", "tensors": {}, "dim": -1, "outputs": ["x"]}}]}})", order));
    const Diagnostic* ranks = test::find(report, "MHA311");
    REQUIRE(ranks != nullptr);
    REQUIRE_FALSE(ranks->fixes.empty());
    CHECK(ranks->fixes.front().description ==
          "expand pos to the batch (shared by every batch entry): pos.expand(B, -1, -1) gives (B, 2048, 258)");
    CHECK(ranks->fixes.front().valid());
  }
  // Other sizes that do not meet: no expand offered.
  Report unrelated = test::check_text(R"({"tensors": {"inputs": ["B", 2048, 3], "pos": [1024, 258]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["inputs", "pos"], "dim": -1, "outputs": ["x"]}]})");
  REQUIRE(test::find(unrelated, "MHA311") != nullptr);
  for (const Fix& fix : test::find(unrelated, "MHA311")->fixes) CHECK(fix.description.find("expand") == std::string::npos);
}

TEST_CASE("cat along the batch of tensors that differ in their tokens only offers joining along the tokens", "[glue]") {
  // Image tokens (B, 576, E) and text tokens (B, T, E) joined with dim=0, the dim of code written
  // for one sample: valid only if T == 576, and then it stacks samples. dim 1 joins each sample's.
  Report joined = test::check_text(R"({"tensors": {"img": ["B", 576, 64], "text": ["B", "T", 64]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["img", "text"], "dim": 0, "outputs": ["h"]}]})");
  const Diagnostic* condition = test::find(joined, "MHA080");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes.front().description == "concatenate along dim 1");
  CHECK(condition->fixes.front().verified);
  // Without a claim about its meaning: classifier-free guidance joins (B, 77, E) and (B, T, E)
  // prompts on the batch on purpose, where T == 77 is meant.
  CHECK(condition->fixes.front().semantics == FixSemantics::Unknown);
  // Joined along unnamed dims, the same fix.
  Report unnamed = test::check_text(R"({"tensors": {"a": [4, 576, 64], "b": [4, 10, 64]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["a", "b"], "dim": 0, "outputs": ["h"]}]})");
  const Diagnostic* sizes = test::find(unnamed, "MHA311");
  REQUIRE(sizes != nullptr);
  REQUIRE_FALSE(sizes->fixes.empty());
  CHECK(sizes->fixes.front().description == "concatenate along dim 1");
  CHECK(sizes->fixes.front().semantics == FixSemantics::Unknown);
}

TEST_CASE("scores of one query row stretched by a bias with a row per position warn MHA371, and the fix keeps the bias's last row", "[glue]") {
  // A decoding step: one query against 10 cached keys, plus a position bias computed for all 10
  // positions (Hugging Face's T5 slices position_bias[:, :, -q_len:, :]).
  Report step = test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, 1, 64], "k": ["B", 8, 10, 64], "bias": [1, 8, 10, 10]}, "calls": [
      {"id": "kt", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kt"]},
      {"id": "s", "op": "matmul", "input": "q", "other": "kt", "outputs": ["scores"]},
      {"id": "b", "op": "add", "input": "scores", "other": "bias", "outputs": ["biased"]}]})");
  const Diagnostic* stretched = test::find(step, "MHA371");
  REQUIRE(stretched != nullptr);
  CHECK(stretched->message ==
        "scores (B, 8, 1, 10) has one query row (dim 2, from call \"s\"), which bias (1, 8, 10, 10) stretches to 10 rows: each output row "
        "repeats that query's scores");
  REQUIRE_FALSE(stretched->fixes.empty());
  CHECK(stretched->fixes.front().description.find("bias[:, :, -1:, :]") != std::string::npos);
  CHECK(stretched->fixes.front().valid());
  CHECK(stretched->fixes.front().semantics == FixSemantics::Consistent);
  // Not reported: the bias already cut to the query, a batch stretching a 2-D product of one
  // learned query, a query count that is a symbol.
  auto stretches = [](const std::string& q, const std::string& k, const std::string& bias) {
    Report report = test::check_text(fmt::format(R"({{"version": 1, "tensors": {{"q": {}, "kt": {}, "bias": {}}}, "calls": [
        {{"id": "s", "op": "matmul", "input": "q", "other": "kt", "outputs": ["scores"]}},
        {{"id": "b", "op": "add", "input": "scores", "other": "bias"}}]}})", q, k, bias));
    return test::find(report, "MHA371") != nullptr;
  };
  CHECK(stretches(R"(["B", 8, 1, 64])", R"(["B", 8, 64, 10])", "[1, 8, 10, 10]"));
  CHECK_FALSE(stretches(R"(["B", 8, 1, 64])", R"(["B", 8, 64, 10])", "[1, 8, 1, 10]"));
  CHECK_FALSE(stretches("[1, 64]", "[64, 10]", R"(["B", 10])"));
  CHECK_FALSE(stretches(R"(["B", 8, "T", 64])", R"(["B", 8, 64, 10])", "[1, 8, 10, 10]"));
  CHECK_FALSE(stretches(R"(["B", 8, 1, 64])", R"(["B", 8, 64, 10])", R"(["B", 1, 1, 10])"));
  // Products that are no scores over keys: an attention-pooled context (B, 1, E) added to every
  // token (B, N, E), and to learned latents (1, 64, E).
  CHECK_FALSE(stretches(R"(["B", 1, "N"])", R"(["B", "N", 384])", R"(["B", "N", 384])"));
  CHECK_FALSE(stretches(R"(["B", 1, 256])", R"([256, 512])", "[1, 64, 512]"));
}

TEST_CASE("an operand of lower rank is given the size-1 dims it lacks: an outer product over the batch, a per-head scale", "[glue]") {
  struct Case {
    const char* op;
    const char* arguments;
    const char* code;
    const char* fix;
  };
  const Case cases[] = {
      // A diffusion timestep embedding without timesteps[:, None]: (B,) * (128,) is elementwise.
      {"mul", R"("input": ["B"], "other": [128])", "MHA080", "give input the size-1 dim it lacks: input[:, None] gives (B, 1)"},
      // A broadcast that fails: a per-head scale (H,) times (B, H, N, N) scores lacks two trailing dims.
      {"mul", R"("input": ["B", 3, 49, 49], "other": [3])", "MHA305", "give other the size-1 dims it lacks: other[:, None, None] gives (3, 1, 1)"},
  };
  for (const Case& c : cases) {
    Report report = test::check_text(op_call(c.op, c.arguments));
    const Diagnostic* diagnostic = test::find(report, c.code);
    REQUIRE(diagnostic != nullptr);
    REQUIRE_FALSE(diagnostic->fixes.empty());
    CHECK(diagnostic->fixes.front().description == c.fix);
    CHECK(diagnostic->fixes.front().valid());
  }
  // A failing broadcast is not "fixed" by a result of higher rank: a (1500, 384) position table
  // against (B, 1000, 384) tokens is not made (1500, 1, 1, 384).
  Report table = test::check_text(R"({"tensors": {"x": ["B", 1000, 384], "pos": [1500, 384]}, "calls": [
      {"id": "a", "op": "add", "input": "x", "other": "pos"}]})");
  REQUIRE(test::find(table, "MHA305") != nullptr);
  for (const Fix& fix : test::find(table, "MHA305")->fixes) CHECK(fix.description.find("size-1 dim") == std::string::npos);
  // Two sequences (T,) + (S,): nothing says they are an outer product.
  Report sequences = test::check_text(op_call("add", R"("input": ["T"], "other": ["S"])"));
  REQUIRE(test::find(sequences, "MHA080") != nullptr);
  CHECK(test::find(sequences, "MHA080")->fixes.empty());
}

TEST_CASE("a broadcast valid only under a condition offers the size-1 dims the lower-rank operand lacks", "[glue]") {
  // sentence-transformers' mean pooling without unsqueeze(-1): (B, T, E) * (B, T).
  Report pooling = test::check_text(op_call("mul", R"("input": ["B", "T", 384], "other": ["B", "T"])"));
  const Diagnostic* condition = test::find(pooling, "MHA080");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes.front().description == "give other the size-1 dim it lacks: other[:, :, None] gives (B, T, 1)");
  CHECK(condition->fixes.front().valid());
  // ALiBi's (H,) slopes against (T, T) distances: two trailing dims.
  Report alibi = test::check_text(op_call("mul", R"("input": ["T", "T"], "other": [8])"));
  REQUIRE(test::find(alibi, "MHA080") != nullptr);
  REQUIRE_FALSE(test::find(alibi, "MHA080")->fixes.empty());
  CHECK(test::find(alibi, "MHA080")->fixes.front().description == "give other the size-1 dims it lacks: other[:, None, None] gives (8, 1, 1)");
  // Operands of one rank: nothing is missing, nothing is offered by this rule.
  Report same_rank = test::check_text(op_call("add", R"("input": ["L", 8], "other": ["S", 8])"));
  REQUIRE(test::find(same_rank, "MHA080") != nullptr);
  CHECK(test::find(same_rank, "MHA080")->fixes.empty());
}

TEST_CASE("a position table cut at a symbol, as the tracer writes pe[:x.size(0)]: the cut dim is that symbol and keeps its role", "[glue][roles]") {
  auto spec = [](const std::string& dims, const std::string& index) {
    return R"({"version": 1, "dims": {)" + dims + R"(}, "tensors": {"x": ["B", "T", 128], "pe": [5000, 1, 128]},
      "calls": [{"id": "p", "op": "getitem", "input": "pe", "index": ")" + index + R"(", "outputs": ["pe_x"]},
                {"id": "a", "op": "add", "input": "x", "other": "pe_x", "outputs": ["h"]}]})";
  };
  // Unbound symbols (a traced spec): the warning, and a fix that cuts the table at the sequence's symbol.
  Report traced = test::check_text(spec("", "[:B]"));
  const Diagnostic* slice = test::find(traced, "MHA081");
  REQUIRE(slice != nullptr);
  CHECK(slice->message.find("pe_x is pe[:B]: the position table cut to the batch size B") != std::string::npos);
  const Fix& fix = consistent_first_fix(*slice);
  CHECK(fix.description == "slice pe by the sequence length (x.size(1) = T) and put it in the sequence slot: pe_x = pe[:T].transpose(0, 1)");
  REQUIRE(fix.outputs.size() == 1);
  CHECK(tuple_str(fix.outputs[0].shape) == "(B, T, 128)");
  // Bound by "dims", the symbol is still the dim's name (not a number that two symbols could share).
  CHECK(test::find(test::check_text(spec(R"("B": 32, "T": 50, "C": 32)", "[:B]")), "MHA081") != nullptr);
  // Cut at the sequence (PyTorch then refuses the broadcast unless B == T): no slice-role warning.
  CHECK(test::find(test::check_text(spec("", "[:T]")), "MHA081") == nullptr);
}

TEST_CASE("cat of two unbound lengths joins them into one size written P+T (a KV cache of P positions and T new ones)", "[glue]") {
  // Llama/Whisper decoding: past keys (B, H, P, D) joined with the new step's (B, H, T, D) on the
  // sequence, then SDPA. A correct program: no error, and keys and values agree on the joined size.
  Report report = test::check_text(R"({"tensors": {"q": ["B", 8, "T", 64], "k_cache": ["B", 8, "P", 64], "k_new": ["B", 8, "T", 64],
      "v_cache": ["B", 8, "P", 64], "v_new": ["B", 8, "T", 64]}, "calls": [
      {"id": "ck", "op": "cat", "tensors": ["k_cache", "k_new"], "dim": 2, "outputs": ["k"]},
      {"id": "cv", "op": "cat", "tensors": ["v_new", "v_cache"], "dim": 2, "outputs": ["v"]},
      {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v"}]})");
  CHECK(report.diagnostics.empty());
  REQUIRE(report.calls.size() == 3);
  CHECK(tuple_str(report.calls[0].outputs.at(0).shape) == "(B, 8, P+T, 64)");
  CHECK(tuple_str(report.calls[1].outputs.at(0).shape) == "(B, 8, P+T, 64)");  // the terms sorted: the order of the list is no other size
  CHECK(tuple_str(report.calls[2].outputs.at(0).shape) == "(B, 8, T, 64)");
  // A third piece and a constant join the same way.
  Report three = test::check_text(op_call("cat", R"("tensors": [["B", "P", 8], ["B", "T", 8], ["B", "U", 8], ["B", 1, 8]], "dim": 1)"));
  CHECK(three.diagnostics.empty());
  CHECK(test::single_output(three) == "(B, P+T+U+1, 8)");
  // A coefficient would read as a product in the written size: still underivable.
  Report scaled = test::check_text(op_call("cat", R"("tensors": [["B", "2*S", 8], ["B", "T", 8]], "dim": 1)"));
  CHECK(test::find(scaled, "MHA303") != nullptr);
}

TEST_CASE("a joined size doubled by cat prints as 2*(P+T), which a spec reads back as the same size", "[glue]") {
  // cat([kv, kv]) of a (B, H, P+T, D) cache: 2*P+T would read as 2*P + T, another size.
  Report doubled = test::check_text(R"j({"tensors": {"past": ["B", 8, "P", 64], "new": ["B", 8, "T", 64]}, "calls": [
      {"id": "kv", "op": "cat", "tensors": ["past", "new"], "dim": 2, "outputs": ["kv"]},
      {"id": "twice", "op": "cat", "tensors": ["kv", "kv"], "dim": 2, "outputs": ["kv2"]}]})j");
  CHECK(doubled.diagnostics.empty());
  REQUIRE(doubled.calls.size() == 2);
  CHECK(tuple_str(doubled.calls[1].outputs.at(0).shape) == "(B, 8, 2*(P+T), 64)");
  // Written back into a spec (as a fix patch would), it is the cat's size: the add broadcasts.
  Report written = test::check_text(R"j({"tensors": {"past": ["B", 8, "P", 64], "new": ["B", 8, "T", 64], "bias": [1, 1, "2*(P+T)", 1]}, "calls": [
      {"id": "kv", "op": "cat", "tensors": ["past", "new"], "dim": 2, "outputs": ["kv"]},
      {"id": "twice", "op": "cat", "tensors": ["kv", "kv"], "dim": 2, "outputs": ["kv2"]},
      {"id": "a", "op": "add", "input": "kv2", "other": "bias"}]})j");
  CHECK(written.diagnostics.empty());
  // A slice's (T+1)//2 as well.
  Report halved = test::check_text(R"j({"tensors": {"x": ["B", "T", 8], "y": ["B", "2*((T+1)//2)", 8]}, "calls": [
      {"id": "s", "op": "getitem", "input": "x", "index": "[:, ::2]", "outputs": ["h"]},
      {"id": "c", "op": "cat", "tensors": ["h", "h"], "dim": 1, "outputs": ["hh"]},
      {"id": "a", "op": "add", "input": "hh", "other": "y"}]})j");
  CHECK(halved.diagnostics.empty());
  REQUIRE(halved.calls.size() == 3);
  CHECK(tuple_str(halved.calls[1].outputs.at(0).shape) == "(B, 2*((T+1)//2), 8)");
}

TEST_CASE("a rotary table of half the head size is written twice: cat first (rotate_half), repeat_interleave second", "[glue][fixes]") {
  // Llama's emb = torch.cat((freqs, freqs), dim=-1): cos of the D/2 frequencies meets (B, H, T, D) queries.
  Report report = test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, "T", 64], "cos": ["T", 32]},
      "calls": [{"id": "m", "op": "mul", "input": "q", "other": "cos", "outputs": ["qc"]}]})");
  const Diagnostic* broadcast = test::find(report, "MHA305");
  REQUIRE(broadcast != nullptr);
  REQUIRE(broadcast->fixes.size() >= 2);
  CHECK(broadcast->fixes[0].description == "write cos's 32 values twice to q's width: cos = torch.cat((cos, cos), dim=-1) gives (T, 64)");
  CHECK(broadcast->fixes[0].valid());
  CHECK(broadcast->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(broadcast->fixes[1].description == "write cos's 32 values twice to q's width: cos = cos.repeat_interleave(2, dim=-1) gives (T, 64)");
  // Half the width but another dim that does not broadcast: no doubling makes it valid.
  Report other = test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, 16, 64], "cos": [12, 32]},
      "calls": [{"id": "m", "op": "mul", "input": "q", "other": "cos", "outputs": ["qc"]}]})");
  const Diagnostic* mismatch = test::find(other, "MHA305");
  REQUIRE(mismatch != nullptr);
  CHECK(std::none_of(mismatch->fixes.begin(), mismatch->fixes.end(),
                     [](const Fix& fix) { return fix.description.find("twice") != std::string::npos; }));
}

TEST_CASE("only a rotary table is written twice: a Linear's output or a key mask of half the width is not half of anything", "[glue][fixes]") {
  auto doubles = [](const Diagnostic& diagnostic) {
    return std::any_of(diagnostic.fixes.begin(), diagnostic.fixes.end(),
                       [](const Fix& fix) { return fix.description.find("twice") != std::string::npos; });
  };
  // A residual around a widening Linear: x is not half of h.
  Report residual = test::check_text(R"j({"version": 1, "modules": {"fc": "nn.Linear(256, 512)"}, "tensors": {"x": ["B", "T", 256]},
      "calls": [{"id": "f", "module": "fc", "input": "x", "outputs": ["h"]}, {"id": "a", "op": "add", "input": "x", "other": "h"}]})j");
  const Diagnostic* widened = test::find(residual, "MHA305");
  REQUIRE(widened != nullptr);
  CHECK_FALSE(doubles(*widened));
  // A key mask over 32 keys against scores over 64.
  Report masked = test::check_text(R"j({"version": 1, "tensors": {"scores": ["B", 8, 64, 64], "mask": ["B", 1, 1, 32]},
      "calls": [{"id": "m", "op": "mul", "input": "scores", "other": "mask"}]})j");
  const Diagnostic* keys = test::find(masked, "MHA305");
  REQUIRE(keys != nullptr);
  CHECK_FALSE(doubles(*keys));
  // A table made by cos, sliced and unsqueezed under another name, is one; compared, it is not.
  const std::string made = R"j({"version": 1, "tensors": {"q": ["B", 8, "T", 64], "angles": ["T", 32]},
      "calls": [{"id": "c", "op": "cos", "input": "angles", "outputs": ["table"]},
                {"id": "s", "op": "getitem", "input": "table", "index": "[:, :]", "outputs": ["part"]},
                {"id": "u", "op": "unsqueeze", "input": "part", "dim": 0, "outputs": ["t"]},
                {"id": "m", "op": "OP", "input": "q", "other": "t"}]})j";
  auto with_op = [&](const std::string& op) { return std::string(made).replace(made.find("OP"), 2, op); };
  Report rotary = test::check_text(with_op("mul"));
  const Diagnostic* table = test::find(rotary, "MHA305");
  REQUIRE(table != nullptr);
  CHECK(doubles(*table));
  Report compared = test::check_text(with_op("eq"));
  REQUIRE_FALSE(compared.diagnostics.empty());
  CHECK(std::none_of(compared.diagnostics.begin(), compared.diagnostics.end(), doubles));
}

TEST_CASE("matmul: (B, T) pooling weights times (B, T, E) tokens pair every entry with every other, and the fix gives one row per entry",
          "[glue][roles]") {
  auto pooling = [](const std::string& weights) {
    return R"({"version": 1, "dims": {"B": 4, "T": 6}, "tensors": {"x": ["B", "T", 16], "w": )" + weights + R"(},
      "calls": [{"id": "sm", "op": "softmax", "input": "w", "dim": -1, "outputs": ["att"]},
                {"id": "mm", "op": "matmul", "input": "att", "other": "x", "outputs": ["pooled"]}]})";
  };
  const Report report = test::check_text(pooling(R"(["B", "T"])"));
  const Diagnostic* across = test::find(report, "MHA081");
  REQUIRE(across != nullptr);
  CHECK(across->severity() == Severity::Warning);
  REQUIRE_FALSE(across->fixes.empty());
  const Fix& fix = across->fixes.front();
  CHECK(fix.description.find("att.unsqueeze(1) gives (B, 1, T)") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // One row per entry already, or a matrix over the positions shared by every entry: silent.
  CHECK(test::find(test::check_text(pooling(R"(["B", 1, "T"])")), "MHA081") == nullptr);
  CHECK(test::find(test::check_text(pooling(R"(["T", "T"])")), "MHA081") == nullptr);
}

TEST_CASE("a broadcast that fails is fixed within the data's rank: the slice on the wrong dim moves, no dims are added", "[glue]") {
  // A (300, 64) table cut on its features, table[:, :L] (300, L), times (B, L, 64) states: PyTorch
  // raises. Giving the cut two size-1 dims would run, as an outer product of rank 4: never a
  // sound fix.
  Report report = test::check_text(R"({"version": 1, "tensors": {"h": ["B", "L", 64], "table": [300, 64]},
    "calls": [{"id": "cut", "op": "getitem", "input": "table", "index": "[:, :L]", "outputs": ["t"]},
              {"id": "m", "op": "mul", "input": "h", "other": "t", "outputs": ["y"]}]})");
  const Fix* fix = test::first_fix(report, "MHA305");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "slice dim 0 instead of dim 1 in call \"cut\": t = table[:L]");
  CHECK(fix->valid());
  for (const Diagnostic& diagnostic : report.diagnostics) {
    for (const Fix& offered : diagnostic.fixes) {
      if (offered.valid() && offered.semantics != FixSemantics::Suspect && !offered.outputs.empty()) CHECK(offered.outputs.front().shape.size() <= 3);
    }
  }
}

TEST_CASE("attention weights times a value transposed like the key warn MHA294, the fix drops the value's transpose", "[glue][roles]") {
  // Hand-written attention over (B, H, T, D) with T == D == 32: the value transposed like the key.
  // Sizes written as numbers: no name says which dim is which, the key's product does.
  const std::string attention = R"({"version": 1, "dims": {"T": 32, "D": 32}, "tensors": {"q": [2, 4, 32, 32], "k": [2, 4, 32, 32],
      "v": %s},
    "calls": [{"id": "kt", "op": "transpose", "input": "k", "dim0": 2, "dim1": 3, "outputs": ["kT"]},
              {"id": "qk", "op": "matmul", "input": "q", "other": "kT", "outputs": ["s"]},
              {"id": "scale", "op": "div", "input": "s", "other": 5.66, "outputs": ["s2"]},
              {"id": "p", "op": "softmax", "input": "s2", "dim": -1, "outputs": ["w"]},
              {"id": "drop", "op": "dropout", "input": "w", "outputs": ["wd"]},
              {"id": "vt", "op": "transpose", "input": "v", "dim0": -1, "dim1": -2, "outputs": ["vT"]},
              {"id": "out", "op": "matmul", "input": "wd", "other": "%s", "outputs": ["o"]}]})";
  auto spec = [&](const std::string& value, const std::string& multiplied) {
    std::string text = attention;
    text.replace(text.find("%s"), 2, value);
    text.replace(text.find("%s"), 2, multiplied);
    return text;
  };
  Report transposed = test::check_text(spec("[2, 4, 32, 32]", "vT"));
  const Diagnostic* value = test::find(transposed, "MHA294");
  REQUIRE(value != nullptr);
  CHECK(value->call == "out");
  CHECK(value->message ==
        "wd @ vT contracts wd's last dim, the positions of the key k (its dim 2, from call \"qk\"), with v's dim 3, the dim at which k was "
        "contracted with the queries (its features): v is laid out as k, so each output row sums features read as key positions; valid "
        "only because 32 == 32");
  REQUIRE_FALSE(value->fixes.empty());
  CHECK(value->fixes.front().description ==
        "wd @ v (drop the transpose of call \"vt\"): the value's dim 2 holds the key positions the weights run over");
  CHECK(value->fixes.front().valid());
  CHECK(value->fixes.front().semantics == FixSemantics::Consistent);
  // The value untransposed, and a value stored (B, H, D, T) (names that say so) transposed into
  // place, say nothing.
  CHECK(test::find(test::check_text(spec("[2, 4, 32, 32]", "v")), "MHA294") == nullptr);
  std::string stored = spec(R"([2, 4, "D", "T"])", "vT");
  stored.replace(stored.find(R"("k": [2, 4, 32, 32])"), 19, R"("k": [2, 4, "T", "D"])");
  CHECK(test::find(test::check_text(stored), "MHA294") == nullptr);
}

TEST_CASE("a value split into heads like the key and then transposed like it warns MHA294 with the head split kept", "[glue][roles]") {
  // q, k, v cut from one projection and split into heads by view + transpose(1, 2), as a GPT block
  // does; the value then transposed again before the product. Block size == head size == 16.
  auto spec = [](const std::string& multiplied) {
    return R"spec({"version": 1, "tensors": {"x": [3, 16, 64]}, "modules": {"proj": "nn.Linear(64, 192)"},
      "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["qkv"]},
                {"id": "cut", "op": "split", "input": "qkv", "split_size": 64, "dim": 2, "outputs": ["q", "k", "v"]},
                {"id": "qv", "op": "view", "input": "q", "shape": [3, 16, 4, 16], "outputs": ["q4"]},
                {"id": "kv", "op": "view", "input": "k", "shape": [3, 16, 4, 16], "outputs": ["k4"]},
                {"id": "vv", "op": "view", "input": "v", "shape": [3, 16, 4, 16], "outputs": ["v4"]},
                {"id": "qh", "op": "transpose", "input": "q4", "dim0": 1, "dim1": 2, "outputs": ["qh"]},
                {"id": "kh", "op": "transpose", "input": "k4", "dim0": 1, "dim1": 2, "outputs": ["kh"]},
                {"id": "vh", "op": "transpose", "input": "v4", "dim0": 1, "dim1": 2, "outputs": ["vh"]},
                {"id": "kt", "op": "transpose", "input": "kh", "dim0": -2, "dim1": -1, "outputs": ["kT"]},
                {"id": "qk", "op": "matmul", "input": "qh", "other": "kT", "outputs": ["s"]},
                {"id": "w", "op": "softmax", "input": "s", "dim": -1, "outputs": ["att"]},
                {"id": "vt", "op": "transpose", "input": "vh", "dim0": -2, "dim1": -1, "outputs": ["vT"]},
                {"id": "y", "op": "matmul", "input": "att", "other": ")spec" + multiplied + R"(", "outputs": ["y"]}]})";
  };
  Report transposed = test::check_text(spec("vT"));
  const Diagnostic* value = test::find(transposed, "MHA294");
  REQUIRE(value != nullptr);
  REQUIRE_FALSE(value->fixes.empty());
  CHECK(value->fixes.front().description == "att @ vh (drop the transpose of call \"vt\"): the value's dim 2 holds the key positions the weights run over");
  CHECK(value->fixes.front().valid());
  CHECK(test::find(test::check_text(spec("vh")), "MHA294") == nullptr);
}

TEST_CASE("MHA294 compares the value with the key where q, k and v were split, past layout-keeping calls", "[glue][roles]") {
  // XCiT's cross-covariance attention: q, k, v (B, H, N, D) transposed to (B, H, D, N), q and k
  // normalised, attn = q @ k^T (D x D), attn @ v. With N == D written as numbers the normalised
  // key (B, H, D, N) has the value's origin's shape; at the unbind, where v is k's sibling, v's
  // contracted dim is the key's positions: correct.
  Report xcit = test::check_text(R"spec({"version": 1, "dims": {"B": 2}, "modules": {"qkv": "nn.Linear(64, 192)"},
 "tensors": {"x": ["B", 16, 64], "temp": [4, 1, 1]},
 "calls": [{"id": "proj", "module": "qkv", "input": "x", "outputs": ["t"]},
           {"id": "rs", "op": "reshape", "input": "t", "shape": ["B", 16, 3, 4, 16], "outputs": ["t5"]},
           {"id": "pm", "op": "permute", "input": "t5", "dims": [2, 0, 3, 1, 4], "outputs": ["qkv5"]},
           {"id": "ub", "op": "unbind", "input": "qkv5", "dim": 0, "outputs": ["q0", "k0", "v0"]},
           {"id": "qt", "op": "transpose", "input": "q0", "dim0": -2, "dim1": -1, "outputs": ["q"]},
           {"id": "kt", "op": "transpose", "input": "k0", "dim0": -2, "dim1": -1, "outputs": ["k"]},
           {"id": "vt", "op": "transpose", "input": "v0", "dim0": -2, "dim1": -1, "outputs": ["v"]},
           {"id": "qn", "op": "normalize", "input": "q", "dim": -1, "outputs": ["qN"]},
           {"id": "kn", "op": "normalize", "input": "k", "dim": -1, "outputs": ["kN"]},
           {"id": "ktt", "op": "transpose", "input": "kN", "dim0": -2, "dim1": -1, "outputs": ["kNT"]},
           {"id": "sc", "op": "matmul", "input": "qN", "other": "kNT", "outputs": ["a"]},
           {"id": "tm", "op": "mul", "input": "a", "other": "temp", "outputs": ["at"]},
           {"id": "sm", "op": "softmax", "input": "at", "dim": -1, "outputs": ["w"]},
           {"id": "o", "op": "matmul", "input": "w", "other": "v", "outputs": ["o"]},
           {"id": "op", "op": "permute", "input": "o", "dims": [0, 3, 1, 2], "outputs": ["op"]},
           {"id": "mg", "op": "reshape", "input": "op", "shape": ["B", 16, 64], "outputs": ["y"]}]})spec");
  CHECK(test::find(xcit, "MHA294") == nullptr);
  // The Gram matrix of attention weights, K @ K^T (Nystromformer's pseudo-inverse start): the
  // "value" is the scores themselves, contracted over the key positions on purpose.
  Report gram = test::check_text(R"({"version": 1, "dims": {"B": 2},
 "tensors": {"q_l": ["B", 12, 64, 64], "k_l": ["B", 12, 64, 64]},
 "calls": [{"id": "klt", "op": "transpose", "input": "k_l", "dim0": -1, "dim1": -2, "outputs": ["k_lT"]},
           {"id": "s2", "op": "matmul", "input": "q_l", "other": "k_lT", "outputs": ["s"]},
           {"id": "k2", "op": "softmax", "input": "s", "dim": -1, "outputs": ["K"]},
           {"id": "kt", "op": "transpose", "input": "K", "dim0": -1, "dim1": -2, "outputs": ["KT"]},
           {"id": "init", "op": "div", "input": "KT", "other": 3.0, "outputs": ["V"]},
           {"id": "kv", "op": "matmul", "input": "K", "other": "KT", "outputs": ["KV"]}]})");
  CHECK(test::find(gram, "MHA294") == nullptr);
}

TEST_CASE("bmm of attention weights and a value transposed like the key warns MHA294", "[glue][roles]") {
  Report transposed = test::check_text(R"({"version": 1, "tensors": {"q": [8, 16, 16], "k": [8, 16, 16], "v": [8, 16, 16]},
 "calls": [{"id": "kt", "op": "transpose", "input": "k", "dim0": 1, "dim1": 2, "outputs": ["kT"]},
           {"id": "qk", "op": "bmm", "input": "q", "mat2": "kT", "outputs": ["s"]},
           {"id": "p", "op": "softmax", "input": "s", "dim": -1, "outputs": ["w"]},
           {"id": "vt", "op": "transpose", "input": "v", "dim0": 1, "dim1": 2, "outputs": ["vT"]},
           {"id": "o", "op": "bmm", "input": "w", "mat2": "vT"}]})");
  const Diagnostic* value = test::find(transposed, "MHA294");
  REQUIRE(value != nullptr);
  CHECK(value->call == "o");
  REQUIRE_FALSE(value->fixes.empty());
  // The product named as written: torch.bmm, not @.
  CHECK(value->message.rfind("torch.bmm(w, vT) contracts w's last dim", 0) == 0);
  CHECK(value->fixes.front().description ==
        "torch.bmm(w, v) (drop the transpose of call \"vt\"): the value's dim 1 holds the key positions the weights run over");
  CHECK(value->fixes.front().valid());
}

TEST_CASE("matmul of two (B, E) embeddings: the right operand transposed as a matrix is consistent, the left one suspect", "[glue][fixes]") {
  // Audio-text retrieval scores: audio (N, 256) @ text (N, 256) without the transpose.
  Report scores = test::check_text(R"({"version": 1, "tensors": {"audio": ["N", 256], "text": ["N", 256]},
      "calls": [{"id": "mm", "op": "matmul", "input": "audio", "other": "text", "outputs": ["sim"]}]})");
  const Fix* first = test::first_fix(scores, "MHA080");
  REQUIRE(first != nullptr);
  CHECK(first->description == "transpose text to (256, N): text.transpose(0, 1)");
  CHECK(first->valid());
  CHECK(first->semantics == FixSemantics::Consistent);
  const Diagnostic* condition = test::find(scores, "MHA080");
  bool left_suspect = false;
  for (const Fix& fix : condition->fixes) {
    if (fix.description.find("audio.transpose(0, 1)") != std::string::npos) left_suspect = fix.semantics == FixSemantics::Suspect;
  }
  CHECK(left_suspect);
}

TEST_CASE("a bias square over the queries' sequence added to cross-attention scores is an error: the fix drops it", "[glue][roles]") {
  // A decoder's causal (L, L) mask added to its cross-attention scores over M memory slots.
  const std::string cross = R"j({"version": 1, "tensors": {"q": ["B", 4, "L", 32], "mem": ["B", 4, "M", 32], "causal": ["L", "L"]},
    "calls": [{"id": "t", "op": "transpose", "input": "mem", "dim0": -2, "dim1": -1, "outputs": ["memT"]},
              {"id": "s", "op": "matmul", "input": "q", "other": "memT", "outputs": ["logits"]},
              {"id": "b", "op": "add", "input": "logits", "other": "causal", "outputs": ["biased"]},
              {"id": "w", "op": "softmax", "input": "biased", "dim": -1, "outputs": ["weights"]}]})j";
  Report report = test::check_text(cross);
  const Diagnostic* error = test::find(report, "MHA083");
  REQUIRE(error != nullptr);
  CHECK(test::find(report, "MHA080") == nullptr);
  CHECK(error->message.find("square over the sequence L") != std::string::npos);
  REQUIRE_FALSE(error->fixes.empty());
  CHECK(error->fixes[0].description.rfind("drop the bias causal from call \"b\"", 0) == 0);
  CHECK(error->fixes[0].valid());
  CHECK(error->fixes[0].semantics == FixSemantics::Consistent);
  // Self-attention scores (L, L), and keys that hold the queries' own positions after a cache
  // (P+L), are no cross-attention: the first fits, the second keeps its condition.
  Report self = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", 4, "L", 32], "k": ["B", 4, "L", 32], "causal": ["L", "L"]},
    "calls": [{"id": "t", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kT"]},
              {"id": "s", "op": "matmul", "input": "q", "other": "kT", "outputs": ["logits"]},
              {"id": "b", "op": "add", "input": "logits", "other": "causal", "outputs": ["biased"]}]})j");
  CHECK(self.diagnostics.empty());
  Report cached = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", 4, "L", 32], "past": ["B", 4, "P", 32], "k": ["B", 4, "L", 32], "causal": ["L", "L"]},
    "calls": [{"id": "c", "op": "cat", "tensors": ["past", "k"], "dim": 2, "outputs": ["keys"]},
              {"id": "t", "op": "transpose", "input": "keys", "dim0": -2, "dim1": -1, "outputs": ["kT"]},
              {"id": "s", "op": "matmul", "input": "q", "other": "kT", "outputs": ["logits"]},
              {"id": "b", "op": "add", "input": "logits", "other": "causal", "outputs": ["biased"]}]})j");
  CHECK(test::find(cached, "MHA083") == nullptr);
}

TEST_CASE("a tensor combined with its own reduction made without keepdim lines the wrong dims up", "[glue][roles]") {
  // Row normalisation of square (N, N) affinities by their L2 norms: (N,) divides the columns.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"affinity": ["N", "N"]},
    "calls": [{"id": "n", "op": "sum", "input": "affinity", "dim": 1, "outputs": ["row_sums"]},
              {"id": "d", "op": "div", "input": "affinity", "other": "row_sums", "outputs": ["normalised"]}]})j");
  const Diagnostic* shifted = test::find(report, "MHA378");
  REQUIRE(shifted != nullptr);
  CHECK(shifted->message.rfind("row_sums is affinity.sum(dim=1) without keepdim (call \"n\")", 0) == 0);
  REQUIRE_FALSE(shifted->fixes.empty());
  CHECK(shifted->fixes[0].description.rfind("affinity.sum(dim=1, keepdim=True) in call \"n\"", 0) == 0);
  CHECK(shifted->fixes[0].valid());
  // A max subtracted over the last dim of a (1, T, T) batch of one: the same slip, silent too.
  Report stable = test::check_text(R"j({"version": 1, "tensors": {"x": [1, "T", "T"]},
    "calls": [{"id": "m", "op": "amax", "input": "x", "dim": -1, "outputs": ["top"]},
              {"id": "d", "op": "sub", "input": "x", "other": "top", "outputs": ["shifted"]}]})j");
  CHECK(test::find(stable, "MHA378") != nullptr);
  // Reduced over the leading dim, with keepdim, or a batch of one reduced over its only other dim: nothing shifts.
  for (const char* quiet : {R"j({"version": 1, "tensors": {"a": ["N", "N"]}, "calls": [{"id": "n", "op": "sum", "input": "a", "dim": 0, "outputs": ["s"]},
                               {"id": "d", "op": "div", "input": "a", "other": "s", "outputs": ["o"]}]})j",
                            R"j({"version": 1, "tensors": {"a": ["N", "N"]}, "calls": [{"id": "n", "op": "sum", "input": "a", "dim": 1, "keepdim": true, "outputs": ["s"]},
                               {"id": "d", "op": "div", "input": "a", "other": "s", "outputs": ["o"]}]})j",
                            R"j({"version": 1, "tensors": {"a": [1, "N"]}, "calls": [{"id": "n", "op": "sum", "input": "a", "dim": 1, "outputs": ["s"]},
                               {"id": "d", "op": "div", "input": "a", "other": "s", "outputs": ["o"]}]})j"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA378") == nullptr);
  }
}

TEST_CASE("a bias added to the attention weights after the softmax is moved before it", "[glue][masks]") {
  // An ALiBi-style (H, T, T) distance bias added to the probabilities, then the weighted sum.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"scores": ["B", 4, "T", "T"], "v": ["B", 4, "T", 16], "alibi": [4, "T", "T"]},
    "calls": [{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["probs"]},
              {"id": "b", "op": "add", "input": "probs", "other": "alibi", "outputs": ["w"]},
              {"id": "o", "op": "matmul", "input": "w", "other": "v", "outputs": ["out"]}]})j");
  const Diagnostic* after = test::find(report, "MHA377");
  REQUIRE(after != nullptr);
  REQUIRE_FALSE(after->fixes.empty());
  CHECK(after->fixes[0].description.rfind("add alibi before the softmax, to the logits", 0) == 0);
  CHECK(after->fixes[0].valid());
  // Written bias + weights, it is the same slip.
  Report reversed = test::check_text(R"j({"version": 1, "tensors": {"scores": ["B", 4, "T", "T"], "v": ["B", 4, "T", 16], "alibi": [4, "T", "T"]},
    "calls": [{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["probs"]},
              {"id": "b", "op": "add", "input": "alibi", "other": "probs", "outputs": ["w"]},
              {"id": "o", "op": "matmul", "input": "w", "other": "v", "outputs": ["out"]}]})j");
  const Diagnostic* before = test::find(reversed, "MHA377");
  REQUIRE(before != nullptr);
  // Its fix too moves the add before the softmax, the bias added to the scores in the weights' place.
  REQUIRE_FALSE(before->fixes.empty());
  CHECK(before->fixes[0].description.rfind("add alibi before the softmax, to the logits", 0) == 0);
  CHECK(before->fixes[0].valid());
  CHECK(before->fixes[0].patch.dump().find(R"("path":"/calls/1/other","value":"scores")") != std::string::npos);
  // Attention rollout adds the identity and renormalises: deliberate.
  Report rollout = test::check_text(R"j({"version": 1, "dims": {"T": 5}, "tensors": {"scores": [1, "T", "T"]},
    "calls": [{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["probs"]},
              {"id": "i", "op": "eye", "n": 5, "outputs": ["identity"]},
              {"id": "b", "op": "add", "input": "probs", "other": "identity", "outputs": ["w"]},
              {"id": "n", "op": "sum", "input": "w", "dim": -1, "keepdim": true, "outputs": ["s"]},
              {"id": "d", "op": "div", "input": "w", "other": "s", "outputs": ["a"]}]})j");
  CHECK(test::find(rollout, "MHA377") == nullptr);
  // The first call that reads the sum says what it is, whatever the argument: here a product
  // that reads it as its second operand (contracting the queries), read otherwise, before the
  // product that reads it as weights: deliberate, as the renormalised sum above.
  Report read_otherwise = test::check_text(R"j({"version": 1, "tensors": {"scores": ["B", 4, "T", "T"], "v": ["B", 4, "T", 16], "kt": ["B", 4, 16, "T"], "alibi": [4, "T", "T"]},
    "calls": [{"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["probs"]},
              {"id": "b", "op": "add", "input": "probs", "other": "alibi", "outputs": ["w"]},
              {"id": "k", "op": "matmul", "input": "kt", "other": "w", "outputs": ["contracted"]},
              {"id": "o", "op": "matmul", "input": "w", "other": "v", "outputs": ["out"]}]})j");
  CHECK(test::find(read_otherwise, "MHA377") == nullptr);
}

TEST_CASE("MHA083: a (B, T, D) operand against (B, H, T, D): the batch meets the heads while the other operand holds the batch", "[glue]") {
  // Rotary cos and sin gathered per position (B, T, D) and multiplied into the keys without the
  // heads dim: B against 8 is false by the names.
  Report report = test::check_text(R"({"tensors": {"k": ["B", 8, "T", 64], "k_half": ["B", 8, "T", 64], "c": ["B", "T", 64], "s": ["B", "T", 64]},
    "modules": {}, "calls": [{"id": "kc", "op": "mul", "input": "k", "other": "c", "outputs": ["a"]},
              {"id": "ks", "op": "mul", "input": "k_half", "other": "s", "outputs": ["b"]},
              {"id": "sum", "op": "add", "input": "a", "other": "b"}]})");
  REQUIRE(!report.diagnostics.empty());
  const Diagnostic& first = report.diagnostics.front();
  CHECK(first.info().code == std::string("MHA083"));
  CHECK(first.severity() == Severity::Error);
  CHECK(first.call == "kc");
  REQUIRE_FALSE(first.fixes.empty());
  // The one repair made on both operands gathered alike: c and s each given the heads dim.
  const Fix& fix = first.fixes.front();
  CHECK(fix.valid());
  CHECK(fix.semantics != FixSemantics::Suspect);
  CHECK(fix.description.find("c[:, None]") != std::string::npos);
  CHECK(fix.description.find("s[:, None]") != std::string::npos);
}

TEST_CASE("MHA083 is not reported for a batch aligned with the batch, nor for a lower-rank operand without the batch", "[glue]") {
  for (const char* other : {R"(["B", 1, "T", 64])", R"(["T", 64])", R"([1, "T", 64])"}) {
    Report report = test::check_text(fmt::format(R"({{"tensors": {{"k": ["B", 8, "T", 64], "c": {}}}, "modules": {{}},
      "calls": [{{"id": "kc", "op": "mul", "input": "k", "other": "c"}}]}})",
                                                 other));
    INFO(other);
    CHECK(report.diagnostics.empty());
  }
}
