#include "fixes.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "mhacheck/python_text.hpp"

namespace mhacheck {
namespace {

constexpr std::size_t kMaxCombinations = 64;

struct Recheck {
  bool usable = false;  // the patched spec could be read and checked
  Report report;
};

Recheck recheck(const Spec& spec, const nlohmann::json& patch) {
  Recheck result;
  try {
    JsonDocument document;
    document.source = spec.document.source;
    document.value = spec.document.value.patch(patch);
    CheckOptions options;
    options.verify_fixes = false;
    result.report = check_spec(parse_spec(std::move(document)), options);
    result.usable = !result.report.input_error;
  } catch (const std::exception&) {
    result.usable = false;
  }
  return result;
}

bool same_problem(const Diagnostic& a, const Diagnostic& b) {
  return a.id == b.id && a.call == b.call && a.argument == b.argument;
}

bool still_present(const Report& report, const Diagnostic& target) {
  return std::any_of(report.diagnostics.begin(), report.diagnostics.end(),
                     [&](const Diagnostic& d) { return same_problem(d, target); });
}

std::string outputs_text(const Report& report, const std::string& call) {
  for (const CallReport& call_report : report.calls) {
    if (call_report.id != call) continue;
    std::string text;
    for (const NamedOutput& output : call_report.outputs) {
      text += fmt::format("{}{} {}", text.empty() ? "" : ", ", output.name, tuple_str(output.shape));
    }
    return text;
  }
  return {};
}

std::string result_text(const Report& report, const std::string& call) {
  int errors = report.count(Severity::Error);
  if (errors == 0) return "valid: " + outputs_text(report, call);
  return fmt::format("removes this error; {} other error{} remain{}", errors, errors == 1 ? "" : "s", errors == 1 ? "s" : "");
}

// Keeps the verified fixes of one diagnostic, smallest change first.
void verify_diagnostic(const Spec& spec, const Report& original, Diagnostic& diagnostic) {
  int errors_before = original.count(Severity::Error);
  std::vector<Fix> kept;
  for (Fix& fix : diagnostic.fixes) {
    Recheck check = recheck(spec, fix.patch);
    if (!check.usable || still_present(check.report, diagnostic)) continue;
    int errors_after = check.report.count(Severity::Error);
    bool is_error = diagnostic.severity() == Severity::Error;
    if (is_error ? errors_after >= errors_before : errors_after > errors_before) continue;
    fix.verified = true;
    fix.result = result_text(check.report, diagnostic.call);
    kept.push_back(std::move(fix));
  }
  std::stable_sort(kept.begin(), kept.end(), [](const Fix& a, const Fix& b) {
    bool a_valid = a.result.rfind("valid", 0) == 0, b_valid = b.result.rfind("valid", 0) == 0;
    if (a_valid != b_valid) return a_valid;
    return a.patch.size() < b.patch.size();
  });
  diagnostic.fixes = std::move(kept);
}

// Appends `fix`'s operations to `patch`. Two fixes that each rewrite a module written as a
// constructor string are merged into one string carrying both fixes' arguments.
void append_patch(nlohmann::json& patch, const nlohmann::json& fix) {
  for (const auto& op : fix) {
    auto same_path = std::find_if(patch.begin(), patch.end(), [&](const nlohmann::json& earlier) {
      return earlier["path"] == op["path"] && earlier["op"] == "replace" && op["op"] == "replace" &&
             earlier["value"].is_string() && op["value"].is_string();
    });
    if (same_path == patch.end()) {
      patch.push_back(op);
      continue;
    }
    nlohmann::json merged = parse_module_call((*same_path)["value"].get<std::string>(), Location{});
    merged.update(parse_module_call(op["value"].get<std::string>(), Location{}));
    (*same_path)["value"] = module_call_text(merged);
  }
}

// When no single fix makes a call valid, looks for one fix per error that together do.
void combine_fixes(const Spec& spec, Report& report, const std::string& call) {
  std::vector<Diagnostic*> errors;
  for (Diagnostic& diagnostic : report.diagnostics) {
    if (diagnostic.call == call && diagnostic.severity() == Severity::Error) errors.push_back(&diagnostic);
  }
  if (errors.size() < 2) return;
  for (Diagnostic* error : errors) {
    for (const Fix& fix : error->fixes) {
      if (fix.result.rfind("valid", 0) == 0) return;  // a single fix already does it
    }
    if (error->fixes.empty()) return;
  }
  std::vector<std::size_t> choice(errors.size(), 0);
  for (std::size_t tried = 0; tried < kMaxCombinations; ++tried) {
    nlohmann::json patch = nlohmann::json::array();
    std::string description;
    for (std::size_t i = 0; i < errors.size(); ++i) {
      const Fix& fix = errors[i]->fixes[choice[i]];
      append_patch(patch, fix.patch);
      description += (i ? "; and " : "") + fix.description;
    }
    Recheck check = recheck(spec, patch);
    if (check.usable && check.report.count(Severity::Error) == 0) {
      Fix combined;
      combined.description = "all together: " + description;
      combined.patch = std::move(patch);
      combined.verified = true;
      combined.result = result_text(check.report, call);
      errors.front()->fixes.insert(errors.front()->fixes.begin(), std::move(combined));
      return;
    }
    // Next combination, like an odometer.
    std::size_t i = 0;
    while (i < errors.size() && ++choice[i] == errors[i]->fixes.size()) choice[i++] = 0;
    if (i == errors.size()) return;
  }
}

}  // namespace

void verify_fixes(const Spec& spec, Report& report) {
  for (Diagnostic& diagnostic : report.diagnostics) {
    if (!diagnostic.fixes.empty()) verify_diagnostic(spec, report, diagnostic);
  }
  for (const CallReport& call : report.calls) {
    if (!call.ok) combine_fixes(spec, report, call.id);
  }
}

}  // namespace mhacheck
