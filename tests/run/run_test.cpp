// `run` beyond the golden forward cases: weights validation, data sources, NaN rows, chained
// calls and the JSON report.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

#include <unistd.h>

#include "mhacheck/npy.hpp"
#include "mhacheck/render_run.hpp"
#include "mhacheck/run.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

// Runs spec text as if it were a file in the repository's top folder (paths like examples/run/...).
RunResult run_text(const std::string& text, RunOptions options = {}) {
  options.threads = 1;
  return run_spec(parse_spec(test::document_from(text, std::string(MHACHECK_SOURCE_DIR) + "/spec.json")), options);
}

const char* kWeights = R"("weights": "examples/run/mha_e8_h2.npz")";

RunOptions random_inputs(std::uint64_t seed = 0) {
  RunOptions options;
  options.random_inputs = true;
  options.seed = seed;
  return options;
}

}  // namespace

TEST_CASE("run: the example runs and matches PyTorch's printed values", "[run]") {
  RunResult result = run_spec(parse_spec(parse_json_document(read_source_file(std::string(MHACHECK_SOURCE_DIR) + "/examples/run_example.json", 1 << 20))), RunOptions{});
  REQUIRE(result.executed);
  REQUIRE(result.outputs.size() == 2);
  // Printed by PyTorch 1.13 for the same module and inputs (examples/run/make_run_example.py).
  CHECK(std::abs(result.outputs[0].array.data<float>()[0] - -0.0910f) < 1e-4);
  std::string text = render_run_text(result, TextStyle{false}, PrintOptions{});
  CHECK_THAT(text, Catch::Contains("        [[0.4975, 0.5025, 0.0000, 0.0000, 0.0000],\n"
                                   "         [0.6251, 0.3749, 0.0000, 0.0000, 0.0000],\n"));
}

TEST_CASE("run: weights are checked as load_state_dict(strict=True) checks them", "[run]") {
  RunResult missing = run_text(std::string(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "kdim": 4, "vdim": 4, )") +
                               kWeights + R"(}, "query": [3, 2, 8], "key": [5, 2, 4], "value": [5, 2, 4]})", random_inputs());
  CHECK_FALSE(missing.executed);
  const Diagnostic* absent = test::find(missing.report, "MHA100");
  REQUIRE(absent != nullptr);
  CHECK_THAT(absent->message, Catch::Contains("\"q_proj_weight\", \"k_proj_weight\", \"v_proj_weight\""));
  CHECK(test::find(missing.report, "MHA102") != nullptr);  // its in_proj_weight
  CHECK_THAT(absent->notes.at(0), Catch::Contains("a module with embed_dim=8 and no kdim/vdim"));

  RunResult shape = run_text(std::string(R"({"module": {"type": "MultiheadAttention", "embed_dim": 16, "num_heads": 2, )") + kWeights +
                             R"(}, "query": [3, 2, 16], "key": [5, 2, 16], "value": [5, 2, 16]})", random_inputs());
  const Diagnostic* size = test::find(shape.report, "MHA101");
  REQUIRE(size != nullptr);
  CHECK_THAT(size->pytorch_error->message,
             Catch::Contains("size mismatch for in_proj_weight: copying a param with shape torch.Size([24, 8]) from checkpoint, "
                             "the shape in current model is torch.Size([48, 16])."));

  RunResult prefixed = run_text(std::string(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "prefix": "layer.", )") +
                                kWeights + R"(}, "query": [3, 2, 8], "key": [5, 2, 8], "value": [5, 2, 8]})", random_inputs());
  REQUIRE(test::find(prefixed.report, "MHA100") != nullptr);
  CHECK_THAT(test::find(prefixed.report, "MHA100")->notes.at(0), Catch::Contains("nothing under prefix \"layer.\""));
}

TEST_CASE("run: shape-only tensors need --random-inputs and bound symbols", "[run]") {
  const char* spec = R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [3, "B", 8], "key": [5, "B", 8], "value": [5, "B", 8]})";
  RunResult without = run_text(spec);
  CHECK_FALSE(without.executed);
  CHECK_THAT(test::find(without.report, "MHA103")->message, Catch::Contains("has a shape but no data"));
  RunResult unbound = run_text(spec, random_inputs());
  CHECK_THAT(test::find(unbound.report, "MHA103")->message, Catch::Contains("symbolic dim B"));
  std::string bound = spec;
  bound.insert(1, R"("dims": {"B": 2}, )");
  RunResult first = run_text(bound, random_inputs(7));
  RunResult second = run_text(bound, random_inputs(7));
  RunResult other = run_text(bound, random_inputs(8));
  REQUIRE(first.executed);
  CHECK(first.outputs[0].array.shape == std::vector<std::int64_t>{3, 2, 8});
  CHECK(first.outputs[0].array.bytes == second.outputs[0].array.bytes);
  CHECK(first.outputs[0].array.bytes != other.outputs[0].array.bytes);
}

TEST_CASE("run: binding the factors of a product of symbols (B*T) makes it a number", "[run]") {
  std::string spec = R"({"modules": {"proj": {"type": "Linear", "in_features": 8, "out_features": 4}},
    "tensors": {"tokens": ["B*T", 8]},
    "calls": [{"id": "proj", "module": "proj", "input": "tokens", "outputs": ["h"]},
              {"id": "unflatten", "op": "view", "input": "h", "shape": ["B", "T", 4]}]})";
  RunResult half = run_text(R"({"dims": {"B": 2}, )" + spec.substr(1), random_inputs());
  CHECK_FALSE(half.executed);
  REQUIRE(test::find(half.report, "MHA103") != nullptr);
  CHECK_THAT(test::find(half.report, "MHA103")->message, Catch::Contains("symbolic dim 2*T"));
  CHECK_THAT(test::find(half.report, "MHA103")->notes.at(0), Catch::Contains("--dim T=8"));
  RunResult bound = run_text(R"({"dims": {"B": 2, "T": 3}, )" + spec.substr(1), random_inputs());
  REQUIRE(bound.executed);
  REQUIRE(bound.outputs.size() == 2);
  CHECK(bound.outputs[0].array.shape == std::vector<std::int64_t>{6, 4});
  CHECK(bound.outputs[1].array.shape == std::vector<std::int64_t>{2, 3, 4});
  CHECK(bound.outputs[0].array.bytes == bound.outputs[1].array.bytes);  // a view keeps the values
}

TEST_CASE("run: symbols bound by the check's equalities are the run's too", "[run]") {
  // The bool attn_mask (S, S) makes the check assume L == S (MHA080); S is 4, so L is 4.
  const char* spec = R"({"dims": {"S": 4}, "module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2},
    "query": ["L", 2, 8], "key": ["S", 2, 8], "value": ["S", 2, 8], "attn_mask": {"shape": ["S", "S"], "dtype": "bool"}})";
  RunResult result = run_text(spec, random_inputs());
  REQUIRE(test::find(result.report, "MHA080") != nullptr);
  CHECK(test::find(result.report, "MHA103") == nullptr);
  REQUIRE(result.executed);
  REQUIRE(result.report.calls.size() == 1);
  CHECK(tuple_str(result.report.calls[0].outputs[0].shape) == "(4, 2, 8)");
  CHECK(result.outputs[0].array.shape == std::vector<std::int64_t>{4, 2, 8});
}

TEST_CASE("run: fully masked rows are named, NaN with need_weights, bias-only without", "[run]") {
  std::string spec = std::string(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, )") + kWeights +
                     R"(}, "query": {"file": "examples/run/inputs.npz", "key": "query"}, "key": {"file": "examples/run/inputs.npz", "key": "key"},
                         "value": {"file": "examples/run/inputs.npz", "key": "key"},
                         "key_padding_mask": {"file": "examples/run/inputs.npz", "key": "blank_row_mask"})";
  RunResult with_weights = run_text(spec + "}");
  REQUIRE(with_weights.executed);
  const Diagnostic* masked = test::find(with_weights.report, "MHA110");
  REQUIRE(masked != nullptr);
  CHECK_THAT(masked->message, Catch::Contains("6 (batch entry, head, query row) triples") && Catch::Contains("(batch 1, head 0, row 0)") && Catch::Contains("NaN"));
  const Array& out = with_weights.outputs[0].array;  // (L=3, N=2, E=8): batch 1 is NaN, batch 0 is not
  CHECK(std::isnan(out.data<float>()[8]));
  CHECK_FALSE(std::isnan(out.data<float>()[0]));
  RunResult without_weights = run_text(spec + R"(, "need_weights": false})");
  REQUIRE(without_weights.executed);
  CHECK_FALSE(std::isnan(without_weights.outputs[0].array.data<float>()[8]));
  CHECK_THAT(test::find(without_weights.report, "MHA110")->message, Catch::Contains("out_proj's bias alone"));
}

TEST_CASE("run: outputs feed later calls, JSON carries statistics", "[run]") {
  RunResult result = run_text(R"({"dims": {"B": 2}, "modules": {"a": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}},
    "tensors": {"x": [4, "B", 8]},
    "calls": [{"id": "first", "module": "a", "query": "x", "key": "x", "value": "x", "outputs": ["h", "w"]},
              {"id": "second", "module": "a", "query": "h", "key": "x", "value": "x", "need_weights": false}]})",
                              random_inputs());
  REQUIRE(result.executed);
  REQUIRE(result.outputs.size() == 3);
  CHECK(result.outputs[2].name == "second.attn_output");
  nlohmann::json json = render_run_json(result, true);
  CHECK(json["run"]["executed"] == true);
  const nlohmann::json& weights = json["run"]["outputs"]["w"];
  CHECK(weights["shape"] == nlohmann::json{2, 4, 4});
  CHECK(weights["statistics"]["nan_count"] == 0);
  CHECK(weights["statistics"]["mean"].get<double>() == Approx(0.25));  // rows of 4 weights sum to 1
  CHECK(weights["values"].size() == 32);
}

TEST_CASE("run: a failing check runs nothing", "[run]") {
  RunResult result = run_text(R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [3, 1, 8], "key": [3, 4, 8], "value": [3, 4, 8]})J",
                              random_inputs());
  CHECK_FALSE(result.executed);
  CHECK(result.outputs.empty());
  CHECK(test::find(result.report, "MHA040") != nullptr);
}

TEST_CASE("run: random masks mask nothing, whichever way a bool mask reads", "[run]") {
  // F.scaled_dot_product_attention's True attends; nn.MultiheadAttention's True masks.
  RunResult sdpa = run_text(R"({"op": "scaled_dot_product_attention", "query": [2, 3, 4], "key": [2, 5, 4], "value": [2, 5, 4],
                                "attn_mask": [3, 5]})",
                            random_inputs());
  REQUIRE(sdpa.executed);
  CHECK(test::find(sdpa.report, "MHA110") == nullptr);
  RunResult mha = run_text(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": [3, 2, 8],
                               "key": [5, 2, 8], "value": [5, 2, 8], "key_padding_mask": [2, 5],
                               "attn_mask": {"shape": [3, 5], "dtype": "float32"}})",
                           random_inputs());
  REQUIRE(mha.executed);
  CHECK(test::find(mha.report, "MHA110") == nullptr);
  // The weights are a softmax over unmasked keys: rows sum to 1, no NaN.
  CHECK(render_run_json(mha, false)["run"]["outputs"]["attn_output_weights"]["statistics"]["nan_count"] == 0);
}

TEST_CASE("run: a Transformer module's weights are checked by state_dict name, in its class's words", "[run]") {
  const std::string file = "tests/pytorch/forward_transformer/encoder-layer-post-gelu.npz";  // d_model 8, dim_feedforward 32
  auto spec = [&](const std::string& options) {
    return R"({"module": {"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2, "weights": ")" + file + "\", " + options +
           R"(}, "src": [6, 2, 8]})";
  };
  RunResult unexpected = run_text(spec(R"("dim_feedforward": 32, "bias": false)"), random_inputs());
  CHECK_FALSE(unexpected.executed);
  const Diagnostic* extra = test::find(unexpected.report, "MHA102");
  REQUIRE(extra != nullptr);
  CHECK(extra->pytorch_error->message ==
        "Error(s) in loading state_dict for TransformerEncoderLayer:\n\tUnexpected key(s) in state_dict: \"self_attn.in_proj_bias\", "
        "\"self_attn.out_proj.bias\", \"linear1.bias\", \"linear2.bias\", \"norm1.bias\", \"norm2.bias\". ");

  RunResult shape = run_text(spec(R"("dim_feedforward": 16)"), random_inputs());
  const Diagnostic* size = test::find(shape.report, "MHA101");
  REQUIRE(size != nullptr);
  CHECK_THAT(size->pytorch_error->message,
             Catch::StartsWith("Error(s) in loading state_dict for TransformerEncoderLayer:\n\tsize mismatch for linear1.weight: copying a "
                               "param with shape torch.Size([32, 8]) from checkpoint, the shape in current model is torch.Size([16, 8])."));

  RunResult missing = run_text(spec(R"("dim_feedforward": 32, "prefix": "encoder.layers.0.")"), random_inputs());
  CHECK_THAT(test::find(missing.report, "MHA100")->pytorch_error->message,
             Catch::Contains("Missing key(s) in state_dict: \"encoder.layers.0.self_attn.in_proj_weight\""));

  RunResult loaded = run_text(spec(R"("dim_feedforward": 32)"), random_inputs());
  REQUIRE(loaded.executed);
  CHECK(loaded.outputs.at(0).name == "output");
  CHECK(loaded.outputs.at(0).array.shape == std::vector<std::int64_t>{6, 2, 8});
}

TEST_CASE("run: the Transformer modules run on initial weights and random inputs", "[run]") {
  RunResult transformer = run_text(R"({"module": {"type": "Transformer", "d_model": 8, "nhead": 2, "num_encoder_layers": 2,
                                        "num_decoder_layers": 1, "dim_feedforward": 16, "batch_first": true},
                                       "src": [2, 5, 8], "tgt": [2, 3, 8], "tgt_mask": {"causal": [3, 3]}})",
                                   random_inputs());
  REQUIRE(transformer.executed);
  const Array& out = transformer.outputs.at(0).array;
  CHECK(out.shape == std::vector<std::int64_t>{2, 3, 8});
  // decoder.norm is a fresh LayerNorm: every output token has mean 0 and variance 1.
  std::vector<double> values = out.to_double();
  double mean = 0;
  for (int i = 0; i < 8; ++i) mean += values[static_cast<std::size_t>(i)] / 8;
  CHECK(mean == Approx(0).margin(1e-6));

  // Embedding's indices default to int64 (zeros: row 0), and feed a Linear.
  RunResult chained = run_text(R"({"modules": {"embed": {"type": "Embedding", "num_embeddings": 10, "embedding_dim": 4},
                                                "head": {"type": "Linear", "in_features": 4, "out_features": 3, "dtype": "float32"}},
                                   "tensors": {"ids": [2, 5]},
                                   "calls": [{"id": "e", "module": "embed", "input": "ids", "outputs": ["x"]},
                                             {"id": "h", "module": "head", "input": "x"}]})",
                               random_inputs());
  REQUIRE(chained.executed);
  CHECK(chained.outputs.at(0).array.shape == std::vector<std::int64_t>{2, 5, 4});
  CHECK(chained.outputs.at(1).name == "h.output");
  CHECK(chained.outputs.at(1).array.shape == std::vector<std::int64_t>{2, 5, 3});

  RunResult half = run_text(R"({"module": {"type": "Linear", "in_features": 4, "out_features": 3, "dtype": "float16"},
                                "input": {"shape": [2, 4], "dtype": "float16"}})",
                            random_inputs());
  CHECK_FALSE(half.executed);
  CHECK(test::find(half.report, "MHA104")->argument == "module.dtype");
}

TEST_CASE("run: an Embedding index outside the table names the call, the position and the value", "[run]") {
  RunResult result = run_text(R"({"module": {"type": "Embedding", "num_embeddings": 10, "embedding_dim": 4},
                                  "input": {"file": "examples/run/embedding_ids.npy"}})");
  CHECK_FALSE(result.executed);
  const Diagnostic* index = test::find(result.report, "MHA105");
  REQUIRE(index != nullptr);
  CHECK(index->call == "call");
  CHECK(index->argument == "input");
  CHECK(index->message == "input[1, 1] is 12, outside the embedding's 10 rows (indices 0 to 9)");
  CHECK(index->pytorch_error->type == "IndexError");
  CHECK(index->pytorch_error->message == "index out of range in self");
  CHECK(index->location.line == 2);
}

TEST_CASE("run: fully masked rows inside a layer's attention are named by block", "[run]") {
  RunResult result = run_text(R"({"module": {"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer",
                                    "d_model": 8, "nhead": 2, "dim_feedforward": 16}, "num_layers": 2},
                                  "src": [5, 2, 8],
                                  "src_key_padding_mask": {"file": "examples/run/inputs.npz", "key": "blank_row_mask"}})",
                              random_inputs());
  REQUIRE(result.executed);
  const Diagnostic* masked = test::find(result.report, "MHA110");
  REQUIRE(masked != nullptr);
  CHECK(masked->argument == "src_key_padding_mask");
  CHECK_THAT(masked->message, Catch::Contains("layers.0.self_attn (10), layers.1.self_attn (10)"));
  for (double value : result.outputs.at(0).array.to_double()) CHECK_FALSE(std::isnan(value));
}

TEST_CASE("run: --weights and the spec's own \"weights\" together are refused", "[run]") {
  RunOptions options = random_inputs();
  options.weights = "does-not-exist.npz";
  std::string spec = std::string(R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, )") + kWeights +
                     R"(}, "query": [3, 2, 8], "key": [5, 2, 8], "value": [5, 2, 8]})";
  try {
    run_text(spec, options);
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK_THAT(error.what(), Catch::Contains("--weights does-not-exist.npz and this spec's \"weights\" both name"));
  }
}

TEST_CASE("run: a checkpoint of another embed_dim is one load error, with the constructor that fits it", "[run]") {
  // examples/run/mha_e8_h2.npz holds nn.MultiheadAttention(8, 2)'s state_dict.
  RunResult shape = run_text(R"x({"module": "nn.MultiheadAttention(16, 2)", "query": [3, 2, 16], "key": [5, 2, 16], "value": [5, 2, 16]})x",
                             [] {
                               RunOptions options = random_inputs();
                               options.weights = std::string(MHACHECK_SOURCE_DIR) + "/examples/run/mha_e8_h2.npz";
                               return options;
                             }());
  int size_errors = 0;
  for (const Diagnostic& diagnostic : shape.report.diagnostics) size_errors += diagnostic.info().code == std::string("MHA101");
  CHECK(size_errors == 1);
  const Diagnostic* size = test::find(shape.report, "MHA101");
  REQUIRE(size != nullptr);
  CHECK_THAT(size->pytorch_error->message,
             Catch::Contains("torch.Size([48, 16]).\n\tsize mismatch for in_proj_bias:") && Catch::EndsWith("torch.Size([16])."));
  REQUIRE(size->fixes.size() == 1);
  CHECK(size->fixes[0].description == "construct with embed_dim=8, as the checkpoint's module was");
  CHECK(size->fixes[0].patch == nlohmann::json::parse(R"x([{"op": "replace", "path": "/module", "value": "nn.MultiheadAttention(8, 2)"}])x"));
}

TEST_CASE("run: a checkpoint without biases notes that bias was left at its default", "[run]") {
  // examples/run/mha_e8_h2.npz without its biases: what nn.MultiheadAttention(8, 2, bias=False) saves.
  std::string full = std::string(MHACHECK_SOURCE_DIR) + "/examples/run/mha_e8_h2.npz";
  std::string no_bias = (std::filesystem::temp_directory_path() / ("mhacheck_no_bias_" + std::to_string(::getpid()) + ".npz")).string();
  std::vector<std::pair<std::string, Array>> members;
  for (const std::string& name : list_npz(full)) {
    if (!name.ends_with("bias")) members.emplace_back(name, read_npz(full, name, 1 << 20));
  }
  write_npz(no_bias, members, false);
  auto missing_notes = [&](const std::string& module) {
    RunOptions options = random_inputs();
    options.weights = no_bias;
    RunResult result = run_text(R"x({"module": ")x" + module + R"x(", "query": [3, 2, 8], "key": [5, 2, 8], "value": [5, 2, 8]})x", options);
    const Diagnostic* missing = test::find(result.report, "MHA100");
    REQUIRE(missing != nullptr);
    CHECK_THAT(missing->message, Catch::Contains("has no \"in_proj_bias\", \"out_proj.bias\""));
    return missing->notes;
  };
  std::vector<std::string> left_out = missing_notes("nn.MultiheadAttention(8, 2)");
  std::vector<std::string> written = missing_notes("nn.MultiheadAttention(8, 2, bias=True)");
  std::filesystem::remove(no_bias);
  REQUIRE(left_out.size() == 2);
  CHECK_THAT(left_out[1], Catch::StartsWith("bias is left out of the constructor, so it is PyTorch's default True"));
  CHECK(written.size() == 1);
}

namespace {

RunOptions plotting(std::string call = "", std::string block = "") {
  RunOptions options = random_inputs(2);
  options.plot = true;
  options.plot_call = std::move(call);
  options.plot_block = std::move(block);
  return options;
}

// Row sums of (N, H, L, S) probabilities.
std::vector<double> row_sums(const Array& probabilities) {
  std::vector<double> values = probabilities.to_double(), sums;
  std::int64_t columns = probabilities.shape.back();
  for (std::size_t first = 0; first < values.size(); first += static_cast<std::size_t>(columns)) {
    double sum = 0;
    for (std::int64_t s = 0; s < columns; ++s) sum += values[first + static_cast<std::size_t>(s)];
    sums.push_back(sum);
  }
  return sums;
}

}  // namespace

TEST_CASE("run --plot: nn.MultiheadAttention's captured heads average to its need_weights output", "[run][plot]") {
  auto example = [] { return parse_spec(parse_json_document(read_source_file(std::string(MHACHECK_SOURCE_DIR) + "/examples/run_example.json", 1 << 20))); };
  RunResult plotted = run_spec(example(), plotting());
  RunResult plain = run_spec(example(), RunOptions{});
  REQUIRE(plotted.plotted);
  CHECK(plotted.plotted->call == "call");
  CHECK(plotted.plotted->block.empty());
  const Array& heads = plotted.plotted->probabilities;
  REQUIRE(heads.shape == std::vector<std::int64_t>{2, 2, 3, 5});  // (N, H, L, S)
  std::vector<double> per_head = heads.to_double(), average = plotted.outputs.at(1).array.to_double();
  REQUIRE(average.size() == 2 * 3 * 5);
  for (std::size_t n = 0; n < 2; ++n) {
    for (std::size_t i = 0; i < 15; ++i) {
      CHECK((per_head[n * 30 + i] + per_head[n * 30 + 15 + i]) / 2 == Approx(average[n * 15 + i]).margin(1e-6));
    }
  }
  // Capturing changes nothing the call returns.
  for (std::size_t i = 0; i < plain.outputs.size(); ++i) CHECK(plain.outputs[i].array.bytes == plotted.outputs.at(i).array.bytes);
  CHECK_FALSE(plain.plotted);
}

TEST_CASE("run --plot: F.scaled_dot_product_attention's probabilities weigh its values into its output", "[run][plot]") {
  RunResult result = run_text(R"({"op": "scaled_dot_product_attention",
                                  "query": {"file": "tests/pytorch/forward_sdpa/4d-basic-e8.npz", "key": "query"},
                                  "key": {"file": "tests/pytorch/forward_sdpa/4d-basic-e8.npz", "key": "key"},
                                  "value": {"file": "tests/pytorch/forward_sdpa/4d-basic-e8.npz", "key": "value"}})",
                              plotting());
  REQUIRE(result.plotted);
  const Array& probabilities = result.plotted->probabilities;
  const Array& output = result.outputs.at(0).array;
  Array value = read_npz(std::string(MHACHECK_SOURCE_DIR) + "/tests/pytorch/forward_sdpa/4d-basic-e8.npz", "value", 1 << 20);
  REQUIRE(probabilities.shape.size() == 4);
  std::int64_t N = probabilities.shape[0], H = probabilities.shape[1], L = probabilities.shape[2], S = probabilities.shape[3];
  REQUIRE(output.shape == std::vector<std::int64_t>{N, H, L, value.shape[3]});
  std::int64_t Ev = value.shape[3];
  std::vector<double> p = probabilities.to_double(), v = value.to_double(), out = output.to_double();
  for (std::int64_t b = 0; b < N * H; ++b) {
    for (std::int64_t l = 0; l < L; ++l) {
      for (std::int64_t e = 0; e < Ev; ++e) {
        double sum = 0;
        for (std::int64_t s = 0; s < S; ++s) sum += p[static_cast<std::size_t>((b * L + l) * S + s)] * v[static_cast<std::size_t>((b * S + s) * Ev + e)];
        CHECK(sum == Approx(out[static_cast<std::size_t>((b * L + l) * Ev + e)]).margin(1e-5));
      }
    }
  }
  for (double sum : row_sums(probabilities)) CHECK(sum == Approx(1).margin(1e-5));

  // Causal and 3-D: (N, L, S) is N batch entries of one head, nothing above the diagonal.
  RunResult causal = run_text(R"({"op": "scaled_dot_product_attention", "query": [2, 4, 8], "key": [2, 4, 8], "value": [2, 4, 8],
                                  "is_causal": true})",
                              plotting());
  REQUIRE(causal.plotted);
  REQUIRE(causal.plotted->probabilities.shape == std::vector<std::int64_t>{2, 1, 4, 4});
  std::vector<double> weights = causal.plotted->probabilities.to_double();
  for (std::int64_t l = 0; l < 4; ++l) {
    for (std::int64_t s = l + 1; s < 4; ++s) CHECK(weights[static_cast<std::size_t>(16 + l * 4 + s)] == 0);
  }
}

TEST_CASE("run --plot: a Transformer module's block, chosen by name, computed with need_weights=False", "[run][plot]") {
  const char* encoder = R"({"module": {"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer",
                              "d_model": 8, "nhead": 2, "dim_feedforward": 16, "batch_first": true}, "num_layers": 2},
                            "src": [3, 5, 8]})";
  RunResult second = run_text(encoder, plotting("call", "layers.1.self_attn"));
  REQUIRE(second.plotted);
  CHECK(second.plotted->block == "layers.1.self_attn");
  CHECK(second.plotted->probabilities.shape == std::vector<std::int64_t>{3, 2, 5, 5});
  for (double sum : row_sums(second.plotted->probabilities)) CHECK(sum == Approx(1).margin(1e-5));
  RunResult first = run_text(encoder, plotting());
  REQUIRE(first.plotted);
  CHECK(first.plotted->block == "layers.0.self_attn");
  CHECK(first.plotted->probabilities.bytes != second.plotted->probabilities.bytes);
  CHECK(first.outputs.at(0).array.bytes == run_text(encoder, random_inputs(2)).outputs.at(0).array.bytes);

  RunResult missing = run_text(encoder, plotting("", "layers.2.self_attn"));
  CHECK_FALSE(missing.plotted);
  CHECK(missing.plot_problem ==
        "--plot-block layers.2.self_attn: call \"call\" (nn.TransformerEncoder) has no such attention block; its blocks: layers.0.self_attn, "
        "layers.1.self_attn");

  RunResult transformer = run_text(R"({"module": {"type": "Transformer", "d_model": 8, "nhead": 2, "num_encoder_layers": 1,
                                        "num_decoder_layers": 1, "dim_feedforward": 16},
                                       "src": [5, 8], "tgt": [3, 8]})",
                                   plotting("", "decoder.layers.0.multihead_attn"));
  REQUIRE(transformer.plotted);
  CHECK_FALSE(transformer.plotted->batched);
  CHECK(transformer.plotted->probabilities.shape == std::vector<std::int64_t>{1, 2, 3, 5});  // tgt over memory
}

TEST_CASE("run --plot: a call without attention, a missing call, a block of a call without blocks", "[run][plot]") {
  const char* spec = R"({"modules": {"proj": {"type": "Linear", "in_features": 8, "out_features": 8},
                                     "attn": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}},
                         "tensors": {"x": [4, 2, 8]},
                         "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["y"]},
                                   {"id": "a", "module": "attn", "query": "y", "key": "y", "value": "y", "need_weights": false}]})";
  RunResult first = run_text(spec, plotting());
  REQUIRE(first.plotted);
  CHECK(first.plotted->call == "a");  // the first call that computes attention
  CHECK(run_text(spec, plotting("p")).plot_problem == "--plot-call p: call \"p\" is a nn.Linear call, which computes no attention");
  CHECK(run_text(spec, plotting("q")).plot_problem == "--plot-call q: the spec has no call of that id; its calls: \"p\", \"a\"");
  CHECK(run_text(spec, plotting("a", "layers.0.self_attn")).plot_problem ==
        "--plot-block layers.0.self_attn: call \"a\" is a nn.MultiheadAttention call, which has no blocks (a Transformer module's has)");
  CHECK_THAT(run_text(R"({"module": {"type": "Linear", "in_features": 8, "out_features": 8}, "input": [2, 8]})", plotting()).plot_problem,
             Catch::Contains("--plot: no call computes attention"));
}

TEST_CASE("run: a convolution's output and im2col buffer stay within --max-elements", "[run]") {
  auto refusal = [](const std::string& spec, RunOptions options) {
    options.max_flops = std::numeric_limits<double>::infinity();  // the element bounds alone
    try {
      run_text(spec, options);
    } catch (const InputError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  // 2^40 zeros of padding on each side of one element: an output of 2^41 + 1 elements.
  std::string padded = refusal(R"({"module": {"type": "Conv1d", "in_channels": 1, "out_channels": 1, "kernel_size": 1,
    "padding": 1099511627776}, "input": [1, 1, 1]})", random_inputs());
  CHECK_THAT(padded, Catch::Contains("output would have more than 268435456 elements (--max-elements)"));
  // A 2-element output whose im2col buffer holds 64 * 3 * 3 values per position.
  RunOptions small = random_inputs();
  small.max_elements = 1000;
  std::string columns = refusal(R"({"module": {"type": "Conv2d", "in_channels": 64, "out_channels": 1, "kernel_size": 3, "bias": false},
    "input": [1, 64, 4, 3]})", small);
  CHECK_THAT(columns, Catch::Contains("im2col buffer would have more than 1000 elements"));
}

TEST_CASE("run: every output and an attention's score matrix stay within --max-elements (were std::bad_alloc aborts)", "[run]") {
  auto refusal = [](const std::string& spec) {
    RunOptions options = random_inputs();
    options.max_elements = 1000000;
    options.max_flops = std::numeric_limits<double>::infinity();  // the element bounds alone
    try {
      run_text(spec, options);
    } catch (const InputError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  // Inputs of 800000 and 100000 elements; attn_output_weights (1, 100000, 100000).
  CHECK(refusal(R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [100000, 1, 8], "key": [100000, 1, 8], "value": [100000, 1, 8]})J") ==
        "call \"call\": attn_output_weights would have more than 1000000 elements (--max-elements)");
  CHECK(refusal(R"({"tensors": {"a": [100000, 1], "b": [1, 100000]},
    "calls": [{"id": "outer", "op": "torch.matmul", "input": "a", "other": "b"}]})") ==
        "call \"outer\": outer.output would have more than 1000000 elements (--max-elements)");
  // SDPA's output is (1, 1, 100000, 8); its (L, S) scores are not an output.
  CHECK(refusal(R"({"op": "F.scaled_dot_product_attention", "query": [1, 1, 100000, 8], "key": [1, 1, 100000, 8],
    "value": [1, 1, 100000, 8]})") == "call \"call\": the attention's (L, S) score matrix would have more than 1000000 elements (--max-elements)");
  // A Transformer layer's (32, 1, 131072) feed-forward activations; its parameters, 2.2M, fit.
  RunOptions three_million = random_inputs();
  three_million.max_elements = 3000000;
  try {
    run_text(R"J({"module": "nn.TransformerEncoderLayer(8, 2, dim_feedforward=131072)", "src": [32, 1, 8]})J", three_million);
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(std::string(error.what()) == "call \"call\": the feed-forward hidden activations would have more than 3000000 elements (--max-elements)");
  }
  // --plot keeps every head's (1, 2, 1000, 1000) probabilities, twice the averaged output's.
  RunOptions plotted = plotting();
  plotted.max_elements = 1500000;
  const char* long_query = R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [1000, 1, 8], "key": [1000, 1, 8], "value": [1000, 1, 8]})J";
  try {
    run_text(long_query, plotted);
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK(std::string(error.what()) == "call \"call\": the per-head attention probabilities would have more than 1500000 elements (--max-elements)");
  }
  plotted.plot = false;
  CHECK(run_text(long_query, plotted).executed);
  // Within the limit: (1000, 1000) scores.
  CHECK(refusal(R"({"op": "F.scaled_dot_product_attention", "query": [1, 1, 1000, 8], "key": [1, 1, 1000, 8],
    "value": [1, 1, 1000, 8]})") == "no error");
}

TEST_CASE("run: a bool number as arithmetic's other counts as 1 or 0, as in x * True (was a json type_error abort)", "[run]") {
  auto values = [](const std::string& op, const char* other) {
    RunResult result = run_text(R"({"tensors": {"x": {"shape": [2, 3], "dtype": "float64"}},
      "calls": [{"id": "a", "op": "add", "input": "x", "other": 0}, {"id": "b", "op": ")" + op + R"(", "input": "x", "other": )" + other + "}]}",
                                random_inputs());
    REQUIRE(result.executed);
    return std::make_pair(result.outputs.at(0).array.to_double(), result.outputs.at(1).array.to_double());
  };
  auto [x, plus_true] = values("add", "true");
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(plus_true[i] == x[i] + 1);
  auto [y, times_false] = values("mul", "false");
  for (double product : times_false) CHECK(product == 0.0);
  auto [z, over_true] = values("div", "true");
  CHECK(over_true == z);
}

TEST_CASE("run: a reflect padding larger than a length the check knew only as a symbol is reported, not an abort", "[run]") {
  // The Linear binds T to 3 after the conv was checked with T unknown.
  const char* spec = R"({"modules": {"conv": {"type": "Conv1d", "in_channels": 2, "out_channels": 2, "kernel_size": 3, "padding": 3,
      "padding_mode": "reflect"}, "linear": {"type": "Linear", "in_features": 3, "out_features": 3}},
    "tensors": {"x": [1, 2, "T"]},
    "calls": [{"id": "conv", "module": "conv", "input": "x"}, {"id": "linear", "module": "linear", "input": "x"}]})";
  try {
    run_text(spec, random_inputs());
    FAIL("no error");
  } catch (const InputError& error) {
    CHECK_THAT(error.what(), Catch::Contains("call \"conv\": padding_mode='reflect' cannot pad a dim of size 3 by (3, 3)"));
  }
}

TEST_CASE("run: --max-flops refuses a call whose estimated work is past it, before anything runs (ran over a minute)", "[run]") {
  auto refusal = [](const std::string& spec, double max_flops) {
    RunOptions options = random_inputs();
    options.max_flops = max_flops;
    try {
      run_text(spec, options);
    } catch (const InputError& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  // 100000 positions attending to each other: 4 * L * L * E alone is 3.2e11.
  CHECK(refusal(R"J({"module": "nn.TransformerEncoderLayer(8, 2)", "src": [100000, 1, 8]})J", kDefaultMaxFlops) ==
        "call \"call\" (nn.TransformerEncoderLayer(8, 2)) would take about 3.3e+11 floating-point operations, more than 1e+11 (--max-flops)");
  // nn.MultiheadAttention(8, 2) on 4 positions: projections 2*4*8*8 * 2 (query, output) + 2*4*(8+8)*8 (key, value),
  // scores and weighted sum 4*4*4*8: 1024 + 1024 + 512 = 2560.
  const std::string small = R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [4, 1, 8], "key": [4, 1, 8], "value": [4, 1, 8]})J";
  CHECK_THAT(refusal(small, 2000), Catch::Contains("would take about 2.6e+03 floating-point operations, more than 2e+03"));
  CHECK(refusal(small, 2560) == "no error");
  // The first call past the bound is named, though an earlier one would run.
  CHECK_THAT(refusal(R"({"tensors": {"a": [2, 3], "b": [3, 500]},
    "calls": [{"id": "small", "op": "relu", "input": "a"}, {"id": "product", "op": "torch.matmul", "input": "a", "other": "b"}]})", 5000),
             Catch::StartsWith("call \"product\" (torch.matmul) would take about 6e+03"));
  // einsum: 2 x the product of the subscripts' sizes, 2 * 1500^3 = 6.75e9, not the 6.75e6 elements it touches.
  CHECK_THAT(refusal(R"({"calls": [{"id": "product", "op": "einsum", "equation": "ij,jk->ik", "operands": [[1500, 1500], [1500, 1500]]}]})", 1e8),
             Catch::StartsWith("call \"product\" (torch.einsum) would take about 6.8e+09"));
  // Contracted pairwise: ij,jk (i, j, k kept for the next pair) 2*2*3*4 = 48, then ik,kl 2*2*4*5 = 80.
  const std::string chain = R"({"calls": [{"id": "chain", "op": "einsum", "equation": "ij,jk,kl->il",
    "operands": [[2, 3], [3, 4], [4, 5]]}]})";
  CHECK_THAT(refusal(chain, 127), Catch::Contains("would take about 1.3e+02 floating-point operations, more than 1.3e+02"));
  CHECK(refusal(chain, 128) == "no error");
}
