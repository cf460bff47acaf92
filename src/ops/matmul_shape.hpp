// torch.matmul's shape rules, as PyTorch 2.x's _matmul_impl dispatches them on the CPU (dot, mv,
// mm, a folded mm or mv, or broadcast batch dims and bmm), with the message of whichever kernel
// refuses the operands. Shared by torch.matmul and F.scaled_dot_product_attention's products.
#pragma once

#include <optional>
#include <string>

#include "call_context.hpp"

namespace mhacheck {

struct MatmulFailure {
  enum class Kind { Rank, Batch, Contraction };
  Kind kind = Kind::Rank;
  CallContext::BroadcastFailure broadcast;  // Batch: the dims that do not broadcast
  DimExpr inner_a, inner_b;                 // Contraction: a's last dim, b's contracted dim
  std::string message;                      // the RuntimeError PyTorch 2.x raises
};

// The shape of a @ b, or nullopt with `failure` filled. A contraction that holds only under a
// condition on symbols warns (MHA080) at dim `where_dim` of `where`, and counts as holding.
std::optional<Shape> matmul_shape(CallContext& ctx, const Shape& a, const Shape& b, const ArgValue* where,
                                  std::optional<int> where_dim, const std::string& what, MatmulFailure& failure);

// The message of a broadcast failure, as torch's infer_size words it.
std::string broadcast_message(const CallContext::BroadcastFailure& failing);

// Two operands of an elementwise operator that do not broadcast: `message` reported at `blamed`'s
// failing dim, `other`'s size there as a related note (other_size: failing.a or failing.b, as
// `other` was passed to CallContext::broadcast), and PyTorch's message.
Diagnostic& report_broadcast_failure(CallContext& ctx, DiagId id, const std::string& message, const ArgValue& blamed, const ArgValue& other,
                                     const DimExpr& other_size, const CallContext::BroadcastFailure& failing);

}  // namespace mhacheck
