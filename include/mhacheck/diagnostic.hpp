// Diagnostics: one catalogue of stable codes (severity, title, explanation), and the
// diagnostic records the propagation pass produces. Renderers only format these facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/location.hpp"

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
  const char* example;    // a spec (JSON) that triggers it, for docs and tests
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

struct Fix {
  std::string description;   // "construct with batch_first=True"
  nlohmann::json patch;      // RFC 6902 operations against the spec document
  bool verified = false;     // re-checked on a patched copy of the spec
  std::string result;        // "valid: attn_output (32, 1, 512), ..."
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
