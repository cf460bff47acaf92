// nn.Conv1d's and nn.Conv2d's options as PyTorch uses them, one size per spatial dim, shared by
// the rule (src/ops/conv.cpp), the parameters (src/forward/module_parameters.cpp) and the forward
// pass (src/forward/conv.cpp), so that all three read kernel_size, stride, padding and dilation
// the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/spec.hpp"

namespace mhacheck {

// 1 for Conv1d, 2 for Conv2d.
int conv_spatial_dims(const std::string& module_type);

// An option as the module holds it after _single/_pair: one written size stands for every
// spatial dim, a tuple is kept as written (with whatever length it has).
std::vector<std::int64_t> conv_sizes(const nlohmann::json& written, int spatial);

// The weight PyTorch allocates: (out_channels, in_channels / groups, *kernel_size).
std::vector<std::int64_t> conv_weight_shape(const ModuleDecl& module);

struct ConvGeometry {
  std::vector<std::int64_t> kernel, stride, dilation;
  // Zeros added before and after each spatial dim: padding=p is p and p; "valid" 0 and 0;
  // "same" d*(k-1) in all, the odd one after (PyTorch's _convolution_mode and _ConvNd).
  std::vector<std::int64_t> pad_before, pad_after;
  std::int64_t groups = 1;

  // The input elements one output element reads along spatial dim d: d*(k-1)+1.
  std::int64_t span(std::size_t d) const { return dilation[d] * (kernel[d] - 1) + 1; }
  // floor((L + padding - span) / stride) + 1, for a padded size at least the span.
  std::int64_t output_size(std::size_t d, std::int64_t length) const {
    return (length + pad_before[d] + pad_after[d] - span(d)) / stride[d] + 1;
  }
};

// The geometry of a module whose option lengths the rule accepted: one size per kernel dim.
ConvGeometry conv_geometry(const ModuleDecl& module);

}  // namespace mhacheck
