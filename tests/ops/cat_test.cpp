// cat beyond the PyTorch fixtures: the part joined after a KV cache holds the new tokens, whose
// positions follow the cache (MHA372).
#include <fmt/format.h>

#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

// One decoding step of a rotary attention (Hugging Face Llama's apply_rotary_pos_emb with
// rotate_half): q and k rotated by `index` of cos/sin tables of 64 positions; k joined after a
// cache of P positions when `cached`, then SDPA.
std::string rotary_step(const std::string& index, bool cached, const std::string& dims = R"("P": 6, "T": 2)") {
  std::string keys = cached ? R"({"id": "join", "op": "cat", "tensors": ["cache_k", "k_rot"], "dim": 2, "outputs": ["keys"]},)" : "";
  return fmt::format(R"({{"version": 1, "dims": {{{}}},
    "tensors": {{"cos_cached": [64, 8], "sin_cached": [64, 8], "q": [1, 2, "T", 8], "k": [1, 2, "T", 8], "v": [1, 2, "{}", 8],
                 "cache_k": [1, 2, "P", 8]}},
    "calls": [
      {{"id": "c", "op": "getitem", "input": "cos_cached", "index": "{}", "outputs": ["cos"]}},
      {{"id": "s", "op": "getitem", "input": "sin_cached", "index": "{}", "outputs": ["sin"]}},
      {{"id": "k1", "op": "getitem", "input": "k", "index": "[..., :4]", "outputs": ["k_lo"]}},
      {{"id": "k2", "op": "getitem", "input": "k", "index": "[..., 4:]", "outputs": ["k_hi"]}},
      {{"id": "kn", "op": "neg", "input": "k_hi", "outputs": ["k_hi_neg"]}},
      {{"id": "kh", "op": "cat", "tensors": ["k_hi_neg", "k_lo"], "dim": -1, "outputs": ["k_half"]}},
      {{"id": "kc", "op": "mul", "input": "k", "other": "cos", "outputs": ["k_cos"]}},
      {{"id": "ks", "op": "mul", "input": "k_half", "other": "sin", "outputs": ["k_sin"]}},
      {{"id": "kr", "op": "add", "input": "k_cos", "other": "k_sin", "outputs": ["k_rot"]}},
      {{"id": "qc", "op": "mul", "input": "q", "other": "cos", "outputs": ["q_rot"]}},
      {}
      {{"id": "attn", "op": "scaled_dot_product_attention", "query": "q_rot", "key": "{}", "value": "v"}}]}})",
                     dims, cached ? "P+T" : "T", index, index, keys, cached ? "keys" : "k_rot");
}

}  // namespace

TEST_CASE("MHA372: RoPE tables sliced from 0 for new tokens after a KV cache: the fix starts them at the cache length", "[glue][cat]") {
  Report report = test::check_text(rotary_step("[:T]", true));
  const Diagnostic* found = test::find(report, "MHA372");
  REQUIRE(found != nullptr);
  CHECK(found->call == "join");
  REQUIRE(!found->fixes.empty());
  const Fix& fix = found->fixes.front();
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // cos and sin both move (the query's rotation reads the same cos slice).
  REQUIRE(fix.patch.size() == 2);
  CHECK(fix.patch[0]["value"] == "[P:P+T]");
  CHECK(fix.patch[0]["path"] == "/calls/0/index");
  CHECK(fix.patch[1]["path"] == "/calls/1/index");
  CHECK(found->message.find("cos_cached[:T] (call \"c\")") != std::string::npos);
  // With T == 4, rotate_half's split k[..., :4] is not read as a position table: it is the last dim.
  Report halves = test::check_text(rotary_step("[:T]", true, R"("P": 6, "T": 4)"));
  const Diagnostic* again = test::find(halves, "MHA372");
  REQUIRE(again != nullptr);
  CHECK(again->fixes.front().patch[0]["value"] == "[P:P+T]");
}

TEST_CASE("MHA372 is silent at prefill, with the slice at the cache length, and when the table is too short for P+T", "[glue][cat]") {
  CHECK(test::find(test::check_text(rotary_step("[:T]", false)), "MHA372") == nullptr);
  CHECK(test::find(test::check_text(rotary_step("[P:P+T]", true)), "MHA372") == nullptr);
  CHECK(test::find(test::check_text(rotary_step("[6:8]", true)), "MHA372") == nullptr);
  // a table of 7 positions holds no position P+T-1 = 7: [:T] is then no choice made among positions
  std::string short_table = rotary_step("[:T]", true);
  for (std::string::size_type at = short_table.find("[64, 8]"); at != std::string::npos; at = short_table.find("[64, 8]")) short_table.replace(at, 7, "[7, 8]");
  CHECK(test::find(test::check_text(short_table), "MHA372") == nullptr);
}

TEST_CASE("cat of two tensors where one is a legacy empty (0,) tensor joins the other, and no decode rule reads a dim it lacks", "[glue]") {
  Report report = test::check_text(R"({"tensors": {"x": [2, 3], "e": [0]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["x", "e"], "dim": 1, "outputs": ["y"]}]})");
  CHECK(report.count(Severity::Error) == 0);
  CHECK(test::single_output(report) == "(2, 3)");
}

TEST_CASE("MHA372's fix writes numbers where the cache length and the new tokens' count are numbers: [7:8], not [7:7+1]", "[glue][cat]") {
  // P = 7 and T = 1 written as numbers: the fix is llama's slice at a concrete step.
  std::string concrete = rotary_step("[:1]", true, R"("P": 7, "T": 1)");
  for (const auto& [from, to] : {std::pair<std::string, std::string>{R"("P+T", 8])", "8, 8]"}, {R"("P", 8])", "7, 8]"}, {R"("T", 8])", "1, 8]"}}) {
    for (std::string::size_type at = concrete.find(from); at != std::string::npos; at = concrete.find(from)) concrete.replace(at, from.size(), to);
  }
  Report report = test::check_text(concrete);
  const Diagnostic* found = test::find(report, "MHA372");
  REQUIRE(found != nullptr);
  REQUIRE(!found->fixes.empty());
  CHECK(found->fixes.front().patch[0]["value"] == "[7:8]");
  CHECK(found->fixes.front().description.find("cos_cached[7:8]") != std::string::npos);
  CHECK(found->fixes.front().valid());
}

TEST_CASE("cat of two tensors laid out in each other's order: the later one, which PyTorch names, is transposed first", "[glue][cat]") {
  // tensors[0] sets the layout the others must match: (10, 4, 16) joined with a (4, 10, 16).
  Report report = test::check_text(R"({"version": 1, "tensors": {"a": [10, 4, 16], "b": [4, 10, 16]},
    "calls": [{"id": "j", "op": "cat", "tensors": ["a", "b"], "dim": -1, "outputs": ["ab"]}]})");
  const Fix* fix = test::first_fix(report, "MHA311");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "transpose b to (10, 4, 16): b.transpose(0, 1)");
  CHECK(fix->valid());
}

TEST_CASE("a padding mask joined in another order than the tokens it masks warns MHA295, the fix reorders the mask's parts", "[glue][cat]") {
  // Audio-visual fusion: tokens cat([audio, video], 1) but padding masks cat([video_pad, audio_pad], 1).
  auto spec = [](const std::string& masks, int audio, int video) {
    return fmt::format(R"spec({{"version": 1, "modules": {{"mha": "nn.MultiheadAttention(64, 4, batch_first=True)"}},
      "tensors": {{"audio": ["B", {0}, 64], "video": ["B", {1}, 64], "audio_pad": {{"shape": ["B", {0}], "dtype": "bool"}},
                  "video_pad": {{"shape": ["B", {1}], "dtype": "bool"}}}},
      "calls": [{{"id": "tokens", "op": "cat", "tensors": ["audio", "video"], "dim": 1, "outputs": ["x"]}},
                {{"id": "masks", "op": "cat", "tensors": [{2}], "dim": 1, "outputs": ["pad"]}},
                {{"id": "att", "module": "mha", "query": "x", "key": "x", "value": "x", "key_padding_mask": "pad", "outputs": ["y", "w"]}}]}})spec",
                       audio, video, masks);
  };
  Report swapped = test::check_text(spec(R"("video_pad", "audio_pad")", 50, 20));
  const Diagnostic* order = test::find(swapped, "MHA295");
  REQUIRE(order != nullptr);
  CHECK(order->call == "masks");
  CHECK(order->message ==
        "cat (call \"masks\") joins the mask parts [video_pad, audio_pad] (lengths 20, 50) but cat (call \"tokens\") joins the tokens "
        "[audio, video] (lengths 50, 20) in another order: each part's mask lies over the other part's tokens");
  REQUIRE_FALSE(order->fixes.empty());
  CHECK(order->fixes.front().description == "join the mask's parts in the tokens' order: cat([audio_pad, video_pad], dim=1) in call \"masks\"");
  CHECK(order->fixes.front().valid());
  CHECK(order->fixes.front().semantics == FixSemantics::Consistent);
  // The same order, and parts of one length (no order to read), say nothing.
  CHECK(test::find(test::check_text(spec(R"("audio_pad", "video_pad")", 50, 20)), "MHA295") == nullptr);
  CHECK(test::find(test::check_text(spec(R"("video_pad", "audio_pad")", 30, 30)), "MHA295") == nullptr);
}
