// Searched fixes that insert one reshaping call on a tensor argument of a failing call: the
// module or operator is what the user meant, the tensor reaches it in another layout (a clip
// (B, F, C, H, W) into a per-frame Conv2d, a channel-last map into attention, heads not merged
// before the output projection). fixes.cpp re-checks each on the whole patched graph and ranks them.
#pragma once

#include <limits>
#include <vector>

#include "mhacheck/check.hpp"
#include "recheck.hpp"

namespace mhacheck {

// Unverified candidates for call `call` of `spec` (checked in `report`), when PyTorch refuses
// it (an error on the call; transposes are search_candidates' own), each one call inserted
// right before it on one of its tensor arguments, the argument then reading the inserted call's
// output:
//  - flatten(a, a+1) of two neighbouring dims (later dims first: merging the batch with the
//    next dim comes last);
//  - squeeze(d) of a dim of size 1; unsqueeze(d);
//  - a slice dropping one leading token, where a dim's size is a square plus one (a ViT's class
//    token before its patch grid);
//  - for a 4-D (B, H, T, D) argument, the heads merged back: .transpose(1, 2).reshape(B, T, H*D);
//  - for an elementwise operator, the operand of lower rank indexed with None where it lacks dims
//    so that each of its dims meets an equal dim of the other (w[:, :, None, None] against
//    (B, C, H, W)), the same index also on each later add, sub, mul or div that applies an
//    operand of its shape to the result (x * (1 + scale) + shift);
// and, for an argument made by a squeeze without dim, that squeeze given each dim of size 1
// (last first). A change that squeezes a dim named as a batch, moves it from dim 0, or merges
// two dims named for different roles is labelled suspect. Each is checked before it is
// returned: kept only when the patched call gets no error it did not have and the graph fewer
// errors (a reshape that trades the call's error for another is no candidate), within a bound
// on that work; at most `limit` are kept (the first), the rest dropped unchecked.
// Checked by `rechecker`, on its work budget: candidates past it are dropped unchecked.
std::vector<Fix> insertion_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked, Rechecker& rechecker,
                                      std::size_t limit = std::numeric_limits<std::size_t>::max());

// Whether `fix` works against a layer module whose input data holds the module's size (Linear
// in_features, Conv in_channels, LayerNorm normalized_shape, BatchNorm num_features): it resizes
// the module away from a size that the written tensors feeding it hold (a dim, or two
// dims merged: H*D), or it gives a written input of the module another shape while
// that input holds the module's size at some dim. The module says what was meant; the data's
// layout is the slip, and a fix of the layout comes first.
bool against_module(const Spec& spec, const Fix& fix);

// The size a layer module's options declare for its input (in_features, in_channels,
// normalized_shape's last, num_features); 0 when they declare none.
std::int64_t declared_input_size(const nlohmann::json& options);

// Whether `fix` gives a layer module another size option (in_features, in_channels,
// normalized_shape, num_features) than the one it declares.
bool resizes_module(const Spec& spec, const Fix& fix);

}  // namespace mhacheck
