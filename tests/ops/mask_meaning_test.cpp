// Masks on the glue operators, read by what True or 1 means (src/ops/mask_meaning.cpp,
// src/check/mask_origin.cpp): a 0/1 mask added to the scores (MHA266, MHA267), scores filled
// with 0 before softmax (MHA268), a mask made by ne(ids, pad) passed as key_padding_mask (MHA084).
#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

// q @ k^T scores (B, H, T, T), then `tail` calls; `mask` is the declaration of tensor "mask".
std::string scores_then(const std::string& mask, const std::string& tail) {
  return R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16},
             "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "T", "D"], )" +
         mask + R"(},
             "calls": [{"id": "t", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kt"]},
                       {"id": "s", "op": "matmul", "input": "q", "other": "kt", "outputs": ["sc"]}, )" +
         tail + "]}";
}

const std::string kIndexMask = R"({"id": "g", "op": "getitem", "input": "mask_name", "index": "[:, None, None, :]", "outputs": ["m"]})";

std::string indexed(const std::string& name) {
  std::string call = kIndexMask;
  call.replace(call.find("mask_name"), 9, name);
  return call;
}

const Fix& first_fix(const Diagnostic* diagnostic) {
  REQUIRE(diagnostic != nullptr);
  REQUIRE_FALSE(diagnostic->fixes.empty());
  return diagnostic->fixes[0];
}

// The diagnostic's message, and its first fix: so described, verified, consistent with the roles.
void check_consistent_fix(const Diagnostic* diagnostic, const std::string& message, const std::string& description) {
  const Fix& fix = first_fix(diagnostic);
  CHECK(diagnostic->message == message);
  CHECK(fix.description == description);
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
}

}  // namespace

TEST_CASE("a bool mask added to the scores masks nothing: MHA266, fixed with masked_fill in the mask's convention", "[glue][masks]") {
  // True = keep (the name): the fill takes ~keep.
  Report keep = test::check_text(scores_then(R"("keep": {"shape": ["B", "T"], "dtype": "bool"})",
                                             indexed("keep") + R"(, {"id": "a", "op": "add", "input": "sc", "other": "m", "outputs": ["sm"]},
                                                 {"id": "p", "op": "softmax", "input": "sm", "dim": -1})"));
  const Diagnostic* added = test::find(keep, "MHA266");
  const Fix& inverted = first_fix(added);
  CHECK(added->message == "bool mask m added to the attention scores sc: True adds 1.0 and False 0.0, which masks nothing");
  CHECK(inverted.description == "sc.masked_fill(~m, float('-inf')) in place of sc + m");
  CHECK(inverted.verified);
  CHECK(inverted.remaining_errors.empty());
  CHECK(inverted.semantics == FixSemantics::Consistent);
  // True = padding (the name): the fill takes the mask as it is, on either side of the +.
  Report pad = test::check_text(scores_then(R"("pad": {"shape": ["B", "T"], "dtype": "bool"})",
                                            indexed("pad") + R"(, {"id": "a", "op": "add", "input": "m", "other": "sc"})"));
  const Fix& as_is = first_fix(test::find(pad, "MHA266"));
  CHECK(as_is.description == "sc.masked_fill(m, float('-inf')) in place of sc + m");
  CHECK(as_is.verified);
  CHECK(as_is.semantics == FixSemantics::Consistent);
  // Neither the name nor a call says what True means: the fix is offered, its meaning unknown.
  Report unknown = test::check_text(scores_then(R"("flags": {"shape": ["B", "T"], "dtype": "bool"})",
                                                indexed("flags") + R"(, {"id": "a", "op": "add", "input": "sc", "other": "m"})"));
  CHECK(first_fix(test::find(unknown, "MHA266")).semantics == FixSemantics::Unknown);
  // Not reported: a bool added to a tensor that is no attention scores.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"x": [2, 10, 8], "flags": {"shape": [2, 10, 8], "dtype": "bool"}},
                                        "calls": [{"id": "a", "op": "add", "input": "x", "other": "flags"}]})"),
                   "MHA266") == nullptr);
}

TEST_CASE("a float 1 = keep attention_mask added to the scores as is: MHA267, an additive float mask is not", "[glue][masks]") {
  std::string float_mask = R"("attention_mask": {"shape": ["B", "T"], "dtype": "float32"})";
  Report raw = test::check_text(scores_then(float_mask, indexed("attention_mask") + R"(, {"id": "a", "op": "add", "input": "sc", "other": "m"})"));
  const Fix& fill = first_fix(test::find(raw, "MHA267"));
  CHECK(fill.description == "sc.masked_fill(m == 0, float('-inf')) in place of sc + m (or add (1.0 - m) * torch.finfo(dtype).min)");
  CHECK(fill.verified);
  CHECK(fill.remaining_errors.empty());
  CHECK(fill.semantics == FixSemantics::Consistent);
  // BERT's extended mask: (1.0 - m) * -10000.0 is additive: silent.
  Report additive = test::check_text(scores_then(
      float_mask, indexed("attention_mask") + R"(, {"id": "r", "op": "mul", "input": "m", "other": -1.0, "outputs": ["neg"]},
                   {"id": "o", "op": "add", "input": "neg", "other": 1.0, "outputs": ["inv"]},
                   {"id": "x", "op": "mul", "input": "inv", "other": -10000.0, "outputs": ["ext"]},
                   {"id": "a", "op": "add", "input": "sc", "other": "ext"})"));
  CHECK(test::find(additive, "MHA267") == nullptr);
  CHECK(test::find(additive, "MHA266") == nullptr);
  // A float mask whose name says nothing is additive (0 / -inf): silent.
  Report plain = test::check_text(scores_then(R"("mask": {"shape": ["B", "T"], "dtype": "float32"})",
                                              indexed("mask") + R"(, {"id": "a", "op": "add", "input": "sc", "other": "m"})"));
  CHECK(plain.diagnostics.empty());
}

TEST_CASE("scores filled with 0 where masked, then softmaxed: MHA268, fixed with float('-inf')", "[glue][masks]") {
  std::string pad = R"("pad": {"shape": ["B", "T"], "dtype": "bool"})";
  Report zero = test::check_text(scores_then(pad, indexed("pad") + R"(, {"id": "f", "op": "masked_fill", "input": "sc", "mask": "m", "value": 0, "outputs": ["sm"]},
                                                   {"id": "p", "op": "softmax", "input": "sm", "dim": -1})"));
  const Diagnostic* filled = test::find(zero, "MHA268");
  const Fix& fix = first_fix(filled);
  CHECK(fix.description == "masked_fill(mask, float('-inf')) in call \"f\" (value=float('-inf'), not 0)");
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
  // Not reported: -inf before softmax, and 0 on the weights after softmax.
  Report infinity = test::check_text(scores_then(pad, indexed("pad") + R"(, {"id": "f", "op": "masked_fill", "input": "sc", "mask": "m", "value": "-inf", "outputs": ["sm"]},
                                                       {"id": "p", "op": "softmax", "input": "sm", "dim": -1})"));
  CHECK(infinity.diagnostics.empty());
  Report weights = test::check_text(scores_then(pad, indexed("pad") + R"(, {"id": "p", "op": "softmax", "input": "sc", "dim": -1, "outputs": ["w"]},
                                                      {"id": "f", "op": "masked_fill", "input": "w", "mask": "m", "value": 0})"));
  CHECK(weights.diagnostics.empty());
}

TEST_CASE("a key_padding_mask made by ne(ids, pad) marks the tokens to keep: MHA084, fixed with ids == pad", "[glue][masks]") {
  auto padding_mask = [](const std::string& calls) {
    return test::check_text(
        R"json({"version": 1, "dims": {"B": 2, "T": 7}, "modules": {"attn": "nn.MultiheadAttention(16, 2, batch_first=True)"},
            "tensors": {"ids": {"shape": ["B", "T"], "dtype": "int64"}, "x": ["B", "T", 16]},
            "calls": [)json" + calls + R"(, {"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "key_padding_mask": "kpm"}]})");
  };
  Report ne = padding_mask(R"({"id": "n", "op": "ne", "input": "ids", "other": 0, "outputs": ["kpm"]})");
  check_consistent_fix(test::find(ne, "MHA084"),
                       "key_padding_mask \"kpm\" marks with True the positions to keep (made by ne(ids, 0): True marks the entries "
                       "other than 0), but nn.MultiheadAttention ignores the True positions",
                       "make kpm with ids == 0 (eq, not ne) in call \"n\": True then marks the positions to ignore");
  // ~(ids == 0) inverts the padding mask back: the fix inverts it again.
  Report negated = padding_mask(R"({"id": "e", "op": "eq", "input": "ids", "other": 0, "outputs": ["pad"]},
                                   {"id": "n", "op": "bitwise_not", "input": "pad", "outputs": ["kpm"]})");
  CHECK(first_fix(test::find(negated, "MHA084")).description == "pass ~kpm");
  // Not reported: ids == pad, and a 1 = keep attention_mask compared with 0.
  CHECK(test::find(padding_mask(R"({"id": "e", "op": "eq", "input": "ids", "other": 0, "outputs": ["kpm"]})"), "MHA084") == nullptr);
  Report keep_compared = test::check_text(
      R"json({"version": 1, "dims": {"B": 2, "T": 7}, "modules": {"attn": "nn.MultiheadAttention(16, 2, batch_first=True)"},
          "tensors": {"attention_mask": {"shape": ["B", "T"], "dtype": "int64"}, "x": ["B", "T", 16]},
          "calls": [{"id": "e", "op": "eq", "input": "attention_mask", "other": 0, "outputs": ["kpm"]},
                    {"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "key_padding_mask": "kpm"}]})json");
  CHECK(test::find(keep_compared, "MHA084") == nullptr);
}

TEST_CASE("masked_fill with -inf and a 1 = keep mask fills the kept positions: MHA084", "[glue][masks]") {
  std::string ids = R"("ids": {"shape": ["B", "T"], "dtype": "int64"})";
  auto fill = [&](const std::string& make, const std::string& value) {
    return test::check_text(scores_then(ids, make + R"(, {"id": "g", "op": "getitem", "input": "pad", "index": "[:, None, None, :]", "outputs": ["m"]},
                                              {"id": "f", "op": "masked_fill", "input": "sc", "mask": "m", "value": )" +
                                                 value + R"(, "outputs": ["sm"]}, {"id": "p", "op": "softmax", "input": "sm", "dim": -1})"));
  };
  Report kept = fill(R"({"id": "n", "op": "ne", "input": "ids", "other": 0, "outputs": ["pad"]})", R"("-inf")");
  check_consistent_fix(test::find(kept, "MHA084"),
                       "mask \"m\" marks with True the positions to keep (made by ne(ids, 0): True marks the entries other than 0), "
                       "but masked_fill fills the True positions",
                       "make m with ids == 0 (eq, not ne) in call \"n\": True then marks the positions to fill");
  // A large negative number fills as -inf does; a declared keep mask is inverted by a call.
  CHECK(test::find(fill(R"({"id": "n", "op": "ne", "input": "ids", "other": 0, "outputs": ["pad"]})", "-1e9"), "MHA084") != nullptr);
  Report keep = test::check_text(scores_then(R"("keep": {"shape": ["B", "T"], "dtype": "bool"})",
                                             indexed("keep") + R"(, {"id": "f", "op": "masked_fill", "input": "sc", "mask": "m", "value": "-inf"})"));
  const Fix& inversion = first_fix(test::find(keep, "MHA084"));
  CHECK(inversion.description == "masked_fill(~m, ...)");
  CHECK(inversion.verified);
  // Not reported: the padding marked by ids == 0, and a fill with 0 (not a mask out of attention).
  CHECK(test::find(fill(R"({"id": "n", "op": "eq", "input": "ids", "other": 0, "outputs": ["pad"]})", R"("-inf")"), "MHA084") == nullptr);
  CHECK(test::find(fill(R"({"id": "n", "op": "ne", "input": "ids", "other": 0, "outputs": ["pad"]})", "0"), "MHA084") == nullptr);
}

TEST_CASE("an SDPA attn_mask made by ids == pad marks the padding: MHA084, fixed with ids != pad", "[glue][masks]") {
  auto sdpa = [](const std::string& op) {
    return test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16},
        "tensors": {"q": ["B", "H", "T", "D"], "ids": {"shape": ["B", "T"], "dtype": "int64"}},
        "calls": [{"id": "n", "op": ")" + op + R"(", "input": "ids", "other": 0, "outputs": ["pad"]},
                  {"id": "g", "op": "getitem", "input": "pad", "index": "[:, None, None, :]", "outputs": ["m"]},
                  {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "m"}]})");
  };
  Report padding = sdpa("eq");
  check_consistent_fix(test::find(padding, "MHA084"),
                       "attn_mask \"m\" marks with True the positions to ignore (made by eq(ids, 0): True marks the entries equal to 0), "
                       "but F.scaled_dot_product_attention's bool attn_mask keeps the True positions",
                       "make m with ids != 0 (ne, not eq) in call \"n\": True then marks the positions that take part");
  CHECK(test::find(sdpa("ne"), "MHA084") == nullptr);
}
