// torch.transpose(input, dim0, dim1): swaps two dims, each wrapped as PyTorch wraps dims.
#include <fmt/format.h>

#include "check/dim_origin.hpp"
#include "core/shape_json.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

namespace {

// MHA312: a view or reshape that splits one dim into two counts (a, b), then a transpose of
// exactly those two factors: the result reads them as (b, a), but its dim b holds entries a
// apart in memory (a strided split), where splitting as (b, a) reads contiguous blocks. Written
// so, the intent is contiguous blocks in two settings:
// - the features a Linear just made, split into its output blocks: the weights lay them out as
//   the result is read (Deformable-DETR's offsets view(N, Lq, n_heads, n_levels, n_points, 2),
//   heads outer), so splitting (levels, heads) and swapping gives each head other heads' rows;
// - the positions of per-head (..., T, D) queries, keys or values cut into buckets or blocks of
//   neighbouring tokens (local, blocked or Sinkhorn attention: reshape(B, H, n_buckets, -1, D)):
//   split (bucket_len, n_buckets) and swapped, a "bucket" holds every n_buckets-th token.
// Spared: a pair that ends the Linear's features (the per-head size moved before the heads on
// purpose), equal counts (a square grid's rows and columns exchanged on purpose, axial attention),
// symbolic factors (named spatial sizes say which is which), a split of other dims.
void check_split_then_swap(CallContext& ctx, const ArgValue& input, int dim0, int dim1) {
  const int outer = std::min(dim0, dim1), inner = std::max(dim0, dim1);
  const CallDecl* split = input.producer;
  if (inner != outer + 1 || split == nullptr || (split->op != "view" && split->op != "reshape") || !CallContext::index_in_calls(*split)) return;
  const nlohmann::json& written = split->arguments.value("shape", nlohmann::json());
  if (!written.is_array() || static_cast<int>(written.size()) != input.rank()) return;
  const DimExpr a = ctx.symbols.resolve(input.shape[static_cast<std::size_t>(outer)]);
  const DimExpr b = ctx.symbols.resolve(input.shape[static_cast<std::size_t>(inner)]);
  if (!a.is_constant() || !b.is_constant() || a.offset < 2 || b.offset < 2 || a.offset == b.offset) return;
  const std::optional<ResolvedArgument> source = checked_argument(ctx, *split, "input");
  if (!source || source->shape.empty() || source->shape.size() >= static_cast<std::size_t>(input.rank())) return;
  // The source's dim `outer` must be cut into the result's dims outer..`cut_end` (the pair and
  // maybe more counts after it), every other dim kept.
  const Shape from = ctx.symbols.resolve(source->shape);
  const int cut_end = outer + input.rank() - static_cast<int>(from.size());
  std::int64_t product = 1;
  for (int d = 0; d < input.rank(); ++d) {
    const DimExpr size = ctx.symbols.resolve(input.shape[static_cast<std::size_t>(d)]);
    if (d >= outer && d <= cut_end) {
      if (!size.is_constant()) return;
      product *= size.offset;
      continue;
    }
    if (from[static_cast<std::size_t>(d < outer ? d : d - (cut_end - outer))] != size) return;
  }
  if (outer >= static_cast<int>(from.size()) || from[static_cast<std::size_t>(outer)] != DimExpr::constant(product)) return;
  const int last = static_cast<int>(from.size()) - 1;
  const std::string made = input_name(*split, "input");
  const CallDecl* maker = made.empty() ? nullptr : producer_of(ctx.spec, made, split);
  const ModuleDecl* module = maker != nullptr && !maker->module.empty() ? ctx.spec.find_module(maker->module) : nullptr;
  // The Linear's features cut into more factors than the pair: view(B, T, H, D).transpose(2, 3)
  // reads heads-major features and moves the per-head features on purpose ((B, T, D, H)).
  const bool projected = outer == last && inner < cut_end && module != nullptr && module->type == "Linear";
  const bool positions = from.size() >= 4 && outer == last - 1 && inner == cut_end;
  if (!projected && !positions) return;
  nlohmann::json fixed = written;
  std::swap(fixed[static_cast<std::size_t>(outer)], fixed[static_cast<std::size_t>(inner)]);
  const std::string text = shape_list_text(fixed);
  Diagnostic& diagnostic = ctx.report(
      DiagId::ReshapeMovesDim,
      fmt::format("call \"{}\" splits dim {} of {} ({}) into the counts ({}, {}) in that order, and this transpose swaps them: the result's "
                  "{} blocks then each take every {}th entry (a strided split), where {}({}) reads {} contiguous blocks",
                  split->id, outer, tuple_str(source->shape), projected ? fmt::format("the features of the Linear of call \"{}\"", maker->id) : "the positions",
                  a.offset, b.offset, b.offset, b.offset, split->op, text, b.offset),
      &input, outer);
  diagnostic.notes.push_back(projected ? "a Linear's output features are laid out as its weights' rows: a split reads them outer block first"
                                       : "blocked or bucketed attention groups neighbouring positions: the number of blocks is the outer factor");
  diagnostic.notes.push_back("PyTorch raises nothing: the sizes agree either way");
  if (ctx.call.pointer.empty()) return;  // the flat form has no calls to patch
  nlohmann::json patch = nlohmann::json::array();
  auto unswap = [&](const CallDecl& cut, const CallDecl& swap) {
    patch.push_back({{"op", "replace"}, {"path", cut.pointer + "/shape"}, {"value", fixed}});
    patch.push_back({{"op", "replace"}, {"path", swap.pointer + "/op"}, {"value", "contiguous"}});
    patch.push_back({{"op", "remove"}, {"path", swap.pointer + "/dim0"}});
    patch.push_back({{"op", "remove"}, {"path", swap.pointer + "/dim1"}});
  };
  unswap(*split, ctx.call);
  // The same split and swap written for the other tensors (q, k and v bucketed alike): one fix
  // for all, or the buckets of the queries and the keys no longer line up.
  std::vector<std::string> alike;
  for (const CallDecl& other : ctx.spec.calls) {
    if (&other == &ctx.call || other.op != "transpose" || other.pointer.empty() || other.arguments.value("dim0", nlohmann::json()) != ctx.call.arguments.value("dim0", nlohmann::json()) ||
        other.arguments.value("dim1", nlohmann::json()) != ctx.call.arguments.value("dim1", nlohmann::json())) {
      continue;
    }
    const std::string cut_name = input_name(other, "input");
    const CallDecl* cut = cut_name.empty() ? nullptr : producer_of(ctx.spec, cut_name, &other);
    if (cut == nullptr || cut == split || cut->op != split->op || cut->pointer.empty() || cut->arguments.value("shape", nlohmann::json()) != written) continue;
    unswap(*cut, other);
    const std::string source_name = input_name(*cut, "input");
    alike.push_back(source_name.empty() ? cut->id : source_name);
  }
  std::string also;
  for (std::size_t i = 0; i < alike.size(); ++i) also += (i == 0 ? "" : i + 1 == alike.size() ? " and " : ", ") + alike[i];
  ctx.add_patch_fix(diagnostic,
                    fmt::format("split in the order the result is read, without the swap: {}.{}({}){}", made.empty() ? "input" : made, split->op, text,
                                also.empty() ? "" : fmt::format(" (and {} alike)", also)),
                    std::move(patch));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, fmt::format("each of the {} blocks holds {} neighbouring entries", b.offset, a.offset));
}

}  // namespace

void infer_transpose(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  std::optional<int> dim0 = wrap_dim(ctx, "dim0", int_argument(ctx, "dim0"), input.rank());
  if (!dim0) return;
  std::optional<int> dim1 = wrap_dim(ctx, "dim1", int_argument(ctx, "dim1"), input.rank());
  if (!dim1) return;
  Shape shape = input.shape;
  std::vector<std::string> names = input.dim_names;
  names.resize(shape.size());
  if (!shape.empty()) {  // a 0-D tensor transposes to itself
    std::swap(shape[*dim0], shape[*dim1]);
    std::swap(names[*dim0], names[*dim1]);
  }
  std::vector<int> order(shape.size());
  for (std::size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int>(d);
  if (!order.empty()) std::swap(order[*dim0], order[*dim1]);
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = permuted_layout(input.layout, order);
  if (!shape.empty()) check_split_then_swap(ctx, input, *dim0, *dim1);
}

}  // namespace mhacheck
