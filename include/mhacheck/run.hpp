// `mhacheck run`: check a spec, then execute its calls on real data (from .npy/.npz files, or
// seeded random data) with weights from a state_dict .npz or PyTorch's initialisation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"
#include "mhacheck/npy.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// Elements one tensor may have before run refuses to allocate it (--max-elements).
constexpr std::int64_t kDefaultMaxElements = std::int64_t{1} << 28;

struct RunOptions {
  std::string weights;         // --weights: a state_dict .npz for a spec with one module
  int threads = 0;             // 0: every core
  std::uint64_t seed = 0;      // initial weights and --random-inputs
  bool random_inputs = false;  // fill shape-only tensors with standard-normal data
  std::int64_t max_elements = kDefaultMaxElements;
};

struct RunOutput {
  std::string call;
  std::string name;  // as in the report: "attn_output", or the call's own output name
  Array array;
  bool attention_weights = false;  // the call's attn_output_weights
  bool batched = true;             // false for an unbatched call (no batch dim)
};

struct RunResult {
  Report report;              // the check's diagnostics, then the run's (weights, data, NaN rows)
  std::vector<RunOutput> outputs;
  bool check_passed = false;  // the shape check found no error
  bool executed = false;      // false when the check or the run's own checks found errors
};

RunResult run_spec(const Spec& spec, const RunOptions& options);

}  // namespace mhacheck
