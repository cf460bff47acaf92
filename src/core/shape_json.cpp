#include "core/shape_json.hpp"

namespace mhacheck {

nlohmann::json shape_json(const Shape& shape) {
  nlohmann::json array = nlohmann::json::array();
  for (const DimExpr& dim : shape) {
    if (dim.is_constant()) array.push_back(dim.offset);
    else array.push_back(dim.str());
  }
  return array;
}

}  // namespace mhacheck
