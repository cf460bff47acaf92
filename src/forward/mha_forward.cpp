// nn.MultiheadAttention.forward on the CPU, following F.multi_head_attention_forward of
// PyTorch 2.x in eval mode: in-projection (packed or separate weights), bias_k/bias_v and
// add_zero_attn key positions, masks merged additively (bool True -> -inf), scaled dot-product
// softmax per batch entry and head, out-projection. GEMMs go through OpenBLAS; the softmax is
// fused with scaling and masking and runs on blocks of query rows whose scores stay in the
// cache, so with need_weights=False no more than one such block per worker thread exists.
#include "forward/forward_call.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <system_error>
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

    read_operands();
    prepare_masks();
    make_outputs();
    // Whole batch entries per worker when they share out evenly enough: each worker projects,
    // attends and out-projects its own entries with single-threaded GEMMs on buffers that stay in
    // its cache, and the workers never wait for each other. Otherwise (fewer entries than threads,
    // or an uneven split) the (batch entry, head) pairs are shared out between the projections,
    // which OpenBLAS's threads compute.
    if (threads_ == 1 || N_ % threads_ == 0 || N_ >= 4 * threads_) {
      attend_by_batch_entry();
    } else {
      attend_by_head();
    }
    for (auto& rows : masked_) fully_masked_.insert(fully_masked_.end(), rows.begin(), rows.end());
    std::sort(fully_masked_.begin(), fully_masked_.end(), [](const FullyMaskedRow& a, const FullyMaskedRow& b) {
      return std::tie(a.batch, a.head, a.row) < std::tie(b.batch, b.head, b.row);
    });
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

  // Y (len x E) = X (len x in) W^T + b, X's rows x_token apart and Y's y_token apart.
  void linear(const T* x, std::int64_t x_token, std::int64_t len, std::int64_t in, const T* weight, const T* bias, T* y,
              std::int64_t y_token) const {
    if (len > 0 && E_ > 0 && in > 0) {
      blas::gemm(true, static_cast<int>(len), static_cast<int>(E_), static_cast<int>(in), T(1), x, static_cast<int>(x_token),
                 weight, static_cast<int>(in), y, static_cast<int>(y_token));
    } else {
      for (std::int64_t i = 0; i < len; ++i) std::fill(y + i * y_token, y + i * y_token + E_, T(0));
    }
    if (bias == nullptr) return;
    for (std::int64_t i = 0; i < len; ++i) {
      for (std::int64_t e = 0; e < E_; ++e) y[i * y_token + e] += bias[e];
    }
  }

  // The inputs and parameters as T, read once for every batch entry.
  void read_operands() {
    query_ = typed(*inputs_.query, query_storage_);
    key_ = typed(*inputs_.key, key_storage_);
    value_ = typed(*inputs_.value, value_storage_);
    in_bias_ = options_.bias ? typed(parameter("in_proj_bias"), in_bias_storage_) : nullptr;
    if (has_parameter("in_proj_weight")) {
      w_q_ = typed(parameter("in_proj_weight"), weight_storage_[0]);
      w_k_ = w_q_ + E_ * E_;
      w_v_ = w_k_ + E_ * E_;
    } else {
      w_q_ = typed(parameter("q_proj_weight"), weight_storage_[0]);
      w_k_ = typed(parameter("k_proj_weight"), weight_storage_[1]);
      w_v_ = typed(parameter("v_proj_weight"), weight_storage_[2]);
    }
    if (options_.add_bias_kv) {
      bias_k_ = values_as<T>(parameter("bias_k"));
      bias_v_ = values_as<T>(parameter("bias_v"));
    }
    w_out_ = typed(parameter("out_proj.weight"), out_weight_storage_);
    out_bias_ = has_parameter("out_proj.bias") ? typed(parameter("out_proj.bias"), out_bias_storage_) : nullptr;
  }

  // Projects batch entry n's query into q (L, E) and its key and value into k and v (S', E),
  // with bias_k/bias_v in the row after the S keys and add_zero_attn's zeros in the last row.
  void project_entry(std::int64_t n, T* q, T* k, T* v) const {
    const std::int64_t in_q = inputs_.query->shape.back(), in_k = inputs_.key->shape.back(), in_v = inputs_.value->shape.back();
    const Strides q_at = own_layout(L_, in_q), k_at = own_layout(S_, in_k), v_at = own_layout(S_, in_v);
    linear(query_ + n * q_at.batch, q_at.token, L_, in_q, w_q_, in_bias_, q, E_);
    linear(key_ + n * k_at.batch, k_at.token, S_, in_k, w_k_, in_bias_ ? in_bias_ + E_ : nullptr, k, E_);
    linear(value_ + n * v_at.batch, v_at.token, S_, in_v, w_v_, in_bias_ ? in_bias_ + 2 * E_ : nullptr, v, E_);
    if (options_.add_bias_kv) {
      std::copy(bias_k_.begin(), bias_k_.end(), k + S_ * E_);
      std::copy(bias_v_.begin(), bias_v_.end(), v + S_ * E_);
    }
    if (options_.add_zero_attn) {
      std::fill(k + (S_total_ - 1) * E_, k + S_total_ * E_, T(0));
      std::fill(v + (S_total_ - 1) * E_, v + S_total_ * E_, T(0));
    }
  }

  // Batch entry n's context (L, E) through out_proj, into its rows of the output.
  void out_project_entry(std::int64_t n, const T* context) {
    const Strides out_at = own_layout(L_, E_);
    linear(context, E_, L_, E_, w_out_, out_bias_, output_.template data<T>() + n * out_at.batch, out_at.token);
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

  // Where attend_head puts a head's probabilities in an (L, S') sum over heads: nowhere when
  // `sum` is null; the first head of the sum assigns instead of adding to zeros, and its last
  // divides the total by H (2.x averages with mean(dim=1)), each row while it is in the cache.
  struct HeadSum {
    T* sum = nullptr;
    bool first = false, last = false;
  };
  void add_to_head_sum(const HeadSum& into, std::int64_t l, const T* row) const {
    T* target = into.sum + l * S_total_;
    const T heads = static_cast<T>(H_);
    if (into.first && into.last) {
      for (std::int64_t s = 0; s < S_total_; ++s) target[s] = row[s] / heads;
    } else if (into.first) {
      std::copy(row, row + S_total_, target);
    } else if (into.last) {
      for (std::int64_t s = 0; s < S_total_; ++s) target[s] = (target[s] + row[s]) / heads;
    } else {
      for (std::int64_t s = 0; s < S_total_; ++s) target[s] += row[s];
    }
  }

  // Scores, softmax and the weighted sum for one (batch entry, head), block_rows() query rows at
  // a time, reading the entry's projected q (L, E), k and v (S', E) and writing the head's
  // columns of its context (L, E). Each block is computed in `scratch` (block_rows() x S'), or,
  // when `per_head_weights` is given, in its rows of that (L, S') output; each row of
  // probabilities goes into `head_sum` straight after its softmax.
  void attend_head(std::int64_t n, std::int64_t h, const T* q_entry, const T* k_entry, const T* v_entry, T* context_entry,
                   T* scratch, T* per_head_weights, const HeadSum& head_sum, std::vector<FullyMaskedRow>& masked) const {
    const T scale = T(1) / std::sqrt(static_cast<T>(head_dim_));
    const int lda = static_cast<int>(E_);
    const std::int64_t step = block_rows();
    const T* k = k_entry + h * head_dim_;
    const T* v = v_entry + h * head_dim_;
    for (std::int64_t first = 0; first < L_; first += step) {
      const std::int64_t rows = std::min(step, L_ - first);
      const T* q = q_entry + first * E_ + h * head_dim_;
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
        if (head_sum.sum != nullptr) add_to_head_sum(head_sum, first + r, row);
      }
      T* out = context_entry + first * E_ + h * head_dim_;
      if (head_dim_ > 0 && S_total_ > 0) {
        blas::gemm(false, static_cast<int>(rows), static_cast<int>(head_dim_), static_cast<int>(S_total_), T(1),
                   probabilities, static_cast<int>(S_total_), v, lda, out, lda);
      } else {
        for (std::int64_t r = 0; r < rows; ++r) std::fill(out + r * E_, out + r * E_ + head_dim_, T(0));
      }
    }
  }

  bool per_head() const { return (inputs_.need_weights && !inputs_.average_attn_weights) || inputs_.capture_probabilities; }
  bool averaged() const { return inputs_.need_weights && inputs_.average_attn_weights; }
  T* per_head_weights(std::int64_t n, std::int64_t h) {
    return per_head() ? per_head_.template data<T>() + (n * H_ + h) * L_ * S_total_ : nullptr;
  }
  // The block of scores attend_head computes in when it does not write per-head weights.
  std::int64_t scratch_elements() const { return per_head() ? 0 : std::min(L_, block_rows()) * S_total_; }
  static std::unique_ptr<T[]> uninitialised(std::int64_t elements) {
    return std::make_unique_for_overwrite<T[]>(static_cast<std::size_t>(elements));
  }

  // The output, and the weights: per-head weights (the output's, or those `run --plot` captures)
  // are computed in place in one (N, H, L, S') array; averaged weights are summed over heads
  // without one.
  void make_outputs() {
    const DType dtype = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
    output_ = make_array(dtype, !layout_.batched       ? std::vector<std::int64_t>{L_, E_}
                                : layout_.batch_first ? std::vector<std::int64_t>{N_, L_, E_}
                                                      : std::vector<std::int64_t>{L_, N_, E_});
    if (per_head()) {  // H times the averaged weights run bounded as an output: refused before it is allocated
      bounded_elements("the per-head attention probabilities", {N_, H_, L_, S_total_}, inputs_.max_elements);
      per_head_ = make_array(dtype, {N_, H_, L_, S_total_});
    }
    if (averaged()) weights_ = make_array(dtype, layout_.batched ? std::vector<std::int64_t>{N_, L_, S_total_} : std::vector<std::int64_t>{L_, S_total_});
  }

  // Runs work(worker) on `workers` threads, OpenBLAS single-threaded meanwhile so that its own
  // threads do not compete with them for the cores. An exception escaping a thread would
  // terminate the process: each worker's is kept and the first rethrown after every thread is
  // joined (a std::bad_alloc then becomes run's "out of memory" error). A thread that cannot be
  // created (no address space for its stack, a process limit) leaves its share, and the later
  // workers', to this thread.
  template <typename Work>
  void in_workers(int workers, Work work) {
    masked_.resize(static_cast<std::size_t>(workers));
    if (workers == 1) {
      blas::set_threads(threads_);
      work(0);
      return;
    }
    blas::set_threads(1);
    std::vector<std::exception_ptr> failures(static_cast<std::size_t>(workers));
    auto guarded = [&](int worker) {
      try {
        work(worker);
      } catch (...) {
        failures[static_cast<std::size_t>(worker)] = std::current_exception();
      }
    };
    std::vector<std::thread> pool;
    int worker = 0;
    try {
      pool.reserve(static_cast<std::size_t>(workers));
      for (; worker < workers; ++worker) pool.emplace_back(guarded, worker);
    } catch (const std::system_error&) {
    } catch (const std::bad_alloc&) {
    }
    for (; worker < workers; ++worker) guarded(worker);
    for (std::thread& thread : pool) thread.join();
    blas::set_threads(threads_);
    for (const std::exception_ptr& failure : failures) {
      if (failure) std::rethrow_exception(failure);
    }
  }

  // Each worker takes whole batch entries, in its own (L, E) and (S', E) buffers, and sums the
  // heads' averaged weights straight into the output's (L, S') plane of the entry.
  void attend_by_batch_entry() {
    const int workers = static_cast<int>(std::min<std::int64_t>(threads_, N_));
    in_workers(workers, [&](int worker) {
      // Not zero-filled: every element is written before it is read.
      auto q = uninitialised(L_ * E_), k = uninitialised(S_total_ * E_), v = uninitialised(S_total_ * E_),
           context = uninitialised(L_ * E_), block = uninitialised(scratch_elements());
      for (std::int64_t n = worker; n < N_; n += workers) {
        project_entry(n, q.get(), k.get(), v.get());
        T* average = averaged() ? weights_.template data<T>() + n * L_ * S_total_ : nullptr;
        for (std::int64_t h = 0; h < H_; ++h) {
          attend_head(n, h, q.get(), k.get(), v.get(), context.get(), block.get(), per_head_weights(n, h),
                      HeadSum{average, h == 0, h == H_ - 1}, masked_[static_cast<std::size_t>(worker)]);
        }
        out_project_entry(n, context.get());
      }
    });
  }

  // Projections with OpenBLAS's threads into (N, L|S', E) buffers, then the (batch entry, head)
  // pairs shared out between workers, each summing averaged weights into its own (N, L, S'),
  // added up at the end.
  void attend_by_head() {
    auto q = uninitialised(N_ * L_ * E_), k = uninitialised(N_ * S_total_ * E_), v = uninitialised(N_ * S_total_ * E_),
         context = uninitialised(N_ * L_ * E_);
    blas::set_threads(threads_);
    for (std::int64_t n = 0; n < N_; ++n) project_entry(n, &q[n * L_ * E_], &k[n * S_total_ * E_], &v[n * S_total_ * E_]);
    const std::int64_t pairs = N_ * H_;
    const std::int64_t plane = L_ * S_total_;
    const int workers = static_cast<int>(std::min<std::int64_t>(threads_, std::max<std::int64_t>(1, pairs)));
    std::vector<std::vector<T>> sums(averaged() ? static_cast<std::size_t>(workers) : 0);
    in_workers(workers, [&](int worker) {
      auto block = uninitialised(scratch_elements());
      std::vector<T>* sum = sums.empty() ? nullptr : &sums[static_cast<std::size_t>(worker)];
      if (sum != nullptr) sum->assign(static_cast<std::size_t>(N_ * plane), T(0));
      for (std::int64_t pair = worker; pair < pairs; pair += workers) {
        const std::int64_t n = pair / H_, h = pair % H_;
        attend_head(n, h, &q[n * L_ * E_], &k[n * S_total_ * E_], &v[n * S_total_ * E_], &context[n * L_ * E_], block.get(),
                    per_head_weights(n, h), HeadSum{sum != nullptr ? &(*sum)[static_cast<std::size_t>(n * plane)] : nullptr},
                    masked_[static_cast<std::size_t>(worker)]);
      }
    });
    if (averaged()) {  // 2.x averages with mean(dim=1): the sum over heads, divided by num_heads.
      T* average = weights_.template data<T>();
      for (std::size_t i = 0; i < sums[0].size(); ++i) {
        T sum = 0;
        for (const std::vector<T>& partial : sums) sum += partial[i];
        average[i] = sum / static_cast<T>(H_);
      }
    }
    for (std::int64_t n = 0; n < N_; ++n) out_project_entry(n, &context[n * L_ * E_]);
  }

  MhaOutputs finish() {
    MhaOutputs outputs;
    outputs.attn_output = std::move(output_);
    if (averaged()) {
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
  // The operands as T (pointing into `*_storage_` when converted).
  const T* query_ = nullptr;
  const T* key_ = nullptr;
  const T* value_ = nullptr;
  const T* w_q_ = nullptr;
  const T* w_k_ = nullptr;
  const T* w_v_ = nullptr;
  const T* in_bias_ = nullptr;
  const T* w_out_ = nullptr;
  const T* out_bias_ = nullptr;
  std::vector<T> query_storage_, key_storage_, value_storage_, weight_storage_[3], in_bias_storage_, out_weight_storage_,
      out_bias_storage_, bias_k_, bias_v_;
  std::vector<T> attn_mask_, padding_mask_;
  bool attn_mask_per_head_ = false;
  bool causal_ = false;
  Array output_;                          // attn_output, in the query's layout
  Array weights_;                         // the averaged attn_output_weights output
  Array per_head_;                        // (N, H, L, S'): the per-head output, or captured
  std::vector<std::vector<FullyMaskedRow>> masked_;  // per worker
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
