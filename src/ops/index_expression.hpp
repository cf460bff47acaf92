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
  std::optional<std::int64_t> start, stop, step;       // Slice; nullopt where left out
};

struct IndexExpression {
  std::vector<IndexItem> items;
  // Written with a comma: x[0,] is a tuple index, which PyTorch checks differently from x[0].
  bool tuple = false;
};

// nullopt, with `error` saying what is wrong, when `text` is not such an index.
std::optional<IndexExpression> parse_index(std::string_view text, std::string& error);

// One dim of the result: input dim `source` from `start` in steps of `step`, or (source -1) a
// dim of size 1 that None inserts.
struct IndexedDim {
  int source = -1;
  DimExpr start = DimExpr::constant(0);
  std::int64_t step = 1;
  DimExpr size = DimExpr::constant(1);
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
// ATen/TensorIndexing.h) on `shape`. A symbolic size counts as at least its value at 1.
IndexPlan plan_index(const IndexExpression& index, const Shape& shape);

// a < b: nullopt when it depends on a symbol's value.
std::optional<bool> dim_less(const DimExpr& a, const DimExpr& b);

}  // namespace mhacheck
