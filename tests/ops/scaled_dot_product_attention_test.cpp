// F.scaled_dot_product_attention's rules beyond the PyTorch fixtures: symbolic dims, fixes and
// the shapes broadcasting and grouped-query heads produce.
#include <catch2/catch.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "test_support.hpp"

using namespace mhacheck;

namespace {

std::string sdpa(const std::string& arguments) {
  return R"({"op": "scaled_dot_product_attention", )" + arguments + "}";
}

std::string output_shape(const Report& report) {
  REQUIRE(report.calls.at(0).outputs.size() == 1);
  return tuple_str(report.calls[0].outputs[0].shape);
}

}  // namespace

TEST_CASE("sdpa: batch dims broadcast and the value's features come out", "[sdpa]") {
  CHECK(output_shape(test::check_text(sdpa(R"("query": [2, 8, 5, 16], "key": [1, 8, 7, 16], "value": [8, 7, 4])"))) == "(2, 8, 5, 4)");
  CHECK(output_shape(test::check_text(sdpa(R"("query": [5, 16], "key": [7, 16], "value": [7, 3])"))) == "(5, 3)");
}

TEST_CASE("sdpa: grouped-query heads repeat when they divide the query's", "[sdpa]") {
  Report grouped = test::check_text(sdpa(R"("query": ["B", 8, "L", 64], "key": ["B", 2, "S", 64], "value": ["B", 2, "S", 64], "enable_gqa": true)"));
  CHECK(grouped.ok());
  CHECK(output_shape(grouped) == "(B, 8, L, 64)");
  Report without = test::check_text(sdpa(R"("query": [1, 8, 4, 64], "key": [1, 2, 6, 64], "value": [1, 2, 6, 64])"));
  REQUIRE(test::find(without, "MHA207") != nullptr);
  CHECK(test::find(without, "MHA207")->pytorch_error->message ==
        "The size of tensor a (8) must match the size of tensor b (2) at non-singleton dimension 1");
}

TEST_CASE("sdpa: a mask is checked against the scores it is added to", "[sdpa]") {
  Report swapped = test::check_text(sdpa(R"("query": [2, 4, 5, 8], "key": [2, 4, 6, 8], "value": [2, 4, 6, 8], "attn_mask": [6, 5])"));
  const Diagnostic* mask = test::find(swapped, "MHA208");
  REQUIRE(mask != nullptr);
  REQUIRE_FALSE(mask->fixes.empty());
  // Written (S, L): transposed first, which keeps whatever the mask holds.
  REQUIRE(mask->fixes.size() >= 2);
  CHECK(mask->fixes[0].description == "put the mask's key dim last: attn_mask.transpose(-2, -1), (5, 6)");
  CHECK(mask->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(mask->fixes[0].verified);
  CHECK(mask->fixes[1].description == "pass a (5, 6) attn_mask (shared by every batch entry and head)");
  CHECK(mask->fixes[1].semantics != FixSemantics::Suspect);
  // A (B, S) padding mask unsqueezed at -1: transposed, never replaced by one (L, S) mask for the batch.
  Report padding = test::check_text(sdpa(R"("query": [2, 4, 5, 8], "key": [2, 4, 6, 8], "value": [2, 4, 6, 8], "attn_mask": [2, 1, 6, 1])"));
  const Diagnostic* unsqueezed = test::find(padding, "MHA208");
  REQUIRE(unsqueezed != nullptr);
  REQUIRE(unsqueezed->fixes.size() == 2);
  CHECK(unsqueezed->fixes[0].description == "put the mask's key dim last: attn_mask.transpose(-2, -1), (2, 1, 1, 6)");
  CHECK(unsqueezed->fixes[1].semantics == FixSemantics::Suspect);
  Report causal = test::check_text(sdpa(R"("query": [2, 4, 5, 8], "key": [2, 4, 6, 8], "value": [2, 4, 6, 8], "attn_mask": {"causal": [5, 6]})"));
  CHECK(causal.ok());
}

TEST_CASE("sdpa: an unbound (B, T, T) mask is valid only if B == H, an error, and a (B*H, T, D) query is split, not grouped", "[sdpa]") {
  Report unbound = test::check_text(sdpa(R"("query": ["B", "H", "T", 8], "key": ["B", "H", "T", 8], "value": ["B", "H", "T", 8], "attn_mask": {"shape": ["B", "T", "T"], "dtype": "bool"})"));
  CHECK_FALSE(unbound.ok());
  CHECK(test::find(unbound, "MHA080") == nullptr);  // folded into MHA083 as a note
  const Diagnostic* condition = test::find(unbound, "MHA083");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes[0].description == "give the mask a heads dim: attn_mask[:, None]");
  CHECK(condition->fixes[0].valid());
  Report merged = test::check_text(
      R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16}, "tensors": {"q": ["B*H", "T", "D"], "k": ["B", "H", "T", "D"]},
          "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "k"}]})");
  const Diagnostic* heads = test::find(merged, "MHA207");
  REQUIRE(heads != nullptr);
  REQUIRE(heads->fixes.size() == 3);
  CHECK(heads->fixes[0].description == "split query's B*H: q.view(B, H, T, D)");
  CHECK(heads->fixes[0].valid());
  CHECK(heads->fixes[1].semantics == FixSemantics::Suspect);  // enable_gqa would read the batch as heads
}

TEST_CASE("sdpa: symbols in the contracted dims must agree", "[sdpa]") {
  Report report = test::check_text(sdpa(R"("query": ["B", "L", "E"], "key": ["B", "S", "F"], "value": ["B", "S", "E"])"));
  CHECK(report.ok());
  const Diagnostic* condition = test::find(report, "MHA080");
  REQUIRE(condition != nullptr);
  CHECK(condition->message == "valid only if E == F (query @ key.transpose(-2, -1))");
}

TEST_CASE("sdpa: a (B, L, S) mask in the heads slot is reported when B == H, not when B == 1 (MHA250)", "[sdpa]") {
  auto mask_dim_role = [](int batch, int heads) {
    std::string spec = fmt::format(R"({{"version": 1, "dims": {{"B": {}, "H": {}}},
      "tensors": {{"q": ["B", "H", 10, 16], "m": {{"shape": ["B", 10, 10], "dtype": "bool"}}}},
      "calls": [{{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "m"}}]}})",
                                   batch, heads);
    return test::find(test::check_text(spec), "MHA250") != nullptr;
  };
  // B == H: head h gets batch entry h's mask, as no one meant.
  CHECK(mask_dim_role(4, 4));
  // B == 1: the one mask reaches every head of the one entry, which is what a (1, L, S) mask means.
  CHECK_FALSE(mask_dim_role(1, 4));
  CHECK_FALSE(mask_dim_role(1, 1));
}

TEST_CASE("sdpa: a (B, T, S) mask with B and H bound and unequal gets m[:, None] first, verified and consistent", "[sdpa]") {
  Report report = test::check_text(
      R"({"version": 1, "dims": {"B": 2, "H": 8, "T": 10, "S": 12, "D": 64},
          "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "S", "D"], "m": {"shape": ["B", "T", "S"], "dtype": "bool"}},
          "calls": [{"id": "s1", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"}]})");
  const Diagnostic* mask = test::find(report, "MHA208");
  REQUIRE(mask != nullptr);
  REQUIRE_FALSE(mask->fixes.empty());
  CHECK(mask->fixes[0].description == "give the mask a heads dim: m[:, None]");
  CHECK(mask->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(mask->fixes[0].verified);
  CHECK(mask->fixes[0].valid());
}

TEST_CASE("sdpa: batch and heads exchanged in the query is MHA083 (B == H), so the masks' fixes do not swap them", "[sdpa][roles]") {
  // q (H, B, T, D) against k (B, H, S, D): valid only if B == H, two distinct roles: an error.
  Report swapped = test::check_text(
      R"({"version": 1, "dims": {"D": 64}, "tensors": {"q": ["H", "B", "T", "D"], "k": ["B", "H", "S", "D"], "m": {"shape": ["B", "T", "S"], "dtype": "bool"}},
          "calls": [{"id": "s1", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"}]})");
  CHECK_FALSE(swapped.ok());
  const Diagnostic* roles = test::find(swapped, "MHA083");
  REQUIRE(roles != nullptr);
  CHECK(roles->message.find("a head count") != std::string::npos);
  // Correct layouts, two calls sharing the unbound dims: the masks' first fix is m[:, None], not a batch/heads transpose.
  Report report = test::check_text(
      R"({"version": 1, "dims": {"D": 64}, "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "S", "D"],
          "m": {"shape": ["B", "T", "S"], "dtype": "bool"}, "m2": {"shape": ["B", "T", "S"], "dtype": "bool"}},
          "calls": [{"id": "s1", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"},
                    {"id": "s2", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m2"}]})");
  int conditions = 0;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.info().code != std::string("MHA083")) continue;
    ++conditions;
    REQUIRE_FALSE(diagnostic.fixes.empty());
    // The two calls are twins (the same operator and arguments on tensors of the same shapes):
    // the mask fix made on both comes first, valid, and s2's error is the same cause, folded.
    CHECK(diagnostic.fixes[0].description.find("m[:, None]") != std::string::npos);
    CHECK(diagnostic.fixes[0].description.find("m2[:, None]") != std::string::npos);
    CHECK(diagnostic.fixes[0].semantics == FixSemantics::Consistent);
    CHECK(diagnostic.fixes[0].valid());
  }
  CHECK(conditions == 1);
  // The same calls with (B, 1, T, S) masks: silent.
  Report correct = test::check_text(
      R"({"version": 1, "dims": {"D": 64}, "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "S", "D"],
          "m": {"shape": ["B", 1, "T", "S"], "dtype": "bool"}},
          "calls": [{"id": "s1", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"},
                    {"id": "s2", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"}]})");
  CHECK(correct.diagnostics.empty());
}

TEST_CASE("sdpa: a float mask of another float dtype is converted to the query's dtype, not made bool (MHA202)", "[sdpa][masks]") {
  Report report = test::check_text(sdpa(R"("query": {"shape": [2, 8, 5, 64], "dtype": "float16"}, "key": {"shape": [2, 8, 5, 64], "dtype": "float16"},
      "value": {"shape": [2, 8, 5, 64], "dtype": "float16"}, "attn_mask": {"shape": [2, 1, 1, 5], "dtype": "bfloat16"})"));
  const Diagnostic* dtype = test::find(report, "MHA202");
  REQUIRE(dtype != nullptr);
  REQUIRE(dtype->fixes.size() == 1);
  CHECK(dtype->fixes[0].description == "pass attn_mask.to(torch.float16) (the query's dtype): the mask stays additive");
  CHECK(dtype->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(dtype->fixes[0].valid());
  // An integer mask is still read by its convention: bool, True = take part.
  Report integer = test::check_text(sdpa(R"("query": [2, 8, 5, 64], "key": [2, 8, 5, 64], "value": [2, 8, 5, 64],
      "attn_mask": {"shape": [2, 1, 1, 5], "dtype": "int64"})"));
  REQUIRE(test::find(integer, "MHA202") != nullptr);
  CHECK(test::find(integer, "MHA202")->fixes.at(0).description == "pass attn_mask.bool()");
}

TEST_CASE("sdpa: is_causal with fewer queries than keys is fixed by a bottom-right causal mask (MHA251)", "[sdpa][masks]") {
  Report report = test::check_text(sdpa(R"("query": [1, 8, 4, 64], "key": [1, 8, 12, 64], "value": [1, 8, 12, 64], "is_causal": true)"));
  const Diagnostic* causal = test::find(report, "MHA251");
  REQUIRE(causal != nullptr);
  REQUIRE(causal->fixes.size() == 1);
  const Fix& fix = causal->fixes[0];
  CHECK(fix.description ==
        "drop is_causal and pass the causal mask aligned bottom-right (query i sees the 8 cached keys and new keys 0..i): "
        "attn_mask=torch.ones(4, 12, dtype=torch.bool).tril(12 - 4)");
  CHECK(fix.semantics == FixSemantics::Consistent);
  CHECK(fix.valid());
  CHECK(fix.patch[1]["value"] == nlohmann::json::parse(R"({"shape": [4, 12], "dtype": "bool"})"));
  // Symbols: written as the spec names them; keys written from the queries' length are a cache of them.
  Report named = test::check_text(sdpa(R"("query": [1, 8, "T", 64], "key": [1, 8, "T+8", 64], "value": [1, 8, "T+8", 64], "is_causal": true)"));
  REQUIRE(test::find(named, "MHA251") != nullptr);
  CHECK(test::find(named, "MHA251")->fixes.at(0).description.find("torch.ones(T, T+8, dtype=torch.bool).tril(T+8 - T)") != std::string::npos);
  // More queries than keys: the first rows would see no key; no such fix.
  Report more = test::check_text(sdpa(R"("query": [1, 8, 12, 64], "key": [1, 8, 4, 64], "value": [1, 8, 4, 64], "is_causal": true)"));
  REQUIRE(test::find(more, "MHA251") != nullptr);
  CHECK(test::find(more, "MHA251")->fixes.empty());
}

TEST_CASE("sdpa: a per-head bias against a query with batch and heads merged is tiled in the merged order", "[sdpa][masks]") {
  auto first_fix = [](const std::string& merged) {
    Report report = test::check_text(R"({"version": 1, "dims": {"B": 4, "H": 8, "T": 20},
        "tensors": {"q": [")" + merged + R"(", "T", 32], "bias": ["H", "T", "T"]},
        "calls": [{"id": "a", "op": "scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "bias"}]})");
    const Diagnostic* mask = test::find(report, "MHA208");
    REQUIRE(mask != nullptr);
    REQUIRE_FALSE(mask->fixes.empty());
    CHECK(mask->fixes[0].semantics == FixSemantics::Consistent);
    CHECK(mask->fixes[0].valid());
    return mask->fixes[0].description;
  };
  // B*H: entry b*H + h, heads inner: the bias repeats as a whole B times.
  CHECK(first_fix("B*H") == "tile the mask over B as the query's B*H is laid out (B outer): bias.repeat(B, 1, 1)");
  // H*B: heads outer, each head's bias B times in a row.
  CHECK(first_fix("H*B") == "tile the mask over B as the query's H*B is laid out (H outer): bias.repeat_interleave(B, dim=0)");
}

TEST_CASE("sdpa: GQA keys repeated along the sequence before the transpose: the repeat's dim is fixed, enable_gqa is suspect",
          "[sdpa][gqa]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 2, "S": 16},
      "tensors": {"q": ["B", 8, "S", 64], "k": ["B", "S", 2, 64], "v": ["B", "S", 2, 64]},
      "calls": [{"id": "r", "op": "repeat_interleave", "input": "k", "repeats": 4, "dim": 1, "outputs": ["kr"]},
                {"id": "t", "op": "permute", "input": "kr", "dims": [0, 2, 1, 3], "outputs": ["kh"]},
                {"id": "rv", "op": "repeat_interleave", "input": "v", "repeats": 4, "dim": -3, "outputs": ["vr"]},
                {"id": "tv", "op": "transpose", "input": "vr", "dim0": 1, "dim1": 2, "outputs": ["vh"]},
                {"id": "a", "op": "scaled_dot_product_attention", "query": "q", "key": "kh", "value": "vh"}]})");
  const Diagnostic* heads = test::find(report, "MHA207");
  REQUIRE(heads != nullptr);
  REQUIRE(heads->fixes.size() == 2);
  CHECK(heads->fixes[0].description ==
        "repeat the key/value heads, not the sequence: kr = k.repeat_interleave(4, dim=2) in call \"r\"; "
        "vr = v.repeat_interleave(4, dim=2) in call \"rv\"");
  CHECK(heads->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(heads->fixes[0].valid());
  CHECK(heads->fixes[1].description == "pass enable_gqa=True (PyTorch 2.5+)");
  CHECK(heads->fixes[1].semantics == FixSemantics::Suspect);
  // Keys repeated along the heads: no MHA207 at all.
  Report right = test::check_text(R"({"version": 1, "dims": {"B": 2, "S": 16},
      "tensors": {"q": ["B", 8, "S", 64], "k": ["B", "S", 2, 64]},
      "calls": [{"id": "r", "op": "repeat_interleave", "input": "k", "repeats": 4, "dim": 2, "outputs": ["kr"]},
                {"id": "t", "op": "transpose", "input": "kr", "dim0": 1, "dim1": 2, "outputs": ["kh"]},
                {"id": "a", "op": "scaled_dot_product_attention", "query": "q", "key": "kh", "value": "kh"}]})");
  CHECK(right.diagnostics.empty());
}

TEST_CASE("sdpa: scale=sqrt(D) warns MHA210 with scale=1/sqrt(D) first, while 1/sqrt(D) and other scales are silent", "[sdpa][roles]") {
  Report inverted = test::check_text(sdpa(R"("query": ["B", 8, "T", 64], "key": ["B", 8, "T", 64], "value": ["B", 8, "T", 64], "scale": 8.0)"));
  const Diagnostic* scale = test::find(inverted, "MHA210");
  REQUIRE(scale != nullptr);
  CHECK(scale->severity() == Severity::Warning);
  CHECK(scale->message ==
        "scale=8 is sqrt(64), the square root of the head size: the scores q @ k^T are multiplied by it, 64 times larger than with the "
        "default 1/sqrt(64)");
  REQUIRE_FALSE(scale->fixes.empty());
  CHECK(scale->fixes.front().description == "scale=0.125 (1/sqrt(64)), the default: or leave scale=None");
  CHECK(scale->fixes.front().valid());
  for (const char* quiet : {R"("query": ["B", 8, "T", 64], "key": ["B", 8, "T", 64], "value": ["B", 8, "T", 64], "scale": 0.125)",
                            R"("query": ["B", 8, "T", 64], "key": ["B", 8, "T", 64], "value": ["B", 8, "T", 64], "scale": 1.0)",
                            R"("query": ["B", 8, "T", 64], "key": ["B", 8, "T", 64], "value": ["B", 8, "T", 64])"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(sdpa(quiet)), "MHA210") == nullptr);
  }
}

TEST_CASE("sdpa: a query already scaled by 1/sqrt(head_dim), with the default scale, warns MHA333", "[sdpa]") {
  // Eager attention's q_proj(x) * head_dim ** -0.5 kept when the code moved to SDPA.
  auto scaled = [](const std::string& scaling, const std::string& scale) {
    return R"({"version": 1, "dims": {"B": 2, "T": 6}, "tensors": {"x": ["B", "T", 64], "k": ["B", 4, "T", 16], "v": ["B", 4, "T", 16]},
      "calls": [)" + scaling + R"(,
                {"id": "qv", "op": "view", "input": "q0", "shape": ["B", "T", 4, 16], "outputs": ["q1"]},
                {"id": "qt", "op": "transpose", "input": "q1", "dim0": 1, "dim1": 2, "outputs": ["q"]},
                {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v")" + scale + "}]}";
  };
  const std::string mul = R"({"id": "sc", "op": "mul", "input": "x", "other": 0.25, "outputs": ["q0"]})";
  const Report twice = test::check_text(scaled(mul, ""));
  const Diagnostic* doubled = test::find(twice, "MHA333");
  REQUIRE(doubled != nullptr);
  CHECK(doubled->severity() == Severity::Warning);
  REQUIRE_FALSE(doubled->fixes.empty());
  CHECK(doubled->fixes.front().description == "scale=1.0: the query is scaled already (or drop the mul of call \"sc\")");
  CHECK(doubled->fixes.front().valid());
  CHECK(doubled->fixes.front().semantics == FixSemantics::Consistent);
  // Divided by sqrt(16) = 4: the same.
  CHECK(test::find(test::check_text(scaled(R"({"id": "sc", "op": "div", "input": "x", "other": 4.0, "outputs": ["q0"]})", "")), "MHA333") != nullptr);
  // scale=1.0 given, or another factor (a temperature), says nothing.
  CHECK(test::find(test::check_text(scaled(mul, R"(, "scale": 1.0)")), "MHA333") == nullptr);
  CHECK(test::find(test::check_text(scaled(R"({"id": "sc", "op": "mul", "input": "x", "other": 0.5, "outputs": ["q0"]})", "")), "MHA333") == nullptr);
}

TEST_CASE("sdpa: a query without its length dim against a (B, H, S, D) key is MHA083 at the call, fixed by unsqueeze(-2)", "[sdpa][roles]") {
  // A cross-attention step over 8 heads of a 16-token memory, the step's query squeezed to (2, 8, 32).
  Report squeezed = test::check_text(R"({"version": 1, "tensors": {"qs": [2, 8, 32], "mk": [2, 8, 16, 32], "mv": [2, 8, 16, 32]},
      "calls": [{"id": "att", "op": "F.scaled_dot_product_attention", "query": "qs", "key": "mk", "value": "mv", "outputs": ["o"]},
                {"id": "m", "op": "reshape", "input": "o", "shape": [2, 1, 256]}]})");
  const Diagnostic* roles = test::find(squeezed, "MHA083");
  REQUIRE(roles != nullptr);
  CHECK(roles->call == "att");
  CHECK(roles->severity() == Severity::Error);
  REQUIRE_FALSE(roles->fixes.empty());
  CHECK(roles->fixes[0].description == "give the query its length dim (one position): qs.unsqueeze(2) gives (2, 8, 1, 32)");
  CHECK(roles->fixes[0].valid());
  CHECK(roles->fixes[0].semantics == FixSemantics::Consistent);
  // The query with its length dim, and a 3-D query of another size than the key's dims: no MHA083.
  CHECK(test::check_text(R"({"version": 1, "tensors": {"q": [2, 8, 1, 32], "k": [2, 8, 16, 32]},
      "calls": [{"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "k"}]})").ok());
  Report broadcast = test::check_text(R"({"version": 1, "tensors": {"q": [5, 32], "k": [2, 8, 16, 32]},
      "calls": [{"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "k"}]})");
  CHECK(test::find(broadcast, "MHA083") == nullptr);
}

TEST_CASE("sdpa: enable_gqa between two counts of one batch that never divide (B+1 and 2*B) is refused", "[sdpa]") {
  Report never = test::check_text(R"({"version": 1, "tensors": {"q": ["2*B", 64, 40], "k": ["B+1", 10, 40]},
      "calls": [{"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "enable_gqa": true}]})");
  CHECK(test::find(never, "MHA204") != nullptr);
  // 2*B against B divides whatever B is.
  Report halves = test::check_text(R"({"version": 1, "tensors": {"q": ["2*B", 4, 64, 40], "k": ["2*B", 2, 10, 40]},
      "calls": [{"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "enable_gqa": true}]})");
  CHECK(test::find(halves, "MHA204") == nullptr);
}

TEST_CASE("sdpa: a context of B+1 rows (one shared row joined to B) against 2*B queries is MHA083, fixed by expanding the shared row", "[sdpa][fixes]") {
  // Image-prompt guidance: a null image embedding (1, 4, 64) joined to the batch's (bsz, 4, 64),
  // queries doubled for the two halves.
  Report guided = test::check_text(R"({"version": 1, "tensors": {"null_img": [1, 4, 64], "img": ["bsz", 4, 64], "x": ["bsz", 256, 64]},
      "calls": [{"id": "c", "op": "cat", "tensors": ["null_img", "img"], "dim": 0, "outputs": ["ctx"]},
                {"id": "d", "op": "cat", "tensors": ["x", "x"], "dim": 0, "outputs": ["x2"]},
                {"id": "att", "op": "F.scaled_dot_product_attention", "query": "x2", "key": "ctx", "value": "ctx"}]})");
  const Diagnostic* rows = test::find(guided, "MHA083");
  REQUIRE(rows != nullptr);
  CHECK(rows->message.find("the two sides count the batch differently") != std::string::npos);
  REQUIRE_FALSE(rows->fixes.empty());
  CHECK(rows->fixes[0].description ==
        "expand null_img (one row shared by the batch) to the bsz rows it is joined with in call \"c\", where it enters: null_img = "
        "null_img.expand(bsz, -1, -1)");
  CHECK(rows->fixes[0].valid());
  CHECK(rows->fixes[0].semantics == FixSemantics::Consistent);
}

TEST_CASE("an SDPA padding mask tiled along its positions by repeat warns MHA240 for tokens interleaved by a stack", "[sdpa]") {
  // Decision-Transformer-style tokens: two streams stacked per step (dim 2) and merged, projected
  // to q, k, v and split into heads; the (B, T) keep mask widened for the 2T tokens and broadcast
  // over the heads and queries as [:, None, None, :] (or an additive float mask made from it).
  auto tokens = [](const std::string& stacked_dim, const std::string& widen, const std::string& broadcast) {
    return test::check_text(R"j({"version": 1, "modules": {"proj": "nn.Linear(32, 96)"},
      "tensors": {"s": ["B", 12, 32], "a": ["B", 12, 32], "keep": {"shape": ["B", 12], "dtype": "bool"}},
      "calls": [{"id": "st", "op": "stack", "tensors": ["s", "a"], "dim": )j" + stacked_dim + R"j(, "outputs": ["pairs"]},
                {"id": "r", "op": "reshape", "input": "pairs", "shape": ["B", 24, 32], "outputs": ["tok"]},
                {"id": "p", "module": "proj", "input": "tok", "outputs": ["qkv"]},
                {"id": "sp", "op": "split", "input": "qkv", "split_size": 32, "dim": 2, "outputs": ["q", "k", "v"]},
                {"id": "kv", "op": "view", "input": "k", "shape": ["B", 24, 2, 16], "outputs": ["k4"]},
                {"id": "qv", "op": "view", "input": "q", "shape": ["B", 24, 2, 16], "outputs": ["q4"]},
                {"id": "vv", "op": "view", "input": "v", "shape": ["B", 24, 2, 16], "outputs": ["v4"]},
                {"id": "kt", "op": "transpose", "input": "k4", "dim0": 1, "dim1": 2, "outputs": ["kh"]},
                {"id": "qt", "op": "transpose", "input": "q4", "dim0": 1, "dim1": 2, "outputs": ["qh"]},
                {"id": "vt", "op": "transpose", "input": "v4", "dim0": 1, "dim1": 2, "outputs": ["vh"]},
                {"id": "w", )j" + widen + R"j(, "input": "keep", "outputs": ["keep2"]},
                )j" + broadcast + R"j(,
                {"id": "att", "op": "F.scaled_dot_product_attention", "query": "qh", "key": "kh", "value": "vh", "attn_mask": "mask"}]})j");
  };
  const std::string indexed = R"j({"id": "m", "op": "getitem", "input": "keep2", "index": "[:, None, None, :]", "outputs": ["mask"]})j";
  const std::string tiled = R"("op": "repeat", "repeats": [1, 2])";
  for (const std::string& broadcast :
       {indexed, std::string(R"j({"id": "m", "op": "view", "input": "keep2", "shape": ["B", 1, 1, 24], "outputs": ["mask"]})j"),
        std::string(R"j({"id": "u", "op": "unsqueeze", "input": "keep2", "dim": 1, "outputs": ["k3"]},
                        {"id": "m", "op": "unsqueeze", "input": "k3", "dim": 2, "outputs": ["mask"]})j"),
        std::string(R"j({"id": "f", "op": "float", "input": "keep2", "outputs": ["kf"]},
                        {"id": "o", "op": "sub", "input": "kf", "other": 1.0, "outputs": ["drop"]},
                        {"id": "n", "op": "mul", "input": "drop", "other": 10000.0, "outputs": ["add2"]},
                        {"id": "m", "op": "getitem", "input": "add2", "index": "[:, None, None, :]", "outputs": ["mask"]})j")}) {
    INFO(broadcast);
    Report report = tokens("2", tiled, broadcast);
    const Diagnostic* positions = test::find(report, "MHA240");
    REQUIRE(positions != nullptr);
    CHECK(positions->call == "att");
    REQUIRE_FALSE(positions->fixes.empty());
    CHECK(positions->fixes[0].description == "give each position's flag to its 2 tokens side by side: keep2 = keep.repeat_interleave(2, dim=1)");
    CHECK(positions->fixes[0].valid());
    CHECK(positions->fixes[0].semantics == FixSemantics::Consistent);
  }
  // repeat_interleave, and tokens stacked outside the steps (all of s, then all of a), are right.
  CHECK(test::find(tokens("2", R"("op": "repeat_interleave", "repeats": 2, "dim": 1)", indexed), "MHA240") == nullptr);
  CHECK(test::find(tokens("1", tiled, indexed), "MHA240") == nullptr);
}

TEST_CASE("an SDPA mask whose key dim holds the queries' length was made for the queries: an error, fixed with the keys' mask", "[sdpa][mask]") {
  const std::string with_keys_mask = R"({"version": 1, "tensors": {"q": ["B", 8, "L", 32], "k": ["B", 8, 49, 32], "v": ["B", 8, 49, 32],
    "text_mask": {"shape": ["B", "L"], "dtype": "bool"}, "patch_mask": {"shape": ["B", 49], "dtype": "bool"}},
    "calls": [{"id": "g", "op": "getitem", "input": "text_mask", "index": "[:, None, None, :]", "outputs": ["m"]},
              {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "m"}]})";
  Report report = test::check_text(with_keys_mask);
  REQUIRE(report.count(Severity::Warning) == 0);
  const Diagnostic* condition = test::find(report, "MHA335");
  REQUIRE(condition != nullptr);
  CHECK(condition->severity() == Severity::Error);
  CHECK(test::find(report, "MHA080") == nullptr);  // folded into it
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes.front().description ==
        "mask the keys: read patch_mask (B, 49) (the keys' mask) instead of text_mask (B, L) in call \"g\"");
  CHECK(condition->fixes.front().valid());
  CHECK(condition->fixes.front().semantics == FixSemantics::Consistent);
  // Without a keys' mask in the spec, the diagnostic says whose mask is needed.
  Report alone = test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, "L", 32], "k": ["B", 8, "S", 32], "v": ["B", 8, "S", 32],
    "m": {"shape": ["B", 1, 1, "L"], "dtype": "bool"}},
    "calls": [{"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "m"}]})");
  const Diagnostic* queries = test::find(alone, "MHA335");
  REQUIRE(queries != nullptr);
  CHECK(std::find(queries->notes.begin(), queries->notes.end(), "pass the keys' mask: one entry per key position (S of them), not per query") !=
        queries->notes.end());
  // Self-attention over one length: the (B, 1, 1, T) padding mask is the keys' mask too.
  Report self = test::check_text(R"({"version": 1, "tensors": {"q": ["B", 8, "T", 32], "m": {"shape": ["B", 1, 1, "T"], "dtype": "bool"}},
    "calls": [{"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "m"}]})");
  CHECK(self.count(Severity::Warning) + self.count(Severity::Error) == 0);
}

TEST_CASE("MHA207: key/value heads repeated on the batch dim by the group size: the repeat moved to the heads, enable_gqa suspect", "[sdpa]") {
  // A batch of one: repeat_interleave(2, dim=0) gives two copies of the batch, still 4 heads.
  Report report = test::check_text(R"({"dims": {"N": 1}, "tensors": {"q": ["N", 8, "L", 32], "k": ["N", 4, "S", 32], "v": ["N", 4, "S", 32]},
    "modules": {}, "calls": [{"id": "rk", "op": "repeat_interleave", "input": "k", "repeats": 2, "dim": 0, "outputs": ["kr"]},
              {"id": "rv", "op": "repeat_interleave", "input": "v", "repeats": 2, "dim": 0, "outputs": ["vr"]},
              {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "kr", "value": "vr"}]})");
  const Diagnostic* heads = test::find(report, "MHA207");
  REQUIRE(heads != nullptr);
  REQUIRE_FALSE(heads->fixes.empty());
  const Fix& first = heads->fixes.front();
  CHECK(first.description.find("not the batch") != std::string::npos);
  CHECK(first.description.find("k.repeat_interleave(2, dim=1)") != std::string::npos);
  CHECK(first.description.find("v.repeat_interleave(2, dim=1)") != std::string::npos);
  CHECK(first.valid());
  for (const Fix& fix : heads->fixes) {
    if (fix.description.find("enable_gqa") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
  }
}

// A (B, T, H, D) tensor transposed on its first two dims, (T, B, H, D), still attends over the
// heads of each position: the batch sits in the heads slot behind the sequence.
TEST_CASE("sdpa: a batch in the heads slot of a 4-D operand is a layout fault, and its fix brings the sequence to L", "[sdpa][roles]") {
  Report swapped = test::check_text(R"j({"version": 1, "tensors": {"q": ["S", "bsz", 4, 32]},
      "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "outputs": ["o"]}]})j");
  const Diagnostic* batch = test::find(swapped, "MHA209");
  REQUIRE(batch != nullptr);
  CHECK_THAT(batch->message, Catch::Contains("holds \"bsz\", a batch size"));
  // A 3-D (B, L, D) operand has its batch in that slot by right.
  Report three = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", "L", 32]},
      "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "outputs": ["o"]}]})j");
  CHECK(test::find(three, "MHA209") == nullptr);
  // Heads split from a Linear's features and left (B, L, H, D): the first fix transposes (1, 2),
  // not (0, 1), which would leave the heads in the sequence slot and the batch in the heads slot.
  Report split = test::check_text(R"j({"version": 1, "modules": {"proj": "nn.Linear(128, 384)"}, "tensors": {"x": ["B", "L", 128]},
      "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["h"]},
                {"id": "v", "op": "view", "input": "h", "shape": ["B", "L", 3, 4, 32], "outputs": ["h5"]},
                {"id": "u", "op": "unbind", "input": "h5", "dim": 2, "outputs": ["q", "k", "v"]},
                {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "outputs": ["o"]},
                {"id": "m", "op": "reshape", "input": "o", "shape": ["B", "L", 128], "outputs": ["y"]}]})j");
  const Diagnostic* layout = test::find(split, "MHA209");
  REQUIRE(layout != nullptr);
  REQUIRE_FALSE(layout->fixes.empty());
  CHECK_THAT(layout->fixes.front().description, Catch::Contains(".transpose(1, 2) each"));
  CHECK(layout->fixes.front().semantics != FixSemantics::Suspect);
}

// GQA key/value heads repeated to the query's count: with B bound to that count, the repeated dim
// is still heads, not a batch read by its size.
TEST_CASE("sdpa: key/value heads repeat_interleave'd to a count equal to the bound batch are not a batch in the heads slot", "[sdpa][roles]") {
  Report grouped = test::check_text(R"j({"version": 1, "dims": {"B": 8, "T": 16}, "tensors": {"q": ["B", 8, "T", 16], "k": ["B", 2, "T", 16]},
      "calls": [{"id": "r", "op": "repeat_interleave", "input": "k", "repeats": 4, "dim": 1, "outputs": ["k8"]},
                {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k8", "value": "k8", "outputs": ["o"]}]})j");
  CHECK(test::find(grouped, "MHA209") == nullptr);
  // The batch itself repeated on dim 0 keeps naming nothing else: the kept dims keep their names.
  Report batch_first = test::check_text(R"j({"version": 1, "dims": {"B": 8, "T": 16}, "tensors": {"k": ["T", "B", 2, 16]},
      "calls": [{"id": "r", "op": "repeat_interleave", "input": "k", "repeats": 4, "dim": 2, "outputs": ["k8"]},
                {"id": "a", "op": "F.scaled_dot_product_attention", "query": "k8", "key": "k8", "value": "k8", "outputs": ["o"]}]})j");
  const Diagnostic* layout = test::find(batch_first, "MHA209");
  REQUIRE(layout != nullptr);
  CHECK_THAT(layout->message, Catch::Contains("holds \"B\", a batch size"));
}

TEST_CASE("MHA240: GQA key/value heads copied by expand outside the heads and merged are the tiling of repeat", "[sdpa]") {
  // key (N, 2, S, D) unsqueezed at `at`, expanded to 4 copies and merged to (N, 8, S, D): copies
  // outside the heads (at 1) give head h key/value head h mod 2; inside (at 2) give h // 4, as repeat_kv.
  auto spread = [](int at, const std::string& sizes) {
    return test::check_text(R"j({"version": 1, "dims": {"S": 7},
      "tensors": {"q": ["N", 8, "L", 32], "key": ["N", 2, "S", 32]},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "key", "dim": )j" + std::to_string(at) + R"j(, "outputs": ["k5"]},
                {"id": "e", "op": "expand", "input": "k5", "size": )j" + sizes + R"j(, "outputs": ["k6"]},
                {"id": "m", "op": "reshape", "input": "k6", "shape": ["N", 8, "S", 32], "outputs": ["kk"]},
                {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "kk", "value": "kk", "outputs": ["o"]}]})j");
  };
  Report tiled = spread(1, R"(["N", 4, 2, "S", 32])");
  const Diagnostic* order = test::find(tiled, "MHA240");
  REQUIRE(order != nullptr);
  CHECK(order->message.rfind("kk is made from an expand (call \"e\") whose 4 copies reshape (call \"m\") merges outside the 2 entries", 0) == 0);
  REQUIRE_FALSE(order->fixes.empty());
  CHECK(order->fixes.front().description == "use repeat_interleave: kk = key.repeat_interleave(4, dim=1)");
  CHECK(order->fixes.front().valid());
  CHECK(order->fixes.front().semantics == FixSemantics::Consistent);
  CHECK(test::find(spread(2, R"(["N", 2, 4, "S", 32])"), "MHA240") == nullptr);
}

// SDPA reads every dim before (L, D) as a batch: with the sequence at L, a batch name at dim -3
// is a heads-first (H, B, T, D) or frames-first (F, B, N, D) layout, and right.
TEST_CASE("sdpa: a batch at dim -3 with the sequence at L is a leading batch dim, not a layout fault", "[sdpa][roles]") {
  for (const char* shape : {R"(["H", "B", "T", 32])", R"(["F", "bsz", "N", 32])"}) {
    Report leading = test::check_text(std::string(R"j({"version": 1, "tensors": {"q": )j") + shape + R"j(},
        "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "outputs": ["o"]}]})j");
    INFO(shape);
    CHECK(test::find(leading, "MHA209") == nullptr);
  }
}

namespace {
// No error and no warning (notes allowed).
bool keep_mask_silent(const Report& report) {
  return std::none_of(report.diagnostics.begin(), report.diagnostics.end(), [](const Diagnostic& d) { return d.severity() != Severity::Note; });
}
}  // namespace

TEST_CASE("sdpa: a float 1 = keep (B, S) mask lifted to the scores is added as is and masks nothing", "[sdpa][mask]") {
  Report added = test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"q": ["B", 8, "S", 32], "k": ["B", 8, "S", 32], "v": ["B", 8, "S", 32], "keep_mask": {"shape": ["B", "S"], "dtype": "float32"}}, "calls": [{"id": "u1", "op": "unsqueeze", "input": "keep_mask", "dim": 1, "outputs": ["m3"]}, {"id": "u2", "op": "unsqueeze", "input": "m3", "dim": 2, "outputs": ["m4"]}, {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "m4", "outputs": ["o"]}]})json");
  const Diagnostic* primary = test::find(added, "MHA267");
  REQUIRE(primary != nullptr);
  CHECK(primary->severity() == Severity::Warning);
  REQUIRE(primary->fixes.size() >= 2);
  CHECK(primary->fixes[0].description == "pass m4.bool(): a bool attn_mask keeps its True positions, the 1s");
  CHECK(primary->fixes[0].verified);
  CHECK(primary->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(primary->fixes[1].description.find("(1.0 - m4) * -10000.0") != std::string::npos);
  CHECK(primary->fixes[1].verified);
  // Made additive, cast to bool, declared 4-D (Hugging Face's extended mask) or a bias: silent.
  CHECK(keep_mask_silent(test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"q": ["B", 8, "S", 32], "k": ["B", 8, "S", 32], "v": ["B", 8, "S", 32], "keep_mask": {"shape": ["B", "S"], "dtype": "float32"}}, "calls": [{"id": "u1", "op": "unsqueeze", "input": "keep_mask", "dim": 1, "outputs": ["m3"]}, {"id": "u2", "op": "unsqueeze", "input": "m3", "dim": 2, "outputs": ["m4"]}, {"id": "s", "op": "sub", "input": "m4", "other": 1.0, "outputs": ["m5"]}, {"id": "mu", "op": "mul", "input": "m5", "other": 10000.0, "outputs": ["m6"]}, {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "m6", "outputs": ["o"]}]})json")));
  CHECK(keep_mask_silent(test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"q": ["B", 8, "S", 32], "k": ["B", 8, "S", 32], "v": ["B", 8, "S", 32], "keep_mask": {"shape": ["B", "S"], "dtype": "float32"}}, "calls": [{"id": "g", "op": "getitem", "input": "keep_mask", "index": "[:, None, None, :]", "outputs": ["m4"]}, {"id": "b", "op": "bool", "input": "m4", "outputs": ["mb"]}, {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "mb", "outputs": ["o"]}]})json")));
  CHECK(keep_mask_silent(test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"q": ["B", 8, "S", 32], "k": ["B", 8, "S", 32], "v": ["B", 8, "S", 32], "attention_mask": {"shape": ["B", 1, 1, "S"], "dtype": "float32"}}, "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "attention_mask", "outputs": ["o"]}]})json")));
  CHECK(keep_mask_silent(test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"q": ["B", 8, "S", 32], "k": ["B", 8, "S", 32], "v": ["B", 8, "S", 32], "pos_bias": {"shape": ["B", "S"], "dtype": "float32"}}, "calls": [{"id": "g", "op": "getitem", "input": "pos_bias", "index": "[:, None, None, :]", "outputs": ["m4"]}, {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "m4", "outputs": ["o"]}]})json")));
}
