#include "recheck.hpp"

#include <utility>
#include <string>

namespace mhacheck {
namespace {

// The re-checked calls remembered: about 10 re-checks of a 200-call graph. A patch comes again
// soon (the next diagnostic of its call, the search right after insertion_candidates checked
// its candidates); more kept alive costs more than it saves, the heap growing fragmented.
constexpr std::size_t kRememberedCalls = 2048;

Recheck checked(const Spec& spec, const nlohmann::json& patch, std::optional<std::size_t> kept_calls) {
  Recheck result;
  try {
    JsonDocument document;
    document.source = spec.document.source;
    document.value = spec.value().patch(patch);
    nlohmann::json* calls = document.value.is_object() && document.value.contains("calls") ? &document.value["calls"] : nullptr;
    if (kept_calls && calls && calls->is_array() && calls->size() > *kept_calls) {
      calls->erase(calls->begin() + static_cast<std::ptrdiff_t>(*kept_calls), calls->end());
    }
    CheckOptions options;
    options.verify_fixes = false;
    result.report = check_spec(parse_spec(std::move(document)), options);
    result.usable = !result.report.input_error;
  } catch (const std::exception&) {
    result.usable = false;
  }
  // What the fixes' checks read of it: the diagnostics and the calls' outputs (of a check of the
  // first calls, their arguments too). The rest of a large graph's report is dropped.
  for (Diagnostic& diagnostic : result.report.diagnostics) {
    diagnostic.fixes = {};
    diagnostic.notes = {};
    diagnostic.related = {};
  }
  if (!kept_calls) {
    for (CallReport& call : result.report.calls) call.arguments = {};
  }
  result.report.tensors = {};
  return result;
}

std::string key_of(const nlohmann::json& patch, std::optional<std::size_t> kept_calls) {
  return (kept_calls ? std::to_string(*kept_calls) : std::string("all")) + " " + patch.dump();
}

}  // namespace

Rechecker::Rechecker(const Spec& spec, std::size_t search_work) : spec_(spec), work_(search_work) {}

std::shared_ptr<const Recheck> Rechecker::find(const std::string& key) const {
  auto found = remembered_.find(key);
  return found == remembered_.end() ? nullptr : found->second;
}

std::shared_ptr<const Recheck> Rechecker::make(std::string key, const nlohmann::json& patch, std::optional<std::size_t> kept_calls) {
  auto made = std::make_shared<const Recheck>(checked(spec_, patch, kept_calls));
  ++made_;
  const std::size_t calls = made->report.calls.size() + 1;
  remembered_calls_ += calls;
  order_.emplace_back(key, calls);
  remembered_.emplace(std::move(key), made);
  while (remembered_calls_ > kRememberedCalls && order_.size() > 1) {
    remembered_calls_ -= order_.front().second;
    remembered_.erase(order_.front().first);
    order_.pop_front();
  }
  return made;
}

std::shared_ptr<const Recheck> Rechecker::check(const nlohmann::json& patch, std::optional<std::size_t> kept_calls) {
  std::string key = key_of(patch, kept_calls);
  if (std::shared_ptr<const Recheck> known = find(key)) return known;
  return make(std::move(key), patch, kept_calls);
}

std::shared_ptr<const Recheck> Rechecker::budgeted(const nlohmann::json& patch, std::optional<std::size_t> kept_calls) {
  if (!affords()) return nullptr;
  // Charged remembered or not: what the search reaches does not depend on what is remembered.
  work_ -= kept_calls ? std::min(*kept_calls, whole()) : whole();
  return check(patch, kept_calls);
}

}  // namespace mhacheck
