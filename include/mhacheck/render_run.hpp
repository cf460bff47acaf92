// Rendering `mhacheck run` results: the check's report, then each output as PyTorch prints it
// (text), or the JSON report with per-output statistics and optionally the values.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "mhacheck/render.hpp"
#include "mhacheck/run.hpp"
#include "mhacheck/tensor_text.hpp"

namespace mhacheck {

std::string render_run_text(const RunResult& result, const TextStyle& style, const PrintOptions& print);
nlohmann::json render_run_json(const RunResult& result, bool with_values);

}  // namespace mhacheck
