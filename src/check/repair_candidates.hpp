// Concrete repairs: expressions on the tensors a spec has (a mask padded as its keys were
// joined, another given tensor of the wanted shape, a buffer cut to the batch too, a repeat
// mirrored) for diagnostics whose rule could only say what shape to pass. fixes.cpp re-checks
// each on the whole patched graph and ranks them above such a shape.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"

namespace mhacheck {

// A fix that says what to pass, not how to make it: it replaces the written shape of a tensor
// the user passes by one that asks for values the tensor does not have, a dim grown by other
// than a multiple or given another length ("pass a (N, S) key_padding_mask" for a (B, T) mask
// where the keys are T+16 long; "pass input with 320 features"). Rearranging the same dims (a
// transpose), adding or dropping dims of 1, merging or splitting dims, slicing and tiling are
// expressions on the tensor.
bool asks_for_other_values(const Spec& spec, const Fix& fix);

// For a fix that replaces the written shape of a tensor by the same dims cut short ((L, S+1) to
// (L, S): a column appended by hand), the index that cuts them from the tensor ("[:, :S]");
// nullopt for any other fix.
std::optional<std::string> cut_index(const Spec& spec, const Fix& fix);

// A rule's fix that asks for other values (asks_for_other_values) for an argument of a call.
struct AskedShape {
  std::string argument;  // "memory_key_padding_mask"; empty when the diagnostic names none
  Fix fix;
};

// Unverified candidates for `targets`, diagnostics of one call of `spec` (checked in `report`):
//  - a mask of keys that a cat made longer (prefix keys joined before the keys): the mask padded
//    the same way, F.pad(mask, (P, 0)), its new positions taking part (False in
//    nn.MultiheadAttention's bool mask, True in SDPA's, 0 in an additive float mask);
//  - for a fix of `asked` (the call's rule fixes that ask for other values, verified or not: the
//    new shape may break another reader of the tensor): another tensor the spec has with exactly
//    that shape, dtype and kind (a mask for a mask), passed as that argument instead
//    (memory_key_padding_mask=src_key_padding_mask);
//  - a getitem that cut a preallocated buffer on one dim only (cache_k[:, :P+T]) cut on a dim it
//    left whole too, to the size the call's other arguments have there (cache_k[:B, :P+T]),
//    mapped through the transposes and permutes between them;
//  - keys cut from a longer tensor (a rolling window, a preallocated cache) met by a mask of
//    another number of key columns, at SDPA or at a mask applied to q @ k.transpose(-2, -1):
//    the mask's columns cut as the keys are, or the reads extended to the positions it counts;
//  - cross-attention keys and values made by a cat of two pieces of one length that is not the
//    queries' (the cached encoder states and the same states again): the cat dropped;
//  - key and value of an attention call where one was made by repeat_interleave and the other
//    not: the other repeated the same way, at the same place of its chain of moves;
//  - key and value of an attention call where one was made longer by a cat (prefix keys) and
//    the other not: the other joined the same way, with the declared tensors no call reads of
//    the other pieces' shapes (torch.cat((prefix_v, v), dim=2));
//  - a getitem whose slice cuts nothing (cos_cached[:T] of a (1, 1, P, D) buffer) is not cut
//    on another dim as well: the slice was meant for that dim;
//  - scores over keys a cat made longer, meeting a mask for the new keys in an elementwise
//    operator: the mask padded as the cat joined (F.pad(mask, (P, 0)));
//  - a mask tiled with repeat_interleave for another head count than the module's: its count;
//  - an operand of an elementwise operator replaced by a declared tensor no call reads, written
//    as the other operand is (memory + pos for memory + query_pos);
//  - a mask computed from a tensor that a sibling argument reads sliced: the mask sliced alike;
//  - an integer mask inverted with ~: compared with 0 instead;
//  - a decoder memory of another width: projected by a new nn.Linear;
//  - a view that splits a sequence into windows that do not divide it (the count of windows
//    written, left to view as -1, or merged with the batch in a leading -1): the sequence padded
//    up to a multiple of the window;
//  - an elementwise operand whose one differing length a conv stem made: each conv's padding,
//    then its stride, solved from PyTorch's output-length formula to give the other operand's
//    length, and the stem's input padded or trimmed where it enters to the length the inverted
//    formula gives (consistent against a table added whole, the model's designed length);
//  - a table added whole to tokens that a later cat lengthens by its extra rows (ViT's class
//    token): the add moved after the cat; a table short of the tokens an earlier cat joined by
//    exactly those: the add moved before the cat, onto the piece it has rows for.
//  - GQA keys and values repeat_interleave'd by another count than query heads // key heads: that
//    count;
//  - a mask that does not fit its argument but is also given, by name, to another mask argument
//    that it fits (the encoder's src_mask as memory_mask): dropped from this argument;
//  - an image's pixel mask flattened as the mask of a feature map's positions: every s-th pixel
//    taken first (mask[:, ::32, ::32]), for the one stride s that gives the keys' count.
std::vector<Fix> repair_candidates(const Spec& spec, const Report& report, const std::vector<Diagnostic*>& targets,
                                   const std::vector<AskedShape>& asked);

}  // namespace mhacheck
