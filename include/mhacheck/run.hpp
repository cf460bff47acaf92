// `mhacheck run`: check a spec, then execute its calls on real data (from .npy/.npz files, or
// seeded random data) with weights from a state_dict .npz or PyTorch's initialisation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"
#include "mhacheck/npy.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// Elements one tensor may have before run refuses to allocate it (--max-elements).
constexpr std::int64_t kDefaultMaxElements = std::int64_t{1} << 28;
// About a second of this project's kernels on two cores at their best, a minute at their worst.
constexpr double kDefaultMaxFlops = 1e11;

struct RunOptions {
  std::string weights;         // --weights: a state_dict .npz for a spec with one module
  int threads = 0;             // 0: every core
  std::uint64_t seed = 0;      // initial weights and --random-inputs
  bool random_inputs = false;  // fill shape-only tensors with standard-normal data
  std::int64_t max_elements = kDefaultMaxElements;
  double max_flops = kDefaultMaxFlops;  // --max-flops: a call estimated to do more is refused before anything runs
  // --plot: keep one call's attention probabilities (RunResult::plotted), computed only for it.
  bool plot = false;
  std::string plot_call;   // --plot-call: that call's id ("" = the first call that computes attention)
  std::string plot_block;  // --plot-block: a Transformer module's attention block ("" = its first)
};

struct RunOutput {
  std::string call;
  std::string name;  // as in the report: "attn_output", or the call's own output name
  Array array;
};

// softmax(Q K^T * scale + mask) of the plotted call: for nn.MultiheadAttention and the Transformer
// modules' blocks whatever need_weights is, over the key positions bias_k/add_zero_attn append too.
struct PlottedAttention {
  std::string call;
  std::string block;    // a Transformer module's block ("layers.0.self_attn"); "" otherwise
  Array probabilities;  // (N, H, L, S), N = 1 for an unbatched call
  bool batched = true;
};

struct RunResult {
  Report report;              // the check's diagnostics, then the run's (weights, data, NaN rows)
  std::vector<RunOutput> outputs;
  bool executed = false;      // false when the check or the run's own checks found errors
  std::string stopped_by;     // when not executed: what stopped it ("the check found errors", ...)
  std::optional<PlottedAttention> plotted;  // with RunOptions::plot
  std::string plot_problem;                 // why there is nothing to plot, when so
};

RunResult run_spec(const Spec& spec, const RunOptions& options);

}  // namespace mhacheck
