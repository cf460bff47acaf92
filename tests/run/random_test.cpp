#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "mhacheck/random.hpp"

using namespace mhacheck;

namespace {

struct Moments {
  double mean = 0, std = 0, low = INFINITY, high = -INFINITY, beyond_two = 0;
};

Moments moments(const std::vector<double>& values, double center) {
  Moments m;
  for (double v : values) {
    m.mean += v;
    m.low = std::min(m.low, v);
    m.high = std::max(m.high, v);
    if (std::abs(v - center) > 2 * 1.5) m.beyond_two += 1;  // for N(center, 1.5^2): beyond 2 sigma
  }
  m.mean /= static_cast<double>(values.size());
  for (double v : values) m.std += (v - m.mean) * (v - m.mean);
  m.std = std::sqrt(m.std / static_cast<double>(values.size()));
  m.beyond_two /= static_cast<double>(values.size());
  return m;
}

}  // namespace

TEST_CASE("random: a seed gives the same numbers, another seed others, every element drawn", "[random]") {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Array first = make_array(dtype, {1001}), again = make_array(dtype, {1001}), other = make_array(dtype, {1001});
    Random a(7), b(7), c(8);
    a.fill_normal(first, 0, 1);
    b.fill_normal(again, 0, 1);
    c.fill_normal(other, 0, 1);
    CHECK(first.bytes == again.bytes);
    CHECK(first.bytes != other.bytes);
    std::vector<double> values = first.to_double();
    CHECK(std::count(values.begin(), values.end(), 0.0) == 0);  // the last, partial batch too
    // Successive draws continue the stream rather than repeat it.
    Array next = make_array(dtype, {1001});
    a.fill_normal(next, 0, 1);
    CHECK(next.bytes != first.bytes);
  }
}

TEST_CASE("random: normal and uniform have the asked-for distribution", "[random]") {
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Random random(0);
    Array normal = make_array(dtype, {200000});
    random.fill_normal(normal, 3.0, 1.5);
    Moments n = moments(normal.to_double(), 3.0);
    CHECK(n.mean == Approx(3.0).margin(0.02));
    CHECK(n.std == Approx(1.5).margin(0.02));
    CHECK(n.beyond_two == Approx(0.0455).margin(0.003));  // P(|Z| > 2)
    CHECK(n.low < 3.0 - 4 * 1.5);
    CHECK(n.high > 3.0 + 4 * 1.5);

    Array uniform = make_array(dtype, {200000});
    random.fill_uniform(uniform, -0.25, 0.75);
    Moments u = moments(uniform.to_double(), 0.25);
    CHECK(u.mean == Approx(0.25).margin(0.005));
    CHECK(u.std == Approx(1 / std::sqrt(12.0)).margin(0.005));
    CHECK(u.low >= -0.25);
    CHECK(u.low < -0.2499);
    CHECK(u.high <= 0.75);
    CHECK(u.high > 0.7499);
  }
}

TEST_CASE("random: arrays of other dtypes are left as they are", "[random]") {
  Random random(0);
  Array ids = make_array(DType::Int64, {16});
  random.fill_normal(ids, 0, 1);
  random.fill_uniform(ids, 0, 1);
  CHECK(std::all_of(ids.bytes.begin(), ids.bytes.end(), [](unsigned char byte) { return byte == 0; }));
}
