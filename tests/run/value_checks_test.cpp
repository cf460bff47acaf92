#include <catch2/catch.hpp>

#include <cmath>

#include "test_support.hpp"
#include "value_checks.hpp"

using namespace mhacheck;

namespace {

Array floats(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  Array array = make_array(DType::Float32, std::move(shape));
  std::copy(values.begin(), values.end(), array.data<float>());
  return array;
}

Array bools(std::vector<std::int64_t> shape, const std::vector<int>& values) {
  Array array = make_array(DType::Bool, std::move(shape));
  for (std::size_t i = 0; i < values.size(); ++i) array.bytes[i] = values[i] ? 1 : 0;
  return array;
}

}  // namespace

TEST_CASE("a float mask of 0s and 1s masks nothing, an additive one is fine", "[value_checks]") {
  CHECK(float_binary_mask(floats({2, 3}, {0, 0, 1, 0, 1, 1})).has_value());
  CHECK_FALSE(float_binary_mask(floats({2, 3}, {0, 0, -INFINITY, 0, -INFINITY, -INFINITY})).has_value());
  CHECK_FALSE(float_binary_mask(floats({2, 3}, {0, 0, 0, 0, 0, 0})).has_value());  // nothing masked on purpose
  CHECK_FALSE(float_binary_mask(bools({2, 3}, {0, 0, 1, 0, 1, 1})).has_value());
}

TEST_CASE("an (N*H, L, S) mask built by repeat is told from repeat_interleave", "[value_checks]") {
  // Two batch entries, two heads, (L, S) = (1, 2): entry 0 masks key 1, entry 1 masks key 0.
  Array repeated = bools({4, 1, 2}, {0, 1, 1, 0, 0, 1, 1, 0});     // [M0, M1, M0, M1]
  Array interleaved = bools({4, 1, 2}, {0, 1, 0, 1, 1, 0, 1, 0});  // [M0, M0, M1, M1]
  std::optional<MaskFinding> finding = repeated_not_interleaved(repeated, 2, 2);
  REQUIRE(finding.has_value());
  CHECK(finding->note.find("repeat_interleave(2, dim=0)") != std::string::npos);
  CHECK_FALSE(repeated_not_interleaved(interleaved, 2, 2).has_value());
  // One mask for every entry: both layouts are the same, nothing to say.
  CHECK_FALSE(repeated_not_interleaved(bools({4, 1, 2}, {0, 1, 0, 1, 0, 1, 0, 1}), 2, 2).has_value());
}

TEST_CASE("a causal mask that sees the future, with each operator's meaning of True", "[value_checks]") {
  Array upper = bools({3, 3}, {0, 1, 1, 0, 0, 1, 0, 0, 0});  // triu(1): True above the diagonal
  Array lower = bools({3, 3}, {1, 0, 0, 1, 1, 0, 1, 1, 1});  // tril
  CHECK_FALSE(causal_sees_future(upper, MaskReading::TrueIgnores).has_value());  // MHA: True = ignore
  CHECK(causal_sees_future(lower, MaskReading::TrueIgnores).has_value());
  CHECK_FALSE(causal_sees_future(lower, MaskReading::TrueKeeps).has_value());  // SDPA: True = take part
  std::optional<MaskFinding> leak = causal_sees_future(upper, MaskReading::TrueKeeps);
  REQUIRE(leak.has_value());
  CHECK(leak->message == "the causal mask lets query position 0 attend to the later key position 1");
  CHECK_FALSE(causal_sees_future(floats({2, 2}, {0, -INFINITY, 0, 0}), MaskReading::TrueIgnores).has_value());
  CHECK_FALSE(causal_sees_future(floats({2, 2}, {0, -3.4e38f, 0, 0}), MaskReading::TrueKeeps).has_value());
  CHECK(causal_sees_future(floats({2, 2}, {0, 0, -INFINITY, 0}), MaskReading::TrueIgnores).has_value());
}

TEST_CASE("NaN and infinite inputs are counted", "[value_checks]") {
  CHECK(non_finite_count(floats({4}, {1, NAN, INFINITY, -2})) == 2);
  CHECK(non_finite_count(floats({2}, {1, 2})) == 0);
}

TEST_CASE("mhacheck run reports the value checks of file data only", "[value_checks][run]") {
  // File data is flagged by the catalogue's examples (catalogue_test); --random-inputs data,
  // a zero float mask here, is never flagged.
  test::TempDir dir;
  std::string spec = dir.write("spec.json", R"J({"module": "nn.MultiheadAttention(8, 2)", "query": [3, 2, 8], "key": [3, 2, 8], "value": [3, 2, 8],
      "attn_mask": {"shape": [3, 3], "dtype": "float32"}, "is_causal": true})J");
  test::CliRun run = test::run_cli("run --random-inputs " + spec);
  CHECK(run.status == 0);
  CHECK(run.out.find("MHA11") == std::string::npos);
}

TEST_CASE("mhacheck run checks a mask an earlier call computed from file data, never from random data", "[value_checks][run]") {
  // `~mask` is a bitwise_not call: the attention's key_padding_mask is its output, not a file's data.
  test::TempDir dir;
  std::vector<float> tokens(3 * 2 * 8);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  write_npz(dir.file("batch.npz"), {{"x", floats({3, 2, 8}, tokens)}, {"padding", bools({2, 3}, {0, 0, 0, 0, 0, 0})}}, false);
  auto spec = [&](const std::string& x, const std::string& padding) {
    return R"J({"modules": {"attention": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}},
                "tensors": {"x": )J" + x + R"J(, "padding": )J" + padding + R"J(},
                "calls": [{"id": "invert", "op": "bitwise_not", "input": "padding", "outputs": ["keep"]},
                          {"id": "attend", "module": "attention", "query": "x", "key": "x", "value": "x", "key_padding_mask": "keep"}]})J";
  };
  // No padding inverted: every key is padding (True ignores here).
  test::CliRun from_file = test::run_cli("run " + dir.write("file.json", spec(R"({"file": "batch.npz", "key": "x"})",
                                                                               R"({"file": "batch.npz", "key": "padding"})")));
  INFO(from_file.out << from_file.err);
  CHECK(from_file.out.find("warning[MHA116]: key_padding_mask: masks every position: it is all True") != std::string::npos);
  CHECK(from_file.out.find("MHA110") == std::string::npos);
  // Random data inverted: the same all-True mask reaches the attention (its rows are fully masked,
  // MHA110), but random values are no finding about the user's mask.
  test::CliRun random = test::run_cli("run --random-inputs " + dir.write("random.json", spec("[3, 2, 8]", R"({"shape": [2, 3], "dtype": "bool"})")));
  INFO(random.out << random.err);
  CHECK(random.out.find("MHA110") != std::string::npos);
  CHECK(random.out.find("MHA116") == std::string::npos);
}

TEST_CASE("a bool mask that masks every position or none, with each operator's meaning of True", "[value_checks]") {
  Array all_true = bools({2, 3}, {1, 1, 1, 1, 1, 1});
  Array all_false = bools({2, 3}, {0, 0, 0, 0, 0, 0});
  Array some = bools({2, 3}, {0, 0, 1, 0, 1, 1});
  std::optional<MaskFinding> everything = bool_mask_extent(all_true, MaskReading::TrueIgnores, "key_padding_mask");
  REQUIRE(everything.has_value());
  CHECK(everything->kind == MaskFinding::Kind::MasksEverything);
  CHECK(everything->message.find("masks every position: it is all True") == 0);
  CHECK(everything->note.find("~key_padding_mask") != std::string::npos);
  REQUIRE(bool_mask_extent(all_true, MaskReading::TrueKeeps, "attn_mask").has_value());
  CHECK(bool_mask_extent(all_true, MaskReading::TrueKeeps, "attn_mask")->kind == MaskFinding::Kind::MasksNothing);
  REQUIRE(bool_mask_extent(all_false, MaskReading::TrueKeeps, "attn_mask").has_value());
  CHECK(bool_mask_extent(all_false, MaskReading::TrueKeeps, "attn_mask")->kind == MaskFinding::Kind::MasksEverything);
  REQUIRE(bool_mask_extent(all_false, MaskReading::TrueIgnores, "attn_mask").has_value());
  CHECK(bool_mask_extent(all_false, MaskReading::TrueIgnores, "attn_mask")->kind == MaskFinding::Kind::MasksNothing);
  CHECK_FALSE(bool_mask_extent(some, MaskReading::TrueIgnores, "attn_mask").has_value());
  CHECK_FALSE(bool_mask_extent(some, MaskReading::TrueKeeps, "attn_mask").has_value());
  // Float masks are additive: an all-zero one masks nothing on purpose.
  CHECK_FALSE(bool_mask_extent(floats({2, 2}, {0, 0, 0, 0}), MaskReading::TrueIgnores, "attn_mask").has_value());
}

TEST_CASE("mhacheck run reports a mask that masks everything once, not again as fully masked rows", "[value_checks][run]") {
  std::string run_data = std::string(MHACHECK_SOURCE_DIR) + "/examples/run/";
  auto spec_with_padding = [&](const std::string& file, const std::string& key) {
    return R"J({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "weights": ")J" + run_data +
           R"J(mha_e8_h2.npz"}, "query": {"file": ")J" + run_data + R"J(inputs.npz", "key": "query"}, "key": {"file": ")J" + run_data +
           R"J(inputs.npz", "key": "key"}, "value": {"file": ")J" + run_data + R"J(inputs.npz", "key": "key"}, "key_padding_mask": {"file": ")J" +
           run_data + file + R"J(", "key": ")J" + key + R"J("}})J";
  };
  test::TempDir dir;
  test::CliRun run = test::run_cli("run " + dir.write("all.json", spec_with_padding("masks.npz", "keep_all")));
  INFO(run.out << run.err);
  CHECK(run.out.find("warning[MHA116]: key_padding_mask: masks every position: it is all True") != std::string::npos);
  CHECK(run.out.find("MHA110") == std::string::npos);
  // The same keys with a real padding mask: neither warning.
  test::CliRun fine = test::run_cli("run " + dir.write("padded.json", spec_with_padding("inputs.npz", "key_padding_mask")));
  INFO(fine.out << fine.err);
  CHECK(fine.out.find("MHA116") == std::string::npos);
  CHECK(fine.out.find("MHA117") == std::string::npos);
  CHECK(fine.status == 0);
}

TEST_CASE("mhacheck run checks the Transformer modules' masks, each with its own causal flag", "[value_checks][run]") {
  test::TempDir dir;
  write_npy(dir.file("binary.npy"), floats({3, 3}, {0, 1, 1, 0, 0, 1, 0, 0, 0}));
  write_npy(dir.file("tril.npy"), bools({3, 3}, {1, 0, 0, 1, 1, 0, 1, 1, 1}));
  write_npy(dir.file("triu.npy"), bools({3, 3}, {0, 1, 1, 0, 0, 1, 0, 0, 0}));
  write_npy(dir.file("all_padding.npy"), bools({2, 3}, {1, 1, 1, 1, 1, 1}));
  write_npy(dir.file("none.npy"), bools({3, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0}));
  auto run = [&](const std::string& name, const std::string& spec) {
    test::CliRun result = test::run_cli("run --random-inputs " + dir.write(name, spec));
    INFO(result.out << result.err);
    CHECK(result.status == 0);
    return result.out;
  };
  // A 0/1 float src_mask is added: it masks nothing.
  std::string encoder_layer = run("layer.json", R"J({"module": "nn.TransformerEncoderLayer(8, 2)", "src": [3, 2, 8],
                                                     "src_mask": {"file": "binary.npy"}})J");
  CHECK(encoder_layer.find("warning[MHA111]: src_mask: the float mask holds only 0 and 1") != std::string::npos);
  // tgt_is_causal=True says tgt_mask is causal; tril True (True = ignore here) masks the past instead.
  std::string decoder_layer = run("decoder.json", R"J({"module": "nn.TransformerDecoderLayer(8, 2)", "tgt": [3, 2, 8], "memory": [4, 2, 8],
                                                     "tgt_mask": {"file": "tril.npy"}, "tgt_is_causal": true})J");
  CHECK(decoder_layer.find("warning[MHA114]: tgt_mask: the causal mask lets query position 0 attend to the later key position 1") !=
        std::string::npos);
  std::string causal = run("causal.json", R"J({"module": "nn.TransformerDecoderLayer(8, 2)", "tgt": [3, 2, 8], "memory": [4, 2, 8],
                                              "tgt_mask": {"file": "triu.npy"}, "tgt_is_causal": true})J");
  CHECK(causal.find("MHA114") == std::string::npos);
  // Every position padded: reported once, not again as fully masked blocks (MHA110).
  std::string transformer = run("transformer.json", R"J({"module": "nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)",
      "src": [3, 2, 8], "tgt": [3, 2, 8], "src_key_padding_mask": {"file": "all_padding.npy"}})J");
  CHECK(transformer.find("warning[MHA116]: src_key_padding_mask: masks every position") != std::string::npos);
  CHECK(transformer.find("MHA110") == std::string::npos);
  std::string stack = run("stack.json", R"J({"module": "nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 2)", "src": [3, 2, 8],
                                           "mask": {"file": "none.npy"}})J");
  CHECK(stack.find("warning[MHA117]: mask: masks nothing") != std::string::npos);
}

TEST_CASE("mhacheck run does not report a mask that masks nothing when the model computes it from a batch without padding",
          "[value_checks][run]") {
  test::TempDir dir;
  Array ids = make_array(DType::Int64, {2, 3});  // no 0 (the padding id) in either entry
  for (std::int64_t i = 0; i < 6; ++i) ids.data<std::int64_t>()[i] = i + 1;
  write_npy(dir.file("ids.npy"), ids);
  write_npy(dir.file("none.npy"), bools({2, 3}, {0, 0, 0, 0, 0, 0}));
  dir.write("model.py", "padding = ids == 0\nout = attention(x, x, x, key_padding_mask=padding)\n");
  auto run = [&](const std::string& name, const std::string& spec) {
    test::CliRun result = test::run_cli("run --random-inputs " + dir.write(name, spec));
    INFO(result.out << result.err);
    CHECK(result.status == 0);
    return result.out;
  };
  const std::string module = R"J("modules": {"attention": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "batch_first": true}})J";
  // eq(ids, 0) of ids without padding is all False: what the batch gives, no finding.
  std::string computed = run("computed.json", R"J({"version": 1, )J" + module + R"J(, "tensors": {"ids": {"file": "ids.npy"}, "x": [2, 3, 8]},
      "calls": [{"id": "padding", "op": "eq", "input": "ids", "other": 0, "outputs": ["padding"]},
                {"id": "attention", "module": "attention", "query": "x", "key": "x", "value": "x", "key_padding_mask": "padding"}]})J");
  CHECK(computed.find("MHA117") == std::string::npos);
  // The same values traced from a model (the calls at Python lines): the model's own, no finding.
  std::string traced = run("traced.json", R"J({"version": 1, )J" + module + R"J(, "tensors": {"padding": {"file": "none.npy"}, "x": [2, 3, 8]},
      "calls": [{"id": "attention", "module": "attention", "query": "x", "key": "x", "value": "x", "key_padding_mask": "padding",
                 "source": "model.py:2"}]})J");
  CHECK(traced.find("MHA117") == std::string::npos);
  // Given as data in a written spec, the all-False mask is still reported.
  std::string given = run("given.json", R"J({"version": 1, )J" + module + R"J(, "tensors": {"padding": {"file": "none.npy"}, "x": [2, 3, 8]},
      "calls": [{"id": "attention", "module": "attention", "query": "x", "key": "x", "value": "x", "key_padding_mask": "padding"}]})J");
  CHECK(given.find("warning[MHA117]: key_padding_mask: masks nothing") != std::string::npos);
}
