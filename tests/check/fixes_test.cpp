#include <catch2/catch.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "mhacheck/render.hpp"
#include "call_context.hpp"
#include "fix_search.hpp"
#include "mhacheck/spec.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {
std::string example(const std::string& name) {
  return test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/examples/" + name);
}

// Applies a fix's patch to the spec text and checks the result from scratch.
Report apply_fix(const std::string& spec_text, const Fix& fix) {
  JsonDocument document = test::document_from(spec_text);
  document.value = document.value.patch(fix.patch);
  document.value_from_source = false;  // the text no longer holds the value
  return check_spec(parse_spec(std::move(document)));
}
}  // namespace

TEST_CASE("seed example 1: both fixes are verified and make the call valid", "[fixes]") {
  std::string spec = example("seed_example1.json");
  Report report = test::check_text(spec);
  const Diagnostic* mismatch = test::find(report, "MHA040");
  REQUIRE(mismatch != nullptr);
  REQUIRE(mismatch->fixes.size() == 2);
  CHECK(mismatch->fixes[0].description == "construct with batch_first=True");
  CHECK(fix_result_text(mismatch->fixes[0]) == "valid: attn_output (32, 1, 512), attn_output_weights (32, 1, 10)");
  CHECK(mismatch->fixes[1].description == "transpose query, key and value with .transpose(0, 1)");
  for (const Fix& fix : mismatch->fixes) {
    CHECK(fix.verified);
    CHECK(apply_fix(spec, fix).ok());
  }
  // The module is a constructor string, so the patch rewrites the string.
  CHECK(mismatch->fixes[0].patch[0]["value"] == "nn.MultiheadAttention(512, 8, batch_first=True)");
}

TEST_CASE("seed example 2: per-error fixes, and one combined fix that makes it valid", "[fixes]") {
  std::string spec = example("seed_example2.json");
  Report report = test::check_text(spec);
  CHECK(report.count(Severity::Error) == 2);
  const Diagnostic* features = test::find(report, "MHA031");
  REQUIRE(features != nullptr);
  REQUIRE(features->fixes.size() >= 2);
  const Fix& combined = features->fixes[0];
  CHECK_THAT(combined.description, Catch::StartsWith("all together:"));
  CHECK(fix_result_text(combined) == "valid: attn_output (32, 1, 512), attn_output_weights (32, 1, 10)");
  CHECK(apply_fix(spec, combined).ok());
  CHECK(combined.patch[0]["value"] == "nn.MultiheadAttention(512, 8, kdim=256, vdim=256, batch_first=True)");
  const Fix& single = features->fixes[1];
  CHECK(single.description == "construct with kdim=256, vdim=256");
  CHECK(fix_result_text(single) == "removes this error; 1 other error remains");
  Report partial = apply_fix(spec, single);
  CHECK(partial.count(Severity::Error) == 1);
  CHECK(test::find(partial, "MHA040") != nullptr);
}

TEST_CASE("fixes that do not remove their error are not offered", "[fixes]") {
  // The query's features are 500: neither a permutation nor embed_dim=500 (not divisible by 8) helps.
  Report report = test::check_text(R"({"module": {"type": "MultiheadAttention", "embed_dim": 512, "num_heads": 8},
    "query": [4, 2, 500], "key": [4, 2, 512], "value": [4, 2, 512]})");
  const Diagnostic* features = test::find(report, "MHA030");
  REQUIRE(features != nullptr);
  CHECK(features->fixes.empty());
  // A per-batch 3-D mask gets the repeat_interleave fix, verified.
  Report mask = test::check_text(R"({"module": {"type": "MultiheadAttention", "embed_dim": 512, "num_heads": 8},
    "query": [4, 2, 512], "key": [6, 2, 512], "value": [6, 2, 512], "attn_mask": [2, 4, 6]})");
  const Diagnostic* shape = test::find(mask, "MHA051");
  REQUIRE(shape != nullptr);
  REQUIRE_FALSE(shape->fixes.empty());
  CHECK(shape->fixes[0].description == "repeat the mask per head: attn_mask.repeat_interleave(8, dim=0)");
  CHECK(shape->fixes[0].patch[0]["value"] == nlohmann::json{16, 4, 6});
}

TEST_CASE("heads that do not divide embed_dim: the nearest that do", "[fixes]") {
  Report report = test::check_text(R"({"module": {"type": "MultiheadAttention", "embed_dim": 512, "num_heads": 6},
    "query": [4, 2, 512], "key": [4, 2, 512], "value": [4, 2, 512]})");
  const Diagnostic* heads = test::find(report, "MHA011");
  REQUIRE(heads != nullptr);
  REQUIRE(heads->fixes.size() == 2);
  CHECK(heads->fixes[0].description == "use num_heads=4 (head_dim 128)");
  CHECK(heads->fixes[1].description == "use num_heads=8 (head_dim 64)");
}

TEST_CASE("constructor sizes given in each other's place: exchanged first, before a value is changed", "[fixes]") {
  // nn.TransformerEncoderLayer(d_model, dim_feedforward, nhead): 2048 heads of a 512-wide model.
  // num_heads=512 would keep the 8-wide feed-forward; the exchange gives every declared size.
  Report report = test::check_text(R"j({"module": "d_model = 512\nnhead = 8\ndim_feedforward = 2048\nlayer = nn.TransformerEncoderLayer(d_model, dim_feedforward, nhead, batch_first=True)",
    "src": ["B", "T", 512]})j");
  const Diagnostic* heads = test::find(report, "MHA011");
  REQUIRE(heads != nullptr);
  REQUIRE(heads->fixes.size() >= 2);
  const Fix& first = heads->fixes.front();
  CHECK(first.description ==
        "swap nhead and dim_feedforward, given in each other's place: nhead=8, dim_feedforward=2048 "
        "(nn.TransformerEncoderLayer(512, 8, dim_feedforward=2048, batch_first=True))");
  CHECK(first.verified);
  CHECK(first.valid());
  CHECK(first.semantics == FixSemantics::Consistent);
  CHECK(heads->fixes[1].description == "use num_heads=512 (head_dim 1)");
}

TEST_CASE("constructor sizes: MultiheadAttention(8, 512) exchanged when the input holds 512 features", "[fixes]") {
  Report report = test::check_text(R"j({"module": "nn.MultiheadAttention(8, 512)", "query": [4, 2, 512], "key": [4, 2, 512], "value": [4, 2, 512]})j");
  const Diagnostic* heads = test::find(report, "MHA011");
  REQUIRE(heads != nullptr);
  REQUIRE(!heads->fixes.empty());
  CHECK(heads->fixes.front().description ==
        "swap embed_dim and num_heads, given in each other's place: embed_dim=512, num_heads=8 (nn.MultiheadAttention(512, 8))");
  CHECK(heads->fixes.front().valid());
}

TEST_CASE("constructor sizes: no exchange offered when it leaves an error", "[fixes]") {
  // 6 heads of 512: exchanged, embed_dim 6 would not take the 512-wide input.
  Report report = test::check_text(R"j({"module": "nn.MultiheadAttention(512, 6)", "query": [4, 2, 512], "key": [4, 2, 512], "value": [4, 2, 512]})j");
  const Diagnostic* heads = test::find(report, "MHA011");
  REQUIRE(heads != nullptr);
  REQUIRE(!heads->fixes.empty());
  CHECK(heads->fixes.front().description.rfind("swap", 0) != 0);
}

namespace {
// SDPA on a (B, T, H, D) view, no transpose between: a layout no rule can patch, since the
// tensor is a call's output. `extra_calls` are appended to the graph.
std::string view_without_transpose(const std::string& extra_calls = "") {
  return R"json({"version": 1, "dims": {"B": 2, "T": 10, "H": 8, "D": 64},
    "modules": {"qkv": "nn.Linear(512, 512)"}, "tensors": {"x": ["B", "T", 512]},
    "calls": [{"id": "q", "module": "qkv", "input": "x", "outputs": ["q"]},
              {"id": "v", "op": "view", "input": "q", "shape": ["B", "T", "H", "D"], "outputs": ["qh"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "qh", "key": "qh", "value": "qh", "outputs": ["o"]})json" +
         extra_calls + "]}";
}
}  // namespace

TEST_CASE("searched fix: a transpose inserted where the (B, T, H, D) layout entered the graph", "[fixes]") {
  std::string spec = view_without_transpose();
  Report report = test::check_text(spec);
  const Diagnostic* layout = test::find(report, "MHA209");
  REQUIRE(layout != nullptr);
  REQUIRE(layout->fixes.size() == 1);  // of the 6 transposes of qh, only (1, 2) removes MHA209
  const Fix& fix = layout->fixes.front();
  CHECK(fix.description == "transpose qh where it is made, after call \"v\", to (B, H, T, D): qh = qh.transpose(1, 2)");
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // The view's output is renamed and a transpose after it gives the name back.
  REQUIRE(fix.patch.size() == 2);
  CHECK(fix.patch[0]["path"] == "/calls/1/outputs/0");
  CHECK(fix.patch[1]["path"] == "/calls/2");
  CHECK(fix.patch[1]["value"]["op"] == "transpose");
  Report patched = apply_fix(spec, fix);
  CHECK(patched.count(Severity::Warning) == 0);
  REQUIRE(fix.outputs.size() == 1);
  CHECK(tuple_str(fix.outputs[0].shape) == "(2, 8, 10, 64)");
}

TEST_CASE("searched fix: one that breaks a role further down the graph is suspect", "[fixes]") {
  // qh is also merged back to (B, T, H*D): transposed where it is made, that reshape then mixes T with H.
  std::string spec = view_without_transpose(R"(, {"id": "m", "op": "reshape", "input": "qh", "shape": ["B", "T", 512]})");
  Report report = test::check_text(spec);
  const Diagnostic* layout = test::find(report, "MHA209");
  REQUIRE(layout != nullptr);
  REQUIRE_FALSE(layout->fixes.empty());
  const Fix& fix = layout->fixes.front();
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Suspect);
  CHECK(fix.semantics_note.find("MHA312 at call \"m\"") != std::string::npos);
}

TEST_CASE("searched candidates: options, then arguments together, then each alone, bounded", "[fixes]") {
  std::string text = R"({"op": "F.scaled_dot_product_attention", "query": [2, 10, 8, 64], "key": [2, 12, 8, 64],
                         "value": [2, 12, 8, 64]})";
  Spec spec = parse_spec(test::document_from(text));
  Report report = check_spec(spec, CheckOptions{false});
  std::vector<Fix> all = search_candidates(spec, report, spec.calls.front().id, 1000);
  // enable_gqa; 6 pairs of dims for the three together, for each two of them, and for each alone.
  REQUIRE(all.size() == 1 + 4 * 6 + 3 * 6);
  CHECK(all[0].description == "pass enable_gqa=True (PyTorch 2.5+)");
  CHECK(all[1].description == "transpose query, key and value together: .transpose(0, 1) each, where each is made");
  CHECK(all[1].patch.size() == 3);
  CHECK(all[7].description == "transpose key and value together: .transpose(0, 1) each, where each is made");
  CHECK(all[25].description == "transpose query to (10, 2, 8, 64): query.transpose(0, 1)");
  CHECK(all[25].patch == nlohmann::json::parse(R"([{"op": "replace", "path": "/query", "value": [10, 2, 8, 64]}])"));
  std::vector<Fix> bounded = search_candidates(spec, report, spec.calls.front().id, 5);
  REQUIRE(bounded.size() == 5);
  for (std::size_t i = 0; i < bounded.size(); ++i) CHECK(bounded[i].description == all[i].description);
}

TEST_CASE("searched fix: only the arguments laid out wrong are transposed", "[fixes]") {
  // query is (B, H, T, D); key and value (B, S, H, D): the rule's fix (all three) is dropped. The
  // product is valid only if H == S (MHA083), the same cause as MHA209, its note.
  Report report = test::check_text(R"({"op": "F.scaled_dot_product_attention", "query": ["B", "H", "T", "D"],
                                       "key": ["B", "S", "H", "D"], "value": ["B", "S", "H", "D"]})");
  CHECK(test::find(report, "MHA209") == nullptr);
  const Diagnostic* layout = test::find(report, "MHA083");
  REQUIRE(layout != nullptr);
  CHECK(std::any_of(layout->notes.begin(), layout->notes.end(), [](const std::string& note) { return note.starts_with("same cause: MHA209 "); }));
  REQUIRE_FALSE(layout->fixes.empty());
  const Fix& fix = layout->fixes.front();
  CHECK(fix.description == "transpose key and value together: .transpose(1, 2) each, where each is made");
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
}

TEST_CASE("searched fix: the output transposed back when later calls read its layout", "[fixes]") {
  // The heads are merged back by reshape(B, T, H*D): transposing only the input would mix T with H there.
  std::string spec = view_without_transpose(R"(, {"id": "m", "op": "reshape", "input": "o", "shape": ["B", "T", 512]})");
  Report report = test::check_text(spec);
  const Diagnostic* layout = test::find(report, "MHA209");
  REQUIRE(layout != nullptr);
  REQUIRE(layout->fixes.size() >= 2);
  const Fix& fix = layout->fixes.front();
  CHECK(fix.description == "transpose qh where it is made, after call \"v\", to (B, H, T, D): qh = qh.transpose(1, 2); "
                           "and o back after call \"a\": o = o.transpose(1, 2)");
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  CHECK(apply_fix(spec, fix).count(Severity::Warning) == 0);
  // Without the transpose back: valid for PyTorch, but the reshape then mixes T with H.
  CHECK(layout->fixes[1].semantics == FixSemantics::Suspect);
}

TEST_CASE("combined fixes that each rewrite the constructor string keep both changes", "[fixes]") {
  // kdim=64 from the first error's fix and vdim=64 from the second's: not the second's kdim=128.
  Report report = test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(256, 8, kdim=128, vdim=128)"},
    "tensors": {"q": [16, 2, 256], "k": [20, 2, 64], "v": [20, 2, 64]},
    "calls": [{"id": "a", "module": "attn", "query": "q", "key": "k", "value": "v"}]})json");
  const Diagnostic* key = test::find(report, "MHA031");
  REQUIRE(key != nullptr);
  REQUIRE_FALSE(key->fixes.empty());
  const Fix& combined = key->fixes.front();
  CHECK(combined.description == "all together: construct with kdim=64; and construct with vdim=64");
  CHECK(combined.valid());
  REQUIRE(combined.patch.size() == 1);
  CHECK(combined.patch[0]["value"] == "nn.MultiheadAttention(256, 8, kdim=64, vdim=64)");
}

TEST_CASE("searched fix: an inline tensor of a later call is patched before a call is inserted", "[fixes]") {
  // qh is made by call 1; key and value are written inline in call 2: inserting the transpose at
  // /calls/2 must not come before replacing /calls/2/key/shape.
  std::string spec = R"json({"version": 1, "dims": {"B": 2, "T": 10, "H": 8, "D": 64},
    "modules": {"qkv": "nn.Linear(512, 512)"}, "tensors": {"x": ["B", "T", 512]},
    "calls": [{"id": "q", "module": "qkv", "input": "x", "outputs": ["q"]},
              {"id": "v", "op": "view", "input": "q", "shape": ["B", "T", "H", "D"], "outputs": ["qh"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "qh", "key": {"shape": ["B", "T", "H", "D"]},
               "value": {"shape": ["B", "T", "H", "D"]}}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* layout = test::find(report, "MHA209");
  REQUIRE(layout != nullptr);
  REQUIRE_FALSE(layout->fixes.empty());
  const Fix& fix = layout->fixes.front();
  CHECK(fix.description == "transpose qh, key and value together: .transpose(1, 2) each, where each is made");
  CHECK(fix.valid());
  REQUIRE(fix.patch.size() == 4);
  CHECK(fix.patch[0]["path"] == "/calls/2/key/shape");
  CHECK(fix.patch[1]["path"] == "/calls/2/value/shape");
  CHECK(fix.patch[3]["path"] == "/calls/2");
  Report patched = apply_fix(spec, fix);
  CHECK(patched.ok());
  CHECK(patched.count(Severity::Warning) == 0);
}

TEST_CASE("combined fixes: a searched fix picked by two errors is applied once, and no output name is read as a module",
          "[fixes]") {
  // qo is made batch-major for a batch_first=False module: one transpose where it is made repairs
  // both MHA050 and MHA040 (and is offered to each); MHA031 needs kdim and vdim.
  std::string spec = R"json({"version": 1, "dims": {"N": 2, "L": 10, "S": 12},
    "modules": {"proj": "nn.Linear(512, 512)", "attn": "nn.MultiheadAttention(512, 8)"},
    "tensors": {"x": ["N", "L", 512], "k": ["S", "N", 256], "m": ["L", "S"]},
    "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["qo"]},
              {"id": "a", "module": "attn", "query": "qo", "key": "k", "value": "k", "attn_mask": "m"}]})json";
  Report report = test::check_text(spec);
  CHECK_FALSE(report.input_error);
  const Diagnostic* key = test::find(report, "MHA031");
  REQUIRE(key != nullptr);
  REQUIRE_FALSE(key->fixes.empty());
  const Fix& combined = key->fixes.front();
  CHECK(combined.description == "all together: construct with kdim=256, vdim=256; and transpose qo where it is made, after call \"p\", "
                                "to (L, N, 512): qo = qo.transpose(0, 1)");
  CHECK(combined.valid());
  REQUIRE(combined.patch.size() == 3);  // the constructor string, the renamed output, one inserted transpose
  CHECK(combined.patch[1]["path"] == "/calls/0/outputs/0");
  CHECK(combined.patch[2]["path"] == "/calls/1");
  CHECK(apply_fix(spec, combined).ok());
  // With an error no fix repairs elsewhere, the combination is tried and fails: the spec is still usable input.
  Report unrepaired = test::check_text(R"json({"version": 1, "dims": {"N": 2, "L": 10, "S": 12},
    "modules": {"proj": "nn.Linear(512, 512)", "attn": "nn.MultiheadAttention(512, 8)"},
    "tensors": {"x": ["N", "L", 512], "k": ["S", "N", 512], "m": ["L", "S"]},
    "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["qo"]},
              {"id": "a", "module": "attn", "query": "qo", "key": "k", "value": "k", "attn_mask": "m"},
              {"id": "bad", "op": "view", "input": "x", "shape": [3, 7]}]})json");
  CHECK_FALSE(unrepaired.input_error);
  CHECK(unrepaired.count(Severity::Error) == 3);
  CHECK(test::find(unrepaired, "MHA302") != nullptr);
}

namespace {
// The first fix of `code`'s diagnostic in `spec`, which must be valid and make the whole spec valid;
// `op` is the call its patch inserts after the mask's producer.
void check_mask_fix(const std::string& spec, const std::string& code, const std::string& description, const std::string& op) {
  Report report = test::check_text(spec);
  const Diagnostic* mask = test::find(report, code);
  REQUIRE(mask != nullptr);
  REQUIRE_FALSE(mask->fixes.empty());
  const Fix& fix = mask->fixes.front();
  CHECK(fix.description == description);
  CHECK(fix.valid());
  REQUIRE(fix.patch.size() == 2);
  CHECK(fix.patch[1]["value"]["op"] == op);
  CHECK(apply_fix(spec, fix).ok());
}
}  // namespace

TEST_CASE("searched fix: a (B, S) mask made by a call is viewed per batch entry where it is made", "[fixes]") {
  check_mask_fix(R"json({"version": 1, "dims": {"B": 4, "H": 8, "T": 10, "D": 16},
    "tensors": {"q": ["B", "H", "T", "D"], "keep_all": {"shape": ["B", 512], "dtype": "bool"}},
    "calls": [{"id": "cut", "op": "getitem", "input": "keep_all", "index": "[:, :10]", "outputs": ["keep"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "keep"}]})json",
                 "MHA208", "view keep where it is made, after call \"cut\", per batch entry as (4, 1, 1, 10): keep = keep[:, None, None, :]",
                 "getitem");
}

TEST_CASE("searched fix: an (N, L, S) mask made by a call is repeated per head with repeat_interleave", "[fixes]") {
  check_mask_fix(R"json({"version": 1, "dims": {"N": 4, "L": 10},
    "modules": {"attn": "nn.MultiheadAttention(64, 8)"},
    "tensors": {"x": ["L", "N", 64], "big": {"shape": ["N", 12, 12], "dtype": "bool"}},
    "calls": [{"id": "cut", "op": "getitem", "input": "big", "index": "[:, :10, :10]", "outputs": ["m"]},
              {"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "m"}]})json",
                 "MHA051", "repeat m where it is made, after call \"cut\", once per head as (32, 10, 10): m = m.repeat_interleave(8, dim=0)",
                 "repeat_interleave");
}

TEST_CASE("searched fixes: the search's work is bounded per report, the first diagnostics first", "[fixes]") {
  // 100 SDPA-after-view blocks of 4 calls, each with MHA209: searching all would re-check the
  // 400-call graph about 1,200 times; the work bound allows 50 re-checks.
  nlohmann::json spec = nlohmann::json::parse(R"({"version": 1, "dims": {"B": 2, "T": 10, "H": 8, "D": 64}, "modules": {},
                                                  "tensors": {"x0": ["B", "T", 512]}, "calls": []})");
  for (int i = 0; i < 100; ++i) {
    auto name = [i](const char* prefix) { return fmt::format("{}{}", prefix, i); };
    spec["modules"][name("l")] = "nn.Linear(512, 512)";
    spec["calls"].push_back({{"id", name("q")}, {"module", name("l")}, {"input", name("x")}, {"outputs", {name("q")}}});
    spec["calls"].push_back({{"id", name("v")}, {"op", "view"}, {"input", name("q")}, {"shape", {"B", "T", "H", "D"}}, {"outputs", {name("qh")}}});
    spec["calls"].push_back({{"id", name("a")}, {"op", "F.scaled_dot_product_attention"}, {"query", name("qh")}, {"key", name("qh")},
                             {"value", name("qh")}, {"outputs", {name("o")}}});
    spec["calls"].push_back({{"id", name("m")}, {"op", "reshape"}, {"input", name("o")}, {"shape", {"B", "T", 512}},
                             {"outputs", {fmt::format("x{}", i + 1)}}});
  }
  Report report = test::check_text(spec.dump());
  std::vector<const Diagnostic*> layouts;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (std::string(diagnostic.info().code) == "MHA209") layouts.push_back(&diagnostic);
  }
  REQUIRE(layouts.size() == 100);
  REQUIRE_FALSE(layouts.front()->fixes.empty());
  CHECK(layouts.front()->fixes.front().semantics == FixSemantics::Consistent);
  CHECK(layouts.back()->fixes.empty());
}

TEST_CASE("searched fix: a Conv1d output is transposed, not read with embed_dim set to its time steps", "[fixes]") {
  // A Conv1d output (B, 256, T) passed to a batch-first MHA without .transpose(1, 2).
  std::string spec = R"json({"version": 1, "dims": {"B": 4, "T": 100},
    "modules": {"conv": "nn.Conv1d(80, 256, 3, padding=1)", "attn": "nn.MultiheadAttention(256, 4, batch_first=True)"},
    "tensors": {"mel": ["B", 80, "T"]},
    "calls": [{"id": "c", "module": "conv", "input": "mel", "outputs": ["h"]},
              {"id": "a", "module": "attn", "query": "h", "key": "h", "value": "h"}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* features = test::find(report, "MHA030");
  REQUIRE(features != nullptr);
  REQUIRE_FALSE(features->fixes.empty());
  // embed_dim=100 would make PyTorch accept the time steps as features: MHA241 makes it suspect.
  CHECK(features->fixes.front().description == "transpose h where it is made, after call \"c\", to (B, T, 256): h = h.transpose(1, 2)");
  CHECK(features->fixes.front().valid());
  for (const Fix& fix : features->fixes) {
    if (fix.description.find("embed_dim=100") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
  }
  // The time steps in MHA's feature slot (MHA241) have the same cause: a note of the error.
  CHECK(test::find(report, "MHA241") == nullptr);
  CHECK(std::any_of(features->notes.begin(), features->notes.end(), [](const std::string& note) { return note.starts_with("same cause: MHA241 "); }));
}

TEST_CASE("searched fix: a transpose that moves a Linear's features to dim 0 or the batch last is suspect", "[fixes]") {
  // A seq-first speech encoder's input projection (T, B, 256) meeting a sinusoidal table sliced
  // pe[:T] to (T, 256): transposing the projection to (256, B, T) or (T, 256, B) lets the add run
  // but reads features as a sequence or the batch as features.
  std::string spec = R"json({"version": 1,
    "modules": {"proj": "nn.Linear(80, 256)"},
    "tensors": {"feats": ["T", "B", 80], "pe": [5000, 256]},
    "calls": [{"id": "p", "module": "proj", "input": "feats", "outputs": ["x"]},
              {"id": "s", "op": "getitem", "input": "pe", "index": "[:T]", "outputs": ["table"]},
              {"id": "a", "op": "add", "input": "x", "other": "table", "outputs": ["h"]}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* condition = test::find(report, "MHA083");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes.front().description.ends_with("table = table[:, None]"));
  CHECK(condition->fixes.front().semantics == FixSemantics::Consistent);
  // The rule's fix is sound, so the search does not run for the report: its candidates, labelled.
  Spec parsed = parse_spec(test::document_from(spec));
  int labelled = 0;
  for (const Fix& fix : search_candidates(parsed, check_spec(parsed, CheckOptions{false}), "a", 1000)) {
    if (fix.description.find("x = x.transpose(0, 2)") == std::string::npos && fix.description.find("x = x.transpose(1, 2)") == std::string::npos) continue;
    CHECK(fix.semantics == FixSemantics::Suspect);
    ++labelled;
  }
  CHECK(labelled == 2);  // transpose(0, 2) and transpose(1, 2) of x (no later call reads h: none transposed back)
}

TEST_CASE("MHA240: GQA heads tiled with repeat, the fix makes the repeat a repeat_interleave", "[fixes]") {
  std::string spec = R"json({"version": 1, "dims": {"B": 2, "T": 10},
    "tensors": {"q": ["B", 8, "T", 16], "k": ["B", 2, "T", 16]},
    "calls": [{"id": "r", "op": "repeat", "input": "k", "repeats": [1, 4, 1, 1], "outputs": ["k8"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k8", "value": "k8"}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* tiled = test::find(report, "MHA240");
  REQUIRE(tiled != nullptr);
  CHECK(report.ok());
  REQUIRE(tiled->fixes.size() == 1);
  CHECK(tiled->fixes.front().description == "use repeat_interleave instead of repeat: k8 = k.repeat_interleave(4, dim=1)");
  CHECK(tiled->fixes.front().semantics == FixSemantics::Consistent);
  Report patched = apply_fix(spec, tiled->fixes.front());
  CHECK(test::find(patched, "MHA240") == nullptr);
  CHECK(patched.count(Severity::Warning) == 0);
  // Repeating a size-1 dim (multi-query attention broadcast) interleaves nothing.
  std::string single = R"json({"version": 1, "dims": {"B": 2, "T": 10},
    "tensors": {"q": ["B", 8, "T", 16], "k": ["B", 1, "T", 16]},
    "calls": [{"id": "r", "op": "repeat", "input": "k", "repeats": [1, 8, 1, 1], "outputs": ["k8"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k8", "value": "k8"}]})json";
  CHECK(test::find(test::check_text(single), "MHA240") == nullptr);
}

TEST_CASE("MHA240 for a 3-D MHA mask: only tilings that mix batch entries", "[fixes]") {
  // nn.MultiheadAttention reads entry b*H + h as (batch entry b, head h), H = 2 here.
  auto tiled = [](int batch, int source, int factor) {
    std::string spec = fmt::format(R"json({{"version": 1, "modules": {{"attn": "nn.MultiheadAttention(8, 2, batch_first=True)"}},
      "tensors": {{"x": [{}, 5, 8], "m": {{"shape": [{}, 5, 5], "dtype": "float32"}}}},
      "calls": [{{"id": "tile", "op": "repeat", "input": "m", "repeats": [{}, 1, 1], "outputs": ["mask"]}},
                {{"id": "attn", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "mask"}}]}})json",
                                   batch, source, factor);
    Report report = test::check_text(spec);
    CHECK(report.count(Severity::Error) == 0);
    return test::find(report, "MHA240") != nullptr;
  };
  // Per-head biases (H, L, S).repeat(N, 1, 1): entry b*H + h gets head h's mask (was a false alarm).
  CHECK_FALSE(tiled(3, 2, 3));
  // Per-batch masks (N, L, S).repeat(H, 1, 1): entry b*H + h gets batch entry (b*H + h) mod N.
  CHECK(tiled(3, 3, 2));
  // N == H == 2: a per-batch mask tiled by mistake and a per-head one look the same; the warning stays.
  CHECK(tiled(2, 2, 2));
  // (3, L, S).repeat(4, 1, 1) for N = 6: batch entry 1 reads source entries 2 and 0.
  CHECK(tiled(6, 3, 4));
}

TEST_CASE("MHA084 for the Transformer encoders' masks: a keep mask as src_key_padding_mask", "[fixes]") {
  std::string spec = R"json({"version": 1,
    "modules": {"enc": "nn.TransformerEncoderLayer(64, 4, batch_first=True)"},
    "tensors": {"x": ["B", "T", 64], "attention_mask": {"shape": ["B", "T"], "dtype": "bool"}},
    "calls": [{"id": "l", "module": "enc", "src": "x", "src_key_padding_mask": "attention_mask"}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* meaning = test::find(report, "MHA084");
  REQUIRE(meaning != nullptr);
  CHECK(meaning->argument == "src_key_padding_mask");
  CHECK(meaning->message.find("nn.TransformerEncoderLayer") != std::string::npos);
  REQUIRE_FALSE(meaning->fixes.empty());
  CHECK(meaning->fixes.front().description == "pass ~attention_mask");
  // Once: the layer's inner self_attn sees the mask already made float by _canonical_mask.
  CHECK(std::count_if(report.diagnostics.begin(), report.diagnostics.end(),
                      [](const Diagnostic& d) { return std::string(d.info().code) == "MHA084"; }) == 1);
}

TEST_CASE("MHA084 for a float mask as written (1 = keep), not for one an earlier call computed", "[fixes]") {
  auto meaning = [](const std::string& tensors, const std::string& calls) {
    Report report = test::check_text(R"J({"version": 1, "modules": {"m": "nn.MultiheadAttention(16, 2, batch_first=True)"},
      "tensors": {"x": [2, 5, 16], )J" + tensors + "}, \"calls\": [" + calls +
                                     R"({"id": "c", "module": "m", "query": "x", "key": "x", "value": "x", "key_padding_mask": "attention_mask"}]})");
    const Diagnostic* found = test::find(report, "MHA084");
    return found != nullptr ? found->message : std::string("none");
  };
  // Hugging Face's attention_mask as a float tensor holds 1 = keep: added to the scores it masks nothing.
  CHECK_THAT(meaning(R"("attention_mask": {"shape": [2, 5], "dtype": "float32"})", ""), Catch::Contains("adding 1 and 0 masks nothing"));
  // The usual additive mask made from it, (am - 1.0) * 10000.0: 0 = keep, -1e4 = pad, correct as it is.
  CHECK(meaning(R"("am": {"shape": [2, 5], "dtype": "float32"})",
                R"({"id": "inv", "op": "sub", "input": "am", "other": 1.0, "outputs": ["t"]},
                   {"id": "scale", "op": "mul", "input": "t", "other": 10000.0, "outputs": ["attention_mask"]},)") == "none");
}

TEST_CASE("a named mask is inverted by a call inserted before the call, which the argument then reads", "[fixes]") {
  // An int Hugging Face attention_mask (1 = keep) made by an earlier call: == 0, as a call, so
  // that the mask's values stay connected; the inverted mask takes the argument's name.
  std::string spec = R"json({"version": 1,
    "modules": {"mha": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "tensors": {"x": ["B", "T", 64], "ids_mask": {"shape": ["B", "T", 1], "dtype": "int64"}},
    "calls": [{"id": "s", "op": "squeeze", "input": "ids_mask", "dim": -1, "outputs": ["attention_mask"]},
              {"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "key_padding_mask": "attention_mask"}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* dtype = test::find(report, "MHA060");
  REQUIRE(dtype != nullptr);
  REQUIRE_FALSE(dtype->fixes.empty());
  const Fix& fix = dtype->fixes.front();
  CHECK(fix.description == "pass attention_mask == 0 (True marks positions not to attend)");
  CHECK(fix.verified);
  CHECK(fix.semantics == FixSemantics::Consistent);
  nlohmann::json expected = nlohmann::json::parse(R"json([
    {"op": "add", "path": "/calls/1", "value": {"id": "eq_of_attention_mask", "op": "eq", "input": "attention_mask", "other": 0,
                                                "outputs": ["key_padding_mask"]}},
    {"op": "replace", "path": "/calls/2/key_padding_mask", "value": "key_padding_mask"}])json");
  CHECK(fix.patch == expected);
}

TEST_CASE("a decoder mask given under its sibling's name is moved, not reshaped", "[fixes][transformer]") {
  // A (T, T) causal mask as memory_mask (a (T, S) memory_mask keeps the call valid and drops the
  // causal meaning), in a layer with symbols (MHA080) and in nn.Transformer with sizes (MHA050).
  for (const char* spec : {
           R"x({"module": "nn.TransformerDecoderLayer(256, 4, batch_first=True)", "tgt": ["B", "T", 256],
               "memory": ["B", "S", 256], "memory_mask": {"causal": ["T", "T"]}})x",
           R"x({"module": "nn.Transformer(d_model=64, nhead=4, num_encoder_layers=1, num_decoder_layers=1)",
               "src": [30, 8, 64], "tgt": [20, 8, 64], "memory_mask": {"causal": [20, 20]}})x"}) {
    Report report = test::check_text(spec);
    auto about_mask = std::find_if(report.diagnostics.begin(), report.diagnostics.end(),
                                   [](const Diagnostic& d) { return d.severity() != Severity::Note; });
    REQUIRE(about_mask != report.diagnostics.end());
    const Diagnostic& mismatch = *about_mask;
    CHECK(mismatch.argument == "memory_mask");
    REQUIRE(mismatch.fixes.size() >= 2);
    const Fix& moved = mismatch.fixes.front();
    CHECK(moved.description.find("as tgt_mask") != std::string::npos);
    CHECK(moved.valid());
    CHECK(moved.semantics == FixSemantics::Consistent);
    Report fixed = apply_fix(spec, moved);
    CHECK(fixed.ok());
    CHECK(fixed.count(Severity::Warning) == 0);
  }
  // Memory's (N, S) padding mask as tgt_key_padding_mask, in a stack.
  std::string padding = R"x({"module": "nn.TransformerDecoder(nn.TransformerDecoderLayer(64, 4), num_layers=2)",
      "tgt": [20, 8, 64], "memory": [30, 8, 64], "tgt_key_padding_mask": {"shape": [8, 30], "dtype": "bool"}})x";
  Report report = test::check_text(padding);
  const Diagnostic* mismatch = test::find(report, "MHA052");
  REQUIRE(mismatch != nullptr);
  REQUIRE_FALSE(mismatch->fixes.empty());
  CHECK(mismatch->fixes.front().description.find("as memory_key_padding_mask") != std::string::npos);
  CHECK(mismatch->fixes.front().valid());
  CHECK(apply_fix(padding, mismatch->fixes.front()).count(Severity::Warning) == 0);
  // A (T, T) memory_mask when tgt_mask is given too, or a mask that fits memory: nothing to move.
  Report both = test::check_text(R"x({"module": "nn.TransformerDecoderLayer(64, 4)", "tgt": [20, 8, 64], "memory": [30, 8, 64],
      "tgt_mask": {"causal": [20, 20]}, "memory_mask": {"causal": [20, 20]}})x");
  for (const Diagnostic& diagnostic : both.diagnostics) {
    for (const Fix& fix : diagnostic.fixes) CHECK(fix.description.find("as tgt_mask") == std::string::npos);
  }
  CHECK_FALSE(both.ok());
}

TEST_CASE("a 4-D mask given to nn.MultiheadAttention: key_padding_mask or per-head repeat, in its convention", "[fixes]") {
  auto spec_with = [](const std::string& mask) {
    return fmt::format(R"x({{"dims": {{"B": 2, "T": 5}}, "modules": {{"attn": "nn.MultiheadAttention(32, 4, batch_first=True)"}},
        "tensors": {{"x": ["B", "T", 32], {}}},
        "calls": [{{"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "{}"}}]}})x",
                       mask, mask.substr(1, mask.find('"', 1) - 1));
  };
  struct Case {
    std::string mask, first_fix;
    FixSemantics semantics;
  };
  for (const Case& each : std::vector<Case>{
           // Hugging Face's extended mask, 1 = keep: inverted.
           {R"("attention_mask": {"shape": ["B", 1, 1, "T"], "dtype": "int64"})", "key_padding_mask=attention_mask[:, 0, 0, :] == 0",
            FixSemantics::Consistent},
           {R"("keep": {"shape": ["B", 1, 1, "T"], "dtype": "bool"})", "key_padding_mask=~keep[:, 0, 0, :]", FixSemantics::Consistent},
           {R"("pad": {"shape": ["B", 1, 1, "T"], "dtype": "bool"})", "key_padding_mask=pad[:, 0, 0, :]", FixSemantics::Consistent},
           // Additive: the same values in either argument.
           {R"("bias": {"shape": ["B", 1, "T", "T"], "dtype": "float32"})", "attn_mask=bias[:, 0].repeat_interleave(4, dim=0)",
            FixSemantics::Consistent},
           // A bool mask whose name says nothing: kept as it is, its meaning unknown.
           {R"("m": {"shape": ["B", 1, 1, "T"], "dtype": "bool"})", "key_padding_mask=m[:, 0, 0, :]", FixSemantics::Unknown}}) {
    INFO(each.mask);
    std::string spec = spec_with(each.mask);
    Report report = test::check_text(spec);
    REQUIRE_FALSE(report.diagnostics.empty());
    const Diagnostic& primary = report.diagnostics.front();
    REQUIRE_FALSE(primary.fixes.empty());
    const Fix& fix = primary.fixes.front();
    CHECK(fix.description.substr(fix.description.find(": ") + 2) == each.first_fix);
    CHECK(fix.valid());
    CHECK(fix.semantics == each.semantics);
    // The declared mask stays; the new tensor is declared beside it.
    Report fixed = apply_fix(spec, fix);
    CHECK(fixed.ok());
    CHECK(fixed.count(Severity::Warning) == 0);
    CHECK(fixed.tensors.size() == 3);
  }
}

TEST_CASE("einsum with a wrong key layout: the operand whose names disagree with the subscripts is transposed", "[fixes][einsum]") {
  std::string spec = R"({"dims": {"B": 2, "H": 4, "T": 6, "D": 8},
      "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "D", "T"]},
      "calls": [{"id": "s", "op": "einsum", "equation": "bhqd,bhkd->bhqk", "operands": ["q", "k"]}]})";
  Report report = test::check_text(spec);
  const Diagnostic* mismatch = test::find(report, "MHA364");
  REQUIRE(mismatch != nullptr);
  REQUIRE(mismatch->fixes.size() >= 2);
  CHECK(mismatch->fixes.front().description == "transpose k to (B, H, T, D): k.transpose(2, 3)");
  CHECK(mismatch->fixes.front().semantics == FixSemantics::Consistent);
  auto q_fix = std::find_if(mismatch->fixes.begin(), mismatch->fixes.end(),
                            [](const Fix& fix) { return fix.description.starts_with("transpose q "); });
  REQUIRE(q_fix != mismatch->fixes.end());
  CHECK(q_fix->valid());  // PyTorch accepts it, but T then sits under d
  CHECK(q_fix->semantics == FixSemantics::Suspect);
  // The same mistake in q, with n for the heads (not read as a batch): q is transposed.
  Report heads_n = test::check_text(R"({"tensors": {"q": ["B", "H", "D", "T"], "k": ["B", "H", "T", "D"]},
      "dims": {"B": 2, "H": 4, "T": 6, "D": 8},
      "calls": [{"id": "s", "op": "einsum", "equation": "bnqd,bnkd->bnqk", "operands": ["q", "k"]}]})");
  const Diagnostic* swapped = test::find(heads_n, "MHA364");
  REQUIRE(swapped != nullptr);
  REQUIRE_FALSE(swapped->fixes.empty());
  CHECK(swapped->fixes.front().description == "transpose q to (B, H, T, D): q.transpose(2, 3)");
}

namespace {

// Features src and positions pos, each flatten(2).transpose(1, 2) to tokens, added: `head` holds
// the spec's modules and tensors and the calls that make src and pos.
std::string flattened_alike(const std::string& head) {
  return head + R"json(
              {"id": "sf", "op": "flatten", "input": "src", "start_dim": 2, "outputs": ["s2"]},
              {"id": "st", "op": "transpose", "input": "s2", "dim0": 1, "dim1": 2, "outputs": ["tokens"]},
              {"id": "pf", "op": "flatten", "input": "pos", "start_dim": 2, "outputs": ["p2"]},
              {"id": "pt", "op": "transpose", "input": "p2", "dim0": 1, "dim1": 2, "outputs": ["pos_tokens"]},
              {"id": "add", "op": "add", "input": "tokens", "other": "pos_tokens", "outputs": ["h"]}]})json";
}

}  // namespace

TEST_CASE("searched fix: positions made channels-last beside channels-first features, both flattened alike, are permuted where they are made",
          "[fixes]") {
  // DETR-style: the sine positions joined on their last dim, the features a Conv2d's (B, C, H, W);
  // the positions only fit the chain laid out as the features.
  std::string spec = flattened_alike(R"json({"version": 1, "modules": {"proj": "nn.Conv2d(3, 64, kernel_size=1)"},
    "tensors": {"img": ["B", 3, 8, 12], "py": ["B", 8, 12, 32], "px": ["B", 8, 12, 32]},
    "calls": [{"id": "p", "module": "proj", "input": "img", "outputs": ["src"]},
              {"id": "cat", "op": "cat", "tensors": ["py", "px"], "dim": 3, "outputs": ["pos"]},)json");
  Report report = test::check_text(spec);
  const Diagnostic* broadcast = test::find(report, "MHA305");
  REQUIRE(broadcast != nullptr);
  REQUIRE_FALSE(broadcast->fixes.empty());
  const Fix& first = broadcast->fixes.front();
  CHECK(first.description ==
        "permute pos where it is made, after call \"cat\", to (B, 64, 8, 12), the layout of src: pos = pos.permute(0, 3, 1, 2)");
  CHECK(first.valid());
  CHECK(first.semantics == FixSemantics::Consistent);
  CHECK(apply_fix(spec, first).ok());
  // The Conv2d's output has the layout PyTorch gives it: it is not the one permuted.
  CHECK(std::none_of(broadcast->fixes.begin(), broadcast->fixes.end(),
                     [](const Fix& fix) { return fix.description.rfind("permute src", 0) == 0; }));
}

TEST_CASE("searched fix: positions a permute laid out otherwise than the features they meet after alike chains get that permute's dims",
          "[fixes]") {
  std::string spec = flattened_alike(R"json({"version": 1, "tensors": {"src": ["B", 64, 8, 12], "pos_raw": ["B", 8, 64, 12]},
    "calls": [{"id": "perm", "op": "permute", "input": "pos_raw", "dims": [0, 3, 1, 2], "outputs": ["pos"]},)json");
  Report report = test::check_text(spec);
  const Diagnostic* broadcast = test::find(report, "MHA305");
  REQUIRE(broadcast != nullptr);
  REQUIRE(broadcast->fixes.size() >= 2);
  // The permute's own dims rewritten, before a second permute inserted after it.
  CHECK(broadcast->fixes[0].description == "change the permute of call \"perm\" to permute(0, 2, 1, 3): pos = pos_raw.permute(0, 2, 1, 3)");
  CHECK(broadcast->fixes[1].description ==
        "permute pos where it is made, after call \"perm\", to (B, 64, 8, 12), the layout of src: pos = pos.permute(0, 3, 2, 1)");
  CHECK(broadcast->fixes[1].semantics == FixSemantics::Unknown);
}

TEST_CASE("searched fix: a bias laid out (N, N, H) is permuted before its unsqueeze, not the scores transposed", "[fixes]") {
  std::string spec = R"json({"version": 1, "tensors": {"attn": ["BW", 3, 49, 49], "rel_bias": [49, 49, 3]},
    "calls": [{"id": "u", "op": "unsqueeze", "input": "rel_bias", "dim": 0, "outputs": ["b4"]},
              {"id": "a", "op": "add", "input": "attn", "other": "b4", "outputs": ["s"]},
              {"id": "p", "op": "softmax", "input": "s", "dim": -1}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* broadcast = test::find(report, "MHA305");
  REQUIRE(broadcast != nullptr);
  REQUIRE_FALSE(broadcast->fixes.empty());
  const Fix& first = broadcast->fixes[0];
  CHECK(first.description == "permute rel_bias to (3, 49, 49): rel_bias.permute(2, 0, 1)");
  CHECK(first.valid());
  CHECK(apply_fix(spec, first).ok());
  // T5-style: the (L, S, H) bias an Embedding made is permuted where it is made.
  std::string t5 = R"json({"version": 1, "dims": {"B": 2, "L": 6, "S": 9},
    "modules": {"rel": "nn.Embedding(32, 4)"},
    "tensors": {"scores": ["B", 4, "L", "S"], "buckets": {"shape": ["L", "S"], "dtype": "int64"}},
    "calls": [{"id": "e", "module": "rel", "input": "buckets", "outputs": ["values"]},
              {"id": "u", "op": "unsqueeze", "input": "values", "dim": 0, "outputs": ["bias"]},
              {"id": "a", "op": "add", "input": "scores", "other": "bias", "outputs": ["s"]}]})json";
  Report embedded = test::check_text(t5);
  const Diagnostic* t5_broadcast = test::find(embedded, "MHA305");
  REQUIRE(t5_broadcast != nullptr);
  REQUIRE_FALSE(t5_broadcast->fixes.empty());
  CHECK(t5_broadcast->fixes[0].description ==
        "permute values where it is made, after call \"e\", to (4, 6, 9): values = values.permute(2, 0, 1)");
  CHECK(t5_broadcast->fixes[0].valid());
}

// A (Q, K, H) bias whose Q and K are one symbol: valid only while that symbol equals H, every
// ordering fits under the condition. transpose(0, 2) reverses the two equal dims (bias[i, j] read
// as bias[j, i]) and is suspect; the permute that keeps them in order comes first.
TEST_CASE("searched fix: a transpose that reverses two equal dims is suspect, the order-keeping permute first", "[fixes]") {
  std::string spec = R"json({"version": 1, "tensors": {"logits": ["N", 6, "P", "P"], "pair_bias": ["P", "P", 6]},
    "calls": [{"id": "a", "op": "add", "input": "logits", "other": "pair_bias", "outputs": ["s"]},
              {"id": "p", "op": "softmax", "input": "s", "dim": -1, "outputs": ["w"]}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* condition = test::find(report, "MHA080");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes.front().description == "permute pair_bias to (6, P, P): pair_bias.permute(2, 0, 1)");
  CHECK(condition->fixes.front().semantics != FixSemantics::Suspect);
  for (const Fix& fix : condition->fixes) {
    if (fix.description.find(".transpose(0, 2)") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("searched fix: a buffer larger than the input is sliced to its sizes where it entered the graph", "[fixes]") {
  std::string spec = R"json({"version": 1, "dims": {"B": 2, "T": 100},
    "tensors": {"att": ["B", 12, "T", "T"], "bias": [1, 1, 1024, 1024]},
    "calls": [{"id": "e", "op": "eq", "input": "bias", "other": 0, "outputs": ["m"]},
              {"id": "f", "op": "masked_fill", "input": "att", "mask": "m", "value": "-inf", "outputs": ["am"]}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* fill = test::find(report, "MHA320");
  REQUIRE(fill != nullptr);
  REQUIRE_FALSE(fill->fixes.empty());
  CHECK(fill->fixes[0].description == "slice bias to the sizes of input (1, 1, T, T): bias[:, :, :T, :T]");
  CHECK(fill->fixes[0].valid());
  CHECK(apply_fix(spec, fill->fixes[0]).ok());
  // A positional table (1, max_len, E) added to (B, T, E): made by a call, cut by an inserted getitem.
  std::string table = R"json({"version": 1, "dims": {"B": 2, "T": 50},
    "tensors": {"x": ["B", "T", 512], "pe_all": [5000, 512]},
    "calls": [{"id": "u", "op": "unsqueeze", "input": "pe_all", "dim": 0, "outputs": ["pe"]},
              {"id": "a", "op": "add", "input": "x", "other": "pe"}]})json";
  Report positions = test::check_text(table);
  const Diagnostic* add = test::find(positions, "MHA305");
  REQUIRE(add != nullptr);
  REQUIRE_FALSE(add->fixes.empty());
  CHECK(add->fixes[0].description == "slice pe where it is made, after call \"u\", to the sizes of input (1, T, 512): pe = pe[:, :T, :]");
  CHECK(add->fixes[0].patch[1]["value"]["index"] == "[:, :50, :]");
  CHECK(apply_fix(table, add->fixes[0]).ok());
  // DeiT's table (1, N + 2, E) holds the class and distillation tokens' positions first: the
  // patches take pos_embed[:, 2:], not the first N rows.
  std::string deit = R"json({"version": 1, "tensors": {"x": ["B", 196, 384], "pos_embed": [1, 198, 384]},
    "calls": [{"id": "a", "op": "add", "input": "x", "other": "pos_embed"}]})json";
  Report deit_report = test::check_text(deit);
  const Diagnostic* prefixed = test::find(deit_report, "MHA305");
  REQUIRE(prefixed != nullptr);
  REQUIRE_FALSE(prefixed->fixes.empty());
  CHECK(prefixed->fixes[0].description == "slice pos_embed to the sizes of input (1, 196, 384): pos_embed[:, 2:, :]");
  CHECK(prefixed->fixes[0].verified);
}

// One cause, one diagnostic: findings that the first fix of one of them removes as well are
// notes of one primary, the most severe; the counts (and so the exit code) are the primary's.
namespace {
bool has_note(const Diagnostic& diagnostic, const std::string& start) {
  return std::any_of(diagnostic.notes.begin(), diagnostic.notes.end(), [&](const std::string& note) { return note.starts_with(start); });
}

// The spec's report: unverified (no folding), both codes are found; verified, one diagnostic is left.
Report folded_report(const std::string& spec, const std::string& first, const std::string& second) {
  Report unverified = test::check_text(spec, false);
  CHECK(test::find(unverified, first) != nullptr);
  CHECK(test::find(unverified, second) != nullptr);
  Report report = test::check_text(spec);
  REQUIRE(report.diagnostics.size() == 1);
  return report;
}
}  // namespace

TEST_CASE("one cause: a (B*H, T, D) SDPA query against (B, H, T, D) key/value is one error, MHA209 its note", "[fixes][same-cause]") {
  std::string spec = R"j({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16},
      "tensors": {"q": ["B*H", "T", "D"], "k": ["B", "H", "T", "D"], "v": ["B", "H", "T", "D"]},
      "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v"}]})j";
  Report report = folded_report(spec, "MHA209", "MHA207");
  const Diagnostic& primary = report.diagnostics.front();
  CHECK(primary.info().code == std::string("MHA207"));
  CHECK(has_note(primary, "same cause: MHA209 query's heads slot (dim 0) holds \"B*H\""));
  REQUIRE_FALSE(primary.fixes.empty());
  CHECK(primary.fixes.front().description == "split query's B*H: q.view(B, H, T, D)");
  CHECK(primary.fixes.front().valid());
  CHECK(primary.fixes.front().semantics != FixSemantics::Suspect);
  CHECK(report.count(Severity::Error) == 1);
  CHECK(report.count(Severity::Warning) == 0);
}

TEST_CASE("one cause: a Conv1d (B, C, T) never transposed is MHA261 at the LayerNorm, MHA241 at the MHA its note", "[fixes][same-cause]") {
  std::string spec = R"j({"version": 1, "dims": {"B": 4, "T": 128},
      "modules": {"conv": "nn.Conv1d(80, 128, 3, padding=1)", "norm": "nn.LayerNorm(128)",
                  "attn": "nn.MultiheadAttention(128, 4, batch_first=True)"},
      "tensors": {"mel": ["B", 80, "T"]},
      "calls": [{"id": "c", "module": "conv", "input": "mel", "outputs": ["h"]},
                {"id": "n", "module": "norm", "input": "h", "outputs": ["y"]},
                {"id": "a", "module": "attn", "query": "y", "key": "y", "value": "y"}]})j";
  Report report = folded_report(spec, "MHA261", "MHA241");
  const Diagnostic& primary = report.diagnostics.front();
  CHECK(primary.info().code == std::string("MHA261"));
  CHECK(primary.call == "n");
  CHECK(has_note(primary, "same cause: MHA241 query (4, 128, 128): its feature slot (dim 2) holds \"T\""));
  // The later call's place is a related location of the primary.
  CHECK(std::any_of(primary.related.begin(), primary.related.end(), [](const RelatedLocation& related) {
    return related.message == "same cause: MHA241 at call \"a\"" && related.location.line == 7;
  }));
  REQUIRE_FALSE(primary.fixes.empty());
  CHECK(primary.fixes.front().description.starts_with("transpose h where it is made, after call \"c\""));
  CHECK(primary.fixes.front().valid());
  CHECK(report.ok());
  CHECK(report.count(Severity::Warning) == 1);
}

TEST_CASE("one cause: q @ k with T and D unbound is MHA241, the MHA080 condition its note", "[fixes][same-cause]") {
  std::string spec = R"j({"version": 1, "dims": {"B": 2, "H": 4},
      "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "T", "D"]},
      "calls": [{"id": "s", "op": "matmul", "input": "q", "other": "k"}]})j";
  Report report = folded_report(spec, "MHA080", "MHA241");
  const Diagnostic& primary = report.diagnostics.front();
  CHECK(primary.info().code == std::string("MHA241"));
  CHECK(has_note(primary, "same cause: MHA080 valid only if D == T"));
  REQUIRE_FALSE(primary.fixes.empty());
  CHECK(primary.fixes.front().description == "contract over k's last dim (D): q @ k.transpose(-2, -1)");
}

TEST_CASE("one cause: findings the first fix does not remove stay apart", "[fixes][same-cause]") {
  // Two modules, each constructed seq-first and given batch-major input: batch_first on one
  // does not repair the other, so each keeps its own diagnostic.
  Report two = test::check_text(R"j({"version": 1, "dims": {"B": 4, "T": 10},
      "modules": {"a1": "nn.MultiheadAttention(16, 2)", "a2": "nn.MultiheadAttention(16, 2)"},
      "tensors": {"x": ["B", "T", 16]},
      "calls": [{"id": "first", "module": "a1", "query": "x", "key": "x", "value": "x"},
                {"id": "second", "module": "a2", "query": "x", "key": "x", "value": "x"}]})j");
  std::vector<std::string> calls;
  for (const Diagnostic& diagnostic : two.diagnostics) {
    if (diagnostic.severity() != Severity::Note) calls.push_back(diagnostic.call);
  }
  CHECK(std::count(calls.begin(), calls.end(), "first") == 1);
  CHECK(std::count(calls.begin(), calls.end(), "second") == 1);
}

TEST_CASE("a batch forced to 1 through a multiple of it is a role error: repeat(1, 1, B) is no fix", "[fixes]") {
  // DETR's queries tiled on the features: (Q, 1, 128*B) against d_model 128 holds only at B == 1.
  std::string tiled_features = R"json({"version": 1, "modules": {"dec": "nn.TransformerDecoderLayer(128, 4, 512)"},
    "tensors": {"query_pos": ["Q", 128], "memory": ["HW", "B", 128]},
    "calls": [{"id": "u", "op": "unsqueeze", "input": "query_pos", "dim": 1, "outputs": ["qp"]},
              {"id": "r", "op": "repeat", "input": "qp", "repeats": [1, 1, "B"], "outputs": ["tgt"]},
              {"id": "d", "module": "dec", "tgt": "tgt", "memory": "memory"}]})json";
  Report report = test::check_text(tiled_features);
  const Diagnostic* forced = test::find(report, "MHA083");
  REQUIRE(forced != nullptr);
  CHECK_THAT(forced->message, Catch::StartsWith("valid only if B == 1 (query features == embed_dim), but B is a batch size"));
  CHECK(test::find(report, "MHA080") == nullptr);
  // Tiled over the queries (repeat(B, 1, 1)): exchanging counts 0 and 2 leaves that same error, so it is not offered.
  std::string tiled_queries = tiled_features;
  tiled_queries.replace(tiled_queries.find(R"([1, 1, "B"])"), 11, R"(["B", 1, 1])");
  Report queries = test::check_text(tiled_queries);
  const Diagnostic* batch = test::find(queries, "MHA083");
  REQUIRE(batch != nullptr);
  REQUIRE_FALSE(batch->fixes.empty());
  CHECK(batch->fixes.front().description == "exchange repeat counts 0 and 1 of call \"r\": tgt = qp.repeat(1, B, 1)");
  for (const Fix& fix : batch->fixes) CHECK(fix.description.find("repeat(1, 1, B)") == std::string::npos);
}

TEST_CASE("a condition that swapped arguments cause is an error, the swap its first fix", "[fixes]") {
  // nn.Transformer called (tgt, src): the (T, T) tgt_mask meets the decoder's S positions.
  std::string transformer = R"json({"version": 1,
    "modules": {"tr": "nn.Transformer(d_model=64, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=128, batch_first=True)"},
    "tensors": {"src": ["B", "S", 64], "tgt": ["B", "T", 64]},
    "calls": [{"id": "t", "module": "tr", "src": "tgt", "tgt": "src", "tgt_mask": {"causal": ["T", "T"]}}]})json";
  Report report = test::check_text(transformer);
  CHECK_FALSE(report.ok());
  const Diagnostic* swapped = test::find(report, "MHA083");
  REQUIRE(swapped != nullptr);
  CHECK(test::find(report, "MHA080") == nullptr);
  CHECK_THAT(swapped->message, Catch::StartsWith("valid only if T == S"));
  // Binding T and S, as the condition's note advised, is no longer the advice.
  for (const std::string& note : swapped->notes) CHECK(note.find("bind them under") == std::string::npos);
  REQUIRE(swapped->fixes.size() >= 2);
  const Fix& swap = swapped->fixes.front();
  CHECK(swap.description == "swap src and tgt of call \"t\", given in each other's place: tr(src=src, tgt=tgt, ...)");
  CHECK(swap.valid());
  CHECK(swap.semantics == FixSemantics::Consistent);
  Report patched = apply_fix(transformer, swap);
  CHECK(patched.count(Severity::Error) + patched.count(Severity::Warning) == 0);
  // The (S, S) mask also satisfies PyTorch, but ranks after the swap.
  CHECK(swapped->fixes[1].description == "pass a (S, S) tgt_mask");

  // Cross-attention called attn(memory, x, x): the condition is at the residual add, the swap at the attention.
  std::string cross = R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(256, 8, batch_first=True)"},
    "tensors": {"x": ["B", "T", 256], "mem": ["B", "S", 256]},
    "calls": [{"id": "a", "module": "attn", "query": "mem", "key": "x", "value": "x", "outputs": ["o"]},
              {"id": "r", "op": "add", "input": "x", "other": "o"}]})json";
  Report residual = test::check_text(cross);
  const Diagnostic* at_add = test::find(residual, "MHA083");
  REQUIRE(at_add != nullptr);
  CHECK(at_add->call == "r");
  REQUIRE_FALSE(at_add->fixes.empty());
  CHECK(at_add->fixes.front().description ==
        "swap query and key/value of call \"a\", given in each other's place: attn(query=x, key=mem, value=mem)");
  CHECK(apply_fix(cross, at_add->fixes.front()).diagnostics.empty());

  // A condition no swap removes stays a condition: the residual of a self-attention over S added to x over T.
  std::string unexplained = R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(256, 8, batch_first=True)"},
    "tensors": {"x": ["B", "T", 256], "mem": ["B", "S", 256]},
    "calls": [{"id": "a", "module": "attn", "query": "mem", "key": "mem", "value": "mem", "outputs": ["o"]},
              {"id": "r", "op": "add", "input": "x", "other": "o"}]})json";
  Report kept = test::check_text(unexplained);
  CHECK(test::find(kept, "MHA080") != nullptr);
  CHECK(test::find(kept, "MHA083") == nullptr);
  CHECK(kept.ok());
}

TEST_CASE("argument swaps: the pairs each operator tells apart, given different tensors", "[fixes]") {
  std::string text = R"json({"version": 1, "tensors": {"q": ["B", 4, "L", 16], "k": ["B", 4, "S", 16], "v": ["B", 4, "S", 16]},
    "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v"},
              {"id": "b", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q"},
              {"id": "c", "op": "add", "input": "k", "other": "v"}]})json";
  Spec spec = parse_spec(test::document_from(text));
  // Key and value are different tensors: only query and key are exchanged.
  std::vector<Fix> distinct = argument_swap_candidates(spec, 0);
  REQUIRE(distinct.size() == 1);
  CHECK(distinct[0].description ==
        "swap query and key of call \"a\", given in each other's place: F.scaled_dot_product_attention(query=k, key=q, ...)");
  CHECK(distinct[0].patch == nlohmann::json::parse(R"([{"op": "replace", "path": "/calls/0/query", "value": "k"},
                                                       {"op": "replace", "path": "/calls/0/key", "value": "q"}])"));
  // Self-attention (one tensor everywhere) has nothing to swap; add's operands have no roles to tell apart.
  CHECK(argument_swap_candidates(spec, 1).empty());
  CHECK(argument_swap_candidates(spec, 2).empty());
}

TEST_CASE("searched fix: a slice is never moved onto the batch", "[fixes]") {
  // ViT's class token dropped on the features instead of the tokens: moving the slice to the
  // batch dim also runs, but drops a batch entry, so it is not offered.
  Report tokens = test::check_text(R"j({"version": 1, "dims": {"B": 2}, "modules": {"a": "nn.MultiheadAttention(768, 12, batch_first=True)"},
    "tensors": {"x": ["B", 197, 768]},
    "calls": [{"id": "g", "op": "getitem", "input": "x", "index": "[:, :, 1:]", "outputs": ["p"]},
              {"id": "a", "module": "a", "query": "p", "key": "p", "value": "p"}]})j");
  const Diagnostic* width = test::find(tokens, "MHA030");
  REQUIRE(width != nullptr);
  REQUIRE_FALSE(width->fixes.empty());
  CHECK(width->fixes[0].description == "slice dim 1 instead of dim 2 in call \"g\": p = x[:, 1:]");
  CHECK(std::none_of(width->fixes.begin(), width->fixes.end(),
                     [](const Fix& fix) { return fix.description.find("p = x[1:]") != std::string::npos; }));
}

TEST_CASE("searched fix: a key mask sliced with the queries while the keys keep their length is passed unsliced", "[fixes]") {
  // Funnel Transformer pools the queries only: the key padding mask stays at the keys' length.
  // Slicing its batch instead (pad[::2]) also runs, and is never offered.
  for (const char* index : {"[:, ::2]", "[:, 1:]"}) {
    INFO(index);
    Report pooled = test::check_text(fmt::format(R"j({{"version": 1, "dims": {{"B": 3, "S": 12}}, "modules": {{"a": "nn.MultiheadAttention(32, 4)"}},
      "tensors": {{"x": ["S", "B", 32], "q": [6, "B", 32], "pad": {{"shape": ["B", "S"], "dtype": "bool"}}}},
      "calls": [{{"id": "p", "op": "getitem", "input": "pad", "index": "{}", "outputs": ["pq"]}},
                {{"id": "a", "module": "a", "query": "q", "key": "x", "value": "x", "key_padding_mask": "pq"}}]}})j", index));
    const Diagnostic* shape = test::find(pooled, "MHA052");
    REQUIRE(shape != nullptr);
    REQUIRE_FALSE(shape->fixes.empty());
    CHECK(shape->fixes[0].description.rfind("pass key_padding_mask=pad: the mask before the slice", 0) == 0);
    CHECK(shape->fixes[0].valid());
    CHECK(shape->fixes[0].semantics == FixSemantics::Consistent);
    CHECK(std::none_of(shape->fixes.begin(), shape->fixes.end(), [](const Fix& fix) { return fix.description.find("pad[") != std::string::npos &&
                                                                                             fix.description.find("slice dim 0") != std::string::npos; }));
  }
}

TEST_CASE("searched fix: a lifted padding mask whose batch meets the heads gets one more None, not q transposed", "[fixes]") {
  // BLIP: keep[:, None, :] & causal (T, T) is (B, T, T); against (B, H, T, T) scores B meets H.
  // Transposing q to (H, B, T, D) would also run, with the batch in the heads.
  auto lifted = [](const std::string& join) {
    return test::check_text(R"j({"version": 1, "dims": {"T": 7},
      "tensors": {"q": ["B", 6, "T", 16], "keep": {"shape": ["B", "T"], "dtype": "bool"}, "causal": {"shape": ["T", "T"], "dtype": "bool"}},
      "calls": [{"id": "g", "op": "getitem", "input": "keep", "index": "[:, None, :]", "outputs": ["pm"]})j" + join + R"j(,
                {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "m"}]})j");
  };
  for (const std::string& join : {std::string(R"j(, {"id": "j", "op": "logical_and", "input": "pm", "other": "causal", "outputs": ["m"]})j"),
                                  std::string(R"j(, {"id": "j", "op": "contiguous", "input": "pm", "outputs": ["m"]})j")}) {
    INFO(join);
    Report report = lifted(join);
    const Diagnostic* condition = test::find(report, "MHA083");
    REQUIRE(condition != nullptr);
    REQUIRE_FALSE(condition->fixes.empty());
    CHECK(condition->fixes[0].description == "pm = keep[:, None, None, :] in call \"g\" (not [:, None, :]): one more size-1 dim, for the heads");
    CHECK(condition->fixes[0].valid());
    CHECK(condition->fixes[0].semantics == FixSemantics::Consistent);
  }
}

namespace {
// fairseq's learned positions: a (T, E) table made by an Embedding added to seq-first (T, B, E)
// token embeddings without the batch dim.
const char* kLearnedPositions = R"json({"version": 1,
    "modules": {"tok": "nn.Embedding(1000, 64)", "posemb": "nn.Embedding(512, 64)", "enc": "nn.TransformerEncoderLayer(64, 4)"},
    "tensors": {"ids": {"shape": ["T", "B"], "dtype": "int64"}, "pos": {"shape": ["T"], "dtype": "int64"}},
    "calls": [{"id": "te", "module": "tok", "input": "ids", "outputs": ["x"]},
              {"id": "pe", "module": "posemb", "input": "pos", "outputs": ["p"]},
              {"id": "a", "op": "add", "input": "x", "other": "p", "outputs": ["h"]},
              {"id": "enc", "module": "enc", "src": "h"}]})json";
}  // namespace

TEST_CASE("a (T, E) table made by a call gets its size-1 dim where it is made, not a transpose", "[fixes]") {
  Report report = test::check_text(kLearnedPositions);
  const Diagnostic* condition = test::find(report, "MHA083");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  const Fix& first = condition->fixes.front();
  CHECK(first.description == "give p the size-1 dim it lacks: p[:, None] gives (T, 1, 64) where it is made, after call \"pe\": p = p[:, None]");
  CHECK(first.valid());
  CHECK(first.semantics == FixSemantics::Consistent);
  Report patched = apply_fix(kLearnedPositions, first);
  CHECK(patched.count(Severity::Error) == 0);
  CHECK(patched.count(Severity::Warning) == 0);
}

TEST_CASE("searched fix: a 2-D table made by an Embedding transposed to (E, T) is suspect", "[fixes]") {
  Spec spec = parse_spec(test::document_from(kLearnedPositions));
  Report report = check_spec(spec, CheckOptions{false});
  int labelled = 0;
  for (const Fix& fix : search_candidates(spec, report, "a", 1000)) {
    if (fix.description.find("p = p.transpose(0, 1)") == std::string::npos) continue;
    CHECK(fix.semantics == FixSemantics::Suspect);
    CHECK(fix.semantics_note.find("features of p") != std::string::npos);
    ++labelled;
  }
  CHECK(labelled == 2);  // alone, and with h transposed back
}

TEST_CASE("Conv1d given attention's (B, T, E) output: T in the channel slot is an error, fixed by transpose(1, 2)", "[fixes]") {
  std::string spec = R"json({"version": 1,
    "modules": {"mha": "nn.MultiheadAttention(144, 4, batch_first=True)", "dw": "nn.Conv1d(144, 144, 31, padding=15, groups=144)"},
    "tensors": {"x": ["B", "T", 144]},
    "calls": [{"id": "att", "module": "mha", "query": "x", "key": "x", "value": "x", "need_weights": false, "outputs": ["y"]},
              {"id": "conv", "module": "dw", "input": "y", "outputs": ["z"]},
              {"id": "back", "op": "transpose", "input": "z", "dim0": 1, "dim1": 2, "outputs": ["w"]}]})json";
  Report report = test::check_text(spec);
  CHECK(test::find(report, "MHA080") == nullptr);
  const Diagnostic* condition = test::find(report, "MHA083");
  REQUIRE(condition != nullptr);
  CHECK(condition->severity() == Severity::Error);
  CHECK(condition->message == "valid only if T == 144 (input channels == in_channels), but T is a sequence length: the Conv1d's channel slot "
                              "(dim 1) takes features");
  REQUIRE_FALSE(condition->fixes.empty());
  const Fix& first = condition->fixes.front();
  CHECK(first.description.starts_with("transpose y where it is made, after call \"att\", to (B, 144, T): y = y.transpose(1, 2)"));
  CHECK(first.valid());
  CHECK(first.semantics == FixSemantics::Consistent);
  CHECK(apply_fix(spec, first).count(Severity::Error) == 0);
  // With T bound to the channel count PyTorch accepts the call: no condition left to report.
  std::string bound = spec;
  bound.replace(bound.find("\"modules\""), 0, R"("dims": {"T": 144}, )");
  CHECK(test::find(test::check_text(bound), "MHA083") == nullptr);
}

TEST_CASE("Linears built for another width than their input, beside a sibling that reads another tensor: one option fix", "[fixes]") {
  // diffusers' to_k and to_v left Linear(320, 320) for 768-wide text states; to_q reads the latents.
  std::string spec = R"json({"version": 1,
    "modules": {"to_q": "nn.Linear(320, 320, bias=False)", "to_k": "nn.Linear(320, 320, bias=False)",
                "to_v": "nn.Linear(320, 320, bias=False)"},
    "tensors": {"h": ["B", 64, 320], "ctx": ["B", 77, 768]},
    "calls": [{"id": "q", "module": "to_q", "input": "h", "outputs": ["q"]},
              {"id": "k", "module": "to_k", "input": "ctx", "outputs": ["k"]},
              {"id": "v", "module": "to_v", "input": "ctx", "outputs": ["v"]},
              {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v"}]})json";
  Report report = test::check_text(spec);
  const Diagnostic* features = test::find(report, "MHA404");
  REQUIRE(features != nullptr);
  REQUIRE_FALSE(features->fixes.empty());
  const Fix& first = features->fixes.front();
  CHECK(first.description == "construct to_k and to_v, which read ctx, with in_features=768");
  CHECK(first.valid());
  CHECK(first.semantics == FixSemantics::Consistent);
  Report patched = apply_fix(spec, first);
  CHECK(patched.count(Severity::Error) == 0);
  CHECK(patched.count(Severity::Warning) == 0);
  // Passing ctx with 320 features is still offered, after the option fix.
  CHECK(std::any_of(features->fixes.begin() + 1, features->fixes.end(),
                    [](const Fix& fix) { return fix.description == "pass input with 320 features"; }));
}

TEST_CASE("searched fix: scores q @ k with k not transposed, q's transpose (contracting the sequence) is suspect", "[fixes]") {
  // The scores are softmaxed: transposing q would contract its sequence T and give (64, 64)
  // "scores"; k.transpose(2, 3) keeps the features contracted.
  Report report = test::check_text(R"j({"version": 1, "dims": {"B": 2, "T": 10}, "tensors": {"q": ["B", 8, "T", 64], "k": ["B", 8, "T", 64]},
    "calls": [{"id": "m", "op": "matmul", "input": "q", "other": "k", "outputs": ["s"]},
              {"id": "sm", "op": "softmax", "input": "s", "dim": -1}]})j");
  const Diagnostic* contraction = test::find(report, "MHA307");
  REQUIRE(contraction != nullptr);
  REQUIRE_FALSE(contraction->fixes.empty());
  CHECK(contraction->fixes[0].description == "transpose k to (B, 8, 64, T): k.transpose(2, 3)");
  auto on_q = std::find_if(contraction->fixes.begin(), contraction->fixes.end(),
                           [](const Fix& fix) { return fix.description == "transpose q to (B, 8, 64, T): q.transpose(2, 3)"; });
  REQUIRE(on_q != contraction->fixes.end());
  CHECK(on_q->semantics == FixSemantics::Suspect);
  CHECK_THAT(on_q->semantics_note, Catch::Contains("contract q's T (sequence length) instead of its features"));
}

TEST_CASE("searched fix: attention weights @ v with v still (B, S, H, D), v is transposed, not the weights", "[fixes]") {
  // The weights' last dim is the keys the product contracts; v.transpose(1, 2) is the repair.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"s": [2, 8, 10, 12], "v": [2, 12, 8, 64]},
    "calls": [{"id": "sm", "op": "softmax", "input": "s", "dim": -1, "outputs": ["w"]},
              {"id": "m", "op": "matmul", "input": "w", "other": "v", "outputs": ["o"]}]})j");
  const Diagnostic* batch = test::find(report, "MHA308");
  REQUIRE(batch != nullptr);
  REQUIRE_FALSE(batch->fixes.empty());
  CHECK(batch->fixes[0].description == "transpose v to (2, 8, 12, 64): v.transpose(1, 2)");
  CHECK(batch->fixes[0].semantics != FixSemantics::Suspect);
  for (const Fix& fix : batch->fixes) {
    if (fix.description.find("w = w.transpose(1, 3)") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("searched fix: SDPA called (q, v, k) with Dv != D, key and value swapped first", "[fixes]") {
  Report report = test::check_text(R"j({"op": "F.scaled_dot_product_attention", "query": ["B", 8, "L", 64], "key": ["B", 8, "S", 128],
    "value": ["B", 8, "S", 64]})j");
  const Diagnostic* features = test::find(report, "MHA205");
  REQUIRE(features != nullptr);
  REQUIRE_FALSE(features->fixes.empty());
  const Fix& swap = features->fixes[0];
  CHECK_THAT(swap.description, Catch::StartsWith("swap key and value of call"));
  CHECK(swap.valid());
  CHECK(swap.semantics == FixSemantics::Consistent);
  // Dv == D: nothing says key and value were exchanged.
  Report same = test::check_text(R"j({"op": "F.scaled_dot_product_attention", "query": ["B", 8, "L", 64], "key": ["B", 8, "S", 64],
    "value": ["B", 8, "S", 64]})j");
  CHECK(same.diagnostics.empty());
}

TEST_CASE("a condition on a mask alone is no swap: the mask's own fix comes first", "[fixes]") {
  // Cross-attention with a key_padding_mask of the query's length: the mask is the slip.
  Report padding = test::check_text(R"j({"version": 1, "tensors": {"x": ["B", "T", 64], "mem": ["B", "S", 64],
    "pad": {"shape": ["B", "T"], "dtype": "bool"}}, "modules": {"mha": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "mem", "value": "mem", "key_padding_mask": "pad"}]})j");
  CHECK(test::find(padding, "MHA083") == nullptr);
  const Diagnostic* condition = test::find(padding, "MHA339");  // made for the queries: an error of its own
  REQUIRE(condition != nullptr);
  for (const Fix& fix : condition->fixes) CHECK(fix.description.find("swap") == std::string::npos);
  // An SDPA mask written (B, 1, S, T): transposed, not the arguments swapped.
  Report sdpa = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", "H", "T", "D"], "k": ["B", "H", "S", "D"],
    "m": {"shape": ["B", 1, "S", "T"], "dtype": "bool"}},
    "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "k", "attn_mask": "m"}]})j");
  CHECK(test::find(sdpa, "MHA083") == nullptr);
  const Diagnostic* transposed = test::find(sdpa, "MHA080");
  REQUIRE(transposed != nullptr);
  REQUIRE_FALSE(transposed->fixes.empty());
  CHECK(transposed->fixes[0].description == "put the mask's key dim last: m.transpose(-2, -1), (B, 1, T, S)");
  CHECK(transposed->fixes[0].valid());
}

TEST_CASE("a bool mask cast to float and passed as SDPA's attn_mask masks nothing (MHA266)", "[fixes]") {
  for (const char* cast : {R"("op": "float")", R"("op": "to", "dtype": "float32")"}) {
    Report report = test::check_text(fmt::format(R"j({{"version": 1, "tensors": {{"q": ["B", "H", "T", "D"],
      "m": {{"shape": ["B", 1, 1, "T"], "dtype": "bool"}}}},
      "calls": [{{"id": "c", {}, "input": "m", "outputs": ["mf"]}},
                {{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "mf"}}]}})j",
                                                 cast));
    const Diagnostic* added = test::find(report, "MHA266");
    REQUIRE(added != nullptr);
    REQUIRE_FALSE(added->fixes.empty());
    CHECK_THAT(added->fixes[0].description, Catch::StartsWith("pass the bool mask m itself"));
    CHECK(added->fixes[0].valid());
  }
  // A float mask that is no cast of a bool one (an additive mask) is what SDPA expects.
  Report additive = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", "H", "T", "D"], "bias": ["B", 1, 1, "T"]},
    "calls": [{"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q", "attn_mask": "bias"}]})j");
  CHECK(additive.diagnostics.empty());
}

TEST_CASE("cross-attention given the query's tensor as value: the key's tensor is passed as value, before a swap", "[fixes][search]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
      "tensors": {"h": ["B", "L", 64], "enc": ["B", "S", 64]},
      "calls": [{"id": "a", "module": "attn", "query": "h", "key": "enc", "value": "h", "outputs": ["y", "w"]}]})J");
  const Diagnostic* error = test::find(report, "MHA083");
  REQUIRE(error != nullptr);
  REQUIRE_FALSE(error->fixes.empty());
  const Fix& fix = error->fixes.front();
  CHECK(fix.description.find("(value=enc)") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  CHECK(error->message.find("query's tensor") != std::string::npos);
}

TEST_CASE("queries doubled by cat([x, x]) and a context not doubled: the context is tiled as the queries were", "[fixes][search]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"to_k": "nn.Linear(96, 64)", "to_v": "nn.Linear(96, 64)"},
      "tensors": {"x": ["B", 16, 64], "ctx": ["B", 10, 96]},
      "calls": [{"id": "c", "op": "cat", "tensors": ["x", "x"], "dim": 0, "outputs": ["q"]},
                {"id": "k", "module": "to_k", "input": "ctx", "outputs": ["k"]},
                {"id": "v", "module": "to_v", "input": "ctx", "outputs": ["v"]},
                {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "outputs": ["out"]}]})J");
  const Diagnostic* error = test::find(report, "MHA207");
  REQUIRE(error != nullptr);
  REQUIRE_FALSE(error->fixes.empty());
  const Fix& fix = error->fixes.front();
  CHECK(fix.description.find("ctx = torch.cat([ctx, ctx])") != std::string::npos);  // once, before to_k and to_v
  CHECK(fix.valid());
  CHECK(fix.semantics == FixSemantics::Consistent);
  // The copies joined on another dim tile something no argument asks for.
  for (const Fix& other : error->fixes) {
    if (other.description.find("join the tensors of cat call") != std::string::npos) CHECK(other.semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("a position table for another resolution: resampled, not the tokens moved to the batch", "[fixes][search]") {
  Report report = test::check_text(R"J({"version": 1, "tensors": {"x": ["B", 257, 64], "pos": [1, 50, 64]},
      "calls": [{"id": "a", "op": "add", "input": "x", "other": "pos", "outputs": ["h"]}]})J");
  const Diagnostic* error = test::find(report, "MHA305");
  REQUIRE(error != nullptr);
  REQUIRE_FALSE(error->fixes.empty());
  const Fix& fix = error->fixes.front();
  CHECK(fix.description.find("interpolate its 7x7 grid of positions to 16x16") != std::string::npos);
  CHECK(fix.valid());
  CHECK(fix.semantics != FixSemantics::Suspect);
}

TEST_CASE("a rule's fix that holds only under a new condition is suspect: the cat's dim comes first", "[fixes][search]") {
  Report report = test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4)"},
      "tensors": {"mem": ["M", "B", 64], "h": ["T", "B", 64]},
      "calls": [{"id": "c", "op": "cat", "tensors": ["mem", "h"], "dim": 1, "outputs": ["kv"]},
                {"id": "a", "module": "attn", "query": "h", "key": "kv", "value": "kv", "outputs": ["y", "w"]}]})J");
  const Diagnostic* error = test::find(report, "MHA040");
  REQUIRE(error != nullptr);
  REQUIRE_FALSE(error->fixes.empty());
  CHECK(error->fixes.front().description.find("dim=0") != std::string::npos);
  for (const Fix& fix : error->fixes) {
    if (fix.description.find("batch_first=True and pass query") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("a normaliser summed over the heads of (B, H, N, D) keys: the sum's dim, not the query transposed alone", "[fixes][search]") {
  Report report = test::check_text(R"J({"version": 1, "tensors": {"q": ["B", 4, "N", 32], "k": ["B", 4, "N", 32]},
      "calls": [{"id": "s", "op": "sum", "input": "k", "dim": 1, "outputs": ["ksum"]},
                {"id": "u", "op": "unsqueeze", "input": "ksum", "dim": -1, "outputs": ["ku"]},
                {"id": "z", "op": "matmul", "input": "q", "other": "ku", "outputs": ["z"]}]})J");
  const Diagnostic* condition = test::find(report, "MHA080");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes.front().description.find("sum(dim=2)") != std::string::npos);  // N beside B is the tokens
  CHECK(condition->fixes.front().semantics != FixSemantics::Suspect);
  for (const Fix& fix : condition->fixes) {
    if (fix.description.starts_with("transpose q to")) CHECK(fix.semantics == FixSemantics::Suspect);  // declared like k
  }
}

TEST_CASE("searched fixes: a broadcast fix that transposes the data is suspect, the small operand's own fix comes first", "[fixes]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"x": ["B", 50, 96], "b": [1, 96, 1]},
    "calls": [{"id": "m", "op": "add", "input": "x", "other": "b", "outputs": ["y"]}]})j");
  const Diagnostic* diagnostic = test::find(report, "MHA305");
  REQUIRE(diagnostic != nullptr);
  REQUIRE(!diagnostic->fixes.empty());
  REQUIRE(!diagnostic->fixes.front().outputs.empty());
  CHECK(tuple_str(diagnostic->fixes.front().outputs.front().shape) == "(B, 50, 96)");
  bool transposed = false;
  for (const Fix& fix : diagnostic->fixes) {
    if (fix.description.rfind("transpose x to (B, 96, 50)", 0) != 0) continue;
    transposed = true;
    CHECK(fix.valid());
    CHECK(fix.semantics == FixSemantics::Suspect);
    CHECK(fix.semantics_note.find("no longer has the layout of input (B, 50, 96)") != std::string::npos);
  }
  CHECK(transposed);
}

TEST_CASE("searched fixes: a broadcast fix that remakes the data with other sizes is not suspect", "[fixes]") {
  // rotate_half's halves joined on the heads, (B, 16, T, 32), against a (T, 64) sin table: the cat
  // on the last dim remakes the data (B, 8, T, 64); it is no transpose of it.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"q": ["B", 8, "T", 64], "sin": ["T", 64]}, "calls": [
      {"id": "x1", "op": "getitem", "input": "q", "index": "[..., :32]", "outputs": ["q1"]},
      {"id": "x2", "op": "getitem", "input": "q", "index": "[..., 32:]", "outputs": ["q2"]},
      {"id": "rot", "op": "cat", "tensors": ["q2", "q1"], "dim": 1, "outputs": ["qrot"]},
      {"id": "m", "op": "mul", "input": "qrot", "other": "sin", "outputs": ["y"]}]})j");
  const Diagnostic* diagnostic = test::find(report, "MHA305");
  REQUIRE(diagnostic != nullptr);
  REQUIRE(!diagnostic->fixes.empty());
  CHECK(diagnostic->fixes.front().description.find("dim=3") != std::string::npos);
  CHECK(diagnostic->fixes.front().valid());
  CHECK(diagnostic->fixes.front().semantics != FixSemantics::Suspect);
}

TEST_CASE("searched fixes: a broadcast fix whose output holds a dim twice where no operand does is suspect", "[fixes]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"a": ["B", "T", 1, 32], "c": ["B", "T", 32]},
    "calls": [{"id": "m", "op": "add", "input": "c", "other": "a", "outputs": ["y"]}]})j");
  const Diagnostic* diagnostic = test::find(report, "MHA083");
  REQUIRE(diagnostic != nullptr);
  REQUIRE(!diagnostic->fixes.empty());
  // The stray dim of 1 squeezed, not matched on the other operand.
  CHECK(diagnostic->fixes.front().description == "reshape a before call \"m\": a.squeeze(2)");
  bool paired = false;
  for (const Fix& fix : diagnostic->fixes) {
    if (fix.description.find("c[:, None] gives (B, 1, T, 32)") == std::string::npos) continue;
    paired = true;
    CHECK(fix.semantics == FixSemantics::Suspect);
    CHECK(fix.semantics_note.find("holds T twice") != std::string::npos);
  }
  CHECK(paired);
}

TEST_CASE("searched fix: a tensor declared like another that is read the same way shares its fault, so its transpose is not suspect", "[fixes]") {
  // flash-attn's KV cache (B, P, H, D) concatenated on dim 2 with SDPA's (B, H, T, D) keys and values.
  Report report = test::check_text(R"({"version": 1, "tensors": {"k_cache": ["B", "P", 8, 64], "v_cache": ["B", "P", 8, 64],
      "q": ["B", 8, "T", 64], "k": ["B", 8, "T", 64], "v": ["B", 8, "T", 64]},
      "calls": [{"id": "ck", "op": "cat", "tensors": ["k_cache", "k"], "dim": 2, "outputs": ["kk"]},
                {"id": "cv", "op": "cat", "tensors": ["v_cache", "v"], "dim": 2, "outputs": ["vv"]},
                {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "kk", "value": "vv", "outputs": ["o"]}]})");
  const Fix* fix = test::first_fix(report, "MHA080");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "transpose k_cache and v_cache together: .transpose(1, 2) each, where each is made");
  CHECK(fix->valid());
  CHECK(fix->semantics != FixSemantics::Suspect);
}

TEST_CASE("searched fix: seq-first token ids behind both the embeddings and the padding mask are transposed once, where declared", "[fixes]") {
  // torchtext's (T, B) batches into a batch_first=True layer: batch_first=False would leave the
  // (T, B) padding mask wrong, a transpose of either alone leaves the other.
  Report report = test::check_text(R"j({"version": 1, "modules": {"tok": "nn.Embedding(20000, 256)",
      "enc": "nn.TransformerEncoderLayer(256, 4, batch_first=True)"}, "tensors": {"ids": {"shape": ["T", "B"], "dtype": "int64"}},
      "calls": [{"id": "pm", "op": "eq", "input": "ids", "other": 1, "outputs": ["pad"]},
                {"id": "emb", "module": "tok", "input": "ids", "outputs": ["x"]},
                {"id": "enc", "module": "enc", "src": "x", "src_key_padding_mask": "pad", "outputs": ["h"]}]})j");
  const Fix* fix = test::first_fix(report, "MHA081");
  REQUIRE(fix != nullptr);
  CHECK(fix->description.find("ids") != std::string::npos);
  CHECK(fix->description.find("transpose(0, 1)") != std::string::npos);
  CHECK(fix->valid());
}

TEST_CASE("searched fix: a Conv1d output one frame longer than the input it is added to is cut at its end", "[fixes]") {
  // wav2vec2's positional conv: kernel 128 with padding 64 gives T+1 frames; SamePadLayer drops the last.
  Report report = test::check_text(R"j({"version": 1, "modules": {"pos_conv": "nn.Conv1d(768, 768, 128, padding=64, groups=16)"},
      "tensors": {"x": ["B", "T", 768]},
      "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
                {"id": "c", "module": "pos_conv", "input": "xt", "outputs": ["pc"]},
                {"id": "g", "op": "gelu", "input": "pc", "outputs": ["pg"]},
                {"id": "tb", "op": "transpose", "input": "pg", "dim0": 1, "dim1": 2, "outputs": ["pe"]},
                {"id": "a", "op": "add", "input": "x", "other": "pe", "outputs": ["h"]}]})j");
  const Fix* fix = test::first_fix(report, "MHA305");
  REQUIRE(fix != nullptr);
  CHECK(fix->description.find(":-1") != std::string::npos);
  CHECK(fix->valid());
  CHECK(fix->semantics != FixSemantics::Suspect);
}

TEST_CASE("searched fixes: whether two tensors are read alike is looked up once per way each is read, not over every pair of calls",
          "[fixes]") {
  // 20,000 adds of x and y, then a failing matmul of them; w is declared like both. The search asks
  // whether each declared twin is read as x or y is: a walk over every pair of calls was 4e8 steps.
  nlohmann::json spec = nlohmann::json::parse(R"({"version": 1, "tensors": {"x": [4, 8, 16, 32], "y": [4, 8, 16, 32], "w": [4, 8, 16, 32]},
                                                  "calls": []})");
  for (int i = 0; i < 20000; ++i) spec["calls"].push_back({{"id", fmt::format("a{}", i)}, {"op", "add"}, {"input", "x"}, {"other", "y"}});
  spec["calls"].push_back({{"id", "mm"}, {"op", "matmul"}, {"input", "x"}, {"other", "y"}});
  Spec parsed = parse_spec(test::document_from(spec.dump()));
  ReadIndex reads(parsed);
  std::vector<Fix> candidates = search_candidates(parsed, check_spec(parsed, CheckOptions{false}), "mm", 1000, reads);
  CHECK_FALSE(candidates.empty());
  CHECK(reads.lookups() > 0);
  CHECK(reads.lookups() < 1000);
  // What the index answers: read in one slot by calls alike, or not.
  CHECK(reads.read_alike("x", "x"));
  CHECK_FALSE(reads.read_alike("x", "y"));  // input and other: different slots
  CHECK_FALSE(reads.read_alike("x", "w"));  // w is read by no call
  Spec twins = parse_spec(test::document_from(R"({"version": 1, "tensors": {"k_cache": [2, 8, 4, 64], "v_cache": [2, 8, 4, 64],
      "k": [2, 8, 1, 64], "v": [2, 8, 1, 64]}, "calls": [
      {"id": "ck", "op": "cat", "tensors": ["k_cache", "k"], "dim": 2, "outputs": ["keys"]},
      {"id": "cv", "op": "cat", "tensors": ["v_cache", "v"], "dim": 2, "outputs": ["values"]},
      {"id": "other", "op": "cat", "tensors": ["v", "v_cache"], "dim": 1, "outputs": ["elsewhere"]}]})"));
  ReadIndex twin_reads(twins);
  CHECK(twin_reads.read_alike("k_cache", "v_cache"));
  CHECK(twin_reads.read_alike("v_cache", "k_cache"));
  CHECK_FALSE(twin_reads.read_alike("k_cache", "k_cache"));  // read by one call only
}

TEST_CASE("a slice whose length depends on an unbound symbol gets no searched relayout", "[fixes]") {
  // k[:, :, -W:] with W unbound is MHA303, a size mhacheck cannot write: binding W is the cure. A
  // transpose that moves the heads (4) under the slice removes it without repairing anything.
  Report window = test::check_text(R"({"version": 1, "tensors": {"q": ["B", 4, 1, 16], "k_hist": ["B", 4, "N", 16], "v_hist": ["B", 4, "N", 16],
             "keep": {"shape": ["B", 1, 1, "N"], "dtype": "bool"}},
 "calls": [{"id": "wk", "op": "getitem", "input": "k_hist", "index": "[:, :, -W:]", "outputs": ["k"]},
           {"id": "wv", "op": "getitem", "input": "v_hist", "index": "[:, :, -W:]", "outputs": ["v"]},
           {"id": "wm", "op": "getitem", "input": "keep", "index": "[..., N-W:]", "outputs": ["kw"]},
           {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "attn_mask": "kw"}]})");
  REQUIRE(test::find(window, "MHA303") != nullptr);
  for (const Diagnostic& diagnostic : window.diagnostics) {
    CAPTURE(diagnostic.message);
    if (diagnostic.id == DiagId::ShapeNotDerivable) CHECK(diagnostic.fixes.empty());
  }
}


TEST_CASE("one tensor transposed for the query but passed as is for the keys: the keys get the same transpose, the input keeps its layout", "[fixes][search]") {
  Report report = check_spec(parse_spec(test::document_from(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(32, 4)"},
    "tensors": {"x": ["B", "T", 32]},
    "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 0, "dim1": 1, "outputs": ["xt"]},
              {"id": "att", "module": "attn", "query": "xt", "key": "x", "value": "x", "need_weights": false, "outputs": ["y"]}]})json")));
  const Diagnostic* first = test::find(report, "MHA083");  // valid only if T == B
  REQUIRE(first != nullptr);
  CHECK(first->severity() == Severity::Error);
  REQUIRE_FALSE(first->fixes.empty());
  CHECK(first->fixes.front().description == "pass x.transpose(0, 1) as key and value: laid out as call \"t\" lays it out for the other arguments");
  CHECK(first->fixes.front().valid());
  for (const Fix& fix : first->fixes) {
    if (fix.description.find("transpose xt and x together") != std::string::npos || fix.description.find("transpose x and xt together") != std::string::npos) {
      CHECK(fix.semantics == FixSemantics::Suspect);
    }
  }
  // A transpose no other argument of the call reads says nothing of the layout the call wants.
  Report unrelated = check_spec(parse_spec(test::document_from(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(32, 4)"},
    "tensors": {"x": ["B", "T", 32], "q": ["T", "B", 32]},
    "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 0, "dim1": 1, "outputs": ["xt"]},
              {"id": "att", "module": "attn", "query": "q", "key": "x", "value": "x", "need_weights": false, "outputs": ["y"]}]})json")));
  const Diagnostic* condition = test::find(unrelated, "MHA083");
  REQUIRE(condition != nullptr);
  for (const Fix& fix : condition->fixes) CHECK(fix.description.find("laid out as call") == std::string::npos);
}

TEST_CASE("a fix of one call is made on its twin too: buffers cut alike and read alike get the same repair", "[fixes]") {
  // Rotary tables (1, 1, 512, 32) cut on their leading dim of 1 ([:20] cuts nothing), each read by
  // a mul with the keys: the cut moved to the positions in both getitems, not one.
  Report report = test::check_text(R"({"tensors": {"k": ["B", 4, 20, 32], "k_rot": ["B", 4, 20, 32],
      "cos_table": [1, 1, 512, 32], "sin_table": [1, 1, 512, 32]}, "modules": {},
    "calls": [{"id": "cut_cos", "op": "getitem", "input": "cos_table", "index": "[:20]", "outputs": ["c"]},
              {"id": "cut_sin", "op": "getitem", "input": "sin_table", "index": "[:20]", "outputs": ["s"]},
              {"id": "kc", "op": "mul", "input": "k", "other": "c", "outputs": ["a"]},
              {"id": "ks", "op": "mul", "input": "k_rot", "other": "s", "outputs": ["b"]}]})");
  const Diagnostic* broadcast = test::find(report, "MHA305");
  REQUIRE(broadcast != nullptr);
  REQUIRE_FALSE(broadcast->fixes.empty());
  const Fix& first = broadcast->fixes.front();
  CHECK(first.valid());
  // (The getitem's own warning, a slice past the end of its dim, offers the same move first.)
  CHECK(first.description.find("cos_table[:, :, :20]") != std::string::npos);
  CHECK(first.description.find("sin_table[:, :, :20]") != std::string::npos);
  // The cut that keeps [:20] on the dim of 1 is no repair of it.
  for (const Fix& fix : broadcast->fixes) CHECK(fix.description.find("[:20, :, :20]") == std::string::npos);
}

TEST_CASE("a fix made on twin calls too takes the nearest two, not every layer of a stack that repeats the slip", "[fixes]") {
  // Six layers, each an SDPA call with a (B, T, T) mask against (B, 8, T, T) scores: each layer's
  // own diagnostic carries its own fix, extended to at most two of its twins.
  nlohmann::json spec = {{"version", 1}, {"tensors", nlohmann::json::object()}, {"calls", nlohmann::json::array()}};
  for (int layer = 0; layer < 6; ++layer) {
    const std::string q = fmt::format("q{}", layer), m = fmt::format("m{}", layer);
    spec["tensors"][q] = {"B", 8, "T", 32};
    spec["tensors"][m] = {{"shape", {"B", "T", "T"}}, {"dtype", "bool"}};
    spec["calls"].push_back({{"id", fmt::format("a{}", layer)}, {"op", "F.scaled_dot_product_attention"}, {"query", q}, {"key", q}, {"value", q}, {"attn_mask", m}});
  }
  Report report = test::check_text(spec.dump());
  std::size_t extended = 0;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    for (const Fix& fix : diagnostic.fixes) {
      std::size_t twins = 0;
      for (std::size_t at = fix.description.find("the same in call"); at != std::string::npos; at = fix.description.find("the same in call", at + 1)) ++twins;
      CHECK(twins <= 2);
      if (twins > 0) ++extended;
    }
  }
  CHECK(extended > 0);
}

TEST_CASE("weights softmaxed over a dim other than their last: the transpose that brings it last is consistent", "[fixes][search]") {
  // Per-head pooling weights (B, H, T, 1) softmaxed over T (dim 2), read by weights @ values
  // (B, H, T, D): the product contracts the weights' last dim, 1, not T. a.transpose(2, 3) makes
  // it contract T, the dim the weights sum to 1 over.
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 9, "D": 16},
    "tensors": {"s": ["B", "H", "T", 1], "v": ["B", "H", "T", "D"]},
    "calls": [{"id": "sm", "op": "softmax", "input": "s", "dim": 2, "outputs": ["a"]},
              {"id": "p", "op": "matmul", "input": "a", "other": "v", "outputs": ["z"]}]})");
  REQUIRE_FALSE(report.diagnostics.empty());
  const Diagnostic& first = report.diagnostics.front();
  REQUIRE_FALSE(first.fixes.empty());
  CHECK(first.fixes[0].description.find("a.transpose(2, 3)") != std::string::npos);
  CHECK(first.fixes[0].valid());
  CHECK(first.fixes[0].semantics == FixSemantics::Consistent);
  // Softmaxed over their last dim (the keys), the same transpose moves the keys out of the product.
  Report keys_last = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 9, "D": 16},
    "tensors": {"s": ["B", "H", "T", 1], "v": ["B", "H", "T", "D"]},
    "calls": [{"id": "sm", "op": "softmax", "input": "s", "dim": -1, "outputs": ["a"]},
              {"id": "p", "op": "matmul", "input": "a", "other": "v", "outputs": ["z"]}]})");
  REQUIRE_FALSE(keys_last.diagnostics.empty());
  for (const Fix& fix : keys_last.diagnostics.front().fixes) {
    if (fix.description.find("a.transpose(2, 3)") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("a fix that makes both operands of an elementwise call one value is suspect", "[fixes]") {
  // A same-label matrix of class ids (B, N): ids[:, None] - ids[None, :] pairs the batch with the
  // batch (B, B, N). Rewriting the second index as [:, None] gives ids[:, None] - ids[:, None],
  // all 0 whatever the ids; [:, :, None] pairs positions within an entry.
  Report report = test::check_text(R"({"version": 1,
    "tensors": {"ids": {"shape": ["B", "N"], "dtype": "int64"}, "x": ["B", 4, "N", 32]},
    "calls": [{"id": "ga", "op": "getitem", "input": "ids", "index": "[:, None]", "outputs": ["ia"]},
              {"id": "gb", "op": "getitem", "input": "ids", "index": "[None, :]", "outputs": ["ib"]},
              {"id": "d", "op": "ne", "input": "ia", "other": "ib", "outputs": ["differ"]},
              {"id": "g4", "op": "getitem", "input": "differ", "index": "[:, None]", "outputs": ["m"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "x", "key": "x", "value": "x", "attn_mask": "m"}]})");
  REQUIRE_FALSE(report.diagnostics.empty());
  const Diagnostic& first = report.diagnostics.front();
  REQUIRE_FALSE(first.fixes.empty());
  CHECK(first.fixes[0].semantics != FixSemantics::Suspect);
  CHECK(first.fixes[0].description.find("[:, None]: ib = ids[:, None]") == std::string::npos);
  bool self_labelled = false;
  for (const Fix& fix : first.fixes) {
    if (fix.description.ends_with("ib = ids[:, None]")) {
      CHECK(fix.semantics == FixSemantics::Suspect);
      self_labelled = fix.semantics_note.find("combines a value with itself") != std::string::npos;
    }
  }
  CHECK(self_labelled);
}

TEST_CASE("self-pairings are found in one pass over the calls: a long chain of x + x is checked and its error repaired", "[fixes]") {
  // 300 calls x_i = x_{i-1} + x_{i-1}, then a failing matmul: every fix is labelled against the
  // original's self-pairings (made once) and the patched graph's, each one pass over the calls.
  // Following each operand's value back through the chain anew took seconds per fix (timed in
  // bench/, not here).
  std::string calls = R"json({"id": "a0", "op": "add", "input": "x", "other": "x", "outputs": ["x0"]})json";
  for (int i = 1; i < 300; ++i)
    calls += fmt::format(R"json(, {{"id": "a{0}", "op": "add", "input": "x{1}", "other": "x{1}", "outputs": ["x{0}"]}})json", i, i - 1);
  const std::string text = R"json({"version": 1, "tensors": {"x": [2, 10, 64], "k": [2, 10, 64]}, "calls": [)json" + calls +
                           R"json(, {"id": "mm", "op": "matmul", "input": "x299", "other": "k", "outputs": ["s"]}]})json";
  Report report = test::check_text(text);
  REQUIRE_FALSE(report.diagnostics.empty());
  CHECK(report.diagnostics.front().call == "mm");
  CHECK_FALSE(report.diagnostics.front().fixes.empty());
}

TEST_CASE("an attention output added to its key/value tensor: the residual is the query's", "[fixes]") {
  // SDPA cross-attention of text queries (B, H, L, D) over image keys (B, H, P, D), its output
  // added to the image keys: the residual belongs to the query's tensor. Swapping query and keys
  // would make the image attend to the text.
  Report report = test::check_text(R"({"version": 1,
    "tensors": {"txt": ["B", 8, "L", 64], "img": ["B", 8, "P", 64]},
    "calls": [{"id": "x", "op": "F.scaled_dot_product_attention", "query": "txt", "key": "img", "value": "img", "outputs": ["o"]},
              {"id": "r", "op": "add", "input": "o", "other": "img", "outputs": ["txt2"]}]})");
  REQUIRE_FALSE(report.diagnostics.empty());
  const Diagnostic& first = report.diagnostics.front();
  CHECK(first.severity() == Severity::Error);
  REQUIRE(first.fixes.size() >= 2);
  CHECK(first.fixes[0].description.rfind("add the residual to the query's tensor: o + txt in call \"r\"", 0) == 0);
  CHECK(first.fixes[0].valid());
  CHECK(first.fixes[0].semantics == FixSemantics::Consistent);
  bool swap_suspect = false;
  for (const Fix& fix : first.fixes) {
    if (fix.description.rfind("swap query and key", 0) == 0) swap_suspect = fix.semantics == FixSemantics::Suspect;
  }
  CHECK(swap_suspect);
}

TEST_CASE("a query named for memory slots gets the residual fix, a query named as memory or a key read as a query elsewhere the swap", "[fixes]") {
  auto spec = [](const std::string& query, const std::string& extra_call) {
    return R"json({"version": 1, "modules": {"ca": "nn.MultiheadAttention(32, 4, batch_first=True)", "sa": "nn.MultiheadAttention(32, 4, batch_first=True)"},
      "tensors": {")json" + query + R"json(": ["B", "M", 32], "tokens": ["B", "T", 32]},
      "calls": [)json" + extra_call + R"json({"id": "c", "module": "ca", "query": ")json" + query + R"json(", "key": "tokens", "value": "tokens", "outputs": ["o", "w"]},
                {"id": "r", "op": "add", "input": "tokens", "other": "o", "outputs": ["y"]}]})json";
  };
  auto first_fix = [](const std::string& text) {
    Report report = test::check_text(text);
    return report.diagnostics.empty() || report.diagnostics.front().fixes.empty() ? std::string() : report.diagnostics.front().fixes.front().description;
  };
  // RMT-style memory slots and context queries ask: their names' last words say so.
  CHECK(first_fix(spec("memory_slots", "")).rfind("add the residual to the query's tensor", 0) == 0);
  CHECK(first_fix(spec("mem_queries", "")).rfind("add the residual to the query's tensor", 0) == 0);
  // An encoder's memory is what attention reads: the arguments were swapped.
  CHECK(first_fix(spec("encoder_memory", "")).rfind("swap query and key/value of call \"c\"", 0) == 0);
  // The tokens self-attend first: they are the stream that asks, whatever the query's name.
  std::string self_first = R"json({"id": "s", "module": "sa", "query": "tokens", "key": "tokens", "value": "tokens", "outputs": ["h", "hw"]},)json";
  CHECK(first_fix(spec("slots", self_first)).rfind("swap query and key/value of call \"c\"", 0) == 0);
  CHECK(first_fix(spec("slots", "")).rfind("add the residual to the query's tensor", 0) == 0);
}

TEST_CASE("a sequence forced to 1 by a declared tensor's 1 stays a condition, by a module an error saying how to bind one step", "[fixes][roles]") {
  // One decoding step: the current row (1, S) of a causal mask with a query of length L.
  Report step = test::check_text(R"json({"version": 1, "modules": {"m": "nn.MultiheadAttention(32, 4, batch_first=True)"},
    "tensors": {"q": ["B", "L", 32], "kv": ["B", "S", 32], "row": {"shape": [1, "S"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "m", "query": "q", "key": "kv", "value": "kv", "attn_mask": "row"}]})json");
  CHECK(test::find(step, "MHA083") == nullptr);
  CHECK(test::find(step, "MHA080") != nullptr);
  // A Linear(1, 16) reading (B, L): the 1 is the module's, an error whose note says how to declare one step.
  Report linear = test::check_text(R"json({"version": 1, "modules": {"emb": "nn.Linear(1, 16)"},
    "tensors": {"t": ["B", "L"]}, "calls": [{"id": "e", "module": "emb", "input": "t", "outputs": ["te"]}]})json");
  const Diagnostic* forced = test::find(linear, "MHA083");
  REQUIRE(forced != nullptr);
  bool advised = false;
  for (const std::string& note : forced->notes) advised = advised || note.find("if this is one decoding step, bind L to 1 (\"dims\": {\"L\": 1})") != std::string::npos;
  CHECK(advised);
}

TEST_CASE("a sequence length that must be 1 is an error (MHA083): the other side holds one position", "[fixes][roles]") {
  // Token-pooling weights (B, L, 1) from a Linear(64, 1), softmaxed over the tokens, then
  // w @ x (B, L, 64): the product contracts the weights' 1 with the L tokens, valid for L == 1 only.
  Report report = test::check_text(R"j({"version": 1, "modules": {"score": "nn.Linear(64, 1)"},
    "tensors": {"x": ["B", "L", 64]},
    "calls": [{"id": "s", "module": "score", "input": "x", "outputs": ["raw"]},
              {"id": "sm", "op": "softmax", "input": "raw", "dim": -2, "outputs": ["w"]},
              {"id": "p", "op": "matmul", "input": "w", "other": "x", "outputs": ["pooled"]}]})j");
  const Diagnostic* forced = test::find(report, "MHA083");
  REQUIRE(forced != nullptr);
  CHECK(forced->severity() == Severity::Error);
  CHECK_THAT(forced->message, Catch::StartsWith("valid only if L == 1"));
  CHECK_THAT(forced->message, Catch::EndsWith("but L is a sequence length: the other side holds one position"));
  REQUIRE_FALSE(forced->fixes.empty());
  CHECK(forced->fixes[0].description.find("w = w.transpose(1, 2)") != std::string::npos);
  CHECK(forced->fixes[0].semantics == FixSemantics::Consistent);
  // A size that is no sequence (D features) against 1 stays a condition.
  Report features = test::check_text(R"j({"version": 1, "tensors": {"a": ["B", 4, 1], "b": ["B", "D", 8]},
    "calls": [{"id": "p", "op": "bmm", "input": "a", "mat2": "b"}]})j");
  CHECK(test::find(features, "MHA083") == nullptr);
  CHECK(test::find(features, "MHA080") != nullptr);
}

TEST_CASE("is_calls_entry_pointer: a whole entry of the calls list, not a value inside one", "[fixes]") {
  CHECK(CallContext::is_calls_entry_pointer("/calls/3"));
  CHECK(CallContext::is_calls_entry_pointer("/calls/-"));
  CHECK(CallContext::is_calls_entry_pointer(CallContext::calls_entry_pointer(12)));
  CHECK_FALSE(CallContext::is_calls_entry_pointer("/calls/3/input"));
  CHECK_FALSE(CallContext::is_calls_entry_pointer("/calls"));
  CHECK_FALSE(CallContext::is_calls_entry_pointer("/tensors/calls/3"));
  CHECK_FALSE(CallContext::is_calls_entry_pointer("/callsx/3"));
}

TEST_CASE("searched fixes: an output holding a dim twice is the pairing meant when a keepdim reduction over that dim left the 1", "[fixes]") {
  // rows (N, 12, L, 1) = s.sum(-1, keepdim=True), kept to meet another operand's L entries: an
  // outer product (N, 12, L, L); cols without keepdim (N, 12, L) needs a size-1 dim before its L.
  Report report = test::check_text(R"j({"version": 1, "tensors": {"s": ["N", 12, "L", "L"]},
    "calls": [{"id": "r", "op": "sum", "input": "s", "dim": -1, "keepdim": true, "outputs": ["rows"]},
              {"id": "c", "op": "sum", "input": "s", "dim": -2, "outputs": ["cols"]},
              {"id": "p", "op": "mul", "input": "rows", "other": "cols", "outputs": ["prod"]}]})j");
  int seen = 0;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    for (const Fix& fix : diagnostic.fixes) {
      if (fix.description.find("cols[:, :, None] gives (N, 12, 1, L)") == std::string::npos) continue;
      ++seen;
      CHECK(fix.semantics != FixSemantics::Suspect);
      CHECK(fix.valid());
    }
  }
  CHECK(seen >= 1);
  // The same pair of operands with the 1 made by a reduction over another dim (12): the (N, 12, 12, L)
  // a pairing over the heads would give stays suspect.
  Report other = test::check_text(R"j({"version": 1, "tensors": {"s": ["N", 12, "L", "L"]},
    "calls": [{"id": "r", "op": "sum", "input": "s", "dim": -2, "keepdim": true, "outputs": ["cols"]},
              {"id": "c", "op": "sum", "input": "s", "dim": -1, "outputs": ["rows"]},
              {"id": "p", "op": "mul", "input": "cols", "other": "rows", "outputs": ["prod"]}]})j");
  for (const Diagnostic& diagnostic : other.diagnostics) {
    for (const Fix& fix : diagnostic.fixes) {
      if (!fix.outputs.empty() && fix.description.find("rows[:, None]") != std::string::npos) CHECK(fix.semantics == FixSemantics::Suspect);
    }
  }
}

TEST_CASE("fix search: copies joined on the dim another argument holds at twice the piece's size are the tiling meant", "[fixes]") {
  // Rotary/xPos tables doubled with cat((f, f), dim=0) where dim=-1 (the features) was meant.
  Report doubled = test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"q": ["B", 4, "T", 48], "freqs": ["T", 24]}, "calls": [{"id": "c", "op": "cat", "tensors": ["freqs", "freqs"], "dim": 0, "outputs": ["emb"]}, {"id": "m", "op": "mul", "input": "q", "other": "emb", "outputs": ["qr"]}]})json");
  const Fix* fix = test::first_fix(doubled, "MHA305");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "join the tensors of cat call \"c\" on dim 1: torch.cat([...], dim=1)");
  CHECK(fix->verified);
  CHECK(fix->semantics == FixSemantics::Consistent);
  // Copies joined on the batch (classifier-free guidance) asked for by no other argument stay suspect.
  Report batch = test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"x": ["B", 16, 32], "cond": ["B", 16, 32], "w": [32, 32]}, "calls": [{"id": "c", "op": "cat", "tensors": ["x", "x"], "dim": 0, "outputs": ["xx"]}, {"id": "m", "op": "add", "input": "xx", "other": "cond", "outputs": ["y"]}]})json");
  const Diagnostic* broadcast = test::find(batch, "MHA305");
  REQUIRE(broadcast != nullptr);
  for (const Fix& each : broadcast->fixes) {
    if (each.description.find("join the tensors of cat") == 0) CHECK(each.semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("fix search: a repeat_interleave on the wrong dim is moved to the dim the other operand holds repeated", "[fixes]") {
  Report upsampled = test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"low": ["B", 25, 64], "skip": ["B", 100, 64]}, "calls": [{"id": "u", "op": "repeat_interleave", "input": "low", "repeats": 4, "dim": -1, "outputs": ["up"]}, {"id": "a", "op": "add", "input": "up", "other": "skip", "outputs": ["y"]}]})json");
  const Fix* fix = test::first_fix(upsampled, "MHA305");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "repeat along dim -2 in call \"u\" (written on dim -1): repeat_interleave(4, dim=-2)");
  CHECK(fix->verified);
  CHECK(fix->semantics == FixSemantics::Consistent);
  CHECK(test::find(test::check_text(R"json({"version": 1, "modules": {}, "tensors": {"low": ["B", 25, 64], "skip": ["B", 100, 64]}, "calls": [{"id": "u", "op": "repeat_interleave", "input": "low", "repeats": 4, "dim": -2, "outputs": ["up"]}, {"id": "a", "op": "add", "input": "up", "other": "skip", "outputs": ["y"]}]})json"), "MHA305") == nullptr);
}
