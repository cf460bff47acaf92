#include "ops/size_product.hpp"

namespace mhacheck {

std::optional<SizeProduct> SizeProduct::of(const Shape& shape) {
  SizeProduct product;
  for (const DimExpr& dim : shape) {
    if (!dim.is_constant() && dim.offset != 0) return std::nullopt;
    std::int64_t factor = dim.is_constant() ? dim.offset : dim.coeff;
    if (__builtin_mul_overflow(product.constant, factor, &product.constant)) return std::nullopt;
    for (const std::string& factor : dim.factors()) ++product.powers[factor];
  }
  if (product.constant == 0) product.powers.clear();  // zero elements, whatever the symbols are
  return product;
}

DimExpr SizeProduct::as_dim() const {
  if (powers.empty()) return DimExpr::constant(constant);
  std::vector<std::string> factors;
  for (const auto& [symbol, power] : powers) factors.insert(factors.end(), power, symbol);
  return DimExpr{constant, Symbol(monomial(std::move(factors))), 0};
}

std::optional<SizeProduct> exact_quotient(const SizeProduct& numerator, const SizeProduct& denominator) {
  if (denominator.constant == 0 || numerator.constant % denominator.constant != 0) return std::nullopt;
  SizeProduct quotient{numerator.constant / denominator.constant, numerator.powers};
  for (const auto& [symbol, power] : denominator.powers) {
    auto it = quotient.powers.find(symbol);
    if (it == quotient.powers.end() || it->second < power) return std::nullopt;
    if ((it->second -= power) == 0) quotient.powers.erase(it);
  }
  return quotient;
}

}  // namespace mhacheck
