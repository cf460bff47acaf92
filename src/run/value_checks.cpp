#include "value_checks.hpp"

#include <cmath>

#include <fmt/format.h>

namespace mhacheck {

std::optional<MaskFinding> float_binary_mask(const Array& mask) {
  if (mask.dtype != DType::Float32 && mask.dtype != DType::Float64 && mask.dtype != DType::Float16 && mask.dtype != DType::BFloat16) {
    return std::nullopt;
  }
  std::vector<double> values = mask.to_double();
  bool has_one = false;
  for (double v : values) {
    if (v != 0.0 && v != 1.0) return std::nullopt;
    has_one = has_one || v == 1.0;
  }
  if (!has_one) return std::nullopt;  // all zeros: an additive mask that masks nothing on purpose
  return MaskFinding{MaskFinding::Kind::FloatBinary,
                     "the float mask holds only 0 and 1: float masks are added to the scores, so it masks nothing",
                     "a 1 only shifts a score by 1; pass mask.bool() (with the operator's meaning of True), or an additive mask: "
                     "torch.zeros_like(mask).masked_fill(mask == 1, float(\"-inf\"))"};
}

std::optional<MaskFinding> repeated_not_interleaved(const Array& mask, std::int64_t batch, std::int64_t heads) {
  if (mask.shape.size() != 3 || batch < 2 || heads < 2 || mask.shape[0] != batch * heads) return std::nullopt;
  std::vector<double> values = mask.to_double();
  std::size_t block = static_cast<std::size_t>(mask.shape[1] * mask.shape[2]);
  auto same_block = [&](std::int64_t a, std::int64_t b) {
    for (std::size_t k = 0; k < block; ++k) {
      double x = values[a * block + k], y = values[b * block + k];
      if (!(x == y || (std::isnan(x) && std::isnan(y)))) return false;
    }
    return true;
  };
  bool interleaved = true, repeated = true;
  for (std::int64_t i = 0; i < batch * heads; ++i) {
    if (!same_block(i, (i / heads) * heads)) interleaved = false;
    if (!same_block(i, i % batch)) repeated = false;
  }
  if (interleaved || !repeated) return std::nullopt;
  return MaskFinding{MaskFinding::Kind::RepeatNotInterleave,
                     fmt::format("the (N*num_heads, L, S) mask is laid out as mask.repeat({}, 1, 1): entry b*{} + h holds batch entry "
                                 "(b*{} + h) % {}'s mask, not batch entry b's",
                                 heads, heads, heads, batch),
                     fmt::format("nn.MultiheadAttention reads entry b*num_heads + h as batch entry b, head h: build it with "
                                 "mask.repeat_interleave({}, dim=0)",
                                 heads)};
}

std::optional<MaskFinding> causal_sees_future(const Array& mask, MaskReading reading) {
  if (mask.shape.size() < 2) return std::nullopt;
  std::int64_t rows = mask.shape[mask.shape.size() - 2], cols = mask.shape.back();
  std::vector<double> values = mask.to_double();
  std::int64_t blocks = static_cast<std::int64_t>(values.size()) / std::max<std::int64_t>(1, rows * cols);
  bool is_bool = mask.dtype == DType::Bool;
  for (std::int64_t b = 0; b < blocks; ++b) {
    for (std::int64_t l = 0; l < rows; ++l) {
      for (std::int64_t s = l + 1; s < cols; ++s) {
        double v = values[(b * rows + l) * cols + s];
        // Float masks: -inf, or a large negative such as torch.finfo(dtype).min.
        bool blocked = is_bool ? (reading == MaskReading::TrueIgnores ? v != 0.0 : v == 0.0) : v <= -1e4;
        if (blocked) continue;
        return MaskFinding{MaskFinding::Kind::SeesFuture,
                           fmt::format("the causal mask lets query position {} attend to the later key position {}", l, s),
                           is_bool ? (reading == MaskReading::TrueIgnores
                                          ? "here True marks what may not be attended: the future must be True (torch.triu(ones, 1).bool())"
                                          : "here True marks what takes part: the future must be False (torch.tril(ones).bool(), or ~ of a "
                                            "triu mask)")
                                   : "a float causal mask holds -inf above the diagonal: nn.Transformer.generate_square_subsequent_mask"};
      }
    }
  }
  return std::nullopt;
}

std::optional<MaskFinding> bool_mask_extent(const Array& mask, MaskReading reading, const std::string& argument) {
  if (mask.dtype != DType::Bool || mask.size() == 0) return std::nullopt;
  std::int64_t trues = 0;
  for (double v : mask.to_double()) trues += v != 0.0 ? 1 : 0;
  bool true_ignores = reading == MaskReading::TrueIgnores;
  std::int64_t masked = true_ignores ? trues : mask.size() - trues;
  const char* convention = true_ignores ? "True marks the positions not to attend (nn.MultiheadAttention's convention)"
                                        : "True marks the positions that take part (F.scaled_dot_product_attention's convention)";
  if (masked == mask.size()) {
    return MaskFinding{MaskFinding::Kind::MasksEverything,
                       fmt::format("masks every position: it is all {}, and here {}", true_ignores ? "True" : "False", convention),
                       fmt::format("no query can attend to anything, so every output row is NaN or, with PyTorch 2.5+'s safe softmax, "
                                   "attends to nothing; a mask written in the other convention is the usual cause: pass ~{}",
                                   argument)};
  }
  if (masked == 0) {
    return MaskFinding{MaskFinding::Kind::MasksNothing,
                       fmt::format("masks nothing: it is all {}, and here {}", true_ignores ? "False" : "True", convention),
                       fmt::format("right only if nothing in this batch is to be masked (no padding); a mask written in the other "
                                   "convention, or built from the wrong lengths, is the usual cause: if it marks padding as False, pass ~{}",
                                   argument)};
  }
  return std::nullopt;
}

std::int64_t non_finite_count(const Array& input) {
  auto count = [](const auto* values, std::int64_t size) {
    std::int64_t non_finite = 0;
    for (std::int64_t i = 0; i < size; ++i) non_finite += std::isfinite(values[i]) ? 0 : 1;
    return non_finite;
  };
  // float32 and float64 are read where they are: a double copy of each input of a run (8 MiB
  // for a (256, 8, 512) query) was allocated and faulted in only to be counted.
  if (input.dtype == DType::Float32) return count(input.data<float>(), input.size());
  if (input.dtype == DType::Float64) return count(input.data<double>(), input.size());
  if (input.dtype != DType::Float16 && input.dtype != DType::BFloat16) return 0;
  std::vector<double> values = input.to_double();
  return count(values.data(), static_cast<std::int64_t>(values.size()));
}

}  // namespace mhacheck
