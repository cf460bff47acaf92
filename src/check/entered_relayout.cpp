#include "entered_relayout.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/shape_json.hpp"
#include "call_context.hpp"
#include "dim_origin.hpp"
#include "fix_search.hpp"
#include "insertion_candidates.hpp"
#include "roles.hpp"

namespace mhacheck {
namespace {

constexpr int kMaxChain = 16;

// The tensor arguments of a call that name a tensor (weights live in the module).
std::size_t named_tensors(const CallDecl& call) {
  return static_cast<std::size_t>(std::count_if(call.tensors.begin(), call.tensors.end(),
                                                [](const auto& entry) { return entry.second.kind == ArgRef::Kind::Named; }));
}

const ResolvedArgument* input_argument(const Report& report, const CallDecl& call) {
  const CallReport* made = call_report(report, call.id);
  if (!made) return nullptr;
  auto input = std::find_if(made->arguments.begin(), made->arguments.end(), [](const ResolvedArgument& a) { return a.name == "input"; });
  return input == made->arguments.end() ? nullptr : &*input;
}

bool reshapes(const CallDecl& call) {
  return (call.op == "view" || call.op == "reshape") && call.arguments.contains("shape") && call.arguments["shape"].is_array();
}


// The shape list of a view or reshape with its leading entries that read the input's sizes
// (equal to them, in `before`) given the input's sizes in `after`: `x.view(b, t, -1)` with b and
// t read of x. A symbol follows by itself; a number written for a size read at run time is the
// only thing a spec can hold for it. The entries stop at the first that is not the input's size.
nlohmann::json sizes_read_of_input(const nlohmann::json& written, const Shape& before, const Shape& after) {
  nlohmann::json followed = written;
  for (std::size_t i = 0; i < written.size() && i < before.size(); ++i) {
    const nlohmann::json& entry = written[i];
    bool number = entry.is_number_integer();
    bool same = number ? before[i].is_constant() && before[i].offset == entry.get<std::int64_t>()
                       : entry.is_string() && before[i].str() == entry.get<std::string>();
    if (!same) break;
    if (number && i < after.size() && after[i].is_constant() && after[i].offset > 0) followed[i] = after[i].offset;
  }
  return followed;
}

// The report of the spec patched by `patch`; with `kept_calls`, of its first calls only (calls read
// only earlier calls' outputs, so theirs is the same report as in the whole graph's check).
// Null when the patched spec cannot be read or the work left in `rechecker` cannot check it.
std::shared_ptr<const Recheck> checked_patch(Rechecker& rechecker, const nlohmann::json& patch,
                                             std::optional<std::size_t> kept_calls = std::nullopt) {
  std::shared_ptr<const Recheck> check = rechecker.budgeted(patch, kept_calls);
  return check && check->usable ? check : nullptr;
}

// Every warning and error of `patched` is one `original` had (same code, same call).
bool adds_nothing(const Report& original, const Report& patched) {
  return std::all_of(patched.diagnostics.begin(), patched.diagnostics.end(), [&](const Diagnostic& d) {
    return d.severity() == Severity::Note || std::any_of(original.diagnostics.begin(), original.diagnostics.end(), [&](const Diagnostic& o) {
             return o.id == d.id && o.call == d.call;
           });
  });
}

}  // namespace

std::optional<EnteredChain> entered_chain(const Spec& spec, std::size_t index, const std::string& argument) {
  EnteredChain chain;
  const CallDecl* reader = &spec.calls[index];
  std::string name = input_name(*reader, argument);
  for (int step = 0; step <= kMaxChain && !name.empty(); ++step) {
    const CallDecl* producer = producer_of(spec, name, reader);
    if (!producer) {
      const TensorDecl* declared = spec.find_tensor(name);
      if (!declared || declared->shape_pointer.empty()) return std::nullopt;
      chain.root = declared;
      std::reverse(chain.calls.begin(), chain.calls.end());
      return chain;
    }
    const auto at = static_cast<std::size_t>(producer - spec.calls.data());
    if (producer->outputs.size() != 1 || named_tensors(*producer) != 1 || !CallContext::is_calls_entry(*producer, at)) {
      return std::nullopt;
    }
    const ModuleDecl* module = producer->module.empty() ? nullptr : spec.find_module(producer->module);
    if (module && declared_input_size(module->options) > 0) chain.through_layers = true;
    chain.calls.push_back(at);
    name = input_name(*producer, "input");
    reader = producer;
  }
  return std::nullopt;
}

std::vector<Fix> entered_relayout_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked,
                                             Rechecker& rechecker) {
  std::vector<Fix> fixes;
  std::optional<std::size_t> index = call_index(spec, call.id);
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  if (!module || declared_input_size(module->options) <= 1) return fixes;
  bool refused = std::any_of(report.diagnostics.begin(), report.diagnostics.end(),
                             [&](const Diagnostic& d) { return d.call == call.id && d.severity() == Severity::Error; });
  if (!index || !refused) return fixes;
  for (const ResolvedArgument& resolved : checked.arguments) {
    if (resolved.name != "input") continue;
    std::optional<EnteredChain> chain = entered_chain(spec, *index, resolved.name);
    if (!chain || !chain->through_layers) continue;
    const Shape& shape = chain->root->shape;
    const int rank = static_cast<int>(shape.size());
    for (int a = 0; a < rank; ++a) {
      for (int b = a + 1; b < rank; ++b) {
        if (role_of_name(shape[static_cast<std::size_t>(a)].str()) == DimRole::Batch ||
            role_of_name(shape[static_cast<std::size_t>(b)].str()) == DimRole::Batch) {
          continue;
        }
        Shape transposed = shape;
        std::swap(transposed[static_cast<std::size_t>(a)], transposed[static_cast<std::size_t>(b)]);
        const nlohmann::json relaid = {{"op", "replace"}, {"path", chain->root->shape_pointer}, {"value", shape_json(transposed)}};
        // The views' shape lists follow the sizes they read, view by view down the chain: each
        // round re-checks the calls up to the refusing one (the chain's all precede it) with the
        // lists rewritten so far, and the whole graph is checked once, with the final lists.
        const std::size_t upstream = *index + 1;
        std::map<std::size_t, nlohmann::json> lists;
        nlohmann::json patch = nlohmann::json::array({relaid});
        std::shared_ptr<const Recheck> patched = checked_patch(rechecker, patch, upstream);
        for (std::size_t round = 0; patched && round < chain->calls.size(); ++round) {
          bool changed = false;
          for (std::size_t at : chain->calls) {
            const CallDecl& view = spec.calls[at];
            const ResolvedArgument* before = input_argument(report, view);
            const ResolvedArgument* after = input_argument(patched->report, view);
            if (!reshapes(view) || !before || !after) continue;
            nlohmann::json followed = sizes_read_of_input(view.arguments["shape"], before->shape, after->shape);
            auto known = lists.find(at);
            if (followed == (known == lists.end() ? view.arguments["shape"] : known->second)) continue;
            lists[at] = std::move(followed);
            changed = true;
          }
          if (!changed) break;
          patch = nlohmann::json::array({relaid});
          for (const auto& [at, list] : lists) patch.push_back({{"op", "replace"}, {"path", spec.calls[at].pointer + "/shape"}, {"value", list}});
          patched = checked_patch(rechecker, patch, upstream);
        }
        if (patched) patched = checked_patch(rechecker, patch);
        if (!patched || patched->report.count(Severity::Error) != 0 || !adds_nothing(report, patched->report)) continue;
        std::vector<std::string> dims;
        for (const DimExpr& dim : transposed) dims.push_back(dim.str());
        Fix fix;
        fix.description = fmt::format("transpose {0} where it enters the graph, to ({1}): {0}.transpose({2}, {3})", chain->root->name,
                                      fmt::join(dims, ", "), a, b);
        for (const auto& [at, list] : lists) {
          fix.description += fmt::format("; call \"{}\" then {}s ({}), the sizes it reads of its input", spec.calls[at].id, spec.calls[at].op,
                                         shape_list_text(list));
        }
        fix.patch = std::move(patch);
        fix.semantics = FixSemantics::Consistent;
        fix.semantics_note = fmt::format("laid out so where it enters, {} fits every module's declared size down to call \"{}\": the layout "
                                         "entered wrong",
                                         chain->root->name, call.id);
        fixes.push_back(std::move(fix));
      }
    }
  }
  return fixes;
}

}  // namespace mhacheck
