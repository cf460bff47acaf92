#include "fixes.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "condition_advice.hpp"
#include "core/text.hpp"
#include "dim_origin.hpp"
#include "entered_relayout.hpp"
#include "fix_search.hpp"
#include "insertion_candidates.hpp"
#include "recheck.hpp"
#include "repair_candidates.hpp"
#include "mhacheck/module_schema.hpp"
#include "mhacheck/python_text.hpp"

namespace mhacheck {
namespace {

constexpr std::size_t kMaxCombinations = 64;
// The search's bounds: candidates per call; for the whole report, the work, in calls re-checked
// (Rechecker: a whole-graph re-check costs the spec's call count, about 25 re-checks of a
// 800-call graph, the diagnostics met first searched first). No bound is on time: the results
// do not depend on the machine.
constexpr std::size_t kMaxSearched = 96;
constexpr std::size_t kSearchWork = 20000;
// The re-checks spent on finding diagnostics of one cause (one per diagnostic with a sound fix).
constexpr std::size_t kMaxFoldChecks = 16;

bool same_problem(const Diagnostic& a, const Diagnostic& b) {
  return a.id == b.id && a.call == b.call && a.argument == b.argument;
}

bool still_present(const Report& report, const Diagnostic& target) {
  return std::any_of(report.diagnostics.begin(), report.diagnostics.end(),
                     [&](const Diagnostic& d) { return same_problem(d, target); });
}

// Role diagnostics: a dim used in a role its name or its tensor's layout says it does not play.
bool is_role_diagnostic(DiagId id) {
  return id == DiagId::SymbolNameRole || id == DiagId::SymbolRoleConflict || id == DiagId::RoleCondition ||
         id == DiagId::SdpaLayoutRole || id == DiagId::FeatureSlotRole || id == DiagId::ReshapeMovesDim ||
         id == DiagId::MaskMeaning || id == DiagId::RepeatTilesGroups || id == DiagId::EinsumSubscriptRole ||
         id == DiagId::LayerNormFeatureRole || id == DiagId::SdpaMaskDimRole || id == DiagId::ReduceBatchRole ||
         id == DiagId::SelectBatchRole || id == DiagId::IndexBatchEntry || id == DiagId::BroadcastRoleMismatch;
}

// Records what the patched graph gives: its errors, the call's outputs, and whether the roles
// still agree there (a fix that leaves a role diagnostic on its call is suspect).
void record_result(Fix& fix, const Report& patched, const std::string& call, std::optional<DiagId> fixed = std::nullopt) {
  fix.verified = true;
  fix.remaining_errors.clear();
  for (const Diagnostic& diagnostic : patched.diagnostics) {
    if (diagnostic.severity() == Severity::Error) {
      fix.remaining_errors.push_back({diagnostic.info().code, diagnostic.call, diagnostic.message});
    }
  }
  const CallReport* patched_call = fix.remaining_errors.empty() ? call_report(patched, call) : nullptr;
  fix.outputs = patched_call ? patched_call->outputs : std::vector<NamedOutput>{};
  if (fix.semantics == FixSemantics::Suspect) return;
  for (const Diagnostic& diagnostic : patched.diagnostics) {
    if (diagnostic.call == call && is_role_diagnostic(diagnostic.id)) {
      fix.semantics = FixSemantics::Suspect;
      fix.semantics_note = "the patched call still gets " + std::string(diagnostic.info().code) + ": " + diagnostic.message;
      return;
    }
  }
  if (fixed && is_role_diagnostic(*fixed) && fix.semantics == FixSemantics::Unknown) {
    fix.semantics = FixSemantics::Consistent;
    fix.semantics_note = "every named dim then plays the role its name says";
  }
}

// Best first: (a) PyTorch accepts the whole graph, (b) the roles agree (a suspect fix is never
// first, whatever PyTorch says) and an expression on the tensors the spec has comes before a
// shape to pass instead (asks_for_other_values), (c) the smallest change.
bool better_fix(const Spec& spec, const Fix& a, const Fix& b) {
  bool a_suspect = a.semantics == FixSemantics::Suspect, b_suspect = b.semantics == FixSemantics::Suspect;
  if (a_suspect != b_suspect) return b_suspect;
  if (a.valid() != b.valid()) return a.valid();
  bool a_other = asks_for_other_values(spec, a), b_other = asks_for_other_values(spec, b);
  if (a_other != b_other) return b_other;
  // A layer resized away from a size its input data holds, or that data resized, works against
  // the module, which says what was meant: the data's layout is the slip.
  bool a_off = against_module(spec, a), b_off = against_module(spec, b);
  if (a_off != b_off) return b_off;
  bool a_consistent = a.semantics == FixSemantics::Consistent, b_consistent = b.semantics == FixSemantics::Consistent;
  if (a_consistent != b_consistent) return a_consistent;
  if (a.remaining_errors.size() != b.remaining_errors.size()) return a.remaining_errors.size() < b.remaining_errors.size();
  // Of two outputs, the one with fewer dims of 1: a stray dim of 1 (an Embedding's (B, T, 1, E)
  // from (B, T, 1) ids) squeezed away, rather than matched by a dim of 1 added to the other
  // operand, which every later call would carry.
  auto ones = [](const Fix& fix) {
    if (fix.outputs.empty()) return std::ptrdiff_t{0};
    const Shape& shape = fix.outputs.front().shape;
    return std::count(shape.begin(), shape.end(), DimExpr::constant(1));
  };
  if (a.valid() && b.valid() && ones(a) != ones(b)) return ones(a) < ones(b);
  return a.patch.size() < b.patch.size();
}

// better_fix over `spec`, as std::sort and std::upper_bound take it.
auto ranked_by(const Spec& spec) {
  return [&spec](const Fix& a, const Fix& b) { return better_fix(spec, a, b); };
}

// A patched graph repairs `diagnostic`: it is gone, an error's fix leaves fewer errors, and a
// warning's fix adds none.
bool repairs(const Report& original, const Diagnostic& diagnostic, const Recheck& check) {
  if (!check.usable || still_present(check.report, diagnostic)) return false;
  int errors_before = original.count(Severity::Error), errors_after = check.report.count(Severity::Error);
  return diagnostic.severity() == Severity::Error ? errors_after < errors_before : errors_after <= errors_before;
}

void label_new_conditions(Fix& fix, const Report& original, const Report& patched);

// An elementwise operator that broadcasts one operand onto another (a bias, a scale, positions
// or a gate onto the data). Its fixes are read by what the patched call computes.
bool broadcasts_operands(const Spec& spec, const std::string& call) {
  static const std::set<std::string, std::less<>> arithmetic = {"add", "sub", "mul", "div"};
  std::optional<std::size_t> index = call_index(spec, call);
  return index && arithmetic.count(spec.calls[*index].op) != 0;
}

// A shape without its dims of literal size 1: what a broadcast keeps of it.
Shape sized_dims(const Shape& shape) {
  Shape kept;
  for (const DimExpr& dim : shape) {
    if (!(dim == DimExpr::constant(1))) kept.push_back(dim);
  }
  return kept;
}

// A dim other than 1 that `shape` holds twice.
std::optional<DimExpr> repeated_dim(const Shape& shape) {
  for (std::size_t a = 0; a < shape.size(); ++a) {
    if (shape[a] == DimExpr::constant(1)) continue;
    for (std::size_t b = a + 1; b < shape.size(); ++b) {
      if (shape[a] == shape[b]) return shape[a];
    }
  }
  return std::nullopt;
}

// Whether an operand as written holds `repeated` at one of the output dims that hold it and, at
// another, the size-1 dim a reduction with keepdim=True left where it summed `repeated` entries:
// (B, C, T, 1) from x.sum(-1, keepdim=True) over T is kept to be broadcast back over T, so an
// output (B, C, T, T) pairs as the code means (ESM's a1 * a2 outer product, x - x.mean(-1, keepdim=True)).
// So does the size-1 dim an unsqueeze inserted, where the output holds `repeated`.
bool shaped_for_pairing(const Spec& spec, const Report& original, const CallDecl& call, const std::vector<ResolvedArgument>& operands,
                        const Shape& output, const DimExpr& repeated) {
  static const std::set<std::string, std::less<>> reductions = {"sum", "mean", "amax", "amin", "max", "min", "prod", "logsumexp", "std", "var", "norm"};
  return std::any_of(operands.begin(), operands.end(), [&](const ResolvedArgument& operand) {
    constexpr std::string_view kOutputPrefix = "output:";  // an identity naming a call's output
    if (operand.shape.size() != output.size() || operand.identity.rfind(kOutputPrefix, 0) != 0) return false;
    const CallDecl* reduced = producer_of(spec, operand.identity.substr(kOutputPrefix.size()), &call);
    if (reduced == nullptr || reduced->outputs.size() != 1) return false;
    // A dim unsqueeze inserted exists to be broadcast: x.unsqueeze(1) - x.unsqueeze(2) pairs on purpose.
    const bool inserted = reduced->op == "unsqueeze";
    if (!inserted && reductions.count(reduced->op) == 0) return false;
    const nlohmann::json& keepdim = reduced->arguments.value("keepdim", nlohmann::json(false));
    if (!inserted && (!keepdim.is_boolean() || !keepdim.get<bool>())) return false;
    const nlohmann::json& along = reduced->arguments.value("dim", nlohmann::json());
    const CallReport* made = call_report(original, reduced->id);
    if (!along.is_number_integer() || made == nullptr || made->arguments.empty()) return false;
    if (!inserted && made->arguments.front().shape.size() != output.size()) return false;
    const auto rank = static_cast<std::int64_t>(output.size());
    const std::int64_t d = along.get<std::int64_t>() < 0 ? along.get<std::int64_t>() + rank : along.get<std::int64_t>();
    if (d < 0 || d >= rank) return false;
    const auto at = static_cast<std::size_t>(d);
    const bool holds = std::any_of(operand.shape.begin(), operand.shape.end(), [&](const DimExpr& dim) { return dim == repeated; });
    if (inserted) return holds && operand.shape[at] == DimExpr::constant(1) && output[at] == repeated;
    return holds && operand.shape[at] == DimExpr::constant(1) && output[at] == repeated && made->arguments.front().shape[at] == repeated;
  });
}

// A fix of an elementwise broadcast read by its meaning, in the patched call's output:
//  - the operand with more sized dims than the other is the data the other is applied to (pos
//    (B, HW, E) + a level embedding, x (B, C, H, W) * channel weights); a fix that gives the
//    output that no longer holds those dims in their order (the data transposed to meet the small operand) changes
//    what every later call reads, where the small operand's own reshape was the slip: suspect (a
//    fix that gives the data other sizes remade it, which says nothing of the kind);
//  - an output that holds a dim twice where no operand did (B, T, T, E) pairs every
//    entry of one operand with every entry of the other: it computes another thing, suspect,
//    unless an operand was shaped for that pairing (shaped_for_pairing).
void label_broadcast_meaning(Fix& fix, const Spec& spec, const Report& original, const std::string& call) {
  if (fix.semantics == FixSemantics::Suspect || !fix.valid() || fix.outputs.empty() || !broadcasts_operands(spec, call)) return;
  const CallReport* checked = call_report(original, call);
  if (!checked || checked->arguments.size() != 2) return;
  const Shape& output = fix.outputs.front().shape;
  std::optional<DimExpr> repeated = repeated_dim(output);
  if (repeated && std::none_of(checked->arguments.begin(), checked->arguments.end(),
                               [](const ResolvedArgument& a) { return repeated_dim(a.shape).has_value(); }) &&
      !shaped_for_pairing(spec, original, spec.calls[*call_index(spec, call)], checked->arguments, output, *repeated)) {
    fix.semantics = FixSemantics::Suspect;
    fix.semantics_note = fmt::format("call \"{}\"'s output {} holds {} twice, where no operand does: it pairs every entry of one operand "
                                     "with every entry of the other, another thing",
                                     call, tuple_str(output), repeated->str());
    return;
  }
  const ResolvedArgument& first = checked->arguments[0];
  const ResolvedArgument& second = checked->arguments[1];
  Shape first_sized = sized_dims(first.shape), second_sized = sized_dims(second.shape);
  if (first_sized.size() == second_sized.size()) return;
  const ResolvedArgument& data = first_sized.size() > second_sized.size() ? first : second;
  const Shape& data_sized = first_sized.size() > second_sized.size() ? first_sized : second_sized;
  // The data's dims kept in their order (more may join: ALiBi's (T, T) distances times (H, 1, 1)
  // slopes give (H, T, T)).
  Shape kept = sized_dims(output);
  std::size_t next = 0;
  for (const DimExpr& dim : kept) {
    if (next < data_sized.size() && dim == data_sized[next]) ++next;
  }
  if (next == data_sized.size()) return;
  // Only the data's own dims reordered: a fix that made the data itself another shape (rotate_half's
  // halves joined on the features instead of the heads, (B, 2H, T, D/2) to (B, H, T, D)) repaired
  // how it was made.
  Shape unmatched = data_sized;
  for (const DimExpr& dim : kept) {
    auto found = std::find(unmatched.begin(), unmatched.end(), dim);
    if (found != unmatched.end()) unmatched.erase(found);
  }
  if (!unmatched.empty()) return;
  fix.semantics = FixSemantics::Suspect;
  fix.semantics_note = fmt::format("call \"{}\"'s output {} no longer has the layout of {} {}, the data the other operand is applied to: "
                                   "later calls read it in its old layout",
                                   call, tuple_str(output), data.name, tuple_str(data.shape));
}

// Whether a fix of an elementwise broadcast that pairs every entry of one operand with every
// entry of the other (an outer sum: dims that only one operand has) puts the first operand's dims
// first in the output, as a[:, :, None] + b[:, None, :] does: (B, T, U, D) for RNN-T's frames
// (the source) against labels. True where the output holds no such pair of dims.
bool keeps_first_operand_first(const Spec& spec, const Report& original, const std::string& call, const Fix& fix) {
  const CallReport* checked = call_report(original, call);
  if (!broadcasts_operands(spec, call) || !checked || checked->arguments.size() != 2 || fix.outputs.empty()) return true;
  // Each operand's sized dims that the other lacks.
  auto own = [](const Shape& mine, Shape theirs) {
    Shape only;
    for (const DimExpr& dim : sized_dims(mine)) {
      auto shared = std::find(theirs.begin(), theirs.end(), dim);
      if (shared != theirs.end()) theirs.erase(shared);
      else only.push_back(dim);
    }
    return only;
  };
  Shape first_sized = sized_dims(checked->arguments[0].shape), second_sized = sized_dims(checked->arguments[1].shape);
  Shape first_only = own(first_sized, second_sized), second_only = own(second_sized, first_sized);
  const Shape& output = fix.outputs.front().shape;
  std::optional<std::size_t> last_first, first_second;
  for (std::size_t d = 0; d < output.size(); ++d) {
    if (std::find(first_only.begin(), first_only.end(), output[d]) != first_only.end()) last_first = d;
    if (!first_second && std::find(second_only.begin(), second_only.end(), output[d]) != second_only.end()) first_second = d;
  }
  return !last_first || !first_second || *last_first < *first_second;
}

// The calls and tensors of each twin of call `index`: another call of the same operator and other
// arguments whose tensor arguments have the same shapes (q * cos and q_rot * sin in rotary
// embeddings; cos and sin cut alike from their buffers), paired with `index`'s own back through
// producers made alike. A slip in one is then made in both: a repair of one alone leaves the
// other failing, or holding only while sizes coincide.
struct TwinMap {
  std::map<std::string, std::string> tensors;      // a tensor of the call's chain -> its twin's
  std::map<std::string, std::string> calls;        // a call's pointer -> its twin's
  std::map<std::string, std::string> ids;          // a call's id -> its twin's
  std::string twin_id;
};

bool made_alike(const CallDecl& a, const CallDecl& b) {
  if (a.op != b.op || a.module != b.module || a.arguments != b.arguments || a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [slot, ref] : a.tensors) {
    auto other = b.tensors.find(slot);
    if (other == b.tensors.end() || other->second.kind != ref.kind) return false;
  }
  return true;
}

// The index in spec.calls of the call before spec.calls[before] that outputs `name` (producer_of).
std::optional<std::size_t> producer_index(const Spec& spec, const std::string& name, std::size_t before) {
  const CallDecl* made = producer_of(spec, name, &spec.calls[before]);
  if (made == nullptr) return std::nullopt;
  return static_cast<std::size_t>(made - spec.calls.data());
}

// The spec's calls and the report's, by id, made once per report: twins_of looks a call up for
// every diagnostic and every searched call, and each call made alike with it.
class CallIndex {
 public:
  CallIndex(const Spec& spec, const Report& report) {
    for (std::size_t i = 0; i < spec.calls.size(); ++i) at_.emplace(spec.calls[i].id, i);  // the first of an id, as call_index
    for (const CallReport& call : report.calls) checked_.emplace(call.id, &call);      // as call_report
  }
  std::optional<std::size_t> index(const std::string& id) const {
    auto found = at_.find(id);
    return found == at_.end() ? std::nullopt : std::optional<std::size_t>(found->second);
  }
  const CallReport* checked(const std::string& id) const {
    auto found = checked_.find(id);
    return found == checked_.end() ? nullptr : found->second;
  }

 private:
  std::unordered_map<std::string, std::size_t> at_;
  std::unordered_map<std::string, const CallReport*> checked_;
};

// Pairs the tensors read by calls `a` and `b` slot by slot, and their producers made alike.
bool pair_chains(const Spec& spec, std::size_t a, std::size_t b, TwinMap& map, int depth) {
  const CallDecl& first = spec.calls[a];
  const CallDecl& second = spec.calls[b];
  for (const auto& [slot, ref] : first.tensors) {
    const ArgRef& other = second.tensors.at(slot);
    if (ref.kind != ArgRef::Kind::Named || ref.name == other.name) continue;
    auto known = map.tensors.find(ref.name);
    if (known != map.tensors.end()) {
      if (known->second != other.name) return false;
      continue;
    }
    map.tensors[ref.name] = other.name;
    std::optional<std::size_t> made = producer_index(spec, ref.name, a), twin_made = producer_index(spec, other.name, b);
    if (depth > 0 && made && twin_made && *made != *twin_made && made_alike(spec.calls[*made], spec.calls[*twin_made])) {
      if (spec.calls[*made].pointer.empty() || spec.calls[*twin_made].pointer.empty()) return false;
      map.calls[spec.calls[*made].pointer] = spec.calls[*twin_made].pointer;
      map.ids[spec.calls[*made].id] = spec.calls[*twin_made].id;
      if (!pair_chains(spec, *made, *twin_made, map, depth - 1)) return false;
    }
  }
  return true;
}

// A slip made alike in a few calls (cos and sin, the query, key and value) is repaired in each;
// a stack of identical layers repeats it in every layer, whose own diagnostics carry their own
// fixes. So only the nearest twins join a fix, which keeps it (and its re-check) small.
constexpr std::size_t kMaxTwins = 2;

std::vector<TwinMap> twins_of(const Spec& spec, const CallIndex& calls, const std::string& call) {
  std::vector<TwinMap> twins;
  std::optional<std::size_t> index = calls.index(call);
  const CallReport* checked = calls.checked(call);
  if (!index || !checked || spec.calls[*index].pointer.empty()) return twins;
  const CallDecl& own = spec.calls[*index];
  auto pair_with = [&](std::size_t other) {
    const CallDecl& twin = spec.calls[other];
    if (twin.pointer.empty() || !made_alike(own, twin)) return;
    const CallReport* twin_checked = calls.checked(twin.id);
    if (!twin_checked || twin_checked->arguments.size() != checked->arguments.size()) return;
    for (std::size_t a = 0; a < checked->arguments.size(); ++a) {
      if (checked->arguments[a].name != twin_checked->arguments[a].name || checked->arguments[a].shape != twin_checked->arguments[a].shape) return;
    }
    TwinMap map;
    map.twin_id = twin.id;
    map.ids[own.id] = twin.id;
    map.calls[own.pointer] = twin.pointer;  // an option of the call itself (cat's dim)
    if (pair_chains(spec, *index, other, map, 8) && !map.tensors.empty()) twins.push_back(std::move(map));
  };
  // Nearest first: the calls `step` before and after, until kMaxTwins are found.
  for (std::size_t step = 1; twins.size() < kMaxTwins && (step <= *index || *index + step < spec.calls.size()); ++step) {
    if (step <= *index) pair_with(*index - step);
    if (twins.size() < kMaxTwins && *index + step < spec.calls.size()) pair_with(*index + step);
  }
  return twins;
}

// `text` with each whole word that `names` maps replaced by its twin's.
std::string renamed(const std::string& text, const std::map<std::string, std::string>& names) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (word(text[i]) && (i == 0 || !word(text[i - 1]))) {
      std::size_t end = i;
      while (end < text.size() && word(text[end])) ++end;
      std::string token = text.substr(i, end - i);
      auto found = names.find(token);
      out += found == names.end() ? token : found->second;
      i = end;
    } else {
      out += text[i++];
    }
  }
  return out;
}

// The ops of `fix`'s patch made on the twin as well, where the patch only replaces values of the
// call's chain (a declared tensor's shape, a producer's index or dims, the call's own options):
// nullopt when the patch inserts calls, touches nothing the twin has its own of, or already
// patches the twin's values itself.
std::optional<nlohmann::json> patch_on_twin(const Fix& fix, const TwinMap& map) {
  if (!fix.patch.is_array() || fix.patch.empty()) return std::nullopt;
  nlohmann::json added = nlohmann::json::array();
  for (const nlohmann::json& op : fix.patch) {
    const std::string kind = op.value("op", "");
    if ((kind != "replace" && kind != "add") || !op.contains("path") || op.value("value", nlohmann::json()).is_object()) return std::nullopt;
    const std::string path = op["path"].get<std::string>();
    // A call inserted (add at /calls/N) renames outputs the twin cannot share.
    if (CallContext::is_calls_entry_pointer(path)) return std::nullopt;
    std::optional<std::string> mapped;
    for (const auto& [tensor, twin] : map.tensors) {
      const std::string prefix = child_pointer("/tensors", tensor);
      if (path == prefix || path.rfind(prefix + "/", 0) == 0) mapped = child_pointer("/tensors", twin) + path.substr(prefix.size());
    }
    for (const auto& [pointer, twin] : map.calls) {
      if (path.rfind(pointer + "/", 0) == 0) mapped = twin + path.substr(pointer.size());
    }
    // A fix that already repairs the twin (both normalize calls of cosine attention) has nothing to add there.
    const bool patched = std::any_of(fix.patch.begin(), fix.patch.end(), [&](const nlohmann::json& own) { return mapped && own.value("path", "") == *mapped; });
    if (!mapped || patched) continue;
    nlohmann::json value = op["value"];
    if (value.is_string()) {
      auto renamed_tensor = map.tensors.find(value.get<std::string>());
      if (renamed_tensor != map.tensors.end()) value = renamed_tensor->second;
    }
    added.push_back({{"op", kind}, {"path", *mapped}, {"value", value}});
  }
  if (added.empty()) return std::nullopt;
  return added;
}

// `fixes` with, after them, each made on every twin of the call too (twins_of: the query, key
// and value each joined alike), where it can be.
void add_twin_extensions(const Spec& spec, const CallIndex& calls, const std::string& call, std::vector<Fix>& fixes) {
  std::vector<TwinMap> twins = twins_of(spec, calls, call);
  if (twins.empty()) return;
  std::size_t own = fixes.size();
  for (std::size_t i = 0; i < own; ++i) {
    Fix extended = fixes[i];
    bool made = false;
    for (const TwinMap& map : twins) {
      std::optional<nlohmann::json> added = patch_on_twin(fixes[i], map);
      if (!added) continue;
      for (nlohmann::json& op : *added) extended.patch.push_back(std::move(op));
      std::map<std::string, std::string> names = map.tensors;
      for (const auto& [id, twin] : map.ids) names[id] = twin;
      extended.description += fmt::format("; the same in call \"{}\": {}", map.twin_id, renamed(fixes[i].description, names));
      made = true;
    }
    if (made) fixes.push_back(std::move(extended));
  }
}

// The calls of a spec document that combine a value with itself elementwise (x == x, x - x), by
// id. Values are numbered in one pass over the calls: a declared tensor's name is its own value;
// each output of a call is the value of its op and arguments (id, outputs and source line left
// out) with its input and other read as the values their names hold at that call, from the last
// call before it that made them (a name may be reused). Two names with one number hold the same
// elements. Moves of dims (transpose, permute, contiguous, clone) are numbered by the value they
// move and the order they compose to, so that a move undone (x.transpose(1, 2) permuted back
// with permute(0, 2, 1, 3)) holds x itself again.
// The order of dims a move of dims `call` (transpose, permute, contiguous, clone) makes of a
// value whose dims are already `order` (order[i]: the root's dim at dim i; `open`: the rank is not
// known, and the dims past the order's end are in place); nullopt for any other call, or a
// negative dim where the rank is not known.
struct DimOrder {
  std::vector<std::int64_t> order;
  bool open = true;
};
std::optional<DimOrder> moved_order(const nlohmann::json& call, DimOrder order) {
  const std::string op = call.value("op", "");
  if (op == "contiguous" || op == "clone") return order;
  auto widen = [&](std::size_t size) {
    while (order.order.size() < size) order.order.push_back(static_cast<std::int64_t>(order.order.size()));
  };
  if (op == "transpose") {
    std::vector<std::int64_t> dims;
    for (const char* argument : {"dim0", "dim1"}) {
      const nlohmann::json& dim = call.value(argument, nlohmann::json());
      if (!dim.is_number_integer()) return std::nullopt;
      std::int64_t d = dim.get<std::int64_t>();
      const auto rank = static_cast<std::int64_t>(order.order.size());
      if (d < 0 && (order.open || d < -rank)) return std::nullopt;
      dims.push_back(d < 0 ? d + rank : d);
    }
    const auto needed = static_cast<std::size_t>(std::max(dims[0], dims[1]) + 1);
    if (!order.open && needed > order.order.size()) return std::nullopt;
    widen(needed);
    std::swap(order.order[static_cast<std::size_t>(dims[0])], order.order[static_cast<std::size_t>(dims[1])]);
    return order;
  }
  if (op != "permute" || !call.contains("dims") || !call["dims"].is_array()) return std::nullopt;
  const nlohmann::json& dims = call["dims"];
  if ((!order.open && dims.size() != order.order.size()) || dims.size() < order.order.size()) return std::nullopt;
  widen(dims.size());
  const auto rank = static_cast<std::int64_t>(dims.size());
  DimOrder permuted{{}, false};
  for (const nlohmann::json& dim : dims) {
    if (!dim.is_number_integer()) return std::nullopt;
    std::int64_t d = dim.get<std::int64_t>();
    if (d < -rank || d >= rank) return std::nullopt;
    permuted.order.push_back(order.order[static_cast<std::size_t>(d < 0 ? d + rank : d)]);
  }
  return permuted;
}

std::set<std::string> self_pairings(const nlohmann::json& document) {
  static const std::set<std::string, std::less<>> pairwise = {"eq", "ne", "lt", "le", "gt", "ge", "mul", "sub", "add", "logical_and",
                                                              "logical_or", "bitwise_and", "bitwise_or", "logical_xor", "bitwise_xor"};
  std::set<std::string> found;
  if (!document.contains("calls") || !document["calls"].is_array()) return found;
  std::map<std::string, std::size_t> numbers;        // a value's description -> its number
  std::map<std::string, std::size_t> held;           // a tensor name -> the number of the value it holds now
  std::map<std::size_t, std::pair<std::size_t, DimOrder>> moves;  // a moved value -> the value it moves and its dims' order
  auto number = [&](const std::string& description) { return numbers.emplace(description, numbers.size()).first->second; };
  auto value_of = [&](const std::string& name) {
    auto holding = held.find(name);
    return holding != held.end() ? holding->second : number("tensor " + name);
  };
  for (const nlohmann::json& call : document["calls"]) {
    if (!call.is_object()) continue;
    std::optional<std::size_t> input, other;
    if (call.contains("input") && call["input"].is_string()) input = value_of(call["input"].get<std::string>());
    if (call.contains("other") && call["other"].is_string()) other = value_of(call["other"].get<std::string>());
    if (input && other && *input == *other && call.contains("op") && call["op"].is_string() && pairwise.count(call["op"].get<std::string>()) != 0)
      found.insert(call.value("id", ""));
    if (!call.contains("outputs") || !call["outputs"].is_array()) continue;
    if (input && call["outputs"].size() == 1 && call["outputs"][0].is_string()) {
      auto source = moves.find(*input);
      const std::size_t root = source != moves.end() ? source->second.first : *input;
      if (std::optional<DimOrder> order = moved_order(call, source != moves.end() ? source->second.second : DimOrder{})) {
        bool in_place = true;
        for (std::size_t d = 0; d < order->order.size(); ++d) in_place = in_place && order->order[d] == static_cast<std::int64_t>(d);
        std::size_t value = root;
        if (!in_place) {
          value = number(fmt::format("value {} moved to [{}]{}", root, fmt::join(order->order, ", "), order->open ? " ..." : ""));
          moves[value] = {root, *order};
        }
        held[call["outputs"][0].get<std::string>()] = value;
        continue;
      }
    }
    nlohmann::json made = call;
    for (const char* left_out : {"id", "outputs", "source", "input", "other"}) made.erase(left_out);
    const std::string description = fmt::format("call {} input {} other {} output ", made.dump(), input ? std::to_string(*input) : call.value("input", nlohmann::json()).dump(),
                                                other ? std::to_string(*other) : call.value("other", nlohmann::json()).dump());
    const nlohmann::json& outputs = call["outputs"];
    for (std::size_t output = 0; output < outputs.size(); ++output) {
      if (outputs[output].is_string()) held[outputs[output].get<std::string>()] = number(description + std::to_string(output));
    }
  }
  return found;
}

// A fix that makes both operands of an elementwise call of two tensors one value, where they
// were two (seg[:, None] == seg[None, :] patched to seg[:, None] == seg[:, None]), pairs each
// element with itself: a comparison is all True, a difference all 0, whatever the data. PyTorch
// accepts it, but it drops the pairing the call was written for: suspect. `before` holds the
// original's self-pairings (self_pairings of the spec's document, made once per report).
void label_self_pairing(Fix& fix, const Spec& spec, const std::set<std::string>& before) {
  if (fix.semantics == FixSemantics::Suspect || !fix.valid() || fix.patch.empty()) return;
  nlohmann::json patched;
  try {
    patched = spec.value().patch(fix.patch);
  } catch (const std::exception&) {
    return;
  }
  for (const std::string& call : self_pairings(patched)) {
    if (before.count(call) != 0) continue;
    fix.semantics = FixSemantics::Suspect;
    fix.semantics_note = fmt::format("call \"{}\" then combines a value with itself: each element meets only itself, not the pairs it was "
                                     "written to compare",
                                     call);
    return;
  }
}

// Keeps the verified fixes of one diagnostic, best first. A rule's fix, like a searched one, that
// holds only under a new condition (MHA080) is suspect: batch_first=True with the query relaid
// while a cat still joins the seq-first memory on the batch holds only while M == B.
void verify_diagnostic(const Spec& spec, const Report& original, const CallIndex& calls, const std::set<std::string>& self_paired,
                       Rechecker& rechecker, Diagnostic& diagnostic) {
  std::vector<Fix> kept;
  add_twin_extensions(spec, calls, diagnostic.call, diagnostic.fixes);
  for (Fix& fix : diagnostic.fixes) {
    std::shared_ptr<const Recheck> check = rechecker.check(fix.patch);
    if (!repairs(original, diagnostic, *check)) continue;
    record_result(fix, check->report, diagnostic.call, diagnostic.id);
    label_new_conditions(fix, original, check->report);
    label_broadcast_meaning(fix, spec, original, diagnostic.call);
    label_self_pairing(fix, spec, self_paired);
    kept.push_back(std::move(fix));
  }
  std::stable_sort(kept.begin(), kept.end(), ranked_by(spec));
  diagnostic.fixes = std::move(kept);
}

// Whether the call's input reached it through layers from a declared tensor (entered_chain): a
// module there resized to fit may hold a size consistent with the model's other declared sizes,
// the data's layout having entered wrong upstream.
bool reached_through_layers(const Spec& spec, const std::string& call) {
  std::optional<std::size_t> index = call_index(spec, call);
  if (!index) return false;
  std::optional<EnteredChain> chain = entered_chain(spec, *index, "input");
  return chain && chain->through_layers;
}

// A sound fix: PyTorch accepts it, the roles agree, and it repairs what was passed rather than
// asking for other values (asks_for_other_values), working against a layer module whose
// input holds its size (against_module) or resizing a module that data reached through layers
// (reached_through_layers), which leaves the search to find how.
bool has_good_fix(const Spec& spec, const Diagnostic& diagnostic) {
  return std::any_of(diagnostic.fixes.begin(), diagnostic.fixes.end(), [&](const Fix& fix) {
    return fix.valid() && fix.semantics != FixSemantics::Suspect && !asks_for_other_values(spec, fix) && !against_module(spec, fix) &&
           !(resizes_module(spec, fix) && reached_through_layers(spec, diagnostic.call));
  });
}

// A searched fix's roles: one that brings a role diagnostic the graph did not have, anywhere
// in it (a batch dim read as a sequence downstream), is suspect.
void label_new_roles(Fix& fix, const Report& original, const Report& patched) {
  if (fix.semantics == FixSemantics::Suspect) return;
  for (const Diagnostic& diagnostic : patched.diagnostics) {
    if (is_role_diagnostic(diagnostic.id) && !still_present(original, diagnostic)) {
      fix.semantics = FixSemantics::Suspect;
      fix.semantics_note = "the patched graph gets " + std::string(diagnostic.info().code) + " at call \"" + diagnostic.call +
                           "\": " + diagnostic.message;
      return;
    }
  }
}

// A searched fix whose patched graph also drops conditions (MHA080, "valid only if P == 1") and
// adds none holds for every size, where another that PyTorch accepts as well may still hold only
// while the condition does (q transposed to meet keys concatenated on the heads dim, with a
// cache one step long): it is consistent.
void label_dropped_conditions(Fix& fix, const Report& original, const Report& patched) {
  if (fix.semantics != FixSemantics::Unknown || !fix.valid()) return;
  auto conditions = [](const Report& report) {
    return std::count_if(report.diagnostics.begin(), report.diagnostics.end(),
                         [](const Diagnostic& d) { return d.id == DiagId::SymbolConstraint; });
  };
  bool added = std::any_of(patched.diagnostics.begin(), patched.diagnostics.end(), [&](const Diagnostic& d) {
    return d.id == DiagId::SymbolConstraint && !still_present(original, d);
  });
  if (added || conditions(patched) >= conditions(original)) return;
  fix.semantics = FixSemantics::Consistent;
  fix.semantics_note = "the patched graph also drops a condition (valid only if ...): it holds for every size";
}

// A searched fix whose patched graph is valid only under a condition (MHA080) the graph did not
// have holds for some sizes only: a permute that makes positions meet features only while
// B == 256, a dim moved so that a batch broadcasts against heads. It is suspect, whatever
// PyTorch accepts at these sizes.
void label_new_conditions(Fix& fix, const Report& original, const Report& patched) {
  if (fix.semantics == FixSemantics::Suspect) return;
  auto had = [&](const Diagnostic& condition) {  // the same condition: same call, same sizes
    return std::any_of(original.diagnostics.begin(), original.diagnostics.end(), [&](const Diagnostic& d) {
      return d.id == condition.id && d.call == condition.call && d.message == condition.message;
    });
  };
  for (const Diagnostic& diagnostic : patched.diagnostics) {
    if (diagnostic.id == DiagId::SymbolConstraint && !had(diagnostic)) {
      fix.semantics = FixSemantics::Suspect;
      fix.semantics_note = "the patched graph holds only under a new condition, at call \"" + diagnostic.call + "\": " + diagnostic.message;
      return;
    }
  }
}

// Adds `candidate` to `diagnostic`'s fixes when its patched graph repairs it and no fix with the
// same patch is there yet.
void add_searched(const Spec& spec, const Report& original, const std::set<std::string>& self_paired, const Fix& candidate, const Recheck& check,
                  Diagnostic& diagnostic) {
  auto offered = std::find_if(diagnostic.fixes.begin(), diagnostic.fixes.end(),
                              [&](const Fix& fix) { return fix.patch == candidate.patch; });
  // A suspect fix already offered with this patch (a declared tensor's new shape, which a
  // transpose and a permute may both give) is replaced by a candidate that words it soundly.
  if ((offered != diagnostic.fixes.end() && (offered->semantics != FixSemantics::Suspect || candidate.semantics == FixSemantics::Suspect)) ||
      !repairs(original, diagnostic, check)) {
    return;
  }
  Fix fix = candidate;
  record_result(fix, check.report, diagnostic.call, diagnostic.id);
  label_new_roles(fix, original, check.report);
  label_new_conditions(fix, original, check.report);
  label_dropped_conditions(fix, original, check.report);
  label_broadcast_meaning(fix, spec, original, diagnostic.call);
  label_self_pairing(fix, spec, self_paired);
  if (offered != diagnostic.fixes.end()) {
    if (fix.semantics != FixSemantics::Suspect) *offered = std::move(fix);
    return;
  }
  diagnostic.fixes.push_back(std::move(fix));
}

// Searches fixes for `targets`, diagnostics of one call (repair_candidates, then
// search_candidates): each candidate is re-checked once, for
// all of them, and its patched graph dropped before the next.
void search_call(const Spec& spec, const Report& original, const std::vector<Diagnostic*>& targets, const std::vector<AskedShape>& asked,
                 Rechecker& rechecker, const ReadIndex& reads, const CallIndex& calls, const std::set<std::string>& self_paired) {
  // The concrete repairs first: few, made for these diagnostics, outside kMaxSearched. None is
  // made once the budget affords no re-check: making them re-checks the graph too (insertion
  // candidates), and each would be dropped unchecked.
  std::vector<Fix> candidates;
  if (rechecker.affords()) {
    candidates = repair_candidates(spec, original, targets, asked);
    // Searched candidates past the re-checks the budget has left would be dropped unchecked:
    // none is made (making an insertion candidate re-checks the whole graph).
    const std::size_t left = rechecker.rechecks_left();
    const std::size_t room = std::min(kMaxSearched, left > candidates.size() ? left - candidates.size() : 0);
    for (Fix& searched : search_candidates(spec, original, targets.front()->call, room, reads, rechecker)) candidates.push_back(std::move(searched));
    add_twin_extensions(spec, calls, targets.front()->call, candidates);
  }
  for (const Fix& candidate : candidates) {
    std::shared_ptr<const Recheck> check = rechecker.budgeted(candidate.patch);
    if (!check) break;
    if (!check->usable) continue;
    for (Diagnostic* target : targets) add_searched(spec, original, self_paired, candidate, *check, *target);
  }
  for (Diagnostic* target : targets) {
    // Of fixes ranked alike, the outer broadcast that keeps the first operand's dims first.
    std::stable_partition(target->fixes.begin(), target->fixes.end(),
                          [&](const Fix& fix) { return keeps_first_operand_first(spec, original, target->call, fix); });
    std::stable_sort(target->fixes.begin(), target->fixes.end(), ranked_by(spec));
  }
}

// Whether a swap puts a tensor under the argument it is named for: src as src, q or query as
// query, mem as memory (the argument's name starts with the tensor's).
bool named_for_their_places(const nlohmann::json& swap) {
  return std::any_of(swap.begin(), swap.end(), [](const nlohmann::json& op) {
    if (!op["value"].is_string()) return false;
    const std::string path = op["path"].get<std::string>(), name = op["value"].get<std::string>();
    std::string argument = path.substr(path.rfind('/') + 1);
    return !name.empty() && argument.rfind(name, 0) == 0;
  });
}

// Whether a tensor's name says it is what attention reads, not what asks: the whole name or its
// last `_`-separated words one of memory, mem, context, ctx, enc_out, encoder_out,
// encoder_hidden_states (src_mem, encoder_memory; not memory_slots, member, enc_latents).
bool named_as_attended(const std::string& name) {
  const std::string lower = lowered(name);
  for (const std::string attended : {"memory", "mem", "context", "ctx", "enc_out", "encoder_out", "encoder_hidden_states"}) {
    if (lower == attended) return true;
    if (lower.size() > attended.size() && lower.compare(lower.size() - attended.size(), attended.size(), attended) == 0 &&
        lower[lower.size() - attended.size() - 1] == '_')
      return true;
  }
  return false;
}

// Whether a call other than `attention` reads the tensor `name` as its query.
bool read_as_query_elsewhere(const Spec& spec, const std::string& name, std::size_t attention) {
  for (std::size_t reader : spec.readers_of(name)) {
    if (reader == attention) continue;
    auto query = spec.calls[reader].tensors.find("query");
    if (query != spec.calls[reader].tensors.end() && query->second.kind == ArgRef::Kind::Named && query->second.name == name) return true;
  }
  return false;
}

// An attention output (its query's shape) added to a tensor the attention read as its key or
// value, by call `combined` (an add or sub: a residual), the attention being call `attention`:
// the residual belongs to the query's tensor (Perceiver's latents + cross_attn(latents, data)).
// The fix reads the query's tensor in the key's place; nullopt when the calls are not so.
std::optional<Fix> residual_on_query(const Spec& spec, const std::string& combined, const std::string& attention) {
  std::optional<std::size_t> at = call_index(spec, combined), by = call_index(spec, attention);
  if (!at || !by) return std::nullopt;
  const CallDecl& call = spec.calls[*at];
  const CallDecl& attend = spec.calls[*by];
  if ((call.op != "add" && call.op != "sub") || attend.outputs.empty()) return std::nullopt;
  auto named = [](const CallDecl& c, const std::string& argument) -> const ArgRef* {
    auto ref = c.tensors.find(argument);
    return ref != c.tensors.end() && ref->second.kind == ArgRef::Kind::Named ? &ref->second : nullptr;
  };
  const ArgRef *query = named(attend, "query"), *key = named(attend, "key"), *value = named(attend, "value");
  if (!query || !key) return std::nullopt;
  // A query named as what attention reads (mem, encoder_memory, context, enc_out): the
  // attention's arguments were given in each other's place, the residual is right. The name's
  // last words say what it is: memory_slots are queries (RMT's, Memformer's), encoder_memory is not.
  if (named_as_attended(query->name)) return std::nullopt;
  for (const auto& [kept, replaced] : {std::pair{"input", "other"}, std::pair{"other", "input"}}) {
    const ArgRef *output = named(call, kept), *residual = named(call, replaced);
    if (!output || !residual || output->name != attend.outputs.front() || residual->pointer.empty() || residual->name == query->name) continue;
    if (residual->name != key->name && !(value && residual->name == value->name)) continue;
    // The residual's tensor read as the query of another attention is the stream that attends
    // (a decoder's x, self-attending, then cross-attending as attn(mem, x, x)): the swap is the slip.
    if (read_as_query_elsewhere(spec, residual->name, *by)) continue;
    const std::string left = std::string(replaced) == "input" ? query->name : output->name;
    const std::string right = std::string(replaced) == "input" ? output->name : query->name;
    Fix fix;
    fix.description = fmt::format("add the residual to the query's tensor: {} {} {} in call \"{}\" ({} is call \"{}\"'s query, whose length its "
                                  "output has; {} is its key/value)",
                                  left, call.op == "add" ? "+" : "-", right, call.id, query->name, attention, residual->name);
    fix.patch = nlohmann::json::array({{{"op", "replace"}, {"path", residual->pointer}, {"value", query->name}}});
    fix.semantics = FixSemantics::Consistent;
    fix.semantics_note = "an attention's output has its query's shape: the residual adds it to the query's tensor";
    return fix;
  }
  return std::nullopt;
}

// A condition (MHA080, valid only if T == S) that exchanging two arguments of a call at or before
// its own removes, leaving a graph that PyTorch accepts with no diagnostic the original lacks and
// fewer conditions: the arguments were given in each other's place (nn.Transformer called
// (tgt, src), cross-attention called attn(memory, x, x)), and the condition ties the sizes of
// two different inputs, which hold apart for every other size. Such a condition is an error
// (MHA083) whose first fix is the swap, unless the condition is on a mask. Each call's swaps are
// re-checked once for the report.
void diagnose_swapped_arguments(const Spec& spec, Report& report, Rechecker& rechecker) {
  std::map<std::size_t, std::vector<std::pair<Fix, std::shared_ptr<const Recheck>>>> swaps;  // call index -> its swaps, checked
  auto checked_swaps = [&](std::size_t index) -> const std::vector<std::pair<Fix, std::shared_ptr<const Recheck>>>& {
    auto found = swaps.find(index);
    if (found != swaps.end()) return found->second;
    std::vector<std::pair<Fix, std::shared_ptr<const Recheck>>>& made = swaps[index];
    for (Fix& candidate : argument_swap_candidates(spec, index)) {
      std::shared_ptr<const Recheck> check = rechecker.budgeted(candidate.patch);
      if (!check) break;
      if (check->usable) made.emplace_back(std::move(candidate), std::move(check));
    }
    return made;
  };
  auto conditions = [](const Report& checked) {
    return std::count_if(checked.diagnostics.begin(), checked.diagnostics.end(),
                         [](const Diagnostic& d) { return d.id == DiagId::SymbolConstraint; });
  };
  auto explains = [&](const Diagnostic& condition, const Report& patched) {
    if (still_present(patched, condition) || patched.count(Severity::Error) > report.count(Severity::Error)) return false;
    if (conditions(patched) >= conditions(report)) return false;
    return std::none_of(patched.diagnostics.begin(), patched.diagnostics.end(), [&](const Diagnostic& d) {
      return d.severity() != Severity::Note && !still_present(report, d);
    });
  };
  for (Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.id != DiagId::SymbolConstraint || diagnostic.call.empty()) continue;
    std::optional<std::size_t> last;
    for (std::size_t i = 0; i < spec.calls.size(); ++i) {
      if (spec.calls[i].id == diagnostic.call) last = i;
    }
    std::optional<Fix> swap;
    std::string swapped_call;
    for (std::size_t index = 0; last && index <= *last && !swap; ++index) {
      for (const auto& [candidate, check] : checked_swaps(index)) {
        if (!explains(diagnostic, check->report)) continue;
        swap = candidate;
        record_result(*swap, check->report, diagnostic.call);
        swapped_call = spec.calls[index].id;
        break;
      }
    }
    if (!swap || swap->semantics == FixSemantics::Suspect) continue;
    // A condition on a mask alone is no evidence of a swap: a mask is written for one sequence,
    // and one written for the other (a key_padding_mask of the query's length, an (S, L)
    // attn_mask) is the likelier slip, whose own fixes then come first. The tensors' names can
    // say it: tgt passed as src.
    if (diagnostic.argument.find("mask") != std::string::npos && !named_for_their_places(swap->patch)) continue;
    // The condition is at a residual that adds the attention's output to its key/value tensor:
    // the swap makes that tensor attend to the query's, another computation; the residual's
    // operand is the slip.
    if (std::optional<Fix> residual = residual_on_query(spec, diagnostic.call, swapped_call)) {
      std::shared_ptr<const Recheck> check = rechecker.check(residual->patch);
      if (check->usable && explains(diagnostic, check->report)) {
        record_result(*residual, check->report, diagnostic.call);
        swap->semantics = FixSemantics::Suspect;
        swap->semantics_note = fmt::format("the key/value tensor would then attend to the query's: call \"{}\" computes another attention, "
                                           "whose output fits the residual only so",
                                           swapped_call);
        diagnostic.id = DiagId::RoleCondition;
        std::erase(diagnostic.notes, kBindSymbolsNote);
        diagnostic.message += fmt::format(", but call \"{}\" adds the output of call \"{}\", which has its query's length, to that call's "
                                          "key/value tensor",
                                          diagnostic.call, swapped_call);
        diagnostic.notes.insert(diagnostic.notes.begin(), "an attention's output has its query's shape: PyTorch fails whenever the query's "
                                                          "and the keys' lengths differ");
        diagnostic.fixes.insert(diagnostic.fixes.begin(), std::move(*swap));
        diagnostic.fixes.insert(diagnostic.fixes.begin(), std::move(*residual));
        std::stable_sort(diagnostic.fixes.begin(), diagnostic.fixes.end(), ranked_by(spec));
        continue;
      }
    }
    // One argument replaced (the value given the key's tensor) or two exchanged.
    const bool replaced = swap->patch.size() == 1;
    swap->semantics = FixSemantics::Consistent;
    swap->semantics_note = replaced ? "key and value then come from one source, and the graph holds for every size"
                                    : "with the arguments in their places the graph holds for every size";
    diagnostic.id = DiagId::RoleCondition;
    // The condition's advice to bind the symbols or name them alike (CallContext::same) no longer
    // applies: the sizes are of two different inputs.
    std::erase(diagnostic.notes, kBindSymbolsNote);
    diagnostic.message += replaced ? fmt::format(", but the sizes come from the query's tensor given in call \"{}\" where the other "
                                                 "source's is meant", swapped_call)
                                   : fmt::format(", but the sizes come from two arguments of call \"{}\" given in each other's place", swapped_call);
    diagnostic.notes.insert(diagnostic.notes.begin(),
                            replaced ? "the condition ties the sizes of two different inputs: key and value come from one source, and with "
                                       "the query's tensor in the place of one of them PyTorch fails whenever the sizes differ"
                                     : "the condition ties the sizes of two different inputs: it comes from arguments given in each other's place "
                                       "(swapped, the graph holds for every size), and PyTorch fails whenever the sizes differ");
    diagnostic.fixes.insert(diagnostic.fixes.begin(), std::move(*swap));
    std::stable_sort(diagnostic.fixes.begin(), diagnostic.fixes.end(), ranked_by(spec));
  }
}

// A module's constructor that fails or disagrees with its input (nn.TransformerEncoderLayer(
// d_model, dim_feedforward, nhead): 2048 heads of a 512-wide model) because two of its integer
// arguments were given in each other's place. Exchanging the values of two integer options
// written in the constructor, in PyTorch's positional order, that leaves the whole graph with
// no error and no new warning is the first fix: every size then is the one declared, where
// changing one value (num_heads=512) keeps the other in the wrong place (an 8-wide feed-forward).
// Each module's exchanges are re-checked at most once for the report.
void diagnose_exchanged_options(const Spec& spec, Report& report, Rechecker& rechecker) {
  std::set<std::string> tried;  // modules
  for (Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.severity() != Severity::Error || diagnostic.argument.rfind("module.", 0) != 0) continue;
    std::optional<std::size_t> index = call_index(spec, diagnostic.call);
    if (!index || spec.calls[*index].module.empty() || !tried.insert(spec.calls[*index].module).second) continue;
    const ModuleDecl* module = spec.find_module(spec.calls[*index].module);
    const nlohmann::json::json_pointer at(module ? module->pointer : "");
    if (!module || !module->path_in_call.empty() || !spec.value().contains(at)) continue;
    const nlohmann::json& written = spec.value()[at];
    nlohmann::json object;
    try {
      object = module->written_as_call && written.is_string() ? parse_module_call(written.get<std::string>(), Location{}) : written;
    } catch (const std::exception&) {
      continue;
    }
    const ModuleSchema* schema = find_module_schema(module->type);
    if (!schema || !object.is_object()) continue;
    std::vector<std::string> sizes;  // integer options written, in positional order
    for (const OptionSchema& option : schema->options) {
      bool integer = option.kind == OptionKind::Int || option.kind == OptionKind::OptionalInt;
      if (integer && object.contains(option.name) && object[option.name].is_number_integer() && object[option.name].get<std::int64_t>() > 0) {
        sizes.push_back(option.name);
      }
    }
    std::optional<Fix> exchange;
    for (std::size_t a = 0; a < sizes.size() && !exchange; ++a) {
      for (std::size_t b = a + 1; b < sizes.size() && !exchange; ++b) {
        if (object[sizes[a]] == object[sizes[b]]) continue;
        nlohmann::json edited = object;
        std::swap(edited[sizes[a]], edited[sizes[b]]);
        nlohmann::json patch = nlohmann::json::array();
        std::string text;
        if (module->written_as_call) {
          text = module_call_text(edited);
          patch.push_back({{"op", "replace"}, {"path", module->pointer}, {"value", text}});
        } else {
          for (const std::string& name : {sizes[a], sizes[b]}) {
            patch.push_back({{"op", "replace"}, {"path", child_pointer(module->pointer, name)}, {"value", edited[name]}});
          }
        }
        std::shared_ptr<const Recheck> check = rechecker.budgeted(patch);
        if (check == nullptr) return;  // the search's work is spent, for good: no module can be tried
        if (!check->usable || check->report.count(Severity::Error) != 0 ||
            std::any_of(check->report.diagnostics.begin(), check->report.diagnostics.end(),
                        [&](const Diagnostic& d) { return d.severity() != Severity::Note && !still_present(report, d); })) {
          continue;
        }
        Fix fix;
        fix.description = fmt::format("swap {} and {}, given in each other's place: {}={}, {}={}{}", sizes[a], sizes[b], sizes[a],
                                      edited[sizes[a]].dump(), sizes[b], edited[sizes[b]].dump(), text.empty() ? "" : " (" + text + ")");
        fix.patch = std::move(patch);
        fix.semantics = FixSemantics::Consistent;
        fix.semantics_note = fmt::format("with {} and {} in their places every size of the graph is the one declared", sizes[a], sizes[b]);
        record_result(fix, check->report, diagnostic.call);
        exchange = std::move(fix);
      }
    }
    if (!exchange) continue;
    for (Diagnostic& same : report.diagnostics) {
      if (same.severity() != Severity::Error || same.call != diagnostic.call || same.argument.rfind("module.", 0) != 0) continue;
      same.fixes.insert(same.fixes.begin(), *exchange);
      std::stable_sort(same.fixes.begin(), same.fixes.end(), ranked_by(spec));
    }
  }
}

// Errors, role warnings and conditions that no rule's fix repairs soundly.
// A condition (MHA080) with no sound fix too, when it is its call's only finding: valid only
// while two sizes happen to agree, it is often a wrong operand (query positions added to the
// memory) that a searched repair removes. Beside another finding it is that one's symptom, which
// the other's own fix repairs (one cause, one diagnostic).
bool wants_search(const Spec& spec, const Report& report, const Diagnostic& diagnostic) {
  bool alone = diagnostic.id == DiagId::SymbolConstraint &&
               std::none_of(report.diagnostics.begin(), report.diagnostics.end(), [&](const Diagnostic& other) {
                 return &other != &diagnostic && other.call == diagnostic.call && other.severity() != Severity::Note;
               });
  // Stretched rows (MHA371) are no role clash: a fix that removes them says nothing about roles
  // (transposing the scores removes them too), but only a searched slice repairs them.
  // A slice whose length depends on an unbound symbol (MHA303: k[:, :, -W:] of N) is no fault of
  // the program: its cure is a binding, and a relayout "removes" it only by moving a number under
  // the slice (a transpose that slices the heads), not by repairing anything.
  const std::optional<std::size_t> at = call_index(spec, diagnostic.call);
  bool unbound_slice = diagnostic.id == DiagId::ShapeNotDerivable && at && spec.calls[*at].op == "getitem";
  bool kind = (diagnostic.severity() == Severity::Error && !unbound_slice) || is_role_diagnostic(diagnostic.id) || alone ||
              diagnostic.id == DiagId::ProductRowsStretched;
  return kind && !diagnostic.call.empty() && !has_good_fix(spec, diagnostic);
}

// Whether `path` is where a module is written as a constructor string.
bool is_constructor_string(const Spec& spec, const std::string& path) {
  return std::any_of(spec.modules.begin(), spec.modules.end(),
                     [&](const ModuleDecl& module) { return module.written_as_call && module.pointer == path; });
}

// Appends `fix`'s operations to `patch`, but not one that is already there (two errors may
// pick the same searched fix). Two fixes that each rewrite a module written as a constructor
// string are merged into one string carrying both fixes' changes: the later fix's arguments
// that differ from the spec's own string (kdim=64 and vdim=64, not the later fix's unchanged
// kdim=128 over the earlier's kdim=64). Other replaced strings (a renamed output) are not
// merged: the combination is then re-checked as written.
void append_patch(const Spec& spec, nlohmann::json& patch, const nlohmann::json& fix) {
  for (const auto& op : fix) {
    if (std::find(patch.begin(), patch.end(), op) != patch.end()) continue;
    auto same_path = std::find_if(patch.begin(), patch.end(), [&](const nlohmann::json& earlier) {
      return earlier["path"] == op["path"] && earlier["op"] == "replace" && op["op"] == "replace" &&
             earlier["value"].is_string() && op["value"].is_string();
    });
    if (same_path == patch.end() || !is_constructor_string(spec, op["path"].get<std::string>())) {
      patch.push_back(op);
      continue;
    }
    const nlohmann::json& written = spec.value().at(nlohmann::json::json_pointer(op["path"].get<std::string>()));
    nlohmann::json original = parse_module_call(written.get<std::string>(), Location{});
    nlohmann::json merged = parse_module_call((*same_path)["value"].get<std::string>(), Location{});
    nlohmann::json later = parse_module_call(op["value"].get<std::string>(), Location{});
    for (const auto& [option, value] : later.items()) {
      if (!original.contains(option) || original[option] != value) merged[option] = value;
    }
    (*same_path)["value"] = module_call_text(merged);
  }
}

// When no single fix makes a call valid, looks for one fix per error that together do.
void combine_fixes(const Spec& spec, Report& report, Rechecker& rechecker, const std::string& call) {
  std::vector<Diagnostic*> errors;
  for (Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.call == call && diagnostic.severity() == Severity::Error) errors.push_back(&diagnostic);
  }
  if (errors.size() < 2) return;
  for (Diagnostic* error : errors) {
    for (const Fix& fix : error->fixes) {
      if (fix.valid()) return;  // a single fix already does it
    }
    if (error->fixes.empty()) return;
  }
  std::vector<std::size_t> choice(errors.size(), 0);
  for (std::size_t tried = 0; tried < kMaxCombinations; ++tried) {
    nlohmann::json patch = nlohmann::json::array();
    std::string description;
    bool suspect = false;
    std::string suspect_note;
    std::vector<const Fix*> chosen;
    for (std::size_t i = 0; i < errors.size(); ++i) {
      const Fix& fix = errors[i]->fixes[choice[i]];
      // A searched fix is offered to every error of its call it repairs: once is enough.
      if (std::any_of(chosen.begin(), chosen.end(), [&](const Fix* earlier) { return earlier->patch == fix.patch; })) continue;
      append_patch(spec, patch, fix.patch);
      description += (chosen.empty() ? "" : "; and ") + fix.description;
      chosen.push_back(&fix);
      if (fix.semantics == FixSemantics::Suspect && !suspect) {
        suspect = true;
        suspect_note = fix.semantics_note;
      }
    }
    std::shared_ptr<const Recheck> check = rechecker.check(patch);
    if (check->usable && check->report.count(Severity::Error) == 0) {
      Fix combined;
      combined.description = "all together: " + description;
      combined.patch = std::move(patch);
      if (suspect) {
        combined.semantics = FixSemantics::Suspect;
        combined.semantics_note = suspect_note;
      }
      record_result(combined, check->report, call);
      auto& fixes = errors.front()->fixes;
      fixes.insert(std::upper_bound(fixes.begin(), fixes.end(), combined, ranked_by(spec)), std::move(combined));
      return;
    }
    // Next combination, like an odometer.
    std::size_t i = 0;
    while (i < errors.size() && ++choice[i] == errors[i]->fixes.size()) choice[i++] = 0;
    if (i == errors.size()) return;
  }
}

// Which of a group of findings with one cause is reported: the most severe (an error PyTorch
// raises is never hidden under a warning), then the one PyTorch raises first, then a role
// diagnostic (the cause rather than its symptom: MHA241 rather than the MHA080 condition it
// makes). Ties go to the first met, upstream.
bool leads_group(const Diagnostic& a, const Diagnostic& b) {
  if (a.severity() != b.severity()) return a.severity() < b.severity();
  auto raises_first = [](const Diagnostic& d) {
    return d.pytorch_error && d.pytorch_error->kind == PytorchError::Kind::Raises && d.pytorch_error->raised_first;
  };
  if (raises_first(a) != raises_first(b)) return raises_first(a);
  return is_role_diagnostic(a.id) && !is_role_diagnostic(b.id);
}

// One cause, one diagnostic: a finding whose first fix is sound (PyTorch accepts the whole
// patched graph, the roles agree) and also makes other warnings and errors go away explains
// them: one wrong choice (batch_first, a transpose missing where the layout entered, a merged
// dim not split) seen from several calls or checks. The group is reported once, by its
// leading diagnostic (leads_group); the others become its notes ("same cause"), with their
// places as related locations, and that fix comes first. The report's counts, and so the exit
// code, are then the leaders'. Each finding joins one group at most.
void fold_same_causes(Report& report, Rechecker& rechecker) {
  std::vector<Diagnostic>& diagnostics = report.diagnostics;
  auto finding = [](const Diagnostic& d) { return d.severity() != Severity::Note && !d.call.empty(); };
  if (std::count_if(diagnostics.begin(), diagnostics.end(), finding) < 2) return;
  std::vector<bool> grouped(diagnostics.size(), false), folded(diagnostics.size(), false);
  std::size_t checks = 0;
  for (std::size_t i = 0; i < diagnostics.size() && checks < kMaxFoldChecks; ++i) {
    if (grouped[i] || !finding(diagnostics[i]) || diagnostics[i].fixes.empty()) continue;
    Fix cause = diagnostics[i].fixes.front();
    if (!cause.valid() || cause.semantics == FixSemantics::Suspect) continue;
    ++checks;
    std::shared_ptr<const Recheck> check = rechecker.check(cause.patch);
    if (!check->usable) continue;
    std::vector<std::size_t> group{i};
    for (std::size_t j = 0; j < diagnostics.size(); ++j) {
      if (j != i && !grouped[j] && finding(diagnostics[j]) && !still_present(check->report, diagnostics[j])) group.push_back(j);
    }
    if (group.size() < 2) continue;
    std::sort(group.begin(), group.end());  // ties lead by order met
    std::size_t lead = *std::min_element(group.begin(), group.end(), [&](std::size_t a, std::size_t b) {
      return leads_group(diagnostics[a], diagnostics[b]);
    });
    Diagnostic& primary = diagnostics[lead];
    for (std::size_t j : group) {
      grouped[j] = true;
      if (j == lead) continue;
      folded[j] = true;
      const Diagnostic& same = diagnostics[j];
      primary.notes.push_back(fmt::format("same cause: {} {}", same.info().code, same.message));
      if (same.call != primary.call && same.location.known()) {
        primary.related.push_back({fmt::format("same cause: {} at call \"{}\"", same.info().code, same.call), same.location});
      }
    }
    // That fix first: the primary's own wording of it when it has one.
    auto own = std::find_if(primary.fixes.begin(), primary.fixes.end(), [&](const Fix& fix) { return fix.patch == cause.patch; });
    if (own != primary.fixes.end()) {
      std::rotate(primary.fixes.begin(), own, own + 1);
      continue;
    }
    if (primary.call != diagnostics[i].call) {  // the outputs a fix lists are its diagnostic's call's
      const CallReport* patched_call = call_report(check->report, primary.call);
      cause.outputs = patched_call ? patched_call->outputs : std::vector<NamedOutput>{};
    }
    primary.fixes.insert(primary.fixes.begin(), std::move(cause));
  }
  std::vector<Diagnostic> kept;
  for (std::size_t i = 0; i < diagnostics.size(); ++i) {
    if (!folded[i]) kept.push_back(std::move(diagnostics[i]));
  }
  diagnostics = std::move(kept);
}

// A rule's shape to pass that is the tensor's own dims cut short ("pass a (L, S) attn_mask" for
// an (L, S+1) mask, a column added by hand for the bias key nn.MultiheadAttention appends
// itself) says how to make it from the tensor: "attn_mask[:, :S]".
void say_how_to_cut(Fix& fix, const Spec& spec, const std::string& argument) {
  if (fix.description.rfind("pass ", 0) != 0) return;  // a fix that says how already
  std::optional<std::string> index = cut_index(spec, fix);
  if (!index) return;
  const std::string path = fix.patch[0].value("path", ""), tensors = "/tensors/";
  std::string name = argument;
  if (path.rfind(tensors, 0) == 0) name = path.substr(tensors.size(), path.find('/', tensors.size()) - tensors.size());
  if (name.empty()) return;
  fix.description += fmt::format(": {}{}", name, *index);
}

}  // namespace

void verify_fix(const Spec& spec, Fix& fix, const std::string& call) {
  std::shared_ptr<const Recheck> patched = Rechecker(spec).check(fix.patch);
  if (patched->usable) record_result(fix, patched->report, call);
}

void verify_fixes(const Spec& spec, Report& report) {
  // The rules' fixes that ask for other values, by call, before verification drops those that
  // break another reader of the tensor: the shapes they name guide the search.
  std::map<std::string, std::vector<AskedShape>> asked;
  const CallIndex calls(spec, report);  // report.calls stay as they are below
  const std::set<std::string> self_paired = self_pairings(spec.value());
  // Every re-check of the report, the search's bounded by work (kSearchWork).
  Rechecker rechecker(spec, kSearchWork);
  for (Diagnostic& diagnostic : report.diagnostics) {
    for (Fix& fix : diagnostic.fixes) {
      if (asks_for_other_values(spec, fix)) asked[diagnostic.call].push_back({diagnostic.argument, fix});
      say_how_to_cut(fix, spec, diagnostic.argument);
    }
    if (!diagnostic.fixes.empty()) verify_diagnostic(spec, report, calls, self_paired, rechecker, diagnostic);
  }
  // Searched fixes, call by call in the order of their first diagnostic.
  diagnose_exchanged_options(spec, report, rechecker);
  diagnose_swapped_arguments(spec, report, rechecker);
  std::set<std::string> searched;
  std::optional<ReadIndex> reads;  // built for the first search, when there is one
  for (const Diagnostic& first : report.diagnostics) {
    if (!wants_search(spec, report, first) || !searched.insert(first.call).second) continue;
    std::vector<Diagnostic*> targets;
    for (Diagnostic& diagnostic : report.diagnostics) {
      if (diagnostic.call == first.call && wants_search(spec, report, diagnostic)) targets.push_back(&diagnostic);
    }
    if (!reads) reads.emplace(spec);
    search_call(spec, report, targets, asked[first.call], rechecker, *reads, calls, self_paired);
  }
  // Findings of one cause are grouped by single fixes only: a combination ("all together")
  // repairs several causes at once.
  fold_same_causes(report, rechecker);
  for (const CallReport& call : report.calls) {
    if (!call.ok) combine_fixes(spec, report, rechecker, call.id);
  }
}

}  // namespace mhacheck
