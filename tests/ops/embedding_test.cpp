// nn.Embedding (src/ops/embedding.cpp): indices whose bounds the spec states (arange on numbers,
// a clamp to two numbers, a number added) checked against the table's rows.
#include <catch2/catch.hpp>

#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

// Relative distances between 32 positions, clamped to [-16, 16], then `shift` added (none: 0),
// index a table of `rows` rows.
std::string clamped_distances(int shift, int rows) {
  std::string added = shift == 0 ? "" : R"j({"id": "s", "op": "add", "input": "clipped", "other": )j" + std::to_string(shift) + R"j(, "outputs": ["ids"]},)j";
  return R"j({"version": 1, "modules": {"table": "nn.Embedding()j" + std::to_string(rows) + R"j(, 64)"},
    "calls": [{"id": "ar", "op": "arange", "end": 32, "outputs": ["r"]},
              {"id": "ri", "op": "getitem", "input": "r", "index": "[:, None]", "outputs": ["rows"]},
              {"id": "ci", "op": "getitem", "input": "r", "index": "[None, :]", "outputs": ["cols"]},
              {"id": "d", "op": "sub", "input": "cols", "other": "rows", "outputs": ["distance"]},
              {"id": "cl", "op": "clamp", "input": "distance", "min": -16, "max": 16, "outputs": ["clipped"]},)j" +
         added + R"j({"id": "emb", "module": "table", "input": ")j" + (shift == 0 ? "clipped" : "ids") + R"j(", "outputs": ["rel"]}]})j";
}

// BERT-style positions arange(`positions`) beside token ids of that length, into a table of 512.
std::string positions_into_table(int positions) {
  const std::string length = std::to_string(positions);
  return R"j({"version": 1, "modules": {"words": "nn.Embedding(30522, 768)", "table": "nn.Embedding(512, 768)"},
    "tensors": {"input_ids": {"shape": ["B", )j" + length + R"j(], "dtype": "int64"}},
    "calls": [{"id": "ar", "op": "arange", "end": )j" + length + R"j(, "outputs": ["position_ids"]},
              {"id": "we", "module": "words", "input": "input_ids", "outputs": ["tok"]},
              {"id": "pe", "module": "table", "input": "position_ids", "outputs": ["pos"]},
              {"id": "sum", "op": "add", "input": "tok", "other": "pos", "outputs": ["emb"]}]})j";
}

}  // namespace

TEST_CASE("nn.Embedding: distances clamped to [-k, k] without + k index negative rows, and the fix shifts them", "[embedding]") {
  Report report = test::check_text(clamped_distances(0, 33));
  const Diagnostic* range = test::find(report, "MHA105");
  REQUIRE(range != nullptr);
  CHECK(range->message == "clipped holds indices from -16 to 16, as the calls that made it state, outside the table's rows 0 to 32 (num_embeddings=33)");
  CHECK(test::raised_message(report) == "IndexError: index out of range in self");
  REQUIRE(!range->fixes.empty());
  CHECK(range->fixes.front().description == "shift the indices onto the table's rows from 0: clipped_index = clipped + 16 (rows 0 to 32)");
  CHECK(range->fixes.front().verified);
  CHECK(range->fixes.front().valid());
  // Shifted, the distances fit the 33 rows.
  CHECK(test::check_text(clamped_distances(16, 33)).diagnostics.empty());
}

TEST_CASE("nn.Embedding: positions arange(600) into a 512-row table raise, and the fix truncates the sequence", "[embedding]") {
  Report report = test::check_text(positions_into_table(600));
  const Diagnostic* range = test::find(report, "MHA105");
  REQUIRE(range != nullptr);
  REQUIRE(!range->fixes.empty());
  CHECK(range->fixes.front().description == "truncate the sequence to the table's 512 positions: input_ids[:, :512], arange(512)");
  CHECK(range->fixes.front().valid());
  CHECK(test::check_text(positions_into_table(512)).diagnostics.empty());
}

TEST_CASE("nn.Embedding: indices of unstated bounds are data, left to mhacheck run", "[embedding]") {
  Report report = test::check_text(R"j({"version": 1, "modules": {"table": "nn.Embedding(10, 4)"},
    "tensors": {"ids": {"shape": ["B", "T"], "dtype": "int64"}},
    "calls": [{"id": "s", "op": "add", "input": "ids", "other": 100, "outputs": ["shifted"]},
              {"id": "emb", "module": "table", "input": "shifted", "outputs": ["e"]}]})j");
  CHECK(test::find(report, "MHA105") == nullptr);
}
