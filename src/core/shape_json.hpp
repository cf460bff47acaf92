// A shape written as the spec writes it. Check's fixes patch the spec with it and the JSON
// report prints outputs with it, so both sides share this one definition below them.
#pragma once

#include <nlohmann/json.hpp>

#include "mhacheck/shape.hpp"

namespace mhacheck {

// A shape as spec JSON: integers and symbol names ("S+1" for derived dims).
nlohmann::json shape_json(const Shape& shape);

}  // namespace mhacheck
