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
}  // namespace

TEST_CASE("plot: one panel per batch entry and head, one cell per weight, NaN marked", "[plot]") {
  RunOutput weights{"dec", "w", make_array(DType::Float32, {2, 3, 2, 4}), true, true};  // (N=2, H=3, L=2, S=4)
  for (std::int64_t i = 0; i < weights.array.size(); ++i) weights.array.data<float>()[i] = 0.25f;
  weights.array.data<float>()[5] = NAN;
  RunOutput output{"dec", "out", make_array(DType::Float32, {2, 2, 8}), false, true};
  std::string svg = attention_heatmap_svg({output, weights});
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(count(svg, "<title>query ") == 2 * 3 * 2 * 4);
  CHECK(count(svg, ": NaN</title>") == 1);
  CHECK(count(svg, "dec w: batch 1, head 2") == 1);
  CHECK(count(svg, "<text") >= 6 * 3);
  CHECK(attention_heatmap_svg({output}).empty());
}

TEST_CASE("plot: unbatched averaged weights are one panel", "[plot]") {
  RunOutput weights{"c", "attn_output_weights", make_array(DType::Float64, {3, 5}), true, false};
  std::string svg = attention_heatmap_svg({weights});
  CHECK(count(svg, "c attn_output_weights: average of heads") == 1);
  CHECK(count(svg, "<title>query ") == 15);
}
