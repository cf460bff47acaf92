// MHA374: a mask's key columns and the keys it masks cut from sequences of one length at
// different starts (a rolling window's keys k[:, :, -W:] masked by mask[..., :W]), at SDPA and at
// masks applied by hand to q @ k.transpose(-2, -1).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "test_support.hpp"

using namespace mhacheck;

namespace {

// Keys and values cut `key_cut` from 24 cached positions, the mask cut `mask_cut` from a mask of
// `mask_length` columns, given to SDPA.
std::string sdpa_window(const std::string& key_cut, const std::string& mask_cut, int mask_length = 24) {
  return fmt::format(R"({{"version": 1, "tensors": {{"q": [2, 4, 1, 32], "keys": [2, 4, 24, 32], "values": [2, 4, 24, 32],
      "keep": {{"shape": [2, 1, 1, {}], "dtype": "bool"}}}},
      "calls": [{{"id": "wk", "op": "getitem", "input": "keys", "index": "{}", "outputs": ["k"]}},
                {{"id": "wv", "op": "getitem", "input": "values", "index": "{}", "outputs": ["v"]}},
                {{"id": "wm", "op": "getitem", "input": "keep", "index": "{}", "outputs": ["keep_w"]}},
                {{"id": "att", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "keep_w"}}]}})",
                     mask_length, key_cut, key_cut, mask_cut);
}

// The same step written by hand: scores = q @ k.transpose(-2, -1) / sqrt(D), the window's mask
// inverted and filled with -inf (or a float bias added, `added`).
std::string manual_window(const std::string& key_cut, const std::string& mask_cut, bool added = false) {
  std::string mask = added ? R"("bias": [1, 4, 1, "N"])" : R"("keep": {"shape": ["B", 1, 1, "N"], "dtype": "bool"})";
  std::string apply = added ? R"({"id": "wm", "op": "getitem", "input": "bias", "index": "MASK_CUT", "outputs": ["bias_w"]},
                {"id": "m", "op": "add", "input": "scaled", "other": "bias_w", "outputs": ["masked"]})"
                            : R"({"id": "wm", "op": "getitem", "input": "keep", "index": "MASK_CUT", "outputs": ["keep_w"]},
                {"id": "inv", "op": "bitwise_not", "input": "keep_w", "outputs": ["hidden"]},
                {"id": "m", "op": "masked_fill", "input": "scaled", "mask": "hidden", "value": "-inf", "outputs": ["masked"]})";
  apply.replace(apply.find("MASK_CUT"), 8, mask_cut);
  return fmt::format(R"({{"version": 1, "dims": {{"N": 40}}, "tensors": {{"q": ["B", 4, 1, 16], "k_all": ["B", 4, "N", 16], {}}},
      "calls": [{{"id": "wk", "op": "getitem", "input": "k_all", "index": "{}", "outputs": ["k"]}},
                {{"id": "kt", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kT"]}},
                {{"id": "qk", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]}},
                {{"id": "s", "op": "div", "input": "scores", "other": 4.0, "outputs": ["scaled"]}},
                {}]}})",
                     mask, key_cut, apply);
}

}  // namespace

TEST_CASE("window offsets: SDPA keys cut [-W:] with the mask cut [:W] warn MHA374, fixed by cutting the mask as the keys", "[sdpa][masks]") {
  Report report = test::check_text(sdpa_window("[:, :, -8:]", "[..., :8]"));
  const Diagnostic* warning = test::find(report, "MHA374");
  REQUIRE(warning != nullptr);
  CHECK(warning->severity() == Severity::Warning);
  CHECK(warning->message.find("position 0+j, key j is position 16+j") != std::string::npos);
  REQUIRE_FALSE(warning->fixes.empty());
  const Fix& fix = warning->fixes.front();
  CHECK(fix.description == "cut the mask's columns as call \"wk\" cuts the keys: keep_w = keep[..., -8:]");
  CHECK(fix.verified);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // The other way round (keys from the start, mask from the end) too.
  CHECK(test::find(test::check_text(sdpa_window("[:, :, :8]", "[..., 16:]")), "MHA374") != nullptr);
}

TEST_CASE("window offsets: cuts at the same start, or from masks of another length, are silent", "[sdpa][masks]") {
  Report same = test::check_text(sdpa_window("[:, :, -8:]", "[..., -8:]"));
  CHECK(same.count(Severity::Warning) == 0);
  CHECK(same.count(Severity::Error) == 0);
  CHECK(test::check_text(sdpa_window("[:, :, 16:]", "[..., -8:]")).count(Severity::Warning) == 0);  // 16 == 24 - 8
  // A mask of 8 columns cut from 12: not the keys' positions, nothing to compare.
  CHECK(test::find(test::check_text(sdpa_window("[:, :, -8:]", "[..., :8]", 12)), "MHA374") == nullptr);
}

TEST_CASE("window offsets: a mask filled into q @ k^T by hand, or an additive mask added, warns MHA374 as at SDPA, a float bias does not", "[masks]") {
  Report filled = test::check_text(manual_window("[:, :, -12:]", "[..., :12]"));
  const Fix* fix = test::first_fix(filled, "MHA374");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "cut the mask's columns as call \"wk\" cuts the keys: keep_w = keep[..., -12:]");
  CHECK(fix->valid());
  // A float bias added is no mask: ALiBi's slope * key position cut [:12] for keys cut [-12:]
  // differs from the right cut by slope * 28 in every column of a row, which softmax ignores.
  CHECK(test::find(test::check_text(manual_window("[:, :, -12:]", "[..., :12]", true)), "MHA374") == nullptr);
  // An additive mask added (declared under a mask's name, or -inf filled from a bool) still is.
  std::string declared_mask = manual_window("[:, :, -12:]", "[..., :12]", true);
  for (std::string::size_type at; (at = declared_mask.find("\"bias")) != std::string::npos;) declared_mask.replace(at, 5, "\"attn_mask");
  CHECK(test::first_fix(test::check_text(declared_mask), "MHA374") != nullptr);
  Report filled_bias = test::check_text(R"({"version": 1, "dims": {"N": 40}, "tensors": {"q": ["B", 4, 1, 16], "k_all": ["B", 4, "N", 16],
      "keep": {"shape": ["B", 1, 1, "N"], "dtype": "bool"}},
      "calls": [{"id": "wk", "op": "getitem", "input": "k_all", "index": "[:, :, -12:]", "outputs": ["k"]},
                {"id": "kt", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kT"]},
                {"id": "qk", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]},
                {"id": "z", "op": "zeros", "size": ["B", 1, 1, "N"], "outputs": ["zero"]},
                {"id": "inv", "op": "bitwise_not", "input": "keep", "outputs": ["hidden"]},
                {"id": "f", "op": "masked_fill", "input": "zero", "mask": "hidden", "value": "-inf", "outputs": ["additive"]},
                {"id": "wm", "op": "getitem", "input": "additive", "index": "[..., :12]", "outputs": ["additive_w"]},
                {"id": "m", "op": "add", "input": "scores", "other": "additive_w", "outputs": ["masked"]}]})");
  CHECK(test::find(filled_bias, "MHA374") != nullptr);
  Report aligned = test::check_text(manual_window("[:, :, -12:]", "[..., -12:]"));
  CHECK(test::find(aligned, "MHA374") == nullptr);
  CHECK(test::find(test::check_text(manual_window("[:, :, N-12:]", "[..., -12:]", true)), "MHA374") == nullptr);
}
