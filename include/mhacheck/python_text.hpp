// Reading what users paste from Python code and logs: a module's constructor call
// ("nn.MultiheadAttention(512, 8, kdim=256, batch_first=True)") and shapes
// ("torch.Size([32, 1, 512])", "(32, 10, 256)", "[B, 10, 256]", optionally ":bool").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/location.hpp"

namespace mhacheck {

// `origin` is where `text` starts; errors point into it. Returns the module as a spec object
// ({"type": "MultiheadAttention", "embed_dim": 512, ...}) holding only the arguments given.
// The text is Python as people write it: one or more lines of assignments (d_model = 512,
// self.attn = nn.MultiheadAttention(...)) and calls whose arguments are integer expressions
// (+ - * // and parentheses) over numbers, names bound by earlier lines or by `bindings`
// (--dim, "dims"), and symbols: an integer option that is a lone unbound name stays that
// name (a string in the object). Options that change no shape (dropout, device, activation)
// may be unbound names, left at PyTorch's default. Exactly one module must result: modules
// passed to another (an encoder_layer) are part of it.
// `bindings` holds integers (sizes) and floats (dropout = 0.1, eps = 1e-6 as "dims" or --dim
// bind them): a float name serves a float option and is refused as a size, as Python's would be.
using NameBindings = std::map<std::string, nlohmann::json>;
nlohmann::json parse_module_call(const std::string& text, const Location& origin, const NameBindings& bindings = {});
// The integer sizes pasted lines assign to plain names (d_model = 512, a pasted def's defaults),
// besides `bindings`: in Python the same name in a shape is the same size.
NameBindings pasted_sizes(const std::string& text, const Location& origin, const NameBindings& bindings = {});

// Where the text uses `name` as a value: its last use that is not an assignment's target, a
// keyword's name or a parameter's annotation (the call that needs the name bound). nullopt when
// the text does not use it, or cannot be read.
std::optional<Location> place_of_name(const std::string& text, const Location& origin, const std::string& name);

struct ShapeText {
  nlohmann::json shape;            // array of ints and symbol names
  std::optional<std::string> dtype;  // after a ':' suffix
  std::vector<Location> dims;      // where each dim is written
};
// A shape's dims are integers, symbol names and symbol expressions (B*T, 8*B, T+1). `sizes`: a
// size list instead (view's, expand's), where a negative integer (-1) is the operator's to judge.
ShapeText parse_shape_text(const std::string& text, const Location& origin, bool sizes = false);

// Python source for a module spec object: "nn.MultiheadAttention(512, 8, batch_first=True)".
std::string module_call_text(const nlohmann::json& module);

}  // namespace mhacheck
