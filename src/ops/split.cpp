// torch.split with an integer split_size, split_with_sizes (what torch.split does with a list of
// sizes) and torch.chunk: as many outputs as the arguments and the dim's size make, checked in
// the order PyTorch 2.x raises (split, split_with_sizes and chunk in
// aten/src/ATen/native/TensorShape.cpp). The pieces' sizes come from ops/split_sizes.hpp, which
// the forward pass shares.
#include <algorithm>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "check/mask_origin.hpp"
#include "check/roles.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"
#include "ops/split_sizes.hpp"

namespace mhacheck {
namespace {

// The most outputs of one call that mhacheck follows, like the tensors of one torch.cat.
constexpr std::int64_t kMaxPieces = static_cast<std::int64_t>(kMaxListTensors);

bool too_many_pieces(CallContext& ctx, std::int64_t count, const std::string& argument) {
  if (count <= kMaxPieces) return false;
  report_argument(ctx, DiagId::SplitPiecesLimit,
                  fmt::format("{} returns {} tensors here; mhacheck follows at most {} outputs of one call", ctx.call.op, count, kMaxPieces),
                  argument);
  return true;
}

// More names in the call's "outputs" than tensors returned: Python's unpacking fails (MHA347).
Diagnostic* unpack_failure(CallContext& ctx, std::size_t count, const DimExpr& size, int dim) {
  std::size_t names = ctx.call.outputs.size();
  if (names <= count) return nullptr;
  Diagnostic& diagnostic = report_argument(
      ctx, DiagId::UnpackCount,
      fmt::format("\"outputs\" names {} tensors, but {} of dim {} (size {}) returns {}", names, ctx.call.op, dim, size.str(), count),
      "outputs");
  ctx.pytorch_raises(diagnostic, "ValueError", fmt::format("not enough values to unpack (expected {}, got {})", names, count));
  return &diagnostic;
}

// The outputs: the input with dim `dim` cut into `pieces`. Each keeps the input's dim names but
// the cut dim's, unless one piece is the whole dim.
void produce_pieces(CallContext& ctx, const ArgValue& input, int dim, const std::vector<DimExpr>& pieces) {
  std::vector<std::string> names = input.dim_names;
  names.resize(input.shape.size());
  if (pieces.size() != 1) names[static_cast<std::size_t>(dim)].clear();
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    Shape shape = input.shape;
    shape[static_cast<std::size_t>(dim)] = pieces[i];
    ctx.outputs.push_back({std::to_string(i), shape, input.dtype, names});
    ctx.output_layouts[std::to_string(i)] = resized_layout(input.layout, shape);
  }
}

std::vector<DimExpr> constants(const std::vector<std::int64_t>& sizes) {
  std::vector<DimExpr> dims;
  for (std::int64_t size : sizes) dims.push_back(DimExpr::constant(size));
  return dims;
}

// A symbolic size whose pieces depend on the symbol's value.
void symbol_dependent(CallContext& ctx, const DimExpr& size, int dim, const std::string& argument) {
  report_argument(ctx, DiagId::ShapeNotDerivable,
                  fmt::format("the pieces {} cuts dim {} (size {}) into depend on {}'s value; bind the symbol under \"dims\"", ctx.call.op,
                              dim, size.str(), size.symbol),
                  argument);
}

// An output named like one of attention's projections: q, k, v, query, key, value (xq, q_proj, ...).
bool named_like_projection(const std::string& written) {
  std::string name = lowered(written);
  if (name.size() == 2 && name[0] == 'x') name = name.substr(1);  // Llama's xq, xk, xv
  if (name == "queries") return true;
  for (const char* suffix : {"_proj", "_states", "_layer", "s"}) {
    std::string tail(suffix);
    if (name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0) name.resize(name.size() - tail.size());
  }
  for (const char* word : {"q", "k", "v", "query", "key", "value"}) {
    if (name == word) return true;
  }
  return false;
}

// MHA285: a fused projection returns q, k and v (or k and v) side by side in its last dim. A cut
// of a dim named as a batch or a sequence is one of them only by the evidence that it was meant
// as that cut: three pieces, as many pieces as a fused Linear (out_features = n x in_features)
// stacks, or outputs named like q, k and v. The fix cuts the features into the same count.
void check_cut_dim_role(CallContext& ctx, const ArgValue& input, int dim, std::size_t pieces) {
  const int last = input.rank() - 1;
  if (dim == last || pieces < 2) return;
  const DimExpr& features = input.shape[static_cast<std::size_t>(last)];
  const std::int64_t count = static_cast<std::int64_t>(pieces);
  if (features.coeff % count != 0 || features.offset % count != 0) return;
  const CallDecl* maker = values_maker(ctx, input);
  const ModuleDecl* module = maker != nullptr && !maker->module.empty() ? ctx.spec.find_module(maker->module) : nullptr;
  const bool fused = module != nullptr && module->type == "Linear" &&
                     module->integer("out_features") == count * module->integer("in_features") &&
                     features == DimExpr::constant(module->integer("out_features"));
  // A fused Linear's output cut on any other dim is evidence enough, even unnamed (a pasted
  // torch.Size); a dim named otherwise (heads) is not.
  DimRole role = role_of_dim(input.dim_names, dim);
  bool unnamed = input.dim_name(dim).empty();
  if (role != DimRole::Batch && role != DimRole::Sequence && !(fused && unnamed)) return;
  std::string what = unnamed ? fmt::format("size {}", input.shape[static_cast<std::size_t>(dim)].str())
                             : fmt::format("\"{}\", a {}", input.dim_name(dim), role_name(role));
  std::string why;
  if (fused) {
    why = fmt::format("the Linear of call \"{}\" ({} -> {} = {} x {}) stacks {} projections in its last dim", maker->id,
                      module->integer("in_features"), module->integer("out_features"), count, module->integer("in_features"), count);
  } else if (ctx.call.outputs.size() == pieces &&
             std::all_of(ctx.call.outputs.begin(), ctx.call.outputs.end(), [](const std::string& name) { return named_like_projection(name); })) {
    why = fmt::format("its outputs ({}) are named like attention's projections", fmt::join(ctx.call.outputs, ", "));
  } else if (pieces == 3) {
    why = "three pieces are q, k and v";
  } else {
    return;
  }
  const DimExpr piece{features.coeff / count, features.symbol, features.offset / count};
  std::string name = shown_name(input, "input");
  Diagnostic& diagnostic = ctx.report(
      DiagId::ChunkNotFeatures,
      fmt::format("{} cuts dim {} ({}) of {} {} into {} pieces, but {}: they lie side by side in the last dim ({} = {} x {}); each "
                  "piece gets 1/{} of the {} with every projection's features",
                  ctx.call.op, dim, what, name, tuple_str(input.shape), pieces, why, features.str(), count, piece.str(), count,
                  role == DimRole::Batch ? "batch entries" : role == DimRole::Sequence ? "positions" : "entries"),
      &input, dim);
  diagnostic.notes.push_back("PyTorch raises nothing when the sizes divide: a later view back to the full shape keeps the element count");
  nlohmann::json patch = nlohmann::json::array();
  std::string text;
  auto set = [&](const std::string& argument, nlohmann::json value) {
    std::optional<std::string> pointer = ctx.argument_pointer(argument);
    if (pointer) patch.push_back({{"op", "add"}, {"path", *pointer}, {"value", std::move(value)}});
    return pointer.has_value();
  };
  if (ctx.call.op == "chunk") {
    if (!set("dim", -1)) return;
    text = fmt::format("{}.chunk({}, dim=-1)", name, count);
  } else if (ctx.call.op == "split" && piece.is_constant()) {
    if (!set("split_size", piece.offset) || !set("dim", -1)) return;
    text = fmt::format("{}.split({}, dim=-1)", name, piece.offset);
  } else if (ctx.call.op == "split_with_sizes" && features.is_constant()) {
    std::vector<std::int64_t> sizes = ctx.call.arguments.at("split_sizes").get<std::vector<std::int64_t>>();
    if (std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0}) != features.offset || !set("dim", -1)) return;
    text = fmt::format("{}.split([{}], dim=-1)", name, fmt::join(sizes, ", "));
  } else {
    return;
  }
  ctx.add_patch_fix(diagnostic, fmt::format("cut the features: {}", text), std::move(patch));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each piece keeps every position and one projection's features");
}

}  // namespace

void infer_split(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (zero_dim(ctx, input, "RuntimeError", "split expects at least a 1-dimensional tensor")) return;
  std::int64_t split_size = int_argument(ctx, "split_size");
  if (split_size < 0) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::SplitSize, fmt::format("split_size={} is negative", split_size), "split_size");
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("split expects split_size be non-negative, but got split_size={}", split_size));
    return;
  }
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  // A symbol is at least 1: its dim is never empty.
  if (split_size == 0 && (!size.is_constant() || size.offset != 0)) {
    Diagnostic& diagnostic = report_argument(
        ctx, DiagId::SplitSize, fmt::format("split_size=0 cannot cut dim {} of {} (size {})", *dim, shown_name(input, "input"), size.str()), "split_size");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("split_size can only be 0 if dimension size is 0, but got dimension size of {}", size.str()));
    return;
  }
  if (!size.is_constant()) return symbol_dependent(ctx, size, *dim, "split_size");
  std::int64_t count = piece_count("split", ctx.call.arguments, size.offset);
  if (too_many_pieces(ctx, count, "split_size")) return;
  if (Diagnostic* diagnostic = unpack_failure(ctx, static_cast<std::size_t>(count), size, *dim)) {
    // The split_size that returns one tensor per name, when there is one.
    std::int64_t names = static_cast<std::int64_t>(ctx.call.outputs.size());
    std::int64_t fitting = (size.offset + names - 1) / names;
    if (fitting > 0 && piece_count("split", {{"split_size", fitting}}, size.offset) == names) {
      ctx.add_argument_fix(*diagnostic, fmt::format("split into pieces of {}", fitting), "split_size", fitting);
    }
    return;
  }
  check_cut_dim_role(ctx, input, *dim, static_cast<std::size_t>(count));
  produce_pieces(ctx, input, *dim, constants(piece_sizes("split", ctx.call.arguments, size.offset)));
}

void infer_split_with_sizes(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (zero_dim(ctx, input, "RuntimeError", "split expects at least a 1-dimensional tensor")) return;
  std::int64_t written_dim = int_argument(ctx, "dim");
  std::optional<int> dim = wrap_dim(ctx, "dim", written_dim, input.rank());
  if (!dim) return;
  std::vector<std::int64_t> sizes = ctx.call.arguments.at("split_sizes").get<std::vector<std::int64_t>>();
  std::string sizes_text = fmt::format("[{}]", fmt::join(sizes, ", "));
  for (std::int64_t piece : sizes) {
    if (piece >= 0) continue;
    Diagnostic& diagnostic = report_argument(ctx, DiagId::SplitSizesSum, fmt::format("split_sizes={} has a negative size", sizes_text), "split_sizes");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes={}", sizes_text));
    return;
  }
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  std::int64_t sum = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});  // at most 1024 sizes of at most 2^40
  if (!ctx.same(DimExpr::constant(sum), size, &input, *dim, fmt::format("split_sizes sum to {}", sum))) {
    Diagnostic& diagnostic =
        report_argument(ctx, DiagId::SplitSizesSum,
                        fmt::format("split_sizes={} sum to {}, but dim {} of {} has size {}", sizes_text, sum, *dim, shown_name(input, "input"), size.str()),
                        "split_sizes");
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {}), but got "
                                   "split_sizes={}",
                                   size.str(), written_dim, sizes_text));
    if (size.is_constant() && !sizes.empty() && size.offset - (sum - sizes.back()) >= 0) {
      std::vector<std::int64_t> fitted = sizes;
      fitted.back() = size.offset - (sum - sizes.back());
      ctx.add_argument_fix(diagnostic, fmt::format("make the last size {}", fitted.back()), "split_sizes", fitted);
    }
    for (int other = 0; other < input.rank(); ++other) {
      if (other != *dim && input.shape[static_cast<std::size_t>(other)] == DimExpr::constant(sum)) {
        ctx.add_argument_fix(diagnostic, fmt::format("split dim {} (size {})", other, sum), "dim", other);
      }
    }
    return;
  }
  if (unpack_failure(ctx, sizes.size(), size, *dim)) return;
  check_cut_dim_role(ctx, input, *dim, sizes.size());
  produce_pieces(ctx, input, *dim, constants(sizes));
}

void infer_chunk(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  if (zero_dim(ctx, input, "RuntimeError", "chunk expects at least a 1-dimensional tensor")) return;
  std::int64_t chunks = int_argument(ctx, "chunks");
  if (chunks <= 0) {
    Diagnostic& diagnostic = report_argument(ctx, DiagId::ChunkCount, fmt::format("chunks={} is not positive", chunks), "chunks");
    ctx.pytorch_raises(diagnostic, "RuntimeError", fmt::format("chunk expects `chunks` to be greater than 0, got: {}", chunks));
    return;
  }
  std::optional<int> dim = wrap_dim(ctx, "dim", int_argument(ctx, "dim"), input.rank());
  if (!dim) return;
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  std::vector<DimExpr> pieces;
  if (!size.is_constant()) {
    // c*S+o in `chunks` equal pieces for every S when chunks divides both c and o.
    if (size.coeff % chunks != 0 || size.offset % chunks != 0) return symbol_dependent(ctx, size, *dim, "chunks");
    if (too_many_pieces(ctx, chunks, "chunks")) return;
    pieces.assign(static_cast<std::size_t>(chunks), DimExpr{size.coeff / chunks, size.symbol, size.offset / chunks});
  } else {
    std::int64_t count = piece_count("chunk", ctx.call.arguments, size.offset);
    if (too_many_pieces(ctx, count, "chunks")) return;
    pieces = constants(piece_sizes("chunk", ctx.call.arguments, size.offset));
  }
  if (unpack_failure(ctx, pieces.size(), size, *dim)) return;
  if (static_cast<std::int64_t>(pieces.size()) < chunks) {
    report_argument(ctx, DiagId::ChunkFewer,
                    fmt::format("chunk({}) of dim {} (size {}) returns {} chunk{}: PyTorch cuts chunks of ceil({}/{}) = {}", chunks, *dim,
                                size.str(), pieces.size(), pieces.size() == 1 ? "" : "s", size.str(), chunks, pieces.front().str()),
                    "chunks");
  }
  check_cut_dim_role(ctx, input, *dim, pieces.size());
  produce_pieces(ctx, input, *dim, pieces);
}

// torch.unbind(input, dim=0): one tensor per position of dim, each without that dim.
void infer_unbind(CallContext& ctx) {
  const ArgValue& input = ctx.arg("input");
  const std::int64_t written = int_argument(ctx, "dim");
  if (zero_dim(ctx, input, "IndexError", fmt::format("Dimension specified as {} but tensor has no dimensions", written))) return;
  std::optional<int> dim = wrap_dim(ctx, "dim", written, input.rank());
  if (!dim) return;
  const DimExpr& size = input.shape[static_cast<std::size_t>(*dim)];
  if (!size.is_constant()) return symbol_dependent(ctx, size, *dim, "dim");
  if (too_many_pieces(ctx, size.offset, "dim") || unpack_failure(ctx, static_cast<std::size_t>(size.offset), size, *dim)) return;
  produce_pieces(ctx, input, *dim, std::vector<DimExpr>(static_cast<std::size_t>(size.offset), DimExpr::constant(1)));
  for (NamedOutput& output : ctx.outputs) {
    output.shape.erase(output.shape.begin() + *dim);
    if (static_cast<int>(output.dim_names.size()) > *dim) output.dim_names.erase(output.dim_names.begin() + *dim);
    ctx.output_layouts[output.name] = without_dims(ctx.output_layouts[output.name], {*dim});
  }
}

}  // namespace mhacheck
