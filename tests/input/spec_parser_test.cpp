#include <algorithm>

#include <catch2/catch.hpp>

#include "mhacheck/spec.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {
Spec parse(const std::string& text) { return parse_spec(test::document_from(text)); }

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const InputError& error) {
    return error.what() + std::string(" | ") + error.help() + " @" + std::to_string(error.location().line) + ":" +
           std::to_string(error.location().column);
  }
  return "no error";
}
}  // namespace

TEST_CASE("the full form: modules, tensors, calls", "[spec]") {
  Spec spec = parse(R"({
    "version": 1, "dims": {"B": 32},
    "modules": {"attn": {"type": "nn.MultiheadAttention", "embed_dim": 512, "num_heads": 8, "kdim": null, "batch_first": true}},
    "tensors": {"q": [32, 1, 512], "k": {"shape": ["B", "S", 512], "dtype": "float64"}},
    "calls": [{"id": "cross", "module": "attn", "query": "q", "key": "k", "value": "k",
               "key_padding_mask": {"shape": ["B", "S"]}, "need_weights": false, "outputs": ["out"]}]})");
  CHECK_FALSE(spec.flat);
  REQUIRE(spec.modules.size() == 1);
  CHECK(spec.modules[0].type == "MultiheadAttention");
  CHECK(spec.modules[0].mha.batch_first);
  CHECK_FALSE(spec.modules[0].mha.kdim.has_value());
  CHECK(spec.dims.at(0) == std::pair<std::string, std::int64_t>{"B", 32});
  CHECK(spec.find_tensor("k")->dtype == DType::Float64);
  CHECK_FALSE(spec.find_tensor("q")->dtype.has_value());
  CHECK(spec.find_tensor("k")->shape_pointer == "/tensors/k/shape");
  CHECK(spec.find_tensor("q")->shape_pointer == "/tensors/q");
  REQUIRE(spec.calls.size() == 1);
  CHECK(spec.calls[0].id == "cross");
  CHECK(spec.calls[0].tensor("key_padding_mask").kind == ArgRef::Kind::Inline);
  CHECK_FALSE(spec.calls[0].flag("need_weights"));
  CHECK(spec.calls[0].outputs == std::vector<std::string>{"out"});
}

TEST_CASE("the flat form, with the module as a constructor call", "[spec]") {
  Spec spec = parse(R"J({"module": "torch.nn.MultiheadAttention(64, 4, 0.1, False, kdim=32, vdim=16, dtype=torch.double)",
                         "query": [3, 2, 64], "key": [5, 2, 32], "value": [5, 2, 16], "attn_mask": null})J");
  CHECK(spec.flat);
  const MhaOptions& options = spec.modules[0].mha;
  CHECK(options.embed_dim == 64);
  CHECK(options.num_heads == 4);
  CHECK(options.dropout == Approx(0.1));
  CHECK_FALSE(options.bias);
  CHECK(options.kdim == 32);
  CHECK(options.vdim == 16);
  CHECK(options.dtype == DType::Float64);
  CHECK(spec.modules[0].written_as_call);
  CHECK(spec.calls[0].tensor("attn_mask").kind == ArgRef::Kind::Absent);
  CHECK(spec.calls[0].outputs == std::vector<std::string>{"attn_output", "attn_output_weights"});
}

TEST_CASE("\"dims\" binds a float option of a pasted constructor, and a fraction used as a size is refused", "[spec]") {
  // a pasted Conformer line (torchaudio) whose dropout is a name, bound as a line `dropout = 0.1` would
  Spec spec = parse(R"J({"module": "self.self_attn = torch.nn.MultiheadAttention(input_dim, num_attention_heads, dropout=dropout)",
                         "dims": {"input_dim": 144, "num_attention_heads": 4, "dropout": 0.1},
                         "query": ["T", "B", 144], "key": ["T", "B", 144], "value": ["T", "B", 144]})J");
  CHECK(spec.modules[0].mha.dropout == Approx(0.1));
  CHECK(spec.modules[0].mha.embed_dim == 144);
  CHECK_THAT(error_of(R"J({"module": "nn.MultiheadAttention(8, 2)", "dims": {"T": 2.5}, "query": ["T", 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})J"),
             Catch::Contains("expected a dim size (a non-negative integer), found 2.5"));
  CHECK_THAT(error_of(R"J({"module": "nn.MultiheadAttention(8, 2)", "dims": {"T": 2.5}, "query": ["2*T+1", 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})J"),
             Catch::Contains("found 2.5"));
  CHECK_THAT(error_of(R"J({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": "h"}, "dims": {"h": 0.5},
                          "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})J"),
             Catch::Contains("found 0.5"));
  CHECK_THAT(error_of(R"J({"module": "nn.MultiheadAttention(d, 2)", "dims": {"d": 8.5}, "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})J"),
             Catch::Contains("embed_dim must be an integer"));
  // Sizes outside shape lists too: an index's bound, repeat's sizes, arange's end, at the dims entry.
  for (const std::string call : {R"({"id": "g", "op": "getitem", "input": "x", "index": "[:, :p]"})",
                                 R"({"id": "r", "op": "repeat", "input": "x", "repeats": [1, "p", 1]})",
                                 R"({"id": "a", "op": "arange", "end": "2*p"})"}) {
    std::string error = error_of(R"({"version": 1, "dims": {"p": 0.5, "T": 4}, "tensors": {"x": [2, "T", 8]}, "calls": [)" + call + "]}");
    CHECK_THAT(error, Catch::Contains("expected a dim size (a non-negative integer), found 0.5"));
    CHECK_THAT(error, Catch::Contains("@1:"));
  }
}

TEST_CASE("\"dims\" binds a flag of a pasted constructor as --dim does, and a flag used as a size is refused", "[spec]") {
  // A pasted line whose layout flag is a name (batch_first=batch_first): true or false under
  // "dims" binds it, as --dim batch_first=True or a line `batch_first = True` would.
  const std::string line = "self.attn = nn.MultiheadAttention(d_model, nhead, batch_first=batch_first)";
  Spec spec = parse(R"J({"module": ")J" + line + R"J(", "dims": {"d_model": 64, "nhead": 4, "batch_first": true},
                         "query": ["B", "T", 64], "key": ["B", "T", 64], "value": ["B", "T", 64]})J");
  CHECK(spec.modules[0].mha.batch_first);
  CHECK(spec.modules[0].mha.embed_dim == 64);
  spec = parse(R"J({"module": ")J" + line + R"J(", "dims": {"d_model": 64, "nhead": 4, "batch_first": false},
                    "query": ["T", "B", 64], "key": ["T", "B", 64], "value": ["T", "B", 64]})J");
  CHECK_FALSE(spec.modules[0].mha.batch_first);
  // The full form too, in a module string.
  spec = parse(R"J({"version": 1, "dims": {"bf": true}, "tensors": {"x": [2, 5, 8]},
                    "modules": {"attn": "nn.MultiheadAttention(8, 2, batch_first=bf)"},
                    "calls": [{"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x"}]})J");
  CHECK(spec.modules[0].mha.batch_first);
  Report report = test::check_text(R"J({"module": ")J" + line + R"J(", "dims": {"d_model": 64, "nhead": 4, "batch_first": true},
                                       "query": ["B", "T", 64], "key": ["B", "T", 64], "value": ["B", "T", 64]})J");
  CHECK(report.ok());
  CHECK(report.count(Severity::Warning) == 0);
  // A flag where a size belongs: a shape, a module size.
  CHECK_THAT(error_of(R"J({"module": "nn.MultiheadAttention(8, 2)", "dims": {"T": true}, "query": ["T", 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})J"),
             Catch::Contains("expected a dim size (a non-negative integer), found true"));
  CHECK_THAT(error_of(R"J({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": "h"}, "dims": {"h": false},
                          "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})J"),
             Catch::Contains("found false"));
}

TEST_CASE("sizes pasted lines assign bind the same names in the shapes, after \"dims\"", "[spec]") {
  // def __init__(self, dim=512, heads=8) and embed_dim = 256: the shapes' dim and embed_dim are those sizes.
  Spec spec = parse(R"J({"module": "def __init__(self, dim=512, heads=8):\n    self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)",
                         "query": ["B", "N", "dim"], "key": ["B", "N", "dim"], "value": ["B", "N", "dim"]})J");
  auto bound = [&](const std::string& name) -> std::optional<std::int64_t> {
    for (const auto& [symbol, size] : spec.dims) {
      if (symbol == name) return size;
    }
    return std::nullopt;
  };
  CHECK(bound("dim") == 512);
  CHECK(bound("heads") == 8);
  CHECK_FALSE(bound("B").has_value());
  spec = parse(R"J({"module": "d_model = 256\nattn = nn.MultiheadAttention(d_model, 4)", "dims": {"d_model": 256},
                    "query": ["T", "B", "d_model"], "key": ["T", "B", "d_model"], "value": ["T", "B", "d_model"]})J");
  CHECK(std::count_if(spec.dims.begin(), spec.dims.end(), [](const auto& dim) { return dim.first == "d_model"; }) == 1);
  Report report = test::check_text(R"J({"module": "hidden = 64\nself.mha = nn.MultiheadAttention(hidden, 4, kdim=2*hidden, vdim=2*hidden, batch_first=True)",
    "query": ["B", "T", "hidden"], "key": ["B", "S", "2*hidden"], "value": ["B", "S", "2*hidden"]})J");
  CHECK(report.ok());
  CHECK(report.count(Severity::Warning) == 0);
}

TEST_CASE("a function is named by any of its module paths, as a Tensor method or by its alias", "[spec]") {
  CHECK(bare_function_name("torch.nn.functional.softmax") == "softmax");
  CHECK(bare_function_name("nn.functional.softmax") == "softmax");
  CHECK(bare_function_name("Tensor.masked_fill") == "masked_fill");
  CHECK(bare_function_name("torch.Tensor.masked_fill") == "masked_fill");
  CHECK(bare_function_name("torch.concat") == "cat");
  CHECK(bare_function_name("swapdims") == "transpose");
  CHECK(bare_function_name("torch.multiply") == "mul");
  CHECK(bare_function_name("Tensor.not_equal") == "ne");
  CHECK(bare_function_name("masked_fill_") == "masked_fill_");  // in place: other broadcasting rules
  Spec spec = parse(R"({"version": 1, "tensors": {"a": [2, 3], "b": [2, 3]},
    "calls": [{"id": "c", "op": "torch.concat", "tensors": ["a", "b"], "dim": 0, "outputs": ["ab"]},
              {"id": "t", "op": "Tensor.swapdims", "input": "ab", "dim0": 0, "dim1": 1, "outputs": ["t"]}]})");
  CHECK(spec.calls[0].op == "cat");
  CHECK(spec.calls[1].op == "transpose");
}

TEST_CASE("bad specs are refused with the place and a suggestion", "[spec]") {
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_head": 2}, "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("unknown key \"num_head\" (did you mean \"num_heads\"?)") && Catch::Contains("@1:59"));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": "8", "num_heads": 2}, "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("\"embed_dim\" must be an integer, found a string"));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, -1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("dim -1 is negative"));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1.5, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("found 1.5"));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, "seq len", 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("is not a symbol name"));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1, 8], "key": {"shape": [1, 1, 8], "dtype": "float33"}, "value": [1, 1, 8]})"),
             Catch::Contains("unknown dtype \"float33\"") && Catch::Contains("float32"));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAtention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("did you mean \"MultiheadAttention\""));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8}, "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("module has no \"num_heads\""));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("call has no \"key\""));
  CHECK_THAT(error_of(R"({"version": 2, "module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}})"),
             Catch::Contains("unsupported spec version 2"));
  CHECK_THAT(error_of(R"({"modules": {}, "calls": [{"module": "attn", "query": [1], "key": [1], "value": [1]}]})"),
             Catch::Contains("no module named \"attn\""));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1, 1, 1, 1, 1, 1, 1, 1], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("rank 9 is above the limit of 8"));
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1, 99999999999999], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("larger than the limit"));
  CHECK_THAT(error_of(R"([1, 2])"), Catch::Contains("expected a JSON object"));
}

TEST_CASE("a spec may accept warnings and notes, not errors", "[spec]") {
  Report accepted = test::check_text(R"({"mhacheck": {"ignore": ["MHA081", "interpretation"]},
    "module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2},
    "tensors": {"x": ["B", "T", 8]}, "query": "x", "key": "x", "value": "x"})");
  CHECK(accepted.diagnostics.empty());
  CHECK(accepted.ok());
  CHECK_THAT(error_of(R"({"mhacheck": {"ignore": ["MHA040"]}, "module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("MHA040 is an error: a spec can accept warnings and notes only"));
  CHECK_THAT(error_of(R"({"mhacheck": {"ignore": ["MHA999"]}, "module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [1, 1, 8], "key": [1, 1, 8], "value": [1, 1, 8]})"),
             Catch::Contains("unknown diagnostic code \"MHA999\""));
}

TEST_CASE("a spec holds at most kMaxCalls calls", "[spec]") {
  std::string calls;
  for (std::size_t i = 0; i <= kMaxCalls; ++i) calls += i ? ",{}" : "{}";
  CHECK_THAT(error_of(R"({"modules": {}, "calls": [)" + calls + "]}"),
             Catch::Contains("100001 calls is above the limit of 100000"));
}

TEST_CASE("a full-form spec of function calls only declares no modules", "[spec]") {
  Report report = test::check_text(R"({"version": 1, "tensors": {"q": [2, 4, 8, 16]},
    "calls": [{"op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q"}]})");
  CHECK_FALSE(report.input_error);
  REQUIRE(report.calls.size() == 1);
  CHECK(report.calls[0].ok);
  CHECK_THAT(error_of(R"({"calls": [{"module": "attn", "query": [1], "key": [1], "value": [1]}]})"),
             Catch::Contains("no module named \"attn\"") && Catch::Contains("declare it under \"modules\""));
}

TEST_CASE("an unknown function lists the supported ones", "[spec]") {
  std::string error = error_of(R"({"calls": [{"op": "F.scaled_dot_attention", "query": [1], "key": [1], "value": [1]}]})");
  CHECK_THAT(error, Catch::Contains("unknown function \"F.scaled_dot_attention\"") &&
                        Catch::Contains("supported functions: scaled_dot_product_attention, transpose,") && Catch::Contains("softmax"));
  CHECK_THAT(error_of(R"({"calls": [{"op": "MultiheadAttention", "query": [1], "key": [1], "value": [1]}]})"),
             Catch::Contains("nn.MultiheadAttention is a module: declare it under \"modules\""));
}

TEST_CASE("module options may be symbols that \"dims\" binds, in JSON and in Python text", "[spec]") {
  Spec json_form = parse(R"({"dims": {"d_model": 64}, "module": {"type": "MultiheadAttention", "embed_dim": "d_model", "num_heads": 4},
    "query": [3, 2, 64], "key": [3, 2, 64], "value": [3, 2, 64]})");
  CHECK(json_form.modules.at(0).mha.embed_dim == 64);
  Spec python_form = parse(R"x({"dims": {"d_model": 64}, "module": "nn.MultiheadAttention(d_model, d_model // 16)",
    "query": [3, 2, 64], "key": [3, 2, 64], "value": [3, 2, 64]})x");
  CHECK(python_form.modules.at(0).mha.num_heads == 4);
  CHECK_THAT(error_of(R"({"module": {"type": "MultiheadAttention", "embed_dim": "E", "num_heads": 4}, "query": [3, 2, 64], "key": [3, 2, 64], "value": [3, 2, 64]})"),
             Catch::Contains("\"embed_dim\" is the symbol E, which nothing binds") && Catch::Contains("\"dims\": {\"E\": SIZE}"));
  // A symbol the inputs use is settled with a stand-in that the head count divides; a float
  // option may be a name too, keeping PyTorch's default.
  Spec symbolic = parse(R"({"module": {"type": "MultiheadAttention", "embed_dim": "E", "num_heads": 4, "dropout": "p_drop"},
    "query": ["L", "N", "E"], "key": ["L", "N", "E"], "value": ["L", "N", "E"]})");
  const ModuleDecl& module = symbolic.modules.at(0);
  CHECK(module.mha.embed_dim % 4 == 0);
  CHECK(module.mha.embed_dim > 1000);
  CHECK(module.mha.dropout == 0.0);
  REQUIRE(module.assumptions.size() == 2);
  CHECK_THAT(module.assumptions[0], Catch::StartsWith("dropout is the name p_drop, which nothing binds"));
  CHECK_THAT(module.assumptions[1], Catch::StartsWith("E is unbound: PyTorch requires E (embed_dim) divisible by num_heads 4"));
  CHECK(std::find(symbolic.dims.begin(), symbolic.dims.end(), std::pair<std::string, std::int64_t>("E", module.mha.embed_dim)) !=
        symbolic.dims.end());
}

TEST_CASE("a spec read from text frees its JSON tree and parses it again only when asked", "[spec]") {
  const std::string text = R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(8, 2)",
    "ln": {"type": "LayerNorm", "normalized_shape": 8}},
    "tensors": {"x": [3, 2, 8]},  // a comment, as specs may have
    "calls": [{"module": "attn", "query": "x", "key": "x", "value": "x", "outputs": ["h"]},
              {"module": "ln", "input": "h"}]})J";
  JsonDocument document = test::document_from(text);
  const nlohmann::json written = document.value;
  Spec spec = parse_spec(std::move(document));
  CHECK(spec.document.value.is_discarded());
  CHECK(spec.value() == written);
  CHECK(&spec.value() == &spec.value());  // parsed once
  // What reports show of a module is kept by the reader, not read from the tree.
  CHECK(spec.find_module("attn")->text == "nn.MultiheadAttention(8, 2)");
  CHECK(spec.find_module("ln")->text == "nn.LayerNorm(8)");

  // A document not made from its text (a patched copy, flags) keeps its value.
  JsonDocument patched = test::document_from(text);
  patched.value_from_source = false;
  patched.value["tensors"]["x"] = {3, 2, 16};
  Spec kept = parse_spec(std::move(patched));
  CHECK(kept.value()["tensors"]["x"][2] == 16);
}

TEST_CASE("readers_of and makers_of give the calls reading and outputting a tensor, in spec order", "[spec]") {
  Spec spec = parse(R"({
    "version": 1, "tensors": {"x": [2, 3]},
    "calls": [{"id": "a", "op": "relu", "input": "x", "outputs": ["h"]},
              {"id": "b", "op": "add", "input": "h", "other": "h", "outputs": ["h"]},
              {"id": "c", "op": "mul", "input": "x", "other": "h", "outputs": ["y"]}]})");
  CHECK(spec.readers_of("x") == std::vector<std::size_t>{0, 2});
  CHECK(spec.readers_of("h") == std::vector<std::size_t>{1, 2});  // b reads h twice, listed once
  CHECK(spec.makers_of("h") == std::vector<std::size_t>{0, 1});
  CHECK(spec.makers_of("x").empty());
  CHECK(spec.readers_of("y").empty());
  // A copy whose calls change is indexed again, not read from the original's index.
  Spec copy = spec;
  copy.calls.pop_back();
  CHECK(copy.readers_of("x") == std::vector<std::size_t>{0});
  CHECK(spec.readers_of("x") == std::vector<std::size_t>{0, 2});
}
