// `mhacheck explain TEXT`: PyTorch's own error text (a bare message, "RuntimeError: ...", or a
// whole pasted traceback) read back into the diagnostics that predict it. The messages are
// recognised by the table in src/check/pytorch_messages.cpp, one row per message pattern in its
// PyTorch 2.x and 1.13 wordings; the numbers they carry are read by the rules of the
// operator that raises them, and the possible causes come out ranked, best first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/check.hpp"
#include "mhacheck/diagnostic.hpp"

namespace mhacheck {

// What else is known about the failing call: the module it came from (from --module), which
// narrows the causes to that module's and fixes the numbers a message leaves open (num_heads).
struct ExplainContext {
  std::optional<nlohmann::json> module;  // a spec module object, {"type": "MultiheadAttention", ...}
};

struct ExplainedCause {
  DiagId id;
  int rank = 0;                        // 1 = most likely
  std::string message;                 // what the message's numbers mean under this cause
  std::vector<std::string> readings;   // further readings of the numbers (other head counts, ...)
  std::vector<std::string> fixes;      // the usual fixes, most likely first
  bool confirmed = false;              // checking the rebuilt call reproduced the message
};

struct Explanation {
  std::string error_type;   // "RuntimeError" when the text names it, else ""
  std::string message;      // the recognised message, as pasted
  std::string wording;      // "2.x", "1.13" or "1.13 and 2.x": which PyTorch words it so
  std::vector<ExplainedCause> causes;  // ranked, best first; never empty
  std::vector<std::string> notes;      // how --module and the rebuilt call narrowed the causes
};

// The last PyTorch message in `text` that mhacheck's catalogue predicts, explained; nullopt
// when the text holds none (the caller says so: never a guess).
std::optional<Explanation> explain_pytorch_error(const std::string& text, const ExplainContext& context = {});

// Ranks first the cause that checking the failing call itself confirms: the diagnostic whose
// PyTorch message is the pasted one (or, failing that, a diagnostic with a cause's code), with
// mhacheck's own message and verified fixes. A valid call or an input error is a note.
void narrow_by_report(Explanation& explanation, const Report& report);

// The PyTorch messages `explain` reads as caused by `id`, as "`text` (wording)", placeholders
// shown as {name}: for docs/diagnostics.md and `mhacheck explain CODE`.
std::vector<std::string> predicted_messages(DiagId id);

std::string render_explanation_text(const Explanation& explanation);
// {"schema_version": 1, "error": {...}, "causes": [{"code", "name", "rank", "message",
//  "readings", "fixes", "confirmed"}], "notes": [...]} (docs/report-format.md)
nlohmann::json render_explanation_json(const Explanation& explanation);

}  // namespace mhacheck
