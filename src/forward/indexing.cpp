// getitem, select, narrow, and split, split_with_sizes and chunk (a view per piece): strided
// views of the input, copied out in C order. The views come from the same rules the check used
// (src/ops/index_expression.hpp for getitem, src/ops/split_sizes.hpp for the pieces).
#include <algorithm>
#include <stdexcept>

#include "forward/forward_call.hpp"
#include "ops/index_expression.hpp"
#include "ops/split_sizes.hpp"

namespace mhacheck {
namespace {

// Output dim i reads the input in steps of strides[i] elements from `offset`.
Array strided(const Array& input, std::int64_t offset, const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& strides) {
  Array out = make_array(input.dtype, shape);
  std::size_t element = input.element_size();
  std::vector<std::int64_t> index(shape.size(), 0);
  for (std::int64_t flat = 0; flat < out.size(); ++flat) {
    std::int64_t from = offset;
    for (std::size_t i = 0; i < shape.size(); ++i) from += index[i] * strides[i];
    std::copy_n(input.bytes.begin() + static_cast<std::ptrdiff_t>(from * static_cast<std::int64_t>(element)), element,
                out.bytes.begin() + static_cast<std::ptrdiff_t>(flat * static_cast<std::int64_t>(element)));
    for (std::size_t i = shape.size(); i-- > 0;) {
      if (++index[i] < shape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

std::vector<std::int64_t> c_strides(const std::vector<std::int64_t>& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

ForwardResult one(Array output) {
  ForwardResult result;
  result.outputs.push_back(std::move(output));
  return result;
}

// The input dim `dim` taken from `start` for the checked output's size there, the others whole;
// `drop` removes the dim (select).
ForwardResult along(const ForwardCall& call, std::int64_t start, bool drop) {
  const Array& input = *call.tensor("input");
  std::int64_t rank = static_cast<std::int64_t>(input.shape.size()), dim = call.argument("dim").get<std::int64_t>();
  std::size_t d = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
  std::vector<std::int64_t> strides = c_strides(input.shape);
  if (start < 0) start += input.shape[d];
  std::int64_t offset = start * strides[d];
  if (drop) strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(d));
  return one(strided(input, offset, call.output_shape, strides));
}

}  // namespace

ForwardResult forward_getitem(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::string error;
  std::optional<IndexExpression> index = parse_index(call.argument("index").get<std::string>(), error);
  if (call.symbols) resolve_symbols(*index, *call.symbols);
  Shape shape;
  for (std::int64_t size : input.shape) shape.push_back(DimExpr::constant(size));
  IndexPlan plan = plan_index(*index, shape);
  if (plan.failure ||
      std::any_of(plan.dims.begin(), plan.dims.end(), [](const IndexedDim& d) { return !d.size.is_constant() || !d.start.is_constant(); })) {
    throw std::logic_error("getitem: run of an index the check refused, or with a symbol the check left unbound");
  }
  std::vector<std::int64_t> input_strides = c_strides(input.shape), sizes, strides;
  std::int64_t offset = 0;
  for (const auto& [dim, at] : plan.selected) offset += at.offset * input_strides[static_cast<std::size_t>(dim)];
  for (const IndexedDim& dim : plan.dims) {
    sizes.push_back(dim.size.offset);
    if (dim.source < 0) {
      strides.push_back(0);
      continue;
    }
    offset += dim.start.constant * input_strides[static_cast<std::size_t>(dim.source)];
    strides.push_back(dim.step * input_strides[static_cast<std::size_t>(dim.source)]);
  }
  return one(strided(input, offset, sizes, strides));
}

ForwardResult forward_select(const ForwardCall& call) { return along(call, call.argument("index").get<std::int64_t>(), true); }

ForwardResult forward_narrow(const ForwardCall& call) { return along(call, call.argument("start").get<std::int64_t>(), false); }

ForwardResult forward_split(const ForwardCall& call) {
  const Array& input = *call.tensor("input");
  std::int64_t rank = static_cast<std::int64_t>(input.shape.size()), dim = call.argument("dim").get<std::int64_t>();
  std::size_t d = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
  std::vector<std::int64_t> strides = c_strides(input.shape), shape = input.shape;
  ForwardResult result;
  std::int64_t start = 0;
  // unbind: pieces of one position each, without the dim.
  const bool unbind = call.call->op == "unbind";
  for (std::int64_t piece : unbind ? std::vector<std::int64_t>(static_cast<std::size_t>(input.shape[d]), 1)
                                   : piece_sizes(call.call->op, call.call->arguments, input.shape[d])) {
    shape[d] = piece;
    result.outputs.push_back(strided(input, start * strides[d], shape, strides));
    if (unbind) result.outputs.back().shape.erase(result.outputs.back().shape.begin() + static_cast<std::ptrdiff_t>(d));
    start += piece;
  }
  return result;
}

}  // namespace mhacheck
