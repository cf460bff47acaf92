// `mhacheck graph`: the spec's data flow as a Graphviz graph. Calls are boxes (module, output
// shapes), input tensors are ellipses, edges carry "argument: shape". A call with an error is
// red with its first error, and so is the edge of the argument that error names; calls skipped
// because an input failed are grey and dashed. Like every renderer it only formats facts already
// in the Report: its declared tensors, and each call's resolved arguments and their sources.
#pragma once

#include <optional>
#include <string>

#include "mhacheck/check.hpp"

namespace mhacheck {

// The graph in the DOT language, for `dot -Tsvg` or any other Graphviz tool.
std::string render_dot(const Report& report);

// A DOT double-quoted string's contents: backslashes and quotes escaped, line breaks as \n
// (so text from the spec can neither end the string nor inject Graphviz escapes).
std::string dot_escape(const std::string& text);

// Graphviz's `dot` program as found on PATH; nullopt when Graphviz is not installed.
std::optional<std::string> find_graphviz_dot();

// Runs `dot_program -Tsvg` with the graph on its standard input (no shell involved) and returns
// the SVG. Throws std::runtime_error when dot cannot be started or fails.
std::string dot_to_svg(const std::string& dot_program, const std::string& dot);

}  // namespace mhacheck
