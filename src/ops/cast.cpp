// Tensor.to(dtype) and its shorthands .float(), .double(), .half(), .bfloat16(), .bool(), .long(),
// .int(): one rule. PyTorch 2.x's to (aten/src/ATen/native/TensorConversions.cpp): the same dtype
// returns the tensor itself; another is _to_copy with MemoryFormat::Preserve, whose output keeps a
// dense input's strides (a transposed tensor stays transposed: a later view of it still fails).
#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// The dtype a shorthand method converts to; nullopt for `to`, whose dtype is its argument.
std::optional<DType> shorthand_dtype(const std::string& op) {
  if (op == "float") return DType::Float32;
  if (op == "double") return DType::Float64;
  if (op == "half") return DType::Float16;
  if (op == "bfloat16") return DType::BFloat16;
  if (op == "bool") return DType::Bool;
  if (op == "long") return DType::Int64;
  if (op == "int") return DType::Int32;
  return std::nullopt;
}

}  // namespace

void infer_to(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<DType> target = shorthand_dtype(ctx.call.op);
  if (!target) {
    const std::string& name = ctx.call.arguments.at("dtype").get_ref<const std::string&>();
    target = parse_dtype(name);
    if (!target) {
      // A spec's dtype names are checked as a declared tensor's are: a malformed spec (MHA002).
      report_argument(ctx, DiagId::InputSchema, fmt::format("dtype \"{}\" is not a dtype mhacheck knows; expected one of {}", name, dtype_names_list()),
                      "dtype");
      return;
    }
  }
  ctx.outputs.push_back({"output", input.shape, *target, input.dim_names});
  ctx.output_layouts["output"] = *target == input.dtype ? input.layout : elementwise_layout({&input.layout}, input.shape);
}

}  // namespace mhacheck
