// Mask values as a function of the offset j - i (src/check/mask_pattern.cpp): derived through the
// calls that make a causal mask, and the faults of such a mask as each consumer reads it.
#include <cmath>

#include <catch2/catch.hpp>

#include "check/mask_pattern.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

// The pattern of the output of the spec's last call, from `tensors` and `calls`.
std::optional<MaskPattern> last_pattern(const std::string& tensors, const std::string& calls, Spec& spec) {
  spec = parse_spec(test::document_from(R"({"version": 1, "tensors": {)" + tensors + R"(}, "calls": [)" + calls + "]}"));
  const CallDecl& last = spec.calls.back();
  return mask_pattern(spec, last.outputs.front(), &last);
}

const std::string kBoolOnes = R"("ones": {"shape": [6, 6], "dtype": "bool"})";
const std::string kFloatOnes = R"("ones": {"shape": [6, 6], "dtype": "float32"})";

}  // namespace

TEST_CASE("tril and triu give a pattern of the offset j - i, and comparisons, ~, & and transposes act on it", "[masks][pattern]") {
  Spec spec;
  std::optional<MaskPattern> tril = last_pattern(kBoolOnes, R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["m"]})", spec);
  REQUIRE(tril);
  CHECK(tril->boolean);
  CHECK(tril->at(-3) == 1.0);
  CHECK(tril->at(0) == 1.0);
  CHECK(tril->at(1) == 0.0);
  REQUIRE(tril->triangles.size() == 1);
  // Sliding window: tril(ones) & triu(ones, -2) keeps the offsets -2 .. 0.
  std::optional<MaskPattern> window = last_pattern(kBoolOnes, R"({"id": "a", "op": "tril", "input": "ones", "outputs": ["past"]},
      {"id": "b", "op": "triu", "input": "ones", "diagonal": -2, "outputs": ["recent"]},
      {"id": "c", "op": "logical_and", "input": "past", "other": "recent", "outputs": ["m"]})", spec);
  REQUIRE(window);
  CHECK(window->at(-3) == 0.0);
  CHECK(window->at(-2) == 1.0);
  CHECK(window->at(0) == 1.0);
  CHECK(window->at(1) == 0.0);
  // (triu(ones) == 1).transpose(0, 1): the upper triangle turned into the lower one.
  std::optional<MaskPattern> flipped = last_pattern(kFloatOnes, R"({"id": "t", "op": "triu", "input": "ones", "outputs": ["up"]},
      {"id": "e", "op": "eq", "input": "up", "other": 1, "outputs": ["keep_t"]},
      {"id": "r", "op": "transpose", "input": "keep_t", "dim0": 0, "dim1": 1, "outputs": ["m"]})", spec);
  REQUIRE(flipped);
  CHECK(flipped->boolean);
  CHECK(flipped->at(-1) == 1.0);
  CHECK(flipped->at(0) == 1.0);
  CHECK(flipped->at(1) == 0.0);
  // A float triu of -inf: -inf from the diagonal on, 0 below.
  std::optional<MaskPattern> additive =
      last_pattern(R"("neg_inf": [6, 6])", R"({"id": "t", "op": "triu", "input": "neg_inf", "diagonal": 1, "outputs": ["m"]})", spec);
  REQUIRE(additive);
  CHECK_FALSE(additive->boolean);
  CHECK(additive->at(0) == 0.0);
  CHECK(std::isinf(additive->at(1)));
  // Values of a declared tensor are known only by its name; an index that moves the offsets loses them.
  CHECK_FALSE(last_pattern(R"("m": [6, 6])", R"({"id": "t", "op": "tril", "input": "m", "outputs": ["o"]})", spec));
  CHECK_FALSE(last_pattern(kBoolOnes, R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["m"]},
      {"id": "g", "op": "getitem", "input": "m", "index": "[2:, :]", "outputs": ["o"]})", spec));
  CHECK(last_pattern(kBoolOnes, R"({"id": "t", "op": "tril", "input": "ones", "outputs": ["m"]},
      {"id": "g", "op": "getitem", "input": "m", "index": "[None, None, :4, :4]", "outputs": ["o"]})", spec));
}

TEST_CASE("causal faults: the future seen, the own position hidden, rows without a key", "[masks][pattern]") {
  Spec spec;
  // triu(neg_inf) without diagonal=1, added: the diagonal hidden, row 0 empty.
  std::optional<MaskPattern> blind = last_pattern(R"("neg_inf": [6, 6])", R"({"id": "t", "op": "triu", "input": "neg_inf", "outputs": ["m"]})", spec);
  REQUIRE(blind);
  std::optional<CausalFault> fault = causal_fault(*blind, MaskReading::Additive, 0, 6, 6);
  REQUIRE(fault);
  CHECK(fault->hides_own);
  CHECK(fault->first_row_empty);
  CHECK_FALSE(fault->sees_future);
  CHECK(fault->empty_rows == 1);
  // The same mask with diagonal=1 is right; read as True = take part, tril(ones) is right too.
  REQUIRE(last_pattern(R"("neg_inf": [6, 6])", R"({"id": "t", "op": "triu", "input": "neg_inf", "diagonal": 1, "outputs": ["m"]})", spec));
  CHECK_FALSE(causal_fault(*last_pattern(R"("neg_inf": [6, 6])", R"({"id": "t", "op": "triu", "input": "neg_inf", "diagonal": 1, "outputs": ["m"]})", spec),
                           MaskReading::Additive, 0, 6, 6));
  std::optional<MaskPattern> keep = last_pattern(R"("ones": {"shape": [4, 12], "dtype": "bool"})",
                                                 R"({"id": "t", "op": "tril", "input": "ones", "diagonal": 8, "outputs": ["m"]})", spec);
  REQUIRE(keep);
  CHECK_FALSE(causal_fault(*keep, MaskReading::TrueKeeps, 8, 4, 12));
  // tril(diagonal=-8) for 4 queries over 12 keys: every row empty.
  std::optional<MaskPattern> shifted = last_pattern(R"("ones": {"shape": [4, 12], "dtype": "bool"})",
                                                    R"({"id": "t", "op": "tril", "input": "ones", "diagonal": -8, "outputs": ["m"]})", spec);
  REQUIRE(shifted);
  fault = causal_fault(*shifted, MaskReading::TrueKeeps, 8, 4, 12);
  REQUIRE(fault);
  CHECK(fault->empty_rows == 4);
  // Unknown sizes: keys ahead without end are the future for any S >= L.
  std::optional<MaskPattern> upper = last_pattern(kBoolOnes, R"({"id": "t", "op": "triu", "input": "ones", "outputs": ["m"]})", spec);
  REQUIRE(upper);
  fault = causal_fault(*upper, MaskReading::TrueKeeps, std::nullopt, std::nullopt, std::nullopt);
  REQUIRE(fault);
  CHECK(fault->sees_future);
  // A mask of no triangle is not causal-looking.
  CHECK_FALSE(last_pattern(kBoolOnes, R"({"id": "n", "op": "logical_not", "input": "ones", "outputs": ["m"]})", spec)->triangles.size());
}
