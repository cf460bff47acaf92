// The dim of a tensor that the next matrix product reading it contracts: shared by F.normalize's
// rule (unit vectors along the dim a product contracts are what make cosines) and softmax's
// (weights normalised along the dim a product sums them over are what make weighted averages).
#pragma once

#include <optional>
#include <string>

#include "mhacheck/spec.hpp"

namespace mhacheck {

struct Contraction {
  const CallDecl* product = nullptr;  // the matmul, bmm or einsum
  int dim = 0;                        // in the tensor's own dims
  // Read as the aggregated side: matmul's plain second operand (x @ y sums y's rows), or an einsum
  // operand whose contracted letter is not its last while the other operand's is (the values of
  // 'bij,bje->bie'). Such an operand is normalised for its own reasons.
  bool aggregated = false;
  // The tensor on the product's other side, before a transpose of its last two dims (the keys of
  // q @ k.transpose(-2, -1) when the tensor is q, q when it is k); "" when not one named tensor.
  std::string partner;
};

// The contraction of tensor `name` (of `rank` dims) by the first product that reads it after call
// `after`, through copies (dropout, contiguous, clone), scaling by a number and a transpose of two
// dims: as matmul's or bmm's first operand its last dim (the transposed tensor's), as the second
// its second to last; as an einsum operand with an explicit output and no "...", its one letter
// that the output drops and another operand shares. nullopt when no product reads it so.
std::optional<Contraction> contraction_of(const Spec& spec, const CallDecl& after, const std::string& name, int rank);

}  // namespace mhacheck
