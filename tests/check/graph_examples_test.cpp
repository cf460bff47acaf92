// The attention-graph examples in examples/ check as their comments in docs/spec-format.md say:
// an encoder–decoder with every mask, a grouped-query decoder block built from Linear, view,
// transpose and scaled_dot_product_attention, and a cross-attention broken by the encoder's
// batch_first, whose error names where the offending size came from.
#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace mhacheck;

namespace {

std::string output_shape(const Report& report, const std::string& call) {
  for (const CallReport& entry : report.calls) {
    if (entry.id == call && !entry.outputs.empty()) return tuple_str(entry.outputs.front().shape);
  }
  return "(no output)";
}

}  // namespace

TEST_CASE("examples: an encoder-decoder with every mask checks, noting only 2.x's warning of mixed mask types", "[graph][examples]") {
  Report report = test::check_example("encoder_decoder.json");
  CHECK(report.ok());
  REQUIRE(report.calls.size() == 5);
  CHECK(output_shape(report, "encode") == "(8, 12, 64)");
  CHECK(output_shape(report, "decode") == "(8, 9, 64)");
  CHECK(output_shape(report, "logits") == "(8, 9, 1000)");
  // A float causal tgt_mask with a bool padding mask is correct: PyTorch 2.x only warns (a note).
  CHECK(report.count(Severity::Warning) == 0);
  const Diagnostic* mixed = test::find(report, "MHA061");
  REQUIRE(mixed != nullptr);
  CHECK(mixed->severity() == Severity::Note);
  CHECK(mixed->call == "decode");
  REQUIRE_FALSE(mixed->fixes.empty());
  CHECK(mixed->fixes.front().verified);
  // Not .float(): a bool mask as 1.0 would be added to the scores and mask nothing.
  CHECK_THAT(mixed->fixes.front().description, Catch::Contains(".masked_fill("));
}

TEST_CASE("examples: a grouped-query decoder block runs SDPA with enable_gqa", "[graph][examples]") {
  Report report = test::check_example("gqa_decoder_block.json");
  CHECK(report.ok());
  CHECK(report.diagnostics.empty());
  CHECK(output_shape(report, "attend") == "(2, 8, 16, 32)");
  CHECK(output_shape(report, "residual") == "(2, 16, 256)");
}

TEST_CASE("examples: a cross-attention broken upstream names the encoder's output and offers a verified fix", "[graph][examples]") {
  Report report = test::check_example("broken_cross_attention.json");
  CHECK_FALSE(report.ok());
  const Diagnostic* first = test::raised(report);
  REQUIRE(first != nullptr);
  CHECK(first->id == DiagId::BatchMismatch);
  CHECK(first->call == "decode");
  CHECK(first->argument == "memory");
  bool upstream = false;
  for (const RelatedLocation& related : first->related) {
    upstream = upstream || related.message.find("memory is output 0 of call \"encode\"") != std::string::npos;
  }
  CHECK(upstream);
  bool fixed = false;
  for (const Fix& fix : first->fixes) fixed = fixed || (fix.verified && fix.description.find("batch_first=True and pass tgt") != std::string::npos);
  CHECK(fixed);
}
