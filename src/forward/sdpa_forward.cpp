// F.scaled_dot_product_attention on the CPU: for every index of the broadcast batch dims, one
// (L, S) score matrix (OpenBLAS GEMM), the mask, a softmax in which fully masked rows attend
// to nothing (PyTorch 2.5's safe softmax), and the weighted sum of the values.
#include <algorithm>
#include <cmath>
#include <limits>

#include "forward/blas.hpp"

#include "forward/broadcast_index.hpp"
#include "forward/softmax.hpp"
#include "forward/forward_call.hpp"

namespace mhacheck {
namespace {

std::vector<std::int64_t> batch_dims(const std::vector<std::int64_t>& shape) {
  return std::vector<std::int64_t>(shape.begin(), shape.end() - 2);
}

template <typename T>
std::vector<T> as(const Array& array) {
  std::vector<double> values = array.to_double();
  return std::vector<T>(values.begin(), values.end());
}

template <typename T>
SdpaOutputs run(const SdpaInputs& inputs) {
  const Array &query = *inputs.query, &key = *inputs.key, &value = *inputs.value;
  std::int64_t L = query.shape[query.shape.size() - 2], E = query.shape.back();
  std::int64_t S = key.shape[key.shape.size() - 2], Ev = value.shape.back();
  std::vector<std::int64_t> q_batch = batch_dims(query.shape), k_batch = batch_dims(key.shape), v_batch = batch_dims(value.shape);
  // enable_gqa: key and value heads (the last batch dim) repeat to the query's.
  std::vector<std::int64_t> k_view = k_batch, v_view = v_batch;
  if (inputs.enable_gqa) k_view.back() = v_view.back() = q_batch.back();
  std::vector<std::int64_t> batch = broadcast_shape(broadcast_shape(q_batch, k_view), v_view);
  std::vector<std::int64_t> q_at = batch_offsets(q_batch, batch, L * E, 1);
  std::vector<std::int64_t> k_at = batch_offsets(k_batch, batch, S * E, inputs.enable_gqa ? k_view.back() / k_batch.back() : 1);
  std::vector<std::int64_t> v_at = batch_offsets(v_batch, batch, S * Ev, inputs.enable_gqa ? v_view.back() / v_batch.back() : 1);
  std::vector<T> q = as<T>(query), k = as<T>(key), v = as<T>(value);

  // The mask as values to add, broadcast over the batch like the operands.
  std::vector<T> mask;
  std::vector<std::int64_t> mask_at, mask_rows_shape;
  std::int64_t mask_rows = 0, mask_columns = 0;
  const T negative_infinity = -std::numeric_limits<T>::infinity();
  if (inputs.attn_mask != nullptr) {
    const Array& m = *inputs.attn_mask;
    std::vector<std::int64_t> m_shape = m.shape;
    while (m_shape.size() < 2) m_shape.insert(m_shape.begin(), 1);
    mask_rows = m_shape[m_shape.size() - 2];
    mask_columns = m_shape.back();
    std::vector<double> values = m.to_double();
    mask.resize(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      mask[i] = m.dtype == DType::Bool ? (values[i] != 0 ? T(0) : negative_infinity) : static_cast<T>(values[i]);
    }
    mask_at = batch_offsets(batch_dims(m_shape), batch, mask_rows * mask_columns, 1);
  }
  const T scale = inputs.scale ? static_cast<T>(*inputs.scale) : T(1) / std::sqrt(static_cast<T>(E));

  std::vector<std::int64_t> out_shape = batch;
  out_shape.push_back(L);
  out_shape.push_back(Ev);
  SdpaOutputs outputs;
  outputs.output = make_array(query.dtype, out_shape);
  T* out = outputs.output.template data<T>();
  T* captured = nullptr;
  if (inputs.capture_probabilities) {
    std::vector<std::int64_t> shape = batch;
    shape.push_back(L);
    shape.push_back(S);
    captured = outputs.probabilities.emplace(make_array(query.dtype, shape)).template data<T>();
  }
  std::vector<T> scores(static_cast<std::size_t>(L * S));
  for (std::size_t b = 0; b < q_at.size(); ++b) {
    if (L > 0 && S > 0 && E > 0) {
      blas::gemm(true, L, S, E, scale, &q[q_at[b]], E, &k[k_at[b]], E, scores.data(), S);
    } else {
      std::fill(scores.begin(), scores.end(), T(0));
    }
    for (std::int64_t l = 0; l < L; ++l) {
      T* row = &scores[l * S];
      if (inputs.is_causal) {
        for (std::int64_t s = l + 1; s < S; ++s) row[s] = negative_infinity;
      }
      if (!mask.empty()) {
        const T* mask_row = &mask[mask_at[b] + (mask_rows == 1 ? 0 : l) * mask_columns];
        for (std::int64_t s = 0; s < S; ++s) row[s] += mask_row[mask_columns == 1 ? 0 : s];
      }
      if (!softmax_row(row, S)) {
        std::fill(row, row + S, T(0));
        if (S > 0) outputs.fully_masked_rows.push_back({static_cast<std::int64_t>(b), 0, l});
      }
    }
    if (captured != nullptr) std::copy(scores.begin(), scores.end(), captured + static_cast<std::int64_t>(b) * L * S);
    T* target = out + static_cast<std::int64_t>(b) * L * Ev;
    if (L > 0 && Ev > 0 && S > 0) {
      blas::gemm(false, L, Ev, S, T(1), scores.data(), S, &v[v_at[b]], Ev, target, Ev);
    } else {
      std::fill(target, target + L * Ev, T(0));
    }
  }
  return outputs;
}

}  // namespace

SdpaOutputs sdpa_forward(const SdpaInputs& inputs) {
  if (inputs.query->dtype == DType::Float64) return run<double>(inputs);
  return run<float>(inputs);
}

ForwardResult forward_scaled_dot_product_attention(const ForwardCall& call) {
  SdpaInputs inputs;
  read_attention_inputs(call, inputs);
  if (!call.argument("scale").is_null()) inputs.scale = call.argument("scale").get<double>();
  inputs.enable_gqa = call.call->flag("enable_gqa");
  inputs.capture_probabilities = call.capture_attention.has_value();
  // The kernel holds one (L, S) score matrix at a time (run bounds the output): a long sequence's
  // is refused before it is allocated.
  const std::vector<std::int64_t>& query = inputs.query->shape;
  const std::vector<std::int64_t>& key = inputs.key->shape;
  bounded_elements("the attention's (L, S) score matrix", {query[query.size() - 2], key[key.size() - 2]}, call.max_elements);
  if (inputs.capture_probabilities) {  // --plot keeps every (L, S) matrix: the output's batch dims, L, then S
    std::vector<std::int64_t> probabilities = call.output_shape;
    probabilities.back() = key[key.size() - 2];
    bounded_elements("the plotted attention probabilities", probabilities, call.max_elements);
  }
  SdpaOutputs outputs = sdpa_forward(inputs);
  ForwardResult result;
  if (outputs.probabilities) {
    // (..., H, L, S) read as (N, H, L, S): the dims before the heads are the batch; a 3-D
    // query's first dim is the batch, with one head.
    Array& probabilities = *outputs.probabilities;
    std::vector<std::int64_t> shape = probabilities.shape;
    std::int64_t L = shape[shape.size() - 2], S = shape.back();
    std::size_t matrix_dims = shape.size() >= 4 ? 3 : 2;  // (H, L, S) or (L, S)
    std::int64_t heads = matrix_dims == 3 ? shape[shape.size() - 3] : 1, batch = 1;
    for (std::size_t i = 0; i + matrix_dims < shape.size(); ++i) batch *= shape[i];
    probabilities.shape = {batch, heads, L, S};
    result.attention = CapturedAttention{"", std::move(probabilities), shape.size() > 2};
  }
  result.outputs.push_back(std::move(outputs.output));
  result.fully_masked_rows = std::move(outputs.fully_masked_rows);
  return result;
}

}  // namespace mhacheck
