// unsqueeze, squeeze, flatten and softmax beyond the PyTorch fixtures: symbolic dims and the
// limits of what mhacheck can write as a dim.
#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("unsqueeze counts the result's dims, squeeze keeps symbolic dims", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("unsqueeze", R"("input": ["B", "L"], "dim": -1)"))) == "(B, L, 1)");
  CHECK(test::single_output(test::check_text(op_call("unsqueeze", R"("input": ["B", "L"], "dim": 1)"))) == "(B, 1, L)");
  CHECK(test::single_output(test::check_text(op_call("squeeze", R"("input": ["B", 1, "L", 1])"))) == "(B, L)");
  CHECK(test::single_output(test::check_text(op_call("squeeze", R"("input": ["B", 1, "L"], "dim": 0)"))) == "(B, 1, L)");
  CHECK(test::find(test::check_text(op_call("unsqueeze", R"("input": [2, 3], "dim": 4)")), "MHA300") != nullptr);
}

TEST_CASE("flatten multiplies symbols and constants, not sums", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("flatten", R"("input": ["B", "L", 8, 64], "start_dim": 2)"))) == "(B, L, 512)");
  CHECK(test::single_output(test::check_text(op_call("flatten", R"("input": [4, "L", 8], "end_dim": 1)"))) == "(4*L, 8)");
  CHECK(test::single_output(test::check_text(op_call("flatten", R"("input": [])"))) == "(1,)");
  CHECK(test::single_output(test::check_text(op_call("flatten", R"("input": ["B", "L", 8])"))) == "(8*B*L,)");
  CHECK(test::single_output(test::check_text(op_call("flatten", R"("input": ["L", "B", 8], "end_dim": 1)"))) == "(B*L, 8)");
  Report sum = test::check_text(op_call("flatten", R"("input": ["S+1", "L", 8])"));
  REQUIRE(test::find(sum, "MHA303") != nullptr);
  CHECK(test::find(sum, "MHA303")->message == "flattening dims 0 to 2 of (S+1, L, 8) gives 8*(S+1)*L, which mhacheck cannot write as one dim");
  // One dim flattened is the input itself (ATen returns self), whatever its expression.
  Report single = test::check_text(op_call("flatten", R"("input": ["B", "T-1", 8], "start_dim": 1, "end_dim": 1)"));
  CHECK(test::find(single, "MHA303") == nullptr);
  CHECK(test::single_output(single) == "(B, T-1, 8)");
  CHECK(test::single_output(test::check_text(op_call("flatten", R"("input": ["S+1"])"))) == "(S+1,)");
  Report reversed = test::check_text(op_call("flatten", R"("input": [2, 3, 4], "start_dim": -1, "end_dim": 0)"));
  CHECK(test::raised_message(reversed) == "RuntimeError: flatten() has invalid args: start_dim cannot come after end_dim");
}

TEST_CASE("softmax keeps the shape and needs a floating dtype", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("softmax", R"("input": ["B", 8, "L", "S"], "dim": -1)"))) == "(B, 8, L, S)");
  Report integers = test::check_text(op_call("softmax", R"("input": {"shape": [2, 3], "dtype": "int64"}, "dim": 0)"));
  CHECK(test::raised_message(integers) == "RuntimeError: \"softmax_kernel_impl\" not implemented for 'Long'");
  REQUIRE(test::find(integers, "MHA310") != nullptr);
  REQUIRE_FALSE(test::find(integers, "MHA310")->fixes.empty());
  CHECK(test::find(integers, "MHA310")->fixes[0].verified);
}

TEST_CASE("softmax over a dim named as a batch or heads, in a tensor with a sequence dim, warns MHA265", "[glue][roles]") {
  // softmax(dim=1) of (B, H, L, S) scores, B == H bound: the names, not the sizes, tell the heads.
  Report heads = test::check_text(
      R"({"version": 1, "dims": {"B": 8, "H": 8, "L": 10, "S": 12}, "tensors": {"scores": ["B", "H", "L", "S"]},
          "calls": [{"id": "p", "op": "softmax", "input": "scores", "dim": 1}]})");
  const Diagnostic* over_heads = test::find(heads, "MHA265");
  REQUIRE(over_heads != nullptr);
  CHECK(over_heads->message == "softmax over dim 1 (\"H\", a head count) normalises across heads, not over the sequence dim 3 (\"S\")");
  REQUIRE_FALSE(over_heads->fixes.empty());
  CHECK(over_heads->fixes[0].description == "softmax over dim=-1 (\"S\")");
  CHECK(over_heads->fixes[0].verified);
  CHECK(over_heads->fixes[0].semantics == FixSemantics::Consistent);
  // Attention pooling: (B, T, 1) scores from a Linear, softmaxed over the batch; the fix is the
  // sequence dim, which is not the last one.
  Report pooling = test::check_text(
      R"json({"version": 1, "dims": {"B": 8, "T": 20}, "modules": {"score": "nn.Linear(256, 1)"}, "tensors": {"x": ["B", "T", 256]},
          "calls": [{"id": "l", "module": "score", "input": "x", "outputs": ["s"]}, {"id": "p", "op": "softmax", "input": "s", "dim": 0}]})json");
  const Diagnostic* over_batch = test::find(pooling, "MHA265");
  REQUIRE(over_batch != nullptr);
  REQUIRE_FALSE(over_batch->fixes.empty());
  CHECK(over_batch->fixes[0].description == "softmax over dim=1 (\"T\")");
  CHECK(over_batch->fixes[0].verified);
  // Not reported: the key dim, a (B, B) similarity matrix (no sequence dim), unnamed dims.
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": ["B", "H", "L", "S"], "dim": -1)")), "MHA265") == nullptr);
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": ["B", "B"], "dim": 0)")), "MHA265") == nullptr);
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": [2, 8, 10, 12], "dim": 1)")), "MHA265") == nullptr);
}

TEST_CASE("softmax over a batch merged with the tokens (B*T) warns MHA265 and normalises over the other dim", "[glue][roles]") {
  // A mixture-of-experts router: view(-1, E) merges the batch with the tokens, a Linear scores the
  // experts, and softmax over dim 0 makes each token's routing depend on the other batch entries.
  Report router = test::check_text(
      R"j({"version": 1, "modules": {"gate": "nn.Linear(64, 8, bias=False)"}, "tensors": {"hidden": ["B", "T", 64]},
          "calls": [{"id": "flat", "op": "view", "input": "hidden", "shape": [-1, 64], "outputs": ["h"]},
                    {"id": "gate", "module": "gate", "input": "h", "outputs": ["logits"]},
                    {"id": "sm", "op": "softmax", "input": "logits", "dim": 0}]})j");
  const Diagnostic* over_batch = test::find(router, "MHA265");
  REQUIRE(over_batch != nullptr);
  CHECK(over_batch->severity() == Severity::Warning);
  CHECK(over_batch->message == "softmax over dim 0 (\"B*T\", the batch merged with other dims) normalises across batch entries, not over dim 1 (8)");
  REQUIRE_FALSE(over_batch->fixes.empty());
  CHECK(over_batch->fixes[0].description == "softmax over dim=-1 (8)");
  CHECK(over_batch->fixes[0].verified);
  CHECK(over_batch->fixes[0].semantics == FixSemantics::Consistent);
  // Not reported: the experts' dim, (B*H, L, S) scores over their keys, a merged heads-and-tokens
  // dim, a similarity matrix between merged batch dims.
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": ["B*T", 8], "dim": -1)")), "MHA265") == nullptr);
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": ["B*H", "L", "S"], "dim": -1)")), "MHA265") == nullptr);
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": ["H*T", 8], "dim": 0)")), "MHA265") == nullptr);
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": ["B*T", "B*T"], "dim": 0)")), "MHA265") == nullptr);
  // A batch merged with the heads, softmaxed over it: reported, the fix is the keys.
  Report merged_heads = test::check_text(op_call("softmax", R"("input": ["B*H", "L", "S"], "dim": 0)"));
  const Diagnostic* over_heads = test::find(merged_heads, "MHA265");
  REQUIRE(over_heads != nullptr);
  CHECK(over_heads->fixes.at(0).description == "softmax over dim=-1 (\"S\")");
}

TEST_CASE("softmax over the queries of einsum scores laid out (..., keys, queries) warns MHA286", "[glue][roles][einsum]") {
  // 'bhqd,bhkd->bhkq' scores, scaled, softmaxed over dim=-1 (the queries); the weights are read by
  // the same letters, so PyTorch raises nothing.
  Report keys_first = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "L": 10, "S": 12, "D": 16},
    "tensors": {"q": ["B", "H", "L", "D"], "k": ["B", "H", "S", "D"], "v": ["B", "H", "S", "D"]},
    "calls": [{"id": "s", "op": "einsum", "equation": "bhqd,bhkd->bhkq", "operands": ["q", "k"], "outputs": ["sc"]},
              {"id": "m", "op": "mul", "input": "sc", "other": 0.25, "outputs": ["scaled"]},
              {"id": "p", "op": "softmax", "input": "scaled", "dim": -1, "outputs": ["w"]},
              {"id": "o", "op": "einsum", "equation": "bhkq,bhkd->bhqd", "operands": ["w", "v"]}]})");
  const Diagnostic* over_queries = test::find(keys_first, "MHA286");
  REQUIRE(over_queries != nullptr);
  CHECK(over_queries->call == "p");
  CHECK(over_queries->message ==
        "softmax over dim 3 normalises over the queries: einsum \"bhqd,bhkd->bhkq\" (call \"s\") puts the key letter k (dim 2) before the "
        "query letter q (dim 3), so its scores are (..., keys, queries)");
  REQUIRE_FALSE(over_queries->fixes.empty());
  CHECK(over_queries->fixes[0].description == "softmax over dim=-2 (the keys, letter k of call \"s\")");
  CHECK(over_queries->fixes[0].valid());
  CHECK(over_queries->fixes[0].semantics == FixSemantics::Consistent);
  // i and j: the letter of the operand named like a query is the query's, else the first operand's.
  auto warns = [](const std::string& equation, const std::string& operands, int dim) {
    Report report = test::check_text(R"({"version": 1, "tensors": {"q": [2, 4, 10, 8], "k": [2, 4, 12, 8]},
      "calls": [{"id": "s", "op": "einsum", "equation": ")" + equation + R"(", "operands": )" + operands + R"(, "outputs": ["sc"]},
                {"id": "p", "op": "softmax", "input": "sc", "dim": )" + std::to_string(dim) + "}]}");
    return test::find(report, "MHA286") != nullptr;
  };
  CHECK(warns("bhid,bhjd->bhji", R"(["q", "k"])", -1));
  CHECK_FALSE(warns("bhid,bhjd->bhij", R"(["q", "k"])", -1));
  CHECK_FALSE(warns("bhjd,bhid->bhij", R"(["k", "q"])", -1));
  CHECK(warns("bhjd,bhid->bhji", R"(["k", "q"])", -1));
  CHECK(warns("bhid,bhjd->bhij", R"(["k", "q"])", -1));
  // Slot attention: (..., queries, keys) softmaxed over the queries on purpose.
  CHECK_FALSE(warns("bhid,bhjd->bhij", R"(["q", "k"])", 2));
  // The keys' dim of (..., keys, queries) scores is right.
  CHECK_FALSE(warns("bhqd,bhkd->bhkq", R"(["q", "k"])", 2));
}

TEST_CASE("MHA286 fixes the einsum's layout first when the weights' reader contracts their last dim", "[glue][roles][einsum]") {
  // Self-attention's 'bqd,bkd->bkq' scores softmaxed over the last dim (the queries), then dropped
  // out and read by weights @ v, which contracts the last dim: softmax over dim=-2 would hand that product each
  // key's column. The layout was the slip: the equation's output letters swapped come first.
  auto fixes = [](const std::string& reader) {
    Report report = test::check_text(R"({"version": 1, "dims": {"B": 3, "T": 6, "D": 16},
      "tensors": {"q": ["B", "T", "D"], "k": ["B", "T", "D"], "v": ["B", "T", "D"]},
      "calls": [{"id": "s", "op": "einsum", "equation": "bqd,bkd->bkq", "operands": ["q", "k"], "outputs": ["sc"]},
                {"id": "p", "op": "softmax", "input": "sc", "dim": -1, "outputs": ["w"]},
                {"id": "dr", "op": "dropout", "input": "w", "p": 0.1, "outputs": ["wd"]}, )" + reader + "]}");
    const Diagnostic* over_queries = test::find(report, "MHA286");
    REQUIRE(over_queries != nullptr);
    REQUIRE_FALSE(over_queries->fixes.empty());
    return std::make_pair(over_queries->fixes[0].description + " | " + semantics_name(over_queries->fixes[0].semantics),
                          over_queries->fixes.size() > 1 ? semantics_name(over_queries->fixes[1].semantics) : std::string("none"));
  };
  // softmax over dim=-2 is second and suspect: weights @ v would then sum weights over the dim they
  // are not normalised over (the re-check of the patched spec meets MHA431).
  auto [first, second] = fixes(R"({"id": "o", "op": "matmul", "input": "wd", "other": "v"})");
  CHECK(first == "lay the scores out (..., queries, keys): einsum 'bqd,bkd->bqk' in call \"s\" | consistent");
  CHECK(second == "suspect");
  // A reader that contracts the weights' dim -2 reads them (..., keys, queries): the softmax's dim is the slip.
  auto [kept, other] = fixes(R"({"id": "o", "op": "einsum", "equation": "bkq,bkd->bqd", "operands": ["wd", "v"]})");
  CHECK(kept == "softmax over dim=-2 (the keys, letter k of call \"s\") | consistent");
  CHECK(other != "suspect");
}

TEST_CASE("MHA286 spares weights normalised again over the keys after a softmax over the queries (slot attention)", "[glue][roles][einsum]") {
  // einsum('bid,bjd->bij', k, q): (B, keys, slots) scores softmaxed over the slots, the queries,
  // then each slot's weights divided by their sum over the keys (dim -2, or 1), maybe plus an eps,
  // or the weighted mean divided by that sum. Without the renormalisation it is reported.
  auto warns = [](const std::string& after) {
    Report report = test::check_text(R"({"version": 1, "dims": {"B": 4, "N": 64, "K": 7, "D": 32},
      "tensors": {"k": ["B", "N", "D"], "q": ["B", "K", "D"], "v": ["B", "N", "D"]},
      "calls": [{"id": "e", "op": "einsum", "equation": "bid,bjd->bij", "operands": ["k", "q"], "outputs": ["dots"]},
                {"id": "sm", "op": "softmax", "input": "dots", "dim": -1, "outputs": ["attn"]})" + after + "]}");
    return test::find(report, "MHA286") != nullptr;
  };
  CHECK(warns(""));
  CHECK_FALSE(warns(R"(, {"id": "su", "op": "sum", "input": "attn", "dim": -2, "keepdim": true, "outputs": ["z"]},
                       {"id": "dv", "op": "div", "input": "attn", "other": "z"})"));
  CHECK_FALSE(warns(R"(, {"id": "ep", "op": "add", "input": "attn", "other": 1e-8, "outputs": ["a2"]},
                       {"id": "su", "op": "sum", "input": "a2", "dim": [1], "keepdim": true, "outputs": ["z"]},
                       {"id": "dv", "op": "div", "input": "a2", "other": "z"})"));
  CHECK_FALSE(warns(R"(, {"id": "o", "op": "einsum", "equation": "bij,bid->bjd", "operands": ["attn", "v"], "outputs": ["u"]},
                       {"id": "su", "op": "sum", "input": "attn", "dim": 1, "outputs": ["z"]},
                       {"id": "zu", "op": "unsqueeze", "input": "z", "dim": -1, "outputs": ["z3"]},
                       {"id": "dv", "op": "div", "input": "u", "other": "z3"})"));
  // A sum over the queries' dim is no renormalisation over the keys.
  CHECK(warns(R"(, {"id": "su", "op": "sum", "input": "attn", "dim": -1, "keepdim": true, "outputs": ["z"]},
                 {"id": "dv", "op": "div", "input": "attn", "other": "z"})"));
}

TEST_CASE("softmax over dim -2 of q @ k.transpose(-2, -1) scores, the queries, warns MHA286", "[glue][roles]") {
  // Single-head (B, L, S) scores softmaxed over dim=1: each key's column sums to 1 over the queries.
  auto check = [](const std::string& first, const std::string& second, const std::string& transpose, int dim, const std::string& after = "") {
    return test::check_text(R"({"version": 1, "tensors": {")" + first + R"(": ["B", "L", 64], ")" + second + R"(": ["B", "S", 64]},
      "calls": [{"id": "kt", "op": "transpose", "input": ")" + second + R"(", )" + transpose + R"(, "outputs": ["kT"]},
                {"id": "sc", "op": "matmul", "input": ")" + first + R"(", "other": "kT", "outputs": ["scores"]},
                {"id": "sm", "op": "softmax", "input": "scores", "dim": )" + std::to_string(dim) + R"(, "outputs": ["attn"]})" + after + "]}");
  };
  Report over_queries = check("q", "k", R"("dim0": 1, "dim1": 2)", 1);
  const Diagnostic* found = test::find(over_queries, "MHA286");
  REQUIRE(found != nullptr);
  CHECK(found->call == "sm");
  CHECK(found->message ==
        "softmax over dim 1 normalises over the queries: the scores q @ kT (call \"sc\", \"kT\" transposed by call \"kt\") are (..., queries, keys), "
        "the queries in dim 1 and the keys in dim 2");
  REQUIRE_FALSE(found->fixes.empty());
  CHECK(found->fixes[0].description == "softmax over dim=-1 (the keys of call \"sc\")");
  CHECK(found->fixes[0].verified);
  CHECK(found->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(test::find(check("q", "k", R"("dim0": -1, "dim1": -2)", -2), "MHA286") != nullptr);
  // Not reported: the keys' dim; k @ q^T, laid out (..., keys, queries) on purpose; a transpose of
  // other dims; weights normalised again over the keys (slot attention).
  CHECK(test::find(check("q", "k", R"("dim0": 1, "dim1": 2)", -1), "MHA286") == nullptr);
  CHECK(test::find(check("k", "q", R"("dim0": 1, "dim1": 2)", 1), "MHA286") == nullptr);
  CHECK(test::find(check("q", "k", R"("dim0": 0, "dim1": 2)", 1), "MHA286") == nullptr);
  CHECK(test::find(check("q", "k", R"("dim0": 1, "dim1": 2)", 1,
                         R"(, {"id": "su", "op": "sum", "input": "attn", "dim": -1, "keepdim": true, "outputs": ["z"]},
                              {"id": "dv", "op": "div", "input": "attn", "other": "z"})"),
                   "MHA286") == nullptr);
}

TEST_CASE("softmax over dim -2 of scores whose keys a permute (or .mT) transposed warns MHA286 too", "[glue][roles]") {
  // (B, H, L, D) queries times keys made (B, H, D, S) by permute: of (B, H, S, D), or of (B, S, H, D).
  auto check = [](const std::string& key_shape, const std::string& dims, int softmax_dim) {
    return test::check_text(R"({"version": 1, "tensors": {"q": ["B", "H", "L", 16], "k": )" + key_shape + R"(},
      "calls": [{"id": "kp", "op": "permute", "input": "k", "dims": )" + dims + R"(, "outputs": ["kT"]},
                {"id": "sc", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]},
                {"id": "sm", "op": "softmax", "input": "scores", "dim": )" + std::to_string(softmax_dim) + "}]}");
  };
  Report swapped = check(R"(["B", "H", "S", 16])", "[0, 1, 3, 2]", -2);
  const Diagnostic* found = test::find(swapped, "MHA286");
  REQUIRE(found != nullptr);
  CHECK(found->message ==
        "softmax over dim 2 normalises over the queries: the scores q @ kT (call \"sc\", \"kT\" permuted by call \"kp\") are (..., queries, keys), "
        "the queries in dim 2 and the keys in dim 3");
  REQUIRE_FALSE(found->fixes.empty());
  CHECK(found->fixes[0].description == "softmax over dim=-1 (the keys of call \"sc\")");
  CHECK(found->fixes[0].valid());
  CHECK(test::find(check(R"(["B", "S", "H", 16])", "[0, 2, 3, 1]", 2), "MHA286") != nullptr);
  CHECK(test::find(check(R"(["B", "H", "S", 16])", "[0, 1, -1, -2]", -2), "MHA286") != nullptr);
  // Over the keys, or a permute that does not bring the keys' features to dim -2: nothing.
  CHECK(test::find(check(R"(["B", "H", "S", 16])", "[0, 1, 3, 2]", -1), "MHA286") == nullptr);
  CHECK(test::find(check(R"(["B", "H", 16, "S"])", "[0, 1, 2, 3]", -2), "MHA286") == nullptr);
  // k.mT, which the tracer writes as transpose(-2, -1), of 4-D keys.
  Report matrix_transposed = test::check_text(R"({"version": 1, "tensors": {"q": ["B", "H", "L", 16], "k": ["B", "H", "S", 16]},
      "calls": [{"id": "kt", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kT"]},
                {"id": "sc", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]},
                {"id": "sm", "op": "softmax", "input": "scores", "dim": 2}]})");
  CHECK(test::find(matrix_transposed, "MHA286") != nullptr);
}

TEST_CASE("softmax over a literal size-1 dim warns MHA265: every weight is 1", "[glue][roles]") {
  // Attention-MIL: Linear(128, 1) scores (N, 1) transposed to (1, N), softmaxed over dim 0.
  auto check = [](int dim, const std::string& dims = "{}") {
    return test::check_text(R"({"version": 1, "dims": )" + dims + R"j(, "modules": {"att": "nn.Linear(128, 1)"}, "tensors": {"h": ["N", 128]},
      "calls": [{"id": "l", "module": "att", "input": "h", "outputs": ["a"]},
                {"id": "t", "op": "transpose", "input": "a", "dim0": 0, "dim1": 1, "outputs": ["at"]},
                {"id": "sm", "op": "softmax", "input": "at", "dim": )j" + std::to_string(dim) + "}]}");
  };
  Report all_ones = check(0);
  const Diagnostic* found = test::find(all_ones, "MHA265");
  REQUIRE(found != nullptr);
  CHECK(found->message == "softmax over dim 0, of size 1: every weight is 1, whatever the scores; dim 1 (\"N\") holds the entries to normalise over");
  REQUIRE_FALSE(found->fixes.empty());
  CHECK(found->fixes[0].description == "softmax over dim=-1");
  CHECK(found->fixes[0].verified);
  CHECK(test::find(check(0, R"({"N": 7})"), "MHA265") != nullptr);
  CHECK(test::find(check(1), "MHA265") == nullptr);
  // A size 1 by binding of a symbol the user kept general is not reported, nor a tensor of one entry.
  CHECK(test::find(test::check_text(R"({"version": 1, "dims": {"K": 1}, "tensors": {"x": ["K", "N"]},
      "calls": [{"id": "s", "op": "softmax", "input": "x", "dim": 0}]})"), "MHA265") == nullptr);
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": [1, 1], "dim": 0)")), "MHA265") == nullptr);
  CHECK(test::find(test::check_text(op_call("softmax", R"("input": [1, 5], "dim": 0)")), "MHA265") != nullptr);
  // Cross-attention to one memory token: scores (B, L, 1) softmaxed over their one key mean what they say.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"q": ["B", "L", 64], "m": ["B", 1, 64]},
      "calls": [{"id": "t", "op": "transpose", "input": "m", "dim0": 1, "dim1": 2, "outputs": ["mt"]},
                {"id": "s", "op": "matmul", "input": "q", "other": "mt", "outputs": ["scores"]},
                {"id": "sm", "op": "softmax", "input": "scores", "dim": -1}]})"), "MHA265") == nullptr);
}

TEST_CASE("softmax over a dim that masked_fill stretched from size 1 warns MHA293, the fix transposes the per-row sum's operand", "[glue][softmax]") {
  // Edge scores of a graph layer written s_i + d_i with both (N, 1) (s + d.T meant), then
  // leaky_relu, masked by the (N, N) adjacency and normalised over the neighbours (dim -1).
  const std::string graph = R"({"version": 1, "dims": {"N": 20}, "tensors": {"h": ["N", 32], "w_src": [32, 1], "w_dst": [32, 1],
      "adj": {"shape": ["N", "N"], "dtype": "bool"}},
    "calls": [{"id": "src", "op": "matmul", "input": "h", "other": "w_src", "outputs": ["s"]},
              {"id": "dst", "op": "matmul", "input": "h", "other": "w_dst", "outputs": ["d"]},
              {"id": "pair", "op": "add", "input": "s", "other": "%s", "outputs": ["e"]},
              {"id": "act", "op": "relu", "input": "e", "outputs": ["ea"]},
              {"id": "nonedge", "op": "bitwise_not", "input": "adj", "outputs": ["none"]},
              {"id": "fill", "op": "masked_fill", "input": "ea", "mask": "none", "value": "-inf", "outputs": ["em"]},
              {"id": "norm", "op": "softmax", "input": "em", "dim": -1, "outputs": ["alpha"]}]})";
  auto spec = [&](const std::string& operand, const std::string& extra_call) {
    std::string text = graph;
    text.replace(text.find("%s"), 2, operand);
    if (!extra_call.empty()) text.replace(text.find("{\"id\": \"pair\""), 0, extra_call + ", ");
    return text;
  };
  Report stretched = test::check_text(spec("d", ""));
  const Diagnostic* uniform = test::find(stretched, "MHA293");
  REQUIRE(uniform != nullptr);
  CHECK(uniform->call == "norm");
  CHECK(uniform->message ==
        "softmax over dim 1 of em: the scores ea (20, 1) hold one value along that dim, which masked_fill (call \"fill\") stretches to the "
        "mask none's N entries; every unmasked entry then gets the same weight, whatever the scores (uniform attention)");
  REQUIRE_FALSE(uniform->fixes.empty());
  CHECK(uniform->fixes.front().description ==
        "s + d.transpose(0, 1) in call \"pair\" (or d.T): the pairwise sum, one score per (N, N) pair, not one per row");
  CHECK(uniform->fixes.front().valid());
  CHECK(uniform->fixes.front().semantics == FixSemantics::Consistent);
  // The pairwise sum, and scores that are (N, N) already, say nothing.
  const std::string transposed = R"({"id": "dt", "op": "transpose", "input": "d", "dim0": 0, "dim1": 1, "outputs": ["dT"]})";
  CHECK(test::find(test::check_text(spec("dT", transposed)), "MHA293") == nullptr);
  CHECK(test::find(test::check_text(R"({"tensors": {"x": ["N", "N"], "m": {"shape": ["N", "N"], "dtype": "bool"}},
      "calls": [{"id": "f", "op": "masked_fill", "input": "x", "mask": "m", "value": "-inf", "outputs": ["y"]},
                {"id": "s", "op": "softmax", "input": "y", "dim": -1}]})"), "MHA293") == nullptr);
  // One query row stretched over the queries by a causal mask, softmaxed over the keys: the
  // stretched dim is not the one normalised.
  CHECK(test::find(test::check_text(R"({"tensors": {"x": ["B", 4, 1, "T"], "m": {"shape": ["T", "T"], "dtype": "bool"}},
      "calls": [{"id": "f", "op": "masked_fill", "input": "x", "mask": "m", "value": "-inf", "outputs": ["y"]},
                {"id": "s", "op": "softmax", "input": "y", "dim": -1}]})"), "MHA293") == nullptr);
}

TEST_CASE("softmax of a constant column masked_fill stretched is uniform on purpose: no MHA293", "[glue][softmax]") {
  // The mean over each node's neighbours written as attention: zeros(N, 1) filled with -inf off
  // the adjacency, softmaxed over the neighbours; no scores to lose.
  auto spec = [](const std::string& constructor) {
    return R"({"version": 1, "dims": {"N": 20}, "tensors": {"adj": {"shape": ["N", "N"], "dtype": "bool"}, "h": ["N", 16], "e": ["N", 1]},
      "calls": [{"id": "z", "op": ")" + constructor + R"(", "size": ["N", 1], "outputs": ["z"]},
                {"id": "inv", "op": "bitwise_not", "input": "adj", "outputs": ["none"]},
                {"id": "f", "op": "masked_fill", "input": "z", "mask": "none", "value": "-inf", "outputs": ["zm"]},
                {"id": "s", "op": "softmax", "input": "zm", "dim": -1, "outputs": ["w"]},
                {"id": "agg", "op": "matmul", "input": "w", "other": "h", "outputs": ["mean_nb"]}]})";
  };
  Report zeros = test::check_text(spec("zeros"));
  CHECK(zeros.calls.back().ok);
  CHECK(test::find(zeros, "MHA293") == nullptr);
  CHECK(test::find(test::check_text(spec("ones")), "MHA293") == nullptr);
}

TEST_CASE("softmax over a dim that torch.where stretched from size 1 beside a constant fill warns MHA293", "[glue][softmax]") {
  // pyGAT's form: torch.where(adj > 0, e, -9e15 * ones_like(e)) with e (N, 1), softmax over dim 1.
  auto spec = [](const std::string& second) {
    return R"({"version": 1, "tensors": {"h": ["N", 8], "a": [8, 1], "b": [8, 1], "adj": {"shape": ["N", "N"], "dtype": "bool"}},
      "calls": [{"id": "sa", "op": "matmul", "input": "h", "other": "a", "outputs": ["s"]},
                {"id": "sb", "op": "matmul", "input": "h", "other": "b", "outputs": ["d"]},
                {"id": "dt", "op": "transpose", "input": "d", "dim0": 0, "dim1": 1, "outputs": ["dT"]},
                {"id": "pair", "op": "add", "input": "s", "other": ")" + second + R"(", "outputs": ["e"]},
                {"id": "one", "op": "ones_like", "input": "e", "outputs": ["o"]},
                {"id": "low", "op": "mul", "input": "o", "other": -9e15, "outputs": ["low"]},
                {"id": "keep", "op": "where", "condition": "adj", "input": "e", "other": "low", "outputs": ["em"]},
                {"id": "norm", "op": "softmax", "input": "em", "dim": 1}]})";
  };
  Report per_row = test::check_text(spec("d"));
  const Diagnostic* uniform = test::find(per_row, "MHA293");
  REQUIRE(uniform != nullptr);
  REQUIRE_FALSE(uniform->fixes.empty());
  CHECK(uniform->fixes.front().description == "s + d.transpose(0, 1) in call \"pair\" (or d.T): the pairwise sum, one score per (N, N) pair, not one per row");
  CHECK(uniform->fixes.front().valid());
  CHECK(test::find(test::check_text(spec("dT")), "MHA293") == nullptr);
}

TEST_CASE("softmax normalised again over its own dim (a no-op) warns: the softmax was meant over the other of the last two dims", "[glue][roles][einsum]") {
  // Multi-head slot attention: (B, H, slots, N) scores from einsum, softmaxed over the inputs,
  // then + eps and divided by their sum over the inputs again.
  auto check = [](int softmax_dim, int sum_dim, int slots) {
    return test::check_text(R"({"version": 1, "tensors": {"s": ["B", 4, )" + std::to_string(slots) + R"(, 16], "x": ["B", 4, "N", 16], "v": ["B", 4, "N", 16]},
      "calls": [{"id": "e", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["s", "x"], "outputs": ["logits"]},
                {"id": "sm", "op": "softmax", "input": "logits", "dim": )" + std::to_string(softmax_dim) + R"(, "outputs": ["w"]},
                {"id": "ep", "op": "add", "input": "w", "other": 1e-8, "outputs": ["w2"]},
                {"id": "su", "op": "sum", "input": "w2", "dim": )" + std::to_string(sum_dim) + R"(, "keepdim": true, "outputs": ["z"]},
                {"id": "dv", "op": "div", "input": "w2", "other": "z", "outputs": ["wn"]},
                {"id": "o", "op": "einsum", "equation": "bhij,bhjd->bhid", "operands": ["wn", "v"], "outputs": ["updates"]}]})");
  };
  Report inputs = check(-1, 3, 5);
  const Diagnostic* found = test::find(inputs, "MHA424");
  REQUIRE(found != nullptr);
  CHECK(found->call == "sm");
  const Fix* fix = test::first_fix(inputs, "MHA424");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "softmax over dim=-2 (5), the sum over dim -1 then making each weighted mean");
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  // Over the slots, then the inputs (slot attention as written), or no second normalisation of
  // the same dim, or a single slot: silent.
  CHECK(test::find(check(-2, -1, 5), "MHA424") == nullptr);
  CHECK(test::find(check(2, 3, 5), "MHA424") == nullptr);
  CHECK(test::find(check(-1, 3, 1), "MHA424") == nullptr);
}

TEST_CASE("MHA424 spares self-attention renormalised again for safety and a sum that divides another tensor", "[glue][roles][einsum]") {
  // (B, T, T) self-attention weights from q @ k^T, + eps, divided by their sum over the keys, then
  // read by weights @ values over the keys: a redundant renormalisation, not slot attention.
  auto check = [](const std::string& keys, const std::string& tail) {
    return test::check_text(R"({"version": 1, "tensors": {"q": ["B", "T", 32], "k": [")" + keys + R"(", "B", 32], "v": ["B", ")" + keys + R"(", 32]},
      "calls": [{"id": "kp", "op": "permute", "input": "k", "dims": [1, 2, 0], "outputs": ["kT"]},
                {"id": "sc", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]},
                {"id": "sm", "op": "softmax", "input": "scores", "dim": 2, "outputs": ["w"]},
                {"id": "ep", "op": "add", "input": "w", "other": 1e-6, "outputs": ["w_safe"]},
                {"id": "su", "op": "sum", "input": "w_safe", "dim": 2, "keepdim": true, "outputs": ["total"]})" + tail + "]}");
  };
  const std::string renormalised = R"(, {"id": "dv", "op": "div", "input": "w_safe", "other": "total", "outputs": ["w_norm"]},
                {"id": "o", "op": "matmul", "input": "w_norm", "other": "v", "outputs": ["out"]})";
  CHECK(test::find(check("T", renormalised), "MHA424") == nullptr);
  // Slots attending to inputs of another count, written the same way: the slots were meant to compete.
  CHECK(test::find(check("N", renormalised), "MHA424") != nullptr);
  // The sum divides another tensor (a count), not the weights: nothing is renormalised.
  CHECK(test::find(check("N", R"(, {"id": "dv", "op": "div", "input": "q", "other": "total", "outputs": ["ratio"]})"), "MHA424") == nullptr);
}

namespace {

// The first fix of the first MHA431 of `spec` as "dim=N" (the argument it sets), "" when none.
std::string weighted_sum_fix(const std::string& spec) {
  const Report report = test::check_text(spec);
  const Diagnostic* found = test::find(report, "MHA431");
  if (found == nullptr || found->fixes.empty() || !found->fixes[0].valid()) return "";
  return "dim=" + found->fixes[0].patch.at(0).at("value").dump();
}

// Einsum attention with scores `scores` softmaxed over `dim`, the weights read by `reader`.
std::string einsum_attention(const std::string& scores, int dim, const std::string& reader, const std::string& shapes) {
  return R"({"version": 1, "tensors": )" + shapes + R"(,
    "calls": [{"id": "s", "op": "einsum", "equation": ")" + scores + R"(", "operands": ["q", "k"], "outputs": ["sc"]},
              {"id": "m", "op": "mul", "input": "sc", "other": 0.125, "outputs": ["sc2"]},
              {"id": "p", "op": "softmax", "input": "sc2", "dim": )" + std::to_string(dim) + R"(, "outputs": ["w"]},
              {"id": "d", "op": "dropout", "input": "w", "p": 0.1, "outputs": ["w2"]},
              {"id": "o", "op": "einsum", "equation": ")" + reader + R"(", "operands": ["w2", "v"], "outputs": ["out"]}]})";
}

}  // namespace

TEST_CASE("softmax over another dim than the one the einsum reading the weights sums warns MHA431", "[glue][roles][einsum]") {
  // Seq-first (I, J, B, N) scores: the keys are j, dim 1, the letter the reader contracts with v.
  const std::string seq_first = R"({"q": ["I", "B", 16, 64], "k": ["J", "B", 16, 64], "v": ["J", "B", 16, 64]})";
  const Report heads = test::check_text(einsum_attention("ibnd,jbnd->ijbn", -1, "ijbn,jbnd->ibnd", seq_first));
  const Diagnostic* over_heads = test::find(heads, "MHA431");
  REQUIRE(over_heads != nullptr);
  CHECK(over_heads->call == "p");
  CHECK(over_heads->message ==
        "softmax over dim 3 (16), but call \"o\" (einsum) sums the weights over dim 1 (\"J\"): the weights sum to 1 along a dim that is kept, "
        "not along the one the weighted sum runs over");
  REQUIRE_FALSE(over_heads->fixes.empty());
  CHECK(over_heads->fixes[0].description == "softmax over dim=1 (\"J\", the dim call \"o\" sums over)");
  CHECK(over_heads->fixes[0].verified);
  CHECK(weighted_sum_fix(einsum_attention("ibnd,jbnd->ijbn", 0, "ijbn,jbnd->ibnd", seq_first)) == "dim=1");  // the queries
  CHECK(weighted_sum_fix(einsum_attention("ibnd,jbnd->ijbn", 2, "ijbn,jbnd->ibnd", seq_first)) == "dim=1");  // the batch
  CHECK(weighted_sum_fix(einsum_attention("ibnd,jbnd->ijbn", 1, "ijbn,jbnd->ibnd", seq_first)).empty());
  CHECK(weighted_sum_fix(einsum_attention("ibnd,jbnd->ijbn", -3, "ijbn,jbnd->ibnd", seq_first)).empty());
  // Heads first, and batch first with the heads after the queries' positions.
  const std::string heads_first = R"({"q": ["B", 12, "T", 64], "k": ["B", 12, "S", 64], "v": ["B", 12, "S", 64]})";
  CHECK(weighted_sum_fix(einsum_attention("bnid,bnjd->bnij", 1, "bnij,bnjd->bnid", heads_first)) == "dim=-1");
  CHECK(weighted_sum_fix(einsum_attention("bnid,bnjd->bnij", -1, "bnij,bnjd->bnid", heads_first)).empty());
  const std::string batch_first = R"({"q": ["B", "L", 8, 32], "k": ["B", "S", 8, 32], "v": ["B", "S", 8, 32]})";
  CHECK(weighted_sum_fix(einsum_attention("bqhd,bkhd->bhqk", 2, "bhqk,bkhd->bqhd", batch_first)) == "dim=-1");
  CHECK(weighted_sum_fix(einsum_attention("bqhd,bkhd->bhqk", 3, "bhqk,bkhd->bqhd", batch_first)).empty());
  // Talking heads mix the heads' weights ('bhij,hk->bkij'): a contraction over the heads, not the keys.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, "T", 64], "k": ["B", 8, "T", 64], "v": ["B", 8, "T", 64], "mix": [8, 8]},
    "calls": [{"id": "s", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["q", "k"], "outputs": ["sc"]},
              {"id": "p", "op": "softmax", "input": "sc", "dim": -1, "outputs": ["w"]},
              {"id": "t", "op": "einsum", "equation": "bhij,hk->bkij", "operands": ["w", "mix"], "outputs": ["w2"]},
              {"id": "o", "op": "einsum", "equation": "bkij,bkjd->bkid", "operands": ["w2", "v"], "outputs": ["out"]}]})"),
                   "MHA431") == nullptr);
  // q @ k^T softmaxed over the heads, read by weights @ v.
  auto product = [](int dim) {
    return R"({"version": 1, "tensors": {"q": ["B", 8, "T", 64], "k": ["B", 8, "T", 64], "v": ["B", 8, "T", 64]},
      "calls": [{"id": "t", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kt"]},
                {"id": "s", "op": "matmul", "input": "q", "other": "kt", "outputs": ["sc"]},
                {"id": "p", "op": "softmax", "input": "sc", "dim": )" + std::to_string(dim) + R"(, "outputs": ["w"]},
                {"id": "o", "op": "matmul", "input": "w", "other": "v", "outputs": ["out"]}]})";
  };
  CHECK(weighted_sum_fix(product(1)) == "dim=-1");
  CHECK(weighted_sum_fix(product(-1)).empty());
}

TEST_CASE("softmax over another dim than the sum of weights * values warns MHA431", "[glue][roles]") {
  // Vector attention (B, P, K, C): the K neighbours are summed, the softmax must run over them.
  auto vector_attention = [](int dim) {
    return R"({"version": 1, "tensors": {"x_q": ["B", "P", 1, 32], "x_k": ["B", "P", 8, 32], "x_v": ["B", "P", 8, 32], "pos": ["B", "P", 8, 32]},
      "calls": [{"id": "s", "op": "sub", "input": "x_k", "other": "x_q", "outputs": ["rel"]},
                {"id": "a", "op": "add", "input": "rel", "other": "pos", "outputs": ["rel2"]},
                {"id": "r", "op": "relu", "input": "rel2", "outputs": ["w"]},
                {"id": "p", "op": "softmax", "input": "w", "dim": )" + std::to_string(dim) + R"(, "outputs": ["w2"]},
                {"id": "vv", "op": "add", "input": "x_v", "other": "pos", "outputs": ["v2"]},
                {"id": "m", "op": "mul", "input": "v2", "other": "w2", "outputs": ["wv"]},
                {"id": "su", "op": "sum", "input": "wv", "dim": [2], "outputs": ["y"]}]})";
  };
  CHECK(weighted_sum_fix(vector_attention(1)) == "dim=2");
  CHECK(weighted_sum_fix(vector_attention(-1)) == "dim=2");
  CHECK(weighted_sum_fix(vector_attention(2)).empty());
  CHECK(weighted_sum_fix(vector_attention(-2)).empty());
  // A distillation loss: the teacher's (B, K) probabilities softmaxed over the batch, summed with the
  // student's log-probabilities (made after the softmax) over K.
  auto teacher = [](int dim) {
    return R"({"version": 1, "tensors": {"t_out": ["B", 4096], "s_out": ["B", 4096], "center": [1, 4096]},
      "calls": [{"id": "s", "op": "sub", "input": "t_out", "other": "center", "outputs": ["t1"]},
                {"id": "d", "op": "div", "input": "t1", "other": 0.04, "outputs": ["t2"]},
                {"id": "p", "op": "softmax", "input": "t2", "dim": )" + std::to_string(dim) + R"(, "outputs": ["q"]},
                {"id": "ds", "op": "div", "input": "s_out", "other": 0.1, "outputs": ["s2"]},
                {"id": "l", "op": "log_softmax", "input": "s2", "dim": 1, "outputs": ["lp"]},
                {"id": "m", "op": "mul", "input": "lp", "other": "q", "outputs": ["pr"]},
                {"id": "su", "op": "sum", "input": "pr", "dim": 1, "outputs": ["per"]}]})";
  };
  CHECK(weighted_sum_fix(teacher(0)) == "dim=-1");
  CHECK(weighted_sum_fix(teacher(1)).empty());
  // MoE gates (B, T, E) unsqueezed and combined over the experts.
  auto gates = [](int dim) {
    return R"({"version": 1, "tensors": {"logits": ["B", "T", 4], "expert_out": ["B", "T", 4, 256]},
      "calls": [{"id": "p", "op": "softmax", "input": "logits", "dim": )" + std::to_string(dim) + R"(, "outputs": ["g"]},
                {"id": "u", "op": "unsqueeze", "input": "g", "dim": -1, "outputs": ["g4"]},
                {"id": "m", "op": "mul", "input": "g4", "other": "expert_out", "outputs": ["prod"]},
                {"id": "su", "op": "sum", "input": "prod", "dim": 2, "outputs": ["y"]}]})";
  };
  CHECK(weighted_sum_fix(gates(1)) == "dim=-1");
  CHECK(weighted_sum_fix(gates(-1)).empty());
  // Per-head weights (1, H, 1, 1) fuse whole distributions over the heads: nothing to say.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"sc": ["B", 8, "T", "T"], "hw": [1, 8, 1, 1]},
    "calls": [{"id": "p", "op": "softmax", "input": "sc", "dim": -1, "outputs": ["w"]},
              {"id": "m", "op": "mul", "input": "w", "other": "hw", "outputs": ["wh"]},
              {"id": "su", "op": "sum", "input": "wh", "dim": 1, "outputs": ["fused"]}]})"),
                   "MHA431") == nullptr);
  // Capsule routing's first round: zeros logits, softmaxed over the parents, summed over the children.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"u_hat": ["B", 1152, 10, 16]},
    "calls": [{"id": "z", "op": "zeros", "size": [1, 1152, 10, 1], "outputs": ["b"]},
              {"id": "p", "op": "softmax", "input": "b", "dim": 2, "outputs": ["c"]},
              {"id": "m", "op": "mul", "input": "c", "other": "u_hat", "outputs": ["cu"]},
              {"id": "su", "op": "sum", "input": "cu", "dim": 1, "keepdim": true, "outputs": ["s"]}]})"),
                   "MHA431") == nullptr);
}
