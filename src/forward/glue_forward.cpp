// The glue operators on dense C-order arrays. Re-layouts (transpose, permute, expand, repeat,
// repeat_interleave) move elements; reshape, view, unsqueeze, squeeze, flatten, contiguous,
// clone and dropout (evaluation mode) keep them in order under the checked shape; eq and ne
// compare in the operands' common dtype, add, sub, mul and div compute in their result dtype, as
// PyTorch, and bitwise_and/or combine bool and integer operands exactly in int64; logical_not,
// bitwise_not, logical_and/or, matmul (OpenBLAS dgemm per batch entry), softmax, the reductions
// (sum, mean, max, amax, logsumexp, vector_norm) and masked_fill compute in double and round once
// to the output dtype.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <limits>
#include <type_traits>

#include "forward/blas.hpp"

#include "forward/broadcast_index.hpp"
#include "forward/forward_call.hpp"
#include "ops/einsum_equation.hpp"
#include "ops/result_type.hpp"
#include "operators.hpp"

namespace mhacheck {
namespace {

int wrapped(std::int64_t dim, std::size_t rank) {
  std::int64_t range = std::max<std::int64_t>(static_cast<std::int64_t>(rank), 1);
  return static_cast<int>(dim < 0 ? dim + range : dim);
}

// Output dim i is input dim order[i].
Array permuted(const Array& input, const std::vector<int>& order) {
  std::vector<std::int64_t> shape;
  for (int dim : order) shape.push_back(input.shape[static_cast<std::size_t>(dim)]);
  Array out = make_array(input.dtype, shape);
  std::vector<std::int64_t> strides(input.shape.size(), 1);
  for (std::size_t d = input.shape.size(); d-- > 1;) strides[d - 1] = strides[d] * input.shape[d];
  std::size_t element = input.element_size();
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::int64_t flat = 0; flat < out.size(); ++flat) {
    std::int64_t from = 0;
    for (std::size_t i = 0; i < shape.size(); ++i) from += index[i] * strides[static_cast<std::size_t>(order[i])];
    std::copy_n(input.bytes.begin() + static_cast<std::ptrdiff_t>(from * element), element,
                out.bytes.begin() + static_cast<std::ptrdiff_t>(flat * element));
    for (std::size_t i = shape.size(); i-- > 0;) {
      if (++index[i] < shape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

// One element of `out` set from a double or an integer, converted as static_cast converts (a
// double to an integer truncates, an int64 to int8 wraps; bool is "nonzero"), for the dtypes a
// computation, a cat of mixed dtypes or a cast can produce: floating results are float32 or
// float64 (run checks), the rest integers or bool.
template <typename Value>
void store(Array& out, std::size_t i, Value value) {
  switch (out.dtype) {
    case DType::Float64: out.data<double>()[i] = static_cast<double>(value); break;
    case DType::Float32: out.data<float>()[i] = static_cast<float>(value); break;
    case DType::Int64: out.data<std::int64_t>()[i] = static_cast<std::int64_t>(value); break;
    case DType::Int32: out.data<std::int32_t>()[i] = static_cast<std::int32_t>(value); break;
    case DType::Int16: out.data<std::int16_t>()[i] = static_cast<std::int16_t>(value); break;
    case DType::Int8: out.data<std::int8_t>()[i] = static_cast<std::int8_t>(value); break;
    case DType::UInt8: out.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(value); break;
    case DType::Bool: out.data<bool>()[i] = value != 0; break;
    default: throw std::logic_error("no conversion to this dtype");
  }
}

Array stored(DType dtype, const std::vector<std::int64_t>& shape, const std::vector<double>& values) {
  Array out = make_array(dtype, shape);
  for (std::size_t i = 0; i < values.size(); ++i) {
    store(out, i, values[i]);
  }
  return out;
}

ForwardResult one(Array output) {
  ForwardResult result;
  result.outputs.push_back(std::move(output));
  return result;
}

}  // namespace

namespace {

// A Python scalar argument as a double: True and False count as 1 and 0 (as in x * True), and
// JSON writes infinities and NaN as "inf", "-inf" and "nan".
double python_number(const nlohmann::json& number) {
  if (number.is_boolean()) return number.get<bool>() ? 1.0 : 0.0;
  if (number.is_number()) return number.get<double>();
  if (number == "nan") return std::numeric_limits<double>::quiet_NaN();
  return (number == "inf" ? 1.0 : -1.0) * std::numeric_limits<double>::infinity();
}

// Element i of an integer or bool array, exactly (an int64 above 2**53 has no double).
std::int64_t integer_at(const Array& array, std::size_t i) {
  switch (array.dtype) {
    case DType::Int64: return array.data<std::int64_t>()[i];
    case DType::Int32: return array.data<std::int32_t>()[i];
    case DType::Int16: return array.data<std::int16_t>()[i];
    case DType::Int8: return array.data<std::int8_t>()[i];
    case DType::UInt8: return array.data<std::uint8_t>()[i];
    case DType::Bool: return array.data<bool>()[i] ? 1 : 0;
    default: throw std::logic_error("not an integer dtype");
  }
}

// A float rounded to float16 or bfloat16 (to nearest, ties to even; inf beyond the largest
// finite value), as c10::Half and c10::BFloat16 are built from a float; float32 unchanged.
float narrowed(float value, DType dtype) {
  if ((dtype != DType::Float16 && dtype != DType::BFloat16) || !std::isfinite(value) || value == 0) return value;
  bool half = dtype == DType::Float16;
  int exponent = std::max(std::ilogb(value), half ? -14 : -126);  // the smallest normal exponent: subnormals below
  double quantum = std::ldexp(1.0, exponent - (half ? 10 : 7));   // 10 and 7 stored mantissa bits
  double rounded = std::nearbyint(value / quantum) * quantum;
  double largest = half ? 65504.0 : std::ldexp(255.0, 120);
  return std::abs(rounded) > largest ? std::copysign(std::numeric_limits<float>::infinity(), value) : static_cast<float>(rounded);
}

// The operand's elements cast to the dtype an operation computes in, which C (int64, float or
// double) holds: a float32 x * 1.1 multiplies by float32(1.1), and an int64 beyond 2**53 rounds
// once, straight to float32, as PyTorch casts.
template <typename C>
std::vector<C> operand_values(const Array* tensor, const nlohmann::json& number, DType common) {
  auto cast = [&](auto value) {
    if constexpr (std::is_same_v<C, float>) return narrowed(static_cast<float>(value), common);
    else return static_cast<C>(value);
  };
  std::vector<C> values;
  if (tensor == nullptr) {  // a Python number; an int64 above 2**53 has no double
    values.push_back(number.is_number_integer() ? cast(number.get<std::int64_t>()) : cast(python_number(number)));
  } else if (is_floating(tensor->dtype)) {
    for (double value : tensor->to_double()) values.push_back(cast(value));
  } else {
    for (std::size_t i = 0; i < static_cast<std::size_t>(tensor->size()); ++i) values.push_back(cast(integer_at(*tensor, i)));
  }
  return values;
}

// eq, ne, gt, ge, lt and le: PyTorch casts both operands to their common dtype (torch.result_type)
// and compares there: float32 x == 0.1 compares with float32(0.1), int64 operands as integers.
template <typename C>
std::vector<double> compared(const ForwardCall& call, DType common, const std::vector<std::int64_t>& a_at, const std::vector<std::int64_t>& b_at) {
  const Array* other = call.tensor("other");
  const nlohmann::json no_number;
  std::vector<C> a = operand_values<C>(call.tensor("input"), no_number, common);
  std::vector<C> b = operand_values<C>(other, other != nullptr ? no_number : call.argument("other"), common);
  const std::string& op = call.call->op;
  auto holds = [&op](C x, C y) {
    if (op == "eq") return x == y;
    if (op == "ne") return x != y;
    if (op == "gt") return x > y;
    if (op == "ge") return x >= y;
    if (op == "lt") return x < y;
    return x <= y;
  };
  std::vector<double> result(a_at.size());
  for (std::size_t i = 0; i < result.size(); ++i) {
    result[i] = holds(a[static_cast<std::size_t>(a_at[i])], b[static_cast<std::size_t>(b_at[i])]) ? 1.0 : 0.0;
  }
  return result;
}

// div(..., rounding_mode="floor") as PyTorch's div_floor_floating (c10/util/generic_math.h), not
// floor(a / b): the quotient of a minus its remainder, so that floor(1 / 0.1f) is 9 (a / b rounds
// up to 10), an infinite a gives NaN and a finite a over an infinite b of the other sign -1.
template <typename C>
C floor_divided(C a, C b) {
  if (b == 0) return a / b;  // IEEE: +-inf, or NaN for 0 / 0
  C remainder = std::fmod(a, b);
  C quotient = (a - remainder) / b;
  if (remainder != 0 && (b < 0) != (remainder < 0)) quotient -= C(1);
  if (quotient == 0) return std::copysign(C(0), a / b);
  C floored = std::floor(quotient);
  return quotient - floored > C(0.5) ? floored + C(1) : floored;
}

// add, sub, mul and div (rounding_mode None, "trunc" or "floor") in their result dtype, float32
// or float64 (run checks): both operands cast to it, one operation there, as PyTorch's CPU kernels.
template <typename C>
std::vector<double> computed(const ForwardCall& call, const std::vector<std::int64_t>& a_at, const std::vector<std::int64_t>& b_at) {
  const Array* other = call.tensor("other");
  const nlohmann::json no_number;
  std::vector<C> a = operand_values<C>(call.tensor("input"), no_number, call.output_dtype);
  std::vector<C> b = operand_values<C>(other, other != nullptr ? no_number : call.argument("other"), call.output_dtype);
  const std::string& op = call.call->op;
  std::string rounding = op == "div" && call.argument("rounding_mode").is_string() ? call.argument("rounding_mode").get<std::string>() : "";
  std::vector<double> result(a_at.size());
  for (std::size_t i = 0; i < result.size(); ++i) {
    C x = a[static_cast<std::size_t>(a_at[i])], y = b[static_cast<std::size_t>(b_at[i])];
    C value;
    if (op == "add") value = x + y;
    else if (op == "sub") value = x - y;
    else if (op == "mul") value = x * y;
    else if (rounding == "trunc") value = std::trunc(x / y);
    else if (rounding == "floor") value = floor_divided(x, y);
    else value = x / y;
    result[i] = static_cast<double>(value);
  }
  return result;
}

}  // namespace

// add, sub, mul and div (rounding_mode None, "trunc" or "floor"), eq and ne, logical_and/or and
// bitwise_and/or; `other` may be a number (not for logical_and/or).
ForwardResult forward_arithmetic(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  const Array* other = call.tensor("other");
  std::vector<std::int64_t> a_at = batch_offsets(input.shape, call.output_shape, 1, 1);
  std::vector<std::int64_t> b_at = batch_offsets(other != nullptr ? other->shape : std::vector<std::int64_t>{}, call.output_shape, 1, 1);
  const std::string& op = call.call->op;
  if (op == "logical_and" || op == "logical_or") {  // nonzero (NaN too) is True
    std::vector<double> a = input.to_double(), b = other->to_double(), result(a_at.size());
    for (std::size_t i = 0; i < result.size(); ++i) {
      bool x = a[static_cast<std::size_t>(a_at[i])] != 0, y = b[static_cast<std::size_t>(b_at[i])] != 0;
      result[i] = op == "logical_and" ? x && y : x || y;
    }
    return one(stored(call.output_dtype, call.output_shape, result));
  }
  if (op == "bitwise_and" || op == "bitwise_or") {  // bool or integer operands: exact in int64
    const nlohmann::json no_number;
    std::vector<std::int64_t> a = operand_values<std::int64_t>(&input, no_number, call.output_dtype);
    std::vector<std::int64_t> b = operand_values<std::int64_t>(other, other != nullptr ? no_number : call.argument("other"), call.output_dtype);
    std::vector<double> result(a_at.size());
    for (std::size_t i = 0; i < result.size(); ++i) {
      std::int64_t x = a[static_cast<std::size_t>(a_at[i])], y = b[static_cast<std::size_t>(b_at[i])];
      result[i] = static_cast<double>(op == "bitwise_and" ? x & y : x | y);
    }
    return one(stored(call.output_dtype, call.output_shape, result));
  }
  if (is_comparison(op)) {
    DType common = other != nullptr ? result_type(input.dtype, input.shape.size(), other->dtype, other->shape.size())
                                    : result_type(input.dtype, input.shape.size(), number_dtype(call.argument("other")), std::nullopt);
    std::vector<double> result = common == DType::Float64 ? compared<double>(call, common, a_at, b_at)
                                 : is_floating(common)     ? compared<float>(call, common, a_at, b_at)
                                                           : compared<std::int64_t>(call, common, a_at, b_at);
    return one(stored(call.output_dtype, call.output_shape, result));
  }
  std::vector<double> result = call.output_dtype == DType::Float64 ? computed<double>(call, a_at, b_at) : computed<float>(call, a_at, b_at);
  return one(stored(call.output_dtype, call.output_shape, result));
}

namespace {

// input @ other with broadcast batch dims, one dgemm per batch entry. A 1-D operand is a (1, k)
// row on the left and a (k, 1) column on the right, as in torch.matmul.
Array matrix_product(const Array& input, const Array& other, const ForwardCall& call) {
  std::vector<std::int64_t> a_shape = input.shape, b_shape = other.shape;
  if (a_shape.size() == 1) a_shape.insert(a_shape.begin(), 1);
  if (b_shape.size() == 1) b_shape.push_back(1);
  std::int64_t n = a_shape[a_shape.size() - 2], k = a_shape.back(), p = b_shape.back();
  std::vector<std::int64_t> a_batch(a_shape.begin(), a_shape.end() - 2), b_batch(b_shape.begin(), b_shape.end() - 2);
  std::vector<std::int64_t> batch = broadcast_shape(a_batch, b_batch);
  std::vector<std::int64_t> a_at = batch_offsets(a_batch, batch, n * k, 1), b_at = batch_offsets(b_batch, batch, k * p, 1);
  std::vector<double> a = input.to_double(), b = other.to_double();
  std::vector<double> product(a_at.size() * static_cast<std::size_t>(n * p), 0.0);
  for (std::size_t i = 0; i < a_at.size() && n > 0 && p > 0 && k > 0; ++i) {
    blas::gemm(false, static_cast<int>(n), static_cast<int>(p), static_cast<int>(k), 1.0, &a[static_cast<std::size_t>(a_at[i])],
               static_cast<int>(k), &b[static_cast<std::size_t>(b_at[i])], static_cast<int>(p), &product[i * static_cast<std::size_t>(n * p)],
               static_cast<int>(p));
  }
  return stored(call.output_dtype, call.output_shape, product);
}

}  // namespace

ForwardResult forward_matmul(const ForwardCall& call) { return one(matrix_product(*call.tensor("input"), *call.tensor("other"), call)); }

// torch.bmm: the checked call has two 3-D operands of one batch size, matmul's case without broadcasting.
ForwardResult forward_bmm(const ForwardCall& call) { return one(matrix_product(*call.tensor("input"), *call.tensor("mat2"), call)); }

// Max-subtracted, as PyTorch's kernels, so large scores do not overflow; log_softmax too.
ForwardResult forward_softmax(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  const bool logarithm = call.call->op == "log_softmax";
  const std::vector<std::int64_t>& shape = input.shape;
  std::size_t dim = static_cast<std::size_t>(wrapped(call.argument("dim").get<std::int64_t>(), shape.size()));
  std::int64_t outer = 1, size = shape.empty() ? 1 : shape[dim], inner = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d < dim) outer *= shape[d];
    if (d > dim) inner *= shape[d];
  }
  std::vector<double> values = input.to_double();
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      auto at = [&](std::int64_t j) -> double& { return values[static_cast<std::size_t>((o * size + j) * inner + i)]; };
      double largest = -std::numeric_limits<double>::infinity(), total = 0;
      for (std::int64_t j = 0; j < size; ++j) largest = std::max(largest, at(j));
      if (logarithm) {  // log_softmax: x - max - log(sum(exp(x - max)))
        for (std::int64_t j = 0; j < size; ++j) total += std::exp(at(j) - largest);
        for (std::int64_t j = 0; j < size; ++j) at(j) = at(j) - largest - std::log(total);
        continue;
      }
      for (std::int64_t j = 0; j < size; ++j) total += (at(j) = std::exp(at(j) - largest));
      for (std::int64_t j = 0; j < size; ++j) at(j) /= total;
    }
  }
  return one(stored(call.output_dtype, shape, values));
}

// torch.cat: for each index of the dims before `dim`, each tensor's block in turn. Skipped
// legacy (0,) tensors hold no elements, so they add no block.
ForwardResult forward_cat(const ForwardCall& call) {
  std::vector<const Array*> tensors;
  for (std::size_t i = 0; i < call.call->list_size("tensors"); ++i) tensors.push_back(call.tensor(list_element("tensors", i)));
  const std::vector<std::int64_t>& shape = call.output_shape;
  Array out = make_array(call.output_dtype, shape);
  if (shape.size() == 1 && shape[0] == 0) return one(std::move(out));
  std::size_t dim = static_cast<std::size_t>(wrapped(call.argument("dim").get<std::int64_t>(), shape.size()));
  std::int64_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < dim; ++d) outer *= shape[d];
  for (std::size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  std::size_t element = out.element_size(), written = 0;
  std::vector<std::vector<double>> converted(tensors.size());
  for (std::size_t t = 0; t < tensors.size(); ++t) {
    if (tensors[t]->dtype != out.dtype) converted[t] = tensors[t]->to_double();
  }
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::size_t t = 0; t < tensors.size(); ++t) {
      const Array& tensor = *tensors[t];
      if (tensor.shape.size() != shape.size()) continue;  // a skipped (0,) tensor
      std::size_t block = static_cast<std::size_t>(tensor.shape[dim] * inner);
      std::size_t from = static_cast<std::size_t>(o) * block;
      if (tensor.dtype == out.dtype) {
        std::copy_n(tensor.bytes.begin() + static_cast<std::ptrdiff_t>(from * element), block * element,
                    out.bytes.begin() + static_cast<std::ptrdiff_t>(written * element));
      } else {
        for (std::size_t i = 0; i < block; ++i) store(out, written + i, converted[t][from + i]);
      }
      written += block;
    }
  }
  return one(std::move(out));
}

ForwardResult forward_transpose(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::vector<int> order;
  for (std::size_t i = 0; i < input.shape.size(); ++i) order.push_back(static_cast<int>(i));
  if (!order.empty()) {
    std::swap(order[static_cast<std::size_t>(wrapped(call.argument("dim0").get<std::int64_t>(), order.size()))],
              order[static_cast<std::size_t>(wrapped(call.argument("dim1").get<std::int64_t>(), order.size()))]);
  }
  return one(permuted(input, order));
}

ForwardResult forward_permute(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::vector<int> order(input.shape.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = wrapped(call.argument("dims")[i].get<std::int64_t>(), order.size());
  return one(permuted(input, order));
}

// reshape, view, unsqueeze, squeeze, flatten: the same elements, in order, under the checked shape.
ForwardResult forward_reshape(const ForwardCall& call) {
  Array out = *call.tensor("input");
  out.shape = call.output_shape;
  return one(std::move(out));
}

}  // namespace mhacheck

namespace mhacheck {

// sum and mean over the checked dims, accumulated in double.
namespace {

// One output element of a reduction from the input elements it reduces, in C order: sum, mean,
// amax and max (NaN wins, as PyTorch propagates it; `index` is where the first max or NaN is),
// logsumexp (shifted by the max, which an infinite max replaces by 0), vector_norm of order ord.
double reduced_value(const std::string& op, const std::vector<double>& group, double ord, std::int64_t& index) {
  index = 0;
  if (op == "sum" || op == "mean") {
    double total = 0;
    for (double value : group) total += value;
    return op == "mean" ? total / static_cast<double>(group.size()) : total;
  }
  if (op == "max" || op == "amax" || op == "min" || op == "argmax" || op == "argmin") {
    const bool largest = op == "max" || op == "amax" || op == "argmax";
    double best = group.front();
    for (std::size_t i = 1; i < group.size() && !std::isnan(best); ++i) {
      if (std::isnan(group[i]) || (largest ? group[i] > best : group[i] < best)) {
        best = group[i];
        index = static_cast<std::int64_t>(i);
      }
    }
    return best;
  }
  if (op == "logsumexp") {
    if (group.empty()) return -std::numeric_limits<double>::infinity();
    double shift = *std::max_element(group.begin(), group.end());
    if (std::isinf(shift)) shift = 0;
    double total = 0;
    for (double value : group) total += std::exp(value - shift);
    return std::log(total) + shift;
  }
  // vector_norm: max |x| (inf), min |x| (-inf), the count of nonzeros (0), (sum |x|^ord)^(1/ord).
  if (std::isinf(ord)) {
    double best = ord > 0 ? 0 : std::numeric_limits<double>::infinity();
    for (double value : group) best = ord > 0 ? std::max(best, std::fabs(value)) : std::min(best, std::fabs(value));
    return best;
  }
  double total = 0;
  for (double value : group) total += ord == 0 ? (value != 0) : ord == 2 ? value * value : std::pow(std::fabs(value), ord);
  return ord == 0 ? total : ord == 2 ? std::sqrt(total) : ord == 1 ? total : std::pow(total, 1 / ord);
}

}  // namespace

ForwardResult forward_reduction(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  const std::string& op = call.call->op;
  const nlohmann::json& written = call.argument("dim");
  std::vector<bool> reduced(input.shape.size(), written.is_null() || (written.is_array() && written.empty()));
  for (const nlohmann::json& dim : written.is_array() ? written : nlohmann::json::array({written})) {
    if (!dim.is_null() && !input.shape.empty()) reduced[static_cast<std::size_t>(wrapped(dim.get<std::int64_t>(), input.shape.size()))] = true;
  }
  std::vector<std::int64_t> kept;  // the output's elements, as input with each reduced dim of size 1
  for (std::size_t d = 0; d < input.shape.size(); ++d) kept.push_back(reduced[d] ? 1 : input.shape[d]);
  std::int64_t outputs = 1;
  for (std::int64_t size : kept) outputs *= size;
  std::vector<std::vector<double>> groups(static_cast<std::size_t>(outputs));
  std::vector<std::int64_t> index(input.shape.size(), 0);
  for (double value : input.to_double()) {
    std::int64_t at = 0;
    for (std::size_t d = 0; d < index.size(); ++d) at = at * kept[d] + (reduced[d] ? 0 : index[d]);
    groups[static_cast<std::size_t>(at)].push_back(value);
    for (std::size_t d = index.size(); d-- > 0;) {
      if (++index[d] < input.shape[d]) break;
      index[d] = 0;
    }
  }
  const double ord = op == "vector_norm" ? python_number(call.argument("ord")) : 2;  // a number, "inf" or "-inf"
  std::vector<double> values(groups.size()), positions(groups.size());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    std::int64_t position = 0;
    values[i] = reduced_value(op, groups[i], ord, position);
    positions[i] = static_cast<double>(position);
  }
  ForwardResult result = one(stored(call.output_dtype, call.output_shape, values));
  // max over a dim also returns where each max is: one dim is reduced, so a value's place in its
  // group is its index along that dim.
  if ((op == "max" || op == "min") && !written.is_null()) result.outputs.push_back(stored(DType::Int64, call.output_shape, positions));
  // argmax and argmin return the positions alone (of the flattened input without a dim).
  if (op == "argmax" || op == "argmin") result.outputs.front() = stored(DType::Int64, call.output_shape, positions);
  return result;
}

// logical_not: 1 where the input is zero; bitwise_not: the same on bool, ~x (-x - 1) on integers.
ForwardResult forward_logical_not(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  bool bits = call.call->op == "bitwise_not" && input.dtype != DType::Bool;
  std::vector<double> values = input.to_double();
  for (double& value : values) value = bits ? -value - 1 : value == 0;
  return one(stored(call.output_dtype, call.output_shape, values));
}

namespace {

// The bits of the float16 or bfloat16 that holds `value`, already rounded to it by narrowed().
std::uint16_t narrow_bits(float value, DType dtype) {
  std::uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  if (dtype == DType::BFloat16) return static_cast<std::uint16_t>(std::isnan(value) ? 0x7fc0 : bits >> 16);
  auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000);
  float magnitude = std::fabs(value);
  if (std::isnan(value)) return sign | 0x7e00;
  if (std::isinf(magnitude)) return sign | 0x7c00;
  if (magnitude == 0) return sign;
  int exponent = std::ilogb(magnitude);
  if (exponent < -14) return sign | static_cast<std::uint16_t>(std::ldexp(magnitude, 24));  // subnormal: a multiple of 2**-24
  return sign | static_cast<std::uint16_t>((exponent + 15) << 10) | static_cast<std::uint16_t>(std::ldexp(magnitude, 10 - exponent) - 1024);
}

// Element i of `out` from a double, as c10 casts a Scalar: float16 and bfloat16 through float.
void store_cast(Array& out, std::size_t i, double value) {
  if (out.dtype == DType::Float16 || out.dtype == DType::BFloat16) {
    out.data<std::uint16_t>()[i] = narrow_bits(narrowed(static_cast<float>(value), out.dtype), out.dtype);
  } else {
    store(out, i, value);
  }
}

}  // namespace

// c10's casts: an integer to a float rounds once (int64 straight to float32), a float to an
// integer truncates, anything to bool is "nonzero", a double to float16/bfloat16 goes through float.
ForwardResult forward_to(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  if (input.dtype == call.output_dtype) return one(input);  // PyTorch returns the tensor itself
  Array out = make_array(call.output_dtype, input.shape);
  bool integral = !is_floating(input.dtype);
  std::vector<double> values = integral ? std::vector<double>() : input.to_double();
  for (std::size_t i = 0; i < static_cast<std::size_t>(input.size()); ++i) {
    if (out.dtype == DType::Float64) {
      out.data<double>()[i] = integral ? static_cast<double>(integer_at(input, i)) : values[i];
    } else if (is_floating(out.dtype)) {
      float value = integral ? static_cast<float>(integer_at(input, i)) : static_cast<float>(values[i]);
      if (out.dtype == DType::Float32) {
        out.data<float>()[i] = value;
      } else {
        out.data<std::uint16_t>()[i] = narrow_bits(narrowed(value, out.dtype), out.dtype);
      }
    } else if (integral) {
      store(out, i, integer_at(input, i));
    } else {
      store(out, i, values[i]);
    }
  }
  return one(std::move(out));
}

ForwardResult forward_triangle(const ForwardCall& call) {
  Array out = *call.tensor("input");
  const std::size_t rank = out.shape.size();
  const std::int64_t rows = out.shape[rank - 2], columns = out.shape[rank - 1], diagonal = call.argument("diagonal").get<std::int64_t>();
  const bool lower = call.call->op == "tril";
  const std::size_t element = out.element_size();
  const std::int64_t matrix = rows * columns;
  for (std::int64_t flat = 0; flat < out.size(); ++flat) {
    std::int64_t row = flat % matrix / columns, column = flat % columns;
    bool kept = lower ? column - row <= diagonal : column - row >= diagonal;
    if (!kept) std::fill_n(out.bytes.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(flat) * element), element, 0);
  }
  return one(std::move(out));
}

ForwardResult forward_pad(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::vector<std::int64_t> pad = call.argument("pad").get<std::vector<std::int64_t>>();
  const nlohmann::json& value = call.argument("value");
  Array out = make_array(input.dtype, call.output_shape);
  const std::size_t rank = out.shape.size(), element = out.element_size();
  // Each dim's left pad (negative: cropped); the dims before the padded ones have none.
  std::vector<std::int64_t> left(rank, 0);
  for (std::size_t j = 0; j < pad.size() / 2; ++j) left[rank - 1 - j] = pad[2 * j];
  for (std::size_t i = 0; i < static_cast<std::size_t>(out.size()); ++i) store_cast(out, i, value.is_null() ? 0.0 : python_number(value));
  std::vector<std::int64_t> in_strides(rank, 1), index(rank, 0);
  for (std::size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * input.shape[d];
  for (std::int64_t flat = 0; flat < out.size(); ++flat) {
    std::int64_t from = 0;
    bool inside = true;
    for (std::size_t d = 0; d < rank && inside; ++d) {
      std::int64_t source = index[d] - left[d];
      inside = source >= 0 && source < input.shape[d];
      from += source * in_strides[d];
    }
    if (inside) {
      std::copy_n(input.bytes.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(from) * element), element,
                  out.bytes.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(flat) * element));
    }
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < out.shape[d]) break;
      index[d] = 0;
    }
  }
  return one(std::move(out));
}

ForwardResult forward_masked_fill(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  const Array& mask = *call.tensor("mask");
  std::vector<std::int64_t> input_at = batch_offsets(input.shape, call.output_shape, 1, 1);
  std::vector<std::int64_t> mask_at = batch_offsets(mask.shape, call.output_shape, 1, 1);
  std::vector<double> values = input.to_double(), masked = mask.to_double(), result(input_at.size());
  double fill = python_number(call.argument("value"));
  for (std::size_t i = 0; i < result.size(); ++i) {
    result[i] = masked[static_cast<std::size_t>(mask_at[i])] != 0 ? fill : values[static_cast<std::size_t>(input_at[i])];
  }
  return one(stored(call.output_dtype, call.output_shape, result));
}

ForwardResult forward_where(const ForwardCall& call) {
  const Array& condition = *call.tensor("condition");
  std::vector<std::int64_t> condition_at = batch_offsets(condition.shape, call.output_shape, 1, 1);
  std::vector<double> chosen = condition.to_double(), result(condition_at.size());
  // A Python number is one value for every element: offset 0 of a one-element vector.
  auto operand = [&](const std::string& name, std::vector<std::int64_t>& at) {
    const Array* tensor = call.tensor(name);
    at = tensor != nullptr ? batch_offsets(tensor->shape, call.output_shape, 1, 1) : std::vector<std::int64_t>(result.size(), 0);
    return tensor != nullptr ? tensor->to_double() : std::vector<double>{python_number(call.argument(name))};
  };
  std::vector<std::int64_t> input_at, other_at;
  std::vector<double> input = operand("input", input_at), other = operand("other", other_at);
  for (std::size_t i = 0; i < result.size(); ++i) {
    result[i] = chosen[static_cast<std::size_t>(condition_at[i])] != 0 ? input[static_cast<std::size_t>(input_at[i])]
                                                                         : other[static_cast<std::size_t>(other_at[i])];
  }
  return one(stored(call.output_dtype, call.output_shape, result));
}

namespace {

// The output's elements, each copied from input element offsets[i] (any dtype).
Array gathered(const Array& input, const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& offsets) {
  Array out = make_array(input.dtype, shape);
  std::size_t element = input.element_size();
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    std::copy_n(input.bytes.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(offsets[i]) * element), element,
                out.bytes.begin() + static_cast<std::ptrdiff_t>(i * element));
  }
  return out;
}

// For each output index (C order), the input offset `source(index)` names.
template <typename Source>
std::vector<std::int64_t> offsets_by_index(const std::vector<std::int64_t>& shape, Source source) {
  std::int64_t count = 1;
  for (std::int64_t size : shape) count *= size;
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(count));
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::int64_t flat = 0; flat < count; ++flat) {
    offsets[static_cast<std::size_t>(flat)] = source(index);
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return offsets;
}

}  // namespace

ForwardResult forward_expand(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  return one(gathered(input, call.output_shape, batch_offsets(input.shape, call.output_shape, 1, 1)));
}

// Output index i reads input index i % size along each dim (input padded with leading 1s).
ForwardResult forward_repeat(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::vector<std::int64_t> padded(call.output_shape.size() - input.shape.size(), 1);
  padded.insert(padded.end(), input.shape.begin(), input.shape.end());
  return one(gathered(input, call.output_shape, offsets_by_index(call.output_shape, [&](const std::vector<std::int64_t>& index) {
                        std::int64_t at = 0;
                        for (std::size_t d = 0; d < index.size(); ++d) at = at * padded[d] + index[d] % padded[d];
                        return at;
                      })));
}

// Output index i along dim reads input index i / repeats; without dim, of the flattened input.
ForwardResult forward_repeat_interleave(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::int64_t repeats = call.argument("repeats").get<std::int64_t>();
  const nlohmann::json& written = call.argument("dim");
  std::vector<std::int64_t> source = input.shape;
  std::size_t dim = 0;
  if (written.is_null()) {
    std::int64_t count = 1;
    for (std::int64_t size : input.shape) count *= size;
    source = {count};
  } else {
    dim = static_cast<std::size_t>(wrapped(written.get<std::int64_t>(), input.shape.size()));
  }
  return one(gathered(input, call.output_shape, offsets_by_index(call.output_shape, [&](const std::vector<std::int64_t>& index) {
                        std::int64_t at = 0;
                        for (std::size_t d = 0; d < index.size(); ++d) at = at * source[d] + (d == dim ? index[d] / repeats : index[d]);
                        return at;
                      })));
}

namespace {

// One einsum operand over the aligned slots (ops/einsum_equation.hpp): the element at an index of
// the slots. A dim of size 1 stays at 0 (it broadcasts); a diagonal's dims both follow one slot.
struct EinsumOperand {
  std::vector<double> values;
  std::vector<std::pair<int, std::int64_t>> strides;  // (slot, stride) of each dim not of size 1

  // Dense C-order values whose dim d is slot slots[d] of size sizes[d].
  EinsumOperand(std::vector<double> dense, const std::vector<int>& slots, const std::vector<std::int64_t>& sizes) : values(std::move(dense)) {
    std::int64_t stride = 1;
    for (std::size_t d = sizes.size(); d-- > 0;) {
      if (sizes[d] != 1) strides.emplace_back(slots[d], stride);
      stride *= sizes[d];
    }
  }
  double at(const std::vector<std::int64_t>& index) const {
    std::int64_t offset = 0;
    for (const auto& [slot, stride] : strides) offset += index[static_cast<std::size_t>(slot)] * stride;
    return values[static_cast<std::size_t>(offset)];
  }
  bool spans(int slot) const {
    return std::any_of(strides.begin(), strides.end(), [slot](const auto& entry) { return entry.first == slot; });
  }
};

// Calls visit() for every index of the slots `axes` in C order, writing them into `index`.
template <typename Visit>
void for_each_index(const std::vector<int>& axes, const std::vector<std::int64_t>& sizes, std::vector<std::int64_t>& index, Visit&& visit) {
  for (int axis : axes) {
    if (sizes[static_cast<std::size_t>(axis)] == 0) return;
    index[static_cast<std::size_t>(axis)] = 0;
  }
  while (true) {
    visit();
    std::size_t i = axes.size();
    for (; i-- > 0;) {
      std::size_t axis = static_cast<std::size_t>(axes[i]);
      if (++index[axis] < sizes[axis]) break;
      index[axis] = 0;
    }
    if (i == static_cast<std::size_t>(-1)) return;
  }
}

std::int64_t product_of(const std::vector<int>& axes, const std::vector<std::int64_t>& sizes) {
  std::int64_t product = 1;
  for (int axis : axes) product *= sizes[static_cast<std::size_t>(axis)];
  return product;
}

std::vector<std::int64_t> sizes_of(const std::vector<int>& axes, const std::vector<std::int64_t>& sizes) {
  std::vector<std::int64_t> picked;
  for (int axis : axes) picked.push_back(sizes[static_cast<std::size_t>(axis)]);
  return picked;
}

// Two operands as PyTorch's sumproduct_pair: slots both span are batch dims (kept) or contracted
// by one dgemm per batch entry; slots only one spans are its rows or columns (kept) or summed into
// it first. A slot is kept when the output or a later operand has it. The result spans the kept
// slots either operand spans, in the order batch, rows, columns. The result is refused past
// `max_elements` before it is allocated: kept slots of both operands multiply ("i,j,k,ij,jk,ik->"
// makes (i, j, k) of three vectors). The gathered matrices are no larger than their operand.
EinsumOperand einsum_pair(const EinsumOperand& a, const EinsumOperand& b, const std::vector<std::int64_t>& sizes, const std::vector<bool>& kept,
                          std::int64_t max_elements) {
  std::vector<int> batch, rows, columns, contracted, a_only, b_only;
  for (int slot = 0; slot < static_cast<int>(sizes.size()); ++slot) {
    bool in_a = a.spans(slot), in_b = b.spans(slot), keep = kept[static_cast<std::size_t>(slot)];
    if (in_a && in_b) (keep ? batch : contracted).push_back(slot);
    else if (in_a) (keep ? rows : a_only).push_back(slot);
    else if (in_b) (keep ? columns : b_only).push_back(slot);
  }
  std::vector<int> slots = batch;
  slots.insert(slots.end(), rows.begin(), rows.end());
  slots.insert(slots.end(), columns.begin(), columns.end());
  bounded_elements("einsum's intermediate product of two operands", sizes_of(slots, sizes), max_elements);
  std::int64_t n = product_of(rows, sizes), p = product_of(columns, sizes), k = product_of(contracted, sizes);
  std::vector<std::int64_t> index(sizes.size(), 0);
  auto gather = [&](const EinsumOperand& operand, const std::vector<int>& first, const std::vector<int>& second, const std::vector<int>& summed) {
    std::vector<double> matrices;
    for_each_index(batch, sizes, index, [&] {
      for_each_index(first, sizes, index, [&] {
        for_each_index(second, sizes, index, [&] {
          double total = 0;
          for_each_index(summed, sizes, index, [&] { total += operand.at(index); });
          matrices.push_back(total);
        });
      });
    });
    return matrices;
  };
  std::vector<double> left = gather(a, rows, contracted, a_only), right = gather(b, contracted, columns, b_only);
  std::vector<double> product(static_cast<std::size_t>(product_of(batch, sizes) * n * p), 0.0);
  for (std::size_t i = 0; n > 0 && p > 0 && k > 0 && i * static_cast<std::size_t>(n * p) < product.size(); ++i) {
    blas::gemm(false, static_cast<int>(n), static_cast<int>(p), static_cast<int>(k), 1.0, &left[i * static_cast<std::size_t>(n * k)],
               static_cast<int>(k), &right[i * static_cast<std::size_t>(k * p)], static_cast<int>(p), &product[i * static_cast<std::size_t>(n * p)],
               static_cast<int>(p));
  }
  return EinsumOperand(std::move(product), slots, sizes_of(slots, sizes));
}

}  // namespace

// torch.einsum along the checked equation, contracted pairwise left to right as PyTorch does
// (einsum_pair's dgemms), so the work is that of the pairs' products; then the dims still to sum
// (one operand's) are summed into the output's order.
ForwardResult forward_einsum(const ForwardCall& call) {
  std::vector<const Array*> arrays;
  for (std::size_t i = 0; i < call.call->list_size("operands"); ++i) arrays.push_back(call.tensor(list_element("operands", i)));
  std::string equation = call.argument("equation").get<std::string>();
  std::vector<int> ranks;
  for (const Array* array : arrays) ranks.push_back(static_cast<int>(array->shape.size()));
  EinsumEquation read;
  if (read_einsum_terms(equation, arrays.size(), read) || read_einsum_output(equation, read)) {
    throw std::logic_error("einsum: the forward pass got an equation the check refused");
  }
  EinsumSlots slots = einsum_slots(read, ranks);
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(slots.count), 1);
  std::vector<EinsumOperand> operands;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    operands.emplace_back(arrays[i]->to_double(), slots.of_operand[i], arrays[i]->shape);
    for (std::size_t d = 0; d < arrays[i]->shape.size(); ++d) {
      if (arrays[i]->shape[d] != 1) sizes[static_cast<std::size_t>(slots.of_operand[i][d])] = arrays[i]->shape[d];
    }
  }
  EinsumOperand result = std::move(operands.front());
  for (std::size_t next = 1; next < operands.size(); ++next) {
    std::vector<bool> kept(sizes.size(), false);
    for (int slot = 0; slot < slots.count; ++slot) {
      kept[static_cast<std::size_t>(slot)] = slot < slots.output_dims || std::any_of(operands.begin() + static_cast<std::ptrdiff_t>(next) + 1, operands.end(),
                                                                                      [slot](const EinsumOperand& later) { return later.spans(slot); });
    }
    result = einsum_pair(result, operands[next], sizes, kept, call.max_elements);
  }
  std::vector<int> output_slots, summed_slots;
  for (int slot = 0; slot < slots.count; ++slot) {
    if (slot < slots.output_dims) output_slots.push_back(slot);
    else if (result.spans(slot)) summed_slots.push_back(slot);
  }
  std::vector<double> output;
  std::vector<std::int64_t> index(sizes.size(), 0);
  output.reserve(static_cast<std::size_t>(product_of(output_slots, sizes)));
  for_each_index(output_slots, sizes, index, [&] {
    double total = 0;
    for_each_index(summed_slots, sizes, index, [&] { total += result.at(index); });
    output.push_back(total);
  });
  return one(stored(call.output_dtype, call.output_shape, output));
}

}  // namespace mhacheck

namespace mhacheck {

namespace {

// The sizes before, of and after `dim` of `shape` (a 0-D shape counts as one element).
struct AroundDim {
  std::int64_t outer = 1, size = 1, inner = 1;
};
AroundDim around(const std::vector<std::int64_t>& shape, std::size_t dim) {
  AroundDim split;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d < dim) split.outer *= shape[d];
    if (d == dim) split.size = shape[d];
    if (d > dim) split.inner *= shape[d];
  }
  return split;
}

}  // namespace

// torch.stack: for each index of the dims before `dim`, each tensor's block of the dims from `dim` on.
ForwardResult forward_stack(const ForwardCall& call) {
  const std::size_t count = call.call->list_size("tensors");
  const std::vector<std::int64_t>& shape = call.output_shape;
  std::size_t dim = static_cast<std::size_t>(wrapped(call.argument("dim").get<std::int64_t>(), shape.size()));
  const AroundDim split = around(shape, dim);
  std::vector<std::vector<double>> tensors;
  for (std::size_t i = 0; i < count; ++i) tensors.push_back(call.tensor(list_element("tensors", i))->to_double());
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(split.outer * split.size * split.inner));
  for (std::int64_t o = 0; o < split.outer; ++o) {
    for (const std::vector<double>& tensor : tensors) {
      values.insert(values.end(), tensor.begin() + o * split.inner, tensor.begin() + (o + 1) * split.inner);
    }
  }
  return one(stored(call.output_dtype, shape, values));
}

// The constructors' values: ones, zeros, full (fill_value), eye (1 on the diagonal), arange
// (start + i * step, computed in double as PyTorch's accumulate type, then cast).
ForwardResult forward_constructor(const ForwardCall& call) {
  const std::string& op = call.call->op;
  Array out = make_array(call.output_dtype, call.output_shape);
  const std::size_t count = static_cast<std::size_t>(out.size());
  const nlohmann::json& arguments = call.call->arguments;
  for (std::size_t i = 0; i < count; ++i) {
    double value = 0;
    if (op == "ones" || op == "ones_like" || op == "new_ones") value = 1;
    if (op == "full" || op == "full_like") value = python_number(arguments.at("fill_value"));
    if (op == "eye") value = static_cast<std::int64_t>(i) / call.output_shape[1] == static_cast<std::int64_t>(i) % call.output_shape[1] ? 1 : 0;
    if (op == "arange") {
      const double start = arguments.at("start").is_number() ? arguments.at("start").get<double>() : 0;
      value = start + static_cast<double>(i) * arguments.at("step").get<double>();
    }
    store_cast(out, i, value);
  }
  return one(std::move(out));
}

// torch.clamp and clamp_min: max(min, ...) then min(max, ...), NaN kept, in the result dtype.
ForwardResult forward_clamp(const ForwardCall& call) {
  std::vector<double> values = call.tensor("input")->to_double();
  const nlohmann::json& arguments = call.call->arguments;
  const nlohmann::json low = arguments.value("min", nlohmann::json()), high = arguments.value("max", nlohmann::json());
  for (double& value : values) {
    if (std::isnan(value)) continue;
    if (!low.is_null()) value = std::max(value, low.get<double>());
    if (!high.is_null()) value = std::min(value, high.get<double>());
  }
  return one(stored(call.output_dtype, call.output_shape, values));
}

// torch.pow: element by element over the broadcast shape, a number exponent for every element.
ForwardResult forward_pow(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  const Array* exponent = call.tensor("exponent");
  std::vector<std::int64_t> input_at = batch_offsets(input.shape, call.output_shape, 1, 1);
  std::vector<std::int64_t> exponent_at = exponent ? batch_offsets(exponent->shape, call.output_shape, 1, 1) : std::vector<std::int64_t>(input_at.size(), 0);
  std::vector<double> base = input.to_double();
  std::vector<double> power = exponent ? exponent->to_double() : std::vector<double>{python_number(call.argument("exponent"))};
  std::vector<double> values(input_at.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = std::pow(base[static_cast<std::size_t>(input_at[i])], power[static_cast<std::size_t>(exponent_at[i])]);
  }
  return one(stored(call.output_dtype, call.output_shape, values));
}

// torch.cumsum along the dim, accumulated in double.
ForwardResult forward_cumsum(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::size_t dim = static_cast<std::size_t>(wrapped(call.argument("dim").get<std::int64_t>(), input.shape.size()));
  const AroundDim split = around(input.shape, dim);
  std::vector<double> values = input.to_double();
  for (std::int64_t o = 0; o < split.outer; ++o) {
    for (std::int64_t i = 0; i < split.inner; ++i) {
      double total = 0;
      for (std::int64_t j = 0; j < split.size; ++j) {
        double& value = values[static_cast<std::size_t>((o * split.size + j) * split.inner + i)];
        value = total += value;
      }
    }
  }
  return one(stored(call.output_dtype, call.output_shape, values));
}

// torch.flip: each listed dim read backwards.
ForwardResult forward_flip(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::vector<bool> flipped(input.shape.size(), false);
  for (const nlohmann::json& dim : call.argument("dims")) {
    if (!input.shape.empty()) flipped[static_cast<std::size_t>(wrapped(dim.get<std::int64_t>(), input.shape.size()))] = true;
  }
  return one(gathered(input, input.shape, offsets_by_index(input.shape, [&](const std::vector<std::int64_t>& index) {
                        std::int64_t at = 0;
                        for (std::size_t d = 0; d < index.size(); ++d) at = at * input.shape[d] + (flipped[d] ? input.shape[d] - 1 - index[d] : index[d]);
                        return at;
                      })));
}

// F.normalize: each vector along dim divided by max(its p-norm, eps).
ForwardResult forward_normalize(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::size_t dim = static_cast<std::size_t>(wrapped(call.argument("dim").get<std::int64_t>(), input.shape.size()));
  const AroundDim split = around(input.shape, dim);
  const double p = call.argument("p").get<double>(), eps = call.argument("eps").get<double>();
  std::vector<double> values = input.to_double();
  for (std::int64_t o = 0; o < split.outer; ++o) {
    for (std::int64_t i = 0; i < split.inner; ++i) {
      auto at = [&](std::int64_t j) -> double& { return values[static_cast<std::size_t>((o * split.size + j) * split.inner + i)]; };
      double total = 0;
      for (std::int64_t j = 0; j < split.size; ++j) total += p == 2 ? at(j) * at(j) : std::pow(std::fabs(at(j)), p);
      double norm = std::max(p == 2 ? std::sqrt(total) : std::pow(total, 1 / p), eps);
      // PyTorch divides by the norm held in the input's dtype.
      if (call.output_dtype == DType::Float32) norm = static_cast<float>(norm);
      for (std::int64_t j = 0; j < split.size; ++j) at(j) /= norm;
    }
  }
  return one(stored(call.output_dtype, call.output_shape, values));
}

}  // namespace mhacheck
