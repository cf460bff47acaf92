// What only the values show: masks that PyTorch accepts but that do not mean what they are used
// for, and inputs that are not finite. `mhacheck run` applies these to the data it loads from
// files (never to the random data of --random-inputs nor to generated masks).
#pragma once

#include <optional>
#include <string>

#include "mhacheck/npy.hpp"

namespace mhacheck {

// How the called operator reads a mask: bool True = ignore (nn.MultiheadAttention and the
// Transformer modules) or True = take part (F.scaled_dot_product_attention); floats are added.
enum class MaskReading { TrueIgnores, TrueKeeps };

struct MaskFinding {
  enum class Kind { FloatBinary, RepeatNotInterleave, SeesFuture } kind;
  std::string message;
  std::string note;
};

// A float mask of only 0 and 1 (added: it masks nothing).
std::optional<MaskFinding> float_binary_mask(const Array& mask);
// A 3-D (N*H, L, S) mask laid out as mask.repeat(H, 1, 1) of an (N, L, S) mask: entry i is batch
// i % N's, where nn.MultiheadAttention reads entry b*H + h as batch b's.
std::optional<MaskFinding> repeated_not_interleaved(const Array& mask, std::int64_t batch, std::int64_t heads);
// A mask meant to be causal (its name says so, or is_causal=True says it is) that lets query
// row l attend to a key position s > l.
std::optional<MaskFinding> causal_sees_future(const Array& mask, MaskReading reading);
// The number of NaN and infinite elements of a floating input.
std::int64_t non_finite_count(const Array& input);

}  // namespace mhacheck
