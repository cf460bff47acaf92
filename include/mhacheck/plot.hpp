// `mhacheck run --plot weights.svg`: the attention weights as heatmaps, for people who would
// rather look than read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mhacheck/run.hpp"

namespace mhacheck {

// One panel per batch entry (the first four): the average over heads (as need_weights'
// average_attn_weights does), or head `head` alone (it must be below the head count), query
// positions down and key positions across, with a shared colour scale from 0 to the largest
// probability; NaN cells are drawn grey and crossed. The titles name the call, block and head.
// A panel longer than 128 cells on a side is downsampled: each cell the mean of a block of
// weights (NaN when any is), and its title says so.
std::string attention_heatmap_svg(const PlottedAttention& attention, std::optional<std::int64_t> head);

}  // namespace mhacheck
