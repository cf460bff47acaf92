// The propagation pass: shapes flow through the spec's calls in order; each call is checked by
// its operator's rules (src/ops/), and each error's candidate fixes are re-checked on a
// patched copy of the spec before they are offered.
#pragma once

#include <string>
#include <vector>

#include "mhacheck/diagnostic.hpp"
#include "mhacheck/dtype.hpp"
#include "mhacheck/shape.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// A tensor argument of a call as the check resolved it.
struct ResolvedArgument {
  std::string name;      // "query", "tensors[1]"
  Shape shape;           // with the bindings known when the call was checked
  DType dtype = DType::Float32;  // as written, or the argument's default (masks bool, indices int64)
  std::string producer;  // the call whose output it is; empty for a declared or inline tensor
};

struct CallReport {
  std::string id;
  std::string module;
  std::string module_text;  // "nn.MultiheadAttention(512, 8)"
  bool ok = false;          // no error for this call
  std::vector<NamedOutput> outputs;  // outputs PyTorch returns, in order (none when !ok)
  std::string skipped_because;  // not checked: an input comes from this failing call
  std::vector<ResolvedArgument> arguments;  // the tensor arguments given, in PyTorch's order
  std::vector<std::string> hidden_errors;  // codes of this call's errors dropped by --ignore/--only
};

struct Report {
  std::string file;  // the spec's name as given ("-" for stdin, "<command line>")
  bool input_error = false;  // unusable input: exit code 2
  std::vector<Diagnostic> diagnostics;
  std::vector<CallReport> calls;
  std::vector<std::string> input_files;  // files the spec names (tensors, weights): outputs must not replace them
  // The final symbol bindings: the spec's dims and every substitution an equality forced
  // (L -> S after a warned "valid only if L == S"). Running resolves shapes with these.
  Symbols symbols;

  int count(Severity severity) const;
  bool ok() const { return count(Severity::Error) == 0; }
};

struct CheckOptions {
  bool verify_fixes = true;  // false when re-checking a patched copy for a fix
};

Report check_spec(const Spec& spec, const CheckOptions& options = {});
// Parses and checks; an InputError becomes a report with one input diagnostic.
Report check_document(JsonDocument document, const CheckOptions& options = {});
// A report for input that could not be read at all.
Report input_error_report(const std::string& file, const InputError& error);

}  // namespace mhacheck
