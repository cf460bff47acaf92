// nn.Embedding: looks rows of its (num_embeddings, embedding_dim) weight up by integer index;
// an input of shape (*) gives (*, embedding_dim) in the weight's dtype. Index values are data:
// `mhacheck run` checks them, `check` cannot.
#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ops/parts.hpp"
#include "ops/registry.hpp"

namespace mhacheck {
namespace {

// The tensor type names of PyTorch's checkScalarTypes; its table of legacy names has no entry
// for bool and bfloat16, which keep their backend type names.
std::string legacy_type_name(DType dtype) {
  if (dtype == DType::Bool || dtype == DType::BFloat16) return fmt::format("CPU{}Type", dtype_aten_name(dtype));
  return fmt::format("torch.{}Tensor", dtype_aten_name(dtype));
}

// The smallest and largest value a tensor of indices holds, each held by some entry.
struct IndexBounds {
  std::int64_t low = 0, high = 0;
};

// A whole number written in a call's arguments; nullopt for anything else.
std::optional<std::int64_t> whole_number(const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number_float() && value.get<double>() == static_cast<double>(static_cast<std::int64_t>(value.get<double>()))) {
    return static_cast<std::int64_t>(value.get<double>());
  }
  return std::nullopt;
}

// The bounds of the tensor `name` as the calls before `reader` state them, where they do:
// arange(start, end, step) on numbers holds start and its last step; a clamp to two numbers
// holds them (an engineer clamps at bounds the values reach: relative distances clamped to
// [-k, k]), or clamps the input's known bounds; a number added or subtracted shifts them;
// indexing with None and whole slices only, unsqueeze, contiguous and integer casts keep them.
// Anything else (data, a tensor operand) leaves them unknown.
std::optional<IndexBounds> stated_bounds(const Spec& spec, const CallDecl& reader, const std::string& name, int depth = 0) {
  if (depth > 8) return std::nullopt;
  const CallDecl* made = nullptr;
  for (const CallDecl& call : spec.calls) {
    if (&call == &reader) break;
    if (std::find(call.outputs.begin(), call.outputs.end(), name) != call.outputs.end()) made = &call;
  }
  if (made == nullptr || made->outputs.size() != 1) return std::nullopt;
  const nlohmann::json& args = made->arguments;
  auto input_bounds = [&]() -> std::optional<IndexBounds> {
    auto input = made->tensors.find("input");
    if (input == made->tensors.end() || input->second.kind != ArgRef::Kind::Named) return std::nullopt;
    return stated_bounds(spec, *made, input->second.name, depth + 1);
  };
  if (made->op == "arange") {
    std::optional<std::int64_t> start = whole_number(args.value("start", nlohmann::json(0))), end = whole_number(args.value("end", nlohmann::json()));
    std::optional<std::int64_t> step = whole_number(args.value("step", nlohmann::json(1)));
    if (!start || !end || !step || *step <= 0 || *end <= *start) return std::nullopt;
    return IndexBounds{*start, *start + (*end - *start - 1) / *step * *step};
  }
  if (made->op == "clamp") {
    std::optional<std::int64_t> low = whole_number(args.value("min", nlohmann::json())), high = whole_number(args.value("max", nlohmann::json()));
    std::optional<IndexBounds> in = input_bounds();
    if (in) {
      IndexBounds clamped = *in;
      for (std::int64_t* value : {&clamped.low, &clamped.high}) {
        if (low) *value = std::max(*value, *low);
        if (high) *value = std::min(*value, *high);
      }
      return clamped;
    }
    if (!low || !high || *low > *high) return std::nullopt;
    return IndexBounds{*low, *high};
  }
  if (made->op == "add" || made->op == "sub") {
    auto other = made->tensors.find("other");
    std::optional<std::int64_t> number = whole_number(args.value("other", nlohmann::json()));
    std::optional<std::int64_t> alpha = whole_number(args.value("alpha", nlohmann::json(1)));
    if ((other != made->tensors.end() && other->second.kind != ArgRef::Kind::Absent) || !number || !alpha) return std::nullopt;
    std::optional<IndexBounds> in = input_bounds();
    if (!in) return std::nullopt;
    std::int64_t shift = (made->op == "add" ? 1 : -1) * *number * *alpha;
    return IndexBounds{in->low + shift, in->high + shift};
  }
  if (made->op == "getitem") {
    const std::string index = args.value("index", "");
    std::string rest = index;
    for (const char* kept : {"None", ":", ",", "[", "]", " "}) {
      for (std::size_t at; (at = rest.find(kept)) != std::string::npos;) rest.erase(at, std::string(kept).size());
    }
    return rest.empty() && !index.empty() ? input_bounds() : std::nullopt;
  }
  if (made->op == "unsqueeze" || made->op == "contiguous" || made->op == "long" || made->op == "int") return input_bounds();
  return std::nullopt;
}

// The first call of `spec` that makes `name` from numbers: the arange behind positions.
const CallDecl* arange_behind(const Spec& spec, const CallDecl& reader, const std::string& name) {
  for (const CallDecl& call : spec.calls) {
    if (&call == &reader) break;
    if (std::find(call.outputs.begin(), call.outputs.end(), name) == call.outputs.end()) continue;
    if (call.op == "arange") return &call;
    auto input = call.tensors.find("input");
    if (input == call.tensors.end() || input->second.kind != ArgRef::Kind::Named) return nullptr;
    return arange_behind(spec, call, input->second.name);
  }
  return nullptr;
}

// Indices whose stated bounds leave the table's rows 0 to count - 1: PyTorch raises IndexError
// at the first one. Fixes: bounds -k..k that fit the table once shifted get + k (distances
// clamped to [-k, k] index a table of 2k + 1 rows from 0); positions from arange beyond the
// table cut, with every declared sequence of the arange's length, to the table's rows.
void check_index_bounds(CallContext& ctx, const ArgValue& input, std::int64_t count) {
  auto ref = ctx.call.tensors.find("input");
  if (ref == ctx.call.tensors.end() || ref->second.kind != ArgRef::Kind::Named) return;
  const std::string& name = ref->second.name;
  std::optional<IndexBounds> bounds = stated_bounds(ctx.spec, ctx.call, name);
  if (!bounds || (bounds->low >= 0 && bounds->high < count)) return;
  Diagnostic& diagnostic = ctx.report(
      DiagId::IndexOutOfRange,
      fmt::format("{} holds indices from {} to {}, as the calls that made it state, outside the table's rows 0 to {} "
                  "(num_embeddings={})",
                  name, bounds->low, bounds->high, count - 1, count),
      &input);
  ctx.pytorch_raises(diagnostic, "IndexError", "index out of range in self");
  const std::string& at = ctx.call.pointer;
  const std::optional<std::size_t> index = ctx.index_in_calls();
  if (!index) return;
  if (bounds->low < 0 && bounds->high - bounds->low < count) {
    const std::int64_t shift = -bounds->low;
    const std::string shifted = name + "_index";
    nlohmann::json add = {{"id", ctx.call.id + "_shift"}, {"op", "add"}, {"input", name}, {"other", shift}, {"outputs", {shifted}}};
    nlohmann::json patch = nlohmann::json::array({{{"op", "add"}, {"path", at}, {"value", std::move(add)}},
                                                  {{"op", "replace"}, {"path", child_pointer(CallContext::calls_entry_pointer(*index + 1), "input")}, {"value", shifted}}});
    ctx.add_patch_fix(diagnostic,
                      fmt::format("shift the indices onto the table's rows from 0: {} = {} + {} (rows {} to {})", shifted, name, shift, 0,
                                  bounds->high + shift),
                      std::move(patch));
    return;
  }
  const CallDecl* positions = arange_behind(ctx.spec, ctx.call, name);
  std::optional<std::int64_t> end = positions ? whole_number(positions->arguments.value("end", nlohmann::json())) : std::nullopt;
  if (bounds->low < 0 || !end || positions->pointer.empty() || bounds->high - bounds->low + 1 != *end) return;
  nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(positions->pointer, "end")}, {"value", count}}});
  std::vector<std::string> cuts;
  for (const TensorDecl& tensor : ctx.spec.tensors) {
    for (std::size_t d = 0; d < tensor.shape.size() && !tensor.shape_pointer.empty(); ++d) {
      if (!tensor.shape[d].is_constant() || tensor.shape[d].offset != *end) continue;
      patch.push_back({{"op", "replace"}, {"path", child_pointer(tensor.shape_pointer, d)}, {"value", count}});
      std::string slices;
      for (std::size_t before = 0; before < d; ++before) slices += ":, ";
      cuts.push_back(fmt::format("{}[{}:{}]", tensor.name, slices, count));
    }
  }
  ctx.add_patch_fix(diagnostic,
                    fmt::format("truncate the sequence to the table's {} positions: {}arange({})", count,
                                cuts.empty() ? "" : fmt::format("{}, ", fmt::join(cuts, ", ")), count),
                    std::move(patch));
}

}  // namespace

void infer_embedding(CallContext& ctx) {
  const ModuleDecl& module = *ctx.module;
  std::int64_t count = module.integer("num_embeddings"), dim = module.integer("embedding_dim");
  const nlohmann::json& padding = module.options.at("padding_idx");
  // nn.Embedding.__init__ asserts a positive padding_idx below num_embeddings and a negative one
  // at or above -num_embeddings, then allocates the weight (and zeroes the padding row).
  if (!padding.is_null()) {
    std::int64_t index = padding.get<std::int64_t>();
    if ((index > 0 && index >= count) || (index < 0 && index < -count)) {
      Diagnostic& diagnostic = ctx.report_option(
          DiagId::PaddingIdx, fmt::format("padding_idx {} is outside [-{}, {}]", index, count, count - 1), "padding_idx");
      ctx.pytorch_raises(diagnostic, "AssertionError", "Padding_idx must be within num_embeddings");
      return;
    }
  }
  if (!sizes_nonnegative(ctx, {count, dim}, count < 0 ? "num_embeddings" : "embedding_dim")) return;
  if (!padding.is_null() && count == 0) {  // weight[padding_idx].fill_(0) on an empty table
    Diagnostic& diagnostic = ctx.report_option(DiagId::PaddingIdx, "padding_idx 0 of an empty table (num_embeddings=0)", "padding_idx");
    ctx.pytorch_raises(diagnostic, "IndexError", "index 0 is out of bounds for dimension 0 with size 0");
    return;
  }
  const ArgValue& input = ctx.arg("input");
  if (input.dtype != DType::Int64 && input.dtype != DType::Int32) {
    Diagnostic& diagnostic = ctx.report(
        DiagId::IndicesDType, fmt::format("{} is {}; nn.Embedding looks rows up by int64 or int32 indices", input.argument, dtype_name(input.dtype)),
        &input);
    ctx.pytorch_raises(diagnostic, "RuntimeError",
                       fmt::format("Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
                                   "but got {} instead (while checking arguments for embedding)",
                                   legacy_type_name(input.dtype)));
    ctx.add_dtype_fix(diagnostic, fmt::format("pass {} as int64 ({}.long())", input.argument, input.argument), input, DType::Int64);
    return;
  }
  check_index_bounds(ctx, input, count);
  Shape output = input.shape;
  output.push_back(DimExpr::constant(dim));
  ctx.outputs.push_back({"output", output, module.dtype()});
  ctx.output_layouts["output"] = Layout::contiguous(output);  // a new tensor, whatever the input's layout
}

}  // namespace mhacheck
