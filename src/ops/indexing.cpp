// Tensor.__getitem__ with basic indices, torch.select and torch.narrow: views of part of a
// tensor. getitem's rule is src/ops/index_expression.cpp's plan; select and narrow are PyTorch
// 2.x's select_symint and narrow_symint (aten/src/ATen/native/TensorShape.cpp).
#include <stdexcept>

#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/index_expression.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// The id of an exception PyTorch raises while indexing.
DiagId index_diagnostic(const std::string& message) {
  if (message.rfind("too many indices", 0) == 0 || message.find("0-dim tensor") != std::string::npos) return DiagId::IndexRank;
  if (message.find("step") != std::string::npos) return DiagId::SliceStep;
  if (message.rfind("Dimension out of range", 0) == 0) return DiagId::DimOutOfRange;
  return DiagId::TensorIndexOutOfRange;
}

// A size that must be known: whether an index fits depends on a symbol's value otherwise.
void symbol_dependent(CallContext& ctx, const std::string& argument, const std::string& what) {
  report_argument(ctx, DiagId::ShapeNotDerivable, what + "; bind the symbol under \"dims\"", argument);
}

// "[2, 4]", as PyTorch prints an IntArrayRef.
std::string sizes_text(const Shape& shape) {
  std::string text;
  for (const DimExpr& size : shape) text += (text.empty() ? "" : ", ") + size.str();
  return "[" + text + "]";
}

// The name a slice from the start (x[:n], narrow(d, 0, n)) gives its dim: pe[:x.size(0)] on a
// batch-first x, written pe[:32] with "dims" binding B to 32, is pe[:B], a table cut to the batch
// size, whatever the table's dim stood for. The symbol "dims" binds to n, when exactly one is;
// "" otherwise. (A stop written as the symbol, pe[:B] as the tracer writes it, names the dim so.)
std::string slice_length_name(const Spec& spec, const DimExpr& length) {
  if (!length.is_constant()) return "";
  std::string named;
  for (const auto& [symbol, value] : spec.dims) {
    if (value != length.offset) continue;
    if (!named.empty()) return "";  // two symbols of that size: the slice could be either
    named = symbol;
  }
  return named;
}

}  // namespace

void infer_getitem(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::string error;
  const std::string& text = ctx.call.arguments.at("index").get_ref<const std::string&>();
  std::optional<IndexExpression> index = parse_index(text, error);
  if (!index) throw std::logic_error("getitem: the spec reader let an unreadable index through: " + error);
  resolve_symbols(*index, ctx.symbols);
  IndexPlan plan = plan_index(*index, input.shape);
  if (plan.failure && plan.failure->type.empty()) {
    symbol_dependent(ctx, "index", plan.failure->message);
    return;
  }
  if (plan.failure) {
    Diagnostic& diagnostic = report_argument(ctx, index_diagnostic(plan.failure->message),
                                             fmt::format("{}{} of a {} tensor fails at entry {} of the index", tensor_name(input).empty() ? "input" : tensor_name(input),
                                                         text, tuple_str(input.shape), plan.failure->item),
                                             "index");
    ctx.pytorch_raises(diagnostic, plan.failure->type, plan.failure->message);
    return;
  }
  std::vector<std::string> names;
  for (const IndexedDim& dim : plan.dims) {
    bool whole = dim.source >= 0 && dim.step == 1 && dim.size == input.shape[static_cast<std::size_t>(dim.source)];
    bool prefix = dim.source >= 0 && dim.step == 1 && dim.start == IndexBound{};
    names.push_back(whole           ? input.dim_name(dim.source)
                    : !prefix       ? ""
                    : dim.stop_symbol.empty() ? slice_length_name(ctx.spec, dim.size)
                                              : dim.stop_symbol);
  }
  ctx.outputs.push_back({"output", plan.shape(), input.dtype, names});
}

void infer_select(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (zero_dim(ctx, input, "IndexError", "select() cannot be applied to a 0-dim tensor.")) return;
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  std::int64_t index = int_argument(ctx, "index");
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  // PyTorch: size <= -1 - index || size <= index is out of range.
  std::optional<bool> outside = index >= 0 ? dim_less(size, DimExpr::constant(index + 1)) : dim_less(size, DimExpr::constant(-index));
  if (!outside) {
    symbol_dependent(ctx, "index", fmt::format("whether index {} is inside dim {} of size {} depends on {}'s value", index, *dim, size.str(), size.symbol));
    return;
  }
  if (*outside) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::TensorIndexOutOfRange,
        fmt::format("index {} is outside dim {} of {} (size {}; valid: {} to {})", index, *dim, tensor_name(input), size.str(),
                    size.is_constant() ? -size.offset : 0, size.is_constant() ? size.offset - 1 : 0),
        "index");
    ctx.pytorch_raises(diagnostic, "IndexError",
                       fmt::format("select(): index {} out of range for tensor of size {} at dimension {}", index, sizes_text(input.shape), *dim));
    return;
  }
  Shape shape = input.shape;
  std::vector<std::string> names = input.dim_names;
  names.resize(shape.size());
  shape.erase(shape.begin() + *dim);
  names.erase(names.begin() + *dim);
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = without_dims(input.layout, {*dim});
}

void infer_narrow(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (zero_dim(ctx, input, "RuntimeError", "narrow() cannot be applied to a 0-dim tensor.")) return;
  std::int64_t start = int_argument(ctx, "start"), length = int_argument(ctx, "length");
  if (length < 0) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::NarrowRange, fmt::format("length={} is negative", length), "length");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "narrow(): length must be non-negative.");
    return;
  }
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  if (!size.is_constant()) {
    // Symbols are at least 1: only a range that fits any size is certain.
    std::optional<bool> fits = start >= 0 ? dim_less(DimExpr::constant(start + length - 1), size) : std::nullopt;
    if (!fits.value_or(false)) {
      symbol_dependent(ctx, "start", fmt::format("whether narrow({}, {}, {}) fits a dim of size {} depends on {}'s value", *dim, start, length,
                                                 size.str(), size.symbol));
      return;
    }
  } else {
    std::int64_t n = size.offset;
    if (start < -n || start > n) {
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::NarrowRange, fmt::format("start={} is outside dim {} of {} (size {}; valid: {} to {})", start, *dim, tensor_name(input), n, -n, n),
          "start");
      ctx.pytorch_raises(diagnostic, "IndexError", fmt::format("start out of range (expected to be in range of [{}, {}], but got {})", -n, n, start));
      return;
    }
    std::int64_t from = start < 0 ? start + n : start;
    if (from > n - length) {
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::NarrowRange,
          fmt::format("narrow({}, {}, {}) runs past the end of dim {} of {} (size {})", *dim, start, length, *dim, tensor_name(input), n), "length");
      ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("start ({}) + length ({}) exceeds dimension size ({}).", from, length, n));
      return;
    }
  }
  Shape shape = input.shape;
  std::vector<std::string> names = input.dim_names;
  names.resize(shape.size());
  shape[static_cast<std::size_t>(*dim)] = DimExpr::constant(length);
  names[static_cast<std::size_t>(*dim)] = start == 0 ? slice_length_name(ctx.spec, shape[static_cast<std::size_t>(*dim)]) : "";
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = resized_layout(input.layout, shape);  // the same strides, from an offset
}

}  // namespace mhacheck
