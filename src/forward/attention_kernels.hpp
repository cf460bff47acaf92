// The reference CPU forward pass of nn.MultiheadAttention (PyTorch 2.x semantics, eval mode:
// no dropout), computed in the query's dtype with OpenBLAS GEMMs.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/npy.hpp"
#include "mhacheck/random.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// Parameters by their PyTorch state_dict names ("in_proj_weight", "out_proj.bias", ...).
using StateDict = std::map<std::string, Array>;

struct ExpectedParameter {
  std::string name;
  std::vector<std::int64_t> shape;
};
// The parameters nn.MultiheadAttention(options) has, with their shapes, in state_dict order.
std::vector<ExpectedParameter> mha_parameters(const MhaOptions& options);

// Initialises every parameter with PyTorch's distributions (xavier_uniform_ for the input
// projections, kaiming_uniform_(a=sqrt(5)) for out_proj.weight, xavier_normal_ for
// bias_k/bias_v, zeros for the biases). Same distributions as PyTorch, not the same numbers.
StateDict initial_mha_parameters(const MhaOptions& options, Random& random);

// What both attention kernels take, under the same argument names (read_attention_inputs).
struct AttentionInputs {
  const Array* query = nullptr;
  const Array* key = nullptr;
  const Array* value = nullptr;
  const Array* attn_mask = nullptr;  // bool or floating; MHA: (L, S) or (N*H | H, L, S); SDPA: broadcast to (..., L, S)
  bool is_causal = false;
};

struct MhaInputs : AttentionInputs {
  const Array* key_padding_mask = nullptr;  // bool or floating, (N, S) or (S,)
  bool need_weights = true;
  bool average_attn_weights = true;
  bool capture_probabilities = false;  // `run --plot`: keep every head's, whatever need_weights says
  std::int64_t max_elements = std::numeric_limits<std::int64_t>::max();  // --max-elements: bounds the (N, H, L, S') per-head array
};

// A query row whose every key position is masked: with need_weights=True PyTorch's softmax
// gives NaN there; with need_weights=False (scaled_dot_product_attention, PyTorch 2.5+) the row
// attends to nothing and its output is out_proj's bias.
struct FullyMaskedRow {
  std::int64_t batch;
  std::int64_t head;
  std::int64_t row;
};

struct MhaOutputs {
  Array attn_output;
  std::optional<Array> attn_output_weights;
  std::optional<Array> probabilities;  // (N, H, L, S') with capture_probabilities, also unbatched (N = 1)
  std::vector<FullyMaskedRow> fully_masked_rows;
};

// query (..., Hq, L, E), key (..., H, S, E), value (..., H, S, Ev); a bool attn_mask's True takes part.
struct SdpaInputs : AttentionInputs {
  std::optional<double> scale;
  bool enable_gqa = false;
  bool capture_probabilities = false;  // `run --plot`
};

struct SdpaOutputs {
  Array output;
  std::optional<Array> probabilities;  // (..., L, S) over the broadcast batch dims, with capture_probabilities
  std::vector<FullyMaskedRow> fully_masked_rows;  // batch = flat index over the output's batch dims
};

// F.scaled_dot_product_attention as PyTorch 2.x computes it on the CPU (dropout off). The call
// must have passed the checker.
SdpaOutputs sdpa_forward(const SdpaInputs& inputs);

// Runs the forward pass. The call must have passed the checker (shapes are trusted); the
// parameters must match mha_parameters(options). `threads` bounds OpenBLAS and the head loop.
MhaOutputs mha_forward(const MhaOptions& options, const StateDict& parameters, const MhaInputs& inputs, int threads);

}  // namespace mhacheck
