#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "repair_candidates.hpp"
#include "mhacheck/spec.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {
// The first fix of the first diagnostic with `code`, which must have one.
const Fix& first_fix(const Report& report, const std::string& code) {
  const Diagnostic* diagnostic = test::find(report, code);
  REQUIRE(diagnostic != nullptr);
  REQUIRE_FALSE(diagnostic->fixes.empty());
  return diagnostic->fixes.front();
}

bool offers(const Diagnostic& diagnostic, const std::string& text) {
  return std::any_of(diagnostic.fixes.begin(), diagnostic.fixes.end(),
                     [&](const Fix& fix) { return fix.description.find(text) != std::string::npos; });
}
}  // namespace

TEST_CASE("a fix that replaces a shape by one needing other values asks for them, rearranging, cutting, tiling does not", "[fixes][repairs]") {
  Spec spec = parse_spec(test::document_from(R"({"version": 1, "tensors": {"pad": {"shape": ["B", "T"], "dtype": "bool"},
      "table": [1024, 64], "k": ["B", 2, "T", 64]},
      "calls": [{"id": "c", "op": "add", "input": "table", "other": "table"}]})"));
  auto fix = [](const std::string& path, const nlohmann::json& shape) {
    Fix made;
    made.patch = nlohmann::json::array({{{"op", "replace"}, {"path", path}, {"value", shape}}});
    return made;
  };
  CHECK(asks_for_other_values(spec, fix("/tensors/pad/shape", {"B", "T+16"})));
  CHECK(asks_for_other_values(spec, fix("/tensors/pad/shape", {"B", "S"})));
  CHECK(asks_for_other_values(spec, fix("/tensors/table", {1024, 80})));
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/pad/shape", {"T", "B"})));     // a transpose
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/table", {"T", 64})));          // cut to T
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/k", {"B", 8, "T", 64})));      // tiled heads
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/pad/shape", {"B", 1, 1, "T"})));  // a view
  // Not a tensor's shape at all (an option), or another operation.
  CHECK_FALSE(asks_for_other_values(spec, fix("/calls/0/input", {"B", "T+16"})));
  Fix added;
  added.patch = nlohmann::json::array({{{"op", "add"}, {"path", "/tensors/pad/dtype"}, {"value", "float32"}}});
  CHECK_FALSE(asks_for_other_values(spec, added));
}

TEST_CASE("memory tokens joined after the keys: the padding mask is padded after them, before the shape to pass", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(256, 4, batch_first=True)"},
      "tensors": {"h": ["B", "T", 256], "memory": ["B", 6, 256], "padding": {"shape": ["B", "T"], "dtype": "bool"}},
      "calls": [{"id": "join", "op": "cat", "tensors": ["h", "memory"], "dim": 1, "outputs": ["keys"]},
                {"id": "a", "module": "attn", "query": "h", "key": "keys", "value": "keys", "key_padding_mask": "padding",
                 "outputs": ["y", "w"]}]})J");
  const Fix& fix = first_fix(report, "MHA052");
  CHECK(fix.description.find("F.pad(padding, (0, 6))") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // The shape to pass is still offered, after it.
  CHECK(offers(*test::find(report, "MHA052"), "pass a (N, S) = (B, T+6) key_padding_mask"));
}

TEST_CASE("seq-first prefix keys joined on dim 0: the (N, S) mask is padded in front", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(128, 2)"},
      "tensors": {"x": ["T", "B", 128], "prefix": [3, "B", 128], "mask": {"shape": ["B", "T"], "dtype": "bool"}},
      "calls": [{"id": "p", "op": "cat", "tensors": ["prefix", "x"], "dim": 0, "outputs": ["kv"]},
                {"id": "a", "module": "attn", "query": "x", "key": "kv", "value": "kv", "key_padding_mask": "mask", "outputs": ["y", "w"]}]})J");
  const Fix& fix = first_fix(report, "MHA052");
  CHECK(fix.description.find("F.pad(mask, (3, 0))") != std::string::npos);
  CHECK(fix.valid());
}

TEST_CASE("a padding mask of the target given for the memory: the source's mask the spec has is passed", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "dims": {"T": 7, "S": 9, "U": 9}, "modules": {"dec": "nn.TransformerDecoderLayer(64, 4, batch_first=True)"},
      "tensors": {"tgt": ["B", "T", 64], "memory": ["B", "S", 64],
                  "tgt_pad": {"shape": ["B", "T"], "dtype": "bool"}, "src_pad": {"shape": ["B", "S"], "dtype": "bool"},
                  "scale": ["B", "S"], "word_mask": {"shape": ["B", "U"], "dtype": "bool"}},
      "calls": [{"id": "d", "module": "dec", "tgt": "tgt", "memory": "memory", "tgt_key_padding_mask": "tgt_pad",
                 "memory_key_padding_mask": "tgt_pad", "outputs": ["out"]}]})J");
  const Diagnostic* error = nullptr;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.severity() == Severity::Error) {
      error = &diagnostic;
      break;
    }
  }
  REQUIRE(error != nullptr);
  REQUIRE_FALSE(error->fixes.empty());
  CHECK(error->fixes.front().description.find("memory_key_padding_mask=src_pad") != std::string::npos);
  CHECK(error->fixes.front().valid());
  // A float tensor of that shape is no padding mask; a mask of another length U, equal to S by
  // binding only, is not the source's.
  CHECK_FALSE(offers(*error, "=scale"));
  CHECK_FALSE(offers(*error, "=word_mask"));
}

TEST_CASE("a cache for the largest batch cut on its positions only: the batch is cut too, keys and values alike", "[fixes][repairs]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 3, "MB": 8},
      "tensors": {"q": ["B", 4, 6, 32], "cache_k": ["MB", 4, 100, 32], "cache_v": ["MB", 4, 100, 32]},
      "calls": [{"id": "rk", "op": "getitem", "input": "cache_k", "index": "[:, :, :40]", "outputs": ["k"]},
                {"id": "rv", "op": "getitem", "input": "cache_v", "index": "[:, :, :40]", "outputs": ["v"]},
                {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "outputs": ["o"]}]})");
  const Fix& fix = first_fix(report, "MHA207");
  CHECK(fix.description.find("k = cache_k[:B, :, :40] and v = cache_v[:B, :, :40]") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("GQA keys repeated before their transpose, values not: the value is repeated at the same place", "[fixes][repairs]") {
  Report report = test::check_text(R"({"version": 1,
      "tensors": {"q": ["B", 12, "T", 64], "k": ["B", "T", 3, 64], "v": ["B", "T", 3, 64]},
      "calls": [{"id": "rep", "op": "repeat_interleave", "input": "k", "repeats": 4, "dim": 2, "outputs": ["k4"]},
                {"id": "tk", "op": "transpose", "input": "k4", "dim0": 1, "dim1": 2, "outputs": ["kt"]},
                {"id": "tv", "op": "transpose", "input": "v", "dim0": 1, "dim1": 2, "outputs": ["vt"]},
                {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "kt", "value": "vt", "enable_gqa": false,
                 "outputs": ["o"]}]})");
  const Diagnostic* error = test::find(report, "MHA207");
  REQUIRE(error != nullptr);
  REQUIRE_FALSE(error->fixes.empty());
  const Fix& fix = error->fixes.front();
  CHECK(fix.description.find("v.repeat_interleave(4, dim=2)") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  CHECK(offers(*error, "enable_gqa=True"));  // offered, after
}

TEST_CASE("SDPA is_causal over keys of another sequence: dropped, over a cache made by cat: the bottom-right mask", "[sdpa][repairs]") {
  Report cross = test::check_text(R"({"version": 1, "dims": {"L": 12, "S": 30},
      "tensors": {"q": ["B", 4, "L", 32], "k": ["B", 4, "S", 32], "v": ["B", 4, "S", 32]},
      "calls": [{"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "is_causal": true}]})");
  const Fix& dropped = first_fix(cross, "MHA251");
  CHECK(dropped.description.find("drop is_causal") != std::string::npos);
  CHECK(dropped.description.find("bottom-right") == std::string::npos);
  CHECK(dropped.patch == nlohmann::json::parse(R"([{"op": "add", "path": "/calls/0/is_causal", "value": false}])"));
  Report cached = test::check_text(R"({"version": 1, "dims": {"L": 12, "S": 30},
      "tensors": {"q": ["B", 4, "L", 32], "past_k": ["B", 4, "S", 32], "k": ["B", 4, "L", 32], "v": ["B", 4, 42, 32]},
      "calls": [{"id": "c", "op": "cat", "tensors": ["past_k", "k"], "dim": 2, "outputs": ["keys"]},
                {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "keys", "value": "v", "is_causal": true}]})");
  CHECK(first_fix(cached, "MHA251").description.find("bottom-right") != std::string::npos);
}

TEST_CASE("masked_fill given a float 0/1 mask: the comparison follows how the mask was made", "[masked_fill][repairs]") {
  auto spec = [](const std::string& triangle) {
    return R"({"version": 1, "tensors": {"att": ["B", 4, "T", "T"], "ones": {"shape": ["T", "T"], "dtype": "float32"}},
        "calls": [{"id": "m", "op": ")" + triangle + R"(, "outputs": ["allowed"]},
                  {"id": "f", "op": "masked_fill", "input": "att", "mask": "allowed", "value": "-inf", "outputs": ["filled"]}]})";
  };
  // tril marks the positions each query may see: fill the others.
  Report tril = test::check_text(spec(R"(tril", "input": "ones")"));
  const Fix& keep = first_fix(tril, "MHA321");
  CHECK(keep.description.find("allowed == 0") != std::string::npos);
  CHECK(keep.valid());
  CHECK(keep.semantics == FixSemantics::Consistent);
  CHECK(test::find(tril, "MHA321")->fixes.back().semantics == FixSemantics::Suspect);  // != 0
  // triu(1) marks the future: fill it.
  Report triu = test::check_text(spec(R"(triu", "input": "ones", "diagonal": 1)"));
  CHECK(first_fix(triu, "MHA321").description.find("!= 0") != std::string::npos);
}

TEST_CASE("a shape of another rank asks for other values unless it adds ones, broadcasts or merges dims, and a cut says its index", "[fixes][repairs]") {
  Spec spec = parse_spec(test::document_from(R"J({"version": 1, "tensors": {"pad": {"shape": ["B", "T"], "dtype": "bool"},
      "k": ["B", 2, "T", 64], "wide": {"shape": ["L", "S+1"], "dtype": "bool"}, "causal": {"shape": ["L", "S"], "dtype": "bool"}},
      "calls": [{"id": "c", "op": "add", "input": "k", "other": "k"}]})J"));
  auto fix = [](const std::string& path, const nlohmann::json& shape) {
    Fix made;
    made.patch = nlohmann::json::array({{{"op", "replace"}, {"path", path}, {"value", shape}}});
    return made;
  };
  CHECK(asks_for_other_values(spec, fix("/tensors/pad/shape", {"B", "H", "T", "S"})));  // new sizes, not a view
  CHECK(asks_for_other_values(spec, fix("/tensors/pad/shape", {"B", 1, "S"})));
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/pad/shape", {"B", 1, 1, "T"})));   // a view
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/k", {"2*B", "T", 64})));            // heads merged into the batch
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/causal/shape", {"8*B", "L", "S"})));  // tiled per head
  // A column appended by hand, cut off again.
  CHECK_FALSE(asks_for_other_values(spec, fix("/tensors/wide/shape", {"L", "S"})));
  CHECK(cut_index(spec, fix("/tensors/wide/shape", {"L", "S"})) == std::optional<std::string>("[:, :S]"));
  CHECK_FALSE(cut_index(spec, fix("/tensors/pad/shape", {"B", "S"})).has_value());
}

TEST_CASE("an attn_mask extended by hand for add_bias_kv: the fix says the cut", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, add_bias_kv=True)"},
      "tensors": {"x": ["T", "B", 64], "m": {"shape": ["T", "T+1"], "dtype": "bool"}},
      "calls": [{"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "m", "outputs": ["y", "w"]}]})J");
  const Fix& fix = first_fix(report, "MHA050");
  CHECK(fix.description.find("m[:, :T]") != std::string::npos);
  CHECK(fix.valid());
}

TEST_CASE("keys joined on their features: the padding mask is not padded for them", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
      "tensors": {"q": ["B", 64, 64], "a": ["B", 64, 32], "b": ["B", 64, 32], "padding": {"shape": ["B", 32], "dtype": "bool"}},
      "calls": [{"id": "join", "op": "cat", "tensors": ["a", "b"], "dim": 2, "outputs": ["keys"]},
                {"id": "att", "module": "attn", "query": "q", "key": "keys", "value": "keys", "key_padding_mask": "padding",
                 "outputs": ["y", "w"]}]})J");
  const Diagnostic* error = test::find(report, "MHA052");
  REQUIRE(error != nullptr);
  CHECK_FALSE(offers(*error, "F.pad"));
}

TEST_CASE("scores over a cache joined before the new keys meet a mask for the new keys: the mask is padded in front", "[fixes][repairs]") {
  auto spec = [](const std::string& cached) {
    return R"({"version": 1, "tensors": {"q": ["B", 4, "T", 32], "past": ["B", 4, )" + cached + R"(, 32], "k": ["B", 4, "T", 32],
        "mask": {"shape": ["T", "T"], "dtype": "float32"}},
        "calls": [{"id": "ck", "op": "cat", "tensors": ["past", "k"], "dim": 2, "outputs": ["keys"]},
                  {"id": "kt", "op": "transpose", "input": "keys", "dim0": -2, "dim1": -1, "outputs": ["kt"]},
                  {"id": "sc", "op": "matmul", "input": "q", "other": "kt", "outputs": ["scores"]},
                  {"id": "am", "op": "add", "input": "scores", "other": "mask", "outputs": ["s2"]}]})";
  };
  // T == P+T holds only for an empty cache (P == 0), which no size is: the add fails (MHA305), as
  // PyTorch's does for every cache that holds a token.
  Report symbolic = test::check_text(spec(R"("P")"));
  CHECK(test::find(symbolic, "MHA080") == nullptr);
  const Fix& fix = first_fix(symbolic, "MHA305");
  CHECK(fix.description.find("F.pad(mask, (P, 0))") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  Report constant = test::check_text(spec("16"));
  const Diagnostic* condition = test::find(constant, "MHA080");
  const Diagnostic* error = test::find(constant, "MHA305");
  const Diagnostic* found = condition ? condition : error;
  REQUIRE(found != nullptr);
  REQUIRE_FALSE(found->fixes.empty());
  CHECK(found->fixes.front().description.find("F.pad(mask, (16, 0))") != std::string::npos);
}

TEST_CASE("a per-sample mask repeated for another head count than the layer's: the count is the layer's", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"enc": "nn.TransformerEncoderLayer(64, 2, batch_first=True)"},
      "tensors": {"x": ["B", "T", 64], "m": {"shape": ["B", "T", "T"], "dtype": "bool"}},
      "calls": [{"id": "r", "op": "repeat_interleave", "input": "m", "repeats": 4, "dim": 0, "outputs": ["mm"]},
                {"id": "e", "module": "enc", "src": "x", "src_mask": "mm", "outputs": ["h"]}]})J");
  const Fix& fix = first_fix(report, "MHA051");
  CHECK(fix.description.find("mm = m.repeat_interleave(2, dim=0)") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("the queries' positions added to the memory: the positions no call reads, of the memory's shape, are added instead", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"ca": "nn.MultiheadAttention(64, 4)"},
      "tensors": {"tgt": ["Q", "B", 64], "qpos": ["Q", "B", 64], "enc": ["N", "B", 64], "enc_pos": ["N", "B", 64], "unused": ["N", "B", 32]},
      "calls": [{"id": "q", "op": "add", "input": "tgt", "other": "qpos", "outputs": ["qq"]},
                {"id": "k", "op": "add", "input": "enc", "other": "qpos", "outputs": ["kk"]},
                {"id": "a", "module": "ca", "query": "qq", "key": "kk", "value": "enc", "outputs": ["y", "w"]}]})J");
  const Fix& fix = first_fix(report, "MHA080");
  CHECK(fix.description.find("enc + enc_pos") != std::string::npos);
  CHECK(fix.valid());
}

TEST_CASE("a padding mask from the unshifted ids while the input reads them sliced: the mask is sliced alike", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"tok": "nn.Embedding(100, 64)", "enc": "nn.TransformerEncoderLayer(64, 4, batch_first=True)"},
      "tensors": {"ids": {"shape": ["B", "T"], "dtype": "int64"}},
      "calls": [{"id": "p", "op": "eq", "input": "ids", "other": 0, "outputs": ["pad"]},
                {"id": "s", "op": "getitem", "input": "ids", "index": "[:, 1:]", "outputs": ["inp"]},
                {"id": "e", "module": "tok", "input": "inp", "outputs": ["emb"]},
                {"id": "enc", "module": "enc", "src": "emb", "src_key_padding_mask": "pad", "outputs": ["out"]}]})J");
  const Fix& fix = first_fix(report, "MHA052");
  CHECK(fix.description.find("src_key_padding_mask=pad[:, 1:]") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("an int64 padding mask inverted with bitwise_not: compared with 0 instead", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
      "tensors": {"x": ["B", "T", 64], "keep": {"shape": ["B", "T"], "dtype": "int64"}},
      "calls": [{"id": "n", "op": "bitwise_not", "input": "keep", "outputs": ["masked"]},
                {"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "key_padding_mask": "masked", "outputs": ["y", "w"]}]})J");
  const Fix& fix = first_fix(report, "MHA060");
  CHECK(fix.description.find("masked = keep == 0") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("a memory of another width into a decoder layer: projected by a new Linear, the decoder's width kept", "[fixes][repairs]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"dec": "nn.TransformerDecoderLayer(256, 4, batch_first=True)"},
      "tensors": {"tgt": ["B", "T", 256], "enc": ["B", "S", 1024]},
      "calls": [{"id": "d", "module": "dec", "tgt": "tgt", "memory": "enc", "outputs": ["out"]}]})J");
  const Fix& fix = first_fix(report, "MHA031");
  CHECK(fix.description.find("nn.Linear(1024, 256)") != std::string::npos);
  CHECK(fix.valid());
}

TEST_CASE("a map split into windows that do not divide it is padded up to a multiple of the window first", "[fixes][repairs]") {
  // SAM's window_partition: a 64 x 64 map cut into 14 x 14 windows pads to 70 x 70.
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 64, 64, 768]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", 4, 14, 4, 14, 768], "outputs": ["xw"]}]})");
  const Fix& fix = first_fix(report, "MHA302");
  CHECK(fix.description ==
        "pad x up to a multiple of the window before call \"v\": x = F.pad(x, (0, 0, 0, 6, 0, 6)) gives (B, 70, 70, 768), then "
        "view(B, 5, 14, 5, 14, 768)");
  CHECK(fix.valid());
  // Cropping to the 4 x 4 windows written keeps the view but drops positions: offered after, suspect.
  const Diagnostic* split = test::find(report, "MHA302");
  REQUIRE(split->fixes.size() >= 2);
  CHECK(split->fixes[1].description == "crop x to the whole windows call \"v\" counts: x = x[:, :56, :56]");
  CHECK(split->fixes[1].valid());
  CHECK(split->fixes[1].semantics == FixSemantics::Suspect);
  // The features split into heads no head size divides is a miscounted split, not a map to pad;
  // a dim the windows divide is no padding case either.
  Report heads = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 500]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", "T", 8, 64], "outputs": ["h"]}]})");
  const Diagnostic* miscounted = test::find(heads, "MHA302");
  REQUIRE(miscounted != nullptr);
  CHECK_FALSE(offers(*miscounted, "F.pad"));
  Report divided = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 56, 64, 768]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", 3, 14, 4, 14, 768], "outputs": ["xw"]}]})");
  const Diagnostic* wrong_count = test::find(divided, "MHA302");
  REQUIRE(wrong_count != nullptr);
  CHECK_FALSE(offers(*wrong_count, "F.pad"));
}

TEST_CASE("a sequence split into windows by view(B, -1, W, C) is padded to a multiple of the window", "[fixes][repairs]") {
  // The count of windows left to view: 300 tokens in windows of 64 pad to 320.
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 300, 64]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", -1, 64, 64], "outputs": ["xw"]}]})");
  const Fix& fix = first_fix(report, "MHA302");
  CHECK(fix.description == "pad x up to a multiple of the window before call \"v\": x = F.pad(x, (0, 0, 0, 20)) gives (B, 320, 64)");
  CHECK(fix.valid());
  // A last dim named as a sequence (channels first, (B, C, T)) is split into windows too.
  Report last = test::check_text(R"({"version": 1, "dims": {"T": 300}, "tensors": {"x": ["B", 32, "T"]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", 32, -1, 64], "outputs": ["xw"]}]})");
  const Fix& padded = first_fix(last, "MHA302");
  CHECK(padded.description.find("F.pad(x, (0, 20))") != std::string::npos);
  CHECK(padded.valid());
  // The batch merged with the windows, view(-1, W, C): 200 tokens pad to 256, for every batch size.
  Report merged = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 200, 32]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": [-1, 64, 32], "outputs": ["xw"]}]})");
  const Diagnostic* unsplit = merged.diagnostics.empty() ? nullptr : &merged.diagnostics.front();
  REQUIRE(unsplit != nullptr);
  REQUIRE_FALSE(unsplit->fixes.empty());
  CHECK(unsplit->fixes.front().description == "pad x up to a multiple of the window before call \"v\": x = F.pad(x, (0, 0, 0, 56)) gives (B, 256, 32)");
  CHECK(unsplit->fixes.front().valid());
}

namespace {
// A conv stem (B, C, L) -> (B, L', C) meeting a (200, 128) position table added whole.
Report stem_against_table(const std::string& conv, const std::string& length) {
  return test::check_text(R"({"version": 1, "modules": {"conv": ")" + conv + R"("},
      "tensors": {"x": ["B", 64, )" + length + R"(], "positions": [200, 128]},
      "calls": [{"id": "c", "module": "conv", "input": "x", "outputs": ["h"]},
                {"id": "a", "op": "gelu", "input": "h", "outputs": ["g"]},
                {"id": "t", "op": "transpose", "input": "g", "dim0": 1, "dim1": 2, "outputs": ["tokens"]},
                {"id": "p", "op": "add", "input": "tokens", "other": "positions", "outputs": ["y"]}]})");
}
}  // namespace

TEST_CASE("a conv stem that misses a table's length gets the padding, then the stride, that gives it exactly", "[fixes][repairs]") {
  // (400 - 5) // 2 + 1 = 198 positions; padding=2 gives (400 + 4 - 5) // 2 + 1 = 200, the table's rows.
  Report padding = stem_against_table("nn.Conv1d(64, 128, kernel_size=5, stride=2)", "400");
  const Fix& padded = first_fix(padding, "MHA305");
  CHECK(padded.description.rfind("construct conv with padding=2: ", 0) == 0);
  CHECK(padded.description.find("(400 + 2*2 - 1*(5-1) - 1) // 2 + 1 = 200") != std::string::npos);
  CHECK(padded.valid());
  CHECK(padded.semantics == FixSemantics::Consistent);
  // Slicing the table the model was built for comes after.
  const Diagnostic* broadcast = test::find(padding, "MHA305");
  CHECK(offers(*broadcast, "slice positions"));
  // No padding within the kernel's reach halves 400 positions: the stride does.
  Report stride = stem_against_table("nn.Conv1d(64, 128, kernel_size=3, padding=1)", "400");
  const Fix& strided = first_fix(stride, "MHA305");
  CHECK(strided.description.rfind("construct conv with stride=2: ", 0) == 0);
  CHECK(strided.valid());
}

TEST_CASE("an input shorter than the conv stem maps onto a table's length is padded where it enters", "[fixes][repairs]") {
  // Stride 2 maps 400 inputs to the 200 rows; 300 are padded by 100 (F.pad's last-dim pair).
  Report shorter = stem_against_table("nn.Conv1d(64, 128, kernel_size=3, stride=2, padding=1)", "300");
  const Fix& padded = first_fix(shorter, "MHA305");
  CHECK(padded.description.find("x = F.pad(x, (0, 100)) gives (B, 64, 400), before call \"c\"") != std::string::npos);
  CHECK(padded.valid());
  CHECK(padded.semantics == FixSemantics::Consistent);
  // A longer input is trimmed to the 400, as an offer.
  Report longer = stem_against_table("nn.Conv1d(64, 128, kernel_size=3, stride=2, padding=1)", "600");
  const Diagnostic* broadcast = test::find(longer, "MHA305");
  REQUIRE(broadcast != nullptr);
  CHECK(offers(*broadcast, "x = x[:, :, :400]"));
}

TEST_CASE("a table with rows for tokens a later cat joins is added after the cat, one for fewer before it", "[fixes][repairs]") {
  // The first fix of the spec's broadcast: the add moved, valid and consistent.
  auto moved_add = [](const std::string& spec, const std::string& description) {
    Report report = test::check_text(spec);
    const Fix& fix = first_fix(report, "MHA305");
    CHECK(fix.description == description);
    CHECK(fix.valid());
    CHECK(fix.semantics == FixSemantics::Consistent);
  };
  // Register tokens appended after the patches: the (1, 53, 256) table holds rows for 49 + 4.
  moved_add(R"({"version": 1, "tensors": {"x": ["B", 49, 256], "registers": [1, 4, 256], "pos": [1, 53, 256]},
      "calls": [{"id": "p", "op": "add", "input": "x", "other": "pos", "outputs": ["xp"]},
                {"id": "e", "op": "expand", "input": "registers", "size": ["B", -1, -1], "outputs": ["r"]},
                {"id": "j", "op": "cat", "tensors": ["xp", "r"], "dim": 1, "outputs": ["y"]},
                {"id": "n", "op": "layer_norm", "input": "y", "normalized_shape": [256], "outputs": ["z"]}]})",
            "move the add of call \"p\" after the cat of call \"j\" (cat first, then add pos): its 53 rows are the 49 of x and the 4 the cat joins "
            "on dim 1: y = torch.cat([x, r], dim=1) + pos");
  // A table for the patches only, added after a class token was joined: the add moves before the cat.
  moved_add(R"({"version": 1, "tensors": {"x": ["B", 49, 256], "cls": [1, 1, 256], "pos": [1, 49, 256]},
      "calls": [{"id": "e", "op": "expand", "input": "cls", "size": ["B", -1, -1], "outputs": ["c"]},
                {"id": "j", "op": "cat", "tensors": ["c", "x"], "dim": 1, "outputs": ["y"]},
                {"id": "p", "op": "add", "input": "y", "other": "pos", "outputs": ["yp"]}]})",
            "move the add of call \"p\" before the cat of call \"j\" (add pos first, then cat): its 49 rows are the 49 of x, not the 1 the cat "
            "joins on dim 1: yp = torch.cat([c, x + pos], dim=1)");
}

TEST_CASE("a conv's length is followed through a flatten of the dims after it and a Linear to the table it meets", "[fixes][repairs]") {
  // A Conv2d subsampling: 400 frames give 199 without padding on the time dim; padding=(1, 0)
  // gives 200 and keeps the 39 frequency bins the Linear(16 * 39) reads.
  Report report = test::check_text(R"json({"version": 1,
      "modules": {"conv": "nn.Conv2d(1, 16, kernel_size=3, stride=2)", "out": "nn.Linear(624, 64)"},
      "tensors": {"x": ["B", 1, 400, 80], "positions": [200, 64]},
      "calls": [{"id": "c", "module": "conv", "input": "x", "outputs": ["h"]},
                {"id": "t", "op": "transpose", "input": "h", "dim0": 1, "dim1": 2, "outputs": ["ht"]},
                {"id": "f", "op": "flatten", "input": "ht", "start_dim": 2, "outputs": ["flat"]},
                {"id": "l", "module": "out", "input": "flat", "outputs": ["tokens"]},
                {"id": "p", "op": "add", "input": "tokens", "other": "positions", "outputs": ["y"]}]})json");
  const Fix& fix = first_fix(report, "MHA305");
  CHECK(fix.description.rfind("construct conv with padding=(1, 0): ", 0) == 0);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("a mask given where another sequence's sizes are wanted, and given where it fits too: dropped there", "[fixes][repairs]") {
  // nn.Transformer's encoder mask (S, S) reused as memory_mask, which is (T, S).
  Report memory = test::check_text(R"J({"version": 1,
      "modules": {"tr": "nn.Transformer(d_model=256, nhead=8, num_encoder_layers=1, num_decoder_layers=1, batch_first=True)"},
      "tensors": {"src": ["B", "S", 256], "tgt": ["B", "T", 256], "src_mask": {"shape": ["S", "S"], "dtype": "bool"}},
      "calls": [{"id": "tr", "module": "tr", "src": "src", "tgt": "tgt", "src_mask": "src_mask", "memory_mask": "src_mask",
                 "outputs": ["out"]}]})J");
  const Fix& dropped = first_fix(memory, "MHA080");
  CHECK(dropped.description.find("memory_mask=None") != std::string::npos);
  CHECK(dropped.valid());
  CHECK(dropped.semantics != FixSemantics::Suspect);
  // The inputs' padding mask given to the latents' self-attention as well as to the cross-attention.
  Report latents = test::check_text(R"J({"version": 1, "modules": {"cross": "nn.MultiheadAttention(512, 8, batch_first=True)",
      "self": "nn.MultiheadAttention(512, 8, batch_first=True)"},
      "tensors": {"latents": ["B", 256, 512], "inputs": ["B", "M", 512], "input_pad": {"shape": ["B", "M"], "dtype": "bool"}},
      "calls": [{"id": "ca", "module": "cross", "query": "latents", "key": "inputs", "value": "inputs", "key_padding_mask": "input_pad",
                 "outputs": ["h", "w1"]},
                {"id": "sa", "module": "self", "query": "h", "key": "h", "value": "h", "key_padding_mask": "input_pad", "outputs": ["z", "w2"]}]})J");
  const Fix& unmasked = first_fix(latents, "MHA080");
  CHECK(unmasked.description.find("key_padding_mask=None") != std::string::npos);
  CHECK(unmasked.description.find("key_padding_mask of call \"ca\"") != std::string::npos);
  CHECK(unmasked.valid());
  // A mask given only here is not dropped: nothing says it is another sequence's.
  Report alone = test::check_text(R"J({"version": 1, "modules": {"self": "nn.MultiheadAttention(512, 8, batch_first=True)"},
      "tensors": {"latents": ["B", 256, 512], "input_pad": {"shape": ["B", "M"], "dtype": "bool"}},
      "calls": [{"id": "sa", "module": "self", "query": "latents", "key": "latents", "value": "latents", "key_padding_mask": "input_pad",
                 "outputs": ["z", "w2"]}]})J");
  REQUIRE(test::find(alone, "MHA080") != nullptr);
  CHECK_FALSE(offers(*test::find(alone, "MHA080"), "=None"));
}

TEST_CASE("GQA keys and values repeat_interleave'd by a count that does not give the query's heads: the count heads // kv_heads", "[fixes][repairs]") {
  auto spec = [](int repeats) {
    return fmt::format(R"J({{"version": 1, "tensors": {{"q": ["B", 32, "T", 128], "k": ["B", 8, "T", 128], "v": ["B", 8, "T", 128]}},
      "calls": [{{"id": "rk", "op": "repeat_interleave", "input": "k", "repeats": {0}, "dim": 1, "outputs": ["ks"]}},
                {{"id": "rv", "op": "repeat_interleave", "input": "v", "repeats": {0}, "dim": 1, "outputs": ["vs"]}},
                {{"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "ks", "value": "vs", "is_causal": true,
                  "outputs": ["o"]}}]}})J",
                       repeats);
  };
  // (A count that leaves a divisor of the query heads, 2, gets enable_gqa=True, which repeats the rest.)
  for (int repeats : {0, 3}) {
    Report report = test::check_text(spec(repeats));
    const Fix& fix = first_fix(report, "MHA207");
    CHECK(fix.description.find("repeats=4") != std::string::npos);
    CHECK(fix.semantics == FixSemantics::Consistent);
    CHECK(fix.valid());
  }
  CHECK(test::check_text(spec(4)).ok());
}

TEST_CASE("an image's pixel mask flattened as the mask of a stride-32 feature map's positions: every 32nd pixel taken first", "[fixes][repairs]") {
  auto spec = [](int height, int width) {
    return fmt::format(R"J({{"version": 1, "modules": {{"attn": "nn.MultiheadAttention(256, 8)"}},
      "tensors": {{"features": ["B", 256, 25, 34], "mask": {{"shape": ["B", {}, {}], "dtype": "bool"}}}},
      "calls": [{{"id": "mf", "op": "flatten", "input": "mask", "start_dim": 1, "outputs": ["kpm"]}},
                {{"id": "sf", "op": "flatten", "input": "features", "start_dim": 2, "outputs": ["f"]}},
                {{"id": "sp", "op": "permute", "input": "f", "dims": [2, 0, 1], "outputs": ["src"]}},
                {{"id": "att", "module": "attn", "query": "src", "key": "src", "value": "src", "key_padding_mask": "kpm",
                  "outputs": ["memory", "w"]}}]}})J",
                       height, width);
  };
  Report pixels = test::check_text(spec(800, 1088));
  const Fix& fix = first_fix(pixels, "MHA052");
  CHECK(fix.description.find("mask[:, ::32, ::32]") != std::string::npos);
  CHECK(fix.valid());
  // No stride divides both sides into 25 x 34 positions: nothing is guessed.
  Report odd = test::check_text(spec(801, 1088));
  REQUIRE(test::find(odd, "MHA052") != nullptr);
  CHECK_FALSE(offers(*test::find(odd, "MHA052"), "::"));
}

namespace {
// One decoding step with SDPA: keys and values read by `cut` from k_src/v_src of `length`
// positions, a bool keep mask of `columns` key columns given as is (or through `mask_cut`).
std::string sliced_keys_step(const std::string& cut, int length, int columns, const std::string& mask_cut = "") {
  std::string mask_call = mask_cut.empty() ? "" : fmt::format(R"({{"id": "mc", "op": "getitem", "input": "full_mask", "index": "{}", "outputs": ["keep_mask"]}},)", mask_cut);
  std::string mask_decl = mask_cut.empty() ? fmt::format(R"("keep_mask": {{"shape": ["B", 1, 1, {}], "dtype": "bool"}})", columns)
                                           : fmt::format(R"("full_mask": {{"shape": ["B", 1, 1, {}], "dtype": "bool"}})", columns);
  return fmt::format(R"({{"version": 1, "tensors": {{"q": ["B", 8, 1, 64], "k_src": ["B", 8, {0}, 64], "v_src": ["B", 8, {0}, 64], {1}}},
      "calls": [{2}
        {{"id": "rk", "op": "getitem", "input": "k_src", "index": "{3}", "outputs": ["k"]}},
        {{"id": "rv", "op": "getitem", "input": "v_src", "index": "{3}", "outputs": ["v"]}},
        {{"id": "attn", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "keep_mask"}}]}})",
                     length, mask_decl, mask_call, cut);
}
}  // namespace

TEST_CASE("a rolling window of the last 16 keys with a mask over the whole history: the mask's columns are cut alike", "[fixes][repairs]") {
  Report report = test::check_text(sliced_keys_step("[:, :, -16:]", 17, 17));
  const Fix& fix = first_fix(report, "MHA208");
  CHECK(fix.description.find("keep_mask[..., -16:]") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // The mask already cut to the window, or a window as long as the history: nothing to say.
  CHECK(test::check_text(sliced_keys_step("[:, :, -16:]", 17, 17, "[..., -16:]")).count(Severity::Warning) == 0);
  CHECK(test::check_text(sliced_keys_step("[:, :, -16:]", 17, 17, "[..., -16:]")).count(Severity::Error) == 0);
  CHECK(test::check_text(sliced_keys_step("[:, :, -16:]", 16, 16)).diagnostics.empty());
}

TEST_CASE("a preallocated cache read one short of the positions the mask counts: the reads reach them, keys and values alike", "[fixes][repairs]") {
  Report report = test::check_text(sliced_keys_step("[:, :, :9]", 256, 10));
  const Fix& fix = first_fix(report, "MHA208");
  CHECK(fix.description.find("k = k_src[:, :, :10]") != std::string::npos);
  CHECK(fix.description.find("v = v_src[:, :, :10]") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // Read up to the new token's position included: correct, silent.
  Report right = test::check_text(sliced_keys_step("[:, :, :10]", 256, 10));
  CHECK(right.count(Severity::Error) == 0);
  CHECK(right.count(Severity::Warning) == 0);
}

TEST_CASE("the conv length solver stops at sizes no conv stem has, without looping over them", "[fixes][repairs]") {
  // A dilation of 1e10 (a span of 1e10 positions) and strides whose product passes 1e12: each
  // check ends at once, with the broadcast error and no padding or stride solved.
  Report dilated = test::check_text(R"j({"version": 1, "modules": {"conv1": "nn.Conv1d(80, 384, kernel_size=2, dilation=10000000000, padding=5000000000)"},
      "tensors": {"mel": ["B", 80, 10], "positional_embedding": [11, 384]},
      "calls": [{"id": "c1", "module": "conv1", "input": "mel", "outputs": ["h1"]},
                {"id": "p", "op": "permute", "input": "h1", "dims": [0, 2, 1], "outputs": ["x"]},
                {"id": "pos", "op": "add", "input": "x", "other": "positional_embedding", "outputs": ["xp"]}]})j");
  REQUIRE(test::find(dilated, "MHA305") != nullptr);
  CHECK_FALSE(offers(*test::find(dilated, "MHA305"), "padding=5000000000"));
  Report strided = test::check_text(R"j({"version": 1, "modules": {"conv1": "nn.Conv1d(8, 8, kernel_size=1, stride=1000000)",
      "conv2": "nn.Conv1d(8, 16, kernel_size=1, stride=1000000)"}, "tensors": {"x": ["B", 8, 1050000000000], "table": [3, 16]},
      "calls": [{"id": "c1", "module": "conv1", "input": "x", "outputs": ["h1"]}, {"id": "c2", "module": "conv2", "input": "h1", "outputs": ["h2"]},
                {"id": "p", "op": "permute", "input": "h2", "dims": [0, 2, 1], "outputs": ["h"]},
                {"id": "pos", "op": "add", "input": "h", "other": "table", "outputs": ["out"]}]})j");
  CHECK(test::find(strided, "MHA305") != nullptr);
}

TEST_CASE("hand-written attention over a rolling window: the mask over the whole history is cut as the keys are", "[fixes][repairs]") {
  // scores = q @ k.transpose(-2, -1) with k = k_src[:, :, -16:], then masked_fill of a (B, 1, 1, 17) mask;
  // torch.bmm(q, k.transpose(1, 2)) on (B*H, T, D) puts the keys last alike.
  for (const char* spec : {R"({"version": 1, "tensors": {"q": ["B", 8, 1, 64], "k_src": ["B", 8, 17, 64], "v_src": ["B", 8, 17, 64],
      "pad": {"shape": ["B", 1, 1, 17], "dtype": "bool"}},
      "calls": [{"id": "rk", "op": "getitem", "input": "k_src", "index": "[:, :, -16:]", "outputs": ["k"]},
                {"id": "rv", "op": "getitem", "input": "v_src", "index": "[:, :, -16:]", "outputs": ["v"]},
                {"id": "kt", "op": "transpose", "input": "k", "dim0": -2, "dim1": -1, "outputs": ["kT"]},
                {"id": "qk", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]},
                {"id": "m", "op": "masked_fill", "input": "scores", "mask": "pad", "value": "-inf", "outputs": ["masked"]},
                {"id": "sm", "op": "softmax", "input": "masked", "dim": -1, "outputs": ["w"]},
                {"id": "o", "op": "matmul", "input": "w", "other": "v", "outputs": ["out"]}]})",
                           R"({"version": 1, "tensors": {"q": ["N", 1, 64], "k_src": ["N", 17, 64], "v_src": ["N", 17, 64],
      "pad": {"shape": ["N", 1, 17], "dtype": "bool"}},
      "calls": [{"id": "rk", "op": "getitem", "input": "k_src", "index": "[:, -16:]", "outputs": ["k"]},
                {"id": "rv", "op": "getitem", "input": "v_src", "index": "[:, -16:]", "outputs": ["v"]},
                {"id": "kt", "op": "transpose", "input": "k", "dim0": 1, "dim1": 2, "outputs": ["kT"]},
                {"id": "qk", "op": "bmm", "input": "q", "mat2": "kT", "outputs": ["scores"]},
                {"id": "m", "op": "masked_fill", "input": "scores", "mask": "pad", "value": "-inf", "outputs": ["masked"]},
                {"id": "sm", "op": "softmax", "input": "masked", "dim": -1, "outputs": ["w"]},
                {"id": "o", "op": "bmm", "input": "w", "mat2": "v", "outputs": ["out"]}]})"}) {
    INFO(spec);
    Report report = test::check_text(spec);
    const Diagnostic* error = test::find(report, "MHA270");
    if (error == nullptr) error = report.diagnostics.empty() ? nullptr : &report.diagnostics.front();
    REQUIRE(error != nullptr);
    REQUIRE_FALSE(error->fixes.empty());
    CHECK(error->fixes.front().description.find(": mask=pad[..., -16:]") != std::string::npos);
    CHECK(error->fixes.front().valid());
  }
}

TEST_CASE("hand-written attention over a preallocated cache read one short: keys and values read up to the mask's positions", "[fixes][repairs]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"q": [1, 4, 1, 32], "cache_k": [1, 4, 128, 32], "cache_v": [1, 4, 128, 32],
      "bias": [1, 1, 1, 6]},
      "calls": [{"id": "rk", "op": "getitem", "input": "cache_k", "index": "[:, :, :5]", "outputs": ["k"]},
                {"id": "rv", "op": "getitem", "input": "cache_v", "index": "[:, :, :5]", "outputs": ["v"]},
                {"id": "kt", "op": "transpose", "input": "k", "dim0": 2, "dim1": 3, "outputs": ["kT"]},
                {"id": "qk", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]},
                {"id": "s", "op": "div", "input": "scores", "other": 5.6, "outputs": ["scaled"]},
                {"id": "m", "op": "add", "input": "scaled", "other": "bias", "outputs": ["logits"]},
                {"id": "sm", "op": "softmax", "input": "logits", "dim": -1, "outputs": ["w"]},
                {"id": "o", "op": "matmul", "input": "w", "other": "v", "outputs": ["out"]}]})");
  REQUIRE_FALSE(report.diagnostics.empty());
  const Diagnostic& error = report.diagnostics.front();
  REQUIRE_FALSE(error.fixes.empty());
  CHECK(error.fixes.front().description.find("k = cache_k[:, :, :6] and v = cache_v[:, :, :6]") != std::string::npos);
  CHECK(error.fixes.front().valid());
}

namespace {
// A decoding step of `queries` new queries over keys and values joined by cat on dim 2 from a
// cache and a new piece of `cached` and `added` positions, with a (B, 1, 1, `columns`) additive
// mask, at SDPA or written by hand.
std::string joined_step(const std::string& cached, const std::string& added, int queries, const std::string& columns, bool manual) {
  std::string attention = manual ? R"({"id": "kt", "op": "transpose", "input": "key_all", "dim0": -2, "dim1": -1, "outputs": ["kT"]},
                {"id": "qk", "op": "matmul", "input": "q", "other": "kT", "outputs": ["scores"]},
                {"id": "m", "op": "add", "input": "scores", "other": "mem_mask", "outputs": ["logits"]},
                {"id": "sm", "op": "softmax", "input": "logits", "dim": -1, "outputs": ["w"]},
                {"id": "o", "op": "matmul", "input": "w", "other": "value_all", "outputs": ["out"]})"
                                 : R"({"id": "att", "op": "scaled_dot_product_attention", "query": "q", "key": "key_all", "value": "value_all",
                 "attn_mask": "mem_mask"})";
  return fmt::format(R"({{"version": 1, "tensors": {{"q": [2, 6, {0}, 64], "cache_k": [2, 6, "{1}", 64], "cache_v": [2, 6, "{1}", 64],
      "k_new": [2, 6, "{2}", 64], "v_new": [2, 6, "{2}", 64], "mem_mask": [2, 1, 1, "{3}"]}},
      "calls": [{{"id": "ck", "op": "cat", "tensors": ["cache_k", "k_new"], "dim": 2, "outputs": ["key_all"]}},
                {{"id": "cv", "op": "cat", "tensors": ["cache_v", "v_new"], "dim": 2, "outputs": ["value_all"]}},
                {4}]}})",
                     queries, cached, added, columns, attention);
}
}  // namespace

TEST_CASE("cross-attention keys joined with the same encoder states again: the cat is dropped, the cache kept", "[fixes][repairs]") {
  // Whisper-like decoder step: 1500 encoder frames cached, the same 1500 projected again and joined.
  Report report = test::check_text(joined_step("M", "M", 1, "M", false));
  const Fix& fix = first_fix(report, "MHA208");
  CHECK(fix.description.find("drop the cat") != std::string::npos);
  CHECK(fix.description.find("key=cache_k, value=cache_v") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // Written by hand, the values' cat is found by its pieces' lengths.
  Report manual = test::check_text(joined_step("M", "M", 1, "M", true));
  REQUIRE_FALSE(manual.diagnostics.empty());
  REQUIRE_FALSE(manual.diagnostics.front().fixes.empty());
  const Fix& manual_fix = manual.diagnostics.front().fixes.front();
  CHECK(manual_fix.description.find("key_all = cache_k, value_all = cache_v") != std::string::npos);
  CHECK(manual_fix.valid());
  // Self-attention's cache: the new piece is the queries' own positions; nothing is dropped.
  Report self = test::check_text(joined_step("P", "T", 3, "T", false));
  for (const Diagnostic& diagnostic : self.diagnostics) {
    for (const Fix& offered : diagnostic.fixes) CHECK(offered.description.find("drop the cat") == std::string::npos);
  }
}

TEST_CASE("keys grown by a cat and values not: the values joined alike with the unread tensor of the other piece's shape", "[fixes]") {
  const std::string spec = R"({"tensors": {"q": ["B", 4, "T", 32], "k": ["B", 4, "T", 32], "v": ["B", 4, "T", 32],
      "memory_k": ["B", 4, 8, 32], "memory_v": ["B", 4, 8, 32]}, "modules": {},
    "calls": [{"id": "grow", "op": "cat", "tensors": ["memory_k", "k"], "dim": -2, "outputs": ["keys"]},
              {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "keys", "value": "v"}]})";
  Report report = test::check_text(spec);
  const Fix& fix = first_fix(report, "MHA206");
  CHECK(fix.description.find("torch.cat((memory_v, v), dim=-2)") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics != FixSemantics::Suspect);
  // Without a tensor to join the values with, no such fix.
  std::string alone = spec;
  alone.replace(alone.find(R"(, "memory_v": ["B", 4, 8, 32])"), std::string(R"(, "memory_v": ["B", 4, 8, 32])").size(), "");
  Report unjoined = test::check_text(alone);
  const Diagnostic* lengths = test::find(unjoined, "MHA206");
  REQUIRE(lengths != nullptr);
  CHECK_FALSE(offers(*lengths, "torch.cat(("));
}
