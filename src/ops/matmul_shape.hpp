// torch.matmul's shape rules, as PyTorch 2.x's _matmul_impl dispatches them on the CPU (dot, mv,
// mm, a folded mm or mv, or broadcast batch dims and bmm), with the message of whichever kernel
// refuses the operands. Shared by torch.matmul and F.scaled_dot_product_attention's products.
#pragma once

#include <optional>
#include <string>
#include <vector>

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

// A transpose of one operand for this call alone, inserted before it so that other readers of
// the operand keep its layout. Only in a spec's "calls" list, for operands given by name.
struct OperandTranspose {
  std::string argument;  // "mat2"
  int dim0, dim1;
};
void propose_transposed_operands(CallContext& ctx, Diagnostic& diagnostic, std::string description,
                                 const std::vector<OperandTranspose>& transposes);

// The roles of a product PyTorch accepts (matmul, bmm), from the dims' names: input's last dim
// and other's dim `contracted` must play one role (q @ k contracts a head size with a sequence,
// valid only because T == D: a sequence in the product's feature slot, MHA241); a sequence in
// the batch dim 0 while a batch size is in the matrices' rows or columns pairs batch entries
// with each other (fairseq's q.view(T, B*H, D) without .transpose(0, 1): a sequence name in a
// batch slot, MHA081). Each with a fix: transposes inserted before the call.
void check_product_roles(CallContext& ctx, const ArgValue& input, const ArgValue& other, int contracted);

// MHA294: attention weights times a value laid out as the key and transposed like it
// (w @ v.transpose(-2, -1)), for matmul and bmm: valid only because the key positions equal the
// head size.
void check_value_contracted_like_key(CallContext& ctx, const ArgValue& weights, const ArgValue& value);

// Each dim's name in the product of input and other (shaped `product`): the batch dims' from the
// operands, then input's rows and other's columns.
std::vector<std::string> product_names(const ArgValue& input, const ArgValue& other, const Shape& product);

// The message of a broadcast failure, as torch's infer_size words it.
std::string broadcast_message(const CallContext::BroadcastFailure& failing);

// Two operands of an elementwise operator that do not broadcast: `message` reported at `blamed`'s
// failing dim, `other`'s size there as a related note (other_size: failing.a or failing.b, as
// `other` was passed to CallContext::broadcast), and PyTorch's message.
Diagnostic& report_broadcast_failure(CallContext& ctx, DiagId id, const std::string& message, const ArgValue& blamed, const ArgValue& other,
                                     const DimExpr& other_size, const CallContext::BroadcastFailure& failing);

}  // namespace mhacheck
