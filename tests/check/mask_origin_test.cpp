// What a mask's origin says, and how its numbers are written in fix texts (src/check/mask_origin.cpp).
#include <catch2/catch.hpp>

#include <limits>

#include "check/mask_origin.hpp"
#include "test_support.hpp"

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

TEST_CASE("a 1 = keep mask cast to bool keeps its meaning: as a padding mask it warns MHA084, fixed with == 0", "[masks]") {
  auto passed = [](const std::string& cast, const std::string& argument) {
    return test::check_text(R"j({"version": 1, "modules": {"mha": "nn.MultiheadAttention(128, 4, batch_first=True)"},
      "tensors": {"h": ["B", "T", 128], "attention_mask": {"shape": ["B", "T"], "dtype": "int64"}},
      "calls": [{"id": "c", )j" + cast + R"j(, "input": "attention_mask", "outputs": ["flags"]},
                {"id": "a", "module": "mha", "query": "h", "key": "h", "value": "h", ")j" + argument + R"j(": "flags", "outputs": ["y", "w"]}]})j");
  };
  Report cast = passed(R"("op": "to", "dtype": "torch.bool")", "key_padding_mask");
  const Diagnostic* meaning = test::find(cast, "MHA084");
  REQUIRE(meaning != nullptr);
  CHECK(meaning->message.find("made by attention_mask.to(torch.bool) where \"attention_mask\" is named like 1 = keep") != std::string::npos);
  REQUIRE_FALSE(meaning->fixes.empty());
  CHECK(meaning->fixes.front().description ==
        "make flags with attention_mask == 0 in call \"c\", in place of the cast to bool: True then marks the positions to ignore");
  CHECK(meaning->fixes.front().valid());
  CHECK(test::find(passed(R"("op": "bool")", "key_padding_mask"), "MHA084") != nullptr);
  // == 0 marks the padding: silent.
  CHECK(test::find(passed(R"("op": "eq", "other": 0)", "key_padding_mask"), "MHA084") == nullptr);
}
