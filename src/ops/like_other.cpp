// Tensor.expand_as(other), view_as(other), reshape_as(other) and type_as(other): PyTorch defines
// each as the operator it names with other's sizes (expand(other.size()), view(other.size()),
// reshape(other.size())) or dtype (to(other.dtype)), so each runs that operator's rules on the
// sizes or dtype `other` has. The sizes are other's as the check resolved them (symbols kept), and
// a fix cannot rewrite them: they are not written in the call.
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

nlohmann::json sizes_json(const Shape& shape) {
  nlohmann::json sizes = nlohmann::json::array();
  for (const DimExpr& size : shape) sizes.push_back(size.is_constant() ? nlohmann::json(size.offset) : nlohmann::json(size.str()));
  return sizes;
}

// Runs `rule` as the call `op`(input, argument=value) in place of this call: its diagnostics,
// outputs and layouts become this call's.
void run_as(CallContext& ctx, const std::string& op, InferFn rule, const std::string& argument, nlohmann::json value) {
  CallDecl named = ctx.call;
  named.op = op;
  named.arguments = nlohmann::json::object({{argument, std::move(value)}});
  named.tensors.erase("other");
  CallContext inner = ctx.inner(named, nullptr);
  inner.args["input"] = ctx.arg("input");
  inner.argument_names = {{"input", "input"}};  // the sizes are not written: nothing to fix there
  rule(inner);
  ctx.outputs = std::move(inner.outputs);
  ctx.output_layouts = std::move(inner.output_layouts);
  ctx.absorb(inner);
}

}  // namespace

void infer_expand_as(CallContext& ctx) { run_as(ctx, "expand", infer_expand, "size", sizes_json(ctx.arg("other").shape)); }

void infer_view_as(CallContext& ctx) {
  run_as(ctx, ctx.call.op == "view_as" ? "view" : "reshape", infer_reshape, "shape", sizes_json(ctx.arg("other").shape));
}

void infer_type_as(CallContext& ctx) { run_as(ctx, "to", infer_to, "dtype", dtype_name(ctx.arg("other").dtype)); }

}  // namespace mhacheck
