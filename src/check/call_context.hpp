// What an operator's rule function sees of one call: its resolved arguments with provenance,
// the module, the symbol table, and helpers to report diagnostics and propose fixes.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/check.hpp"
#include "mhacheck/diagnostic.hpp"
#include "mhacheck/spec.hpp"
#include "layout.hpp"

namespace mhacheck {

struct ArgValue {
  std::string argument;       // "query"
  bool present = false;
  std::string identity;       // equal identities: the same tensor object in Python
  Shape written;              // as declared, symbols unresolved
  Shape shape;                // resolved through the symbol table
  DType dtype = DType::Float32;
  std::vector<Location> dim_locations;  // one per dim; unknown for outputs of calls
  // Per dim, the name the dim was written with ("B"), kept when "dims" binds it and carried
  // through calls (src/roles.hpp); "" when it has none.
  std::vector<std::string> dim_names;
  // For an output of an earlier call, per dim: where the size entered the graph (a declared
  // tensor's dim) and through which call; empty, or unknown locations, when not traced.
  std::vector<RelatedLocation> dim_sources;
  const CallDecl* producer = nullptr;  // for an output of an earlier call: the call that made it
  Location location;          // where the argument is written in the call
  std::string origin;         // "tensor \"q\"", "inline", "output 0 of call \"enc\""
  std::string shape_pointer;  // JSON pointer of the shape array to patch; empty: not patchable
  std::string dtype_pointer;  // JSON pointer where the dtype is (or would be) written
  Layout layout;              // strides (layout.hpp): written tensors are contiguous

  int rank() const { return static_cast<int>(shape.size()); }
  const std::string& dim_name(int dim) const;  // "" when unnamed
};

// The name a tensor argument has in the spec: a declared tensor's or an earlier output's
// name; "" for inline tensors.
std::string tensor_name(const ArgValue& arg);
// The name a message shows for a tensor argument: its spec name, or `unnamed` for an inline
// tensor, which has none (by default the argument it is given as: "attn_mask").
std::string shown_name(const ArgValue& arg, const std::string& unnamed);
std::string shown_name(const ArgValue& arg);

class CallContext {
 public:
  CallContext(const Spec& spec, const CallDecl& call, const ModuleDecl* module, Symbols& symbols)
      : spec(spec), call(call), module(module), symbols(symbols) {}

  const Spec& spec;
  const CallDecl& call;
  const ModuleDecl* module;  // the module called; null for a function call
  Symbols& symbols;
  std::map<std::string, ArgValue> args;
  std::vector<NamedOutput> outputs;  // filled by the rule when the call succeeds
  // The layouts of outputs by name, set by rules that know them (views, fresh results); an
  // output without one has an unknown layout.
  std::map<std::string, Layout> output_layouts;
  // A deque, so that a Diagnostic& handed out stays valid while more are added.
  std::deque<Diagnostic> diagnostics;

  const ArgValue& arg(const std::string& name) const { return args.at(name); }
  // The calls checked before this one, with their resolved arguments (the shape a view split, two
  // calls up); null in a context that has none.
  const std::vector<CallReport>* checked_calls = nullptr;

  // A module's own calls inside its forward (a Transformer layer's self_attn) run in an inner
  // context: `module` and `call` are then synthesized, and these map their option and argument
  // names to the written ones ("embed_dim" -> "d_model", "is_causal" -> "tgt_is_causal").
  // An option or argument missing from a non-empty map has no place in the spec to fix.
  std::map<std::string, std::string> option_names;
  std::map<std::string, std::string> argument_names;
  std::string scope_note;  // added to each diagnostic of an inner context: where it happened
  // An inner context sharing the symbols and knowing whether PyTorch has raised already.
  CallContext inner(const CallDecl& inner_call, const ModuleDecl* inner_module) const;
  // Takes over the inner context's diagnostics (with its scope note) and error state.
  void absorb(CallContext& inner_context);
  // Where a plain argument of the call is (or would be) written: for fix patches.
  std::optional<std::string> argument_pointer(const std::string& argument) const;

  // Adds a diagnostic about `arg` (dim `dim` of it when given); the location is that dim's.
  Diagnostic& report(DiagId id, std::string message, const ArgValue* arg = nullptr,
                     std::optional<int> dim = std::nullopt);
  // Adds a diagnostic about a module option (its location in the spec).
  Diagnostic& report_option(DiagId id, std::string message, const std::string& option);
  // The spec's name of one of the module's options; nullopt when it has none (inner modules).
  std::optional<std::string> written_option(const std::string& option) const;
  Location option_location(const std::string& option) const;  // the module's, when not written
  // Records the exception PyTorch raises for `diagnostic`; the first one raised in a call is
  // the one the user sees, later ones only once the earlier are fixed.
  void pytorch_raises(Diagnostic& diagnostic, std::string type, std::string message);
  bool has_errors() const { return errors_ > 0; }

  // Requires a == b. Equal under a condition on symbols: warns (MHA080) and returns true; an
  // error (MHA083) when the symbols' names say one is a batch size and the other a sequence.
  bool same(const DimExpr& a, const DimExpr& b, const ArgValue* where, std::optional<int> dim,
            const std::string& what);

  // PyTorch's broadcasting of two shapes (right-aligned; a dim of 1 stretches). On failure
  // returns nullopt and sets `failing` to the index in the broadcast shape and the two sizes,
  // as torch's infer_size reports them. Symbols forced equal warn (MHA080) through same().
  struct BroadcastFailure {
    int dim = 0;
    DimExpr a, b;
  };
  // A batch symbol of one operand that the broadcast, aligning from the right, sets against
  // another size at `offset` (from the last dim), while the other operand holds that batch in
  // another dim (cos (B, T, D) against q (B, H, T, D): B meets H): the condition B == H is false
  // by the names, an error (MHA083). Reports it and returns true.
  bool misaligned_batch(const Shape& a, const Shape& b, std::size_t offset, const ArgValue* where, const std::string& what);
  std::optional<Shape> broadcast(const Shape& a, const Shape& b, const ArgValue* where, const std::string& what,
                                 BroadcastFailure& failing);

  Location dim_location(const ArgValue& arg, int dim) const;
  RelatedLocation related(const ArgValue& arg, int dim, std::string message) const;

  // Candidate fixes (verified later by the pass). Each returns false when not expressible.
  bool add_option_fix(Diagnostic& diagnostic, std::string description,
                      const std::vector<std::pair<std::string, nlohmann::json>>& options);
  bool add_shape_fix(Diagnostic& diagnostic, std::string description,
                     const std::vector<std::pair<const ArgValue*, Shape>>& shapes);
  bool add_dtype_fix(Diagnostic& diagnostic, std::string description, const ArgValue& arg, DType dtype);
  // An input whose dtype is not its module's parameters': convert the input, or (a floating
  // input) construct the module in the input's dtype.
  void add_input_dtype_fixes(Diagnostic& diagnostic, const ArgValue& input, DType parameters);
  void add_patch_fix(Diagnostic& diagnostic, std::string description, nlohmann::json patch);
  // Labels the fix just added with what it does to the dims' roles (FixSemantics).
  static void label_last_fix(Diagnostic& diagnostic, FixSemantics semantics, std::string note);
  // One cause, one diagnostic: the role diagnostics of this call (MHA083, MHA081, MHA082 and
  // the MHA090 reading) become notes of the first of them, which keeps all their fixes.
  void fold_role_diagnostics();
  // Sets a plain argument of the call (is_causal=False) or adds a tensor argument.
  bool add_argument_fix(Diagnostic& diagnostic, std::string description, const std::string& argument, nlohmann::json value);
  // Inserts a call on the tensor argument `argument` before this call (`op` with `arguments`:
  // bitwise_not or eq with 0 to invert a mask, unsqueeze or getitem to line its dims up) and has
  // the argument read the new call's output; false for an argument written inline or a spec in
  // the flat form.
  bool add_inserted_call_fix(Diagnostic& diagnostic, const ArgValue& argument, std::string description, const std::string& op,
                             nlohmann::json arguments);
  // The same with a chain of calls, each reading the one before (squeeze(1), then bitwise_not).
  bool add_inserted_calls_fix(Diagnostic& diagnostic, const ArgValue& argument, std::string description,
                              const std::vector<std::pair<std::string, nlohmann::json>>& made);
  // This call's index in the spec's "calls" list, where a fix can insert calls around it;
  // nullopt for a spec in the flat form.
  std::optional<std::size_t> index_in_calls() const;
  // The index of `call` when it is written in the spec's "calls" list ("/calls/3": 3); nullopt
  // for a spec in the flat form.
  static std::optional<std::size_t> index_in_calls(const CallDecl& call);
  // The pointer of entry `index` of the "calls" list ("/calls/3").
  static std::string calls_entry_pointer(std::size_t index);
  // Whether `pointer` names a whole entry of the "calls" list ("/calls/3", "/calls/-"), not a
  // value inside one ("/calls/3/input") nor anything outside the list.
  static bool is_calls_entry_pointer(std::string_view pointer);
  // Whether `call` is written as entry `index` of the "calls" list ("/calls/3" for 3), where a
  // patch reaches it at calls_entry_pointer(index): not a module's inner call, not the flat form.
  static bool is_calls_entry(const CallDecl& call, std::size_t index);
  // Whether `pointer` names a value written inside `call`'s own entry ("/calls/3/input" for
  // "/calls/3"): an argument the call spells out, not one it takes from elsewhere.
  static bool written_inside(const CallDecl& call, std::string_view pointer);

  // Patch operations, for combining several edits into one fix.
  std::optional<nlohmann::json> option_patch(const std::vector<std::pair<std::string, nlohmann::json>>& options) const;
  std::optional<nlohmann::json> shape_patch(const ArgValue& arg, const Shape& shape) const;

 private:
  int errors_ = 0;
  bool raised_ = false;
};

// The patch that inserts `inserted` (an op and its arguments) right after `producer`, reading
// its first output under a new name and giving the old name back, so that every later reader
// gets the changed tensor; nullopt when the producer's outputs are not written in the spec.
std::optional<nlohmann::json> insert_after_producer(const CallContext& ctx, const CallDecl& producer, nlohmann::json inserted);

}  // namespace mhacheck
