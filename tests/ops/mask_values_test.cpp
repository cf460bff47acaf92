// Masks checked by their values where attention reads them (src/ops/mask_values.cpp): causal masks
// built from tril/triu that show the future or hide the own position (MHA275), masks of one
// convention joined by the wrong operator (MHA276), a keep mask scaled by a negative number as the
// additive bias (MHA084).
#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

const Fix& first_fix_of(const Report& report, const std::string& code) {
  const Diagnostic* diagnostic = test::find(report, code);
  REQUIRE(diagnostic != nullptr);
  REQUIRE_FALSE(diagnostic->fixes.empty());
  return diagnostic->fixes[0];
}

void check_fix(const Fix& fix, const std::string& description) {
  CHECK(fix.description == description);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

// nn.MultiheadAttention (batch first, E = 16) given attn_mask "m" made by `calls` from `tensors`.
Report mha_with(const std::string& tensors, const std::string& calls) {
  return test::check_text(R"json({"version": 1, "dims": {"T": 6}, "modules": {"attn": "nn.MultiheadAttention(16, 2, batch_first=True)"},
      "tensors": {"x": [2, "T", 16], )json" + tensors + R"(}, "calls": [)" + calls +
                          R"(, {"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "m", "outputs": ["y", "w"]}]})");
}

// F.scaled_dot_product_attention over L queries and S keys, attn_mask "m".
Report sdpa_with(int queries, int keys, const std::string& tensors, const std::string& calls) {
  std::string q = std::to_string(queries), s = std::to_string(keys);
  return test::check_text(R"({"version": 1, "tensors": {"q": [2, 4, )" + q + R"(, 8], "k": [2, 4, )" + s + R"(, 8], "v": [2, 4, )" + s +
                          R"(, 8], )" + tensors + R"(}, "calls": [)" + calls +
                          R"(, {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "m"}]})");
}

bool warns(const Report& report) {
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.severity() != Severity::Note) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("triu(full(-inf)) without diagonal=1 hides the diagonal and row 0: MHA275, fixed with diagonal=1", "[masks][values]") {
  Report blind = mha_with(R"("neg_inf": ["T", "T"])", R"({"id": "t", "op": "triu", "input": "neg_inf", "outputs": ["m"]})");
  const Diagnostic* diagnostic = test::find(blind, "MHA275");
  REQUIRE(diagnostic != nullptr);
  CHECK(diagnostic->message.find("hides each query's own position") != std::string::npos);
  CHECK(diagnostic->message.find("row 0") != std::string::npos);
  check_fix(first_fix_of(blind, "MHA275"), "triu(neg_inf, diagonal=1) in call \"t\" (not diagonal=0)");
  CHECK_FALSE(warns(mha_with(R"("neg_inf": ["T", "T"])", R"({"id": "t", "op": "triu", "input": "neg_inf", "diagonal": 1, "outputs": ["m"]})")));
  // The bool form: triu(ones) (True = masked) hides the diagonal too; triu(ones, 1) and ~tril(ones) do not.
  std::string ones = R"("ones": {"shape": ["T", "T"], "dtype": "bool"})";
  check_fix(first_fix_of(mha_with(ones, R"({"id": "t", "op": "triu", "input": "ones", "outputs": ["m"]})"), "MHA275"),
            "triu(ones, diagonal=1) in call \"t\" (not diagonal=0)");
  CHECK_FALSE(warns(mha_with(ones, R"({"id": "t", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["m"]})")));
  CHECK_FALSE(warns(mha_with(ones, R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["k"]}, {"id": "n", "op": "bitwise_not", "input": "k", "outputs": ["m"]})")));
}

TEST_CASE("a bottom-right causal keep mask written tril(diagonal=L - S): every row empty, fixed with diagonal=S - L", "[masks][values]") {
  std::string ones = R"("ones": {"shape": [4, 12], "dtype": "bool"})";
  Report shifted = sdpa_with(4, 12, ones, R"({"id": "t", "op": "tril", "input": "ones", "diagonal": -8, "outputs": ["m"]})");
  const Diagnostic* diagnostic = test::find(shifted, "MHA275");
  REQUIRE(diagnostic != nullptr);
  CHECK(diagnostic->message.find("leaves 4 of 4 query rows without any key") != std::string::npos);
  check_fix(first_fix_of(shifted, "MHA275"), "tril(ones, diagonal=8) in call \"t\" (not diagonal=-8)");
  CHECK_FALSE(warns(sdpa_with(4, 12, ones, R"({"id": "t", "op": "tril", "input": "ones", "diagonal": 8, "outputs": ["m"]})")));
  // A square keep mask: tril(ones) and Mistral's sliding window tril(ones) & triu(ones, -3) are right.
  std::string square = R"("ones": {"shape": [6, 6], "dtype": "bool"})";
  CHECK_FALSE(warns(sdpa_with(6, 6, square, R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["m"]})")));
  CHECK_FALSE(warns(sdpa_with(6, 6, square, R"({"id": "a", "op": "tril", "input": "ones", "outputs": ["past"]},
      {"id": "b", "op": "triu", "input": "ones", "diagonal": -3, "outputs": ["recent"]},
      {"id": "c", "op": "logical_and", "input": "past", "other": "recent", "outputs": ["m"]})")));
}

TEST_CASE("(triu(ones) == 1) without .transpose(0, 1), then -inf where 0: the future seen (MHA275), fixed with the transpose", "[masks][values]") {
  auto word_lm = [](bool transposed) {
    std::string made = transposed ? R"({"id": "b", "op": "eq", "input": "up", "other": 1, "outputs": ["keep_t"]},
        {"id": "r", "op": "transpose", "input": "keep_t", "dim0": 0, "dim1": 1, "outputs": ["keep"]})"
                                  : R"({"id": "b", "op": "eq", "input": "up", "other": 1, "outputs": ["keep"]})";
    return test::check_text(R"json({"version": 1, "modules": {"enc": "nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2), num_layers=2)"},
        "tensors": {"src": ["T", 2, 16], "ones": {"shape": ["T", "T"], "dtype": "float32"}},
        "calls": [{"id": "t", "op": "triu", "input": "ones", "outputs": ["up"]}, )json" +
                            made + R"(, {"id": "z", "op": "eq", "input": "keep", "other": 0, "outputs": ["blocked"]},
        {"id": "f", "op": "float", "input": "keep", "outputs": ["kf"]},
        {"id": "m1", "op": "masked_fill", "input": "kf", "mask": "blocked", "value": "-inf", "outputs": ["m1"]},
        {"id": "o", "op": "eq", "input": "keep", "other": 1, "outputs": ["ones_at"]},
        {"id": "m2", "op": "masked_fill", "input": "m1", "mask": "ones_at", "value": 0.0, "outputs": ["mask"]},
        {"id": "e", "module": "enc", "src": "src", "mask": "mask", "outputs": ["out"]}]})");
  };
  Report future = word_lm(false);
  const Diagnostic* diagnostic = test::find(future, "MHA275");
  REQUIRE(diagnostic != nullptr);
  CHECK(diagnostic->message.find("lets each query see keys after its own position") != std::string::npos);
  check_fix(first_fix_of(future, "MHA275"), "up = triu(ones).transpose(0, 1) after call \"t\": the triangle on the other side of the diagonal");
  CHECK_FALSE(warns(word_lm(true)));
}

TEST_CASE("scores filled by a triangle mask: tril(ones) == 0 is right, triu(ones) hides the diagonal", "[masks][values]") {
  auto filled = [](const std::string& calls) {
    return test::check_text(R"({"version": 1, "tensors": {"scores": [2, 4, "T", "T"], "ones": {"shape": ["T", "T"], "dtype": "bool"}},
        "calls": [)" + calls + R"(, {"id": "f", "op": "masked_fill", "input": "scores", "mask": "m", "value": "-inf", "outputs": ["s"]},
        {"id": "p", "op": "softmax", "input": "s", "dim": -1}]})");
  };
  CHECK_FALSE(warns(filled(R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["k"]}, {"id": "z", "op": "eq", "input": "k", "other": 0, "outputs": ["m"]})")));
  check_fix(first_fix_of(filled(R"({"id": "t", "op": "triu", "input": "ones", "outputs": ["m"]})"), "MHA275"),
            "triu(ones, diagonal=1) in call \"t\" (not diagonal=0)");
}

TEST_CASE("keep masks joined by |, ignore masks by &: the future let through, MHA276, fixed with the other operator", "[masks][values]") {
  std::string keep_masks = R"("ones": {"shape": [6, 6], "dtype": "bool"}, "attention_mask": {"shape": [2, 6], "dtype": "bool"})";
  std::string causal_or_keep = R"({"id": "c", "op": "tril", "input": "ones", "outputs": ["causal"]},
      {"id": "g", "op": "getitem", "input": "attention_mask", "index": "[:, None, None, :]", "outputs": ["keep"]},
      {"id": "o", "op": "logical_or", "input": "causal", "other": "keep", "outputs": ["m"]})";
  Report joined = sdpa_with(6, 6, keep_masks, causal_or_keep);
  check_fix(first_fix_of(joined, "MHA276"), "combine them with & (logical_and, not logical_or) in call \"o\"");
  std::string causal_and_keep = causal_or_keep;
  causal_and_keep.replace(causal_and_keep.find("logical_or"), 10, "logical_and");
  CHECK_FALSE(warns(sdpa_with(6, 6, keep_masks, causal_and_keep)));
  // Ignore masks (True = masked) filling the scores: | is right, & is not.
  auto ignore = [](const std::string& join) {
    return test::check_text(R"({"version": 1,
        "tensors": {"scores": [2, 4, 6, 6], "ones": {"shape": [6, 6], "dtype": "bool"}, "ids": {"shape": [2, 6], "dtype": "int64"}},
        "calls": [{"id": "c", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["future"]},
                  {"id": "p", "op": "eq", "input": "ids", "other": 0, "outputs": ["pad"]},
                  {"id": "g", "op": "getitem", "input": "pad", "index": "[:, None, None, :]", "outputs": ["pad4"]},
                  {"id": "o", "op": ")" + join + R"(", "input": "future", "other": "pad4", "outputs": ["m"]},
                  {"id": "f", "op": "masked_fill", "input": "scores", "mask": "m", "value": "-inf", "outputs": ["s"]}]})");
  };
  CHECK_FALSE(warns(ignore("bitwise_or")));
  check_fix(first_fix_of(ignore("bitwise_and"), "MHA276"), "combine them with | (bitwise_or, not bitwise_and) in call \"o\"");
}

TEST_CASE("a 1 = keep mask times a negative number added to the scores: MHA084, fixed with (1.0 - mask)", "[masks][values]") {
  auto bias = [](const std::string& calls) {
    return test::check_text(R"({"version": 1, "tensors": {"scores": [2, 4, 6, 6], "attention_mask": {"shape": [2, 6], "dtype": "int64"}},
        "calls": [{"id": "e", "op": "getitem", "input": "attention_mask", "index": "[:, None, None, :]", "outputs": ["ext"]},
                  {"id": "f", "op": "float", "input": "ext", "outputs": ["extf"]}, )" +
                            calls + R"(, {"id": "a", "op": "add", "input": "scores", "other": "bias", "outputs": ["s"]}]})");
  };
  Report penalised = bias(R"({"id": "m", "op": "mul", "input": "extf", "other": -10000.0, "outputs": ["bias"]})");
  check_fix(first_fix_of(penalised, "MHA084"),
            "(1.0 - extf) * -10000 in call \"m\" (written (extf - 1.0) * 10000): 0 where extf is 1, -10000 where it is 0");
  // BART's (m - 1) * 10000 and Hugging Face's (1 - m) * min are right.
  CHECK_FALSE(warns(bias(R"({"id": "d", "op": "sub", "input": "extf", "other": 1, "outputs": ["em"]},
                           {"id": "m", "op": "mul", "input": "em", "other": 10000.0, "outputs": ["bias"]})")));
  CHECK_FALSE(warns(bias(R"({"id": "n", "op": "mul", "input": "extf", "other": -1.0, "outputs": ["neg"]},
                           {"id": "o", "op": "add", "input": "neg", "other": 1.0, "outputs": ["inv"]},
                           {"id": "m", "op": "mul", "input": "inv", "other": -3.4028234663852886e38, "outputs": ["bias"]})")));
}

TEST_CASE("an additive mask filled with -inf where tril(ones) keeps: MHA084 at the fill, the future seen at SDPA as its note", "[masks][values]") {
  auto additive = [](const std::string& fill_mask) {
    return sdpa_with(6, 6, R"("ones": {"shape": [6, 6], "dtype": "bool"}, "zeros": [6, 6])",
                     R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["keep"]}, )" + fill_mask +
                         R"({"id": "f", "op": "masked_fill", "input": "zeros", "mask": "fill", "value": "-inf", "outputs": ["m"]})");
  };
  Report wrong = additive(R"({"id": "c", "op": "clone", "input": "keep", "outputs": ["fill"]}, )");
  const Diagnostic* filled = test::find(wrong, "MHA084");
  REQUIRE(filled != nullptr);
  // One cause: the values check at SDPA (MHA275) is folded into the fill's diagnostic.
  CHECK(test::find(wrong, "MHA275") == nullptr);
  bool noted = false;
  for (const std::string& note : filled->notes) noted = noted || note.find("MHA275") != std::string::npos;
  CHECK(noted);
  check_fix(first_fix_of(wrong, "MHA084"), "masked_fill(~fill, ...)");
  CHECK_FALSE(warns(additive(R"({"id": "n", "op": "bitwise_not", "input": "keep", "outputs": ["fill"]}, )")));
}

TEST_CASE("nanoGPT's causal buffer viewed (1, 1, T, T) and sliced keeps its triangle: a wrong diagonal still warns MHA275", "[masks][values]") {
  // self.bias = torch.tril(torch.ones(T, T)).view(1, 1, T, T); att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
  auto nanogpt = [](const std::string& triangle) {
    return test::check_text(R"({"version": 1, "tensors": {"scores": [2, 4, "T", "T"], "ones": ["T", "T"]},
        "calls": [)" + triangle + R"(, {"id": "v", "op": "view", "input": "lower", "shape": [1, 1, "T", "T"], "outputs": ["bias"]},
        {"id": "g", "op": "getitem", "input": "bias", "index": "[:, :, :T, :T]", "outputs": ["b"]},
        {"id": "z", "op": "eq", "input": "b", "other": 0, "outputs": ["m"]},
        {"id": "f", "op": "masked_fill", "input": "scores", "mask": "m", "value": "-inf", "outputs": ["s"]},
        {"id": "p", "op": "softmax", "input": "s", "dim": -1}]})");
  };
  CHECK_FALSE(warns(nanogpt(R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["lower"]})")));
  check_fix(first_fix_of(nanogpt(R"({"id": "t", "op": "tril", "input": "ones", "diagonal": 1, "outputs": ["lower"]})"), "MHA275"),
            "tril(ones, diagonal=0) in call \"t\" (not diagonal=1)");
}

TEST_CASE("an additive causal mask made by torch.where(keep, 0.0, -inf) is followed: the future seen warns MHA275", "[masks][values]") {
  auto where = [](const std::string& triangle) {
    return test::check_text(R"({"version": 1, "tensors": {"scores": [2, 4, "T", "T"], "ones": {"shape": ["T", "T"], "dtype": "bool"}},
        "calls": [)" + triangle + R"(, {"id": "w", "op": "where", "condition": "keep", "input": 0.0, "other": "-inf", "outputs": ["m"]},
        {"id": "a", "op": "add", "input": "scores", "other": "m", "outputs": ["s"]},
        {"id": "p", "op": "softmax", "input": "s", "dim": -1}]})");
  };
  CHECK_FALSE(warns(where(R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["keep"]})")));
  CHECK(test::find(where(R"({"id": "t", "op": "triu", "input": "ones", "outputs": ["keep"]})"), "MHA275") != nullptr);
}

TEST_CASE("a sliding-window band written with its offset's sign flipped: the fix negates the diagonal", "[masks][values]") {
  // A 3-key window for SDPA (True = take part): tril(ones) & triu(ones, diagonal=2) keeps nothing.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"q": [2, 4, 10, 16]},
    "calls": [{"id": "o", "op": "ones", "size": [10, 10], "outputs": ["full"]},
              {"id": "lo", "op": "tril", "input": "full", "outputs": ["past"]},
              {"id": "hi", "op": "triu", "input": "full", "diagonal": 2, "outputs": ["recent"]},
              {"id": "pb", "op": "bool", "input": "past", "outputs": ["past_b"]},
              {"id": "rb", "op": "bool", "input": "recent", "outputs": ["recent_b"]},
              {"id": "w", "op": "logical_and", "input": "past_b", "other": "recent_b", "outputs": ["window"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "window"}]})j");
  const Fix& fix = first_fix_of(report, "MHA275");
  CHECK(fix.description.rfind("triu(full, diagonal=-2) in call \"hi\" (not diagonal=2)", 0) == 0);
  CHECK(fix.valid());
  // The band written right says nothing.
  Report right = test::check_text(R"j({"version": 1, "tensors": {"q": [2, 4, 10, 16]},
    "calls": [{"id": "o", "op": "ones", "size": [10, 10], "outputs": ["full"]},
              {"id": "lo", "op": "tril", "input": "full", "outputs": ["past"]},
              {"id": "hi", "op": "triu", "input": "full", "diagonal": -2, "outputs": ["recent"]},
              {"id": "pb", "op": "bool", "input": "past", "outputs": ["past_b"]},
              {"id": "rb", "op": "bool", "input": "recent", "outputs": ["recent_b"]},
              {"id": "w", "op": "logical_and", "input": "past_b", "other": "recent_b", "outputs": ["window"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "window"}]})j");
  CHECK(test::find(right, "MHA275") == nullptr);
}

TEST_CASE("a float 0/1 causal mask added to the scores masks nothing: MHA275, fixed by .bool()", "[masks][values]") {
  // nn.MultiheadAttention reads bool True as masked: triu(ones, 1) as a bool mask is causal.
  std::string ones = R"("ones": ["T", "T"])";
  Report added = mha_with(ones, R"({"id": "t", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["m"]})");
  check_fix(first_fix_of(added, "MHA275"), "pass m.bool(): a bool mask, whose True positions are not attended");
  // SDPA reads bool True as attended: tril(ones) as a bool mask is causal.
  std::string square = R"("ones": [6, 6])";
  Report kept = sdpa_with(6, 6, square, R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["m"]})");
  check_fix(first_fix_of(kept, "MHA275"), "pass m.bool(): a bool mask, whose True positions are attended");
  // The cast is no fix where its bool reading is wrong too: triu(ones, 1) for SDPA keeps the future.
  Report inverted = sdpa_with(6, 6, square, R"({"id": "t", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["m"]})");
  const Diagnostic* diagnostic = test::find(inverted, "MHA275");
  REQUIRE(diagnostic != nullptr);
  for (const Fix& fix : diagnostic->fixes) CHECK(fix.description.find(".bool()") == std::string::npos);
  // The bool masks themselves are right.
  CHECK_FALSE(warns(mha_with(ones, R"({"id": "t", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["u"]}, {"id": "b", "op": "bool", "input": "u", "outputs": ["m"]})")));
  CHECK_FALSE(warns(sdpa_with(6, 6, square, R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["l"]}, {"id": "b", "op": "bool", "input": "l", "outputs": ["m"]})")));
}
