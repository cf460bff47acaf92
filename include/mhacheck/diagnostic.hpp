// Diagnostics: one catalogue of stable codes (severity, title, explanation), and the
// diagnostic records the propagation pass produces. Renderers only format these facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/dtype.hpp"
#include "mhacheck/location.hpp"
#include "mhacheck/shape.hpp"

namespace mhacheck {

enum class Severity { Error, Warning, Note };
std::string severity_name(Severity severity);  // "error", "warning", "note"

enum class DiagId {
#define MHACHECK_DIAG(id, code, severity, name, title, explanation, example, needs_run) id,
#include "mhacheck/diagnostics.def"
#undef MHACHECK_DIAG
};

struct DiagInfo {
  DiagId id;
  const char* code;       // "MHA040"
  Severity severity;
  const char* name;       // "batch-mismatch"
  const char* title;      // one line
  const char* explanation;  // several sentences: what, why, how to fix
  const char* example;    // a spec (JSON) that triggers it, for docs and tests; "" when none can
  bool needs_run = false; // found by `mhacheck run` (data and weights), not by `check`
};

const std::vector<DiagInfo>& diagnostic_catalogue();  // in the order of diagnostics.def
const DiagInfo& diag_info(DiagId id);                  // O(1): the catalogue is indexed by DiagId
const DiagInfo* find_diag_info(const std::string& code);  // by code ("MHA040", any case) or name; nullptr when unknown

struct RelatedLocation {
  std::string message;
  Location location;
};

struct PytorchError {
  // What PyTorch does with it: raise the exception, or warn (warnings.warn) and go on.
  enum class Kind { Raises, Warns };
  std::string type;     // "RuntimeError", "UserWarning"
  std::string message;  // as str(exception)
  bool raised_first = true;  // false: PyTorch raises it only once the earlier errors are fixed (always false for a warning)
  Kind kind = Kind::Raises;

  // An exception PyTorch raises only once the earlier errors are fixed; a warning is given regardless.
  bool raised_later() const { return kind == Kind::Raises && !raised_first; }
};

struct NamedOutput {
  std::string name;  // "attn_output", or the call's own output name
  Shape shape;
  DType dtype;
  // Per dim, the name it stands for when the rule knows it better than the pass's tracing
  // (a transpose's swapped names, a view's written symbols); empty: traced by the pass.
  std::vector<std::string> dim_names = {};
};

// Whether a fix keeps what each dim stands for (its role: batch, sequence, heads, features, a
// mask's meaning). A fix PyTorch accepts can still read a batch dim as a sequence dim, or mix
// batch entries; such a fix is `Suspect` and never ranked first.
enum class FixSemantics { Unknown, Consistent, Suspect };
std::string semantics_name(FixSemantics semantics);  // "unknown", "consistent", "suspect"

// An error left in the whole patched graph.
struct RemainingError {
  std::string code;  // "MHA040"
  std::string call;
  std::string message;
};

// A candidate repair: facts only; renderers write the prose ("valid: ...").
struct Fix {
  std::string description;   // "construct with batch_first=True"
  nlohmann::json patch;      // RFC 6902 operations against the spec document
  bool verified = false;     // re-checked on a patched copy of the spec
  FixSemantics semantics = FixSemantics::Unknown;
  std::string semantics_note;  // why it is consistent or suspect; empty when unknown
  // Set by verification: the errors of the whole patched graph, and the diagnostic's call's
  // outputs there (when that call is valid).
  std::vector<RemainingError> remaining_errors;
  std::vector<NamedOutput> outputs;

  // PyTorch accepts the whole patched graph.
  bool valid() const { return verified && remaining_errors.empty(); }
};

struct Diagnostic {
  DiagId id;
  std::string message;
  std::string call;      // call id; empty for spec-level diagnostics
  std::string argument;  // "key", "attn_mask", "module.num_heads", ...
  std::optional<int> dim;
  Location location;
  std::vector<RelatedLocation> related;
  std::vector<std::string> notes;
  std::optional<PytorchError> pytorch_error;
  std::vector<Fix> fixes;

  const DiagInfo& info() const { return diag_info(id); }
  Severity severity() const { return info().severity; }
};

}  // namespace mhacheck
