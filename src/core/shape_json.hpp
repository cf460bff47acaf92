// A shape written as the spec writes it. Check's fixes patch the spec with it and the JSON
// report prints outputs with it, so both sides share this one definition below them.
#pragma once

#include <nlohmann/json.hpp>

#include "mhacheck/shape.hpp"

namespace mhacheck {

// A shape as spec JSON: integers and symbol names ("S+1" for derived dims).
nlohmann::json shape_json(const Shape& shape);

// A spec's size list as Python writes it in a call: "B, 8, -1, 64" (names bare, numbers as numbers).
std::string shape_list_text(const nlohmann::json& shape);

// The same array written element by element into a report's sink (begin_array, integer,
// string, end_array): the JSON report writes thousands of output shapes as text, and building
// each as a json value to print it cost about three times as much as writing it directly.
template <class Sink>
void write_shape_json(Sink& sink, const Shape& shape) {
  sink.begin_array();
  for (const DimExpr& dim : shape) {
    if (dim.is_constant()) sink.integer(dim.offset);
    else sink.string(dim.str());
  }
  sink.end_array();
}

}  // namespace mhacheck
