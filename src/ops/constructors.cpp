// The tensor constructors attention code builds masks and positions with: torch.ones, zeros,
// full(size, fill_value), arange(start, end, step), eye(n, m), the *_like forms of a tensor's
// shape and Tensor.new_ones/new_zeros (a size, the tensor's dtype). PyTorch 2.x's factory
// functions (aten/src/ATen/native/TensorFactories.cpp, RangeFactories.cpp): a negative size is
// at::empty's "Trying to create tensor with negative dimension"; the dtype is the one written,
// else the default float32, except that full infers it from its fill value (bool, int64 or the
// default float) and arange from its numbers (int64 when all are integers). Their values are
// known: a mask made from ones(T, T) by tril is read by the mask checks (check/mask_pattern.cpp).
#include <cmath>

#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
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
  if (!dtype || !sizes_allowed(ctx, shape, "size")) return;
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
  if (!dtype || !sizes_allowed(ctx, shape, "size")) return;
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
  produce(ctx, shape, *dtype, size_names(shape));
}

// torch.arange(start=0, end, step=1): ceil((end - start) / step) elements; int64 when every
// number is an integer (a size counts as one), else the default float32.
void infer_arange(CallContext& ctx) {
  const nlohmann::json& start = ctx.call.arguments.at("start");
  const nlohmann::json& end = ctx.call.arguments.at("end");
  const nlohmann::json& step = ctx.call.arguments.at("step");
  auto integral = [](const nlohmann::json& value) { return value.is_string() || value.is_number_integer(); };
  std::optional<DType> dtype = dtype_argument(ctx, integral(start) && integral(end) && integral(step) ? DType::Int64 : DType::Float32);
  if (!dtype) return;
  if (step.is_number() && step.get<double>() == 0) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ConstructorSize, "arange's step is 0", "step");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "step must be nonzero");
    return;
  }
  Shape shape;
  if (start.is_number() && end.is_number() && step.is_number()) {
    const double from = start.get<double>(), to = end.get<double>(), by = step.get<double>();
    if ((by > 0 && to < from) || (by < 0 && to > from)) {
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::ConstructorSize, fmt::format("arange from {} to {} by {} goes the wrong way", start.dump(), end.dump(), step.dump()), "step");
      ctx.pytorch_raises(diagnostic, "RuntimeError", "upper bound and larger bound inconsistent with step sign");
      return;
    }
    shape.push_back(DimExpr::constant(static_cast<std::int64_t>(std::ceil((to - from) / by))));
  } else {
    // A size for start or end: the count is a size when the step is 1 and the other bound whole.
    std::optional<DimExpr> low = whole_size(ctx, start), high = whole_size(ctx, end);
    std::optional<DimExpr> count;
    if (low && high && step == 1 && low->is_constant()) count = dim_add(*high, -low->offset);
    if (!count) {
      report_argument(ctx, DiagId::ShapeNotDerivable,
                      fmt::format("arange({}, {}, {}) has a number of elements mhacheck cannot write; bind the symbols under \"dims\"", start.dump(),
                                  end.dump(), step.dump()),
                      "end");
      return;
    }
    shape.push_back(*count);
  }
  produce(ctx, shape, *dtype, size_names(shape));
}

}  // namespace mhacheck
