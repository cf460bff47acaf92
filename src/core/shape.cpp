#include "mhacheck/shape.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_set>

#include <fmt/format.h>

namespace mhacheck {

namespace {
// Every symbol text made so far. A node-based set: its strings never move, so Symbols point
// into it; never freed (the texts are few: a spec's dim names and their products), and so also
// valid in objects destroyed at exit.
struct SymbolTexts {
  std::mutex mutex;
  std::unordered_set<std::string> texts;
};
SymbolTexts& symbol_texts() {
  static SymbolTexts* texts = new SymbolTexts;
  return *texts;
}
}  // namespace

Symbol::Symbol(std::string_view text) {
  if (text.empty()) return;
  SymbolTexts& table = symbol_texts();
  std::lock_guard<std::mutex> lock(table.mutex);
  text_ = &*table.texts.emplace(text).first;
}

const std::string& Symbol::str() const {
  static const std::string none;
  return text_ != nullptr ? *text_ : none;
}

namespace {
bool identifier_char(char c, bool first) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

// An opaque size (cat's "P+T", slicing's "(T+1)//2") is one symbol whose text is not an
// identifier: multiplied, it is written in parentheses, or "2*P+T" would read as 2*P + T.
bool opaque(std::string_view factor) {
  return std::any_of(factor.begin(), factor.end(), [](char c) { return !identifier_char(c, false); });
}

// The identifiers an opaque size is made of: {"P", "T"} for "P+T", {"T"} for "(T+1)//2".
std::vector<std::string> identifiers_in(std::string_view text) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < text.size();) {
    if (!identifier_char(text[i], true)) {
      ++i;
      continue;
    }
    std::size_t start = i;
    while (i < text.size() && identifier_char(text[i], false)) ++i;
    names.emplace_back(text.substr(start, i - start));
  }
  return names;
}

std::string grouped(const std::string& factor) { return opaque(factor) ? fmt::format("({})", factor) : factor; }

// The index of the ')' that closes the '(' at `open`; npos when unbalanced.
std::size_t closing(std::string_view text, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')' && --depth == 0) return i;
  }
  return std::string_view::npos;
}
}  // namespace

std::vector<std::string> DimExpr::factors() const {
  if (is_constant()) return {};
  std::vector<std::string> result = split_at(symbol.str(), '*');
  if (result.size() > 1) {  // an opaque factor of a product is kept in its parentheses: "(P+T)*H"
    for (std::string& factor : result) {
      if (factor.size() > 1 && factor.front() == '(' && closing(factor, 0) == factor.size() - 1) factor = factor.substr(1, factor.size() - 2);
    }
  }
  return result;
}

std::string monomial(std::vector<std::string> factors) {
  std::sort(factors.begin(), factors.end());
  if (factors.size() == 1) return factors.front();
  std::string text;
  for (const std::string& factor : factors) {
    if (!text.empty()) text += '*';
    text += grouped(factor);
  }
  return text;
}

std::string DimExpr::str() const {
  if (is_constant()) return std::to_string(offset);
  const std::string& text = symbol.str();
  std::string written = coeff == 1 ? text : fmt::format("{}*{}", coeff, is_monomial() ? text : grouped(text));
  if (offset > 0) written += fmt::format("+{}", offset);
  if (offset < 0) written += fmt::format("-{}", -offset);
  return written;
}

namespace {
// A run of decimal digits at `pos` (advanced past it), at most kMaxDim.
std::optional<std::int64_t> read_number(std::string_view text, std::size_t& pos) {
  std::size_t start = pos;
  std::int64_t value = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    value = value * 10 + (text[pos++] - '0');
    if (value > kMaxDim) return std::nullopt;
  }
  if (pos == start) return std::nullopt;
  return value;
}

// A product of more factors than this is not a DimExpr: without a cap, substitutions like
// S0 -> S1*S1, S1 -> S2*S2, ... make a dim of 2^n factors.
constexpr std::size_t kMaxFactors = 8;

// An identifier at `pos` (advanced past it); empty when there is none.
std::string_view read_identifier(std::string_view text, std::size_t& pos) {
  std::size_t start = pos;
  while (pos < text.size() && identifier_char(text[pos], pos == start)) ++pos;
  return text.substr(start, pos - start);
}

// A parenthesised factor at `pos` (a '('), as the symbol it stands for: "(P+T)" is the opaque
// sum P+T, "((T+1)//2)" and "(T+1)//2" are the floor division "(T+1)//2". nullopt for anything
// else: "(T+1)" is T+1, no symbol.
std::optional<std::string> read_group(std::string_view text, std::size_t& pos) {
  std::size_t close = closing(text, pos);
  if (close == std::string_view::npos) return std::nullopt;
  std::optional<DimExpr> inner = parse_dim_expr(text.substr(pos + 1, close - pos - 1));
  pos = close + 1;
  if (!inner) return std::nullopt;
  if (text.substr(pos, 2) == "//") {  // slicing's ceil(length / step), as index_expression writes it
    pos += 2;
    std::optional<std::int64_t> step = read_number(text, pos);
    if (!step || *step < 2 || inner->is_constant() || inner->is_monomial() || inner->coeff != 1) return std::nullopt;
    return fmt::format("({})//{}", inner->str(), *step);
  }
  if (inner->coeff != 1 || inner->offset != 0 || inner->is_monomial() || !opaque(inner->symbol.str())) return std::nullopt;
  return inner->symbol.str();
}
}  // namespace

std::optional<DimExpr> parse_dim_expr(std::string_view text) {
  // factor ('*' factor)* [('+' | '-') number], each factor a symbol, a number (one at most) or a
  // parenthesised opaque size; or a sum of symbols, maybe with an offset: "P+T", "P+T+1".
  std::size_t pos = 0;
  std::optional<std::int64_t> coeff;
  std::vector<std::string> factors;
  for (;;) {
    if (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      std::optional<std::int64_t> number = read_number(text, pos);
      if (coeff || !number || *number < 1) return std::nullopt;
      coeff = number;
    } else if (pos < text.size() && text[pos] == '(') {
      std::optional<std::string> group = read_group(text, pos);
      if (!group) return std::nullopt;
      factors.push_back(std::move(*group));
    } else {
      std::string_view identifier = read_identifier(text, pos);
      if (identifier.empty()) return std::nullopt;
      factors.emplace_back(identifier);
    }
    if (pos == text.size() || text[pos] != '*') break;
    ++pos;
  }
  if (factors.empty()) return std::nullopt;  // a plain number is not written as a string
  if (factors.size() > kMaxFactors) return std::nullopt;
  // A lone symbol followed by "+name": cat's opaque sum, its terms sorted as cat sorts them.
  if (!coeff && factors.size() == 1 && !opaque(factors.front()) && pos + 1 < text.size() && text[pos] == '+' &&
      identifier_char(text[pos + 1], true)) {
    while (pos + 1 < text.size() && text[pos] == '+' && identifier_char(text[pos + 1], true)) {
      ++pos;
      factors.emplace_back(read_identifier(text, pos));
    }
    std::sort(factors.begin(), factors.end());
    std::string sum;
    for (const std::string& term : factors) sum += (sum.empty() ? "" : "+") + term;
    factors = {sum};
  }
  DimExpr dim{coeff.value_or(1), Symbol(monomial(std::move(factors))), 0};
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    bool minus = text[pos++] == '-';
    std::optional<std::int64_t> offset = read_number(text, pos);
    if (!offset) return std::nullopt;
    dim.offset = minus ? -*offset : *offset;
  }
  if (pos != text.size()) return std::nullopt;
  return dim;
}

namespace {
std::string joined(const Shape& shape) {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += shape[i].str();
  }
  return text;
}
}  // namespace

std::string tuple_str(const Shape& shape) {
  return shape.size() == 1 ? fmt::format("({},)", shape[0].str()) : fmt::format("({})", joined(shape));
}

std::string torch_size_str(const Shape& shape) { return fmt::format("torch.Size([{}])", joined(shape)); }


std::optional<DimExpr> dim_add(const DimExpr& a, std::int64_t b) {
  DimExpr result = a;
  if (__builtin_add_overflow(a.offset, b, &result.offset)) return std::nullopt;
  return result;
}

std::optional<DimExpr> dim_add(const DimExpr& a, const DimExpr& b) {
  if (b.is_constant()) return dim_add(a, b.offset);
  if (a.is_constant()) return dim_add(b, a.offset);
  if (a.symbol != b.symbol) return std::nullopt;
  DimExpr result = a;
  if (__builtin_add_overflow(a.offset, b.offset, &result.offset) || __builtin_add_overflow(a.coeff, b.coeff, &result.coeff)) {
    return std::nullopt;
  }
  if (result.coeff == 0) result.symbol.clear();
  return result;
}

std::optional<DimExpr> dim_mul(const DimExpr& a, std::int64_t b) {
  DimExpr result = a;
  if (__builtin_mul_overflow(a.offset, b, &result.offset)) return std::nullopt;
  if (__builtin_mul_overflow(a.coeff, b, &result.coeff)) return std::nullopt;
  if (result.coeff == 0) result.symbol.clear();
  return result;
}

std::optional<DimExpr> dim_mul(const DimExpr& a, const DimExpr& b) {  // opaque factors stay grouped (monomial)
  if (a.is_constant()) return dim_mul(b, a.offset);
  if (b.is_constant()) return dim_mul(a, b.offset);
  if (a.offset != 0 || b.offset != 0) return std::nullopt;  // (S+1)*T has two terms
  DimExpr product{0, {}, 0};
  if (__builtin_mul_overflow(a.coeff, b.coeff, &product.coeff)) return std::nullopt;
  std::vector<std::string> factors = a.factors(), more = b.factors();
  factors.insert(factors.end(), more.begin(), more.end());
  if (factors.size() > kMaxFactors) return std::nullopt;
  product.symbol = Symbol(monomial(std::move(factors)));
  return product;
}

std::string numel_str(const Shape& shape) {
  std::int64_t product = 1;
  std::vector<std::string> symbolic;
  for (const DimExpr& dim : shape) {
    if (dim.is_constant()) {
      if (__builtin_mul_overflow(product, dim.offset, &product)) return "(too large)";
    } else {
      bool product_of_symbols = dim.coeff == 1 && dim.offset == 0;  // S, B*T
      symbolic.push_back(product_of_symbols ? dim.str() : fmt::format("({})", dim.str()));
    }
  }
  if (symbolic.empty()) return std::to_string(product);
  std::string text = product == 1 ? "" : std::to_string(product) + "*";
  for (std::size_t i = 0; i < symbolic.size(); ++i) text += (i ? "*" : "") + symbolic[i];
  return text;
}

void Symbols::bind(const std::string& symbol, std::int64_t value) {
  substitutions_[symbol] = DimExpr::constant(value);
}

namespace {
using Substitutions = std::map<std::string, DimExpr>;

// `dim` with every substitution applied. The substitutions never form cycles (require_equal
// records one only when its right side's symbols have none), so the recursion ends; `resolved`
// holds each symbol's result so that a symbol reached along many paths is resolved once. A
// result that is not a DimExpr ((S+1)*T, too many factors) or overflows leaves `dim` as it is:
// still true, only less resolved.
DimExpr resolve_with(const Substitutions& substitutions, const DimExpr& dim, Substitutions& resolved);

// An opaque size ("P+T", "(T+1)//2") with no substitution of its own, computed from its terms
// once they resolve: "P+T" with P and T bound is their sum, with P alone bound T+20; "(T+1)//2"
// with T bound is the number. nullopt when the terms do not make one dim (P+T, both unbound).
std::optional<DimExpr> resolve_opaque(const Substitutions& substitutions, const std::string& text, Substitutions& resolved) {
  if (text.size() > 1 && text.front() == '(') {  // "(inner)//step", as read_group writes it
    std::size_t close = closing(text, 0), pos = close + 3;
    if (close == std::string::npos || text.compare(close + 1, 2, "//") != 0) return std::nullopt;
    std::optional<DimExpr> inner = parse_dim_expr(std::string_view(text).substr(1, close - 1));
    std::optional<std::int64_t> step = read_number(text, pos);
    if (!inner || !step || *step < 1 || pos != text.size()) return std::nullopt;
    DimExpr value = resolve_with(substitutions, *inner, resolved);
    if (!value.is_constant() || value.offset < 0) return std::nullopt;
    return DimExpr::constant(value.offset / *step);
  }
  std::vector<std::string> terms = split_at(text, '+'), unbound;
  if (terms.size() < 2) return std::nullopt;
  std::int64_t bound = 0;
  std::optional<DimExpr> sum = DimExpr::constant(0);
  for (const std::string& term : terms) {
    DimExpr value = resolve_with(substitutions, DimExpr::named(term), resolved);
    if (value.is_constant() ? __builtin_add_overflow(bound, value.offset, &bound) : false) return std::nullopt;
    if (!value.is_constant()) unbound.push_back(term);
    if (sum) sum = dim_add(*sum, value);
  }
  if (sum) return sum;
  // Terms left unbound stay an opaque sum of their own ("Q+T" + 20), as cat writes one.
  if (unbound.size() == terms.size()) return std::nullopt;
  std::sort(unbound.begin(), unbound.end());
  std::string rest = unbound.front();
  for (std::size_t i = 1; i < unbound.size(); ++i) rest += "+" + unbound[i];
  return DimExpr{1, Symbol(rest), bound};
}

DimExpr resolve_with(const Substitutions& substitutions, const DimExpr& dim, Substitutions& resolved) {
  if (dim.is_constant()) return dim;
  std::optional<DimExpr> value = DimExpr::constant(dim.coeff);
  if (dim.is_monomial()) {
    for (const std::string& factor : dim.factors()) {
      if (value) value = dim_mul(*value, resolve_with(substitutions, DimExpr::named(factor), resolved));
    }
  } else {
    auto it = substitutions.find(dim.symbol.str());
    if (it == substitutions.end()) {
      if (!opaque(dim.symbol.str())) return dim;
      std::optional<DimExpr> computed = resolve_opaque(substitutions, dim.symbol.str(), resolved);
      if (!computed || *computed == DimExpr::named(dim.symbol.str())) return dim;
      value = dim_mul(*computed, dim.coeff);
    } else if (it->second.is_constant()) {
      // A symbol bound to a size, as most are, is resolved already: remembering it in
      // `resolved` would cost an allocation for every dim resolved.
      value = dim_mul(it->second, dim.coeff);
    } else {
      auto done = resolved.find(dim.symbol.str());
      if (done == resolved.end()) done = resolved.emplace(dim.symbol.str(), resolve_with(substitutions, it->second, resolved)).first;
      value = dim_mul(done->second, dim.coeff);
    }
  }
  if (value) value = dim_add(*value, dim.offset);
  return value ? *value : dim;
}

// A dim as a sum of terms (symbol -> coefficient) and a constant, reading an opaque sum ("P+T",
// cat's length) as its terms: P and P+T then share the term P. Other symbols (S, B*T, "(T+1)//2")
// are one term each. Overflow gives nullopt.
struct LinearForm {
  std::map<std::string, std::int64_t> terms;
  std::int64_t constant = 0;
};

std::optional<LinearForm> linear_form(const DimExpr& dim) {
  LinearForm form;
  form.constant = dim.offset;
  if (dim.is_constant()) return form;
  const std::string& text = dim.symbol.str();
  const bool sum = opaque(text) && !dim.is_monomial() && text.front() != '(';
  for (const std::string& term : sum ? split_at(text, '+') : std::vector<std::string>{text}) {
    if (__builtin_add_overflow(form.terms[term], dim.coeff, &form.terms[term])) return std::nullopt;
  }
  return form;
}

// a - b as a LinearForm with the terms that cancel removed; nullopt on overflow.
std::optional<LinearForm> difference(const DimExpr& a, const DimExpr& b) {
  std::optional<LinearForm> left = linear_form(a), right = linear_form(b);
  if (!left || !right) return std::nullopt;
  if (__builtin_sub_overflow(left->constant, right->constant, &left->constant)) return std::nullopt;
  for (const auto& [term, coeff] : right->terms) {
    if (__builtin_sub_overflow(left->terms[term], coeff, &left->terms[term])) return std::nullopt;
  }
  std::erase_if(left->terms, [](const auto& entry) { return entry.second == 0; });
  return left;
}

// Whether a and b share a term of an opaque sum (P and P+T, P+T and Q+T): compared term by term,
// the shared terms cancel, and the rest decides.
bool share_sum_term(const DimExpr& a, const DimExpr& b) {
  std::optional<LinearForm> left = linear_form(a), right = linear_form(b);
  if (!left || !right || (left->terms.size() < 2 && right->terms.size() < 2)) return false;
  return std::any_of(left->terms.begin(), left->terms.end(), [&](const auto& entry) { return right->terms.contains(entry.first); });
}
}  // namespace

DimExpr Symbols::resolve(const DimExpr& dim) const {
  Substitutions resolved;
  return resolve_with(substitutions_, dim, resolved);
}

Shape Symbols::resolve(const Shape& shape) const {
  Shape resolved;
  resolved.reserve(shape.size());  // one allocation, not one per doubling
  for (const DimExpr& dim : shape) resolved.push_back(resolve(dim));
  return resolved;
}

Symbols::Verdict Symbols::compare(const DimExpr& a_raw, const DimExpr& b_raw) const {
  DimExpr a = resolve(a_raw), b = resolve(b_raw);
  if (a == b) return Verdict::Equal;
  if (a.is_constant() && b.is_constant()) return Verdict::Unequal;
  if (share_sum_term(a, b)) {
    // P == P+T is T == 0, P+T == P+3 is T == 3: the shared terms cancel. What is left holds for
    // no positive sizes when every term has the same sign and the constant does not oppose it.
    std::optional<LinearForm> rest = difference(a, b);
    if (rest) {
      if (rest->terms.empty()) return rest->constant == 0 ? Verdict::Equal : Verdict::Unequal;
      const bool all_positive = std::all_of(rest->terms.begin(), rest->terms.end(), [](const auto& e) { return e.second > 0; });
      const bool all_negative = std::all_of(rest->terms.begin(), rest->terms.end(), [](const auto& e) { return e.second < 0; });
      if ((all_positive && rest->constant >= 0) || (all_negative && rest->constant <= 0)) return Verdict::Unequal;
      if (rest->terms.size() == 1) {
        const std::int64_t coeff = rest->terms.begin()->second;
        if (rest->constant % coeff != 0 || -rest->constant / coeff <= 0) return Verdict::Unequal;
      }
      return Verdict::EqualIf;
    }
  }
  if (a.symbol == b.symbol) {
    // c1*X + o1 == c2*X + o2 holds for at most one X (X a symbol or a product of them).
    if (a.coeff == b.coeff) return Verdict::Unequal;
    std::int64_t numerator = b.offset - a.offset, denominator = a.coeff - b.coeff;
    if (numerator % denominator != 0 || numerator / denominator <= 0) return Verdict::Unequal;
    return Verdict::EqualIf;
  }
  if (b.is_constant() || a.is_constant()) {
    const DimExpr& symbolic = a.is_constant() ? b : a;
    const DimExpr& constant = a.is_constant() ? a : b;
    std::int64_t numerator = constant.offset - symbolic.offset;
    if (numerator % symbolic.coeff != 0 || numerator / symbolic.coeff <= 0) return Verdict::Unequal;
    return Verdict::EqualIf;
  }
  return Verdict::EqualIf;
}

Symbols::Equality Symbols::require_equal(const DimExpr& a_raw, const DimExpr& b_raw) {
  DimExpr a = resolve(a_raw), b = resolve(b_raw);
  Verdict verdict = compare(a, b);
  if (verdict != Verdict::EqualIf) return {verdict, {}};
  std::string condition = fmt::format("{} == {}", a.str(), b.str());
  if (share_sum_term(a, b)) {
    // Sizes that share a term of an opaque sum are compared by what is left once it cancels:
    // P+T == P+3 records T == 3 and P+T == Q+T records P == Q, never "P+T" standing for
    // something made of its own terms. Anything else stays a condition.
    std::optional<LinearForm> rest = difference(a, b);
    if (!rest) return {verdict, condition};
    auto record = [&](const std::string& symbol, const DimExpr& value) {
      if (opaque(symbol) || substitutions_.contains(symbol)) return;
      if (!value.is_constant() && (opaque(value.symbol.str()) || substitutions_.contains(value.symbol.str()))) return;
      substitutions_[symbol] = value;
      condition = fmt::format("{} == {}", symbol, value.str());
    };
    const auto& terms = rest->terms;
    if (terms.size() == 1) {
      const auto& [symbol, coeff] = *terms.begin();
      condition = fmt::format("{} == {}", symbol, -rest->constant / coeff);
      record(symbol, DimExpr::constant(-rest->constant / coeff));
    } else if (terms.size() == 2 && terms.begin()->second == -std::next(terms.begin())->second &&
               std::abs(terms.begin()->second) == 1) {
      // X - Y + c == 0 (or -X + Y + c == 0): X == Y - c, solved for the one with coefficient 1.
      const auto& [first, first_coeff] = *terms.begin();
      const auto& [second, second_coeff] = *std::next(terms.begin());
      const std::string& solved = first_coeff == 1 ? first : second;
      const std::string& other = first_coeff == 1 ? second : first;
      (void)second_coeff;
      condition = fmt::format("{} == {}", solved, DimExpr{1, Symbol(other), -rest->constant}.str());
      record(solved, DimExpr{1, Symbol(other), -rest->constant});
    }
    return {verdict, condition};
  }
  // Record a substitution symbol -> expression that makes a == b, when one is integral. Only a
  // single symbol is solved for: B*T == 12 says nothing about B or T alone, and S == S*T (T == 1)
  // would make S stand for an expression of itself.
  auto solve_for = [&](const DimExpr& lhs, const DimExpr& rhs) -> bool {
    if (lhs.is_monomial()) return false;
    std::vector<std::string> rhs_factors = rhs.factors();
    if (rhs.is_monomial() && std::find(rhs_factors.begin(), rhs_factors.end(), lhs.symbol) != rhs_factors.end()) return false;
    // An opaque factor is resolved from the symbols it is made of (P+T from P and T): P == P+T
    // would make P stand for an expression of itself, and its symbols count as factors below.
    for (const std::string& factor : std::vector<std::string>(rhs_factors)) {
      if (!opaque(factor)) continue;
      for (std::string& term : identifiers_in(factor)) {
        if (term == lhs.symbol.str()) return false;
        rhs_factors.push_back(std::move(term));
      }
    }
    // A right side that resolve could not finish ((S+1)*T stays X*T when X -> S+1) may hide
    // lhs in a factor's substitution: recording it could make a cycle. Symbols without
    // substitutions on the right side keep the substitutions acyclic.
    for (const std::string& factor : rhs_factors) {
      if (substitutions_.contains(factor)) return false;
    }
    // lhs.coeff * X + lhs.offset == rhs  =>  X == (rhs - lhs.offset) / lhs.coeff
    if (rhs.is_constant() || rhs.symbol != lhs.symbol) {
      if (rhs.coeff % lhs.coeff != 0 || (rhs.offset - lhs.offset) % lhs.coeff != 0) return false;
      DimExpr target{rhs.coeff / lhs.coeff, rhs.symbol, (rhs.offset - lhs.offset) / lhs.coeff};
      if (target.coeff == 0) target.symbol.clear();
      substitutions_[lhs.symbol.str()] = target;
      condition = fmt::format("{} == {}", lhs.symbol, target.str());
      return true;
    }
    std::int64_t value = (rhs.offset - lhs.offset) / (lhs.coeff - rhs.coeff);
    substitutions_[lhs.symbol.str()] = DimExpr::constant(value);
    condition = fmt::format("{} == {}", lhs.symbol, value);
    return true;
  };
  if (!a.is_constant() && solve_for(a, b)) return {verdict, condition};
  if (!b.is_constant()) solve_for(b, a);
  return {verdict, condition};
}

}  // namespace mhacheck
