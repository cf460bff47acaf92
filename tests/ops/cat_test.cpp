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

TEST_CASE("MHA295 pairs a mask cat only with the tokens of the attention it masks", "[glue][cat]") {
  // Text-image and image-text fusion in one model, each fusion with its own correctly ordered mask:
  // the mask of one is in the other's order, and says nothing about it.
  const std::string two_fusions = R"spec({"version": 1, "dims": {"B": 4},
    "modules": {"fuse_t": "nn.MultiheadAttention(64, 4, batch_first=True)", "fuse_i": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "tensors": {"text": ["B", 20, 64], "image": ["B", 50, 64],
                "text_pad": {"shape": ["B", 20], "dtype": "bool"}, "image_pad": {"shape": ["B", 50], "dtype": "bool"}},
    "calls": [{"id": "ti", "op": "cat", "tensors": ["text", "image"], "dim": 1, "outputs": ["x_ti"]},
              {"id": "ti_pad", "op": "cat", "tensors": ["text_pad", "image_pad"], "dim": 1, "outputs": ["pad_ti"]},
              {"id": "a1", "module": "fuse_t", "query": "x_ti", "key": "x_ti", "value": "x_ti", "key_padding_mask": "pad_ti", "outputs": ["y_ti"]},
              {"id": "it", "op": "cat", "tensors": ["image", "text"], "dim": 1, "outputs": ["x_it"]},
              {"id": "it_pad", "op": "cat", "tensors": ["image_pad", "text_pad"], "dim": 1, "outputs": ["pad_it"]},
              {"id": "a2", "module": "fuse_i", "query": "x_it", "key": "x_it", "value": "x_it", "key_padding_mask": "pad_it", "outputs": ["y_it"]}]})spec";
  CHECK(test::find(test::check_text(two_fusions), "MHA295") == nullptr);
  // A mask and tokens of the same lengths that never meet in one attention say nothing either.
  const std::string unrelated = R"spec({"version": 1, "dims": {"B": 4},
    "modules": {"mha": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "tensors": {"text": ["B", 20, 64], "image": ["B", 50, 64], "q": ["B", 70, 64],
                "text_pad": {"shape": ["B", 20], "dtype": "bool"}, "image_pad": {"shape": ["B", 50], "dtype": "bool"}},
    "calls": [{"id": "ti", "op": "cat", "tensors": ["text", "image"], "dim": 1, "outputs": ["x"]},
              {"id": "pads", "op": "cat", "tensors": ["image_pad", "text_pad"], "dim": 1, "outputs": ["pad"]},
              {"id": "a", "module": "mha", "query": "q", "key": "q", "value": "q", "key_padding_mask": "pad", "outputs": ["y"]}]})spec";
  CHECK(test::find(test::check_text(unrelated), "MHA295") == nullptr);
}

TEST_CASE("MHA295 reads nn.MultiheadAttention's seq-first tokens by role: joined on dim 0, their key_padding_mask on dim 1", "[glue][cat]") {
  const std::string seq_first = R"spec({"version": 1, "dims": {"B": 4},
    "modules": {"mha": "nn.MultiheadAttention(64, 4)"},
    "tensors": {"text": [20, "B", 64], "image": [50, "B", 64],
                "text_pad": {"shape": ["B", 20], "dtype": "bool"}, "image_pad": {"shape": ["B", 50], "dtype": "bool"}},
    "calls": [{"id": "ti", "op": "cat", "tensors": ["text", "image"], "dim": 0, "outputs": ["x"]},
              {"id": "pads", "op": "cat", "tensors": ["image_pad", "text_pad"], "dim": 1, "outputs": ["pad"]},
              {"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "key_padding_mask": "pad", "outputs": ["y"]}]})spec";
  Report report = test::check_text(seq_first);
  const Diagnostic* order = test::find(report, "MHA295");
  REQUIRE(order != nullptr);
  CHECK(order->call == "pads");
  REQUIRE_FALSE(order->fixes.empty());
  CHECK(order->fixes.front().description == "join the mask's parts in the tokens' order: cat([text_pad, image_pad], dim=1) in call \"pads\"");
  CHECK(order->fixes.front().valid());
}

TEST_CASE("MHA295 leaves out parts of length 0, which have no order", "[glue][cat]") {
  // An empty past at the first step: tokens [past (B, 0, 8), new], mask [new_pad, past_pad (B, 0)].
  auto step = [](int past) {
    return fmt::format(R"spec({{"version": 1, "dims": {{"B": 2, "T": 5}},
      "tensors": {{"past": ["B", {0}, 8], "new": ["B", "T", 8], "past_pad": {{"shape": ["B", {0}], "dtype": "bool"}},
                  "new_pad": {{"shape": ["B", "T"], "dtype": "bool"}}}},
      "calls": [{{"id": "keys", "op": "cat", "tensors": ["past", "new"], "dim": 1, "outputs": ["k"]}},
                {{"id": "pads", "op": "cat", "tensors": ["new_pad", "past_pad"], "dim": 1, "outputs": ["pad"]}},
                {{"id": "kt", "op": "transpose", "input": "k", "dim0": 1, "dim1": 2, "outputs": ["k_t"]}},
                {{"id": "scores", "op": "matmul", "input": "new", "other": "k_t", "outputs": ["s"]}},
                {{"id": "m", "op": "unsqueeze", "input": "pad", "dim": 1, "outputs": ["m1"]}},
                {{"id": "fill", "op": "masked_fill", "input": "s", "mask": "m1", "value": "-inf", "outputs": ["filled"]}}]}})spec",
                       past);
  };
  CHECK(test::find(test::check_text(step(0)), "MHA295") == nullptr);
  // A past of 3 positions has an order: the mask reaches masked_fill, the tokens its scores.
  Report ordered = test::check_text(step(3));
  const Diagnostic* order = test::find(ordered, "MHA295");
  REQUIRE(order != nullptr);
  REQUIRE_FALSE(order->fixes.empty());
  CHECK(order->fixes.front().description == "join the mask's parts in the tokens' order: cat([past_pad, new_pad], dim=1) in call \"pads\"");
}

TEST_CASE("MHA295 needs both cats to reach one attention: the mask as its mask, the tokens as its inputs", "[glue][cat]") {
  // A spec that stops before any attention: the mask may be another sequence's, nothing to pair.
  const std::string no_attention = R"spec({"version": 1,
    "tensors": {"a": ["B", 5, 8], "b": ["B", 3, 8], "ma": {"shape": ["B", 5], "dtype": "bool"}, "mb": {"shape": ["B", 3], "dtype": "bool"}},
    "calls": [{"id": "x", "op": "cat", "tensors": ["a", "b"], "dim": 1, "outputs": ["x"]},
              {"id": "m", "op": "cat", "tensors": ["mb", "ma"], "dim": 1, "outputs": ["m"]}]})spec";
  CHECK(test::find(test::check_text(no_attention), "MHA295") == nullptr);
  // An additive float mask made from the joined padding masks and added to the scores is the mask
  // of that attention: its cat is paired with the tokens' cat that made the scores.
  auto additive = [](const std::string& masks) {
    return R"spec({"version": 1,
      "tensors": {"text": ["B", 20, 16], "image": ["B", 50, 16],
                  "text_pad": {"shape": ["B", 20], "dtype": "bool"}, "image_pad": {"shape": ["B", 50], "dtype": "bool"}},
      "calls": [{"id": "ti", "op": "cat", "tensors": ["text", "image"], "dim": 1, "outputs": ["x"]},
                {"id": "pads", "op": "cat", "tensors": [)spec" + masks + R"spec(], "dim": 1, "outputs": ["pad"]},
                {"id": "f", "op": "float", "input": "pad", "outputs": ["padf"]},
                {"id": "neg", "op": "mul", "input": "padf", "other": -10000.0, "outputs": ["bias"]},
                {"id": "u", "op": "unsqueeze", "input": "bias", "dim": 1, "outputs": ["bias3"]},
                {"id": "xt", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["x_t"]},
                {"id": "qk", "op": "matmul", "input": "x", "other": "x_t", "outputs": ["s"]},
                {"id": "add", "op": "add", "input": "s", "other": "bias3", "outputs": ["masked"]},
                {"id": "p", "op": "softmax", "input": "masked", "dim": -1, "outputs": ["w"]}]})spec";
  };
  Report swapped = test::check_text(additive(R"("image_pad", "text_pad")"));
  const Diagnostic* order = test::find(swapped, "MHA295");
  REQUIRE(order != nullptr);
  CHECK(order->call == "pads");
  REQUIRE_FALSE(order->fixes.empty());
  CHECK(order->fixes.front().description == "join the mask's parts in the tokens' order: cat([text_pad, image_pad], dim=1) in call \"pads\"");
  CHECK(order->fixes.front().valid());
  CHECK(test::find(test::check_text(additive(R"("text_pad", "image_pad")")), "MHA295") == nullptr);
  // The mask added before the tokens are joined, the tokens' cat coming second, pairs the same way.
  std::string later = additive(R"("image_pad", "text_pad")");
  const std::string tokens_call = R"({"id": "ti", "op": "cat", "tensors": ["text", "image"], "dim": 1, "outputs": ["x"]},)";
  later.erase(later.find(tokens_call), tokens_call.size());
  later.insert(later.find(R"({"id": "xt")"), tokens_call);
  const Report later_report = test::check_text(later);  // kept alive: `second` points into it
  const Diagnostic* second = test::find(later_report, "MHA295");
  REQUIRE(second != nullptr);
  CHECK(second->call == "ti");
}

TEST_CASE("MHA311: a tensor with a dim of 1 where its partner has more, and another dim joined, is expanded before the cat", "[glue][cat]") {
  // One positional key shared by the 8 heads, joined on the features to the per-head keys.
  Report report = test::check_text(R"({"tensors": {"content": ["B", 8, "T", 32], "shared": ["B", 1, "T", 16]}, "modules": {},
    "calls": [{"id": "join", "op": "cat", "tensors": ["content", "shared"], "dim": 3}]})");
  const Diagnostic* cat = test::find(report, "MHA311");
  REQUIRE(cat != nullptr);
  REQUIRE_FALSE(cat->fixes.empty());
  CHECK(cat->fixes.front().description.find("shared.expand(-1, 8, -1, -1)") != std::string::npos);
  CHECK(cat->fixes.front().valid());
}

TEST_CASE("MHA311: tensors that differ in one dim only are not expanded: they join on that dim", "[glue][cat]") {
  Report report = test::check_text(R"({"tensors": {"cls": ["B", 1, 64], "patches": ["B", 49, 64]}, "modules": {},
    "calls": [{"id": "join", "op": "cat", "tensors": ["cls", "patches"], "dim": 0}]})");
  const Diagnostic* cat = test::find(report, "MHA311");
  REQUIRE(cat != nullptr);
  for (const Fix& fix : cat->fixes) CHECK(fix.description.find("expand") == std::string::npos);
}

TEST_CASE("MHA311: a tensor one dim short because an integer index dropped the joined dim keeps it with a slice of length 1", "[glue][cat]") {
  // The last token of a sequence, h[:, -1] (B, 32), joined after a memory (B, 7, 32) on dim -2.
  Report report = test::check_text(R"({"version": 1, "tensors": {"h": ["B", 20, 32], "mem": ["B", 7, 32]}, "modules": {},
    "calls": [{"id": "g", "op": "getitem", "input": "h", "index": "[:, -1]", "outputs": ["last"]},
              {"id": "join", "op": "cat", "tensors": ["mem", "last"], "dim": -2, "outputs": ["ctx"]}]})");
  const Diagnostic* cat = test::find(report, "MHA311");
  REQUIRE(cat != nullptr);
  REQUIRE_FALSE(cat->fixes.empty());
  CHECK(cat->fixes.front().description.find("h[:, -1:]") != std::string::npos);
  CHECK(cat->fixes.front().valid());
  CHECK(cat->fixes.front().semantics == FixSemantics::Consistent);
  // Two integers drop two dims: no slice of length 1 puts the tensor one dim short of its partner right.
  Report two = test::check_text(R"({"version": 1, "tensors": {"h": [4, "B", 20, 32], "mem": ["B", 7, 32]}, "modules": {},
    "calls": [{"id": "g", "op": "getitem", "input": "h", "index": "[0, :, 3]", "outputs": ["last"]},
              {"id": "join", "op": "cat", "tensors": ["mem", "last"], "dim": 1, "outputs": ["ctx"]}]})");
  const Diagnostic* short_two = test::find(two, "MHA311");
  REQUIRE(short_two != nullptr);
  for (const Fix& fix : short_two->fixes) CHECK(fix.description.find("slice of length 1") == std::string::npos);
}

TEST_CASE("MHA311: a dim that differs because a slice cut it upstream, where the uncut dim fits, has the slice moved to another dim", "[glue][cat]") {
  // Encoder frames (B, 50, 256) meant to lose their first two tokens, cut as enc[2:] (the batch),
  // normalised, then joined after a prompt (B, P, 256).
  Report report = test::check_text(R"j({"version": 1, "dims": {"B": 4}, "tensors": {"enc": ["B", 50, 256], "prompt": ["B", "P", 256]},
    "modules": {"norm": "nn.LayerNorm(256)"},
    "calls": [{"id": "g", "op": "getitem", "input": "enc", "index": "[2:]", "outputs": ["kept"]},
              {"id": "n", "module": "norm", "input": "kept", "outputs": ["normed"]},
              {"id": "join", "op": "cat", "tensors": ["prompt", "normed"], "dim": 1, "outputs": ["seq"]}]})j");
  const Diagnostic* cat = test::find(report, "MHA311");
  REQUIRE(cat != nullptr);
  REQUIRE_FALSE(cat->fixes.empty());
  CHECK(cat->fixes.front().description.find("enc[:, 2:]") != std::string::npos);
  CHECK(cat->fixes.front().valid());
  CHECK(cat->fixes.front().semantics != FixSemantics::Suspect);
}
