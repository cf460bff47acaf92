// Dim roles: what a dim stands for (a batch, a sequence, heads, ...), read from the name it was
// written with. Names are kept per dim (ArgValue::dim_names) after "dims" binds them to numbers
// and carried through every call, so a role check sees "B" in a Linear's output as well.
#pragma once

#include <string>
#include <vector>

#include "core/text.hpp"
#include "mhacheck/shape.hpp"

namespace mhacheck {

enum class DimRole { Unknown, Batch, Sequence, Heads, HeadDim };

// The role a dim's name says it plays: "B", "batch", "bsz" -> Batch; "T", "L", "seq_len" ->
// Sequence; "H", "heads", "num_heads" -> Heads; "D", "head_dim" -> HeadDim; anything else,
// including a product of names (B*T), Unknown.
DimRole role_of_name(const std::string& name);
// The role of dim `dim` of a tensor whose dims are named `names`, read in context: "N" is
// PyTorch's batch ((L, N, E) in its docs) but the token count in timm's (B, N, C), DETR's and
// Perceiver's latents (B, N, D), so an N beside a dim named as a batch (B, bsz) is a sequence.
// Otherwise role_of_name(names[dim]); Unknown for a dim without a name (or past `names`).
DimRole role_of_dim(const std::vector<std::string>& names, int dim);
const char* role_name(DimRole role);
// Whether a dim's name says batch without doubt: role_of_name's batch names except PyTorch's N,
// which also counts the nodes, points or bag instances that a pooling reduces on purpose (PyG's
// softmax(gate, dim=0) over (N, 1), PointNet's max over points).
bool explicit_batch_name(const std::string& name);  // "batch size", "sequence length", "head count", "head size"

// The role an einsum subscript letter conventionally labels, a hint only: b a batch, h heads,
// q, k, l, s, t a sequence, d the head size (features); any other letter (n is written for a
// batch and for heads alike; upper-case letters are generic labels), Unknown.
DimRole role_of_subscript(char letter);

// The name of each dim of a written shape: its symbol when it is a plain symbol, else "".
std::vector<std::string> written_names(const Shape& written);

// A merged dim's name lists its factors in memory order, outer first ("B*H": B's entries are
// H*... elements apart, H's next to each other), since view and reshape read memory row-major
// and B*H is not H*B there. The factors of such a name ({"B", "H"}; {"T"} for a plain name);
// empty when `name` is not identifiers joined by '*'.
std::vector<std::string> name_factors(const std::string& name);
std::string merged_name(const std::vector<std::string>& factors);  // "B*H"
// A merged dim's factors as written, integer counts included: "B*8" ({"B", "8"}) holds each batch
// entry's 8 frames next to each other. A count written first ("8*B", "7*h") is how sizes are
// written whatever the memory order (the tracer's form too), so it gives nothing. Empty unless
// two or more identifiers and integers joined by '*', the first an identifier.
std::vector<std::string> written_factors(const std::string& name);
// A name made of integer counts only ("196", "8*196"): flatten keeps so, outer first, the sizes of
// the unnamed dims it merges, for a later reshape to know their order. Shown, it says no more
// than the size.
bool count_name(const std::string& name);

// What True (or 1) means in a mask, read from its name: "pad", "padding_mask",
// "key_padding_mask" mark padding (True = ignore); "attention_mask" (Hugging Face), "keep",
// "valid" mark what takes part (1 = keep), as do names of entries that are there ("node_mask",
// "real", "exist", "observed") and a graph's adjacency ("adj", "edges", "connectivity": True =
// linked); negated ("no_edge", "disconnected") True = ignore.
enum class MaskConvention { Unknown, TrueIgnores, TrueKeeps };
MaskConvention mask_convention_of_name(const std::string& name);

}  // namespace mhacheck
