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
#include <fmt/ranges.h>

#include "check/dim_origin.hpp"
#include "check/roles.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/index_expression.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

namespace {

// MHA433: a token shift (RWKV's time_shift, a causal conv's offset)
// pads one side of a dim and crops the other by as much: F.pad(x, (1, -1)) moves every entry one
// step along the dim. F.pad's pairs start at the LAST dim, so on a (B, T, C) token tensor
// (1, -1) shifts the channels (each feature takes its neighbour's value) where the time steps
// were meant: (0, 0, 1, -1). Reported when only the last dim moves, its size is a count or named
// as a head size (features, not a symbol that may be a spatial width) and an earlier dim is named
// as a sequence; the fix moves that dim by the same shift, the last one left as it is.
void check_shift_over_features(CallContext& ctx, const ArgValue& input, const std::vector<std::int64_t>& pad) {
  const int rank = input.rank();
  if (pad.size() != 2 || rank < 2 || pad[0] == 0 || pad[0] != -pad[1]) return;
  const int last = rank - 1;
  const DimRole last_role = role_of_dim(input.dim_names, last);
  const bool features = last_role == DimRole::HeadDim || (input.dim_names.size() > static_cast<std::size_t>(last) &&
                                                          input.dim_names[static_cast<std::size_t>(last)].empty() && input.shape.back().is_constant());
  if (!features) return;
  int sequence = last - 1;
  while (sequence >= 0 && role_of_dim(input.dim_names, sequence) != DimRole::Sequence) --sequence;
  if (sequence < 0) return;
  std::vector<std::int64_t> moved(2 * static_cast<std::size_t>(rank - sequence), 0);
  moved[moved.size() - 2] = pad[0];
  moved[moved.size() - 1] = pad[1];
  std::string name = input_name(ctx.call, "input");
  if (name.empty()) name = "input";
  const std::string written = fmt::format("{}", fmt::join(moved, ", "));
  Diagnostic& diagnostic = ctx.report(
      DiagId::ShiftDimRole,
      fmt::format("pad ({}, {}) shifts the last dim {} ({}) by {}: F.pad's pairs start at the last dim, so each feature takes its neighbour's "
                  "value, while dim {} ({}, a {}) keeps its positions",
                  pad[0], pad[1], last, dim_text(input, last), pad[0], sequence, dim_text(input, sequence), role_name(DimRole::Sequence)),
      &input, last);
  diagnostic.notes.push_back("a token shift moves the time steps: pad the sequence dim's pair, written after one (0, 0) pair per later dim");
  diagnostic.notes.push_back("PyTorch raises nothing: the shift keeps every size");
  if (ctx.add_argument_fix(diagnostic, fmt::format("F.pad({}, ({})): shift dim {} ({}, the sequence)", name,
                                                   written, sequence, dim_text(input, sequence)),
                           "pad", moved)) {
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each position takes the previous time step's features, as a token shift does");
  }
}

}  // namespace

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
  check_shift_over_features(ctx, input, pad);
  if (!grows) {
    Layout cropped = resized_layout(input.layout, narrowed);
    ctx.output_layouts["output"] = elementwise_layout({&cropped}, shape);
  } else if (rank < 4 || input.layout.is_contiguous()) {
    ctx.output_layouts["output"] = Layout::contiguous(shape);
  }
}

}  // namespace mhacheck
