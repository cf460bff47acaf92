// Tensor.expand(sizes), Tensor.repeat(repeats) and torch.repeat_interleave(input, repeats, dim),
// as PyTorch 2.x's inferExpandGeometry, repeat and repeat_interleave_symint check them. Sizes
// may be symbols (x.expand(B, -1, -1)); expand's -1 keeps the existing size.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <bit>

#include "ops/dim_arguments.hpp"
#include "ops/parts.hpp"
#include "ops/registry.hpp"
#include "ops/size_product.hpp"
#include "check/roles.hpp"

namespace mhacheck {
namespace {

// Tensor::toString() of a CPU tensor: "torch.FloatTensor".
std::string legacy_type_name(DType dtype) {
  switch (dtype) {
    case DType::Float16: return "torch.HalfTensor";
    case DType::BFloat16: return "torch.BFloat16Tensor";
    case DType::Float32: return "torch.FloatTensor";
    case DType::Float64: return "torch.DoubleTensor";
    case DType::Bool: return "torch.BoolTensor";
    case DType::UInt8: return "torch.ByteTensor";
    case DType::Int8: return "torch.CharTensor";
    case DType::Int16: return "torch.ShortTensor";
    case DType::Int32: return "torch.IntTensor";
    case DType::Int64: return "torch.LongTensor";
  }
  return "torch.Tensor";
}

// at::empty of a negative size, as repeat's result would be.
bool sizes_possible(CallContext& ctx, const Shape& shape, const std::string& argument) {
  for (const DimExpr& dim : shape) {
    if (!dim.is_constant() || dim.offset >= 0) continue;
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ExpandSizes, fmt::format("the result would have the negative size {}", dim.offset), argument);
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("Trying to create tensor with negative dimension {}: {}", dim.offset, sizes_list(shape)));
    return false;
  }
  return true;
}

// An expand asked to grow a dim of n entries to a whole multiple k*n, the other dims kept: each
// entry was meant k times (grouped-query attention's key/value heads to the query's, which
// repeat_kv writes x[:, :, None].expand(B, Hkv, k, S, D).reshape(B, k*Hkv, S, D)), which is
// x.repeat_interleave(k, dim=d): copies of one entry adjacent, the order that expanding a new
// dim after it and merging gives. The call is rewritten in place.
void propose_interleaved(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input, const Shape& sizes, int dim) {
  if (ctx.spec.flat || static_cast<int>(sizes.size()) != input.rank() || dim < 0) return;
  const DimExpr& existing = input.shape[static_cast<std::size_t>(dim)];
  const DimExpr& target = sizes[static_cast<std::size_t>(dim)];
  std::int64_t factor = 0;
  if (existing.is_constant() && target.is_constant() && existing.offset > 1 && target.offset % existing.offset == 0) {
    factor = target.offset / existing.offset;
  } else if (!existing.is_constant() && existing.symbol == target.symbol && existing.offset == 0 && target.offset == 0 &&
             target.coeff % existing.coeff == 0) {
    factor = target.coeff / existing.coeff;
  }
  if (factor < 2) return;
  for (int d = 0; d < input.rank(); ++d) {
    const DimExpr& size = sizes[static_cast<std::size_t>(d)];
    if (d != dim && size != DimExpr::constant(-1) && ctx.symbols.compare(size, input.shape[static_cast<std::size_t>(d)]) != Symbols::Verdict::Equal) return;
  }
  const ArgRef& source = ctx.call.tensor("input");
  const std::string name = source.kind == ArgRef::Kind::Named ? source.name : "input";
  nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", ctx.call.pointer + "/op"}, {"value", "repeat_interleave"}},
                                                {{"op", "remove"}, {"path", ctx.call.pointer + "/size"}},
                                                {{"op", "add"}, {"path", ctx.call.pointer + "/repeats"}, {"value", factor}},
                                                {{"op", "add"}, {"path", ctx.call.pointer + "/dim"}, {"value", dim}}});
  ctx.add_patch_fix(diagnostic,
                    fmt::format("copy each of the {} entries of dim {} {} times, side by side: {}.repeat_interleave({}, dim={}) (what "
                                "{}.unsqueeze({}).expand(...).reshape(...) gives)",
                                existing.str(), dim, factor, name, factor, dim, name, dim + 1),
                    patch);
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                              "entry i's copies take places i*k .. i*k+k-1: grouped heads share their key/value head");
}

// repeat given fewer counts than the tensor has dims: the counts written were meant for some of
// its dims, the others kept (count 1). Each way of giving the missing dims a 1 is proposed,
// trailing dims first: tiling a learned token (1, 1, D) over a batch and a sequence,
// token.repeat(B, N), forgets the feature dim's count more often than a leading one; the fix
// check keeps the placements the consumers accept (a cat with (B, T, D) on dim 1).
void propose_kept_dims(CallContext& ctx, Diagnostic& diagnostic, const ArgValue& input) {
  const nlohmann::json& written = ctx.call.arguments.at("repeats");
  if (ctx.spec.flat || !written.is_array()) return;
  const std::size_t given = written.size(), rank = static_cast<std::size_t>(input.rank());
  if (given == 0 || given >= rank || rank > 6) return;
  const ArgRef& source = ctx.call.tensor("input");
  const std::string name = source.kind == ArgRef::Kind::Named ? source.name : "input";
  // kept[d]: dim d gets the count 1; the written counts fill the other dims in order. Masks are
  // visited from the one with the kept dims last.
  const std::size_t missing = rank - given;
  std::vector<std::vector<bool>> placements;
  for (std::uint32_t mask = 0; mask < (1u << rank); ++mask) {
    if (static_cast<std::size_t>(std::popcount(mask)) != missing) continue;
    std::vector<bool> kept(rank);
    for (std::size_t d = 0; d < rank; ++d) kept[d] = (mask >> (rank - 1 - d)) & 1u;
    placements.push_back(std::move(kept));
  }
  // Largest mask first = kept dims leftmost; reverse so the trailing placement comes first.
  std::sort(placements.begin(), placements.end(), [](const std::vector<bool>& a, const std::vector<bool>& b) {
    for (std::size_t d = a.size(); d-- > 0;) {
      if (a[d] != b[d]) return a[d];
    }
    return false;
  });
  // Each placement is checked on the whole graph: the likeliest few are enough.
  constexpr std::size_t kPlacementsTried = 6;
  if (placements.size() > kPlacementsTried) placements.resize(kPlacementsTried);
  for (const std::vector<bool>& kept : placements) {
    nlohmann::json counts = nlohmann::json::array();
    std::vector<std::string> texts;
    bool tiles_only_singletons = true;
    std::size_t next = 0;
    for (std::size_t d = 0; d < rank; ++d) {
      nlohmann::json count = kept[d] ? nlohmann::json(1) : written[next++];
      if (!kept[d] && input.shape[d] != DimExpr::constant(1)) tiles_only_singletons = false;
      texts.push_back(count.is_string() ? count.get<std::string>() : count.dump());
      counts.push_back(std::move(count));
    }
    ctx.add_patch_fix(diagnostic,
                      fmt::format("give every dim a count, 1 where the {}-D tensor is kept: {}.repeat({})", rank, name, fmt::join(texts, ", ")),
                      nlohmann::json::array({{{"op", "replace"}, {"path", ctx.call.pointer + "/repeats"}, {"value", std::move(counts)}}}));
    if (tiles_only_singletons) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                  "the counts tile the dims of size 1 (a token broadcast over batch and positions); the dims with content are kept");
    }
  }
}

}  // namespace

void infer_expand(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  Shape sizes = size_list_argument(ctx, "size");
  int rank = static_cast<int>(sizes.size());
  if (rank < input.rank()) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::ExpandSizes, fmt::format("{} sizes for a {}-D tensor; expand can add dims, not drop them", rank, input.rank()), "size");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("expand({}{{{}}}, size={}): the number of sizes provided ({}) must be greater or equal to the number of "
                                   "dimensions in the tensor ({})",
                                   legacy_type_name(input.dtype), sizes_list(input.shape), sizes_list(sizes), rank, input.rank()));
    return;
  }
  Shape shape(sizes.size());
  // What each dim stands for: a size written as a name is that name (expand(B, -1, -1) of a
  // (1, O, E) query makes a batch dim even when B and O are bound to one number), a kept size
  // keeps the input dim's name, and a number stretched from 1 names nothing.
  std::vector<std::string> names(sizes.size());
  const nlohmann::json& written = ctx.call.arguments.at("size");
  const DimExpr one = DimExpr::constant(1), keep = DimExpr::constant(-1);
  for (int i = rank - 1; i >= 0; --i) {
    int dim = input.rank() - rank + i;  // input's dim, right-aligned; negative: a new leading dim
    DimExpr existing = dim >= 0 ? input.shape[dim] : one;
    DimExpr target = sizes[i];
    if (target == keep) {
      if (dim < 0) {
        Diagnostic& diagnostic = report_argument(
            ctx, DiagId::ExpandSizes, fmt::format("size {} is -1 for a new leading dim; -1 keeps an existing size", i), "size");
        ctx.pytorch_raises(diagnostic, "RuntimeError",
                           fmt::format("The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {}", i));
        return;
      }
      target = existing;
    }
    if (existing != target && existing != one &&
        !(ctx.symbols.compare(existing, target) != Symbols::Verdict::Unequal &&
          ctx.same(existing, target, &input, dim, fmt::format("expand size {} == input dim {}", i, dim)))) {
      Diagnostic& diagnostic = report_argument(
          ctx, DiagId::ExpandSizes,
          fmt::format("size {} is {} but input dim {} is {}; expand stretches only dims of size 1", i, target.str(), dim, existing.str()), "size");
      diagnostic.related.push_back(ctx.related(input, dim, fmt::format("input dim {} = {}", dim, existing.str())));
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                         fmt::format("The expanded size of the tensor ({}) must match the existing size ({}) at non-singleton dimension {}.  "
                                     "Target sizes: {}.  Tensor sizes: {}",
                                     target.str(), existing.str(), i, sizes_list(sizes), sizes_list(input.shape)));
      propose_interleaved(ctx, diagnostic, input, sizes, dim);
      return;
    }
    shape[i] = target;
    if (written[i].is_string()) {
      names[i] = written[i].get<std::string>();
    } else if (dim >= 0 && existing == target) {
      names[i] = input.dim_name(dim);
    }
  }
  if (!sizes_possible(ctx, shape, "size")) return;
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = expanded_layout(input.layout, shape);
}

void infer_repeat(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  Shape repeats = size_list_argument(ctx, "repeats");
  if (static_cast<int>(repeats.size()) < input.rank()) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::ExpandSizes, fmt::format("{} repeats for a {}-D tensor; repeat needs one per dim", repeats.size(), input.rank()), "repeats");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor");
    propose_kept_dims(ctx, diagnostic, input);
    return;
  }
  Shape shape;
  std::size_t added = repeats.size() - input.shape.size();
  for (std::size_t i = 0; i < repeats.size(); ++i) {
    DimExpr size = i < added ? DimExpr::constant(1) : input.shape[i - added];
    std::optional<SizeProduct> product = SizeProduct::of(Shape{size, repeats[i]});
    if (!product) {
      report_argument(ctx, DiagId::ShapeNotDerivable,
                      fmt::format("{} * {} is not one dim (a product of symbols times an integer); bind the symbols under \"dims\"", size.str(), repeats[i].str()), "repeats");
      return;
    }
    shape.push_back(product->as_dim());
  }
  if (!sizes_possible(ctx, shape, "repeats")) return;
  // repeat tiles a dim whole: entry t*n + b of a dim of n entries tiled r times is entry b, so the
  // result's dim is the count outer, the dim inner ("T*B" for repeat(T, 1) of (B, E)), which a
  // later view that cuts it (B, T) reads in the other order. Dims repeated once keep their name.
  std::vector<std::string> names(repeats.size());
  for (std::size_t i = added; i < repeats.size(); ++i) {
    const std::string& name = input.dim_name(static_cast<int>(i - added));
    if (repeats[i] == DimExpr::constant(1)) {
      names[i] = name;
    } else if (!name_factors(name).empty() && (repeats[i].is_plain_symbol() || (repeats[i].is_constant() && repeats[i].offset > 1))) {
      names[i] = merged_name({repeats[i].str(), name});
    }
  }
  if (std::all_of(names.begin(), names.end(), [](const std::string& name) { return name.empty(); })) names.clear();
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = Layout::contiguous(shape);  // a new tensor
}

// Without dim, input is flattened first; dim wraps against input's own rank.
void infer_repeat_interleave(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const nlohmann::json& written_dim = ctx.call.arguments.at("dim");
  std::optional<int> dim = wrap_dim(ctx, "dim", written_dim.is_null() ? 0 : written_dim.get<std::int64_t>(), input.rank());
  if (!dim) return;
  std::int64_t repeats = int_argument(ctx, "repeats");
  if (repeats < 0) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ExpandSizes, fmt::format("repeats={} is negative", repeats), "repeats");
    ctx.pytorch_raises(diagnostic, "RuntimeError", "Repeats must be non-negative");
    return;
  }
  Shape shape = input.shape;
  if (written_dim.is_null()) {
    std::optional<SizeProduct> numel = SizeProduct::of(input.shape);
    if (!numel) {
      report_argument(ctx, DiagId::ShapeNotDerivable,
                      fmt::format("the flattened size {} is not one dim (a product of symbols times an integer); bind the symbols under \"dims\"", numel_str(input.shape)),
                      "dim");
      return;
    }
    shape = {numel->as_dim()};
  } else if (input.rank() == 0) {
    // unsqueeze(dim + 1) of a 0-D tensor
    Diagnostic& diagnostic = report_argument(ctx, DiagId::DimOutOfRange, "a 0-D tensor has no dim to repeat along", "dim");
    ctx.pytorch_raises(diagnostic, "IndexError", "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
    return;
  }
  std::optional<DimExpr> repeated = dim_mul(shape[*dim], repeats);
  if (!repeated) {
    report_argument(ctx, DiagId::ShapeNotDerivable, fmt::format("{} * {} overflows", shape[*dim].str(), repeats), "repeats");
    return;
  }
  shape[*dim] = *repeated;
  // The other dims keep their names; the repeated one names nothing (not another input dim that
  // happens to have the new size: (B, 2, T, D) repeated 4 times on dim 1 with B bound to 8 has no
  // batch in its heads slot).
  std::vector<std::string> names;
  if (!written_dim.is_null()) {
    for (int d = 0; d < input.rank(); ++d) names.push_back(d == *dim && repeats != 1 ? std::string() : input.dim_name(d));
    if (std::all_of(names.begin(), names.end(), [](const std::string& name) { return name.empty(); })) names.clear();
  }
  ctx.outputs.push_back({"output", shape, input.dtype, names});
  ctx.output_layouts["output"] = Layout::contiguous(shape);  // index_select writes a new tensor
}

}  // namespace mhacheck
