// torch.flatten(input, start_dim=0, end_dim=-1): dims start_dim..end_dim become one dim, their
// product. A 0-D tensor flattens to (1,).
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"
#include "ops/size_product.hpp"
#include "core/text.hpp"
#include "roles.hpp"

namespace mhacheck {

void infer_flatten(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> start = wrap_dim(ctx, "start_dim", int_argument(ctx, "start_dim"), input.rank());
  if (!start) return;
  std::optional<int> end = wrap_dim(ctx, "end_dim", int_argument(ctx, "end_dim"), input.rank());
  if (!end) return;
  if (*start > *end) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::FlattenDims, fmt::format("start_dim ({}) comes after end_dim ({})", *start, *end), "start_dim");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "flatten() has invalid args: start_dim cannot come after end_dim");
    return;
  }
  if (input.rank() == 0) {
    ctx.outputs.push_back({"output", {DimExpr::constant(1)}, input.dtype});
    ctx.output_layouts["output"] = reshaped_layout(input.layout, {DimExpr::constant(1)});
    return;
  }
  // flatten returns the input itself when it merges nothing (ATen's `start_dim == end_dim`), so a
  // single dim keeps its expression, whatever it is (`T-1` is no product of symbols).
  if (*start == *end) {
    ctx.outputs.push_back({"output", input.shape, input.dtype, input.dim_names});
    ctx.output_layouts["output"] = input.layout;
    return;
  }
  Shape merged(input.shape.begin() + *start, input.shape.begin() + *end + 1);
  std::optional<SizeProduct> product = SizeProduct::of(merged);
  if (!product) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::ShapeNotDerivable,
        fmt::format("flattening dims {} to {} of {} gives {}, which mhacheck cannot write as one dim", *start, *end, tuple_str(input.shape),
                    numel_str(merged)),
        &input);
    diagnostic.notes.push_back("a dim is an integer times a product of symbols, plus an integer: bind the symbols under \"dims\"");
    return;
  }
  Shape shape(input.shape.begin(), input.shape.begin() + *start);
  shape.push_back(product->as_dim());
  shape.insert(shape.end(), input.shape.begin() + *end + 1, input.shape.end());
  // The merged dim keeps its factors' names in memory order (roles.hpp), when all are named, or
  // all are unnamed numbers, kept as their digits ("8*196" of (B, 8, 196, E)): a later reshape
  // then knows which factor is outer (frames before patches) as it does for named ones.
  std::vector<std::string> names(input.dim_names.begin(), input.dim_names.end());
  names.resize(static_cast<std::size_t>(input.rank()));
  std::vector<std::string> factors;
  std::optional<bool> counted;  // whether the factors are counts; unset before the first
  for (int d = *start; d <= *end; ++d) {
    const DimExpr& size = input.shape[static_cast<std::size_t>(d)];
    if (size == DimExpr::constant(1)) continue;
    std::vector<std::string> named = name_factors(input.dim_name(d));
    const bool counts = named.empty();
    // An unnamed number counts as its digits; a count name carried from an earlier flatten, as its parts.
    if (counts && input.dim_name(d).empty() && size.is_constant()) named = {std::to_string(size.offset)};
    if (counts && count_name(input.dim_name(d))) named = split_at(input.dim_name(d), '*');
    if (named.empty() || (counted && *counted != counts)) {
      factors.clear();
      break;
    }
    counted = counts;
    factors.insert(factors.end(), named.begin(), named.end());
  }
  names.erase(names.begin() + *start, names.begin() + *end + 1);
  names.insert(names.begin() + *start, merged_name(factors));
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = reshaped_layout(input.layout, shape);
}

}  // namespace mhacheck
