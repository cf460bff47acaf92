// The shape algebra: a dimension is a known integer or `coeff * monomial + offset`, where the
// monomial is one symbol whose value is not known (N * num_heads, S + 1) or a product of symbols
// (B*T, a flattened batch and sequence). Equality stays decidable where it matters and is left
// as a condition where it is not. All arithmetic is overflow-checked.
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

// The symbol of a symbolic dim, interned: each distinct text is stored once for the process and
// a Symbol is a pointer to it, so a dim is 24 bytes, not the 48 of one holding a std::string (a
// 100,000-call spec's reports hold millions of dims), copying one copies no text, and equal
// symbols compare as pointers. Safe to make from several threads (check -j).
class Symbol {
 public:
  Symbol() = default;  // none: a constant's
  explicit Symbol(std::string_view text);  // none when empty
  const std::string& str() const;  // "" for none
  operator const std::string&() const { return str(); }
  operator std::string_view() const { return str(); }
  bool empty() const { return text_ == nullptr; }
  void clear() { text_ = nullptr; }

  friend bool operator==(const Symbol& a, const Symbol& b) { return a.text_ == b.text_; }
  friend bool operator==(const Symbol& a, std::string_view b) { return a.str() == b; }

 private:
  const std::string* text_ = nullptr;
};

struct DimExpr {
  std::int64_t coeff = 0;  // 0 when the dim is a constant
  // None when the dim is a constant; else one symbol "B" or a canonical monomial "B*T": the
  // factors sorted and joined by '*', a power repeating its factor ("T*T").
  Symbol symbol;
  std::int64_t offset = 0;  // the value itself for a constant

  static DimExpr constant(std::int64_t value) { return DimExpr{0, {}, value}; }
  static DimExpr named(std::string_view symbol) { return DimExpr{1, Symbol(symbol), 0}; }

  bool is_constant() const { return symbol.empty(); }
  bool is_monomial() const { return symbol.str().find('*') != std::string::npos; }  // 2+ factors
  bool is_plain_symbol() const { return !symbol.empty() && coeff == 1 && offset == 0 && !is_monomial(); }
  std::vector<std::string> factors() const;  // {"B", "T"} for 8*B*T+1; empty for a constant
  // "512", "S", "S+1", "8*B", "B*T+1"; a symbol that is not an identifier (an opaque size such as
  // cat's "P+T" or slicing's "(T+1)//2") is parenthesised when multiplied: "2*(P+T)", "H*(P+T)".
  std::string str() const;

  friend bool operator==(const DimExpr&, const DimExpr&) = default;
};

using Shape = std::vector<DimExpr>;

// "(32, 1, 512)" as Python prints a tuple; "(10,)" for one dim.
std::string tuple_str(const Shape& shape);
// "torch.Size([32, 1, 512])" as PyTorch prints a shape.
std::string torch_size_str(const Shape& shape);

// The canonical monomial of `factors` (in any order): "B*T" for {"T", "B"}.
std::string monomial(std::vector<std::string> factors);

// Overflow-checked arithmetic on dims; nullopt when the result is not a DimExpr ((S+1)*T, S+T)
// or overflows.
std::optional<DimExpr> dim_add(const DimExpr& a, std::int64_t b);
std::optional<DimExpr> dim_add(const DimExpr& a, const DimExpr& b);  // S + S = 2*S; S + T is not a DimExpr
std::optional<DimExpr> dim_mul(const DimExpr& a, std::int64_t b);
std::optional<DimExpr> dim_mul(const DimExpr& a, const DimExpr& b);  // B * 8*T = 8*B*T
// The product of all dims as text, for messages like "input of size 163840" ("10*L*512" when
// symbolic).
std::string numel_str(const Shape& shape);
// A dim written as text, as DimExpr::str() writes it: "B", "8*B" (or "B*8"), "T+1", "2*S-1",
// "B*T", "8*T*B+1" (factors in any order, one constant factor at most), and the opaque sizes:
// a sum of symbols "P+T" (alone, maybe with an offset: "P+T+1"), "(P+T)" as a factor
// ("2*(P+T)"), a floor division "(T+1)//2". nullopt for anything else (spaces, a coefficient
// below 1, a size above kMaxDim, "2*P+T", which reads as neither 2*(P+T) nor 2*P + T).
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
  // checks agree with it (the caller reports the condition once), when a side is one symbol
  // (S == 2*T). An equality involving a product (B*T == 12) records nothing: it is a condition
  // on several symbols at once.
  Equality require_equal(const DimExpr& a, const DimExpr& b);
  // Compares without recording anything.
  Verdict compare(const DimExpr& a, const DimExpr& b) const;

 private:
  std::map<std::string, DimExpr> substitutions_;
};

}  // namespace mhacheck
