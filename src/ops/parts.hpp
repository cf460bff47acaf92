// The rules of the parts that larger modules are built from, for those modules' own rules:
// F._canonical_mask, F.linear and F.layer_norm as nn.Linear, nn.LayerNorm and the Transformer
// layers apply them, and nn.MultiheadAttention's constructor. Each reports in PyTorch's words
// and returns whether PyTorch goes on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "call_context.hpp"

namespace mhacheck {

// A mask must be bool or floating (MHA060); PyTorch's AssertionError names it `pytorch_name`.
// refused_mask_dtype returns the MHA060 it reported, null for a usable mask;
// canonical_mask_dtype whether the mask is usable.
Diagnostic* refused_mask_dtype(CallContext& ctx, const ArgValue& mask, const std::string& pytorch_name);
bool canonical_mask_dtype(CallContext& ctx, const ArgValue& mask, const std::string& pytorch_name);
// Two masks of different dtypes: PyTorch's deprecation warning (MHA061), in its names.
void mismatched_masks(CallContext& ctx, const ArgValue& mask, const std::string& pytorch_name, const ArgValue& other,
                      const std::string& pytorch_other);
// A bool mask named like a Hugging Face attention_mask (True = keep) passed where `module`
// ignores the True positions (nn.MultiheadAttention and the Transformer modules): MHA084 with ~mask.
// The Transformer encoders check their masks before _canonical_mask makes them float.
void check_ignore_mask_meaning(CallContext& ctx, const ArgValue& mask, const std::string& module);
// A float mask made by tril: a 0/1 causal matrix (tril(ones)) keeps 1 on each query's past and
// itself and 0 on its future, and any tril leaves 0 above its diagonal. nn.MultiheadAttention and
// the Transformer modules add a float mask to the scores, so every future position gets 0 added:
// nothing is masked (MHA084). The fix compares it with 0, which marks the future with True, the
// positions these modules ignore. Checked on the masks as written (the outer call).
void check_float_triangle_mask(CallContext& ctx, const ArgValue& mask, const std::string& module);
// Arguments whose dim (negative: from the end) was tiled by Tensor.repeat from a dim larger than
// 1, where the operator means repeat_interleave's blocks (GQA's key/value heads, a 3-D MHA mask's
// N*num_heads): one MHA240 on the first, whose fix makes every such repeat a repeat_interleave.
// `heads_per_entry` (a 3-D MHA mask's num_heads: entry b*H + h) spares the tilings that give every
// batch entry the same per-head masks; 0 (GQA's heads dim) spares none. The expand form of repeat,
// x[:, None].expand(B, r, n, ...).reshape(B, r*n, ...), is read as repeat; and where heads_per_entry
// is given, per-head masks tiled by repeat_interleave where repeat is meant are reported instead.
void check_repeat_tiling(CallContext& ctx, const std::vector<const ArgValue*>& args, int dim, const std::string& meant,
                         std::int64_t heads_per_entry = 0);
// Operands of one call (each with its batch dim) whose batch dims were tiled by the same factor,
// one with repeat and one with repeat_interleave: MHA240 on the repeat, fixed to repeat_interleave.
// `meant` says what the mismatch does.
void check_tiling_orders(CallContext& ctx, const std::vector<std::pair<const ArgValue*, int>>& operands, const std::string& meant);
// Causal attention over `tokens`' dim `dim` (the sequence), made by merging a stack's new dim,
// outermost, with the steps: MHA312 with the stack moved after the steps (interleaved per step).
void check_causal_over_stacked(CallContext& ctx, const ArgValue& tokens, int dim);
// A per-position mask (a padding mask's (B, T)) tiled along its positions by repeat(1, k) for a
// sequence of k*T tokens (MHA240): [m, m, m] fits k streams joined one after another (cat along
// the sequence), not tokens interleaved step by step (Decision Transformer's R_1, s_1, a_1, ...,
// stack(dim=2).reshape), whose token t*k + j needs position t's flag: repeat_interleave(k, dim).
// Quiet when the tokens (`tokens`, sequence dim `token_dim`) were joined by a cat along it.
// The mask's positions (`mask_dim`) are followed up to the repeat through casts, ~, arithmetic with
// a number and the calls that add size-1 dims (an SDPA mask pad[:, None, None, :]); the tokens'
// through the calls that keep them (projections, a head split, moves of dims). Called by each
// attention with a per-position mask: nn.MultiheadAttention's key_padding_mask (so the Transformer
// modules' padding masks, which reach it), SDPA's attn_mask over the key positions.
void check_mask_positions_tiled(CallContext& ctx, const ArgValue& mask, int mask_dim, const ArgValue& tokens, int token_dim);
// Grouped-query attention by broadcasting (MHA373): `query`'s dim d meets `partner`'s dim
// partner_of[d], or nothing (-1: a letter the partner lacks, a broadcast 1). A view that split
// the heads of (..., H, L, D) into (a, b), whose inner factor b meets the partner's key/value heads
// while the outer a meets nothing, pairs query head h with key/value head h mod b: the tiling of
// repeat where repeat_interleave is meant, which check_repeat_tiling reports for a repeat.
void check_grouped_heads_order(CallContext& ctx, const ArgValue& query, const std::vector<int>& partner_of, const ArgValue& partner,
                               const std::string& product);
// The mask as _canonical_mask returns it: a bool mask becomes a float mask of `target`.
ArgValue canonical_mask(const ArgValue& mask, DType target);

// F.linear's message for an input of another dtype than the weight: addmm's (with bias, on a
// contiguous input) or mm's.
std::string linear_dtype_message(DType input, DType weight, bool addmm);
// F.linear(input, weight (out_features, in_features), bias): dtype, then the contracted dim.
bool linear_accepts(CallContext& ctx, const ArgValue& input, std::int64_t in_features, std::int64_t out_features, bool bias,
                    DType weight_dtype, const std::string& which);
// F.layer_norm(input, normalized_shape, weight, bias): the trailing dims, then the dtype.
// `which` names the norm inside a larger module ("norm1"), empty for nn.LayerNorm itself.
bool layer_norm_accepts(CallContext& ctx, const ArgValue& input, const std::vector<std::int64_t>& normalized_shape,
                        bool elementwise_affine, DType dtype, const std::string& which);
// "[2, 4]", as ATen prints a tensor's sizes in its messages.
std::string sizes_list(const Shape& shape);
// torch.empty(sizes) of a parameter: "Trying to create tensor with negative dimension".
bool sizes_nonnegative(CallContext& ctx, const std::vector<std::int64_t>& sizes, const std::string& option);

// nn.MultiheadAttention's constructor checks on ctx.module->mha (MHA010-012).
bool mha_constructor_valid(CallContext& ctx);

}  // namespace mhacheck
