// torch.reshape(input, shape) and Tensor.view(shape), PyTorch's infer_size: sizes are
// non-negative, at most one is -1 (inferred), and the element count must stay the same. With
// symbols the count is a product of symbols (size_product.hpp); a -1 is inferred only when the
// quotient is exact. view also needs strides for the new shape over the input's memory
// (layout.hpp: ATen's computeStride); reshape copies when there are none.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "check/checked_call.hpp"
#include "check/dim_origin.hpp"
#include "check/fix_search.hpp"
#include "check/mask_origin.hpp"
#include "check/mask_pattern.hpp"
#include "ops/dim_arguments.hpp"
#include "ops/index_expression.hpp"
#include "ops/registry.hpp"
#include "ops/size_product.hpp"
#include "core/text.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

// The head size a heads split guesses when the spec names no head count: 64 (GPT-2, BERT, ViT-B,
// Whisper), and the fewest heads a split makes (one head needs none).
constexpr std::int64_t kUsualHeadSize = 64;
constexpr std::int64_t kFewestHeads = 2;

// How many names becomes_query follows: a query reaches its attention through a few moves of its
// dims, and a name its own transpose reuses (x = x.transpose(1, 2)) would be followed forever.
constexpr std::size_t kMostDimMoves = 16;

// How many input factors a -1 is read as a merge of: the subsets tried are 2^n, and no attention
// layout has more than eight dims.
constexpr std::size_t kMostMergedFactors = 8;

class ReshapeRules {
 public:
  explicit ReshapeRules(CallContext& ctx) : ctx_(ctx), input_(ctx.arg("input")), written_(ctx.call.arguments.at("shape")) {}

  void run() {
    std::optional<int> inferred;
    for (std::size_t i = 0; i < written_.size(); ++i) {
      if (written_[i].is_string()) {
        sizes_.push_back(ctx_.symbols.resolve(*parse_dim_expr(written_[i].get<std::string>())));  // checked by the reader
        continue;
      }
      std::int64_t size = written_[i].get<std::int64_t>();
      sizes_.push_back(DimExpr::constant(size));
      if (size == -1 && inferred) {
        invalid(fmt::format("shape {} has two -1 sizes; only one can be inferred", list()), "only one dimension can be inferred");
        return;
      }
      if (size == -1) inferred = static_cast<int>(i);
      if (size < -1) {
        invalid(fmt::format("shape {} has the negative size {}", list(), size), fmt::format("invalid shape dimension {}", size));
        return;
      }
    }
    Shape known = sizes_;
    if (inferred) known.erase(known.begin() + *inferred);
    // A size written on both sides divides both counts: (2*B, 1, T+1) to [B, 2, T+1] compares 2*B with 2*B.
    // Only a size that cannot be 0 divides: T-1 is 0 at T == 1, and then (T-1, 3) to [T-1, 4] is valid.
    auto at_least_one = [](const DimExpr& size) { return !size.is_constant() && size.coeff + size.offset >= 1; };  // symbols are >= 1
    Shape input_rest = input_.shape, known_rest = known;
    for (auto size = known_rest.begin(); size != known_rest.end();) {
      auto same = at_least_one(*size) ? std::find(input_rest.begin(), input_rest.end(), *size) : input_rest.end();
      if (same == input_rest.end()) {
        ++size;
        continue;
      }
      input_rest.erase(same);
      size = known_rest.erase(size);
    }
    std::optional<SizeProduct> numel = SizeProduct::of(input_rest), new_size = SizeProduct::of(known_rest);
    if (!numel || !new_size) return not_derivable("sizes that are not products of symbols and integers (such as S+1)");
    if (inferred) return infer(*numel, *new_size, *inferred);
    counts_equal_ = *numel == *new_size;
    if (counts_equal_) return done(sizes_);
    bool same_symbols = numel->powers == new_size->powers;
    if (same_symbols || numel->constant == 0 || new_size->constant == 0) return count_mismatch();  // symbols are positive sizes
    Diagnostic& diagnostic = ctx_.report(
        DiagId::SymbolConstraint,
        fmt::format("valid only if {} == {} (the element counts of input and shape)", numel_str(input_.shape), numel_str(known)), &input_);
    diagnostic.notes.push_back("bind the symbols under \"dims\" to have the count checked");
    done(sizes_);
  }

 private:
  void infer(const SizeProduct& numel, const SizeProduct& new_size, int inferred) {
    // PyTorch: a -1 next to a zero size is ambiguous for an empty input, impossible otherwise.
    if (new_size.constant == 0) {
      if (numel.constant != 0) return count_mismatch();
      invalid(fmt::format("shape {} has a 0 size, so its -1 could be anything", list()),
                     fmt::format("cannot reshape tensor of 0 elements into shape {} because the unspecified dimension size -1 can be any "
                                 "value and is ambiguous",
                                 list()));
      return;
    }
    std::optional<SizeProduct> quotient = exact_quotient(numel, new_size);
    if (quotient) {
      counts_equal_ = true;
      Shape shape = sizes_;
      shape[inferred] = quotient->as_dim();
      return done(shape);
    }
    if (numel.is_constant() && new_size.is_constant()) return count_mismatch();
    not_derivable(fmt::format("-1 = {} / {}", numel_str(input_.shape), new_size.as_dim().str()));
  }

  std::string list() const {
    std::string text;
    for (std::size_t i = 0; i < sizes_.size(); ++i) text += (i ? ", " : "") + sizes_[i].str();
    for (std::size_t i = sizes_.size(); i < written_.size(); ++i) text += (i ? ", " : "") + (written_[i].is_string() ? written_[i].get<std::string>() : written_[i].dump());
    return "[" + text + "]";
  }

  void count_mismatch() {
    Diagnostic& diagnostic = invalid(fmt::format("input {} has {} elements; shape {} cannot hold them", tuple_str(input_.shape),
                                                 numel_str(input_.shape), list()),
                                     fmt::format("shape '{}' is invalid for input of size {}", list(), numel_str(input_.shape)));
    if (propose_fused_sections(diagnostic)) return;
    propose_skew_padding(diagnostic);
    propose_rescaled_grid(diagnostic);
    propose_slice_start(diagnostic);
    propose_inferred_size(diagnostic);
    if (diagnostic.fixes.empty()) explain_unsplit(diagnostic);
  }

  // The input cut by a getitem slice open at the end (attentions[0, :, 0, 1:], the patch tokens
  // after the class token) that keeps more entries than the shape holds: the tokens before the
  // ones the shape lays out (registers after the class token, DINOv2's 1 + 4) were left in. The
  // slice then starts later by the surplus, keeping its end, when that gives the shape's count
  // exactly (all sizes known).
  void propose_slice_start(Diagnostic& diagnostic) {
    const CallDecl* cut = input_.producer;
    if (cut == nullptr || cut->op != "getitem" || !CallContext::index_in_calls(*cut) || !cut->arguments.contains("index") ||
        !cut->arguments.at("index").is_string()) {
      return;
    }
    std::string error;
    std::optional<IndexExpression> index = parse_index(cut->arguments.at("index").get<std::string>(), error);
    if (!index) return;
    std::int64_t wanted = 1, held = 1;
    for (const DimExpr& size : sizes_) {
      if (!size.is_constant() || size.offset < 1) return;
      wanted *= size.offset;
    }
    for (const DimExpr& size : input_.shape) {
      if (!size.is_constant() || size.offset < 1) return;
      held *= size.offset;
    }
    // The one slice with a start and no stop, and the result dim it gives.
    std::optional<std::size_t> slice;
    int dim = 0, slice_dim = -1;
    for (std::size_t i = 0; i < index->items.size(); ++i) {
      const IndexItem& item = index->items[i];
      if (item.kind == IndexItem::Kind::Ellipsis) return;
      if (item.kind == IndexItem::Kind::Integer) continue;
      if (item.kind == IndexItem::Kind::Slice && item.start && !item.stop && (!item.step || *item.step == 1)) {
        if (slice || !item.start->is_constant() || item.start->constant < 0) return;
        slice = i;
        slice_dim = dim;
      }
      ++dim;
    }
    if (!slice || slice_dim >= input_.rank()) return;
    const std::int64_t length = input_.shape[static_cast<std::size_t>(slice_dim)].offset, rest = held / length;
    if (wanted >= held || wanted % rest != 0) return;
    const std::int64_t surplus = length - wanted / rest;
    IndexItem& item = index->items[*slice];
    item.start->constant += surplus;
    std::string text;
    for (const IndexItem& each : index->items) text += (text.empty() ? "" : ", ") + item_text(each);
    text = "[" + text + (index->tuple && index->items.size() == 1 ? ",]" : "]");
    const std::string source = input_name(*cut, "input");
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("start the slice of call \"{}\" {} later, past the {} entries before the ones the shape lays out: {}{}", cut->id,
                                   surplus, item.start->constant, source.empty() ? std::string("input") : source, text),
                       {{{"op", "replace"}, {"path", child_pointer(cut->pointer, "index")}, {"value", text}}});
  }

  // Relative attention's skewing (Huang et al.'s Music Transformer, Transformer-XL's _rel_shift)
  // pads the relative logits (..., L, M) with k zero columns on the left, F.pad(x, (k, 0)) (k = 1),
  // views the (..., L, M+k) result as (..., M+k, L) and drops the first rows, which moves each
  // relative logit to its key. A view to (..., M+k, L) of the unpadded logits (the same leading
  // dims) is that skew with the pad forgotten: the pad is the fix, before the view. Inferring a size
  // (-1) instead would run but keep the logits unshifted. Other shorts of the last dim (features
  // split into heads no size divides) are miscounts, not pads; so is a view of anything but
  // relative logits (a product q @ Er^T, or a tensor named as logits), of rank below 3 (batch or
  // heads lead them), short by more than the one pad column, or with fewer relative positions M
  // than queries L: a Conv1d map (B, C, T) viewed (B, T+1, C) is a frame miscount.
  void propose_skew_padding(Diagnostic& diagnostic) {
    if (input_.rank() < 3 || sizes_.size() < 3 || !is_attention_scores(ctx_, input_)) return;
    const DimExpr &rows = input_.shape[input_.shape.size() - 2], &width = input_.shape.back();
    const DimExpr &skewed_rows = sizes_[sizes_.size() - 2], &skewed_width = sizes_.back();
    if (!rows.is_constant() || !width.is_constant() || !skewed_rows.is_constant() || !skewed_width.is_constant() || rows.offset < 1 ||
        skewed_width.offset != rows.offset || skewed_rows.offset <= width.offset) {
      return;
    }
    const std::int64_t missing = skewed_rows.offset - width.offset;
    if (missing != 1 || width.offset < rows.offset) return;
    std::optional<SizeProduct> leading = SizeProduct::of(Shape(input_.shape.begin(), input_.shape.end() - 2));
    std::optional<SizeProduct> skewed_leading = SizeProduct::of(Shape(sizes_.begin(), sizes_.end() - 2));
    if (!leading || !skewed_leading || !(*leading == *skewed_leading)) return;
    const std::string name = tensor_name(input_).empty() ? "input" : tensor_name(input_);
    Shape padded = input_.shape;
    padded.back() = DimExpr::constant(skewed_rows.offset);
    if (!ctx_.add_inserted_call_fix(diagnostic, input_,
                                    fmt::format("pad the last dim of {} by {} before the {}, as relative attention's skewing does (the extra row is "
                                                "dropped after it): F.pad({}, ({}, 0)) gives {}, which shape {} holds",
                                                name, missing, ctx_.call.op, name, missing, tuple_str(padded), list()),
                                    "pad", {{"pad", nlohmann::json::array({missing, 0})}})) {
      return;
    }
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                "each relative logit moves to its key's column; a size inferred instead (-1) keeps them unshifted");
  }

  // A multi-query or grouped-query fused projection, nn.Linear(E, E + 2*K) (Falcon's
  // query_key_value: E of queries, then K of keys and K of values, K a multiple of the head
  // size), cut into three equal pieces by chunk(3) on its last dim: the pieces cut through the
  // heads, and the view into heads of size D fails. The cut is split([E, K, K], dim=-1).
  bool propose_fused_sections(Diagnostic& diagnostic) {
    const CallDecl* cut = input_.producer;
    if (cut == nullptr || cut->op != "chunk" || sizes_.size() < 2 || !sizes_.back().is_constant() || sizes_.back().offset <= 0) return false;
    const nlohmann::json& chunks = cut->arguments.value("chunks", nlohmann::json());
    const nlohmann::json& dim = cut->arguments.value("dim", nlohmann::json(0));
    if (chunks != 3 || !dim.is_number_integer() || (dim.get<int>() != -1 && dim.get<int>() != input_.rank() - 1)) return false;
    const ArgRef& fused = cut->tensor("input");
    if (fused.kind != ArgRef::Kind::Named || !CallContext::index_in_calls(*cut)) return false;
    const CallDecl* projection = producer_of(ctx_.spec, fused.name, cut);
    const ModuleDecl* module = projection != nullptr && !projection->module.empty() ? ctx_.spec.find_module(projection->module) : nullptr;
    if (module == nullptr || module->type != "Linear") return false;
    const std::int64_t width = module->integer("in_features"), out_features = module->integer("out_features");
    const std::int64_t head_size = sizes_.back().offset, shared = (out_features - width) / 2;
    if (width <= 0 || shared <= 0 || width + 2 * shared != out_features || width % head_size != 0 || shared % head_size != 0 || shared == width) {
      return false;
    }
    nlohmann::json replaced = ctx_.spec.value().at(nlohmann::json::json_pointer(cut->pointer));
    replaced.erase("chunks");
    replaced["op"] = "split_with_sizes";
    replaced["split_sizes"] = {width, shared, shared};
    replaced["dim"] = -1;
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("cut the fused projection of call \"{}\" ({} queries, then {} keys and {} values) as laid out: {}.split([{}, {}, {}], "
                                   "dim=-1)",
                                   projection->id, width, shared, shared, fused.name, width, shared, shared),
                       {{{"op", "replace"}, {"path", cut->pointer}, {"value", std::move(replaced)}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each piece is one projection's features, whole heads");
    return true;
  }

  // The last dim split into two sizes (heads, head size) that neither divide it. The head counts
  // that do are known, but which one was meant the shape alone does not tell: when the spec's
  // other views and reshapes split this width one way only (q's view beside k's), that split is
  // the fix; otherwise a fix would be a guess, and the note says so and names the nearest.
  void explain_unsplit(Diagnostic& diagnostic) {
    if (input_.shape.empty() || sizes_.size() < 2) return;
    const std::int64_t width = input_.shape.back().offset;
    const std::int64_t heads = sizes_[sizes_.size() - 2].offset;
    const std::int64_t head_size = sizes_.back().offset;
    if (!input_.shape.back().is_constant() || !sizes_[sizes_.size() - 2].is_constant() || !sizes_.back().is_constant() ||
        width <= 0 || heads <= 0 || head_size <= 0 || width % heads == 0 || width % head_size == 0) {
      return;
    }
    if (!splits_last_dim()) return;
    std::set<std::pair<std::int64_t, std::int64_t>> splits = splits_elsewhere(width);
    if (splits.size() == 1) {
      const auto [told_heads, told_size] = *splits.begin();
      const std::string shape = child_pointer(ctx_.call.pointer, "shape");
      ctx_.add_patch_fix(diagnostic,
                         fmt::format("split {} into {} heads of {}, as the spec's other views of that width do", width, told_heads,
                                     told_size),
                         {{{"op", "replace"}, {"path", child_pointer(shape, sizes_.size() - 2)}, {"value", told_heads}},
                          {{"op", "replace"}, {"path", child_pointer(shape, sizes_.size() - 1)}, {"value", told_size}}});
      return;
    }
    std::int64_t below = 0;  // the divisors of width nearest heads (width <= kMaxDim: sqrt(width) steps)
    std::int64_t above = 0;
    for (std::int64_t d = 1; d * d <= width; ++d) {
      if (width % d != 0) continue;
      for (std::int64_t divisor : {d, width / d}) {
        if (divisor < heads) below = std::max(below, divisor);
        if (divisor > heads && (above == 0 || divisor < above)) above = divisor;
      }
    }
    std::string nearest = fmt::format("{} (head size {})", below, width / below);
    if (above != 0) nearest += fmt::format(" and {} (head size {})", above, width / above);
    diagnostic.notes.push_back(fmt::format(
        "no fix is offered: neither {} heads nor a head size of {} divides {}; the head counts that do nearest {} are {}, "
        "but which one was meant (the model's num_heads) {}",
        heads, head_size, width, heads, nearest,
        splits.empty() ? "the shape does not tell" : "the spec's other views do not agree on"));
  }

  // The (heads, head size) pairs that end the written shape of the spec's other reshape and view
  // calls and multiply to `width`.
  std::set<std::pair<std::int64_t, std::int64_t>> splits_elsewhere(std::int64_t width) const {
    std::set<std::pair<std::int64_t, std::int64_t>> splits;
    for (const CallDecl& other : ctx_.spec.calls) {
      if (&other == &ctx_.call || (other.op != "reshape" && other.op != "view")) continue;
      const nlohmann::json& shape = other.arguments.value("shape", nlohmann::json());
      if (!shape.is_array() || shape.size() < 2) continue;
      const nlohmann::json& heads_written = shape[shape.size() - 2];
      const nlohmann::json& size_written = shape[shape.size() - 1];
      if (!heads_written.is_number_integer() || !size_written.is_number_integer()) continue;
      const std::int64_t h = heads_written.get<std::int64_t>();
      const std::int64_t d = size_written.get<std::int64_t>();
      if (h > 0 && d > 0 && h <= width && d <= width && h * d == width) splits.emplace(h, d);
    }
    return splits;
  }

  // The shape keeps the input's leading dims and splits its last one in two: (B, S, H, D) of
  // (B, S, E), a split into heads.
  bool splits_last_dim() const {
    if (input_.shape.empty() || sizes_.size() < 2) return false;
    std::optional<SizeProduct> leading_in = SizeProduct::of(Shape(input_.shape.begin(), input_.shape.end() - 1));
    std::optional<SizeProduct> leading_out = SizeProduct::of(Shape(sizes_.begin(), sizes_.end() - 2));
    return leading_in && leading_out && *leading_in == *leading_out;
  }

  // A grid viewed at another resolution than its positions have (a Swin stage's (B, 784, C)
  // viewed (B, 56, 56, C) at the previous stage's resolution): the shape's sizes match the input's
  // dims at both ends (the channels after the grid), and the numbers between split the one input dim left. Scaled by one factor
  // so their product is that dim, the grid keeps its proportions and every other size stays the
  // one declared, where -1 for the channels (view(B, 56, 56, -1)) runs with a quarter of them.
  void propose_rescaled_grid(Diagnostic& diagnostic) {
    const Shape& input = input_.shape;
    auto same = [&](std::size_t entry, const DimExpr& dim) {
      return entry < sizes_.size() && written_[entry] != -1 && sizes_[entry] == dim;
    };
    std::size_t front = 0, back = 0;
    while (front < input.size() && same(front, input[front])) ++front;
    while (back + front < input.size() && back + front < sizes_.size() && same(sizes_.size() - 1 - back, input[input.size() - 1 - back])) ++back;
    // Channels after the grid (B, H, W, C): a split of the last dim is one into heads, whose count
    // the model fixes, not a resolution.
    if (back == 0 || front + back + 1 != input.size() || sizes_.size() < front + back + 2 || !input[front].is_constant() || input[front].offset < 1) {
      return;
    }
    std::int64_t written = 1;
    for (std::size_t i = front; i + back < sizes_.size(); ++i) {
      if (!sizes_[i].is_constant() || sizes_[i].offset < 1) return;
      written *= sizes_[i].offset;
    }
    const double count = static_cast<double>(sizes_.size() - front - back);
    const double factor = std::pow(static_cast<double>(input[front].offset) / static_cast<double>(written), 1.0 / count);
    nlohmann::json scaled = written_;
    std::int64_t product = 1;
    for (std::size_t i = front; i + back < sizes_.size(); ++i) {
      const std::int64_t size = std::llround(static_cast<double>(sizes_[i].offset) * factor);
      if (size < 1) return;
      scaled[i] = size;
      product *= size;
    }
    if (product != input[front].offset || product == written) return;
    std::string shape;
    for (std::size_t j = 0; j < scaled.size(); ++j) shape += (j ? ", " : "") + (scaled[j].is_string() ? scaled[j].get<std::string>() : scaled[j].dump());
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("view the {} positions at their own resolution, every other size as declared: {}({})", input[front].offset,
                                   ctx_.call.op, shape),
                       {{{"op", "replace"}, {"path", child_pointer(ctx_.call.pointer, "shape")}, {"value", scaled}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the grid keeps its proportions and the other dims their declared sizes");
  }

  // Replacing one size by -1 fixes a miscounted shape when the rest divides the count. In a split
  // into heads, the head count: the head size is the model's, and query and key must share it
  // (their dot product needs it), where head counts legitimately differ (grouped-query keys have
  // fewer heads than the query: Llama's k_proj viewed with num_heads for num_key_value_heads).
  // When the last two sizes split the input's last dim exactly (8 heads of 64 from 512) and the
  // leading sizes miscount (a memory of S positions viewed with the query's T), the split is
  // right: a leading size is inferred, not the head size (view(B, T, 8, -1) would make heads of
  // S*64/T). Otherwise the last such size.
  void propose_inferred_size(Diagnostic& diagnostic) {
    std::optional<SizeProduct> numel = SizeProduct::of(input_.shape);
    if (!numel) return;
    std::vector<std::size_t> order;
    const bool heads_split = splits_last_dim();
    // Grouped-query attention gives keys and values fewer heads of the query's size, so a
    // miscounted split of theirs keeps the head size. The query's own heads are the model's
    // num_heads: a split that becomes the query keeps its head count, and the head size was
    // derived from another width (SAM's attention downsampled to E/2 features, its head size
    // computed from E).
    const bool heads_known = heads_split && becomes_query();
    if (heads_split && !heads_known) order.push_back(sizes_.size() - 2);
    for (std::size_t i = sizes_.size(); i-- > 0;) {
      if (!heads_split || i != sizes_.size() - 2) order.push_back(i);
    }
    if (!heads_split && splits_width_exactly()) std::rotate(order.begin(), order.begin() + 2, order.end());
    for (std::size_t i : order) {
      Shape rest = sizes_;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
      std::optional<SizeProduct> rest_size = SizeProduct::of(rest);
      if (!rest_size || rest_size->constant <= 0 || !exact_quotient(*numel, *rest_size)) continue;
      if (std::any_of(rest.begin(), rest.end(), [](const DimExpr& size) { return size == DimExpr::constant(-1); })) continue;
      std::string shape;
      for (std::size_t j = 0; j < written_.size(); ++j) {
        shape += (j ? ", " : "") + (j == i ? "-1" : written_[j].is_string() ? written_[j].get<std::string>() : written_[j].dump());
      }
      const bool heads = heads_split && i == sizes_.size() - 2;
      const bool head_size = heads_known && i == sizes_.size() - 1;
      ctx_.add_patch_fix(diagnostic,
                         fmt::format("let PyTorch infer {} (size {} of shape): {}({})",
                                     heads ? "the head count" : head_size ? "the head size, keeping the query's head count" : "a size", i,
                                     ctx_.call.op, shape),
                         {{{"op", "replace"}, {"path", child_pointer(child_pointer(ctx_.call.pointer, "shape"), i)}, {"value", -1}}});
      return;
    }
  }

  // The last two sizes multiply to the input's last dim, the leading ones come before them: (B, T, 8, 64) of (B, S, 512).
  // The result reaches an attention call as its query, through moves of its dims only
  // (transpose, permute, contiguous).
  bool becomes_query() const {
    std::vector<std::string> names(ctx_.call.outputs.begin(), ctx_.call.outputs.begin() + std::min<std::size_t>(1, ctx_.call.outputs.size()));
    for (std::size_t next = 0; next < names.size() && names.size() < kMostDimMoves; ++next) {
      for (const CallDecl* reader : readers(names[next])) {
        const bool attention = reader->op == "scaled_dot_product_attention" || reader->op == "F.scaled_dot_product_attention" ||
                               reader->op == "MultiheadAttention";
        if (attention) {
          auto query = reader->tensors.find("query");
          if (query != reader->tensors.end() && query->second.kind == ArgRef::Kind::Named && query->second.name == names[next]) return true;
          continue;
        }
        const bool moves_dims = reader->op == "transpose" || reader->op == "permute" || reader->op == "contiguous" || reader->op == "swapaxes";
        if (moves_dims && !reader->outputs.empty()) names.push_back(reader->outputs[0]);
      }
    }
    return false;
  }

  bool splits_width_exactly() const {
    if (input_.shape.empty() || sizes_.size() < 3) return false;
    std::optional<SizeProduct> width = SizeProduct::of(Shape{input_.shape.back()});
    std::optional<SizeProduct> split = SizeProduct::of(Shape(sizes_.end() - 2, sizes_.end()));
    return width && split && *width == *split;
  }

  Diagnostic& invalid(std::string message, std::string pytorch) {
    Diagnostic& diagnostic = report_argument(ctx_, DiagId::ReshapeInvalid, std::move(message), "shape");
    ctx_.pytorch_raises(diagnostic, "RuntimeError", std::move(pytorch));
    return diagnostic;
  }

  void not_derivable(const std::string& what) {
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::ShapeNotDerivable, fmt::format("cannot check reshaping {} to {}: {}", tuple_str(input_.shape), list(), what), "shape");
    diagnostic.notes.push_back("bind the symbols under \"dims\", or write the size instead of -1");
  }

  // A -1 stands for what is left: the name of the one input dim of its size, when no other
  // input dim has that size (view(B, -1, H*D) of (B, H, T, D) leaves T there), and the shape
  // does not write that name itself: view(B, T, -1, D) of (B, T, H*D) at H == T leaves H, not
  // a second T.
  std::string inferred_name(const DimExpr& size) const {
    std::string name;
    int matches = 0;
    for (int i = 0; i < input_.rank(); ++i) {
      if (ctx_.symbols.compare(input_.shape[i], size) != Symbols::Verdict::Equal) continue;
      ++matches;
      name = input_.dim_name(i);
    }
    if (matches != 1) return "";
    for (const nlohmann::json& written : written_) {
      // Another dim written as that size may be the one that holds the input's dim (the traced
      // view(2, 6, 4, -1) of (B, T, 24) at B = 2, T = 6 keeps T first and infers the head size):
      // the inferred size alone cannot say which of the two is T.
      if (written.is_number_integer() && written != -1 &&
          ctx_.symbols.compare(DimExpr::constant(written.get<std::int64_t>()), size) == Symbols::Verdict::Equal) {
        return "";
      }
      if (!written.is_string()) continue;
      std::vector<std::string> symbols = parse_dim_expr(written.get<std::string>())->factors();
      for (const std::string& factor : name_factors(name)) {
        if (std::find(symbols.begin(), symbols.end(), factor) != symbols.end()) return "";
      }
    }
    return name;
  }

  // A dim, or one factor of a merged dim, as row-major memory reads it: what it stands for (a
  // name the user wrote; "" for an unnamed size, which says nothing about what a dim stands
  // for: relative-position shifts and weight reinterpretations view numbers on purpose), its
  // size, its stride (the elements between consecutive entries) and its size as a shape writes it.
  struct Factor {
    std::string key;
    DimExpr size;
    std::optional<SizeProduct> stride;
    nlohmann::json written;
  };

  static nlohmann::json size_json(const DimExpr& size) { return size.is_constant() ? nlohmann::json(size.offset) : nlohmann::json(size.str()); }

  // A dim named `name` of size `size`, followed in memory by `after`: its factors, outer first
  // (one, unless the name is a merged one whose factors multiply to the size).
  // An integer count in a merged name ("B*8") is keyed by its digits, which a size written as
  // that integer in the result pairs with (view(8, B, E) reads the count outer).
  std::vector<Factor> factors_of(const std::string& name, const DimExpr& size, Shape after, const nlohmann::json& written) const {
    // A declared tensor's written product ("N*64") is check_factor_order's, from its sizes: the
    // counts are keyed here only in a name carried through the graph (x[:, 0] of (B*8, 197, E)).
    std::vector<std::string> parts = input_.producer != nullptr ? written_factors(name) : std::vector<std::string>{};
    if (parts.empty()) parts = name_factors(name);
    // Counts alone: a number's digits ("8"), or a merged dim of numbers flatten named ("8*196").
    if (parts.empty() && !name.empty() && (input_.producer != nullptr || name.find('*') == std::string::npos)) {
      if (count_name(name)) parts = split_at(name, '*');
    }
    Shape sizes;
    for (const std::string& part : parts) {
      sizes.push_back(is_identifier(part) ? ctx_.symbols.resolve(*parse_dim_expr(part)) : DimExpr::constant(std::stoll(part)));
    }
    if (parts.size() < 2 || SizeProduct::of(sizes) != SizeProduct::of(Shape{size})) {
      return {{parts.size() == 1 ? name : std::string(), size, SizeProduct::of(after), written}};
    }
    std::vector<Factor> factors(parts.size());
    for (std::size_t k = parts.size(); k-- > 0;) {
      const bool count = sizes[k].is_constant() && !is_identifier(parts[k]);
      factors[k] = {parts[k], sizes[k], SizeProduct::of(after), count ? nlohmann::json(sizes[k].offset) : nlohmann::json(parts[k])};
      after.push_back(sizes[k]);
    }
    return factors;
  }

  std::vector<Factor> input_factors() const {
    std::vector<Factor> factors;
    for (int i = 0; i < input_.rank(); ++i) {
      const DimExpr& size = input_.shape[static_cast<std::size_t>(i)];
      const std::string& name = input_.dim_name(i);
      nlohmann::json written = name_factors(name).size() == 1 ? nlohmann::json(name) : size_json(size);
      std::vector<Factor> dim = factors_of(name, size, Shape(input_.shape.begin() + i + 1, input_.shape.end()), written);
      factors.insert(factors.end(), dim.begin(), dim.end());
    }
    return factors;
  }

  // A -1 that stands for several input factors, merged: reshape(-1, F, E) of (B, F*P, E) leaves
  // B and P, so the -1 dim is B*P, its factors in the input's memory order (the order a right
  // reshape would give them), and is checked as the written reshape(B*P, F, E) is. Only factors
  // with a key (a name, or the digits of a count flatten merged: 196 of (B, 8*196, E)) that no
  // other written size takes, and only when one set of them multiplies to the size; "" otherwise
  // (unnamed sizes say nothing).
  std::string inferred_merged_name(const Shape& shape, std::size_t j) const {
    std::set<std::string> written_elsewhere;
    for (std::size_t k = 0; k < written_.size(); ++k) {
      if (k == j) continue;
      if (written_[k].is_number_integer()) written_elsewhere.insert(written_[k].dump());
      if (!written_[k].is_string()) continue;
      for (const std::string& symbol : parse_dim_expr(written_[k].get<std::string>())->factors()) written_elsewhere.insert(symbol);
    }
    std::vector<Factor> candidates;
    std::map<std::string, int> uses;
    const std::vector<Factor> in = input_factors();
    for (const Factor& factor : in) ++uses[factor.key];
    for (const Factor& factor : in) {
      if ((is_identifier(factor.key) || count_name(factor.key)) && uses[factor.key] == 1 && written_elsewhere.count(factor.key) == 0 &&
          factor.size != DimExpr::constant(1)) {
        candidates.push_back(factor);
      }
    }
    if (candidates.size() < 2 || candidates.size() > kMostMergedFactors) return "";
    // A -1 of counts alone (196*8 of (8*196, ...)) is a traced size, not a merge to check.
    if (std::none_of(candidates.begin(), candidates.end(), [](const Factor& factor) { return is_identifier(factor.key); })) return "";
    const std::optional<SizeProduct> wanted = SizeProduct::of(Shape{shape[j]});
    std::string found;
    for (unsigned subset = 1; subset < (1U << candidates.size()); ++subset) {
      Shape sizes;
      std::vector<std::string> keys;
      for (std::size_t c = 0; c < candidates.size(); ++c) {
        if ((subset >> c & 1U) == 0) continue;
        sizes.push_back(candidates[c].size);
        keys.push_back(candidates[c].key);
      }
      if (keys.size() < 2 || SizeProduct::of(sizes) != wanted) continue;
      if (!found.empty()) return "";  // two sets fit: the -1 does not say which
      found = merged_name(keys);
    }
    return found;
  }

  // Each output dim's factors: a written merged name's (view(B*H, T, D)), else the dim itself
  // under its written name, the name a -1 stands for, or its size.
  std::vector<std::vector<Factor>> output_factors(const Shape& shape) const {
    std::set<std::string> counts;  // the integer factors of the input's merged names
    for (const Factor& factor : input_factors()) {
      if (factor.written.is_number_integer() && factor.key == std::to_string(factor.written.get<std::int64_t>())) counts.insert(factor.key);
    }
    std::vector<std::vector<Factor>> factors;
    for (std::size_t j = 0; j < shape.size(); ++j) {
      std::string name;
      if (j < written_.size() && written_[j].is_string()) {
        for (char c : written_[j].get<std::string>()) {
          if (c != ' ') name += c;
        }
      }
      if (j < written_.size() && written_[j] == -1) name = inferred_name(shape[j]);
      // A last dim is the features, whose merge order check_heads_merge_order reads.
      if (j < written_.size() && written_[j] == -1 && name.empty() && j + 1 < shape.size()) name = inferred_merged_name(shape, j);
      if (j < written_.size() && written_[j].is_number_integer() && counts.count(written_[j].dump()) != 0) name = written_[j].dump();
      nlohmann::json written = j < written_.size() && written_[j] != -1 ? written_[j] : size_json(shape[j]);
      factors.push_back(factors_of(name, shape[j], Shape(shape.begin() + static_cast<std::ptrdiff_t>(j) + 1, shape.end()), written));
    }
    return factors;
  }

  // Each output dim's name, and MHA312 where the result reads a dim at another stride than the
  // input holds it. view and reshape reinterpret memory in row-major order (reshape as a view
  // of a contiguous copy), so a dim keeps its meaning only where its consecutive entries stay
  // as many elements apart: view(B, H, T, D) of (B, T, H*D) reads T at stride D, where the
  // input holds T at stride H*D; view(H, B, T, D) of (B*H, T, D) reads B, the outer factor, as
  // the inner one. A written merged dim (view(B*H, T, D)) must take its factors from one block
  // of memory (a last one, in the written order, unless the spec is traced); its name is then
  // theirs in memory order. Sizes count only when the counts are equal as products (a symbol condition
  // would make strides incomparable); names and sizes only where each stands for one dim.
  std::vector<std::string> output_names(const Shape& shape) {
    std::vector<Factor> in = input_factors();
    std::vector<std::vector<Factor>> out = output_factors(shape);
    std::map<std::string, int> in_uses, out_uses;  // a key stands for one dim only when each side has it once
    auto is_one = [](const Factor& factor) { return factor.size == DimExpr::constant(1); };
    for (const Factor& factor : in) ++in_uses[factor.key];
    for (std::size_t j = 0; j < out.size(); ++j) {
      for (const Factor& factor : out[j]) ++out_uses[factor.key];
      // A size written as an expression uses its symbols too: view(B, H, 2*T, T) of a
      // (B, H, T, 2*T) rel_shift writes T twice, so neither T stands for the input's T dim.
      if (out[j].size() == 1 && out[j][0].key.empty() && j < written_.size() && written_[j].is_string()) {
        for (const std::string& symbol : parse_dim_expr(written_[j].get<std::string>())->factors()) ++out_uses[symbol];
      }
    }
    auto source = [&](const Factor& factor) -> const Factor* {
      if (factor.key.empty() || in_uses[factor.key] != 1 || out_uses[factor.key] != 1 || is_one(factor)) return nullptr;
      for (const Factor& candidate : in) {
        if (candidate.key == factor.key && !is_one(candidate) && SizeProduct::of({candidate.size}) == SizeProduct::of({factor.size})) return &candidate;
      }
      return nullptr;
    };
    std::vector<std::string> names(shape.size());
    std::optional<std::pair<std::size_t, std::string>> first_moved;
    for (std::size_t j = 0; j < shape.size(); ++j) {
      const std::vector<Factor>& dim = out[j];
      std::vector<std::string> in_order;  // the dim's factors, outer first
      std::optional<std::string> moved;   // the factor the result reads where the input does not hold it
      if (dim.size() == 1) {
        const Factor* held = source(dim[0]);
        if (held != nullptr && held->stride && dim[0].stride && *held->stride != *dim[0].stride) moved = dim[0].key;
        if (!dim[0].key.empty()) in_order.push_back(dim[0].key);
      } else if (std::all_of(dim.begin(), dim.end(), [&](const Factor& factor) { return source(factor) != nullptr; })) {
        // Innermost first: the factor at the dim's stride, then the one just outside it, ...
        Shape inside(shape.begin() + static_cast<std::ptrdiff_t>(j) + 1, shape.end());
        std::vector<const Factor*> left;
        for (const Factor& factor : dim) left.push_back(source(factor));
        while (!left.empty() && !moved) {
          auto next = std::find_if(left.begin(), left.end(), [&](const Factor* factor) { return factor->stride == SizeProduct::of(inside); });
          if (next == left.end()) {
            moved = dim_key(dim);
            break;
          }
          in_order.insert(in_order.begin(), (*next)->key);
          inside.push_back((*next)->size);
          left.erase(next);
        }
        // A last dim is the features the next Linear contracts with weights laid out in the
        // order written by hand (reshape(B, T, H*D) of (B, T, D, H) reads D as the outer
        // factor); a merged row dim's order matters only where it is split again, as checked
        // there. The tracer writes its products sorted.
        if (!moved && !traced_ && j + 1 == shape.size() && in_order != keys_of(dim)) moved = dim_key(dim);
      }
      // A written product whose factors the input either names (each found once) or lacks
      // altogether (H of view(T, B*H, D), split from an unnamed H*D): no stride to check the
      // new factors against, but the dim holds the named ones, so it keeps the written name.
      bool split_in = dim.size() > 1 && in_order.empty() && !moved &&
                      std::all_of(dim.begin(), dim.end(), [&](const Factor& factor) {
                        return !factor.key.empty() && factor.key.front() != '#' && (in_uses[factor.key] == 0 || source(factor) != nullptr);
                      }) &&
                      std::any_of(dim.begin(), dim.end(), [&](const Factor& factor) { return in_uses[factor.key] == 0; }) &&
                      std::any_of(dim.begin(), dim.end(), [&](const Factor& factor) { return source(factor) != nullptr; });
      if (split_in) {
        names[j] = dim_key(dim);
        continue;
      }
      if (moved && counts_equal_ && !reported_) {
        // Said once, after the loop: a split written in the reversed order (view(8, B, E) of B*8)
        // moves both factors; the message names the batch among them, which is what gets mixed.
        if (!first_moved || (!batch_key(first_moved->second) && batch_key(*moved))) first_moved.emplace(j, *moved);
      }
      if (!moved && counts_equal_ && !reported_ && !first_moved && j + 1 == shape.size() && dim.size() == 1 && source(dim[0]) == nullptr) {
        check_heads_merge_order(shape, in, out);
      }
      names[j] = in_order.empty() || moved ? covered_name(shape, j) : merged_name(in_order);
    }
    if (first_moved) {
      reported_ = true;
      report_moved(first_moved->first, first_moved->second, in, out);
    }
    return names;
  }

  // The role of the input dim a factor key names, read beside its neighbours (N beside a batch is
  // the tokens), else by the name alone.
  DimRole role_of_key(const std::string& key) const {
    auto named = std::find(input_.dim_names.begin(), input_.dim_names.end(), key);
    return named != input_.dim_names.end() ? role_of_dim(input_.dim_names, static_cast<int>(named - input_.dim_names.begin()))
                                           : role_of_name(key);
  }
  bool batch_key(const std::string& key) const { return role_of_key(key) == DimRole::Batch; }

  static std::vector<std::string> keys_of(const std::vector<Factor>& dim) {
    std::vector<std::string> keys;
    for (const Factor& factor : dim) keys.push_back(factor.key);
    return keys;
  }

  static std::string dim_key(const std::vector<Factor>& dim) { return merged_name(keys_of(dim)); }

  // The name of an output dim that is exactly input dims a..b, all named: theirs, merged
  // (flatten's B*T of (B, T, C)); or named input dims a..b-1 and the outer factor of a count b
  // cut there (reshape(B, -1, 64) of (B, T, 512): the -1 is T*8, T outer, each position's 8
  // rows next to each other, as the later split of those rows must read them); "" otherwise.
  std::string covered_name(const Shape& shape, std::size_t j) const {
    std::optional<SizeProduct> before = SizeProduct::of(Shape(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(j)));
    std::optional<SizeProduct> through = SizeProduct::of(Shape(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(j) + 1));
    if (!before || !through || shape[j] == DimExpr::constant(1)) return "";
    for (int a = 0; a < input_.rank(); ++a) {
      if (SizeProduct::of(Shape(input_.shape.begin(), input_.shape.begin() + a)) != before) continue;
      std::vector<std::string> factors;
      for (int b = a; b < input_.rank(); ++b) {
        if (std::optional<std::int64_t> count = outer_count_cut(b, through); count && !factors.empty()) {
          factors.push_back(std::to_string(*count));
          return merged_name(factors);
        }
        if (input_.shape[static_cast<std::size_t>(b)] != DimExpr::constant(1)) {
          std::vector<std::string> named = name_factors(input_.dim_name(b));
          if (named.empty()) return "";
          factors.insert(factors.end(), named.begin(), named.end());
        }
        if (SizeProduct::of(Shape(input_.shape.begin(), input_.shape.begin() + b + 1)) == through) return merged_name(factors);
      }
      return "";
    }
    return "";
  }

  // The count c when an output dim ending at `through` elements cuts input dim b (a constant)
  // into c outer and size/c inner parts, 1 < c < size: what is left of `through` after dims
  // 0..b-1.
  std::optional<std::int64_t> outer_count_cut(int b, const std::optional<SizeProduct>& through) const {
    const DimExpr size = ctx_.symbols.resolve(input_.shape[static_cast<std::size_t>(b)]);
    const std::optional<SizeProduct> before = SizeProduct::of(Shape(input_.shape.begin(), input_.shape.begin() + b));
    if (!through || !before || !size.is_constant()) return std::nullopt;
    const std::optional<SizeProduct> left = exact_quotient(*through, *before);
    if (!left || !left->is_constant() || left->constant <= 1 || left->constant >= size.offset || size.offset % left->constant != 0) return std::nullopt;
    return left->constant;
  }

  void report_moved(std::size_t j, const std::string& key, const std::vector<Factor>& in, const std::vector<std::vector<Factor>>& out) {
    std::string held;
    for (const Factor& factor : in) {
      if (factor.key == key && factor.stride) held = factor.stride->as_dim().str();
    }
    std::string read;
    for (const Factor& factor : out[j]) {
      if (factor.key == key && factor.stride) read = factor.stride->as_dim().str();
    }
    DimRole role = role_of_key(key);
    std::string message =
        out[j].size() == 1
            ? fmt::format("{} reads dim {} as {} at stride {}, but input {} holds {} at stride {} (row-major): the new dim mixes {} with "
                          "other dims' entries",
                          ctx_.call.op, j, key, read, tuple_str(input_.shape), key, held,
                          role == DimRole::Unknown ? fmt::format("the entries of {}", key) : std::string(role_name(role)))
            : fmt::format("{} merges {} into dim {}, but input {} does not hold them next to each other, in that order, in one block of "
                          "memory: the new dim mixes their entries with other dims'",
                          ctx_.call.op, key, j, tuple_str(input_.shape));
    Diagnostic& diagnostic = report_argument(ctx_, DiagId::ReshapeMovesDim, std::move(message), "shape");
    diagnostic.notes.push_back("reshape and view keep memory order; to move a dim, transpose (then reshape): "
                               "x.view(B, T, H, D).transpose(1, 2) to split heads, out.transpose(1, 2).reshape(B, T, H*D) to merge them");
    diagnostic.notes.push_back("PyTorch raises nothing: the element count is right");
    const std::optional<std::string> unsplit = propose_heads_split_before_attention(diagnostic);
    propose_copies_per_entry(diagnostic);
    const std::size_t before_reorder = diagnostic.fixes.size();
    if (std::optional<std::vector<int>> order = propose_reorder(diagnostic, in, out)) {
      // The move folded into the permute that made the input comes first: one permute, not two.
      const std::size_t folded = diagnostic.fixes.size();
      propose_composed_move(diagnostic, *order);
      if (diagnostic.fixes.size() > folded) {
        std::rotate(diagnostic.fixes.begin() + static_cast<std::ptrdiff_t>(before_reorder),
                    diagnostic.fixes.begin() + static_cast<std::ptrdiff_t>(folded), diagnostic.fixes.end());
      }
    }
    // Moving the dims back undoes the merge's transpose: the attention stays one head wide.
    for (std::size_t f = before_reorder; unsplit && f < diagnostic.fixes.size(); ++f) {
      diagnostic.fixes[f].semantics = FixSemantics::Suspect;
      diagnostic.fixes[f].semantics_note = fmt::format("undoes the heads merge: call \"{}\" still attends with one head", *unsplit);
    }
  }

  // The heads merge written for a (B, H, T, D) attention output (y.transpose(1, 2).contiguous()
  // .view(B, T, E)) applied to an SDPA whose query, key and value were never split into heads:
  // SDPA ran one head E wide, and the transpose then moves E, not the heads. The merge is right;
  // the split before the attention is missing: view(B, T, H, D).transpose(1, 2) on each input.
  // The spec names no head count here, so H is the one giving heads of 64 (GPT-2, BERT, ViT-B,
  // Whisper: the usual head size), said as a guess in the fix. Returns the attention's id when
  // the split is proposed.
  std::optional<std::string> propose_heads_split_before_attention(Diagnostic& diagnostic) {
    const CallDecl* made = input_.producer;
    if (made != nullptr && made->op == "contiguous") made = producer_of(ctx_.spec, input_name(*made, "input"), made);
    if (made == nullptr || made->op != "transpose" || written_.size() != 3 || !written_[0].is_string() || !written_[1].is_string()) return std::nullopt;
    std::set<std::int64_t> swapped;
    for (const char* dim : {"dim0", "dim1"}) {
      const nlohmann::json& value = made->arguments.value(dim, nlohmann::json());
      if (value.is_number_integer()) swapped.insert(value.get<std::int64_t>());
    }
    if (swapped != std::set<std::int64_t>{1, 2}) return std::nullopt;
    const CallDecl* attention = producer_of(ctx_.spec, input_name(*made, "input"), made);
    std::optional<std::size_t> at = attention != nullptr ? CallContext::index_in_calls(*attention) : std::nullopt;
    if (!at || attention->op != "scaled_dot_product_attention" || !attention->module.empty() || ctx_.checked_calls == nullptr) return std::nullopt;
    const CallReport* checked = nullptr;
    for (const CallReport& report : *ctx_.checked_calls) {
      if (report.id == attention->id) checked = &report;
    }
    if (checked == nullptr) return std::nullopt;
    const Shape* query = nullptr;
    for (const ResolvedArgument& argument : checked->arguments) {
      if (argument.name == "query") query = &argument.shape;
    }
    // A split needs at least two heads of the usual size: a width of one head (64) has none to make.
    if (query == nullptr || query->size() != 3 || !(*query)[2].is_constant() || (*query)[2].offset % kUsualHeadSize != 0 ||
        (*query)[2].offset < kFewestHeads * kUsualHeadSize ||
        ctx_.symbols.compare(sizes_[2], (*query)[2]) != Symbols::Verdict::Equal) {
      return std::nullopt;
    }
    const std::int64_t heads = (*query)[2].offset / kUsualHeadSize;
    nlohmann::json patch = nlohmann::json::array();
    std::vector<std::string> texts;
    std::vector<nlohmann::json> inserted;
    std::map<std::string, std::string> split_of;  // each input tensor's split, once (query = key = value = x)
    for (const char* role : {"query", "key", "value"}) {
      if (attention->tensors.count(role) == 0) return std::nullopt;
      const ArgRef& ref = attention->tensor(role);
      const ResolvedArgument* argument = nullptr;
      for (const ResolvedArgument& candidate : checked->arguments) {
        if (candidate.name == role) argument = &candidate;
      }
      if (ref.kind != ArgRef::Kind::Named || argument == nullptr || argument->shape != *query) return std::nullopt;  // self-attention only
      if (split_of.count(ref.name) != 0) continue;
      const std::string split = fresh_name(ctx_.spec, ref.name + "_heads");
      const std::string viewed = fresh_name(ctx_.spec, split + "_view");
      split_of[ref.name] = split;
      inserted.push_back({{"id", fresh_name(ctx_.spec, "view_" + split)}, {"op", "view"}, {"input", ref.name},
                          {"shape", {written_[0], written_[1], heads, kUsualHeadSize}}, {"outputs", {viewed}}});
      inserted.push_back({{"id", fresh_name(ctx_.spec, "transpose_" + split)}, {"op", "transpose"}, {"input", viewed}, {"dim0", 1}, {"dim1", 2},
                          {"outputs", {split}}});
      texts.push_back(fmt::format("{0} = {0}.view({1}, {2}, {3}, {4}).transpose(1, 2)", ref.name, written_[0].get<std::string>(),
                                  written_[1].get<std::string>(), heads, kUsualHeadSize));
    }
    for (std::size_t k = inserted.size(); k-- > 0;) {
      patch.push_back({{"op", "add"}, {"path", CallContext::calls_entry_pointer(*at)}, {"value", inserted[k]}});
    }
    for (const char* role : {"query", "key", "value"}) {
      patch.push_back({{"op", "replace"}, {"path", CallContext::calls_entry_pointer(*at + inserted.size()) + "/" + role},
                       {"value", split_of.at(attention->tensor(role).name)}});
    }
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("split the heads before call \"{}\", which attends over {} one head wide, as this merge expects "
                                   "(B, H, T, D): {} ({} heads of 64: the spec names no head count)",
                                   attention->id, query->back().str(), fmt::join(texts, "; "), heads),
                       std::move(patch));
    return attention->id;
  }

  // The input made by a repeat that tiled one dim r times (repeat(T, 1) of (B, E): rows (t b)),
  // cut by this view into that dim and r after it ((B, T, E): rows read (b t)): each entry's r
  // rows were meant to be its own copies. unsqueeze then expand give them without a copy (as
  // repeat_interleave(r, dim) would, copied): x.unsqueeze(1).expand(-1, T, -1).
  void propose_copies_per_entry(Diagnostic& diagnostic) {
    const CallDecl* tile = input_.producer;
    const ArgRef& tiled_ref = ctx_.call.tensor("input");
    if (tile == nullptr || tile->op != "repeat" || !CallContext::index_in_calls(*tile) || tile->outputs.size() != 1 ||
        tiled_ref.kind != ArgRef::Kind::Named || tiled_ref.name != tile->outputs.front() || readers(tiled_ref.name).size() != 1) {
      return;
    }
    const ArgRef& source = tile->tensor("input");
    const nlohmann::json& repeats = tile->arguments.at("repeats");
    const int rank = input_.rank();
    if (source.kind != ArgRef::Kind::Named || !repeats.is_array() || static_cast<int>(repeats.size()) != rank ||
        static_cast<int>(sizes_.size()) != rank + 1) {
      return;
    }
    int tiled = -1;
    for (int i = 0; i < rank; ++i) {
      if (repeats[static_cast<std::size_t>(i)] == 1) continue;
      if (tiled >= 0 || !(repeats[static_cast<std::size_t>(i)].is_number_integer() || repeats[static_cast<std::size_t>(i)].is_string())) return;
      tiled = i;
    }
    if (tiled < 0) return;
    const nlohmann::json& count_written = repeats[static_cast<std::size_t>(tiled)];
    const DimExpr count = count_written.is_string() ? ctx_.symbols.resolve(*parse_dim_expr(count_written.get<std::string>()))
                                                    : DimExpr::constant(count_written.get<std::int64_t>());
    auto equal = [&](const DimExpr& a, const DimExpr& b) { return ctx_.symbols.compare(a, b) == Symbols::Verdict::Equal; };
    const std::size_t at = static_cast<std::size_t>(tiled);
    if (!equal(sizes_[at + 1], count) || SizeProduct::of(Shape{sizes_[at], sizes_[at + 1]}) != SizeProduct::of(Shape{input_.shape[at]})) return;
    nlohmann::json size = nlohmann::json::array();
    std::string size_text;
    for (std::size_t k = 0; k < sizes_.size(); ++k) {
      if (k != at + 1 && !equal(sizes_[k], input_.shape[k < at + 1 ? k : k - 1]) && k != at) return;
      size.push_back(k == at + 1 ? count_written : nlohmann::json(-1));
      size_text += (k == 0 ? "" : ", ") + (k == at + 1 ? (count_written.is_string() ? count_written.get<std::string>() : count_written.dump()) : "-1");
    }
    nlohmann::json unsqueeze = {{"id", tile->id}, {"op", "unsqueeze"}, {"input", source.name}, {"dim", tiled + 1}, {"outputs", tile->outputs}};
    nlohmann::json expand = {{"id", ctx_.call.id}, {"op", "expand"}, {"input", tiled_ref.name}, {"size", size}};
    if (!ctx_.call.outputs.empty()) expand["outputs"] = ctx_.call.outputs;
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("give each entry its own copies, next to each other: {}.unsqueeze({}).expand({}) in place of call \"{}\"'s "
                                   "repeat, which tiles the whole of dim {}, and this {}",
                                   source.name, tiled + 1, size_text, tile->id, tiled, ctx_.call.op),
                       {{{"op", "replace"}, {"path", tile->pointer}, {"value", std::move(unsqueeze)}},
                        {{"op", "replace"}, {"path", ctx_.call.pointer}, {"value", std::move(expand)}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each entry's rows copy that entry, as repeat_interleave would");
  }

  // The call that moves dims into `order` ({"op": "transpose"} for one swap, else permute).
  static nlohmann::json reorder_call(const std::vector<int>& order, std::string id, nlohmann::json input, std::string& text) {
    nlohmann::json call = {{"id", std::move(id)}, {"input", std::move(input)}};
    std::vector<int> moved;
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (order[i] != static_cast<int>(i)) moved.push_back(static_cast<int>(i));
    }
    if (moved.size() == 2) {
      call["op"] = "transpose";
      call["dim0"] = moved[0];
      call["dim1"] = moved[1];
      text = fmt::format(".transpose({}, {})", moved[0], moved[1]);
    } else {
      call["op"] = "permute";
      call["dims"] = order;
      std::string dims;
      for (int dim : order) dims += (dims.empty() ? "" : ", ") + std::to_string(dim);
      text = ".permute(" + dims + ")";
    }
    return call;
  }

  static std::string shape_text(const nlohmann::json& shape) {
    std::string text;
    for (const nlohmann::json& size : shape) text += (text.empty() ? "" : ", ") + (size.is_string() ? size.get<std::string>() : size.dump());
    return text;
  }

  // MHA312's fix: the input's memory cut into the factors both sides name (a view, when a dim
  // holds several: (B, T, H*D) -> (B, T, H, D)), those moved into the result's order by a
  // transpose or permute, then merged by reshape where a result dim holds several. Factors
  // neither side names pair up run by run in memory order (ResNet's 7, 7 with the result's 49).
  // Only in a spec's "calls" list, where calls can be inserted.
  // Returns the move (the input dims' new order) when the fix moves dims without cutting any.
  std::optional<std::vector<int>> propose_reorder(Diagnostic& diagnostic, const std::vector<Factor>& in, const std::vector<std::vector<Factor>>& out) {
    const std::optional<InsertionPoint> at = insertion_point();
    if (!at) return std::nullopt;
    std::vector<std::pair<const Factor*, std::size_t>> items;  // the result's factors, each with its dim
    for (std::size_t j = 0; j < out.size(); ++j) {
      for (const Factor& factor : out[j]) items.push_back({&factor, j});
    }
    std::vector<int> held(items.size(), -1);  // the input factor each result factor is
    std::vector<bool> taken(in.size(), false);
    for (std::size_t k = 0; k < items.size(); ++k) {
      for (std::size_t i = 0; i < in.size(); ++i) {
        if (!taken[i] && !items[k].first->key.empty() && in[i].key == items[k].first->key) {
          held[k] = static_cast<int>(i);
          taken[i] = true;
          break;
        }
      }
    }
    // The runs of unpaired factors, in memory order on both sides.
    auto runs = [](const std::vector<bool>& paired) {
      std::vector<std::vector<std::size_t>> found;
      for (std::size_t i = 0; i < paired.size(); ++i) {
        if (paired[i]) continue;
        if (i == 0 || paired[i - 1]) found.emplace_back();
        found.back().push_back(i);
      }
      return found;
    };
    std::vector<bool> item_paired(items.size());
    for (std::size_t k = 0; k < items.size(); ++k) item_paired[k] = held[k] >= 0;
    std::vector<std::vector<std::size_t>> in_runs = runs(taken), item_runs = runs(item_paired);
    // One run on one side pairs with all the other side's unpaired factors, wherever they stand:
    // (B, T, H*D) read as (B*H, T, D) cuts H*D into H and D in the order the result reads them;
    // (B, H, T, D) read as (B, T, H*D) merges H and D, in memory order.
    auto join = [](std::vector<std::vector<std::size_t>>& split) {
      for (std::size_t r = 1; r < split.size(); ++r) split[0].insert(split[0].end(), split[r].begin(), split[r].end());
      split.resize(1);
    };
    if (in_runs.size() == 1 && item_runs.size() > 1) join(item_runs);
    if (item_runs.size() == 1 && in_runs.size() > 1) join(in_runs);
    if (in_runs.size() != item_runs.size()) return std::nullopt;
    // The fine factors: the input's, with an unpaired one cut into the result's run it pairs with.
    std::vector<nlohmann::json> fine;                    // sizes as written
    std::vector<std::vector<int>> fine_of_input(in.size());  // each input factor's fine factors
    std::vector<std::vector<int>> fine_of_item(items.size());
    std::map<std::size_t, std::size_t> run_of_input;
    std::string guessed_cut;  // an unnamed input size cut with its heads inner, in the result's order
    for (std::size_t r = 0; r < in_runs.size(); ++r) {
      for (std::size_t i : in_runs[r]) run_of_input[i] = r;
    }
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (taken[i]) {
        fine_of_input[i].push_back(static_cast<int>(fine.size()));
        fine.push_back(in[i].written);
        continue;
      }
      const std::vector<std::size_t>& in_run = in_runs[run_of_input[i]];
      const std::vector<std::size_t>& item_run = item_runs[run_of_input[i]];
      Shape in_sizes, item_sizes;
      for (std::size_t k : in_run) in_sizes.push_back(in[k].size);
      for (std::size_t k : item_run) item_sizes.push_back(items[k].first->size);
      if (SizeProduct::of(in_sizes) != SizeProduct::of(item_sizes)) return std::nullopt;
      if (in_run.size() == 1) {  // cut into the result's factors
        auto heads = std::find_if(item_run.begin(), item_run.end(),
                                  [&](std::size_t k) { return role_of_name(items[k].first->key) == DimRole::Heads; });
        if (in[i].key.empty() && heads != item_run.end() && heads != item_run.begin()) guessed_cut = in[i].size.str();
        for (std::size_t k : item_run) {
          fine_of_item[k].push_back(static_cast<int>(fine.size()));
          fine.push_back(items[k].first->written);
        }
      } else if (item_run.size() == 1) {  // several input factors read as one result factor
        fine_of_item[item_run[0]].push_back(static_cast<int>(fine.size()));
        fine.push_back(in[i].written);
      } else {
        return std::nullopt;
      }
    }
    for (std::size_t k = 0; k < items.size(); ++k) {
      if (held[k] >= 0) fine_of_item[k] = fine_of_input[static_cast<std::size_t>(held[k])];
    }
    std::vector<int> order;
    std::vector<std::size_t> fine_per_dim(out.size(), 0);
    for (std::size_t k = 0; k < items.size(); ++k) {
      order.insert(order.end(), fine_of_item[k].begin(), fine_of_item[k].end());
      fine_per_dim[items[k].second] += fine_of_item[k].size();
    }
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t f = 0; f < sorted.size(); ++f) {
      if (sorted[f] != static_cast<int>(f)) return std::nullopt;
    }
    if (std::is_sorted(order.begin(), order.end())) return std::nullopt;
    bool cut = fine.size() != static_cast<std::size_t>(input_.rank());
    bool merge = std::any_of(fine_per_dim.begin(), fine_per_dim.end(), [](std::size_t n) { return n != 1; });
    if (cut && !merge) propose_cut_in_order(diagnostic, fine, order, at->input);
    const CallDecl& call = ctx_.call;
    const std::string& op = call.op;
    nlohmann::json outputs = call.outputs.empty() ? nlohmann::json() : nlohmann::json(call.outputs);
    std::vector<nlohmann::json> calls;
    std::string text = at->input;
    nlohmann::json source = at->input;
    if (cut) {
      nlohmann::json fine_shape(fine);
      calls.push_back({{"id", call.id + "_view"}, {"op", op}, {"input", source}, {"shape", fine_shape}, {"outputs", {call.id + "_split"}}});
      text += fmt::format(".{}({})", op, shape_text(fine_shape));
      source = call.id + "_split";
    }
    std::string moved;
    nlohmann::json mover = reorder_call(order, merge ? call.id + "_move" : call.id, source, moved);
    text += moved;
    if (merge) {
      mover["outputs"] = {call.id + "_moved"};
      calls.push_back(std::move(mover));
      // The moved dims are not in memory order, which view refuses (MHA370): reshape copies.
      calls.push_back({{"id", call.id}, {"op", "reshape"}, {"input", call.id + "_moved"}, {"shape", written_}});
      text += fmt::format(".reshape({})", shape_text(written_));
    } else {
      calls.push_back(std::move(mover));
    }
    if (!outputs.is_null()) calls.back()["outputs"] = outputs;
    nlohmann::json patch = nlohmann::json::array();
    patch.push_back({{"op", "replace"}, {"path", call.pointer}, {"value", calls[0]}});
    for (std::size_t c = 1; c < calls.size(); ++c) patch.push_back({{"op", "add"}, {"path", CallContext::calls_entry_pointer(at->index + c)}, {"value", calls[c]}});
    std::string how = cut && merge ? fmt::format("{} to the factors in the input's order, move them, then reshape", op)
                      : cut        ? fmt::format("{} in the input's order, then move the dims", op)
                                   : std::string("move the dims first");
    ctx_.add_patch_fix(diagnostic, fmt::format("{}: {}", how, text), std::move(patch));
    // view(B, D, T, H) of (B, T, 64): the input does not say which factor of 64 is outer, and
    // a producer's heads usually are, so a cut in the result's order with heads inner is a guess.
    if (!guessed_cut.empty()) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Suspect,
                                  fmt::format("the input's {} is unnamed: its factors are cut in the result's order, heads inner, a guess", guessed_cut));
    }
    return cut ? std::nullopt : std::optional<std::vector<int>>(order);
  }

  void done(const Shape& written) {
    Shape shape = ctx_.symbols.resolve(written);
    Layout layout;
    if (ctx_.call.op == "view") {
      ViewResult view = view_layout(input_.layout, shape);
      if (view.verdict == ViewVerdict::Incompatible) return incompatible_view(shape);
      layout = std::move(view.layout);  // unknown when the verdict depends on the symbols' values
    } else {
      layout = reshaped_layout(input_.layout, shape);
    }
    if (skews_grown_dim(shape)) reported_ = true;  // no MHA312: the skew moves its dims on purpose
    check_fused_split(shape);
    ctx_.outputs.push_back({"output", shape, input_.dtype, output_names(shape)});
    check_unskewed(shape);
    check_factor_order(shape);
    check_moved_by_view(shape);
    check_count_moved_by_view(shape);
    ctx_.output_layouts["output"] = std::move(layout);
  }

  // The relative-position skew (Transformer-XL's and ESPnet's rel_shift, Music Transformer's
  // skewing): a dim grown by one, a zero slice padded or concatenated to it (K -> K+1), viewed
  // with its size and the size of the dim before it exchanged, (Q, K+1) as (K+1, Q). Each row
  // then starts one element later than the last, which slides each query's relative scores into
  // place; dropping the first row and viewing back (Q, K) finishes the shift. The view moves
  // the two dims on purpose: the stride it changes is what the padding was added for.
  bool skews_grown_dim(const Shape& shape) const {
    const std::optional<std::size_t> grown_dim = dim_grown_by_zeros();
    if (!grown_dim) return false;
    const std::size_t d = *grown_dim;
    const Shape grown = ctx_.symbols.resolve(input_.shape);
    if (shape.size() != grown.size() || shape[d - 1] != grown[d] || shape[d] != grown[d - 1]) return false;
    bool others_kept = true;
    for (std::size_t k = 0; k < grown.size(); ++k) others_kept = others_kept && (k + 1 == d || k == d || shape[k] == grown[k]);
    return others_kept && positions_before_grown(d);
  }

  // Both dims are positions: a batch exchanged with a sequence grown by a class token,
  // view(N+1, B, E) of (B, N+1, E), is a transpose forgotten, not a skew; so are heads or
  // features exchanged with one (heads (B, H, N+1, D) merged by view(B, N+1, H, D) after a
  // null key joined on N: the merge without its transpose).
  bool positions_before_grown(std::size_t d) const {
    auto position_like = [&](std::size_t dim) {
      const DimRole role = role_of_dim(input_.dim_names, static_cast<int>(dim));
      return role != DimRole::Batch && role != DimRole::Heads && role != DimRole::HeadDim;
    };
    return position_like(d - 1) && position_like(d);
  }

  // The dim (not the first) the input's pad or cat grew by one slice of zeros, every other dim
  // kept: the K -> K+1 of the skew. nullopt for any other input.
  struct GrownByZeros {
    std::size_t dim = 0;
    std::string grown;                // the tensor grown, as the pad or cat reads it ("" when not named)
    const CallDecl* maker = nullptr;  // the pad or cat
  };
  std::optional<std::size_t> dim_grown_by_zeros() const {
    const std::optional<GrownByZeros> grown = grown_by_zeros();
    return grown ? std::optional<std::size_t>(grown->dim) : std::nullopt;
  }
  std::optional<GrownByZeros> grown_by_zeros() const {
    const CallDecl* maker = values_maker(ctx_, input_);
    if (maker == nullptr || (maker->op != "pad" && maker->op != "cat")) return std::nullopt;
    const CallReport* made = checked_call(ctx_, *maker);
    if (made == nullptr) return std::nullopt;
    const Shape grown = ctx_.symbols.resolve(input_.shape);
    for (const ResolvedArgument& part : made->arguments) {
      const Shape before = ctx_.symbols.resolve(part.shape);
      if (before.size() != grown.size()) continue;
      std::vector<std::size_t> differ;
      for (std::size_t d = 0; d < grown.size(); ++d) {
        if (before[d] != grown[d]) differ.push_back(d);
      }
      if (differ.size() != 1 || differ.front() == 0) continue;
      DimExpr one_more = before[differ.front()];
      one_more.offset += 1;
      if (one_more == grown[differ.front()] && pads_with_zeros(*maker, part.name)) {
        return GrownByZeros{differ.front(), input_name(*maker, part.name), maker};
      }
    }
    return std::nullopt;
  }

  // Whether the tensor a pad or cat grew holds scores a relative-position skew shifts: made by
  // matmul, bmm or einsum (q @ E^T), possibly scaled or biased on the way, or declared (the
  // relative logits given as they are). Anything else padded (a projection, a sink logit
  // joined to features) is no skew's input.
  bool grows_scores(const GrownByZeros& grown) const {
    if (grown.grown.empty()) return false;
    const CallDecl* producer = producer_of(ctx_.spec, grown.grown, grown.maker);
    if (producer == nullptr) return true;
    const CallDecl* made = values_maker(ctx_.spec, producer);
    return made != nullptr && (made->op == "matmul" || made->op == "bmm" || made->op == "einsum");
  }

  // The skew with its view left in the padded order: (Q, K+1) viewed as (Q, K+1) again, then
  // the first entry of the grown dim dropped ([..., 1:]), takes the zero column off and leaves
  // every relative score where it was (Music Transformer's Srel == QEr): the pad and the view do
  // nothing. The skew views (K+1, Q) and drops the first row. Reported only with that slice
  // reading the view, where the pad is undone.
  void check_unskewed(const Shape& shape) {
    const std::optional<GrownByZeros> grown = grown_by_zeros();
    if (!grown || grown->dim + 1 != shape.size() || shape.size() < 3 || ctx_.call.outputs.empty() || !ctx_.index_in_calls()) return;
    const std::size_t d = grown->dim;
    if (!(shape == ctx_.symbols.resolve(input_.shape)) || !positions_before_grown(d) || !grows_scores(*grown)) return;
    // The slice must be the view's only reader: a view read whole elsewhere (a softmax over a
    // zero sink logit joined to the scores) keeps the pad on purpose.
    const std::vector<const CallDecl*> view_readers = readers(ctx_.call.outputs[0]);
    if (view_readers.size() != 1) return;
    const CallDecl* unpadding = nullptr;
    for (const CallDecl* reader : view_readers) {
      if (reader->op != "getitem" || !reader->arguments.contains("index") || !reader->arguments.at("index").is_string() ||
          !CallContext::index_in_calls(*reader)) {
        continue;
      }
      std::string error;
      std::optional<IndexExpression> index = parse_index(reader->arguments.at("index").get<std::string>(), error);
      if (!index) continue;
      std::optional<std::size_t> entry = index_entry_of(*index, shape.size(), d);
      if (!entry) continue;
      const IndexItem& item = index->items[*entry];
      bool drops_first = item.kind == IndexItem::Kind::Slice && item.start && item.start->is_constant() && item.start->constant == 1 && !item.stop &&
                         (!item.step || *item.step == 1);
      if (drops_first) unpadding = reader;
    }
    if (unpadding == nullptr) return;
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::SkewUndone,
        fmt::format("{} keeps the padded shape {}, and call \"{}\" drops the pad column again: the zero column added to dim {} and the {} do "
                    "nothing, where the relative-position skew views the last two sizes exchanged",
                    ctx_.call.op, tuple_str(shape), unpadding->id, d, ctx_.call.op),
        "shape");
    diagnostic.notes.push_back("PyTorch raises nothing: every score stays at its relative position instead of moving to its key");
    nlohmann::json skewed = written_;
    std::swap(skewed[d - 1], skewed[d]);
    std::vector<std::string> items(shape.size(), ":");
    items[d - 1] = "1:";
    const std::string rows = "[" + fmt::format("{}", fmt::join(items, ", ")) + "]";
    const std::string name = ctx_.call.outputs[0];
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("view the last two sizes exchanged and drop the first row, as the skew does: {}({}), then {}{} in call \"{}\"",
                                   ctx_.call.op, shape_text(skewed), name, rows, unpadding->id),
                       {{{"op", "replace"}, {"path", child_pointer(ctx_.call.pointer, "shape")}, {"value", skewed}},
                        {{"op", "replace"}, {"path", child_pointer(unpadding->pointer, "index")}, {"value", rows}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each relative score moves to its key's column");
    reported_ = true;
  }

  // Whether the slice `maker` (pad or cat) adds to its argument `grown` holds zeros: F.pad's
  // default value or 0, or concatenated tensors made by zeros, zeros_like or new_zeros, or
  // declared with "fill": 0, or (no fill written) under a name whose whole word says so (zero_pad,
  // not nonzero_keys). Another declared tensor joined (a null key, a memory) holds values of its own.
  bool pads_with_zeros(const CallDecl& maker, const std::string& grown) const {
    if (maker.op == "pad") {
      const nlohmann::json value = maker.arguments.value("value", nlohmann::json());
      return value.is_null() || (value.is_number() && value.get<double>() == 0.0);
    }
    bool joined = false;
    for (const auto& [argument, ref] : maker.tensors) {
      if (argument == grown) continue;
      if (ref.kind != ArgRef::Kind::Named) return false;
      const CallDecl* made = producer_of(ctx_.spec, ref.name, &maker);
      const TensorDecl* declared = made == nullptr ? ctx_.spec.find_tensor(ref.name) : nullptr;
      const bool zeros = made == nullptr ? declared != nullptr && declared_value(ctx_.spec, *declared, ref.name) == 0.0
                                         : made->op == "zeros" || made->op == "zeros_like" || made->op == "new_zeros";
      if (!zeros) return false;
      joined = true;
    }
    return joined;
  }

  // The sizes a product input dim was written as, outer first: "N*64" of a declared tensor, or
  // the shape entry of the reshape or view that made it. A person writes a product in memory
  // order (N chunks of 64); a tracer sorts it, so a traced spec says nothing. One size (its own)
  // when the order is not known.
  Shape known_factors(int i) const {
    const DimExpr& size = input_.shape[static_cast<std::size_t>(i)];
    nlohmann::json written;
    const nlohmann::json& document = ctx_.spec.value();
    if (!input_.shape_pointer.empty()) {
      nlohmann::json::json_pointer at(child_pointer(input_.shape_pointer, static_cast<std::size_t>(i)));
      if (document.contains(at)) written = document.at(at);
    } else if (const CallDecl* maker = input_.producer; maker != nullptr && (maker->op == "reshape" || maker->op == "view")) {
      const nlohmann::json& shape = maker->arguments.value("shape", nlohmann::json());
      if (shape.is_array() && static_cast<int>(shape.size()) == input_.rank()) written = shape[static_cast<std::size_t>(i)];
    }
    if (traced_ || !written.is_string()) return {size};
    Shape factors;
    std::string text = written.get<std::string>();
    // A number written first is a coefficient, as arithmetic writes one (7*h for h windows of 7
    // rows, Swin's window partition cutting (B, 7*h, 7*w, C) into (B, h, 7, w, 7, C)), not the
    // outer factor in memory; a number written last (N*64, N chunks of 64) is.
    if (!text.empty() && std::isdigit(static_cast<unsigned char>(text.front())) != 0) return {size};
    for (const std::string& part : split_at(text, '*')) {
      // parse_dim_expr reads a string with a symbol; a number inside a product is written as digits.
      const bool number = !part.empty() && part.size() < 12 && std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
      std::optional<DimExpr> factor = number ? std::optional<DimExpr>(DimExpr::constant(std::stoll(part))) : parse_dim_expr(part);
      if (!factor) return {size};
      DimExpr resolved = ctx_.symbols.resolve(*factor);
      if (resolved != DimExpr::constant(1)) factors.push_back(resolved);
    }
    return SizeProduct::of(factors) == SizeProduct::of(Shape{size}) ? factors : Shape{size};
  }

  // MHA312 for sizes without names: a view that cuts input dims into factors and writes them in
  // another order than memory holds them, where that order is known. Swin's window_partition
  // viewing (B, 56, 56, C) as (B, 8, 8, 7, 7, C) takes a dim of 8 across the two spatial dims
  // (the rows' 7 and the columns' 8), where (B, 8, 7, 8, 7, C).permute(0, 1, 3, 2, 4, 5) makes
  // windows; view(B, 64, N, E) of (B, N*64, E) reads positions 64 apart as a chunk. Each group
  // of input dims a run of result dims covers (their products equal) must be cut into the
  // result's sizes: each known factor a subset of the run, taken in the result's order. Spared:
  // a run that cuts no input dim (a relative-position shift views (T, T+1) as (T+1, T) on
  // purpose), and one dim cut without a known order ((B, 3136, C) to (B, 56, 56, C)).
  void check_factor_order(const Shape& shape) {
    if (reported_ || !counts_equal_) return;
    std::vector<int> in_dims, out_dims;  // the dims other than 1
    for (int i = 0; i < input_.rank(); ++i) {
      if (input_.shape[static_cast<std::size_t>(i)] != DimExpr::constant(1)) in_dims.push_back(i);
    }
    for (int j = 0; j < static_cast<int>(shape.size()); ++j) {
      if (shape[static_cast<std::size_t>(j)] != DimExpr::constant(1)) out_dims.push_back(j);
    }
    auto in_product = [&](std::size_t from, std::size_t to) {
      Shape sizes;
      for (std::size_t k = from; k < to; ++k) sizes.push_back(input_.shape[static_cast<std::size_t>(in_dims[k])]);
      return SizeProduct::of(sizes);
    };
    auto out_product = [&](const std::vector<int>& dims) {
      Shape sizes;
      for (int j : dims) sizes.push_back(shape[static_cast<std::size_t>(j)]);
      return SizeProduct::of(sizes);
    };
    std::vector<int> fine_order;  // the result's dims in the order memory holds their factors
    bool regrouped = false, reordered_across = false;
    std::size_t a = 0, b = 0;
    while (a < in_dims.size() && b < out_dims.size()) {
      // The smallest runs in_dims[a..a2) and out_dims[b..b2) of equal products.
      std::size_t a2 = a + 1, b2 = b + 1;
      for (int guard = 0; guard < 64; ++guard) {
        std::optional<SizeProduct> left = in_product(a, a2), right = out_product(std::vector<int>(out_dims.begin() + b, out_dims.begin() + b2));
        if (!left || !right) return;
        if (*left == *right) break;
        // Grow the side whose product does not yet hold the other's: compare by exact quotient.
        if (exact_quotient(*left, *right) && b2 < out_dims.size()) {
          ++b2;
        } else if (exact_quotient(*right, *left) && a2 < in_dims.size()) {
          ++a2;
        } else if (a2 < in_dims.size() && b2 < out_dims.size()) {
          ++a2;
          ++b2;
        } else {
          return;
        }
      }
      std::vector<int> run(out_dims.begin() + b, out_dims.begin() + b2);
      if (out_product(run) != in_product(a, a2)) return;
      std::vector<Shape> factors;  // per input dim of the run
      for (std::size_t k = a; k < a2; ++k) factors.push_back(known_factors(in_dims[k]));
      std::vector<int> order;
      std::vector<bool> used(run.size(), false);
      std::vector<std::vector<std::size_t>> taken(factors.size());  // per input dim of the run, its positions in `run`
      bool cut = false, every_cut = true;
      for (std::size_t f = 0; f < factors.size(); ++f) {
        for (const DimExpr& factor : factors[f]) {
          std::optional<std::vector<std::size_t>> subset = earliest_subset(run, used, factor, shape);
          if (!subset) return;
          for (std::size_t k : *subset) {
            used[k] = true;
            order.push_back(run[k]);
          }
          taken[f].insert(taken[f].end(), subset->begin(), subset->end());
        }
        cut = cut || taken[f].size() > 1;
        // Across input dims, only a cut of each one (Swin's two spatial dims) tells their order.
        every_cut = every_cut && taken[f].size() > 1;
      }
      const bool known = (a2 - a > 1 && every_cut) || (a2 - a == 1 && factors.front().size() > 1);
      if (order != run) {
        if (!cut || !known) return;  // nothing to tell, or no order to tell it by
        regrouped = true;
        reordered_across = reordered_across || a2 - a > 1;
      }
      fine_order.insert(fine_order.end(), order.begin(), order.end());
      a = a2;
      b = b2;
    }
    if (!regrouped) return;
    reported_ = true;
    report_factor_order(shape, out_dims, fine_order, reordered_across);
  }

  // Whether `sizes` read in row-major order gives `result` by splits and merges only: each
  // result dim a factor of one input dim or a product of whole consecutive input dims.
  static bool splits_and_merges(const std::vector<std::int64_t>& sizes, const std::vector<std::int64_t>& result) {
    std::size_t i = 0, j = 0;
    while (i < sizes.size() && j < result.size()) {
      if (result[j] <= sizes[i]) {  // one input dim cut into result dims
        std::int64_t left = sizes[i];
        while (j < result.size() && left > 1 && left % result[j] == 0 && result[j] <= left) left /= result[j++];
        if (left != 1) return false;
        ++i;
      } else {  // whole input dims merged into one result dim
        std::int64_t left = result[j];
        while (i < sizes.size() && left > 1 && left % sizes[i] == 0) left /= sizes[i++];
        if (left != 1) return false;
        ++j;
      }
    }
    return i == sizes.size() && j == result.size();
  }

  // MHA312 for sizes without names: a view or reshape that is no plain split or merge of the input
  // in memory order, but is one once the input's dims are moved ((B, N, C) viewed (B, C, H, W),
  // SegFormer's Mix-FFN without its transpose; (B, C, H, W) viewed (B, H*W, C) without its
  // permute): a transpose written as a view. The move with the fewest exchanged pairs is the fix.
  // Spared: sizes not all known, and a result that only reorders whole dims (a relative-position
  // shift views (T, T+1) as (T+1, T) on purpose).
  void check_moved_by_view(const Shape& shape) {
    if (reported_ || !counts_equal_) return;
    // Leading dims the result keeps as they are (the batch, a symbol) are left out.
    std::size_t kept = 0;
    while (kept < shape.size() && kept < static_cast<std::size_t>(input_.rank()) &&
           ctx_.symbols.resolve(input_.shape[kept]) == shape[kept]) {
      ++kept;
    }
    // A leading batch that the result merges with dims of a constant count (PatchTST's (B, 512, 7)
    // reshaped to (-1, 32, 16): the -1 is 7*B, one row per channel of each sample) stays the
    // outer factor of both; the count joins the constants, and memory must hold its dim right
    // after the batch (permute(0, 2, 1) first, or each "patch" mixes the 7 channels).
    std::int64_t merged_count = 0;
    if (kept == 0 && input_.rank() >= 2 && !shape.empty()) {
      const DimExpr lead = ctx_.symbols.resolve(input_.shape[0]);
      if (lead.is_plain_symbol() && shape[0].symbol == lead.symbol && shape[0].offset == 0 && shape[0].coeff > 1) {
        merged_count = shape[0].coeff;
        kept = 1;
      }
    }
    std::vector<int> in_dims;
    std::vector<std::int64_t> sizes, result;
    if (merged_count > 1) result.push_back(merged_count);
    for (int d = static_cast<int>(kept); d < input_.rank(); ++d) {
      const DimExpr size = ctx_.symbols.resolve(input_.shape[static_cast<std::size_t>(d)]);
      if (!size.is_constant()) return;
      if (size.offset == 1) continue;
      in_dims.push_back(d);
      sizes.push_back(size.offset);
    }
    for (std::size_t j = kept; j < shape.size(); ++j) {
      if (!shape[j].is_constant()) return;
      if (shape[j].offset != 1) result.push_back(shape[j].offset);
    }
    if (in_dims.size() < 2 || in_dims.size() > 6 || std::any_of(sizes.begin(), sizes.end(), [](std::int64_t n) { return n <= 0; }) ||
        std::any_of(result.begin(), result.end(), [](std::int64_t n) { return n <= 0; })) {
      return;
    }
    std::vector<std::int64_t> whole_in = sizes, whole_out = result;
    std::sort(whole_in.begin(), whole_in.end());
    std::sort(whole_out.begin(), whole_out.end());
    // Only whole dims reordered, or a plain split or merge. A reorder is no shift when the batch
    // merges a count (MobileViT's (B, C, N, P) reshaped (-1, N, C): the -1 is B*P, which memory
    // holds only once P is moved next to B).
    if ((whole_in == whole_out && merged_count <= 1) || splits_and_merges(sizes, result)) return;
    std::vector<std::size_t> perm(in_dims.size()), best;
    for (std::size_t k = 0; k < perm.size(); ++k) perm[k] = k;
    int fewest = 0;
    do {
      std::vector<std::int64_t> moved;
      for (std::size_t k : perm) moved.push_back(sizes[k]);
      if (!splits_and_merges(moved, result)) continue;
      int inversions = 0;
      for (std::size_t x = 0; x < perm.size(); ++x) {
        for (std::size_t y = x + 1; y < perm.size(); ++y) inversions += perm[x] > perm[y] ? 1 : 0;
      }
      if (best.empty() || inversions < fewest) {
        best = perm;
        fewest = inversions;
      }
    } while (std::next_permutation(perm.begin(), perm.end()));
    if (best.empty()) return;
    std::vector<int> order(static_cast<std::size_t>(input_.rank()));
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    for (std::size_t k = 0; k < best.size(); ++k) order[static_cast<std::size_t>(in_dims[k])] = in_dims[best[k]];
    // A result dim that merges input dims needs a copy after the move: reshape.
    std::vector<std::int64_t> moved;
    for (std::size_t k : best) moved.push_back(sizes[k]);
    bool merges = false;
    for (std::int64_t r : result) merges = merges || std::none_of(moved.begin(), moved.end(), [&](std::int64_t n) { return n % r == 0; });
    reported_ = true;
    report_transpose_by_view(order, merges ? "reshape" : ctx_.call.op);
  }

  // MHA312 for a count moved across sized dims by a view: (B, N, N, 8) viewed (B, 8, N, N), a
  // per-head bias laid out heads last read as heads first. The result is the input's dims in
  // another order, but a view does not move dims: it reads the 8 at stride N*N where memory holds
  // it at stride 1, so each "head" gets a mix of nodes' biases for every head. Only a count
  // (an integer size, 2 or more, found once on each side) moved across dims that are all
  // symbolic sizes: a relative-position shift exchanges symbolic dims (T, T+1) on purpose, and a
  // weight reinterpretation views numbers only.
  void check_count_moved_by_view(const Shape& shape) {
    if (reported_ || !counts_equal_ || shape.size() != static_cast<std::size_t>(input_.rank())) return;
    const Shape input = ctx_.symbols.resolve(input_.shape);
    auto count_at = [](const Shape& dims) -> std::optional<std::size_t> {
      std::optional<std::size_t> found;
      for (std::size_t d = 0; d < dims.size(); ++d) {
        if (!dims[d].is_constant()) continue;
        if (dims[d].offset < 2 || found) return std::nullopt;
        found = d;
      }
      return found;
    };
    const std::optional<std::size_t> from = count_at(input), to = count_at(shape);
    if (!from || !to || *from == *to || input[*from] != shape[*to]) return;
    Shape rest_in = input, rest_out = shape;
    rest_in.erase(rest_in.begin() + static_cast<std::ptrdiff_t>(*from));
    rest_out.erase(rest_out.begin() + static_cast<std::ptrdiff_t>(*to));
    if (rest_in != rest_out) return;
    std::vector<int> order;
    for (int d = 0; d < input_.rank(); ++d) {
      if (d != static_cast<int>(*from)) order.push_back(d);
    }
    order.insert(order.begin() + static_cast<std::ptrdiff_t>(*to), static_cast<int>(*from));
    reported_ = true;
    report_transpose_by_view(order, ctx_.call.op);
  }

  // MHA312 for a transpose by view: the fix moves the input's dims (transpose or permute), then
  // views the same shape, which then only splits dims.
  void report_transpose_by_view(const std::vector<int>& order, const std::string& op) {
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::ReshapeMovesDim,
        fmt::format("{} of {} to ({}) is no split or merge of the input's dims in memory order, but is one once they are moved: "
                    "each result dim mixes entries of different input dims (a transpose written as a view)",
                    ctx_.call.op, tuple_str(input_.shape), shape_text(written_)),
        "shape");
    diagnostic.notes.push_back("reshape and view keep memory order: move the dims first (transpose or permute), then view");
    diagnostic.notes.push_back("PyTorch raises nothing: the element count is right");
    const std::optional<InsertionPoint> at = insertion_point();
    if (!at) return;
    std::string moved;
    nlohmann::json mover = reorder_call(order, ctx_.call.id + "_moved", at->input, moved);
    mover["outputs"] = {ctx_.call.id + "_moved"};
    const std::string reshaped = CallContext::calls_entry_pointer(at->index + 1);  // this call, once the mover is inserted
    nlohmann::json patch = nlohmann::json::array(
        {{{"op", "add"}, {"path", ctx_.call.pointer}, {"value", mover}},
         {{"op", "replace"}, {"path", reshaped + "/input"}, {"value", ctx_.call.id + "_moved"}}});
    if (op != ctx_.call.op) patch.push_back({{"op", "replace"}, {"path", reshaped + "/op"}, {"value", op}});
    ctx_.add_patch_fix(diagnostic, fmt::format("move the dims first: {}{}.{}({})", at->input, moved, op, shape_text(written_)), std::move(patch));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each result dim holds one input dim or a factor of one");
  }

  // The positions (in `run`, not `used`) of the fewest, earliest result dims whose sizes
  // multiply to `factor`.
  static std::optional<std::vector<std::size_t>> earliest_subset(const std::vector<int>& run, const std::vector<bool>& used, const DimExpr& factor,
                                                                 const Shape& shape) {
    std::vector<std::size_t> free;
    for (std::size_t k = 0; k < run.size(); ++k) {
      if (!used[k]) free.push_back(k);
    }
    if (free.size() > 12) return std::nullopt;
    const std::optional<SizeProduct> wanted = SizeProduct::of(Shape{factor});
    std::optional<std::vector<std::size_t>> best;
    for (std::uint32_t mask = 1; mask < (1u << free.size()); ++mask) {
      std::vector<std::size_t> subset;
      Shape sizes;
      for (std::size_t k = 0; k < free.size(); ++k) {
        if ((mask >> k & 1u) == 0) continue;
        subset.push_back(free[k]);
        sizes.push_back(shape[static_cast<std::size_t>(run[free[k]])]);
      }
      if (SizeProduct::of(sizes) != wanted) continue;
      if (!best || subset.size() < best->size() || (subset.size() == best->size() && subset < *best)) best = subset;
    }
    return best;
  }

  // Which input dim each entry of `shape` cuts when read left to right as splits of the input's
  // dims in their order (entries of 1 cut none: -1), or nullopt when it is no such split: a
  // symbol makes its dim whole, numbers multiply up to a dim of that size. (B, 4, 7, 8, 7, 96)
  // of (B, 28, 56, 96) gives {0, 1, 1, 2, 2, 3}.
  static std::optional<std::vector<int>> split_dims(const Shape& shape, const Shape& input) {
    std::vector<int> cuts(shape.size(), -1);
    std::size_t dim = 0;
    std::int64_t product = 1;
    for (std::size_t j = 0; j < shape.size(); ++j) {
      if (shape[j] == DimExpr::constant(1)) continue;
      while (dim < input.size() && input[dim] == DimExpr::constant(1) && product == 1) ++dim;
      if (dim >= input.size()) return std::nullopt;
      cuts[j] = static_cast<int>(dim);
      if (!shape[j].is_constant() || !input[dim].is_constant()) {
        if (product != 1 || shape[j] != input[dim]) return std::nullopt;
        ++dim;
        continue;
      }
      if (shape[j].offset < 1) return std::nullopt;
      product *= shape[j].offset;
      if (product > input[dim].offset || input[dim].offset % product != 0) return std::nullopt;
      if (product == input[dim].offset) {
        ++dim;
        product = 1;
      }
    }
    while (dim < input.size() && input[dim] == DimExpr::constant(1)) ++dim;
    if (dim != input.size() || product != 1) return std::nullopt;
    return cuts;
  }

  // Two numbers of the shape given in each other's place: a window partition of a non-square
  // (B, 28, 56, C) map called with H and W swapped, view(B, 56 // 7, 7, 28 // 7, 7, C). When
  // exchanging exactly one pair of sizes makes the shape a split of each input dim into factors
  // of its own, each exchanged size one factor among several of its dim (a whole dim moved is
  // a transpose, which the permute fix says), the exchange is what was meant: the sizes were
  // computed from the wrong dims. The result keeps its rank, so the calls after it read it as
  // written; verification decides whether they accept its sizes.
  void propose_exchanged_sizes(Diagnostic& diagnostic, const Shape& shape) {
    const ArgRef& input = ctx_.call.tensor("input");
    std::optional<nlohmann::json> found;
    for (std::size_t a = 0; a < shape.size(); ++a) {
      for (std::size_t b = a + 1; b < shape.size(); ++b) {
        if (!shape[a].is_constant() || !shape[b].is_constant() || shape[a] == shape[b] || written_[a] == -1 || written_[b] == -1) continue;
        Shape exchanged = shape;
        std::swap(exchanged[a], exchanged[b]);
        std::optional<std::vector<int>> cuts = split_dims(exchanged, input_.shape);
        if (!cuts) continue;
        auto among_several = [&](std::size_t j) { return std::count(cuts->begin(), cuts->end(), (*cuts)[j]) > 1; };
        if (!among_several(a) || !among_several(b)) continue;
        if (found) return;  // two exchanges would do: nothing says which
        nlohmann::json rewritten = written_;
        std::swap(rewritten[a], rewritten[b]);
        found = std::move(rewritten);
      }
    }
    if (!found) return;
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("exchange the sizes given in each other's place: {}.{}({})", input.name, ctx_.call.op, shape_text(*found)),
                       {{{"op", "replace"}, {"path", child_pointer(ctx_.call.pointer, "shape")}, {"value", *found}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each input dim is then cut into factors of its own, in memory order");
  }

  void report_factor_order(const Shape& shape, const std::vector<int>& out_dims, const std::vector<int>& fine_order, bool reordered_across) {
    // The result's dims in memory order: the dims of size 1 stay where they are.
    std::vector<int> fine(shape.size());
    for (std::size_t j = 0; j < shape.size(); ++j) fine[j] = static_cast<int>(j);
    for (std::size_t k = 0; k < out_dims.size(); ++k) fine[static_cast<std::size_t>(out_dims[k])] = fine_order[k];
    nlohmann::json fine_shape = nlohmann::json::array();
    for (int j : fine) fine_shape.push_back(written_[static_cast<std::size_t>(j)]);
    // The batch among the moved dims is what gets mixed (view(8, B, E) of B*8): named first.
    std::string mixed = "a dim of the result";
    for (std::size_t j = 0; j < fine.size(); ++j) {
      if (fine[j] != static_cast<int>(j) && written_[j].is_string() && role_of_name(written_[j].get<std::string>()) == DimRole::Batch) {
        mixed = fmt::format("dim {}, the batch {},", j, written_[j].get<std::string>());
        break;
      }
    }
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::ReshapeMovesDim,
        fmt::format("{} cuts input {} into ({}) in another order than memory holds the factors (row-major: ({})): {} "
                    "mixes entries of different input dims or factors",
                    ctx_.call.op, tuple_str(input_.shape), shape_text(written_), shape_text(fine_shape), mixed),
        "shape");
    diagnostic.notes.push_back("reshape and view keep memory order; cut in that order, then move the dims (permute)");
    diagnostic.notes.push_back("PyTorch raises nothing: the element count is right");
    const std::optional<InsertionPoint> at = insertion_point();
    if (!at) return;
    const std::string shape_pointer = child_pointer(ctx_.call.pointer, "shape");
    if (!reordered_across) {
      // One dim cut with its sizes exchanged: the sizes were meant in the product's order.
      ctx_.add_patch_fix(diagnostic, fmt::format("cut in the product's order: {}.{}({})", at->input, ctx_.call.op, shape_text(fine_shape)),
                         {{{"op", "replace"}, {"path", shape_pointer}, {"value", fine_shape}}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each result dim holds one factor of the product, in memory order");
      return;
    }
    propose_exchanged_sizes(diagnostic, shape);  // first: one change, where the permute below adds a call
    std::vector<int> order(shape.size());  // result dim j is dim order[j] of the cut
    for (std::size_t p = 0; p < fine.size(); ++p) order[static_cast<std::size_t>(fine[p])] = static_cast<int>(p);
    nlohmann::json split_call = {{"id", ctx_.call.id + "_cut"}, {"op", ctx_.call.op}, {"input", at->input}, {"shape", fine_shape},
                                 {"outputs", {ctx_.call.id + "_cut"}}};
    std::string moved;
    nlohmann::json mover = reorder_call(order, ctx_.call.id, ctx_.call.id + "_cut", moved);
    if (!ctx_.call.outputs.empty()) mover["outputs"] = ctx_.call.outputs;
    ctx_.add_patch_fix(diagnostic, fmt::format("cut in memory order, then move the dims: {}.{}({}){}", at->input, ctx_.call.op, shape_text(fine_shape), moved),
                       {{{"op", "replace"}, {"path", ctx_.call.pointer}, {"value", split_call}},
                        {{"op", "add"}, {"path", CallContext::calls_entry_pointer(at->index + 1)}, {"value", mover}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each result dim holds one factor of one input dim");
  }

  // The calls that take `name` as a tensor argument.
  std::vector<const CallDecl*> readers(const std::string& name) const {
    std::vector<const CallDecl*> found;
    for (std::size_t reader : ctx_.spec.readers_of(name)) found.push_back(&ctx_.spec.calls[reader]);
    return found;
  }

  static std::string dims_text(const std::vector<int>& dims) {
    std::string text;
    for (int dim : dims) text += (text.empty() ? "" : ", ") + std::to_string(dim);
    return text;
  }

  // n projections (n = 2: k, v; 3: q, k, v) fused in the last dim of the reshape's input, each
  // `block` features wide. `order_known` when the spec shows the n blocks one after the other:
  // a torch.cat of n separate projections on the last dim. An nn.Linear(E, n*E) leaves the order
  // to its weights: a checkpoint laid out (n, H, D) (nn.MultiheadAttention's in_proj, GPT-2, timm's
  // qkv.reshape(B, N, 3, H, D)) and one laid out per head (H, n, D) (BLOOM's and GPT-NeoX's
  // fused_qkv.view(B, T, H, 3, D), GPTBigCode) are both right for their own weights.
  struct FusedBlocks {
    std::int64_t block = 0, blocks = 0;
    bool order_known = false;
    const CallDecl* maker = nullptr;
  };
  std::optional<FusedBlocks> fused_blocks() const {
    const CallDecl* maker = values_maker(ctx_, input_);
    if (maker == nullptr || input_.rank() == 0) return std::nullopt;
    FusedBlocks fused;
    fused.maker = maker;
    std::int64_t whole = 0;
    if (!maker->module.empty()) {
      const ModuleDecl* module = ctx_.spec.find_module(maker->module);
      if (module == nullptr || module->type != "Linear") return std::nullopt;
      fused.block = module->integer("in_features");
      whole = module->integer("out_features");
    } else if (maker->op == "cat") {
      const CallReport* report = checked_call(ctx_, *maker);
      if (report == nullptr || report->arguments.size() < 2) return std::nullopt;
      const auto rank = static_cast<std::int64_t>(report->arguments.front().shape.size());
      const nlohmann::json& written = maker->arguments.value("dim", nlohmann::json(0));
      if (rank == 0 || !written.is_number_integer() || (written.get<std::int64_t>() + rank) % rank != rank - 1) return std::nullopt;
      for (const ResolvedArgument& piece : report->arguments) {
        if (piece.shape.empty() || !piece.shape.back().is_constant()) return std::nullopt;
        const std::int64_t width = piece.shape.back().offset;
        if (fused.block != 0 && width != fused.block) return std::nullopt;
        fused.block = width;
        whole += width;
      }
      fused.order_known = true;
    } else {
      return std::nullopt;
    }
    if (fused.block <= 0 || whole % fused.block != 0 || input_.shape.back() != DimExpr::constant(whole)) return std::nullopt;
    fused.blocks = whole / fused.block;
    if (fused.blocks != 2 && fused.blocks != 3) return std::nullopt;
    return fused;
  }

  // A reshape that splits the fused dim with its written block count n inside other factors
  // (reshape(B, N, H, 3, D)) and no boundary at the block size reads each "q/k/v" slice from all
  // n blocks where the blocks are laid out one after the other. Where the spec shows that order
  // (a cat of the projections), MHA312 and a fix that moves the n outermost and renumbers the
  // permute that reads the result (or adds one that keeps the old dim order); where the weights
  // choose it (a Linear), a note that says which layout each split reads (MHA326).
  void check_fused_split(const Shape& shape) {
    if (reported_ || !counts_equal_ || input_.rank() == 0 || written_.size() != shape.size()) return;
    const std::optional<FusedBlocks> fused = fused_blocks();
    if (!fused) return;
    const CallDecl* maker = fused->maker;
    const std::int64_t in_features = fused->block, blocks = fused->blocks, out_features = blocks * in_features;
    auto product = [&](std::size_t from, std::size_t to) { return SizeProduct::of(Shape(shape.begin() + from, shape.begin() + to)); };
    const std::optional<SizeProduct> leading = SizeProduct::of(Shape(input_.shape.begin(), input_.shape.end() - 1));
    const std::optional<SizeProduct> whole = SizeProduct::of(Shape{DimExpr::constant(out_features)});
    const std::optional<SizeProduct> block_size = SizeProduct::of(Shape{DimExpr::constant(in_features)});
    std::optional<std::size_t> first;  // the output dims first.. split the features
    for (std::size_t k = shape.size(); k-- > 0 && !first;) {
      if (product(0, k) == leading && product(k, shape.size()) == whole) first = k;
    }
    if (!first || *first + 1 >= shape.size()) return;
    std::optional<std::size_t> written_blocks;
    for (std::size_t i = *first + 1; i < shape.size() && !written_blocks; ++i) {
      if (written_[i].is_number_integer() && written_[i].get<std::int64_t>() == blocks) written_blocks = i;
    }
    if (!written_blocks) return;
    for (std::size_t i = *first + 1; i < shape.size(); ++i) {
      if (product(i, shape.size()) == block_size) return;  // the blocks stay apart
    }
    reported_ = true;
    const std::size_t k = *first, b = *written_blocks;
    std::string split;
    for (std::size_t i = k; i < shape.size(); ++i) split += (split.empty() ? "" : ", ") + shape[i].str();
    if (!fused->order_known) {
      Diagnostic& note = report_argument(
          ctx_, DiagId::FusedSplitLayout,
          fmt::format("{} splits the {} features of the Linear of call \"{}\" ({} -> {}) as ({}): each of the {} slices of dim {} "
                      "is one projection only if the Linear's weights lay each head's {} projections side by side ({}, per "
                      "head)",
                      ctx_.call.op, out_features, maker->id, in_features, out_features, split, blocks, b, blocks,
                      blocks == 3 ? "H, 3, D" : "H, 2, D"),
          "shape");
      note.notes.push_back("right for weights laid out per head (BLOOM's and GPT-NeoX's fused_qkv.view(B, T, H, 3, D)); weights "
                           "laid out one projection after the other (nn.MultiheadAttention's in_proj, GPT-2, timm) need the "
                           "block count outermost: reshape(B, N, 3, H, D)");
      return;
    }
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::ReshapeMovesDim,
        fmt::format("{} splits the {} features that call \"{}\" joins ({} projections of {}, one block after the "
                    "other) as ({}): the {} is not the outer factor, so each of the {} slices of dim {} takes features from every "
                    "projection",
                    ctx_.call.op, out_features, maker->id, blocks, in_features, split, blocks, blocks, b),
        "shape");
    diagnostic.notes.push_back(fmt::format("torch.cat lays its result out ({}, {}): the first projection is out[..., :{}]", blocks,
                                           in_features, in_features));
    diagnostic.notes.push_back("PyTorch raises nothing: the element count is right");
    // The written sizes with the block count moved to dim k; old dim i is then new dim moved(i).
    nlohmann::json fixed = nlohmann::json::array();
    for (std::size_t i = 0; i < k; ++i) fixed.push_back(written_[i]);
    fixed.push_back(written_[b]);
    for (std::size_t i = k; i < shape.size(); ++i) {
      if (i != b) fixed.push_back(written_[i]);
    }
    auto moved = [&](int i) { return i == static_cast<int>(b) ? static_cast<int>(k) : (i >= static_cast<int>(k) && i < static_cast<int>(b) ? i + 1 : i); };
    const ArgRef& input = ctx_.call.tensor("input");
    const std::string input_text = input.kind == ArgRef::Kind::Named ? input.name : std::string("input");
    const std::string reshaped = fmt::format("{}.{}({})", input_text, ctx_.call.op, shape_text(fixed));
    nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(ctx_.call.pointer, "shape")}, {"value", fixed}}});
    const int rank = static_cast<int>(shape.size());
    std::vector<const CallDecl*> result_readers = ctx_.call.outputs.empty() ? std::vector<const CallDecl*>{} : readers(ctx_.call.outputs[0]);
    const CallDecl* reader = result_readers.size() == 1 ? result_readers[0] : nullptr;
    if (reader != nullptr && reader->op == "permute" && reader->arguments.contains("dims") && CallContext::index_in_calls(*reader).has_value()) {
      std::vector<int> dims;
      for (const nlohmann::json& dim : reader->arguments.at("dims")) {
        int d = dim.is_number_integer() ? dim.get<int>() : -rank - 1;
        if (d < -rank || d >= rank) return;
        dims.push_back(moved(d < 0 ? d + rank : d));
      }
      patch.push_back({{"op", "replace"}, {"path", child_pointer(reader->pointer, "dims")}, {"value", dims}});
      ctx_.add_patch_fix(diagnostic, fmt::format("split the {} blocks first and renumber call \"{}\": {}.permute({})", blocks, reader->id, reshaped, dims_text(dims)),
                         std::move(patch));
    } else {
      const std::optional<std::size_t> index = ctx_.index_in_calls();
      if (ctx_.call.outputs.empty() || !index) return;
      std::vector<int> order;
      for (int i = 0; i < rank; ++i) order.push_back(moved(i));
      std::string split_name = ctx_.call.id + "_blocks";
      patch.push_back({{"op", "replace"}, {"path", child_pointer(ctx_.call.pointer, "outputs") + "/0"}, {"value", split_name}});
      patch.push_back({{"op", "add"},
                       {"path", CallContext::calls_entry_pointer(*index + 1)},
                       {"value", {{"id", ctx_.call.id + "_order"}, {"op", "permute"}, {"input", split_name}, {"dims", order}, {"outputs", {ctx_.call.outputs[0]}}}}});
      ctx_.add_patch_fix(diagnostic, fmt::format("split the {} blocks first, then keep the dims' order: {}.permute({})", blocks, reshaped, dims_text(order)),
                         std::move(patch));
    }
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, fmt::format("the {} slices are the Linear's {} blocks", blocks, blocks));
  }

  // Heads merged back into the features: a last dim written as a size or a name the input does
  // not have (reshape(B, T, 256), reshape(B, T, E)) takes the input's last dims in memory order.
  // The Linear that reads it takes E as H blocks of D, heads outer, as the split that made the
  // heads laid them out: a head-size dim outside the heads dim ((B, T, D, H) after permute(0, 2,
  // 3, 1)) interleaves the heads' features (MHA312). Found from the dims' names; each merged dim
  // must carry one plain name (a traced product's factors are sorted, not in memory order).
  void check_heads_merge_order(const Shape& shape, const std::vector<Factor>& in, std::vector<std::vector<Factor>> out) {
    const std::size_t j = shape.size() - 1;
    const std::optional<SizeProduct> size = SizeProduct::of(Shape{shape[j]});
    const int rank = input_.rank();
    int first = rank - 1;
    while (first >= 0 && SizeProduct::of(Shape(input_.shape.begin() + first, input_.shape.end())) != size) --first;
    if (first < 0 || first + 1 >= rank) return;
    int heads = -1, head_size = -1;
    for (int d = first; d < rank; ++d) {
      const std::string& name = input_.dim_name(d);
      if (name_factors(name).size() != 1) return;
      DimRole role = role_of_name(name);
      int& slot = role == DimRole::Heads ? heads : head_size;
      if (role != DimRole::Heads && role != DimRole::HeadDim) continue;
      if (slot != -1) return;
      slot = d;
    }
    if (heads < 0 || head_size < 0 || heads < head_size) return;
    // The result's factors in the order a Linear reads them: the input's, heads and head size exchanged.
    std::vector<int> dims;
    for (int d = first; d < rank; ++d) dims.push_back(d == heads ? head_size : d == head_size ? heads : d);
    std::vector<Factor> merged;
    Shape inside;
    for (std::size_t f = dims.size(); f-- > 0;) {
      const int d = dims[f];
      merged.insert(merged.begin(), Factor{input_.dim_name(d), input_.shape[static_cast<std::size_t>(d)], SizeProduct::of(inside), input_.dim_name(d)});
      inside.push_back(input_.shape[static_cast<std::size_t>(d)]);
    }
    out[j] = merged;
    reported_ = true;
    std::vector<std::string> held;
    for (int d = first; d < rank; ++d) held.push_back(input_.dim_name(d));
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::ReshapeMovesDim,
        fmt::format("{} merges ({}) of input {} into its last dim in memory order: the head size {} is outside the heads {}, so the "
                    "features interleave the heads (a Linear reads them as {} blocks of {}, heads outer)",
                    ctx_.call.op, merged_name(held), tuple_str(input_.shape), input_.dim_name(head_size), input_.dim_name(heads),
                    input_.dim_name(heads), input_.dim_name(head_size)),
        "shape");
    diagnostic.notes.push_back("reshape and view keep memory order; to merge heads, move them next to their head size first: "
                               "out.transpose(1, 2).reshape(B, T, H*D) of (B, H, T, D)");
    diagnostic.notes.push_back("PyTorch raises nothing: the element count is right");
    std::optional<std::vector<int>> order = propose_reorder(diagnostic, in, out);
    if (order) propose_composed_move(diagnostic, *order);
  }

  // The input dim each result dim of a permute or transpose call of a rank-`rank` tensor is
  // (-1 for a dim not written as an integer); nullopt for another op or a dims list of another length.
  static std::optional<std::vector<int>> dims_moved_by(const CallDecl& call, int rank) {
    auto wrapped = [&](const nlohmann::json& dim) { return dim.is_number_integer() ? (dim.get<int>() % rank + rank) % rank : -1; };
    std::vector<int> made(static_cast<std::size_t>(rank));
    if (call.op == "permute") {
      const nlohmann::json& dims = call.arguments.at("dims");
      if (!dims.is_array() || static_cast<int>(dims.size()) != rank) return std::nullopt;
      for (int i = 0; i < rank; ++i) made[static_cast<std::size_t>(i)] = wrapped(dims[static_cast<std::size_t>(i)]);
      return made;
    }
    if (call.op != "transpose") return std::nullopt;
    for (int i = 0; i < rank; ++i) made[static_cast<std::size_t>(i)] = i;
    int a = wrapped(call.arguments.at("dim0")), b = wrapped(call.arguments.at("dim1"));
    if (a < 0 || b < 0) return std::nullopt;
    std::swap(made[static_cast<std::size_t>(a)], made[static_cast<std::size_t>(b)]);
    return made;
  }

  // A view that cuts a merged dim into its factors in another order than the input holds them,
  // read only by a transpose or permute that puts them back in the input's order:
  // view(F, B, E).transpose(0, 1) of (B*F, E), rows (b f), written to get (B, F, E). The cut in
  // the input's order is that tensor already; the move is dropped, its readers read the cut.
  void propose_cut_in_order(Diagnostic& diagnostic, const std::vector<nlohmann::json>& fine, const std::vector<int>& order, const std::string& input) {
    if (ctx_.call.outputs.size() != 1) return;
    std::vector<const CallDecl*> read = readers(ctx_.call.outputs.front());
    if (read.size() != 1 || read[0]->outputs.size() != 1 || !CallContext::index_in_calls(*read[0])) return;
    std::optional<std::vector<int>> moved = dims_moved_by(*read[0], static_cast<int>(order.size()));
    if (!moved) return;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const int from = (*moved)[i];
      if (from < 0 || order[static_cast<std::size_t>(from)] != static_cast<int>(i)) return;
    }
    nlohmann::json shape(fine);
    nlohmann::json cut = {{"id", ctx_.call.id}, {"op", ctx_.call.op}, {"input", input}, {"shape", shape}, {"outputs", read[0]->outputs}};
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("{} in the input's order, which call \"{}\" ({}) only moved back to: {}.{}({}) (call \"{}\" dropped)", ctx_.call.op,
                                   read[0]->id, read[0]->op, input, ctx_.call.op, shape_text(shape), read[0]->id),
                       {{{"op", "replace"}, {"path", ctx_.call.pointer}, {"value", std::move(cut)}}, {{"op", "remove"}, {"path", read[0]->pointer}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each merged entry is cut into the factors it was merged from, in that order");
  }

  // The move `order` of the input's dims folded into the permute or transpose that made the input,
  // maybe through copies (.contiguous()), each tensor on the way read only by the next call:
  // o.permute(0, 2, 1, 3).reshape(...) for o.permute(0, 2, 3, 1) then a move of dims 2 and 3.
  void propose_composed_move(Diagnostic& diagnostic, const std::vector<int>& order) {
    const ArgRef& input_ref = ctx_.call.tensor("input");
    const int rank = input_.rank();
    if (input_ref.kind != ArgRef::Kind::Named || static_cast<int>(order.size()) != rank) return;
    // Up through copies (.contiguous()), each read by the next call only.
    std::string name = input_ref.name, copies;
    const CallDecl* maker = input_.producer;
    while (maker != nullptr && (maker->op == "contiguous" || maker->op == "clone") && readers(name).size() == 1) {
      const ArgRef& copied = maker->tensor("input");
      if (copied.kind != ArgRef::Kind::Named) return;
      copies = fmt::format(".{}(){}", maker->op, copies);
      name = copied.name;
      const CallDecl* before = maker;
      maker = nullptr;
      for (const CallDecl& call : ctx_.spec.calls) {
        if (&call >= before) break;
        if (std::find(call.outputs.begin(), call.outputs.end(), name) != call.outputs.end()) maker = &call;
      }
    }
    if (maker == nullptr || (maker->op != "permute" && maker->op != "transpose") || !CallContext::index_in_calls(*maker) ||
        readers(name).size() != 1) {
      return;
    }
    std::optional<std::vector<int>> moved = dims_moved_by(*maker, rank);
    if (!moved) return;
    const std::vector<int>& made = *moved;
    std::vector<int> composed;
    for (int i = 0; i < rank; ++i) {
      int from = made[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])];
      if (from < 0) return;
      composed.push_back(from);
    }
    std::vector<int> identity(static_cast<std::size_t>(rank));
    for (int i = 0; i < rank; ++i) identity[static_cast<std::size_t>(i)] = i;
    if (composed == identity) return;
    const ArgRef& source = maker->tensor("input");
    if (source.kind != ArgRef::Kind::Named) return;
    nlohmann::json patch = nlohmann::json::array();
    if (maker->op == "permute") {
      patch.push_back({{"op", "replace"}, {"path", child_pointer(maker->pointer, "dims")}, {"value", composed}});
    } else {
      patch.push_back({{"op", "replace"}, {"path", child_pointer(maker->pointer, "op")}, {"value", "permute"}});
      patch.push_back({{"op", "remove"}, {"path", child_pointer(maker->pointer, "dim0")}});
      patch.push_back({{"op", "remove"}, {"path", child_pointer(maker->pointer, "dim1")}});
      patch.push_back({{"op", "add"}, {"path", child_pointer(maker->pointer, "dims")}, {"value", composed}});
    }
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("move the dims where call \"{}\" {}s them: {}.permute({}){}.{}({})", maker->id, maker->op, source.name,
                                   dims_text(composed), copies, ctx_.call.op, shape_text(written_)),
                       std::move(patch));
  }

  // MHA370: no strides give the shape over the input's memory.
  void incompatible_view(const Shape& shape) {
    const std::string& made_by = input_.layout.made_by;
    const CallDecl* maker = nullptr;
    for (const CallDecl& call : ctx_.spec.calls) {
      if (!made_by.empty() && call.id == made_by) maker = &call;
    }
    std::string cause = maker != nullptr ? fmt::format("call \"{}\" ({}) made its layout", maker->id, maker->op)
                                         : std::string("its elements are not in the order the shape needs");
    Diagnostic& diagnostic = report_argument(
        ctx_, DiagId::ViewLayout,
        fmt::format("view{} of {} {} needs dims that are not adjacent in memory: {}; view never copies", tuple_str(shape),
                    shown_name(input_, "the input"), tuple_str(input_.shape), cause),
        "shape");
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        "view size is not compatible with input tensor's size and stride (at least one dimension spans across two "
                        "contiguous subspaces). Use .reshape(...) instead.");
    if (maker != nullptr) {
      diagnostic.related.push_back({fmt::format("the {} that made the layout", maker->op), ctx_.spec.document.values.find(maker->pointer)});
    }
    propose_copying_view(diagnostic);
  }

  // reshape (a copy only when needed), or a contiguous() copy before the view.
  void propose_copying_view(Diagnostic& diagnostic) {
    const std::string op_pointer = ctx_.call.pointer + "/op";
    if (ctx_.spec.value().contains(nlohmann::json::json_pointer(op_pointer))) {
      ctx_.add_patch_fix(diagnostic, fmt::format("reshape instead of view: .reshape({})", shape_text(written_)),
                         {{{"op", "replace"}, {"path", op_pointer}, {"value", "reshape"}}});
    }
    const std::optional<InsertionPoint> at = insertion_point();
    if (!at) return;
    std::string copied = ctx_.call.id + "_contiguous";
    nlohmann::json copy = {{"id", copied}, {"op", "contiguous"}, {"input", at->input}, {"outputs", {copied}}};
    ctx_.add_patch_fix(diagnostic, fmt::format("copy first: {}.contiguous().view({})", at->input, shape_text(written_)),
                       {{{"op", "add"}, {"path", ctx_.call.pointer}, {"value", std::move(copy)}},
                        {{"op", "replace"}, {"path", CallContext::calls_entry_pointer(at->index + 1) + "/input"}, {"value", copied}}});
  }

  // Where a fix can insert calls before this one: its index in the "calls" list, and the named
  // tensor it reads, which the inserted calls read instead; nullopt for an input written inline
  // or a spec in the flat form.
  struct InsertionPoint {
    std::size_t index;
    std::string input;
  };
  std::optional<InsertionPoint> insertion_point() const {
    const ArgRef& input = ctx_.call.tensor("input");
    const std::optional<std::size_t> index = ctx_.index_in_calls();
    if (!index || input.kind != ArgRef::Kind::Named) return std::nullopt;
    return InsertionPoint{*index, input.name};
  }

  CallContext& ctx_;
  const ArgValue& input_;
  const nlohmann::json& written_;
  Shape sizes_;
  bool counts_equal_ = false;  // the element counts are equal as products of symbols
  bool reported_ = false;      // MHA312: one per call (none for a skew, skews_grown_dim)
  // The calls carry Python lines: products are written sorted, not in memory order.
  bool traced_ = std::any_of(ctx_.spec.calls.begin(), ctx_.spec.calls.end(), [](const CallDecl& call) { return call.source.line > 0; });
};

}  // namespace

void infer_reshape(CallContext& ctx) { ReshapeRules(ctx).run(); }

}  // namespace mhacheck
