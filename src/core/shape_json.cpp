#include "core/shape_json.hpp"

#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mhacheck {

namespace {
// Collects what write_shape_json writes into one json array.
struct ArraySink {
  nlohmann::json array = nlohmann::json::array();
  void begin_array() {}
  void end_array() {}
  void integer(std::int64_t value) { array.push_back(value); }
  void string(std::string_view value) { array.push_back(std::string(value)); }
};
}  // namespace

nlohmann::json shape_json(const Shape& shape) {
  ArraySink sink;
  write_shape_json(sink, shape);
  return std::move(sink.array);
}

std::string shape_list_text(const nlohmann::json& shape) {
  std::vector<std::string> entries;
  for (const nlohmann::json& entry : shape) entries.push_back(entry.is_string() ? entry.get<std::string>() : entry.dump());
  return fmt::format("{}", fmt::join(entries, ", "));
}

}  // namespace mhacheck
