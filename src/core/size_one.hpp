// Whether a size may be 1: broadcasting stretches a size of 1, so two different sizes that may
// be 1 make a call valid only under that condition (MHA080), not an error.
#pragma once

#include "mhacheck/shape.hpp"

namespace mhacheck {

// `size` resolved through the symbol table. A symbol is taken as not 1 (a dim worth naming is
// not a single element), but S-1 is 1 at S == 2 (and 2*S-3 at S == 2).
inline bool may_be_one(const DimExpr& size) {
  if (size.is_constant()) return size.offset == 1;
  std::int64_t numerator = 1 - size.offset;
  return numerator % size.coeff == 0 && numerator / size.coeff >= 2;
}

}  // namespace mhacheck
