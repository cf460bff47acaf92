// torch.permute(input, dims): dims must name every dim of input exactly once. PyTorch checks
// the count first (its message says sparse_coo for dense tensors too), then wraps each dim.
#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

namespace {

// A permute that moves a dim (heads to the front of a pair bias (B, I, J, H)) and on the way
// reverses two dims of one size (I and J of a square pair): permute(0, 3, 2, 1) gives
// (B, H, J, I), a transposed bias that no shape shows, where permute(0, 3, 1, 2) moves the same
// dim and keeps the pair in its order. A permute that only exchanges the pair (k.transpose(-2,
// -1) of (B, H, T, T), the ending-node orientation) does it on purpose and is left alone.
void check_square_pair_reversed(CallContext& ctx, const ArgValue& input, const std::vector<int>& order) {
  const int rank = static_cast<int>(order.size());
  if (rank < 3) return;
  // The same output places, each group of same-sized input dims put back in increasing order.
  std::vector<int> kept = order;
  std::optional<std::pair<int, int>> reversed;
  for (int a = 0; a < rank; ++a) {
    const DimExpr& size = input.shape[static_cast<std::size_t>(a)];
    // Only a pair written with one symbol (z (B, I, I, C)) is a square pair by construction;
    // two constants of one size are often two roles that happen to agree (an axial block's
    // H == W == 32 exchanged on purpose by permute(0, 3, 2, 1)).
    if (size.is_constant()) continue;
    std::vector<std::size_t> places;
    std::vector<int> dims;
    for (int place = 0; place < rank; ++place) {
      if (input.shape[static_cast<std::size_t>(order[static_cast<std::size_t>(place)])] == size) {
        places.push_back(static_cast<std::size_t>(place));
        dims.push_back(order[static_cast<std::size_t>(place)]);
      }
    }
    if (dims.size() < 2 || dims.front() != a) continue;  // each group once, at its first dim
    std::vector<int> sorted = dims;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < places.size(); ++i) kept[places[i]] = sorted[i];
    for (std::size_t i = 0; !reversed && i + 1 < dims.size(); ++i) {
      for (std::size_t j = i + 1; j < dims.size(); ++j) {
        if (dims[i] > dims[j]) {
          reversed = {dims[j], dims[i]};
          break;
        }
      }
    }
  }
  if (kept == order) return;
  bool identity = true;
  for (int d = 0; d < rank; ++d) identity = identity && kept[static_cast<std::size_t>(d)] == d;
  if (identity || !reversed) return;
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::PermuteReversesPair,
      fmt::format("permute({}) of {} also reverses dims {} and {} (both {}): of one size, no shape shows it; permute({}) moves the same "
                  "dims and keeps those two in their order",
                  fmt::join(order, ", "), tuple_str(input.shape), reversed->first, reversed->second,
                  input.shape[static_cast<std::size_t>(reversed->first)].str(), fmt::join(kept, ", ")),
      "dims");
  diagnostic.notes.push_back("a square pair (I, J of a pair representation, H, W of a square image) transposed as a side effect of "
                             "moving another dim runs, with every entry read at its mirror position");
  ctx.add_argument_fix(diagnostic, fmt::format("keep the order of dims {} and {}: permute({})", reversed->first, reversed->second, fmt::join(kept, ", ")),
                       "dims", kept);
}

}  // namespace

void infer_permute(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::vector<std::int64_t> dims = ctx.call.arguments.at("dims").get<std::vector<std::int64_t>>();
  if (static_cast<int>(dims.size()) != input.rank()) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::PermuteDims, fmt::format("dims has {} entries but input {} has {} dims", dims.size(), tuple_str(input.shape), input.rank()),
        "dims");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired "
                                   "ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                                   input.rank(), dims.size()));
    return;
  }
  Shape shape;
  std::vector<std::string> names;
  std::vector<bool> seen(dims.size(), false);
  std::vector<int> order;
  for (std::int64_t dim : dims) {
    std::optional<int> wrapped = wrap_dim(ctx, "dims", dim, input.rank());
    if (!wrapped) return;
    if (seen[*wrapped]) {
      Diagnostic& diagnostic =
          report_argument(ctx, DiagId::PermuteDims, fmt::format("dims names dim {} twice; each dim of the input appears once", *wrapped), "dims");
      ctx.pytorch_raises(diagnostic, "RuntimeError", "permute(): duplicate dims are not allowed.");
      return;
    }
    seen[*wrapped] = true;
    order.push_back(*wrapped);
    shape.push_back(input.shape[*wrapped]);
    names.push_back(input.dim_name(*wrapped));
  }
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = permuted_layout(input.layout, order);
  check_square_pair_reversed(ctx, input, order);
}

}  // namespace mhacheck
