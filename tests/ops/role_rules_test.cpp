// Role rules of the glue operators that PyTorch runs without error: a sum or mean over a batch
// dim (MHA288), an index that picks a batch entry (MHA289), a broadcast that aligns dims of
// different roles (MHA290), and the slice that keeps a dim an integer index dropped (MHA021's fix).
#include <fmt/format.h>

#include "check/roles.hpp"
#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

const Fix& first_fix(const Diagnostic& diagnostic) {
  REQUIRE_FALSE(diagnostic.fixes.empty());
  return diagnostic.fixes.front();
}

}  // namespace

TEST_CASE("a sum or mean over a batch-named dim of a tensor with a sequence dim warns MHA288", "[glue][roles]") {
  // A seq-first (T, B, E) encoder output pooled with mean(dim=1): the batch-first habit.
  Report seq_first = test::check_text(R"({"version": 1, "dims": {"T": 10, "B": 2}, "tensors": {"h": ["T", "B", 16]},
      "calls": [{"id": "pool", "op": "mean", "input": "h", "dim": 1}]})");
  const Diagnostic* pooled = test::find(seq_first, "MHA288");
  REQUIRE(pooled != nullptr);
  CHECK(pooled->severity() == Severity::Warning);
  CHECK(pooled->message == "mean over dim 1 (\"B\", a batch size) combines batch entries, not the positions of the sequence dim 0 (\"T\")");
  CHECK(first_fix(*pooled).description == "mean over dim=0 (\"T\", the sequence)");
  CHECK(first_fix(*pooled).valid());
  CHECK(first_fix(*pooled).semantics == FixSemantics::Consistent);
  // A list of dims: the batch entry is replaced, the others kept.
  Report listed = test::check_text(R"({"version": 1, "tensors": {"h": ["B", "T", "E"]},
      "calls": [{"id": "s", "op": "sum", "input": "h", "dim": [0, 2]}]})");
  REQUIRE(test::find(listed, "MHA288") != nullptr);
  CHECK(first_fix(*test::find(listed, "MHA288")).description == "sum over dim=[1,2] (\"T\", the sequence)");
  // Correct pooling, a statistic over every token, and a tensor without a sequence dim say nothing.
  for (const char* quiet : {R"({"tensors": {"h": ["B", "T", 16]}, "calls": [{"id": "p", "op": "mean", "input": "h", "dim": 1}]})",
                            R"({"tensors": {"h": ["T", "B", 16]}, "calls": [{"id": "p", "op": "mean", "input": "h", "dim": 0}]})",
                            R"({"tensors": {"h": ["T", "B", 16]}, "calls": [{"id": "p", "op": "mean", "input": "h", "dim": [0, 1]}]})",
                            R"({"tensors": {"h": ["B", 16]}, "calls": [{"id": "p", "op": "mean", "input": "h", "dim": 0}]})",
                            R"({"tensors": {"h": [4, 10, 16]}, "calls": [{"id": "p", "op": "sum", "input": "h", "dim": 0}]})"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA288") == nullptr);
  }
}

TEST_CASE("an index that picks one entry of a batch-named dim of a tensor with a sequence dim warns MHA289", "[glue][roles]") {
  // cls pooling h[:, 0] of a seq-first (T, B, E) output takes batch entry 0 at every position.
  Report seq_first = test::check_text(R"({"version": 1, "dims": {"T": 10, "B": 2}, "tensors": {"h": ["T", "B", 16]},
      "calls": [{"id": "cls", "op": "getitem", "input": "h", "index": "[:, 0]"}]})");
  const Diagnostic* picked = test::find(seq_first, "MHA289");
  REQUIRE(picked != nullptr);
  CHECK(picked->message ==
        "the index picks one entry of dim 1 (\"B\", a batch size): every position of batch entry 0, not one position of the sequence dim 0 "
        "(\"T\") for each batch entry");
  CHECK(first_fix(*picked).description == "h[0] instead of h[:, 0]: position 0 of the sequence dim \"T\"");
  CHECK(first_fix(*picked).valid());
  CHECK(first_fix(*picked).semantics == FixSemantics::Consistent);
  // h[0] of a batch-first (B, T, E): the first batch entry, where the first position is meant.
  Report batch_first = test::check_text(R"({"tensors": {"h": ["B", "T", 16]}, "calls": [{"id": "cls", "op": "getitem", "input": "h", "index": "[0]"}]})");
  REQUIRE(test::find(batch_first, "MHA289") != nullptr);
  CHECK(first_fix(*test::find(batch_first, "MHA289")).description == "h[:, 0] instead of h[0]: position 0 of the sequence dim \"T\"");
  // select(1, 0) is the same index.
  Report selected = test::check_text(R"({"tensors": {"h": ["T", "B", 16]}, "calls": [{"id": "cls", "op": "select", "input": "h", "dim": 1, "index": 0}]})");
  REQUIRE(test::find(selected, "MHA289") != nullptr);
  CHECK(first_fix(*test::find(selected, "MHA289")).description == "select(dim=0, index=0): the sequence dim \"T\"");
  // The right cls pooling of each layout, a slice, and unnamed dims say nothing.
  for (const char* quiet : {R"({"tensors": {"h": ["B", "T", 16]}, "calls": [{"id": "c", "op": "getitem", "input": "h", "index": "[:, 0]"}]})",
                            R"({"tensors": {"h": ["T", "B", 16]}, "calls": [{"id": "c", "op": "getitem", "input": "h", "index": "[0]"}]})",
                            R"({"tensors": {"h": ["T", "B", 16]}, "calls": [{"id": "c", "op": "getitem", "input": "h", "index": "[:, :1]"}]})",
                            R"({"tensors": {"h": ["B", 16]}, "calls": [{"id": "c", "op": "getitem", "input": "h", "index": "[0]"}]})",
                            R"({"tensors": {"h": [10, 2, 16]}, "calls": [{"id": "c", "op": "getitem", "input": "h", "index": "[:, 0]"}]})",
                            // One sample of a (B, S) padding mask or of (B, T) ids: no features to keep, looked at on purpose.
                            R"({"tensors": {"mask": {"shape": ["B", "S"], "dtype": "bool"}}, "calls": [{"id": "c", "op": "getitem", "input": "mask", "index": "[0]"}]})",
                            R"({"tensors": {"ids": {"shape": ["B", "T"], "dtype": "int64"}}, "calls": [{"id": "c", "op": "select", "input": "ids", "dim": 0, "index": 0}]})"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA289") == nullptr);
  }
}

TEST_CASE("an index on the batch dim whose kept rows a final head classifies warns MHA289", "[glue][roles]") {
  // A (B, 50, 384) encoder output whose tokens are unnamed: select(0, 0) keeps batch entry 0's 50 rows, and a
  // Linear whose output nothing reads (the logits) classifies each of them: one entry's tokens, not one per entry.
  auto spec = [](const char* x, const char* pick, const char* after) {
    return fmt::format(R"json({{"modules": {{"head": "nn.Linear(384, 10)"}}, "tensors": {{"x": {}}},
        "calls": [{}, {{"id": "h", "module": "head", "input": "c", "outputs": ["logits"]}}{}]}})json", x, pick, after);
  };
  const char* select = R"({"id": "s", "op": "select", "input": "x", "dim": 0, "index": 0, "outputs": ["c"]})";
  const char* getitem = R"({"id": "s", "op": "getitem", "input": "x", "index": "[0]", "outputs": ["c"]})";
  Report selected = test::check_text(spec(R"(["B", 50, 384])", select, ""));
  const Diagnostic* picked = test::find(selected, "MHA289");
  REQUIRE(picked != nullptr);
  CHECK(picked->message ==
        "select picks one entry of dim 0 (\"B\", a batch size) and keeps dim 1 (size 50), which the head of call \"h\" classifies row by row: "
        "the model's result holds 50 rows of batch entry 0, not one row per batch entry");
  CHECK(first_fix(*picked).description == "select(dim=1, index=0): the sequence dim 1 (size 50)");
  CHECK(first_fix(*picked).valid());
  Report indexed = test::check_text(spec(R"(["B", 50, 384])", getitem, ""));
  REQUIRE(test::find(indexed, "MHA289") != nullptr);
  CHECK(first_fix(*test::find(indexed, "MHA289")).description == "x[:, 0] instead of x[0]: position 0 of the sequence dim 1 (size 50)");
  // Seq-first tokens (x[0] is the class token), one image, a head whose output is read on, and a head-less pick say nothing.
  for (const std::string& quiet :
       {spec(R"([50, "B", 384])", getitem, ""), spec(R"([1, 50, 384])", getitem, ""),
        spec(R"(["B", 50, 384])", getitem, R"(, {"id": "sm", "op": "softmax", "input": "logits", "dim": -1})"),
        std::string(R"({"tensors": {"x": ["B", 50, 384]}, "calls": [{"id": "s", "op": "getitem", "input": "x", "index": "[0]"}]})")}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA289") == nullptr);
  }
  // A batch bound to one: its only entry's rows are all the rows there are (per-token classification at inference).
  for (const char* pick : {getitem, select}) {
    INFO(pick);
    Report one = test::check_text(fmt::format(R"json({{"dims": {{"B": 1}}, "modules": {{"head": "nn.Linear(384, 10)"}}, "tensors": {{"x": ["B", 50, 384]}},
        "calls": [{}, {{"id": "h", "module": "head", "input": "c", "outputs": ["logits"]}}]}})json", pick));
    CHECK(test::find(one, "MHA289") == nullptr);
  }
}

TEST_CASE("a broadcast that aligns dims named with different roles warns MHA290", "[glue][roles]") {
  // A RoPE table (B, T, D) unsqueezed at dim 1 for (B, H, T, D) queries, on queries in (B, T, H, D),
  // T == H bound: the table's T meets the queries' H.
  Report rope = test::check_text(R"({"version": 1, "dims": {"B": 2, "T": 8, "H": 8}, "tensors": {"q": ["B", "T", "H", 4], "cos": ["B", "T", 4]},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "cos", "dim": 1, "outputs": ["c"]}, {"id": "m", "op": "mul", "input": "q", "other": "c"}]})");
  const Diagnostic* clash = test::find(rope, "MHA290");
  REQUIRE(clash != nullptr);
  CHECK(clash->call == "m");
  CHECK(clash->message ==
        "the broadcast aligns dim 2 of c (\"T\", a sequence length) with dim 2 of q (\"H\", a head count): equal sizes by binding, different roles");
  CHECK(first_fix(*clash).description ==
        "cos.unsqueeze(2) in call \"u\": the size-1 dim where q has no counterpart, so each named dim meets its own");
  CHECK(first_fix(*clash).valid());
  CHECK(first_fix(*clash).semantics == FixSemantics::Consistent);
  // A batch meeting a sequence, B == T bound, with no unsqueeze to move: reported, no fix of its own.
  Report swapped = test::check_text(R"({"version": 1, "dims": {"B": 4, "T": 4}, "tensors": {"x": ["B", "T", 16], "y": ["T", "B", 16]},
      "calls": [{"id": "a", "op": "add", "input": "x", "other": "y"}]})");
  CHECK(test::find(swapped, "MHA290") != nullptr);
  // Heads-first queries (the table's layout), a literal equal to a bound symbol, and names of one
  // role (L and S) say nothing.
  for (const char* quiet :
       {R"({"dims": {"B": 2, "T": 8, "H": 8}, "tensors": {"q": ["B", "H", "T", 4], "cos": ["B", "T", 4]},
            "calls": [{"id": "u", "op": "unsqueeze", "input": "cos", "dim": 1, "outputs": ["c"]}, {"id": "m", "op": "mul", "input": "q", "other": "c"}]})",
        R"({"dims": {"B": 2, "T": 8}, "tensors": {"q": ["B", "T", 8, 4], "cos": ["B", "T", 4]},
            "calls": [{"id": "u", "op": "unsqueeze", "input": "cos", "dim": 1, "outputs": ["c"]}, {"id": "m", "op": "mul", "input": "q", "other": "c"}]})",
        R"({"dims": {"L": 6, "S": 6}, "tensors": {"a": ["B", "L", "S"], "m": ["S", "L"]}, "calls": [{"id": "p", "op": "add", "input": "a", "other": "m"}]})"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA290") == nullptr);
  }
}

TEST_CASE("a 2-D query made by an integer index gets the slice that keeps the dim (MHA021)", "[mha][roles]") {
  // CLIP's attention pool: query x[:1] of the (HW, B, C) tokens; x[0] drops the sequence dim.
  Report clip = test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4)"}, "tensors": {"feat": ["B", 64, 7, 7]},
      "calls": [{"id": "f", "op": "flatten", "input": "feat", "start_dim": 2, "outputs": ["x3"]},
                {"id": "p", "op": "permute", "input": "x3", "dims": [2, 0, 1], "outputs": ["x"]},
                {"id": "q", "op": "getitem", "input": "x", "index": "[0]", "outputs": ["q"]},
                {"id": "att", "module": "attn", "query": "q", "key": "x", "value": "x"}]})json");
  const Diagnostic* rank = test::find(clip, "MHA021");
  REQUIRE(rank != nullptr);
  CHECK(first_fix(*rank).description == "keep the sequence dim: x[:1] instead of x[0] (call \"q\") gives a 3-D query");
  CHECK(first_fix(*rank).valid());
}

TEST_CASE("per-entry vectors divided by a sum over every dim of a batch-named tensor warn MHA288", "[glue][roles]") {
  // Mean pooling divided by attention_mask.sum(): one count over the whole batch.
  auto check = [](const std::string& count, const std::string& dividend = "summed") {
    return test::check_text(R"({"version": 1, "tensors": {"h": ["B", "T", 384], "m": {"shape": ["B", "T"], "dtype": "float32"}},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "m", "dim": -1, "outputs": ["m3"]},
                {"id": "mm", "op": "mul", "input": "h", "other": "m3", "outputs": ["hm"]},
                {"id": "s", "op": "sum", "input": "hm", "dim": 1, "outputs": ["summed"]},
                {"id": "n", "op": "sum", "input": "m", )" + count + R"("outputs": ["count"]},
                {"id": "d", "op": "div", "input": ")" + dividend + R"(", "other": "count"}]})");
  };
  Report whole = check("");
  const Diagnostic* found = test::find(whole, "MHA288");
  REQUIRE(found != nullptr);
  CHECK(found->call == "d");
  CHECK(found->message ==
        "the divisor m.sum() (call \"n\") reduces every dim of (B, T), the batch dim 0 (\"B\") too: each entry of the dividend (B, 384) is "
        "divided by one total over the whole batch");
  CHECK(first_fix(*found).description == "m.sum(dim=1, keepdim=True) in call \"n\": one total per batch entry");
  CHECK(first_fix(*found).verified);
  CHECK(first_fix(*found).valid());
  CHECK(first_fix(*found).semantics == FixSemantics::Consistent);
  CHECK(test::find(check(R"("dim": [], )"), "MHA288") != nullptr);
  // Not reported: one total per entry; a tensor divided by its own total (token weights m / m.sum()).
  CHECK(test::find(check(R"("dim": 1, "keepdim": true, )"), "MHA288") == nullptr);
  CHECK(test::find(check("", "m"), "MHA288") == nullptr);
  // Each token's vector over the count of all tokens keeps every dim of the mask: a mean over all tokens.
  CHECK(test::find(check("", "hm"), "MHA288") == nullptr);
  // A total divided by a total (a masked loss) is not per entry.
  Report loss = test::check_text(R"({"version": 1, "tensors": {"l": ["B", "T"], "m": ["B", "T"]},
      "calls": [{"id": "x", "op": "mul", "input": "l", "other": "m", "outputs": ["lm"]},
                {"id": "s", "op": "sum", "input": "lm", "outputs": ["total"]},
                {"id": "n", "op": "sum", "input": "m", "outputs": ["count"]},
                {"id": "d", "op": "div", "input": "total", "other": "count"}]})");
  CHECK(test::find(loss, "MHA288") == nullptr);
}

TEST_CASE("the whole-batch divisor is found through a cast or a comparison of the declared mask", "[glue][roles]") {
  // Sentence-transformers' mean pooling: attention_mask.float() (or ids != pad) summed over every dim.
  auto check = [](const std::string& mask_calls, const std::string& summed) {
    return test::check_text(R"({"version": 1, "tensors": {"h": ["B", "T", 384], "am": {"shape": ["B", "T"], "dtype": "int64"}},
      "calls": [)" + mask_calls + R"(
                {"id": "u", "op": "unsqueeze", "input": "mf", "dim": -1, "outputs": ["m3"]},
                {"id": "mm", "op": "mul", "input": "h", "other": "m3", "outputs": ["hm"]},
                {"id": "s", "op": "sum", "input": "hm", "dim": 1, "outputs": ["summed"]},
                {"id": "n", "op": "sum", "input": ")" + summed + R"(", "outputs": ["count"]},
                {"id": "d", "op": "div", "input": "summed", "other": "count"}]})");
  };
  const std::string cast = R"({"id": "c", "op": "float", "input": "am", "outputs": ["mf"]},)";
  Report cast_first = check(cast, "mf");
  const Diagnostic* found = test::find(cast_first, "MHA288");
  REQUIRE(found != nullptr);
  CHECK(found->message ==
        "the divisor mf.sum() (call \"n\") reduces every dim of (B, T), the batch dim 0 (\"B\") too: each entry of the dividend (B, 384) is "
        "divided by one total over the whole batch");
  REQUIRE_FALSE(found->fixes.empty());
  CHECK(found->fixes[0].description == "mf.sum(dim=1, keepdim=True) in call \"n\": one total per batch entry");
  CHECK(found->fixes[0].valid());
  CHECK(test::find(check(R"({"id": "c", "op": "to", "input": "am", "dtype": "float32", "outputs": ["mf"]},)", "mf"), "MHA288") != nullptr);
  CHECK(test::find(check(R"({"id": "ne", "op": "ne", "input": "am", "other": 0, "outputs": ["keep"]},
                            {"id": "c", "op": "float", "input": "keep", "outputs": ["mf"]},)", "keep"), "MHA288") != nullptr);
  // One total per entry stays quiet whatever made the mask.
  Report per_entry = test::check_text(R"({"version": 1, "tensors": {"h": ["B", "T", 384], "am": {"shape": ["B", "T"], "dtype": "int64"}},
      "calls": [{"id": "c", "op": "float", "input": "am", "outputs": ["mf"]},
                {"id": "u", "op": "unsqueeze", "input": "mf", "dim": -1, "outputs": ["m3"]},
                {"id": "mm", "op": "mul", "input": "h", "other": "m3", "outputs": ["hm"]},
                {"id": "s", "op": "sum", "input": "hm", "dim": 1, "outputs": ["summed"]},
                {"id": "n", "op": "sum", "input": "m3", "dim": 1, "outputs": ["count"]},
                {"id": "d", "op": "div", "input": "summed", "other": "count"}]})");
  CHECK(test::find(per_entry, "MHA288") == nullptr);
}

TEST_CASE("max, amax and logsumexp over a batch-named dim warn MHA288 like sum and mean", "[glue][roles]") {
  for (const char* op : {"max", "amax", "logsumexp"}) {
    INFO(op);
    Report pooled = test::check_text(std::string(R"({"version": 1, "tensors": {"h": ["T", "B", 16]}, "calls": [{"id": "p", "op": ")") + op +
                                     R"(", "input": "h", "dim": 1}]})");
    const Diagnostic* found = test::find(pooled, "MHA288");
    REQUIRE(found != nullptr);
    CHECK(found->fixes.at(0).description == std::string(op) + " over dim=0 (\"T\", the sequence)");
    CHECK(test::find(test::check_text(std::string(R"({"version": 1, "tensors": {"h": ["T", "B", 16]}, "calls": [{"id": "p", "op": ")") + op +
                                      R"(", "input": "h", "dim": 0}]})"), "MHA288") == nullptr);
  }
}

TEST_CASE("N reads as the tokens beside a batch-named dim, as a batch otherwise, for every operator", "[glue][roles]") {
  CHECK(role_of_dim({"B", "N", "C"}, 1) == DimRole::Sequence);
  CHECK(role_of_dim({"N", "L", "E"}, 0) == DimRole::Batch);
  CHECK(role_of_dim({"N", "N"}, 0) == DimRole::Batch);
  CHECK(role_of_dim({"B", "N", "C"}, 0) == DimRole::Batch);
  CHECK(role_of_dim({"B"}, 3) == DimRole::Unknown);
  // timm's (B, N, C) tokens pooled over N: a mean over the tokens, not over a batch.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"x": ["B", "N", "C"]}, "calls": [{"id": "p", "op": "mean", "input": "x", "dim": 1}]})"),
                   "MHA288") == nullptr);
  // Averaging over the batch keeps timm's tokens: the batch entries mix (quiet before N was read in context).
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"x": ["B", "N", "C"]}, "calls": [{"id": "p", "op": "mean", "input": "x", "dim": 0}]})"),
                   "MHA288") != nullptr);
  // N as PyTorch's batch beside a named sequence: pooled over N, the batch entries mix.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"x": ["L", "N", "E"]}, "calls": [{"id": "p", "op": "mean", "input": "x", "dim": 1}]})"),
                   "MHA288") != nullptr);
  // Softmax over timm's N tokens is over a sequence, not across batch entries.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"x": ["B", "H", "N", "N"]}, "calls": [{"id": "p", "op": "softmax", "input": "x", "dim": -1}]})"),
                   "MHA265") == nullptr);
}

TEST_CASE("a matmul whose batch dims align a head count with a batch size is MHA083, fixed by unsqueezing the 3-D operand", "[glue][roles]") {
  // nn.MultiheadAttention's per-head weights (B, H, L, S) times a 3-D (B, S, E) memory: the memory's
  // batch meets the heads slot.
  auto check = [](const std::string& options, const std::string& memory) {
    return test::check_text(R"j({"version": 1, "modules": {"attn": "nn.MultiheadAttention(256, 4, batch_first=True)"},
      "tensors": {"x": ["B", "L", 256], "mem": ["B", "S", 256], "m4": ["B", 1, "S", 256]},
      "calls": [{"id": "a", "module": "attn", "query": "x", "key": "mem", "value": "mem", )j" + options + R"j("outputs": ["y", "w"]},
                {"id": "ctx", "op": "matmul", "input": "w", "other": ")j" + memory + R"j("}]})j");
  };
  Report per_head = check(R"("average_attn_weights": false, )", "mem");
  const Diagnostic* found = test::find(per_head, "MHA083");
  REQUIRE(found != nullptr);
  CHECK(found->call == "ctx");
  CHECK(found->message ==
        "valid only if 4 == B (input @ other batch dims), but num_heads is a head count and B a batch size: broadcasting from the right "
        "aligns input's dim 1 with other's dim 0");
  CHECK(test::find(per_head, "MHA080") == nullptr);  // folded in as a note
  CHECK(first_fix(*found).description == "mem.unsqueeze(1): a size-1 dim that broadcasts over num_heads");
  CHECK(first_fix(*found).verified);
  CHECK(first_fix(*found).valid());
  CHECK(first_fix(*found).semantics == FixSemantics::Consistent);
  // Averaged weights (B, L, S), or a memory with the size-1 heads dim, say nothing.
  Report averaged = check("", "mem");
  CHECK(averaged.diagnostics.empty());
  Report unsqueezed = check(R"("average_attn_weights": false, )", "m4");
  CHECK(unsqueezed.diagnostics.empty());
}

TEST_CASE("two operands that merge the same named dims in different orders warn MHA290", "[glue][roles]") {
  // Seq-first predictions (T, B) compared with batch-first labels (B, T), both viewed (-1).
  auto check = [](const std::string& predictions, const std::string& flatten = "view") {
    return test::check_text(R"({"version": 1, "tensors": {"pred": {"shape": )" + predictions + R"(, "dtype": "int64"},
        "labels": {"shape": ["B", "T"], "dtype": "int64"}},
      "calls": [{"id": "pv", "op": ")" + flatten + R"(", "input": "pred", "shape": [-1], "outputs": ["pf"]},
                {"id": "lv", "op": "view", "input": "labels", "shape": [-1], "outputs": ["lf"]},
                {"id": "eq", "op": "eq", "input": "pf", "other": "lf"}]})");
  };
  Report mixed = check(R"(["T", "B"])");
  const Diagnostic* found = test::find(mixed, "MHA290");
  REQUIRE(found != nullptr);
  CHECK(found->call == "eq");
  CHECK(found->message ==
        "dim 0 of pf (\"T*B\") and dim 0 of lf (\"B*T\") merge the same dims in different orders: element i of one is not element i of the other");
  CHECK(first_fix(*found).description == "pred.transpose(0, 1) before the view in call \"pv\" (as reshape): merged B*T as lf is");
  CHECK(first_fix(*found).verified);
  CHECK(first_fix(*found).valid());
  CHECK(first_fix(*found).semantics == FixSemantics::Consistent);
  Report reshaped = check(R"(["T", "B"])", "reshape");
  REQUIRE(test::find(reshaped, "MHA290") != nullptr);
  CHECK(first_fix(*test::find(reshaped, "MHA290")).description == "pred.transpose(0, 1) before the reshape in call \"pv\": merged B*T as lf is");
  // The same order says nothing.
  CHECK(test::find(check(R"(["B", "T"])"), "MHA290") == nullptr);
}

TEST_CASE("a per-head bias unsqueezed at 1, its heads against a batch of the same size, warns MHA290: unsqueeze(0) first", "[glue][roles]") {
  auto scores_plus_bias = [](int dim) {
    return test::check_text(R"({"version": 1, "dims": {"B": 8, "T": 16}, "tensors": {"scores": ["B", 8, "T", "T"], "rel_bias": [8, "T", "T"]},
        "calls": [{"id": "ub", "op": "unsqueeze", "input": "rel_bias", "dim": )" + std::to_string(dim) + R"(, "outputs": ["bias4"]},
                  {"id": "ad", "op": "add", "input": "scores", "other": "bias4", "outputs": ["s2"]}]})");
  };
  Report inside = scores_plus_bias(1);
  const Diagnostic* batch = test::find(inside, "MHA290");
  REQUIRE(batch != nullptr);
  CHECK(batch->message ==
        "the broadcast aligns dim 0 of bias4 (8, 1, 16, 16) (size 8, no batch) with dim 0 of scores (8, 8, 16, 16) (\"B\", a batch size), "
        "and its size-1 dim 1 (from unsqueeze(1) in call \"ub\") with dim 1 of the same size: each batch entry gets one slice of bias4");
  CHECK(first_fix(*batch).description == "rel_bias.unsqueeze(0) in call \"ub\": shared by the batch, each dim meets its own");
  CHECK(first_fix(*batch).valid());
  CHECK(first_fix(*batch).semantics == FixSemantics::Consistent);
  CHECK(test::find(scores_plus_bias(0), "MHA290") == nullptr);
  // A padding mask (B, 1, T) with its batch named meets the batch on purpose.
  Report padding = test::check_text(R"({"version": 1, "dims": {"B": 8, "T": 8}, "tensors": {"scores": ["B", "T", "T"], "m": ["B", "T"]},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "m", "dim": 1, "outputs": ["m3"]},
                {"id": "ad", "op": "add", "input": "scores", "other": "m3"}]})");
  CHECK(test::find(padding, "MHA290") == nullptr);
  // A per-entry mask declared with the batch size as a number (8 beside B = 8), bool or float.
  for (const char* declared : {R"("attn_mask": [8, "T", "T"])", R"("m": {"shape": [8, "T", "T"], "dtype": "bool"})"}) {
    std::string name = std::string(declared).substr(1, std::string(declared).find('"', 1) - 1);
    Report entries = test::check_text(R"({"version": 1, "dims": {"B": 8, "T": 16}, "tensors": {"scores": ["B", 8, "T", "T"], )" +
                                      std::string(declared) + R"(}, "calls": [{"id": "u", "op": "unsqueeze", "input": ")" + name +
                                      R"(", "dim": 1, "outputs": ["m4"]}, {"id": "ad", "op": "add", "input": "scores", "other": "m4"}]})");
    CHECK(test::find(entries, "MHA290") == nullptr);
  }
}

TEST_CASE("a padding mask (ids == 0) cast and multiplied in as pooling weights warns MHA292: its negation first", "[glue][roles][masks]") {
  auto pooled = [](const std::string& compare) {
    return test::check_text(R"({"version": 1, "tensors": {"ids": {"shape": ["B", "T"], "dtype": "int64"}, "h": ["B", "T", 256]},
        "calls": [{"id": "p", "op": ")" + compare + R"(", "input": "ids", "other": 0, "outputs": ["pad"]},
                  {"id": "u", "op": "unsqueeze", "input": "pad", "dim": -1, "outputs": ["pu"]},
                  {"id": "f", "op": "float", "input": "pu", "outputs": ["w"]},
                  {"id": "m", "op": "mul", "input": "h", "other": "w", "outputs": ["hw"]},
                  {"id": "s", "op": "sum", "input": "hw", "dim": 1, "outputs": ["num"]}]})");
  };
  Report padding = pooled("eq");
  const Diagnostic* weights = test::find(padding, "MHA292");
  REQUIRE(weights != nullptr);
  CHECK(weights->severity() == Severity::Warning);
  CHECK(first_fix(*weights).description == "weight by ~pad, the tokens: (~pu).float() in call \"f\"");
  CHECK(first_fix(*weights).valid());
  CHECK(first_fix(*weights).semantics == FixSemantics::Consistent);
  CHECK(test::find(pooled("ne"), "MHA292") == nullptr);
  // Declared masks read by their names, the negated words first: fairseq's non_pad_mask marks the tokens.
  auto declared = [](const std::string& name) {
    return test::check_text(R"({"version": 1, "tensors": {")" + name + R"(": {"shape": ["B", "T", 1], "dtype": "bool"}, "h": ["B", "T", 256]},
        "calls": [{"id": "f", "op": "float", "input": ")" + name + R"(", "outputs": ["w"]},
                  {"id": "m", "op": "mul", "input": "h", "other": "w", "outputs": ["hw"]}]})");
  };
  CHECK(test::find(declared("pad_mask"), "MHA292") != nullptr);
  CHECK(test::find(declared("non_pad_mask"), "MHA292") == nullptr);
  CHECK(test::find(declared("valid_mask"), "MHA292") == nullptr);
}

// "N" beside a dim named as a batch is the tokens (timm's (B, N, C), linear attention's (B, H, N,
// D)): the operators read it by role_of_dim, where role_of_name alone calls every N a batch.
TEST_CASE("N beside a batch is the tokens for LayerNorm, SDPA's layout and einsum's subscripts", "[roles]") {
  // LayerNorm([N, C]) of timm's (B, N, C): each image's tokens normalised as one block.
  Report norm = test::check_text(R"j({"dims": {"N": 196}, "module": "nn.LayerNorm([196, 768])", "input": ["B", "N", 768]})j");
  const Diagnostic* tokens = test::find(norm, "MHA261");
  REQUIRE(tokens != nullptr);
  CHECK_THAT(tokens->message, Catch::Contains("dim 1 \"N\", a sequence length"));
  // (B, N, 8, 64) into SDPA without the transpose: the tokens sit in the heads slot.
  Report sdpa = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", "N", 8, 64]},
      "calls": [{"id": "a", "op": "scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "outputs": ["o"]}]})j");
  CHECK(test::find(sdpa, "MHA209") != nullptr);
  // An N-first key (N, B, D) under "bjd": the tokens under the batch's subscript.
  Report einsum = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", "N", 64], "k": ["N", "B", 64]},
      "calls": [{"id": "s", "op": "einsum", "equation": "bid,bjd->bij", "operands": ["q", "k"], "outputs": ["w"]}]})j");
  const Diagnostic* subscript = test::find(einsum, "MHA260");
  REQUIRE(subscript != nullptr);
  CHECK_THAT(subscript->message, Catch::Contains("\"N\" (sequence length)"));
  // Alone, N is still a batch: (N, L, E) under "nld" is no finding.
  Report alone = test::check_text(R"j({"version": 1, "tensors": {"q": ["N", "L", 64]},
      "calls": [{"id": "s", "op": "einsum", "equation": "nld,nsd->nls", "operands": ["q", "q"], "outputs": ["w"]}]})j");
  CHECK(test::find(alone, "MHA260") == nullptr);
}

TEST_CASE("a cumsum over a batch or heads dim of a tensor with a sequence dim warns MHA331", "[glue][roles]") {
  // OPT's positions from a (B, T) attention_mask, counted down the batch.
  Report positions = test::check_text(R"({"version": 1, "dims": {"B": 2, "T": 6},
      "tensors": {"attention_mask": {"shape": ["B", "T"], "dtype": "int64"}},
      "calls": [{"id": "c", "op": "cumsum", "input": "attention_mask", "dim": 0}]})");
  const Diagnostic* counted = test::find(positions, "MHA331");
  REQUIRE(counted != nullptr);
  CHECK(counted->severity() == Severity::Warning);
  CHECK(first_fix(*counted).description == "cumsum over dim=1 (\"T\", the sequence)");
  CHECK(first_fix(*counted).valid());
  CHECK(first_fix(*counted).semantics == FixSemantics::Consistent);
  // Causal linear attention: the outer products (B, H, N, D, E) an einsum writes 'bhnde' summed
  // over the heads (the letter h says so where the dim has no name).
  Report linear = test::check_text(R"({"version": 1, "dims": {"B": 2, "N": 6},
      "tensors": {"k": ["B", 4, "N", 8], "v": ["B", 4, "N", 8]},
      "calls": [{"id": "ctx", "op": "einsum", "equation": "bhnd,bhne->bhnde", "operands": ["k", "v"], "outputs": ["context"]},
                {"id": "cs", "op": "cumsum", "input": "context", "dim": 1}]})");
  const Diagnostic* heads = test::find(linear, "MHA331");
  REQUIRE(heads != nullptr);
  CHECK(first_fix(*heads).description == "cumsum over dim=2 (\"N\", the sequence)");
  // Along the positions, and a tensor without a sequence dim, say nothing.
  for (const char* quiet : {R"({"tensors": {"m": ["B", "T"]}, "calls": [{"id": "c", "op": "cumsum", "input": "m", "dim": 1}]})",
                            R"({"tensors": {"m": ["T", "B"]}, "calls": [{"id": "c", "op": "cumsum", "input": "m", "dim": 0}]})",
                            R"({"tensors": {"m": ["B", 16]}, "calls": [{"id": "c", "op": "cumsum", "input": "m", "dim": 0}]})",
                            R"({"tensors": {"k": ["B", 4, "N", 8], "v": ["B", 4, "N", 8]},
                                "calls": [{"id": "x", "op": "einsum", "equation": "bhnd,bhne->bhnde", "operands": ["k", "v"], "outputs": ["c"]},
                                          {"id": "c", "op": "cumsum", "input": "c", "dim": -3}]})"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA331") == nullptr);
  }
}

TEST_CASE("a sum of stacked tensors over their sequence dim, keeping the stacked dim, warns MHA331", "[glue][roles]") {
  // One embedding per codebook stacked (B, K, T, E) and summed over the frames.
  auto stacked = [](int dim) {
    return R"({"version": 1, "dims": {"B": 2, "T": 6}, "tensors": {"a": ["B", "T", 8], "b": ["B", "T", 8]},
      "calls": [{"id": "st", "op": "stack", "tensors": ["a", "b"], "dim": 1, "outputs": ["s"]},
                {"id": "sum", "op": "sum", "input": "s", "dim": )" + std::to_string(dim) + "}]}";
  };
  const Report over_frames = test::check_text(stacked(2));
  const Diagnostic* pooled = test::find(over_frames, "MHA331");
  REQUIRE(pooled != nullptr);
  CHECK(first_fix(*pooled).description == "sum over dim=1 (the dim torch.stack added in call \"st\")");
  CHECK(first_fix(*pooled).valid());
  CHECK(first_fix(*pooled).semantics == FixSemantics::Consistent);
  CHECK(test::find(test::check_text(stacked(1)), "MHA331") == nullptr);
  CHECK(test::find(test::check_text(stacked(3)), "MHA331") == nullptr);  // the features: no sequence dim pooled
  // A mean over the positions of stacked layers is per-layer pooling, a correct readout.
  std::string pooled_layers = stacked(2);
  pooled_layers.replace(pooled_layers.find(R"("op": "sum")"), 11, R"("op": "mean")");
  CHECK(test::find(test::check_text(pooled_layers), "MHA331") == nullptr);
}

TEST_CASE("a mean of stacked attention outputs over their positions, keeping the stacked dim, warns MHA331", "[glue][roles]") {
  // Two heads, each softmax(q_i @ k_i^T) @ v, stacked (B, T, 2, 16) on dim 2 and averaged over dim 1.
  auto heads = [](const std::string& first, const std::string& second, int dim) {
    return R"({"version": 1, "dims": {"B": 2, "T": 6}, "tensors": {"s0": ["B", "T", "T"], "s1": ["B", "T", "T"], "v": ["B", "T", 16]},
      "calls": [{"id": "w0", "op": "softmax", "input": "s0", "dim": -1, "outputs": ["a0"]},
                {"id": "w1", "op": "softmax", "input": "s1", "dim": -1, "outputs": ["a1"]},
                {"id": "o0", "op": "bmm", "input": ")" + first + R"(", "mat2": "v", "outputs": ["h0"]},
                {"id": "o1", "op": "bmm", "input": ")" + second + R"(", "mat2": "v", "outputs": ["h1"]},
                {"id": "st", "op": "stack", "tensors": ["h0", "h1"], "dim": 2, "outputs": ["hs"]},
                {"id": "m", "op": "mean", "input": "hs", "dim": )" + std::to_string(dim) + R"(, "outputs": ["out"]}]})";
  };
  const Report over_positions = test::check_text(heads("a0", "a1", 1));
  const Diagnostic* pooled = test::find(over_positions, "MHA331");
  REQUIRE(pooled != nullptr);
  CHECK(first_fix(*pooled).description == "mean over dim=2 (the dim torch.stack added in call \"st\")");
  CHECK(first_fix(*pooled).valid());
  CHECK(test::find(test::check_text(heads("a0", "a1", 2)), "MHA331") == nullptr);  // over the heads
  // Products of weights no softmax made (raw scores) are no attention outputs: a mean over their
  // positions is a per-piece readout.
  CHECK(test::find(test::check_text(heads("s0", "s1", 1)), "MHA331") == nullptr);
  // Two attentions with values of their own are branches, not the heads of one: each pooled over
  // its positions is a per-branch readout.
  std::string branches = heads("a0", "a1", 1);
  branches.replace(branches.find(R"("mat2": "v", "outputs": ["h1"])"), 30, R"("mat2": "u", "outputs": ["h1"])");
  branches.replace(branches.find(R"("v": ["B", "T", 16]})"), 20, R"("v": ["B", "T", 16], "u": ["B", "T", 16]})");
  CHECK(test::find(test::check_text(branches), "MHA331") == nullptr);
}

TEST_CASE("log_softmax over the positions of a Linear's class logits warns MHA332", "[glue][roles]") {
  // A CTC head: (B, T, C) logits normalised over the frames.
  auto head = [](int out_features, int dim) {
    return R"j({"version": 1, "dims": {"B": 2, "T": 6}, "modules": {"head": "nn.Linear(16, )j" + std::to_string(out_features) +
           R"j()"}, "tensors": {"x": ["B", "T", 16]},
      "calls": [{"id": "h", "module": "head", "input": "x", "outputs": ["logits"]},
                {"id": "l", "op": "log_softmax", "input": "logits", "dim": )j" + std::to_string(dim) + "}]}";
  };
  const Report frames = test::check_text(head(32, 1));
  const Diagnostic* over_frames = test::find(frames, "MHA332");
  REQUIRE(over_frames != nullptr);
  CHECK(first_fix(*over_frames).description == "log_softmax over dim=-1 (the classes)");
  CHECK(first_fix(*over_frames).valid());
  CHECK(first_fix(*over_frames).semantics == FixSemantics::Consistent);
  CHECK(test::find(test::check_text(head(32, -1)), "MHA332") == nullptr);
  CHECK(test::find(test::check_text(head(1, 1)), "MHA332") == nullptr);  // pointer scores over the positions
  CHECK(test::find(test::check_text(head(2, 1)), "MHA332") == nullptr);  // a QA head's start and end logits
  CHECK(test::find(test::check_text(head(4, 1)), "MHA332") == nullptr);  // a few pooling heads
}

TEST_CASE("F.normalize over a dim the following product does not contract warns MHA332", "[glue][roles]") {
  // Cosine attention on (B, H, N, D): normalize's default dim=1 is the heads.
  auto cosine = [](const std::string& dims) {
    return R"({"version": 1, "dims": {"B": 2}, "tensors": {"q": ["B", 4, 16, 8], "k": ["B", 4, 16, 8]},
      "calls": [{"id": "nq", "op": "normalize", "input": "q", )" + dims + R"( "outputs": ["qn"]},
                {"id": "nk", "op": "normalize", "input": "k", )" + dims + R"( "outputs": ["kn"]},
                {"id": "kt", "op": "transpose", "input": "kn", "dim0": -2, "dim1": -1, "outputs": ["knT"]},
                {"id": "cs", "op": "matmul", "input": "qn", "other": "knT", "outputs": ["cos"]}]})";
  };
  const Report heads = test::check_text(cosine(""));
  const Diagnostic* across_heads = test::find(heads, "MHA332");
  REQUIRE(across_heads != nullptr);
  CHECK(across_heads->message == "F.normalize over dim 1 (4), but the matrix product that reads the result contracts dim 3 (8): its products are not cosines");
  // Both q and k normalised over the heads: one fix repairs both calls (either alone gives no cosines).
  CHECK(first_fix(*across_heads).description == "F.normalize over dim=-1 (the dim the product contracts) in both normalize calls \"nq\" and \"nk\"");
  CHECK(first_fix(*across_heads).valid());
  CHECK(first_fix(*across_heads).patch.size() == 2);
  // The joint fix is not extended to its twin again ("the same in call ...").
  for (const Fix& fix : across_heads->fixes) CHECK(fix.description.find("the same in call") == std::string::npos);
  CHECK(test::find(test::check_text(cosine(R"("dim": -1,)")), "MHA332") == nullptr);
  // Only k over the window tokens (dim=-2), q right: the fix repairs k's call alone.
  const Report keys_only = test::check_text(R"({"version": 1, "tensors": {"q": [3, 6, 49, 32], "k": [3, 6, 49, 32]},
      "calls": [{"id": "nq", "op": "normalize", "input": "q", "dim": -1, "outputs": ["qn"]},
                {"id": "nk", "op": "normalize", "input": "k", "dim": -2, "outputs": ["kn"]},
                {"id": "kt", "op": "transpose", "input": "kn", "dim0": 2, "dim1": 3, "outputs": ["knT"]},
                {"id": "cs", "op": "matmul", "input": "qn", "other": "knT", "outputs": ["cos"]}]})");
  const Diagnostic* key_side = test::find(keys_only, "MHA332");
  REQUIRE(key_side != nullptr);
  CHECK(key_side->call == "nk");
  CHECK(first_fix(*key_side).description == "F.normalize over dim=-1 (the dim the product contracts)");
  // (N, C) features normalised over C at the default dim=1, then compared: nothing to say.
  CHECK(test::find(test::check_text(R"({"tensors": {"f": [8, 16], "g": [16, 8]},
      "calls": [{"id": "n", "op": "normalize", "input": "f", "outputs": ["fn"]}, {"id": "m", "op": "matmul", "input": "fn", "other": "g"}]})"),
                   "MHA332") == nullptr);
  // Values normalised before attention aggregates them (p @ F.normalize(v)): not a cosine.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"p": ["B", "T", "T"], "v": ["B", "T", 64]},
      "calls": [{"id": "nv", "op": "normalize", "input": "v", "dim": -1, "outputs": ["vn"]}, {"id": "mm", "op": "matmul", "input": "p", "other": "vn"}]})"),
                   "MHA332") == nullptr);
}

TEST_CASE("per-head weights (B, H, L, S) pooled over the batch: MHA288's first fix pools the heads", "[glue][roles]") {
  // SDPA-style scores softmaxed per head, averaged with sum over dim 0 by a batch/heads mix-up.
  Report weights = test::check_text(R"({"version": 1, "tensors": {"p": ["N", 4, "L", "S"]},
      "calls": [{"id": "s", "op": "sum", "input": "p", "dim": 0, "outputs": ["m"]}]})");
  const Diagnostic* pooled = test::find(weights, "MHA288");
  REQUIRE(pooled != nullptr);
  CHECK(pooled->message == "sum over dim 0 (\"N\", a batch size) combines batch entries, not the heads (dim 1) of the (B, H, L, S) weights");
  CHECK(first_fix(*pooled).description == "sum over dim=1 (the heads of the (B, H, L, S) weights)");
  CHECK(first_fix(*pooled).valid());
  CHECK(first_fix(*pooled).semantics == FixSemantics::Consistent);
  // A (B, T, E) output keeps its sequence fix: no heads there.
  Report tokens = test::check_text(R"({"version": 1, "tensors": {"h": ["B", "T", 32]},
      "calls": [{"id": "s", "op": "mean", "input": "h", "dim": 0}]})");
  REQUIRE(test::find(tokens, "MHA288") != nullptr);
  CHECK(first_fix(*test::find(tokens, "MHA288")).description == "mean over dim=1 (\"T\", the sequence)");
}

TEST_CASE("a keepdim statistic over the batch alone, then normalising its own input, warns MHA288", "[glue][roles]") {
  // Instance normalisation of (B, C, F) spectrogram frames written with the batch dim: divided.
  auto normalised = [](const std::string& op, const std::string& keepdim, const std::string& combine) {
    return test::check_text(R"({"version": 1, "tensors": {"spec": ["batch", 40, 100]},
      "calls": [{"id": "st", "op": ")" + op + R"(", "input": "spec", "dim": 0, "keepdim": )" + keepdim + R"(, "outputs": ["scale"]},
                {"id": "n", "op": ")" + combine + R"(", "input": "spec", "other": "scale", "outputs": ["out"]}]})");
  };
  Report divided = normalised("sum", "true", "div");
  const Diagnostic* statistic = test::find(divided, "MHA288");
  REQUIRE(statistic != nullptr);
  CHECK(statistic->severity() == Severity::Warning);
  CHECK(statistic->message ==
        "sum over dim 0 (\"batch\", a batch size) with keepdim=True, then dividing spec (call \"n\"): each entry is normalised by a "
        "statistic of the whole batch");
  CHECK(first_fix(*statistic).description == "sum over dim=1 (each entry's positions)");
  CHECK(first_fix(*statistic).valid());
  CHECK(first_fix(*statistic).semantics == FixSemantics::Consistent);
  // Without keepdim, or added rather than normalising, or a 2-D (B, C) batch normalisation: quiet.
  CHECK(test::find(normalised("mean", "false", "sub"), "MHA288") == nullptr);
  CHECK(test::find(normalised("mean", "true", "add"), "MHA288") == nullptr);
  Report batch_norm = test::check_text(R"({"version": 1, "tensors": {"f": ["B", 64]},
      "calls": [{"id": "m", "op": "mean", "input": "f", "dim": 0, "keepdim": true, "outputs": ["mu"]},
                {"id": "c", "op": "sub", "input": "f", "other": "mu"}]})");
  CHECK(test::find(batch_norm, "MHA288") == nullptr);
}

TEST_CASE("a per-head vector (H,) applied to attention weights (B, H, L, S) meets the keys, not the heads: MHA290", "[glue][roles]") {
  // A gate per head, named so; S == H == 8 by binding, so PyTorch runs.
  const std::string gated = R"({"version": 1, "dims": {"S": 8}, "tensors": {"scores": ["B", 8, "S", "S"], "head_gate": [8]},
    "calls": [{"id": "sm", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["probs"]},
              {"id": "m", "op": "OPERATOR", "input": "probs", "other": "head_gate", "outputs": ["gated"]}]})";
  for (const char* op : {"mul", "add"}) {
    INFO(op);
    std::string text = gated;
    text.replace(text.find("OPERATOR"), 8, op);
    Report report = test::check_text(text);
    const Diagnostic* keys = test::find(report, "MHA290");
    REQUIRE(keys != nullptr);
    CHECK(keys->severity() == Severity::Warning);
    CHECK(first_fix(*keys).description == "line the heads up: head_gate[None, :, None, None]");
    CHECK(first_fix(*keys).valid());
    CHECK(first_fix(*keys).semantics == FixSemantics::Consistent);
  }
  // The vector's dim named as heads says the same; a vector over the keys (a key bias) says nothing.
  Report named = test::check_text(R"({"version": 1, "dims": {"H": 4, "T": 4}, "tensors": {"w": ["B", "H", "T", "T"], "scale": ["H"]},
    "calls": [{"id": "sm", "op": "softmax", "input": "w", "dim": -1, "outputs": ["probs"]},
              {"id": "m", "op": "mul", "input": "probs", "other": "scale", "outputs": ["scaled"]}]})");
  CHECK(test::find(named, "MHA290") != nullptr);
  Report key_bias = test::check_text(R"({"version": 1, "dims": {"S": 8}, "tensors": {"scores": ["B", 8, "S", "S"], "key_bias": [8]},
    "calls": [{"id": "sm", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["probs"]},
              {"id": "m", "op": "mul", "input": "probs", "other": "key_bias", "outputs": ["biased"]}]})");
  CHECK(key_bias.count(Severity::Warning) == 0);
  // Lined up already: no warning.
  Report lined = test::check_text(R"({"version": 1, "dims": {"S": 8}, "tensors": {"scores": ["B", 8, "S", "S"], "head_gate": [1, 8, 1, 1]},
    "calls": [{"id": "sm", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["probs"]},
              {"id": "m", "op": "mul", "input": "probs", "other": "head_gate", "outputs": ["gated"]}]})");
  CHECK(lined.count(Severity::Warning) == 0);
  // A vector whose dim is named as the keys is per key, whatever its name says.
  Report per_key = test::check_text(R"({"version": 1, "dims": {"S": 8}, "tensors": {"scores": ["B", 8, "T", "S"], "head_pos_bias": ["S"]},
    "calls": [{"id": "a", "op": "add", "input": "scores", "other": "head_pos_bias"}]})");
  CHECK(test::find(per_key, "MHA290") == nullptr);
}

TEST_CASE("a max or argmax over the batch dim of per-entry values warns MHA376", "[glue][roles]") {
  // Predictions taken with max over dim 0 of (B, classes) logits: a batch entry per class.
  Report logits = test::check_text(R"j({"version": 1, "modules": {"head": "nn.Linear(64, 5)"}, "tensors": {"x": ["B", 64]},
      "calls": [{"id": "h", "module": "head", "input": "x", "outputs": ["y"]},
                {"id": "m", "op": "max", "input": "y", "dim": 0, "outputs": ["v", "i"]}]})j");
  const Diagnostic* picked = test::find(logits, "MHA376");
  REQUIRE(picked != nullptr);
  CHECK(picked->message == "max over dim 0 (\"B\", a batch size) picks a batch entry for each of the 5 values of dim 1, not each entry's own max");
  CHECK(first_fix(*picked).description == "max over dim=1 (5, each entry's values): torch.max(y, 1)");
  CHECK(first_fix(*picked).valid());
  CHECK(first_fix(*picked).semantics == FixSemantics::Consistent);
  // argmax of (B, 4, 10) scores over the batch: each entry's argmax over its last dim.
  Report scores = test::check_text(R"j({"version": 1, "tensors": {"logits": ["batch", 4, 10]},
      "calls": [{"id": "a", "op": "argmax", "input": "logits", "dim": 0}]})j");
  REQUIRE(test::find(scores, "MHA376") != nullptr);
  CHECK(first_fix(*test::find(scores, "MHA376")).description == "argmax over dim=-1 (10, each entry's values): torch.argmax(logits, -1)");
  // Quiet: over the classes, a (B, B) similarity read per column, unnamed rows, a bound B == classes.
  for (const char* quiet : {R"j({"tensors": {"y": ["B", 5]}, "calls": [{"id": "m", "op": "max", "input": "y", "dim": 1}]})j",
                            R"j({"tensors": {"y": ["B", "B"]}, "calls": [{"id": "m", "op": "argmax", "input": "y", "dim": 0}]})j",
                            R"j({"tensors": {"y": [8, 5]}, "calls": [{"id": "m", "op": "argmin", "input": "y", "dim": 0}]})j",
                            // PointNet's max over the points N, a batch of one, per-class statistics of declared features.
                            R"j({"modules": {"head": "nn.Linear(64, 5)"}, "tensors": {"x": ["N", 64]},
                                "calls": [{"id": "h", "module": "head", "input": "x", "outputs": ["y"]}, {"id": "m", "op": "max", "input": "y", "dim": 0}]})j",
                            R"j({"dims": {"B": 1}, "modules": {"head": "nn.Linear(64, 5)"}, "tensors": {"x": ["B", 64]},
                                "calls": [{"id": "h", "module": "head", "input": "x", "outputs": ["y"]}, {"id": "m", "op": "max", "input": "y", "dim": 0}]})j",
                            R"j({"tensors": {"feats": ["B", 5]}, "calls": [{"id": "m", "op": "max", "input": "feats", "dim": 0}]})j",
                            R"j({"dims": {"B": 5}, "modules": {"head": "nn.Linear(64, 5)"}, "tensors": {"x": ["B", 64]},
                                "calls": [{"id": "h", "module": "head", "input": "x", "outputs": ["y"]},
                                          {"id": "m", "op": "max", "input": "y", "dim": 1}]})j"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA376") == nullptr);
  }
}

TEST_CASE("a softmax over the batch dim of per-entry logits warns MHA265", "[glue][roles]") {
  Report logits = test::check_text(R"j({"version": 1, "modules": {"head": "nn.Linear(64, 5)"}, "tensors": {"x": ["B", 64]},
      "calls": [{"id": "h", "module": "head", "input": "x", "outputs": ["y"]},
                {"id": "p", "op": "softmax", "input": "y", "dim": 0}]})j");
  const Diagnostic* across = test::find(logits, "MHA265");
  REQUIRE(across != nullptr);
  CHECK(across->message == "softmax over dim 0 (\"B\", a batch size) normalises each of the 5 values of dim 1 across batch entries, not each entry's own values");
  CHECK(first_fix(*across).description == "softmax over dim=-1 (5, each entry's values)");
  CHECK(first_fix(*across).valid());
  // Quiet: over the classes, a (B, B) similarity matrix per column, unnamed rows.
  for (const char* quiet : {R"j({"tensors": {"y": ["B", 5]}, "calls": [{"id": "p", "op": "softmax", "input": "y", "dim": -1}]})j",
                            R"j({"tensors": {"y": ["B", "B"]}, "calls": [{"id": "p", "op": "softmax", "input": "y", "dim": 0}]})j",
                            R"j({"tensors": {"y": [8, 5]}, "calls": [{"id": "p", "op": "softmax", "input": "y", "dim": 0}]})j",
                            // Attention pooling over the instances of one bag or the nodes of one graph: (N, 1) gate
                            // scores softmaxed over dim 0 (over their one column a softmax is all ones), named B too.
                            R"j({"modules": {"gate": "nn.Linear(64, 1)"}, "tensors": {"x": ["N", 64]},
                                "calls": [{"id": "g", "module": "gate", "input": "x", "outputs": ["a"]}, {"id": "p", "op": "softmax", "input": "a", "dim": 0}]})j",
                            R"j({"modules": {"gate": "nn.Linear(64, 1)"}, "tensors": {"x": ["B", 64]},
                                "calls": [{"id": "g", "module": "gate", "input": "x", "outputs": ["a"]}, {"id": "p", "op": "softmax", "input": "a", "dim": 0}]})j",
                            R"j({"tensors": {"feats": ["B", 5]}, "calls": [{"id": "p", "op": "softmax", "input": "feats", "dim": 0}]})j"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA265") == nullptr);
  }
}

TEST_CASE("one batch entry's rows given to a final head: the head over every entry's rows is offered after the sequence position",
          "[glue][roles]") {
  // A batch of graphs (batch, 50 nodes, 64) read as nodes[0] by a node classifier: the spec cannot say whether the head meant one
  // position of each entry (a class token) or every row of every entry (per-node classification). Both are offered, in that order.
  Report report = test::check_text(R"json({"version": 1, "modules": {"head": "nn.Linear(64, 2)"}, "tensors": {"nodes": ["batch", 50, 64]},
      "calls": [{"id": "s", "op": "select", "input": "nodes", "dim": 0, "index": 0, "outputs": ["graph0"]},
                {"id": "h", "module": "head", "input": "graph0", "outputs": ["node_logits"]}]})json");
  const Diagnostic* picked = test::find(report, "MHA289");
  REQUIRE(picked != nullptr);
  REQUIRE(picked->fixes.size() == 2);
  CHECK(picked->fixes[0].description == "select(dim=1, index=0): the sequence dim 1 (size 50)");
  CHECK(picked->fixes[1].description == "give the head of call \"h\" every batch entry's rows: head(nodes), one result row per row of each entry");
  CHECK(picked->fixes[1].verified);
}

TEST_CASE("softmax over another dim than the product reading the weights contracts warns MHA431", "[glue][roles]") {
  // A dense synthesizer's (B, L, L) map from a Linear, softmaxed over the queries (dim=-2), then
  // averaged over its last dim by weights @ values (through dropout).
  auto synthesized = [](int dim) {
    return fmt::format(R"j({{"version": 1, "dims": {{"L": 32}}, "modules": {{"w": "nn.Linear(128, 32)"}},
      "tensors": {{"x": ["B", "L", 128], "v": ["B", "L", 48]}},
      "calls": [{{"id": "l", "module": "w", "input": "x", "outputs": ["a"]}},
                {{"id": "p", "op": "softmax", "input": "a", "dim": {}, "outputs": ["w"]}},
                {{"id": "d", "op": "dropout", "input": "w", "p": 0.1, "outputs": ["wd"]}},
                {{"id": "o", "op": "matmul", "input": "wd", "other": "v"}}]}})j", dim);
  };
  const Report queries = test::check_text(synthesized(-2));
  const Diagnostic* over_queries = test::find(queries, "MHA431");
  REQUIRE(over_queries != nullptr);
  CHECK(over_queries->call == "p");
  CHECK(first_fix(*over_queries).description == "softmax over dim=-1 (the dim the product contracts)");
  CHECK(first_fix(*over_queries).semantics == FixSemantics::Consistent);
  CHECK(test::check_text(synthesized(-1)).diagnostics.empty());
  // Linear attention laid out (B, N, H, D): keys softmaxed over their features while k^T v sums
  // the positions (dim 1); the queries softmaxed over the features they are contracted over.
  auto linear = [](int key_dim) {
    return fmt::format(R"j({{"version": 1, "tensors": {{"q": ["B", "T", 4, 16], "k": ["B", "T", 4, 16], "v": ["B", "T", 4, 16]}},
      "calls": [{{"id": "sq", "op": "softmax", "input": "q", "dim": -1, "outputs": ["qs"]}},
                {{"id": "sk", "op": "softmax", "input": "k", "dim": {}, "outputs": ["ks"]}},
                {{"id": "c", "op": "einsum", "equation": "bnhd,bnhe->bhde", "operands": ["ks", "v"], "outputs": ["ctx"]}},
                {{"id": "o", "op": "einsum", "equation": "bnhd,bhde->bnhe", "operands": ["qs", "ctx"]}}]}})j", key_dim);
  };
  const Report features = test::check_text(linear(-1));
  const Diagnostic* over_features = test::find(features, "MHA431");
  REQUIRE(over_features != nullptr);
  CHECK(over_features->call == "sk");
  CHECK(first_fix(*over_features).description == "softmax over dim=1 (the dim the product contracts)");
  CHECK(test::check_text(linear(1)).diagnostics.empty());
  // Attention pooling (B, T, 8) softmaxed over the tokens and read as weights^T @ x: consistent.
  CHECK(test::check_text(R"j({"version": 1, "modules": {"g": "nn.Linear(64, 8)"}, "tensors": {"x": ["B", "T", 64]},
      "calls": [{"id": "l", "module": "g", "input": "x", "outputs": ["a"]}, {"id": "p", "op": "softmax", "input": "a", "dim": 1, "outputs": ["w"]},
                {"id": "t", "op": "transpose", "input": "w", "dim0": 1, "dim1": 2, "outputs": ["wt"]},
                {"id": "o", "op": "bmm", "input": "wt", "mat2": "x"}]})j")
            .diagnostics.empty());
  // Talking heads mix the weights across the heads after the softmax: no positions contracted.
  CHECK(test::find(test::check_text(R"j({"version": 1, "tensors": {"s": ["B", 8, "T", "T"], "m": [8, 8]},
      "calls": [{"id": "p", "op": "softmax", "input": "s", "dim": -1, "outputs": ["w"]},
                {"id": "o", "op": "einsum", "equation": "bhij,hk->bkij", "operands": ["w", "m"]}]})j"),
                   "MHA431") == nullptr);
}

TEST_CASE("F.normalize over a dim other than the features an einsum contracts warns MHA332", "[glue][roles]") {
  // Shared query-key attention (B, H, T, D): the keys normalised over the positions (dim=2).
  auto shared = [](int dim) {
    return fmt::format(R"j({{"version": 1, "tensors": {{"q": ["B", 4, "T", 32]}},
      "calls": [{{"id": "n", "op": "normalize", "input": "q", "dim": {}, "outputs": ["k"]}},
                {{"id": "s", "op": "einsum", "equation": "bhid,bhjd->bhij", "operands": ["q", "k"], "outputs": ["sc"]}},
                {{"id": "p", "op": "softmax", "input": "sc", "dim": -1}}]}})j", dim);
  };
  const Report positions = test::check_text(shared(2));
  const Diagnostic* over_positions = test::find(positions, "MHA332");
  REQUIRE(over_positions != nullptr);
  CHECK(first_fix(*over_positions).description == "F.normalize over dim=-1 (the dim the product contracts)");
  CHECK(test::check_text(shared(-1)).diagnostics.empty());
  // Keys normalised over their features, then k^T v over the positions: no cosine, nothing to say.
  CHECK(test::find(test::check_text(R"j({"version": 1, "tensors": {"k": ["B", 4, "T", 32], "v": ["B", 4, "T", 32]},
      "calls": [{"id": "n", "op": "normalize", "input": "k", "dim": -1, "outputs": ["kn"]},
                {"id": "c", "op": "einsum", "equation": "bhnd,bhne->bhde", "operands": ["kn", "v"]}]})j"),
                   "MHA332") == nullptr);
}

TEST_CASE("softmax of a Linear's outputs over the positions warns MHA332 unless a product pools them", "[glue][roles]") {
  auto router = [](int dim) {
    return fmt::format(R"j({{"version": 1, "modules": {{"gate": "nn.Linear(256, 8)"}}, "tensors": {{"x": ["B", "L", 256]}},
      "calls": [{{"id": "g", "module": "gate", "input": "x", "outputs": ["logits"]}},
                {{"id": "p", "op": "softmax", "input": "logits", "dim": {}, "outputs": ["probs"]}}]}})j", dim);
  };
  const Report tokens = test::check_text(router(1));
  const Diagnostic* over_tokens = test::find(tokens, "MHA332");
  REQUIRE(over_tokens != nullptr);
  CHECK(first_fix(*over_tokens).description == "softmax over dim=-1 (the classes)");
  CHECK(test::check_text(router(-1)).diagnostics.empty());
  CHECK(test::find(test::check_text(router(0)), "MHA332") == nullptr);  // the batch: MHA265's
}

TEST_CASE("a difference of two tensors made alike is zero everywhere: MHA441 with the neighbouring unsqueeze", "[glue]") {
  auto pairwise = [](int first, int second) {
    return fmt::format(R"j({{"version": 1, "tensors": {{"ids": ["B", "T"]}},
      "calls": [{{"id": "a", "op": "unsqueeze", "input": "ids", "dim": {}, "outputs": ["r"]}},
                {{"id": "b", "op": "unsqueeze", "input": "ids", "dim": {}, "outputs": ["c"]}},
                {{"id": "d", "op": "sub", "input": "r", "other": "c", "outputs": ["diff"]}},
                {{"id": "m", "op": "ne", "input": "diff", "other": 0}}]}})j", first, second);
  };
  const Report same = test::check_text(pairwise(-1, -1));
  const Diagnostic* zero = test::find(same, "MHA441");
  REQUIRE(zero != nullptr);
  CHECK(zero->call == "d");
  CHECK(first_fix(*zero).description == "unsqueeze(-2) in call \"b\": each operand varies along one of the two dims");
  CHECK(first_fix(*zero).valid());
  CHECK(test::check_text(pairwise(-1, -2)).diagnostics.empty());
  CHECK(test::check_text(pairwise(1, 2)).diagnostics.empty());
  // One name on both sides; two dropouts of one tensor differ and are left alone.
  CHECK(test::find(test::check_text(R"j({"version": 1, "tensors": {"x": [4, 8]}, "calls": [{"id": "d", "op": "sub", "input": "x", "other": "x"}]})j"),
                   "MHA441") != nullptr);
  CHECK(test::check_text(R"j({"version": 1, "tensors": {"x": [4, 8]},
      "calls": [{"id": "a", "op": "dropout", "input": "x", "p": 0.1, "outputs": ["y"]}, {"id": "b", "op": "dropout", "input": "x", "p": 0.1, "outputs": ["z"]},
                {"id": "d", "op": "sub", "input": "y", "other": "z"}]})j")
            .diagnostics.empty());
}
