// The number of elements of a shape with symbols: a constant times a product of symbols
// (8*B*T), kept as exponents so that quotients can be taken. Enough to check reshape's element
// count and infer its -1, and to flatten dims.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "mhacheck/shape.hpp"

namespace mhacheck {

struct SizeProduct {
  std::int64_t constant = 1;
  std::map<std::string, int> powers;  // symbol -> exponent

  // The product of `shape`'s dims; nullopt when a dim is not a multiple of a symbol or of a
  // product of them (S+1), or the constant overflows.
  static std::optional<SizeProduct> of(const Shape& shape);
  bool is_constant() const { return powers.empty(); }
  // As a dim: a constant or a multiple of a monomial (8*B*T).
  DimExpr as_dim() const;
  friend bool operator==(const SizeProduct&, const SizeProduct&) = default;
};

// numerator / denominator when the quotient is certainly whole and a SizeProduct; nullopt when
// it is not, or not known to be (a symbol's value could make it whole).
std::optional<SizeProduct> exact_quotient(const SizeProduct& numerator, const SizeProduct& denominator);

}  // namespace mhacheck
