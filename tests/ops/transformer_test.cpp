// The Transformer modules, Linear, LayerNorm and Embedding beyond the PyTorch fixtures: symbols
// through the layers, fixes that land on the spec's own option and argument names (a layer's
// nhead, not its attention's num_heads), nested modules, and where a downstream error's size
// entered the graph.
#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

std::string module_call(const std::string& module, const std::string& arguments) {
  return R"({"module": )" + module + ", " + arguments + "}";
}

const Fix* fix_named(const Diagnostic& diagnostic, const std::string& start) {
  for (const Fix& fix : diagnostic.fixes) {
    if (fix.description.rfind(start, 0) == 0) return &fix;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("Transformer layers keep symbolic shapes and unbatched inputs", "[transformer]") {
  std::string layer = R"({"type": "TransformerEncoderLayer", "d_model": 16, "nhead": 4, "dim_feedforward": 32})";
  CHECK(test::single_output(test::check_text(module_call(layer, R"("src": ["S", "N", 16], "src_key_padding_mask": ["N", "S"])"))) ==
        "(S, N, 16)");
  CHECK(test::single_output(test::check_text(module_call(layer, R"("src": ["S", 16], "src_mask": ["S", "S"])"))) == "(S, 16)");
  std::string decoder = R"({"type": "TransformerDecoderLayer", "d_model": 16, "nhead": 4, "batch_first": true})";
  CHECK(test::single_output(test::check_text(module_call(decoder, R"("tgt": ["N", "T", 16], "memory": ["N", "S", 16], "tgt_mask": {"causal": ["T", "T"]})"))) ==
        "(N, T, 16)");
  std::string model = R"({"type": "Transformer", "d_model": 16, "nhead": 4, "num_encoder_layers": 2, "num_decoder_layers": 2})";
  CHECK(test::single_output(test::check_text(module_call(model, R"("src": ["S", "N", 16], "tgt": ["T", "N", 16])"))) == "(T, N, 16)");
}

TEST_CASE("a layer's attention errors name the layer's options and arguments", "[transformer]") {
  Report heads = test::check_text(module_call(R"({"type": "TransformerEncoderLayer", "d_model": 10, "nhead": 4})", R"("src": [5, 2, 10])"));
  const Diagnostic* divide = test::find(heads, "MHA011");
  REQUIRE(divide != nullptr);
  CHECK(divide->argument == "module.nhead");
  const Fix* fix = fix_named(*divide, "use num_heads=5");
  REQUIRE(fix != nullptr);
  CHECK(fix->patch.dump() == R"([{"op":"add","path":"/module/nhead","value":5}])");
  CHECK(fix->verified);

  Report causal = test::check_text(
      module_call(R"({"type": "TransformerDecoderLayer", "d_model": 8, "nhead": 2})", R"("tgt": [4, 2, 8], "memory": [5, 2, 8], "tgt_is_causal": true)"));
  const Diagnostic* missing = test::find(causal, "MHA070");
  REQUIRE(missing != nullptr);
  const Fix* drop = fix_named(*missing, "drop is_causal=True");
  REQUIRE(drop != nullptr);
  CHECK(drop->patch.dump() == R"([{"op":"add","path":"/tgt_is_causal","value":false}])");
  CHECK(drop->verified);
  const Fix* mask = fix_named(*missing, "pass tgt_mask=nn.Transformer.generate_square_subsequent_mask(4)");
  REQUIRE(mask != nullptr);
  CHECK(mask->patch[0]["path"] == "/tgt_mask");
  CHECK(mask->verified);
}

TEST_CASE("nn.Transformer with batch_first=True and a 1-D tgt: the batch error, no batch_first fix", "[transformer]") {
  // PyTorch compares src.size(0) with tgt.size(0) and raises; the other batch_first would read
  // dim 1, which the 1-D tgt does not have (the check once read past its shape there).
  const std::string model = R"({"type": "Transformer", "d_model": 8, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, )"
                            R"("dim_feedforward": 16, "dropout": 0.0, "batch_first": true})";
  Report report = test::check_text(module_call(model, R"("src": [2, 5, 8], "tgt": [8])"));
  const Diagnostic* batch = test::find(report, "MHA408");
  REQUIRE(batch != nullptr);
  CHECK(batch->pytorch_error->message == "the batch number of src and tgt must be equal");
  CHECK(fix_named(*batch, "construct with batch_first") == nullptr);
}

TEST_CASE("fixes reach options of a nested module, in JSON and in a constructor string", "[transformer]") {
  Report object = test::check_text(module_call(
      R"({"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer", "d_model": 12, "nhead": 5}, "num_layers": 2})",
      R"("src": [5, 2, 12])"));
  const Diagnostic* divide = test::find(object, "MHA011");
  REQUIRE(divide != nullptr);
  REQUIRE_FALSE(divide->fixes.empty());
  CHECK(divide->fixes[0].patch[0]["path"] == "/module/encoder_layer/nhead");
  CHECK(divide->fixes[0].verified);

  Report text = test::check_text(module_call(R"x("nn.TransformerEncoder(nn.TransformerEncoderLayer(12, 5), num_layers=2)")x", R"("src": [5, 2, 12])"));
  divide = test::find(text, "MHA011");
  REQUIRE(divide != nullptr);
  REQUIRE_FALSE(divide->fixes.empty());
  CHECK(divide->fixes[0].patch[0]["path"] == "/module");
  CHECK(divide->fixes[0].patch[0]["value"].get<std::string>().find("nn.TransformerEncoderLayer(12, ") != std::string::npos);
  CHECK(divide->fixes[0].verified);
}

TEST_CASE("norm_first moves a wrong d_model to LayerNorm, the stack's final norm is checked", "[transformer]") {
  Report norm_first = test::check_text(
      module_call(R"({"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2, "norm_first": true})", R"("src": [5, 2, 6])"));
  CHECK(test::raised_message(norm_first) ==
        "RuntimeError: Given normalized_shape=[8], expected input with shape [*, 8], but got input of size[5, 2, 6]");
  Report post_norm = test::check_text(module_call(R"({"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2})", R"("src": [5, 2, 6])"));
  CHECK(test::raised_message(post_norm) == "AssertionError: was expecting embedding dimension of 8, but got 6");

  Report final_norm = test::check_text(module_call(
      R"({"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2}, "num_layers": 1, "norm": {"type": "LayerNorm", "normalized_shape": 16}})",
      R"("src": [5, 2, 8])"));
  const Diagnostic* norm = test::find(final_norm, "MHA403");
  REQUIRE(norm != nullptr);
  CHECK(test::raised_message(final_norm) ==
        "RuntimeError: Given normalized_shape=[16], expected input with shape [*, 16], but got input of size[5, 2, 8]");
  // The layers fix the model's width: the norm built for another is rebuilt for theirs.
  REQUIRE_FALSE(norm->fixes.empty());
  CHECK(norm->fixes.front().description == "construct TransformerEncoder.norm as nn.LayerNorm(8), normalized_shape=8: the width its layers give");
  CHECK(norm->fixes.front().valid());
  CHECK(norm->fixes.front().patch.at(0).at("path") == "/module/norm/normalized_shape");
  Report decoder = test::check_text(module_call(
      R"({"type": "TransformerDecoder", "decoder_layer": {"type": "TransformerDecoderLayer", "d_model": 8, "nhead": 2}, "num_layers": 1, "norm": {"type": "LayerNorm", "normalized_shape": 16}})",
      R"("tgt": [5, 2, 8], "memory": [7, 2, 8])"));
  const Diagnostic* decoder_norm = test::find(decoder, "MHA403");
  REQUIRE(decoder_norm != nullptr);
  REQUIRE_FALSE(decoder_norm->fixes.empty());
  CHECK(decoder_norm->fixes.front().description == "construct TransformerDecoder.norm as nn.LayerNorm(8), normalized_shape=8: the width its layers give");
  CHECK(decoder_norm->fixes.front().valid());
  // nn.Transformer's default LayerNorm(512) pasted beside a d_model = 256 layer, as Python.
  Report pasted = test::check_text(R"j({"module": "d_model = 256\nlayer = nn.TransformerEncoderLayer(d_model=d_model, nhead=8, batch_first=True)\n)j"
                                   R"j(enc = nn.TransformerEncoder(layer, num_layers=6, norm=nn.LayerNorm(512))", "src": ["B", "T", 256]})j");
  const Diagnostic* pasted_norm = test::find(pasted, "MHA403");
  REQUIRE(pasted_norm != nullptr);
  REQUIRE_FALSE(pasted_norm->fixes.empty());
  CHECK_THAT(pasted_norm->fixes.front().description, Catch::Contains("nn.LayerNorm(256)"));
  CHECK(pasted_norm->fixes.front().valid());
}

TEST_CASE("Linear, LayerNorm and Embedding shapes and fixes", "[transformer]") {
  std::string linear = R"({"type": "Linear", "in_features": 8, "out_features": 4})";
  CHECK(test::single_output(test::check_text(module_call(linear, R"("input": ["B", "T", 8])"))) == "(B, T, 4)");
  Report features = test::check_text(module_call(linear, R"("input": ["B", 3, 6])"));
  CHECK(test::raised_message(features) == "RuntimeError: mat1 and mat2 shapes cannot be multiplied (3*Bx6 and 8x4)");
  const Fix* in_features = fix_named(*test::find(features, "MHA404"), "construct with in_features=6");
  REQUIRE(in_features != nullptr);
  CHECK(in_features->verified);

  std::string norm = R"({"type": "LayerNorm", "normalized_shape": [4, 8]})";
  CHECK(test::single_output(test::check_text(module_call(norm, R"("input": ["B", 4, 8])"))) == "(B, 4, 8)");
  Report short_input = test::check_text(module_call(norm, R"("input": [8])"));
  CHECK(test::raised_message(short_input) ==
        "RuntimeError: Given normalized_shape=[4, 8], expected input with shape [*, 4, 8], but got input of size[8]");

  std::string embedding = R"({"type": "Embedding", "num_embeddings": 100, "embedding_dim": 16})";
  Report lookup = test::check_text(module_call(embedding, R"("input": ["B", "T"])"));
  CHECK(test::single_output(lookup) == "(B, T, 16)");
  Report floats = test::check_text(module_call(embedding, R"("input": {"shape": ["B", "T"], "dtype": "float32"})"));
  const Fix* long_ids = fix_named(*test::find(floats, "MHA405"), "pass input as int64");
  REQUIRE(long_ids != nullptr);
  CHECK(long_ids->verified);
}

TEST_CASE("a downstream error names the upstream call and tensor dim its size came from", "[transformer][graph]") {
  Report report = test::check_text(R"({
    "dims": {"S": 10, "T": 7, "N": 4},
    "modules": {
      "encoder": {"type": "TransformerEncoderLayer", "d_model": 16, "nhead": 2, "batch_first": true},
      "decoder": {"type": "TransformerDecoderLayer", "d_model": 16, "nhead": 2}
    },
    "tensors": {"src": ["N", "S", 16], "tgt": ["T", "N", 16]},
    "calls": [
      {"id": "enc", "module": "encoder", "src": "src", "outputs": ["memory"]},
      {"id": "dec", "module": "decoder", "tgt": "tgt", "memory": "memory", "outputs": ["out"]}
    ]})");
  const Diagnostic* batch = test::find(report, "MHA040");
  REQUIRE(batch != nullptr);
  CHECK(batch->call == "dec");
  CHECK(batch->argument == "memory");
  bool traced = false;
  for (const RelatedLocation& related : batch->related) {
    if (related.message.find("memory is output 0 of call \"enc\"") == std::string::npos) continue;
    traced = true;
    CHECK(related.message.find("its dim 1 (10) is src dim 1 (S)") != std::string::npos);
    CHECK(related.location.line == 7);  // the declaration of src
  }
  CHECK(traced);
  const Fix* relayout = fix_named(*batch, "construct with batch_first=True and pass tgt as");
  REQUIRE(relayout != nullptr);
  CHECK(relayout->verified);
}

TEST_CASE("Embedding's padding_idx, cat lists of mixed ranks, and missing required plain arguments", "[transformer]") {
  // PyTorch asserts only a positive padding_idx >= n or a negative one < -n, then allocates.
  CHECK(test::raised_message(test::check_text(R"x({"module": "nn.Embedding(-5, 4, padding_idx=0)", "input": [3]})x")) ==
        "RuntimeError: Trying to create tensor with negative dimension -5: [-5, 4]");
  CHECK(test::raised_message(test::check_text(R"x({"module": "nn.Embedding(0, 4, padding_idx=0)", "input": [3]})x")) ==
        "IndexError: index 0 is out of bounds for dimension 0 with size 0");
  CHECK(test::check_text(R"x({"module": "nn.Embedding(10, 4, padding_idx=-10)", "input": [3]})x").ok());
  // A later tensor of another rank must not break the search for a working dim.
  CHECK(test::raised_message(test::check_text(R"({"op": "cat", "tensors": [[2, 3], [2, 4], [2, 3, 7]], "dim": 0})")) ==
        "RuntimeError: Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1 in the list.");
  Report missing = test::check_text(R"({"op": "permute", "input": [2, 3]})");
  CHECK(missing.input_error);
  CHECK(missing.diagnostics.front().message == "call has no \"dims\"");
}

TEST_CASE("a stack whose layer is a constructor string inside an object module is checked, not a crash", "[transformer]") {
  Report report = test::check_text(R"spec({"version": 1, "modules": {"enc": {"type": "TransformerEncoder",
    "encoder_layer": "nn.TransformerEncoderLayer(256, 4, batch_first=True)", "num_layers": 2}},
    "tensors": {"x": ["B", "T", 256]}, "calls": [{"id": "l", "module": "enc", "src": "x"}]})spec");
  CHECK(report.ok());
  CHECK(test::single_output(report) == "(B, T, 256)");
  REQUIRE(report.calls.size() == 1);
  CHECK(report.calls[0].module_text == "nn.TransformerEncoder(nn.TransformerEncoderLayer(256, 4, batch_first=True), 2)");
}

TEST_CASE("a padding mask of a strided Conv1d's input length is subsampled as the conv subsamples the frames", "[transformer][masks]") {
  auto first_fix = [](const std::string& conv, const std::string& layer, const std::string& arguments) {
    Report report = test::check_text(R"({"version": 1, "dims": {"B": 2},
        "modules": {"conv": ")" + conv + R"(", "enc": ")" + layer + R"("},
        "tensors": {"mel": ["B", 80, 100], "pad": {"shape": ["B", 100], "dtype": "bool"}},
        "calls": [{"id": "c", "module": "conv", "input": "mel", "outputs": ["h"]},
                  {"id": "t", "op": "transpose", "input": "h", "dim0": 1, "dim1": 2, "outputs": ["x"]},
                  {"id": "e", "module": "enc", )" + arguments + R"(}]})");
    const Diagnostic* mask = test::find(report, "MHA052");
    REQUIRE(mask != nullptr);
    REQUIRE_FALSE(mask->fixes.empty());
    CHECK(mask->fixes[0].semantics == FixSemantics::Consistent);
    CHECK(mask->fixes[0].valid());
    return mask->fixes[0].description;
  };
  // No padding: frame j reads inputs 2j..2j+2, the last two positions start no frame.
  CHECK(first_fix("nn.Conv1d(80, 256, 3, stride=2)", "nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True)",
                  R"("src": "x", "src_key_padding_mask": "pad")") ==
        "subsample the mask as call \"c\" (conv) subsamples the frames (kernel 3, stride 2, padding 0: frame j at input "
        "position 2j): pad[:, :-2:2] gives (2, 49)");
  // Whisper's front end (kernel 3, stride 2, padding 1): every other position.
  CHECK(first_fix("nn.Conv1d(80, 256, 3, stride=2, padding=1)", "nn.MultiheadAttention(256, 4, batch_first=True)",
                  R"("query": "x", "key": "x", "value": "x", "key_padding_mask": "pad")") ==
        "subsample the mask as call \"c\" (conv) subsamples the frames (kernel 3, stride 2, padding 1: frame j at input "
        "position 2j): pad[:, ::2] gives (2, 50)");
}

TEST_CASE("tgt and memory tiled in different orders (repeat and repeat_interleave) warn MHA240", "[transformer]") {
  // Beam search: the beams of each sentence in a block (repeat_interleave), the memory tiled
  // whole (repeat): beam k of sentence b reads another sentence's memory.
  auto beams = [](const std::string& memory_tiling) {
    return test::check_text(R"j({"version": 1, "modules": {"dec": "nn.TransformerDecoderLayer(16, 2, batch_first=True)"},
      "tensors": {"memory": ["B", "S", 16], "y": ["B", "T", 16]},
      "calls": [{"id": "rm", )j" + memory_tiling + R"j(, "input": "memory", "outputs": ["mem_k"]},
                {"id": "ry", "op": "repeat_interleave", "input": "y", "repeats": 4, "dim": 0, "outputs": ["y_k"]},
                {"id": "d", "module": "dec", "tgt": "y_k", "memory": "mem_k"}]})j");
  };
  Report tiled = beams(R"("op": "repeat", "repeats": [4, 1, 1])");
  const Diagnostic* orders = test::find(tiled, "MHA240");
  REQUIRE(orders != nullptr);
  CHECK(orders->severity() == Severity::Warning);
  REQUIRE_FALSE(orders->fixes.empty());
  CHECK(orders->fixes[0].description == "tile mem_k as y_k is: mem_k = memory.repeat_interleave(4, dim=0)");
  CHECK(orders->fixes[0].valid());
  CHECK(orders->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(test::find(beams(R"("op": "repeat_interleave", "repeats": 4, "dim": 0)"), "MHA240") == nullptr);
  // Another factor is another tiling, not this mix-up.
  CHECK(test::find(beams(R"("op": "repeat", "repeats": [2, 1, 1])"), "MHA240") == nullptr);
  // SDPA's query and key, followed through a transpose.
  Report sdpa = test::check_text(R"({"version": 1, "tensors": {"q": [2, 5, 4, 8], "k": [2, 4, 5, 8]},
    "calls": [{"id": "rq", "op": "repeat_interleave", "input": "q", "repeats": 3, "dim": 0, "outputs": ["q3"]},
              {"id": "rk", "op": "repeat", "input": "k", "repeats": [3, 1, 1, 1], "outputs": ["k3"]},
              {"id": "tq", "op": "transpose", "input": "q3", "dim0": 1, "dim1": 2, "outputs": ["qt"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": "qt", "key": "k3", "value": "k3"}]})");
  REQUIRE(test::find(sdpa, "MHA240") != nullptr);
}

TEST_CASE("a decoder reading a padded source's memory without memory_key_padding_mask is MHA415", "[transformer]") {
  std::string model = R"({"type": "Transformer", "d_model": 16, "nhead": 4, "num_encoder_layers": 1, "num_decoder_layers": 1})";
  Report unmasked = test::check_text(module_call(model, R"("src": ["S", "N", 16], "tgt": ["T", "N", 16], "src_key_padding_mask": {"shape": ["N", "S"], "dtype": "bool"})"));
  const Fix* fix = test::first_fix(unmasked, "MHA415");
  REQUIRE(fix != nullptr);
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  CHECK(fix->patch[0]["path"] == "/memory_key_padding_mask");
  CHECK(test::find(test::check_text(module_call(model, R"("src": ["S", "N", 16], "tgt": ["T", "N", 16], "src_key_padding_mask": {"shape": ["N", "S"], "dtype": "bool"},
                                                "memory_key_padding_mask": {"shape": ["N", "S"], "dtype": "bool"})")),
                   "MHA415") == nullptr);
  CHECK(test::find(test::check_text(module_call(model, R"("src": ["S", "N", 16], "tgt": ["T", "N", 16])")), "MHA415") == nullptr);

  // A separate decoder fed the output of an encoder call given a padding mask.
  std::string stacks = R"({"version": 1, "modules": {
      "enc": {"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer", "d_model": 16, "nhead": 4, "batch_first": true}, "num_layers": 1},
      "dec": {"type": "TransformerDecoder", "decoder_layer": {"type": "TransformerDecoderLayer", "d_model": 16, "nhead": 4, "batch_first": true}, "num_layers": 1}},
    "tensors": {"src": ["B", "S", 16], "tgt": ["B", "T", 16], "pad": {"shape": ["B", "S"], "dtype": "bool"}},
    "calls": [{"id": "e", "module": "enc", "src": "src", "src_key_padding_mask": "pad", "outputs": ["mem"]},
              {"id": "d", "module": "dec", "tgt": "tgt", "memory": "mem"DECODER_MASK}]})";
  auto with = [&](const std::string& mask) { return std::string(stacks).replace(stacks.find("DECODER_MASK"), 12, mask); };
  Report separate = test::check_text(with(""));
  const Diagnostic* warning = test::find(separate, "MHA415");
  REQUIRE(warning != nullptr);
  CHECK(warning->call == "d");
  REQUIRE(test::first_fix(separate, "MHA415") != nullptr);
  CHECK(test::first_fix(separate, "MHA415")->description == "pass memory_key_padding_mask=pad: the memory has the source's positions");
  CHECK(test::first_fix(separate, "MHA415")->valid());
  CHECK(test::find(test::check_text(with(R"(, "memory_key_padding_mask": "pad")")), "MHA415") == nullptr);
}

TEST_CASE("a decoder whose memory is its own target needs memory_mask beside tgt_mask (MHA416)", "[transformer]") {
  std::string spec = R"({"version": 1, "modules": {"dec": {"type": "TransformerDecoder", "decoder_layer": {"type": "TransformerDecoderLayer", "d_model": 16, "nhead": 4}, "num_layers": 2}},
    "tensors": {"x": ["T", "B", 16], "m": ["S", "B", 16], "causal": {"shape": ["T", "T"], "dtype": "bool"}},
    "calls": [{"id": "d", "module": "dec", "tgt": "x", "memory": "MEMORY", "tgt_mask": "causal"EXTRA}]})";
  auto variant = [&](const std::string& memory, const std::string& extra) {
    std::string text = spec;
    text.replace(text.find("MEMORY"), 6, memory);
    text.replace(text.find("EXTRA"), 5, extra);
    return text;
  };
  Report leaking = test::check_text(variant("x", ""));
  const Fix* fix = test::first_fix(leaking, "MHA416");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "pass memory_mask=causal: cross-attention to the target hides the same future");
  CHECK(fix->valid());
  CHECK(test::find(test::check_text(variant("x", R"(, "memory_mask": "causal")")), "MHA416") == nullptr);
  CHECK(test::find(test::check_text(variant("m", "")), "MHA416") == nullptr);  // an encoder's memory: cross-attention is not causal
}

TEST_CASE("the Transformer modules' padding masks tiled along their positions by repeat warn MHA240", "[transformer]") {
  // The rule of nn.MultiheadAttention's key_padding_mask, reached by each layer's attention blocks.
  auto layer = [](const std::string& module, const std::string& arguments) {
    return test::check_text(R"j({"version": 1, "modules": {"x": ")j" + module + R"j("},
      "tensors": {"s": ["B", 12, 32], "a": ["B", 12, 32], "mem": ["B", 7, 32], "pad": {"shape": ["B", 12], "dtype": "bool"}},
      "calls": [{"id": "st", "op": "stack", "tensors": ["s", "a"], "dim": 2, "outputs": ["pairs"]},
                {"id": "r", "op": "reshape", "input": "pairs", "shape": ["B", 24, 32], "outputs": ["tok"]},
                {"id": "w", "op": "repeat", "repeats": [1, 2], "input": "pad", "outputs": ["pad2"]},
                {"id": "att", "module": "x", )j" + arguments + R"j(}]})j");
  };
  for (const auto& [module, arguments] : std::vector<std::pair<std::string, std::string>>{
           {"nn.TransformerEncoderLayer(32, 2, batch_first=True)", R"("src": "tok", "src_key_padding_mask": "pad2")"},
           {"nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 2, batch_first=True), 2)", R"("src": "tok", "src_key_padding_mask": "pad2")"},
           {"nn.TransformerDecoderLayer(32, 2, batch_first=True)", R"("tgt": "tok", "memory": "mem", "tgt_key_padding_mask": "pad2")"},
           {"nn.TransformerDecoderLayer(32, 2, batch_first=True)", R"("tgt": "mem", "memory": "tok", "memory_key_padding_mask": "pad2")"}}) {
    INFO(module << " " << arguments);
    Report report = layer(module, arguments);
    const Diagnostic* positions = test::find(report, "MHA240");
    REQUIRE(positions != nullptr);
    REQUIRE_FALSE(positions->fixes.empty());
    CHECK(positions->fixes[0].description == "give each position's flag to its 2 tokens side by side: pad2 = pad.repeat_interleave(2, dim=1)");
    CHECK(positions->fixes[0].valid());
  }
}

TEST_CASE("beam search in a traced spec: decoder states declared B*4 through their layers, memory tiled by repeat, warn MHA240", "[transformer]") {
  // The tracer keeps a declared input's dims as given (B*4: each example's beams adjacent); the
  // states reach the cross-attention through a projection and a norm.
  auto traced = [](const std::string& rows, const std::string& memory_tiling) {
    return test::check_text(R"j({"version": 1, "modules": {"cross": "nn.MultiheadAttention(64, 4, batch_first=True)",
                                 "proj": "nn.Linear(64, 64)", "norm": "nn.LayerNorm(64)"},
      "tensors": {"enc": ["B", "S", 64], "dec": [")j" + rows + R"j(", 1, 64]},
      "calls": [{"id": "rp", )j" + memory_tiling + R"j(, "input": "enc", "outputs": ["mem"], "source": "gen.py:10"},
                {"id": "p", "module": "proj", "input": "dec", "outputs": ["h"], "source": "gen.py:11"},
                {"id": "n", "module": "norm", "input": "h", "outputs": ["hn"], "source": "gen.py:12"},
                {"id": "a", "module": "cross", "query": "hn", "key": "mem", "value": "mem", "need_weights": false, "source": "gen.py:13"}]})j");
  };
  Report tiled = traced("B*4", R"("op": "repeat", "repeats": [4, 1, 1])");
  const Diagnostic* orders = test::find(tiled, "MHA240");
  REQUIRE(orders != nullptr);
  REQUIRE_FALSE(orders->fixes.empty());
  CHECK(orders->fixes[0].description == "tile mem as hn is: mem = enc.repeat_interleave(4, dim=0)");
  CHECK(orders->fixes[0].valid());
  // The memory tiled by repeat_interleave, or the states' batch read back by the tracer (4*B,
  // factor first: no order), say nothing.
  CHECK(test::find(traced("B*4", R"("op": "repeat_interleave", "repeats": 4, "dim": 0)"), "MHA240") == nullptr);
  CHECK(test::find(traced("4*B", R"("op": "repeat", "repeats": [4, 1, 1])"), "MHA240") == nullptr);
  // The beams written as a name bound to the factor, as generation code names them.
  Report named = test::check_text(R"j({"version": 1, "dims": {"num_beams": 4},
      "modules": {"cross": "nn.MultiheadAttention(64, 4, batch_first=True)"},
      "tensors": {"enc": ["B", "S", 64], "dec": ["B*num_beams", 1, 64]},
      "calls": [{"id": "rp", "op": "repeat", "repeats": [4, 1, 1], "input": "enc", "outputs": ["mem"], "source": "gen.py:10"},
                {"id": "a", "module": "cross", "query": "dec", "key": "mem", "value": "mem", "need_weights": false, "source": "gen.py:13"}]})j");
  CHECK(test::find(named, "MHA240") != nullptr);
}

TEST_CASE("a key padding mask of the queries' length where a mask of the keys' is declared is an error: pass the keys' (MHA339)", "[transformer][mha]") {
  // Seq-first nn.Transformer: memory_key_padding_mask masks the encoder's S positions; the
  // decoder's (N, T) padding mask there fits only if T == S, which nothing ties. The source's (N, S)
  // padding mask the spec declares is the one meant; dropping the argument leaves the source's
  // padding unmasked.
  Report report = test::check_text(R"({"version": 1, "modules": {"tr": {"type": "Transformer", "d_model": 32, "nhead": 4, "num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": 64}},
    "tensors": {"src": ["S", "N", 32], "tgt": ["T", "N", 32], "src_padding": {"shape": ["N", "S"], "dtype": "bool"},
                "tgt_padding": {"shape": ["N", "T"], "dtype": "bool"}},
    "calls": [{"id": "t", "module": "tr", "src": "src", "tgt": "tgt", "src_key_padding_mask": "src_padding",
               "tgt_key_padding_mask": "tgt_padding", "memory_key_padding_mask": "tgt_padding"}]})");
  const Diagnostic* of_queries = test::find(report, "MHA339");
  REQUIRE(of_queries != nullptr);
  CHECK(of_queries->severity() == Severity::Error);
  CHECK(of_queries->argument == "memory_key_padding_mask");
  CHECK(test::find(report, "MHA080") == nullptr);
  REQUIRE_FALSE(of_queries->fixes.empty());
  CHECK(of_queries->fixes[0].description.find("memory_key_padding_mask=src_padding") != std::string::npos);
  CHECK(of_queries->fixes[0].valid());
  // nn.MultiheadAttention alone (batch_first cross-attention): the queries' padding mask as key_padding_mask.
  Report mha = test::check_text(R"j({"version": 1, "modules": {"x": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "tensors": {"q": ["B", "L", 64], "kv": ["B", "P", 64], "q_pad": {"shape": ["B", "L"], "dtype": "bool"},
                "kv_pad": {"shape": ["B", "P"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "x", "query": "q", "key": "kv", "value": "kv", "key_padding_mask": "q_pad"}]})j");
  const Fix* fix = test::first_fix(mha, "MHA339");
  REQUIRE(fix != nullptr);
  CHECK(fix->description.find("key_padding_mask=kv_pad") != std::string::npos);
  // Self-attention: the queries' length is the keys'; no error.
  Report self_attention = test::check_text(R"j({"version": 1, "modules": {"x": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "tensors": {"q": ["B", "L", 64], "q_pad": {"shape": ["B", "L"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "x", "query": "q", "key": "q", "value": "q", "key_padding_mask": "q_pad"}]})j");
  CHECK(test::find(self_attention, "MHA339") == nullptr);
  CHECK(self_attention.count(Severity::Warning) == 0);
}

TEST_CASE("a LayerNorm over one head's features written before the view that splits the heads (MHA403) moves after it", "[transformer]") {
  // A key norm over head_dim 64 on k_proj's (B, S, 512), then reshape(B, S, -1, 64): per head.
  const std::string before = R"j({"version": 1,
      "modules": {"k_proj": "nn.Linear(512, 512)", "k_norm": "nn.LayerNorm(64)"},
      "tensors": {"mem": ["B", "S", 512], "q": ["B", 8, "T", 64], "v": ["B", 8, "S", 64]},
      "calls": [{"id": "kp", "module": "k_proj", "input": "mem", "outputs": ["k0"]},
                {"id": "kn", "module": "k_norm", "input": "k0", "outputs": ["k1"]},
                {"id": "split", "op": "reshape", "input": "k1", "shape": ["B", "S", -1, 64], "outputs": ["k2"]},
                {"id": "t", "op": "transpose", "input": "k2", "dim0": 1, "dim1": 2, "outputs": ["k"]},
                {"id": "a", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v"}]})j";
  Report report = test::check_text(before);
  const Diagnostic* norm = test::find(report, "MHA403");
  REQUIRE(norm != nullptr);
  REQUIRE(norm->fixes.size() >= 2);
  CHECK(norm->fixes[0].description ==
        "apply k_norm after the view that splits the heads: k1 = k0.reshape(B, S, -1, 64) first, then k2 = k_norm(k1): the norm over 64 features is "
        "per head");
  CHECK(norm->fixes[0].valid());
  CHECK(norm->fixes[0].semantics == FixSemantics::Consistent);
  // Widening the norm to the whole width runs but mixes the heads.
  const auto widened = std::find_if(norm->fixes.begin(), norm->fixes.end(),
                                    [](const Fix& fix) { return fix.description == "construct with normalized_shape=[512]"; });
  REQUIRE(widened != norm->fixes.end());
  CHECK(widened->semantics == FixSemantics::Suspect);
  // Read by another call too, or viewed into another last dim: no such fix, and the width is not suspect.
  for (const std::string& other : {std::string(R"("shape": ["B", "S", 16, 32])"), std::string(R"("shape": ["B", "S", 8, 64]}, {"id": "x", "op": "relu", "input": "k1")")}) {
    std::string text = before;
    text.replace(text.find(R"("shape": ["B", "S", -1, 64])"), std::string(R"("shape": ["B", "S", -1, 64])").size(), other);
    INFO(text);
    Report plain = test::check_text(text);
    const Diagnostic* shape = test::find(plain, "MHA403");
    REQUIRE(shape != nullptr);
    for (const Fix& fix : shape->fixes) {
      CHECK(fix.description.find("after the view") == std::string::npos);
      if (fix.description == "construct with normalized_shape=[512]") CHECK(fix.semantics != FixSemantics::Suspect);
    }
  }
}

// nn.Transformer's src_mask and src_key_padding_mask belong to the encoder (the source's length);
// a target-length mask given under them, the decoder's own argument left free, is moved there.
TEST_CASE("nn.Transformer: a target-length mask passed as src_mask or src_key_padding_mask is moved to the decoder's argument",
          "[transformer]") {
  Report causal = test::check_text(R"j({"version": 1, "modules": {"model": "nn.Transformer(d_model=64, nhead=4)"},
      "tensors": {"src": ["S", "N", 64], "tgt": ["T", "N", 64], "future": {"shape": ["T", "T"], "dtype": "bool"}},
      "calls": [{"id": "m", "module": "model", "src": "src", "tgt": "tgt", "src_mask": "future", "outputs": ["y"]}]})j");
  const Diagnostic* mask = test::find(causal, "MHA080");
  REQUIRE(mask != nullptr);
  REQUIRE_FALSE(mask->fixes.empty());
  CHECK(mask->fixes.front().description == "pass the (T, T) mask as tgt_mask, the decoder's self-attention mask: tgt_mask=src_mask");
  CHECK(mask->fixes.front().semantics == FixSemantics::Consistent);
  Report padding = test::check_text(R"j({"version": 1, "modules": {"model": "nn.Transformer(d_model=64, nhead=4, batch_first=True)"},
      "tensors": {"src": ["N", "S", 64], "tgt": ["N", "T", 64], "tgt_pad": {"shape": ["N", "T"], "dtype": "bool"}},
      "calls": [{"id": "m", "module": "model", "src": "src", "tgt": "tgt", "src_key_padding_mask": "tgt_pad", "outputs": ["y"]}]})j");
  const Diagnostic* pad = test::find(padding, "MHA080");
  REQUIRE(pad != nullptr);
  REQUIRE_FALSE(pad->fixes.empty());
  CHECK_THAT(pad->fixes.front().description, Catch::Contains("tgt_key_padding_mask=src_key_padding_mask"));
  // A (S, S) src_mask is the encoder's own: nothing to move.
  Report own = test::check_text(R"j({"version": 1, "modules": {"model": "nn.Transformer(d_model=64, nhead=4)"},
      "tensors": {"src": ["S", "N", 64], "tgt": ["T", "N", 64], "m": {"shape": ["S", "S"], "dtype": "bool"}},
      "calls": [{"id": "m", "module": "model", "src": "src", "tgt": "tgt", "src_mask": "m", "outputs": ["y"]}]})j");
  CHECK(own.count(Severity::Warning) == 0);
  CHECK(own.count(Severity::Error) == 0);
}
