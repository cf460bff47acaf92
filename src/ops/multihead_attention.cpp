// nn.MultiheadAttention: the constructor's and forward's shape and dtype rules of PyTorch 2.x
// (torch/nn/modules/activation.py, torch/nn/functional.py multi_head_attention_forward), checked
// in the order PyTorch evaluates them so that the first error reported is the one it raises.
// Where PyTorch fails late or cryptically, the diagnostic names the cause and the exception
// is attached as pytorch_error.
#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ops/parts.hpp"
#include "check/fix_search.hpp"
#include "ops/mask_meaning.hpp"
#include "check/mask_origin.hpp"
#include "check/mask_pattern.hpp"
#include "ops/registry.hpp"
#include "core/shape_json.hpp"
#include "dim_origin.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/index_expression.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

// The rules for one call; members keep the facts that several checks share.
class MhaRules {
 public:
  explicit MhaRules(CallContext& ctx)
      : ctx_(ctx),
        m_(ctx.module->mha),
        query_(ctx.arg("query")),
        key_(ctx.arg("key")),
        value_(ctx.arg("value")),
        kpm_(ctx.arg("key_padding_mask")),
        attn_(ctx.arg("attn_mask")) {}

  void run() {
    if (!mha_constructor_valid(ctx_)) return;
    E_ = m_.embed_dim;
    H_ = m_.num_heads;
    head_dim_ = E_ / H_;
    kdim_ = m_.kdim.value_or(E_);
    vdim_ = m_.vdim.value_or(E_);
    separate_ = kdim_ != E_ || vdim_ != E_;

    Diagnostic* kpm_refused = refused_mask_dtype(ctx_, kpm_, "key_padding_mask");
    bool kpm_usable = kpm_refused == nullptr;
    if (kpm_refused != nullptr) lengths_as_padding_mask(*kpm_refused);
    // The module canonicalises key_padding_mask against attn_mask's dtype, valid or not.
    if (kpm_usable) mismatched_masks(ctx_, kpm_, "key_padding_mask", attn_, "attn_mask");
    bool attn_usable = canonical_mask_dtype(ctx_, attn_, "attn_mask");
    if (!transposable()) return;
    if (!ranks_valid(kpm_usable, attn_usable)) return;
    read_layout();
    check_symbol_roles();
    check_feature_roles();
    check_mask_meaning();
    if (batched_) {
      check_tiling_orders(ctx_, {{&query_, batch_}, {&key_, batch_}, {&value_, batch_}},
                          "each query meets the keys of another batch entry");
      if (kpm_.rank() == 2) check_mask_positions_tiled(ctx_, kpm_, 1, key_, seq_);
    }
    if (causal_attention()) check_causal_over_stacked(ctx_, query_, seq_);

    bool attn_ignored = false;
    if (ctx_.call.flag("is_causal") && !attn_.present) {
      causal_without_mask();
    } else if (ctx_.call.flag("is_causal") && attn_.present && !kpm_.present && !ctx_.call.flag("need_weights")) {
      attn_ignored = true;
      // is_causal is a hint that attn_mask is the causal mask (PyTorch's docs pass
      // generate_square_subsequent_mask(T) with it, and the Transformer stacks set it themselves on
      // detecting that mask): a mask that fits the (L, L) slot may be the causal one. One of another
      // shape is not, and PyTorch drops it unchecked.
      const bool hint_fits = attn_.rank() == 2 && L_ == S_ && attn_.shape[0] == L_ && attn_.shape[1] == S_;
      if (!hint_fits) {
        Diagnostic& diagnostic = ctx_.report(
            DiagId::CausalIgnoresMask,
            "attn_mask is ignored: with is_causal=True, need_weights=False and no key_padding_mask, PyTorch applies its own causal mask",
            &attn_);
        ctx_.add_argument_fix(diagnostic, fmt::format("drop the is_causal hint, so that {} is used", attn_.argument), "is_causal", false);
      } else {
        check_hinted_mask_causal();
      }
    }
    check_query_features();
    check_key_value_shapes();
    check_projection();
    if (attn_usable && attn_.present && !attn_ignored && (batched_ || attn_.rank() == 2)) check_attn_mask_shape();
    check_batch();
    if (kpm_usable && kpm_.present) check_key_padding_mask_shape();
    check_mask_query_dtype(kpm_usable, attn_usable && !attn_ignored);
    propose_layout_fixes_for_role_conditions();
    if (!ctx_.has_errors()) {
      if (batched_ && !m_.batch_first) interpretation_note();
      produce_outputs();
    }
  }

 private:
  // Whether the attention is causal: is_causal, a generated causal mask, or a mask made by a
  // triangle (tril, triu).
  bool causal_attention() const {
    if (ctx_.call.flag("is_causal")) return true;
    auto mask = ctx_.call.tensors.find("attn_mask");
    if (mask == ctx_.call.tensors.end()) return false;
    if (mask->second.kind == ArgRef::Kind::Causal) return true;
    if (mask->second.kind != ArgRef::Kind::Named) return false;
    std::optional<MaskPattern> pattern = mask_pattern(ctx_.spec, mask->second.name, attn_.producer);
    return pattern && !pattern->triangles.empty();
  }

  // The (L, L) mask given with the is_causal hint, when its values are known (a triangle, a declared
  // "fill", a name such as `ones`): PyTorch takes the hint on trust. Here (need_weights=False, no
  // key_padding_mask) it drops the mask and applies its own causal mask; with need_weights=True or a
  // key_padding_mask it uses the mask, so a mask that is not causal makes the output depend on
  // those flags. Unknown values stay silent: the hint is PyTorch's documented usage.
  void check_hinted_mask_causal() {
    std::string name = tensor_name(attn_);
    if (name.empty()) return;
    // Said already about this mask (its True read the other way round, say): that fix comes first.
    for (const Diagnostic& earlier : ctx_.diagnostics) {
      if (earlier.argument == attn_.argument && earlier.call == ctx_.call.id) return;
    }
    std::optional<MaskPattern> pattern = mask_pattern(ctx_.spec, name, attn_.producer);
    if (!pattern) return;
    const MaskReading reading = pattern->boolean ? MaskReading::TrueIgnores : MaskReading::Additive;
    std::optional<std::int64_t> size;
    if (L_.is_constant()) size = L_.offset;
    if (square_causal(*pattern, reading, size)) return;
    const bool masks_all = pattern->constant() && !lets_attend(reading, pattern->at(0));
    // Made by a triangle, the mask was meant causal; one that masks every key gives NaN rows when
    // used. Either way the causal mask comes first; otherwise (ones kept, a fill of 0, a band) the mask
    // is what was meant and the hint is wrong.
    const bool meant_causal = !pattern->triangles.empty() || masks_all;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::CausalIgnoresMask,
        fmt::format("{} \"{}\" is not a causal mask ({}), but is_causal=True tells PyTorch it is: with need_weights=False and no "
                    "key_padding_mask PyTorch drops it and applies its own causal mask; with need_weights=True or a key_padding_mask it "
                    "uses the mask as given",
                    attn_.argument, name,
                    masks_all ? "every key is masked" : pattern->constant() ? "every query sees every key"
                                        : "read as nn.MultiheadAttention reads it, it is not the future hidden and the past kept"),
        &attn_);
    diagnostic.notes.push_back("PyTorch's docs: is_causal provides a hint that attn_mask is the causal mask; providing incorrect hints can "
                               "result in incorrect execution");
    auto causal_fix = [&] {
      ctx_.add_argument_fix(diagnostic, fmt::format("pass the causal mask: {}=nn.Transformer.generate_square_subsequent_mask({})",
                                                    attn_.argument, L_.str()),
                            "attn_mask", {{"causal", shape_json({L_, S_})}});
    };
    if (meant_causal) causal_fix();
    ctx_.add_argument_fix(diagnostic, fmt::format("drop the is_causal hint, so that {} is used", attn_.argument), "is_causal", false);
    if (!meant_causal) causal_fix();
  }

  // ---- ranks ------------------------------------------------------------------------------

  // With batch_first and a 3-D query, key and value are transposed before any rank check.
  bool transposable() {
    if (!m_.batch_first || query_.rank() != 3) return true;
    for (const ArgValue* arg : {&key_, &value_}) {
      if (arg->rank() >= 2) continue;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::TransposeRank,
          fmt::format("{} is {}-D; a batched (3-D) query needs a 3-D {} (batch_first=True transposes it first)",
                      arg->argument, arg->rank(), arg->argument),
          arg);
      ctx_.pytorch_raises(diagnostic, "IndexError", "Dimension out of range (expected to be in range of [-1, 0], but got 1)");
      return false;
    }
    return true;
  }

  bool ranks_valid(bool& kpm_usable, bool& attn_usable) {
    int rank = query_.rank();
    if (rank != 2 && rank != 3) {
      Diagnostic& diagnostic = ctx_.report(
          DiagId::QueryRank, fmt::format("{} is {}-D {}; expected 3-D {} or unbatched 2-D (L, E)", query_.argument, rank,
                                         tuple_str(query_.shape), m_.batch_first ? "(N, L, E)" : "(L, N, E)"),
          &query_);
      ctx_.pytorch_raises(diagnostic, "AssertionError",
                          fmt::format("query should be unbatched 2D or batched 3D tensor but received {}-D query tensor", rank));
      propose_flattened_map(diagnostic);
      return false;
    }
    std::string kind = rank == 3 ? "batched (3-D)" : "unbatched (2-D)";
    if (key_.rank() != rank || value_.rank() != rank) {
      const ArgValue& wrong = key_.rank() != rank ? key_ : value_;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::KeyValueRank,
          fmt::format("{} is {}-D but query is {}-D; key and value must have the query's rank", wrong.argument, wrong.rank(), rank),
          &wrong);
      diagnostic.related.push_back({fmt::format("query is {}-D {}", rank, tuple_str(query_.shape)), query_.location});
      ctx_.pytorch_raises(diagnostic, "AssertionError",
                          fmt::format("For {} `query`, expected `key` and `value` to be {}-D but found {}-D and {}-D tensors respectively",
                                      kind, rank, key_.rank(), value_.rank()));
      propose_missing_dim(diagnostic);
      return false;
    }
    int kpm_rank = rank - 1;
    if (kpm_.present && kpm_usable && kpm_.rank() != kpm_rank) {
      kpm_usable = false;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::KeyPaddingMaskRank,
          fmt::format("{} is {}-D; {} {} query needs {}", kpm_.argument, kpm_.rank(), rank == 3 ? "a" : "an", kind, rank == 3 ? "(N, S)" : "(S,)"), &kpm_);
      ctx_.pytorch_raises(diagnostic, "AssertionError",
                          fmt::format("For {} `query`, expected `key_padding_mask` to be `None` or {}-D but found {}-D tensor instead",
                                      kind, kpm_rank, kpm_.rank()));
      propose_key_padding_mask_shape(diagnostic);
    }
    if (attn_.present && attn_usable && attn_.rank() != 2 && attn_.rank() != 3) {
      attn_usable = false;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::AttnMaskRank, fmt::format("{} is {}-D {}; expected 2-D (L, S) or 3-D ({}, L, S)", attn_.argument, attn_.rank(),
                                            tuple_str(attn_.shape), rank == 3 ? "N*num_heads" : "num_heads"),
          &attn_);
      ctx_.pytorch_raises(diagnostic, "AssertionError",
                          fmt::format("For {} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found {}-D tensor instead",
                                      kind, attn_.rank()));
      if (attn_.rank() == 4 && rank == 3) {
        // (N, num_heads, L, S) -> (N*num_heads, L, S): attn_mask.flatten(0, 1)
        if (auto rows = dim_mul(attn_.written[0], attn_.written[1])) {
          ctx_.add_shape_fix(diagnostic, fmt::format("flatten the first two dims: {}.flatten(0, 1) gives (N*num_heads, L, S)", attn_.argument),
                             {{&attn_, Shape{*rows, attn_.written[2], attn_.written[3]}}});
        }
      }
    }
    if (rank == 2 && attn_.present && attn_usable && attn_.rank() == 3) {
      Shape expected{DimExpr::constant(m_.num_heads), query_.shape[0], key_.shape[0]};
      if (!same_shape(attn_.shape, expected, &attn_, "unbatched 3-D attn_mask")) {
        attn_usable = false;
        Diagnostic& diagnostic = ctx_.report(
            DiagId::AttnMask3dShape,
            fmt::format("{} is {}; an unbatched call needs (num_heads, L, S) = {}", attn_.argument, tuple_str(attn_.shape), tuple_str(expected)),
            &attn_);
        ctx_.pytorch_raises(diagnostic, "AssertionError",
                            fmt::format("Expected `attn_mask` shape to be {} but got {}", tuple_str(expected), torch_size_str(attn_.shape)));
        ctx_.add_shape_fix(diagnostic, fmt::format("pass a {} {}", tuple_str(expected), attn_.argument), {{&attn_, expected}});
      }
    }
    return true;
  }

  // Whether all pairs can hold at once: each equality a symbol is forced into constrains the
  // next (X == 2 for one dim and X == 5 for another cannot both hold). Tried on a copy of the
  // symbol table first, so a failing shape records nothing.
  bool same_dims(const std::vector<std::pair<DimExpr, DimExpr>>& pairs, const ArgValue* arg, const std::vector<int>& dims,
                 const std::string& what) {
    Symbols trial = ctx_.symbols;
    for (const auto& [actual, expected] : pairs) {
      if (trial.require_equal(actual, expected).verdict == Symbols::Verdict::Unequal) return false;
    }
    for (std::size_t i = 0; i < pairs.size(); ++i) ctx_.same(pairs[i].first, pairs[i].second, arg, dims[i], what);
    return true;
  }

  bool same_shape(const Shape& actual, const Shape& expected, const ArgValue* arg, const std::string& what) {
    if (actual.size() != expected.size()) return false;
    std::vector<std::pair<DimExpr, DimExpr>> pairs;
    std::vector<int> dims;
    for (std::size_t i = 0; i < actual.size(); ++i) {
      pairs.emplace_back(actual[i], expected[i]);
      dims.push_back(static_cast<int>(i));
    }
    return same_dims(pairs, arg, dims, what);
  }

  // ---- layout -----------------------------------------------------------------------------

  void read_layout() {
    batched_ = query_.rank() == 3;
    seq_ = batched_ && m_.batch_first ? 1 : 0;
    batch_ = batched_ ? 1 - seq_ : -1;
    L_ = query_.shape[seq_];
    N_ = batched_ ? query_.shape[batch_] : DimExpr::constant(1);
    S_ = key_.shape[seq_];
    Nk_ = batched_ ? key_.shape[batch_] : DimExpr::constant(1);
  }

  // The shape F.multi_head_attention_forward works on: batch_first's transpose(1, 0) applied,
  // and unbatched inputs unsqueezed to a batch of one at dim 1.
  Shape internal(const ArgValue& arg) const {
    Shape shape = arg.shape;
    if (!batched_) shape.insert(shape.begin() + 1, DimExpr::constant(1));
    else if (m_.batch_first && shape.size() >= 2) std::swap(shape[0], shape[1]);
    return shape;
  }

  std::string layout_reading(const ArgValue& arg, const char* seq_name, const char* feature_name) const {
    if (!batched_) return fmt::format("{} {} is read as ({}={}, {}={})", arg.argument, tuple_str(arg.shape), seq_name,
                                      arg.shape[0].str(), feature_name, arg.shape[1].str());
    std::string seq = fmt::format("{}={}", seq_name, arg.shape[seq_].str());
    std::string batch = fmt::format("N={}", arg.shape[batch_].str());
    return fmt::format("{} {} is read as ({}, {}, {}={})", arg.argument, tuple_str(arg.shape), m_.batch_first ? batch : seq,
                       m_.batch_first ? seq : batch, feature_name, arg.shape[2].str());
  }

  std::string batch_first_reading() const {
    if (key_.identity == query_.identity) {
      return fmt::format("with batch_first={}, {}", m_.batch_first ? "True" : "False", layout_reading(query_, "L", "E"));
    }
    return fmt::format("with batch_first={}, {} and {}", m_.batch_first ? "True" : "False", layout_reading(query_, "L", "E"),
                       layout_reading(key_, "S", "E"));
  }

  // The reading of the inputs' dims, for a diagnostic about them; and, when the constructor
  // (pasted, inline or in a spec) does not write batch_first, that the reading is PyTorch's
  // default: the usual cause of a batch/sequence mix-up is the option nobody wrote.
  void add_layout_notes(Diagnostic& diagnostic) const {
    diagnostic.notes.push_back(batch_first_reading());
    const ModuleDecl* module = ctx_.module;
    if (!batched_ || module == nullptr || std::find(module->given.begin(), module->given.end(), "batch_first") != module->given.end()) {
      return;
    }
    diagnostic.notes.push_back(
        "batch_first is left out of the constructor, so it is PyTorch's default False: dim 0 is the sequence and dim 1 the batch");
  }

  std::string dim_role(int dim) const {
    return fmt::format("dim {}, because batch_first={}", dim, m_.batch_first ? "True" : "False");
  }

  // ---- silent problems --------------------------------------------------------------------

  // Whether `arg` is a batch of one built on purpose: made by a reshape or view that writes 1 in
  // the batch slot and regroups its input's dims (SAINT's intersample attention reshapes (B, N, D)
  // rows to (1, B, N*D), or (B, 1, N*D) seq-first, to attend across the batch). A view that only
  // adds the axis ((B, E) pooled queries viewed (B, 1, E)) or rewrites the shape unchanged is no
  // such act: the batch then sits in the sequence slot by mistake.
  bool single_batch_built(const ArgValue& arg) const {
    const CallDecl* maker = arg.producer;
    if (maker == nullptr || (maker->op != "reshape" && maker->op != "view") || !maker->arguments.contains("shape")) return false;
    const nlohmann::json& written = maker->arguments.at("shape");
    const auto slot = static_cast<std::size_t>(batch_);
    if (!written.is_array() || written.size() != arg.shape.size() || !written[slot].is_number_integer() || written[slot].get<std::int64_t>() != 1) {
      return false;
    }
    std::optional<Shape> before = checked_tensor_shape(ctx_, input_name(*maker, "input"), maker);
    return before && before->size() >= arg.shape.size() && *before != arg.shape;
  }

  void check_symbol_roles() {
    struct Use {
      const ArgValue* arg;
      int dim;
      bool batch;
    };
    std::vector<std::pair<std::string, Use>> uses;
    auto add = [&](const ArgValue& arg, int dim, bool batch) {
      if (!arg.dim_name(dim).empty()) uses.push_back({arg.dim_name(dim), Use{&arg, dim, batch}});
    };
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      add(*arg, seq_, false);
      add(*arg, batch_, true);
    }
    if (kpm_.present && kpm_.rank() == 2 && batched_) {
      add(kpm_, 0, true);
      add(kpm_, 1, false);
    }
    if (attn_.present && attn_.rank() >= 2) {
      add(attn_, attn_.rank() - 2, false);
      add(attn_, attn_.rank() - 1, false);
    }
    // A mask is sized by its author for the sequences the module reads: a batch-like name (a
    // graph's N nodes) that a mask also holds in its query or key dim, and that no argument holds
    // in a batch slot, is a sequence length by the layout's own evidence, stronger than its name.
    auto mask_says_sequence = [&](const std::string& symbol) {
      bool in_mask = false;
      for (const auto& [other, use] : uses) {
        if (other != symbol) continue;
        if (use.batch) return false;
        in_mask = in_mask || use.arg == &attn_ || use.arg == &kpm_;
      }
      return in_mask;
    };
    std::vector<std::string> warned;
    for (const auto& [symbol, use] : uses) {
      if (std::find(warned.begin(), warned.end(), symbol) != warned.end()) continue;
      const DimRole role = role_of_dim(use.arg->dim_names, use.dim);
      if (role != (use.batch ? DimRole::Sequence : DimRole::Batch)) continue;
      if (!use.batch && mask_says_sequence(symbol)) continue;
      if (!use.batch && single_batch_built(*use.arg)) continue;
      warned.push_back(symbol);
      Diagnostic& diagnostic = ctx_.report(
          DiagId::SymbolNameRole,
          fmt::format("\"{}\" looks like a {} but is {}'s {} dim ({})", symbol,
                      use.batch ? "sequence length" : "batch size", use.arg->argument,
                      use.batch ? "batch" : "sequence", dim_role(use.dim)),
          use.arg, use.dim);
      if (batched_) {
        add_layout_notes(diagnostic);
        diagnostic.notes.push_back("PyTorch raises nothing: attention silently runs over the wrong dim");
        ctx_.add_option_fix(diagnostic, fmt::format("construct with batch_first={}", m_.batch_first ? "False" : "True"),
                            {{"batch_first", !m_.batch_first}});
      }
    }
    for (std::size_t i = 0; i < uses.size(); ++i) {
      for (std::size_t j = 0; j < uses.size(); ++j) {
        const auto& [symbol, batch_use] = uses[i];
        const auto& [other, seq_use] = uses[j];
        if (symbol != other || !batch_use.batch || seq_use.batch) continue;
        if (std::find(warned.begin(), warned.end(), "conflict:" + symbol) != warned.end()) continue;
        warned.push_back("conflict:" + symbol);
        Diagnostic& diagnostic = ctx_.report(
            DiagId::SymbolRoleConflict,
            fmt::format("\"{}\" is the batch dim of {} but a sequence dim of {}", symbol, batch_use.arg->argument,
                        seq_use.arg->argument),
            seq_use.arg, seq_use.dim);
        diagnostic.related.push_back(ctx_.related(*batch_use.arg, batch_use.dim,
                                                  fmt::format("{} batch N = {} ({})", batch_use.arg->argument, symbol, dim_role(batch_use.dim))));
        if (batched_) add_layout_notes(diagnostic);
      }
    }
  }

  // A sequence-named dim where the module reads features: a (B, C, T) tensor not transposed.
  void check_feature_roles() {
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      int features = arg->rank() - 1;
      if (features < 0 || role_of_dim(arg->dim_names, features) != DimRole::Sequence) continue;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::FeatureSlotRole,
          fmt::format("{} {}: its feature slot (dim {}) holds \"{}\", a sequence length", arg->argument, tuple_str(arg->shape), features,
                      arg->dim_name(features)),
          arg, features);
      diagnostic.notes.push_back("nn.MultiheadAttention projects the last dim: a (B, C, T) tensor needs .transpose(1, 2) first");
      return;
    }
  }

  void check_mask_meaning() {
    for (const ArgValue* mask : {&kpm_, &attn_}) check_ignore_mask_meaning(ctx_, *mask, "nn.MultiheadAttention");
    if (attn_.present) check_padding_axis(ctx_, attn_, S_);
    if (attn_.present && attn_.rank() == 3) {
      check_repeat_tiling(ctx_, {&attn_}, 0, "entry b*num_heads + h is read as batch entry b, head h, so heads of one entry get other entries' masks",
                          H_);
    }
  }

  // ---- forward checks, in PyTorch's order ---------------------------------------------------

  void causal_without_mask() {
    Diagnostic& diagnostic = ctx_.report(DiagId::CausalWithoutMask, "is_causal=True but no attn_mask is given", nullptr);
    diagnostic.location = ctx_.spec.document.values.find(ctx_.argument_pointer("is_causal").value_or(ctx_.call.pointer));
    diagnostic.argument = "is_causal";
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
                        "`generate_square_subsequent_mask` to create this mask.");
    diagnostic.notes.push_back("in nn.MultiheadAttention, is_causal is only a hint that attn_mask is causal");
    std::string mask = ctx_.symbols.compare(L_, S_) == Symbols::Verdict::Equal
                           ? fmt::format("{}=nn.Transformer.generate_square_subsequent_mask({})", attn_.argument, L_.str())
                           : fmt::format("a causal {} {}", tuple_str({L_, S_}), attn_.argument);
    ctx_.add_argument_fix(diagnostic, "pass " + mask, "attn_mask", {{"shape", shape_json({L_, S_})}, {"dtype", dtype_name(query_.dtype)}});
    ctx_.add_argument_fix(diagnostic, "drop is_causal=True", "is_causal", false);
  }

  void check_query_features() {
    int feature = query_.rank() - 1;
    const DimExpr& Eq = query_.shape[feature];
    if (ctx_.same(Eq, DimExpr::constant(E_), &query_, feature, "query features == embed_dim")) return;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::QueryEmbedDim,
        fmt::format("{} feature size ({}) is not {} ({})", query_.argument, Eq.str(), ctx_.written_option("embed_dim").value_or("embed_dim"), E_), &query_, feature);
    diagnostic.related.push_back({fmt::format("{} = {}", ctx_.written_option("embed_dim").value_or("embed_dim"), E_), ctx_.option_location("embed_dim")});
    if (batched_) add_layout_notes(diagnostic);
    ctx_.pytorch_raises(diagnostic, "AssertionError",
                        fmt::format("was expecting embedding dimension of {}, but got {}", E_, Eq.str()));
    // A permuted query: embed_dim sits in another dim.
    for (int dim = 0; dim < feature; ++dim) {
      if (query_.shape[dim] != DimExpr::constant(E_)) continue;
      Shape moved = query_.written;
      std::rotate(moved.begin() + dim, moved.begin() + dim + 1, moved.end());
      ctx_.add_shape_fix(diagnostic, fmt::format("move query's dim {} (size {}) last: query.movedim({}, -1)", dim, E_, dim),
                         {{&query_, moved}});
    }
    if (Eq.is_constant() && Eq.offset > 0 && Eq.offset % H_ == 0) {
      ctx_.add_option_fix(diagnostic, fmt::format("construct with embed_dim={}", Eq.offset), {{"embed_dim", Eq.offset}});
    }
  }

  void check_key_value_shapes() {
    Shape key_shape = internal(key_), value_shape = internal(value_);
    if (!separate_) {
      if (same_shape(key_shape, value_shape, &value_, "key and value shapes equal")) return;
      Diagnostic& diagnostic = ctx_.report(
          DiagId::KeyValueShape,
          fmt::format("value shape {} differs from key shape {}", tuple_str(value_.shape), tuple_str(key_.shape)), &value_);
      diagnostic.related.push_back({fmt::format("key is {}", tuple_str(key_.shape)), key_.location});
      ctx_.pytorch_raises(diagnostic, "AssertionError",
                          fmt::format("key shape {} does not match value shape {}", torch_size_str(key_shape), torch_size_str(value_shape)));
      if (key_.shape.size() == value_.shape.size() &&
          std::equal(key_.shape.begin(), key_.shape.end() - 1, value_.shape.begin())) {
        diagnostic.notes.push_back("key and value differ only in their feature size, which needs kdim and vdim");
        propose_kv_dims(diagnostic);
      }
      return;
    }
    Shape key_lead(key_shape.begin(), key_shape.begin() + std::min<std::size_t>(2, key_shape.size()));
    Shape value_lead(value_shape.begin(), value_shape.begin() + std::min<std::size_t>(2, value_shape.size()));
    if (same_shape(key_lead, value_lead, &value_, "key and value sequence and batch dims equal")) return;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::KeyValueLeadingDims,
        fmt::format("value {} and key {} differ in sequence length or batch size", tuple_str(value_.shape), tuple_str(key_.shape)),
        &value_);
    diagnostic.related.push_back({fmt::format("key is {}", tuple_str(key_.shape)), key_.location});
    ctx_.pytorch_raises(diagnostic, "AssertionError",
                        fmt::format("key's sequence and batch dims {} do not match value's {}", torch_size_str(key_lead),
                                    torch_size_str(value_lead)));
  }

  void propose_kv_dims(Diagnostic& diagnostic) {
    const DimExpr& Ek = key_.shape.back();
    const DimExpr& Ev = value_.shape.back();
    if (!Ek.is_constant() || !Ev.is_constant()) return;
    ctx_.add_option_fix(diagnostic, fmt::format("construct with kdim={}, vdim={}", Ek.offset, Ev.offset),
                        {{"kdim", Ek.offset}, {"vdim", Ev.offset}});
  }

  // The in-projection. Packed weights: one linear per distinct tensor (identity decides how
  // the weight is split), each failing on dtype first, then on its inner dims. Separate
  // weights: _in_projection asserts every weight's shape before running any linear.
  void check_projection() {
    bool dtype_reported = false;
    if (separate_) {
      check_separate_projection(key_, kdim_, "kdim", DiagId::KeyFeatureDim);
      check_separate_projection(value_, vdim_, "vdim", DiagId::ValueFeatureDim);
      for (const ArgValue* arg : {&query_, &key_, &value_}) {
        if (!dtype_reported) dtype_reported = !linear_dtype_matches(*arg);
      }
      return;
    }
    // Unbatched inputs are unsqueezed one by one, which makes them distinct tensors.
    bool shared_kv = batched_ && key_.identity == value_.identity;
    bool self_attention = shared_kv && key_.identity == query_.identity;
    std::vector<const ArgValue*> linears = {&query_};
    if (!self_attention) linears.push_back(&key_);
    if (!shared_kv) linears.push_back(&value_);
    bool features_reported = false;
    for (const ArgValue* arg : linears) {
      if (!dtype_reported) dtype_reported = !linear_dtype_matches(*arg);
      // The query's features were checked against embed_dim already.
      if (arg != &query_ && !features_reported) features_reported = !packed_features_match(*arg, shared_kv);
    }
  }

  // F.linear(x, weight) with x of another dtype than the parameters. ATen words it by path:
  // addmm for a contiguous input with bias, mm otherwise (a transposed input, or no bias).
  bool linear_dtype_matches(const ArgValue& arg) {
    if (arg.dtype == m_.dtype) return true;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::InputModuleDType,
        fmt::format("{} is {} but the module's parameters are {}", arg.argument, dtype_name(arg.dtype), dtype_name(m_.dtype)),
        &arg);
    Shape shape = internal(arg);
    auto is_one_or_zero = [&](const DimExpr& dim) { return dim.is_constant() && dim.offset <= 1; };
    // A transposed tensor stays contiguous when one of the two swapped dims has size 1.
    bool contiguous = !(batched_ && m_.batch_first) || is_one_or_zero(shape[0]) || is_one_or_zero(shape[1]) ||
                      std::any_of(shape.begin(), shape.end(), [](const DimExpr& d) { return d == DimExpr::constant(0); });
    bool addmm = m_.bias && contiguous;
    ctx_.pytorch_raises(diagnostic, "RuntimeError", linear_dtype_message(arg.dtype, m_.dtype, addmm));
    ctx_.add_input_dtype_fixes(diagnostic, arg, m_.dtype);
    return false;
  }

  bool packed_features_match(const ArgValue& arg, bool shared_kv) {
    const DimExpr& features = arg.shape.back();
    if (ctx_.same(features, DimExpr::constant(E_), &arg, arg.rank() - 1, fmt::format("{} features == embed_dim", arg.argument))) {
      return true;
    }
    Diagnostic& diagnostic = ctx_.report(
        &arg == &key_ ? DiagId::KeyFeatureDim : DiagId::ValueFeatureDim,
        fmt::format("{} feature size ({}) is not embed_dim ({}), and {} is not set", arg.argument, features.str(), E_,
                    &arg == &key_ ? "kdim" : "vdim"),
        &arg, arg.rank() - 1);
    diagnostic.related.push_back({fmt::format("{} = {}", ctx_.written_option("embed_dim").value_or("embed_dim"), E_), ctx_.option_location("embed_dim")});
    diagnostic.notes.push_back("without kdim/vdim the module projects key and value with embed_dim-sized weights");
    Shape leading = internal(arg);
    leading.pop_back();
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        fmt::format("mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})", numel_str(leading),
                                    features.str(), E_, shared_kv ? 2 * E_ : E_));
    const bool map_flattened = propose_tokens_of_flattened_map(diagnostic, arg);
    propose_kv_dims(diagnostic);
    if (map_flattened && !diagnostic.fixes.empty() && diagnostic.fixes.back().description.rfind("construct with kdim", 0) == 0) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, "kdim would read the map's channels as tokens and its positions as features");
    }
    return false;
  }

  // A channels-first feature map (N, C, H, W) flattened over its positions, flatten(2) or
  // reshape(N, C, H*W), gives (N, C, H*W): channels before positions. Attention reads tokens of
  // features, so the map's positions are the sequence and its C channels (here embed_dim) the
  // features: the flattened map is transposed to (N, H*W, C) as ViT and SAM do (flatten(2)
  // then transpose(1, 2)); seq-first modules take (H*W, N, C), permute(2, 0, 1). The fix moves
  // the output of the flattening call, so every reader (key and value alike) gets the tokens.
  bool propose_tokens_of_flattened_map(Diagnostic& diagnostic, const ArgValue& arg) {
    const CallDecl* flattening = arg.producer;
    if (!batched_ || arg.rank() != 3 || flattening == nullptr || flattening->outputs.empty() ||
        !CallContext::index_in_calls(*flattening) || !(arg.shape[1] == DimExpr::constant(E_))) {
      return false;
    }
    const ArgRef& source = flattening->tensor("input");
    if (source.kind != ArgRef::Kind::Named) return false;
    std::optional<Shape> map = checked_tensor_shape(ctx_, source.name, flattening);
    if (!map || map->size() != 4 || !((*map)[0] == arg.shape[0]) || !((*map)[1] == arg.shape[1])) return false;
    if (flattening->op == "flatten") {
      const nlohmann::json& start = flattening->arguments.value("start_dim", nlohmann::json(0));
      const nlohmann::json& end = flattening->arguments.value("end_dim", nlohmann::json(-1));
      if (!start.is_number_integer() || !end.is_number_integer() || (start.get<int>() != 2 && start.get<int>() != -2) ||
          (end.get<int>() != -1 && end.get<int>() != 3)) {
        return false;
      }
    } else if (flattening->op != "reshape" && flattening->op != "view") {
      return false;
    }
    const std::size_t index = *CallContext::index_in_calls(*flattening);
    const std::string tokens = flattening->outputs[0];
    const std::string flat = fresh_name(ctx_.spec, tokens + "_flat");
    nlohmann::json moved = {{"id", fresh_name(ctx_.spec, tokens + "_tokens")}, {"input", flat}, {"outputs", {tokens}}};
    std::string spelled;
    if (m_.batch_first) {
      moved["op"] = "transpose";
      moved["dim0"] = 1;
      moved["dim1"] = 2;
      spelled = "transpose(1, 2)";
    } else {
      moved["op"] = "permute";
      moved["dims"] = {2, 0, 1};
      spelled = "permute(2, 0, 1)";
    }
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("make tokens of the flattened map after call \"{}\": {} = {}.{}, its {} positions the sequence and its {} "
                                   "channels the features",
                                   flattening->id, tokens, tokens, spelled, arg.shape[2].str(), E_),
                       {{{"op", "replace"}, {"path", child_pointer(child_pointer(flattening->pointer, "outputs"), 0)}, {"value", flat}},
                        {{"op", "add"}, {"path", CallContext::calls_entry_pointer(index + 1)}, {"value", std::move(moved)}}});
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each token is one position of the map, its features the channels");
    return true;
  }

  void check_separate_projection(const ArgValue& arg, std::int64_t expected, const char* option, DiagId id) {
    const DimExpr& features = arg.shape.back();
    if (ctx_.same(features, DimExpr::constant(expected), &arg, arg.rank() - 1, fmt::format("{} features == {}", arg.argument, option))) {
      return;
    }
    Diagnostic& diagnostic = ctx_.report(
        id, fmt::format("{} feature size ({}) is not {} ({})", arg.argument, features.str(), option, expected), &arg, arg.rank() - 1);
    std::string option_pointer = child_pointer(ctx_.module->pointer, option);
    bool option_given = ctx_.spec.value().is_object() &&
                        ctx_.spec.value().contains(nlohmann::json::json_pointer(option_pointer));
    diagnostic.related.push_back({fmt::format("{} = {}{}", option, expected, option_given ? "" : " (embed_dim, as it is not set)"),
                                  ctx_.spec.document.values.find(option_given ? option_pointer : ctx_.module->pointer)});
    ctx_.pytorch_raises(diagnostic, "AssertionError",
                        fmt::format("expecting {} weights shape of ({}, {}), but got torch.Size([{}, {}])",
                                    arg.argument, E_, features.str(), E_, expected));
    if (features.is_constant()) {
      ctx_.add_option_fix(diagnostic, fmt::format("construct with {}={}", option, features.offset), {{option, features.offset}});
    }
  }

  void check_attn_mask_shape() {
    int rank = attn_.rank();
    Shape expected;
    if (rank == 2) {
      expected = {L_, S_};
    } else {
      std::optional<DimExpr> rows = dim_mul(N_, H_);
      if (!rows) return;
      expected = {*rows, L_, S_};
    }
    bool conditional = false;
    for (std::size_t i = 0; i < expected.size() && i < attn_.shape.size(); ++i) {
      conditional |= ctx_.symbols.compare(attn_.shape[i], expected[i]) != Symbols::Verdict::Equal;
    }
    std::size_t reported = ctx_.diagnostics.size();
    if (same_shape(attn_.shape, expected, &attn_, "attn_mask shape")) {
      // Valid only if symbols agree (MHA080): the mask that needs no condition is the fix.
      if (conditional && ctx_.diagnostics.size() > reported) add_attn_mask_shape_fixes(ctx_.diagnostics[reported], expected);
      return;
    }
    Diagnostic& diagnostic = ctx_.report(
        rank == 2 ? DiagId::AttnMask2dShape : DiagId::AttnMask3dShape,
        fmt::format("{} is {}; a {}-D mask must be {} = {}", attn_.argument, tuple_str(attn_.shape), rank,
                    rank == 2 ? "(L, S)" : "(N*num_heads, L, S)", tuple_str(expected)),
        &attn_);
    add_layout_notes(diagnostic);
    ctx_.pytorch_raises(diagnostic, "RuntimeError",
                        fmt::format("The shape of the {}D attn_mask is {}, but should be {}.", rank, torch_size_str(attn_.shape),
                                    tuple_str(expected)));
    if (rank == 3 && ctx_.symbols.compare(attn_.shape[0], N_) == Symbols::Verdict::Equal &&
        ctx_.symbols.compare(DimExpr::constant(H_), DimExpr::constant(1)) != Symbols::Verdict::Equal) {
      diagnostic.notes.push_back("a 3-D attn_mask holds one (L, S) mask per batch entry and head, not per batch entry");
      Shape repeated = expected;
      if (auto rows = dim_mul(attn_.written[0], H_)) repeated[0] = *rows;
      ctx_.add_shape_fix(diagnostic,
                         fmt::format("repeat the mask per head: {}.repeat_interleave({}, dim=0)", attn_.argument, H_),
                         {{&attn_, Shape{repeated[0], attn_.written[1], attn_.written[2]}}});
    } else if (rank == 3 && ctx_.symbols.compare(attn_.shape[0], DimExpr::constant(H_)) == Symbols::Verdict::Equal &&
               ctx_.symbols.compare(N_, DimExpr::constant(1)) != Symbols::Verdict::Equal) {
      // One (L, S) mask per head (ALiBi, a relative bias), not yet per batch entry: PyTorch reads row
      // b*num_heads + h, so the heads repeat whole for each entry, repeat(N, 1, 1), as ALiBi's own code tiles it.
      diagnostic.notes.push_back("a 3-D attn_mask holds one (L, S) mask per batch entry and head, batch-major (row b*num_heads + h)");
      ctx_.add_shape_fix(diagnostic, fmt::format("repeat the per-head mask for every batch entry: {}.repeat({}, 1, 1)", attn_.argument, N_.str()),
                         {{&attn_, Shape{expected[0], attn_.written[1], attn_.written[2]}}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "the heads repeat whole per batch entry, as PyTorch lays the rows out");
    }
    add_attn_mask_shape_fixes(diagnostic, expected);
  }

  // A 2-D mask written (S, L) is transposed; any mask can be made the expected shape.
  void add_attn_mask_shape_fixes(Diagnostic& diagnostic, const Shape& expected) {
    bool padding = add_padding_mask_move(diagnostic);
    Shape reversed(attn_.shape.rbegin(), attn_.shape.rbegin() + 2);
    if (attn_.rank() == 2 && ctx_.symbols.compare(reversed[0], L_) == Symbols::Verdict::Equal &&
        ctx_.symbols.compare(reversed[1], S_) == Symbols::Verdict::Equal) {
      ctx_.add_shape_fix(diagnostic, fmt::format("transpose the mask: {}.T", attn_.argument), {{&attn_, Shape{attn_.written[1], attn_.written[0]}}});
    }
    // A square (S, S) mask for fewer queries than keys: the queries are the last L positions, as
    // when decoding with cached keys, and their rows are the mask's last L.
    if (attn_.rank() == 2 && ctx_.symbols.compare(attn_.shape[0], S_) == Symbols::Verdict::Equal &&
        ctx_.symbols.compare(attn_.shape[1], S_) == Symbols::Verdict::Equal && ctx_.symbols.compare(L_, S_) != Symbols::Verdict::Equal) {
      ctx_.add_shape_fix(diagnostic, fmt::format("keep the queries' rows, the mask's last {}: {}[-{}:]", L_.str(), attn_.argument, L_.str()),
                         {{&attn_, Shape{L_, attn_.written[1]}}});
    }
    if (ctx_.add_shape_fix(diagnostic, fmt::format("pass a {} {}", tuple_str(expected), attn_.argument), {{&attn_, expected}}) &&
        padding) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, "one (L, S) mask for every batch entry drops each entry's own padding");
    }
  }

  // A 2-D (N, S) attn_mask is one row of keys per batch entry: the padding mask, passed as the
  // wrong argument. The same tensor moves to key_padding_mask (True = ignore in both).
  bool add_padding_mask_move(Diagnostic& diagnostic) {
    if (attn_.rank() != 2 || kpm_.present || !batched_ || ctx_.symbols.compare(attn_.shape[0], N_) != Symbols::Verdict::Equal ||
        ctx_.symbols.compare(attn_.shape[1], S_) != Symbols::Verdict::Equal) {
      return false;
    }
    std::optional<std::string> from = ctx_.argument_pointer("attn_mask"), to = ctx_.argument_pointer("key_padding_mask");
    auto written = ctx_.call.tensors.find("attn_mask");
    if (!from || !to || written == ctx_.call.tensors.end()) return false;
    // The layer's own argument names (src_mask, src_key_padding_mask) when a Transformer module calls it.
    auto name = [&](const std::string& argument) {
      auto mapped = ctx_.argument_names.find(argument);
      return mapped == ctx_.argument_names.end() ? argument : mapped->second;
    };
    if (written->second.kind != ArgRef::Kind::Named && written->second.kind != ArgRef::Kind::Inline) return false;
    // Moved as written: a Transformer layer's mask has been made float by _canonical_mask by now.
    nlohmann::json value = ctx_.spec.value().at(nlohmann::json::json_pointer(written->second.pointer));
    std::string moved = written->second.kind == ArgRef::Kind::Named ? written->second.name : name("attn_mask");
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("pass the {} mask as {} instead of {}: {}={}", tuple_str(attn_.shape), name("key_padding_mask"),
                                   name("attn_mask"), name("key_padding_mask"), moved),
                       nlohmann::json::array({{{"op", "add"}, {"path", *to}, {"value", value}}, {{"op", "remove"}, {"path", *from}}}));
    CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "an (N, S) mask is one padding row per batch entry");
    return true;
  }

  void check_batch() {
    if (!batched_) return;
    // Without bias_k, PyTorch never compares the batch sizes: it views the projected key as
    // (S, N*num_heads, head_dim), which an empty key always allows.
    if (!m_.add_bias_kv && S_ == DimExpr::constant(0)) return;
    if (ctx_.same(Nk_, N_, &key_, batch_, "key batch == query batch")) return;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::BatchMismatch, fmt::format("key batch size ({}) differs from query batch size ({})", Nk_.str(), N_.str()),
        &key_, batch_);
    diagnostic.related.push_back(ctx_.related(query_, batch_, fmt::format("query batch N = {} ({})", N_.str(), dim_role(batch_))));
    diagnostic.related.push_back(ctx_.related(key_, batch_, fmt::format("key batch = {} (dim {})", Nk_.str(), batch_)));
    add_layout_notes(diagnostic);
    if (m_.add_bias_kv) {
      ctx_.pytorch_raises(diagnostic, "RuntimeError",
                          fmt::format("Sizes of tensors must match except in dimension 0. Expected size {} but got size {} for "
                                      "tensor number 1 in the list.",
                                      Nk_.str(), N_.str()));
    } else {
      Shape projected = internal(key_);
      projected.back() = DimExpr::constant(E_);
      std::optional<DimExpr> rows = dim_mul(N_, H_);
      ctx_.pytorch_raises(diagnostic, "RuntimeError",
                          fmt::format("shape '[{}, {}, {}]' is invalid for input of size {}", S_.str(),
                                      rows ? rows->str() : N_.str() + "*" + std::to_string(H_), head_dim_, numel_str(projected)));
    }
    propose_layout_fixes(diagnostic);
    // Key and value laid out for the other batch_first (the output of a module constructed
    // with it, say): flip batch_first and lay the query out to match.
    std::optional<nlohmann::json> flip = ctx_.option_patch({{"batch_first", !m_.batch_first}});
    std::optional<nlohmann::json> transpose = ctx_.shape_patch(query_, swapped(query_));
    if (flip && transpose && key_.identity != query_.identity) {
      for (const auto& op : *transpose) flip->push_back(op);
      ctx_.add_patch_fix(diagnostic,
                         fmt::format("construct with batch_first={} and pass {} as {}", m_.batch_first ? "False" : "True", query_.argument,
                                     tuple_str(swapped(query_))),
                         *flip);
    }
  }

  // A condition the dims' names say is false (B == T): the layout is read the wrong way round.
  // An integer (N,) key_padding_mask against a batched key: one number per batch entry, the
  // sequence lengths (torchaudio's Conformer takes `lengths`), which is no (N, S) mask. The
  // fix makes the padding mask from them, True past each length, as torchaudio's
  // _lengths_to_padding_mask does; .bool() of the lengths would be (N,) and still wrong.
  void lengths_as_padding_mask(Diagnostic& diagnostic) {
    if (kpm_.rank() != 1 || kpm_.dtype == DType::Bool || is_floating(kpm_.dtype) || key_.rank() != 3) return;
    const DimExpr& batch = key_.shape[m_.batch_first ? 0 : 1];
    const Shape& key_sizes = key_.written.size() == 3 ? key_.written : key_.shape;
    const DimExpr& sequence = key_sizes[m_.batch_first ? 1 : 0];
    if (ctx_.symbols.compare(ctx_.symbols.resolve(kpm_.shape[0]), ctx_.symbols.resolve(batch)) != Symbols::Verdict::Equal) return;
    std::string lengths = shown_name(kpm_, "lengths");
    Shape mask{kpm_.written.size() == 1 ? kpm_.written[0] : kpm_.shape[0], sequence};
    std::vector<Fix> others = std::move(diagnostic.fixes);
    diagnostic.fixes.clear();
    bool added = ctx_.add_argument_fix(
        diagnostic,
        fmt::format("pass the padding mask made from the lengths, key_padding_mask = torch.arange({})[None, :] >= {}[:, None] ({}, bool: "
                    "True past each sequence's length)",
                    sequence.str(), lengths, tuple_str(mask)),
        "key_padding_mask", {{"shape", shape_json(mask)}, {"dtype", "bool"}});
    if (added) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                  fmt::format("{} holds one integer per batch entry: the sequence lengths", lengths));
    }
    for (Fix& fix : others) diagnostic.fixes.push_back(std::move(fix));
  }

  void propose_layout_fixes_for_role_conditions() {
    if (!batched_) return;
    for (Diagnostic& diagnostic : ctx_.diagnostics) {
      if (diagnostic.id != DiagId::RoleCondition || diagnostic.call != ctx_.call.id || !diagnostic.fixes.empty()) continue;
      propose_expanded_batch(diagnostic);
      add_layout_notes(diagnostic);
      propose_layout_fixes(diagnostic);
    }
  }

  // A batch of 1 against the others' batch (BLIP-2's learned query tokens (1, 32, E) against
  // (B, 257, kdim) image features): one sequence shared by the batch, which MHA does not
  // broadcast; expanding it (LAVIS's query_tokens.expand(B, -1, -1)) keeps its dims' roles where
  // a transpose would read its 32 tokens as the batch.
  void propose_expanded_batch(Diagnostic& diagnostic) {
    const ArgValue* batched = nullptr;
    std::vector<const ArgValue*> shared;
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      if (arg->rank() != 3) return;
      if (arg->shape[batch_] == DimExpr::constant(1)) {
        if (arg != &value_ || key_.argument != value_.argument) shared.push_back(arg);
      } else if (!batched) {
        batched = arg;
      }
    }
    if (!batched || shared.empty()) return;
    const DimExpr& n = batched->shape[batch_];
    std::vector<std::pair<const ArgValue*, Shape>> shapes;
    std::vector<std::string> texts;
    for (const ArgValue* arg : shared) {
      Shape shape = arg->written;
      shape[batch_] = n;
      shapes.push_back({arg, shape});
      texts.push_back(batch_ == 0 ? fmt::format("{}.expand({}, -1, -1)", arg->argument, n.str())
                                  : fmt::format("{}.expand(-1, {}, -1)", arg->argument, n.str()));
    }
    ctx_.add_shape_fix(diagnostic, fmt::format("give it the batch: one sequence shared by every batch entry: {}", fmt::join(texts, " and ")),
                       shapes);
  }

  // The batch and sequence dims read the wrong way round: the other batch_first, or the inputs
  // transposed (all three, key and value, or the query alone).
  void propose_layout_fixes(Diagnostic& diagnostic) {
    ctx_.add_option_fix(diagnostic, fmt::format("construct with batch_first={}", m_.batch_first ? "False" : "True"),
                        {{"batch_first", !m_.batch_first}});
    propose_transposed_inputs(diagnostic);
    ctx_.add_shape_fix(diagnostic, "transpose key and value with .transpose(0, 1)",
                       {{&key_, swapped(key_)}, {&value_, swapped(value_)}});
    ctx_.add_shape_fix(diagnostic, "transpose query with .transpose(0, 1)", {{&query_, swapped(query_)}});
  }

  static Shape swapped(const ArgValue& arg) {
    Shape shape = arg.written;
    if (shape.size() >= 2) std::swap(shape[0], shape[1]);
    return shape;
  }

  // A query of more than 3 dims ending in the embedding: a channel-last map (B, H, W, E) as SAM
  // and Swin keep them, whose positions are the dims between the batch and the features.
  // Flattening those into one sequence dim gives (B, H*W, E); seq-first, the sequence then goes
  // first. key and value of the same rank are flattened alike (one tensor passed as all three
  // is patched once). In a graph the fix search inserts the flatten as a call
  // (insertion_candidates); the flat and flags forms have no call to insert into, so the fix is
  // the flattened shape, its text the expression on the input.
  void propose_flattened_map(Diagnostic& diagnostic) {
    const int rank = query_.rank();
    if (ctx_.index_in_calls().has_value() || rank <= 3 || ctx_.symbols.compare(query_.shape.back(), DimExpr::constant(m_.embed_dim)) != Symbols::Verdict::Equal) return;
    std::string flatten = fmt::format("flatten(1, {})", rank - 2);
    if (!m_.batch_first) flatten += ".transpose(0, 1)";
    std::vector<std::pair<const ArgValue*, Shape>> shapes;
    std::vector<std::string> texts;
    for (const ArgValue* arg : {&query_, &key_, &value_}) {
      if (arg->rank() != rank) continue;
      DimExpr positions = DimExpr::constant(1);
      for (int d = 1; d < rank - 1; ++d) {
        std::optional<DimExpr> product = dim_mul(positions, arg->shape[static_cast<std::size_t>(d)]);
        if (!product) return;
        positions = *product;
      }
      Shape flat = m_.batch_first ? Shape{arg->shape.front(), positions, arg->shape.back()} : Shape{positions, arg->shape.front(), arg->shape.back()};
      bool same_tensor = std::any_of(shapes.begin(), shapes.end(), [&](const auto& done) {
        return !arg->shape_pointer.empty() && done.first->shape_pointer == arg->shape_pointer;
      });
      if (!same_tensor) {
        texts.push_back(fmt::format("{}.{}", shown_name(*arg), flatten));
      }
      shapes.push_back({arg, flat});
    }
    ctx_.add_shape_fix(diagnostic,
                       fmt::format("flatten the positions between the batch and the features into one sequence: {} gives {}",
                                   fmt::join(texts, ", "), tuple_str(shapes.front().second)),
                       shapes);
  }

  // One side 2-D, the other 3-D: the 2-D side lost a dim. When its first dim is the 3-D side's
  // batch, it is one position per batch entry (CLIP's x[0] for x[:1], a pooled (N, E) memory):
  // unsqueeze at the sequence slot. Otherwise it is one sequence shared by the batch (Perceiver
  // latents, learned queries): unsqueeze at the batch slot and expand to the batch.
  void propose_missing_dim(Diagnostic& diagnostic) {
    bool query_2d = query_.rank() == 2;
    const ArgValue& full = query_2d ? key_ : query_;
    if (full.rank() != 3 || (query_2d ? key_.rank() != 3 || value_.rank() != 3 : key_.rank() != 2 || value_.rank() != 2)) return;
    int batch = m_.batch_first ? 0 : 1;
    int seq = 1 - batch;
    const DimExpr& n = full.shape[batch];
    std::vector<const ArgValue*> lacking = query_2d ? std::vector<const ArgValue*>{&query_} : std::vector<const ArgValue*>{&key_, &value_};
    bool per_entry = ctx_.symbols.compare(lacking.front()->shape[0], n) == Symbols::Verdict::Equal;
    std::vector<std::pair<const ArgValue*, Shape>> shapes;
    std::vector<std::string> texts;
    for (const ArgValue* arg : lacking) {
      Shape shape = arg->shape;
      if (per_entry) {
        shape.insert(shape.begin() + seq, DimExpr::constant(1));
        texts.push_back(fmt::format("{}.unsqueeze({})", arg->argument, seq));
      } else {
        shape.insert(shape.begin() + batch, n);
        texts.push_back(batch == 0 ? fmt::format("{}.unsqueeze(0).expand({}, -1, -1)", arg->argument, n.str())
                                   : fmt::format("{}.unsqueeze(1).expand(-1, {}, -1)", arg->argument, n.str()));
      }
      shapes.push_back({arg, shape});
      if (lacking.size() == 2 && key_.argument == value_.argument) break;  // one tensor passed as both
    }
    std::string what = per_entry ? "add the missing sequence dim (one position per batch entry)" : "give it the batch: one sequence shared by every batch entry";
    if (per_entry) propose_kept_index(diagnostic, lacking, seq);
    ctx_.add_shape_fix(diagnostic, fmt::format("{}: {} gives {}", what, fmt::join(texts, " and "), tuple_str(shapes.front().second)), shapes);
  }

  // An argument that an integer index made 2-D (query=x[0] of a seq-first (T, B, E) x): the
  // index as a slice of one entry (x[:1]) keeps the sequence dim, when the integer stands at the
  // sequence dim's position of an index of integers and slices only.
  void propose_kept_index(Diagnostic& diagnostic, const std::vector<const ArgValue*>& lacking, int seq) {
    const CallDecl* getitem = lacking.front()->producer;
    if (getitem == nullptr || getitem->op != "getitem" || !getitem->arguments.contains("index")) return;
    const std::string& text = getitem->arguments.at("index").get_ref<const std::string&>();
    std::string error;
    std::optional<IndexExpression> index = parse_index(text, error);
    if (!index || index->items.size() <= static_cast<std::size_t>(seq)) return;
    int integers = 0;
    for (const IndexItem& item : index->items) {
      if (item.kind == IndexItem::Kind::Integer) ++integers;
      if (item.kind == IndexItem::Kind::None || item.kind == IndexItem::Kind::Ellipsis) return;
    }
    const IndexItem& picked = index->items[static_cast<std::size_t>(seq)];
    if (integers != 1 || picked.kind != IndexItem::Kind::Integer) return;
    std::vector<std::string> items;
    std::size_t start = text.find('[') + 1, end = text.rfind(']');
    for (std::size_t comma; (comma = text.find(',', start)) < end; start = comma + 1) items.push_back(text.substr(start, comma - start));
    items.push_back(text.substr(start, end - start));
    if (items.size() != index->items.size()) return;
    const std::int64_t entry = picked.integer;
    items[static_cast<std::size_t>(seq)] = entry == 0 ? ":1" : entry == -1 ? "-1:" : fmt::format("{}:{}", entry, entry + 1);
    std::string kept = fmt::format("[{}]", fmt::join(items, ", "));
    const ArgRef& source = getitem->tensor("input");
    std::string name = source.kind == ArgRef::Kind::Named ? source.name : "input";
    ctx_.add_patch_fix(diagnostic,
                       fmt::format("keep the sequence dim: {}{} instead of {}{} (call \"{}\") gives a 3-D {}", name, kept, name, text, getitem->id,
                                   lacking.front()->argument),
                       nlohmann::json::array({{{"op", "replace"}, {"path", child_pointer(getitem->pointer, "index")}, {"value", kept}}}));
  }

  void propose_transposed_inputs(Diagnostic& diagnostic) {
    ctx_.add_shape_fix(diagnostic, "transpose query, key and value with .transpose(0, 1)",
                       {{&query_, swapped(query_)}, {&key_, swapped(key_)}, {&value_, swapped(value_)}});
  }

  // A padding mask computed on the features ((x == 0) of a (B, T, C) x) has the features' dim
  // too many: a padding mask marks positions. With that one dim (the last that leaves exactly
  // the expected dims) taken out, it is the mask PyTorch wants. A padded position has every
  // feature 0, so `(x == 0).all(d)` marks exactly the padded ones; `(x == 0)[..., 0]` also marks a
  // real position whose first feature happens to be 0. all(d) is written as the spec's operators
  // do it: ~mask summed over d, equal to 0. The reading is that intent only for a mask made by
  // comparing the features with 0; for another mask what its dim holds is not known.
  bool propose_reduced_feature_dim(Diagnostic& diagnostic) {
    if (query_.rank() != 3 || key_.rank() != 3 || kpm_.rank() != 3) return false;
    const int seq = m_.batch_first ? 1 : 0;
    const Shape expected{key_.shape[static_cast<std::size_t>(1 - seq)], key_.shape[static_cast<std::size_t>(seq)]};
    for (int d = kpm_.rank() - 1; d >= 0; --d) {
      Shape rest = kpm_.shape;
      rest.erase(rest.begin() + d);
      if (!std::equal(expected.begin(), expected.end(), rest.begin(),
                      [&](const DimExpr& a, const DimExpr& b) { return ctx_.symbols.compare(a, b) == Symbols::Verdict::Equal; })) {
        continue;
      }
      const std::string name = tensor_name(kpm_);
      const int along = d + 1 == kpm_.rank() ? -1 : d;  // the features' last dim as usually written
      const bool compared_with_zero = kpm_.producer != nullptr && kpm_.producer->op == "eq" &&
                                      kpm_.producer->arguments.value("other", nlohmann::json()).is_number() &&
                                      kpm_.producer->arguments["other"].get<double>() == 0;
      // A float mask (the Transformer layers' canonical one is float, the tensor written bool) is
      // read by its maker: ~ needs the bool the comparison gives.
      if (!compared_with_zero && kpm_.dtype != DType::Bool) return false;
      if (!ctx_.add_inserted_calls_fix(diagnostic, kpm_,
                                       fmt::format("reduce dim {} (size {}), which holds features, not positions: {}.all({}) gives {}, True where "
                                                   "every feature is 0 (written ~{} summed over dim {}, == 0)",
                                                   d, kpm_.shape[static_cast<std::size_t>(d)].str(), name, along, tuple_str(expected), name, along),
                                       {{"bitwise_not", nlohmann::json::object()}, {"sum", {{"dim", along}}}, {"eq", {{"other", 0}}}})) {
        return false;
      }
      if (compared_with_zero) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                    fmt::format("a padded position has every feature 0; {}[..., 0] would also mark a real position whose first "
                                                "feature is 0", name));
      }
      return true;
    }
    return false;
  }

  // A (B, N, K) mask of K keys for each of B*N queries (graph neighbours, windows), given to a
  // batch of B*N single-query rows: its leading dims flattened, in the order the batch was
  // flattened, give each row its own K flags; reshape(-1, K) is that flattening.
  void propose_folded_mask(Diagnostic& diagnostic, const Shape& expected) {
    if (kpm_.rank() != 3 || kpm_.written.size() != 3) return;
    std::optional<DimExpr> rows = dim_mul(kpm_.written[0], kpm_.written[1]);
    if (!rows || ctx_.symbols.compare(*rows, expected[0]) != Symbols::Verdict::Equal ||
        ctx_.symbols.compare(kpm_.shape[2], expected[1]) != Symbols::Verdict::Equal) {
      return;
    }
    const std::string name = shown_name(kpm_);
    if (ctx_.add_shape_fix(diagnostic,
                           fmt::format("{}.reshape(-1, {}) gives {}: its dims {} and {} flattened into the batch", name, kpm_.shape[2].str(),
                                       tuple_str(ctx_.symbols.resolve(expected)), kpm_.written[0].str(), kpm_.written[1].str()),
                           {{&kpm_, Shape{*rows, kpm_.written[2]}}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                  fmt::format("each of the {} batch rows keeps its own {} key flags", rows->str(), kpm_.shape[2].str()));
    }
  }

  void propose_key_padding_mask_shape(Diagnostic& diagnostic) {
    if (query_.rank() != 3 && query_.rank() != 2) return;
    bool batched = query_.rank() == 3;
    int seq = batched && m_.batch_first ? 1 : 0;
    Shape expected = batched ? Shape{key_.written.size() == 3 ? key_.written[1 - seq] : query_.written[1 - seq],
                                     key_.written.empty() ? DimExpr::constant(0) : key_.written[seq]}
                             : Shape{key_.written.empty() ? DimExpr::constant(0) : key_.written[0]};
    // A mask with one size-1 dim too many is the expected mask with a dim of one added: a (1, S)
    // mask for an unbatched query (a batch of one), or ESPnet's (B, 1, T) masks, made
    // [:, None, :] to broadcast over its own attention's queries. squeeze is the change, and the
    // text says the shape it gives.
    std::optional<int> extra_unit;
    for (int d = 0; !extra_unit && kpm_.rank() == static_cast<int>(expected.size()) + 1 && d < kpm_.rank(); ++d) {
      if (!(kpm_.shape[d] == DimExpr::constant(1))) continue;
      Shape rest = kpm_.shape;
      rest.erase(rest.begin() + d);
      if (std::equal(expected.begin(), expected.end(), rest.begin(),
                     [&](const DimExpr& a, const DimExpr& b) { return ctx_.symbols.compare(a, b) == Symbols::Verdict::Equal; })) {
        extra_unit = d;
      }
    }
    // The other way round: the (S,) mask of a batch of one, given to a batched query ((1, S, E) with
    // batch_first), lacks only that unit batch dim: unsqueeze(0).
    bool missing_unit = batched && kpm_.rank() == 1 && expected[0] == DimExpr::constant(1) &&
                        ctx_.symbols.compare(expected[1], kpm_.shape[0]) == Symbols::Verdict::Equal;
    // A mask made for an attention that reads True as keep (ESPnet's ~make_pad_mask(...)[:, None, :]
    // for its masked_fill(mask == 0)) is inverted too: key_padding_mask ignores the True positions.
    MaskOrigin origin = extra_unit ? mask_origin(ctx_, kpm_) : MaskOrigin{};
    if (origin.convention != MaskConvention::TrueKeeps) {
      std::string description = extra_unit     ? fmt::format("{}.squeeze({}) gives {}", kpm_.argument, *extra_unit, tuple_str(expected))
                                : missing_unit ? fmt::format("{}.unsqueeze(0) gives {}", kpm_.argument, tuple_str(expected))
                                               : fmt::format("pass a {} = {} {}", batched ? "(N, S)" : "(S,)", tuple_str(expected), kpm_.argument);
      if (!extra_unit && !missing_unit && propose_reduced_feature_dim(diagnostic)) return;
      if (!extra_unit && !missing_unit && batched) propose_folded_mask(diagnostic, expected);
      if (ctx_.add_shape_fix(diagnostic, description, {{&kpm_, expected}}) || !extra_unit) return;
    }
    // A mask made by a call has no written shape to patch: the squeeze is inserted before the call.
    const std::string name = tensor_name(kpm_);
    std::vector<std::pair<std::string, nlohmann::json>> made{{"squeeze", {{"dim", *extra_unit}}}};
    std::string description = fmt::format("{}.squeeze({}) gives {}", name, *extra_unit, tuple_str(expected));
    if (origin.convention == MaskConvention::TrueKeeps) {
      bool boolean = kpm_.dtype == DType::Bool;
      made.emplace_back(boolean ? std::pair<std::string, nlohmann::json>{"bitwise_not", nlohmann::json::object()}
                                : std::pair<std::string, nlohmann::json>{"eq", {{"other", 0}}});
      description = boolean ? fmt::format("~{}.squeeze({}) gives {}, True on the positions to ignore", name, *extra_unit, tuple_str(expected))
                            : fmt::format("{}.squeeze({}) == 0 gives {}, True on the positions to ignore", name, *extra_unit,
                                          tuple_str(expected));
    }
    if (ctx_.add_inserted_calls_fix(diagnostic, kpm_, description, made) && origin.convention == MaskConvention::TrueKeeps) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                  origin.reason + ": key_padding_mask ignores the True positions, so the mask is inverted as well");
    }
  }

  // key_padding_mask's last dim masks the keys (S). One whose last dim is the queries' length L, a
  // symbol of its own, while the keys have another (the target's padding mask given to the
  // decoder's cross-attention as memory_key_padding_mask), was made for the queries: valid only if
  // L == S, which nothing ties, so PyTorch raises whenever they differ (an error, as for SDPA's
  // attn_mask, MHA335). The fix asks for an (N, S) mask, which the search reads from a declared
  // tensor of that shape (the source's padding mask) before dropping the argument.
  bool check_key_padding_mask_of_queries() {
    if (m_.add_bias_kv || m_.add_zero_attn) return false;
    const DimExpr& kpm_len = kpm_.shape.back();
    if (kpm_len.is_constant() || ctx_.symbols.compare(kpm_len, L_) != Symbols::Verdict::Equal ||
        ctx_.symbols.compare(kpm_len, S_) != Symbols::Verdict::EqualIf || ctx_.symbols.compare(L_, S_) != Symbols::Verdict::EqualIf) {
      return false;
    }
    if (batched_ && ctx_.symbols.compare(kpm_.shape[0], N_) == Symbols::Verdict::Unequal) return false;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::KeyPaddingMaskOfQueries,
        fmt::format("valid only if {} == {}, but {} {}'s last dim, which masks the keys (S = {}), holds {}, the queries' length: the mask "
                    "was made for the queries",
                    kpm_len.str(), S_.str(), kpm_.argument, tuple_str(kpm_.shape), S_.str(), kpm_len.str()),
        &kpm_, kpm_.rank() - 1);
    diagnostic.related.push_back(ctx_.related(key_, seq_, fmt::format("S = {} from key (dim {})", S_.str(), seq_)));
    ctx_.pytorch_raises(diagnostic, "AssertionError",
                        fmt::format("Expected key_padded_mask.shape[1] to be {}, but got {}", S_.str(), kpm_len.str()));
    diagnostic.notes.push_back(fmt::format("PyTorch raises whenever {} != {}; when they are equal each key is masked by the padding of the "
                                           "query at its position",
                                           kpm_len.str(), S_.str()));
    Shape expected = kpm_.shape;
    expected.back() = S_;
    if (ctx_.add_shape_fix(diagnostic, fmt::format("pass the keys' padding mask, {} = {}, as {}", batched_ ? "(N, S)" : "(S,)", tuple_str(expected),
                                                   kpm_.argument),
                           {{&kpm_, expected}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "key_padding_mask masks key positions");
    }
    return true;
  }

  void check_key_padding_mask_shape() {
    if (check_key_padding_mask_of_queries()) return;
    std::int64_t pads = (m_.add_bias_kv ? 1 : 0) + (m_.add_zero_attn ? 1 : 0);
    DimExpr kpm_batch = batched_ ? kpm_.shape[0] : DimExpr::constant(1);
    const DimExpr& kpm_len = kpm_.shape.back();
    int len_dim = kpm_.rank() - 1;
    bool batch_ok = !batched_ || ctx_.symbols.compare(kpm_batch, N_) != Symbols::Verdict::Unequal;
    bool len_ok = ctx_.symbols.compare(kpm_len, S_) != Symbols::Verdict::Unequal;
    if (batched_ ? same_dims({{kpm_batch, N_}, {kpm_len, S_}}, &kpm_, {0, len_dim}, "key_padding_mask shape == (N, S)")
                 : same_dims({{kpm_len, S_}}, &kpm_, {len_dim}, "key_padding_mask shape == (S,)")) {
      return;
    }
    // Each dim may fit alone but not both together (one symbol forced to two values).
    if (batch_ok && len_ok) len_ok = false;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::KeyPaddingMaskShape,
        fmt::format("{} is {}; expected {} = {}", kpm_.argument, tuple_str(kpm_.shape), batched_ ? "(N, S)" : "(S,)",
                    batched_ ? tuple_str({N_, S_}) : tuple_str({S_})),
        &kpm_, batch_ok ? len_dim : 0);
    if (batched_) {
      diagnostic.related.push_back(ctx_.related(query_, batch_, fmt::format("N = {} from query ({})", N_.str(), dim_role(batch_))));
    }
    diagnostic.related.push_back(ctx_.related(key_, seq_, fmt::format("S = {} from key (dim {})", S_.str(), seq_)));
    if (batched_) add_layout_notes(diagnostic);
    if (!batch_ok) {
      ctx_.pytorch_raises(diagnostic, "AssertionError",
                          fmt::format("Expected key_padded_mask.shape[0] to be {}, but got {}", N_.str(), kpm_batch.str()));
    } else {
      ctx_.pytorch_raises(diagnostic, "AssertionError",
                          fmt::format("Expected key_padded_mask.shape[1] to be {}, but got {}", dim_add(S_, pads)->str(),
                                      dim_add(kpm_len, pads)->str()));
    }
    if (pads > 0) {
      diagnostic.notes.push_back(fmt::format("add_bias_kv/add_zero_attn append {} position(s) to the mask themselves: pass S = {}", pads, S_.str()));
    }
    // key_padding_mask is (N, S) whatever batch_first says: when the other reading of the
    // inputs agrees with it, the mask is right and batch_first is wrong, unless the mask's dim
    // names say it is laid out (S, N).
    bool flipped_agrees = batched_ && kpm_.rank() == 2 &&
                          ctx_.symbols.compare(kpm_.shape[0], query_.shape[seq_]) == Symbols::Verdict::Equal &&
                          ctx_.symbols.compare(kpm_.shape[1], key_.shape[batch_]) == Symbols::Verdict::Equal;
    bool named_transposed = role_of_dim(kpm_.dim_names, 0) == DimRole::Sequence && role_of_dim(kpm_.dim_names, 1) == DimRole::Batch;
    bool mask_is_right = flipped_agrees && !named_transposed;
    if (mask_is_right) {
      ctx_.add_option_fix(diagnostic, fmt::format("construct with batch_first={}", m_.batch_first ? "False" : "True"),
                          {{"batch_first", !m_.batch_first}});
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                  fmt::format("key_padding_mask is (N, S); with batch_first={} query, key and value agree with it",
                                              m_.batch_first ? "False" : "True"));
    }
    const std::string suspect = fmt::format(
        "{} {} already matches the inputs' other layout; reshaping it reads its batch dim as the sequence: positions are "
        "masked across batch entries",
        kpm_.argument, tuple_str(kpm_.shape));
    if (batched_ && kpm_.rank() == 2 && ctx_.symbols.compare(kpm_.shape[0], S_) == Symbols::Verdict::Equal &&
        ctx_.symbols.compare(kpm_.shape[1], N_) == Symbols::Verdict::Equal) {
      ctx_.add_shape_fix(diagnostic, fmt::format("transpose the mask: {}.T", kpm_.argument), {{&kpm_, Shape{kpm_.written[1], kpm_.written[0]}}});
      if (mask_is_right) CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, suspect);
      if (named_transposed) {
        CallContext::label_last_fix(diagnostic, FixSemantics::Consistent,
                                    fmt::format("the mask's dim names say it is (S, N): ({}, {})", kpm_.dim_name(0), kpm_.dim_name(1)));
      }
    }
    propose_subsampled_mask(diagnostic);
    propose_key_padding_mask_shape(diagnostic);
    if (mask_is_right) CallContext::label_last_fix(diagnostic, FixSemantics::Suspect, suspect);
  }

  // Keys whose sequence a Conv1d made (a strided front end) with a padding mask of the conv's
  // input length: the mask subsampled as the conv subsamples the frames. Frame j of a conv with
  // stride s reads from input position j*s (less its padding), so mask[..., :-e:s] has one entry
  // per frame, e = span - 1 - padding (the positions past the last window start).
  void propose_subsampled_mask(Diagnostic& diagnostic) {
    if (kpm_.rank() < 1 || key_.rank() < 1) return;
    DimOrigin frames = dim_origin(ctx_.spec, key_, seq_);
    const ModuleDecl* conv = frames.call && !frames.call->module.empty() ? ctx_.spec.find_module(frames.call->module) : nullptr;
    if (!conv || conv->type != "Conv1d" || frames.dim != frames.rank - 1) {
      propose_strided_mask(diagnostic);
      return;
    }
    const DimExpr& length = kpm_.shape.back();
    if (!length.is_constant()) return;
    ConvGeometry geometry = conv_geometry(*conv);
    std::int64_t past_last = geometry.span(0) - 1 - geometry.pad_before[0] - geometry.pad_after[0];
    if (past_last < 0 || length.offset <= past_last) return;
    std::int64_t stride = geometry.stride[0];
    if (ctx_.symbols.compare(DimExpr::constant(geometry.output_size(0, length.offset)), S_) != Symbols::Verdict::Equal) return;
    if (stride == 1 && past_last == 0) return;  // the same length: nothing to subsample
    std::string index;
    for (int d = 0; d + 1 < kpm_.rank(); ++d) index += ":, ";
    index += past_last > 0 ? fmt::format(":-{}", past_last) : ":";
    if (stride > 1) index += fmt::format(":{}", stride);
    Shape subsampled = kpm_.written;
    subsampled.back() = key_.written.size() == key_.shape.size() ? key_.written[seq_] : S_;
    std::string name = shown_name(kpm_);
    if (ctx_.add_shape_fix(diagnostic,
                           fmt::format("subsample the mask as call \"{}\" ({}) subsamples the frames (kernel {}, stride {}, padding {}: frame j at "
                                       "input position {}j): {}[{}] gives {}",
                                       frames.call->id, conv->name, geometry.kernel[0], stride, geometry.pad_before[0],
                                       stride > 1 ? std::to_string(stride) : "", name, index, tuple_str(ctx_.symbols.resolve(subsampled))),
                           {{&kpm_, subsampled}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each frame keeps the padding of the input position it starts at");
    }
  }

  // Keys downsampled by a stride made elsewhere (a time-reduction layer, a strided pooling) with
  // the padding mask of the full length: mask[:, ::k] keeps the flag of every k-th position, the
  // one each kept frame starts at. Only when the lengths are known and k is the only stride that
  // turns the one into the other (ceil(length / k) == S).
  void propose_strided_mask(Diagnostic& diagnostic) {
    const DimExpr& length = kpm_.shape.back();
    DimExpr keys = ctx_.symbols.resolve(S_);
    if (!length.is_constant() || !keys.is_constant() || keys.offset < 1 || length.offset <= keys.offset) return;
    if (batched_ && (kpm_.rank() != 2 || ctx_.symbols.compare(kpm_.shape[0], N_) != Symbols::Verdict::Equal)) return;
    std::int64_t stride = (length.offset + keys.offset - 1) / keys.offset;
    if (stride < 2 || (length.offset + stride - 1) / stride != keys.offset || (length.offset + stride) / (stride + 1) == keys.offset) return;
    std::string index;
    for (int d = 0; d + 1 < kpm_.rank(); ++d) index += ":, ";
    index += fmt::format("::{}", stride);
    Shape subsampled = kpm_.written;
    subsampled.back() = key_.written.size() == key_.shape.size() ? key_.written[seq_] : S_;
    std::string name = shown_name(kpm_);
    if (ctx_.add_shape_fix(diagnostic,
                           fmt::format("downsample the mask as the frames were ({} -> {}, stride {}): {}[{}] gives {}", length.str(), keys.str(),
                                       stride, name, index, tuple_str(ctx_.symbols.resolve(subsampled))),
                           {{&kpm_, subsampled}})) {
      CallContext::label_last_fix(diagnostic, FixSemantics::Consistent, "each kept frame keeps the padding flag of the position it starts at");
    }
  }

  void check_mask_query_dtype(bool kpm_usable, bool attn_used) {
    auto canonical = [&](const ArgValue& mask) { return mask.dtype == DType::Bool ? query_.dtype : mask.dtype; };
    bool with_kpm = kpm_usable && kpm_.present;
    bool with_attn = attn_used && attn_.present;
    if (!with_kpm && !with_attn) return;
    DType final_dtype = with_kpm && with_attn ? promote_types(canonical(attn_), canonical(kpm_))
                                              : canonical(with_attn ? attn_ : kpm_);
    bool accepted = ctx_.call.flag("need_weights") ? final_dtype == query_.dtype
                                           : final_dtype == query_.dtype || final_dtype == DType::Float32;
    if (accepted) return;
    const ArgValue& culprit = with_attn && canonical(attn_) != query_.dtype ? attn_ : kpm_;
    Diagnostic& diagnostic = ctx_.report(
        DiagId::MaskQueryDType,
        fmt::format("{} is a {} float mask but query is {}", culprit.argument, dtype_name(culprit.dtype), dtype_name(query_.dtype)),
        &culprit);
    diagnostic.notes.push_back("float masks are added to the attention scores, which have the query's dtype");
    if (ctx_.call.flag("need_weights")) {
      ctx_.pytorch_raises(diagnostic, "RuntimeError",
                          fmt::format("Input dtypes must be the same, got: input {}, batch1: {}, batch2: {}",
                                      dtype_typemeta_name(final_dtype), dtype_typemeta_name(query_.dtype), dtype_typemeta_name(query_.dtype)));
    } else {
      ctx_.pytorch_raises(diagnostic, "RuntimeError",
                          fmt::format("Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                                      "attn_mask.dtype: {} and  query.dtype: {} instead.",
                                      dtype_typemeta_name(final_dtype), dtype_typemeta_name(query_.dtype)));
    }
    ctx_.add_dtype_fix(diagnostic, fmt::format("make {} {} like query", culprit.argument, dtype_name(query_.dtype)), culprit, query_.dtype);
    ctx_.add_dtype_fix(diagnostic, fmt::format("pass {} as bool", culprit.argument), culprit, DType::Bool);
  }

  // ---- results ----------------------------------------------------------------------------

  void interpretation_note() {
    Diagnostic& diagnostic = ctx_.report(DiagId::Interpretation, batch_first_reading(), &query_);
    diagnostic.notes.push_back(fmt::format(
        "attention runs over the {} positions of dim 0, separately for each of the {} batch entries of dim 1; if dim 0 is "
        "your batch, construct with batch_first=True",
        L_.str(), N_.str()));
  }

  void produce_outputs() {
    std::int64_t added = (m_.add_bias_kv ? 1 : 0) + (m_.add_zero_attn ? 1 : 0);
    DimExpr S_total = *dim_add(S_, added);
    DimExpr E = DimExpr::constant(E_), H = DimExpr::constant(H_);
    Shape output = !batched_ ? Shape{L_, E} : m_.batch_first ? Shape{N_, L_, E} : Shape{L_, N_, E};
    ctx_.outputs.push_back({"attn_output", ctx_.symbols.resolve(output), query_.dtype});
    if (!ctx_.call.flag("need_weights")) return;
    Shape weights = ctx_.call.flag("average_attn_weights") ? Shape{N_, L_, S_total} : Shape{N_, H, L_, S_total};
    // The weights' dims are named by the rule: the heads dim is num_heads (named so, a head
    // count), so a batch bound to the same size (B == H == 4) is not it; the keys keep their name
    // unless add_bias_kv or add_zero_attn lengthened them.
    int batch = batched_ ? (m_.batch_first ? 0 : 1) : -1, sequence = batched_ && !m_.batch_first ? 0 : (batched_ ? 1 : 0);
    std::string keys = added == 0 ? key_.dim_name(sequence) : "";
    std::vector<std::string> names = ctx_.call.flag("average_attn_weights")
                                         ? std::vector<std::string>{batch < 0 ? "" : query_.dim_name(batch), query_.dim_name(sequence), keys}
                                         : std::vector<std::string>{batch < 0 ? "" : query_.dim_name(batch), "num_heads", query_.dim_name(sequence), keys};
    if (!batched_) {
      weights.erase(weights.begin());
      names.erase(names.begin());
    }
    ctx_.outputs.push_back({"attn_output_weights", ctx_.symbols.resolve(weights), query_.dtype, names});
  }

  CallContext& ctx_;
  const MhaOptions& m_;
  const ArgValue &query_, &key_, &value_, &kpm_, &attn_;
  std::int64_t E_ = 0, H_ = 0, head_dim_ = 0, kdim_ = 0, vdim_ = 0;
  bool separate_ = false;
  bool batched_ = false;
  int seq_ = 0, batch_ = -1;  // indexes of the sequence and batch dims in query/key/value
  DimExpr L_, N_, S_, Nk_;
};

}  // namespace

// nn.MultiheadAttention.__init__: positive sizes, heads dividing embed_dim, kdim/vdim not negative.
bool mha_constructor_valid(CallContext& ctx) {
  const MhaOptions& options = ctx.module->mha;
  if (options.embed_dim <= 0 || options.num_heads <= 0) {
    std::string option = options.embed_dim <= 0 ? "embed_dim" : "num_heads";
    Diagnostic& diagnostic = ctx.report_option(
        DiagId::ModuleNonPositive,
        fmt::format("{} must be greater than 0, got {}", option, option == "embed_dim" ? options.embed_dim : options.num_heads),
        option);
    ctx.pytorch_raises(diagnostic, "ValueError",
                        fmt::format("embed_dim and num_heads must be greater than 0, got embed_dim={} and num_heads={} instead",
                                    options.embed_dim, options.num_heads));
    return false;
  }
  if (options.embed_dim % options.num_heads != 0) {
    Diagnostic& diagnostic = ctx.report_option(
        DiagId::ModuleHeadsDivide,
        fmt::format("embed_dim {} is not divisible by num_heads {}", options.embed_dim, options.num_heads), "num_heads");
    ctx.pytorch_raises(diagnostic, "AssertionError", "embed_dim must be divisible by num_heads");
    // The nearest head counts that divide embed_dim, smaller one first. Divisors come in pairs
    // (d, embed_dim / d), so sqrt(embed_dim) steps find them all, even for embed_dim near 2^40.
    std::vector<std::int64_t> divisors;
    for (std::int64_t d = 1; d * d <= options.embed_dim; ++d) {
      if (options.embed_dim % d != 0) continue;
      divisors.push_back(d);
      if (d != options.embed_dim / d) divisors.push_back(options.embed_dim / d);
    }
    std::sort(divisors.begin(), divisors.end(), [&](std::int64_t a, std::int64_t b) {
      std::int64_t distance_a = std::abs(a - options.num_heads), distance_b = std::abs(b - options.num_heads);
      return distance_a != distance_b ? distance_a < distance_b : a < b;
    });
    for (std::size_t i = 0; i < divisors.size() && i < 2; ++i) {
      ctx.add_option_fix(diagnostic, fmt::format("use num_heads={} (head_dim {})", divisors[i], options.embed_dim / divisors[i]),
                          {{"num_heads", divisors[i]}});
    }
    return false;
  }
  for (const auto& [option, size] : {std::pair{"kdim", options.kdim}, std::pair{"vdim", options.vdim}}) {
    if (size && *size < 0) {
      Diagnostic& diagnostic = ctx.report_option(DiagId::ModuleNegativeKvDim, fmt::format("{} is negative ({})", option, *size), option);
      ctx.pytorch_raises(diagnostic, "RuntimeError",
                          fmt::format("Trying to create tensor with negative dimension {}: [{}, {}]", *size, options.embed_dim, *size));
      return false;
    }
  }
  return true;
}

void infer_multihead_attention(CallContext& ctx) { MhaRules(ctx).run(); }

}  // namespace mhacheck
