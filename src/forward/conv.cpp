// nn.Conv1d's and nn.Conv2d's forward: for each batch entry and group, the padded input's
// windows are copied into a (channels * kernel, output positions) matrix (im2col) and one
// OpenBLAS GEMM with the group's weight (out_channels / groups, channels * kernel) gives the
// output; then the bias. Conv1d is computed as a 2-D convolution over a height of 1.
// padding_mode other than "zeros" reads the input's own elements for the padding, as F.pad
// does before PyTorch convolves with no padding.
#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "forward/array_values.hpp"
#include "forward/blas.hpp"
#include "forward/forward_call.hpp"
#include "mhacheck/location.hpp"
#include "ops/conv_geometry.hpp"

namespace mhacheck {
namespace {

// Where position `i` of a dim of `length` (-before <= i < length + after) reads from; -1 for a
// zero of padding_mode "zeros".
std::int64_t source_index(std::int64_t i, std::int64_t length, const std::string& mode) {
  if (i >= 0 && i < length) return i;
  if (mode == "zeros") return -1;
  if (mode == "reflect") return i < 0 ? -i : 2 * (length - 1) - i;
  if (mode == "replicate") return i < 0 ? 0 : length - 1;
  return ((i % length) + length) % length;  // circular
}

// F.pad's limits on the padding the modes other than "zeros" read from the input itself. The
// rule refuses them (MHA351) for a known length; a length bound only for `run` is refused here.
void check_padding_mode(const std::string& mode, std::int64_t before, std::int64_t after, std::int64_t length) {
  if (mode == "zeros" || (before == 0 && after == 0)) return;
  bool fits = mode == "reflect" ? before < length && after < length : mode == "circular" ? before <= length && after <= length : length > 0;
  if (!fits) {
    throw InputError(Location{}, fmt::format("padding_mode='{}' cannot pad a dim of size {} by ({}, {}); F.pad raises RuntimeError", mode,
                                             length, before, after),
                     "use padding_mode='zeros', or an input large enough for the padding");
  }
}

template <typename T>
Array convolve(const Array& input, const Array& weight, const Array* bias, const ConvGeometry& conv, const std::string& mode, int spatial,
               std::int64_t max_elements) {
  const bool batched = static_cast<int>(input.shape.size()) == spatial + 2;
  const std::int64_t batch = batched ? input.shape[0] : 1;
  const std::size_t first = batched ? 1 : 0;
  const std::int64_t channels = input.shape[first];
  // (height, width) of the input and kernel; Conv1d's height is 1.
  auto pick = [&](const std::vector<std::int64_t>& sizes, std::int64_t one, int d) { return spatial == 1 ? (d == 0 ? one : sizes[0]) : sizes[d]; };
  const std::int64_t in_h = spatial == 1 ? 1 : input.shape[first + 1], in_w = input.shape.back();
  const std::int64_t k_h = pick(conv.kernel, 1, 0), k_w = pick(conv.kernel, 1, 1);
  const std::int64_t s_h = pick(conv.stride, 1, 0), s_w = pick(conv.stride, 1, 1);
  const std::int64_t d_h = pick(conv.dilation, 1, 0), d_w = pick(conv.dilation, 1, 1);
  const std::int64_t p_h = pick(conv.pad_before, 0, 0), p_w = pick(conv.pad_before, 0, 1);
  const std::int64_t q_h = pick(conv.pad_after, 0, 0), q_w = pick(conv.pad_after, 0, 1);
  if (spatial == 2) check_padding_mode(mode, p_h, q_h, in_h);
  check_padding_mode(mode, p_w, q_w, in_w);
  const std::int64_t out_h = spatial == 1 ? 1 : conv.output_size(0, in_h);
  const std::int64_t out_w = conv.output_size(static_cast<std::size_t>(spatial - 1), in_w);
  const std::int64_t out_channels = weight.shape[0], groups = conv.groups;
  const std::int64_t group_in = channels / groups, group_out = out_channels / groups;
  bounded_elements("the conv's output", {batch, out_channels, out_h, out_w}, max_elements);
  const std::int64_t positions = bounded_elements("the conv's output positions", {out_h, out_w}, max_elements);
  const std::int64_t rows = group_in * k_h * k_w;  // a weight row, already allocated
  bounded_elements("the conv's im2col buffer", {rows, positions}, max_elements);
  // OpenBLAS takes int sizes.
  if (std::max({group_out, positions, rows}) > std::numeric_limits<int>::max()) {
    throw InputError(Location{}, fmt::format("the conv's GEMM of ({}, {}) by ({}, {}) has a size above 2^31 - 1, OpenBLAS's limit", group_out, rows,
                                             rows, positions));
  }

  std::vector<std::int64_t> shape;
  if (batched) shape.push_back(batch);
  shape.push_back(out_channels);
  if (spatial == 2) shape.push_back(out_h);
  shape.push_back(out_w);
  Array output = make_array(dtype_of<T>(), shape);
  std::vector<T> x = values_as<T>(input), w = values_as<T>(weight);
  T* y = output.data<T>();
  std::vector<T> columns(static_cast<std::size_t>(rows * positions));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t g = 0; g < groups; ++g) {
      for (std::int64_t c = 0; c < group_in; ++c) {
        const T* plane = x.data() + ((n * channels) + g * group_in + c) * in_h * in_w;
        for (std::int64_t i = 0; i < k_h; ++i) {
          for (std::int64_t j = 0; j < k_w; ++j) {
            T* row = columns.data() + ((c * k_h + i) * k_w + j) * positions;
            for (std::int64_t oh = 0; oh < out_h; ++oh) {
              std::int64_t h = source_index(oh * s_h - p_h + i * d_h, in_h, mode);
              for (std::int64_t ow = 0; ow < out_w; ++ow) {
                std::int64_t v = h < 0 ? -1 : source_index(ow * s_w - p_w + j * d_w, in_w, mode);
                row[oh * out_w + ow] = v < 0 ? T(0) : plane[h * in_w + v];
              }
            }
          }
        }
      }
      T* out = y + (n * out_channels + g * group_out) * positions;
      if (group_out > 0 && positions > 0 && rows > 0) {
        blas::gemm(false, static_cast<int>(group_out), static_cast<int>(positions), static_cast<int>(rows), T(1), w.data() + g * group_out * rows,
                   static_cast<int>(rows), columns.data(), static_cast<int>(positions), out, static_cast<int>(positions));
      }
    }
    if (bias != nullptr) {
      std::vector<T> b = values_as<T>(*bias);
      for (std::int64_t o = 0; o < out_channels; ++o) {
        T* out = y + (n * out_channels + o) * positions;
        for (std::int64_t p = 0; p < positions; ++p) out[p] += b[static_cast<std::size_t>(o)];
      }
    }
  }
  return output;
}

}  // namespace

ForwardResult forward_conv(const ForwardCall& call) {
  blas::set_threads(std::max(1, call.threads));
  const Array& input = *call.tensor("input");
  ConvGeometry geometry = conv_geometry(*call.module);
  const std::string mode = call.module->options.at("padding_mode").get<std::string>();
  int spatial = conv_spatial_dims(call.module->type);
  ForwardResult result;
  result.outputs.push_back(with_float_type(input.dtype, [&](auto type) {
    return convolve<decltype(type)>(input, *call.parameter("weight"), call.parameter("bias"), geometry, mode, spatial,
                                     call.max_elements);
  }));
  return result;
}

}  // namespace mhacheck
