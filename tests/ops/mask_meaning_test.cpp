// Masks on the glue operators, read by what True or 1 means (src/ops/mask_meaning.cpp,
// src/check/mask_origin.cpp): a 0/1 mask added to the scores (MHA266, MHA267), scores filled
// with 0 before softmax (MHA268) or weights with -inf after it (MHA277), a mask made by ne(ids, pad)
// passed as key_padding_mask (MHA084).
#include <fmt/format.h>

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

TEST_CASE("(1 - mask) * float('-inf'): MHA280, 0 * inf is NaN, fixed with torch.finfo(dtype).min", "[glue][masks]") {
  std::string spec = R"({"version": 1, "dims": {"B": 2, "T": 10}, "tensors": {"inv": ["B", "T"]},
    "calls": [{"id": "m", "op": "mul", "input": "inv", "other": "-inf", "outputs": ["additive"]}]})";
  Report report = test::check_text(spec);
  const Diagnostic* infinity = test::find(report, "MHA280");
  const Fix& fix = first_fix(infinity);
  CHECK(infinity->message == "inv * float('-inf'): 0 * inf is NaN, so every entry where inv is 0 becomes NaN, not 0");
  CHECK(fix.description.find("torch.finfo(torch.float32).min") != std::string::npos);
  CHECK(fix.patch[0]["value"] == -3.4028234663852886e38);
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
  // Not reported: a finite large negative number, and -inf through masked_fill.
  std::string finite = spec;
  finite.replace(finite.find(R"("-inf")"), 6, "-10000.0");
  CHECK(test::check_text(finite).diagnostics.empty());
}

TEST_CASE("ones * float('-inf') holds no 0, so no NaN: triu(ones(T, T) * -inf, 1) as a causal mask is not MHA280", "[glue][masks]") {
  // The PyTorch tutorial's causal mask: -inf everywhere, then triu zeroes the diagonal and below.
  auto causal = [](const std::string& made) {
    return R"({"version": 1, "dims": {"T": 10}, "tensors": {"x": ["T", "T"]},
      "calls": [)" + made + R"(,
                {"id": "m", "op": "mul", "input": "base", "other": "-inf", "outputs": ["neg_inf"]},
                {"id": "t", "op": "triu", "input": "neg_inf", "diagonal": 1, "outputs": ["tgt_mask"]}]})";
  };
  Report from_ones = test::check_text(causal(R"({"id": "o", "op": "ones", "size": ["T", "T"], "outputs": ["base"]})"));
  CHECK(test::find(from_ones, "MHA280") == nullptr);
  Report from_full = test::check_text(causal(R"({"id": "o", "op": "full", "size": ["T", "T"], "fill_value": 2.0, "outputs": ["base"]})"));
  CHECK(test::find(from_full, "MHA280") == nullptr);
  // A tensor that may hold 0 (zeros, or a mask whose values are unknown) still gets it.
  Report from_zeros = test::check_text(causal(R"({"id": "o", "op": "zeros", "size": ["T", "T"], "outputs": ["base"]})"));
  CHECK(test::find(from_zeros, "MHA280") != nullptr);
  Report from_x = test::check_text(causal(R"({"id": "o", "op": "tril", "input": "x", "outputs": ["base"]})"));
  CHECK(test::find(from_x, "MHA280") != nullptr);
}

TEST_CASE("a (B, 1, S) mask into masked_fill on (B, H, L, S) scores: B meets H, MHA083 with mask[:, None]", "[glue][masks]") {
  // The Annotated Transformer's src mask (src != pad).unsqueeze(-2), (B, 1, S), applied without
  // its unsqueeze(1) for the heads.
  auto fill = [](const std::string& mask_calls) {
    return R"({"version": 1, "tensors": {"src": {"shape": ["B", "S"], "dtype": "int64"}, "scores": ["B", 8, "L", "S"]},
      "calls": [{"id": "k", "op": "ne", "input": "src", "other": 0, "outputs": ["keep"]},
                {"id": "u", "op": "unsqueeze", "input": "keep", "dim": -2, "outputs": ["mask"]}, )" +
           mask_calls + R"(
                {"id": "f", "op": "masked_fill", "input": "scores", "mask": "pad", "value": -1e9, "outputs": ["masked"]},
                {"id": "p", "op": "softmax", "input": "masked", "dim": -1}]})";
  };
  std::string spec = fill(R"({"id": "e", "op": "eq", "input": "mask", "other": 0, "outputs": ["pad"]},)");
  Report report = test::check_text(spec);
  const Diagnostic* role = test::find(report, "MHA083");
  const Fix& fix = first_fix(role);
  CHECK(role->message ==
        "mask (B, 1, S) against input (B, 8, L, S): right-aligned, the mask's batch dim B (dim 0) meets input's dim 1 (8), not input's "
        "batch dim 0; valid only if B == 8");
  CHECK(fix.description == "line the mask's batch dim up with input's: masked_fill(pad[:, None], ...) (pad.unsqueeze(1))");
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
  CHECK(test::find(report, "MHA080") == nullptr);
  // A (B, S) mask needs two dims: pad[:, None, None].
  Report flat = test::check_text(R"({"version": 1, "tensors": {"pad": {"shape": ["B", "S"], "dtype": "bool"}, "scores": ["B", 8, "L", "S"]},
      "calls": [{"id": "f", "op": "masked_fill", "input": "scores", "mask": "pad", "value": "-inf"}]})");
  CHECK(first_fix(test::find(flat, "MHA083")).description == "line the mask's batch dim up with input's: masked_fill(pad[:, None, None], ...)");
  // Not reported: the mask with its heads dim, and a (L, S) mask shared by the batch.
  CHECK(test::check_text(fill(R"({"id": "h", "op": "unsqueeze", "input": "mask", "dim": 1, "outputs": ["mask4"]},
                                 {"id": "e", "op": "eq", "input": "mask4", "other": 0, "outputs": ["pad"]},)"))
            .diagnostics.empty());
  CHECK(test::check_text(R"({"version": 1, "tensors": {"pad": {"shape": ["L", "S"], "dtype": "bool"}, "scores": ["B", 8, "L", "S"]},
      "calls": [{"id": "f", "op": "masked_fill", "input": "scores", "mask": "pad", "value": "-inf"}]})")
            .diagnostics.empty());
}

TEST_CASE("sequence lengths (B,) given as key_padding_mask: the fix makes the mask from them", "[glue][masks]") {
  auto attention = [](const std::string& module, const std::string& x) {
    return test::check_text(R"({"version": 1, "modules": {"attn": ")" + module + R"("},
      "tensors": {"x": )" + x + R"(, "lengths": {"shape": ["B"], "dtype": "int64"}},
      "calls": [{"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "key_padding_mask": "lengths"}]})");
  };
  Report seq_first = attention("nn.MultiheadAttention(256, 4)", R"(["T", "B", 256])");
  const Fix& fix = first_fix(test::find(seq_first, "MHA060"));
  CHECK(fix.description ==
        "pass the padding mask made from the lengths, key_padding_mask = torch.arange(T)[None, :] >= lengths[:, None] ((B, T), bool: True "
        "past each sequence's length)");
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
  Report batch_first = attention("nn.MultiheadAttention(256, 4, batch_first=True)", R"(["B", "S", 256])");
  CHECK(first_fix(test::find(batch_first, "MHA060")).description.find("torch.arange(S)[None, :] >= lengths[:, None] ((B, S)") !=
        std::string::npos);
  // A (T,) integer mask of an unbatched call is no lengths vector: no such fix.
  Report unbatched = attention("nn.MultiheadAttention(256, 4)", R"(["T", 256])");
  const Diagnostic* dtype = test::find(unbatched, "MHA060");
  REQUIRE(dtype != nullptr);
  for (const Fix& other : dtype->fixes) CHECK(other.description.find("arange") == std::string::npos);
}

TEST_CASE("a causal mask made by tril or triu means what its triangle says: MHA084 when given to the other convention", "[glue][masks]") {
  auto spec = [](const std::string& triangle, int diagonal, const std::string& consumer) {
    return R"json({"version": 1, "dims": {"B": 2, "T": 6},
        "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
        "tensors": {"x": ["B", "T", 64], "q": ["B", 4, "T", 16], "ones": {"shape": ["T", "T"], "dtype": "bool"}},
        "calls": [{"id": "m", "op": ")json" + triangle + R"(", "input": "ones", "diagonal": )" + std::to_string(diagonal) + R"(, "outputs": ["causal"]}, )" +
           consumer + "]}";
  };
  const std::string sdpa = R"({"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "causal"})";
  const std::string mha = R"({"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "causal"})";
  // triu(1) marks the future (True = masked): right for nn.MultiheadAttention, inverted for SDPA.
  CHECK(test::check_text(spec("triu", 1, mha)).diagnostics.empty());
  Report inverted_future = test::check_text(spec("triu", 1, sdpa));
  const Diagnostic* future = test::find(inverted_future, "MHA084");
  REQUIRE(future != nullptr);
  CHECK(first_fix(future).description.find("~causal") != std::string::npos);
  CHECK(first_fix(future).verified);
  // tril keeps each query's past (True = take part): right for SDPA, inverted for nn.MultiheadAttention.
  CHECK(test::check_text(spec("tril", 0, sdpa)).diagnostics.empty());
  Report inverted_past = test::check_text(spec("tril", 0, mha));
  const Diagnostic* past = test::find(inverted_past, "MHA084");
  REQUIRE(past != nullptr);
  CHECK(first_fix(past).description.find("~causal") != std::string::npos);
  // Other diagonals say nothing: triu(0) masks the diagonal too, tril(-1) keeps no query's own key.
  CHECK(test::find(test::check_text(spec("triu", 0, sdpa)), "MHA084") == nullptr);
  CHECK(test::find(test::check_text(spec("tril", -1, mha)), "MHA084") == nullptr);
}

TEST_CASE("a float mask made by tril, added by nn.MultiheadAttention or a Transformer layer, masks no future position: MHA084 with == 0", "[glue][masks]") {
  // The float tril(ones) buffer of GPT-style code given where a float mask is added to the scores.
  auto check = [](const std::string& module, const std::string& arguments, const std::string& op = "tril") {
    return test::check_text(R"({"version": 1, "modules": {"m": ")" + module + R"("}, "tensors": {"x": ["B", "T", 256], "mem": ["B", "S", 256],
        "ones": {"shape": ["T", "T"], "dtype": "float32"}},
      "calls": [{"id": "tri", "op": ")" + op + R"(", "input": "ones", "outputs": ["causal"]},
                {"id": "c", "module": "m", )" + arguments + "}]}");
  };
  Report decoder = check("nn.TransformerDecoderLayer(256, 8, batch_first=True)", R"("tgt": "x", "memory": "mem", "tgt_mask": "causal")");
  const Diagnostic* found = test::find(decoder, "MHA084");
  REQUIRE(found != nullptr);
  CHECK(found->argument == "tgt_mask");
  const Fix* fix = test::first_fix(decoder, "MHA084");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "pass causal == 0 (True marks positions not to attend)");
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  Report mha = check("nn.MultiheadAttention(256, 8, batch_first=True)", R"("query": "x", "key": "x", "value": "x", "attn_mask": "causal")");
  REQUIRE(test::find(mha, "MHA084") != nullptr);
  CHECK(test::find(mha, "MHA084")->argument == "attn_mask");
  Report encoder = check("nn.TransformerEncoderLayer(256, 8, batch_first=True)", R"("src": "x", "src_mask": "causal")");
  CHECK(test::find(encoder, "MHA084") != nullptr);
  // Not reported: a float triu, whose zeros are the past, which attends.
  CHECK(test::find(check("nn.MultiheadAttention(256, 8, batch_first=True)", R"("query": "x", "key": "x", "value": "x", "attn_mask": "causal")", "triu"),
                   "MHA084") == nullptr);
}

TEST_CASE("attention weights masked with -inf after the softmax warn MHA277: the fill moved before the softmax", "[masks][glue]") {
  auto chain = [](const std::string& value, const std::string& after) {
    return test::check_text(R"({"version": 1, "tensors": {"s": ["B", 4, "T", "T"], "v": ["B", 4, "T", 16], "m": {"shape": ["T", "T"], "dtype": "bool"}},
        "calls": [{"id": "sm", "op": "softmax", "input": "s", "dim": -1, "outputs": ["w"]},
                  {"id": "mf", "op": "masked_fill", "input": "w", "mask": "m", "value": )" + value + R"(, "outputs": ["wm"]},
                  {"id": "o", "op": "matmul", "input": "wm", "other": "v", "outputs": ["out"]})" + after + "]}");
  };
  Report after = chain(R"("-inf")", "");
  const Diagnostic* warning = test::find(after, "MHA277");
  REQUIRE(warning != nullptr);
  CHECK(warning->severity() == Severity::Warning);
  const Fix* fix = test::first_fix(after, "MHA277");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "mask the scores before the softmax: masked_fill in call \"mf\" on s, then softmax in call \"sm\" on its output");
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  CHECK(test::find(chain("-1e9", ""), "MHA277") != nullptr);
  // Weights zeroed after the softmax are a choice of their own; a fill before it is the rule.
  CHECK(test::find(chain("0.0", ""), "MHA277") == nullptr);
  // The weights read by another call too: said, with no reorder to offer.
  Report shared = chain(R"("-inf")", R"(, {"id": "keep", "op": "clone", "input": "w", "outputs": ["w2"]})");
  REQUIRE(test::find(shared, "MHA277") != nullptr);
  for (const Fix& other : test::find(shared, "MHA277")->fixes) CHECK(other.description.rfind("mask the scores", 0) != 0);
}

TEST_CASE("a padding mask unsqueezed at -1 lines up with the queries, not the keys: MHA278, fixed with unsqueeze(-2)", "[glue][masks]") {
  // The Annotated Transformer's make_std_mask: (tgt != pad).unsqueeze(-2) & subsequent_mask, then
  // scores.masked_fill(mask == 0, -1e9). `axis` is where the padding's size-1 dim goes.
  auto target_mask = [](const std::string& padding) {
    return test::check_text(scores_then(R"("tgt": {"shape": ["B", "T"], "dtype": "int64"}, "ones_tt": ["T", "T"])",
                                        R"({"id": "ne", "op": "ne", "input": "tgt", "other": 0, "outputs": ["keep"]}, )" + padding + R"(,
        {"id": "tr", "op": "tril", "input": "ones_tt", "outputs": ["lower"]},
        {"id": "nz", "op": "ne", "input": "lower", "other": 0, "outputs": ["sub2"]},
        {"id": "u0", "op": "unsqueeze", "input": "sub2", "dim": 0, "outputs": ["subsequent"]},
        {"id": "and", "op": "bitwise_and", "input": "keep3", "other": "subsequent", "outputs": ["tgt_mask"]},
        {"id": "u1", "op": "unsqueeze", "input": "tgt_mask", "dim": 1, "outputs": ["mask4"]},
        {"id": "z", "op": "eq", "input": "mask4", "other": 0, "outputs": ["hidden"]},
        {"id": "f", "op": "masked_fill", "input": "sc", "mask": "hidden", "value": -1e9, "outputs": ["sm"]},
        {"id": "p", "op": "softmax", "input": "sm", "dim": -1})"));
  };
  Report queries = target_mask(R"({"id": "u", "op": "unsqueeze", "input": "keep", "dim": -1, "outputs": ["keep3"]})");
  const Diagnostic* axis = test::find(queries, "MHA278");
  REQUIRE(axis != nullptr);
  CHECK(axis->severity() == Severity::Warning);
  const Fix& fix = first_fix(axis);
  CHECK(fix.description == "keep.unsqueeze(-2) in call \"u\" (written with dim -1): the padding then lines up with the keys");
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
  // The intended mask, and one that hides the padded queries' rows besides the padded keys.
  CHECK(test::find(target_mask(R"({"id": "u", "op": "unsqueeze", "input": "keep", "dim": -2, "outputs": ["keep3"]})"), "MHA278") == nullptr);
  CHECK(test::find(target_mask(R"({"id": "u", "op": "unsqueeze", "input": "keep", "dim": -1, "outputs": ["rows"]},
                                  {"id": "c", "op": "unsqueeze", "input": "keep", "dim": -2, "outputs": ["columns"]},
                                  {"id": "b", "op": "bitwise_and", "input": "rows", "other": "columns", "outputs": ["keep3"]})"),
                   "MHA278") == nullptr);
}

TEST_CASE("an SDPA attn_mask indexed pad[:, None, :, None] puts the padding on the queries: MHA278", "[glue][masks]") {
  auto sdpa = [](const std::string& index) {
    return test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16},
        "tensors": {"q": ["B", "H", "T", "D"], "ids": {"shape": ["B", "T"], "dtype": "int64"}},
        "calls": [{"id": "n", "op": "ne", "input": "ids", "other": 0, "outputs": ["keep"]},
                  {"id": "g", "op": "getitem", "input": "keep", "index": ")" + index + R"(", "outputs": ["m"]},
                  {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "m"}]})");
  };
  CHECK(test::find(sdpa("[:, None, :, None]"), "MHA278") != nullptr);
  CHECK(test::find(sdpa("[:, None, None, :]"), "MHA278") == nullptr);
}

TEST_CASE("MHA278 where a None index chose the axis: the fix is the index with the padding last, mask[:, None, :]", "[glue][masks]") {
  auto masked = [](const std::string& index) {
    return test::check_text(R"({"version": 1, "tensors": {"scores": ["B", "T", "T"], "ids": {"shape": ["B", "T"], "dtype": "int64"}},
        "calls": [{"id": "n", "op": "eq", "input": "ids", "other": 0, "outputs": ["pad"]},
                  {"id": "g", "op": "getitem", "input": "pad", "index": ")" + index + R"(", "outputs": ["m"]},
                  {"id": "f", "op": "masked_fill", "input": "scores", "mask": "m", "value": "-inf", "outputs": ["filled"]},
                  {"id": "p", "op": "softmax", "input": "filled", "dim": -1}]})");
  };
  Report report = masked("[:, :, None]");
  const Diagnostic* axis = test::find(report, "MHA278");
  REQUIRE(axis != nullptr);
  const Fix& fix = first_fix(axis);
  CHECK(fix.description == "pad[:, None, :] in call \"g\" (not [:, :, None]): the padding then lines up with the keys");
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
  CHECK(test::find(masked("[:, None, :]"), "MHA278") == nullptr);
  CHECK(test::find(masked("[:, None]"), "MHA278") == nullptr);
}

TEST_CASE("Hugging Face's int extended_attention_mask (1 = keep) into masked_fill: MHA321 fixed with == 0, not != 0", "[glue][masks]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"scores": ["B", 12, "T", "T"],
      "extended_attention_mask": {"shape": ["B", 1, 1, "T"], "dtype": "int64"}},
      "calls": [{"id": "mf", "op": "masked_fill", "input": "scores", "mask": "extended_attention_mask", "value": "-inf", "outputs": ["m"]},
                {"id": "sm", "op": "softmax", "input": "m", "dim": -1}]})");
  const Fix& fix = first_fix(test::find(report, "MHA321"));
  CHECK(fix.description.find("extended_attention_mask == 0") != std::string::npos);
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("a padding mask in dim -2 of scores laid out (keys, queries) lines up with the keys: no MHA278", "[glue][masks]") {
  // energy = bmm(k, q^T) is (B, keys, queries), softmaxed over dim 1, the keys: pad.unsqueeze(-1)
  // puts the padding on the keys, where it belongs.
  auto energy = [](const std::string& first, const std::string& second, const std::string& softmax) {
    return test::check_text(R"({"version": 1, "tensors": {"ids": {"shape": ["B", "T"], "dtype": "int64"}, ")" + first + R"(": ["B", "T", 64], ")" +
                            second + R"(": ["B", "T", 64]}, "calls": [
        {"id": "qt", "op": "transpose", "input": ")" + second + R"(", "dim0": 1, "dim1": 2, "outputs": ["qT"]},
        {"id": "e", "op": "bmm", "input": ")" + first + R"(", "mat2": "qT", "outputs": ["energy"]},
        {"id": "n", "op": "eq", "input": "ids", "other": 0, "outputs": ["pad"]},
        {"id": "u", "op": "unsqueeze", "input": "pad", "dim": -1, "outputs": ["m"]},
        {"id": "f", "op": "masked_fill", "input": "energy", "mask": "m", "value": "-inf", "outputs": ["s"]})" + softmax + "]}");
  };
  const std::string over_keys = R"(, {"id": "sm", "op": "softmax", "input": "s", "dim": 1})";
  // Both say so: the softmax normalises over dim 1, and the product is k @ q^T.
  CHECK(test::find(energy("k", "q", over_keys), "MHA278") == nullptr);
  // Either alone: the product with no softmax read, the softmax of a product of unnamed operands.
  CHECK(test::find(energy("k", "q", ""), "MHA278") == nullptr);
  CHECK(test::find(energy("a", "b", over_keys), "MHA278") == nullptr);
  // Scaled on the way to the softmax.
  CHECK(test::find(energy("a", "b", R"(, {"id": "d", "op": "div", "input": "s", "other": 8.0, "outputs": ["t"]},
                                       {"id": "sm", "op": "softmax", "input": "t", "dim": -2})"),
                   "MHA278") == nullptr);
  // (queries, keys) as q @ k^T makes them and softmaxed over the keys: the padding in dim -2 is on the queries.
  CHECK(test::find(energy("a", "b", R"(, {"id": "sm", "op": "softmax", "input": "s", "dim": -1})"), "MHA278") != nullptr);
  CHECK(test::find(energy("a", "b", ""), "MHA278") != nullptr);
}

TEST_CASE("an additive mask (mask - 1) * 10000 compared with 0 marks the 1 = keep positions: masked_fill(ext == 0) is MHA084", "[glue][masks]") {
  auto spec = [](const std::string& comparison) {
    return R"J({"version": 1, "tensors": {"scores": ["B", 12, "T", "T"], "attention_mask": {"shape": ["B", "T"], "dtype": "float32"}},
      "calls": [{"id": "idx", "op": "getitem", "input": "attention_mask", "index": "[:, None, None, :]", "outputs": ["m4"]},
                {"id": "s", "op": "sub", "input": "m4", "other": 1, "outputs": ["m1"]},
                {"id": "mul", "op": "mul", "input": "m1", "other": 10000.0, "outputs": ["extended_attention_mask"]},
                {"id": "eq", "op": ")J" + comparison + R"J(", "input": "extended_attention_mask", "other": 0, "outputs": ["masked"]},
                {"id": "mf", "op": "masked_fill", "input": "scores", "mask": "masked", "value": -1000000000.0, "outputs": ["s2"]}]})J";
  };
  Report kept = test::check_text(spec("eq"));
  const Fix* flipped = test::first_fix(kept, "MHA084");
  REQUIRE(flipped != nullptr);
  CHECK(flipped->description.find("!= 0") != std::string::npos);
  CHECK(flipped->valid());
  // != 0 marks the padding, which masked_fill is meant to fill.
  CHECK(test::find(test::check_text(spec("ne")), "MHA084") == nullptr);
}

TEST_CASE("an SDPA bool mask padded along the queries and the keys warns MHA296: padded query rows keep no key", "[glue][masks][sdpa]") {
  // A (B, T) valid mask made a (B, 1, T, T) mask by unsqueezes: rows & columns.
  auto spec = [](const std::string& mask, const std::string& join) {
    return R"({"version": 1, "tensors": {"q": ["B", 4, "T", 16], "k": ["B", 4, "T", 16], "v": ["B", 4, "T", 16],
        "valid": {"shape": ["B", "T"], "dtype": "bool"}},
      "calls": [{"id": "r1", "op": "unsqueeze", "input": "valid", "dim": 1, "outputs": ["v1"]},
                {"id": "rows", "op": "unsqueeze", "input": "v1", "dim": -1, "outputs": ["valid_rows"]},
                {"id": "cols", "op": "unsqueeze", "input": "v1", "dim": 2, "outputs": ["valid_cols"]},
                {"id": "both", "op": ")" + join + R"(", "input": "valid_rows", "other": "valid_cols", "outputs": ["m"]},
                {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": ")" + mask + R"(",
                 "outputs": ["o"]}]})";
  };
  Report both = test::check_text(spec("m", "logical_and"));
  const Diagnostic* rows = test::find(both, "MHA296");
  REQUIRE(rows != nullptr);
  CHECK(rows->call == "att");
  CHECK(rows->message ==
        "attn_mask \"m\" (B, 1, T, T) is valid_rows (padding along the queries, dim 2) & valid_cols (padding along the keys, dim 3) (call "
        "\"both\"): a padded query's row keeps no key: scaled_dot_product_attention gives that query 0 from PyTorch 2.5 on, NaN before");
  // The version split is SDPA's (2.5's _safe_softmax and fused kernels), not softmax's: F.softmax
  // over a row of nothing but -inf is NaN in every release.
  REQUIRE(rows->notes.size() >= 1);
  CHECK(rows->notes.front().find("from 2.5 the math path's _safe_softmax and the fused kernels give them 0") != std::string::npos);
  REQUIRE_FALSE(rows->fixes.empty());
  CHECK(rows->fixes.front().description == "pass attn_mask=valid_cols (the keys only): every query attends to the real keys, and no row is left empty");
  CHECK(rows->fixes.front().valid());
  CHECK(rows->fixes.front().semantics == FixSemantics::Consistent);
  // The key part alone, and masks joined by | (a row keeps every key of a real query), say nothing.
  CHECK(test::find(test::check_text(spec("valid_cols", "logical_and")), "MHA296") == nullptr);
  CHECK(test::find(test::check_text(spec("m", "logical_or")), "MHA296") == nullptr);
}

TEST_CASE("padding filled with 0 before a max over the tokens: the fill must be max's identity (-inf)", "[masks][glue]") {
  // Max pooling of (B, T, 32) features with a (B, T, 1) padding mask, by amax.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"h": ["B", "T", 32], "pad": {"shape": ["B", "T", 1], "dtype": "bool"}},
    "calls": [{"id": "f", "op": "masked_fill", "input": "h", "mask": "pad", "value": 0.0, "outputs": ["filled"]},
              {"id": "m", "op": "amax", "input": "filled", "dim": 1, "outputs": ["pooled"]}]})j");
  const Diagnostic* fill = test::find(report, "MHA422");
  REQUIRE(fill != nullptr);
  REQUIRE_FALSE(fill->fixes.empty());
  CHECK(fill->fixes[0].description.rfind("masked_fill(mask, float('-inf')) in call \"f\"", 0) == 0);
  CHECK(fill->fixes[0].valid());
  // 0 before a sum or a mean, a large negative fill, and non-negative (relu'd) features are right.
  for (const char* quiet :
       {R"j({"version": 1, "tensors": {"h": ["B", "T", 32], "pad": {"shape": ["B", "T", 1], "dtype": "bool"}},
            "calls": [{"id": "f", "op": "masked_fill", "input": "h", "mask": "pad", "value": 0.0, "outputs": ["filled"]},
                      {"id": "m", "op": "sum", "input": "filled", "dim": 1, "outputs": ["pooled"]}]})j",
        R"j({"version": 1, "tensors": {"h": ["B", "T", 32], "pad": {"shape": ["B", "T", 1], "dtype": "bool"}},
            "calls": [{"id": "f", "op": "masked_fill", "input": "h", "mask": "pad", "value": -1e9, "outputs": ["filled"]},
                      {"id": "m", "op": "amax", "input": "filled", "dim": 1, "outputs": ["pooled"]}]})j",
        R"j({"version": 1, "tensors": {"x": ["B", "T", 32], "pad": {"shape": ["B", "T", 1], "dtype": "bool"}},
            "calls": [{"id": "r", "op": "relu", "input": "x", "outputs": ["h"]},
                      {"id": "f", "op": "masked_fill", "input": "h", "mask": "pad", "value": 0.0, "outputs": ["filled"]},
                      {"id": "m", "op": "amax", "input": "filled", "dim": 1, "outputs": ["pooled"]}]})j"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(quiet), "MHA422") == nullptr);
  }
}

TEST_CASE("a mask named for what is there (node_mask, real, exist, observed) marks the entries to keep: MHA084 as key_padding_mask, not ~ of it", "[glue][masks]") {
  auto graph = [](const std::string& mask, const std::string& passed, const std::string& calls) {
    return test::check_text(fmt::format(
        R"json({{"version": 1, "modules": {{"attn": "nn.MultiheadAttention(16, 2, batch_first=True)"}},
            "tensors": {{"h": ["B", "N", 16], "{}": {{"shape": ["B", "N"], "dtype": "bool"}}}},
            "calls": [{}{{"id": "a", "module": "attn", "query": "h", "key": "h", "value": "h", "key_padding_mask": "{}", "need_weights": false}}]}})json",
        mask, calls, passed));
  };
  for (const char* name : {"node_mask", "real_nodes", "exists", "observed_mask"}) {
    INFO(name);
    Report as_is = graph(name, name, "");
    const Diagnostic* inverted = test::find(as_is, "MHA084");
    REQUIRE(inverted != nullptr);
    CHECK(first_fix(inverted).description == fmt::format("pass ~{}", name));
    // Inverted before the call: the padding, as key_padding_mask wants it.
    CHECK(test::find(graph(name, "pad", fmt::format(R"({{"id": "n", "op": "logical_not", "input": "{}", "outputs": ["pad"]}}, )", name)),
                     "MHA084") == nullptr);
  }
  // A bare "mask" says nothing (DETR's mask marks the padding); a negated word marks the missing
  // entries, the padding key_padding_mask wants.
  for (const char* name : {"mask", "unobserved_mask", "nonexistent", "not_real"}) {
    INFO(name);
    CHECK(test::find(graph(name, name, ""), "MHA084") == nullptr);
  }
}

TEST_CASE("a declared mask named \"mask\" that other calls read as 1 = keep, given as key_padding_mask as is: MHA084 with ~mask",
          "[glue][masks]") {
  // A graph batch padded to (B, N): `h, mask = to_dense_batch(x, batch)` gives True for the real nodes. The name says nothing,
  // but the model multiplies the output by the mask (zeroing the padding), so True = keep; nn.MultiheadAttention ignores True.
  auto graph = [](const std::string& padding, const std::string& before, const std::string& after) {
    return test::check_text(
        R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
            "tensors": {"h": ["B", "N", 64], "mask": {"shape": ["B", "N"], "dtype": "bool"}},
            "calls": [)json" + before + R"({"id": "att", "module": "attn", "query": "h", "key": "h", "value": "h", "key_padding_mask": ")" + padding +
        R"(", "outputs": ["y"]})" + after + "]}");
  };
  const std::string times = R"(, {"id": "u", "op": "unsqueeze", "input": "mask", "dim": -1, "outputs": ["m3"]},
                                 {"id": "z", "op": "mul", "input": "y", "other": "m3", "outputs": ["yz"]})";
  Report multiplied = graph("mask", "", times);
  check_consistent_fix(test::find(multiplied, "MHA084"),
                       "key_padding_mask \"mask\" marks with True the positions to keep (\"mask\" is read as True = keep: it multiplies y in call "
                       "\"z\", keeping its values where True), but nn.MultiheadAttention ignores the True positions",
                       "pass ~mask");
  // The inverse filled with 0 (y.masked_fill(~mask[..., None], 0)) says the same.
  Report filled_inverse = graph("mask", "", R"(, {"id": "n", "op": "bitwise_not", "input": "mask", "outputs": ["inv"]},
      {"id": "u", "op": "unsqueeze", "input": "inv", "dim": -1, "outputs": ["m3"]},
      {"id": "f", "op": "masked_fill", "input": "y", "mask": "m3", "value": 0.0, "outputs": ["yz"]})");
  CHECK(first_fix(test::find(filled_inverse, "MHA084")).description == "pass ~mask");
  // Not reported: ~mask passed (GPSConv as written), the mask filled as is (True = padding, as nn.MultiheadAttention reads
  // it), two readers that disagree, a mask scaled by a number (an additive mask) or joined with another mask, and no other reader.
  const std::string fill = R"(, {"id": "u", "op": "unsqueeze", "input": "mask", "dim": -1, "outputs": ["m3"]},
                                {"id": "f", "op": "masked_fill", "input": "y", "mask": "m3", "value": 0.0, "outputs": ["yz"]})";
  for (const Report& quiet :
       {graph("pad", R"({"id": "n", "op": "bitwise_not", "input": "mask", "outputs": ["pad"]}, )", times), graph("mask", "", fill),
        graph("mask", "", fill + R"(, {"id": "w", "op": "mul", "input": "yz", "other": "m3", "outputs": ["yw"]})"),
        graph("mask", "", R"(, {"id": "z", "op": "mul", "input": "mask", "other": -10000.0, "outputs": ["add"]})"),
        graph("mask", "", R"(, {"id": "z", "op": "mul", "input": "mask", "other": "mask", "outputs": ["both"]})"), graph("mask", "", "")}) {
    CHECK(test::find(quiet, "MHA084") == nullptr);
  }
}

TEST_CASE("a causal mask filled with 0 into a non-negative attention map (relu^2, softmax) is read as a mask: MHA275", "[glue][masks]") {
  // FLASH's relu(q @ k^T)^2 attention: 0 is the least weight, so masked_fill(mask, 0.) takes the
  // True positions out; triu(ones) without diagonal=1 takes each token's own position too.
  auto flash = [](const std::string& mask_calls, const std::string& map_calls, const std::string& map) {
    return test::check_text(scores_then(R"("ones": {"shape": ["T", "T"], "dtype": "bool"})",
                                        map_calls + mask_calls + R"(, {"id": "f", "op": "masked_fill", "input": ")" + map +
                                            R"(", "mask": "m", "value": 0.0, "outputs": ["filled"]})"));
  };
  const std::string relu_squared = R"({"id": "r", "op": "relu", "input": "sc", "outputs": ["r"]}, {"id": "p", "op": "pow", "input": "r", "exponent": 2, "outputs": ["p"]}, )";
  const std::string softmax = R"({"id": "w", "op": "softmax", "input": "sc", "dim": -1, "outputs": ["p"]}, )";
  for (const std::string& map_calls : {relu_squared, softmax}) {
    INFO(map_calls);
    Report blind = flash(R"({"id": "u", "op": "triu", "input": "ones", "outputs": ["m"]})", map_calls, "p");
    const Fix& fix = first_fix(test::find(blind, "MHA275"));
    CHECK(fix.description == "triu(ones, diagonal=1) in call \"u\" (not diagonal=0)");
    CHECK(fix.valid());
    CHECK(test::find(flash(R"({"id": "u", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["m"]})", map_calls, "p"), "MHA275") == nullptr);
    // ~tril(ones, -1) is triu(ones) written otherwise: the same fault, fixed at tril's diagonal.
    Report negated = flash(R"({"id": "l", "op": "tril", "input": "ones", "diagonal": -1, "outputs": ["low"]}, {"id": "n", "op": "bitwise_not", "input": "low", "outputs": ["m"]})",
                           map_calls, "p");
    CHECK(first_fix(test::find(negated, "MHA275")).description == "tril(ones, diagonal=0) in call \"l\" (not diagonal=-1)");
  }
  // Raw scores can be negative: a fill with 0 there takes nothing out (MHA268's concern before a
  // softmax), so the mask is not read as a causal mask.
  CHECK(test::find(flash(R"({"id": "u", "op": "triu", "input": "ones", "outputs": ["m"]})", "", "sc"), "MHA275") == nullptr);
}

TEST_CASE("mask meaning: an unnamed (B, L) bool mask unsqueezed after its positions masks query rows", "[mask]") {
  Report rows = test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"x": ["B", "L", 64], "src_kpm": {"shape": ["B", "L"], "dtype": "bool"}}, "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xT"]}, {"id": "s", "op": "matmul", "input": "x", "other": "xT", "outputs": ["sc"]}, {"id": "u", "op": "unsqueeze", "input": "src_kpm", "dim": -1, "outputs": ["m"]}, {"id": "f", "op": "masked_fill", "input": "sc", "mask": "m", "value": -1000000000.0, "outputs": ["sc2"]}, {"id": "p", "op": "softmax", "input": "sc2", "dim": -1, "outputs": ["pr"]}]})json");
  const Diagnostic* axis = test::find(rows, "MHA278");
  REQUIRE(axis != nullptr);
  const Fix& fix = first_fix(axis);
  CHECK(fix.description == "src_kpm.unsqueeze(-2) in call \"u\" (written with dim -1): the padding then lines up with the keys");
  CHECK(fix.verified);
  // A non-negative dim is answered in kind: unsqueeze(2) on (B, T) becomes unsqueeze(1).
  std::string positive = R"json({"version": 1, "modules": {}, "tensors": {"x": ["B", "L", 64], "src_kpm": {"shape": ["B", "L"], "dtype": "bool"}}, "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xT"]}, {"id": "s", "op": "matmul", "input": "x", "other": "xT", "outputs": ["sc"]}, {"id": "u", "op": "unsqueeze", "input": "src_kpm", "dim": -1, "outputs": ["m"]}, {"id": "f", "op": "masked_fill", "input": "sc", "mask": "m", "value": -1000000000.0, "outputs": ["sc2"]}, {"id": "p", "op": "softmax", "input": "sc2", "dim": -1, "outputs": ["pr"]}]})json";
  positive.replace(positive.find("\"dim\": -1"), 9, "\"dim\": 2");
  Report front = test::check_text(positive);
  const Diagnostic* counted = test::find(front, "MHA278");
  REQUIRE(counted != nullptr);
  CHECK(first_fix(counted).description.find("src_kpm.unsqueeze(1) in call") == 0);
  Report keys = test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"x": ["B", "L", 64], "src_kpm": {"shape": ["B", "L"], "dtype": "bool"}}, "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xT"]}, {"id": "s", "op": "matmul", "input": "x", "other": "xT", "outputs": ["sc"]}, {"id": "u", "op": "unsqueeze", "input": "src_kpm", "dim": -2, "outputs": ["m"]}, {"id": "f", "op": "masked_fill", "input": "sc", "mask": "m", "value": -1000000000.0, "outputs": ["sc2"]}, {"id": "p", "op": "softmax", "input": "sc2", "dim": -1, "outputs": ["pr"]}]})json");
  CHECK(test::find(keys, "MHA278") == nullptr);
}
