// The shape algebra: a dimension is a known integer or `coeff * symbol + offset` for a symbol
// whose value is not known. That is all nn.MultiheadAttention needs (N * num_heads, S + 1), and
// it keeps equality decidable. All arithmetic is overflow-checked.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mhacheck {

// Dims above this are refused as input; products stay far from int64 overflow.
constexpr std::int64_t kMaxDim = std::int64_t{1} << 40;

struct DimExpr {
  std::int64_t coeff = 0;  // 0 when the dim is a constant
  std::string symbol;      // empty when the dim is a constant
  std::int64_t offset = 0;  // the value itself for a constant

  static DimExpr constant(std::int64_t value) { return DimExpr{0, {}, value}; }
  static DimExpr named(std::string symbol) { return DimExpr{1, std::move(symbol), 0}; }

  bool is_constant() const { return symbol.empty(); }
  bool is_plain_symbol() const { return !symbol.empty() && coeff == 1 && offset == 0; }
  std::string str() const;  // "512", "S", "S+1", "8*B"

  friend bool operator==(const DimExpr&, const DimExpr&) = default;
};

using Shape = std::vector<DimExpr>;

// "(32, 1, 512)" as Python prints a tuple; "(10,)" for one dim.
std::string tuple_str(const Shape& shape);
// "torch.Size([32, 1, 512])" as PyTorch prints a shape.
std::string torch_size_str(const Shape& shape);

// Overflow-checked arithmetic on dims; nullopt when the result is not a DimExpr (a product of
// two symbols) or overflows.
std::optional<DimExpr> dim_add(const DimExpr& a, std::int64_t b);
std::optional<DimExpr> dim_add(const DimExpr& a, const DimExpr& b);  // S + S = 2*S; S + T is not a DimExpr
std::optional<DimExpr> dim_mul(const DimExpr& a, std::int64_t b);
std::optional<DimExpr> dim_mul(const DimExpr& a, const DimExpr& b);
// The product of all dims as text, for messages like "input of size 163840" ("10*L*512" when
// symbolic).
std::string numel_str(const Shape& shape);
// A dim written as text, as DimExpr::str() writes it: "B", "8*B" (or "B*8"), "T+1", "2*S-1".
// nullopt for anything else (a product of two symbols, spaces, a coefficient below 1, a size
// above kMaxDim).
std::optional<DimExpr> parse_dim_expr(std::string_view text);

// What the pass knows about symbols: values bound in the spec's "dims", and the substitutions
// that equalities forced. Each forced substitution is reported to the caller, who warns.
// A symbol stands for a positive size: an equality that only holds for 0 does not hold.
class Symbols {
 public:
  void bind(const std::string& symbol, std::int64_t value);

  // `dim` with every known substitution applied.
  DimExpr resolve(const DimExpr& dim) const;
  Shape resolve(const Shape& shape) const;

  enum class Verdict { Equal, Unequal, EqualIf };
  struct Equality {
    Verdict verdict;
    std::string condition;  // for EqualIf: "S == T", "B == 2"
  };
  // Decides a == b. On EqualIf, records the substitution that makes them equal so that later
  // checks agree with it (the caller reports the condition once).
  Equality require_equal(const DimExpr& a, const DimExpr& b);
  // Compares without recording anything.
  Verdict compare(const DimExpr& a, const DimExpr& b) const;

 private:
  std::map<std::string, DimExpr> substitutions_;
};

}  // namespace mhacheck
