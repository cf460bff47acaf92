// A tensor's memory layout (its strides), as ATen computes it, so that `view` can be refused
// where PyTorch refuses it ("view size is not compatible with input tensor's size and stride").
// Strides are products of sizes, which symbols make polynomials; instead of an algebra of
// those, a layout is kept evaluated under two generic assignments of the symbols (the probes:
// distinct primes per symbol name), and a verdict is given only when both agree. A size of 1
// written as a number is exact; a symbol stands for a generic size, never 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/shape.hpp"

namespace mhacheck {

struct Layout {
  struct Probe {
    std::vector<std::int64_t> sizes, strides;
  };
  std::vector<Probe> probes;  // one per probe; empty: unknown (no verdict will use it)
  // The call whose output first had this non-contiguous layout ("t" for a transpose), set by the
  // pass; kept by the views after it, so that a refused view can name where the layout came from.
  std::string made_by;

  static constexpr int kProbes = 2;
  static Layout unknown() { return {}; }
  static Layout contiguous(const Shape& shape);  // unknown when a size cannot be evaluated
  bool known() const { return !probes.empty(); }
  bool is_contiguous() const;  // known and contiguous under every probe (sizes 1 skipped, as ATen)
  // Known, and its sizes are `shape` under every probe (a later symbol binding can change them).
  bool fits(const Shape& shape) const;
};

// `shape` evaluated under probe `probe`; nullopt on overflow or a negative size.
std::optional<std::vector<std::int64_t>> probe_sizes(const Shape& shape, int probe);

// The layout rules of ATen's views. Each returns an unknown layout for an unknown input.
Layout permuted_layout(const Layout& input, const std::vector<int>& order);
Layout unsqueezed_layout(const Layout& input, int dim);  // at::unsqueeze's stride for the new dim
Layout without_dims(const Layout& input, const std::vector<int>& dims);  // squeeze, select
Layout resized_layout(const Layout& input, const Shape& shape);  // narrow, split, chunk: same strides
Layout expanded_layout(const Layout& input, const Shape& shape);  // stride 0 where stretched

// at::detail::computeStride (aten/src/ATen/TensorUtils.cpp): the strides of `view(shape)`.
enum class ViewVerdict { Compatible, Incompatible, Undecided };
struct ViewResult {
  ViewVerdict verdict = ViewVerdict::Undecided;
  Layout layout;  // Compatible: the view's layout
};
ViewResult view_layout(const Layout& input, const Shape& shape);
// reshape: the view when computeStride succeeds, else a contiguous copy.
Layout reshaped_layout(const Layout& input, const Shape& shape);
// TensorIterator's output for elementwise ops: contiguous when every input is; the inputs'
// strides when all share them, one shape, dense (its fast setup); else its general order of
// dims (reorder_dimensions), allocated dense. Unknown when an input's layout is.
Layout elementwise_layout(const std::vector<const Layout*>& inputs, const Shape& shape);

}  // namespace mhacheck
