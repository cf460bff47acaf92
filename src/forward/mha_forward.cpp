// nn.MultiheadAttention.forward on the CPU, following F.multi_head_attention_forward of
// PyTorch 2.x in eval mode: in-projection (packed or separate weights), bias_k/bias_v and
// add_zero_attn key positions, masks merged additively (bool True -> -inf), scaled dot-product
// softmax per batch entry and head, out-projection. GEMMs go through OpenBLAS; the softmax is
// fused with scaling and masking and runs on blocks of query rows whose scores stay in the
// cache, so with need_weights=False no more than one such block per worker thread exists.
#include "forward/forward_call.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

#include "forward/array_values.hpp"
#include "forward/blas.hpp"
#include "forward/softmax.hpp"

namespace mhacheck {
namespace {

// A mask as values to add to the scores: bool True -> -inf, float values as they are.
template <typename T>
std::vector<T> additive(const Array& mask) {
  if (mask.dtype != DType::Bool) return values_as<T>(mask);
  std::vector<T> values(static_cast<std::size_t>(mask.size()));
  const bool* flags = mask.data<bool>();
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = flags[i] ? -std::numeric_limits<T>::infinity() : T(0);
  return values;
}

// Where token (position i, batch n) of a (len, N, E), (N, len, E) or (len, E) input lives.
struct Layout {
  bool batched;
  bool batch_first;
  std::int64_t batch;
  std::int64_t row(std::int64_t i, std::int64_t n, std::int64_t len) const {
    if (!batched) return i;
    return batch_first ? n * len + i : i * batch + n;
  }
};

template <typename T>
class Forward {
 public:
  Forward(const MhaOptions& options, const StateDict& parameters, const MhaInputs& inputs, int threads)
      : options_(options), parameters_(parameters), inputs_(inputs), threads_(std::max(1, threads)) {}

  MhaOutputs run() {
    const Array& query = *inputs_.query;
    const Array& key = *inputs_.key;
    layout_ = {query.shape.size() == 3, options_.batch_first && query.shape.size() == 3, 1};
    int seq = layout_.batch_first ? 1 : 0;
    L_ = query.shape[seq];
    S_ = key.shape[seq];
    layout_.batch = N_ = layout_.batched ? query.shape[1 - seq] : 1;
    E_ = options_.embed_dim;
    H_ = options_.num_heads;
    head_dim_ = E_ / H_;
    extra_ = (options_.add_bias_kv ? 1 : 0) + (options_.add_zero_attn ? 1 : 0);
    S_total_ = S_ + extra_;

    blas::set_threads(threads_);
    project_inputs();
    prepare_masks();
    attend();
    return finish();
  }

 private:
  const Array& parameter(const std::string& name) const {
    auto it = parameters_.find(name);
    if (it == parameters_.end()) throw std::logic_error("missing parameter " + name);
    return it->second;
  }
  bool has_parameter(const std::string& name) const { return parameters_.count(name) > 0; }

  // The array's elements as T: its own buffer when it already holds T, else converted into
  // `storage`.
  static const T* typed(const Array& array, std::vector<T>& storage) {
    if (array.dtype == dtype_of<T>()) return array.template data<T>();
    storage = values_as<T>(array);
    return storage.data();
  }

  // Rows between one token of a batch entry and the next, in a (len, N, E), (N, len, E) or
  // (len, E) input or output.
  std::int64_t token_stride() const { return layout_.batched && !layout_.batch_first ? N_ : 1; }

  // Where batch entry n's tokens lie in a buffer: token i at base + n * batch + i * token.
  struct Strides {
    std::int64_t batch, token;
  };
  // ... in an input or output of `len` tokens of `width` values, in its own (len, N, E),
  // (N, len, E) or (len, E) layout.
  Strides own_layout(std::int64_t len, std::int64_t width) const {
    return {layout_.row(0, 1, len) * width, token_stride() * width};
  }

  // For each batch entry n: Y_n (len x E) = X_n (len x in) W^T + b.
  void linear(const T* x, Strides x_at, std::int64_t len, std::int64_t in, const T* weight, const T* bias, T* y,
              Strides y_at) const {
    for (std::int64_t n = 0; n < N_; ++n) {
      T* target = y + n * y_at.batch;
      if (len > 0 && E_ > 0 && in > 0) {
        blas::gemm(true, static_cast<int>(len), static_cast<int>(E_), static_cast<int>(in), T(1), x + n * x_at.batch,
                   static_cast<int>(x_at.token), weight, static_cast<int>(in), target, static_cast<int>(y_at.token));
      }
      if (bias == nullptr) continue;
      for (std::int64_t i = 0; i < len; ++i) {
        for (std::int64_t e = 0; e < E_; ++e) target[i * y_at.token + e] += bias[e];
      }
    }
  }

  // Projects an input straight into the batch-major (N, len_total, E) layout the heads read,
  // leaving (zero) room for the key positions that bias_k/bias_v and add_zero_attn append.
  std::vector<T> project(const Array& input, std::int64_t len, std::int64_t len_total, const T* weight, const T* bias) const {
    std::vector<T> storage;
    const T* x = typed(input, storage);
    std::vector<T> batch_major(static_cast<std::size_t>(N_ * len_total * E_), T(0));
    const std::int64_t in = input.shape.back();
    linear(x, own_layout(len, in), len, in, weight, bias, batch_major.data(), {len_total * E_, E_});
    return batch_major;
  }

  void project_inputs() {
    std::vector<T> bias_storage, weight_storage[3];
    const T* b = options_.bias ? typed(parameter("in_proj_bias"), bias_storage) : nullptr;
    const T* w_q;
    const T* w_k;
    const T* w_v;
    if (has_parameter("in_proj_weight")) {
      w_q = typed(parameter("in_proj_weight"), weight_storage[0]);
      w_k = w_q + E_ * E_;
      w_v = w_k + E_ * E_;
    } else {
      w_q = typed(parameter("q_proj_weight"), weight_storage[0]);
      w_k = typed(parameter("k_proj_weight"), weight_storage[1]);
      w_v = typed(parameter("v_proj_weight"), weight_storage[2]);
    }
    q_ = project(*inputs_.query, L_, L_, w_q, b);
    k_ = project(*inputs_.key, S_, S_total_, w_k, b ? b + E_ : nullptr);
    v_ = project(*inputs_.value, S_, S_total_, w_v, b ? b + 2 * E_ : nullptr);
    if (options_.add_bias_kv) {
      std::vector<T> bias_k = values_as<T>(parameter("bias_k"));
      std::vector<T> bias_v = values_as<T>(parameter("bias_v"));
      for (std::int64_t n = 0; n < N_; ++n) {
        std::copy(bias_k.begin(), bias_k.end(), &k_[(n * S_total_ + S_) * E_]);
        std::copy(bias_v.begin(), bias_v.end(), &v_[(n * S_total_ + S_) * E_]);
      }
    }
    // add_zero_attn's position is already zero.
  }

  void prepare_masks() {
    // With is_causal, need_weights=False and no key_padding_mask, PyTorch 2.x replaces attn_mask
    // by SDPA's causal mask, top-left aligned over all S' key positions.
    causal_ = inputs_.is_causal && inputs_.key_padding_mask == nullptr && !inputs_.need_weights;
    if (!causal_ && inputs_.attn_mask != nullptr) {
      attn_mask_ = additive<T>(*inputs_.attn_mask);
      attn_mask_per_head_ = inputs_.attn_mask->shape.size() == 3;
    }
    if (inputs_.key_padding_mask != nullptr) padding_mask_ = additive<T>(*inputs_.key_padding_mask);
  }

  // Adds the masks to one row of scores: key positions below S get attn_mask's and
  // key_padding_mask's values; the positions bias_k/add_zero_attn append are never masked.
  void add_masks(T* row, std::int64_t n, std::int64_t h, std::int64_t l) const {
    if (causal_) {
      for (std::int64_t s = l + 1; s < S_total_; ++s) row[s] = -std::numeric_limits<T>::infinity();
      return;
    }
    if (!attn_mask_.empty()) {
      std::int64_t matrix = attn_mask_per_head_ ? (layout_.batched ? n * H_ + h : h) : 0;
      const T* mask = &attn_mask_[(matrix * L_ + l) * S_];
      for (std::int64_t s = 0; s < S_; ++s) row[s] += mask[s];
    }
    if (!padding_mask_.empty()) {
      const T* mask = &padding_mask_[n * S_];
      for (std::int64_t s = 0; s < S_; ++s) row[s] += mask[s];
    }
  }

  // Query rows per block: a block's (rows, S') scores, about 256 KiB, stay in the L2 cache from
  // the Q K^T GEMM through the softmax to the P V GEMM (a whole (L, S') plane at L = S = 1024 is
  // 4 MiB and went to memory and back between the three steps).
  std::int64_t block_rows() const {
    constexpr std::int64_t kBlockElements = 256 * 1024;
    return std::clamp<std::int64_t>(kBlockElements / std::max<std::int64_t>(1, S_total_), 16, std::max<std::int64_t>(1, L_));
  }

  // Scores, softmax and the weighted sum for one (batch entry, head), block_rows() query rows at
  // a time. Each block is computed in `scratch` (block_rows() x S'), or, when `per_head_weights`
  // is given, in its rows of that (L, S') output; `weight_sum`, when given, is the (L, S') sum
  // over heads the block's probabilities are added to.
  void attend_head(std::int64_t n, std::int64_t h, T* scratch, T* per_head_weights, T* weight_sum,
                   std::vector<FullyMaskedRow>& masked) {
    const T scale = T(1) / std::sqrt(static_cast<T>(head_dim_));
    const int lda = static_cast<int>(E_);
    const std::int64_t step = block_rows();
    for (std::int64_t first = 0; first < L_; first += step) {
      const std::int64_t rows = std::min(step, L_ - first);
      const T* q = &q_[(n * L_ + first) * E_ + h * head_dim_];
      const T* k = &k_[(n * S_total_) * E_ + h * head_dim_];
      const T* v = &v_[(n * S_total_) * E_ + h * head_dim_];
      T* probabilities = per_head_weights != nullptr ? per_head_weights + first * S_total_ : scratch;
      if (S_total_ > 0 && head_dim_ > 0) {
        blas::gemm(true, static_cast<int>(rows), static_cast<int>(S_total_), static_cast<int>(head_dim_), scale, q, lda, k,
                   lda, probabilities, static_cast<int>(S_total_));
      } else {
        std::fill(probabilities, probabilities + rows * S_total_, T(0));
      }
      for (std::int64_t r = 0; r < rows; ++r) {
        T* row = &probabilities[r * S_total_];
        add_masks(row, n, h, first + r);
        if (!softmax_row(row, S_total_)) {
          // need_weights=True: softmax over nothing but -inf is NaN, as in PyTorch. need_weights=False
          // goes through scaled_dot_product_attention, whose safe softmax (PyTorch 2.5+) gives such a
          // row no attention at all.
          T fill = inputs_.need_weights ? std::numeric_limits<T>::quiet_NaN() : T(0);
          std::fill(row, row + S_total_, fill);
          masked.push_back({n, h, first + r});
        }
      }
      T* out = &context_[(n * L_ + first) * E_ + h * head_dim_];
      if (head_dim_ > 0 && S_total_ > 0) {
        blas::gemm(false, static_cast<int>(rows), static_cast<int>(head_dim_), static_cast<int>(S_total_), T(1),
                   probabilities, static_cast<int>(S_total_), v, lda, out, lda);
      }
      if (weight_sum != nullptr) {
        T* target = weight_sum + first * S_total_;
        for (std::int64_t i = 0; i < rows * S_total_; ++i) target[i] += probabilities[i];
      }
    }
  }

  // The (batch entry, head) pairs are split among worker threads. Per-head weights (the output's,
  // or those `run --plot` captures) are computed in place in one (N, H, L, S') array; averaged
  // weights are summed per worker, so without a capture no (N, H, L, S') array ever exists;
  // without weights each worker needs one (L, S') matrix.
  void attend() {
    context_.assign(static_cast<std::size_t>(N_ * L_ * E_), T(0));
    const std::int64_t plane = L_ * S_total_;
    const bool per_head = (inputs_.need_weights && !inputs_.average_attn_weights) || inputs_.capture_probabilities;
    const bool averaged = inputs_.need_weights && inputs_.average_attn_weights;
    const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
    if (per_head) {  // H times the averaged weights run bounded as an output: refused before it is allocated
      bounded_elements("the per-head attention probabilities", {N_, H_, L_, S_total_}, inputs_.max_elements);
      per_head_ = make_array(dtype, {N_, H_, L_, S_total_});
    }
    if (averaged) weights_ = make_array(dtype, layout_.batched ? std::vector<std::int64_t>{N_, L_, S_total_} : std::vector<std::int64_t>{L_, S_total_});
    std::int64_t pairs = N_ * H_;
    int workers = static_cast<int>(std::min<std::int64_t>(threads_, std::max<std::int64_t>(1, pairs)));
    std::vector<std::vector<FullyMaskedRow>> masked(static_cast<std::size_t>(workers));
    // Averaged weights with at least as many batch entries as workers: each worker takes whole
    // batch entries and sums their heads straight into the output's (L, S') planes. Otherwise
    // each worker sums into its own (N, L, S') partial sums, added up at the end.
    const bool by_batch = averaged && N_ >= workers;
    std::vector<std::vector<T>> sums(averaged && !by_batch ? static_cast<std::size_t>(workers) : 0);
    auto work = [&](int worker) {
      std::vector<T> scratch(per_head ? 0 : static_cast<std::size_t>(std::min(L_, block_rows()) * S_total_));
      std::vector<T>* sum = sums.empty() ? nullptr : &sums[static_cast<std::size_t>(worker)];
      if (sum != nullptr) sum->assign(static_cast<std::size_t>(N_ * plane), T(0));
      auto attend_pair = [&](std::int64_t n, std::int64_t h) {
        T* per_head_weights = per_head ? per_head_.template data<T>() + (n * H_ + h) * plane : nullptr;
        T* weight_sum = by_batch ? weights_.template data<T>() + n * plane
                        : sum != nullptr ? &(*sum)[static_cast<std::size_t>(n * plane)]
                                         : nullptr;
        attend_head(n, h, scratch.data(), per_head_weights, weight_sum, masked[static_cast<std::size_t>(worker)]);
      };
      if (by_batch) {
        for (std::int64_t n = worker; n < N_; n += workers) {
          for (std::int64_t h = 0; h < H_; ++h) attend_pair(n, h);
        }
      } else {
        for (std::int64_t pair = worker; pair < pairs; pair += workers) attend_pair(pair / H_, pair % H_);
      }
    };
    if (workers == 1) {
      work(0);
    } else {
      blas::set_threads(1);  // the heads are the parallel loop now
      std::vector<std::thread> pool;
      for (int worker = 0; worker < workers; ++worker) pool.emplace_back(work, worker);
      for (std::thread& thread : pool) thread.join();
      blas::set_threads(threads_);
    }
    // 2.x averages with mean(dim=1): the sum over heads, divided by num_heads.
    if (by_batch) {
      T* average = weights_.template data<T>();
      for (std::int64_t i = 0; i < N_ * plane; ++i) average[i] /= static_cast<T>(H_);
    } else if (averaged) {
      T* average = weights_.template data<T>();
      for (std::size_t i = 0; i < sums[0].size(); ++i) {
        T sum = 0;
        for (const std::vector<T>& partial : sums) sum += partial[i];
        average[i] = sum / static_cast<T>(H_);
      }
    }
    for (auto& rows : masked) fully_masked_.insert(fully_masked_.end(), rows.begin(), rows.end());
    std::sort(fully_masked_.begin(), fully_masked_.end(), [](const FullyMaskedRow& a, const FullyMaskedRow& b) {
      return std::tie(a.batch, a.head, a.row) < std::tie(b.batch, b.head, b.row);
    });
  }

  MhaOutputs finish() {
    std::vector<T> weight_storage, bias_storage;
    const T* out_weight = typed(parameter("out_proj.weight"), weight_storage);
    const T* out_bias = has_parameter("out_proj.bias") ? typed(parameter("out_proj.bias"), bias_storage) : nullptr;

    MhaOutputs outputs;
    DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
    std::vector<std::int64_t> output_shape = !layout_.batched       ? std::vector<std::int64_t>{L_, E_}
                                             : layout_.batch_first ? std::vector<std::int64_t>{N_, L_, E_}
                                                                   : std::vector<std::int64_t>{L_, N_, E_};
    outputs.attn_output = make_array(dtype, output_shape);
    // The out-projection reads the batch-major context and writes the output's own layout.
    linear(context_.data(), {L_ * E_, E_}, L_, E_, out_weight, out_bias, outputs.attn_output.template data<T>(), own_layout(L_, E_));
    if (inputs_.need_weights && inputs_.average_attn_weights) {
      outputs.attn_output_weights = std::move(weights_);
    } else if (inputs_.need_weights) {
      outputs.attn_output_weights = inputs_.capture_probabilities ? per_head_ : std::move(per_head_);
      if (!layout_.batched) outputs.attn_output_weights->shape.erase(outputs.attn_output_weights->shape.begin());
    }
    if (inputs_.capture_probabilities) outputs.probabilities = std::move(per_head_);
    outputs.fully_masked_rows = std::move(fully_masked_);
    return outputs;
  }

  const MhaOptions& options_;
  const StateDict& parameters_;
  const MhaInputs& inputs_;
  int threads_;
  Layout layout_{};
  std::int64_t L_ = 0, S_ = 0, N_ = 0, E_ = 0, H_ = 0, head_dim_ = 0, extra_ = 0, S_total_ = 0;
  std::vector<T> q_, k_, v_;              // projected, (N, L|S', E)
  std::vector<T> attn_mask_, padding_mask_;
  bool attn_mask_per_head_ = false;
  bool causal_ = false;
  std::vector<T> context_;                // attention output before out_proj, (N, L, E)
  Array weights_;                         // the averaged attn_output_weights output
  Array per_head_;                        // (N, H, L, S'): the per-head output, or captured
  std::vector<FullyMaskedRow> fully_masked_;
};

}  // namespace

MhaOutputs mha_forward(const MhaOptions& options, const StateDict& parameters, const MhaInputs& inputs, int threads) {
  if (inputs.query->dtype == DType::Float64) return Forward<double>(options, parameters, inputs, threads).run();
  if (inputs.query->dtype == DType::Float32) return Forward<float>(options, parameters, inputs, threads).run();
  throw std::invalid_argument("the forward pass computes in float32 or float64, not " + dtype_name(inputs.query->dtype));
}

AttnMaskLayout attn_mask_layout_multihead_attention(const ForwardCall& call) {
  const Array* query = call.tensor("query");
  return {query->shape.size() == 3 ? query->shape[call.module->mha.batch_first ? 0 : 1] : 1, call.module->mha.num_heads};
}

ForwardResult forward_multihead_attention(const ForwardCall& call) {
  MhaInputs inputs;
  read_attention_inputs(call, inputs);
  inputs.key_padding_mask = call.tensor("key_padding_mask");
  inputs.need_weights = call.call->flag("need_weights");
  inputs.average_attn_weights = call.call->flag("average_attn_weights");
  inputs.capture_probabilities = call.capture_attention.has_value();
  inputs.max_elements = call.max_elements;
  MhaOutputs outputs = mha_forward(call.module->mha, *call.parameters, inputs, call.threads);
  ForwardResult result;
  if (outputs.probabilities) result.attention = CapturedAttention{"", std::move(*outputs.probabilities), inputs.query->shape.size() == 3};
  result.outputs.push_back(std::move(outputs.attn_output));
  if (outputs.attn_output_weights) result.outputs.push_back(std::move(*outputs.attn_output_weights));
  result.fully_masked_rows = std::move(outputs.fully_masked_rows);
  return result;
}

}  // namespace mhacheck
