// The elementwise, activation, reduction and expand operators beyond the PyTorch fixtures:
// symbols, Python numbers, infinite fill values, and the spec reader's forms.
#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("expand, repeat and repeat_interleave keep symbols", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("expand", R"("input": [1, 1, 768], "size": ["B", -1, -1])"))) == "(B, 1, 768)");
  CHECK(test::single_output(test::check_text(op_call("repeat", R"("input": ["T", 8], "repeats": ["B", 1, 2])"))) == "(B, T, 16)");
  CHECK(test::single_output(test::check_text(op_call("repeat_interleave", R"("input": ["B", 2, "T", 16], "repeats": 4, "dim": 1)"))) ==
        "(B, 8, T, 16)");
  Report flat = test::check_text(op_call("repeat_interleave", R"("input": ["B", 3], "repeats": 2)"));
  CHECK(test::single_output(flat) == "(6*B,)");
  // A symbol against a different size is a mismatch; against its own value, a condition.
  Report stretched = test::check_text(op_call("expand", R"("input": ["T", 1], "size": [4, 5])"));
  CHECK(test::find(stretched, "MHA080") != nullptr);
  CHECK(stretched.ok());
  CHECK(test::single_output(test::check_text(op_call("repeat", R"("input": ["T", 8], "repeats": ["B", 1])"))) == "(B*T, 8)");
  Report sum = test::check_text(op_call("repeat", R"("input": ["T+1", 8], "repeats": ["B", 1])"));
  CHECK(test::find(sum, "MHA303") != nullptr);  // B*(T+1) is not one dim
}

TEST_CASE("mul, sub and div take Python numbers, promoted below 0-D tensors", "[glue]") {
  auto dtype_of = [](const std::string& arguments) {
    Report report = test::check_text(op_call("mul", arguments));
    REQUIRE(report.ok());
    return dtype_name(report.calls.at(0).outputs.at(0).dtype);
  };
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "int32"}, "other": 2)") == "int32");
  CHECK(dtype_of(R"("input": {"shape": [], "dtype": "int32"}, "other": 2)") == "int32");  // a number ranks below a 0-D tensor
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "int64"}, "other": 0.5)") == "float32");
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "bool"}, "other": true)") == "bool");
  CHECK(dtype_of(R"("input": {"shape": [3], "dtype": "float16"}, "other": 0.5)") == "float16");
  Report division = test::check_text(op_call("div", R"("input": {"shape": ["B", 3], "dtype": "int64"}, "other": 2)"));
  CHECK(dtype_name(division.calls.at(0).outputs.at(0).dtype) == "float32");
  Report mask = test::check_text(op_call("sub", R"("input": {"shape": [3], "dtype": "bool"}, "other": 1)"));
  CHECK(test::raised_message(mask).find("If you are trying to invert a mask") != std::string::npos);
  CHECK(test::check_text(op_call("mul", R"("input": [3], "other": "2")")).input_error);  // a string names a tensor
}

TEST_CASE("masked_fill broadcasts both ways and takes an infinite value", "[glue]") {
  Report scores = test::check_text(op_call("masked_fill", R"("input": ["B", 4, "T", "T"], "mask": ["B", 1, 1, "T"], "value": "-inf")"));
  CHECK(test::single_output(scores) == "(B, 4, T, T)");
  CHECK(test::single_output(test::check_text(op_call("masked_fill", R"("input": [5], "mask": [2, 5], "value": 0)"))) == "(2, 5)");
  Report layout = test::check_text(op_call("masked_fill", R"("input": [2, 4, 5, 5], "mask": [2, 5], "value": 0)"));
  REQUIRE(test::find(layout, "MHA320") != nullptr);
  CHECK(test::raised_message(layout) == "RuntimeError: The size of tensor a (2) must match the size of tensor b (5) at non-singleton dimension 2");
  CHECK(test::check_text(op_call("masked_fill", R"("input": [5], "mask": [5], "value": "minus infinity")")).input_error);
  Report float_mask = test::check_text(op_call("masked_fill", R"("input": [5], "mask": {"shape": [5], "dtype": "float32"}, "value": 0)"));
  REQUIRE(test::find(float_mask, "MHA321") != nullptr);
  CHECK_FALSE(test::find(float_mask, "MHA321")->fixes.empty());
}

TEST_CASE("sum and mean reduce symbolic dims, activations keep the shape", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("mean", R"("input": ["B", "T", 64], "dim": 1)"))) == "(B, 64)");
  CHECK(test::single_output(test::check_text(op_call("sum", R"("input": ["B", "T", 64], "dim": [0, -1], "keepdim": true)"))) == "(1, T, 1)");
  CHECK(test::single_output(test::check_text(op_call("sum", R"("input": ["B", "T"])"))) == "()");
  CHECK(test::single_output(test::check_text(op_call("gelu", R"("input": ["B", "T", 64], "approximate": "tanh")"))) == "(B, T, 64)");
  CHECK(test::single_output(test::check_text(op_call("dropout", R"("input": ["B", 64], "p": 0.1, "training": false)"))) == "(B, 64)");
  CHECK(test::check_text(op_call("sum", R"("input": [2, 3], "dim": "0")")).input_error);
}

TEST_CASE("to and its shorthands change the dtype and keep a transposed input's strides, as PyTorch's MemoryFormat::Preserve", "[glue][cast]") {
  auto chain = [](const std::string& cast) {
    return R"({"version": 1, "tensors": {"x": ["B", "T", 8]}, "calls": [
      {"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
      )" + cast + R"(,
      {"id": "v", "op": "view", "input": "c", "shape": ["B", -1]}]})";
  };
  // Another dtype: a copy with the same strides, so the view still fails (PyTorch 1.13 measured, 2.x's _to_copy).
  for (const char* cast : {R"({"id": "f", "op": "double", "input": "xt", "outputs": ["c"]})", R"({"id": "f", "op": "half", "input": "xt", "outputs": ["c"]})",
                           R"({"id": "f", "op": "to", "input": "xt", "dtype": "torch.bfloat16", "outputs": ["c"]})"}) {
    INFO(cast);
    Report report = test::check_text(chain(cast));
    CHECK(test::find(report, "MHA370") != nullptr);
  }
  // The same dtype is the tensor itself: the same layout, the same failure.
  CHECK(test::find(test::check_text(chain(R"({"id": "f", "op": "float", "input": "xt", "outputs": ["c"]})")), "MHA370") != nullptr);
  // After contiguous() the cast is contiguous too.
  Report fine = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 8]}, "calls": [
      {"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
      {"id": "k", "op": "contiguous", "input": "xt", "outputs": ["xc"]},
      {"id": "f", "op": "long", "input": "xc", "outputs": ["c"]},
      {"id": "v", "op": "view", "input": "c", "shape": ["B", -1]}]})");
  CHECK(fine.diagnostics.empty());
  REQUIRE(fine.calls.size() == 4);
  CHECK(dtype_name(fine.calls[2].outputs.at(0).dtype) == "int64");
  CHECK(test::single_output(test::check_text(op_call("bool", R"("input": ["B", "T"])"))) == "(B, T)");
  Report unknown = test::check_text(op_call("to", R"("input": [2, 4], "dtype": "float33")"));
  REQUIRE(test::find(unknown, "MHA002") != nullptr);
  CHECK(test::find(unknown, "MHA002")->message.find("expected one of") != std::string::npos);
}

TEST_CASE("tril and triu need 2 dims and give a contiguous tensor", "[glue][triangle]") {
  Report flat = test::check_text(op_call("triu", R"("input": ["T"], "diagonal": 1)"));
  const Diagnostic* rank = test::find(flat, "MHA413");
  REQUIRE(rank != nullptr);
  CHECK(rank->pytorch_error->message == "triu: input tensor must have at least 2 dimensions");
  CHECK(test::single_output(test::check_text(op_call("tril", R"("input": ["B", "T", "T"], "diagonal": -1)"))) == "(B, T, T)");
  // tril of a transposed tensor is contiguous (PyTorch allocates it so): its view is fine.
  Report view = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 8]}, "calls": [
      {"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
      {"id": "l", "op": "tril", "input": "xt", "outputs": ["c"]},
      {"id": "v", "op": "view", "input": "c", "shape": ["B", -1]}]})");
  CHECK(view.diagnostics.empty());
}

TEST_CASE("F.pad in constant mode: sizes, crops, PyTorch 2.x's errors, and the layout", "[glue][pad]") {
  CHECK(test::single_output(test::check_text(op_call("pad", R"("input": ["B", "T", 8], "pad": [1, 2])"))) == "(B, T, 11)");
  CHECK(test::single_output(test::check_text(op_call("pad", R"("input": ["B", "T", 8], "pad": [0, 0, 0, 3])"))) == "(B, T+3, 8)");
  CHECK(test::single_output(test::check_text(op_call("pad", R"("input": ["B", "T+1", 8], "pad": [0, 0, -1, 0], "value": -1.5)"))) == "(B, T, 8)");
  auto error = [](const std::string& arguments, const char* code) {
    Report report = test::check_text(op_call("pad", arguments));
    const Diagnostic* found = test::find(report, code);
    REQUIRE(found != nullptr);
    return found->pytorch_error ? found->pytorch_error->message : std::string();
  };
  CHECK(error(R"("input": [2, 4], "pad": [1])", "MHA414") == "Padding length must be divisible by 2");
  CHECK(error(R"("input": [2, 4], "pad": [1, 1, 0, 0, 2, 2])", "MHA414") == "Padding length too large");
  CHECK(error(R"("input": [3, 4], "pad": [-3, -2])", "MHA414") == "narrow(): length must be non-negative.");
  CHECK(error(R"("input": [3, 4], "pad": [-4, 0, 1, 0])", "MHA414") ==
        "The input size 4, plus negative padding -4 and 0 resulted in a negative output size, which is invalid. Check dimension 1 of your input.");
  // Cropping all of a dim without padding anything is an empty tensor, as in PyTorch.
  CHECK(test::single_output(test::check_text(op_call("pad", R"("input": [3, 4], "pad": [-2, -2])"))) == "(3, 0)");
  // A crop of a symbolic size depends on it.
  CHECK(test::find(test::check_text(op_call("pad", R"("input": ["B", "T"], "pad": [-2, 0])")), "MHA303") != nullptr);
  // Strides: an all-zero pad keeps the transposed input's (the view fails, as in PyTorch); a real pad is contiguous.
  auto viewed = [](const std::string& pad) {
    return test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 8]}, "calls": [
      {"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
      {"id": "p", "op": "pad", "input": "xt", "pad": )" + pad + R"(, "outputs": ["c"]},
      {"id": "v", "op": "view", "input": "c", "shape": ["B", -1]}]})");
  };
  CHECK(test::find(viewed("[0, 0]"), "MHA370") != nullptr);
  CHECK(viewed("[0, 0, 1, 0]").diagnostics.empty());
}

TEST_CASE("F.pad shifting the features of a token tensor warns, with the shift moved to the sequence dim", "[glue][pad]") {
  // RWKV-style time mixing with a backward shift on a 4-D per-head tensor: (-1, 1) on the head
  // size moves features; the time steps are dim 2.
  Report backward = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "H", "L", 64]}, "calls": [
      {"id": "p", "op": "F.pad", "input": "x", "pad": [-1, 1], "outputs": ["xx"]},
      {"id": "s", "op": "sub", "input": "xx", "other": "x", "outputs": ["d"]}]})");
  const Diagnostic* shifted = test::find(backward, "MHA433");
  REQUIRE(shifted != nullptr);
  CHECK(shifted->severity() == Severity::Warning);
  REQUIRE(!shifted->fixes.empty());
  CHECK(shifted->fixes.front().description == "F.pad(x, (0, 0, -1, 1)): shift dim 2 (\"L\", the sequence)");
  CHECK(shifted->fixes.front().verified);
  Report forward = test::check_text(R"J({"version": 1, "dims": {"T": 16}, "modules": {"r": "nn.Linear(512, 512)"}, "tensors": {"h": ["B", "T", 512]}, "calls": [
      {"id": "p", "op": "F.pad", "input": "h", "pad": [2, -2], "outputs": ["hh"]},
      {"id": "l", "module": "r", "input": "hh", "outputs": ["o"]}]})J");
  const Diagnostic* two = test::find(forward, "MHA433");
  REQUIRE(two != nullptr);
  REQUIRE(!two->fixes.empty());
  CHECK(two->fixes.front().description.find("(0, 0, 2, -2)") != std::string::npos);
  // The time steps shifted (channels first, or the pair written for dim -2), a pad that grows,
  // a shift of a symbolic last dim (an image's width) and a tensor without a sequence dim: silent.
  for (const char* arguments : {R"("input": ["B", 256, "T"], "pad": [1, -1])", R"("input": ["B", "T", 256], "pad": [0, 0, 1, -1])",
                                R"("input": ["B", "T", 256], "pad": [1, 1])", R"("input": ["B", "C", "H", "W"], "pad": [1, -1])",
                                R"("input": ["B", 64, 256], "pad": [1, -1])"}) {
    CAPTURE(arguments);
    CHECK(test::check_text(op_call("F.pad", arguments)).diagnostics.empty());
  }
}

TEST_CASE("a bool mask in arithmetic (mask - 1) * 10000: the fix casts it to float first, and the additive mask then runs", "[glue]") {
  Report report = test::check_text(R"J({"version": 1, "tensors": {"q": ["B", 12, "T", 64], "k": ["B", 12, "T", 64], "v": ["B", 12, "T", 64],
      "attention_mask": {"shape": ["B", "T"], "dtype": "bool"}},
      "calls": [{"id": "idx", "op": "getitem", "input": "attention_mask", "index": "[:, None, None, :]", "outputs": ["m4"]},
                {"id": "s", "op": "sub", "input": "m4", "other": 1, "outputs": ["m1"]},
                {"id": "mul", "op": "mul", "input": "m1", "other": 10000.0, "outputs": ["bias"]},
                {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "bias",
                 "outputs": ["o"]}]})J");
  const Fix* cast = test::first_fix(report, "MHA316");
  REQUIRE(cast != nullptr);
  CHECK(cast->description.find("m4.float()") != std::string::npos);
  CHECK(cast->verified);
  CHECK(cast->valid());
  // Two bools keep the xor note and get no cast: a - b of two masks is their difference.
  Report both = test::check_text(R"J({"version": 1, "tensors": {"a": {"shape": [3], "dtype": "bool"}, "b": {"shape": [3], "dtype": "bool"}},
      "calls": [{"id": "s", "op": "sub", "input": "a", "other": "b", "outputs": ["d"]}]})J");
  REQUIRE(test::find(both, "MHA316") != nullptr);
  CHECK(test::find(both, "MHA316")->fixes.empty());
}

TEST_CASE("expand to a whole multiple of a dim (MHA322) is fixed by repeat_interleave along it", "[glue]") {
  // A per-group bias (B, 2, T) expanded straight to 6 groups: each group meant 3 times.
  Report grouped = test::check_text(R"({"version": 1, "tensors": {"g": ["B", 2, "T"]},
      "calls": [{"id": "e", "op": "expand", "input": "g", "size": [-1, 6, "T"], "outputs": ["g6"]}]})");
  const Diagnostic* sizes = test::find(grouped, "MHA322");
  REQUIRE(sizes != nullptr);
  REQUIRE_FALSE(sizes->fixes.empty());
  CHECK(sizes->fixes[0].description ==
        "copy each of the 2 entries of dim 1 3 times, side by side: g.repeat_interleave(3, dim=1) (what g.unsqueeze(2).expand(...).reshape(...) "
        "gives)");
  CHECK(sizes->fixes[0].valid());
  CHECK(sizes->fixes[0].semantics == FixSemantics::Consistent);
  // No whole multiple, or another dim changed too: no such fix.
  for (const char* other : {R"({"version": 1, "tensors": {"g": ["B", 2, "T"]}, "calls": [{"id": "e", "op": "expand", "input": "g", "size": [-1, 5, "T"]}]})",
                            R"({"version": 1, "tensors": {"g": ["B", 2, 3]}, "calls": [{"id": "e", "op": "expand", "input": "g", "size": [-1, 6, 4]}]})"}) {
    INFO(other);
    Report report = test::check_text(other);
    REQUIRE(test::find(report, "MHA322") != nullptr);
    for (const Fix& fix : test::find(report, "MHA322")->fixes) CHECK(fix.description.find("repeat_interleave") == std::string::npos);
  }
}

TEST_CASE("repeat with fewer counts than dims (MHA322) is fixed by counts of 1 for the dims kept, placed where the consumers fit", "[glue]") {
  // Register tokens (1, 4, 256) tiled over the batch with one count: the batch dim takes it.
  Report registers = test::check_text(R"({"version": 1, "tensors": {"reg": [1, 4, 256], "x": ["B", "N", 256]},
      "calls": [{"id": "r", "op": "repeat", "input": "reg", "repeats": ["B"], "outputs": ["regs"]},
                {"id": "c", "op": "cat", "tensors": ["regs", "x"], "dim": 1, "outputs": ["xr"]}]})");
  const Fix* tiled = test::first_fix(registers, "MHA322");
  REQUIRE(tiled != nullptr);
  CHECK(tiled->description == "give every dim a count, 1 where the 3-D tensor is kept: reg.repeat(B, 1, 1)");
  CHECK(tiled->valid());
  CHECK(tiled->semantics == FixSemantics::Consistent);
  // A channels-first token (1, C, 1) joined to (B, C, T) on the last dim: the kept dim is the
  // channels, not the last one; the placement that puts 1 last breaks the cat and loses.
  Report channels = test::check_text(R"({"version": 1, "tensors": {"tok": [1, 256, 1], "x": ["B", 256, "T"]},
      "calls": [{"id": "r", "op": "repeat", "input": "tok", "repeats": ["B", 9], "outputs": ["toks"]},
                {"id": "c", "op": "cat", "tensors": ["x", "toks"], "dim": 2, "outputs": ["xt"]}]})");
  const Fix* kept = test::first_fix(channels, "MHA322");
  REQUIRE(kept != nullptr);
  CHECK(kept->description == "give every dim a count, 1 where the 3-D tensor is kept: tok.repeat(B, 1, 9)");
  CHECK(kept->valid());
  // As many counts as dims, or more: no such fix (the check is elsewhere).
  Report enough = test::check_text(op_call("repeat", R"("input": [1, 1, 8], "repeats": ["B", 2, 1])"));
  CHECK(test::find(enough, "MHA322") == nullptr);
}

TEST_CASE("a reduction over the query dim of head-averaged MHA weights, named for the heads, warns: average_attn_weights=False", "[glue][roles]") {
  // Seq-first cross-attention; the weights are (N, L, S) whatever the layout. avg_heads = w.mean(1).
  auto with = [](const std::string& reduction, const std::string& options) {
    return R"j({"version": 1, "modules": {"xattn": "nn.MultiheadAttention(256, 8)"},
        "tensors": {"tgt": ["T", "B", 256], "mem": ["S", "B", 256]},
        "calls": [{"id": "x", "module": "xattn", "query": "tgt", "key": "mem", "value": "mem", "outputs": ["out", "w"])j" +
           options + R"j(},
                  )j" + reduction + "]}";
  };
  Report averaged = test::check_text(with(R"({"id": "r", "op": "mean", "input": "w", "dim": 1, "outputs": ["avg_heads"]})", ""));
  const Diagnostic* rows = test::find(averaged, "MHA423");
  REQUIRE(rows != nullptr);
  CHECK(rows->severity() == Severity::Warning);
  const Fix* fix = test::first_fix(averaged, "MHA423");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "call \"x\" with average_attn_weights=False: per-head weights (N, H, L, S), whose dim 1 the mean then fuses");
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  // A max over the heads written the same way.
  CHECK(test::find(test::check_text(with(R"({"id": "r", "op": "amax", "input": "w", "dim": -2, "outputs": ["head_max"]})", "")), "MHA423") != nullptr);
  // Whole words naming the heads or their fusion.
  for (const char* name : {"heads_avg", "layer_head_fusion", "attn_fused", "attention_rollout"}) {
    INFO(name);
    CHECK(test::find(test::check_text(with(R"({"id": "r", "op": "mean", "input": "w", "dim": 1, "outputs": [")" + std::string(name) + R"("]})", "")),
                     "MHA423") != nullptr);
  }
  // No sign the heads were meant (a mean over the queries is a reading of its own: how much each
  // key is attended to), the per-head weights, or another dim: silent.
  for (const auto& [reduction, options] : std::vector<std::pair<std::string, std::string>>{
           {R"({"id": "r", "op": "mean", "input": "w", "dim": 1, "outputs": ["received"]})", ""},
           // "head" or "fused" inside another word, or naming something else: no sign either.
           {R"({"id": "r", "op": "mean", "input": "w", "dim": 1, "outputs": ["overhead_cost"]})", ""},
           {R"({"id": "r", "op": "sum", "input": "w", "dim": 1, "outputs": ["head_features"]})", ""},
           {R"({"id": "r", "op": "mean", "input": "w", "dim": 1, "outputs": ["fused_token_score"]})", ""},
           {R"({"id": "r", "op": "mean", "input": "w", "dim": 1, "outputs": ["refused"]})", ""},
           {R"({"id": "r", "op": "mean", "input": "w", "dim": 1, "outputs": ["avg_heads"]})", R"(, "average_attn_weights": false)"},
           {R"({"id": "r", "op": "mean", "input": "w", "dim": 2, "outputs": ["head_mean"]})", ""}}) {
    INFO(reduction + options);
    CHECK(test::find(test::check_text(with(reduction, options)), "MHA423") == nullptr);
  }
}
