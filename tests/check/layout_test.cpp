// Memory layout (src/check/layout.hpp): every chain of tests/pytorch/layout_cases.json, generated
// by tests/pytorch/gen_layout_cases.py from real PyTorch, gets PyTorch's verdict (view refused
// where PyTorch refuses it, at the same call, with its message; the final shape otherwise); and
// MHA370's fixes, with symbols, are verified on the whole graph.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "check/fixture_cases.hpp"
#include "core/shape_json.hpp"
#include "ops/op_test_support.hpp"

using namespace mhacheck;
using nlohmann::json;

namespace {

std::string mismatch(const json& c, const Report& report) {
  const json& expect = c["expect"];
  std::string verdict = test::verdict_mismatch(expect, report);
  if (!verdict.empty() || !expect["ok"].get<bool>()) return verdict;
  json shape = shape_json(report.calls.back().outputs.at(0).shape);
  if (shape != expect["shape"]) return fmt::format("shape {} expected {}", shape.dump(), expect["shape"].dump());
  return {};
}

const Fix* fix_with(const Diagnostic& diagnostic, const std::string& text) {
  for (const Fix& fix : diagnostic.fixes) {
    if (fix.description.find(text) != std::string::npos) return &fix;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("mhacheck agrees with PyTorch on every generated layout chain", "[pytorch][layout]") {
  json cases = test::load_fixture("layout_cases.json");
  test::check_fixture_cases(cases, mismatch);
  int refused = 0;
  for (const json& c : cases["cases"]) {
    if (!c["expect"]["ok"].get<bool>()) ++refused;
  }
  CHECK(cases["cases"].size() >= 500);
  CHECK(refused >= 50);
}

TEST_CASE("view after transpose with symbols: MHA370 naming the transpose, two verified fixes", "[layout]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"H": 8}, "tensors": {"out": ["B", "H", "T", 64]},
    "calls": [{"id": "merge", "op": "transpose", "input": "out", "dim0": 1, "dim1": 2, "outputs": ["o"]},
              {"id": "v", "op": "view", "input": "o", "shape": ["B", "T", -1]}]})");
  const Diagnostic* view = test::find(report, "MHA370");
  REQUIRE(view != nullptr);
  CHECK(view->call == "v");
  CHECK(view->message.find("call \"merge\" (transpose)") != std::string::npos);
  CHECK(test::raised_message(report) ==
        "RuntimeError: view size is not compatible with input tensor's size and stride (at least one dimension spans across two "
        "contiguous subspaces). Use .reshape(...) instead.");
  const Fix* reshape = fix_with(*view, "reshape instead of view");
  const Fix* contiguous = fix_with(*view, ".contiguous().view(");
  REQUIRE(reshape != nullptr);
  REQUIRE(contiguous != nullptr);
  CHECK(reshape->valid());
  CHECK(contiguous->valid());
}

TEST_CASE("views that keep memory order pass, symbols whose values decide stay silent", "[layout]") {
  // Splitting heads then transposing, merging after transposing back: the usual attention code.
  Report heads = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 512]},
    "calls": [{"id": "s", "op": "view", "input": "x", "shape": ["B", "T", 8, 64], "outputs": ["xs"]},
              {"id": "t", "op": "transpose", "input": "xs", "dim0": 1, "dim1": 2, "outputs": ["xh"]},
              {"id": "b", "op": "transpose", "input": "xh", "dim0": 1, "dim1": 2, "outputs": ["xb"]},
              {"id": "m", "op": "view", "input": "xb", "shape": ["B", "T", 512]}]})");
  CHECK(heads.ok());
  CHECK(test::find(heads, "MHA370") == nullptr);
  // A transposed (B, T, 1) tensor: (B, 1, T) views as (B, T) whatever B and T are.
  Report size_one = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 1]},
    "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
              {"id": "v", "op": "view", "input": "xt", "shape": ["B", "T"]}]})");
  CHECK(size_one.ok());
  // An MHA output's layout depends on the path PyTorch takes: nothing is claimed.
  Report unknown = test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(16, 2, batch_first=True)"},
    "tensors": {"q": [2, 5, 16]},
    "calls": [{"id": "a", "module": "attn", "query": "q", "key": "q", "value": "q", "outputs": ["o", "w"]},
              {"id": "v", "op": "view", "input": "o", "shape": [10, 16]}]})json");
  CHECK(test::find(unknown, "MHA370") == nullptr);
}

TEST_CASE("a view whose element count the symbols decide claims nothing about memory", "[layout]") {
  // Swin's window partition written with free symbols: (B, L, C) viewed (B, H, W, C), then cut
  // into windows (B, h, 7, w, 7, C) after a permute and contiguous(). The counts are equal only if
  // L == H*W and H*W == 49*h*w (MHA080 says so); the tensors viewed are contiguous, so PyTorch
  // views them whenever the counts agree, and a transposed (B, L, C) too when L == H*W.
  for (const char* made : {R"({"id": "c", "op": "contiguous", "input": "xt", "outputs": ["xc"]})",
                           R"({"id": "c", "op": "transpose", "input": "xt", "dim0": 1, "dim1": 1, "outputs": ["xc"]})"}) {
    Report report = test::check_text(std::string(R"({"version": 1, "tensors": {"x": ["B", 96, "L"]},
      "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]}, )") + made + R"(,
                {"id": "v", "op": "view", "input": "xc", "shape": ["B", "H", "W", 96], "outputs": ["y"]},
                {"id": "w", "op": "view", "input": "y", "shape": ["B", "h", 7, "w", 7, 96], "outputs": ["y2"]},
                {"id": "p", "op": "permute", "input": "y2", "dims": [0, 1, 3, 2, 4, 5], "outputs": ["y3"]},
                {"id": "c2", "op": "contiguous", "input": "y3", "outputs": ["y4"]},
                {"id": "v3", "op": "view", "input": "y4", "shape": [-1, 49, 96]}]})");
    CHECK(report.ok());
    CHECK(test::find(report, "MHA370") == nullptr);
    CHECK(test::find(report, "MHA080") != nullptr);
  }
}

TEST_CASE("a tensor written with \"contiguous\": false has an unknown layout: no view of it is flagged", "[layout]") {
  // What the tracer declares for an unrecorded op's output, torch.movedim(x, 1, 2) say: its
  // strides are not known, so a view after transposing it back claims nothing.
  auto spec = [](const std::string& x) {
    return R"({"version": 1, "tensors": {"x": )" + x + R"(},
      "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
                {"id": "v", "op": "view", "input": "xt", "shape": [2, -1]}]})";
  };
  Report unknown = test::check_text(spec(R"({"shape": [2, 3, 4], "contiguous": false})"));
  CHECK(unknown.ok());
  CHECK(test::find(unknown, "MHA370") == nullptr);
  Report contiguous = test::check_text(spec(R"({"shape": [2, 3, 4], "contiguous": true})"));
  const Diagnostic* view = test::find(contiguous, "MHA370");
  REQUIRE(view != nullptr);
  CHECK(view->call == "v");
  CHECK(test::find(test::check_text(spec("[2, 3, 4]")), "MHA370") != nullptr);  // the default is contiguous
  // An inline tensor may say so too.
  Report inline_unknown = test::check_text(R"({"version": 1,
    "calls": [{"id": "t", "op": "transpose", "input": {"shape": [2, 3, 4], "contiguous": false}, "dim0": 1, "dim1": 2, "outputs": ["xt"]},
              {"id": "v", "op": "view", "input": "xt", "shape": [2, -1]}]})");
  CHECK(inline_unknown.ok());
}

TEST_CASE("reshape copies where view cannot, the copy is contiguous again", "[layout]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": [2, 3, 4]},
    "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 0, "dim1": 1, "outputs": ["xt"]},
              {"id": "r", "op": "reshape", "input": "xt", "shape": [6, 4], "outputs": ["xr"]},
              {"id": "v", "op": "view", "input": "xr", "shape": [24]}]})");
  CHECK(report.ok());
  Report expanded = test::check_text(R"({"version": 1, "tensors": {"x": [3, 1]},
    "calls": [{"id": "e", "op": "expand", "input": "x", "size": [3, 4], "outputs": ["xe"]},
              {"id": "v", "op": "view", "input": "xe", "shape": [12]}]})");
  const Diagnostic* view = test::find(expanded, "MHA370");
  REQUIRE(view != nullptr);
  CHECK(view->message.find("call \"e\" (expand)") != std::string::npos);
}

TEST_CASE("merging heads without the transpose back: the MHA312 fix reshapes, and PyTorch accepts it", "[layout]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"out": ["B", "H", "T", "D"]},
    "calls": [{"id": "m", "op": "view", "input": "out", "shape": ["B", "T", "H*D"]}]})");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  const Fix* fix = fix_with(*moved, "move the dims first");
  REQUIRE(fix != nullptr);
  CHECK(fix->description.find(".transpose(1, 2).reshape(B, T, H*D)") != std::string::npos);
  CHECK(fix->valid());
}

TEST_CASE("searched fix: a transpose inserted before a view comes with .contiguous(), the one PyTorch accepts", "[layout][fixes]") {
  // qh, a (B, T, H, D) view, goes to SDPA unmoved (MHA209) and is also flattened by a view: the
  // plain transpose would make that view fail, so only the contiguous variant is verified.
  Report report = test::check_text(R"json({"version": 1, "dims": {"B": 2, "T": 10, "H": 8, "D": 64},
    "modules": {"qkv": "nn.Linear(512, 512)"}, "tensors": {"x": ["B", "T", 512]},
    "calls": [{"id": "q", "module": "qkv", "input": "x", "outputs": ["q"]},
              {"id": "v", "op": "view", "input": "q", "shape": ["B", "T", "H", "D"], "outputs": ["qh"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "qh", "key": "qh", "value": "qh", "outputs": ["o"]},
              {"id": "f", "op": "view", "input": "qh", "shape": ["B", -1]}]})json");
  const Diagnostic* layout = test::find(report, "MHA209");
  REQUIRE(layout != nullptr);
  REQUIRE_FALSE(layout->fixes.empty());
  const Fix& fix = layout->fixes.front();
  CHECK(fix.description == "transpose qh where it is made, after call \"v\", to (B, H, T, D): qh = qh.transpose(1, 2).contiguous()");
  CHECK(fix.valid());
  for (const Fix& other : layout->fixes) CHECK(other.description.find(".contiguous()") != std::string::npos);
}

TEST_CASE("a merged dim written B*8 cut in the reversed order names the batch in MHA312's message, not the count", "[layout][roles]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 3}, "tensors": {"cls": ["B*8", 64]},
    "calls": [{"id": "v", "op": "view", "input": "cls", "shape": [8, "B", 64], "outputs": ["frames"]}]})");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  CHECK(moved->message.find("dim 1, the batch B, mixes entries") != std::string::npos);
  // Read through an index first, the factors' strides are compared: the batch is named there too.
  Report indexed = test::check_text(R"({"version": 1, "dims": {"B": 3}, "tensors": {"x": ["B*8", 5, 64]},
    "calls": [{"id": "g", "op": "getitem", "input": "x", "index": "[:, 0]", "outputs": ["cls"]},
              {"id": "v", "op": "view", "input": "cls", "shape": [8, "B", 64], "outputs": ["frames"]}]})");
  const Diagnostic* strided = test::find(indexed, "MHA312");
  REQUIRE(strided != nullptr);
  CHECK(strided->message.find("reads dim 1 as B at stride 64") != std::string::npos);
}

// Merged dims keep their factors' memory order (issue 11): a view reads memory row-major, so a
// dim keeps its meaning only at the stride the input holds it at.
TEST_CASE("a written merged dim is in memory order: view(H, B, T, D) of (B*H, T, D) is MHA312, fixed by view(B, H, ...) and a transpose",
          "[layout][roles]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16}, "tensors": {"o": ["B*H", "T", "D"]},
    "calls": [{"id": "v", "op": "view", "input": "o", "shape": ["H", "B", "T", "D"], "outputs": ["o4"]}]})");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  // Both factors moved; the message names the batch, whose entries get mixed.
  CHECK(moved->message.find("reads dim 1 as B at stride 160, but input (8, 10, 16) holds B at stride 640") != std::string::npos);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes.front().description == "view in the input's order, then move the dims: o.view(B, H, T, D).transpose(0, 1)");
  CHECK(moved->fixes.front().valid());
  // The same order is silent, and so is heads merged back after the transpose.
  Report right = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16}, "tensors": {"o": ["B*H", "T", "D"]},
    "calls": [{"id": "v", "op": "view", "input": "o", "shape": ["B", "H", "T", "D"], "outputs": ["o4"]},
              {"id": "t", "op": "transpose", "input": "o4", "dim0": 1, "dim1": 2, "outputs": ["o5"]},
              {"id": "m", "op": "reshape", "input": "o5", "shape": ["B", "T", "H*D"]}]})");
  CHECK(right.diagnostics.empty());
}

TEST_CASE("a named dim read at another stride: (B, C, 7, 7) viewed (B, 49, C) is MHA312, fixed by a permute", "[layout][roles]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 2, "C": 512}, "tensors": {"feat": ["B", "C", 7, 7]},
    "calls": [{"id": "v", "op": "view", "input": "feat", "shape": ["B", 49, "C"], "outputs": ["x"]}]})");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  CHECK(moved->message.find("reads dim 2 as C at stride 1") != std::string::npos);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes.front().description == "move the dims first: feat.permute(0, 2, 3, 1).reshape(B, 49, C)");
  CHECK(moved->fixes.front().valid());
  // Keeping the channels where they are, or flattening the spatial dims, reads nothing elsewhere.
  Report right = test::check_text(R"({"version": 1, "dims": {"B": 2, "C": 512}, "tensors": {"feat": ["B", "C", 7, 7]},
    "calls": [{"id": "v", "op": "view", "input": "feat", "shape": ["B", "C", 49], "outputs": ["x"]},
              {"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2}]})");
  CHECK(right.diagnostics.empty());
}

// An unnamed size says nothing about what a dim stands for: views that reinterpret memory on
// purpose are silent (review of issue 11).
TEST_CASE("views of unnamed sizes are silent: a weight viewed (4, 6) of (6, 4), Transformer-XL's rel_shift", "[layout][roles]") {
  Report weight = test::check_text(R"({"version": 1, "tensors": {"w": [6, 4]},
    "calls": [{"id": "v", "op": "view", "input": "w", "shape": [4, 6]}]})");
  CHECK(weight.diagnostics.empty());
  Report shift = test::check_text(R"({"version": 1, "tensors": {"x": [2, 4, 10, 19], "zero": [2, 4, 10, 1]},
    "calls": [{"id": "c", "op": "cat", "tensors": ["zero", "x"], "dim": -1, "outputs": ["xp"]},
              {"id": "v", "op": "view", "input": "xp", "shape": [2, 4, 20, 10]}]})");
  CHECK(shift.diagnostics.empty());
  // Written with names, the shift writes T twice (2*T and T): neither stands for the input's T.
  Report named = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10}, "tensors": {"xp": ["B", "H", "T", "2*T"]},
    "calls": [{"id": "v", "op": "view", "input": "xp", "shape": ["B", "H", "2*T", "T"]}]})");
  CHECK(named.diagnostics.empty());
  // A coefficient written first says nothing about memory order: Swin's window partition of
  // (B, 7*h, 7*w, C) rows into (B, h, 7, w, 7, C) windows.
  Report windows = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "7*h", "7*w", 96]},
    "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", "h", 7, "w", 7, 96]}]})");
  CHECK(windows.diagnostics.empty());
}

// A -1 does not take a name the shape writes itself (review of issue 11): at H == T, Llama's
// view(B, T, -1, D) leaves the heads there, not a second T.
TEST_CASE("a -1 is not named after an input dim whose name the shape writes", "[layout][roles]") {
  Report llama = test::check_text(R"({"version": 1, "dims": {"B": 2, "T": 8, "D": 16}, "tensors": {"q": ["B", "T", 128]},
    "calls": [{"id": "v", "op": "view", "input": "q", "shape": ["B", "T", -1, "D"], "outputs": ["q1"]},
              {"id": "t", "op": "transpose", "input": "q1", "dim0": 1, "dim1": 2, "outputs": ["q2"]},
              {"id": "s", "op": "scaled_dot_product_attention", "query": "q2", "key": "q2", "value": "q2", "is_causal": true}]})");
  CHECK(llama.diagnostics.empty());
  Report whisper = test::check_text(R"({"version": 1, "dims": {"B": 2, "T": 16, "H": 8}, "tensors": {"q": ["B", "T", 128]},
    "calls": [{"id": "v", "op": "view", "input": "q", "shape": ["B", "T", "H", -1], "outputs": ["q1"]},
              {"id": "t", "op": "permute", "input": "q1", "dims": [0, 2, 1, 3], "outputs": ["q2"]},
              {"id": "s", "op": "scaled_dot_product_attention", "query": "q2", "key": "q2", "value": "q2"}]})");
  CHECK(whisper.diagnostics.empty());
}

TEST_CASE("a merge keeps its factors' order: (T, B, C) merged by view(B*T, C) and read back as (B, T, C) is MHA312 at the read",
          "[layout][roles]") {
  Report report = test::check_text(R"js({"version": 1, "dims": {"T": 6, "B": 3, "C": 16}, "modules": {"proj": "nn.Linear(16, 16)"},
    "tensors": {"x": ["T", "B", "C"]},
    "calls": [{"id": "f", "op": "view", "input": "x", "shape": ["B*T", "C"], "outputs": ["flat"]},
              {"id": "p", "module": "proj", "input": "flat", "outputs": ["h"]},
              {"id": "u", "op": "view", "input": "h", "shape": ["B", "T", "C"], "outputs": ["y"]}]})js");
  REQUIRE(report.diagnostics.size() == 1);
  const Diagnostic& moved = report.diagnostics.front();
  CHECK(moved.info().code == std::string("MHA312"));
  CHECK(moved.call == "u");
  REQUIRE_FALSE(moved.fixes.empty());
  CHECK(moved.fixes.front().description == "view in the input's order, then move the dims: h.view(T, B, C).transpose(0, 1)");
  CHECK(moved.fixes.front().valid());
  // flatten names the merged dim T*B itself; reading it back in that order is silent.
  Report right = test::check_text(R"js({"version": 1, "dims": {"T": 6, "B": 3, "C": 16}, "modules": {"proj": "nn.Linear(16, 16)"},
    "tensors": {"x": ["T", "B", "C"]},
    "calls": [{"id": "f", "op": "flatten", "input": "x", "start_dim": 0, "end_dim": 1, "outputs": ["flat"]},
              {"id": "p", "module": "proj", "input": "flat", "outputs": ["h"]},
              {"id": "u", "op": "view", "input": "h", "shape": ["T", "B", "C"], "outputs": ["y"]}]})js");
  CHECK(right.diagnostics.empty());
}

TEST_CASE("a written merged dim whose factors are not one block of memory is MHA312", "[layout][roles]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16}, "tensors": {"out": ["B", "H", "T", "D"]},
    "calls": [{"id": "m", "op": "reshape", "input": "out", "shape": ["B*T", "H*D"]}]})");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  CHECK(moved->message.find("merges B*T into dim 0") != std::string::npos);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes.front().description == "move the dims first: out.transpose(1, 2).reshape(B*T, H*D)");
  CHECK(moved->fixes.front().valid());
}

TEST_CASE("a product written by hand is in memory order: reshape(B, T, H*D) of (B, T, D, H) is MHA312, traced it is not", "[layout][roles]") {
  const std::string calls = R"("calls": [{"id": "p", "op": "permute", "input": "a", "dims": [0, 2, 3, 1], "outputs": ["a1"]SOURCE_P},
              {"id": "r", "op": "reshape", "input": "a1", "shape": ["B", "T", "H*D"]SOURCE_R}]})";
  auto spec = [&](const std::string& source_p, const std::string& source_r) {
    std::string text = R"({"version": 1, "dims": {"B": 2, "H": 4, "T": 10, "D": 16}, "tensors": {"a": ["B", "H", "T", "D"]}, )" + calls;
    text.replace(text.find("SOURCE_P"), 8, source_p);
    text.replace(text.find("SOURCE_R"), 8, source_r);
    return text;
  };
  Report report = test::check_text(spec("", ""));
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  CHECK(moved->call == "r");
  CHECK(moved->message.find("merges H*D into dim 2") != std::string::npos);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes.front().valid());
  // A traced spec writes its products sorted: H*D there says nothing about memory order.
  Report traced = test::check_text(spec(R"(, "source": "model.py:10")", R"(, "source": "model.py:11")"));
  CHECK(test::find(traced, "MHA312") == nullptr);
}

TEST_CASE("a fix that cuts an unnamed size in the result's order is suspect: view(B, D, T, H) of (B, T, 64)", "[layout][roles]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 2, "T": 10, "H": 4, "D": 16}, "tensors": {"x": ["B", "T", 64]},
    "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", "D", "T", "H"]}]})");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes.front().description == "view in the input's order, then move the dims: x.view(B, T, D, H).transpose(1, 2)");
  CHECK(moved->fixes.front().semantics == FixSemantics::Suspect);
  CHECK(moved->fixes.front().semantics_note.find("64 is unnamed") != std::string::npos);
}

TEST_CASE("bmm of a tensor with itself: the fix transposes mat2 for that call", "[layout][fixes]") {
  Report report = test::check_text(R"({"version": 1, "dims": {"B": 2, "T": 12, "D": 16}, "tensors": {"q": ["B", "T", "D"]},
    "calls": [{"id": "s", "op": "bmm", "input": "q", "mat2": "q"}]})");
  const Diagnostic* shapes = test::find(report, "MHA368");
  REQUIRE(shapes != nullptr);
  REQUIRE_FALSE(shapes->fixes.empty());
  CHECK(shapes->fixes.front().description == "contract over mat2's last dim: torch.bmm(input, q.transpose(1, 2))");
  CHECK(shapes->fixes.front().valid());
}

TEST_CASE("a -1 that merges named dims takes their names in memory order: read back swapped, it is MHA312", "[layout][roles]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": ["B", "T", 4]},
    "calls": [{"id": "f", "op": "view", "input": "x", "shape": [-1, 4], "outputs": ["flat"]},
              {"id": "same", "op": "view", "input": "flat", "shape": ["B", "T", 4]},
              {"id": "swapped", "op": "view", "input": "flat", "shape": ["T", "B", 4]}]})");
  REQUIRE(report.diagnostics.size() == 1);
  CHECK(report.diagnostics.front().info().code == std::string("MHA312"));
  CHECK(report.diagnostics.front().call == "swapped");
}
