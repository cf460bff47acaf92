// Tensor.__getitem__ with basic indices, as Python writes them in the spec ("[:, 0]",
// "[..., :d]", "[None, 1:3:2]"): integers, slices, None and Ellipsis (tensor indices are not
// modelled). One rule for check and run: plan_index gives the result's dims, each taken from an
// input dim with a start and a step, or a new dim of size 1; run gathers through the same plan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mhacheck/shape.hpp"

namespace mhacheck {

struct IndexItem {
  enum class Kind { Integer, Slice, None, Ellipsis };
  Kind kind = Kind::Integer;
  std::int64_t integer = 0;                            // Integer
  std::optional<std::int64_t> start, step;             // Slice; nullopt where left out
  // A slice's stop: a number, or a symbol expression (pe[:B], traced from pe[:x.size(0)]: the
  // table cut to a size read from another tensor), resolved by resolve_symbols.
  std::optional<DimExpr> stop;
  std::string stop_symbol;  // the one symbol the stop is written as ("B"), kept when resolved
};

struct IndexExpression {
  std::vector<IndexItem> items;
  // Written with a comma: x[0,] is a tuple index, which PyTorch checks differently from x[0].
  bool tuple = false;
};

// nullopt, with `error` saying what is wrong, when `text` is not such an index.
std::optional<IndexExpression> parse_index(std::string_view text, std::string& error);

// The slices' stops through the symbol table (a stop "B" becomes 32 once "dims" binds B).
void resolve_symbols(IndexExpression& index, const Symbols& symbols);

// One dim of the result: input dim `source` from `start` in steps of `step`, or (source -1) a
// dim of size 1 that None inserts.
struct IndexedDim {
  int source = -1;
  DimExpr start = DimExpr::constant(0);
  std::int64_t step = 1;
  DimExpr size = DimExpr::constant(1);
  // The symbol a slice from the start was cut at (pe[:B]), when it is one symbol: the dim's name.
  std::string stop_symbol;
};

struct IndexPlan {
  std::vector<IndexedDim> dims;
  std::vector<std::pair<int, DimExpr>> selected;  // input dims an integer removes, at that (non-negative) index
  // PyTorch's exception, or (type empty) a size that depends on a symbol's value.
  struct Failure {
    std::string type, message;
    std::size_t item = 0;  // the index entry at fault
  };
  std::optional<Failure> failure;
  Shape shape() const;
};

// PyTorch 2.x's THPVariable_getitem and applySlicing (torch/csrc/autograd/python_variable_indexing.cpp,
// ATen/TensorIndexing.h) on `shape`. A symbolic size counts as at least its value at 1. A stop
// written as a symbol expression, on a dim of a fixed size it cannot be compared with (pe[:B] of
// a table of 5000 rows), is taken as written: the code reads a prefix of a table it made long
// enough (PyTorch would clamp a longer one to the table's length).
IndexPlan plan_index(const IndexExpression& index, const Shape& shape);

// a < b: nullopt when it depends on a symbol's value.
std::optional<bool> dim_less(const DimExpr& a, const DimExpr& b);

}  // namespace mhacheck
