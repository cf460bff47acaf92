#include <catch2/catch.hpp>

#include <cmath>

#include "test_support.hpp"
#include "value_checks.hpp"

using namespace mhacheck;

namespace {

Array floats(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  Array array = make_array(DType::Float32, std::move(shape));
  std::copy(values.begin(), values.end(), array.data<float>());
  return array;
}

Array bools(std::vector<std::int64_t> shape, const std::vector<int>& values) {
  Array array = make_array(DType::Bool, std::move(shape));
  for (std::size_t i = 0; i < values.size(); ++i) array.bytes[i] = values[i] ? 1 : 0;
  return array;
}

}  // namespace

TEST_CASE("a float mask of 0s and 1s masks nothing; an additive one is fine", "[value_checks]") {
  CHECK(float_binary_mask(floats({2, 3}, {0, 0, 1, 0, 1, 1})).has_value());
  CHECK_FALSE(float_binary_mask(floats({2, 3}, {0, 0, -INFINITY, 0, -INFINITY, -INFINITY})).has_value());
  CHECK_FALSE(float_binary_mask(floats({2, 3}, {0, 0, 0, 0, 0, 0})).has_value());  // nothing masked on purpose
  CHECK_FALSE(float_binary_mask(bools({2, 3}, {0, 0, 1, 0, 1, 1})).has_value());
}

TEST_CASE("an (N*H, L, S) mask built by repeat is told from repeat_interleave", "[value_checks]") {
  // Two batch entries, two heads, (L, S) = (1, 2): entry 0 masks key 1, entry 1 masks key 0.
  Array repeated = bools({4, 1, 2}, {0, 1, 1, 0, 0, 1, 1, 0});     // [M0, M1, M0, M1]
  Array interleaved = bools({4, 1, 2}, {0, 1, 0, 1, 1, 0, 1, 0});  // [M0, M0, M1, M1]
  std::optional<MaskFinding> finding = repeated_not_interleaved(repeated, 2, 2);
  REQUIRE(finding.has_value());
  CHECK(finding->note.find("repeat_interleave(2, dim=0)") != std::string::npos);
  CHECK_FALSE(repeated_not_interleaved(interleaved, 2, 2).has_value());
  // One mask for every entry: both layouts are the same, nothing to say.
  CHECK_FALSE(repeated_not_interleaved(bools({4, 1, 2}, {0, 1, 0, 1, 0, 1, 0, 1}), 2, 2).has_value());
}

TEST_CASE("a causal mask that sees the future, with each operator's meaning of True", "[value_checks]") {
  Array upper = bools({3, 3}, {0, 1, 1, 0, 0, 1, 0, 0, 0});  // triu(1): True above the diagonal
  Array lower = bools({3, 3}, {1, 0, 0, 1, 1, 0, 1, 1, 1});  // tril
  CHECK_FALSE(causal_sees_future(upper, MaskReading::TrueIgnores).has_value());  // MHA: True = ignore
  CHECK(causal_sees_future(lower, MaskReading::TrueIgnores).has_value());
  CHECK_FALSE(causal_sees_future(lower, MaskReading::TrueKeeps).has_value());  // SDPA: True = take part
  std::optional<MaskFinding> leak = causal_sees_future(upper, MaskReading::TrueKeeps);
  REQUIRE(leak.has_value());
  CHECK(leak->message == "the causal mask lets query position 0 attend to the later key position 1");
  CHECK_FALSE(causal_sees_future(floats({2, 2}, {0, -INFINITY, 0, 0}), MaskReading::TrueIgnores).has_value());
  CHECK_FALSE(causal_sees_future(floats({2, 2}, {0, -3.4e38f, 0, 0}), MaskReading::TrueKeeps).has_value());
  CHECK(causal_sees_future(floats({2, 2}, {0, 0, -INFINITY, 0}), MaskReading::TrueIgnores).has_value());
}

TEST_CASE("NaN and infinite inputs are counted", "[value_checks]") {
  CHECK(non_finite_count(floats({4}, {1, NAN, INFINITY, -2})) == 2);
  CHECK(non_finite_count(floats({2}, {1, 2})) == 0);
}

TEST_CASE("mhacheck run reports the value checks of file data only", "[value_checks][run]") {
  // File data is flagged by the catalogue's examples (catalogue_test); --random-inputs data,
  // a zero float mask here, is never flagged.
  test::TempDir dir;
  std::string spec = dir.write("spec.json", R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [3, 2, 8], "key": [3, 2, 8], "value": [3, 2, 8],
      "attn_mask": {"shape": [3, 3], "dtype": "float32"}, "is_causal": true})J");
  test::CliRun run = test::run_cli("run --random-inputs " + spec);
  CHECK(run.status == 0);
  CHECK(run.out.find("MHA11") == std::string::npos);
}
