// The shape rules: one inference function per operator, each in its own file under src/ops/,
// found through the operator table (src/operators.cpp).
#pragma once

#include <string>
#include <vector>

#include "call_context.hpp"

namespace mhacheck {

// Checks one call against the operator's PyTorch rules: reports diagnostics (in the order
// PyTorch would raise them) with candidate fixes, and fills ctx.outputs when the call is valid.
using InferFn = void (*)(CallContext& ctx);

// Reorders `order`, the positions (0, 1, ...) of a call's tensor arguments a searched fix may
// transpose, as written, into the order it tries transposing each one alone: the likelier culprit first.
using SingleArgumentOrderFn = void (*)(std::vector<std::size_t>& order);

void infer_multihead_attention(CallContext& ctx);
void infer_scaled_dot_product_attention(CallContext& ctx);
// The Transformer modules and the modules they are built from.
void infer_transformer_encoder_layer(CallContext& ctx);
void infer_transformer_decoder_layer(CallContext& ctx);
void infer_transformer_encoder(CallContext& ctx);
void infer_transformer_decoder(CallContext& ctx);
void infer_transformer(CallContext& ctx);
void infer_linear(CallContext& ctx);
void infer_layer_norm(CallContext& ctx);
void infer_embedding(CallContext& ctx);
void infer_conv(CallContext& ctx);  // nn.Conv1d and nn.Conv2d (ops/conv.cpp)
// The glue between attention layers: shape operators, add, matmul, softmax.
void infer_transpose(CallContext& ctx);
void infer_permute(CallContext& ctx);
void infer_reshape(CallContext& ctx);  // also view
void infer_unsqueeze(CallContext& ctx);
void infer_squeeze(CallContext& ctx);
void infer_flatten(CallContext& ctx);
void infer_cat(CallContext& ctx);
void cat_single_argument_order(std::vector<std::size_t>& order);  // a later tensor first
void infer_add(CallContext& ctx);  // also sub, mul and div (ops/arithmetic.cpp)
void infer_sub(CallContext& ctx);
void infer_mul(CallContext& ctx);
void infer_div(CallContext& ctx);
void infer_eq(CallContext& ctx);  // also ne, gt, ge, lt, le: `mask == 0`, `pos < len`, bool out
void infer_ne(CallContext& ctx);
void infer_gt(CallContext& ctx);
void infer_ge(CallContext& ctx);
void infer_lt(CallContext& ctx);
void infer_le(CallContext& ctx);
void infer_logical_and(CallContext& ctx);  // also logical_or: any dtypes, bool out
void infer_logical_or(CallContext& ctx);
void infer_bitwise_and(CallContext& ctx);  // also bitwise_or, `&` and `|`: bool and integer dtypes only
void infer_bitwise_or(CallContext& ctx);
void infer_getitem(CallContext& ctx);  // Tensor.__getitem__ (src/ops/indexing.cpp)
void infer_select(CallContext& ctx);
void infer_narrow(CallContext& ctx);
void infer_split(CallContext& ctx);  // src/ops/split.cpp: several outputs, named "0", "1", ...
void infer_split_with_sizes(CallContext& ctx);
void infer_chunk(CallContext& ctx);
void infer_unbind(CallContext& ctx);
void infer_matmul(CallContext& ctx);  // ops/matmul.cpp
void infer_bmm(CallContext& ctx);
void infer_einsum(CallContext& ctx);  // ops/einsum.cpp (the equation: ops/einsum_equation.hpp)
void infer_softmax(CallContext& ctx);
// Same-shape operators (ops/pointwise.cpp): contiguous and clone, dropout, the activations
// (sigmoid shares tanh's rule).
void infer_same_shape(CallContext& ctx);
void infer_dropout(CallContext& ctx);
void infer_relu(CallContext& ctx);
void infer_gelu(CallContext& ctx);
void infer_silu(CallContext& ctx);
void infer_tanh(CallContext& ctx);
void infer_neg_abs(CallContext& ctx);  // torch.neg and torch.abs: the dtype kept, bool refused
void infer_where(CallContext& ctx);  // ops/where.cpp
void infer_logical_not(CallContext& ctx);  // any dtype in, bool out
void infer_bitwise_not(CallContext& ctx);  // `~`: bool and integer dtypes only
void infer_to(CallContext& ctx);        // ops/cast.cpp: to(dtype) and .float(), .half(), ... by the call's op
void infer_triangle(CallContext& ctx);  // ops/triangle.cpp: tril and triu
void infer_pad(CallContext& ctx);       // ops/pad.cpp: F.pad, mode "constant"
void infer_sum(CallContext& ctx);  // ops/reduction.cpp
void infer_mean(CallContext& ctx);
void infer_max(CallContext& ctx);
void infer_amax(CallContext& ctx);
void infer_logsumexp(CallContext& ctx);
void infer_vector_norm(CallContext& ctx);
void infer_masked_fill(CallContext& ctx);
void infer_expand(CallContext& ctx);  // ops/expand.cpp, with repeat and repeat_interleave
void infer_repeat(CallContext& ctx);
void infer_repeat_interleave(CallContext& ctx);
void infer_stack(CallContext& ctx);  // ops/stack.cpp
void infer_log_softmax(CallContext& ctx);  // ops/softmax.cpp
void infer_functional_linear(CallContext& ctx);  // F.linear (ops/linear.cpp)
void infer_functional_layer_norm(CallContext& ctx);  // F.layer_norm (ops/layer_norm.cpp)
void infer_normalize(CallContext& ctx);  // F.normalize (ops/reduction.cpp), with argmax/argmin and cumsum
void infer_argmax(CallContext& ctx);
void infer_cumsum(CallContext& ctx);
// ops/constructors.cpp: ones, zeros, full; ones_like, zeros_like, full_like; new_ones, new_zeros;
// eye; arange.
void infer_constructor(CallContext& ctx);
void infer_constructor_like(CallContext& ctx);
void infer_new_constructor(CallContext& ctx);
void infer_eye(CallContext& ctx);
void infer_arange(CallContext& ctx);
// ops/like_other.cpp: expand_as, view_as and reshape_as, type_as: another operator on other's sizes or dtype.
void infer_expand_as(CallContext& ctx);
void infer_view_as(CallContext& ctx);
void infer_type_as(CallContext& ctx);
void infer_clamp(CallContext& ctx);  // ops/pointwise.cpp: clamp and clamp_min, with flip
void infer_flip(CallContext& ctx);
void infer_pow(CallContext& ctx);  // ops/arithmetic.cpp

}  // namespace mhacheck
