// The spec: modules, tensors and the calls that connect them, as read from a JSON document
// (docs/spec-format.md). Every element keeps its JSON pointer; locations come from the
// document's LocationMap, and fixes are RFC 6902 patches against the document.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/dtype.hpp"
#include "mhacheck/json_source.hpp"
#include "mhacheck/shape.hpp"

namespace mhacheck {

// nn.MultiheadAttention's constructor arguments, PyTorch's defaults when absent.
struct MhaOptions {
  std::int64_t embed_dim = 0;
  std::int64_t num_heads = 0;
  double dropout = 0.0;
  bool bias = true;
  bool add_bias_kv = false;
  bool add_zero_attn = false;
  std::optional<std::int64_t> kdim;
  std::optional<std::int64_t> vdim;
  bool batch_first = false;
  DType dtype = DType::Float32;  // the factory kwarg dtype=: the parameters' dtype
};

// The options of a MultiheadAttention, every one present (ModuleDecl::options), typed.
MhaOptions mha_options(const nlohmann::json& options);

struct ModuleDecl {
  std::string name;     // the key under "modules"; "module" in the flat form; for a nested
                        // module, the option that holds it ("encoder_layer")
  std::string text;     // as reports show it: "nn.MultiheadAttention(512, 8)"
  std::string type;     // canonical: "MultiheadAttention"
  nlohmann::json options;  // every constructor option by PyTorch's name, defaults filled in;
                           // nested modules are null here and live in `submodules`
  MhaOptions mha;       // the options again, typed, for a MultiheadAttention
  std::vector<ModuleDecl> submodules;  // nested modules (encoder_layer, norm), named by option
  std::string pointer;  // "/modules/attn" or "/module"; for a module inside a constructor
                        // string, the string's pointer
  bool written_as_call = false;  // written as a constructor string ("nn.MultiheadAttention(512, 8)"),
                                 // or nested in one
  std::string path_in_call;      // within that string's call: "" or "/encoder_layer"
  std::string weights;  // .npz of a state_dict, resolved against the spec's folder; may be empty
  std::string prefix;   // prepended to the state_dict names: "decoder.layers.0.self_attn."
  std::vector<std::string> given;        // the options written (the rest are PyTorch's defaults)
  std::vector<std::string> assumptions;  // what checking it assumes of options left as unbound
                                         // names (MHA004 notes): divisibility, stand-in sizes

  const ModuleDecl* submodule(const std::string& option) const;  // null when None
  std::int64_t integer(const std::string& option) const { return options.at(option).get<std::int64_t>(); }
  bool flag(const std::string& option) const { return options.at(option).get<bool>(); }
  double number(const std::string& option) const { return options.at(option).get<double>(); }
  DType dtype() const;  // the factory kwarg dtype=: float32 when None
};

struct TensorDecl {
  std::string name;              // the key under "tensors"; empty for an inline tensor
  Shape shape;
  std::optional<DType> dtype;    // absent: float32 for data, bool for masks (decided at use)
  std::string pointer;           // the tensor's element
  std::string shape_pointer;     // the shape array (== pointer for the bare-array form); empty
                                 // for a tensor read from a file, whose shape no patch can change
  std::string file;              // .npy or .npz holding the data, resolved against the spec's folder
  std::string file_member;       // the .npz member ("query"); empty for .npy
  // false: the tensor's strides are not the contiguous ones (a traced value the tracer did not
  // record the making of, such as a transpose's output); its layout is then unknown.
  bool contiguous = true;
};

// One argument of a call: nothing, a named tensor (or an earlier call's output), or inline.
// One tensor argument of a call: nothing, a named tensor (or an earlier call's output), an
// inline tensor, or a generated causal mask ({"causal": ["T", "T"]}: what
// nn.Transformer.generate_square_subsequent_mask makes, a float32 (L, S) mask, -inf above the
// diagonal).
struct ArgRef {
  enum class Kind { Absent, Named, Inline, Causal };
  Kind kind = Kind::Absent;
  std::string name;    // for Named
  // For Inline and Causal (its shape and dtype); null for the others, which are most arguments:
  // a spec holds up to 100,000 calls, and a TensorDecl in each of their arguments was a sixth of
  // the peak memory of checking it (bench/README.md).
  std::shared_ptr<const TensorDecl> tensor;
  std::string pointer; // where the argument is written in the call
};

// A line of the Python code a traced spec was made from (a call's "source").
struct SourceLine {
  std::string file;  // resolved against the spec's folder
  int line = 0;      // 0: none
};

struct CallDecl {
  std::string id;       // "cross", or "call0"... when not given
  std::string module;   // a key of Spec::modules; empty for a function call ({"op": ...})
  std::string op;       // the operator: the module's type, or the function's name
  std::map<std::string, ArgRef> tensors;  // every tensor argument of the operator (Absent if not given);
                                          // a list's elements as "tensors[0]", "tensors[1]", ...
  nlohmann::json arguments;               // every other argument, PyTorch's defaults filled in
  std::vector<std::string> outputs;       // names for the outputs, in the order PyTorch returns them
  std::string pointer;  // "/calls/0", or "" for the flat form
  SourceLine source;    // where the Python code made this call ("source"); diagnostics point there

  const ArgRef& tensor(const std::string& name) const { return tensors.at(name); }
  std::size_t list_size(const std::string& argument) const;  // elements of a tensor-list argument
  bool flag(const std::string& name) const { return arguments.at(name).get<bool>(); }
};

struct Spec {
  // Its locations; its value only until parse_spec has read it, when the source text holds it
  // (a 100,000-call spec's tree is over 100 MiB, kept through the whole check): use value().
  JsonDocument document;
  bool flat = false;
  std::vector<std::pair<std::string, std::int64_t>> dims;
  std::vector<ModuleDecl> modules;
  std::vector<TensorDecl> tensors;
  std::vector<CallDecl> calls;
  std::vector<std::string> ignored_codes;  // "mhacheck": {"ignore": [...]}: accepted warnings

  const ModuleDecl* find_module(const std::string& name) const;
  const TensorDecl* find_tensor(const std::string& name) const;
  // Indexes modules and tensors by name for the finds above (a big graph has thousands).
  void index_names();
  // The document's JSON value, parsed again from the source text on first use if parse_spec
  // freed it: only fixes and a few diagnostics read the document after parse_spec.
  const nlohmann::json& value() const;
  // The indices in `calls`, in spec order, of the calls that read the tensor `name` as a named
  // argument, and of those that output it: a walk forward from a tensor visits its readers only,
  // not every later call. Made on first use (and again when `calls` was replaced since).
  const std::vector<std::size_t>& readers_of(const std::string& name) const;
  const std::vector<std::size_t>& makers_of(const std::string& name) const;
  struct TensorUses;  // the index readers_of and makers_of read

 private:
  std::map<std::string, std::size_t> module_positions_, tensor_positions_;
  mutable std::shared_ptr<const nlohmann::json> reread_value_;
  mutable std::shared_ptr<const TensorUses> uses_;
};

// Calls one spec may hold: far beyond any model, small enough that checking stays interactive.
constexpr std::size_t kMaxCalls = 100000;
// Tensors one list argument (torch.cat's) may hold.
constexpr std::size_t kMaxListTensors = 1024;

// The name of element `index` of a tensor-list argument: "tensors[2]".
std::string list_element(const std::string& argument, std::size_t index);

// Reads a spec document, version 1, in the full or the flat form. Throws InputError for
// anything that is not a well-formed spec (unknown keys come with a "did you mean").
// Tensors given as files ({"file": "q.npy"}) take shape and dtype from the file's header;
// their data is never read here.
Spec parse_spec(JsonDocument document);

// The folder that a spec's relative paths start from: the spec file's own, or the working
// directory for stdin and the command line.
std::string spec_folder(const JsonDocument& document);

// A function's name as the spec's "op" and --op take it: "F.softmax",
// "torch.nn.functional.softmax", "torch.softmax", "Tensor.softmax" -> "softmax"; an alias names
// the operator it stands for ("torch.concat" -> "cat", "swapdims" -> "transpose").
std::string bare_function_name(std::string name);

}  // namespace mhacheck
