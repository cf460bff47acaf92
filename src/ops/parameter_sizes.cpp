// A module allocates its parameters with torch.empty(sizes) in its constructor: a negative
// size fails there, before any call.
#include <fmt/format.h>

#include "ops/parts.hpp"

namespace mhacheck {

std::string sizes_list(const Shape& shape) {
  std::vector<std::string> dims;
  for (const DimExpr& dim : shape) dims.push_back(dim.str());
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

bool sizes_nonnegative(CallContext& ctx, const std::vector<std::int64_t>& sizes, const std::string& option) {
  for (std::int64_t size : sizes) {
    if (size >= 0) continue;
    Diagnostic& diagnostic = ctx.report_option(DiagId::NegativeSize, fmt::format("{} is negative ({})", option, size), option);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Trying to create tensor with negative dimension {}: [{}]", size, fmt::join(sizes, ", ")));
    return false;
  }
  return true;
}

}  // namespace mhacheck
