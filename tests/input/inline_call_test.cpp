// The inline-call flags as a spec: any module (--module), any function (--op), any argument
// (--arg), each value located in its own flag.
#include <catch2/catch.hpp>

#include "mhacheck/inline_call.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

Report check_inline(const InlineCall& call) {
  try {
    return check_document(inline_document(call));
  } catch (const InputError& error) {
    return input_error_report("<command line>", error);
  }
}

std::string input_error(const InlineCall& call) {
  try {
    inline_document(call);
  } catch (const InputError& error) {
    return error.location().file() + ":" + std::to_string(error.location().column) + ": " + error.what() + " | " + error.help();
  }
  return "no error";
}

}  // namespace

TEST_CASE("inline: a pasted line with names bound by --dim", "[inline]") {
  InlineCall call;
  call.module = "self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=0.1, batch_first=True)";
  call.dims = {"d_model=512", "n_heads=8"};
  call.query = "(32, 10, 512)";
  Report report = check_inline(call);
  REQUIRE(report.ok());
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(32, 10, 512)");
  call.dims = {"d_model=512", "n_heads=7"};
  CHECK(test::find(check_inline(call), "MHA011") != nullptr);  // 512 is not divisible by 7
}

TEST_CASE("inline: sizes the pasted lines assign bind the same names in the shapes", "[inline]") {
  // d_model = 256 is the size (T, B, d_model) names: no "valid only if d_model == 256" (MHA080).
  InlineCall call;
  call.module = "d_model = 256\nnhead = 4\nself.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=0.1)";
  call.query = "(T, B, d_model)";
  call.key_padding_mask = "(B, T)";
  Report report = check_inline(call);
  REQUIRE(report.ok());
  CHECK(test::find(report, "MHA080") == nullptr);
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(T, B, 256)");
  // --dim wins over the pasted line, as "dims" does: 128 is not the module's 256.
  call.dims = {"d_model=128"};
  CHECK_FALSE(check_inline(call).ok());
}

TEST_CASE("inline: --dim binds a float option of pasted code, and a fraction is no size", "[inline]") {
  // PyTorch's tutorial: TransformerEncoderLayer(d_model, nhead, d_hid, dropout), dropout = 0.2
  InlineCall call;
  call.module = "encoder_layers = TransformerEncoderLayer(d_model, nhead, d_hid, dropout)";
  call.dims = {"d_model=200", "nhead=2", "d_hid=200", "dropout=0.2"};
  call.args = {"src=torch.Size([35, 20, 200])", "src_mask=torch.Size([35, 35])"};
  Report report = check_inline(call);
  REQUIRE(report.ok());
  CHECK(test::find(report, "MHA004") == nullptr);  // dropout is bound, not left at PyTorch's default
  for (const Diagnostic& diagnostic : report.diagnostics) CHECK(diagnostic.severity() == Severity::Note);
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(35, 20, 200)");
  call.dims = {"d_model=200.5", "nhead=2", "d_hid=200", "dropout=0.2"};
  CHECK_THAT(input_error(call), Catch::Contains("d_model must be an integer"));
  call.dims = {"d_model=200", "nhead=2", "d_hid=200", "dropout=1e400"};
  CHECK_THAT(input_error(call), Catch::Contains("expected SYMBOL=SIZE, found 'dropout=1e400'"));
}

TEST_CASE("inline: --dim binds a dotted name of pasted code, whatever the module", "[inline]") {
  InlineCall call;
  call.module = "self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)";
  call.dims = {"config.hidden_size=768"};
  call.args = {"input=(2, 16, 768)"};
  Report report = check_inline(call);
  REQUIRE(report.ok());
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(2, 16, 768)");
  call.dims = {"config.hidden_size=512"};
  CHECK(test::find(check_inline(call), "MHA403") != nullptr);  // normalises over 512, the input ends in 768
}

TEST_CASE("inline: any module takes its own arguments, a shorthand it lacks says what it takes", "[inline]") {
  InlineCall call;
  call.module = "nn.TransformerEncoderLayer(512, 8)";
  call.query = "(10, 32, 512)";
  CHECK(input_error(call) ==
        "--query:1: nn.TransformerEncoderLayer takes no argument query | its arguments: src, src_mask, src_key_padding_mask, is_causal; "
        "give any of them with --arg NAME=SHAPE (tensors) or --arg NAME=VALUE");
  call.query.clear();
  call.args = {"src=(10, 32, 512)", "src_key_padding_mask=(32, 9)"};
  Report report = check_inline(call);
  const Diagnostic* mask = test::find(report, "MHA052");
  REQUIRE(mask != nullptr);
  CHECK(mask->location.file() == "--arg");
  CHECK(mask->location.column == 27);  // the 9, after "src_key_padding_mask=(32, "
  call.args = {"src_mask=(10, 10)"};
  CHECK_THAT(input_error(call), Catch::Contains("nn.TransformerEncoderLayer needs src") && Catch::Contains("--arg src=SHAPE"));
}

TEST_CASE("inline: functions by --op, plain arguments by value", "[inline]") {
  InlineCall sdpa;
  sdpa.op = "F.scaled_dot_product_attention";
  sdpa.query = "(2, 8, 10, 64)";
  sdpa.key = "(2, 8, 12, 64)";
  sdpa.is_causal = true;
  Report report = check_inline(sdpa);
  REQUIRE(report.ok());
  CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(2, 8, 10, 64)");
  sdpa.key = "(2, 8, 12, 32)";
  CHECK(test::find(check_inline(sdpa), "MHA205") != nullptr);

  InlineCall permute;
  permute.op = "torch.permute";
  permute.args = {"input=(2, 3, 4)", "dims=(2, 0, 1)"};
  Report permuted = check_inline(permute);
  REQUIRE(permuted.ok());
  CHECK(tuple_str(permuted.calls.at(0).outputs.at(0).shape) == "(4, 2, 3)");

  InlineCall unknown;
  unknown.op = "F.scaled_dot_attention";
  CHECK_THAT(input_error(unknown), Catch::Contains("unknown function 'F.scaled_dot_attention'") && Catch::Contains("supported functions:"));
  InlineCall module_as_op;
  module_as_op.op = "Linear";
  CHECK_THAT(input_error(module_as_op), Catch::Contains("nn.Linear is a module: give it with --module"));
  InlineCall flag;
  flag.module = "nn.Linear(4, 2)";
  flag.args = {"input=(3, 4)"};
  flag.is_causal = true;
  CHECK_THAT(input_error(flag), Catch::StartsWith("--is-causal:1: nn.Linear takes no argument is_causal"));
}

TEST_CASE("inline: unbound embed_dim and num_heads are checked under a stated assumption", "[inline]") {
  InlineCall call;
  call.module = "nn.MultiheadAttention(d_model, n_heads)";
  call.query = "(T, B, d_model)";
  Report report = check_inline(call);
  REQUIRE(report.ok());
  const Diagnostic* assumption = test::find(report, "MHA004");
  REQUIRE(assumption != nullptr);
  CHECK_THAT(assumption->message, Catch::Contains("PyTorch requires d_model (embed_dim) divisible by n_heads (num_heads), head_dim = d_model // n_heads"));
  // The output keeps the query's names.
  CHECK(report.calls.at(0).outputs.at(0).shape.size() == 3);
  // A key whose features differ from the unbound d_model is still caught.
  call.key = "(S, B, 256)";
  CHECK(test::find(check_inline(call), "MHA031") != nullptr);

  InlineCall heads;
  heads.module = "nn.MultiheadAttention(512, n_heads)";
  heads.query = "(T, B, 512)";
  Report by_heads = check_inline(heads);
  REQUIRE(by_heads.ok());
  REQUIRE(test::find(by_heads, "MHA004") != nullptr);
  CHECK_THAT(test::find(by_heads, "MHA004")->message, Catch::StartsWith("n_heads is unbound: PyTorch requires n_heads (num_heads) to divide embed_dim 512 "
                                                                         "(n_heads one of 1, 2, 4, 8, 16, 32, 64, 128, 256, 512)"));
  heads.query = "(T, B, 256)";
  CHECK(test::find(check_inline(heads), "MHA030") != nullptr);  // 256 features against embed_dim 512
  // More than 12 divisors: the first 12, then "..."; a large prime has two (found in pairs up to
  // its square root, not by a billion divisions: a fuzzer's timeout).
  heads.module = "nn.MultiheadAttention(720, n_heads)";
  heads.query = "(T, B, 720)";
  Report many = check_inline(heads);
  REQUIRE(test::find(many, "MHA004") != nullptr);
  CHECK_THAT(test::find(many, "MHA004")->message, Catch::Contains("(n_heads one of 1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, ...)"));
  heads.module = "nn.MultiheadAttention(1000000007, n_heads)";
  heads.query = "(T, B, 1000000007)";
  Report prime = check_inline(heads);
  REQUIRE(test::find(prime, "MHA004") != nullptr);
  CHECK_THAT(test::find(prime, "MHA004")->message, Catch::Contains("(n_heads one of 1, 1000000007)"));

  InlineCall width;
  width.module = "nn.MultiheadAttention(d_model, 8)";
  width.query = "(T, B, d_model)";
  Report by_width = check_inline(width);
  REQUIRE(by_width.ok());
  CHECK_THAT(test::find(by_width, "MHA004")->message, Catch::StartsWith("d_model is unbound: PyTorch requires d_model (embed_dim) divisible by num_heads 8"));

  // A size no input uses would decide the output alone: it must be bound.
  InlineCall linear;
  linear.module = "nn.Linear(512, d_out)";
  linear.args = {"input=(B, 512)"};
  Report refused = check_inline(linear);
  const Diagnostic* unbound = test::find(refused, "MHA002");
  REQUIRE(unbound != nullptr);
  CHECK_THAT(unbound->message, Catch::Contains("\"out_features\" is the symbol d_out, which nothing binds"));
}

TEST_CASE("inline: an option that changes no shape may stay an unbound name, with one note", "[inline]") {
  InlineCall call;
  call.module = "nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=d_ff, dropout=p_drop, activation=act)";
  call.dims = {"d_model=512", "nhead=8"};
  call.args = {"src=(10, 32, 512)"};
  Report report = check_inline(call);
  REQUIRE(report.ok());
  std::vector<std::string> notes;
  for (const Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.id == DiagId::Assumption) notes.push_back(diagnostic.message);
  }
  REQUIRE(notes.size() == 3);
  CHECK_THAT(notes[0], Catch::StartsWith("dropout is the name p_drop, which nothing binds: it changes no shape"));
  CHECK_THAT(notes[1], Catch::StartsWith("activation is the name act"));
  CHECK_THAT(notes[2], Catch::StartsWith("d_ff is unbound: checked with the stand-in d_ff="));
}

TEST_CASE("inline: torch.cat's list of tensors, and permute's dims beside --dim", "[inline]") {
  InlineCall cat;
  cat.op = "torch.cat";
  cat.args = {"tensors=[(2, 3), (2, B):float32,]", "dim=1"};
  cat.dims = {"B=4"};
  Report joined = check_inline(cat);
  REQUIRE(joined.ok());
  CHECK(tuple_str(joined.calls.at(0).outputs.at(0).shape) == "(2, 7)");
  cat.args = {"tensors=[(2, 3), (3, 4)]", "dim=1"};
  CHECK(test::find(check_inline(cat), "MHA311") != nullptr);
  cat.args = {"tensors=(2, 3)", "dim=1"};
  CHECK_THAT(input_error(cat), Catch::Contains("expected a list of shapes in [ ]"));

  // --dim's bindings and permute's own dims argument both arrive.
  InlineCall permute;
  permute.op = "torch.permute";
  permute.args = {"input=(B, 3, 4)", "dims=(2, 0, 1)"};
  permute.dims = {"B=2"};
  Report permuted = check_inline(permute);
  REQUIRE(permuted.ok());
  CHECK(tuple_str(permuted.calls.at(0).outputs.at(0).shape) == "(4, 2, 3)");
}

// tests/pytorch/argument_values_cases.json ("inline"): calls written with the flags, symbols in
// size lists (x.view(B*T, C)), string arguments (einsum's equation) and a bool fill value, each run
// by gen_argument_values_cases.py with the symbols bound to the case's dims.
TEST_CASE("inline: size lists with symbol expressions, strings and bool values agree with PyTorch", "[inline][pytorch]") {
  nlohmann::json document = nlohmann::json::parse(test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/argument_values_cases.json"));
  REQUIRE(document["inline"].size() >= 10);
  for (const nlohmann::json& c : document["inline"]) {
    INFO(c["name"].get<std::string>() << ": PyTorch " << c["expect"].dump());
    InlineCall call;
    call.op = c["op"];
    for (const auto& [name, text] : c["args"].items()) call.args.push_back(name + "=" + text.get<std::string>());
    for (const auto& [name, size] : c["dims"].items()) call.dims.push_back(name + "=" + size.dump());
    Report report = check_inline(call);
    for (const Diagnostic& diagnostic : report.diagnostics) UNSCOPED_INFO(diagnostic.info().code << ": " << diagnostic.message);
    REQUIRE_FALSE(report.input_error);
    REQUIRE(report.ok() == c["expect"]["ok"].get<bool>());
    if (report.ok()) {
      std::vector<std::int64_t> shape;
      for (const DimExpr& dim : report.calls.at(0).outputs.at(0).shape) {
        REQUIRE(dim.is_constant());  // every symbol is bound by the case's dims
        shape.push_back(dim.offset);
      }
      CHECK(nlohmann::json(shape) == c["expect"]["outputs"][0]);
    } else {
      const Diagnostic* raised = test::raised(report);
      REQUIRE(raised != nullptr);
      CHECK(raised->pytorch_error->message == c["expect"]["error"]["message"].get<std::string>());
    }
  }
}

TEST_CASE("inline: a size list's dims are located and refused where they cannot be sizes", "[inline]") {
  InlineCall view;
  view.op = "view";
  view.args = {"input=(T, B, C)", "shape=(B*T, C)"};
  Report merged = check_inline(view);
  REQUIRE(merged.ok());
  CHECK(tuple_str(merged.calls.at(0).outputs.at(0).shape) == "(B*T, C)");
  view.args = {"input=(T, B, C)", "shape=(B*(T+1), C)"};
  CHECK_THAT(input_error(view), Catch::StartsWith("--arg:8: expected a dim (an integer, a symbol name, or a product of symbols"));
  view.args = {"input=(T, B, C)", "shape=(B*T, C):float32"};
  CHECK_THAT(input_error(view), Catch::StartsWith("--arg:7: a list of sizes takes no dtype"));
  InlineCall einsum;
  einsum.op = "torch.einsum";
  einsum.args = {"equation='ij,jk->ik", "operands=[(2, 3), (3, 4)]"};
  CHECK_THAT(input_error(einsum), Catch::StartsWith("--arg:10: the string 'ij,jk->ik has no closing quote"));
  // A shape given to a tensor argument takes the same expressions, and no -1.
  InlineCall linear;
  linear.module = "nn.Linear(C, 8)";
  linear.args = {"input=(B*T, C)"};
  Report flattened = check_inline(linear);
  REQUIRE(flattened.ok());
  CHECK(tuple_str(flattened.calls.at(0).outputs.at(0).shape) == "(B*T, 8)");
  linear.args = {"input=(-1, C)"};
  CHECK_THAT(input_error(linear), Catch::StartsWith("--arg:8: dim -1 is negative"));
}

TEST_CASE("inline: --arg other=NUMBER is a Python number, other=SHAPE a tensor", "[inline]") {
  struct Given {
    const char* op;
    const char* input;
    const char* other;
    nlohmann::json number;  // as the JSON spec writes it; null: other is a tensor
    const char* dtype;
  };
  const Given cases[] = {
      {"torch.eq", "(2, 3)", "other=0", 0, "bool"},
      {"torch.ne", "(2, 3)", "other=True", true, "bool"},
      {"torch.eq", "(2, 3)", "other=float('-inf')", "-inf", "bool"},
      {"torch.ne", "(2, 3)", "other=float(\"nan\")", "nan", "bool"},
      {"torch.add", "(2, 3):int64", "other=0.5", 0.5, "float32"},  // a float number promotes an int64 tensor
      {"torch.mul", "(2, 3):int64", "other=2", 2, "int64"},
      {"torch.mul", "(2, 3):int64", "other=(3,):float64", nullptr, "float64"},
      {"torch.eq", "(2, 3)", "other=(3,)", nullptr, "bool"},
  };
  for (const Given& given : cases) {
    CAPTURE(given.op, given.input, given.other);
    InlineCall call;
    call.op = given.op;
    call.args = {std::string("input=") + given.input, given.other};
    JsonDocument document = inline_document(call);
    const nlohmann::json& other = document.value.at("other");
    if (given.number.is_null()) {
      CHECK(other.is_object());
    } else {
      CHECK(other == given.number);
    }
    Report report = check_inline(call);
    REQUIRE(report.ok());
    CHECK(tuple_str(report.calls.at(0).outputs.at(0).shape) == "(2, 3)");
    CHECK(dtype_name(report.calls.at(0).outputs.at(0).dtype) == given.dtype);
  }
  InlineCall shape_needed;
  shape_needed.op = "torch.eq";
  shape_needed.args = {"input=(2, 3)", "other=(4, 5)"};
  CHECK(test::find(check_inline(shape_needed), "MHA305") != nullptr);
}
