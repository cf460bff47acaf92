// The forward pass against PyTorch on every case of tests/pytorch/forward/ (written by
// tests/pytorch/gen_forward_cases.py from Debian's PyTorch, adjusted to 2.x where noted), and of
// forward_sdpa/, forward_glue/, forward_pointwise/ and forward_transformer/ (their gen_*_forward_cases.py): each
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

// Runs every case of a golden folder; returns how many cases had a fully masked row.
int check_folder(const std::string& folder) {
  nlohmann::json index = nlohmann::json::parse(test::read_file(folder + "index.json"));
  REQUIRE(index["cases"].size() >= 20);
  int masked_cases = 0;
  for (const nlohmann::json& c : index["cases"]) {
    std::string name = c["name"];
    INFO(name);
    RunOptions options;
    options.threads = 2;
    RunResult result = run_spec(parse_spec(parse_json_document(read_source_file(folder + name + ".json", 1 << 20))), options);
    REQUIRE(result.executed);
    double tolerance = c["dtype"] == "float64" ? 1e-10 : 1e-5;
    std::vector<std::string> expected_names;
    for (const std::string& member : list_npz(folder + name + ".npz")) {
      if (member.rfind("expected.", 0) == 0) expected_names.push_back(member.substr(9));
    }
    REQUIRE(result.outputs.size() == expected_names.size());
    for (const RunOutput& output : result.outputs) {
      INFO(output.name);
      Array expected = read_npz(folder + name + ".npz", "expected." + output.name, 1 << 20);
      CHECK(compare(output.array, expected, tolerance) == "");
    }
    // A mask that masks everything (MHA116) explains every fully masked row: reported instead of MHA110.
    bool warned = test::find(result.report, "MHA110") != nullptr || test::find(result.report, "MHA116") != nullptr;
    bool masked = c.contains("nan_rows") ? c["nan_rows"].get<bool>() : c["fully_masked"].get<bool>();
    CHECK(warned == masked);
    masked_cases += warned;
  }
  return masked_cases;
}

}  // namespace

TEST_CASE("the forward pass matches PyTorch on every golden nn.MultiheadAttention case", "[forward]") {
  CHECK(check_folder(kFolder) >= 3);
}

TEST_CASE("the forward pass matches PyTorch 2.x's math on every golden F.scaled_dot_product_attention case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_sdpa/") >= 2);
}

TEST_CASE("the forward pass matches PyTorch on every golden glue-operator case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_glue/") == 0);
}

TEST_CASE("the forward pass matches PyTorch 2.x on every golden Transformer, Linear, LayerNorm and Embedding case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_transformer/") == 0);
}

TEST_CASE("the forward pass matches PyTorch on every golden elementwise, activation, reduction and expand case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_pointwise/") == 0);
}

TEST_CASE("the forward pass matches PyTorch on every golden getitem, select and narrow case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_index/") == 0);
}

TEST_CASE("the forward pass matches PyTorch on every output of every golden split, split_with_sizes and chunk case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_split/") == 0);
}

TEST_CASE("the forward pass matches PyTorch on every golden nn.Conv1d and nn.Conv2d case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_conv/") == 0);
}

TEST_CASE("the forward pass matches PyTorch on every golden einsum and bmm case", "[forward]") {
  CHECK(check_folder(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_einsum/") == 0);
}
