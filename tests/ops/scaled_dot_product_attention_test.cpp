// F.scaled_dot_product_attention's rules beyond the PyTorch fixtures: symbolic dims, fixes and
// the shapes broadcasting and grouped-query heads produce.
#include <catch2/catch.hpp>

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
    // Each call's own mask fix leaves the other call's error: not valid alone, but consistent and first.
    CHECK(diagnostic.fixes[0].description.find("[:, None]") != std::string::npos);
    CHECK(diagnostic.fixes[0].semantics == FixSemantics::Consistent);
    CHECK(diagnostic.fixes[0].verified);
  }
  CHECK(conditions == 2);
  // The same calls with (B, 1, T, S) masks: silent.
  Report correct = test::check_text(
      R"({"version": 1, "dims": {"D": 64}, "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "S", "D"],
          "m": {"shape": ["B", 1, "T", "S"], "dtype": "bool"}},
          "calls": [{"id": "s1", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"},
                    {"id": "s2", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"}]})");
  CHECK(correct.diagnostics.empty());
}
