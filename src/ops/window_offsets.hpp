// A mask and the keys it masks, each cut from a sequence of the same length: the cuts must start
// at the same position, or column j of the mask stands for another position than key j (a rolling
// window's keys k[:, :, -W:] masked by mask[..., :W]). Shared by SDPA's attn_mask and the masks
// applied by hand to q @ k.transpose(-2, -1) (masked_fill, add).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "call_context.hpp"
#include "ops/index_expression.hpp"

namespace mhacheck {

// Where a tensor's dim was cut from a longer one: the getitem, the entry of its index that cut
// it, the length it was cut from and where the cut starts (a negative start counted from the end).
struct PositionsCut {
  const CallDecl* getitem = nullptr;
  IndexExpression index;  // as written
  std::size_t item = 0;
  DimExpr length;
  IndexBound start;
};

// Dim `dim` of the tensor made by `producer` (of rank `rank`), followed up through moves
// (transpose, permute, contiguous, clone, casts) to the getitem that cut it; nullopt when none
// did, or a call on the way changes the dims otherwise.
std::optional<PositionsCut> positions_cut(const CallContext& ctx, const CallDecl* producer, std::size_t dim, std::size_t rank);

// The keys' positions of scores made by q @ k.transpose(-2, -1) (scaled, biased or masked on
// the way): the product's second operand's producer and its last dim; nullopt otherwise.
struct ScoresKeys {
  const CallDecl* producer = nullptr;
  std::size_t dim = 0, rank = 0;
};
std::optional<ScoresKeys> scores_keys(const CallContext& ctx, const ArgValue& scores);

// MHA374: `mask`'s key columns (its last dim) and the keys (dim `dim` of the tensor `keys_producer`
// made, rank `rank`) cut from lengths known to be equal at different starts. The fix cuts the
// mask's columns as the keys are cut.
void check_window_offsets(CallContext& ctx, const ArgValue& mask, const CallDecl* keys_producer, std::size_t dim, std::size_t rank);

}  // namespace mhacheck
