// What True (or 1) means in a mask, read from the name it was declared with and from the calls
// that made it (roles.hpp reads names alone): `ids == pad` marks the padding, `ids != pad` the
// tokens to keep, `~m` inverts m, and indexing or reshapes keep the meaning. Also whether an
// operand is attention scores (made by matmul, bmm or einsum, then scaled or biased), the
// operand a mask is meant for.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "call_context.hpp"
#include "roles.hpp"

namespace mhacheck {

struct MaskOrigin {
  MaskConvention convention = MaskConvention::Unknown;
  std::string reason;  // why: "\"keep\" is named like 1 = keep", "made by ne(input_ids, 0): True marks entries other than 0"
  // The call that made the mask's values (eq, ne, bitwise_not, logical_not); null when they are
  // the declared tensor's, reached through indexing and reshapes only.
  const CallDecl* maker = nullptr;
};

// The convention of `mask` as the call `ctx` sees it; Unknown when a call on the way changes the
// values otherwise (arithmetic) or the declared name says nothing.
MaskOrigin mask_origin(const CallContext& ctx, const ArgValue& mask);
// The same for the tensor `name` made by `producer` (null: declared), anywhere in the graph.
MaskOrigin mask_origin_of(const Spec& spec, const std::string& name, const CallDecl* producer);

// The fix for a mask whose True marks the other positions, when a comparison with a number made
// it (ids != pad): the other comparison in that call, which inverts the mask for every reader.
struct ComparisonFlip {
  std::string text;     // "ids == 0 (eq, not ne) in call \"n\""
  nlohmann::json patch;
};
std::optional<ComparisonFlip> flip_comparison(const MaskOrigin& origin);

// Where a padding mask's sequence dim went in a mask made from it: a (B, T) tensor compared with
// a pad id (ids != pad) or named like a padding mask (pad, attention_mask), followed through
// comparisons, casts, ~, unsqueeze, None indexing, expand and broadcasting and/or with other
// masks (a causal (1, T, T)). `padded` has one entry per dim of the mask, right-aligned as
// broadcasting reads them: true where the dim is that T.
struct PaddingAxes {
  std::vector<bool> padded;
  // The unsqueeze or None index that put a new size-1 dim after the padded one, (B, T) -> (B, T, 1):
  // the call that chose the axis the padding lines up with. Null when none did.
  const CallDecl* placed = nullptr;
};
// Nullopt when no padding mask is found up the graph, or a call on the way moves dims otherwise.
// `any_bool`: a declared (B, T) bool tensor with its batch first counts as a padding mask whatever
// its name says (kpm): where its positions line up does not depend on what True marks.
std::optional<PaddingAxes> padding_axes(const Spec& spec, const std::string& name, const CallDecl* producer, bool any_bool = false);
// Calls that move or select a tensor's elements without changing them (views, copies, tiling).
bool keeps_values(std::string_view op);
// A number as Python reads it back, exactly, in a call: float('-inf'), 0.125, -1000000000, -3.4028234663852886e+38, 2.
std::string number_text(const nlohmann::json& number);

// A cast to a floating dtype: .float(), .double(), .half(), .bfloat16(), .to(floating dtype).
bool casts_to_float(const CallDecl& call);

// A float tensor whose values are a bool mask's, cast (.float(), .half(), .to(torch.float32))
// and then moved or selected only: 1.0 where the mask is True, 0.0 elsewhere. Added to scores
// (SDPA's float attn_mask) it masks nothing.
struct BoolMaskCast {
  const CallDecl* cast = nullptr;  // the cast call
  std::string mask;                // the bool tensor's name, as the cast reads it
  MaskOrigin origin;               // what True means in it
};
std::optional<BoolMaskCast> bool_mask_cast(const CallContext& ctx, const ArgValue& arg);

// Whether `arg` holds attention scores: made by matmul, bmm or einsum, possibly followed by
// scaling, biasing or masking (mul, div, add, sub, masked_fill) and reshapes; a declared tensor
// when its name says scores or logits.
bool is_attention_scores(const CallContext& ctx, const ArgValue& arg);

// The call that computed `arg`'s values, looked up through calls that change them element by
// element and keep every dim where it is (scaling, biasing, masking, dropout, copies): the
// einsum that made scaled scores, the Linear that made a dropped-out projection. Null for a
// declared tensor, an argument that is not a named tensor on the way, or a chain too long.
const CallDecl* values_maker(const CallContext& ctx, const ArgValue& arg);
// The same from the call `producer` that made a tensor (null: null).
const CallDecl* values_maker(const Spec& spec, const CallDecl* producer);

// The product q @ k^T whose values the tensor `producer` made holds (values_maker): matmul, or
// bmm, which multiplies batch by batch alike; with the arguments holding the queries and the keys
// (transposed: the keys' positions in their last dim). nullopt for any other maker.
struct ScoresProduct {
  const CallDecl* product = nullptr;
  std::string queries_argument, keys_argument;
};
std::optional<ScoresProduct> scores_product(const Spec& spec, const CallDecl* producer);

}  // namespace mhacheck
