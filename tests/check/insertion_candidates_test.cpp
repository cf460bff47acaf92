#include <catch2/catch.hpp>

#include "insertion_candidates.hpp"
#include "mhacheck/spec.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {
// The first fix of the first `code` diagnostic of `spec` contains `text`, PyTorch accepts the whole
// patched graph, and the roles do not make it suspect.
void check_first(const std::string& spec, const std::string& code, const std::string& text) {
  Report report = test::check_text(spec);
  const Diagnostic* diagnostic = test::find(report, code);
  REQUIRE(diagnostic != nullptr);
  REQUIRE_FALSE(diagnostic->fixes.empty());
  const Fix& fix = diagnostic->fixes.front();
  INFO(fix.description);
  CHECK(fix.description.find(text) != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics != FixSemantics::Suspect);
}
}  // namespace

TEST_CASE("a 5-D clip into a per-frame Conv2d: the clip's batch and frames merged", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "modules": {"stem": "nn.Conv2d(3, 64, 3, padding=1)"}, "tensors": {"clip": ["B", 8, 3, 32, 32]},
      "calls": [{"id": "c", "module": "stem", "input": "clip", "outputs": ["f"]}]})J",
              "MHA354", "clip.flatten(0, 1)");
}

TEST_CASE("a channel-last map into nn.MultiheadAttention: H and W merged into the sequence, for query, key and value", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "modules": {"mha": "nn.MultiheadAttention(256, 8, batch_first=True)"},
      "tensors": {"fmap": ["B", 14, 14, 256]},
      "calls": [{"id": "a", "module": "mha", "query": "fmap", "key": "fmap", "value": "fmap", "outputs": ["o", "w"]}]})J",
              "MHA020", "fmap.flatten(1, 2)");
}

TEST_CASE("a ViT's 197 tokens reshaped as a 14x14 grid: the class token dropped", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "tensors": {"x": ["B", 197, 768]},
      "calls": [{"id": "r", "op": "reshape", "input": "x", "shape": ["B", 14, 14, 768], "outputs": ["grid"]}]})J",
              "MHA302", "x[:, 1:]");
}

TEST_CASE("a 4-D key with a head dim of 1 into a 3-D einsum: squeezed, not flattened", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "tensors": {"q": ["B", "T", 64], "k": ["B", 1, "S", 64]},
      "calls": [{"id": "e", "op": "einsum", "equation": "btd,bsd->bts", "operands": ["q", "k"], "outputs": ["s"]}]})J",
              "MHA363", "k.squeeze(1)");
}

TEST_CASE("squeeze() at batch 1 drops the batch too: the squeeze names its dim", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "dims": {"B": 1}, "modules": {"score": "nn.Linear(256, 1)"}, "tensors": {"h": ["B", "T", 256]},
      "calls": [{"id": "l", "module": "score", "input": "h", "outputs": ["s"]},
                {"id": "sq", "op": "squeeze", "input": "s", "outputs": ["s2"]},
                {"id": "sm", "op": "softmax", "input": "s2", "dim": 1, "outputs": ["a"]}]})J",
              "MHA300", "s.squeeze(-1)");
}

TEST_CASE("(B, T, 80) features into Conv2d(1, ...): a channel dim inserted", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "modules": {"conv": "nn.Conv2d(1, 32, 3)"}, "tensors": {"feats": ["B", "T", 80]},
      "calls": [{"id": "c", "module": "conv", "input": "feats", "outputs": ["h"]}]})J",
              "MHA083", "feats.unsqueeze(1)");
}

TEST_CASE("the module is the intent: data laid out otherwise is permuted, not the Linear resized", "[fixes][insertion]") {
  const std::string spec = R"J({"version": 1, "dims": {"B": 4}, "modules": {"emb": "nn.Linear(7, 128)"}, "tensors": {"x": ["B", 7, 96]},
      "calls": [{"id": "e", "module": "emb", "input": "x", "outputs": ["h"]}]})J";
  check_first(spec, "MHA404", "x.transpose(1, 2)");
  // The resize and the cut are still offered, after it.
  Report report = test::check_text(spec);
  const Diagnostic* diagnostic = test::find(report, "MHA404");
  REQUIRE(diagnostic != nullptr);
  CHECK(std::any_of(diagnostic->fixes.begin(), diagnostic->fixes.end(),
                    [](const Fix& fix) { return fix.description.find("in_features=96") != std::string::npos; }));
}

TEST_CASE("an SDPA output (B, H, T, D) into the output projection Linear(H*D): the heads merged back", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "dims": {"B": 2, "T": 10}, "modules": {"proj": "nn.Linear(512, 512)"},
      "tensors": {"q": ["B", 8, "T", 64], "k": ["B", 8, "T", 64], "v": ["B", 8, "T", 64]},
      "calls": [{"id": "s", "op": "scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "outputs": ["y"]},
                {"id": "p", "module": "proj", "input": "y", "outputs": ["out"]}]})J",
              "MHA404", "y.transpose(1, 2).reshape(");
}

TEST_CASE("a layer resized away from a size its input data holds works against the module", "[fixes][insertion]") {
  Spec spec = parse_spec(test::document_from(R"J({"version": 1, "modules": {"emb": "nn.Linear(7, 128)", "norm": "nn.LayerNorm(768)"},
      "tensors": {"x": ["B", 7, 96], "q": ["B", 12, 197, 64]},
      "calls": [{"id": "e", "module": "emb", "input": "x"}, {"id": "n", "module": "norm", "input": "q"}]})J"));
  auto fix = [](const std::string& path, const nlohmann::json& value) {
    Fix made;
    made.patch = nlohmann::json::array({{{"op", "replace"}, {"path", path}, {"value", value}}});
    return made;
  };
  CHECK(against_module(spec, fix("/modules/emb", "nn.Linear(96, 128)")));  // x holds 7
  CHECK(against_module(spec, fix("/tensors/x", {"B", 7, 7})));             // x cut, while it holds 7
  CHECK_FALSE(against_module(spec, fix("/tensors/x", {"B", 96, 7})));      // x transposed: the same dims
  // q, written for the norm, holds 768 only as heads times head size apart: the norm is the slip.
  CHECK_FALSE(against_module(spec, fix("/modules/norm", "nn.LayerNorm(64)")));
  CHECK_FALSE(against_module(spec, fix("/modules/emb", "nn.Linear(7, 256)")));  // out_features only
  // A module written as JSON options, replaced whole, and a patch that removes: read, no crash.
  Spec options = parse_spec(test::document_from(R"J({"version": 1, "modules": {"emb": {"type": "Linear", "in_features": 7, "out_features": 128}},
      "tensors": {"x": ["B", 7, 96]}, "calls": [{"id": "e", "module": "emb", "input": "x"}]})J"));
  CHECK(against_module(options, fix("/modules/emb", {{"type", "Linear"}, {"in_features", 96}, {"out_features", 128}})));
  Fix removed;
  removed.patch = nlohmann::json::array({{{"op", "remove"}, {"path", "/modules/emb"}}});
  CHECK_FALSE(against_module(options, removed));
}

TEST_CASE("channel gates (B, C) into a (B, C, H, W) map: the gates given the dims they lack where their dims meet the map's", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "modules": {"fc": "nn.Linear(48, 48)"}, "tensors": {"fmap": ["B", 48, 16, 16], "pooled": ["B", 48]},
      "calls": [{"id": "g", "module": "fc", "input": "pooled", "outputs": ["gates"]},
                {"id": "m", "op": "mul", "input": "fmap", "other": "gates", "outputs": ["out"]}]})J",
              "MHA305", "gates[:, :, None, None]");
}

TEST_CASE("ids kept (B, T, 1) into an Embedding: its stray dim of 1 squeezed rather than matched on the other operand", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "modules": {"emb": "nn.Embedding(500, 64)"},
      "tensors": {"ids": {"shape": ["B", "T", 1], "dtype": "int64"}, "tokens": ["B", "T", 64]},
      "calls": [{"id": "e", "module": "emb", "input": "ids", "outputs": ["pos"]},
                {"id": "a", "op": "add", "input": "tokens", "other": "pos", "outputs": ["x"]}]})J",
              "MHA083", "pos.squeeze(2)");
}

TEST_CASE("a (B, E) scale and shift applied to (B, T, E) tokens: both indexed in one fix, not the tokens transposed", "[fixes][insertion]") {
  check_first(R"J({"version": 1, "tensors": {"tokens": ["B", "T", 192], "scale": ["B", 192], "shift": ["B", 192]},
      "calls": [{"id": "m", "op": "mul", "input": "tokens", "other": "scale", "outputs": ["scaled"]},
                {"id": "a", "op": "add", "input": "scaled", "other": "shift", "outputs": ["out"]}]})J",
              "MHA083", "scale[:, None]; the same for shift[:, None] before call \"a\"");
}

TEST_CASE("a padding bias (B, T) added to (B, H, T, T) scores: it meets the keys, the last dim, as broadcasting aligns", "[fixes][insertion]") {
  // An additive mask made from attention_mask == 0: the key axis, bias[:, None, None], not the queries.
  check_first(R"J({"version": 1, "dims": {"B": 4, "T": 32}, "tensors": {"attention_mask": {"shape": ["B", "T"], "dtype": "int64"},
      "scores": ["B", 8, "T", "T"]},
      "calls": [{"id": "e", "op": "eq", "input": "attention_mask", "other": 0, "outputs": ["pad"]},
                {"id": "c", "op": "float", "input": "pad", "outputs": ["padf"]},
                {"id": "m", "op": "mul", "input": "padf", "other": -10000.0, "outputs": ["bias"]},
                {"id": "f", "op": "add", "input": "scores", "other": "bias"}]})J",
              "MHA305", "bias[:, None, None]");
}
