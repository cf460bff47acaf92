// What a mask's origin says, and how its numbers are written in fix texts (src/check/mask_origin.cpp).
#include <catch2/catch.hpp>

#include <limits>

#include "check/mask_origin.hpp"

using namespace mhacheck;

TEST_CASE("number_text writes a number so that Python reads back the same value", "[masks]") {
  // finfo(float32).min: {:g} wrote -3.40282e+38, another number than the one filled.
  CHECK(number_text(nlohmann::json(static_cast<double>(std::numeric_limits<float>::lowest()))) == "-3.4028234663852886e+38");
  CHECK(number_text(nlohmann::json(0.125)) == "0.125");
  CHECK(number_text(nlohmann::json(-1e9)) == "-1000000000");
  CHECK(number_text(nlohmann::json(0.1)) == "0.1");
  CHECK(number_text(nlohmann::json(2)) == "2");
  CHECK(number_text(nlohmann::json("-inf")) == "float('-inf')");
}
