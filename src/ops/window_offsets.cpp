// MHA374: a mask's key columns and the keys cut from same-length sequences at different starts.
#include "ops/window_offsets.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include <fmt/format.h>

#include "checked_call.hpp"
#include "core/text.hpp"
#include "dim_origin.hpp"
#include "mask_origin.hpp"
#include "ops/registry.hpp"
#include "operators.hpp"

namespace mhacheck {
namespace {

constexpr int kMaxSteps = 8;

std::optional<std::size_t> normal_dim(const nlohmann::json& value, std::size_t rank) {
  if (!value.is_number_integer()) return std::nullopt;
  auto d = value.get<std::int64_t>(), r = static_cast<std::int64_t>(rank);
  if (d < -r || d >= r) return std::nullopt;
  return static_cast<std::size_t>(d < 0 ? d + r : d);
}

// Whether `mask` holds a mask's values: bools, or an additive mask made from them (a -inf or
// large negative fill, a triangle, (1 - keep) * -10000, a tensor declared under a mask's name).
// A float bias that is none of these (ALiBi's slope * key position) is cut at another offset
// than the keys exactly: the two cuts differ by a per-row constant, which softmax ignores.
bool holds_mask_values(const CallContext& ctx, const ArgValue& mask) {
  if (mask.dtype == DType::Bool) return true;
  static constexpr std::array<std::string_view, 14> masking = {"masked_fill", "where", "triu", "tril", "eq", "ne", "lt", "le", "gt", "ge",
                                                               "logical_not", "logical_and", "logical_or", "bitwise_not"};
  static constexpr std::array<std::string_view, 13> on_the_way = {"mul", "div", "sub", "add", "rsub", "neg", "to", "float", "half",
                                                                  "bfloat16", "double", "type_as", "dropout"};
  std::string name = tensor_name(mask);
  const CallDecl* producer = mask.producer;
  for (int step = 0; step < kMaxSteps; ++step) {
    if (producer == nullptr) {
      const TensorDecl* declared = name.empty() ? nullptr : ctx.spec.find_tensor(name);
      if (declared == nullptr) return false;
      return declared->dtype == DType::Bool || lowered(name).find("mask") != std::string::npos ||
             mask_convention_of_name(name) != MaskConvention::Unknown;
    }
    const std::string_view op = producer->op;
    if (std::find(masking.begin(), masking.end(), op) != masking.end()) return true;
    if (!keeps_values(op) && std::find(on_the_way.begin(), on_the_way.end(), op) == on_the_way.end()) return false;
    name = input_name(*producer, "input");
    if (name.empty()) name = input_name(*producer, "other");  // 1 - keep written with the number first
    if (name.empty()) return false;
    producer = producer_of(ctx.spec, name, producer);
  }
  return false;
}

std::string index_text(const IndexExpression& index) {
  std::vector<std::string> items;
  for (const IndexItem& item : index.items) items.push_back(item_text(item));
  return fmt::format("[{}]", fmt::join(items, ", "));
}

}  // namespace

std::optional<PositionsCut> positions_cut(const CallContext& ctx, const CallDecl* producer, std::size_t dim, std::size_t rank) {
  // Calls that keep every dim where it is: copies, casts, and the inversions and comparisons
  // with a number that turn a keep mask into a fill mask.
  static constexpr std::array<std::string_view, 14> same_dims = {"contiguous", "clone", "detach", "to",  "float", "half",        "bfloat16", "double",
                                                                 "bool",       "long",  "int",    "dropout", "bitwise_not", "logical_not"};
  for (int step = 0; step < kMaxSteps && producer != nullptr; ++step) {
    const std::string& op = producer->op;
    if (op == "getitem") {
      const CallReport* made = checked_call(ctx, *producer);
      const ResolvedArgument* input = made ? checked_argument(*made, "input") : nullptr;
      const nlohmann::json& text = producer->arguments.value("index", nlohmann::json());
      std::string error;
      std::optional<IndexExpression> written = text.is_string() ? parse_index(text.get<std::string>(), error) : std::nullopt;
      if (!input || !written) return std::nullopt;
      IndexExpression resolved = *written;
      resolve_symbols(resolved, ctx.symbols);
      IndexPlan plan = plan_index(resolved, input->shape);
      if (plan.failure || plan.dims.size() != rank || plan.dims[dim].source < 0 || plan.dims[dim].step != 1) return std::nullopt;
      const auto source = static_cast<std::size_t>(plan.dims[dim].source);
      std::optional<std::size_t> item = index_entry_of(*written, input->shape.size(), source);
      if (!item) return std::nullopt;
      return PositionsCut{producer, *written, *item, ctx.symbols.resolve(input->shape[source]), plan.dims[dim].start};
    }
    if (op == "transpose") {
      std::optional<std::size_t> a = normal_dim(producer->arguments.value("dim0", nlohmann::json()), rank);
      std::optional<std::size_t> b = normal_dim(producer->arguments.value("dim1", nlohmann::json()), rank);
      if (!a || !b) return std::nullopt;
      dim = dim == *a ? *b : dim == *b ? *a : dim;
    } else if (op == "permute") {
      const nlohmann::json& dims = producer->arguments.value("dims", nlohmann::json());
      if (!dims.is_array() || dims.size() != rank || dim >= rank) return std::nullopt;
      std::optional<std::size_t> from = normal_dim(dims[dim], rank);
      if (!from) return std::nullopt;
      dim = *from;
    } else if (is_comparison(op) ? !producer->arguments.value("other", nlohmann::json()).is_number()
                                 : std::find(same_dims.begin(), same_dims.end(), op) == same_dims.end()) {
      return std::nullopt;
    }
    const std::string input = input_name(*producer, "input");
    if (input.empty()) return std::nullopt;
    producer = producer_of(ctx.spec, input, producer);
  }
  return std::nullopt;
}

std::optional<ScoresKeys> scores_keys(const CallContext& ctx, const ArgValue& scores) {
  const std::optional<ScoresProduct> product = scores_product(ctx.spec, scores.producer);
  if (!product) return std::nullopt;
  const CallReport* made = checked_call(ctx, *product->product);
  const ResolvedArgument* keys = made ? checked_argument(*made, product->keys_argument) : nullptr;
  const std::string name = input_name(*product->product, product->keys_argument);
  if (!keys || keys->shape.size() < 2 || name.empty()) return std::nullopt;
  return ScoresKeys{producer_of(ctx.spec, name, product->product), keys->shape.size() - 1, keys->shape.size()};
}

void check_window_offsets(CallContext& ctx, const ArgValue& mask, const CallDecl* keys_producer, std::size_t dim, std::size_t rank) {
  if (!mask.present || mask.rank() < 1 || keys_producer == nullptr || dim >= rank || !holds_mask_values(ctx, mask)) return;
  const auto columns = static_cast<std::size_t>(mask.rank() - 1);
  // A broadcast column (1) stands for every key: nothing to line up.
  if (mask.shape[columns] == DimExpr::constant(1)) return;
  std::optional<PositionsCut> keys = positions_cut(ctx, keys_producer, dim, rank);
  if (!keys) return;
  std::optional<PositionsCut> cut = positions_cut(ctx, mask.producer, columns, static_cast<std::size_t>(mask.rank()));
  if (!cut || cut->getitem == keys->getitem) return;
  if (ctx.symbols.compare(keys->length, cut->length) != Symbols::Verdict::Equal || keys->start == cut->start) return;
  // Starts whose order depends on a symbol's value (S-T and 0 at S == T) are left alone.
  std::optional<DimExpr> key_start = keys->start.dim(), mask_start = cut->start.dim();
  if (!key_start || !mask_start || ctx.symbols.compare(*key_start, *mask_start) != Symbols::Verdict::Unequal) return;
  const IndexItem& key_item = keys->index.items[keys->item];
  const IndexItem& mask_item = cut->index.items[cut->item];
  const std::string name = shown_name(mask), keys_name = keys->getitem->outputs.empty() ? keys->getitem->id : keys->getitem->outputs.front();
  Diagnostic& diagnostic = ctx.report(
      DiagId::MaskKeysWindowOffset,
      fmt::format("{}'s key columns were cut [{}] (call \"{}\") and the keys {} [{}] (call \"{}\"), both from {} positions: column j of the mask "
                  "stands for position {}+j, key j is position {}+j",
                  name, item_text(mask_item), cut->getitem->id, keys_name, item_text(key_item), keys->getitem->id, keys->length.str(),
                  mask_start->str(), key_start->str()),
      &mask, mask.rank() - 1);
  diagnostic.notes.push_back("PyTorch raises nothing: every size agrees, but the mask hides or keeps other positions than the keys it meets");
  IndexExpression fixed = cut->index;
  fixed.items[cut->item] = key_item;
  const std::string text = index_text(fixed);
  const std::string mask_input = input_name(*cut->getitem, "input");
  if (!CallContext::index_in_calls(*cut->getitem) || !ctx.spec.value().contains(nlohmann::json::json_pointer(cut->getitem->pointer + "/index"))) {
    return;
  }
  ctx.add_patch_fix(diagnostic,
                    fmt::format("cut the mask's columns as call \"{}\" cuts the keys: {} = {}{}", keys->getitem->id,
                                cut->getitem->outputs.empty() ? cut->getitem->id : cut->getitem->outputs.front(),
                                mask_input.empty() ? "mask" : mask_input, text),
                    nlohmann::json::array({{{"op", "replace"}, {"path", cut->getitem->pointer + "/index"}, {"value", text}}}));
  CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "column j of the mask then stands for the position key j holds");
}

}  // namespace mhacheck
