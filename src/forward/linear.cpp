// nn.Linear's F.linear: one OpenBLAS GEMM over every leading index at once (the input is C order,
// so (..., in_features) is a (rows, in_features) matrix), then the bias.
#include "forward/array_values.hpp"
#include "forward/blas.hpp"
#include <algorithm>
#include "forward/forward_call.hpp"

namespace mhacheck {
namespace {

template <typename T>
Array linear(const Array& input, const Array& weight, const Array* bias) {
  const std::int64_t out_features = weight.shape[0], in_features = weight.shape[1];
  std::vector<std::int64_t> shape = input.shape;
  shape.back() = out_features;
  Array output = make_array(dtype_of<T>(), shape);
  std::int64_t rows = 1;
  for (std::size_t d = 0; d + 1 < input.shape.size(); ++d) rows *= input.shape[d];
  std::vector<T> x = values_as<T>(input), w = values_as<T>(weight);
  T* y = output.data<T>();
  if (rows > 0 && out_features > 0 && in_features > 0) {
    blas::gemm(true, static_cast<int>(rows), static_cast<int>(out_features), static_cast<int>(in_features), T(1), x.data(),
               static_cast<int>(in_features), w.data(), static_cast<int>(in_features), y, static_cast<int>(out_features));
  }
  if (bias != nullptr) {
    std::vector<T> b = values_as<T>(*bias);
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t o = 0; o < out_features; ++o) y[r * out_features + o] += b[static_cast<std::size_t>(o)];
    }
  }
  return output;
}

}  // namespace

Array linear_forward(const Array& input, const Array& weight, const Array* bias) {
  return with_float_type(input.dtype, [&](auto type) { return linear<decltype(type)>(input, weight, bias); });
}

ForwardResult forward_linear(const ForwardCall& call) {
  blas::set_threads(std::max(1, call.threads));
  ForwardResult result;
  result.outputs.push_back(linear_forward(*call.tensor("input"), *call.parameter("weight"), call.parameter("bias")));
  return result;
}

// F.linear with the weight and bias as tensors, through nn.Linear's kernel: a 1-D weight is one
// output feature, dropped from the shape; a bias of one element is every feature's.
ForwardResult forward_functional_linear(const ForwardCall& call) {
  blas::set_threads(std::max(1, call.threads));
  Array weight = *call.tensor("weight");
  if (weight.shape.size() == 1) weight.shape.insert(weight.shape.begin(), 1);
  const Array* bias = call.tensor("bias");
  Array widened;
  if (bias != nullptr && bias->size() != weight.shape[0]) {
    widened = make_array(bias->dtype, {weight.shape[0]});
    const auto width = static_cast<std::ptrdiff_t>(bias->element_size());
    for (std::int64_t o = 0; o < weight.shape[0]; ++o) std::copy_n(bias->bytes.begin(), width, widened.bytes.begin() + o * width);
    bias = &widened;
  }
  Array output = linear_forward(*call.tensor("input"), weight, bias);
  output.shape = call.output_shape;
  ForwardResult result;
  result.outputs.push_back(std::move(output));
  return result;
}

}  // namespace mhacheck
