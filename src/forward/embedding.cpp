// nn.Embedding's F.embedding: a row gather. padding_idx only changes gradients, so the forward
// ignores it. With max_norm, F.embedding first renormalises the looked-up rows of the weight in
// place (embedding_renorm_); a renormalised row is below max_norm afterwards, so scaling the
// gathered copies gives the same values as PyTorch's in-place update, also on later calls.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "forward/array_values.hpp"
#include "forward/forward_call.hpp"

namespace mhacheck {
namespace {

std::vector<std::int64_t> integer_values(const Array& indices) {
  std::vector<std::int64_t> values(static_cast<std::size_t>(indices.size()));
  for (std::size_t i = 0; i < values.size(); ++i) {
    switch (indices.dtype) {
      case DType::Int64: values[i] = indices.data<std::int64_t>()[i]; break;
      case DType::Int32: values[i] = indices.data<std::int32_t>()[i]; break;
      case DType::Int16: values[i] = indices.data<std::int16_t>()[i]; break;
      case DType::Int8: values[i] = indices.data<std::int8_t>()[i]; break;
      case DType::UInt8: values[i] = indices.data<std::uint8_t>()[i]; break;
      default: throw std::invalid_argument("embedding indices must be integers, not " + dtype_name(indices.dtype));
    }
  }
  return values;
}

std::vector<std::int64_t> position_of(std::int64_t flat, const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> position(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    position[d] = flat % shape[d];
    flat /= shape[d];
  }
  return position;
}

IndexOutOfRange out_of_range(const std::vector<std::int64_t>& indices, std::size_t at, const std::vector<std::int64_t>& shape,
                             std::int64_t num_embeddings, std::string message) {
  IndexOutOfRange error;
  error.position = position_of(static_cast<std::int64_t>(at), shape);
  error.value = indices[at];
  error.num_embeddings = num_embeddings;
  error.pytorch_message = std::move(message);
  return error;
}

// Tensor.norm(p) of one row, as embedding_renorm_ takes it.
double row_norm(const std::vector<double>& row, double p) {
  double total = 0;
  if (std::isinf(p)) {
    total = p > 0 ? 0.0 : std::numeric_limits<double>::infinity();
    for (double x : row) total = p > 0 ? std::max(total, std::abs(x)) : std::min(total, std::abs(x));
    return total;
  }
  if (p == 0) return static_cast<double>(std::count_if(row.begin(), row.end(), [](double x) { return x != 0; }));
  for (double x : row) total += std::pow(std::abs(x), p);
  return std::pow(total, 1.0 / p);
}

template <typename T>
Array gather(const Array& weight, const std::vector<std::int64_t>& indices, const std::vector<std::int64_t>& indices_shape,
             std::optional<double> max_norm, double norm_type) {
  const std::int64_t dim = weight.shape[1];
  std::vector<std::int64_t> shape = indices_shape;
  shape.push_back(dim);
  Array output = make_array(dtype_of<T>(), shape);
  std::vector<T> table = values_as<T>(weight);
  T* y = output.data<T>();
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const T* row = table.data() + indices[i] * dim;  // data(): a table of width 0 is empty
    T scale = 1;
    if (max_norm) {
      double norm = row_norm(std::vector<double>(row, row + dim), norm_type);
      // The row is scaled in its own dtype by the scalar embedding_renorm_ computes in double.
      if (norm > *max_norm) scale = static_cast<T>(*max_norm / (norm + 1e-7));
    }
    for (std::int64_t e = 0; e < dim; ++e) y[static_cast<std::int64_t>(i) * dim + e] = max_norm ? row[e] * scale : row[e];
  }
  return output;
}

}  // namespace

Array embedding_forward(const Array& weight, const Array& indices, std::optional<double> max_norm, double norm_type) {
  const std::int64_t num_embeddings = weight.shape[0];
  std::vector<std::int64_t> values = integer_values(indices);
  auto outside = [&](std::int64_t value) { return value < 0 || value >= num_embeddings; };
  if (max_norm) {
    // embedding_renorm_ walks the sorted indices and reads weight[index] (select) first, which
    // wraps a negative index and raises its own IndexError for one beyond either end.
    std::vector<std::size_t> order(values.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
    for (std::size_t i : order) {
      if (values[i] >= -num_embeddings && values[i] < num_embeddings) continue;
      throw out_of_range(values, i, indices.shape, num_embeddings,
                         fmt::format("select(): index {} out of range for tensor of size [{}, {}] at dimension 0", values[i],
                                     num_embeddings, weight.shape[1]));
    }
  }
  auto bad = std::find_if(values.begin(), values.end(), outside);
  if (bad != values.end()) {
    throw out_of_range(values, static_cast<std::size_t>(bad - values.begin()), indices.shape, num_embeddings, "index out of range in self");
  }
  return with_float_type(weight.dtype, [&](auto type) { return gather<decltype(type)>(weight, values, indices.shape, max_norm, norm_type); });
}

ForwardResult forward_embedding(const ForwardCall& call) {
  const nlohmann::json& max_norm = call.module->options.at("max_norm");
  ForwardResult result;
  result.outputs.push_back(embedding_forward(*call.parameter("weight"), *call.tensor("input"),
                                             max_norm.is_null() ? std::nullopt : std::optional(max_norm.get<double>()),
                                             call.module->number("norm_type")));
  return result;
}

}  // namespace mhacheck
