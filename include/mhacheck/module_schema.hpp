// The constructor arguments of each supported module, in PyTorch's positional order: the one
// place both the JSON spec reader and the Python-call reader learn names, kinds and defaults.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mhacheck {

enum class OptionKind { Int, OptionalInt, Float, Bool, DType, Device };

struct OptionSchema {
  std::string name;
  OptionKind kind;
  bool required;
};

struct ModuleSchema {
  std::string type;  // canonical: "MultiheadAttention"
  std::vector<OptionSchema> options;
};

const ModuleSchema* find_module_schema(const std::string& canonical_type);
std::vector<std::string> module_type_names();
std::string option_kind_text(OptionKind kind);  // "an integer", "true or false", ...

}  // namespace mhacheck
