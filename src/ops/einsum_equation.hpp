// torch.einsum's equation as PyTorch 2.x reads it (aten/src/ATen/native/Linear.cpp, einsum): the
// operands' terms, the output, and where each dim lands once the operands are aligned. Shared by
// the rule (ops/einsum.cpp), which checks sizes on top of it, and the forward pass
// (forward/einsum.cpp), which contracts along it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mhacheck/diagnostic.hpp"

namespace mhacheck {

// Labels as PyTorch numbers them: 'A'..'Z' are 0..25, 'a'..'z' 26..51 (so an implicit output
// lists upper-case letters first); kEinsumEllipsis stands for "..." in a term.
constexpr int kEinsumLabels = 52;
constexpr int kEinsumEllipsis = kEinsumLabels;
char einsum_letter(int label);

// A check that fails: the diagnostic, PyTorch's RuntimeError text, the operand it is about.
struct EinsumFailure {
  DiagId id;
  std::string message;
  std::optional<std::size_t> operand;
};

struct EinsumEquation {
  std::vector<std::vector<int>> terms;  // per operand, its labels in order (kEinsumEllipsis for "...")
  bool explicit_output = false;         // written after "->"; else sorted labels seen once, after "..."
  std::vector<int> output;              // the explicit output's labels (kEinsumEllipsis for "...")
};

// The input terms for `operands` (at least one) tensors, checked in PyTorch's order: a character
// that is no label, a '.' outside one "...", more terms than operands, fewer.
std::optional<EinsumFailure> read_einsum_terms(std::string_view equation, std::size_t operands, EinsumEquation& read);
// Each operand's term against its rank (after the terms, before the output, as PyTorch checks).
std::optional<EinsumFailure> check_einsum_ranks(const EinsumEquation& equation, const std::vector<int>& ranks);
// The explicit output, if any: its characters, its '.'s, labels no operand has or written twice.
std::optional<EinsumFailure> read_einsum_output(std::string_view equation, EinsumEquation& read);

// Where every dim goes when the operands are aligned: slots 0 .. output_dims-1 are the output's
// dims in order, the rest are summed. A label repeated in one operand (a diagonal) gives both
// dims one slot; "..." covers `ellipsis_dims` slots, right-aligned in each operand.
struct EinsumSlots {
  int ellipsis_dims = 0;
  int output_dims = 0;
  int count = 0;
  std::vector<std::vector<int>> of_operand;  // per operand, per dim: its slot
  std::vector<int> label_of_slot;            // the label of each slot; kEinsumEllipsis for "..." dims
};
// For a read and rank-checked equation.
EinsumSlots einsum_slots(const EinsumEquation& equation, const std::vector<int>& ranks);

}  // namespace mhacheck
