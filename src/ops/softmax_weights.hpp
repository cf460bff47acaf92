// Softmax weights normalised again after the softmax, shared by softmax's rule and einsum's (which
// reads the weights): slot attention softmaxes over the slots, the queries, then divides each
// slot's weights by their sum over the keys.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mhacheck/spec.hpp"

namespace mhacheck {

// Whether the softmax output `weights` (of `rank` dims) is normalised again over dim `key_dim` by a
// later call: a sum over that dim (of the weights, or of the weights plus an eps), or a view of
// it, that a div divides by, the weights themselves (attn / attn.sum(dim=-2, keepdim=True)) or what
// an einsum made of them (a weighted mean).
bool renormalised_over(const Spec& spec, const std::string& weights, int key_dim, int rank);

// Whether matrix product `product` (matmul or bmm) makes scores of `rank` dims laid out (..., keys,
// queries) on purpose: a tensor named as the keys times one named as the queries, transposed by the
// call that made it (k @ q.transpose(-2, -1)).
bool keys_before_queries(const Spec& spec, const CallDecl& product, int rank);

// The patch that moves `call`, which reads the weights `softmax` made as its input or its other
// operand (a mask or a bias applied after the softmax: weights + bias and bias + weights), before
// the softmax: the call reads the softmax's input, the scores, in the weights' place,
// and the softmax reads what it made and gives its output the call's output name. nullopt when the
// weights have another reader or either call's outputs are not written in the spec. The scores
// `call` makes are named after the softmax's input and `suffix` (scores_masked).
std::optional<nlohmann::json> before_softmax_patch(const Spec& spec, const CallDecl& call, const CallDecl& softmax, const std::string& suffix);

}  // namespace mhacheck
