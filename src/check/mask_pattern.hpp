// What a mask's matrix (its last two dims: query row i, key column j) holds, derived from the calls
// that make it. Every mask a triangle call makes is a function of the offset j - i alone: tril
// keeps the offsets up to its diagonal, triu those from it, and comparisons, ~, &, |, masked_fill,
// casts and arithmetic with numbers act on each value. So the pattern is a piecewise constant
// function of the offset. The values of a declared tensor are known only from its name, as a spec
// states them (`ones`, `zeros`, `neg_inf`), the way `attention_mask` states 1 = keep.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/spec.hpp"

namespace mhacheck {

struct MaskPattern {
  static constexpr std::int64_t kNoLowerEnd = std::numeric_limits<std::int64_t>::min();
  // Piece k holds `value` from offset `start` up to the next piece's start (the last piece up to
  // +infinity); the first piece starts at kNoLowerEnd. Bool values are 1 and 0.
  struct Piece {
    std::int64_t start;
    double value;
  };
  std::vector<Piece> pieces;
  bool boolean = false;
  int rank = 0;  // the tensor's number of dims
  // The last two dims as written ("T", "6"), while known: a view or reshape that writes them again
  // last keeps every matrix whole (nanoGPT's tril(ones(T, T)).view(1, 1, T, T)).
  std::vector<std::string> matrix;
  // The tril and triu calls the values went through, nearest the declared tensor first; the
  // calls that joined two masks (logical_and/or, bitwise_and/or).
  std::vector<const CallDecl*> triangles, joins;

  double at(std::int64_t offset) const;
  bool constant() const { return pieces.size() <= 1; }
};

// A change tried on the graph before it is patched: another diagonal for a triangle call, its
// output transposed in its last two dims, or the other operator for a join (& for |).
struct PatternEdit {
  const CallDecl* call = nullptr;
  std::optional<std::int64_t> diagonal;
  bool transpose_after = false;
  bool swap_join = false;
};

// The pattern of the tensor `name` made by `producer` (null: declared); nullopt when a call on the
// way is not one whose effect on the values is known, or the declared name says nothing.
std::optional<MaskPattern> mask_pattern(const Spec& spec, const std::string& name, const CallDecl* producer, const PatternEdit& edit = {});

// The value every element of the declared tensor `name` holds: its "fill" when the spec writes one
// ({"shape": [...], "fill": 0}), else the value its name says as a whole word (zeros, zero_pad,
// ones, neg_inf; not "nonzero"); nullopt when neither says.
std::optional<double> declared_value(const Spec& spec, const TensorDecl& declared, const std::string& name);

// How the consumer reads the mask: bool True = take part (F.scaled_dot_product_attention), bool
// True = left out (nn.MultiheadAttention, the Transformer modules, masked_fill's mask), a float
// added to the scores (left out where very negative).
enum class MaskReading { TrueKeeps, TrueIgnores, Additive };

// Whether `value`, read as `reading`, lets a query attend to the key.
bool lets_attend(MaskReading reading, double value);

// Whether the pattern, read as `reading`, is the causal mask of a square (L, L) matrix: each query
// sees its own position and its past, nothing after. `size` is L when known (else every offset).
bool square_causal(const MaskPattern& pattern, MaskReading reading, std::optional<std::int64_t> size);

// What a causal-looking mask (one made by a triangle, whatever the calls after it made of it) does wrong, read as `reading`: a query sees a
// key after its own position, its own position is hidden, rows with no key at all. `shift` is
// S - L (the offset of each query's own key: 0 for a square mask), nullopt when unknown; `keys`
// and `queries` the sizes when known.
struct CausalFault {
  bool sees_future = false;
  bool hides_own = false;
  bool first_row_empty = false;
  std::optional<std::int64_t> empty_rows;  // how many rows have no key, when the sizes are known
};
std::optional<CausalFault> causal_fault(const MaskPattern& pattern, MaskReading reading, std::optional<std::int64_t> shift,
                                        std::optional<std::int64_t> queries, std::optional<std::int64_t> keys);

}  // namespace mhacheck
