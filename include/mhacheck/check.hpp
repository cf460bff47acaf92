// The propagation pass: shapes flow through the spec's calls in order; each call is checked by
// its operator's rules (src/ops/), and each error's candidate fixes are re-checked on a
// patched copy of the spec before they are offered.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/diagnostic.hpp"
#include "mhacheck/dtype.hpp"
#include "mhacheck/shape.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// What the spec writes of a tensor that is not an earlier call's output: a tensor under
// "tensors", an inline tensor or a causal mask. One per tensor, shared by every argument that
// uses it: a declared tensor may feed thousands of calls, and an output (most arguments of a
// big graph) has none, so a report does not carry these fields per argument.
struct WrittenTensor {
  std::string pointer;  // Inline and Causal: the JSON pointer where the tensor is written
  std::optional<DType> dtype;  // the dtype written (or the file's)
  std::string file;         // Declared, Inline: the .npy/.npz holding the data; empty: none
  std::string file_member;  // the .npz member; empty for .npy
  Location declared_at;     // the tensor's element
  Location file_at;         // with a file: its "file" value
};

// Where a call's tensor argument comes from, as the check resolved the name it is given by.
struct ArgumentSource {
  enum class Kind {
    Declared,  // a tensor under "tensors": `name`
    Output,    // output `name` of the earlier call `call`
    Inline,    // a tensor written in the call itself
    Causal,    // {"causal": [L, S]}: generated (generate_square_subsequent_mask), float32
  };
  Kind kind = Kind::Declared;
  std::string name;     // Declared: the tensor's name; Output: the output's name
  std::string call;     // Output: the call that returns it
  bool failed = false;  // Output: that call failed or was skipped, so the value has no shape
  std::shared_ptr<const WrittenTensor> written;  // Declared, Inline, Causal; null for Output

  bool has_file() const { return written != nullptr && !written->file.empty(); }
};

// A tensor argument of a call as the check resolved it.
struct ResolvedArgument {
  std::string name;      // "query", "tensors[1]"
  std::string identity;  // equal identities: the same tensor object ("tensor:q", "output:h", "inline:/query")
  Shape shape;           // with the bindings known when the call was checked
  // As declared, or as the producing call returned it, when a binding known then changed it
  // (S -> 12); empty when it is `shape`, as it is for nearly every argument of a big graph.
  Shape rebound_from;
  DType dtype = DType::Float32;  // as written, or the argument's default (masks bool, indices int64)
  ArgumentSource source;
  Location location;     // where the argument is written in the call

  // As declared, or as the producing call returned it (empty when it failed).
  const Shape& written() const { return rebound_from.empty() ? shape : rebound_from; }
};

// A tensor declared under "tensors", as written (a file's shape and dtype: as its header says).
struct DeclaredTensor {
  std::string name;
  Shape shape;
  std::optional<DType> dtype;  // absent: decided by each argument that uses it
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
  std::vector<DeclaredTensor> tensors;  // in the spec's order, used or not
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
