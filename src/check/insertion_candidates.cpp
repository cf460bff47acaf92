#include "insertion_candidates.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "call_context.hpp"
#include "dim_origin.hpp"
#include "fix_search.hpp"
#include "mhacheck/python_text.hpp"
#include "core/text.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

// One call inserted before the failing call on one argument: its op and arguments, the shape it
// gives (by the dims' written names), how Python writes it, and whether it takes a dim named as a
// batch away from dim 0 (squeezed, merged with another dim, moved).
struct Insertion {
  nlohmann::json arguments;  // {"op": "flatten", "start_dim": 0, "end_dim": 1}
  std::string python;        // ".flatten(0, 1)"
  bool moves_batch = false;
  std::string why_suspect;
};

Insertion insertion_of(nlohmann::json arguments, std::string python) {
  Insertion made;
  made.arguments = std::move(arguments);
  made.python = std::move(python);
  return made;
}

// The argument's dims by their written names ("B", "T"), sizes where unnamed ("14").
std::vector<std::string> dim_labels(const ResolvedArgument& resolved) {
  const Shape& written = resolved.written();
  std::vector<std::string> labels;
  for (const DimExpr& dim : written) labels.push_back(dim.str());
  return labels;
}

// A dim's role by its label, a multiple of a batch (2*B: a batch doubled by cat) being a batch.
DimRole role_of_label(const std::string& label) {
  DimRole role = role_of_name(label);
  if (role != DimRole::Unknown || label.find('*') == std::string::npos) return role;
  for (const std::string& factor : split_at(label, '*')) {
    if (role_of_name(factor) == DimRole::Batch) return DimRole::Batch;
  }
  return DimRole::Unknown;
}

bool named_batch(const std::vector<std::string>& labels, std::size_t d) {
  return d < labels.size() && role_of_label(labels[d]) == DimRole::Batch;
}

bool is_one(const Report& report, const DimExpr& dim) {
  return report.symbols.compare(dim, DimExpr::constant(1)) == Symbols::Verdict::Equal;
}

// A size that is a square plus one, above 4 (197 = 14*14 + 1: ViT's class token and 196 patches).
bool square_plus_one(const DimExpr& dim) {
  if (!dim.is_constant() || dim.offset < 5) return false;
  auto root = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(dim.offset - 1))));
  return root * root == dim.offset - 1;
}

std::vector<Insertion> insertions(const Report& report, const ResolvedArgument& resolved) {
  std::vector<Insertion> made;
  const Shape& shape = resolved.shape;
  std::vector<std::string> labels = dim_labels(resolved);
  int rank = static_cast<int>(shape.size());
  // Merges, later dims first: the batch merged with its neighbour is the last resort (a clip's
  // frames into a per-frame Conv2d), where a channel-last map's H and W merge into a sequence.
  for (int a = rank - 2; a >= 0 && rank >= 3; --a) {
    // Merging a dim of 1 is a squeeze, offered as one.
    if (is_one(report, shape[static_cast<std::size_t>(a)]) || is_one(report, shape[static_cast<std::size_t>(a) + 1])) continue;
    Insertion flatten = insertion_of({{"op", "flatten"}, {"start_dim", a}, {"end_dim", a + 1}}, fmt::format(".flatten({}, {})", a, a + 1));
    // A batch merged with a dim named as a sequence, heads or features mixes what the batch
    // keeps apart; with an unnamed dim (a clip's frames) it may be a batch of frames.
    // Two dims merged keep what they stand for when they play one role (two unnamed sizes: a
    // map's height and width; two batch-like dims) or when a batch takes in the unnamed dim after
    // it (a clip's frames, run as a batch of images). Otherwise each loses its role: heads
    // merged with the head size, a sequence with the features.
    auto first = static_cast<std::size_t>(a), second = first + 1;
    DimRole outer = role_of_label(labels[first]), inner = role_of_label(labels[second]);
    // A clip (B, F, C, H, W) or a batch of sequences of frames (B, F, C, T): at least 4-D.
    bool frames_into_batch = a == 0 && rank >= 4 && outer == DimRole::Batch && inner == DimRole::Unknown;
    if (outer != inner && !frames_into_batch) {
      flatten.moves_batch = true;
      flatten.why_suspect = fmt::format("it merges {} ({}) with {} ({})", labels[first], outer == DimRole::Unknown ? "unnamed" : role_name(outer),
                                        labels[second], inner == DimRole::Unknown ? "unnamed" : role_name(inner));
    }
    made.push_back(std::move(flatten));
  }
  for (int d = rank - 1; d >= 0; --d) {
    if (!is_one(report, shape[static_cast<std::size_t>(d)])) continue;
    int from_end = d - rank;  // squeeze(-1): the last dim named, which a batch of one keeps
    Insertion squeeze = insertion_of({{"op", "squeeze"}, {"dim", d}}, fmt::format(".squeeze({})", d == rank - 1 ? from_end : d));
    if (named_batch(labels, static_cast<std::size_t>(d))) {
      squeeze.moves_batch = true;
      squeeze.why_suspect = "it drops the batch dim";
    }
    made.push_back(std::move(squeeze));
  }
  for (int d = 1; d <= rank; ++d) {  // a dim of 1 before the batch: the batch is no longer dim 0
    made.push_back(insertion_of({{"op", "unsqueeze"}, {"dim", d}}, fmt::format(".unsqueeze({})", d)));
  }
  Insertion leading = insertion_of({{"op", "unsqueeze"}, {"dim", 0}}, ".unsqueeze(0)");
  leading.moves_batch = named_batch(labels, 0);
  leading.why_suspect = "the batch dim is then dim 1";
  made.push_back(std::move(leading));
  for (int d = 0; d < rank; ++d) {
    if (!square_plus_one(shape[static_cast<std::size_t>(d)])) continue;
    std::string index;
    for (int before = 0; before < d; ++before) index += ":, ";
    index = fmt::format("[{}1:]", index);
    made.push_back(insertion_of({{"op", "getitem"}, {"index", index}}, index));
  }
  return made;
}

// The patch inserting `calls` (each reading the previous one's output, the first the argument)
// right before call `index` and giving the last one's output to the argument.
nlohmann::json insertion_patch(const Spec& spec, std::size_t index, const ArgRef& ref, std::vector<nlohmann::json> calls) {
  nlohmann::json patch = nlohmann::json::array();
  std::string input = ref.name;
  std::set<std::string> taken;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    std::string op = calls[i]["op"].get<std::string>();
    std::string output = fresh_name(spec, fmt::format("{}_{}", ref.name, op));
    for (int n = 2; taken.count(output) != 0; ++n) output = fresh_name(spec, fmt::format("{}_{}_{}", ref.name, op, n));
    taken.insert(output);
    calls[i]["id"] = output;
    calls[i]["input"] = input;
    calls[i]["outputs"] = {output};
    patch.push_back({{"op", "add"}, {"path", CallContext::calls_entry_pointer(index + i)}, {"value", calls[i]}});
    input = output;
  }
  // Every argument given the same tensor reads the new one (query, key and value alike).
  const CallDecl& call = spec.calls[index];
  for (const auto& [name, given] : call.tensors) {
    if (given.kind != ArgRef::Kind::Named || given.name != ref.name || !CallContext::written_inside(call, given.pointer)) continue;
    std::string argument = given.pointer.substr(call.pointer.size());
    patch.push_back({{"op", "replace"}, {"path", fmt::format("/calls/{}{}", index + calls.size(), argument)}, {"value", input}});
  }
  return patch;
}

Fix inserted(std::string description, nlohmann::json patch, const Insertion* insertion) {
  Fix fix;
  fix.description = std::move(description);
  fix.patch = std::move(patch);
  if (insertion && insertion->moves_batch) {
    fix.semantics = FixSemantics::Suspect;
    fix.semantics_note = insertion->why_suspect;
  }
  return fix;
}

// One tensor read by two arguments of a call in two layouts: another argument reads it through a
// transpose or permute (SASRec's query from seqs.transpose(0, 1), its keys from seqs itself).
// The argument that reads it as it is disagrees with the others: the same transpose inserted on
// it alone, before the call, lays it out as they are, where a change of the input or of the
// module's layout would move the others too.
std::optional<Fix> relaid_like_sibling(const Spec& spec, std::size_t index, const ArgRef& ref) {
  const CallDecl& call = spec.calls[index];
  for (std::size_t before = 0; before < index; ++before) {
    const CallDecl& relayout = spec.calls[before];
    if ((relayout.op != "transpose" && relayout.op != "permute") || input_name(relayout, "input") != ref.name) continue;
    // Another argument reads the transpose's output, through calls that keep its layout (a LayerNorm).
    const bool sibling = std::any_of(call.tensors.begin(), call.tensors.end(), [&](const auto& entry) {
      if (entry.second.kind != ArgRef::Kind::Named || entry.second.name == ref.name) return false;
      std::string name = entry.second.name;
      const CallDecl* before_call = &call;
      for (int step = 0; step < 16; ++step) {
        const CallDecl* made = producer_of(spec, name, before_call);
        if (made == &relayout) return true;
        if (made == nullptr || !keeps_layout(spec, *made)) return false;
        name = input_name(*made, "input");
        before_call = made;
      }
      return false;
    });
    if (!sibling) continue;
    nlohmann::json inserted_call = {{"op", relayout.op}};
    std::string python;
    if (relayout.op == "transpose") {
      inserted_call["dim0"] = relayout.arguments.at("dim0");
      inserted_call["dim1"] = relayout.arguments.at("dim1");
      python = fmt::format(".transpose({}, {})", relayout.arguments.at("dim0").dump(), relayout.arguments.at("dim1").dump());
    } else {
      inserted_call["dims"] = relayout.arguments.at("dims");
      python = fmt::format(".permute({})", fmt::join(relayout.arguments.at("dims").get<std::vector<std::int64_t>>(), ", "));
    }
    std::vector<std::string> readers;
    for (const auto& [argument, given] : call.tensors) {
      if (given.kind == ArgRef::Kind::Named && given.name == ref.name) readers.push_back(argument);
    }
    Fix fix = inserted(fmt::format("pass {}{} as {}: laid out as call \"{}\" lays it out for the other arguments", ref.name, python,
                                   fmt::join(readers, " and "), relayout.id),
                       insertion_patch(spec, index, ref, {inserted_call}), nullptr);
    fix.semantics = FixSemantics::Consistent;
    fix.semantics_note = "every argument then reads the tensor in the one layout the code gave it";
    return fix;
  }
  return std::nullopt;
}

// The lower-rank operand of a broadcast given the size-1 dims it lacks so that each of its dims
// lands on the other operand's dim of the same size, in order (channel weights (B, C) against
// x (B, C, H, W): w[:, :, None, None]; a shift (B, E) against tokens (B, T, E): shift[:, None]).
// Broadcasting aligns dims from the right; an engineer aligns them by what they are. Each index
// that does so, with at most 6 dims on the other side, the nearest to broadcasting's right
// alignment first: each of the operand's dims is counted by how far left of its right-aligned
// place it lands, so its last dim on the other's last comes before it on an earlier one. A
// padding mask or key bias (B, T) against scores (B, H, T, T) then meets the keys, the last dim,
// as PyTorch's attention masks do: bias[:, None, None] before bias[:, None, :, None].
std::vector<std::string> aligning_indices(const Shape& lower, const Shape& higher) {
  std::vector<std::string> indices;
  const std::size_t k = lower.size(), n = higher.size();
  if (k == 0 || k >= n || n > 6) return indices;
  std::vector<std::pair<std::size_t, std::string>> by_shift;  // (how far left of right alignment, index)
  // Every increasing choice of k positions among n, as a bit mask.
  for (unsigned mask = 0; mask < (1u << n); ++mask) {
    if (static_cast<std::size_t>(__builtin_popcount(mask)) != k) continue;
    std::vector<std::string> index;
    std::size_t next = 0, shift = 0;
    bool lands = true, sized = false;
    for (std::size_t d = 0; d < n; ++d) {
      if ((mask & (1u << d)) == 0) {
        index.push_back("None");
        continue;
      }
      shift += (n - k + next) - d;
      const DimExpr& own = lower[next++];
      if (own == DimExpr::constant(1)) {
        index.push_back(":");
        continue;
      }
      lands = lands && own == higher[d];
      sized = true;
      index.push_back(":");
    }
    if (!lands || !sized) continue;
    while (!index.empty() && index.back() == ":") index.pop_back();
    by_shift.emplace_back(shift, fmt::format("[{}]", fmt::join(index, ", ")));
  }
  std::stable_sort(by_shift.begin(), by_shift.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [shift, index] : by_shift) indices.push_back(std::move(index));
  return indices;
}

// The shape `report` gives the tensor `name`: a call's output, else a declared tensor; empty when
// none (an output of a call that failed).
Shape reported_shape(const Report& report, const std::string& name) {
  for (const CallReport& made : report.calls) {
    for (const NamedOutput& output : made.outputs) {
      if (output.name == name) return output.shape;
    }
  }
  for (const DeclaredTensor& tensor : report.tensors) {
    if (tensor.name == name) return tensor.shape;
  }
  return {};
}

// aligning_indices for argument `resolved` of call `index` against `other`, each index inserted
// on the operand before the call. The same slip repeated on the result (x * (1 + scale) + shift,
// each (B, E) against (B, T, E) tokens): later arithmetic calls that read this call's result,
// or what such a call made of it, with an operand of the same shape, get the same index on that
// operand, in the same fix.
std::vector<Fix> aligned_operand_candidates(const Spec& spec, const Report& report, std::size_t index, const ArgRef& ref,
                                            const ResolvedArgument& resolved, const ResolvedArgument& other) {
  static const std::set<std::string, std::less<>> arithmetic = {"add", "sub", "mul", "div"};
  std::vector<Fix> fixes;
  const CallDecl& call = spec.calls[index];
  auto other_ref = call.tensors.find(other.name);
  const std::string other_name =
      other_ref != call.tensors.end() && other_ref->second.kind == ArgRef::Kind::Named ? other_ref->second.name : other.name;
  // The later operands alike: (call index, the operand's reference).
  std::vector<std::pair<std::size_t, const ArgRef*>> repeated;
  std::set<std::string> results(call.outputs.begin(), call.outputs.end());
  for (std::size_t later = index + 1; later < spec.calls.size() && arithmetic.count(call.op) != 0; ++later) {
    const CallDecl& reader = spec.calls[later];
    if (arithmetic.count(reader.op) == 0 || !CallContext::is_calls_entry(reader, later)) continue;
    const ArgRef* result = nullptr;
    const ArgRef* alike = nullptr;
    for (const auto& [argument, given] : reader.tensors) {
      if (given.kind != ArgRef::Kind::Named) continue;
      if (results.count(given.name) != 0) {
        result = &given;
      } else if (given.name != ref.name && reported_shape(report, given.name) == resolved.shape) {
        alike = &given;
      }
    }
    if (!result || !alike) continue;
    repeated.emplace_back(later, alike);
    results.insert(reader.outputs.begin(), reader.outputs.end());
  }
  for (const std::string& index_text : aligning_indices(resolved.shape, other.shape)) {
    const nlohmann::json getitem = {{"op", "getitem"}, {"index", index_text}};
    // The later insertions first: each patch is made against the spec as written, and an insertion
    // moves only the calls after it.
    nlohmann::json patch = nlohmann::json::array();
    std::vector<std::string> also;
    for (auto it = repeated.rbegin(); it != repeated.rend(); ++it) {
      for (nlohmann::json& op : insertion_patch(spec, it->first, *it->second, {getitem})) patch.push_back(std::move(op));
      also.insert(also.begin(), fmt::format("{}{} before call \"{}\"", it->second->name, index_text, spec.calls[it->first].id));
    }
    for (nlohmann::json& op : insertion_patch(spec, index, ref, {getitem})) patch.push_back(std::move(op));
    const bool several = index_text.find("None") != index_text.rfind("None");
    std::string description = fmt::format("give {0} the size-1 dim{3} it lacks where its dims meet {1}'s: {0}{2}", ref.name, other_name,
                                          index_text, several ? "s" : "");
    if (!also.empty()) description += fmt::format("; the same for {}", fmt::join(also, ", "));
    fixes.push_back(inserted(std::move(description), std::move(patch), nullptr));
  }
  return fixes;
}

// (B, H, T, D) heads merged back for a layer of H*D features: transpose(1, 2) then reshape.
std::optional<Fix> merged_heads(const Spec& spec, std::size_t index, const ArgRef& ref, const ResolvedArgument& resolved) {
  if (resolved.shape.size() != 4) return std::nullopt;
  const Shape& written = resolved.written();
  const DimExpr &heads = written[1], &size = written[3];
  if (!heads.is_constant() && !heads.is_plain_symbol()) return std::nullopt;
  if (!size.is_constant() && !size.is_plain_symbol()) return std::nullopt;
  std::string merged = heads.is_constant() && size.is_constant() ? std::to_string(heads.offset * size.offset)
                                                                  : fmt::format("{}*{}", heads.str(), size.str());
  nlohmann::json shape = {-1, -1, -1};
  for (std::size_t d : {std::size_t{0}, std::size_t{2}}) {
    const DimExpr& dim = written[d];
    shape[d / 2] = dim.is_constant() ? nlohmann::json(dim.offset) : nlohmann::json(dim.str());
  }
  shape[2] = heads.is_constant() && size.is_constant() ? nlohmann::json(heads.offset * size.offset) : nlohmann::json(merged);
  std::string python = fmt::format(".transpose(1, 2).reshape({}, {}, {})", written[0].str(), written[2].str(), merged);
  nlohmann::json patch = insertion_patch(spec, index, ref,
                                         {{{"op", "transpose"}, {"dim0", 1}, {"dim1", 2}}, {{"op", "reshape"}, {"shape", shape}}});
  return inserted(fmt::format("merge the heads of {0} back before call \"{1}\": {0}{2}", ref.name, spec.calls[index].id, python),
                  std::move(patch), nullptr);
}

// The squeeze without dim that made the argument, given one dim of size 1 (the last first): a
// batch of one is squeezed away with the others.
std::vector<Fix> squeeze_dim_candidates(const Spec& spec, const Report& report, const ResolvedArgument& resolved) {
  std::vector<Fix> fixes;
  if (resolved.source.kind != ArgumentSource::Kind::Output) return fixes;
  std::optional<std::size_t> producer = call_index(spec, resolved.source.call);
  if (!producer) return fixes;
  const CallDecl& squeeze = spec.calls[*producer];
  const CallReport* produced = call_report(report, squeeze.id);
  const nlohmann::json& document = spec.value();
  if (squeeze.op != "squeeze" || !produced || squeeze.pointer.empty() ||
      document.at(nlohmann::json::json_pointer(squeeze.pointer)).contains("dim")) {
    return fixes;
  }
  for (const ResolvedArgument& input : produced->arguments) {
    if (input.name != "input") continue;
    std::vector<std::string> labels = dim_labels(input);
    int rank = static_cast<int>(input.shape.size());
    for (int d = rank - 1; d >= 0; --d) {
      if (!is_one(report, input.shape[static_cast<std::size_t>(d)])) continue;
      int written = d == rank - 1 ? -1 : d;
      Insertion dim = insertion_of({}, fmt::format(".squeeze({})", written));
      dim.moves_batch = named_batch(labels, static_cast<std::size_t>(d));
      dim.why_suspect = "it drops the batch dim";
      fixes.push_back(inserted(fmt::format("squeeze only dim {0} in call \"{1}\": {2} = {3}{4}", written, squeeze.id,
                                           squeeze.outputs.empty() ? resolved.name : squeeze.outputs.front(), squeeze.tensors.at("input").name,
                                           dim.python),
                               {{{"op", "add"}, {"path", squeeze.pointer + "/dim"}, {"value", written}}}, &dim));
    }
  }
  return fixes;
}

// Whether PyTorch accepts call `id` once `patch` is applied (no error on it that it did not
// have), with fewer errors in the whole graph: an inserted reshape that only trades the call's error for another (a
// query made 4-D so that its batch check is never reached) is no candidate.
// A broadcasting call whose output gains a dim over its widest argument (`widest`; the largest
// size_t for other operators) is an outer product: accepted, but suspect.
// A candidate the work left in `rechecker` cannot check is not accepted.
bool accepts_call(const Report& report, Rechecker& rechecker, Fix& fix, const std::string& id, std::size_t widest) {
  std::shared_ptr<const Recheck> check = rechecker.budgeted(fix.patch);
  if (!check || !check->usable) return false;
  const Report& patched = check->report;
  if (patched.count(Severity::Error) >= report.count(Severity::Error)) return false;
  // An error the call had already (a size mhacheck cannot write as one dim) may stay.
  auto had = [&](const Diagnostic& error) {
    return std::any_of(report.diagnostics.begin(), report.diagnostics.end(),
                       [&](const Diagnostic& d) { return d.id == error.id && d.call == error.call && d.argument == error.argument; });
  };
  if (std::any_of(patched.diagnostics.begin(), patched.diagnostics.end(),
                  [&](const Diagnostic& d) { return d.call == id && d.severity() == Severity::Error && !had(d); })) {
    return false;
  }
  auto checked = std::find_if(patched.calls.begin(), patched.calls.end(), [&](const CallReport& call) { return call.id == id; });
  if (checked != patched.calls.end() && !checked->outputs.empty() && checked->outputs.front().shape.size() > widest &&
      fix.semantics != FixSemantics::Suspect) {
    fix.semantics = FixSemantics::Suspect;
    fix.semantics_note = fmt::format("call \"{}\"'s output {} gains a dim over its arguments: it computes another thing", id,
                                     tuple_str(checked->outputs.front().shape));
  }
  return true;
}

}  // namespace

// Only a broadcasting operator's output has its widest operand's rank: the elementwise ones,
// matmul and SDPA (their batch dims); reshapes, convolutions and reductions change it by design.
static const std::set<std::string, std::less<>>& elementwise_operators() {
  static const std::set<std::string, std::less<>> elementwise = {"add",         "sub",        "mul",         "div",
                                                                 "eq",          "ne",         "logical_and", "logical_or",
                                                                 "bitwise_and", "bitwise_or", "masked_fill", "where",
                                                                 "matmul",      "scaled_dot_product_attention"};
  return elementwise;
}

std::vector<Fix> insertion_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked, Rechecker& rechecker,
                                      std::size_t limit) {
  std::vector<Fix> fixes;
  std::optional<std::size_t> index = call_index(spec, call.id);
  if (!index || !CallContext::is_calls_entry(call, *index)) return fixes;
  // A call PyTorch refuses: a role warning's call runs, and its layout's fixes are the
  // transposes where that layout entered (search_candidates).
  bool refused = std::any_of(report.diagnostics.begin(), report.diagnostics.end(),
                             [&](const Diagnostic& d) { return d.call == call.id && d.severity() == Severity::Error; });
  if (!refused) return fixes;
  std::set<std::string> seen;  // a tensor given to several arguments is changed once, for all
  for (const ResolvedArgument& resolved : checked.arguments) {
    auto ref = call.tensors.find(resolved.name);
    if (ref == call.tensors.end() || ref->second.kind != ArgRef::Kind::Named || resolved.shape.empty() ||
        !CallContext::written_inside(call, ref->second.pointer) || resolved.name.find("mask") != std::string::npos ||
        !seen.insert(ref->second.name).second) {
      continue;
    }
    for (Fix& fix : squeeze_dim_candidates(spec, report, resolved)) fixes.push_back(std::move(fix));
    if (std::optional<Fix> merged = merged_heads(spec, *index, ref->second, resolved)) fixes.push_back(std::move(*merged));
    if (std::optional<Fix> relaid = relaid_like_sibling(spec, *index, ref->second)) fixes.push_back(std::move(*relaid));
    for (const ResolvedArgument& other : checked.arguments) {
      if (&other == &resolved || call.op == "matmul" || call.op == "scaled_dot_product_attention" ||
          elementwise_operators().count(call.op) == 0) {
        continue;
      }
      for (Fix& fix : aligned_operand_candidates(spec, report, *index, ref->second, resolved, other)) fixes.push_back(std::move(fix));
    }
    for (const Insertion& insertion : insertions(report, resolved)) {
      const std::string& name = ref->second.name;
      fixes.push_back(inserted(fmt::format("reshape {0} before call \"{1}\": {0}{2}", name, call.id, insertion.python),
                               insertion_patch(spec, *index, ref->second, {insertion.arguments}), &insertion));
    }
  }
  // The checks' work, in calls checked, bounded for the call as the search's own re-checks are
  // for the report (fixes.cpp), besides the rechecker's bound: candidates past it are dropped unchecked.
  constexpr std::size_t kMaxWork = 8000;
  std::size_t work = 0;
  std::size_t widest = std::numeric_limits<std::size_t>::max();
  if (elementwise_operators().count(call.op) != 0) {
    widest = 0;
    for (const ResolvedArgument& resolved : checked.arguments) widest = std::max(widest, resolved.shape.size());
  }
  std::size_t kept = 0;
  std::erase_if(fixes, [&](Fix& fix) {
    if (kept >= limit) return true;  // past what the caller keeps: dropped unchecked
    work += spec.calls.size();
    if (work > kMaxWork || !accepts_call(report, rechecker, fix, call.id, widest)) return true;
    ++kept;
    return false;
  });
  return fixes;
}

namespace {

constexpr int kUpstreamDepth = 3;

// The sizes held by the written tensors that `name` is made from, read before call `before`
// (through at most kUpstreamDepth producers): each dim bound to a number, and two dims merged.
void upstream_sizes(const Spec& spec, const std::string& name, const CallDecl* before, int depth, std::set<std::int64_t>& sizes) {
  auto value = [&](const DimExpr& dim) -> std::optional<std::int64_t> {
    if (dim.is_constant()) return dim.offset;
    if (!dim.is_plain_symbol()) return std::nullopt;
    for (const auto& [symbol, bound] : spec.dims) {
      if (symbol == dim.symbol) return bound;
    }
    return std::nullopt;
  };
  const CallDecl* producer = producer_of(spec, name, before);
  if (!producer) {
    const TensorDecl* tensor = spec.find_tensor(name);
    if (!tensor) return;
    for (std::size_t d = 0; d < tensor->shape.size(); ++d) {
      std::optional<std::int64_t> here = value(tensor->shape[d]);
      if (!here) continue;
      sizes.insert(*here);
      // Written for the module itself, two neighbouring dims; read by an operator first (the
      // (B, H, T, D) operands of an attention whose output keeps H and D apart), any two.
      for (std::size_t e = d + 1; e < tensor->shape.size() && (e == d + 1 || depth < kUpstreamDepth); ++e) {
        if (std::optional<std::int64_t> other = value(tensor->shape[e])) sizes.insert(*here * *other);
      }
    }
    return;
  }
  if (depth == 0) return;
  for (const auto& [argument, ref] : producer->tensors) {
    if (ref.kind == ArgRef::Kind::Named && argument.find("mask") == std::string::npos) upstream_sizes(spec, ref.name, producer, depth - 1, sizes);
  }
}


}  // namespace

std::int64_t declared_input_size(const nlohmann::json& options) {
  for (const char* option : {"in_features", "in_channels", "normalized_shape", "num_features"}) {
    if (!options.contains(option)) continue;
    const nlohmann::json& size = options[option];
    if (size.is_number_integer()) return size.get<std::int64_t>();
    if (size.is_array() && !size.empty() && size.back().is_number_integer()) return size.back().get<std::int64_t>();
  }
  return 0;
}

bool resizes_module(const Spec& spec, const Fix& fix) {
  for (const nlohmann::json& op : fix.patch) {
    if (!op.contains("path") || !op["path"].is_string()) continue;
    const std::string path = op["path"].get<std::string>();
    for (const ModuleDecl& module : spec.modules) {
      const std::int64_t size = declared_input_size(module.options);
      if (size <= 1 || module.pointer.empty() || (path != module.pointer && path.rfind(module.pointer + "/", 0) != 0)) continue;
      const nlohmann::json value = op.value("value", nlohmann::json());
      nlohmann::json changed;
      if (path != module.pointer) {
        changed[path.substr(module.pointer.size() + 1)] = value;
      } else if (value.is_string()) {
        changed = parse_module_call(value.get<std::string>(), Location{});
      } else if (value.is_object()) {
        changed = value;
      }
      const std::int64_t resized = declared_input_size(changed);
      if (resized != 0 && resized != size) return true;
    }
  }
  return false;
}

bool against_module(const Spec& spec, const Fix& fix) {
  for (const nlohmann::json& op : fix.patch) {
    if (!op.contains("path") || !op["path"].is_string()) continue;
    const std::string path = op["path"].get<std::string>();
    for (const CallDecl& call : spec.calls) {
      const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
      const std::int64_t size = module ? declared_input_size(module->options) : 0;
      auto input = call.tensors.find("input");
      if (size <= 1 || input == call.tensors.end() || input->second.kind != ArgRef::Kind::Named) continue;
      // The module resized: the data feeding it holds its size.
      if (path == module->pointer || path.rfind(module->pointer + "/", 0) == 0) {
        // The new value: a whole module (a constructor call or its options) or one option; none
        // for a remove.
        const nlohmann::json value = op.value("value", nlohmann::json());
        nlohmann::json changed;
        if (path != module->pointer) {
          changed[path.substr(module->pointer.size() + 1)] = value;
        } else if (value.is_string()) {
          changed = parse_module_call(value.get<std::string>(), Location{});
        } else if (value.is_object()) {
          changed = value;
        }
        std::int64_t resized = declared_input_size(changed);
        std::set<std::int64_t> sizes;
        upstream_sizes(spec, input->second.name, &call, kUpstreamDepth, sizes);
        if (resized != 0 && resized != size && sizes.count(size) != 0) return true;
      }
      // The data resized: the module's input, written, held the module's size at another dim.
      const TensorDecl* tensor = spec.find_tensor(input->second.name);
      if (tensor && producer_of(spec, tensor->name, &call) == nullptr && path == tensor->shape_pointer && op.value("op", "") == "replace") {
        const Shape& written = tensor->shape;
        bool held = std::any_of(written.begin(), written.end(), [&](const DimExpr& dim) { return dim.is_constant() && dim.offset == size; });
        if (!held || !op.contains("value") || !op["value"].is_array() || op["value"].size() != written.size()) continue;
        std::vector<std::string> before, after;  // a rearrangement of the same dims resizes nothing
        for (const DimExpr& dim : written) before.push_back(dim.str());
        for (const nlohmann::json& dim : op["value"]) after.push_back(dim.is_string() ? dim.get<std::string>() : dim.dump());
        std::sort(before.begin(), before.end());
        std::sort(after.begin(), after.end());
        if (before != after) return true;
      }
    }
  }
  return false;
}

}  // namespace mhacheck
