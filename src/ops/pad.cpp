// F.pad(input, pad, mode="constant", value=None) in its constant mode (the one mhacheck models:
// the spec's pad takes no mode). PyTorch 2.x's _pad_enum and constant_pad_nd
// (aten/src/ATen/native/PadNd.cpp): pad holds (left, right) pairs from the last dim backwards; a
// negative pad crops by a narrow first; when no pad is positive the result is a clone of those
// narrows (MemoryFormat::Preserve: an all-zero pad keeps a transposed input's strides), otherwise
// a new tensor in the input's suggested memory format (contiguous, but for a channels-last input,
// whose layout mhacheck does not follow) filled with value and the input copied in. Every error
// about the widths (odd, too many pairs, a crop past a dim's length, a padded dim left with no
// position) is MHA414, whichever PyTorch check raises it.
#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/index_expression.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_pad(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::vector<std::int64_t> pad = ctx.call.arguments.at("pad").get<std::vector<std::int64_t>>();
  const int rank = input.rank();
  if (pad.size() % 2 != 0 || pad.size() > 2 * static_cast<std::size_t>(rank)) {
    bool odd = pad.size() % 2 != 0;
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::PadWidths,
        odd ? fmt::format("pad has {} entries; it holds (left, right) pairs, an even number", pad.size())
            : fmt::format("pad has {} entries, {} pairs, for a {}-D input {}: at most one pair per dim", pad.size(), pad.size() / 2, rank,
                          tuple_str(input.shape)),
        "pad");
    ctx.pytorch_raises(diagnostic, "RuntimeError", odd ? "Padding length must be divisible by 2" : "Padding length too large");
    return;
  }
  const int first = rank - static_cast<int>(pad.size() / 2);  // the first dim padded
  Shape narrowed = input.shape, shape = input.shape;
  bool grows = false;
  for (int d = first; d < rank; ++d) {
    std::size_t at = 2 * static_cast<std::size_t>(rank - d - 1);
    std::int64_t left = pad[at], right = pad[at + 1];
    grows = grows || left > 0 || right > 0;
    DimExpr& size = narrowed[static_cast<std::size_t>(d)];
    for (std::int64_t cut : {left, right}) {
      if (cut >= 0) continue;
      // narrow(d, -left, size + left), then narrow(d, 0, size + right): a length below zero fails.
      std::optional<bool> negative = dim_less(*dim_add(size, cut), DimExpr::constant(0));
      if (!negative) {
        report_argument(ctx, DiagId::ShapeNotDerivable,
                        fmt::format("whether cropping {} from dim {} of size {} leaves a length of at least 0 depends on {}'s value; bind the symbol under \"dims\"",
                                    -cut, d, size.str(), size.symbol),
                        "pad");
        return;
      }
      if (*negative) {
        Diagnostic& diagnostic = report_argument(
            ctx, DiagId::PadWidths, fmt::format("pad crops {} from dim {} of {}, which has {} left there", -cut, d, tuple_str(input.shape), size.str()), "pad");
        ctx.pytorch_raises(diagnostic, "RuntimeError", "narrow(): length must be non-negative.");
        return;
      }
      size = *dim_add(size, cut);
    }
    shape[static_cast<std::size_t>(d)] = *dim_add(*dim_add(input.shape[static_cast<std::size_t>(d)], left), right);
  }
  if (grows) {
    for (int d = first; d < rank; ++d) {
      const DimExpr& size = shape[static_cast<std::size_t>(d)];
      std::optional<bool> positive = dim_less(DimExpr::constant(0), size);
      if (positive && *positive) continue;
      std::size_t at = 2 * static_cast<std::size_t>(rank - d - 1);
      const DimExpr& before = input.shape[static_cast<std::size_t>(d)];
      if (!positive) {
        report_argument(ctx, DiagId::ShapeNotDerivable,
                        fmt::format("whether dim {} padded to {} keeps a position depends on {}'s value; bind the symbol under \"dims\"", d, size.str(),
                                    size.symbol),
                        "pad");
        return;
      }
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::PadWidths, fmt::format("pad ({}, {}) leaves dim {} of {} with {} positions", pad[at], pad[at + 1], d, tuple_str(input.shape), size.str()),
          "pad");
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         fmt::format("The input size {}, plus negative padding {} and {} resulted in a negative output size, which is invalid. "
                                     "Check dimension {} of your input.",
                                     before.str(), pad[at], pad[at + 1], d));
      return;
    }
  }
  std::vector<std::string> names = input.dim_names;
  names.resize(shape.size());
  for (int d = first; d < rank; ++d) {
    if (!(shape[static_cast<std::size_t>(d)] == input.shape[static_cast<std::size_t>(d)])) names[static_cast<std::size_t>(d)].clear();
  }
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  if (!grows) {
    Layout cropped = resized_layout(input.layout, narrowed);
    ctx.output_layouts["output"] = elementwise_layout({&cropped}, shape);
  } else if (rank < 4 || input.layout.is_contiguous()) {
    ctx.output_layouts["output"] = Layout::contiguous(shape);
  }
}

}  // namespace mhacheck
