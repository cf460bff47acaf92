// torch.einsum and torch.bmm beyond the PyTorch fixtures: symbolic sizes through attention's
// equations, dim names carried to the output, where diagnostics point, fixes, mhacheck's own
// messages.
#include <algorithm>

#include <fmt/format.h>

#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("einsum's attention equations keep symbolic sizes: scores (B, H, T, S), context (B, H, T, D)", "[glue][einsum]") {
  Report report = test::check_text(R"({"tensors": {"q": ["B", 8, "T", 64], "k": ["B", 8, "S", 64], "v": ["B", 8, "S", 64]}, "modules": {},
    "calls": [{"id": "scores", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["q", "k"], "outputs": ["s"]},
              {"id": "probs", "op": "softmax", "input": "s", "dim": -1, "outputs": ["p"]},
              {"id": "context", "op": "einsum", "equation": "bhij,bhjd->bhid", "operands": ["p", "v"]}]})");
  CHECK(report.ok());
  CHECK(report.diagnostics.empty());
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(B, 8, T, S)");
  CHECK(tuple_str(report.calls.at(2).outputs.at(0).shape) == "(B, 8, T, 64)");
}

TEST_CASE("einsum's output dims take the names of the operand dims they come from", "[glue][einsum]") {
  Report report = test::check_text(R"({"dims": {"B": 2, "T": 5, "S": 7}, "tensors": {"q": ["B", 4, "T", 16], "k": [1, 4, "S", 16]},
    "modules": {}, "calls": [{"id": "scores", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["q", "k"]}]})");
  REQUIRE(report.ok());
  const NamedOutput& scores = report.calls.at(0).outputs.at(0);
  CHECK(tuple_str(scores.shape) == "(2, 4, 5, 7)");
  CHECK(scores.dim_names == std::vector<std::string>{"B", "", "T", "S"});
}

TEST_CASE("einsum: a size two symbols must share warns, a batch size against a sequence length is an error", "[glue][einsum]") {
  Report condition = test::check_text(op_call("einsum", R"("equation": "bhid,bhjd->bhij", "operands": [["B", 4, "T", "D"], ["B", 4, "T", 16]])"));
  CHECK(condition.ok());
  CHECK(test::find(condition, "MHA080") != nullptr);  // valid only if D == 16
  Report swapped = test::check_text(op_call("einsum", R"("equation": "bhid,bhjd->bhij", "operands": [["B", 4, "T", 16], ["T", 4, "B", 16]])"));
  CHECK_FALSE(swapped.ok());
  CHECK(test::find(swapped, "MHA083") != nullptr);
}

TEST_CASE("einsum: sizes that differ but could be 1 broadcast under a condition", "[glue][einsum]") {
  // S-1 != S+1, but at S == 2 the first is 1 and broadcasts: (S+1,) as the result.
  Report report = test::check_text(op_call("einsum", R"("equation": "i,i->i", "operands": [["S-1"], ["S+1"]])"));
  CHECK(report.ok());
  CHECK(test::find(report, "MHA364") == nullptr);
  const Diagnostic* condition = test::find(report, "MHA080");
  REQUIRE(condition != nullptr);
  CHECK(condition->message == "valid only if S-1 == 1 (the sizes of subscript i differ; only a size of 1 broadcasts)");
  CHECK(test::single_output(report) == "(S+1,)");
  // S-1 against S: a symbol is taken as not 1, so only S-1 can be.
  Report against_symbol = test::check_text(op_call("einsum", R"("equation": "i,i->i", "operands": [["S"], ["S-1"]])"));
  CHECK(against_symbol.ok());
  REQUIRE(test::find(against_symbol, "MHA080") != nullptr);
  CHECK(test::find(against_symbol, "MHA080")->message.starts_with("valid only if S-1 == 1 "));
  CHECK(test::single_output(against_symbol) == "(S,)");
  // 2*S+1 is at least 3: against 2 it is an error as before.
  CHECK(test::find(test::check_text(op_call("einsum", R"("equation": "i,i->i", "operands": [["2*S+1"], [2]])")), "MHA364") != nullptr);
}

TEST_CASE("einsum's size error points at the operand dim and at the dim that set the size first", "[glue][einsum]") {
  Report report = test::check_text(R"({"tensors": {"q": [2, 4, 5, 64], "k": [2, 4, 6, 32]}, "modules": {},
    "calls": [{"id": "scores", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["q", "k"]}]})");
  const Diagnostic* size = test::find(report, "MHA364");
  REQUIRE(size != nullptr);
  CHECK(size->message == "subscript d is dim 3 of operands[1] (2, 4, 6, 32), of size 32, but 64 in operands[0]; only a size of 1 broadcasts");
  CHECK(test::raised_message(report) ==
        "RuntimeError: einsum(): subscript d has size 32 for operand 1 which does not broadcast with previously seen size 64");
  REQUIRE(size->related.size() == 1);
  CHECK(size->related[0].message == "operands[0] dim 3 = 64");
}

TEST_CASE("einsum's own messages: a wrong rank, a bad equation, the operand count", "[glue][einsum]") {
  Report rank = test::check_text(op_call("einsum", R"("equation": "bhid,bhjd->bhij", "operands": [[2, 5, 32], [2, 4, 6, 8]])"));
  REQUIRE(test::find(rank, "MHA363") != nullptr);
  CHECK(test::find(rank, "MHA363")->message == "operands[0] (2, 5, 32) is 3-D but its term \"bhid\" in \"bhid,bhjd->bhij\" names 4 dims");
  Report ellipsis = test::check_text(op_call("einsum", R"("equation": "...ijk,jk", "operands": [[2, 3], [3, 4]])"));
  CHECK(test::find(ellipsis, "MHA363")->message == "operands[0] (2, 3) is 2-D but its term \"...ijk\" in \"...ijk,jk\" names 3 dims besides \"...\"");
  Report character = test::check_text(op_call("einsum", R"("equation": "bhid,bhjd->bh_ij", "operands": [[2, 4, 5, 8], [2, 4, 6, 8]])"));
  CHECK(test::find(character, "MHA360")->message ==
        "equation \"bhid,bhjd->bh_ij\": invalid subscript given at index 13 in the equation string, subscripts must be in [a-zA-Z]");
  Report count = test::check_text(op_call("einsum", R"("equation": "bhid,bhjd->bhij", "operands": [[2, 4, 5, 8]])"));
  REQUIRE(test::find(count, "MHA362") != nullptr);
  CHECK(test::find(count, "MHA362")->notes.at(0) == "the equation has 2 terms, one per operand; the call passes 1 operand");
}

TEST_CASE("einsum and bmm of mixed dtypes offer a verified cast", "[glue][einsum]") {
  Report einsum = test::check_text(
      op_call("einsum", R"("equation": "bhid,bhjd->bhij", "operands": [[2, 4, 5, 8], {"shape": [2, 4, 6, 8], "dtype": "float64"}])"));
  REQUIRE(test::find(einsum, "MHA366") != nullptr);
  CHECK(test::has_valid_fix(*test::find(einsum, "MHA366"), "pass operands[1] as float32"));
  CHECK(test::raised_message(einsum) == "RuntimeError: expected scalar type Float but found Double");
  Report bmm = test::check_text(op_call("bmm", R"("input": [8, 5, 16], "mat2": {"shape": [8, 16, 6], "dtype": "float64"})"));
  REQUIRE(test::find(bmm, "MHA369") != nullptr);
  CHECK(test::has_valid_fix(*test::find(bmm, "MHA369"), "pass mat2 as float32"));
}

TEST_CASE("einsum's bmm checks dtypes only when its kernel runs", "[glue][einsum]") {
  // torch 1.13: a contraction over 0 gives the second operand's dtype; an empty bool product is fine.
  Report contraction_over_zero =
      test::check_text(op_call("einsum", R"("equation": "bij,bjk->bik", "operands": [{"shape": [2, 3, 0], "dtype": "float64"}, [2, 0, 4]])"));
  CHECK(contraction_over_zero.ok());
  REQUIRE(contraction_over_zero.calls.at(0).outputs.size() == 1);
  CHECK(contraction_over_zero.calls[0].outputs[0].dtype == DType::Float32);
  Report empty_bool = test::check_text(
      op_call("einsum", R"("equation": "bij,bjk->bik", "operands": [{"shape": [2, 3, 1], "dtype": "bool"}, {"shape": [2, 1, 0], "dtype": "bool"}])"));
  CHECK(empty_bool.ok());
  CHECK(test::single_output(empty_bool) == "(2, 3, 0)");
  CHECK(test::find(test::check_text(op_call("einsum", R"("equation": "bij,bjk->bik", "operands": [{"shape": [2, 3, 2], "dtype": "float64"}, [2, 2, 4]])")),
                   "MHA366") != nullptr);
}

TEST_CASE("bmm checks dtypes only when its kernel runs, the result takes mat2's dtype", "[glue][bmm]") {
  // torch 1.13 and 2.x: bmm of (2, 3, 0) float64 and (2, 0, 4) float32 is (2, 3, 4) float32;
  // bool (2, 3, 1) x (2, 1, 0) is an empty bool tensor.
  Report contraction_over_zero = test::check_text(op_call("bmm", R"("input": {"shape": [2, 3, 0], "dtype": "float64"}, "mat2": [2, 0, 4])"));
  CHECK(contraction_over_zero.ok());
  CHECK(contraction_over_zero.diagnostics.empty());
  REQUIRE(contraction_over_zero.calls.at(0).outputs.size() == 1);
  CHECK(contraction_over_zero.calls[0].outputs[0].dtype == DType::Float32);
  Report empty_bool = test::check_text(op_call("bmm", R"("input": {"shape": [2, 3, 1], "dtype": "bool"}, "mat2": {"shape": [2, 1, 0], "dtype": "bool"})"));
  CHECK(empty_bool.ok());
  CHECK(test::single_output(empty_bool) == "(2, 3, 0)");
  CHECK(test::find(test::check_text(op_call("bmm", R"("input": {"shape": [2, 3, 1], "dtype": "bool"}, "mat2": {"shape": [2, 1, 4], "dtype": "bool"})")), "MHA369") != nullptr);
}

TEST_CASE("bmm refuses a batch of 1 that matmul would broadcast, and says so", "[glue][bmm]") {
  Report report = test::check_text(op_call("bmm", R"("input": [4, 5, 16], "mat2": [1, 16, 6])"));
  const Diagnostic* shapes = test::find(report, "MHA368");
  REQUIRE(shapes != nullptr);
  CHECK(test::raised_message(report) == "RuntimeError: Expected size for first two dimensions of batch2 tensor to be: [4, 16] but got: [1, 16].");
  CHECK(shapes->notes.at(0) == "torch.matmul would broadcast the batch of 1");
  Report symbolic = test::check_text(op_call("bmm", R"("input": ["B", "T", 16], "mat2": ["B", 16, "S"])"));
  CHECK(symbolic.ok());
  CHECK(test::single_output(symbolic) == "(B, T, S)");
}

namespace {

// q projected by a Linear and split into heads by view(B, T, H, D), scored by `equation`; with
// `transposed`, permuted to (B, H, T, D) first.
std::string heads_einsum(const std::string& equation, bool transposed) {
  std::string permute = transposed ? R"j({"id": "t", "op": "permute", "input": "q4", "dims": [0, 2, 1, 3], "outputs": ["qh"]},)j" : "";
  return R"j({"version": 1, "dims": {"B": 2, "T": 10, "H": 4, "D": 16}, "modules": {"qkv": "nn.Linear(64, 64)"},
    "tensors": {"x": ["B", "T", 64]}, "calls": [{"id": "p", "module": "qkv", "input": "x", "outputs": ["q"]},
    {"id": "v", "op": "view", "input": "q", "shape": ["B", "T", "H", "D"], "outputs": [")j" +
         std::string(transposed ? "q4" : "qh") + R"j("]}, )j" + permute + R"j({"id": "s", "op": "einsum", "equation": ")j" + equation +
         R"j(", "operands": ["qh", "qh"]}]})j";
}

}  // namespace

TEST_CASE("einsum: (B, T, H, D) under 'bhqd' has its sequence under h and its heads under q (MHA260), fixed by a transpose where it is made",
          "[glue][einsum][roles]") {
  Report report = test::check_text(heads_einsum("bhqd,bhkd->bhqk", false));
  CHECK(report.ok());  // PyTorch runs it
  const Diagnostic* role = test::find(report, "MHA260");
  REQUIRE(role != nullptr);
  CHECK(role->message == "operands[0] (2, 10, 4, 16) under \"bhqd\": dim 1 \"T\" (sequence length) sits under subscript h, a letter for a "
                         "head count, while dim 2 \"H\" (head count) sits under subscript q");
  REQUIRE_FALSE(role->fixes.empty());
  const Fix& first = role->fixes.front();
  CHECK(first.description == "transpose qh where it is made, after call \"v\", to (B, H, T, D): qh = qh.transpose(1, 2)");
  CHECK(first.valid());
  CHECK(first.semantics == FixSemantics::Consistent);
}

TEST_CASE("einsum: heads permuted before 'bhqd', or the term written 'bqhd', and plain 'bld,bsd->bls' are silent", "[glue][einsum][roles]") {
  for (const std::string& text : {heads_einsum("bhqd,bhkd->bhqk", true), heads_einsum("bqhd,bkhd->bhqk", false),
                                  std::string(R"({"dims": {"B": 2, "L": 10, "S": 12}, "tensors": {"q": ["B", "L", 64], "k": ["B", "S", 64]},
                                    "modules": {}, "calls": [{"id": "s", "op": "einsum", "equation": "bld,bsd->bls", "operands": ["q", "k"]}]})")}) {
    Report report = test::check_text(text);
    CHECK(report.ok());
    CHECK(report.diagnostics.empty());
  }
}

TEST_CASE("einsum: a letter over a sequence in one operand and heads in another is MHA083, whatever the letter", "[glue][einsum][roles]") {
  // Unbound T and H under one letter: valid only if T == H, two distinct roles, an error (not a recorded equality).
  Report report = test::check_text(op_call("einsum", R"("equation": "bxyd,bxzd->bxyz", "operands": [["B", "T", "H", 16], ["B", "H", "S", 16]])"));
  CHECK_FALSE(report.ok());
  const Diagnostic* role = test::find(report, "MHA083");
  REQUIRE(role != nullptr);
  CHECK(role->message == "valid only if T == H (the sizes of subscript x), but T is a sequence length and H a head count");
}

TEST_CASE("einsum: a letter's conventional role alone is only a hint: (B, T, D) under 'bhd' is silent", "[glue][einsum][roles]") {
  // h says heads, but the operand has no heads dim elsewhere for T to have swapped with.
  Report report = test::check_text(op_call("einsum", R"("equation": "bhd,bkd->bhk", "operands": [["B", "T", 16], ["B", "S", 16]])"));
  CHECK(report.ok());
  CHECK(report.diagnostics.empty());
}

TEST_CASE("an einsum that sums one operand's letter and contracts no shared one warns MHA287", "[glue][einsum][roles]") {
  // Linear attention with the context einsum keeping the sequence: 'bhnd,bhne->bhne' is
  // k.sum(-1) * v. The fix sums n and reads the context by its new letters in the einsum after.
  Report pair = test::check_text(R"({"version": 1, "dims": {"B": 2, "N": 128}, "tensors": {"q": ["B", 8, "N", 64], "k": ["B", 8, "N", 64], "v": ["B", 8, "N", 64]},
    "calls": [{"id": "kv", "op": "einsum", "equation": "bhnd,bhne->bhne", "operands": ["k", "v"], "outputs": ["ctx"]},
              {"id": "o", "op": "einsum", "equation": "bhnd,bhne->bhne", "operands": ["q", "ctx"]}]})");
  const Diagnostic* context = test::find(pair, "MHA287");
  REQUIRE(context != nullptr);
  CHECK(context->call == "kv");
  CHECK(std::count_if(pair.diagnostics.begin(), pair.diagnostics.end(), [](const Diagnostic& d) { return d.id == DiagId::EinsumContractsNothing; }) == 1);
  REQUIRE_FALSE(context->fixes.empty());
  CHECK(context->fixes[0].description == "sum over n: einsum 'bhnd,bhne->bhde', then 'bhnd,bhde->bhne' in call \"o\"");
  CHECK(context->fixes[0].valid());
  CHECK(context->fixes[0].semantics == FixSemantics::Consistent);
  // Alone, the context einsum's fix is its own; "..." for the batch dims, as Performer writes it.
  auto first_valid_fix = [](const std::string& equation) {
    Report report = test::check_text(R"({"version": 1, "tensors": {"k": [2, 4, 10, 8], "v": [2, 4, 10, 8]},
      "calls": [{"id": "c", "op": "einsum", "equation": ")" + equation + R"(", "operands": ["k", "v"]}]})");
    const Diagnostic* found = test::find(report, "MHA287");
    return found == nullptr || found->fixes.empty() || !found->fixes[0].valid() ? std::string() : found->fixes[0].description;
  };
  CHECK(first_valid_fix("bhnd,bhne->bhne") == "sum over n: einsum 'bhnd,bhne->bhde'");
  CHECK(first_valid_fix("...nd,...ne->...ne") == "sum over n: einsum '...nd,...ne->...de'");
  // Not reported: the right context and output, causal linear attention's outer product (sums
  // nothing), a per-position normaliser, scores, letters that do not tell a sequence.
  auto silent = [](const std::string& equation, const std::string& second) {
    Report report = test::check_text(R"({"version": 1, "tensors": {"a": [2, 4, 10, 8], "b": )" + second + R"(},
      "calls": [{"id": "c", "op": "einsum", "equation": ")" + equation + R"(", "operands": ["a", "b"]}]})");
    return test::find(report, "MHA287") == nullptr && report.count(Severity::Error) == 0;
  };
  CHECK(silent("bhnd,bhne->bhde", "[2, 4, 10, 8]"));
  CHECK(silent("bhnd,bhne->bhnde", "[2, 4, 10, 8]"));
  CHECK(silent("bhnd,bhn->bhnd", "[2, 4, 10]"));
  CHECK(silent("bhqd,bhkd->bhqk", "[2, 4, 10, 8]"));
  CHECK(silent("ijkl,ijkm->ijkm", "[2, 4, 10, 8]"));
}

TEST_CASE("an einsum that contracts softmax weights over the queries and keeps the keys warns MHA286", "[glue][einsum][roles]") {
  // 'bhij,bhid->bhjd': weights softmaxed over j (the keys), summed over i (the queries).
  auto check = [](const std::string& equation, int dim = -1, const std::string& between = "") {
    return test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, "N", 64], "k": ["B", 8, "N", 64], "v": ["B", 8, "N", 64]},
      "calls": [{"id": "sc", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["q", "k"], "outputs": ["sim"]},
                {"id": "sm", "op": "softmax", "input": "sim", "dim": )" + std::to_string(dim) + R"(, "outputs": ["attn"]})" + between + R"(,
                {"id": "o", "op": "einsum", "equation": ")" + equation + R"(", "operands": ["attn", "v"]}]})");
  };
  Report wrong = check("bhij,bhid->bhjd");
  const Diagnostic* found = test::find(wrong, "MHA286");
  REQUIRE(found != nullptr);
  CHECK(found->call == "o");
  CHECK(found->message ==
        "einsum \"bhij,bhid->bhjd\" sums the attention weights over i and keeps j, the letter softmax (call \"sm\") normalised over: each "
        "output sums a key's column over the queries, not a query's weights over the keys");
  REQUIRE_FALSE(found->fixes.empty());
  CHECK(found->fixes[0].description == "contract the weights over the keys j: einsum 'bhij,bhjd->bhid'");
  CHECK(found->fixes[0].verified);
  CHECK(found->fixes[0].semantics == FixSemantics::Consistent);
  // Through dropout too.
  Report dropped = check("bhij,bhid->bhjd", -1, R"(, {"id": "dr", "op": "dropout", "input": "attn", "outputs": ["attn_d"]})");
  CHECK(test::find(dropped, "MHA286") != nullptr);
  // Not reported: the right contraction; weights softmaxed over i (not their last letter: the softmax's
  // own rule judges that) and contracted over j; weights normalised again over i after the softmax
  // (slot attention).
  CHECK(test::find(check("bhij,bhjd->bhid"), "MHA286") == nullptr);
  // Softmaxed over i and contracted over j: the softmax's contraction rule reports it at the softmax
  // (MHA431), not this einsum's rule.
  const Report over_queries = check("bhij,bhjd->bhid", 2);
  const Diagnostic* at_softmax = test::find(over_queries, "MHA431");
  REQUIRE(at_softmax != nullptr);
  CHECK(at_softmax->call == "sm");
  CHECK(test::find(check("bhij,bhid->bhjd", -1,
                         R"(, {"id": "su", "op": "sum", "input": "attn", "dim": 2, "keepdim": true, "outputs": ["z"]},
                              {"id": "dv", "op": "div", "input": "attn", "other": "z", "outputs": ["renormalised"]})"),
                   "MHA286") == nullptr);
  // Weights mixed across the heads (talking heads) contract the heads, not the queries.
  Report mixed = test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, "N", 64], "k": ["B", 8, "N", 64], "mix": [8, 8]},
      "calls": [{"id": "sc", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["q", "k"], "outputs": ["sim"]},
                {"id": "sm", "op": "softmax", "input": "sim", "dim": -1, "outputs": ["attn"]},
                {"id": "o", "op": "einsum", "equation": "bhij,hk->bkij", "operands": ["attn", "mix"]}]})");
  CHECK(test::find(mixed, "MHA286") == nullptr);
}

TEST_CASE("an einsum that sums a same-role dim of each operand apart warns MHA287 and writes one letter", "[glue][einsum][roles]") {
  // x-transformers' 'b h i j, b h j d -> b h i d' written with the values' keys under another letter.
  Report report = test::check_text(R"({"version": 1, "tensors": {"w": ["B", 8, "T", "T"], "v": ["B", 8, "T", 64]},
      "calls": [{"id": "o", "op": "einsum", "equation": "bhqk,bhvd->bhqd", "operands": ["w", "v"]}]})");
  const Diagnostic* apart = test::find(report, "MHA287");
  REQUIRE(apart != nullptr);
  CHECK(apart->severity() == Severity::Warning);
  CHECK(apart->message ==
        "einsum \"bhqk,bhvd->bhqd\" sums k of operands[0] (dim 3 \"T\") and v of operands[1] (dim 2 \"T\") each on its own: two dims of "
        "one sequence length are summed apart and the sums multiplied, where one letter would contract them");
  REQUIRE_FALSE(apart->fixes.empty());
  CHECK(apart->fixes.front().description == "contract k with v: einsum 'bhqk,bhkd->bhqd'");
  CHECK(apart->fixes.front().valid());
  CHECK(apart->fixes.front().semantics == FixSemantics::Consistent);
  // The contraction itself, and two own letters over dims of no known role, say nothing.
  for (const char* quiet : {R"({"tensors": {"w": ["B", 8, "T", "T"], "v": ["B", 8, "T", 64]},
                                "calls": [{"id": "o", "op": "einsum", "equation": "bhqk,bhkd->bhqd", "operands": ["w", "v"]}]})",
                            R"({"tensors": {"w": ["B", 8, "T", 16], "v": ["B", 8, 16, 64]},
                                "calls": [{"id": "o", "op": "einsum", "equation": "bhqk,bhvd->bhqd", "operands": ["w", "v"]}]})"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA287") == nullptr);
  }
}

namespace {
// Grouped-query attention by broadcasting: 8 query heads (from a (B, L, 512) projection) grouped
// by `grouping` (a view of (B, 8, L, 64)) against 2 key/value heads, scores by `equation`.
std::string grouped_query(const std::string& grouping, const std::string& equation) {
  return fmt::format(R"({{"version": 1, "tensors": {{"qf": ["B", "L", 512], "k": ["B", 2, "S", 64]}}, "calls": [
      {{"id": "split", "op": "view", "input": "qf", "shape": ["B", "L", 8, 64], "outputs": ["qh"]}},
      {{"id": "tr", "op": "transpose", "input": "qh", "dim0": 1, "dim1": 2, "outputs": ["q"]}},
      {{"id": "grp", "op": "view", "input": "q", "shape": {}, "outputs": ["qg"]}},
      {{"id": "sc", "op": "einsum", "equation": "{}", "operands": ["qg", "k"], "outputs": ["scores"]}},
      {{"id": "sm", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["p"]}}]}})",
                     grouping, equation);
}
}  // namespace

TEST_CASE("MHA373: query heads split (groups, key/value heads) meet key/value head h mod Hkv, the fix splits them (Hkv, G)", "[glue][einsum]") {
  Report report = test::check_text(grouped_query(R"(["B", 4, 2, "L", 64])", "bghqd,bhkd->bghqk"));
  const Diagnostic* found = test::find(report, "MHA373");
  REQUIRE(found != nullptr);
  CHECK(found->call == "sc");
  CHECK(found->severity() == Severity::Warning);
  REQUIRE_FALSE(found->fixes.empty());
  const Fix& fix = found->fixes.front();
  CHECK(fix.description.find("q.view(B, 2, 4, L, 64).transpose(1, 2)") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("MHA373 is silent for the heads split (key/value heads, groups) and for a split of the features", "[glue][einsum]") {
  CHECK(test::find(test::check_text(grouped_query(R"(["B", 2, 4, "L", 64])", "bhgqd,bhkd->bhgqk")), "MHA373") == nullptr);
  // Every query head against its own key head (8 key heads): no grouping at all.
  Report features = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "L", 512], "k": ["B", "S", 8, 64]}, "calls": [
      {"id": "split", "op": "view", "input": "x", "shape": ["B", "L", 8, 64], "outputs": ["q"]},
      {"id": "sc", "op": "einsum", "equation": "blhd,bshd->bhls", "operands": ["q", "k"]}]})");
  CHECK(test::find(features, "MHA373") == nullptr);
  // Classifier-free guidance: a doubled batch (2*B) viewed (2, B, ...) against per-batch keys is
  // a split of the batch, not of grouped heads.
  Report guidance = test::check_text(R"({"version": 1, "tensors": {"x": ["2*B", "T", 64], "kT": ["B", 64, "S"]}, "calls": [
      {"id": "v", "op": "view", "input": "x", "shape": [2, "B", "T", 64], "outputs": ["xs"]},
      {"id": "mm", "op": "matmul", "input": "xs", "other": "kT", "outputs": ["s"]}]})");
  CHECK(test::find(guidance, "MHA373") == nullptr);
}

TEST_CASE("MHA373 at a matmul: the grouped queries against the key/value heads unsqueezed for broadcasting", "[glue][einsum]") {
  auto step = [](const std::string& grouping, const std::string& unsqueeze_dim) {
    return fmt::format(R"({{"version": 1, "tensors": {{"q": ["B", 8, "L", 64], "k": ["B", 2, "S", 64]}}, "calls": [
        {{"id": "grp", "op": "view", "input": "q", "shape": {}, "outputs": ["qg"]}},
        {{"id": "u", "op": "unsqueeze", "input": "k", "dim": {}, "outputs": ["k5"]}},
        {{"id": "t", "op": "transpose", "input": "k5", "dim0": -2, "dim1": -1, "outputs": ["kt"]}},
        {{"id": "sc", "op": "matmul", "input": "qg", "other": "kt", "outputs": ["scores"]}}]}})",
                       grouping, unsqueeze_dim);
  };
  Report report = test::check_text(step(R"(["B", 4, 2, "L", 64])", "1"));
  const Diagnostic* found = test::find(report, "MHA373");
  REQUIRE(found != nullptr);
  REQUIRE_FALSE(found->fixes.empty());
  CHECK(found->fixes.front().description.find("q.view(B, 2, 4, L, 64)") != std::string::npos);
  CHECK(found->fixes.front().valid());
  CHECK(test::find(test::check_text(step(R"(["B", 2, 4, "L", 64])", "2")), "MHA373") == nullptr);
}

TEST_CASE("MHA260: an einsum output read by the next einsum under its letters in another order, the swapped dims of one size", "[glue][einsum]") {
  // A kernelised attention: context (B, H, D, E) of keys' features times values' features,
  // read back as (B, H, E, D) while D == E == 32.
  const std::string chain = R"({"tensors": {"q": ["B", 4, "N", 32], "k": ["B", 4, "M", 32], "v": ["B", 4, "M", 32]}, "modules": {},
    "calls": [{"id": "ctx", "op": "einsum", "equation": "bhmd,bhme->bhde", "operands": ["k", "v"], "outputs": ["context"]},
              {"id": "out", "op": "einsum", "equation": "bhnd,bhed->bhne", "operands": ["q", "context"], "outputs": ["o"]}]})";
  Report report = test::check_text(chain);
  const Diagnostic* reread = test::find(report, "MHA260");
  REQUIRE(reread != nullptr);
  CHECK(reread->call == "out");
  CHECK(reread->severity() == Severity::Warning);
  REQUIRE_FALSE(reread->fixes.empty());
  CHECK(reread->fixes.front().description.find("'bhnd,bhde->bhne'") != std::string::npos);
  CHECK(reread->fixes.front().valid());
  CHECK(reread->fixes.front().semantics == FixSemantics::Consistent);
}

TEST_CASE("MHA260 is silent when the next einsum reads the output under its own letters, or other letters altogether", "[glue][einsum]") {
  for (const char* reading : {"bhnd,bhde->bhne", "bhnx,bhxy->bhny"}) {
    Report report = test::check_text(fmt::format(R"({{"tensors": {{"q": ["B", 4, "N", 32], "k": ["B", 4, "M", 32], "v": ["B", 4, "M", 32]}},
      "modules": {{}}, "calls": [{{"id": "ctx", "op": "einsum", "equation": "bhmd,bhme->bhde", "operands": ["k", "v"], "outputs": ["context"]}},
              {{"id": "out", "op": "einsum", "equation": "{}", "operands": ["q", "context"]}}]}})",
                                                 reading));
    INFO(reading);
    CHECK(report.diagnostics.empty());
  }
  // Each equation names its own dims: a one-operand einsum transposing on purpose, and a Gram
  // matrix (a tensor times itself, symmetric) read transposed, say nothing.
  Report transposed = test::check_text(R"({"tensors": {"f": ["B", "C", 16, 16], "w": ["C", "E"]}, "calls": [
      {"id": "p", "op": "einsum", "equation": "bcxy,ce->bexy", "operands": ["f", "w"], "outputs": ["g"]},
      {"id": "t", "op": "einsum", "equation": "beyx->bexy", "operands": ["g"]}]})");
  CHECK(test::find(transposed, "MHA260") == nullptr);
  Report gram = test::check_text(R"({"tensors": {"x": ["B", "N", 64]}, "calls": [
      {"id": "g", "op": "einsum", "equation": "bid,bjd->bij", "operands": ["x", "x"], "outputs": ["G"]},
      {"id": "o", "op": "einsum", "equation": "bji,bjd->bid", "operands": ["G", "x"]}]})");
  CHECK(test::find(gram, "MHA260") == nullptr);
}

TEST_CASE("an einsum that sums one operand's batch under a letter of its own, the other's batch kept, mixes the batch", "[glue][einsum][roles]") {
  // Scores (B, H, L, S) whose keys' batch is written z and summed: every query meets the sum of
  // all the batch entries' keys.
  Report scores = test::check_text(R"({"dims": {"B": 3}, "tensors": {"q": ["B", 8, "L", 32], "k": ["B", 8, "S", 32]},
    "calls": [{"id": "s", "op": "einsum", "equation": "bhld,zhsd->bhls", "operands": ["q", "k"], "outputs": ["sc"]}]})");
  const Fix* fix = test::first_fix(scores, "MHA437");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "pair the batch entries: einsum 'bhld,bhsd->bhls'");
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  // The weights times the values, the batch named "batch" and written n in the values' term.
  Report context = test::check_text(R"({"tensors": {"w": ["batch", "T", "S"], "v": ["batch", "S", 64]},
    "calls": [{"id": "o", "op": "einsum", "equation": "bts,nsd->btd", "operands": ["w", "v"], "outputs": ["out"]}]})");
  REQUIRE(test::first_fix(context, "MHA437") != nullptr);
  CHECK(test::first_fix(context, "MHA437")->description == "pair the batch entries: einsum 'bts,bsd->btd'");
}

TEST_CASE("an einsum over two batches is silent when both letters survive, the letters agree, or the dims are no batch", "[glue][einsum][roles]") {
  for (const char* equation : {"bd,cd->bc", "bnd,cqd->bcnq", "bnd,bqd->bnq"}) {
    const bool pooled = std::string(equation).find('n') == std::string::npos;
    Report report = test::check_text(fmt::format(R"({{"tensors": {{"a": {}, "b": {}}},
      "calls": [{{"id": "e", "op": "einsum", "equation": "{}", "operands": ["a", "b"]}}]}})",
                                                 pooled ? R"(["B", 512])" : R"(["B", "N", 256])", pooled ? R"(["B", 512])" : R"(["B", "Q", 256])",
                                                 equation));
    INFO(equation);
    CHECK(report.diagnostics.empty());
  }
  // A memory bank (K, E) of other samples, named as no batch, scored against the batch.
  Report bank = test::check_text(R"({"tensors": {"z": ["B", "N", 128], "queue": ["K", "N", 128]},
    "calls": [{"id": "e", "op": "einsum", "equation": "bnd,knd->bk", "operands": ["z", "queue"]}]})");
  CHECK(test::find(bank, "MHA437") == nullptr);
}
