// Tensor.__getitem__ with basic indices, as Python writes them in the spec ("[:, 0]",
// "[..., :d]", "[None, 1:3:2]"): integers, slices, None and Ellipsis (tensor indices are not
// modelled). One rule for check and run: plan_index gives the result's dims, each taken from an
// input dim with a start and a step, or a new dim of size 1; run gathers through the same plan.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mhacheck/shape.hpp"

namespace mhacheck {

// A slice's start or stop as written: an integer, or sizes added and subtracted ("T-1", "S-T",
// "2*B+1"), each term a multiple of a symbol or of a monomial (B*T). Symbols are at least 1.
struct IndexBound {
  std::map<std::string, std::int64_t> terms;  // symbol or monomial -> its coefficient, never 0
  std::int64_t constant = 0;

  static IndexBound of(const DimExpr& dim);
  bool is_constant() const { return terms.empty(); }
  std::optional<DimExpr> dim() const;  // as a dim: a constant, or one term
  std::string str() const;             // as Python writes it: "S-T", "T-1", "-2"
  friend bool operator==(const IndexBound&, const IndexBound&) = default;
};

struct IndexItem {
  enum class Kind { Integer, Slice, None, Ellipsis };
  Kind kind = Kind::Integer;
  std::int64_t integer = 0;  // Integer
  // Slice; nullopt where left out. A symbolic bound (pe[:B], traced from pe[:x.size(0)]: the table
  // cut to a size read from another tensor; bias[S-T:S], the last T rows of a causal mask) goes
  // through resolve_symbols.
  std::optional<IndexBound> start, stop;
  std::optional<std::int64_t> step;
  std::string stop_symbol;  // the one symbol the stop is written as ("B"), kept when resolved
};

// ceil(length / step) as a dim (a slice's size, arange's count): "(T+1)//2" as one opaque
// size when the step does not divide; nullopt when the length holds a product of symbols.
std::optional<DimExpr> slice_size(const DimExpr& length, std::int64_t step);

// Python's text of an entry: "1:T-1:2", ":", "None", "...", "-1".
std::string item_text(const IndexItem& item);

struct IndexExpression {
  std::vector<IndexItem> items;
  // Written with a comma: x[0,] is a tuple index, which PyTorch checks differently from x[0].
  bool tuple = false;
};

// nullopt, with `error` saying what is wrong, when `text` is not such an index.
std::optional<IndexExpression> parse_index(std::string_view text, std::string& error);

// The slices' bounds through the symbol table (a stop "B" becomes 32 once "dims" binds B).
void resolve_symbols(IndexExpression& index, const Symbols& symbols);

// The entry of `index` that indexes input dim `source` of a rank-`rank` input (None entries insert
// dims and index none; the Ellipsis stands for the dims no other entry indexes); nullopt when none
// is written for it (left whole by the Ellipsis or after the last entry).
std::optional<std::size_t> index_entry_of(const IndexExpression& index, std::size_t rank, std::size_t source);

// One dim of the result: input dim `source` from `start` in steps of `step`, or (source -1) a
// dim of size 1 that None inserts.
struct IndexedDim {
  int source = -1;
  IndexBound start;
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
// ATen/TensorIndexing.h) on `shape`; a slice as at::slice (aten/src/ATen/native/TensorShape.cpp):
// a negative start or stop has the dim's size n added, then start is clamped to [0, n] and stop to
// [start, n], and the size is ceil((stop - start) / step). With symbols (each at least 1) a clamp
// that cannot be decided fails as symbol-dependent, except two cases where the size does not depend
// on it: a stop that may fall below the start when the size written without the clamp is at least
// 0 for every value (x[:, 1:T-1:2] is (T-1)//2, 0 at T = 1 as at::slice gives), and a symbolic
// bound on a dim of a fixed size (pe[:B], bias[S-T:S] of a 1024-row mask), taken as written: the
// code reads part of a table it made long enough. A size that is not a dim, ceil(T/2) of x[::2], is
// kept as the symbol "(T+1)//2", Python's expression of it.
IndexPlan plan_index(const IndexExpression& index, const Shape& shape);

// a < b: nullopt when it depends on a symbol's value.
std::optional<bool> dim_less(const DimExpr& a, const DimExpr& b);

}  // namespace mhacheck
