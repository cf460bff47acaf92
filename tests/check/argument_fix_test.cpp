// Searched fixes that rewrite an upstream call's own dim arguments (fix_search.cpp,
// argument_value_candidates), ahead of a call inserted after it or a module rebuilt to fit.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "mhacheck/render.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

// The first fix of the first diagnostic `code`, which must be verified, valid and not suspect.
const Fix& first_sound_fix(const Report& report, const std::string& code) {
  const Diagnostic* diagnostic = test::find(report, code);
  REQUIRE(diagnostic != nullptr);
  REQUIRE(!diagnostic->fixes.empty());
  const Fix& fix = diagnostic->fixes.front();
  CHECK(fix.verified);
  CHECK(fix.valid());
  CHECK(fix.semantics != FixSemantics::Suspect);
  return fix;
}

}  // namespace

TEST_CASE("argument fixes: k.transpose(1, 2) on 4-D keys becomes transpose(-2, -1) at that call", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"q": ["N", 4, "L", 32], "k": ["N", 4, "L", 32]},
    "calls": [{"id": "t", "op": "transpose", "input": "k", "dim0": 1, "dim1": 2, "outputs": ["kt"]},
              {"id": "s", "op": "matmul", "input": "q", "other": "kt", "outputs": ["scores"]},
              {"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["w"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA307");
  CHECK(fix.description == "change the transpose of call \"t\" to transpose(-2, -1): kt = k.transpose(-2, -1)");
  // The patch rewrites the call's own arguments; no call is inserted.
  REQUIRE(fix.patch.size() == 2);
  CHECK(fix.patch[0]["op"] == "replace");
  CHECK(fix.patch[0]["path"] == "/calls/0/dim0");
  CHECK(fix.patch[0]["value"] == -2);
  CHECK(fix.patch[1]["path"] == "/calls/0/dim1");
  CHECK(fix.patch[1]["value"] == -1);
}

TEST_CASE("argument fixes: a mean over the features before a Linear is moved to the tokens, not the Linear rebuilt", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "modules": {"head": "nn.Linear(384, 10)"}, "tensors": {"h": ["B", 65, 384]},
    "calls": [{"id": "pool", "op": "mean", "input": "h", "dim": -1, "outputs": ["pooled"]},
              {"id": "cls", "module": "head", "input": "pooled", "outputs": ["logits"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA404");
  CHECK(fix.description == "change the mean of call \"pool\" to mean(dim=1): pooled = h.mean(dim=1)");
  const Diagnostic* features = test::find(report, "MHA404");
  // in_features=65 would only make the reduction over the features fit; a mean over the batch B
  // mixes its entries: both are offered, labelled suspect.
  auto labelled = [&](const std::string& start) {
    auto found = std::find_if(features->fixes.begin(), features->fixes.end(),
                              [&](const Fix& f) { return f.description.rfind(start, 0) == 0; });
    REQUIRE(found != features->fixes.end());
    return found->semantics;
  };
  CHECK(labelled("construct with in_features=65") == FixSemantics::Suspect);
  CHECK(labelled("change the mean of call \"pool\" to mean(dim=0)") == FixSemantics::Suspect);
}

TEST_CASE("argument fixes: pieces joined on dim 0 that together fit the Linear are joined on the features", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "modules": {"proj": "nn.Linear(96, 96)"},
    "tensors": {"a": ["B", "T", 32], "b": ["B", "T", 32], "c": ["B", "T", 32]},
    "calls": [{"id": "j", "op": "cat", "tensors": ["a", "b", "c"], "dim": 0, "outputs": ["heads"]},
              {"id": "o", "module": "proj", "input": "heads", "outputs": ["y"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA404");
  CHECK(fix.description == "join the tensors of cat call \"j\" on dim 2: torch.cat([...], dim=2)");
  const Diagnostic* features = test::find(report, "MHA404");
  auto rebuilt = std::find_if(features->fixes.begin(), features->fixes.end(),
                              [](const Fix& f) { return f.description == "construct with in_features=32"; });
  REQUIRE(rebuilt != features->fixes.end());
  CHECK(rebuilt->semantics == FixSemantics::Suspect);
}

TEST_CASE("argument fixes: a single key/value head unsqueezed at dim 2 is unsqueezed at dim 1, key and value together", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", 4, "L", 32], "k1": ["B", "S", 32], "v1": ["B", "S", 32]},
    "calls": [{"id": "uk", "op": "unsqueeze", "input": "k1", "dim": 2, "outputs": ["k"]},
              {"id": "uv", "op": "unsqueeze", "input": "v1", "dim": 2, "outputs": ["v"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "outputs": ["o"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA209");
  CHECK(fix.description == "change the unsqueeze of calls \"uk\" and \"uv\" to unsqueeze(1): k = k1.unsqueeze(1); v = v1.unsqueeze(1)");
  CHECK(fix.semantics == FixSemantics::Consistent);
  // unsqueeze(0) also runs at these sizes, but only while B == 4 (batch against heads), and it
  // puts the batch in the key's heads slot (1, B, S, 32), which MHA209 reports itself: it repairs
  // nothing and is not offered (offered, it would be suspect).
  const Diagnostic* role = test::find(report, "MHA209");
  REQUIRE(role != nullptr);
  auto front = std::find_if(role->fixes.begin(), role->fixes.end(),
                            [](const Fix& f) { return f.description.find("unsqueeze(0)") != std::string::npos; });
  CHECK((front == role->fixes.end() || front->semantics == FixSemantics::Suspect));
}

TEST_CASE("argument fixes: a batch-first permute of positions added to seq-first features gets the seq-first order", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "modules": {"attn": "nn.MultiheadAttention(128, 4)"},
    "tensors": {"feat": ["B", 128, "P"], "pos": ["B", 128, "P"]},
    "calls": [{"id": "fs", "op": "permute", "input": "feat", "dims": [2, 0, 1], "outputs": ["src"]},
              {"id": "fp", "op": "permute", "input": "pos", "dims": [0, 2, 1], "outputs": ["pe"]},
              {"id": "add", "op": "add", "input": "src", "other": "pe", "outputs": ["q"]},
              {"id": "a", "module": "attn", "query": "q", "key": "q", "value": "src", "outputs": ["y", "w"]}]})j");
  REQUIRE(report.count(Severity::Error) == 0);
  REQUIRE(report.count(Severity::Warning) >= 1);
  const Diagnostic* first = nullptr;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.severity() == Severity::Warning && !first) first = &diagnostic;
  }
  REQUIRE(first != nullptr);
  REQUIRE(!first->fixes.empty());
  CHECK(first->fixes.front().description == "change the permute of call \"fp\" to permute(2, 0, 1): pe = pos.permute(2, 0, 1)");
  CHECK(first->fixes.front().valid());
  CHECK(first->fixes.front().semantics == FixSemantics::Consistent);
}

TEST_CASE("argument fixes: a transpose whose undoing verifies is dropped, not transposed back", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "dims": {"L": 5, "S": 40},
    "tensors": {"w": ["B", "L", "S"], "mem": ["B", "S", 64]},
    "calls": [{"id": "t", "op": "transpose", "input": "w", "dim0": 1, "dim1": 2, "outputs": ["wt"]},
              {"id": "m", "op": "bmm", "input": "wt", "mat2": "mem", "outputs": ["pooled"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA368");
  CHECK(fix.description == "drop the transpose(1, 2) of call \"t\", reading w in its place: wt = w (not w.transpose(1, 2))");
}

TEST_CASE("argument fixes: keys permuted to match a query left (B, T, H, D) are suspect, the query is transposed", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "dims": {"T": 10}, "tensors": {"q": ["B", "T", 4, 16], "k1": ["B", "T", 4, 16]},
    "calls": [{"id": "pk", "op": "permute", "input": "k1", "dims": [0, 2, 3, 1], "outputs": ["kt"]},
              {"id": "s", "op": "matmul", "input": "q", "other": "kt", "outputs": ["scores"]},
              {"id": "p", "op": "softmax", "input": "scores", "dim": -1, "outputs": ["w"]}]})j");
  const Diagnostic* error = test::find(report, "MHA308");
  REQUIRE(error != nullptr);
  REQUIRE(!error->fixes.empty());
  CHECK(error->fixes.front().description.find("change the permute") == std::string::npos);
  // permute(0, 1, 3, 2) gives k (B, T, 16, 4): PyTorch runs it, as (B, T, 4, 4) scores per position.
  auto matched = std::find_if(error->fixes.begin(), error->fixes.end(),
                              [](const Fix& f) { return f.description.rfind("change the permute of call \"pk\" to permute(0, 1, 3, 2)", 0) == 0; });
  REQUIRE(matched != error->fixes.end());
  CHECK(matched->valid());
  CHECK(matched->semantics == FixSemantics::Suspect);
  CHECK(matched->semantics_note == "T (a sequence length) would leave the matrix dims of the product of call \"s\" for a batch slot");
}

TEST_CASE("argument fixes: a permute changed so that q, k, v index tokens instead of the split 3 is suspect", "[fixes][argument-fixes]") {
  // A fused projection cut (B, T, 3, H, D) and permuted with heads and tokens swapped; q, k, v are
  // taken by select and by index. Changing the permute so that dim 0 holds T would hand out three
  // tokens as q, k and v: the permute that keeps the 3 in front and moves heads before tokens is first.
  for (const std::string& take : {std::string(R"j("op": "select", "dim": 0, "index": )j"), std::string(R"j("op": "getitem", "index": )j")}) {
    const bool by_index = take.find("getitem") != std::string::npos;
    auto pick = [&](int k) { return by_index ? "\"[" + std::to_string(k) + "]\"" : std::to_string(k); };
    Report report = test::check_text(R"j({"version": 1, "dims": {"B": 2, "T": 50}, "modules": {"proj": "nn.Linear(96, 288)"},
      "tensors": {"x": ["B", "T", 96]},
      "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["y"]},
                {"id": "r", "op": "reshape", "input": "y", "shape": ["B", "T", 3, 6, 16], "outputs": ["y5"]},
                {"id": "pm", "op": "permute", "input": "y5", "dims": [2, 0, 1, 3, 4], "outputs": ["parts"]},
                {"id": "q", "input": "parts", )j" + take + pick(0) + R"j(, "outputs": ["q"]},
                {"id": "k", "input": "parts", )j" + take + pick(1) + R"j(, "outputs": ["k"]},
                {"id": "v", "input": "parts", )j" + take + pick(2) + R"j(, "outputs": ["v"]},
                {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v"}]})j");
    const Diagnostic* role = test::find(report, "MHA209");
    REQUIRE(role != nullptr);
    REQUIRE(!role->fixes.empty());
    CHECK(role->fixes.front().description.rfind("change the permute of call \"pm\" to permute(2, 0, 3, 1, 4)", 0) == 0);
    auto tokens = std::find_if(role->fixes.begin(), role->fixes.end(),
                               [](const Fix& f) { return f.description.rfind("change the permute of call \"pm\" to permute(1, 0, 2, 3, 4)", 0) == 0; });
    REQUIRE(tokens != role->fixes.end());
    CHECK(tokens->semantics == FixSemantics::Suspect);
    CHECK(tokens->semantics_note ==
          "its readers take 3 entries apart from dim 0 of \"parts\", the 3 split for them; the change puts T there, so they would take 3 entries of it instead");
  }
}

TEST_CASE("argument fixes: a view that puts a bias's features on the wrong dim has its -1 moved", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"x": ["N", 100, 64], "b": [64]},
    "calls": [{"id": "v", "op": "view", "input": "b", "shape": [1, -1, 1], "outputs": ["bv"]},
              {"id": "a", "op": "add", "input": "x", "other": "bv", "outputs": ["y"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA305");
  CHECK(fix.description == "change the view of call \"v\" to view(1, 1, -1): bv = b.view(1, 1, -1)");
  REQUIRE(fix.patch.size() == 1);
  CHECK(fix.patch[0]["path"] == "/calls/0/shape");
  // Transposing x to meet the bias would hand every later call x in another layout.
  const Diagnostic* broadcast = test::find(report, "MHA305");
  for (const Fix& other : broadcast->fixes) {
    if (other.description.rfind("transpose x", 0) == 0) CHECK(other.semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("argument fixes: keys and values viewed with the query's length are viewed with their own, together", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"q0": ["N", "L", 256], "k0": ["N", "S", 256], "v0": ["N", "S", 256]},
    "calls": [{"id": "vq", "op": "view", "input": "q0", "shape": ["N", "L", 4, 64], "outputs": ["q1"]},
              {"id": "vk", "op": "view", "input": "k0", "shape": ["N", "L", 4, 64], "outputs": ["k1"]},
              {"id": "vv", "op": "view", "input": "v0", "shape": ["N", "L", 4, 64], "outputs": ["v1"]},
              {"id": "tq", "op": "transpose", "input": "q1", "dim0": 1, "dim1": 2, "outputs": ["q"]},
              {"id": "tk", "op": "transpose", "input": "k1", "dim0": 1, "dim1": 2, "outputs": ["k"]},
              {"id": "tv", "op": "transpose", "input": "v1", "dim0": 1, "dim1": 2, "outputs": ["v"]},
              {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "outputs": ["o"]}]})j");
  // valid only if S == L (MHA080): k0 is contiguous, so its layout is no reason to refuse the view
  CHECK(test::find(report, "MHA370") == nullptr);
  const Fix& fix = first_sound_fix(report, "MHA080");
  CHECK(fix.description ==
        "change the view of calls \"vk\" and \"vv\" to view(N, -1, 4, 64): k1 = k0.view(N, -1, 4, 64); v1 = v0.view(N, -1, 4, 64)");
  // The query's view, written for an input of its own length, is left as it is.
  for (const nlohmann::json& op : fix.patch) CHECK(op["path"].get<std::string>().rfind("/calls/0/", 0) != 0);
}

namespace {

// A stack of `layers` hidden states squeezed on dim 0, unsqueezed as one query per batch entry,
// projected and added to (N, L, 128) keys.
Report squeezed_hidden(int layers) {
  return test::check_text(fmt::format(R"j({{"version": 1, "modules": {{"W": "nn.Linear(128, 128)"}},
    "tensors": {{"hidden": [{}, "N", 128], "keys": ["N", "L", 128]}},
    "calls": [{{"id": "sq", "op": "squeeze", "input": "hidden", "dim": 0, "outputs": ["h"]}},
              {{"id": "u", "op": "unsqueeze", "input": "h", "dim": 1, "outputs": ["q"]}},
              {{"id": "w", "module": "W", "input": "q", "outputs": ["wq"]}},
              {{"id": "s", "op": "add", "input": "wq", "other": "keys", "outputs": ["e"]}}]}})j",
                                      layers));
}

}  // namespace

TEST_CASE("argument fixes: a squeeze of a stack of layers that changes nothing becomes the last layer's entry", "[fixes][argument-fixes]") {
  Report report = squeezed_hidden(3);
  const Diagnostic* diagnostic = test::find(report, "MHA083");
  REQUIRE(diagnostic != nullptr);
  REQUIRE(!diagnostic->fixes.empty());
  const Fix& fix = diagnostic->fixes.front();
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  CHECK(fix.description == "change the squeeze of call \"sq\" to [-1]: h = hidden[-1]");
  REQUIRE(fix.patch.size() == 1);
  CHECK(fix.patch[0]["op"] == "replace");
  CHECK(fix.patch[0]["value"]["op"] == "getitem");
  CHECK(fix.patch[0]["value"]["index"] == "[-1]");
  CHECK(!fix.patch[0]["value"].contains("dim"));
}

TEST_CASE("argument fixes: the same squeeze of a single layer's hidden state does what it says: no finding", "[fixes][argument-fixes]") {
  Report report = squeezed_hidden(1);
  CHECK(report.count(Severity::Error) == 0);
  CHECK(report.count(Severity::Warning) == 0);
}

TEST_CASE("argument fixes: a channels-last map pooled over its last two dims is pooled over H and W, not the Linear rebuilt", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "modules": {"head": "nn.Linear(768, 1000)"}, "tensors": {"x": ["B", 7, 7, 768]},
    "calls": [{"id": "pool", "op": "mean", "input": "x", "dim": [-2, -1], "outputs": ["pooled"]},
              {"id": "cls", "module": "head", "input": "pooled", "outputs": ["logits"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA404");
  CHECK(fix.description == "change the mean of call \"pool\" to mean(dim=[1, 2]): pooled = x.mean(dim=[1, 2])");
  REQUIRE(fix.patch.size() == 1);
  CHECK(fix.patch[0]["path"] == "/calls/0/dim");
  CHECK(fix.patch[0]["value"] == nlohmann::json::array({1, 2}));
  // in_features=7 only makes the pool over the channels fit.
  const Diagnostic* features = test::find(report, "MHA404");
  auto rebuilt = std::find_if(features->fixes.begin(), features->fixes.end(),
                              [](const Fix& f) { return f.description == "construct with in_features=7"; });
  REQUIRE(rebuilt != features->fixes.end());
  CHECK(rebuilt->semantics == FixSemantics::Suspect);
}

TEST_CASE("argument fixes: a channels-last pool read by a LayerNorm is pooled over H and W", "[fixes][argument-fixes]") {
  Report report = test::check_text(R"j({"version": 1, "modules": {"norm": "nn.LayerNorm(768)"}, "tensors": {"x": ["B", 7, 7, 768]},
    "calls": [{"id": "pool", "op": "amax", "input": "x", "dim": [2, 3], "outputs": ["pooled"]},
              {"id": "n", "module": "norm", "input": "pooled", "outputs": ["h"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA403");
  CHECK(fix.description == "change the amax of call \"pool\" to amax(dim=[1, 2]): pooled = x.amax(dim=[1, 2])");
}

TEST_CASE("argument fixes: two unsqueezes written alike for an outer sum change one argument, the first operand's dims first",
          "[fixes][argument-fixes]") {
  // RNN-T joiner style: every frame meets every label, enc[:, :, None] + dec[:, None]; both
  // unsqueezed at one dim, the add pairs frame t with label t and holds only while T == U.
  auto joiner = [](int enc_dim, int dec_dim) {
    return fmt::format(R"j({{"version": 1, "tensors": {{"enc": ["B", "T", 256], "dec": ["B", "U", 256]}},
      "calls": [{{"id": "a", "op": "unsqueeze", "input": "enc", "dim": {}, "outputs": ["e4"]}},
                {{"id": "b", "op": "unsqueeze", "input": "dec", "dim": {}, "outputs": ["d4"]}},
                {{"id": "j", "op": "add", "input": "e4", "other": "d4", "outputs": ["joint"]}},
                {{"id": "act", "op": "tanh", "input": "joint", "outputs": ["h"]}}]}})j",
                       enc_dim, dec_dim);
  };
  // The copied argument is changed in place, ahead of a transpose inserted after the call; of
  // the two calls, the one that leaves (B, T, U, 256).
  Report at_two = test::check_text(joiner(2, 2));
  const Fix& second_changed = first_sound_fix(at_two, "MHA080");
  CHECK(second_changed.description == "change the unsqueeze of call \"b\" to unsqueeze(1): d4 = dec.unsqueeze(1)");
  REQUIRE(second_changed.outputs.size() == 1);
  CHECK(tuple_str(second_changed.outputs.front().shape) == "(B, T, U, 256)");
  Report at_one = test::check_text(joiner(1, 1));
  const Fix& first_changed = first_sound_fix(at_one, "MHA080");
  CHECK(first_changed.description == "change the unsqueeze of call \"a\" to unsqueeze(2): e4 = enc.unsqueeze(2)");
  // Neither change is labelled as breaking the likeness of the two calls.
  const Diagnostic* condition = test::find(at_two, "MHA080");
  REQUIRE(condition != nullptr);
  for (const Fix& fix : condition->fixes) {
    if (fix.description.rfind("change the unsqueeze", 0) == 0) CHECK(fix.semantics == FixSemantics::Consistent);
  }
}

TEST_CASE("argument fixes: the None of an index that only inserts a dim is moved like an unsqueeze's dim", "[fixes][argument-fixes]") {
  // The outer sum written with indexing, both operands given the None at dim 2.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"enc": ["B", "T", 256], "dec": ["B", "U", 256]},
    "calls": [{"id": "a", "op": "getitem", "input": "enc", "index": "[:, :, None]", "outputs": ["e4"]},
              {"id": "b", "op": "getitem", "input": "dec", "index": "[:, :, None]", "outputs": ["d4"]},
              {"id": "j", "op": "add", "input": "e4", "other": "d4", "outputs": ["joint"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA080");
  CHECK(fix.description == "change the getitem of call \"b\" to [:, None]: d4 = dec[:, None]");
  REQUIRE(fix.patch.size() == 1);
  CHECK(fix.patch[0]["path"] == "/calls/1/index");
  CHECK(fix.patch[0]["value"] == "[:, None]");
}

TEST_CASE("argument fixes: F.pad's pairs for the features moved to the sequence when a Linear reads the features", "[fixes][argument-fixes]") {
  // F.pad reads its pairs from the last dim backwards: (0, 24) widens (B, 1000, 768) to 792
  // features; (0, 0, 0, 24) pads the sequence to 1024, which the window view then divides.
  Report report = test::check_text(R"j({"version": 1, "modules": {"query": "nn.Linear(768, 768)"}, "tensors": {"x": ["B", 1000, 768]},
    "calls": [{"id": "pad", "op": "pad", "input": "x", "pad": [0, 24], "outputs": ["padded"]},
              {"id": "q", "module": "query", "input": "padded", "outputs": ["q"]},
              {"id": "win", "op": "view", "input": "q", "shape": ["B", -1, 512, 768], "outputs": ["chunks"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA404");
  CHECK(fix.description == "change the pad of call \"pad\" to (0, 0, 0, 24): padded = F.pad(x, (0, 0, 0, 24))");
  CHECK(fix.semantics == FixSemantics::Consistent);
  REQUIRE(fix.patch.size() == 1);
  CHECK(fix.patch[0]["path"] == "/calls/0/pad");
  CHECK(fix.patch[0]["value"] == nlohmann::json::array({0, 0, 0, 24}));
}

TEST_CASE("argument fixes: a chunk of the channels becomes a chunk of the batch written as two pieces joined", "[fixes][argument-fixes]") {
  // Classifier-free guidance: the prediction for the doubled batch (2*B) split on the channels
  // keeps every batch entry in both halves, and the update of (B, 4, 64, 64) latents fails.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"pred": ["2*B", 4, 64, 64], "latents": ["B", 4, 64, 64]},
    "calls": [{"id": "ch", "op": "chunk", "input": "pred", "chunks": 2, "dim": 1, "outputs": ["uncond", "text"]},
              {"id": "d", "op": "sub", "input": "text", "other": "uncond", "outputs": ["delta"]},
              {"id": "g", "op": "add", "input": "uncond", "other": "delta", "outputs": ["eps"]},
              {"id": "upd", "op": "sub", "input": "latents", "other": "eps", "outputs": ["next"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA305");
  CHECK(fix.description == "change the chunk of call \"ch\" to chunk(2, dim=0): uncond, text = pred.chunk(2, dim=0)");
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("argument fixes: nn.MultiheadAttention's outputs unpacked (weights, output) are named the other way round", "[fixes][argument-fixes]") {
  // The (B, L, S) weights added to the residual where the (B, L, E) output is meant.
  Report report = test::check_text(R"j({"version": 1, "modules": {"cross": "nn.MultiheadAttention(256, 8, batch_first=True)"},
    "tensors": {"x": ["B", 32, 256], "memory": ["B", 50, 256]},
    "calls": [{"id": "ca", "module": "cross", "query": "x", "key": "memory", "value": "memory", "outputs": ["weights", "output"]},
              {"id": "r", "op": "add", "input": "x", "other": "output", "outputs": ["h"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA305");
  CHECK(fix.description == "unpack the outputs of call \"ca\" in the order cross returns them: output, weights = cross(...)");
  REQUIRE(fix.patch.size() == 1);
  CHECK(fix.patch[0]["path"] == "/calls/0/outputs");
  CHECK(fix.patch[0]["value"] == nlohmann::json::array({"output", "weights"}));
}

TEST_CASE("argument fixes: a chunk that fails on the tokens it cuts is moved to the Linear's features", "[fixes][argument-fixes]") {
  // GEGLU: proj(x) (B, S, 2*1024) chunked on dim 1, the sequence, whose halves the check cannot
  // write; the chunk's own dim is the argument to change.
  Report report = test::check_text(R"j({"version": 1, "modules": {"proj": "nn.Linear(256, 2048)", "out": "nn.Linear(1024, 256)"},
    "tensors": {"x": ["B", "S", 256]},
    "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["h"]},
              {"id": "ch", "op": "chunk", "input": "h", "chunks": 2, "dim": 1, "outputs": ["a", "gate"]},
              {"id": "g", "op": "gelu", "input": "gate", "outputs": ["gg"]},
              {"id": "m", "op": "mul", "input": "a", "other": "gg", "outputs": ["hid"]},
              {"id": "o", "module": "out", "input": "hid", "outputs": ["y"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA303");
  CHECK(fix.description == "change the chunk of call \"ch\" to chunk(2, dim=2): a, gate = h.chunk(2, dim=2)");
  CHECK(fix.remaining_errors.empty());
}

TEST_CASE("argument fixes: an outer product of two vectors made the other way round exchanges their inserted dims", "[fixes][argument-fixes]") {
  // Rotary angles pos.unsqueeze(0) * inv_freq.unsqueeze(1) are (32, T); the Linear reads 32
  // features, so the (T, 32) table was meant: each operand's dim inserted at the other place.
  Report report = test::check_text(R"j({"version": 1, "modules": {"proj": "nn.Linear(32, 64)"},
    "tensors": {"pos": ["T"], "inv_freq": [32]},
    "calls": [{"id": "a", "op": "unsqueeze", "input": "pos", "dim": 0, "outputs": ["p2"]},
              {"id": "b", "op": "unsqueeze", "input": "inv_freq", "dim": 1, "outputs": ["f2"]},
              {"id": "m", "op": "mul", "input": "p2", "other": "f2", "outputs": ["angles"]},
              {"id": "l", "module": "proj", "input": "angles", "outputs": ["e"]}]})j");
  const Diagnostic* condition = test::find(report, "MHA080");
  REQUIRE(condition != nullptr);
  REQUIRE(!condition->fixes.empty());
  const Fix& fix = condition->fixes.front();
  CHECK(fix.verified);
  CHECK(fix.semantics != FixSemantics::Suspect);
  CHECK_THAT(fix.description, Catch::Contains("p2 = pos.unsqueeze(1); f2 = inv_freq.unsqueeze(0)"));
  REQUIRE(fix.outputs.size() == 1);
  CHECK(tuple_str(fix.outputs.front().shape) == "(T, 64)");
}

TEST_CASE("argument fixes: pieces joined on the wrong dim of each sample are joined on the nearest other dim, not the batch", "[fixes][argument-fixes]") {
  // Two (B, 24, 3) windows of a series meant to follow each other in time: cat on dim 2 gives 6
  // features; on dim 0 they would become 2*B samples, on dim 1 one longer series each.
  Report report = test::check_text(R"j({"version": 1, "modules": {"embed": "nn.Linear(3, 64)"},
    "tensors": {"past": ["B", 24, 3], "future": ["B", 24, 3]},
    "calls": [{"id": "c", "op": "cat", "tensors": ["past", "future"], "dim": -1, "outputs": ["series"]},
              {"id": "e", "module": "embed", "input": "series", "outputs": ["tokens"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA404");
  CHECK(fix.description == "join the tensors of cat call \"c\" on dim 1: torch.cat([...], dim=1)");
  REQUIRE(fix.outputs.size() == 1);
  CHECK(tuple_str(fix.outputs.front().shape) == "(B, 48, 64)");
}

TEST_CASE("argument fixes: channels carried to the last dim of a 4-D map keep the other dims in their order", "[fixes][argument-fixes]") {
  // A channels-first (B, 32, 8, 16) map into a Linear over its channels: permute(0, 2, 3, 1)
  // gives (B, 8, 16, 32); transpose(1, 3) would give (B, 16, 8, 32), height and width exchanged.
  Report report = test::check_text(R"j({"version": 1, "modules": {"pw": "nn.Linear(32, 128)"},
    "tensors": {"fmap": ["B", 32, 8, 16]},
    "calls": [{"id": "l", "module": "pw", "input": "fmap", "outputs": ["y"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA404");
  CHECK(fix.description == "permute fmap to (B, 8, 16, 32): fmap.permute(0, 2, 3, 1)");
  REQUIRE(fix.outputs.size() == 1);
  CHECK(tuple_str(fix.outputs.front().shape) == "(B, 8, 16, 128)");
}

TEST_CASE("argument fixes: an einsum's output letters reordered ('i,j->ji' of an outer product to 'i,j->ij')", "[fixes][argument-fixes]") {
  // Sinusoid position features: positions (T,) times frequencies (16,) as an outer product,
  // written (16, T), sin, then added to the tokens (B, T, 16). The table broadcasts only while
  // T == 16; its rows must be the positions.
  Report report = test::check_text(R"j({"version": 1,
    "tensors": {"pos": ["T"], "freq": [16], "x": ["B", "T", 16]},
    "calls": [{"id": "o", "op": "einsum", "equation": "i,j->ji", "operands": ["pos", "freq"], "outputs": ["angles"]},
              {"id": "s", "op": "sin", "input": "angles", "outputs": ["table"]},
              {"id": "a", "op": "add", "input": "x", "other": "table", "outputs": ["y"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA080");
  CHECK(fix.description == "change the einsum of call \"o\" to 'i,j->ij': angles = torch.einsum('i,j->ij', pos, freq)");
  REQUIRE(fix.patch.size() == 1);
  CHECK(fix.patch[0]["path"] == "/calls/0/equation");
  CHECK(fix.patch[0]["value"] == "i,j->ij");
}

TEST_CASE("argument fixes: x op x.transpose(a, b) over dims of two sizes becomes a transpose of two dims of one size", "[fixes][argument-fixes]") {
  // A (B, 24, T, T) map made antisymmetric with transpose(1, 2), which swaps the channels with the rows.
  Report report = test::check_text(R"j({"version": 1, "dims": {"B": 3, "T": 12}, "tensors": {"maps": ["B", 24, "T", "T"]},
    "calls": [{"id": "t", "op": "transpose", "input": "maps", "dim0": 1, "dim1": 2, "outputs": ["mirrored"]},
              {"id": "d", "op": "sub", "input": "maps", "other": "mirrored", "outputs": ["anti"]}]})j");
  const Fix& fix = first_sound_fix(report, "MHA305");
  CHECK(fix.description.find("transpose(-2, -1)") != std::string::npos);
  CHECK(fix.semantics == FixSemantics::Consistent);
  // A fix that undoes the transpose (mirrored moved back) pairs each entry with itself.
  const Diagnostic* broadcast = test::find(report, "MHA305");
  REQUIRE(broadcast != nullptr);
  for (const Fix& other : broadcast->fixes) {
    if (other.description.find("mirrored = mirrored.transpose(1, 2)") != std::string::npos) CHECK(other.semantics == FixSemantics::Suspect);
  }
}
