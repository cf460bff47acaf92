// Tensor.__getitem__'s basic indexing (src/ops/index_expression.hpp).
#include "ops/index_expression.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mhacheck {
namespace {

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

std::optional<std::int64_t> integer(std::string_view text) {
  text = trimmed(text);
  std::int64_t value = 0;
  const char* begin = text.data() + (!text.empty() && text.front() == '+' ? 1 : 0);
  auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || begin == end || value > kMaxDim || value < -kMaxDim) return std::nullopt;
  return value;
}

// "T-1", "S-T", "2*B+1", "-3": terms joined by + and -, each an integer or a multiple of a symbol.
std::optional<IndexBound> index_bound(std::string_view text) {
  IndexBound bound;
  bool minus = false;
  for (std::size_t at = 0;;) {
    std::size_t next = text.find_first_of("+-", at == 0 && !text.empty() && (text[0] == '-' || text[0] == '+') ? 1 : at);
    std::string_view term = trimmed(text.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at));
    if (!term.empty() && (term.front() == '-' || term.front() == '+')) {
      minus = term.front() == '-';
      term = trimmed(term.substr(1));
    }
    if (term.empty()) return std::nullopt;
    std::int64_t sign = minus ? -1 : 1;
    if (std::optional<std::int64_t> number = integer(term)) {
      bound.constant += sign * *number;
    } else {
      std::optional<DimExpr> dim = parse_dim_expr(term);
      if (!dim || dim->offset != 0) return std::nullopt;
      std::int64_t& coeff = bound.terms[dim->symbol];
      coeff += sign * dim->coeff;
      if (coeff == 0) bound.terms.erase(dim->symbol);
    }
    if (bound.constant > kMaxDim || bound.constant < -kMaxDim) return std::nullopt;
    if (next == std::string_view::npos) return bound;
    minus = text[next] == '-';
    at = next + 1;
  }
}

// a + times * b. Saturating: written bounds and sizes are at most kMaxDim, a product of two far
// beyond any size keeps its sign, which is all a clamp asks.
IndexBound plus(IndexBound a, const IndexBound& b, std::int64_t times = 1) {
  auto add = [](std::int64_t x, std::int64_t y, std::int64_t factor) {
    constexpr std::int64_t kLimit = std::int64_t{1} << 62;
    std::int64_t product = 0, sum = 0;
    bool negative = (y < 0) != (factor < 0);
    if (__builtin_mul_overflow(y, factor, &product)) product = negative ? -kLimit : kLimit;
    if (__builtin_add_overflow(x, std::clamp(product, -kLimit, kLimit), &sum)) sum = x < 0 ? -kLimit : kLimit;
    return std::clamp(sum, -kLimit, kLimit);
  };
  a.constant = add(a.constant, b.constant, times);
  for (const auto& [symbol, coeff] : b.terms) {
    std::int64_t& sum = a.terms[symbol];
    sum = add(sum, coeff, times);
    if (sum == 0) a.terms.erase(symbol);
  }
  return a;
}

// a < 0 for every value of its symbols (each at least 1): true, false, or nullopt when it depends.
std::optional<bool> negative(const IndexBound& a) {
  bool rising = true, falling = true;
  std::int64_t at_one = a.constant;  // its value with every symbol at 1
  for (const auto& [symbol, coeff] : a.terms) {
    rising = rising && coeff > 0;
    falling = falling && coeff < 0;
    at_one += coeff;
  }
  if (a.terms.empty()) return a.constant < 0;
  if (rising) return at_one < 0 ? std::nullopt : std::optional<bool>(false);  // at least at_one
  if (falling && at_one < 0) return true;                                      // at most at_one
  return std::nullopt;
}

std::optional<bool> less(const IndexBound& a, const IndexBound& b) { return negative(plus(a, b, -1)); }

std::optional<IndexItem> item(std::string_view text, std::string& error) {
  text = trimmed(text);
  IndexItem parsed;
  if (text == "...") {
    parsed.kind = IndexItem::Kind::Ellipsis;
  } else if (text == "None") {
    parsed.kind = IndexItem::Kind::None;
  } else if (text.find(':') != std::string_view::npos) {
    parsed.kind = IndexItem::Kind::Slice;
    for (std::size_t part = 0; part < 3; ++part) {
      std::size_t colon = text.find(':');
      std::string_view piece = trimmed(text.substr(0, colon));
      if (!piece.empty() && part == 2) {
        parsed.step = integer(piece);
        if (!parsed.step) {
          error = fmt::format("\"{}\" is not an integer (a step is a number)", piece);
          return std::nullopt;
        }
      } else if (!piece.empty()) {
        std::optional<IndexBound> bound = index_bound(piece);
        if (!bound) {
          error = fmt::format("\"{}\" is not an integer or sizes added and subtracted (\"T-1\", \"S-T\", \"2*B\")", piece);
          return std::nullopt;
        }
        (part == 0 ? parsed.start : parsed.stop) = bound;
        std::optional<DimExpr> dim = bound->dim();
        if (part == 1 && dim && dim->is_plain_symbol()) parsed.stop_symbol = dim->symbol;
      }
      if (colon == std::string_view::npos) break;
      if (part == 2) {
        error = "a slice has at most two colons (start:stop:step)";
        return std::nullopt;
      }
      text.remove_prefix(colon + 1);
    }
  } else {
    std::optional<std::int64_t> value = integer(text);
    if (!value) {
      error = text.empty() ? "an empty entry" : fmt::format("\"{}\" is not an integer, slice, None or ...", text);
      return std::nullopt;
    }
    parsed.integer = *value;
  }
  return parsed;
}

IndexPlan::Failure symbol_dependent(std::size_t item, const std::string& what) { return {"", what, item}; }

}  // namespace

// ceil(length / step), the size at::slice gives, as a dim: nullopt when it is not one.
std::optional<DimExpr> slice_size(const DimExpr& length, std::int64_t step) {
  auto floor_div = [](std::int64_t a, std::int64_t b) { return a / b - (a % b != 0 && a < 0); };
  if (step == 1) return length;
  if (length.is_constant()) return DimExpr::constant(floor_div(length.offset + step - 1, step));
  if (length.coeff % step == 0) return DimExpr{length.coeff / step, length.symbol, floor_div(length.offset + step - 1, step)};
  // (T+1)//2 as one symbol; a numerator with a product in it would read as a monomial.
  DimExpr numerator = *dim_add(length, step - 1);
  std::string text = numerator.str();
  if (text.find('*') != std::string::npos) return std::nullopt;
  return DimExpr::named(fmt::format("({})//{}", text, step));
}

std::optional<IndexExpression> parse_index(std::string_view text, std::string& error) {
  text = trimmed(text);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    error = "an index is written in brackets, as in Python: \"[:, 0]\"";
    return std::nullopt;
  }
  text = text.substr(1, text.size() - 2);
  IndexExpression index;
  while (true) {
    std::size_t comma = text.find(',');
    std::string_view piece = text.substr(0, comma);
    if (comma != std::string_view::npos && trimmed(text.substr(comma + 1)).empty()) {
      index.tuple = true;  // a trailing comma
      comma = std::string_view::npos;
    } else if (comma != std::string_view::npos) {
      index.tuple = true;
    }
    std::optional<IndexItem> parsed = item(piece, error);
    if (!parsed) return std::nullopt;
    index.items.push_back(*parsed);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return index;
}

IndexBound IndexBound::of(const DimExpr& dim) {
  IndexBound bound;
  bound.constant = dim.offset;
  if (!dim.is_constant()) bound.terms[dim.symbol] = dim.coeff;
  return bound;
}

std::optional<DimExpr> IndexBound::dim() const {
  if (terms.empty()) return DimExpr::constant(constant);
  if (terms.size() > 1) return std::nullopt;
  return DimExpr{terms.begin()->second, Symbol(terms.begin()->first), constant};
}

std::string IndexBound::str() const {
  std::string text;
  for (const auto& [symbol, coeff] : terms) {
    std::string multiple = std::abs(coeff) == 1 ? symbol : fmt::format("{}*{}", std::abs(coeff), symbol);
    text += coeff < 0 ? "-" + multiple : (text.empty() ? "" : "+") + multiple;
  }
  if (constant != 0 || text.empty()) text += constant < 0 || text.empty() ? std::to_string(constant) : "+" + std::to_string(constant);
  return text;
}

std::string item_text(const IndexItem& item) {
  switch (item.kind) {
    case IndexItem::Kind::None: return "None";
    case IndexItem::Kind::Ellipsis: return "...";
    case IndexItem::Kind::Integer: return std::to_string(item.integer);
    case IndexItem::Kind::Slice: break;
  }
  std::string text = (item.start ? item.start->str() : "") + ":" + (item.stop ? item.stop->str() : "");
  return item.step ? text + ":" + std::to_string(*item.step) : text;
}

void resolve_symbols(IndexExpression& index, const Symbols& symbols) {
  for (IndexItem& entry : index.items) {
    for (std::optional<IndexBound>* bound : {&entry.start, &entry.stop}) {
      if (!*bound) continue;
      IndexBound resolved;
      resolved.constant = (*bound)->constant;
      for (const auto& [symbol, coeff] : (*bound)->terms) resolved = plus(resolved, IndexBound::of(symbols.resolve(DimExpr::named(symbol))), coeff);
      *bound = resolved;
    }
  }
}

std::optional<bool> dim_less(const DimExpr& a, const DimExpr& b) {
  if (!a.is_constant() && !b.is_constant() && a.symbol != b.symbol) return std::nullopt;
  // b - a = coeff * S + offset, with S >= 1.
  std::int64_t coeff = b.coeff - a.coeff, offset = b.offset - a.offset;
  if (coeff == 0) return offset > 0;
  if (coeff > 0 && coeff + offset > 0) return true;
  if (coeff < 0 && coeff + offset <= 0) return false;
  return std::nullopt;
}

Shape IndexPlan::shape() const {
  Shape out;
  for (const IndexedDim& dim : dims) out.push_back(dim.size);
  return out;
}

std::optional<std::size_t> index_entry_of(const IndexExpression& index, std::size_t rank, std::size_t source) {
  std::size_t specified = 0;
  for (const IndexItem& item : index.items) specified += item.kind == IndexItem::Kind::Integer || item.kind == IndexItem::Kind::Slice;
  std::size_t dim = 0;
  for (std::size_t i = 0; i < index.items.size(); ++i) {
    switch (index.items[i].kind) {
      case IndexItem::Kind::None: break;
      case IndexItem::Kind::Ellipsis: dim += rank >= specified ? rank - specified : 0; break;
      default:
        if (dim == source) return i;
        ++dim;
    }
  }
  return std::nullopt;
}

IndexPlan plan_index(const IndexExpression& index, const Shape& shape) {
  IndexPlan plan;
  const int rank = static_cast<int>(shape.size());
  for (int d = 0; d < rank; ++d) plan.dims.push_back({d, IndexBound{}, 1, shape[static_cast<std::size_t>(d)], ""});
  int specified = 0;
  for (const IndexItem& entry : index.items) specified += entry.kind == IndexItem::Kind::Integer || entry.kind == IndexItem::Kind::Slice;
  if (index.tuple && specified > rank) {
    plan.failure = IndexPlan::Failure{"IndexError", fmt::format("too many indices for tensor of dimension {}", rank), 0};
    return plan;
  }
  int dim = 0;  // the dim of the result so far that the next entry indexes
  for (std::size_t i = 0; i < index.items.size(); ++i) {
    const IndexItem& entry = index.items[i];
    int current_rank = static_cast<int>(plan.dims.size());
    switch (entry.kind) {
      case IndexItem::Kind::None:
        plan.dims.insert(plan.dims.begin() + dim, IndexedDim{});
        ++dim;
        break;
      case IndexItem::Kind::Ellipsis: dim += rank - specified; break;
      case IndexItem::Kind::Integer: {
        // PyTorch reads the size of a dim past the end as 0 (a 0-D tensor, or x[..., ..., 0]).
        DimExpr size = dim < current_rank ? plan.dims[static_cast<std::size_t>(dim)].size : DimExpr::constant(0);
        if (entry.integer == 0 && dim == 0 && rank == 0) {
          plan.failure = IndexPlan::Failure{"IndexError",
                                            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to "
                                            "convert a 0-dim tensor to a number",
                                            i};
          return plan;
        }
        std::optional<bool> inside;
        if (entry.integer >= 0) {
          inside = dim_less(DimExpr::constant(entry.integer), size);
        } else if (std::optional<bool> shorter = dim_less(size, DimExpr::constant(-entry.integer))) {
          inside = !*shorter;
        }
        if (!inside) {
          plan.failure = symbol_dependent(i, fmt::format("whether index {} is inside a dim of size {} depends on {}'s value", entry.integer,
                                                         size.str(), size.symbol));
          return plan;
        }
        if (!*inside) {
          plan.failure = IndexPlan::Failure{
              "IndexError",
              fmt::format("index {} is out of bounds for dimension {} with size {}", entry.integer, index.tuple ? i : 0, size.str()), i};
          return plan;
        }
        const IndexedDim taken = plan.dims[static_cast<std::size_t>(dim)];
        DimExpr at = entry.integer >= 0 ? DimExpr::constant(entry.integer) : *dim_add(size, entry.integer);
        if (taken.source >= 0) plan.selected.push_back({taken.source, at});
        plan.dims.erase(plan.dims.begin() + dim);
        break;
      }
      case IndexItem::Kind::Slice: {
        if (entry.step && *entry.step == 0) {
          plan.failure = IndexPlan::Failure{"ValueError", "slice step cannot be zero", i};
          return plan;
        }
        std::int64_t step = entry.step.value_or(1);
        if (step < 0) {
          plan.failure = IndexPlan::Failure{"ValueError", "step must be greater than zero", i};
          return plan;
        }
        if (current_rank == 0) {
          plan.failure = IndexPlan::Failure{"IndexError", "slice() cannot be applied to a 0-dim tensor.", i};
          return plan;
        }
        if (dim >= current_rank) {
          plan.failure = IndexPlan::Failure{
              "IndexError", fmt::format("Dimension out of range (expected to be in range of [{}, {}], but got {})", -current_rank, current_rank - 1, dim), i};
          return plan;
        }
        IndexedDim& sliced = plan.dims[static_cast<std::size_t>(dim)];
        const IndexBound n = IndexBound::of(sliced.size);
        bool table = sliced.size.is_constant();  // a symbolic bound on it is taken as written
        bool decided = true;                     // every clamp decided, or taken as written
        // at::slice: a negative bound has n added, then is clamped to [lower, n].
        auto clamp = [&](const IndexBound& written, const IndexBound& lower, bool below_is_empty) -> IndexBound {
          std::optional<bool> wraps = negative(written);
          if (!wraps && table) wraps = false;
          if (!wraps) {
            decided = false;
            return written;
          }
          IndexBound value = *wraps ? plus(written, n) : written;
          std::optional<bool> below = less(value, lower), beyond = less(n, value);
          if (below == true) return lower;
          if (beyond == true) return n;
          if ((!below && !below_is_empty) || !beyond) {
            if (table && !value.is_constant()) return value;
            decided = false;
          }
          return value;
        };
        IndexBound start = clamp(entry.start.value_or(IndexBound{}), IndexBound{}, false);
        // A stop below the start gives an empty slice, and so does the unclamped size, ceil(length /
        // step) at most 0, when it is at least 0 for every value: not falling, at least 0 at 1.
        IndexBound stop = entry.stop ? clamp(*entry.stop, start, true) : n;
        std::optional<DimExpr> length = plus(stop, start, -1).dim();
        std::optional<DimExpr> size = length ? slice_size(*length, step) : std::nullopt;
        if (length && (length->coeff < 0 || length->coeff + length->offset <= -step)) decided = false;
        if (!decided || !size) {
          std::vector<std::string> symbols;
          for (const IndexBound* bound : std::initializer_list<const IndexBound*>{&n, &start, &stop}) {
            for (const auto& [symbol, coeff] : bound->terms) {
              if (std::find(symbols.begin(), symbols.end(), symbol) == symbols.end()) symbols.push_back(symbol);
            }
          }
          plan.failure = symbol_dependent(i, fmt::format("the length of slice {} of a dim of size {} depends on the value of {}", item_text(entry),
                                                         sliced.size.str(), fmt::join(symbols, ", ")));
          return plan;
        }
        sliced.start = start;
        sliced.step = step;
        sliced.size = *size;
        if (sliced.start == IndexBound{}) sliced.stop_symbol = entry.stop_symbol;
        ++dim;
        break;
      }
    }
  }
  return plan;
}

}  // namespace mhacheck
