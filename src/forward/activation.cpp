// The Transformer layers' activations, elementwise in the input's dtype. gelu is the exact erf
// form (F.gelu's approximate="none"), evaluated in double and rounded once.
#include <cmath>

#include "forward/array_values.hpp"
#include "forward/module_kernels.hpp"

namespace mhacheck {
namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;  // PyTorch's M_SQRT1_2

template <typename Function>
Array elementwise(const Array& input, Function function) {
  return with_float_type(input.dtype, [&](auto type) {
    using T = decltype(type);
    Array output = make_array(dtype_of<T>(), input.shape);
    std::vector<T> x = values_as<T>(input);
    T* y = output.data<T>();
    for (std::size_t i = 0; i < x.size(); ++i) y[i] = static_cast<T>(function(static_cast<double>(x[i])));
    return output;
  });
}

}  // namespace

// NaN stays NaN, as clamp_min(0) keeps it.
Array relu_forward(const Array& input) {
  return elementwise(input, [](double x) { return std::isnan(x) || x > 0 ? x : 0.0; });
}

Array gelu_forward(const Array& input) {
  return elementwise(input, [](double x) { return 0.5 * x * (1.0 + std::erf(x * kSqrtHalf)); });
}

}  // namespace mhacheck
