#include "mhacheck/render_run.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace mhacheck {
namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text;
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return shape.size() == 1 ? fmt::format("({},)", text) : fmt::format("({})", text);
}

nlohmann::json statistics(const Array& array) {
  std::vector<double> values = array.to_double();
  double min = std::numeric_limits<double>::infinity(), max = -min, sum = 0;
  std::int64_t nan = 0, counted = 0;
  for (double value : values) {
    if (std::isnan(value)) {
      ++nan;
      continue;
    }
    min = std::min(min, value);
    max = std::max(max, value);
    sum += value;
    ++counted;
  }
  nlohmann::json stats = {{"nan_count", nan}};
  // JSON has no NaN or infinity: statistics over no numbers are null.
  auto number = [](double value) { return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr); };
  stats["min"] = counted ? number(min) : nullptr;
  stats["max"] = counted ? number(max) : nullptr;
  stats["mean"] = counted ? number(sum / static_cast<double>(counted)) : nullptr;
  return stats;
}

nlohmann::json values_json(const Array& array) {
  nlohmann::json flat = nlohmann::json::array();
  for (double value : array.to_double()) {
    if (std::isnan(value)) flat.push_back("nan");
    else if (std::isinf(value)) flat.push_back(value > 0 ? "inf" : "-inf");
    else flat.push_back(value);
  }
  return flat;
}

}  // namespace

std::string render_run_text(const RunResult& result, const TextStyle& style, const PrintOptions& print) {
  std::string out = render_text({result.report}, style);
  if (!result.executed) {
    out += fmt::format("not run: {}\n", result.stopped_by);
    return out;
  }
  for (const RunOutput& output : result.outputs) {
    out += fmt::format("\ncall \"{}\": {} {} {}\n{}\n", output.call, output.name, shape_text(output.array.shape),
                       dtype_name(output.array.dtype), tensor_repr(output.array, print));
  }
  return out;
}

nlohmann::json render_run_json(const RunResult& result, bool with_values) {
  nlohmann::json document = render_json({result.report});
  nlohmann::json outputs = nlohmann::json::object();
  for (const RunOutput& output : result.outputs) {
    nlohmann::json entry = {{"call", output.call},
                            {"shape", output.array.shape},
                            {"dtype", dtype_name(output.array.dtype)},
                            {"statistics", statistics(output.array)}};
    if (with_values) entry["values"] = values_json(output.array);
    outputs[output.name] = entry;
  }
  document["run"] = {{"executed", result.executed}, {"outputs", outputs}};
  return document;
}

}  // namespace mhacheck
