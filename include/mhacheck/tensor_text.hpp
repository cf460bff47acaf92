// Printing an Array exactly as PyTorch prints the same tensor: str(torch.tensor(...)) for a plain,
// dense CPU tensor without autograd. A port of torch/_tensor_str.py (identical for these tensors
// in 1.13 and 2.x); tests/pytorch/print_cases.json holds what real PyTorch printed.
#pragma once

#include <string>

#include "mhacheck/npy.hpp"

namespace mhacheck {

// torch.set_printoptions. sci_mode is not offered: it is left to the formatter, as by default.
struct PrintOptions {
  int precision = 4;        // digits after the point
  double threshold = 1000;  // more elements than this are summarized; --full sets infinity
  int edgeitems = 3;        // elements kept at each end of a summarized dimension
  int linewidth = 80;       // where 1-d rows wrap
};

// "tensor([[1., 2.],\n        [3., 4.]], dtype=torch.float64)". float16 and bfloat16 are
// formatted through float, as PyTorch does. Throws std::invalid_argument for a negative precision
// or edgeitems, or bytes that do not match the shape and dtype.
std::string tensor_repr(const Array& array, const PrintOptions& options = {});

}  // namespace mhacheck
