// torch.stack(tensors, dim=0): the tensors joined along a new dim. PyTorch's stack (ATen's
// TensorShape.cpp): a non-empty list, dim wrapped over the rank + 1 of the first tensor, then
// every tensor of exactly the first one's sizes (no broadcasting, no skipped empty tensors, 0-D
// tensors allowed). The dtype is the promotion of all the tensors' dtypes, as for cat.
#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

void infer_stack(CallContext& ctx) {
  std::vector<const ArgValue*> tensors;
  const std::size_t count = ctx.call.list_size("tensors");
  for (std::size_t i = 0; i < count; ++i) tensors.push_back(&ctx.arg(list_element("tensors", i)));
  const ArgValue& first = *tensors.front();
  std::optional<int> dim = wrap_new_dim(ctx, "dim", int_argument(ctx, "dim"), first.rank());
  if (!dim) return;
  DType dtype = first.dtype;
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    const ArgValue& tensor = *tensors[i];
    dtype = promote_types(dtype, tensor.dtype);
    bool equal = tensor.rank() == first.rank();
    for (int d = 0; equal && d < tensor.rank(); ++d) {
      equal = ctx.same(tensor.shape[static_cast<std::size_t>(d)], first.shape[static_cast<std::size_t>(d)], &tensor, d,
                       fmt::format("{} dim {} == {} dim {}", tensor.argument, d, first.argument, d));
    }
    if (equal) continue;
    Diagnostic& diagnostic = ctx.report(
        DiagId::StackShapes,
        fmt::format("{} is {} but {} is {}; stack needs tensors of one shape (it adds a new dim, it does not join an existing one)",
                    tensor.argument, tuple_str(tensor.shape), first.argument, tuple_str(first.shape)),
        &tensor);
    diagnostic.related.push_back({fmt::format("{} is {}", first.argument, tuple_str(first.shape)), first.location});
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {}", sizes_list(first.shape),
                                   sizes_list(tensor.shape), i));
    if (tensor.rank() == first.rank() && tensor.rank() > 0) {
      diagnostic.notes.push_back("torch.cat joins tensors along an existing dim, where their sizes may differ");
    }
    return;
  }
  Shape shape = first.shape;
  shape.insert(shape.begin() + *dim, DimExpr::constant(static_cast<std::int64_t>(count)));
  // Each dim keeps the name it has in every tensor; the new dim counts the tensors.
  std::vector<std::string> names;
  for (int d = 0; d < first.rank(); ++d) {
    std::string name = first.dim_name(d);
    for (const ArgValue* tensor : tensors) {
      if (tensor->dim_name(d) != name) name.clear();
    }
    names.push_back(name);
  }
  names.insert(names.begin() + *dim, "");
  ctx.outputs.push_back({"output", shape, dtype, names});
  ctx.output_layouts["output"] = Layout::contiguous(shape);
}

}  // namespace mhacheck
