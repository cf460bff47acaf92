// The forward pass against PyTorch on every case of tests/pytorch/forward/ (written by
// tests/pytorch/gen_forward_cases.py from Debian's PyTorch, adjusted to 2.x where noted): each
// case's spec is run through `run` with its inputs and state_dict from the case's .npz, and
// every output must match PyTorch's within 1e-5 (float32) or 1e-10 (float64), NaN for NaN.
#include <catch2/catch.hpp>

#include <cmath>

#include <fmt/format.h>

#include "mhacheck/run.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

const std::string kFolder = std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward/";

// "" when `actual` matches `expected`, else what differs.
std::string compare(const Array& actual, const Array& expected, double tolerance) {
  if (actual.shape != expected.shape) return "shape differs";
  if (actual.dtype != expected.dtype) return "dtype differs";
  std::vector<double> a = actual.to_double(), e = expected.to_double();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(e[i])) return fmt::format("NaN differs at element {}", i);
    if (!std::isnan(a[i])) worst = std::max(worst, std::abs(a[i] - e[i]));
  }
  return worst <= tolerance ? "" : fmt::format("max abs difference {:.3g} > {:.0g}", worst, tolerance);
}

}  // namespace

TEST_CASE("the forward pass matches PyTorch on every golden case", "[forward]") {
  nlohmann::json index = nlohmann::json::parse(test::read_file(kFolder + "index.json"));
  REQUIRE(index["cases"].size() >= 40);
  int nan_cases = 0;
  for (const nlohmann::json& c : index["cases"]) {
    std::string name = c["name"];
    INFO(name);
    std::string spec_path = kFolder + name + ".json";
    RunOptions options;
    options.threads = 2;
    RunResult result = run_spec(parse_spec(parse_json_document(read_source_file(spec_path, 1 << 20))), options);
    REQUIRE(result.executed);
    double tolerance = c["dtype"] == "float64" ? 1e-10 : 1e-5;
    std::vector<std::string> expected_names;
    for (const std::string& member : list_npz(kFolder + name + ".npz")) {
      if (member.rfind("expected.", 0) == 0) expected_names.push_back(member.substr(9));
    }
    REQUIRE(result.outputs.size() == expected_names.size());
    for (const RunOutput& output : result.outputs) {
      INFO(output.name);
      Array expected = read_npz(kFolder + name + ".npz", "expected." + output.name, 1 << 20);
      CHECK(compare(output.array, expected, tolerance) == "");
    }
    bool warned = test::find(result.report, "MHA110") != nullptr;
    CHECK(warned == c["nan_rows"].get<bool>());
    nan_cases += warned;
  }
  CHECK(nan_cases >= 3);
}
