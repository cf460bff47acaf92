#include <catch2/catch.hpp>

#include <cmath>

#include "mhacheck/plot.hpp"

using namespace mhacheck;

namespace {
std::size_t count(const std::string& text, const std::string& what) {
  std::size_t found = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++found;
  return found;
}

// (N=2, H=3, L=2, S=4): head h's probabilities are all (h + 1) / 10, one NaN in head 1.
PlottedAttention three_heads() {
  PlottedAttention attention{"dec", "layers.1.multihead_attn", make_array(DType::Float32, {2, 3, 2, 4}), true};
  float* values = attention.probabilities.data<float>();
  for (std::int64_t i = 0; i < attention.probabilities.size(); ++i) values[i] = static_cast<float>((i / 8) % 3 + 1) / 10.0f;
  values[8 + 5] = NAN;
  return attention;
}
}  // namespace

TEST_CASE("plot: one panel per batch entry, one cell per probability, the average of the heads by default", "[plot]") {
  std::string svg = attention_heatmap_svg(three_heads(), std::nullopt);
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(count(svg, "<title>query ") == 2 * 2 * 4);
  CHECK(count(svg, "dec layers.1.multihead_attn: batch 1, average of 3 heads") == 1);
  CHECK(count(svg, ": 0.2000</title>") == 2 * 8 - 1);  // (0.1 + 0.2 + 0.3) / 3
  CHECK(count(svg, ": NaN</title>") == 1);              // a NaN in one head makes the average NaN
}

TEST_CASE("plot: --plot-head draws that head alone", "[plot]") {
  std::string svg = attention_heatmap_svg(three_heads(), 2);
  CHECK(count(svg, "<title>query ") == 2 * 2 * 4);
  CHECK(count(svg, "dec layers.1.multihead_attn: batch 0, head 2 of 3") == 1);
  CHECK(count(svg, ": 0.3000</title>") == 2 * 8);
  CHECK(count(svg, ": NaN</title>") == 0);
}

TEST_CASE("plot: an unbatched call is one panel, titled without a batch", "[plot]") {
  PlottedAttention attention{"c", "", make_array(DType::Float64, {1, 1, 3, 5}), false};
  std::string svg = attention_heatmap_svg(attention, std::nullopt);
  CHECK(count(svg, "c: average of 1 head<") == 1);
  CHECK(count(svg, "<title>query ") == 15);
}

TEST_CASE("plot: a huge attention map is downsampled to at most 128 cells a side, and says so", "[plot]") {
  // (1, 1, 300, 1000): blocks of 3 x 8 weights, 100 x 125 cells; one NaN weight makes its cell NaN.
  PlottedAttention attention{"big", "", make_array(DType::Float32, {1, 1, 300, 1000}), false};
  float* values = attention.probabilities.data<float>();
  for (std::int64_t i = 0; i < attention.probabilities.size(); ++i) values[i] = (i / 1000) % 3 == 0 ? 0.25f : 0.625f;
  values[5 * 1000 + 17] = NAN;  // query 5, key 17: the cell of queries 3-5, keys 16-23
  std::string svg = attention_heatmap_svg(attention, std::nullopt);
  CHECK(count(svg, "big: average of 1 head (downsampled: 300 x 1000 weights, each cell the mean of up to 3 x 8)") == 1);
  CHECK(count(svg, "<title>queries ") == 100 * 125);
  CHECK(count(svg, "<title>queries 3-5, keys 16-23: NaN</title>") == 1);
  CHECK(count(svg, ": 0.5000</title>") == 100 * 125 - 1);  // (0.25 + 0.625 + 0.625) / 3
  CHECK(svg.size() < 2'000'000);
}
