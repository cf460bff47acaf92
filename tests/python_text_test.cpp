#include <catch2/catch.hpp>

#include "mhacheck/python_text.hpp"

using namespace mhacheck;
using nlohmann::json;

namespace {
Location origin() {
  Location location;
  location.source = std::make_shared<SourceText>(SourceText{"--module", ""});
  location.line = 1;
  location.column = 1;
  return location;
}
}  // namespace

TEST_CASE("constructor calls as pasted from Python", "[python]") {
  json module = parse_module_call("nn.MultiheadAttention(512, 8, kdim=256, vdim=None, batch_first=True, dtype=torch.float64)", origin());
  CHECK(module == json{{"type", "MultiheadAttention"}, {"embed_dim", 512}, {"num_heads", 8}, {"kdim", 256},
                       {"vdim", nullptr}, {"batch_first", true}, {"dtype", "float64"}});
  CHECK(parse_module_call("MultiheadAttention(embed_dim=8, num_heads=2, dropout=0.1,)", origin())["dropout"] == 0.1);
  CHECK(parse_module_call("torch.nn.MultiheadAttention(8, 2, 0.0, False, True, True)", origin())["add_zero_attn"] == true);
  CHECK(module_call_text(module) == "nn.MultiheadAttention(512, 8, kdim=256, vdim=None, batch_first=True, dtype=torch.float64)");
}

TEST_CASE("bad constructor calls point at the offending text", "[python]") {
  auto error_at = [](const std::string& text) {
    try {
      parse_module_call(text, origin());
    } catch (const InputError& error) {
      return std::to_string(error.location().column) + ": " + error.what();
    }
    return std::string("no error");
  };
  CHECK(error_at("nn.MultiheadAttention(512, 8, batchfirst=True)") ==
        "31: MultiheadAttention.__init__() got an unexpected keyword argument 'batchfirst' (did you mean \"batch_first\"?)");
  CHECK(error_at("nn.MultiheadAttention(512)") == "1: MultiheadAttention.__init__() missing required argument: 'num_heads'");
  CHECK(error_at("nn.MultiheadAttention(512, 8, batch_first=yes)") == "43: batch_first must be true or false, found 'yes'");
  CHECK(error_at("nn.MultiheadAttention(512, 8") == "29: expected ')', found end of text");
  CHECK(error_at("nn.Conv1d(4, 4, 3)").find("unknown module 'nn.Conv1d'") != std::string::npos);
  CHECK(error_at("nn.TransformerEncoder(nn.LayerNorm(8), 2)") == "23: expected an nn.TransformerEncoderLayer here, found nn.LayerNorm");
  CHECK(error_at("nn.MultiheadAttention(num_heads=8, 512)") == "36: positional argument follows keyword argument");
}

TEST_CASE("shapes as printed by PyTorch, Python and people", "[python]") {
  CHECK(parse_shape_text("torch.Size([32, 1, 512])", origin()).shape == json{32, 1, 512});
  CHECK(parse_shape_text("(32, 10, 256)", origin()).shape == json{32, 10, 256});
  CHECK(parse_shape_text("[B, 10, 'seq']", origin()).shape == json{"B", 10, "seq"});
  CHECK(parse_shape_text("(10,)", origin()).shape == json{10});
  CHECK(parse_shape_text("3, 4", origin()).shape == json{3, 4});
  CHECK(parse_shape_text("torch.Size([])", origin()).shape == json::array());
  ShapeText masked = parse_shape_text("(2, 5):uint8", origin());
  CHECK(masked.shape == json{2, 5});
  CHECK(masked.dtype == "uint8");
  ShapeText located = parse_shape_text("(32, 10, 256)", origin());
  REQUIRE(located.dims.size() == 3);
  CHECK(located.dims[1].column == 6);
  CHECK(located.dims[2].length == 3);
  CHECK_THROWS_WITH(parse_shape_text("(2, -5)", origin()), Catch::Contains("dim -5 is negative"));
  CHECK_THROWS_WITH(parse_shape_text("(2, 5):int3", origin()), Catch::Contains("unknown dtype 'int3'"));
  CHECK_THROWS_WITH(parse_shape_text("(2, 5", origin()), Catch::Contains("expected ')'"));
  CHECK_THROWS_WITH(parse_shape_text("(2, 5.5)", origin()), Catch::Contains("expected a dim"));
}

TEST_CASE("bytes outside ASCII are refused where they stand", "[python]") {
  try {
    parse_shape_text("(\xff, 2, 8)", origin());
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(std::string(error.what()) == "unexpected byte 0xff: only ASCII text is read here");
    CHECK(error.location().column == 2);
  }
  CHECK_THROWS_WITH(parse_module_call("nn.MultiheadAttention(8, 2, device='\xc3\xa9')", origin()), Catch::Contains("unexpected byte 0xc3"));
}
