// The activations, elementwise in the input's dtype (the Transformer layers' and the calls'). gelu is the exact erf
// form (F.gelu's approximate="none"), evaluated in double and rounded once.
#include <cmath>
#include <map>
#include <string>

#include "forward/array_values.hpp"
#include "forward/forward_call.hpp"
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

namespace mhacheck {

// F.relu, F.gelu (approximate "none" or "tanh"), F.silu, torch.tanh, sigmoid, exp, log, sqrt,
// rsqrt, sin and cos as calls; an integer input of these computes in float32, as PyTorch's
// default dtype. torch.neg and abs keep the dtype: the forward pass runs float32 and float64.
ForwardResult forward_activation(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  const std::string& op = call.call->op;
  ForwardResult result;
  static const std::map<std::string, double (*)(double), std::less<>> kFunctions = {
      {"exp", [](double x) { return std::exp(x); }},   {"log", [](double x) { return std::log(x); }},
      {"sqrt", [](double x) { return std::sqrt(x); }}, {"rsqrt", [](double x) { return 1.0 / std::sqrt(x); }},
      {"sin", [](double x) { return std::sin(x); }},   {"cos", [](double x) { return std::cos(x); }},
      {"neg", [](double x) { return -x; }},            {"abs", [](double x) { return std::fabs(x); }}};
  if (auto function = kFunctions.find(op); function != kFunctions.end()) {
    result.outputs.push_back(elementwise(input, function->second));
  } else if (op == "relu") {
    result.outputs.push_back(relu_forward(input));
  } else if (op == "gelu" && call.argument("approximate") == "none") {
    result.outputs.push_back(gelu_forward(input));
  } else if (op == "gelu") {
    constexpr double kSqrt2OverPi = 0.79788456080286535588;  // PyTorch's M_SQRT2 * M_2_SQRTPI * 0.5
    result.outputs.push_back(
        elementwise(input, [](double x) { return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x))); }));
  } else if (op == "silu") {
    result.outputs.push_back(elementwise(input, [](double x) { return x / (1.0 + std::exp(-x)); }));
  } else if (op == "tanh") {
    result.outputs.push_back(elementwise(input, [](double x) { return std::tanh(x); }));
  } else {
    result.outputs.push_back(elementwise(input, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }));
  }
  return result;
}

}  // namespace mhacheck
