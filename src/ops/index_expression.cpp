// Tensor.__getitem__'s basic indexing (src/ops/index_expression.hpp).
#include "ops/index_expression.hpp"

#include <charconv>

#include <fmt/format.h>

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

std::optional<IndexItem> item(std::string_view text, std::string& error) {
  text = trimmed(text);
  IndexItem parsed;
  if (text == "...") {
    parsed.kind = IndexItem::Kind::Ellipsis;
  } else if (text == "None") {
    parsed.kind = IndexItem::Kind::None;
  } else if (text.find(':') != std::string_view::npos) {
    parsed.kind = IndexItem::Kind::Slice;
    std::optional<std::int64_t> stop;
    std::optional<std::int64_t>* parts[] = {&parsed.start, &stop, &parsed.step};
    for (std::size_t part = 0; part < 3; ++part) {
      std::size_t colon = text.find(':');
      std::string_view piece = trimmed(text.substr(0, colon));
      if (!piece.empty()) {
        *parts[part] = integer(piece);
        if (part == 1 && !stop) {
          parsed.stop = parse_dim_expr(piece);
          if (!parsed.stop) {
            error = fmt::format("\"{}\" is not an integer or a size (\"B\", \"2*T\")", piece);
            return std::nullopt;
          }
          if (parsed.stop->is_plain_symbol()) parsed.stop_symbol = parsed.stop->symbol;
        } else if (!*parts[part]) {
          error = fmt::format("\"{}\" is not an integer", piece);
          return std::nullopt;
        }
      }
      if (part == 1 && stop) parsed.stop = DimExpr::constant(*stop);
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

// b - a as a dim, when both are constants or the same multiple of one symbol, or a is a constant.
std::optional<DimExpr> difference(const DimExpr& b, const DimExpr& a) {
  if (a.is_constant()) return dim_add(b, -a.offset);
  if (a.symbol == b.symbol && a.coeff == b.coeff) return DimExpr::constant(b.offset - a.offset);
  return std::nullopt;
}

IndexPlan::Failure symbol_dependent(std::size_t item, const std::string& what) { return {"", what, item}; }

}  // namespace

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

void resolve_symbols(IndexExpression& index, const Symbols& symbols) {
  for (IndexItem& entry : index.items) {
    if (entry.stop) entry.stop = symbols.resolve(*entry.stop);
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

IndexPlan plan_index(const IndexExpression& index, const Shape& shape) {
  IndexPlan plan;
  const int rank = static_cast<int>(shape.size());
  for (int d = 0; d < rank; ++d) plan.dims.push_back({d, DimExpr::constant(0), 1, shape[static_cast<std::size_t>(d)]});
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
        const DimExpr n = sliced.size;
        auto bound = [&](std::optional<DimExpr> written, const DimExpr& lower) -> std::optional<DimExpr> {
          if (!written) return n;
          DimExpr value = written->is_constant() && written->offset < 0 ? *dim_add(n, written->offset) : *written;
          std::optional<bool> below = dim_less(value, lower), beyond = dim_less(value, n);
          if (!value.is_constant() && n.is_constant() && lower.is_constant() && lower.offset == 0 && !beyond) return value;  // pe[:B]
          if (!below) return std::nullopt;
          if (*below) return lower;
          // A bound at the dim's smallest size (`[:1]` of T, `[:4]` of T+3) is inside it for any value.
          if (!beyond && dim_less(n, value) == false) return value;
          if (!beyond) return std::nullopt;
          return *beyond ? value : n;
        };
        std::optional<DimExpr> start = bound(DimExpr::constant(entry.start.value_or(0)), DimExpr::constant(0));
        std::optional<DimExpr> stop = start ? bound(entry.stop, *start) : std::nullopt;
        std::optional<DimExpr> length = stop ? difference(*stop, *start) : std::nullopt;
        if (length && !length->is_constant() && step != 1) length.reset();
        if (!length) {
          plan.failure = symbol_dependent(i, fmt::format("the length of slice {}:{}:{} of a dim of size {} depends on {}'s value",
                                                         entry.start ? std::to_string(*entry.start) : "", entry.stop ? entry.stop->str() : "",
                                                         step, n.str(), n.symbol));
          return plan;
        }
        sliced.start = *start;
        sliced.step = step;
        sliced.size = length->is_constant() ? DimExpr::constant((length->offset + step - 1) / step) : *length;
        if (sliced.start == DimExpr::constant(0)) sliced.stop_symbol = entry.stop_symbol;
        ++dim;
        break;
      }
    }
  }
  return plan;
}

}  // namespace mhacheck
