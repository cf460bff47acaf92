// What each supported operator takes: a module's constructor arguments, and the arguments of
// its call (a module's forward, or a function such as F.scaled_dot_product_attention), in
// PyTorch's positional order. The one place the JSON spec reader and the Python-call reader
// learn names, kinds and defaults.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mhacheck {

// String: a name such as activation="gelu" (PyTorch itself judges the value). IntOrList:
// an integer or a list of them (LayerNorm's normalized_shape). IntOrListOrString: the same or a
// string (a convolution's padding: 2, (1, 2) or "same"). Module: a nested module of
// `module_type` (TransformerEncoder's encoder_layer); OptionalModule: one or None (its norm).
enum class OptionKind { Int, OptionalInt, Float, Bool, DType, Device, String, IntOrList, IntOrListOrString, Module, OptionalModule };

// What a flag's value does to the shapes: DecidesShapes (batch_first says which dim is the batch,
// add_bias_kv adds a key) or ChangesNoShape (bias adds a parameter or not, norm_first orders the
// same sublayers). Every Bool option states one (a test holds the schemas to it): pasted text may
// leave a ChangesNoShape flag unbound, and it then takes PyTorch's default; a flag that decides
// shapes must be bound.
enum class FlagEffect { Unstated, DecidesShapes, ChangesNoShape };

struct OptionSchema {
  std::string name;
  OptionKind kind;
  bool required;
  nlohmann::json default_value = nullptr;  // PyTorch's default, for an optional option
  std::string module_type = {};           // for Module and OptionalModule
  FlagEffect flag_effect = FlagEffect::Unstated;  // for Bool
};

struct ModuleSchema {
  std::string type;  // canonical: "MultiheadAttention"
  std::vector<OptionSchema> options;
};

const ModuleSchema* find_module_schema(const std::string& canonical_type);
// Canonical module type for "MultiheadAttention", "nn.MultiheadAttention",
// "torch.nn.MultiheadAttention"; nullopt for an unknown type.
std::optional<std::string> canonical_module_type(const std::string& type);
std::vector<std::string> module_type_names();
std::string option_kind_text(OptionKind kind);  // "an integer", "true or false", ...

// An argument of a call. Tensors and masks are tensor arguments (a mask defaults to bool);
// the rest are plain values kept as JSON. IntList items are integers; SizeList items are
// integers or symbol names (a reshape's target sizes).
// Indices is a tensor of integer indices (nn.Embedding's input; int64 unless written).
// OptionalBool is true, false or None (is_causal of the Transformer stacks: None detects).
// TensorList is a list of tensors (torch.cat's), each element a tensor argument of its own.
// TensorOrNumber is a tensor, or a Python number written as a JSON number (torch.mul's other):
// a number is kept with the plain arguments and its tensor argument is absent.
// Index is Tensor.__getitem__'s index, a string written as in Python ("[:, 0]").
// Dims is torch.sum's dim: an integer, a list of integers, or null (every dim).
// Size is a number or one size written as a symbol expression (torch.arange(T)'s end).
enum class ArgKind {
  Tensor, Mask, Indices, TensorList, TensorOrNumber,
  Bool, OptionalBool, Float, OptionalFloat, Int, OptionalInt, IntList, SizeList, String, OptionalString, Dims, Index, Size
};

struct ArgSchema {
  std::string name;
  ArgKind kind;
  bool required;
  nlohmann::json default_value;  // for plain values; null for "None"
};

struct OperatorSchema {
  std::string name;             // "MultiheadAttention", "scaled_dot_product_attention"
  bool module;                  // called through a module declared under "modules"
  std::vector<ArgSchema> arguments;
  std::vector<std::string> outputs;  // default output names, in the order PyTorch returns them
  // When not empty: the last output exists only when this argument is true, for a bool, or given
  // (not null) otherwise: PyTorch returns None for attn_output_weights when need_weights is
  // false, and torch.max returns its indices only with a dim.
  std::string last_output_flag;
  // The number of outputs depends on the arguments and the input (split, chunk): `outputs` is
  // empty, the rule names them "0", "1", ... and a call may name any number of them.
  bool variadic_outputs = false;

  bool is_tensor(const ArgSchema& argument) const {
    return argument.kind == ArgKind::Tensor || argument.kind == ArgKind::Mask || argument.kind == ArgKind::Indices ||
           argument.kind == ArgKind::TensorOrNumber;
  }
  const ArgSchema* argument(const std::string& name) const;
};

// By a module's canonical type or a function's name; nullptr when unknown.
const OperatorSchema* find_operator_schema(const std::string& name);
std::vector<std::string> function_names();
std::string arg_kind_text(ArgKind kind);

}  // namespace mhacheck
