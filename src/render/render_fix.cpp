// The prose of a fix, shared by every renderer: the facts are in Fix (src/check/fixes.cpp).
#include <fmt/format.h>

#include "mhacheck/render.hpp"

namespace mhacheck {

std::string fix_result_text(const Fix& fix) {
  if (fix.valid()) {
    std::string outputs;
    for (const NamedOutput& output : fix.outputs) {
      outputs += fmt::format("{}{} {}", outputs.empty() ? "" : ", ", output.name, tuple_str(output.shape));
    }
    return "valid: " + outputs;
  }
  std::size_t errors = fix.remaining_errors.size();
  return fmt::format("removes this error; {} other error{} remain{}", errors, errors == 1 ? "" : "s", errors == 1 ? "s" : "");
}

std::string fix_text(const Fix& fix) {
  std::string text = fix.description + " — " + fix_result_text(fix);
  if (fix.semantics == FixSemantics::Suspect) text += " (suspect: " + fix.semantics_note + ")";
  return text;
}

std::string diagnostic_summary_text(const Diagnostic& diagnostic) {
  std::string text = diagnostic.message;
  if (!diagnostic.call.empty()) text += " (call \"" + diagnostic.call + "\")";
  for (const std::string& note : diagnostic.notes) text += "\nnote: " + note;
  if (diagnostic.pytorch_error) {
    const PytorchError& error = *diagnostic.pytorch_error;
    std::string when = error.raised_later() ? " (raised once the earlier errors are fixed)" : "";
    text += "\npytorch: " + error.type + ": " + error.message + when;
  }
  for (const Fix& fix : diagnostic.fixes) {
    if (!fix.verified) continue;
    text += "\nfix: " + fix_text(fix) + " [verified]";
    break;
  }
  return text;
}

}  // namespace mhacheck
