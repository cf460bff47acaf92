#include <catch2/catch.hpp>

#include <string>

#include <fmt/format.h>

#include "mhacheck/render.hpp"
#include "mhacheck/spec.hpp"
#include "recheck.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {
// `calls` alike SDPA calls, each given a (B, T) padding mask as attn_mask: an error in every call,
// with rule fixes to verify and a search for each.
std::string masked_calls(int calls) {
  std::string text = R"json({"version": 1, "dims": {"B": 8, "T": 64},
    "tensors": {"x": ["B", 8, "T", 64], "k": ["B", 8, "T", 64], "v": ["B", 8, "T", 64], "pad": {"shape": ["B", "T"], "dtype": "bool"}},
    "calls": [)json";
  for (int i = 0; i < calls; ++i) {
    text += fmt::format(R"json({}{{"id": "l{}", "op": "scaled_dot_product_attention", "query": "x", "key": "k", "value": "v", "attn_mask": "pad", "outputs": ["o{}"]}})json",
                        i == 0 ? "" : ", ", i, i);
  }
  return text + "]}";
}
}  // namespace

TEST_CASE("the re-checks' work budget counts calls re-checked, remembered or not, and runs out the same way every time", "[fixes]") {
  Spec spec = parse_spec(test::document_from(masked_calls(2)));
  const nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", "/calls/0/attn_mask"}, {"value", "x"}}});
  const nlohmann::json other = nlohmann::json::array({{{"op", "replace"}, {"path", "/calls/1/attn_mask"}, {"value", "x"}}});
  Rechecker rechecker(spec, 2 * spec.calls.size() + 1);  // two whole-graph re-checks, and a call to spare
  CHECK(rechecker.rechecks_left() == 2);
  std::shared_ptr<const Recheck> first = rechecker.budgeted(patch);
  REQUIRE(first != nullptr);
  CHECK(first->usable);
  // The same patch again is remembered, not checked again, but charged all the same: what the
  // search reaches does not depend on what is remembered.
  CHECK(rechecker.budgeted(patch) == first);
  CHECK(rechecker.checks_made() == 1);
  CHECK_FALSE(rechecker.affords());
  CHECK(rechecker.budgeted(other) == nullptr);
  CHECK(rechecker.checks_made() == 1);
  // A rule's fix is verified past the search's budget.
  std::shared_ptr<const Recheck> verified = rechecker.check(other);
  REQUIRE(verified != nullptr);
  CHECK(verified->usable);
  CHECK(rechecker.checks_made() == 2);
  // A check of the first call only costs that call.
  Rechecker prefix(spec, spec.calls.size());
  REQUIRE(prefix.budgeted(patch, 1) != nullptr);
  CHECK(prefix.rechecks_left() == 0);
  CHECK(prefix.budgeted(patch, 1) == nullptr);
}

TEST_CASE("a search that spends its whole work budget gives the same report twice, every rule fix verified", "[fixes]") {
  // 50 failing calls: the search's re-checks of the whole graph (50 calls each) run out of work
  // before the last calls are searched. Nothing says so in the report, as before; the rule fixes
  // are verified outside that budget, so every call keeps them.
  const std::string text = masked_calls(50);
  Report first = test::check_text(text);
  Report second = test::check_text(text);
  CHECK(render_json_text({first}) == render_json_text({second}));
  std::string first_fixes, last_fixes;
  for (const Diagnostic& diagnostic : first.diagnostics) {
    if (diagnostic.info().code != std::string("MHA208")) continue;
    std::string fixes;
    for (const Fix& fix : diagnostic.fixes) {
      CHECK(fix.verified);
      fixes += fix.description + "\n";
    }
    if (diagnostic.call == "l0") first_fixes = fixes;
    if (diagnostic.call == "l49") last_fixes = fixes;
  }
  CHECK_FALSE(first_fixes.empty());
  CHECK(first_fixes == last_fixes);
  for (const Diagnostic& diagnostic : first.diagnostics) CHECK(diagnostic.message.find("budget") == std::string::npos);
}
