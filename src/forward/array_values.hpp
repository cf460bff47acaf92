// Typed access to the dense arrays the forward passes compute on: float32 arrays are computed
// as float and float64 arrays as double, as PyTorch computes them in the tensor's own dtype.
#pragma once

#include <algorithm>
#include <type_traits>
#include <vector>

#include "mhacheck/npy.hpp"

namespace mhacheck {

template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, double> ? DType::Float64 : DType::Float32;
}

// The elements as T, converted from any dtype (a float32 mask for a float64 module, a float64
// checkpoint for a float32 one).
template <typename T>
std::vector<T> values_as(const Array& array) {
  std::vector<T> values(static_cast<std::size_t>(array.size()));
  if (array.dtype == dtype_of<T>()) {
    std::copy_n(array.data<T>(), values.size(), values.begin());
    return values;
  }
  std::vector<double> converted = array.to_double();
  std::transform(converted.begin(), converted.end(), values.begin(), [](double v) { return static_cast<T>(v); });
  return values;
}

// Calls `compute` with a double or a float (the value is only a type tag), as `dtype` says:
// float64 computes in double, everything else in float.
template <typename Compute>
decltype(auto) with_float_type(DType dtype, Compute&& compute) {
  if (dtype == DType::Float64) return compute(double{});
  return compute(float{});
}

}  // namespace mhacheck
