// Searched fixes for a layer module that refuses data reached through other layers: the declared
// tensor transposed where it entered (entered_relayout.cpp), ahead of the module resized to fit.
#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace mhacheck;

namespace {

// A Conv2d subsampling front end written for (B, time, features), as ESPnet's reads its input:
// unsqueeze a channel, a stride-2 Conv2d, transpose(1, 2).contiguous().view(b, t, -1) with t read
// of its input, a Linear declared for 32 channels times the 19 bins left of 40 features.
std::string front_end(const std::string& input, int frames) {
  return R"j({"version": 1, "modules": {"conv": "nn.Conv2d(1, 32, kernel_size=3, stride=2)", "out": "nn.Linear(608, 256)"},
    "tensors": {"x": )j" + input + R"j(},
    "calls": [{"id": "u", "op": "unsqueeze", "input": "x", "dim": 1, "outputs": ["x4"]},
              {"id": "c", "module": "conv", "input": "x4", "outputs": ["h"]},
              {"id": "r", "op": "relu", "input": "h", "outputs": ["a"]},
              {"id": "t", "op": "transpose", "input": "a", "dim0": 1, "dim1": 2, "outputs": ["at"]},
              {"id": "k", "op": "contiguous", "input": "at", "outputs": ["ac"]},
              {"id": "v", "op": "view", "input": "ac", "shape": ["B", )j" + std::to_string(frames) + R"j(, -1], "outputs": ["flat"]},
              {"id": "lin", "module": "out", "input": "flat", "outputs": ["y"]}]})j";
}

}  // namespace

TEST_CASE("entered relayout: features given (B, n_feats, time) to a front end written for (B, time, n_feats) are transposed where they enter",
          "[fixes][entered-relayout]") {
  // As given, the conv runs over (40, 200): 19 "frames" of 3168 features, which the Linear
  // refuses; the view's 19 is the size it read of its input.
  Report report = test::check_text(front_end(R"(["B", 40, 200])", 19));
  const Diagnostic* features = test::find(report, "MHA404");
  REQUIRE(features != nullptr);
  REQUIRE(features->fixes.size() >= 2);
  const Fix& first = features->fixes.front();
  CHECK(first.description ==
        "transpose x where it enters the graph, to (B, 200, 40): x.transpose(1, 2); call \"v\" then views (B, 99, -1), the sizes it "
        "reads of its input");
  CHECK(first.valid());
  CHECK(first.semantics == FixSemantics::Consistent);
  REQUIRE(first.outputs.size() == 1);
  CHECK(tuple_str(first.outputs.front().shape) == "(B, 99, 256)");
  // The Linear resized to the 3168 features is offered, after: its declared 608 fits the data
  // laid out as the model's other sizes say.
  auto resized = std::find_if(features->fixes.begin(), features->fixes.end(),
                              [](const Fix& fix) { return fix.description == "construct with in_features=3168"; });
  CHECK(resized != features->fixes.end());
}

TEST_CASE("entered relayout: a Linear declared wrongly for data laid out right is resized, no transpose offered", "[fixes][entered-relayout]") {
  std::string spec = front_end(R"(["B", 200, 40])", 99);
  spec.replace(spec.find("nn.Linear(608"), 13, "nn.Linear(640");
  Report report = test::check_text(spec);
  const Diagnostic* features = test::find(report, "MHA404");
  REQUIRE(features != nullptr);
  REQUIRE_FALSE(features->fixes.empty());
  CHECK(features->fixes.front().description == "construct with in_features=608");
  CHECK(std::none_of(features->fixes.begin(), features->fixes.end(),
                     [](const Fix& fix) { return fix.description.find("where it enters the graph") != std::string::npos; }));
}

TEST_CASE("entered relayout: a layout that the calls after the refusing module do not take is not offered", "[fixes][entered-relayout]") {
  // The rounds that make the views follow check the calls up to the Linear only; the candidate is
  // still judged on the whole graph: here a residual declared for 19 frames refuses the 99.
  std::string spec = front_end(R"(["B", 40, 200])", 19);
  spec.replace(spec.find(R"("x": )"), 5, R"("skip": ["B", 19, 256], "x": )");
  spec.replace(spec.find(R"("outputs": ["y"]})"), 17, R"("outputs": ["y"]}, {"id": "res", "op": "add", "input": "y", "other": "skip", "outputs": ["z"]})");
  Report report = test::check_text(spec);
  const Diagnostic* features = test::find(report, "MHA404");
  REQUIRE(features != nullptr);
  CHECK(std::none_of(features->fixes.begin(), features->fixes.end(),
                     [](const Fix& fix) { return fix.description.find("where it enters the graph") != std::string::npos; }));
  // Without the residual the same front end gets the transpose (the first test case).
  Report alone = test::check_text(front_end(R"(["B", 40, 200])", 19));
  const Diagnostic* refused = test::find(alone, "MHA404");
  REQUIRE(refused != nullptr);
  CHECK(std::any_of(refused->fixes.begin(), refused->fixes.end(),
                    [](const Fix& fix) { return fix.description.find("where it enters the graph") != std::string::npos; }));
}
