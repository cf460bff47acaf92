// The tensor constructors attention code builds masks and positions with: torch.ones, zeros,
// full(size, fill_value), arange(start, end, step), eye(n, m), the *_like forms of a tensor's
// shape and Tensor.new_ones/new_zeros (a size, the tensor's dtype). PyTorch 2.x's factory
// functions (aten/src/ATen/native/TensorFactories.cpp, RangeFactories.cpp): a negative size is
// at::empty's "Trying to create tensor with negative dimension"; the dtype is the one written,
// else the default float32, except that full infers it from its fill value (bool, int64 or the
// default float) and arange from its numbers (int64 when all are integers). Their values are
// known: a mask made from ones(T, T) by tril is read by the mask checks (check/mask_pattern.cpp).
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "mhacheck/npy.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/index_expression.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// The dtype argument when written (null: `fallback`); nullopt after MHA002 for a name mhacheck
// does not know.
std::optional<DType> dtype_argument(CallContext& ctx, DType fallback) {
  const nlohmann::json& written = ctx.call.arguments.value("dtype", nlohmann::json());
  if (written.is_null()) return fallback;
  const std::string& name = written.get_ref<const std::string&>();
  std::optional<DType> dtype = parse_dtype(name);
  if (!dtype) {
    report_argument(ctx, DiagId::InputSchema, fmt::format("dtype \"{}\" is not a dtype mhacheck knows; expected one of {}", name, dtype_names_list()),
                    "dtype");
  }
  return dtype;
}

// at::empty's check of the sizes, in its words.
bool sizes_allowed(CallContext& ctx, const Shape& shape, const std::string& argument) {
  for (const DimExpr& size : shape) {
    if (!size.is_constant() || size.offset >= 0) continue;
    Diagnostic& diagnostic =
        report_argument(ctx, DiagId::ConstructorSize, fmt::format("{} makes a tensor of the negative size {}", ctx.call.op, size.offset), argument);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("Trying to create tensor with negative dimension {}: {}", size.offset, sizes_list(shape)));
    return false;
  }
  return true;
}

// computeStorageNbytesContiguous's check (c10/core/impl/SizesAndStrides, EmptyTensor.cpp): the
// element count times the item size, in uint64, must not overflow nor exceed int64's maximum.
// Only sizes known as numbers are checked; a size of 0 makes no bytes.
bool storage_fits(CallContext& ctx, const Shape& shape, DType dtype, const std::string& argument) {
  std::uint64_t bytes = 1;
  bool overflowed = false;
  for (const DimExpr& size : shape) {
    if (!size.is_constant()) return true;
    if (size.offset == 0) return true;
    overflowed |= __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(size.offset), &bytes);
  }
  overflowed |= __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(dtype_size(dtype)), &bytes);
  if (!overflowed && bytes <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return true;
  Diagnostic& diagnostic =
      report_argument(ctx, DiagId::ConstructorSize, fmt::format("{} of sizes {} needs more bytes than an int64 counts", ctx.call.op,
                                                                sizes_list(shape)),
                      argument);
  ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("Storage size calculation overflowed with sizes={}", sizes_list(shape)));
  return false;
}

// The output's dims are named by the sizes written as symbols (ones(T, T): two sequence dims).
std::vector<std::string> size_names(const Shape& shape) {
  std::vector<std::string> names;
  for (const DimExpr& size : shape) names.push_back(size.is_plain_symbol() ? size.symbol.str() : "");
  return names;
}

void produce(CallContext& ctx, const Shape& shape, DType dtype, std::vector<std::string> names) {
  ctx.outputs.push_back({"output", shape, dtype, std::move(names)});
  ctx.output_layouts["output"] = Layout::contiguous(shape);
}

// A number or a size argument (arange's, eye's) as a DimExpr; nullopt for a number that is not whole.
std::optional<DimExpr> whole_size(const CallContext& ctx, const nlohmann::json& value) {
  if (value.is_string()) return ctx.symbols.resolve(*parse_dim_expr(value.get<std::string>()));  // checked by the reader
  if (value.is_number_integer()) return DimExpr::constant(value.get<std::int64_t>());
  return std::nullopt;
}

// An argument of arange: its number when known (a size bound under "dims" included), and as a
// DimExpr when it is whole (a number without a fraction, or a size, bound or not).
struct RangeArgument {
  std::optional<double> number;
  std::optional<DimExpr> whole;
};

RangeArgument range_argument(const CallContext& ctx, const nlohmann::json& value) {
  RangeArgument argument;
  argument.whole = whole_size(ctx, value);
  if (argument.whole && argument.whole->is_constant()) argument.number = static_cast<double>(argument.whole->offset);
  if (value.is_number_float()) argument.number = value.get<double>();
  return argument;
}

// end - start as a size: a constant difference, a size minus a number, or a sum of sizes less
// one of its terms (GPT-2's arange(P, P+T) for the positions after a cache of P: T).
std::optional<DimExpr> size_difference(const DimExpr& high, const DimExpr& low) {
  if (low.is_constant()) return dim_add(high, -low.offset);
  if (high.symbol == low.symbol && high.coeff == low.coeff) return DimExpr::constant(high.offset - low.offset);
  if (high.coeff != 1 || low.coeff != 1 || low.is_monomial()) return std::nullopt;
  // The terms of an opaque sum "P+T", sorted as parse_dim_expr and cat write them.
  std::vector<std::string> terms;
  const std::string& sum = high.symbol.str();
  bool found = false;
  std::size_t begin = 0;
  while (begin <= sum.size()) {
    std::size_t plus = std::min(sum.find('+', begin), sum.size());
    std::string term = sum.substr(begin, plus - begin);
    if (!found && term == low.symbol.str()) {
      found = true;
    } else {
      terms.push_back(term);
    }
    begin = plus + 1;
  }
  if (!found || terms.empty()) return std::nullopt;
  std::string rest;
  for (const std::string& term : terms) rest += (rest.empty() ? "" : "+") + term;
  std::optional<DimExpr> remaining = parse_dim_expr(rest);
  return remaining ? dim_add(*remaining, high.offset - low.offset) : std::nullopt;
}

// RangeFactories.cpp's arange on numbers, in its order: finite bounds, a step towards the end,
// a count that fits int64 (computed exactly for integers, as ceil((end - start) / step) in
// double otherwise); nullopt after reporting PyTorch's refusal.
std::optional<DimExpr> numeric_range_count(CallContext& ctx, const RangeArgument& from, const RangeArgument& to, const RangeArgument& by) {
  const double low = *from.number, high = *to.number, step = *by.number;
  const nlohmann::json& arguments = ctx.call.arguments;
  if (!std::isfinite(low) || !std::isfinite(high)) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ConstructorSize, "arange's bounds must be finite", std::isfinite(low) ? "end" : "start");
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("unsupported range: {} -> {}", low, high));
    return std::nullopt;
  }
  if ((step > 0 && high < low) || (step < 0 && high > low)) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ConstructorSize,
                                             fmt::format("arange from {} to {} by {} goes the wrong way", arguments.at("start").dump(),
                                                         arguments.at("end").dump(), arguments.at("step").dump()),
                                             "step");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "upper bound and larger bound inconsistent with step sign");
    return std::nullopt;
  }
  double count = 0;
  std::int64_t length = 0;
  if (from.whole && to.whole && by.whole && !__builtin_sub_overflow(to.whole->offset, from.whole->offset, &length) &&
      length != std::numeric_limits<std::int64_t>::min()) {
    // Exact for int64 bounds: the steps rounded up (length has the step's sign, or is 0).
    const std::int64_t stride = by.whole->offset;
    count = static_cast<double>(length / stride + (length % stride != 0 ? 1 : 0));
  } else {
    count = std::ceil((high - low) / step);
  }
  // PyTorch compares with int64's maximum as a double, 2^63, which no int64 holds: kept below it.
  if (!(count >= 0 && count < std::ldexp(1.0, 63))) {
    Diagnostic& diagnostic =
        report_argument(ctx, DiagId::ConstructorSize, fmt::format("arange's number of elements, {}, does not fit an int64", count), "step");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "invalid size, possible overflow?");
    return std::nullopt;
  }
  return DimExpr::constant(static_cast<std::int64_t>(count));
}

}  // namespace

// torch.ones(size), torch.zeros(size) and torch.full(size, fill_value).
void infer_constructor(CallContext& ctx) {
  Shape shape = size_list_argument(ctx, "size");
  DType inferred = DType::Float32;
  if (ctx.call.op == "full") {
    const nlohmann::json& fill = ctx.call.arguments.at("fill_value");
    inferred = fill.is_boolean() ? DType::Bool : fill.is_number_integer() ? DType::Int64 : DType::Float32;
  }
  std::optional<DType> dtype = dtype_argument(ctx, inferred);
  if (!dtype || !sizes_allowed(ctx, shape, "size") || !storage_fits(ctx, shape, *dtype, "size")) return;
  produce(ctx, shape, *dtype, size_names(shape));
}

// torch.ones_like, zeros_like and full_like(input, fill_value): input's shape and dtype.
void infer_constructor_like(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<DType> dtype = dtype_argument(ctx, input.dtype);
  if (!dtype) return;
  produce(ctx, input.shape, *dtype, input.dim_names);
}

// Tensor.new_ones(size) and new_zeros(size): the size given, input's dtype.
void infer_new_constructor(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  Shape shape = size_list_argument(ctx, "size");
  std::optional<DType> dtype = dtype_argument(ctx, input.dtype);
  if (!dtype || !sizes_allowed(ctx, shape, "size") || !storage_fits(ctx, shape, *dtype, "size")) return;
  produce(ctx, shape, *dtype, size_names(shape));
}

// torch.eye(n, m=None): (n, m), n by default.
void infer_eye(CallContext& ctx) {
  std::optional<DType> dtype = dtype_argument(ctx, DType::Float32);
  if (!dtype) return;
  Shape shape;
  for (const char* argument : {"n", "m"}) {
    const nlohmann::json& value = ctx.call.arguments.value(argument, nlohmann::json());
    if (value.is_null()) {
      shape.push_back(shape.front());
      continue;
    }
    std::optional<DimExpr> size = whole_size(ctx, value);
    if (!size) {
      report_argument(ctx, DiagId::InputSchema, fmt::format("eye's {} must be an integer or a size", argument), argument);
      return;
    }
    if (size->is_constant() && size->offset < 0) {
      Diagnostic& diagnostic = report_argument(ctx, DiagId::ConstructorSize, fmt::format("eye's {} is {}", argument, size->offset), argument);
      ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("{} must be greater or equal to 0, got {}", argument, size->offset));
      return;
    }
    shape.push_back(*size);
  }
  if (!storage_fits(ctx, shape, *dtype, "n")) return;
  produce(ctx, shape, *dtype, size_names(shape));
}

// torch.arange(start=0, end, step=1): ceil((end - start) / step) elements; int64 when every
// number is an integer (a size counts as one), else the default float32. Sizes bound under
// "dims" count as their numbers; with unbound ones the count is a size when end - start is one
// (arange(P, P+T): T) and the step a positive integer.
void infer_arange(CallContext& ctx) {
  const nlohmann::json& start = ctx.call.arguments.at("start");
  const nlohmann::json& end = ctx.call.arguments.at("end");
  const nlohmann::json& step = ctx.call.arguments.at("step");
  auto integral = [](const nlohmann::json& value) { return value.is_string() || value.is_number_integer(); };
  std::optional<DType> dtype = dtype_argument(ctx, integral(start) && integral(end) && integral(step) ? DType::Int64 : DType::Float32);
  if (!dtype) return;
  const RangeArgument from = range_argument(ctx, start), to = range_argument(ctx, end), by = range_argument(ctx, step);
  if (by.number && *by.number == 0) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ConstructorSize, "arange's step is 0", "step");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "step must be nonzero");
    return;
  }
  Shape shape;
  if (from.number && to.number && by.number) {
    std::optional<DimExpr> count = numeric_range_count(ctx, from, to, by);
    if (!count) return;
    shape.push_back(*count);
  } else {
    std::optional<DimExpr> count;
    if (from.whole && to.whole && by.whole && by.whole->is_constant() && by.whole->offset > 0) {
      if (std::optional<DimExpr> length = size_difference(*to.whole, *from.whole)) count = slice_size(*length, by.whole->offset);
    }
    if (!count) {
      report_argument(ctx, DiagId::ShapeNotDerivable,
                      fmt::format("arange({}, {}, {}) has a number of elements mhacheck cannot write; bind the symbols under \"dims\"", start.dump(),
                                  end.dump(), step.dump()),
                      "end");
      return;
    }
    shape.push_back(*count);
  }
  if (!storage_fits(ctx, shape, *dtype, "end")) return;
  produce(ctx, shape, *dtype, size_names(shape));
}

}  // namespace mhacheck
