// The kernels of the Transformer modules' forward passes on values worked by hand (or printed by
// PyTorch where noted), and their parameters: state_dict names, possible names, initialisation.
#include <catch2/catch.hpp>

#include <cmath>

#include "forward/module_kernels.hpp"
#include "test_support.hpp"

using namespace mhacheck;

namespace {

Array doubles(std::vector<std::int64_t> shape, const std::vector<double>& values) {
  Array array = make_array(DType::Float64, std::move(shape));
  std::copy(values.begin(), values.end(), array.data<double>());
  return array;
}

Array floats(std::vector<std::int64_t> shape, const std::vector<float>& values) {
  Array array = make_array(DType::Float32, std::move(shape));
  std::copy(values.begin(), values.end(), array.data<float>());
  return array;
}

template <typename Index>
Array indices(DType dtype, std::vector<std::int64_t> shape, const std::vector<Index>& values) {
  Array array = make_array(dtype, std::move(shape));
  std::copy(values.begin(), values.end(), array.data<Index>());
  return array;
}

std::vector<std::string> names(const std::vector<ExpectedParameter>& parameters) {
  std::vector<std::string> result;
  for (const ExpectedParameter& parameter : parameters) result.push_back(parameter.name);
  return result;
}

// A spec declaring one module (and no calls).
Spec spec_of(const std::string& module) {
  return parse_spec(test::document_from(R"({"modules": {"m": )" + module + R"(}, "calls": []})"));
}

}  // namespace

TEST_CASE("linear: x W^T + b over every leading dim, with and without bias", "[forward][kernels]") {
  Array weight = doubles({2, 3}, {1, 0, -1, 0.5, 0.5, 0.5});
  Array bias = doubles({2}, {10, 20});
  Array input = doubles({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(linear_forward(input, weight, &bias).to_double() == std::vector<double>{8, 23, 8, 27.5});
  CHECK(linear_forward(input, weight, nullptr).to_double() == std::vector<double>{-2, 3, -2, 7.5});
  Array batched = doubles({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(linear_forward(batched, weight, &bias).shape == std::vector<std::int64_t>{1, 2, 2});
  Array vector = floats({3}, {1, 2, 3});
  Array single = linear_forward(vector, floats({2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f}), nullptr);
  CHECK(single.dtype == DType::Float32);
  CHECK(single.shape == std::vector<std::int64_t>{2});
  CHECK(single.to_double() == std::vector<double>{-2, 3});
}

TEST_CASE("layer_norm: biased variance, eps inside the root, weight and bias elementwise", "[forward][kernels]") {
  // mean 2.5, variance 1.25; with eps 0.75 the divisor is sqrt(2).
  Array input = doubles({1, 4}, {1, 2, 3, 4});
  Array weight = doubles({4}, {1, 2, 1, 1});
  Array bias = doubles({4}, {0, 0, 1, 0});
  std::vector<double> out = layer_norm_forward(input, {4}, 0.75, &weight, &bias).to_double();
  std::vector<double> expected = {-1.5 / std::sqrt(2.0), 2 * -0.5 / std::sqrt(2.0), 0.5 / std::sqrt(2.0) + 1, 1.5 / std::sqrt(2.0)};
  for (std::size_t i = 0; i < 4; ++i) CHECK(out[i] == Approx(expected[i]).epsilon(1e-15));
  // Two trailing dims normalised together: the same numbers; no weight, no bias.
  Array square = floats({2, 2}, {1, 2, 3, 4});
  Array normed = layer_norm_forward(square, {2, 2}, 0.75, nullptr, nullptr);
  CHECK(normed.dtype == DType::Float32);
  CHECK(normed.to_double()[3] == Approx(1.5 / std::sqrt(2.0)).epsilon(1e-7));
  // Each row on its own.
  std::vector<double> rows = layer_norm_forward(doubles({2, 2}, {0, 2, 10, 30}), {2}, 0.0, nullptr, nullptr).to_double();
  CHECK(rows == std::vector<double>{-1, 1, -1, 1});
}

TEST_CASE("activations: relu keeps NaN, gelu is the exact erf form", "[forward][kernels]") {
  std::vector<double> relu = relu_forward(doubles({4}, {-1, 0, 2, std::nan("")})).to_double();
  CHECK(relu[0] == 0);
  CHECK(relu[2] == 2);
  CHECK(std::isnan(relu[3]));
  // torch.nn.functional.gelu(torch.tensor([0., 1., -1., 2.], dtype=torch.float64)), PyTorch 1.13.
  std::vector<double> gelu = gelu_forward(doubles({4}, {0, 1, -1, 2})).to_double();
  CHECK(gelu[0] == 0);
  CHECK(gelu[1] == Approx(0.841344746068543).epsilon(1e-15));
  CHECK(gelu[2] == Approx(-0.15865525393145702).epsilon(1e-15));
  CHECK(gelu[3] == Approx(1.9544997361036416).epsilon(1e-15));
}

TEST_CASE("embedding: rows by index, an index outside the table is an IndexError", "[forward][kernels]") {
  Array weight = floats({3, 2}, {0, 1, 2, 3, 4, 5});
  Array looked_up = embedding_forward(weight, indices<std::int64_t>(DType::Int64, {2, 2}, {2, 0, 1, 2}), std::nullopt, 2.0);
  CHECK(looked_up.shape == std::vector<std::int64_t>{2, 2, 2});
  CHECK(looked_up.to_double() == std::vector<double>{4, 5, 0, 1, 2, 3, 4, 5});
  CHECK(embedding_forward(weight, indices<std::int32_t>(DType::Int32, {1}, {1}), std::nullopt, 2.0).to_double() == std::vector<double>{2, 3});

  for (std::int64_t bad : {std::int64_t{3}, std::int64_t{-1}}) {
    INFO(bad);
    try {
      embedding_forward(weight, indices<std::int64_t>(DType::Int64, {2, 2}, {0, 1, 2, bad}), std::nullopt, 2.0);
      FAIL("no IndexOutOfRange");
    } catch (const IndexOutOfRange& error) {
      CHECK(error.position == std::vector<std::int64_t>{1, 1});
      CHECK(error.value == bad);
      CHECK(error.pytorch_message == "index out of range in self");
    }
  }
}

TEST_CASE("embedding: max_norm scales rows above it as embedding_renorm_ does", "[forward][kernels]") {
  // F.embedding(torch.tensor([0, 1, 0]), w, max_norm=1.0), PyTorch 1.13: row 0 (norm 5) is scaled
  // by 1 / (5 + 1e-7) in float32, row 1 (norm 0.5) is left alone.
  Array weight = floats({3, 2}, {3, 4, 0.3f, 0.4f, 0, 1});
  std::vector<double> out = embedding_forward(weight, indices<std::int64_t>(DType::Int64, {3}, {0, 1, 0}), 1.0, 2.0).to_double();
  CHECK(out == std::vector<double>{0.6000000238418579, 0.800000011920929, 0.30000001192092896, 0.4000000059604645, 0.6000000238418579,
                                   0.800000011920929});
  // Before looking rows up, embedding_renorm_ reads weight[index]: its own message for an index
  // beyond either end, while -1 wraps there and fails in the lookup.
  try {
    embedding_forward(weight, indices<std::int64_t>(DType::Int64, {2}, {0, 3}), 1.0, 2.0);
    FAIL("no IndexOutOfRange");
  } catch (const IndexOutOfRange& error) {
    CHECK(error.pytorch_message == "select(): index 3 out of range for tensor of size [3, 2] at dimension 0");
  }
  try {
    embedding_forward(weight, indices<std::int64_t>(DType::Int64, {2}, {0, -1}), 1.0, 2.0);
    FAIL("no IndexOutOfRange");
  } catch (const IndexOutOfRange& error) {
    CHECK(error.pytorch_message == "index out of range in self");
  }
}

TEST_CASE("module parameters: state_dict names in registration order, per configuration", "[forward][parameters]") {
  Spec layer = spec_of(R"({"type": "TransformerDecoderLayer", "d_model": 4, "nhead": 2, "dim_feedforward": 6, "bias": false})");
  CHECK(names(module_parameters(layer.modules[0])) ==
        std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.out_proj.weight", "multihead_attn.in_proj_weight",
                                 "multihead_attn.out_proj.weight", "linear1.weight", "linear2.weight", "norm1.weight", "norm2.weight",
                                 "norm3.weight"});
  Spec stack = spec_of(R"({"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer", "d_model": 4, "nhead": 2,
                           "dim_feedforward": 6}, "num_layers": 2, "norm": {"type": "LayerNorm", "normalized_shape": 4, "bias": false}})");
  std::vector<ExpectedParameter> parameters = module_parameters(stack.modules[0]);
  REQUIRE(parameters.size() == 2 * 12 + 1);
  CHECK(parameters[0].name == "layers.0.self_attn.in_proj_weight");
  CHECK(parameters[0].shape == std::vector<std::int64_t>{12, 4});
  CHECK(parameters[16].name == "layers.1.linear1.weight");
  CHECK(parameters[16].shape == std::vector<std::int64_t>{6, 4});
  CHECK(parameters.back().name == "norm.weight");
  Spec transformer = spec_of(R"({"type": "Transformer", "d_model": 4, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
                                 "dim_feedforward": 6})");
  std::vector<std::string> all = names(module_parameters(transformer.modules[0]));
  CHECK(all.size() == 12 + 2 + 18 + 2);
  CHECK(std::find(all.begin(), all.end(), "encoder.norm.bias") != all.end());
  CHECK(all.back() == "decoder.norm.bias");
  CHECK(module_parameters(spec_of(R"({"type": "LayerNorm", "normalized_shape": [2, 3], "elementwise_affine": false})").modules[0]).empty());

  CHECK(possible_parameter("Transformer", "decoder.layers.7.multihead_attn.bias_k"));
  CHECK(possible_parameter("TransformerEncoder", "layers.3.norm2.bias"));
  CHECK_FALSE(possible_parameter("TransformerEncoder", "layers.x.norm2.bias"));
  CHECK_FALSE(possible_parameter("TransformerEncoder", "layers.0.norm3.bias"));
  CHECK_FALSE(possible_parameter("Linear", "input"));
  CHECK(possible_parameter("Embedding", "weight"));
}

TEST_CASE("initial parameters: PyTorch's distributions, the stacks' layers start as copies", "[forward][parameters]") {
  Random random(0);
  Spec stack = spec_of(R"({"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer", "d_model": 4, "nhead": 2,
                           "dim_feedforward": 6}, "num_layers": 2, "norm": {"type": "LayerNorm", "normalized_shape": 4}})");
  StateDict cloned = initial_module_parameters(stack.modules[0], random);
  CHECK(cloned.size() == module_parameters(stack.modules[0]).size());
  CHECK(cloned.at("layers.0.linear1.weight").bytes == cloned.at("layers.1.linear1.weight").bytes);
  for (double value : cloned.at("layers.1.linear1.weight").to_double()) CHECK(std::abs(value) <= 0.5);  // 1/sqrt(4)
  CHECK(cloned.at("norm.weight").to_double() == std::vector<double>{1, 1, 1, 1});
  CHECK(cloned.at("layers.0.norm1.bias").to_double() == std::vector<double>{0, 0, 0, 0});

  // nn.Transformer re-draws every matrix with xavier_uniform_; vectors stay the clones' values.
  Spec transformer = spec_of(R"({"type": "Transformer", "d_model": 4, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 1,
                                 "dim_feedforward": 6, "dtype": "float64"})");
  StateDict drawn = initial_module_parameters(transformer.modules[0], random);
  CHECK(drawn.at("encoder.layers.0.linear1.weight").bytes != drawn.at("encoder.layers.1.linear1.weight").bytes);
  CHECK(drawn.at("encoder.layers.0.linear1.bias").bytes == drawn.at("encoder.layers.1.linear1.bias").bytes);
  CHECK(drawn.at("decoder.layers.0.linear2.weight").dtype == DType::Float64);
  for (double value : drawn.at("decoder.layers.0.linear2.weight").to_double()) CHECK(std::abs(value) <= std::sqrt(0.6));  // sqrt(6/10)

  Spec embedding = spec_of(R"({"type": "Embedding", "num_embeddings": 5, "embedding_dim": 3, "padding_idx": -2})");
  std::vector<double> table = initial_module_parameters(embedding.modules[0], random).at("weight").to_double();
  CHECK(std::vector<double>(table.begin() + 9, table.begin() + 12) == std::vector<double>{0, 0, 0});  // row 3
  CHECK(table[0] != 0);
}
