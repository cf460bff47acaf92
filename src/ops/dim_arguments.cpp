#include "ops/dim_arguments.hpp"

#include <fmt/format.h>

#include "check/roles.hpp"
#include "core/text.hpp"
#include "ops/result_type.hpp"

namespace mhacheck {

Diagnostic& report_argument(CallContext& ctx, DiagId id, std::string message, const std::string& argument) {
  Diagnostic& diagnostic = ctx.report(id, std::move(message));
  diagnostic.argument = argument;
  // A default value is written nowhere: the lookup then finds the enclosing call.
  diagnostic.location = ctx.spec.document.values.find(child_pointer(ctx.call.pointer, argument));
  return diagnostic;
}

std::int64_t int_argument(const CallContext& ctx, const std::string& name) { return ctx.call.arguments.at(name).get<std::int64_t>(); }

Shape size_list_argument(const CallContext& ctx, const std::string& name) {
  Shape sizes;
  for (const nlohmann::json& size : ctx.call.arguments.at(name)) {
    sizes.push_back(size.is_string() ? ctx.symbols.resolve(*parse_dim_expr(size.get<std::string>()))  // checked by the reader
                                     : DimExpr::constant(size.get<std::int64_t>()));
  }
  return sizes;
}

ArgValue wrapped_number(const CallContext& ctx, const std::string& argument) {
  const nlohmann::json& number = ctx.call.arguments.at(argument);
  ArgValue value;
  value.argument = argument;
  value.present = true;
  value.dtype = number_dtype(number);
  value.origin = "the number " + (number.is_string() ? fmt::format("float('{}')", number.get<std::string>()) : number.dump());
  value.location = ctx.spec.document.values.find(child_pointer(ctx.call.pointer, argument));
  return value;
}

bool zero_dim(CallContext& ctx, const ArgValue& input, const std::string& type, const std::string& message) {
  if (input.rank() > 0) return false;
  Diagnostic& diagnostic = ctx.report(DiagId::IndexRank, fmt::format("{} is 0-D: it has no dim to take part of", input.argument), &input);
  ctx.pytorch_raises(diagnostic, type, message);
  return true;
}

namespace {

// maybe_wrap_dim over `range` dims; `what` names the tensor in mhacheck's message.
std::optional<int> wrap_dim_over(CallContext& ctx, const std::string& argument, std::int64_t dim, int range, const std::string& what) {
  range = std::max(range, 1);
  if (dim >= -range && dim < range) return static_cast<int>(dim < 0 ? dim + range : dim);
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::DimOutOfRange, fmt::format("{}={} is out of range for {} (valid: {} to {})", argument, dim, what, -range, range - 1), argument);
  ctx.pytorch_raises(diagnostic, "IndexError",
                     fmt::format("Dimension out of range (expected to be in range of [{}, {}], but got {})", -range, range - 1, dim));
  if (dim == range) diagnostic.notes.push_back(fmt::format("dims count from 0; the last dim is {} (or -1)", range - 1));
  return std::nullopt;
}

}  // namespace

std::optional<int> wrap_dim(CallContext& ctx, const std::string& argument, std::int64_t dim, int rank) {
  return wrap_dim_over(ctx, argument, dim, rank, fmt::format("a {}-D tensor", rank));
}

std::optional<int> wrap_new_dim(CallContext& ctx, const std::string& argument, std::int64_t dim, int rank) {
  return wrap_dim_over(ctx, argument, dim, rank + 1, fmt::format("a new dim of {}-D tensors (the result is {}-D)", rank, rank + 1));
}

std::string dim_text(const ArgValue& input, int d) {
  return input.dim_name(d).empty() ? input.shape[static_cast<std::size_t>(d)].str() : "\"" + input.dim_name(d) + "\"";
}

bool per_entry_batch_dim(const CallContext& ctx, const ArgValue& values, int dim) {
  const int last = values.rank() - 1;
  if (values.rank() < 2 || dim == last || !explicit_batch_name(values.dim_name(dim))) return false;
  for (int d : {dim, last}) {
    if (ctx.symbols.compare(values.shape[static_cast<std::size_t>(d)], DimExpr::constant(1)) == Symbols::Verdict::Equal) return false;
  }
  for (int d = 0; d < values.rank(); ++d) {
    const DimRole role = role_of_dim(values.dim_names, d);
    const std::vector<std::string> factors = name_factors(values.dim_name(d));
    if (role == DimRole::Sequence || factors.size() > 1 || (d != dim && role == DimRole::Batch)) return false;
  }
  const CallDecl* maker = values.producer;
  const ModuleDecl* module = maker != nullptr && !maker->module.empty() ? ctx.spec.find_module(maker->module) : nullptr;
  if ((module != nullptr && module->type == "Linear") || (maker != nullptr && (maker->op == "linear" || maker->op == "F.linear"))) return true;
  const std::string name = lowered(tensor_name(values));
  return name.find("logit") != std::string::npos || name.find("pred") != std::string::npos || name.find("prob") != std::string::npos;
}

}  // namespace mhacheck
