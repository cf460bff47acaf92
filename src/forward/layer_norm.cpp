// F.layer_norm: each slice over the trailing normalized_shape dims is centred and scaled by its
// own biased standard deviation. Mean and variance are taken in double (two passes), which is
// closer to exact than PyTorch's float Welford but well within its float32 rounding; the result
// is rounded once to the input's dtype.
#include <cmath>

#include "forward/array_values.hpp"
#include "forward/forward_call.hpp"
#include "mhacheck/module_config.hpp"

namespace mhacheck {
namespace {

template <typename T>
Array layer_norm(const Array& input, std::int64_t width, double eps, const Array* weight, const Array* bias) {
  Array output = make_array(dtype_of<T>(), input.shape);
  if (width == 0 || input.size() == 0) return output;
  std::vector<T> x = values_as<T>(input);
  std::vector<T> w = weight != nullptr ? values_as<T>(*weight) : std::vector<T>();
  std::vector<T> b = bias != nullptr ? values_as<T>(*bias) : std::vector<T>();
  T* y = output.data<T>();
  const std::int64_t rows = input.size() / width;
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* row = &x[static_cast<std::size_t>(r * width)];
    double mean = 0, variance = 0;
    for (std::int64_t i = 0; i < width; ++i) mean += row[i];
    mean /= static_cast<double>(width);
    for (std::int64_t i = 0; i < width; ++i) variance += (row[i] - mean) * (row[i] - mean);
    variance /= static_cast<double>(width);
    const double reciprocal = 1.0 / std::sqrt(variance + eps);
    for (std::int64_t i = 0; i < width; ++i) {
      double value = (row[i] - mean) * reciprocal;
      if (!w.empty()) value *= w[static_cast<std::size_t>(i)];
      if (!b.empty()) value += b[static_cast<std::size_t>(i)];
      y[r * width + i] = static_cast<T>(value);
    }
  }
  return output;
}

}  // namespace

Array layer_norm_forward(const Array& input, const std::vector<std::int64_t>& normalized_shape, double eps, const Array* weight,
                         const Array* bias) {
  std::int64_t width = 1;
  for (std::int64_t size : normalized_shape) width *= size;
  return with_float_type(input.dtype, [&](auto type) { return layer_norm<decltype(type)>(input, width, eps, weight, bias); });
}

ForwardResult forward_layer_norm(const ForwardCall& call) {
  NormConfig norm = norm_config(*call.module);
  ForwardResult result;
  result.outputs.push_back(
      layer_norm_forward(*call.tensor("input"), norm.normalized_shape, norm.eps, call.parameter("weight"), call.parameter("bias")));
  return result;
}

// F.layer_norm with its weight and bias as tensors (either may be absent).
ForwardResult forward_functional_layer_norm(const ForwardCall& call) {
  ForwardResult result;
  result.outputs.push_back(layer_norm_forward(*call.tensor("input"), call.argument("normalized_shape").get<std::vector<std::int64_t>>(),
                                              call.argument("eps").get<double>(), call.tensor("weight"), call.tensor("bias")));
  return result;
}

}  // namespace mhacheck
