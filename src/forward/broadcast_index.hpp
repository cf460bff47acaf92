// Index arithmetic for broadcasting dense C-order arrays, shared by the forward passes.
#pragma once

#include <cstdint>
#include <vector>

namespace mhacheck {

// The broadcast of two shapes (right-aligned; size-1 dims stretch). The shapes must broadcast.
std::vector<std::int64_t> broadcast_shape(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

// Element offsets of an operand for each index of the broadcast batch shape (right-aligned;
// size-1 dims repeat), each batch entry being `matrix_size` elements. `group` divides the heads
// index (the last batch dim) for enable_gqa; 1 otherwise. With matrix_size 1 these are the
// offsets of an elementwise broadcast.
std::vector<std::int64_t> batch_offsets(const std::vector<std::int64_t>& operand_batch, const std::vector<std::int64_t>& batch,
                                        std::int64_t matrix_size, std::int64_t group);

}  // namespace mhacheck
