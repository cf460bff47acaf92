// `mhacheck run --plot weights.svg`: the attention weights as heatmaps, for people who would
// rather look than read.
#pragma once

#include <string>
#include <vector>

#include "mhacheck/run.hpp"

namespace mhacheck {

// One panel per head (or one for the average) and per batch entry (the first four), query
// positions down and key positions across, with a shared colour scale from 0 to the largest
// weight; NaN cells are drawn grey and crossed. Empty when no output holds attention weights.
std::string attention_heatmap_svg(const std::vector<RunOutput>& outputs);

}  // namespace mhacheck
