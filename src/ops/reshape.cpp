// torch.reshape(input, shape) and Tensor.view(shape), PyTorch's infer_size: sizes are
// non-negative, at most one is -1 (inferred), and the element count must stay the same. With
// symbols the count is a product of symbols (size_product.hpp); a -1 is inferred only when the
// quotient is exact. view also needs strides for the new shape over the input's memory
// (layout.hpp: ATen's computeStride); reshape copies when there are none.
#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "ops/dim_arguments.hpp"
#include "ops/registry.hpp"
#include "ops/size_product.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

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
    if (*numel == *new_size) return done(sizes_);
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
    propose_inferred_size(diagnostic);
    if (diagnostic.fixes.empty()) explain_unsplit(diagnostic);
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
    std::optional<SizeProduct> leading_in = SizeProduct::of(Shape(input_.shape.begin(), input_.shape.end() - 1));
    std::optional<SizeProduct> leading_out = SizeProduct::of(Shape(sizes_.begin(), sizes_.end() - 2));
    if (!leading_in || !leading_out || !(*leading_in == *leading_out)) return;
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

  // Replacing one size by -1 fixes a miscounted shape when the rest divides the count. The
  // last such size: splitting heads, the per-head size is the one usually miscounted.
  void propose_inferred_size(Diagnostic& diagnostic) {
    std::optional<SizeProduct> numel = SizeProduct::of(input_.shape);
    for (std::size_t i = sizes_.size(); numel && i-- > 0;) {
      Shape rest = sizes_;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
      std::optional<SizeProduct> rest_size = SizeProduct::of(rest);
      if (!rest_size || rest_size->constant <= 0 || !exact_quotient(*numel, *rest_size)) continue;
      if (std::any_of(rest.begin(), rest.end(), [](const DimExpr& size) { return size == DimExpr::constant(-1); })) continue;
      ctx_.add_patch_fix(diagnostic, fmt::format("let PyTorch infer size {} of shape (-1)", i),
                         {{{"op", "replace"}, {"path", child_pointer(child_pointer(ctx_.call.pointer, "shape"), i)}, {"value", -1}}});
      return;
    }
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

  // Each output dim's name: the symbol written for it, else the name of the input dim it
  // keeps (same size, as many elements before it). A named dim written at a place where its
  // data is not (the dims before it hold other elements than before) is mixed with its
  // neighbours: view(B, H, T, D) of (B, T, H*D). One diagnostic per call.
  std::vector<std::string> output_names(const Shape& shape) {
    std::vector<std::string> names(shape.size());
    bool reported = false;
    for (std::size_t j = 0; j < shape.size(); ++j) {
      if (j < written_.size() && written_[j].is_string()) names[j] = written_[j].get<std::string>();
      if (j < written_.size() && written_[j] == -1) names[j] = inferred_name(shape[j]);
      std::optional<SizeProduct> before_out = SizeProduct::of(Shape(shape.begin(), shape.begin() + j));
      for (int i = 0; i < input_.rank() && before_out; ++i) {
        std::optional<SizeProduct> before_in = SizeProduct::of(Shape(input_.shape.begin(), input_.shape.begin() + i));
        bool same_place = before_in && *before_in == *before_out && ctx_.symbols.compare(input_.shape[i], shape[j]) == Symbols::Verdict::Equal;
        if (names[j].empty()) {
          if (same_place && !input_.dim_name(i).empty()) names[j] = input_.dim_name(i);
          continue;
        }
        if (input_.dim_name(i) != names[j] || same_place || !before_in || reported) continue;
        DimRole role = role_of_name(names[j]);
        if (role == DimRole::Unknown) continue;
        reported = true;
        Diagnostic& diagnostic = report_argument(
            ctx_, DiagId::ReshapeMovesDim,
            fmt::format("{} puts {} at dim {}, but in input {} {} is dim {}: the dims before it hold {} elements, not {}, so the "
                        "new dim mixes {} with its neighbours",
                        ctx_.call.op, names[j], j, tuple_str(input_.shape), names[j], i, numel_str(Shape(shape.begin(), shape.begin() + j)),
                        numel_str(Shape(input_.shape.begin(), input_.shape.begin() + i)), role_name(role)),
            "shape");
        diagnostic.notes.push_back("reshape and view keep memory order; to move a dim, transpose (then reshape): "
                                   "x.view(B, T, H, D).transpose(1, 2) to split heads, out.transpose(1, 2).reshape(B, T, H*D) to merge them");
        diagnostic.notes.push_back("PyTorch raises nothing: the element count is right");
        propose_transpose(diagnostic);
      }
    }
    return names;
  }

  // A -1 stands for what is left: the name of the one input dim of its size, when no other
  // input dim has that size (view(B, -1, H*D) of (B, H, T, D) leaves T there).
  std::string inferred_name(const DimExpr& size) const {
    std::string name;
    int matches = 0;
    for (int i = 0; i < input_.rank(); ++i) {
      if (ctx_.symbols.compare(input_.shape[i], size) != Symbols::Verdict::Equal) continue;
      ++matches;
      name = input_.dim_name(i);
    }
    return matches == 1 ? name : std::string();
  }

  // Where each dim goes when the named dims keep their order: a dim named in `from` is placed
  // where `to` names it; the others, in their own order, after every named one. The order of
  // `from`'s dims that puts them in `to`'s order.
  static std::vector<int> order_by_names(const std::vector<std::string>& from, const std::vector<std::string>& to) {
    std::vector<std::size_t> place(from.size(), to.size());
    for (std::size_t i = 0; i < from.size(); ++i) {
      auto found = std::find(to.begin(), to.end(), from[i]);
      if (!from[i].empty() && found != to.end()) place[i] = static_cast<std::size_t>(found - to.begin());
    }
    std::vector<int> order(from.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return place[a] < place[b]; });
    return order;
  }

  // The call that moves dims into `order` ({"op": "transpose"} for one swap, else permute).
  static nlohmann::json reorder_call(const std::vector<int>& order, std::string id, nlohmann::json input, std::string output,
                                     std::string& text) {
    nlohmann::json call = {{"id", std::move(id)}, {"input", std::move(input)}, {"outputs", {std::move(output)}}};
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

  // MHA312's fix: keep the named dims in memory order through the reshape and move them with a
  // transpose. Splitting heads, view to the input's order then transpose ((B, T, H*D) ->
  // view(B, T, H, D).transpose(1, 2)); merging them, transpose first (out.transpose(1, 2).reshape(B, T, H*D)).
  // Only in a spec's "calls" list, where a call can be inserted.
  void propose_transpose(Diagnostic& diagnostic) {
    const std::string prefix = "/calls/";
    if (ctx_.call.pointer.rfind(prefix, 0) != 0) return;
    std::size_t index = std::stoul(ctx_.call.pointer.substr(prefix.size()));
    std::vector<std::string> written_names(written_.size());
    for (std::size_t j = 0; j < written_.size(); ++j) written_names[j] = written_[j].is_string() ? written_[j].get<std::string>() : "";
    std::vector<std::string> input_names(static_cast<std::size_t>(input_.rank()));
    for (int i = 0; i < input_.rank(); ++i) input_names[static_cast<std::size_t>(i)] = input_.dim_name(i);
    const std::string& op = ctx_.call.op;
    nlohmann::json patch = nlohmann::json::array();
    std::string moved;
    if (written_.size() > input_names.size()) {
      // Split: the call views to the written sizes in the input's order; a new call, with this
      // call's id and outputs, moves them where they were written.
      std::vector<int> order = order_by_names(written_names, input_names);
      nlohmann::json in_order = nlohmann::json::array();
      for (int j : order) in_order.push_back(written_[static_cast<std::size_t>(j)]);
      std::vector<int> back(order.size());
      for (std::size_t p = 0; p < order.size(); ++p) back[static_cast<std::size_t>(order[p])] = static_cast<int>(p);
      std::string split = ctx_.call.id + "_split";
      nlohmann::json mover = reorder_call(back, ctx_.call.id, split, "", moved);
      mover["outputs"] = ctx_.call.outputs.empty() ? nlohmann::json::array() : nlohmann::json(ctx_.call.outputs);
      if (mover["outputs"].empty()) mover.erase("outputs");
      patch.push_back({{"op", "replace"}, {"path", ctx_.call.pointer + "/shape"}, {"value", in_order}});
      patch.push_back({{"op", "replace"}, {"path", ctx_.call.pointer + "/id"}, {"value", ctx_.call.id + "_view"}});
      patch.push_back({{"op", "add"}, {"path", ctx_.call.pointer + "/outputs"}, {"value", {split}}});
      patch.push_back({{"op", "add"}, {"path", prefix + std::to_string(index + 1)}, {"value", mover}});
      ctx_.add_patch_fix(diagnostic, fmt::format("{} in the input's order, then move the dims: x.{}({}){}", op, op, shape_text(in_order), moved),
                         std::move(patch));
    } else if (written_.size() < input_names.size()) {
      // Merge: a new call before this one moves the input's dims into the written order.
      const ArgRef& input = ctx_.call.tensor("input");
      if (input.kind != ArgRef::Kind::Named) return;
      std::vector<int> order = order_by_names(input_names, written_names);
      std::string moved_name = ctx_.call.id + "_moved";
      nlohmann::json mover = reorder_call(order, ctx_.call.id + "_move", input.name, moved_name, moved);
      patch.push_back({{"op", "add"}, {"path", ctx_.call.pointer}, {"value", mover}});
      patch.push_back({{"op", "replace"}, {"path", prefix + std::to_string(index + 1) + "/input"}, {"value", moved_name}});
      // The moved dims are not in memory order, which view refuses (MHA370): reshape copies.
      if (op == "view") patch.push_back({{"op", "replace"}, {"path", prefix + std::to_string(index + 1) + "/op"}, {"value", "reshape"}});
      ctx_.add_patch_fix(diagnostic, fmt::format("move the dims first: {}{}.reshape({})", input.name, moved, shape_text(written_)),
                         std::move(patch));
    }
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
    ctx_.outputs.push_back({"output", shape, input_.dtype, output_names(shape)});
    ctx_.output_layouts["output"] = std::move(layout);
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
                    tensor_name(input_).empty() ? "the input" : tensor_name(input_), tuple_str(input_.shape), cause),
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
    const std::string prefix = "/calls/";
    const ArgRef& input = ctx_.call.tensor("input");
    if (ctx_.call.pointer.rfind(prefix, 0) != 0 || input.kind != ArgRef::Kind::Named) return;
    std::string copied = ctx_.call.id + "_contiguous";
    nlohmann::json copy = {{"id", copied}, {"op", "contiguous"}, {"input", input.name}, {"outputs", {copied}}};
    std::size_t index = std::stoul(ctx_.call.pointer.substr(prefix.size()));
    ctx_.add_patch_fix(diagnostic, fmt::format("copy first: {}.contiguous().view({})", input.name, shape_text(written_)),
                       {{{"op", "add"}, {"path", ctx_.call.pointer}, {"value", std::move(copy)}},
                        {{"op", "replace"}, {"path", prefix + std::to_string(index + 1) + "/input"}, {"value", copied}}});
  }

  CallContext& ctx_;
  const ArgValue& input_;
  const nlohmann::json& written_;
  Shape sizes_;
};

}  // namespace

void infer_reshape(CallContext& ctx) { ReshapeRules(ctx).run(); }

}  // namespace mhacheck
